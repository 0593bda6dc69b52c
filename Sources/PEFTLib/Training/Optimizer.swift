// Optimizers over named parameter groups: AdamW (decoupled weight decay, as
// torch.optim.AdamW) and SGD with momentum; global-norm gradient clipping.
// Only parameters that train have state: a frozen weight costs nothing here.

import Foundation

/// Parameters sharing a learning rate and weight decay (e.g. "adapter", "connector", "no decay").
public struct ParameterGroup: @unchecked Sendable {
    public var name: String
    public var parameters: [(name: String, tensor: Tensor)]
    public var learningRate: Double
    public var weightDecay: Double

    public init(name: String, parameters: [(name: String, tensor: Tensor)], learningRate: Double, weightDecay: Double = 0) {
        self.name = name; self.parameters = parameters; self.learningRate = learningRate; self.weightDecay = weightDecay
    }
}

/// What an optimizer keeps between steps, for checkpoints.
public struct OptimizerState: Sendable, Equatable, Codable {
    public var step: Int
    /// Per parameter name: its moment buffers (AdamW: m then v; SGD: momentum).
    public var buffers: [String: [[Float]]]
}

/// Updates parameters from their gradients.
public protocol Optimizer: AnyObject {
    var groups: [ParameterGroup] { get }
    /// One update; each group's rate is multiplied by `learningRateFactor` (the schedule).
    func step(learningRateFactor: Double)
    var state: OptimizerState { get }
    func load(_ state: OptimizerState) throws
}

extension Optimizer {
    /// Clears every gradient before the next accumulation.
    public func zeroGradients() {
        for group in groups { for p in group.parameters { p.tensor.grad = nil } }
    }

    /// The global L2 norm of all gradients (accumulated in Double).
    public func gradientNorm() -> Double {
        var sum = 0.0
        for group in groups {
            for p in group.parameters {
                guard let grad = p.tensor.grad else { continue }
                grad.withUnsafeBufferPointer { g in for x in g { sum += Double(x) * Double(x) } }
            }
        }
        return sum.squareRoot()
    }

    /// Scales gradients so that their global norm is at most `maxNorm`, as
    /// torch.nn.utils.clip_grad_norm_ does; returns the norm before clipping.
    @discardableResult
    public func clipGradients(maxNorm: Double) -> Double {
        let norm = gradientNorm()
        let coefficient = maxNorm / (norm + 1e-6)
        guard coefficient < 1 else { return norm }
        let c = Float(coefficient)
        for group in groups {
            for p in group.parameters {
                p.tensor.grad?.withUnsafeMutableBufferPointer { g in for i in g.indices { g[i] *= c } }
            }
        }
        return norm
    }
}

/// Why optimizer state could not be restored.
public struct OptimizerStateError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Adam with decoupled weight decay (Loshchilov & Hutter), step for step as torch.optim.AdamW.
public final class AdamW: Optimizer, @unchecked Sendable {
    public let groups: [ParameterGroup]
    public let beta1: Float, beta2: Float, epsilon: Float
    private var stepCount = 0
    private var m: [String: [Float]] = [:]
    private var v: [String: [Float]] = [:]

    public init(groups: [ParameterGroup], beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.groups = groups; self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
    }

    public func step(learningRateFactor: Double) {
        stepCount += 1
        let correction1 = 1 - pow(Double(beta1), Double(stepCount))
        let correction2 = 1 - pow(Double(beta2), Double(stepCount))
        for group in groups {
            let lr = group.learningRate * learningRateFactor
            let decay = Float(1 - lr * group.weightDecay)
            let stepSize = Float(lr / correction1)
            let sqrtCorrection2 = Float(correction2.squareRoot())
            let (b1, b2, eps) = (beta1, beta2, epsilon)
            for (name, tensor) in group.parameters {
                guard let grad = tensor.grad else { continue }
                let zeros = [Float](repeating: 0, count: m[name] == nil ? tensor.count : 0)
                // Mutating through the dictionary's own storage: no copy of the moments per step.
                m[name, default: zeros].withUnsafeMutableBufferPointer { mb in
                    v[name, default: zeros].withUnsafeMutableBufferPointer { vb in
                        grad.withUnsafeBufferPointer { g in
                            tensor.withUnsafeMutableBufferPointer { p in
                                // Element-wise, so the split over threads changes no result.
                                Threading.parallelFor(p.count, minimumChunk: 1 << 16) { range in
                                    for i in range {
                                        p[i] *= decay
                                        mb[i] += (1 - b1) * (g[i] - mb[i])  // torch's lerp form
                                        vb[i] = b2 * vb[i] + (1 - b2) * g[i] * g[i]
                                        p[i] -= stepSize * mb[i] / (vb[i].squareRoot() / sqrtCorrection2 + eps)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    public var state: OptimizerState {
        var buffers: [String: [[Float]]] = [:]
        for (name, mb) in m { buffers[name] = [mb, v[name] ?? []] }
        return OptimizerState(step: stepCount, buffers: buffers)
    }

    public func load(_ state: OptimizerState) throws {
        let sizes = Dictionary(groups.flatMap(\.parameters).map { ($0.name, $0.tensor.count) }, uniquingKeysWith: { a, _ in a })
        var newM: [String: [Float]] = [:], newV: [String: [Float]] = [:]
        for (name, pair) in state.buffers {
            guard let size = sizes[name] else { throw OptimizerStateError(message: "optimizer state has a parameter \(name) that this model does not train") }
            guard pair.count == 2, pair[0].count == size, pair[1].count == size else {
                throw OptimizerStateError(message: "optimizer state for \(name) does not fit its \(size) values")
            }
            newM[name] = pair[0]; newV[name] = pair[1]
        }
        stepCount = state.step; m = newM; v = newV
    }
}

/// Stochastic gradient descent with optional momentum and (coupled) weight decay, as torch.optim.SGD.
public final class SGD: Optimizer, @unchecked Sendable {
    public let groups: [ParameterGroup]
    public let momentum: Float
    private var stepCount = 0
    private var velocity: [String: [Float]] = [:]

    public init(groups: [ParameterGroup], momentum: Float = 0) {
        self.groups = groups; self.momentum = momentum
    }

    public func step(learningRateFactor: Double) {
        stepCount += 1
        for group in groups {
            let lr = Float(group.learningRate * learningRateFactor), wd = Float(group.weightDecay), mu = momentum
            for (name, tensor) in group.parameters {
                guard let grad = tensor.grad else { continue }
                var buffer = velocity[name]
                grad.withUnsafeBufferPointer { g in
                    tensor.withUnsafeMutableBufferPointer { p in
                        if mu == 0 {
                            for i in 0..<p.count { p[i] -= lr * (g[i] + wd * p[i]) }
                        } else {
                            var b = buffer ?? []
                            let first = b.isEmpty
                            if first { b = [Float](repeating: 0, count: p.count) }
                            for i in 0..<p.count {
                                let d = g[i] + wd * p[i]
                                b[i] = first ? d : mu * b[i] + d
                                p[i] -= lr * b[i]
                            }
                            buffer = b
                        }
                    }
                }
                if let buffer { velocity[name] = buffer }
            }
        }
    }

    public var state: OptimizerState {
        OptimizerState(step: stepCount, buffers: velocity.mapValues { [$0] })
    }

    public func load(_ state: OptimizerState) throws {
        var restored: [String: [Float]] = [:]
        let sizes = Dictionary(groups.flatMap(\.parameters).map { ($0.name, $0.tensor.count) }, uniquingKeysWith: { a, _ in a })
        for (name, buffers) in state.buffers {
            guard let size = sizes[name], buffers.count == 1, buffers[0].count == size else {
                throw OptimizerStateError(message: "optimizer state for \(name) does not fit this model")
            }
            restored[name] = buffers[0]
        }
        stepCount = state.step; velocity = restored
    }
}
