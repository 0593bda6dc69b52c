// IA3 as a replacement layer: a learned vector, ones at start, that scales a projection's output
// (k_proj, v_proj) or, for feed-forward modules (down_proj), its input. Shapes and key follow
// peft's `tuners/ia3/layer.py`: `ia3_l` is (out, 1) when it scales the output and (1, in) when
// it scales the input; the adapter file stores it as `…k_proj.ia3_l` (no `.weight`).

/// A projection with learned per-feature scaling (IA3).
///
///     let ia3 = try IA3Linear.from(base: mlp.downProj, feedforward: true)   // scales the input
///     mlp.downProj = ia3
public final class IA3Linear: PEFTLayer {
    public let baseLayer: any LinearLayer   // base_layer
    public let ia3L: Tensor                 // ia3_l: (out, 1), or (1, in) for feed-forward modules
    /// True when the vector scales the input (peft's `is_feedforward`).
    public let isFeedforward: Bool
    public var isTraining = true
    /// True while the scaling is folded into the base weight.
    public private(set) var isMerged = false

    public var inFeatures: Int { baseLayer.inFeatures }
    public var outFeatures: Int { baseLayer.outFeatures }

    /// Wraps `base` with a vector of ones.
    public static func from(base: any LinearLayer, feedforward: Bool) throws -> IA3Linear {
        let meta = base.namedParameters().contains { $0.tensor.isMeta }
        let factory = PEFTParameterFactory(meta: meta, generator: RandomGenerator(seed: 0))
        let shape = feedforward ? [1, base.inFeatures] : [base.outFeatures, 1]
        return IA3Linear(base: base, vector: try factory.constant(shape, 1), feedforward: feedforward)
    }

    /// Wraps `base` with a given vector, (out, 1) or (1, in) (loading a saved adapter).
    public init(base: any LinearLayer, vector: Tensor, feedforward: Bool) {
        baseLayer = base
        ia3L = vector
        isFeedforward = feedforward
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [("ia3_l", ia3L)] }
    public var children: [(key: String, module: any Module)] { [("base_layer", baseLayer)] }
    public var adapterParameters: [(key: String, tensor: Tensor)] { [("ia3_l", ia3L)] }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        if isMerged { return try baseLayer(x) }
        if isFeedforward {
            let scaled = try x * ia3L.reshaped([inFeatures])           // (…, in)
            return try baseLayer(scaled)                                // (…, out)
        }
        return try baseLayer(x) * ia3L.reshaped([outFeatures])          // (…, out)
    }

    /// Folds the scaling into the base weight (and bias, for output scaling) in place.
    public func merge() throws {
        guard !isMerged else { return }
        try rescaleBase(divide: false)
        isMerged = true
    }

    /// Divides the scaling back out of the base weight.
    public func unmerge() throws {
        guard isMerged else { return }
        try rescaleBase(divide: true)
        isMerged = false
    }

    /// A plain Linear with the scaling folded into copies of the weight and bias.
    public func merged() throws -> Linear {
        let base = try mergeableLinear(baseLayer, method: "IA3")
        let copy = Linear(weight: base.weight.detachedCopy(requiresGrad: base.weight.requiresGrad),
                          bias: base.bias.map { $0.detachedCopy(requiresGrad: $0.requiresGrad) })
        if !isMerged { try rescale(copy, divide: false) }
        return copy
    }

    /// The base layer, with any merged scaling taken out.
    public func reverted() throws -> any LinearLayer {
        try unmerge()
        return baseLayer
    }

    private func rescaleBase(divide: Bool) throws {
        try rescale(try mergeableLinear(baseLayer, method: "IA3"), divide: divide)
    }

    /// W[o, i] ·= l[i] (input scaling) or l[o] (output scaling, bias too); or divides.
    private func rescale(_ linear: Linear, divide: Bool) throws {
        let l = ia3L.toArray()
        let (rows, columns) = (linear.outFeatures, linear.inFeatures)
        linear.weight.withUnsafeMutableBufferPointer { w in
            for o in 0..<rows {
                for i in 0..<columns {
                    let s = isFeedforward ? l[i] : l[o]
                    w[o * columns + i] = divide ? w[o * columns + i] / s : w[o * columns + i] * s
                }
            }
        }
        if !isFeedforward, let bias = linear.bias {
            bias.withUnsafeMutableBufferPointer { b in
                for o in 0..<rows { b[o] = divide ? b[o] / l[o] : b[o] * l[o] }
            }
        }
    }
}
