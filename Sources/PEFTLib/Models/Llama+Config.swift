// The Llama configuration (LlamaForCausalLM's config.json).

import Foundation

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
