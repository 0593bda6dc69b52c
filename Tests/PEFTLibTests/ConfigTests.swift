// Config.json parsing: transformers' defaults, grouped-query attention, tied embeddings,
// unsupported options named by field, and the llava-hf LLaVA-1.5-7B config.

import Foundation
import Testing
import PEFTLib

private func decodeConfig(_ json: String) throws -> ModelConfig {
    try ModelConfig.decode(Data(json.utf8))
}

private func llama(_ fields: String) throws -> LlamaConfig {
    try JSONDecoder().decode(LlamaConfig.self, from: Data("{\(fields)}".utf8))
}

/// The ConfigError thrown by `body`, or nil (recording an issue) if it throws something else or nothing.
private func configError(_ body: () throws -> Void) -> ConfigError? {
    do {
        try body()
        Issue.record("expected a ConfigError")
    } catch let error as ConfigError {
        return error
    } catch {
        Issue.record("expected a ConfigError, got \(error)")
    }
    return nil
}

@Suite struct LlavaConfigTests {
    @Test func readsTheLlava15_7BConfig() throws {
        let dir = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures"))
        let config = try ModelConfig.load(path: dir.appendingPathComponent("llava-1.5-7b-config.json").path)
        #expect(config.architecture == "LlavaForConditionalGeneration")
        guard case .llava(let llava) = config else { Issue.record("not a LLaVA config"); return }
        let vision = llava.visionConfig
        #expect(vision.hiddenSize == 1024 && vision.intermediateSize == 4096)
        #expect(vision.numHiddenLayers == 24 && vision.numAttentionHeads == 16 && vision.headDim == 64)
        #expect(vision.imageSize == 336 && vision.patchSize == 14 && vision.numChannels == 3)
        #expect(vision.numPatches == 576 && vision.numPositions == 577 && vision.patchInputSize == 588)
        #expect(vision.hiddenAct == .quickGELU && vision.layerNormEps == 1e-5)
        let text = llava.textConfig
        #expect(text.hiddenSize == 4096 && text.intermediateSize == 11008)
        #expect(text.numHiddenLayers == 32 && text.numAttentionHeads == 32 && text.numKeyValueHeads == 32)
        #expect(text.vocabSize == 32064 && text.rmsNormEps == 1e-5 && text.ropeTheta == 10000)
        #expect(text.maxPositionEmbeddings == 4096 && !text.tieWordEmbeddings && text.headDim == 128)
        #expect(!text.attentionBias && !text.mlpBias && text.kvGroups == 1)
        #expect(text.bosTokenId == 1 && text.eosTokenId == 2)
        #expect(llava.imageTokenIndex == 32000 && llava.padTokenId == 32001 && llava.ignoreIndex == -100)
        #expect(llava.projectorHiddenAct == .gelu && llava.multimodalProjectorBias)
        #expect(llava.visionFeatureLayer == -2 && llava.visionLayersUsed == 23)
        #expect(llava.visionFeatureSelectStrategy == .default && llava.imageFeatureCount == 576)
        #expect(llava.projectorInputSize == 1024 && llava.projectorHiddenSize == 4096)
    }

    @Test func loadsFromAFolder() throws {
        let folder = NSTemporaryDirectory() + "peftlab-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Data(#"{"architectures":["LlamaForCausalLM"],"hidden_size":64,"num_attention_heads":4}"#.utf8)
            .write(to: URL(fileURLWithPath: folder + "/config.json"))
        guard case .llama(let config) = try ModelConfig.load(path: folder) else { Issue.record("not Llama"); return }
        #expect(config.hiddenSize == 64 && config.headDim == 16)
    }

    @Test func fullStrategyKeepsTheClassToken() throws {
        let config = try decodeConfig(#"""
            {"model_type": "llava", "vision_feature_select_strategy": "full", "vision_feature_layer": -1,
             "vision_config": {"hidden_size": 128, "intermediate_size": 512, "num_hidden_layers": 4,
                               "num_attention_heads": 4, "image_size": 32, "patch_size": 8, "hidden_act": "gelu"},
             "text_config": {"model_type": "llama", "hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4,
                             "num_attention_heads": 4, "vocab_size": 1024},
             "image_token_index": 1000, "multimodal_projector_bias": false}
            """#)
        guard case .llava(let llava) = config else { Issue.record("not LLaVA"); return }
        #expect(llava.imageFeatureCount == 17 && llava.visionLayersUsed == 4)
        #expect(llava.visionConfig.hiddenAct == .gelu && !llava.multimodalProjectorBias)
        let again = try JSONDecoder().decode(LlavaConfig.self, from: JSONEncoder().encode(llava))
        #expect(again == llava)
    }

    @Test func namesNestedFields() throws {
        let base = #""vision_config": {"hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "image_size": 16, "patch_size": 4}"#
        let rope = configError {
            _ = try decodeConfig(#"{"architectures": ["LlavaForConditionalGeneration"], \#(base), "text_config": {"rope_scaling": {"type": "dynamic", "factor": 2.0}}}"#)
        }
        #expect(rope?.field == "text_config.rope_scaling")
        #expect(rope?.description.contains("dynamic") == true)
        let model = configError {
            _ = try decodeConfig(#"{"model_type": "llava", \#(base), "text_config": {"model_type": "mistral"}}"#)
        }
        #expect(model?.field == "text_config.model_type")
        let act = configError {
            _ = try decodeConfig(#"{"model_type": "llava", "vision_config": {"hidden_act": "relu"}}"#)
        }
        #expect(act?.field == "vision_config.hidden_act")
        let strategy = configError {
            _ = try decodeConfig(#"{"model_type": "llava", \#(base), "vision_feature_select_strategy": "cls"}"#)
        }
        #expect(strategy?.field == "vision_feature_select_strategy")
        let layers = configError {
            _ = try decodeConfig(#"{"model_type": "llava", \#(base), "vision_feature_layer": [-2, -5]}"#)
        }
        #expect(layers?.field == "vision_feature_layer")
        let range = configError {
            _ = try decodeConfig(#"{"model_type": "llava", \#(base), "vision_feature_layer": -4}"#)
        }
        #expect(range?.field == "vision_feature_layer")
        let projector = configError {
            _ = try decodeConfig(#"{"model_type": "llava", \#(base), "projector_hidden_act": "swish"}"#)
        }
        #expect(projector?.field == "projector_hidden_act")
    }

    @Test func namesTheFileOfABadConfig() throws {
        let folder = NSTemporaryDirectory() + "peftlab-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/config.json"
        try Data(#"{"model_type": "llama", "rope_scaling": {"rope_type": "llama3", "factor": 8.0}}"#.utf8).write(to: URL(fileURLWithPath: path))
        let error = configError { _ = try ModelConfig.load(path: path) }
        #expect(error?.file == path && error?.field == "rope_scaling")
        #expect(error?.description.contains(path) == true && error?.description.contains("llama3") == true)

        try Data("{not json".utf8).write(to: URL(fileURLWithPath: path))
        let malformed = configError { _ = try ModelConfig.load(path: path) }
        #expect(malformed?.file == path && malformed?.field == "")

        let missing = configError { _ = try ModelConfig.load(path: folder + "/nope.json") }
        #expect(missing?.description.contains("nope.json") == true)
    }

    @Test func rejectsAnUnsupportedArchitecture() {
        let error = configError { _ = try decodeConfig(#"{"architectures": ["MistralForCausalLM"], "model_type": "mistral"}"#) }
        #expect(error?.field == "architectures")
        #expect(error?.description.contains("MistralForCausalLM") == true)
    }

    @Test func readsACLIPVisionConfigAndTheVisionHalfOfACLIPConfig() throws {
        guard case .clipVision(let vision) = try decodeConfig(#"{"architectures": ["CLIPVisionModel"], "model_type": "clip_vision_model"}"#) else {
            Issue.record("not CLIP"); return
        }
        #expect(vision.hiddenSize == 768 && vision.numHiddenLayers == 12 && vision.numChannels == 3)
        #expect(vision.layerNormEps == 1e-5 && vision.hiddenAct == .quickGELU && vision.numPatches == 49)
        guard case .clipVision(let half) = try decodeConfig(#"{"model_type": "clip", "vision_config": {"patch_size": 16}}"#) else {
            Issue.record("not CLIP"); return
        }
        #expect(half.numPatches == 196)
        let bad = configError { _ = try decodeConfig(#"{"model_type": "clip_vision_model", "image_size": 30, "patch_size": 8}"#) }
        #expect(bad?.field == "patch_size")
    }
}

@Suite struct LlamaConfigTests {
    @Test func appliesTransformersDefaults() throws {
        let config = try llama(#""hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100"#)
        #expect(config.numKeyValueHeads == 4 && config.kvGroups == 1)
        #expect(config.ropeTheta == 10000 && config.rmsNormEps == 1e-6)
        #expect(!config.tieWordEmbeddings && !config.attentionBias && !config.mlpBias)
        #expect(config.hiddenAct == .silu && config.headDim == 16 && config.maxPositionEmbeddings == 2048)
        #expect(config.bosTokenId == 1 && config.eosTokenIds == [2] && config.padTokenId == nil)
        let nulls = try llama(#""hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": null, "rope_scaling": null, "pad_token_id": null"#)
        #expect(nulls.numKeyValueHeads == 4 && nulls.padTokenId == nil)
    }

    @Test func readsGroupedQueryAttention() throws {
        let config = try llama(#"""
            "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
            "num_key_value_heads": 3, "vocab_size": 49152, "rope_theta": 10000.0, "rms_norm_eps": 1e-05,
            "tie_word_embeddings": true, "bos_token_id": 0, "eos_token_id": [0, 2], "pad_token_id": 2
            """#)
        #expect(config.headDim == 64 && config.kvGroups == 3)
        #expect(config.queryDim == 576 && config.kvDim == 192)
        #expect(config.tieWordEmbeddings)
        #expect(config.bosTokenId == 0 && config.eosTokenIds == [0, 2] && config.eosTokenId == 0 && config.padTokenId == 2)
        let error = configError { _ = try llama(#""hidden_size": 576, "num_attention_heads": 9, "num_key_value_heads": 4"#) }
        #expect(error?.field == "num_key_value_heads")
    }

    @Test func readsAnExplicitHeadDimAndRopeTheta() throws {
        let config = try llama(#""hidden_size": 100, "num_attention_heads": 3, "head_dim": 32, "rope_theta": 500000.0, "attention_bias": true, "mlp_bias": true"#)
        #expect(config.headDim == 32 && config.queryDim == 96 && config.ropeTheta == 500000)
        #expect(config.attentionBias && config.mlpBias)
        let error = configError { _ = try llama(#""hidden_size": 100, "num_attention_heads": 3"#) }
        #expect(error?.field == "num_attention_heads")
    }

    @Test(arguments: [
        (#""rope_scaling": {"type": "linear", "factor": 2.0}"#, "rope_scaling", "linear"),
        (#""rope_scaling": {"rope_type": "llama3", "factor": 8.0}"#, "rope_scaling", "llama3"),
        (#""rope_scaling": 2"#, "rope_scaling", "rope scaling"),
        (#""hidden_act": "gelu""#, "hidden_act", "gelu"),
        (#""hidden_size": "big""#, "hidden_size", "integer"),
        (#""hidden_size": 0"#, "hidden_size", "positive"),
        (#""rms_norm_eps": -1"#, "rms_norm_eps", "positive"),
        (#""tie_word_embeddings": "yes""#, "tie_word_embeddings", "true or false"),
        (#""model_type": "gpt2""#, "model_type", "gpt2"),
    ])
    func namesTheOffendingField(fields: String, field: String, mention: String) {
        let error = configError { _ = try llama(fields) }
        #expect(error?.field == field)
        #expect(error?.description.contains(mention) == true, "\(String(describing: error))")
        #expect(error?.description.contains("`\(field)`") == true)
    }

    @Test func encodesAndDecodesToTheSameConfig() throws {
        let config = try LlamaConfig(hiddenSize: 256, intermediateSize: 688, numHiddenLayers: 4, numAttentionHeads: 4,
                                     numKeyValueHeads: 2, vocabSize: 1024, tieWordEmbeddings: true, eosTokenIds: [2, 3])
        let json = try JSONEncoder().encode(config)
        #expect(try JSONDecoder().decode(LlamaConfig.self, from: json) == config)
        #expect(String(decoding: json, as: UTF8.self).contains("\"num_key_value_heads\":2"))
        guard case .llama(let again) = try ModelConfig.decode(json) else { Issue.record("not Llama"); return }
        #expect(again == config)
    }

    @Test func validatesConfigsBuiltInCode() {
        #expect(throws: ConfigError.self) { _ = try LlamaConfig(hiddenSize: 64, numAttentionHeads: 4, numKeyValueHeads: 3) }
        #expect(throws: ConfigError.self) { _ = try LlamaConfig(hiddenAct: .gelu) }
        #expect(throws: ConfigError.self) { _ = try CLIPVisionConfig(hiddenAct: .silu) }
        #expect(throws: Never.self) { _ = try LlavaConfig(visionConfig: LlavaConfig.defaultVisionConfig(), textConfig: LlamaConfig(vocabSize: 32064)) }
    }
}
