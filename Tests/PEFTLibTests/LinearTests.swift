// Linear layers and matrix products: values against a naive product, gradients
// against finite differences, transposes as flags, batching and sharing.
import Testing
import PEFTLib

/// Naive (M, K)·(K, N) in Double.
func naiveMatmul(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int) -> [Float] {
    var out = [Float](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var total = 0.0
            for p in 0..<k { total += Double(a[i * k + p]) * Double(b[p * n + j]) }
            out[i * n + j] = Float(total)
        }
    }
    return out
}

@Suite struct LinearTests {
    @Test func linearValues() throws {
        let x = randomTensor([2, 3, 7], seed: 1), w = randomTensor([5, 7], seed: 2), b = randomTensor([5], seed: 3)
        let y = try linear(x, weight: w, bias: b)
        #expect(y.shape == [2, 3, 5])
        let wt = try w.transposed().toArray()
        let expected = naiveMatmul(x.toArray(), wt, m: 6, k: 7, n: 5).enumerated().map { $1 + b.toArray()[$0 % 5] }
        expectClose(y.toArray(), expected, atol: 1e-4)
    }

    @Test(arguments: [true, false])
    func linearGradients(withBias: Bool) throws {
        let x = randomTensor([2, 3, 7], seed: 4), w = randomTensor([5, 7], seed: 5), b = randomTensor([5], seed: 6)
        try checkGradients("linear bias=\(withBias)", inputs: [x, w, b]) {
            try linear(x, weight: w, bias: withBias ? b : nil)
        }
        // Odd sizes and a single row.
        let x1 = randomTensor([1, 13], seed: 7), w1 = randomTensor([3, 13], seed: 8)
        try checkGradients("linear 1×13", inputs: [x1, w1]) { try linear(x1, weight: w1) }
    }

    @Test func addLinearIsYPlusScaledProduct() throws {
        let y = randomTensor([2, 3, 5], seed: 21), x = randomTensor([2, 3, 4], seed: 22), w = randomTensor([5, 4], seed: 23)
        let fused = try addLinear(y, x, weight: w, scale: 0.75)
        let reference = try y + linear(x, weight: w) * 0.75
        expectClose(fused.toArray(), reference.toArray(), atol: 1e-5)
        try checkGradients("addLinear", inputs: [y, x, w]) { try addLinear(y, x, weight: w, scale: 0.75) }
        // Frozen weight (LoRA's base stays outside; here B frozen): x still gets its gradient.
        let frozen = randomTensor([5, 4], seed: 24, requiresGrad: false)
        try checkGradients("addLinear frozen weight", inputs: [y, x]) { try addLinear(y, x, weight: frozen, scale: 2) }
        #expect(throws: TensorError.self) { try addLinear(y, x, weight: randomTensor([5, 3], seed: 25), scale: 1) }
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matmulTransposes(transposeA: Bool, transposeB: Bool) throws {
        let (m, k, n) = (3, 5, 4)
        let a = randomTensor(transposeA ? [k, m] : [m, k], seed: 9)
        let b = randomTensor(transposeB ? [n, k] : [k, n], seed: 10)
        let c = try matmul(a, b, transposeA: transposeA, transposeB: transposeB)
        #expect(c.shape == [m, n])
        let av = transposeA ? try a.transposed().toArray() : a.toArray()
        let bv = transposeB ? try b.transposed().toArray() : b.toArray()
        expectClose(c.toArray(), naiveMatmul(av, bv, m: m, k: k, n: n), atol: 1e-4)
        try checkGradients("matmul tA=\(transposeA) tB=\(transposeB)", inputs: [a, b]) {
            try matmul(a, b, transposeA: transposeA, transposeB: transposeB)
        }
    }

    @Test func batchedMatmul() throws {
        let a = randomTensor([2, 3, 3, 4], seed: 11), b = randomTensor([2, 3, 4, 5], seed: 12)
        let c = try matmul(a, b)
        #expect(c.shape == [2, 3, 3, 5])
        let av = a.toArray(), bv = b.toArray()
        expectClose(Array(c.toArray()[15..<30]), naiveMatmul(Array(av[12..<24]), Array(bv[20..<40]), m: 3, k: 4, n: 5), atol: 1e-4)
        try checkGradients("batched", inputs: [a, b]) { try matmul(a, b) }
        try checkGradients("batched tB", inputs: [a, b]) { try matmul(b, a, transposeA: true, transposeB: true) }
        let shared = randomTensor([4, 2], seed: 13)
        try checkGradients("shared b", inputs: [a, shared]) { try matmul(a, shared) }
        try checkGradients("shared b, tA", inputs: [b, shared]) { try matmul(b, shared, transposeA: true) }
    }

    @Test func shapeErrorsNameOpAndShapes() throws {
        let x = randomTensor([4, 6], seed: 14), w = randomTensor([3, 5], seed: 15)
        do {
            _ = try linear(x, weight: w)
            Issue.record("expected a shape error")
        } catch let error as TensorError {
            let text = error.description
            #expect(text.contains("linear") && text.contains("[4, 6]") && text.contains("[3, 5]"), "\(text)")
        }
        #expect(throws: TensorError.self) { try linear(x, weight: randomTensor([3, 6], seed: 1), bias: randomTensor([4], seed: 2)) }
        #expect(throws: TensorError.self) { try matmul(x, w) }
        #expect(throws: TensorError.self) { try matmul(randomTensor([2, 4, 6], seed: 1), randomTensor([3, 6, 2], seed: 2)) }
        #expect(throws: TensorError.self) { try x + w }
    }
}
