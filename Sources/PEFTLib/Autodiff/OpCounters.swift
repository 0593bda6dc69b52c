// Counters of GEMM calls, GEMM flops and recorded graph nodes, scoped to a task so
// tests can check that a frozen parameter costs no GEMM without timing anything.
import Synchronization

/// Counts the work ops do: GEMM calls, GEMM flops, recorded graph nodes.
///
///     let counts = OpCounters.measure { try linear(x, weight: frozenW) ... }
///     counts.gemmCalls   // 2 with a frozen weight: forward and input gradient only
public final class OpCounters: Sendable {
    private let gemms = Atomic<Int>(0)
    private let flops = Atomic<Int>(0)
    private let nodes = Atomic<Int>(0)

    /// Counters of the whole process.
    public static let process = OpCounters()
    /// Counters of the current `measure` scope, if any.
    @TaskLocal static var current: OpCounters?

    public init() {}

    /// Number of `sgemm` calls.
    public var gemmCalls: Int { gemms.load(ordering: .relaxed) }
    /// Floating-point operations of those calls (2·m·n·k each).
    public var gemmFlops: Int { flops.load(ordering: .relaxed) }
    /// Number of graph nodes recorded.
    public var nodesRecorded: Int { nodes.load(ordering: .relaxed) }

    /// Runs `body` with fresh counters for this task and returns them.
    public static func measure(_ body: () throws -> Void) rethrows -> OpCounters {
        let counters = OpCounters()
        try $current.withValue(counters) { try body() }
        return counters
    }

    static func countGEMM(calls: Int, flops count: Int) {
        process.gemms.add(calls, ordering: .relaxed)
        process.flops.add(count, ordering: .relaxed)
        if let scoped = current {
            scoped.gemms.add(calls, ordering: .relaxed)
            scoped.flops.add(count, ordering: .relaxed)
        }
    }

    static func countNode() {
        process.nodes.add(1, ordering: .relaxed)
        current?.nodes.add(1, ordering: .relaxed)
    }
}
