// Llama decoder (`LlamaForCausalLM` in transformers): RMSNorm, rotary embeddings (rotate-half),
// grouped-query attention, SwiGLU MLP, tied or untied LM head; a KV cache for generation.
// Follows Libraries/MLXLLM/Models/Llama.swift in mlx-swift-lm; parameter paths equal the
// Hugging Face keys (`model.layers.0.self_attn.q_proj.weight`, `lm_head.weight`).

import Foundation

// MARK: - KV cache

/// Keys and values of the positions already seen, per decoder layer (generation).
public final class KVCache {
    /// Per layer: keys and values (B, T, kvHeads·D) after RoPE.
    var keys: [Tensor?]
    var values: [Tensor?]

    /// An empty cache for a model of `layers` decoder layers.
    public init(layers: Int) {
        keys = Array(repeating: nil, count: layers)
        values = Array(repeating: nil, count: layers)
    }

    /// Positions held (the key length of the next attention call minus the new tokens).
    public var length: Int { keys.first??.shape[1] ?? 0 }
}

// MARK: - Attention

/// Llama self-attention with grouped-query heads and rotary position embeddings.
public final class LlamaAttention: LinearSlots {
    public var qProj: any LinearLayer   // q_proj: hidden → heads·D
    public var kProj: any LinearLayer   // k_proj: hidden → kvHeads·D
    public var vProj: any LinearLayer   // v_proj: hidden → kvHeads·D
    public var oProj: any LinearLayer   // o_proj: heads·D → hidden
    public let heads: Int, kvHeads: Int

    init(config: LlamaConfig, factory: inout ParameterFactory) throws {
        let h = config.hiddenSize
        qProj = try Linear(h, config.queryDim, bias: config.attentionBias, factory: &factory)
        kProj = try Linear(h, config.kvDim, bias: config.attentionBias, factory: &factory)
        vProj = try Linear(h, config.kvDim, bias: config.attentionBias, factory: &factory)
        oProj = try Linear(config.queryDim, h, bias: config.attentionBias, factory: &factory)
        heads = config.numAttentionHeads
        kvHeads = config.numKeyValueHeads
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [] }
    public static var linearSlots: [LinearSlot<LlamaAttention>] {
        [("q_proj", \.qProj), ("k_proj", \.kProj), ("v_proj", \.vProj), ("o_proj", \.oProj)]
    }

    /// - Parameters:
    ///   - x: (B, T, C)
    ///   - positions: B·T rotary positions
    ///   - keyMask: B·(past + T) flags, false for padding; nil when nothing is padded
    ///   - cache: past keys/values of this layer, extended in place
    ///   - prefix: prefix-tuning's virtual keys and values (P, kvHeads·D), always visible
    public func callAsFunction(_ x: Tensor, positions: [Int], rotary: RotaryTable, keyMask: [Bool]?,
                               cache: KVCache?, layer: Int,
                               prefix: (key: Tensor, value: Tensor)? = nil) throws -> Tensor {
        let q = try rope(qProj(x), heads: heads, positions: positions, table: rotary)      // (B, T, heads·D)
        var k = try rope(kProj(x), heads: kvHeads, positions: positions, table: rotary)    // (B, T, kvHeads·D)
        var v = try vProj(x)                                                               // (B, T, kvHeads·D)
        if let cache {
            if let pastK = cache.keys[layer], let pastV = cache.values[layer] {
                k = try concat([pastK, k], axis: 1)                                        // (B, past + T, kvHeads·D)
                v = try concat([pastV, v], axis: 1)
            }
            cache.keys[layer] = k
            cache.values[layer] = v
        }
        let y = try attention(query: q, key: k, value: v, heads: heads, kvHeads: kvHeads,
                              causal: true, prefixKey: prefix?.key, prefixValue: prefix?.value,
                              paddingMask: keyMask)                                        // (B, T, heads·D)
        return try oProj(y)                                                                // (B, T, C)
    }
}

// MARK: - MLP

/// Llama's feed-forward block: down(silu(gate(x)) · up(x)).
public final class LlamaMLP: LinearSlots {
    public var gateProj: any LinearLayer   // gate_proj: hidden → intermediate
    public var upProj: any LinearLayer     // up_proj: hidden → intermediate
    public var downProj: any LinearLayer   // down_proj: intermediate → hidden

    init(config: LlamaConfig, factory: inout ParameterFactory) throws {
        gateProj = try Linear(config.hiddenSize, config.intermediateSize, bias: config.mlpBias, factory: &factory)
        upProj = try Linear(config.hiddenSize, config.intermediateSize, bias: config.mlpBias, factory: &factory)
        downProj = try Linear(config.intermediateSize, config.hiddenSize, bias: config.mlpBias, factory: &factory)
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [] }
    public static var linearSlots: [LinearSlot<LlamaMLP>] {
        [("gate_proj", \.gateProj), ("up_proj", \.upProj), ("down_proj", \.downProj)]
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let h = try swiglu(gate: gateProj(x), up: upProj(x))   // (B, T, intermediate)
        return try downProj(h)                                  // (B, T, C)
    }
}

// MARK: - Decoder layer

/// One pre-norm decoder block: x + attn(norm(x)), then x + mlp(norm(x)).
public final class LlamaDecoderLayer: Module {
    public let inputLayernorm: RMSNorm           // input_layernorm
    public let selfAttn: LlamaAttention          // self_attn
    public let postAttentionLayernorm: RMSNorm   // post_attention_layernorm
    public let mlp: LlamaMLP                     // mlp

    init(config: LlamaConfig, factory: inout ParameterFactory) throws {
        inputLayernorm = try RMSNorm(config.hiddenSize, eps: config.rmsNormEps, factory: &factory)
        selfAttn = try LlamaAttention(config: config, factory: &factory)
        postAttentionLayernorm = try RMSNorm(config.hiddenSize, eps: config.rmsNormEps, factory: &factory)
        mlp = try LlamaMLP(config: config, factory: &factory)
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [] }
    public var children: [(key: String, module: any Module)] {
        [("input_layernorm", inputLayernorm), ("self_attn", selfAttn),
         ("post_attention_layernorm", postAttentionLayernorm), ("mlp", mlp)]
    }

    public func callAsFunction(_ x: Tensor, positions: [Int], rotary: RotaryTable, keyMask: [Bool]?,
                               cache: KVCache?, layer: Int,
                               prefix: (key: Tensor, value: Tensor)? = nil) throws -> Tensor {
        let a = try selfAttn(inputLayernorm(x), positions: positions, rotary: rotary, keyMask: keyMask,
                             cache: cache, layer: layer, prefix: prefix)
        let h = try x + a                                          // (B, T, C)
        return try h + mlp(postAttentionLayernorm(h))              // (B, T, C)
    }
}

// MARK: - Model

/// The decoder stack without head (`LlamaModel`): embed_tokens, layers, norm.
public final class LlamaModel: Module {
    public let config: LlamaConfig
    public let embedTokens: Embedding            // embed_tokens
    public let layers: [LlamaDecoderLayer]       // layers.N
    public let norm: RMSNorm                     // norm
    private var rotaryTable: RotaryTable?
    /// Prefix-tuning hook: called once per forward, returns each layer's virtual keys and values
    /// (P, kvHeads·D), which every query sees. As transformers does when peft passes the prefix as
    /// `past_key_values`, the real tokens' positions then start at P.
    public var prefixKeyValues: (() throws -> [(key: Tensor, value: Tensor)])?

    init(config: LlamaConfig, factory: inout ParameterFactory) throws {
        self.config = config
        embedTokens = try Embedding(config.vocabSize, config.hiddenSize, factory: &factory)
        layers = try (0..<config.numHiddenLayers).map { _ in try LlamaDecoderLayer(config: config, factory: &factory) }
        norm = try RMSNorm(config.hiddenSize, eps: config.rmsNormEps, factory: &factory)
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [] }
    public var children: [(key: String, module: any Module)] {
        [("embed_tokens", embedTokens)] + layers.enumerated().map { ("layers.\($0)", $1) } + [("norm", norm)]
    }

    /// cos/sin for positions up to max_position_embeddings, built on first use.
    func rotary() throws -> RotaryTable {
        if let rotaryTable { return rotaryTable }
        let table = try RotaryTable(headDim: config.headDim, maxPositions: config.maxPositionEmbeddings,
                                    theta: Float(config.ropeTheta))
        rotaryTable = table
        return table
    }

    /// Runs the decoder on embeddings and returns the final-norm hidden states.
    ///
    /// - Parameters:
    ///   - embeddings: (B, T, C) input embeddings (token embeddings, image features merged in)
    ///   - positions: B·T rotary positions (default 0..<T per row, as transformers' forward);
    ///     shifted by the prefix length when `prefixKeyValues` is set
    ///   - keyMask: B·(past + T) flags, false for padded keys; nil when nothing is padded
    ///   - cache: a KV cache to read and extend (generation)
    /// - Returns: (B, T, C)
    public func callAsFunction(embeddings: Tensor, positions: [Int]? = nil, keyMask: [Bool]? = nil,
                               cache: KVCache? = nil) throws -> Tensor {
        guard embeddings.rank == 3, embeddings.shape[2] == config.hiddenSize else {
            throw ModelError.invalidInput("embeddings must be (B, T, \(config.hiddenSize)), found \(embeddings.shape)")
        }
        if embedTokens.weight.isMeta { throw ModelError.metaModel(operation: "run") }
        let (b, t) = (embeddings.shape[0], embeddings.shape[1])
        let rowPositions = positions ?? Array((0..<b).map { _ in 0..<t }.joined())
        guard rowPositions.count == b * t else {
            throw ModelError.invalidInput("need B·T = \(b * t) positions, found \(rowPositions.count)")
        }
        let mask = keyMask.flatMap { $0.contains(false) ? $0 : nil }
        let table = try rotary()
        let prefix = try prefixKeyValues?()
        if let prefix, prefix.count != layers.count {
            throw ModelError.invalidInput("prefix holds \(prefix.count) layers, the model \(layers.count)")
        }
        let shift = prefix?.first?.key.shape[0] ?? 0
        let shifted = shift == 0 ? rowPositions : rowPositions.map { $0 + shift }
        var h = embeddings
        for (i, layer) in layers.enumerated() {
            h = try layer(h, positions: shifted, rotary: table, keyMask: mask, cache: cache, layer: i, prefix: prefix?[i])
        }
        return try norm(h)                                          // (B, T, C)
    }
}

/// Llama with its language-model head (`LlamaForCausalLM`): `model.*` and `lm_head.weight`.
public final class LlamaForCausalLM: Module {
    public let config: LlamaConfig
    public let model: LlamaModel                 // model
    public var lmHead: any LinearLayer           // lm_head (shares embed_tokens' tensor when tied)

    /// Builds the model from its config: random weights, or shapes only (`.meta`).
    public init(config: LlamaConfig, initialization: ModelInitialization = .random(seed: 0)) throws {
        self.config = config
        var factory = ParameterFactory(initialization)
        model = try LlamaModel(config: config, factory: &factory)
        lmHead = config.tieWordEmbeddings
            ? Linear(weight: model.embedTokens.weight)
            : try Linear(config.hiddenSize, config.vocabSize, bias: false, factory: &factory)
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [] }
    public var children: [(key: String, module: any Module)] { [("model", model), ("lm_head", lmHead)] }

    /// Loads config.json and the safetensors weights (one file or shards) from a Hugging Face model folder.
    /// - Parameter config: the folder's config.json when the caller has read it already
    public static func load(directory: String, config known: LlamaConfig? = nil) throws -> LlamaForCausalLM {
        let config: LlamaConfig
        if let known { config = known } else {
            guard case let .llama(read) = try ModelConfig.load(path: directory) else {
                throw ModelError.invalidInput("'\(directory)' does not hold a LlamaForCausalLM config")
            }
            config = read
        }
        let model = try LlamaForCausalLM(config: config, initialization: .random(seed: 0))
        try model.load(from: try checkpointFiles(directory))
        return model
    }

    /// Loads weights; a tied checkpoint may omit or repeat `lm_head.weight`; rotary buffers are skipped.
    public func load(from file: SafetensorsFile) throws { try load(from: [file]) }

    /// Loads weights from the shards of one checkpoint.
    public func load(from files: [SafetensorsFile]) throws {
        let tied = config.tieWordEmbeddings
        try load(from: files) { key in
            if key.hasSuffix("rotary_emb.inv_freq") || (tied && key == "lm_head.weight") { return nil }
            return key
        }
    }

    /// Logits for every position.
    /// - Parameters:
    ///   - inputIds: B rows of T token ids
    ///   - attentionMask: B rows of T flags (1 real, 0 padding), as transformers takes it
    /// - Returns: (B, T, V)
    public func logits(inputIds: [[Int]], attentionMask: [[Int]]? = nil) throws -> Tensor {
        try requireWeights(model.embedTokens.weight)
        let (b, t) = try rectangularShape(inputIds, name: "input ids")
        let x = try model.embedTokens(Array(inputIds.joined()), shape: [b, t])      // (B, T, C)
        let h = try model(embeddings: x, keyMask: try flatMask(attentionMask, b, t))
        return try lmHead(h)                                                         // (B, T, V)
    }

    /// Mean next-token cross-entropy over labelled positions (labels shifted by one as
    /// transformers does; −100 ignored). Logits are computed for labelled positions only.
    public func loss(inputIds: [[Int]], attentionMask: [[Int]]? = nil, labels: [[Int]]) throws -> Tensor {
        try requireWeights(model.embedTokens.weight)
        let (b, t) = try rectangularShape(inputIds, name: "input ids")
        let x = try model.embedTokens(Array(inputIds.joined()), shape: [b, t])      // (B, T, C)
        let h = try model(embeddings: x, keyMask: try flatMask(attentionMask, b, t))
        return try causalLMLoss(hidden: h, labels: labels, head: lmHead)
    }

    /// Greedy decoding with a KV cache; see `greedyGenerate`.
    public func generate(prompts: [[Int]], maxNewTokens: Int, endTokens: Set<Int>? = nil,
                         padTokenId: Int = 0, useCache: Bool = true) throws -> [[Int]] {
        try requireWeights(model.embedTokens.weight)
        let padded = leftPad(prompts, pad: padTokenId)
        return try greedyGenerate(languageModel: model, head: lmHead, prefill: { ids, b, t in
            try self.model.embedTokens(ids, shape: [b, t])
        }, prompts: padded.ids, mask: padded.mask, maxNewTokens: maxNewTokens,
           endTokens: endTokens ?? Set(config.eosTokenIds), useCache: useCache)
    }
}

// MARK: - Shared causal-LM pieces

/// The safetensors files of a model folder: `model.safetensors`, or the shards listed by
/// `model.safetensors.index.json`; a path ending in `.safetensors` is taken as is.
func checkpointFiles(_ directory: String) throws -> [SafetensorsFile] {
    if directory.hasSuffix(".safetensors") { return [try SafetensorsFile(path: directory)] }
    let single = directory + "/model.safetensors", index = directory + "/model.safetensors.index.json"
    if FileManager.default.fileExists(atPath: single) { return [try SafetensorsFile(path: single)] }
    guard let data = FileManager.default.contents(atPath: index) else { throw ModelError.missingFile(single) }
    struct ShardIndex: Decodable { let weight_map: [String: String] }
    guard let shards = try? JSONDecoder().decode(ShardIndex.self, from: data) else {
        throw ModelError.invalidInput("'\(index)' has no weight_map")
    }
    return try Set(shards.weight_map.values).sorted().map { try SafetensorsFile(path: directory + "/" + $0) }
}

/// B·T key flags from B rows of 0/1, or nil.
func flatMask(_ mask: [[Int]]?, _ b: Int, _ t: Int) throws -> [Bool]? {
    guard let mask else { return nil }
    guard mask.count == b, mask.allSatisfy({ $0.count == t }) else {
        throw ModelError.invalidInput("attention mask must be \(b) rows of \(t), like the input ids")
    }
    return mask.joined().map { $0 != 0 }
}

/// Cross-entropy of position t predicting labels[t + 1], on labelled positions only:
/// the head's GEMM runs on those rows alone.
func causalLMLoss(hidden: Tensor, labels: [[Int]], head: any LinearLayer) throws -> Tensor {
    let (b, t) = (hidden.shape[0], hidden.shape[1])
    guard labels.count == b, labels.allSatisfy({ $0.count == t }) else {
        throw ModelError.invalidInput("labels must be \(b) rows of \(t), like the input ids")
    }
    var rows: [Int] = [], targets: [Int] = []
    for r in 0..<b {
        for i in 0..<(t - 1) where labels[r][i + 1] != -100 {
            rows.append(r * t + i)
            targets.append(labels[r][i + 1])
        }
    }
    let selected = try selectRows(hidden, rows)                     // (N, C)
    let logits = try head(selected)                                 // (N, V)
    return try crossEntropy(logits, targets: targets)
}

/// Left-pads prompts to one length; returns ids and 0/1 masks.
func leftPad(_ prompts: [[Int]], pad: Int) -> (ids: [[Int]], mask: [[Int]]) {
    let length = prompts.map(\.count).max() ?? 0
    return (prompts.map { Array(repeating: pad, count: length - $0.count) + $0 },
            prompts.map { Array(repeating: 0, count: length - $0.count) + Array(repeating: 1, count: $0.count) })
}

/// Greedy decoding for a batch of left-padded prompts.
///
/// Positions follow transformers' `generate`: cumulative sum of the mask minus one, so a left-padded
/// row decodes as it would alone. Each row stops after its first end token (which is included);
/// decoding stops when all rows stopped or after `maxNewTokens`.
/// - Parameters:
///   - prefill: embeds the (B, T) prompt ids (LLaVA merges image features here)
///   - useCache: false recomputes the whole sequence at every step (the reference for the cache)
/// - Returns: the new tokens of each row.
func greedyGenerate(languageModel: LlamaModel, head: any LinearLayer,
                    prefill: ([Int], Int, Int) throws -> Tensor,
                    prompts: [[Int]], mask promptMask: [[Int]], maxNewTokens: Int,
                    endTokens: Set<Int>, useCache: Bool) throws -> [[Int]] {
    let (b, t) = try rectangularShape(prompts, name: "prompts")
    return try withNoGrad {
        var mask = promptMask.map { $0.map { $0 != 0 } }
        var nextPosition = mask.map { row in row.reduce(0) { $0 + ($1 ? 1 : 0) } }
        let promptPositions = mask.flatMap { row -> [Int] in
            var running = -1
            return row.map { real in running += real ? 1 : 0; return max(running, 0) }
        }
        var embeddings = try prefill(Array(prompts.joined()), b, t)           // (B, T, C)
        var positions = promptPositions
        let cache = useCache ? KVCache(layers: languageModel.layers.count) : nil
        var output = Array(repeating: [Int](), count: b)
        var done = Array(repeating: false, count: b)
        for _ in 0..<maxNewTokens {
            let h = try languageModel(embeddings: embeddings, positions: positions,
                                      keyMask: Array(mask.joined()), cache: cache)   // (B, T', C)
            let last = h.shape[1] - 1
            let logits = try head(selectRows(h, (0..<b).map { $0 * h.shape[1] + last }))  // (B, V)
            let next = try logits.argmax()
            for r in 0..<b where !done[r] {
                output[r].append(next[r])
                if endTokens.contains(next[r]) { done[r] = true }
            }
            if done.allSatisfy({ $0 }) { break }
            let step = try languageModel.embedTokens(next, shape: [b, 1])     // (B, 1, C)
            for r in 0..<b { mask[r].append(true) }
            if useCache {
                embeddings = step
                positions = nextPosition
            } else {
                let width = embeddings.shape[1]
                embeddings = try concat([embeddings, step], axis: 1)          // (B, T' + 1, C)
                var grown: [Int] = []
                grown.reserveCapacity(b * (width + 1))
                for r in 0..<b {
                    grown += positions[(r * width)..<((r + 1) * width)]
                    grown.append(nextPosition[r])
                }
                positions = grown
            }
            for r in 0..<b { nextPosition[r] += 1 }
        }
        return output
    }
}
