// LoRA as a replacement layer: y = W x + (α / r) · B A dropout(x), with `base_layer`, `lora_A`
// (r, in) and `lora_B` (out, r) named as peft's `tuners/lora/layer.py` names them in memory, so a
// parameter path minus the adapter name is the key of `adapter_model.safetensors`. Merge/unmerge
// in place (peft's `merge`/`unmerge`) and `merged()`/`reverted()` (mlx-swift-lm's LoRALinear).
// Also the shared pieces of every PEFT layer: the `PEFTLayer` protocol and parameter creation.

// MARK: - PEFT layer protocol

/// A projection replaced by a PEFT method. `freeze()` freezes the base layer only: the method's
/// own parameters stay trainable, so `model.freeze()` leaves exactly the adapter trainable.
public protocol PEFTLayer: LinearLayer {
    /// The projection being adapted (`base_layer`).
    var baseLayer: any LinearLayer { get }
    /// The parameters the method adds, by key relative to this layer (`lora_A.weight`, `ia3_l`).
    var adapterParameters: [(key: String, tensor: Tensor)] { get }
    /// True while training: enables dropout (inference under `withNoGrad` never drops).
    var isTraining: Bool { get set }
}

extension PEFTLayer {
    /// Freezes the base layer; the adapter parameters stay trainable.
    public func freeze() {
        baseLayer.freeze()
        for (_, tensor) in adapterParameters { tensor.requiresGrad = true }
    }

    /// Freezes the adapter parameters too (inference after training).
    public func freezeAdapter() {
        baseLayer.freeze()
        for (_, tensor) in adapterParameters { tensor.requiresGrad = false }
    }

    /// Number of scalar parameters the method adds here.
    public var adapterParameterCount: Int { adapterParameters.reduce(0) { $0 + $1.tensor.count } }

    var usesDropout: Bool { isTraining && GradMode.isEnabled }
}

// MARK: - Parameter creation

/// Creates PEFT parameters like their base layer: meta when the base has no values.
struct PEFTParameterFactory {
    let meta: Bool
    var generator: RandomGenerator

    mutating func kaimingUniform(_ shape: [Int]) throws -> Tensor {
        meta ? try Tensor.meta(shape, requiresGrad: true)
            : try Tensor.kaimingUniform(shape, generator: &generator, requiresGrad: true)
    }

    mutating func normal(_ shape: [Int], std: Float) throws -> Tensor {
        meta ? try Tensor.meta(shape, requiresGrad: true)
            : try Tensor.normal(shape, std: std, generator: &generator, requiresGrad: true)
    }

    /// A linear layer's bias as PyTorch initialises it: uniform in ±1/√fan-in.
    mutating func linearBias(_ shape: [Int], fanIn: Int) throws -> Tensor {
        let bound = 1 / Float(fanIn).squareRoot()
        return meta ? try Tensor.meta(shape, requiresGrad: true)
            : try Tensor.uniform(shape, low: -bound, high: bound, generator: &generator, requiresGrad: true)
    }

    func constant(_ shape: [Int], _ value: Float) throws -> Tensor {
        meta ? try Tensor.meta(shape, requiresGrad: true) : try Tensor.full(shape, value: value, requiresGrad: true)
    }
}

/// The weight of a base layer that merging needs (a plain `Linear`).
func mergeableLinear(_ layer: any LinearLayer, method: String) throws -> Linear {
    guard let linear = layer as? Linear else {
        throw PEFTError.unsupported("\(method) can only merge into a plain Linear base layer, found \(type(of: layer))")
    }
    if linear.weight.isMeta { throw ModelError.metaModel(operation: "merge \(method) into") }
    return linear
}

// MARK: - LoRALinear

/// A projection with a low-rank update: y = W x + (α / r) · B A dropout(x).
///
///     let lora = try LoRALinear.from(base: attention.qProj, rank: 8, alpha: 16, generator: &rng)
///     attention.qProj = lora                 // B = 0: same outputs as before
///     try lora.merge()                       // W += (α / r) · B A; forward skips the update
public final class LoRALinear: PEFTLayer {
    public let baseLayer: any LinearLayer   // base_layer
    public let loraA: Linear                // lora_A: weight (r, in)
    public let loraB: Linear                // lora_B: weight (out, r)
    public let rank: Int
    public let alpha: Float
    public let dropoutProbability: Float
    /// Rank-stabilised scaling α / √r (peft's `use_rslora`).
    public let rsLoRA: Bool
    public var isTraining = true
    /// True while the update is folded into the base weight.
    public private(set) var isMerged = false
    var generator: RandomGenerator   // dropout masks; reseeded per step by `seedAdapterDropout`

    public var inFeatures: Int { baseLayer.inFeatures }
    public var outFeatures: Int { baseLayer.outFeatures }
    /// α / r (α / √r with rsLoRA).
    public var scaling: Float { Float(LoRAConfiguration.scaling(rank: rank, alpha: Double(alpha), rsLoRA: rsLoRA)) }

    /// Wraps `base` with A Kaiming-uniform (a = √5) and B zeros, as peft initialises them.
    public static func from(base: any LinearLayer, rank: Int, alpha: Float, dropout: Float = 0,
                            rsLoRA: Bool = false, generator: inout RandomGenerator) throws -> LoRALinear {
        if rank <= 0 { throw PEFTError.nonPositive(field: "LoRA rank", value: Double(rank)) }
        if alpha <= 0 { throw PEFTError.nonPositive(field: "LoRA alpha", value: Double(alpha)) }
        let meta = base.namedParameters().contains { $0.tensor.isMeta }
        var factory = PEFTParameterFactory(meta: meta, generator: generator.split())
        let a = try factory.kaimingUniform([rank, base.inFeatures])     // (r, in)
        let b = try factory.constant([base.outFeatures, rank], 0)       // (out, r)
        return LoRALinear(base: base, a: a, b: b, alpha: alpha, dropout: dropout, rsLoRA: rsLoRA,
                          generator: generator.split())
    }

    /// Wraps `base` with given A (r, in) and B (out, r) (loading a saved adapter).
    public init(base: any LinearLayer, a: Tensor, b: Tensor, alpha: Float, dropout: Float = 0,
                rsLoRA: Bool = false, generator: RandomGenerator = RandomGenerator(seed: 0)) {
        baseLayer = base
        loraA = Linear(weight: a)
        loraB = Linear(weight: b)
        rank = a.shape[0]
        self.alpha = alpha
        dropoutProbability = dropout
        self.rsLoRA = rsLoRA
        self.generator = generator
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [] }
    public var children: [(key: String, module: any Module)] {
        [("base_layer", baseLayer), ("lora_A", loraA), ("lora_B", loraB)]
    }
    public var adapterParameters: [(key: String, tensor: Tensor)] {
        [("lora_A.weight", loraA.weight), ("lora_B.weight", loraB.weight)]
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let y = try baseLayer(x)                                        // (…, out)
        if isMerged { return y }
        var h = x
        if dropoutProbability > 0 && usesDropout {
            h = try dropout(x, probability: dropoutProbability, generator: &generator)
        }
        // y + (α / r) · B (A h): the B product accumulates straight into the output.
        return try addLinear(y, loraA(h), weight: loraB.weight, scale: scaling)   // (…, r) → (…, out)
    }

    /// (α / r) · B A, (out, in), outside the graph.
    public func deltaWeight() throws -> Tensor {
        try withNoGrad { try matmul(loraB.weight, loraA.weight) * scaling }   // (out, r)·(r, in)
    }

    /// Folds the update into the base weight in place: W += (α / r) · B A.
    public func merge() throws {
        guard !isMerged else { return }
        let base = try mergeableLinear(baseLayer, method: "LoRA")
        try base.weight.addInPlace(deltaWeight())
        isMerged = true
    }

    /// Takes the update back out of the base weight: W −= (α / r) · B A.
    public func unmerge() throws {
        guard isMerged else { return }
        let base = try mergeableLinear(baseLayer, method: "LoRA")
        try base.weight.addInPlace(deltaWeight(), scale: -1)
        isMerged = false
    }

    /// A plain Linear with the update folded into a copy of the weight; self is unchanged.
    public func merged() throws -> Linear {
        let base = try mergeableLinear(baseLayer, method: "LoRA")
        let weight = base.weight.detachedCopy(requiresGrad: base.weight.requiresGrad)
        if !isMerged { try weight.addInPlace(deltaWeight()) }
        return Linear(weight: weight, bias: base.bias?.detachedCopy(requiresGrad: base.bias!.requiresGrad))
    }

    /// The base layer, with any merged update taken out.
    public func reverted() throws -> any LinearLayer {
        try unmerge()
        return baseLayer
    }
}
