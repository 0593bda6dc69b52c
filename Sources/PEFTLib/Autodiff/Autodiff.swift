// Reverse-mode autodiff: ops record a GraphNode on their output during the forward
// pass; backward walks the graph in reverse topological order (iterative DFS, no
// recursion) and each node's hand-written backward adds into its inputs' grads.
// Grad mode is a task-local, not global state (Swift 6 strict concurrency).

/// Records how one tensor was computed: its inputs and how to push a gradient back.
final class GraphNode {
    /// Op name for error messages and debugging.
    let op: String
    /// Tensors the op read; each gets a gradient if it requires one.
    let inputs: [Tensor]
    /// Given the output's gradient, adds the inputs' gradients into their `grad`.
    let backward: (Tensor) -> Void

    init(op: String, inputs: [Tensor], backward: @escaping (Tensor) -> Void) {
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
    output.isOpOutput = true
    output.node = GraphNode(op: op, inputs: inputs, backward: backward)
    OpCounters.countNode()
}

extension Tensor {
    /// The gradient buffer of this tensor, allocated zero-filled on first use.
    /// Returns the pointer and `beta` for GEMMs: 0 if the buffer is fresh, 1 to accumulate.
    func gradBuffer(zeroed: Bool = true) -> (UnsafeMutablePointer<Float>, beta: Float) {
        if let g = grad { return (g.pointer, 1) }
        let g = Tensor(uninitializedShape: shape, zeroed: zeroed)
        grad = g
        return (g.pointer, zeroed ? 1 : 0)
    }

    /// Adds `count` values from `source` into this tensor's gradient.
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
        let order = isLeaf ? [] : try topologicalOrder()
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
        for tensor in order.reversed() {
            guard let node = tensor.node else { continue }
            if let g = tensor.grad { node.backward(g) }
            // Free the graph as we go: intermediate grads and saved buffers.
            tensor.node = nil
            tensor.grad = nil
        }
    }

    static let freedGraphMessage = "the graph was already freed by an earlier backward; "
        + "recompute the forward pass, or call backward once on the sum of the losses"

    /// Tensors with live nodes reachable from self, inputs before outputs (iterative DFS).
    /// Throws if the walk reaches an op output whose node an earlier backward freed.
    func topologicalOrder() throws -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(tensor: Tensor, nextInput: Int)] = [(self, 0)]
        visited.insert(ObjectIdentifier(self))
        while let (tensor, index) = stack.last {
            let inputs = tensor.node?.inputs ?? []
            if index < inputs.count {
                stack[stack.count - 1].nextInput += 1
                let input = inputs[index]
                if input.isOpOutput, input.node == nil, input.requiresGrad {
                    throw TensorError.autodiff(op: "backward", detail: Self.freedGraphMessage)
                }
                if input.node != nil, input.requiresGrad,
                   visited.insert(ObjectIdentifier(input)).inserted {
                    stack.append((input, 0))
                }
            } else {
                stack.removeLast()
                order.append(tensor)
            }
        }
        return order
    }
}
