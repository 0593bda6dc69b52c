// Model configurations read from Hugging Face config.json files: Llama (LlamaForCausalLM),
// CLIP vision (CLIPVisionModel) and LLaVA in the llava-hf layout (LlavaForConditionalGeneration).
// Follows `LlamaConfiguration` in mlx-swift-lm: Codable, Sendable structs with snake_case keys,
// the defaults of `transformers` in init(from:) (llava-hf configs omit every default), validation
// that names the offending field, derived sizes as computed properties.

import Foundation

// MARK: - Errors

/// A config.json that cannot be used, naming the field (dotted path, e.g. `text_config.rope_scaling`).
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The offending field as a dotted path; empty when the problem is the whole file.
    public var field: String
    /// What is wrong with it.
    public var problem: String
    /// The file it came from, when known.
    public var file: String?

    public init(field: String, problem: String, file: String? = nil) {
        self.field = field
        self.problem = problem
        self.file = file
    }

    public var description: String {
        let place = file.map { "config '\($0)': " } ?? "config: "
        return field.isEmpty ? place + problem : place + "field `\(field)`: " + problem
    }

    /// The same error seen from an enclosing config (`text_config` + `rope_scaling`).
    func nested(under parent: String) -> ConfigError {
        ConfigError(field: field.isEmpty ? parent : parent + "." + field, problem: problem, file: file)
    }
}

// MARK: - Activations

/// An activation function as config.json names it (`hidden_act`, `projector_hidden_act`).
public enum HiddenActivation: String, Codable, Sendable, CaseIterable {
    case silu
    case gelu
    case geluTanh = "gelu_pytorch_tanh"
    case quickGELU = "quick_gelu"
}

// MARK: - Llama

/// The configuration of a Llama decoder (`LlamaForCausalLM`, model_type `llama`).
public struct LlamaConfig: Codable, Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    /// Key/value heads for grouped-query attention; equals `numAttentionHeads` for plain multi-head attention.
    public var numKeyValueHeads: Int
    public var vocabSize: Int
    public var rmsNormEps: Float
    public var ropeTheta: Double
    public var maxPositionEmbeddings: Int
    public var tieWordEmbeddings: Bool
    public var hiddenAct: HiddenActivation
    public var attentionBias: Bool
    public var mlpBias: Bool
    /// Per-head width: `head_dim` if given, else hidden / heads.
    public var headDim: Int
    public var bosTokenId: Int?
    /// End tokens: `eos_token_id` may be one id or a list (Llama 3).
    public var eosTokenIds: [Int]
    public var padTokenId: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads", vocabSize = "vocab_size"
        case rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta", ropeScaling = "rope_scaling"
        case maxPositionEmbeddings = "max_position_embeddings", tieWordEmbeddings = "tie_word_embeddings"
        case hiddenAct = "hidden_act", attentionBias = "attention_bias", mlpBias = "mlp_bias"
        case headDim = "head_dim", bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
        case padTokenId = "pad_token_id", modelType = "model_type", ropeParameters = "rope_parameters"
    }

    /// Builds and validates a config; the defaults are those of `transformers.LlamaConfig` (Llama-2-7B).
    public init(hiddenSize: Int = 4096, intermediateSize: Int = 11008, numHiddenLayers: Int = 32,
                numAttentionHeads: Int = 32, numKeyValueHeads: Int? = nil, vocabSize: Int = 32000,
                rmsNormEps: Float = 1e-6, ropeTheta: Double = 10000, maxPositionEmbeddings: Int = 2048,
                tieWordEmbeddings: Bool = false, hiddenAct: HiddenActivation = .silu,
                attentionBias: Bool = false, mlpBias: Bool = false, headDim: Int? = nil,
                bosTokenId: Int? = 1, eosTokenIds: [Int] = [2], padTokenId: Int? = nil) throws {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads ?? numAttentionHeads
        self.vocabSize = vocabSize
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.tieWordEmbeddings = tieWordEmbeddings
        self.hiddenAct = hiddenAct
        self.attentionBias = attentionBias
        self.mlpBias = mlpBias
        self.headDim = headDim ?? (numAttentionHeads > 0 ? hiddenSize / numAttentionHeads : 0)
        self.bosTokenId = bosTokenId
        self.eosTokenIds = eosTokenIds
        self.padTokenId = padTokenId
        try validate(headDimGiven: headDim != nil)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let type: String = try c.optional(.modelType), type != "llama" {
            throw ConfigError(field: "model_type", problem: "expected \"llama\", found \"\(type)\"")
        }
        try rejectRopeScaling(c, key: .ropeScaling)
        // transformers ≥ 5 writes `rope_parameters: {rope_type, rope_theta}` instead of `rope_theta`.
        var theta: Double = try c.value(.ropeTheta, default: 10000)
        if c.contains(.ropeParameters), (try? c.decodeNil(forKey: .ropeParameters)) == false {
            guard let parameters = try? c.decode(RopeParametersProbe.self, forKey: .ropeParameters) else {
                throw ConfigError(field: "rope_parameters", problem: "expected an object with rope_type and rope_theta")
            }
            if let type = parameters.ropeType, type != "default" {
                throw ConfigError(field: "rope_parameters.rope_type",
                                  problem: "unsupported rope scaling of type \"\(type)\" (only \"default\", plain RoPE, is supported)")
            }
            theta = parameters.ropeTheta ?? theta
        }
        let act: String = try c.value(.hiddenAct, default: "silu")
        guard act == "silu" else {
            throw ConfigError(field: "hidden_act", problem: "unsupported activation \"\(act)\" (Llama uses \"silu\")")
        }
        let eos: [Int]
        if let one: Int = try? c.decodeIfPresent(Int.self, forKey: .eosTokenId) {
            eos = [one]
        } else if c.contains(.eosTokenId), (try? c.decodeNil(forKey: .eosTokenId)) == true {
            eos = []
        } else {
            eos = try c.value(.eosTokenId, default: [2])
        }
        try self.init(hiddenSize: c.value(.hiddenSize, default: 4096),
                      intermediateSize: c.value(.intermediateSize, default: 11008),
                      numHiddenLayers: c.value(.numHiddenLayers, default: 32),
                      numAttentionHeads: c.value(.numAttentionHeads, default: 32),
                      numKeyValueHeads: c.optional(.numKeyValueHeads),
                      vocabSize: c.value(.vocabSize, default: 32000),
                      rmsNormEps: c.value(.rmsNormEps, default: 1e-6),
                      ropeTheta: theta,
                      maxPositionEmbeddings: c.value(.maxPositionEmbeddings, default: 2048),
                      tieWordEmbeddings: c.value(.tieWordEmbeddings, default: false),
                      hiddenAct: .silu,
                      attentionBias: c.value(.attentionBias, default: false),
                      mlpBias: c.value(.mlpBias, default: false),
                      headDim: c.optional(.headDim),
                      bosTokenId: c.contains(.bosTokenId) ? c.optional(.bosTokenId) : 1,
                      eosTokenIds: eos,
                      padTokenId: c.optional(.padTokenId))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("llama", forKey: .modelType)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(numKeyValueHeads, forKey: .numKeyValueHeads)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(rmsNormEps, forKey: .rmsNormEps)
        try c.encode(ropeTheta, forKey: .ropeTheta)
        try c.encodeNil(forKey: .ropeScaling)
        try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encode(hiddenAct, forKey: .hiddenAct)
        try c.encode(attentionBias, forKey: .attentionBias)
        try c.encode(mlpBias, forKey: .mlpBias)
        try c.encode(headDim, forKey: .headDim)
        try c.encodeIfPresent(bosTokenId, forKey: .bosTokenId)
        if eosTokenIds.count == 1 { try c.encode(eosTokenIds[0], forKey: .eosTokenId) } else { try c.encode(eosTokenIds, forKey: .eosTokenId) }
        try c.encodeIfPresent(padTokenId, forKey: .padTokenId)
    }

    private func validate(headDimGiven: Bool) throws {
        try requirePositive(hiddenSize, "hidden_size")
        try requirePositive(intermediateSize, "intermediate_size")
        try requirePositive(numHiddenLayers, "num_hidden_layers")
        try requirePositive(numAttentionHeads, "num_attention_heads")
        try requirePositive(numKeyValueHeads, "num_key_value_heads")
        try requirePositive(vocabSize, "vocab_size")
        try requirePositive(maxPositionEmbeddings, "max_position_embeddings")
        guard hiddenAct == .silu else {
            throw ConfigError(field: "hidden_act", problem: "unsupported activation \"\(hiddenAct.rawValue)\" (Llama uses \"silu\")")
        }
        guard rmsNormEps > 0 else { throw ConfigError(field: "rms_norm_eps", problem: "must be positive, found \(rmsNormEps)") }
        guard ropeTheta > 0 else { throw ConfigError(field: "rope_theta", problem: "must be positive, found \(ropeTheta)") }
        if !headDimGiven, hiddenSize % numAttentionHeads != 0 {
            throw ConfigError(field: "num_attention_heads",
                              problem: "hidden_size \(hiddenSize) is not divisible by num_attention_heads \(numAttentionHeads) (give head_dim)")
        }
        try requirePositive(headDim, "head_dim")
        guard headDim % 2 == 0 else { throw ConfigError(field: "head_dim", problem: "rotary embeddings need an even head_dim, found \(headDim)") }
        guard numAttentionHeads % numKeyValueHeads == 0 else {
            throw ConfigError(field: "num_key_value_heads",
                              problem: "num_attention_heads \(numAttentionHeads) is not a multiple of num_key_value_heads \(numKeyValueHeads)")
        }
    }

    /// Query heads sharing one key/value head (1 without grouped-query attention).
    public var kvGroups: Int { numAttentionHeads / numKeyValueHeads }
    /// Width of the concatenated query heads (q_proj and o_proj).
    public var queryDim: Int { numAttentionHeads * headDim }
    /// Width of the concatenated key or value heads (k_proj, v_proj).
    public var kvDim: Int { numKeyValueHeads * headDim }
    /// The first end token, if any.
    public var eosTokenId: Int? { eosTokenIds.first }
}

// MARK: - CLIP vision

/// The configuration of a CLIP vision tower (`CLIPVisionModel`, model_type `clip_vision_model`).
public struct CLIPVisionConfig: Codable, Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var imageSize: Int
    public var patchSize: Int
    public var numChannels: Int
    public var layerNormEps: Float
    public var hiddenAct: HiddenActivation
    /// Width of CLIP's visual projection; unused by LLaVA, kept for round trips.
    public var projectionDim: Int

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case imageSize = "image_size", patchSize = "patch_size", numChannels = "num_channels"
        case layerNormEps = "layer_norm_eps", hiddenAct = "hidden_act", projectionDim = "projection_dim"
        case modelType = "model_type"
    }

    /// Builds and validates a config; the defaults are those of `transformers.CLIPVisionConfig` (ViT-B/32).
    public init(hiddenSize: Int = 768, intermediateSize: Int = 3072, numHiddenLayers: Int = 12,
                numAttentionHeads: Int = 12, imageSize: Int = 224, patchSize: Int = 32, numChannels: Int = 3,
                layerNormEps: Float = 1e-5, hiddenAct: HiddenActivation = .quickGELU, projectionDim: Int = 512) throws {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.numChannels = numChannels
        self.layerNormEps = layerNormEps
        self.hiddenAct = hiddenAct
        self.projectionDim = projectionDim
        try validate()
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let type: String = try c.optional(.modelType), type != "clip_vision_model" {
            throw ConfigError(field: "model_type", problem: "expected \"clip_vision_model\", found \"\(type)\"")
        }
        let act: String = try c.value(.hiddenAct, default: "quick_gelu")
        guard let activation = HiddenActivation(rawValue: act), activation == .quickGELU || activation == .gelu else {
            throw ConfigError(field: "hidden_act", problem: "unsupported activation \"\(act)\" (CLIP uses \"quick_gelu\" or \"gelu\")")
        }
        try self.init(hiddenSize: c.value(.hiddenSize, default: 768),
                      intermediateSize: c.value(.intermediateSize, default: 3072),
                      numHiddenLayers: c.value(.numHiddenLayers, default: 12),
                      numAttentionHeads: c.value(.numAttentionHeads, default: 12),
                      imageSize: c.value(.imageSize, default: 224),
                      patchSize: c.value(.patchSize, default: 32),
                      numChannels: c.value(.numChannels, default: 3),
                      layerNormEps: c.value(.layerNormEps, default: 1e-5),
                      hiddenAct: activation,
                      projectionDim: c.value(.projectionDim, default: 512))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("clip_vision_model", forKey: .modelType)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(imageSize, forKey: .imageSize)
        try c.encode(patchSize, forKey: .patchSize)
        try c.encode(numChannels, forKey: .numChannels)
        try c.encode(layerNormEps, forKey: .layerNormEps)
        try c.encode(hiddenAct, forKey: .hiddenAct)
        try c.encode(projectionDim, forKey: .projectionDim)
    }

    private func validate() throws {
        try requirePositive(hiddenSize, "hidden_size")
        try requirePositive(intermediateSize, "intermediate_size")
        try requirePositive(numHiddenLayers, "num_hidden_layers")
        try requirePositive(numAttentionHeads, "num_attention_heads")
        try requirePositive(imageSize, "image_size")
        try requirePositive(patchSize, "patch_size")
        try requirePositive(numChannels, "num_channels")
        guard hiddenAct == .quickGELU || hiddenAct == .gelu else {
            throw ConfigError(field: "hidden_act", problem: "unsupported activation \"\(hiddenAct.rawValue)\" (CLIP uses \"quick_gelu\" or \"gelu\")")
        }
        guard layerNormEps > 0 else { throw ConfigError(field: "layer_norm_eps", problem: "must be positive, found \(layerNormEps)") }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw ConfigError(field: "num_attention_heads",
                              problem: "hidden_size \(hiddenSize) is not divisible by num_attention_heads \(numAttentionHeads)")
        }
        guard imageSize % patchSize == 0 else {
            throw ConfigError(field: "patch_size", problem: "image_size \(imageSize) is not a multiple of patch_size \(patchSize)")
        }
    }

    /// Per-head width.
    public var headDim: Int { hiddenSize / numAttentionHeads }
    /// Patches along one side of the image.
    public var patchesPerSide: Int { imageSize / patchSize }
    /// Patches per image (576 for ViT-L/14 at 336).
    public var numPatches: Int { patchesPerSide * patchesPerSide }
    /// Positions: the class token plus the patches.
    public var numPositions: Int { numPatches + 1 }
    /// Inputs of the patch embedding seen as a matmul: channels × patch × patch.
    public var patchInputSize: Int { numChannels * patchSize * patchSize }
}

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

// MARK: - Loading config.json

/// A model configuration of one of the supported architectures, read from config.json.
public enum ModelConfig: Sendable, Equatable {
    case llava(LlavaConfig)
    case llama(LlamaConfig)
    case clipVision(CLIPVisionConfig)

    /// The Hugging Face class name of the architecture.
    public var architecture: String {
        switch self {
        case .llava: return "LlavaForConditionalGeneration"
        case .llama: return "LlamaForCausalLM"
        case .clipVision: return "CLIPVisionModel"
        }
    }

    /// Reads `path` (a config.json, or a folder holding one) and dispatches on `architectures`, then `model_type`.
    public static func load(path: String) throws -> ModelConfig {
        var isDirectory: ObjCBool = false
        var file = path
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            file = (path as NSString).appendingPathComponent("config.json")
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigError(field: "", problem: "cannot read the file", file: file)
        }
        do {
            return try decode(data)
        } catch var error as ConfigError {
            error.file = file
            throw error
        }
    }

    /// Decodes config.json bytes, dispatching on `architectures`, then `model_type`.
    public static func decode(_ data: Data) throws -> ModelConfig {
        let probe: ArchitectureProbe
        do {
            probe = try JSONDecoder().decode(ArchitectureProbe.self, from: data)
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(field: "", problem: describeDecoding(error))
        }
        let architecture = probe.architectures?.first
        let kind: String
        switch (architecture, probe.modelType) {
        case ("LlavaForConditionalGeneration", _), (nil, "llava"): kind = "llava"
        case ("LlamaForCausalLM", _), ("LlamaModel", _), (nil, "llama"): kind = "llama"
        case ("CLIPVisionModel", _), (nil, "clip_vision_model"): kind = "clip_vision"
        case ("CLIPModel", _), (nil, "clip"): kind = "clip"
        default:
            throw ConfigError(field: architecture != nil ? "architectures" : "model_type",
                              problem: "unsupported architecture \"\(architecture ?? probe.modelType ?? "none")\" (supported: LlavaForConditionalGeneration, LlamaForCausalLM, CLIPVisionModel)")
        }
        do {
            switch kind {
            case "llava": return .llava(try JSONDecoder().decode(LlavaConfig.self, from: data))
            case "llama": return .llama(try JSONDecoder().decode(LlamaConfig.self, from: data))
            case "clip_vision": return .clipVision(try JSONDecoder().decode(CLIPVisionConfig.self, from: data))
            default:
                let wrapper = try JSONDecoder().decode(CLIPWrapper.self, from: data)
                return .clipVision(wrapper.visionConfig)
            }
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(field: "", problem: describeDecoding(error))
        }
    }

    private struct ArchitectureProbe: Decodable {
        var architectures: [String]?
        var modelType: String?
        enum CodingKeys: String, CodingKey { case architectures, modelType = "model_type" }
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            architectures = try c.optional(.architectures)
            modelType = try c.optional(.modelType)
        }
    }

    /// A full CLIPModel config: only its vision half is used.
    private struct CLIPWrapper: Decodable {
        var visionConfig: CLIPVisionConfig
        enum CodingKeys: String, CodingKey { case visionConfig = "vision_config" }
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            do {
                visionConfig = try c.decodeIfPresent(CLIPVisionConfig.self, forKey: .visionConfig) ?? CLIPVisionConfig()
            } catch let error as ConfigError {
                throw error.nested(under: "vision_config")
            }
        }
    }
}

// MARK: - Decoding helpers

private func requirePositive(_ value: Int, _ field: String) throws {
    guard value > 0 else { throw ConfigError(field: field, problem: "must be a positive integer, found \(value)") }
}

/// The type name inside a rope_scaling object (`type` in older configs, `rope_type` in newer ones).
private struct RopeScalingProbe: Decodable {
    var type: String?
    var ropeType: String?
    enum CodingKeys: String, CodingKey { case type, ropeType = "rope_type" }
}

/// The `rope_parameters` object of transformers ≥ 5 configs.
private struct RopeParametersProbe: Decodable {
    var ropeType: String?
    var ropeTheta: Double?
    enum CodingKeys: String, CodingKey { case ropeType = "rope_type", ropeTheta = "rope_theta" }
}

/// An unknown rope_scaling would silently give a wrong model: only null (or absence) is accepted.
private func rejectRopeScaling<K: CodingKey>(_ c: KeyedDecodingContainer<K>, key: K) throws {
    guard c.contains(key), (try? c.decodeNil(forKey: key)) == false else { return }
    let probe = try? c.decode(RopeScalingProbe.self, forKey: key)
    if let name = probe?.ropeType ?? probe?.type {
        throw ConfigError(field: key.stringValue, problem: "unsupported rope scaling of type \"\(name)\" (only null, plain RoPE, is supported)")
    }
    throw ConfigError(field: key.stringValue, problem: "unsupported rope scaling value (only null, plain RoPE, is supported)")
}

fileprivate extension KeyedDecodingContainer {
    /// The value at `key`, or `fallback` when absent or null; a wrong type is a ConfigError naming the key.
    func value<T: Decodable>(_ key: Key, default fallback: T) throws -> T {
        try optional(key) ?? fallback
    }

    /// The value at `key`, or nil when absent or null; a wrong type is a ConfigError naming the key.
    func optional<T: Decodable>(_ key: Key) throws -> T? {
        do {
            return try decodeIfPresent(T.self, forKey: key)
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(field: key.stringValue, problem: "expected \(configTypeName(T.self))")
        }
    }
}

private func configTypeName<T>(_ type: T.Type) -> String {
    switch type {
    case is Int.Type: return "an integer"
    case is Float.Type, is Double.Type: return "a number"
    case is Bool.Type: return "true or false"
    case is String.Type: return "a string"
    case is [Int].Type: return "an integer or a list of integers"
    case is [String].Type: return "a list of strings"
    default: return "a value of type \(T.self)"
    }
}
