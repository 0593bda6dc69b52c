// The seeded generator and the random initialisers.
import Testing
import PEFTLib

@Suite struct RandomTests {
    @Test func deterministicPerSeed() throws {
        var a = RandomGenerator(seed: 42), b = RandomGenerator(seed: 42), c = RandomGenerator(seed: 43)
        let first = (0..<5).map { _ in a.next() }
        #expect(first == (0..<5).map { _ in b.next() })
        #expect(first != (0..<5).map { _ in c.next() })
    }

    @Test func distributions() throws {
        var rng = RandomGenerator(seed: 1)
        let u = try Tensor.uniform([10_000], low: -2, high: 3, generator: &rng).toArray()
        #expect(u.allSatisfy { $0 >= -2 && $0 < 3 })
        #expect(abs(u.reduce(0, +) / 10_000 - 0.5) < 0.06)
        let n = try Tensor.normal([20_000], mean: 1, std: 2, generator: &rng).toArray()
        let mean = n.reduce(0, +) / 20_000
        let variance = n.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 20_000
        #expect(abs(mean - 1) < 0.05 && abs(variance.squareRoot() - 2) < 0.05)
    }

    @Test func kaimingUniformMatchesTorchLinearBound() throws {
        var rng = RandomGenerator(seed: 2)
        let w = try Tensor.kaimingUniform([64, 100], generator: &rng, requiresGrad: true)
        let values = w.toArray()
        let bound: Float = 1 / Float(100).squareRoot()
        #expect(values.allSatisfy { abs($0) <= bound })
        #expect(values.map { abs($0) }.max()! > 0.95 * bound)
        #expect(w.requiresGrad)
        #expect(throws: TensorError.self) { try Tensor.kaimingUniform([5], generator: &rng) }
    }
}
