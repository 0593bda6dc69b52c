// Autodiff behaviour: no-grad records nothing, frozen parameters get no gradient and
// cost no GEMM, inputs without grad cost no input-gradient GEMM, grads accumulate.
import Testing
import PEFTLib

@Suite struct AutodiffTests {
    @Test func noGradRecordsNothing() throws {
        let x = randomTensor([4, 8], seed: 1), w = randomTensor([3, 8], seed: 2)
        var y: Tensor?
        let counts = try OpCounters.measure {
            try withNoGrad {
                #expect(!GradMode.isEnabled)
                y = try softmax(silu(linear(x, weight: w)) * 2)
            }
        }
        #expect(counts.nodesRecorded == 0)
        #expect(y?.requiresGrad == false && y?.isLeaf == true)
        #expect(throws: TensorError.self) { try y!.sum().backward() }
        #expect(GradMode.isEnabled)
    }

    @Test func frozenWeightGetsNoGradientAndNoGEMM() throws {
        let x = randomTensor([6, 8], seed: 3)
        let w = randomTensor([5, 8], seed: 4)
        let b = randomTensor([5], seed: 5)
        // Trainable: forward, input-gradient and weight-gradient GEMMs.
        let trainable = try OpCounters.measure { try linear(x, weight: w, bias: b).sum().backward() }
        #expect(trainable.gemmCalls == 3)
        #expect(w.grad != nil && x.grad != nil && b.grad != nil)

        x.grad = nil; w.grad = nil; b.grad = nil
        w.requiresGrad = false
        b.requiresGrad = false
        let frozen = try OpCounters.measure { try linear(x, weight: w, bias: b).sum().backward() }
        #expect(frozen.gemmCalls == 2)
        #expect(w.grad == nil && b.grad == nil)
        #expect(x.grad != nil)

        // Input without grad, weight trainable: no input-gradient GEMM.
        w.requiresGrad = true
        x.requiresGrad = false
        x.grad = nil
        let noInputGrad = try OpCounters.measure { try linear(x, weight: w).sum().backward() }
        #expect(noInputGrad.gemmCalls == 2)
        #expect(x.grad == nil && w.grad != nil)

        // Both frozen: nothing is recorded at all.
        w.requiresGrad = false
        let nothing = try OpCounters.measure { _ = try linear(x, weight: w) }
        #expect(nothing.gemmCalls == 1 && nothing.nodesRecorded == 0)
    }

    @Test func loraStyleFrozenBaseCountsGEMMs() throws {
        // y = x Wᵀ + (x Aᵀ) Bᵀ with W frozen, A and B trainable, x an input without grad.
        let x = randomTensor([10, 16], seed: 6, requiresGrad: false)
        let w = randomTensor([12, 16], seed: 7, requiresGrad: false)
        let a = randomTensor([4, 16], seed: 8), b = randomTensor([12, 4], seed: 9)
        let counts = try OpCounters.measure {
            let y = try linear(x, weight: w) + linear(linear(x, weight: a), weight: b)
            try y.sum().backward()
        }
        // Forward 3; backward: dB, d(xAᵀ) and dA; none for W, none for x.
        #expect(counts.gemmCalls == 6)
        #expect(w.grad == nil && x.grad == nil && a.grad != nil && b.grad != nil)
    }

    @Test func gradientsAccumulateAcrossBackwardCalls() throws {
        let x = randomTensor([3], seed: 10)
        try (x * 2).sum().backward()
        try (x * 3).sum().backward()
        #expect(x.grad!.toArray() == [5, 5, 5])
        x.grad = nil
        try (x * 1).sum().backward()
        #expect(x.grad!.toArray() == [1, 1, 1])
    }

    @Test func graphIsFreedAfterBackward() throws {
        let x = randomTensor([3], seed: 11)
        let h = silu(x)
        let y = h.sum()
        #expect(y.producingOp == "sum" && h.producingOp == "silu")
        try y.backward()
        #expect(y.producingOp == nil && h.producingOp == nil && !h.isLeaf)
        #expect(throws: TensorError.self) { try y.backward() }
    }

    @Test func backwardThroughAFreedSharedGraphThrows() throws {
        // As in PyTorch: two losses sharing h need one backward on their sum.
        let x = randomTensor([4], seed: 14)
        let h = silu(x)
        let first = (h * 2).sum(), second = (h * 3).sum()
        try first.backward()
        #expect(throws: TensorError.self) { try second.backward() }
        x.grad = nil
        let g = silu(x)
        try ((g * 2).sum() + (g * 3).sum()).backward()
        #expect(x.grad != nil)
    }

    @Test func backwardNeedsScalarOrSeed() throws {
        let x = randomTensor([2, 2], seed: 12)
        let y = x * 2
        #expect(throws: TensorError.self) { try y.backward() }
        try y.backward(gradient: Tensor.ones([2, 2]))
        #expect(x.grad!.toArray() == [2, 2, 2, 2])
    }

    @Test func longChainBackwardIsIterative() throws {
        // 20 000 nodes would overflow a recursive topological sort's stack.
        let x = randomTensor([1], seed: 13)
        var y = x
        for _ in 0..<20_000 { y = y * 1.0 }
        try y.sum().backward()
        #expect(x.grad!.toArray() == [1])
    }
}

@Suite struct MetaTensorTests {
    @Test func metaTensorsNeverReadMemory() throws {
        let w = try Tensor.meta([4096, 4096], requiresGrad: true)
        let x = randomTensor([2, 4096], seed: 1)
        #expect(w.isMeta && !x.isMeta && w.count == 4096 * 4096)
        #expect(w.toArray().isEmpty)
        #expect(w.withUnsafeBufferPointer { $0.count } == 0)
        #expect(throws: TensorError.self) { try linear(x, weight: w) }
        #expect(throws: TensorError.self) { try w + w }
        #expect(throws: TensorError.self) { try w.item() }
        #expect(throws: TensorError.self) { try softmax(w) }
        #expect(throws: TensorError.self) { try rmsNorm(x, weight: Tensor.meta([4096])) }
        #expect(throws: TensorError.self) { try embedding([1], table: w) }
        #expect(throws: TensorError.self) { try w.permuted([1, 0]) }
        #expect(throws: TensorError.self) { try w.sliced(0..<2, axis: 1) }
        // Shape-only and pointwise ops give meta results.
        #expect(try w.reshaped([-1]).isMeta)
        #expect(try w.sliced(0..<2).isMeta)
        #expect(silu(w).isMeta && (w * 2).isMeta && w.sum().isMeta && w.detachedCopy().isMeta)
        #expect(w.sumOfSquares() == 0)
    }
}

/// What the graph keeps between forward and backward: only values an op needs.
@Suite struct SavedValuesTests {
    /// Builds `sum(((x + x) + 1) · 0.5)` through ops that need no input values and returns the loss only.
    static func lossThroughUnsavedIntermediates(_ x: Tensor) throws -> Tensor {
        let doubled = try x + x
        let shifted = affine(doubled, scale: 1, shift: 1)
        return affine(shifted, scale: 0.5).sum()
    }

    @Test func intermediatesNobodySavedAreFreedBeforeBackward() throws {
        try TensorMemory.measure { scope in
            let x = try Tensor(shape: [256, 256], values: (0..<65_536).map { Float($0 % 7) }, requiresGrad: true)
            let loss = try Self.lossThroughUnsavedIntermediates(x)
            // x (256 KB) and the scalar loss: the three intermediates (768 KB) are gone.
            #expect(scope.liveBytes < 2 * x.count * 4)
            try loss.backward()
            #expect(x.grad?.toArray().allSatisfy { $0 == 1 } == true)   // d/dx of 0.5·(2x + 1)
        }
    }

    @Test func aFrozenLinearKeepsNoInput() throws {
        try TensorMemory.measure { scope in
            let w = randomTensor([64, 512], seed: 7, requiresGrad: false)   // frozen
            let x = try Tensor(shape: [128, 512], values: (0..<65_536).map { Float($0 % 5) / 5 }, requiresGrad: true)
            let before = scope.liveBytes
            let loss: Tensor = try {
                let hidden = try x * 2                              // 256 KB, needed by nobody later
                return try linear(hidden, weight: w).sum()          // frozen w: no weight gradient
            }()
            #expect(scope.liveBytes - before < 64 * 1024)            // only the (128, 64) output went away too
            try loss.backward()
            #expect(x.grad != nil && w.grad == nil)
        }
    }
}

@Suite struct DropoutTests {
    @Test func dropsAboutPAndScalesTheRest() throws {
        var generator = RandomGenerator(seed: 11)
        let x = try Tensor(shape: [100_000], values: Array(repeating: 1, count: 100_000))
        let y = try dropout(x, probability: 0.25, generator: &generator).toArray()
        let dropped = y.filter { $0 == 0 }.count
        #expect(abs(Double(dropped) / 100_000 - 0.25) < 0.01)
        #expect(y.allSatisfy { $0 == 0 || abs($0 - 4 / 3) < 1e-6 })
    }

    @Test func sameGeneratorSameMaskAndGradientIsTheMask() throws {
        let x = try Tensor(shape: [4_000], values: (0..<4_000).map { Float($0) / 100 }, requiresGrad: true)
        var a = RandomGenerator(seed: 5), b = RandomGenerator(seed: 5)
        let first = try dropout(x, probability: 0.5, generator: &a)
        let second = try dropout(x, probability: 0.5, generator: &b)
        #expect(first.toArray() == second.toArray())
        let third = try dropout(x, probability: 0.5, generator: &a)   // the generator moved on
        #expect(first.toArray() != third.toArray())
        try first.sum().backward()
        let g = try #require(x.grad).toArray(), values = first.toArray()
        for i in 0..<x.count where i > 0 { #expect((values[i] == 0) == (g[i] == 0)); #expect(g[i] == 0 || g[i] == 2) }
    }
}
