// CLIP vision tower (`CLIPVisionModel` in transformers): the patch-embedding convolution as a
// matmul over unfolded patches (bias-free), class token, position embedding, pre-LayerNorm
// (`pre_layrnorm`, the Hugging Face spelling), pre-norm encoder layers with a quick-GELU MLP,
// post_layernorm. Parameter paths are transformers 5's (`embeddings.patch_embedding.weight`,
// `encoder.layers.0.self_attn.q_proj.weight`); older checkpoints' `vision_model.` prefix is
// removed on load.

// MARK: - Embeddings

/// Patch embedding `Conv2d(C, D, p, stride p, bias=False)`, kept in its (D, C, p, p) layout.
public final class CLIPPatchEmbedding: Module {
    public var weight: Tensor        // weight (D, C, p, p)
    public let patchSize: Int

    init(config: CLIPVisionConfig, factory: inout ParameterFactory) throws {
        weight = try factory.weight([config.hiddenSize, config.numChannels, config.patchSize, config.patchSize])
        patchSize = config.patchSize
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [("weight", weight)] }

    /// pixels (N, C, H, W) → patch features (N, P, D), patches row-major over the image.
    public func callAsFunction(_ pixels: Tensor) throws -> Tensor {
        let d = weight.shape[0], c = weight.shape[1], p = patchSize
        guard pixels.rank == 4, pixels.shape[1] == c, pixels.shape[2] % p == 0, pixels.shape[3] % p == 0 else {
            throw ModelError.invalidInput("pixel values must be (N, \(c), H, W) with H, W multiples of \(p), found \(pixels.shape)")
        }
        let patches = try unfoldPatches(pixels, patchSize: p)                  // (N, P, C·p·p)
        return try linear(patches, weight: weight.reshaped([d, c * p * p]))    // (N, P, D)
    }
}

/// Class token, patch embedding and position embedding.
public final class CLIPVisionEmbeddings: Module {
    public var classEmbedding: Tensor                 // class_embedding (D)
    public let patchEmbedding: CLIPPatchEmbedding     // patch_embedding
    public let positionEmbedding: Embedding           // position_embedding (P + 1, D)

    init(config: CLIPVisionConfig, factory: inout ParameterFactory) throws {
        classEmbedding = try factory.weight([config.hiddenSize])
        patchEmbedding = try CLIPPatchEmbedding(config: config, factory: &factory)
        positionEmbedding = try Embedding(config.numPositions, config.hiddenSize, factory: &factory)
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [("class_embedding", classEmbedding)] }
    public var children: [(key: String, module: any Module)] {
        [("patch_embedding", patchEmbedding), ("position_embedding", positionEmbedding)]
    }

    /// pixels (N, C, H, W) → (N, P + 1, D): class token first.
    public func callAsFunction(_ pixels: Tensor) throws -> Tensor {
        let patches = try patchEmbedding(pixels)                                        // (N, P, D)
        let (n, count, d) = (patches.shape[0], patches.shape[1], patches.shape[2])
        guard count + 1 == positionEmbedding.weight.shape[0] else {
            throw ModelError.invalidInput("image gives \(count) patches, the model has positions for \(positionEmbedding.weight.shape[0] - 1)")
        }
        let cls = try add(Tensor.zeros([n, 1, d]), classEmbedding.reshaped([1, 1, d]))   // (N, 1, D)
        let tokens = try concat([cls, patches], axis: 1)                                // (N, P + 1, D)
        return try tokens + positionEmbedding.weight.reshaped([1, count + 1, d])        // (N, P + 1, D)
    }
}

// MARK: - Encoder layer

/// CLIP multi-head self-attention (no mask, biases on all four projections).
public final class CLIPAttention: Module {
    public var qProj: any LinearLayer     // q_proj
    public var kProj: any LinearLayer     // k_proj
    public var vProj: any LinearLayer     // v_proj
    public var outProj: any LinearLayer   // out_proj
    public let heads: Int

    init(config: CLIPVisionConfig, factory: inout ParameterFactory) throws {
        let d = config.hiddenSize
        qProj = try Linear(d, d, bias: true, factory: &factory)
        kProj = try Linear(d, d, bias: true, factory: &factory)
        vProj = try Linear(d, d, bias: true, factory: &factory)
        outProj = try Linear(d, d, bias: true, factory: &factory)
        heads = config.numAttentionHeads
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [] }
    public var children: [(key: String, module: any Module)] {
        [("q_proj", qProj), ("k_proj", kProj), ("v_proj", vProj), ("out_proj", outProj)]
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let y = try attention(query: qProj(x), key: kProj(x), value: vProj(x), heads: heads, kvHeads: heads,
                              causal: false)                    // (N, L, D)
        return try outProj(y)                                   // (N, L, D)
    }
}

/// CLIP's MLP: fc2(act(fc1(x))), quick-GELU for OpenAI CLIP.
public final class CLIPMLP: Module {
    public var fc1: any LinearLayer       // fc1: D → intermediate
    public var fc2: any LinearLayer       // fc2: intermediate → D
    public let activation: HiddenActivation

    init(config: CLIPVisionConfig, factory: inout ParameterFactory) throws {
        fc1 = try Linear(config.hiddenSize, config.intermediateSize, bias: true, factory: &factory)
        fc2 = try Linear(config.intermediateSize, config.hiddenSize, bias: true, factory: &factory)
        activation = config.hiddenAct
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [] }
    public var children: [(key: String, module: any Module)] { [("fc1", fc1), ("fc2", fc2)] }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try fc2(activate(fc1(x), activation))                   // (N, L, D)
    }
}

/// One pre-norm encoder block.
public final class CLIPEncoderLayer: Module {
    public let layerNorm1: LayerNorm      // layer_norm1
    public let selfAttn: CLIPAttention    // self_attn
    public let layerNorm2: LayerNorm      // layer_norm2
    public let mlp: CLIPMLP               // mlp

    init(config: CLIPVisionConfig, factory: inout ParameterFactory) throws {
        layerNorm1 = try LayerNorm(config.hiddenSize, eps: config.layerNormEps, factory: &factory)
        selfAttn = try CLIPAttention(config: config, factory: &factory)
        layerNorm2 = try LayerNorm(config.hiddenSize, eps: config.layerNormEps, factory: &factory)
        mlp = try CLIPMLP(config: config, factory: &factory)
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [] }
    public var children: [(key: String, module: any Module)] {
        [("layer_norm1", layerNorm1), ("self_attn", selfAttn), ("layer_norm2", layerNorm2), ("mlp", mlp)]
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let h = try x + selfAttn(layerNorm1(x))                 // (N, L, D)
        return try h + mlp(layerNorm2(h))                       // (N, L, D)
    }
}

/// The encoder stack (`encoder.layers.N`).
public final class CLIPEncoder: Module {
    public let layers: [CLIPEncoderLayer]

    init(config: CLIPVisionConfig, factory: inout ParameterFactory) throws {
        layers = try (0..<config.numHiddenLayers).map { _ in try CLIPEncoderLayer(config: config, factory: &factory) }
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [] }
    public var children: [(key: String, module: any Module)] {
        layers.enumerated().map { ("layers.\($0)", $1) }
    }
}

// MARK: - Model

/// The CLIP vision tower: embeddings, pre_layrnorm, encoder, post_layernorm.
public final class CLIPVisionModel: Module {
    public let config: CLIPVisionConfig
    public let embeddings: CLIPVisionEmbeddings   // embeddings
    public let preLayrnorm: LayerNorm             // pre_layrnorm
    public let encoder: CLIPEncoder               // encoder
    public let postLayernorm: LayerNorm           // post_layernorm (pooled output only; LLaVA does not use it)

    /// Builds the tower from its config: random weights, or shapes only (`.meta`).
    public convenience init(config: CLIPVisionConfig, initialization: ModelInitialization = .random(seed: 0)) throws {
        var factory = ParameterFactory(initialization)
        try self.init(config: config, factory: &factory)
    }

    init(config: CLIPVisionConfig, factory: inout ParameterFactory) throws {
        self.config = config
        embeddings = try CLIPVisionEmbeddings(config: config, factory: &factory)
        preLayrnorm = try LayerNorm(config.hiddenSize, eps: config.layerNormEps, factory: &factory)
        encoder = try CLIPEncoder(config: config, factory: &factory)
        postLayernorm = try LayerNorm(config.hiddenSize, eps: config.layerNormEps, factory: &factory)
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [] }
    public var children: [(key: String, module: any Module)] {
        [("embeddings", embeddings), ("pre_layrnorm", preLayrnorm), ("encoder", encoder),
         ("post_layernorm", postLayernorm)]
    }

    /// Loads weights, accepting transformers 4's `vision_model.` prefix.
    public func load(from file: SafetensorsFile) throws { try load(from: [file]) }

    /// Loads weights from the shards of one checkpoint.
    public func load(from files: [SafetensorsFile]) throws {
        try load(from: files) { key in
            if key.hasSuffix("position_ids") { return nil }
            return key.hasPrefix("vision_model.") ? String(key.dropFirst("vision_model.".count)) : key
        }
    }

    /// Hidden state `layer` of transformers' `hidden_states` tuple: 0 is the pre-LayerNormed
    /// embeddings, i the output of encoder layer i; negative counts from the end (−2 for LLaVA).
    /// Only the layers needed run. pixels (N, C, H, W) → (N, P + 1, D).
    public func hiddenState(pixelValues: Tensor, layer: Int) throws -> Tensor {
        if embeddings.classEmbedding.isMeta { throw ModelError.metaModel(operation: "run") }
        let states = encoder.layers.count + 1
        guard layer >= -states, layer < states else {
            throw ModelError.invalidInput("hidden state \(layer) outside the \(states) of a \(encoder.layers.count)-layer tower")
        }
        let count = layer >= 0 ? layer : states + layer
        var h = try preLayrnorm(embeddings(pixelValues))            // (N, P + 1, D)
        for l in encoder.layers.prefix(count) { h = try l(h) }
        return h
    }

    /// Last hidden state (N, P + 1, D) and pooled output (N, D): post_layernorm of the class token.
    public func callAsFunction(pixelValues: Tensor) throws -> (lastHiddenState: Tensor, pooled: Tensor) {
        let h = try hiddenState(pixelValues: pixelValues, layer: -1)
        let (n, l) = (h.shape[0], h.shape[1])
        let cls = try selectRows(h, (0..<n).map { $0 * l })        // (N, D)
        return (h, try postLayernorm(cls))
    }
}

// MARK: - Patch unfolding

/// pixels (N, C, H, W) → (N, P, C·p·p): patch (row, col) at index row·(W/p) + col, its values in
/// the (c, i, j) order of a flattened conv weight. A copy without autodiff (pixels are inputs).
func unfoldPatches(_ pixels: Tensor, patchSize p: Int) throws -> Tensor {
    let (n, c, height, width) = (pixels.shape[0], pixels.shape[1], pixels.shape[2], pixels.shape[3])
    let rows = height / p, cols = width / p, patchWidth = c * p * p
    let out = try Tensor.zeros([n, rows * cols, patchWidth])
    try pixels.withUnsafeBufferPointer { source in
        try out.withUnsafeMutableBufferPointer { dest in
            guard let src = source.baseAddress, let dst = dest.baseAddress else {
                throw ModelError.invalidInput("empty pixel values")
            }
            for image in 0..<n {
                for pr in 0..<rows {
                    for pc in 0..<cols {
                        let patch = dst + (image * rows * cols + pr * cols + pc) * patchWidth
                        for ch in 0..<c {
                            for i in 0..<p {
                                let row = src + ((image * c + ch) * height + pr * p + i) * width + pc * p
                                (patch + (ch * p + i) * p).update(from: row, count: p)
                            }
                        }
                    }
                }
            }
        }
    }
    return out
}
