// The LLaVA configuration in the llava-hf layout (LlavaForConditionalGeneration).

import Foundation

// MARK: - LLaVA

/// Which vision tokens feed the projector: `default` drops the class token, `full` keeps it.
public enum VisionFeatureSelectStrategy: String, Codable, Sendable {
    case `default`
    case full
}

/// The configuration of a LLaVA model in the llava-hf layout (`LlavaForConditionalGeneration`).
public struct LlavaConfig: Codable, Sendable, Equatable {
    public var visionConfig: CLIPVisionConfig
    public var textConfig: LlamaConfig
    /// The id of `<image>` in the text, expanded to the projected patch features.
    public var imageTokenIndex: Int
    public var projectorHiddenAct: HiddenActivation
    /// Index into the vision tower's hidden states (0 = embeddings, negative counts from the end).
    public var visionFeatureLayer: Int
    public var visionFeatureSelectStrategy: VisionFeatureSelectStrategy
    public var multimodalProjectorBias: Bool
    public var ignoreIndex: Int
    public var padTokenId: Int?

    enum CodingKeys: String, CodingKey {
        case visionConfig = "vision_config", textConfig = "text_config"
        case imageTokenIndex = "image_token_index", projectorHiddenAct = "projector_hidden_act"
        case visionFeatureLayer = "vision_feature_layer"
        case visionFeatureSelectStrategy = "vision_feature_select_strategy"
        case multimodalProjectorBias = "multimodal_projector_bias", ignoreIndex = "ignore_index"
        case padTokenId = "pad_token_id", modelType = "model_type", architectures
        case imageSeqLength = "image_seq_length"
    }

    /// The vision tower `transformers.LlavaConfig` assumes when `vision_config` is absent: CLIP ViT-L/14 at 336 px.
    public static func defaultVisionConfig() throws -> CLIPVisionConfig {
        try CLIPVisionConfig(hiddenSize: 1024, intermediateSize: 4096, numHiddenLayers: 24, numAttentionHeads: 16,
                             imageSize: 336, patchSize: 14, projectionDim: 768)
    }

    public init(visionConfig: CLIPVisionConfig, textConfig: LlamaConfig, imageTokenIndex: Int = 32000,
                projectorHiddenAct: HiddenActivation = .gelu, visionFeatureLayer: Int = -2,
                visionFeatureSelectStrategy: VisionFeatureSelectStrategy = .default,
                multimodalProjectorBias: Bool = true, ignoreIndex: Int = -100, padTokenId: Int? = nil) throws {
        self.visionConfig = visionConfig
        self.textConfig = textConfig
        self.imageTokenIndex = imageTokenIndex
        self.projectorHiddenAct = projectorHiddenAct
        self.visionFeatureLayer = visionFeatureLayer
        self.visionFeatureSelectStrategy = visionFeatureSelectStrategy
        self.multimodalProjectorBias = multimodalProjectorBias
        self.ignoreIndex = ignoreIndex
        self.padTokenId = padTokenId
        try validate()
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let type: String = try c.optional(.modelType), type != "llava" {
            throw ConfigError(field: "model_type", problem: "expected \"llava\", found \"\(type)\"")
        }
        let vision: CLIPVisionConfig
        let text: LlamaConfig
        do {
            vision = try c.decodeIfPresent(CLIPVisionConfig.self, forKey: .visionConfig) ?? Self.defaultVisionConfig()
        } catch let error as ConfigError {
            throw error.nested(under: "vision_config")
        } catch {
            throw ConfigError(field: "vision_config", problem: "is not a JSON object")
        }
        do {
            text = try c.decodeIfPresent(LlamaConfig.self, forKey: .textConfig) ?? LlamaConfig()
        } catch let error as ConfigError {
            throw error.nested(under: "text_config")
        } catch {
            throw ConfigError(field: "text_config", problem: "is not a JSON object")
        }
        let act: String = try c.value(.projectorHiddenAct, default: "gelu")
        guard let projectorAct = HiddenActivation(rawValue: act) else {
            throw ConfigError(field: "projector_hidden_act",
                              problem: "unsupported activation \"\(act)\" (supported: \(HiddenActivation.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if c.contains(.visionFeatureLayer), (try? c.decode(Int.self, forKey: .visionFeatureLayer)) == nil,
           (try? c.decodeNil(forKey: .visionFeatureLayer)) != true {
            throw ConfigError(field: "vision_feature_layer", problem: "only a single layer index is supported (found a list or another type)")
        }
        let strategy: String = try c.value(.visionFeatureSelectStrategy, default: "default")
        guard let select = VisionFeatureSelectStrategy(rawValue: strategy) else {
            throw ConfigError(field: "vision_feature_select_strategy", problem: "unsupported value \"\(strategy)\" (expected \"default\" or \"full\")")
        }
        try self.init(visionConfig: vision, textConfig: text,
                      imageTokenIndex: c.value(.imageTokenIndex, default: 32000),
                      projectorHiddenAct: projectorAct,
                      visionFeatureLayer: c.value(.visionFeatureLayer, default: -2),
                      visionFeatureSelectStrategy: select,
                      multimodalProjectorBias: c.value(.multimodalProjectorBias, default: true),
                      ignoreIndex: c.value(.ignoreIndex, default: -100),
                      padTokenId: c.optional(.padTokenId))
        if let declared: Int = try c.optional(.imageSeqLength), declared != imageFeatureCount {
            throw ConfigError(field: "image_seq_length",
                              problem: "\(declared) does not match the \(imageFeatureCount) features the vision config gives")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(["LlavaForConditionalGeneration"], forKey: .architectures)
        try c.encode("llava", forKey: .modelType)
        try c.encode(visionConfig, forKey: .visionConfig)
        try c.encode(textConfig, forKey: .textConfig)
        try c.encode(imageTokenIndex, forKey: .imageTokenIndex)
        try c.encode(projectorHiddenAct, forKey: .projectorHiddenAct)
        try c.encode(visionFeatureLayer, forKey: .visionFeatureLayer)
        try c.encode(visionFeatureSelectStrategy, forKey: .visionFeatureSelectStrategy)
        try c.encode(multimodalProjectorBias, forKey: .multimodalProjectorBias)
        try c.encode(ignoreIndex, forKey: .ignoreIndex)
        try c.encode(imageFeatureCount, forKey: .imageSeqLength)
        try c.encodeIfPresent(padTokenId, forKey: .padTokenId)
    }

    private func validate() throws {
        let states = visionConfig.numHiddenLayers + 1
        guard visionFeatureLayer >= -states, visionFeatureLayer < states else {
            throw ConfigError(field: "vision_feature_layer",
                              problem: "\(visionFeatureLayer) is outside the \(states) hidden states of a \(visionConfig.numHiddenLayers)-layer vision tower")
        }
        guard imageTokenIndex >= 0 else {
            throw ConfigError(field: "image_token_index", problem: "must not be negative, found \(imageTokenIndex)")
        }
    }

    /// Vision encoder layers that must run to reach `vision_feature_layer` (23 of 24 for −2).
    public var visionLayersUsed: Int {
        visionFeatureLayer >= 0 ? visionFeatureLayer : visionConfig.numHiddenLayers + 1 + visionFeatureLayer
    }
    /// Features one image contributes to the text sequence (576 for LLaVA-1.5: the class token dropped).
    public var imageFeatureCount: Int {
        visionFeatureSelectStrategy == .default ? visionConfig.numPatches : visionConfig.numPositions
    }
    /// Projector widths: linear_1 maps vision hidden → text hidden, linear_2 text hidden → text hidden.
    public var projectorInputSize: Int { visionConfig.hiddenSize }
    public var projectorHiddenSize: Int { textConfig.hiddenSize }
}
