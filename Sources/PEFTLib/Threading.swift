// The threading policy for a small CPU machine: OpenBLAS threads and Swift-side
// parallel loops share one budget (PEFTLAB_THREADS, default: active cores) and
// never run at the same time, so the two never oversubscribe the cores.
import Dispatch
import Foundation
import Synchronization

/// One process-wide thread budget shared by BLAS and Swift parallel loops.
///
/// A GEMM outside a parallel loop uses all `threads` OpenBLAS threads; inside
/// `parallelFor` each worker calls BLAS single-threaded. Configure with the
/// `PEFTLAB_THREADS` environment variable or `Threading.setThreads(_:)`.
public enum Threading {
    /// Budget in threads; 0 until first configured.
    private static let budget = Atomic<Int>(0)
    /// Number of parallel regions currently running (BLAS is single-threaded while > 0).
    private static let activeRegions = Atomic<Int>(0)

    /// The thread budget: `PEFTLAB_THREADS` if set to a positive integer, else the active core count.
    public static var threads: Int {
        ensureConfigured()
        return budget.load(ordering: .relaxed)
    }

    /// Default budget from the environment.
    static func defaultThreads() -> Int {
        if let text = ProcessInfo.processInfo.environment["PEFTLAB_THREADS"],
           let value = Int(text.trimmingCharacters(in: .whitespaces)), value > 0 {
            return value
        }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Applies the default budget on first use (cheap check afterwards).
    @inline(__always)
    static func ensureConfigured() {
        if budget.load(ordering: .relaxed) != 0 { return }
        _ = configureOnce
    }

    /// One-time setup: OpenBLAS kernel choice, then the default budget (thread-safe lazy global).
    private static let configureOnce: Void = {
        TensorMemory.configureAllocator()
        _ = BLAS.coreSelection
        if budget.load(ordering: .relaxed) == 0 { applyThreads(defaultThreads()) }
    }()

    /// Sets the thread budget for BLAS and parallel loops (clamped to at least 1).
    public static func setThreads(_ count: Int) {
        _ = configureOnce
        applyThreads(count)
    }

    private static func applyThreads(_ count: Int) {
        let value = max(1, count)
        budget.store(value, ordering: .relaxed)
        if activeRegions.load(ordering: .relaxed) == 0 { BLAS.setThreads(value) }
    }

    /// Runs `body` over `0..<count` split into at most `threads` contiguous chunks,
    /// each chunk at least `minimumChunk` long; BLAS runs single-threaded meanwhile.
    /// The body must only touch disjoint memory per index range.
    static func parallelFor(_ count: Int, minimumChunk: Int = 1,
                            _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        let workers = min(threads, max(1, count / max(1, minimumChunk)))
        if workers <= 1 {
            body(0..<count)
            return
        }
        activeRegions.add(1, ordering: .relaxed)
        BLAS.setThreads(1)
        withoutActuallyEscaping(body) { escapable in
            // Workers only touch disjoint ranges; the closure is not retained past this call.
            let shared = UncheckedSendable(value: escapable)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let start = count * worker / workers
                let end = count * (worker + 1) / workers
                if start < end { shared.value(start..<end) }
            }
        }
        let remaining = activeRegions.subtract(1, ordering: .relaxed).newValue
        if remaining == 0 { BLAS.setThreads(budget.load(ordering: .relaxed)) }
    }
}

/// Carries a non-Sendable value into a parallel region whose workers use it on disjoint data.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}
