// Prefix-tuning's parameters: per-layer virtual keys and values, either a table
// (P, 2·L·d) or produced by the reparameterisation MLP Embedding(P, d) → Linear(d, e) → tanh →
// Linear(e, 2·L·d), as peft's `tuners/prefix_tuning/model.py` (`PrefixEncoder`). d is the
// key/value width (kvHeads · headDim): peft's `token_dim` after its grouped-query adjustment, so
// the MLP's input is d wide too, not the model width; e defaults to d. Token p's row holds, for
// layer l, the key at columns [2l·d, (2l+1)·d) and the value at [(2l+1)·d, (2l+2)·d), heads
// interleaved, as peft splits `past_key_values`.
//
// The keys are used as they are (no rotary embedding), like a KV cache entry. Feeding them to
// the attention needs a hook in LlamaAttention (see `PrefixKeyValues` and the report).

/// The trainable prefix of every decoder layer.
public final class PrefixEncoder: Module {
    public let virtualTokens: Int
    public let layers: Int
    public let kvDim: Int
    /// (P, 2·L·d) without projection; (P, d) with it (peft's `embedding.weight`).
    public let embedding: Tensor
    /// The reparameterisation MLP (peft's `transform.0` and `transform.2`), if any.
    public let transform0: Linear?
    public let transform2: Linear?

    /// Builds the encoder for a model of `layers` layers with key/value width `kvDim`, initialised
    /// as PyTorch initialises peft's modules (embedding N(0, 1); each linear's weight
    /// Kaiming-uniform and bias uniform in ±1/√fan-in).
    /// - Parameters:
    ///   - kvDim: kvHeads · headDim, also the embedding's width when projecting (peft's `token_dim`)
    ///   - meta: shapes only, for counting
    public init(configuration: PrefixConfiguration, layers: Int, kvDim: Int, meta: Bool,
                generator: inout RandomGenerator) throws {
        try configuration.validate()
        virtualTokens = configuration.virtualTokens
        self.layers = layers
        self.kvDim = kvDim
        var factory = PEFTParameterFactory(meta: meta, generator: generator.split())
        let width = 2 * layers * kvDim
        if configuration.projection {
            let encoderHidden = configuration.encoderHiddenSize ?? kvDim
            embedding = try factory.normal([virtualTokens, kvDim], std: 1)            // nn.Embedding: N(0, 1)
            transform0 = Linear(weight: try factory.kaimingUniform([encoderHidden, kvDim]),
                                bias: try factory.linearBias([encoderHidden], fanIn: kvDim))
            transform2 = Linear(weight: try factory.kaimingUniform([width, encoderHidden]),
                                bias: try factory.linearBias([width], fanIn: encoderHidden))
        } else {
            embedding = try factory.normal([virtualTokens, width], std: 1)
            transform0 = nil
            transform2 = nil
        }
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [("embedding.weight", embedding)] }
    public var children: [(key: String, module: any Module)] {
        guard let transform0, let transform2 else { return [] }
        return [("transform.0", transform0), ("transform.2", transform2)]
    }

    /// Keeps the prefix trainable when the model around it is frozen.
    public func freeze() {
        unfreeze()
    }

    /// The (P, 2·L·d) table of every layer's keys and values (peft's `prompt_embeddings`).
    public func table() throws -> Tensor {
        guard let transform0, let transform2 else { return embedding }
        return try transform2(tanh(transform0(embedding)))                 // (P, h) → (P, e) → (P, 2·L·d)
    }

    /// Per layer: key and value, each (P, kvHeads·D), for `attention(prefixKey:prefixValue:)`.
    public func keyValues() throws -> PrefixKeyValues {
        let t = try table()                                                 // (P, 2·L·d)
        var pairs: [(key: Tensor, value: Tensor)] = []
        for l in 0..<layers {
            let k = try t.sliced((2 * l * kvDim)..<((2 * l + 1) * kvDim), axis: 1)       // (P, d)
            let v = try t.sliced(((2 * l + 1) * kvDim)..<((2 * l + 2) * kvDim), axis: 1) // (P, d)
            pairs.append((k, v))
        }
        return PrefixKeyValues(layers: pairs)
    }
}

/// Per decoder layer, the virtual keys and values the attention prepends to its own.
public struct PrefixKeyValues {
    /// Keys and values (P, kvHeads·D) per layer.
    public var layers: [(key: Tensor, value: Tensor)]
    /// Number of virtual tokens P.
    public var length: Int { layers.first?.key.shape[0] ?? 0 }
}
