// The bottleneck adapter as a replacement layer, as the study's LLM-Adapters code defines it:
// series `x + s · up(act(down(dropout(x))))` on a projection's input or output, or parallel
// `W x + s · up(act(down(dropout(x))))` beside it; down and up without bias, N(0, 0.02), s = 1.
// Keys `adapter_down.weight` / `adapter_up.weight` follow LLM-Adapters' bottleneck layer.

/// Where the adapter sits relative to the projection it wraps.
public enum AdapterPlacement: String, Codable, Sendable {
    /// Series adapter on the input: W (x + s · up(act(down(x)))). down: in → size, up: size → in.
    case input
    /// Series adapter on the output: y + s · up(act(down(y))), y = W x. down: out → size, up: size → out.
    case output
    /// Beside the projection: W x + s · up(act(down(x))). down: in → size, up: size → out.
    case parallel
}

/// A projection with a bottleneck adapter.
///
///     let adapter = try AdapterLinear.from(base: mlp.downProj, size: 256, placement: .output, generator: &rng)
///     mlp.downProj = adapter
public final class AdapterLinear: PEFTLayer {
    public let baseLayer: any LinearLayer   // base_layer
    public let adapterDown: Linear          // adapter_down: weight (size, in or out)
    public let adapterUp: Linear            // adapter_up: weight (in or out, size)
    public let placement: AdapterPlacement
    public let activation: AdapterActivation
    public let scaling: Float
    public let dropoutProbability: Float
    public var isTraining = true
    var generator: RandomGenerator   // dropout masks; reseeded per step by `seedAdapterDropout`
    /// While set, every forward pass adds the norms of the adapter's output to it (`changes`).
    var outputProbe: AdapterOutputProbe?

    public var inFeatures: Int { baseLayer.inFeatures }
    public var outFeatures: Int { baseLayer.outFeatures }
    /// The bottleneck width.
    public var size: Int { adapterDown.outFeatures }

    /// Wraps `base` with down and up drawn from N(0, std).
    public static func from(base: any LinearLayer, size: Int, placement: AdapterPlacement,
                            activation: AdapterActivation = .tanh, scaling: Float = 1, dropout: Float = 0,
                            initStd: Float = 0.02, generator: inout RandomGenerator) throws -> AdapterLinear {
        if size <= 0 { throw PEFTError.nonPositive(field: "adapter size", value: Double(size)) }
        let meta = base.namedParameters().contains { $0.tensor.isMeta }
        var factory = PEFTParameterFactory(meta: meta, generator: generator.split())
        let (inner, outer): (Int, Int)
        switch placement {
        case .input: (inner, outer) = (base.inFeatures, base.inFeatures)
        case .output: (inner, outer) = (base.outFeatures, base.outFeatures)
        case .parallel: (inner, outer) = (base.inFeatures, base.outFeatures)
        }
        let down = try factory.normal([size, inner], std: initStd)     // (size, inner)
        let up = try factory.normal([outer, size], std: initStd)       // (outer, size)
        return AdapterLinear(base: base, down: down, up: up, placement: placement, activation: activation,
                             scaling: scaling, dropout: dropout, generator: generator.split())
    }

    /// Wraps `base` with given down and up weights (loading a saved adapter).
    public init(base: any LinearLayer, down: Tensor, up: Tensor, placement: AdapterPlacement,
                activation: AdapterActivation = .tanh, scaling: Float = 1, dropout: Float = 0,
                generator: RandomGenerator = RandomGenerator(seed: 0)) {
        baseLayer = base
        adapterDown = Linear(weight: down)
        adapterUp = Linear(weight: up)
        self.placement = placement
        self.activation = activation
        self.scaling = scaling
        dropoutProbability = dropout
        self.generator = generator
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [] }
    public var children: [(key: String, module: any Module)] {
        [("base_layer", baseLayer), ("adapter_down", adapterDown), ("adapter_up", adapterUp)]
    }
    public var adapterParameters: [(key: String, tensor: Tensor)] {
        [("adapter_down.weight", adapterDown.weight), ("adapter_up.weight", adapterUp.weight)]
    }

    /// s · up(act(down(dropout(x)))).
    private func branch(_ x: Tensor) throws -> Tensor {
        var h = x
        if dropoutProbability > 0 && usesDropout {
            h = try dropout(x, probability: dropoutProbability, generator: &generator)
        }
        let z = try adapterDown(h)                                      // (…, size)
        let a: Tensor
        switch activation {
        case .tanh: a = tanh(z)
        case .relu: a = relu(z)
        case .sigmoid: a = sigmoid(z)
        case .silu: a = silu(z)
        }
        let u = try adapterUp(a)                                        // (…, inner → outer)
        let output = scaling == 1 ? u : u * scaling
        outputProbe?.record(output)
        return output
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        switch placement {
        case .input:
            return try baseLayer(x + branch(x))                         // (…, in) → (…, out)
        case .output:
            let y = try baseLayer(x)                                    // (…, out)
            return try y + branch(y)
        case .parallel:
            return try baseLayer(x) + branch(x)                         // (…, out)
        }
    }

    /// The base layer (adapters do not merge into the weights).
    public func reverted() -> any LinearLayer { baseLayer }
}
