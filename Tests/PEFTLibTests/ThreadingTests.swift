// The thread budget: results do not depend on it (to the bit), and it is configurable.
import Testing
import PEFTLib
import PEFTLabBenchmarks

@Suite struct ThreadingTests {
    @Test func resultsDoNotDependOnThreadBudget() throws {
        let q = randomTensor([3, 17, 32], seed: 1), k = randomTensor([3, 17, 16], seed: 2)
        let x = randomTensor([700, 96], seed: 3)
        func run() throws -> [Float] {
            let a = try attention(query: q, key: k, value: k, heads: 4, kvHeads: 2)
            return try a.toArray() + softmax(x).toArray() + silu(x).toArray() + rmsNorm(x, weight: Tensor.ones([96])).toArray()
        }
        let previous = Threading.threads
        Threading.setThreads(1)
        let serial = try run()
        Threading.setThreads(2)
        let parallel = try run()
        Threading.setThreads(previous)
        #expect(Threading.threads == previous)
        #expect(parallel.map(\.bitPattern) == serial.map(\.bitPattern))
    }

    @Test func budgetIsPositive() {
        #expect(Threading.threads >= 1)
        #expect(OpsBenchmark.environment.contains("threads"))
    }

    @Test func emptyTensorsDoNotTrap() throws {
        let x = try Tensor.zeros([0, 4], requiresGrad: true), w = randomTensor([3, 4], seed: 1)
        let y = try linear(x, weight: w, bias: Tensor.ones([3]))
        #expect(y.shape == [0, 3])
        try y.sum().backward()
        let z = try linear(try Tensor.zeros([2, 0]), weight: try Tensor.zeros([3, 0]), bias: Tensor.ones([3]))
        #expect(z.toArray() == [1, 1, 1, 1, 1, 1])
        #expect(try softmax(Tensor.zeros([0, 5])).shape == [0, 5])
        let q = try Tensor.zeros([0, 3, 4], requiresGrad: true), k = try Tensor.zeros([0, 3, 4])
        #expect(try attention(query: q, key: k, value: k, heads: 1, kvHeads: 1).shape == [0, 3, 4])
        let q1 = randomTensor([1, 2, 4], seed: 2), empty = try Tensor.zeros([1, 0, 4])
        let none = try attention(query: q1, key: empty, value: empty, heads: 1, kvHeads: 1, causal: false)
        #expect(none.toArray() == [Float](repeating: 0, count: 8))
        try none.sum().backward()
        #expect(throws: TensorError.self) { try Tensor.zeros([1 << 40, 1 << 40]) }
        #expect(throws: TensorError.self) { try Tensor.zeros([100_000, 1]) + Tensor.zeros([1, 100_000]) }
    }
}
