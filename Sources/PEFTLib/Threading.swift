// The threading policy for a small CPU machine: one budget (PEFTLAB_THREADS, default:
// active cores) for every parallel loop, GEMM tiles included. OpenBLAS itself always
// runs single-threaded (see BLAS.swift), so no setting of one computation can change
// how another one is split: results depend on the inputs and the seed alone.
import Dispatch
import Foundation
import Synchronization

/// One process-wide thread budget for Swift parallel loops and GEMM tiles.
///
/// The budget sets how many workers share a loop's chunks or a GEMM's tiles, never where
/// a chunk or a tile starts: the same inputs give the same bits with any budget. Configure
/// with the `PEFTLAB_THREADS` environment variable or `Threading.setThreads(_:)`.
public enum Threading {
    /// Budget in threads; 0 until first configured.
    private static let budget = Atomic<Int>(0)

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

    /// One-time setup: OpenBLAS kernel choice and its single thread, then the default budget
    /// (thread-safe lazy global).
    private static let configureOnce: Void = {
        TensorMemory.configureAllocator()
        _ = BLAS.coreSelection
        BLAS.useOneThread()
        if budget.load(ordering: .relaxed) == 0 { applyThreads(defaultThreads()) }
    }()

    /// Sets the thread budget for parallel loops and GEMM tiles (clamped to at least 1).
    /// Changes speed only, never results.
    public static func setThreads(_ count: Int) {
        _ = configureOnce
        applyThreads(count)
    }

    private static func applyThreads(_ count: Int) {
        budget.store(max(1, count), ordering: .relaxed)
    }

    /// Runs `body` over `0..<count` split into at most `threads` contiguous chunks,
    /// each chunk at least `minimumChunk` long. The body must only touch disjoint memory
    /// per index range, and must not make its result depend on where a chunk starts.
    static func parallelFor(_ count: Int, minimumChunk: Int = 1,
                            _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        let workers = min(threads, max(1, count / max(1, minimumChunk)))
        if workers <= 1 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { escapable in
            // Workers only touch disjoint ranges; the closure is not retained past this call.
            let shared = UncheckedSendable(value: escapable)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let start = count * worker / workers
                let end = count * (worker + 1) / workers
                if start < end { shared.value(start..<end) }
            }
        }
    }
}

/// Carries a non-Sendable value into a parallel region whose workers use it on disjoint data.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}
