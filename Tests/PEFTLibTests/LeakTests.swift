// 200 training steps of a small MLP and of a small attention stack leave live tensor
// storage at its baseline: the graph, saved buffers and grads are all released.
import Testing
import PEFTLib

/// Plain SGD over leaf parameters, then zeroes their grads.
func sgdStep(_ parameters: [Tensor], learningRate: Float) throws {
    for p in parameters {
        if let g = p.grad { try p.addInPlace(g, scale: -learningRate) }
        p.grad = nil
    }
}

@Suite struct LeakTests {
    @Test func mlpTrainingReturnsToBaseline() throws {
        try TensorMemory.measure { scope in
            var rng = RandomGenerator(seed: 1)
            let w1 = try Tensor.kaimingUniform([32, 16], generator: &rng, requiresGrad: true)
            let b1 = try Tensor.zeros([32], requiresGrad: true)
            let w2 = try Tensor.kaimingUniform([5, 32], generator: &rng, requiresGrad: true)
            let frozen = try Tensor.kaimingUniform([16, 16], generator: &rng) // no grad
            let x = try Tensor.normal([24, 16], generator: &rng)
            let labels = (0..<24).map { $0 % 3 == 0 ? -100 : $0 % 5 }
            let parameters = [w1, b1, w2]
            let baseline = scope.liveBytes
            var losses: [Float] = []
            for step in 0..<200 {
                let h = try gelu(linear(linear(x, weight: frozen), weight: w1, bias: b1))
                let d = try dropout(h, probability: 0.1, generator: &rng)
                let loss = try crossEntropy(linear(d, weight: w2), targets: labels)
                if step % 50 == 0 { losses.append(try loss.item()) }
                try loss.backward()
                try sgdStep(parameters, learningRate: 0.1)
            }
            #expect(scope.liveBytes == baseline, "live \(scope.liveBytes) vs baseline \(baseline)")
            #expect(losses.last! < losses.first!)
        }
    }

    @Test func attentionStackTrainingReturnsToBaseline() throws {
        try TensorMemory.measure { scope in
            var baseline = 0, final = 0
            let losses = try trainAttentionStack(steps: 200, seed: 2, afterSetup: { baseline = scope.liveBytes },
                                                 beforeReturn: { final = scope.liveBytes })
            #expect(final == baseline, "live \(final) vs baseline \(baseline)")
            #expect(scope.liveBytes == 0)
            #expect(losses.last! < losses.first!)
        }
        #expect(TensorMemory.liveBytes >= 0)
    }

    @Test func trainingIsBitwiseRepeatable() throws {
        let first = try trainAttentionStack(steps: 20, seed: 3)
        let second = try trainAttentionStack(steps: 20, seed: 3)
        #expect(first == second)
    }
}

/// Trains embedding → RMSNorm → RoPE'd GQA attention with prefix and padding → LayerNorm →
/// SwiGLU MLP → LM head on labelled rows → cross-entropy, with SGD; returns the losses.
/// `afterSetup` runs once the parameters exist and `beforeReturn` after the last step,
/// while they are still alive (to read live memory).
func trainAttentionStack(steps: Int, seed: UInt64, afterSetup: () -> Void = {},
                         beforeReturn: () -> Void = {}) throws -> [Float] {
    var rng = RandomGenerator(seed: seed)
    let (batch, t, hidden, heads, kvHeads, vocab) = (2, 6, 16, 4, 2, 11)
    let d = hidden / heads
    let embed = try Tensor.normal([vocab, hidden], std: 0.5, generator: &rng, requiresGrad: true)
    let norm = try Tensor.ones([hidden], requiresGrad: true)
    let wq = try Tensor.kaimingUniform([hidden, hidden], generator: &rng, requiresGrad: true)
    let wk = try Tensor.kaimingUniform([kvHeads * d, hidden], generator: &rng, requiresGrad: true)
    let wv = try Tensor.kaimingUniform([kvHeads * d, hidden], generator: &rng) // frozen
    let wo = try Tensor.kaimingUniform([hidden, hidden], generator: &rng, requiresGrad: true)
    let gate = try Tensor.kaimingUniform([24, hidden], generator: &rng, requiresGrad: true)
    let up = try Tensor.kaimingUniform([24, hidden], generator: &rng, requiresGrad: true)
    let down = try Tensor.kaimingUniform([hidden, 24], generator: &rng, requiresGrad: true)
    let ln = try Tensor.ones([hidden], requiresGrad: true), lnBias = try Tensor.zeros([hidden], requiresGrad: true)
    let prefixK = try Tensor.normal([3, kvHeads * d], generator: &rng, requiresGrad: true)
    let prefixV = try Tensor.normal([3, kvHeads * d], generator: &rng, requiresGrad: true)
    let head = try Tensor.kaimingUniform([vocab, hidden], generator: &rng, requiresGrad: true)
    let table = try RotaryTable(headDim: d, maxPositions: 16)
    let parameters = [embed, norm, wq, wk, wo, gate, up, down, ln, lnBias, prefixK, prefixV, head]
    let ids = (0..<(batch * t)).map { ($0 * 7) % vocab }
    let labels = ids.enumerated().map { $0.offset % t < 2 ? -100 : ($0.element + 1) % vocab }
    let mask = (0..<(batch * t)).map { $0 != 0 }
    let keep = labelledPositions(labels)
    afterSetup()
    var losses: [Float] = []
    for _ in 0..<steps {
        let x = try embedding(ids, shape: [batch, t], table: embed)                          // (B, T, C)
        let n = try rmsNorm(x, weight: norm)
        let q = try rope(linear(n, weight: wq), heads: heads, positions: Array(0..<t), table: table)
        let k = try rope(linear(n, weight: wk), heads: kvHeads, positions: Array(0..<t), table: table)
        let v = try linear(n, weight: wv)                                                    // (B, T, kv·D)
        let a = try attention(query: q, key: k, value: v, heads: heads, kvHeads: kvHeads,
                              prefixKey: prefixK, prefixValue: prefixV, paddingMask: mask)  // (B, T, C)
        let h = try x + linear(a, weight: wo)
        let m = try layerNorm(h, weight: ln, bias: lnBias)
        let out = try h + linear(swiglu(gate: linear(m, weight: gate), up: linear(m, weight: up)), weight: down)
        let logits = try linear(selectRows(out, keep), weight: head)                         // (K, V)
        let loss = try crossEntropy(logits, targets: keep.map { labels[$0] })
        losses.append(try loss.item())
        try loss.backward()
        try sgdStep(parameters, learningRate: 0.05)
    }
    #expect(wv.grad == nil)
    beforeReturn()
    return losses
}
