// The parameter tree shared by every model: a `Module` names its own parameters and its
// children by their Hugging Face keys, so a parameter's path (`model.layers.0.self_attn.q_proj.weight`)
// is the key in the checkpoint and loading needs no renaming table. Freezing is state on the tree
// (each tensor's `requiresGrad`) and the trainable set is computed from it, as `Module.freeze` /
// `trainableParameters` in mlx-swift's MLXNN. Also: meta parameters (shape only, no storage) for
// counting models too big for the machine, weight loading with clear errors, and the basic layers
// (Linear, Embedding, RMSNorm, LayerNorm) the architectures share.

// MARK: - Module

/// A node of a model's parameter tree.
///
/// Conformers list their own parameters and their submodules under their Hugging Face keys;
/// everything else (paths, freezing, counting, loading) is derived from those two lists.
///
///     let model = try LlamaForCausalLM(config: config, initialization: .meta)
///     print(model.parameterCount)                         // no weights allocated
///     model.freeze(); model.model.norm.unfreeze()
///     for (path, tensor) in model.trainableParameters() { print(path, tensor.shape) }
public protocol Module: AnyObject {
    /// Parameters held by this module itself, by key (`weight`, `bias`, `class_embedding`).
    var localParameters: [(key: String, tensor: Tensor)] { get }
    /// Direct submodules, by key (`self_attn`, `layers.0`).
    var children: [(key: String, module: any Module)] { get }
    /// Makes every parameter below this module frozen (no gradient, no optimizer state).
    /// PEFT layers override it to keep their own parameters trainable.
    func freeze()
    /// Makes every parameter below this module trainable.
    func unfreeze()
    /// Puts `replacement` where the child `key` is; false when this module has no child
    /// `key` that can be swapped for it. How PEFT layers go in (as peft's `_replace_module`
    /// sets a child by name): a module with swappable linear children lists them as
    /// `LinearSlots`, and nothing outside the model needs to know its fields.
    func replaceChild(_ key: String, with replacement: any Module) -> Bool
}

/// A module whose linear children can be swapped by key: it lists them once, as key paths,
/// and gets its `children` and `replaceChild` from that list.
///
///     final class MLP: LinearSlots {
///         var up: any LinearLayer, down: any LinearLayer
///         static var linearSlots: [LinearSlot<MLP>] { [("up_proj", \.up), ("down_proj", \.down)] }
///     }
public protocol LinearSlots: Module {
    /// The swappable linear children, in the order of the Hugging Face checkpoint.
    static var linearSlots: [LinearSlot<Self>] { get }
}

/// One swappable linear child: its key and where the module keeps it.
public typealias LinearSlot<M> = (key: String, path: ReferenceWritableKeyPath<M, any LinearLayer>)

extension LinearSlots {
    public var children: [(key: String, module: any Module)] {
        Self.linearSlots.map { ($0.key, self[keyPath: $0.path]) }
    }

    public func replaceChild(_ key: String, with replacement: any Module) -> Bool {
        guard let slot = Self.linearSlots.first(where: { $0.key == key }),
              let linear = replacement as? any LinearLayer else { return false }
        self[keyPath: slot.path] = linear
        return true
    }
}

extension Module {
    public var children: [(key: String, module: any Module)] { [] }

    public func replaceChild(_ key: String, with replacement: any Module) -> Bool { false }

    public func freeze() {
        for (_, tensor) in localParameters { tensor.requiresGrad = false }
        for (_, child) in children { child.freeze() }
    }

    public func unfreeze() {
        for (_, tensor) in localParameters { tensor.requiresGrad = true }
        for (_, child) in children { child.unfreeze() }
    }

    /// Every parameter with its full path, depth-first in declaration order. A tensor shared by two
    /// modules (tied embeddings) is listed once, under its first path.
    public func namedParameters() -> [(path: String, tensor: Tensor)] {
        var result: [(path: String, tensor: Tensor)] = []
        var seen = Set<ObjectIdentifier>()
        var stack: [(prefix: String, module: any Module)] = [("", self)]
        while let (prefix, module) = stack.popLast() {
            for (key, tensor) in module.localParameters where seen.insert(ObjectIdentifier(tensor)).inserted {
                result.append((prefix + key, tensor))
            }
            for (key, child) in module.children.reversed() { stack.append((prefix + key + ".", child)) }
        }
        return result
    }

    /// Parameters by path.
    public func parameterDictionary() -> [String: Tensor] {
        Dictionary(namedParameters().map { ($0.path, $0.tensor) }, uniquingKeysWith: { first, _ in first })
    }

    /// Every module with its path (`""` for self), depth-first.
    public func namedModules() -> [(path: String, module: any Module)] {
        var result: [(path: String, module: any Module)] = []
        var stack: [(path: String, module: any Module)] = [("", self)]
        while let (path, module) = stack.popLast() {
            result.append((path, module))
            for (key, child) in module.children.reversed() {
                stack.append((path.isEmpty ? key : path + "." + key, child))
            }
        }
        return result
    }

    /// The module at `path` (`model.layers.0.self_attn.q_proj`; `""` for self), nil when there is none.
    public func module(at path: String) -> (any Module)? {
        namedModules().first { $0.path == path }?.module
    }

    /// Puts `replacement` at `path`, through its parent's `replaceChild`.
    /// - Throws: `ModelError.invalidInput` when no module is at `path` or its parent cannot swap it
    public func replaceModule(at path: String, with replacement: any Module) throws {
        for (parentPath, parent) in namedModules() {
            for (key, _) in parent.children where (parentPath.isEmpty ? key : parentPath + "." + key) == path {
                guard parent.replaceChild(key, with: replacement) else {
                    throw ModelError.invalidInput("\(path) (in \(type(of: parent))) cannot be replaced by a \(type(of: replacement))")
                }
                return
            }
        }
        throw ModelError.invalidInput("no module at \(path)")
    }

    /// The parameters that currently receive gradients, computed from the tree.
    public func trainableParameters() -> [(path: String, tensor: Tensor)] {
        namedParameters().filter { $0.tensor.requiresGrad }
    }

    /// Number of scalar parameters (tied tensors counted once); works on meta models.
    public var parameterCount: Int { namedParameters().reduce(0) { $0 + $1.tensor.count } }

    /// Number of trainable scalar parameters.
    public var trainableParameterCount: Int { trainableParameters().reduce(0) { $0 + $1.tensor.count } }

    /// True when the parameters are shape-only placeholders (built with `.meta`).
    public var isMeta: Bool { namedParameters().contains { $0.tensor.isMeta } }

    /// Throws `ModelError.metaModel` when the model has no weights to compute with.
    func requireWeights(_ sample: Tensor) throws {
        if sample.isMeta { throw ModelError.metaModel(operation: "run") }
    }

    /// Drops the accumulated gradients of every parameter.
    public func zeroGradients() {
        for (_, tensor) in namedParameters() { tensor.grad = nil }
    }

    /// Copies weights from a safetensors file into the parameters, in place.
    ///
    /// - Parameters:
    ///   - file: the checkpoint
    ///   - keyMap: maps a file key to a parameter path, or nil to skip the entry
    ///     (e.g. legacy prefixes, non-persistent buffers)
    /// - Throws: `WeightLoadingError` naming the missing, unexpected or mis-shaped keys, before
    ///   any parameter is changed; `ModelError.metaModel` on a meta model.
    public func load(from file: SafetensorsFile, keyMap: (String) -> String? = { $0 }) throws {
        try load(from: [file], keyMap: keyMap)
    }

    /// Copies weights from the shards of one checkpoint (`model-0000i-of-0000n.safetensors`).
    public func load(from files: [SafetensorsFile], keyMap: (String) -> String? = { $0 }) throws {
        let parameters = namedParameters()
        if parameters.contains(where: { $0.tensor.isMeta }) {
            throw ModelError.metaModel(operation: "load weights into")
        }
        let place = files.map(\.path).joined(separator: ", ")
        var byPath: [String: Tensor] = [:]
        for (path, tensor) in parameters { byPath[path] = tensor }
        var source: [String: (file: SafetensorsFile, key: String)] = [:]   // parameter path → where it is
        var unexpected: [String] = []
        for file in files {
            for name in file.names {
                guard let path = keyMap(name) else { continue }
                if byPath[path] == nil || source[path] != nil { unexpected.append(name) } else { source[path] = (file, name) }
            }
        }
        let missing = parameters.map(\.path).filter { source[$0] == nil }
        if !missing.isEmpty { throw WeightLoadingError.missing(file: place, keys: missing) }
        if !unexpected.isEmpty { throw WeightLoadingError.unexpected(file: place, keys: unexpected) }
        for (path, tensor) in parameters {
            let (file, key) = source[path]!
            let info = try file.info(key)
            if info.shape != tensor.shape {
                throw WeightLoadingError.shapeMismatch(file: file.path, key: key, expected: tensor.shape, found: info.shape)
            }
        }
        var nonFinite: [String] = []
        for (path, tensor) in parameters {
            let (file, key) = source[path]!
            try tensor.withUnsafeMutableBufferPointer { try file.readFloats(key, into: $0) }
            if !tensor.withUnsafeBufferPointer(allFinite) { nonFinite.append(key) }
        }
        // A damaged file or a diverged training: a model that would answer nothing but "".
        if !nonFinite.isEmpty { throw WeightLoadingError.nonFinite(file: place, keys: nonFinite) }
    }
}

/// True when no value is NaN or infinite (the sum of x·0 is NaN exactly when some x is).
func allFinite(_ values: UnsafeBufferPointer<Float>) -> Bool {
    var probe: Float = 0
    for v in values { probe += v * 0 }
    return probe == 0
}

// MARK: - Errors

/// A checkpoint whose tensors do not fit the model built from its config.
public enum WeightLoadingError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Parameters the file does not hold (paths as the model names them).
    case missing(file: String, keys: [String])
    /// Tensors in the file that no parameter takes.
    case unexpected(file: String, keys: [String])
    /// A tensor whose shape differs from the parameter's.
    case shapeMismatch(file: String, key: String, expected: [Int], found: [Int])
    /// Tensors holding NaN or infinite values.
    case nonFinite(file: String, keys: [String])

    public var description: String {
        func list(_ keys: [String]) -> String {
            keys.prefix(5).joined(separator: ", ") + (keys.count > 5 ? " and \(keys.count - 5) more" : "")
        }
        switch self {
        case let .missing(file, keys):
            return "checkpoint '\(file)' is missing \(keys.count) weight(s): \(list(keys))"
        case let .unexpected(file, keys):
            return "checkpoint '\(file)' has \(keys.count) unexpected weight(s): \(list(keys))"
        case let .shapeMismatch(file, key, expected, found):
            return "checkpoint '\(file)': weight \(key) has shape \(found), the model expects \(expected)"
        case let .nonFinite(file, keys):
            return "checkpoint '\(file)' holds NaN or infinite values in \(keys.count) weight(s): \(list(keys)); "
                + "the file is damaged or was saved from a diverged training"
        }
    }
}

/// A model used in a way it does not support.
public enum ModelError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A meta model (shapes only) was asked to compute or load.
    case metaModel(operation: String)
    /// Inputs that do not fit the model (ragged rows, unknown tokens, image count).
    case invalidInput(String)
    /// A model directory without the files it needs.
    case missingFile(String)

    public var description: String {
        switch self {
        case let .metaModel(operation):
            return "cannot \(operation) a meta model (built without weights, for counting parameters)"
        case let .invalidInput(detail): return "invalid model input: \(detail)"
        case let .missingFile(path): return "model file not found: \(path)"
        }
    }
}

// MARK: - Parameter creation

/// How a model built from a config gets its parameters.
public enum ModelInitialization: Sendable, Equatable {
    /// Shape-only placeholders: nothing allocated, for counting parameters; cannot compute.
    case meta
    /// Weights N(0, std) (transformers' `initializer_range`, 0.02), norms one, biases zero; all trainable.
    case random(seed: UInt64, std: Float = 0.02)
}

/// Creates the parameters of a model being built, in declaration order.
struct ParameterFactory {
    let initialization: ModelInitialization
    var generator: RandomGenerator

    init(_ initialization: ModelInitialization) {
        self.initialization = initialization
        if case let .random(seed, _) = initialization {
            generator = RandomGenerator(seed: seed)
        } else {
            generator = RandomGenerator(seed: 0)
        }
    }

    /// A weight matrix or embedding table: random normal, or meta.
    mutating func weight(_ shape: [Int]) throws -> Tensor {
        switch initialization {
        case .meta: return try Tensor.meta(shape, requiresGrad: true)
        case let .random(_, std): return try Tensor.normal(shape, std: std, generator: &generator, requiresGrad: true)
        }
    }

    /// A constant-filled parameter (norm weights 1, biases 0), or meta.
    func constant(_ shape: [Int], _ value: Float) throws -> Tensor {
        switch initialization {
        case .meta: return try Tensor.meta(shape, requiresGrad: true)
        case .random: return try Tensor.full(shape, value: value, requiresGrad: true)
        }
    }
}

// MARK: - Basic layers

/// A layer mapping (…, in) → (…, out); the seven Llama projections are typed by it so PEFT
/// methods can put their replacement layers in place.
public protocol LinearLayer: Module {
    var inFeatures: Int { get }
    var outFeatures: Int { get }
    func callAsFunction(_ x: Tensor) throws -> Tensor
}

/// `nn.Linear`: y = x Wᵀ + b, weight (out, in) as PyTorch stores it.
public final class Linear: LinearLayer {
    public var weight: Tensor         // weight (out, in)
    public var bias: Tensor?          // bias (out)
    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public init(weight: Tensor, bias: Tensor? = nil) {
        self.weight = weight
        self.bias = bias
    }

    init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool, factory: inout ParameterFactory) throws {
        weight = try factory.weight([outFeatures, inFeatures])
        self.bias = bias ? try factory.constant([outFeatures], 0) : nil
    }

    public var localParameters: [(key: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try linear(x, weight: weight, bias: bias)   // (…, in) → (…, out)
    }
}

/// `nn.Embedding`: rows of a (V, D) table.
public final class Embedding: Module {
    public var weight: Tensor         // weight (V, D)

    init(_ count: Int, _ dimension: Int, factory: inout ParameterFactory) throws {
        weight = try factory.weight([count, dimension])
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [("weight", weight)] }

    /// Vectors at `ids`, shaped `shape + [D]`.
    public func callAsFunction(_ ids: [Int], shape: [Int]? = nil) throws -> Tensor {
        try embedding(ids, shape: shape, table: weight)
    }
}

/// Llama's RMSNorm.
public final class RMSNorm: Module {
    public var weight: Tensor         // weight (C)
    public let eps: Float

    init(_ dimension: Int, eps: Float, factory: inout ParameterFactory) throws {
        weight = try factory.constant([dimension], 1)
        self.eps = eps
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [("weight", weight)] }

    public func callAsFunction(_ x: Tensor) throws -> Tensor { try rmsNorm(x, weight: weight, eps: eps) }
}

/// `nn.LayerNorm` with weight and bias (CLIP).
public final class LayerNorm: Module {
    public var weight: Tensor         // weight (C)
    public var bias: Tensor           // bias (C)
    public let eps: Float

    init(_ dimension: Int, eps: Float, factory: inout ParameterFactory) throws {
        weight = try factory.constant([dimension], 1)
        bias = try factory.constant([dimension], 0)
        self.eps = eps
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [("weight", weight), ("bias", bias)] }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try layerNorm(x, weight: weight, bias: bias, eps: eps)
    }
}

// MARK: - Helpers shared by the architectures

/// Applies a config's activation by name.
func activate(_ x: Tensor, _ activation: HiddenActivation) -> Tensor {
    switch activation {
    case .silu: return silu(x)
    case .gelu: return gelu(x)
    case .geluTanh: return gelu(x, approximation: .tanh)
    case .quickGELU: return quickGELU(x)
    }
}

/// Checks that rows are non-empty and of one length; returns (B, T).
func rectangularShape(_ rows: [[Int]], name: String) throws -> (batch: Int, length: Int) {
    guard let first = rows.first, !first.isEmpty else {
        throw ModelError.invalidInput("\(name) must hold at least one non-empty row")
    }
    guard rows.allSatisfy({ $0.count == first.count }) else {
        throw ModelError.invalidInput("\(name) rows differ in length (\(rows.map(\.count))); pad them")
    }
    return (rows.count, first.count)
}
