// PEFT layers on a small random Llama: identity at initialisation (LoRA B = 0, IA3 ones), merge and
// unmerge (merged logits equal unmerged within 1e-5, unmerging restores the weights), freezing,
// adapter placement shapes, gradient of the adapter branch against finite differences, bad input.

import Foundation
import Testing
import PEFTLib

private func smallLlama(seed: UInt64 = 7) throws -> LlamaForCausalLM {
    let config = try LlamaConfig(hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2, numAttentionHeads: 4,
                                 numKeyValueHeads: 2, vocabSize: 61, tieWordEmbeddings: false)
    return try LlamaForCausalLM(config: config, initialization: .random(seed: seed, std: 0.1))
}

private let ids = [[3, 14, 15, 9, 26, 5, 35, 8], [7, 9, 32, 38, 4, 6, 2, 60]]

private func logits(_ model: LlamaForCausalLM) throws -> [Float] {
    try withNoGrad { try model.logits(inputIds: ids).toArray() }
}

private func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// Gives every PEFT parameter of the model non-trivial values.
private func perturbAdapters(_ model: any Module, seed: UInt64, std: Float = 0.05) throws {
    var rng = RandomGenerator(seed: seed)
    for (_, module) in model.namedModules() {
        guard let layer = module as? any PEFTLayer else { continue }
        for (_, t) in layer.adapterParameters {
            let noise = try Tensor.normal(t.shape, std: std, generator: &rng).toArray()
            try t.assign(zip(t.toArray(), noise).map { $0 + $1 })
        }
    }
}

@Suite struct PEFTLayerTests {
    @Test func loraWithZeroBReproducesTheBase() throws {
        let model = try smallLlama()
        let before = try logits(model)
        let a = try attach(method: .lora(rank: 4, alpha: 8, dropout: 0, on: .both), to: model)
        #expect(a.adaptedModules.count == 14)
        let after = try logits(model)
        #expect(maxDifference(before, after) == 0)
        let lora = try #require(model.model.layers[0].selfAttn.qProj as? LoRALinear)
        // Kaiming-uniform a = √5 ⇒ bound 1/√in.
        let bound = 1 / Float(32).squareRoot()
        #expect(lora.loraA.weight.toArray().allSatisfy { abs($0) <= bound })
        #expect(lora.loraA.weight.toArray().contains { $0 != 0 })
        #expect(lora.loraB.weight.toArray().allSatisfy { $0 == 0 })
        #expect(lora.scaling == 2)
    }

    @Test func ia3WithOnesReproducesTheBase() throws {
        let model = try smallLlama()
        let before = try logits(model)
        try attach(method: .ia3(), to: model)
        let k = try #require(model.model.layers[1].selfAttn.kProj as? IA3Linear)
        let down = try #require(model.model.layers[1].mlp.downProj as? IA3Linear)
        #expect(k.ia3L.shape == [16, 1])          // kvDim = 2 · 8, output scaling
        #expect(down.ia3L.shape == [1, 48])       // intermediate, input scaling
        #expect(down.isFeedforward && !k.isFeedforward)
        #expect(maxDifference(before, try logits(model)) == 0)
    }

    @Test func loraMergeAndUnmerge() throws {
        let model = try smallLlama()
        let original = model.parameterDictionary().mapValues { $0.toArray() }
        try attach(method: .lora(rank: 4, alpha: 8, dropout: 0, on: .both), to: model)
        try perturbAdapters(model, seed: 3)
        let unmerged = try logits(model)
        try mergeAdapters(in: model)
        let merged = try logits(model)
        let difference = maxDifference(unmerged, merged)
        print("LoRA merged vs unmerged logits: max |Δ| = \(difference)")
        #expect(difference < 1e-5)
        try unmergeAdapters(in: model)
        #expect(maxDifference(unmerged, try logits(model)) < 1e-5)
        try detachAdapters(from: model)
        var worst: Float = 0
        for (path, tensor) in model.namedParameters() {
            worst = max(worst, maxDifference(try #require(original[path]), tensor.toArray()))
        }
        print("LoRA unmerge weight restoration: max |Δ| = \(worst)")
        #expect(worst < 1e-6)
        #expect(Set(model.namedParameters().map(\.path)) == Set(original.keys))
    }

    @Test func ia3MergeAndUnmerge() throws {
        let model = try smallLlama()
        let original = model.parameterDictionary().mapValues { $0.toArray() }
        try attach(method: .ia3(), to: model)
        try perturbAdapters(model, seed: 5, std: 0.2)
        let unmerged = try logits(model)
        try mergeAdapters(in: model)
        let difference = maxDifference(unmerged, try logits(model))
        print("IA3 merged vs unmerged logits: max |Δ| = \(difference)")
        #expect(difference < 1e-5)
        try detachAdapters(from: model)
        var worst: Float = 0
        for (path, tensor) in model.namedParameters() {
            worst = max(worst, maxDifference(try #require(original[path]), tensor.toArray()))
        }
        print("IA3 unmerge weight restoration: max |Δ| = \(worst)")
        #expect(worst < 1e-6)
    }

    @Test func mergedAndRevertedLayers() throws {
        var rng = RandomGenerator(seed: 1)
        let base = Linear(weight: try Tensor.normal([6, 5], generator: &rng), bias: try Tensor.normal([6], generator: &rng))
        let lora = try LoRALinear.from(base: base, rank: 2, alpha: 4, generator: &rng)
        try lora.loraB.weight.assign(try Tensor.normal([6, 2], generator: &rng).toArray())
        let x = try Tensor.normal([3, 5], generator: &rng)
        let expected = try lora(x).toArray()
        #expect(maxDifference(expected, try lora.merged()(x).toArray()) < 1e-5)
        #expect(try lora.reverted() === base)
    }

    @Test func freezingKeepsAdaptersTrainable() throws {
        let model = try smallLlama()
        try attach(method: .lora(rank: 2, alpha: 4, dropout: 0, on: .modules(["q_proj", "v"])), to: model)
        let trainable = model.trainableParameters().map(\.path)
        #expect(trainable.count == 2 * 2 * 2)
        #expect(trainable.allSatisfy { $0.contains(".lora_A.") || $0.contains(".lora_B.") })
        #expect(trainable.contains("model.layers.0.self_attn.q_proj.lora_A.weight"))
        model.freeze()
        #expect(model.trainableParameters().count == 8)
        #expect(model.parameterDictionary()["model.layers.0.self_attn.q_proj.base_layer.weight"]?.requiresGrad == false)
    }

    @Test func adapterPlacementsAndGradients() throws {
        let model = try smallLlama()
        let before = try logits(model)
        let a = try attach(method: .adapter(size: 4, on: .both), to: model)
        #expect(a.adaptedModules.count == 2 * 4)
        let gate = try #require(model.model.layers[0].mlp.gateProj as? AdapterLinear)
        let down = try #require(model.model.layers[0].mlp.downProj as? AdapterLinear)
        let o = try #require(model.model.layers[0].selfAttn.oProj as? AdapterLinear)
        #expect(gate.placement == .input && gate.adapterDown.weight.shape == [4, 32] && gate.adapterUp.weight.shape == [32, 4])
        #expect(down.placement == .output && down.adapterDown.weight.shape == [4, 32])
        #expect(o.placement == .output)
        #expect(maxDifference(before, try logits(model)) > 0)      // N(0, 0.02) up: not an identity
        #expect(model.trainableParameterCount == 2 * 4 * (2 * 4 * 32))
        let loss = try model.loss(inputIds: ids, labels: ids)
        try loss.backward()
        #expect(model.trainableParameters().allSatisfy { $0.tensor.grad != nil })
        #expect(model.parameterDictionary()["model.layers.0.mlp.down_proj.base_layer.weight"]?.grad == nil)

        let parallel = try smallLlama()
        try attach(method: .adapter(size: 3, on: .mlp, style: .parallel), to: parallel)
        let up = try #require(parallel.model.layers[1].mlp.upProj as? AdapterLinear)
        #expect(up.placement == .parallel && up.adapterDown.weight.shape == [3, 32] && up.adapterUp.weight.shape == [48, 3])
    }

    @Test func adapterBranchMatchesFiniteDifferences() throws {
        var rng = RandomGenerator(seed: 11)
        let base = Linear(weight: try Tensor.normal([5, 4], generator: &rng))
        for placement in [AdapterPlacement.input, .output, .parallel] {
            let layer = try AdapterLinear.from(base: base, size: 3, placement: placement, initStd: 0.5, generator: &rng)
            let x = try Tensor.normal([2, 4], generator: &rng)
            let weights = try Tensor.normal([2, 5], generator: &rng)
            func objective() throws -> Tensor { try (layer(x) * weights).sum() }
            layer.adapterDown.weight.grad = nil
            try objective().backward()
            let analytic = try #require(layer.adapterDown.weight.grad).toArray()
            var values = layer.adapterDown.weight.toArray()
            for i in 0..<values.count {
                let h: Float = 1e-2, saved = values[i]
                values[i] = saved + h; try layer.adapterDown.weight.assign(values)
                let plus = try withNoGrad { try objective().item() }
                values[i] = saved - h; try layer.adapterDown.weight.assign(values)
                let minus = try withNoGrad { try objective().item() }
                values[i] = saved; try layer.adapterDown.weight.assign(values)
                #expect(abs((plus - minus) / (2 * h) - analytic[i]) < 2e-3, "\(placement) element \(i)")
            }
        }
    }

    @Test func badInput() throws {
        let model = try smallLlama()
        #expect(throws: PEFTError.nonPositive(field: "LoRA rank", value: 0)) {
            try attach(method: .lora(rank: 0, alpha: 8, dropout: 0), to: model)
        }
        #expect(throws: PEFTError.self) { try attach(method: .lora(rank: 4, alpha: -1, dropout: 0), to: model) }
        #expect(throws: PEFTError.self) { try attach(method: .adapter(size: 0), to: model) }
        #expect(throws: PEFTError.self) { try attach(method: .prefix(tokens: -2), to: model) }
        do {
            try attach(method: .lora(rank: 4, alpha: 8, dropout: 0, on: .modules(["query"])), to: model)
            Issue.record("expected an error")
        } catch let error as PEFTError {
            let message = error.description
            #expect(message.contains("'query'") && message.contains("q_proj") && message.contains("down_proj")
                    && message.contains("lm_head"))
        }
        #expect(adaptedModulePaths(in: model).isEmpty)       // nothing changed by the failed attach
        #expect(throws: PEFTError.noConnector) { try attach(method: .ia3(), to: model, connector: .tuned) }
        try attach(method: .ia3(), to: model)
        #expect(throws: PEFTError.self) { try attach(method: .lora(rank: 4, alpha: 8, dropout: 0), to: model) }
        let replaced = try attach(method: .lora(rank: 4, alpha: 8, dropout: 0), to: model, replacing: true)
        #expect(replaced.adaptedModules.count == 14)
        #expect(model.model.layers[0].selfAttn.kProj is LoRALinear)
    }

    @Test func configurationsRoundTripThroughJSON() throws {
        let methods: [PEFTMethod] = [.lora(LoRAConfiguration.study), .ia3(IA3Configuration.study),
                                     .adapter(AdapterConfiguration.study), .prefix(PrefixConfiguration.study),
                                     .full, .connectorOnly, try .lora(rank: 8, alpha: 16, dropout: 0, on: .modules(["q_proj"]))]
        for method in methods {
            let data = try JSONEncoder().encode(method)
            #expect(try JSONDecoder().decode(PEFTMethod.self, from: data) == method)
        }
        let bad = Data(#"{"r": 0, "lora_alpha": 16}"#.utf8)
        #expect(throws: PEFTError.self) { try JSONDecoder().decode(LoRAConfiguration.self, from: bad) }
    }
}
