// Meta mode: models built from a config alone count their parameters without allocating
// weights (LLaVA-1.5-7B: 7,063,427,072); freezing and the trainable set come from the tree.

import Foundation
import Testing
import PEFTLib
import PEFTLabBenchmarks

@Suite struct MetaModelTests {
    private func llava7BConfig() throws -> LlavaConfig {
        let url = try #require(Bundle.module.url(forResource: "llava-1.5-7b-config", withExtension: "json",
                                                 subdirectory: "Fixtures"))
        guard case let .llava(config) = try ModelConfig.load(path: url.path) else {
            throw ModelError.invalidInput("not a LLaVA config")
        }
        return config
    }

    @Test func llava15_7BCountsWithoutAllocating() throws {
        let config = try llava7BConfig()
        let (model, peak) = try TensorMemory.measure { scope in
            (try LlavaForConditionalGeneration(config: config, initialization: .meta), scope.peakBytes)
        }
        #expect(peak < 1 << 20)                                  // nothing like 28 GB
        #expect(model.isMeta)
        let total = model.parameterCount
        print("LLaVA-1.5-7B parameters: \(total)")
        #expect(total == 7_063_427_072)
        // The parts, as the study reports them.
        #expect(model.model.multiModalProjector.parameterCount == 20_979_712)
        #expect(model.model.visionTower.parameterCount == 303_507_456)
        #expect(model.model.languageModel.parameterCount + model.lmHead.parameterCount == 6_738_939_904)
    }

    @Test func freezingIsStateOnTheTree() throws {
        let model = try LlavaForConditionalGeneration(config: llava7BConfig(), initialization: .meta)
        #expect(model.trainableParameterCount == model.parameterCount)
        model.freeze()
        #expect(model.trainableParameters().isEmpty)
        model.model.multiModalProjector.unfreeze()
        #expect(model.trainableParameterCount == 20_979_712)
        #expect(model.trainableParameters().allSatisfy { $0.path.hasPrefix("model.multi_modal_projector.") })
        model.model.languageModel.layers[0].selfAttn.qProj.unfreeze()
        #expect(model.trainableParameterCount == 20_979_712 + 4096 * 4096)
    }

    @Test func pathsFollowTheTreeAndTiedWeightsCountOnce() throws {
        let config = try LlamaConfig(hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2, numAttentionHeads: 4,
                                     numKeyValueHeads: 2, vocabSize: 50, tieWordEmbeddings: true)
        let tied = try LlamaForCausalLM(config: config, initialization: .meta)
        let paths = tied.namedParameters().map(\.path)
        #expect(paths.first == "model.embed_tokens.weight")
        #expect(paths.contains("model.layers.1.self_attn.k_proj.weight"))
        #expect(paths.last == "model.norm.weight")
        #expect(!paths.contains("lm_head.weight"))
        let perLayer = 16 * 16 * 2 + 16 * 8 * 2 + 3 * 16 * 24 + 2 * 16
        #expect(tied.parameterCount == 50 * 16 + 2 * perLayer + 16)
        var untiedConfig = config
        untiedConfig.tieWordEmbeddings = false
        let untied = try LlamaForCausalLM(config: untiedConfig, initialization: .meta)
        #expect(untied.parameterCount == tied.parameterCount + 50 * 16)
        #expect(untied.namedParameters().last?.path == "lm_head.weight")
    }

    /// The benchmark shapes of DESIGN.md §5 count as transformers counts them.
    @Test func benchmarkShapesMatchTransformersCounts() throws {
        let expected = ["tiny": (4_608_000, 3_688_704, 16), "small": (175_228_224, 162_826_560, 49)]
        for shape in try ModelBenchmark.shapes() {
            let model = try LlavaForConditionalGeneration(config: shape.config, initialization: .meta)
            let (total, language, features) = try #require(expected[shape.name])
            #expect(model.parameterCount == total, "\(shape.name)")
            #expect(model.model.languageModel.parameterCount + model.lmHead.parameterCount == language, "\(shape.name)")
            #expect(model.imageFeatureCount == features)
        }
    }

    /// PEFT layers go in by key: the parent swaps its child, and nothing else needs the model's fields.
    @Test func aChildIsReplacedByItsPath() throws {
        let config = try LlamaConfig(hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 4,
                                     numKeyValueHeads: 4, vocabSize: 16)
        let model = try LlamaForCausalLM(config: config, initialization: .meta)
        let replacement = Linear(weight: try Tensor.meta([64, 32]))
        try model.replaceModule(at: "model.layers.1.mlp.up_proj", with: replacement)
        #expect(model.model.layers[1].mlp.upProj === replacement)
        #expect(model.module(at: "model.layers.1.mlp.up_proj") === replacement)
        #expect(model.model.layers[0].mlp.upProj !== replacement)
        // A child that is not a swappable linear slot, a non-linear replacement and a missing path are errors.
        #expect(throws: ModelError.self) { try model.replaceModule(at: "model.norm", with: replacement) }
        #expect(throws: ModelError.self) { try model.replaceModule(at: "model.layers.0.self_attn.q_proj", with: model.model.norm) }
        #expect(throws: ModelError.self) { try model.replaceModule(at: "model.layers.7.mlp.up_proj", with: replacement) }
    }
}
