// Broadcast arithmetic and reductions: forward values and gradients vs finite differences.
import Testing
import PEFTLib

@Suite struct ElementwiseTests {
    static let broadcastCases: [([Int], [Int])] = [
        ([3, 5], [3, 5]), ([3, 5], [5]), ([3, 1], [1, 5]), ([2, 3, 4], [3, 1]),
        ([4, 1, 3], [2, 1]), ([7], []), ([1], [2, 3]), ([2, 1, 1, 3], [1, 4, 5, 1]),
    ]

    @Test(arguments: broadcastCases)
    func binaryGradients(lhs: [Int], rhs: [Int]) throws {
        let a = randomTensor(lhs, seed: 1)
        let b = randomTensor(rhs, seed: 2)
        // Denominators kept away from zero for div.
        let positive = try Tensor(shape: rhs, values: b.toArray().map { 1.5 + abs($0) }, requiresGrad: true)
        try checkGradients("add \(lhs) \(rhs)", inputs: [a, b]) { try a + b }
        try checkGradients("sub \(lhs) \(rhs)", inputs: [a, b]) { try a - b }
        try checkGradients("mul \(lhs) \(rhs)", inputs: [a, b]) { try a * b }
        try checkGradients("div \(lhs) \(rhs)", inputs: [a, positive]) { try a / positive }
        try checkGradients("div reversed \(lhs) \(rhs)", inputs: [positive, a]) {
            try positive / (a * a + 1.0)
        }
    }

    @Test func broadcastValues() throws {
        let a = try Tensor(shape: [2, 1], values: [1, 2])
        let b = try Tensor(shape: [3], values: [10, 20, 30])
        let c = try a + b
        #expect(c.shape == [2, 3])
        #expect(c.toArray() == [11, 21, 31, 12, 22, 32])
        #expect(try (a * b).toArray() == [10, 20, 30, 20, 40, 60])
        #expect(try (b / a).toArray() == [10, 20, 30, 5, 10, 15])
        #expect(try (a - b).shape == [2, 3])
    }

    @Test func scalarOps() throws {
        let x = randomTensor([4, 3], seed: 3)
        try checkGradients("affine", inputs: [x]) { affine(x, scale: -1.5, shift: 0.25) }
        try checkGradients("scale", inputs: [x]) { scale(x, by: 3) }
        try checkGradients("operators", inputs: [x]) { (2 * x + 1) / 4 - 3 }
        try checkGradients("negate", inputs: [x]) { -x }
        expectClose((x * 2).toArray(), x.toArray().map { $0 * 2 })
    }

    @Test func reductions() throws {
        let x = randomTensor([3, 4, 5], seed: 4)
        try checkGradients("sum", inputs: [x]) { x.sum() }
        try checkGradients("mean", inputs: [x]) { x.mean() }
        for axis in [0, 1, 2, -1] {
            try checkGradients("sum axis \(axis)", inputs: [x]) { try x.sum(axis: axis) }
            try checkGradients("mean axis \(axis) keep", inputs: [x]) { try x.mean(axis: axis, keepDims: true) }
        }
        let values = x.toArray()
        #expect(abs(try x.sum().item() - values.reduce(0, +)) < 1e-4)
        let rows = try x.sum(axis: 2)
        #expect(rows.shape == [3, 4])
        expectClose(rows.toArray(), (0..<12).map { r in (0..<5).reduce(Float(0)) { $0 + values[r * 5 + $1] } })
        #expect(try x.mean(axis: 1, keepDims: true).shape == [3, 1, 5])
    }

    @Test func reusedInputAccumulates() throws {
        let x = randomTensor([5], seed: 5)
        // y = x·x + x: dy/dx = 2x + 1, exercising accumulation from two paths.
        try checkGradients("diamond", inputs: [x]) { try x * x + x }
        x.grad = nil
        try (try x * x + x).sum().backward()
        expectClose(x.grad!.toArray(), x.toArray().map { 2 * $0 + 1 })
    }
}

@Suite struct QueryTests {
    @Test func argmaxAndSumOfSquares() throws {
        let t = try Tensor(shape: [2, 3], values: [1, 5, 5, -1, -3, -2])
        #expect(try t.argmax() == [1, 0])
        #expect(t.sumOfSquares() == 65)
        #expect(throws: TensorError.self) { try Tensor.zeros([2, 0]).argmax() }
    }
}
