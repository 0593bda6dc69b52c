// Results depend on the inputs, the seed and the thread budget only: never on what else
// runs in the process (a neighbour hammering parallel loops and GEMMs), and not on the
// budget either (PEFTLAB_THREADS=1 and 2 give the same bits).
import Foundation
import Synchronization
import Testing
@_spi(Benchmarks) @testable import PEFTLib

@Suite struct DeterminismTests {
    /// A GEMM-heavy forward and backward (an MLP block and a batched matmul, inner sizes on
    /// both sides of OpenBLAS's K blocking, products above its threading threshold); every
    /// output and gradient, flattened.
    static func workload() throws -> [Float] {
        let x = randomTensor([200, 688], seed: 11)
        let up = randomTensor([1000, 688], seed: 12, std: 0.05)
        let down = randomTensor([520, 1000], seed: 13, std: 0.05)
        let keys = randomTensor([4, 96, 520], seed: 14, std: 0.1)
        let hidden = try linear(x, weight: up)                                  // (200, 1000)
        let y = try linear(silu(hidden), weight: down)                          // (200, 520)
        let scores = try matmul(keys, y.reshaped([4, 50, 520]), transposeB: true)  // (4, 96, 50)
        let loss = try (scores * scores).sum() + (y * y).sum()
        try loss.backward()
        return [loss.toArray(), y.toArray(), scores.toArray(), x.grad!.toArray(), up.grad!.toArray(),
                    down.grad!.toArray(), keys.grad!.toArray()].flatMap { $0 }
    }

    /// The first index where the two differ in any bit (or in length), nil when identical.
    static func firstDifference(_ a: [Float], _ b: [Float]) -> Int? {
        if a.count != b.count { return min(a.count, b.count) }
        return a.indices.first { a[$0].bitPattern != b[$0].bitPattern }
    }

    /// Runs `body` while another thread keeps parallel loops and GEMMs busy.
    static func withNeighbour<T>(_ body: () throws -> T) rethrows -> T {
        let stop = Atomic<Bool>(false), done = DispatchSemaphore(value: 0)
        let neighbour = Thread {
            let big = randomTensor([1 << 20], seed: 21, requiresGrad: false)
            let a = randomTensor([256, 512], seed: 22, requiresGrad: false)
            let b = randomTensor([512, 512], seed: 23, requiresGrad: false)
            while !stop.load(ordering: .relaxed) {
                _ = silu(big)
                _ = try? linear(a, weight: b)
            }
            done.signal()
        }
        neighbour.start()
        defer { stop.store(true, ordering: .relaxed); done.wait() }
        return try body()
    }

    @Test func sameBitsWhileANeighbourRunsParallelLoopsAndGEMMs() throws {
        let alone = try Self.workload()
        let crowded = try Self.withNeighbour { try (0..<12).map { _ in try Self.workload() } }
        for (index, values) in crowded.enumerated() {
            let first = Self.firstDifference(values, alone)
            #expect(first == nil, "run \(index) differs at element \(first ?? -1)")
        }
    }

    @Test func sameBitsForEveryThreadBudget() throws {
        let previous = Threading.threads
        defer { Threading.setThreads(previous) }
        var results: [Int: [Float]] = [:]
        for threads in [1, 2, 3] {
            Threading.setThreads(threads)
            results[threads] = try Self.workload()
        }
        for threads in [2, 3] {
            let first = Self.firstDifference(results[threads]!, results[1]!)
            #expect(first == nil, "budget \(threads) differs from budget 1 at element \(first ?? -1)")
        }
    }

    @Test func tilesDependOnTheShapeOnly() {
        // Large products split along their longer output side, small ones not at all.
        let wide = BLAS.tiling(m: 384, n: 688, k: 256)
        #expect(!wide.alongRows && wide.boundaries.first == 0 && wide.boundaries.last == 688)
        #expect(wide.boundaries.count > 2)
        let tall = BLAS.tiling(m: 1536, n: 256, k: 384)
        #expect(tall.alongRows && tall.boundaries.last == 1536)
        #expect(BLAS.tiling(m: 8, n: 8, k: 8).boundaries == [0, 8])
        for t in [wide, tall] {
            #expect(zip(t.boundaries, t.boundaries.dropFirst()).allSatisfy { $0 < $1 })
        }
    }
}
