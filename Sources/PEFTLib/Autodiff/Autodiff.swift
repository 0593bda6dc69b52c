// Reverse-mode autodiff: ops record a GraphNode on their output during the forward
// pass; backward walks the graph in reverse topological order (iterative DFS, no
// recursion) and each node's hand-written backward adds into its inputs' grads.
// Grad mode is a task-local, not global state (Swift 6 strict concurrency).
//
// Edges point at GradSlots, not at tensors: a node keeps its inputs' gradient slots alive,
// and a backward closure captures a tensor only when it needs that tensor's values. So an
// intermediate result nobody saved (a residual sum, a scaled copy) is freed as soon as the
// forward pass moves on, as PyTorch frees unsaved activations.

/// The autodiff side of one tensor: whether it wants a gradient, the gradient, and the
/// node that computed it. Shared by nothing else: views have their own slots.
final class GradSlot {
    let shape: [Int]
    let count: Int
    var requiresGrad: Bool
    /// Accumulated gradient, same shape as the tensor.
    var grad: Tensor?
    /// The op that produced the tensor, while its graph is alive.
    var node: GraphNode?
    /// True once an op recorded the tensor as its output (stays true after backward frees the node).
    var isOpOutput = false

    init(shape: [Int], count: Int, requiresGrad: Bool) {
        self.shape = shape
        self.count = count
        self.requiresGrad = requiresGrad
    }

    /// The gradient buffer, allocated on first use (zero-filled unless `zeroed` is false).
    /// Returns the pointer and `beta` for GEMMs: 0 if the buffer is fresh and uninitialised, 1 to accumulate.
    func gradBuffer(zeroed: Bool = true) -> (UnsafeMutablePointer<Float>, beta: Float) {
        if let g = grad { return (g.pointer, 1) }
        let g = Tensor(uninitializedShape: shape, zeroed: zeroed)
        grad = g
        return (g.pointer, zeroed ? 1 : 0)
    }

    /// Adds `count` values from `source` into the gradient.
    func accumulateGrad(from source: UnsafePointer<Float>, scale: Float = 1) {
        if grad == nil, scale == 1 {
            let g = Tensor(uninitializedShape: shape)
            g.pointer.update(from: source, count: count)
            grad = g
            return
        }
        let (dst, _) = gradBuffer()
        for i in 0..<count { dst[i] += scale * source[i] }
    }
}

/// Records how one tensor was computed: its inputs' slots and how to push a gradient back.
final class GraphNode {
    /// Op name for error messages and debugging.
    let op: String
    /// Slots of the tensors the op read; each gets a gradient if it requires one.
    let inputs: [GradSlot]
    /// Given the output's gradient, adds the inputs' gradients into their `grad`.
    let backward: (Tensor) -> Void

    init(op: String, inputs: [GradSlot], backward: @escaping (Tensor) -> Void) {
        self.op = op
        self.inputs = inputs
        self.backward = backward
    }
}

/// Whether ops record graph nodes; off inside `withNoGrad`.
public enum GradMode {
    @TaskLocal static var recording = true

    /// True when ops record the graph for backward in the current task.
    public static var isEnabled: Bool { recording }
}

/// Runs `body` without recording autodiff (inference, evaluation, finite differences).
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$recording.withValue(false, operation: body)
}

/// Async form of `withNoGrad`.
public func withNoGrad<R>(_ body: () async throws -> R) async rethrows -> R {
    try await GradMode.$recording.withValue(false, operation: body)
}

/// True if an op over these inputs must record a node (grad mode on, some input needs grad).
@inline(__always)
func needsGraph(_ inputs: Tensor?...) -> Bool {
    guard GradMode.recording else { return false }
    for input in inputs where input?.requiresGrad == true { return true }
    return false
}

/// Attaches a graph node to `output` and marks it as requiring grad.
func record(_ output: Tensor, op: String, inputs: [Tensor], backward: @escaping (Tensor) -> Void) {
    output.requiresGrad = true
    output.slot.isOpOutput = true
    output.node = GraphNode(op: op, inputs: inputs.map(\.slot), backward: backward)
    OpCounters.countNode()
}

extension Tensor {
    /// The gradient buffer of this tensor (see `GradSlot.gradBuffer`).
    func gradBuffer(zeroed: Bool = true) -> (UnsafeMutablePointer<Float>, beta: Float) {
        slot.gradBuffer(zeroed: zeroed)
    }

    /// Adds `count` values from `source` into this tensor's gradient.
    func accumulateGrad(from source: UnsafePointer<Float>, scale: Float = 1) {
        slot.accumulateGrad(from: source, scale: scale)
    }

    /// Backpropagates from this scalar (or from any tensor with an explicit seed gradient).
    ///
    /// Gradients accumulate into `grad` of every leaf that requires grad; the graph is
    /// freed afterwards (a second backward through it is an error, as in PyTorch).
    /// - Parameter gradient: seed of the same shape; defaults to 1 for one-element tensors.
    public func backward(gradient: Tensor? = nil) throws {
        guard requiresGrad else {
            throw TensorError.autodiff(op: "backward",
                                       detail: "tensor does not require grad (no graph was recorded)")
        }
        if isOpOutput && node == nil {
            throw TensorError.autodiff(op: "backward", detail: Self.freedGraphMessage)
        }
        var order = isLeaf ? [] : try slot.topologicalOrder()
        let seed: Tensor
        if let gradient {
            guard gradient.shape == shape else {
                throw TensorError.shapeMismatch(op: "backward", lhs: shape, rhs: gradient.shape,
                                                detail: "seed gradient must match the output")
            }
            try Tensor.requireValues("backward", gradient)
            // Nodes only read the seed, so an op output can use the caller's tensor as is;
            // a leaf keeps a copy because later backward calls accumulate into its grad.
            seed = isLeaf ? gradient.detachedCopy() : gradient.detached()
        } else {
            guard count == 1 else {
                throw TensorError.invalidShape(op: "backward", shape: shape,
                                               detail: "needs a seed gradient for a non-scalar output")
            }
            seed = try Tensor.full(shape, value: 1)
        }
        if let existing = grad {
            try existing.addInPlace(seed)
        } else {
            grad = seed
        }
        while let current = order.popLast() {
            guard let node = current.node else { continue }
            if let g = current.grad { node.backward(g) }
            // Free the graph as we go: intermediate grads and saved buffers.
            current.node = nil
            current.grad = nil
        }
    }

    static let freedGraphMessage = "the graph was already freed by an earlier backward; "
        + "recompute the forward pass, or call backward once on the sum of the losses"

}

extension GradSlot {
    /// Slots with live nodes reachable from self, inputs before outputs (iterative DFS).
    /// Throws if the walk reaches an op output whose node an earlier backward freed.
    func topologicalOrder() throws -> [GradSlot] {
        var order: [GradSlot] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(slot: GradSlot, nextInput: Int)] = [(self, 0)]
        visited.insert(ObjectIdentifier(self))
        while let (slot, index) = stack.last {
            let inputs = slot.node?.inputs ?? []
            if index < inputs.count {
                stack[stack.count - 1].nextInput += 1
                let input = inputs[index]
                if input.isOpOutput, input.node == nil, input.requiresGrad {
                    throw TensorError.autodiff(op: "backward", detail: Tensor.freedGraphMessage)
                }
                if input.node != nil, input.requiresGrad,
                   visited.insert(ObjectIdentifier(input)).inserted {
                    stack.append((input, 0))
                }
            } else {
                stack.removeLast()
                order.append(slot)
            }
        }
        return order
    }
}
