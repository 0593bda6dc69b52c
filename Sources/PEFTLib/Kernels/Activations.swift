// Pointwise activations (GELU erf and tanh forms, quick-GELU, SiLU, tanh, sigmoid,
// ReLU), the SwiGLU product, softmax over the last axis and seeded dropout,
// each a forward/backward kernel pair on raw buffers plus its autodiff wrapper.

/// The pointwise activations with hand-written derivatives.
enum Activation: String, Sendable {
    case geluErf = "gelu", geluTanh = "gelu_tanh", quickGELU = "quick_gelu"
    case silu, tanh, sigmoid, relu
}

/// Elements per parallel chunk: below this a loop stays on one thread.
let pointwiseGrain = 1 << 15

/// y = f(x) for n elements.
func activationForward(_ kind: Activation, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count n: Int) {
    Threading.parallelFor(n, minimumChunk: pointwiseGrain) { range in
        let lo = range.lowerBound, m = range.count
        let xs = x + lo, ys = y + lo
        switch kind {
        case .geluErf:
            for i in 0..<m { let v = xs[i]; ys[i] = 0.5 * v * (1 + fastErf(v * 0.707_106_78)) }
        case .geluTanh:
            for i in 0..<m {
                let v = xs[i]
                ys[i] = 0.5 * v * (1 + fastTanh(0.797_884_56 * (v + 0.044_715 * v * v * v)))
            }
        case .quickGELU:
            for i in 0..<m { let v = xs[i]; ys[i] = v * fastSigmoid(1.702 * v) }
        case .silu:
            for i in 0..<m { let v = xs[i]; ys[i] = v * fastSigmoid(v) }
        case .tanh:
            for i in 0..<m { ys[i] = fastTanh(xs[i]) }
        case .sigmoid:
            for i in 0..<m { ys[i] = fastSigmoid(xs[i]) }
        case .relu:
            for i in 0..<m { ys[i] = Swift.max(xs[i], 0) }
        }
    }
}

/// dx += f'(x) · dy for n elements (y = f(x) is given for the forms that reuse it);
/// with `accumulate` false dx is uninitialised and gets overwritten (zeroed chunk by chunk).
func activationBackward(_ kind: Activation, x: UnsafePointer<Float>, y: UnsafePointer<Float>,
                        dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count n: Int,
                        accumulate: Bool) {
    Threading.parallelFor(n, minimumChunk: pointwiseGrain) { range in
        let lo = range.lowerBound, m = range.count
        let xs = x + lo, ys = y + lo, gs = dy + lo, ds = dx + lo
        if !accumulate { ds.update(repeating: 0, count: m) }
        switch kind {
        case .geluErf:
            for i in 0..<m {
                let v = xs[i]
                let cdf = 0.5 * (1 + fastErf(v * 0.707_106_78))
                let pdf = 0.398_942_28 * fastExp(-0.5 * v * v)
                ds[i] += gs[i] * (cdf + v * pdf)
            }
        case .geluTanh:
            for i in 0..<m {
                let v = xs[i]
                let th = fastTanh(0.797_884_56 * (v + 0.044_715 * v * v * v))
                let du = 0.797_884_56 * (1 + 3 * 0.044_715 * v * v)
                ds[i] += gs[i] * (0.5 * (1 + th) + 0.5 * v * (1 - th * th) * du)
            }
        case .quickGELU:
            for i in 0..<m {
                let v = xs[i], s = fastSigmoid(1.702 * v)
                ds[i] += gs[i] * (s + 1.702 * v * s * (1 - s))
            }
        case .silu:
            for i in 0..<m {
                let v = xs[i], s = fastSigmoid(v)
                ds[i] += gs[i] * s * (1 + v * (1 - s))
            }
        case .tanh:
            for i in 0..<m { let t = ys[i]; ds[i] += gs[i] * (1 - t * t) }
        case .sigmoid:
            for i in 0..<m { let s = ys[i]; ds[i] += gs[i] * s * (1 - s) }
        case .relu:
            for i in 0..<m { ds[i] += xs[i] > 0 ? gs[i] : 0 }
        }
    }
}

/// Applies a pointwise activation with autodiff.
func activation(_ kind: Activation, _ x: Tensor) -> Tensor {
    if x.isMeta { return Tensor.metaResult(x.shape) }
    let y = Tensor(uninitializedShape: x.shape)
    activationForward(kind, x: x.pointer, y: y.pointer, count: x.count)
    if needsGraph(x) {
        let saved = y.storage // not the tensor itself: no reference cycle through the node
        record(y, op: kind.rawValue, inputs: [x]) { g in
            let (dx, beta) = x.gradBuffer(zeroed: false)
            activationBackward(kind, x: x.pointer, y: saved.base, dy: g.pointer, dx: dx, count: x.count,
                               accumulate: beta != 0)
        }
    }
    return y
}

/// GELU approximation forms, as in PyTorch's `approximate` argument.
public enum GELUApproximation: String, Sendable { case none, tanh }

/// GELU: x·Φ(x) (erf form) or its tanh approximation ("gelu_new", "gelu_pytorch_tanh").
public func gelu(_ x: Tensor, approximation: GELUApproximation = .none) -> Tensor {
    activation(approximation == .none ? .geluErf : .geluTanh, x)
}
/// CLIP's quick-GELU: x·σ(1.702x).
public func quickGELU(_ x: Tensor) -> Tensor { activation(.quickGELU, x) }
/// SiLU (swish): x·σ(x).
public func silu(_ x: Tensor) -> Tensor { activation(.silu, x) }
/// Hyperbolic tangent.
public func tanh(_ x: Tensor) -> Tensor { activation(.tanh, x) }
/// Logistic sigmoid.
public func sigmoid(_ x: Tensor) -> Tensor { activation(.sigmoid, x) }
/// max(x, 0).
public func relu(_ x: Tensor) -> Tensor { activation(.relu, x) }

// MARK: - SwiGLU

/// Llama's MLP product silu(gate) · up, fused: one pass forward, one backward.
/// gate, up: same shape (…, intermediate).
public func swiglu(gate: Tensor, up: Tensor) throws -> Tensor {
    guard gate.shape == up.shape else {
        throw TensorError.shapeMismatch(op: "swiglu", lhs: gate.shape, rhs: up.shape)
    }
    try Tensor.requireValues("swiglu", gate, up)
    let y = Tensor(uninitializedShape: gate.shape)
    let pg = gate.pointer, pu = up.pointer, py = y.pointer
    Threading.parallelFor(y.count, minimumChunk: pointwiseGrain) { range in
        for i in range { let v = pg[i]; py[i] = v * fastSigmoid(v) * pu[i] }
    }
    if needsGraph(gate, up) {
        record(y, op: "swiglu", inputs: [gate, up]) { g in
            let dy = g.pointer, n = gate.count
            // Fresh buffers are zeroed chunk by chunk inside the parallel loop (cache-hot).
            let distinct = gate !== up
            let dGate = gate.requiresGrad ? gate.gradBuffer(zeroed: !distinct) : nil
            let dUp = up.requiresGrad ? up.gradBuffer(zeroed: !distinct) : nil
            Threading.parallelFor(n, minimumChunk: pointwiseGrain) { range in
                if let dGate, dGate.beta == 0 { (dGate.0 + range.lowerBound).update(repeating: 0, count: range.count) }
                if let dUp, dUp.beta == 0 { (dUp.0 + range.lowerBound).update(repeating: 0, count: range.count) }
                switch (dGate?.0, dUp?.0) {
                case let (dGate?, dUp?):
                    for i in range {
                        let v = pg[i], s = fastSigmoid(v)
                        dGate[i] += dy[i] * pu[i] * s * (1 + v * (1 - s))
                        dUp[i] += dy[i] * v * s
                    }
                case let (dGate?, nil):
                    for i in range {
                        let v = pg[i], s = fastSigmoid(v)
                        dGate[i] += dy[i] * pu[i] * s * (1 + v * (1 - s))
                    }
                case let (nil, dUp?):
                    for i in range { let v = pg[i]; dUp[i] += dy[i] * v * fastSigmoid(v) }
                case (nil, nil):
                    break
                }
            }
        }
    }
    return y
}

// MARK: - Softmax

/// Row-wise softmax over `n` columns: y = exp(x − max) / Σ.
func softmaxForward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, columns n: Int) {
    Threading.parallelFor(rows, minimumChunk: max(1, pointwiseGrain / max(n, 1))) { range in
        for r in range {
            let xs = x + r * n, ys = y + r * n
            let peak = vectorMax(xs, n)
            for j in 0..<n { ys[j] = fastExp(xs[j] - peak) }
            let inverse = 1 / vectorSum(ys, n)
            for j in 0..<n { ys[j] *= inverse }
        }
    }
}

/// dx += y ⊙ (dy − Σ dy·y) row-wise.
func softmaxBackward(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                     rows: Int, columns n: Int) {
    Threading.parallelFor(rows, minimumChunk: max(1, pointwiseGrain / max(n, 1))) { range in
        for r in range {
            let ys = y + r * n, gs = dy + r * n, ds = dx + r * n
            let dot = vectorDot(gs, ys, n)
            for j in 0..<n { ds[j] += ys[j] * (gs[j] - dot) }
        }
    }
}

/// Softmax over the last axis. x: (…, n).
public func softmax(_ x: Tensor) throws -> Tensor {
    guard x.rank >= 1 else {
        throw TensorError.invalidShape(op: "softmax", shape: x.shape, detail: "needs rank ≥ 1")
    }
    try Tensor.requireValues("softmax", x)
    let n = x.shape[x.rank - 1], rows = n == 0 ? 0 : x.count / n
    let y = Tensor(uninitializedShape: x.shape)
    softmaxForward(x: x.pointer, y: y.pointer, rows: rows, columns: n)
    if needsGraph(x) {
        let saved = y.storage, xs = x.slot
        record(y, op: "softmax", inputs: [x]) { g in
            let (dx, _) = xs.gradBuffer()
            softmaxBackward(y: saved.base, dy: g.pointer, dx: dx, rows: rows, columns: n)
        }
    }
    return y
}

// MARK: - Dropout

/// Inverted dropout: zeroes each element with probability p and scales survivors by 1/(1−p).
/// Deterministic given the generator (it advances by one draw per call); identity (no copy,
/// no node) when p is 0. The mask is a hash of (draw, element index) kept as one bit per
/// element for backward (a 32nd of a Float mask), built in parallel.
public func dropout(_ x: Tensor, probability p: Float, generator: inout RandomGenerator) throws -> Tensor {
    guard p >= 0, p < 1 else {
        throw TensorError.invalidArgument(op: "dropout", detail: "probability \(p) must be in [0, 1)")
    }
    if p == 0 { return x }
    try Tensor.requireValues("dropout", x)
    let n = x.count
    let mask = DropoutMask(key: generator.next(), probability: p, count: n)
    let y = Tensor(uninitializedShape: x.shape)
    let px = x.pointer, py = y.pointer
    mask.apply(px, into: py, accumulate: false)
    if needsGraph(x) {
        let xs = x.slot
        record(y, op: "dropout", inputs: [x]) { g in
            let (dx, beta) = xs.gradBuffer(zeroed: false)
            mask.apply(g.pointer, into: dx, accumulate: beta != 0)
        }
    }
    return y
}

/// A dropout mask: bit i set means element i is dropped, which happens when a 24-bit hash of
/// (key, i) falls below p · 2²⁴ (one 64-bit splitmix hash serves two elements).
final class DropoutMask: @unchecked Sendable {
    let count: Int
    let keep: Float
    private let words: UnsafeMutablePointer<UInt64>
    private let wordCount: Int

    init(key: UInt64, probability p: Float, count: Int) {
        self.count = count
        keep = 1 / (1 - p)
        wordCount = (count + 63) / 64
        words = .allocate(capacity: max(wordCount, 1))
        let threshold = UInt32((Double(p) * 16_777_216).rounded())
        let words = self.words, total = wordCount
        Threading.parallelFor(total, minimumChunk: 256) { range in
            for w in range {
                var bits: UInt64 = 0
                for pair in 0..<32 {
                    let z = RandomGenerator.splitmixFinalizer(
                        key &+ UInt64(truncatingIfNeeded: w * 32 + pair) &* 0x9E37_79B9_7F4A_7C15)
                    let low = UInt32(truncatingIfNeeded: z) >> 8, high = UInt32(truncatingIfNeeded: z >> 32) >> 8
                    bits |= (low < threshold ? 1 : 0) << UInt64(2 * pair)
                    bits |= (high < threshold ? 1 : 0) << UInt64(2 * pair + 1)
                }
                words[w] = bits
            }
        }
    }

    deinit { words.deallocate() }

    /// out[i] = source[i] · factor(i), or out[i] += … when accumulating.
    func apply(_ source: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let words = self.words, n = count, keep = self.keep
        Threading.parallelFor(wordCount, minimumChunk: 512) { range in
            for w in range {
                let bits = words[w], start = w * 64, end = min(start + 64, n)
                for i in start..<end {
                    let factor: Float = (bits >> UInt64(i - start)) & 1 == 0 ? keep : 0
                    if accumulate { out[i] += source[i] * factor } else { out[i] = source[i] * factor }
                }
            }
        }
    }
}
