// The Tensor type: Float32, contiguous row-major, storage shared by views, plus
// the autodiff fields (requiresGrad, grad, the node that produced it).
// Creation from and export to arrays lives here; shape ops in Tensor+Shape.swift.

/// A Float32 n-dimensional array in contiguous row-major order with reverse-mode autodiff.
///
/// Tensors are reference types, like PyTorch's: ops return new tensors and record
/// a graph node when grad mode is on and an input requires grad. Leaf tensors with
/// `requiresGrad` are parameters; set it to false to freeze one.
///
///     let w = Tensor.kaimingUniform([16, 8], generator: &rng, requiresGrad: true)
///     let y = try linear(x, weight: w)          // (N, 16)
///     try y.sum().backward()                    // w.grad is (16, 8)
///
/// Not internally synchronised: use a tensor from one task at a time.
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    /// Dimensions, outermost first; `[]` is a scalar.
    public let shape: [Int]
    /// Number of elements (product of `shape`).
    public let count: Int
    let storage: TensorStorage
    let offset: Int
    /// The autodiff side (requiresGrad, grad, producing node). Graph edges and backward
    /// closures hold it rather than the tensor, so values nobody saved are freed early.
    let slot: GradSlot
    /// True when gradients should flow to this tensor; false freezes a parameter.
    public var requiresGrad: Bool {
        get { slot.requiresGrad }
        set { slot.requiresGrad = newValue }
    }
    /// Accumulated gradient (same shape) after `backward()`; set to nil to zero it.
    public var grad: Tensor? {
        get { slot.grad }
        set { slot.grad = newValue }
    }
    /// The op that produced this tensor, while its graph is alive; nil for leaves.
    var node: GraphNode? {
        get { slot.node }
        set { slot.node = newValue }
    }
    /// True once an op recorded this tensor as its output (it stays true after backward frees the node).
    var isOpOutput: Bool { slot.isOpOutput }
    /// Optional name used in reports (e.g. a Hugging Face parameter key).
    public var name: String?

    /// Wraps existing storage (views share it).
    init(shape: [Int], storage: TensorStorage, offset: Int = 0, requiresGrad: Bool = false) {
        let count = shape.reduce(1, *)
        self.shape = shape
        self.count = count
        self.storage = storage
        self.offset = offset
        self.slot = GradSlot(shape: shape, count: count, requiresGrad: requiresGrad)
    }

    /// Allocates a tensor of `shape`, zero-filled or uninitialised.
    init(uninitializedShape shape: [Int], zeroed: Bool = false) {
        let count = shape.reduce(1, *)
        self.shape = shape
        self.count = count
        self.storage = TensorStorage(count: count, zeroed: zeroed)
        self.offset = 0
        self.slot = GradSlot(shape: shape, count: count, requiresGrad: false)
    }

    /// Pointer to the first element (valid while the tensor is alive).
    @_spi(Benchmarks) @inline(__always) public var pointer: UnsafeMutablePointer<Float> { storage.base + offset }

    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// True for tensors not produced by a recorded op (parameters, inputs).
    public var isLeaf: Bool { !isOpOutput }
    /// Name of the op that produced this tensor, if its graph node is alive.
    public var producingOp: String? { node?.op }

    public var description: String {
        let values = isMeta ? "meta" : count <= 8 ? toArray().map { "\($0)" }.joined(separator: ", ") : "…"
        return "Tensor(\(shape), [\(values)]\(requiresGrad ? ", requiresGrad" : ""))"
    }

    // MARK: - Creation

    /// Creates a tensor from row-major values; throws if `values.count` does not match `shape`.
    public convenience init(shape: [Int], values: [Float], requiresGrad: Bool = false) throws {
        try Tensor.validate(shape: shape, op: "Tensor(shape:values:)")
        let expected = shape.reduce(1, *)
        guard values.count == expected else {
            throw TensorError.invalidShape(op: "Tensor(shape:values:)", shape: shape,
                                           detail: "needs \(expected) values, got \(values.count)")
        }
        self.init(uninitializedShape: shape)
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { pointer.update(from: base, count: expected) }
        }
        self.requiresGrad = requiresGrad
    }

    /// Creates a tensor whose values `body` writes in place (weight loading, dtype conversion)
    /// without an intermediate array. The buffer starts zero-filled.
    ///
    ///     let w = try Tensor(shape: [out, inp]) { values in decodeBF16(bytes, into: values) }
    public convenience init(shape: [Int], requiresGrad: Bool = false,
                            initializingWith body: (UnsafeMutableBufferPointer<Float>) throws -> Void) throws {
        try Tensor.validate(shape: shape, op: "Tensor(shape:initializingWith:)")
        self.init(uninitializedShape: shape, zeroed: true)
        try body(UnsafeMutableBufferPointer(start: pointer, count: count))
        self.requiresGrad = requiresGrad
    }

    /// Creates a 1-D tensor from values.
    public convenience init(_ values: [Float], requiresGrad: Bool = false) {
        self.init(uninitializedShape: [values.count])
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { pointer.update(from: base, count: values.count) }
        }
        self.requiresGrad = requiresGrad
    }

    /// Creates a scalar (shape `[]`).
    public convenience init(scalar: Float, requiresGrad: Bool = false) {
        self.init(uninitializedShape: [])
        pointer.pointee = scalar
        self.requiresGrad = requiresGrad
    }

    /// A tensor of `shape` filled with `value`.
    public static func full(_ shape: [Int], value: Float, requiresGrad: Bool = false) throws -> Tensor {
        try validate(shape: shape, op: "full")
        let t = Tensor(uninitializedShape: shape)
        t.pointer.update(repeating: value, count: t.count)
        t.requiresGrad = requiresGrad
        return t
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) throws -> Tensor {
        try full(shape, value: 0, requiresGrad: requiresGrad)
    }

    /// A tensor of ones.
    public static func ones(_ shape: [Int], requiresGrad: Bool = false) throws -> Tensor {
        try full(shape, value: 1, requiresGrad: requiresGrad)
    }

    /// Throws unless every dimension is non-negative and the element count fits in memory terms.
    static func validate(shape: [Int], op: String) throws {
        if shape.contains(where: { $0 < 0 }) {
            throw TensorError.invalidShape(op: op, shape: shape, detail: "negative dimension")
        }
        var total = 1
        for dimension in shape {
            let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= Int(Int32.max) else {
                throw TensorError.invalidShape(op: op, shape: shape, detail: "too many elements")
            }
            total = product
        }
    }

    // MARK: - Meta tensors

    /// A tensor with a shape and no values (a model built from a config alone, to count
    /// parameters): ops that would read it throw, pointwise ops return meta results.
    public static func meta(_ shape: [Int], requiresGrad: Bool = false) throws -> Tensor {
        try validate(shape: shape, op: "meta")
        return Tensor(shape: shape, storage: TensorStorage(count: 0, zeroed: false), requiresGrad: requiresGrad)
    }

    /// True for a tensor without values (its storage is smaller than its shape needs).
    public var isMeta: Bool { offset + count > storage.count }

    /// A meta result of an op over meta inputs.
    static func metaResult(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, storage: TensorStorage(count: 0, zeroed: false))
    }

    /// Throws if any of the tensors is meta: an op is about to read their values.
    static func requireValues(_ op: String, _ tensors: Tensor?...) throws {
        for t in tensors {
            if let t, t.isMeta {
                throw TensorError.invalidArgument(
                    op: op, detail: "a tensor of shape \(t.shape) has no values (built without weights)")
            }
        }
    }

    // MARK: - Export and in-place access

    /// The values in row-major order (empty for a meta tensor).
    public func toArray() -> [Float] {
        if isMeta { return [] }
        return Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    /// The single value of a one-element tensor; throws otherwise.
    public func item() throws -> Float {
        try Tensor.requireValues("item", self)
        guard count == 1 else {
            throw TensorError.invalidShape(op: "item", shape: shape, detail: "needs exactly one element")
        }
        return pointer.pointee
    }

    /// Reads the values without copying (an empty buffer for a meta tensor).
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: pointer, count: isMeta ? 0 : count))
    }

    /// Mutates the values in place (optimizers, weight loading); views see the change.
    /// Does not record autodiff: do it outside a graph you still need.
    public func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: pointer, count: isMeta ? 0 : count))
    }

    /// Overwrites the values in place from an array of the same count.
    public func assign(_ values: [Float]) throws {
        try Tensor.requireValues("assign", self)
        guard values.count == count else {
            throw TensorError.shapeMismatch(op: "assign", lhs: shape, rhs: [values.count])
        }
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { pointer.update(from: base, count: count) }
        }
    }

    /// self += scale · other, in place and without autodiff (SGD-style updates).
    public func addInPlace(_ other: Tensor, scale: Float = 1) throws {
        try Tensor.requireValues("addInPlace", self, other)
        guard other.shape == shape else {
            throw TensorError.shapeMismatch(op: "addInPlace", lhs: shape, rhs: other.shape)
        }
        let dst = pointer, src = other.pointer
        for i in 0..<count { dst[i] += scale * src[i] }
    }

    /// A new leaf tensor with a copy of the values (no graph, no grad).
    public func detachedCopy(requiresGrad: Bool = false) -> Tensor {
        if isMeta { return Tensor.metaResult(shape) }
        let t = Tensor(uninitializedShape: shape)
        t.pointer.update(from: pointer, count: count)
        t.requiresGrad = requiresGrad
        return t
    }

    /// A leaf view of the same storage with no graph history.
    public func detached() -> Tensor {
        Tensor(shape: shape, storage: storage, offset: offset)
    }
}
