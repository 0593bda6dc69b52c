// Rotary position embedding in Llama's rotate-half convention (Hugging Face
// `apply_rotary_pos_emb`): the first and second halves of each head are the two
// coordinates rotated by angle position · θ^(−2i/D). Backward rotates back.
import Foundation

/// Precomputed cos/sin of rotary angles for positions 0..<maxPositions, as Llama builds them
/// (inverse frequencies and angles in Float32, like the reference implementation).
public struct RotaryTable: Sendable {
    /// Per-head dimension D (even).
    public let headDim: Int
    /// Base θ of the frequencies (10 000 for Llama 2, 100 000 for SmolLM, …).
    public let theta: Float
    /// Number of positions covered.
    public let maxPositions: Int
    /// cos and sin, each (maxPositions, D/2).
    let cosines: [Float]
    let sines: [Float]

    /// Builds the table; throws if `headDim` is odd or not positive.
    public init(headDim: Int, maxPositions: Int, theta: Float = 10_000) throws {
        guard headDim > 0, headDim % 2 == 0, maxPositions >= 0 else {
            throw TensorError.invalidArgument(op: "RotaryTable",
                                              detail: "head dimension \(headDim) must be positive and even")
        }
        let half = headDim / 2
        var cosines = [Float](repeating: 0, count: maxPositions * half)
        var sines = cosines
        for i in 0..<half {
            let inverseFrequency = 1 / Float(Foundation.pow(Double(theta), Double(2 * i) / Double(headDim)))
            for p in 0..<maxPositions {
                let angle = Double(Float(p) * inverseFrequency)
                cosines[p * half + i] = Float(Foundation.cos(angle))
                sines[p * half + i] = Float(Foundation.sin(angle))
            }
        }
        self.headDim = headDim
        self.theta = theta
        self.maxPositions = maxPositions
        self.cosines = cosines
        self.sines = sines
    }
}

/// Rotates rows of `heads` heads of width D; `positions[r]` is row r's position, `direction` ±1.
/// x, out: (rows, heads·D); cos/sin: (maxPositions, D/2). `accumulate` adds into out (backward).
func ropeKernel(out: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>,
                cosines: UnsafePointer<Float>, sines: UnsafePointer<Float>, positions: UnsafePointer<Int>,
                rows: Int, heads: Int, headDim d: Int, direction: Float, accumulate: Bool) {
    let half = d / 2, width = heads * d
    Threading.parallelFor(rows, minimumChunk: max(1, pointwiseGrain / max(width, 1))) { range in
        for r in range {
            let c = cosines + positions[r] * half, s = sines + positions[r] * half
            for h in 0..<heads {
                let xs = x + r * width + h * d, ys = out + r * width + h * d
                if accumulate {
                    for i in 0..<half {
                        let a = xs[i], b = xs[i + half], sn = direction * s[i]
                        ys[i] += a * c[i] - b * sn
                        ys[i + half] += b * c[i] + a * sn
                    }
                } else {
                    for i in 0..<half {
                        let a = xs[i], b = xs[i + half], sn = direction * s[i]
                        ys[i] = a * c[i] - b * sn
                        ys[i + half] = b * c[i] + a * sn
                    }
                }
            }
        }
    }
}

/// Applies rotary embeddings to queries or keys laid out (B, T, heads·D).
///
/// - Parameters:
///   - x: (B, T, heads·D) or (T, heads·D)
///   - positions: T positions shared by the batch, or B·T positions (left padding, KV cache)
///   - table: cos/sin for the positions; build once per model with `RotaryTable`
public func rope(_ x: Tensor, heads: Int, positions: [Int], table: RotaryTable) throws -> Tensor {
    let d = table.headDim
    guard x.rank >= 2, heads > 0, x.shape[x.rank - 1] == heads * d else {
        throw TensorError.invalidShape(op: "rope", shape: x.shape,
                                       detail: "last dimension must be heads (\(heads)) × head dim (\(d))")
    }
    let t = x.shape[x.rank - 2], rows = x.count / (heads * d), batch = t == 0 ? 0 : rows / t
    guard positions.count == t || positions.count == rows else {
        throw TensorError.shapeMismatch(op: "rope", lhs: x.shape, rhs: [positions.count],
                                        detail: "need T or B·T positions")
    }
    if let bad = positions.first(where: { $0 < 0 || $0 >= table.maxPositions }) {
        throw TensorError.invalidArgument(op: "rope", detail: "position \(bad) outside the table's 0..<\(table.maxPositions)")
    }
    if rows == 0 { return x }
    try Tensor.requireValues("rope", x)
    let rowPositions = positions.count == rows ? positions : Array((0..<batch).map { _ in positions }.joined())
    let y = Tensor(uninitializedShape: x.shape)
    table.cosines.withUnsafeBufferPointer { c in
        table.sines.withUnsafeBufferPointer { s in
            rowPositions.withUnsafeBufferPointer { p in
                ropeKernel(out: y.pointer, input: x.pointer, cosines: c.baseAddress!, sines: s.baseAddress!,
                           positions: p.baseAddress!, rows: rows, heads: heads, headDim: d,
                           direction: 1, accumulate: false)
            }
        }
    }
    if needsGraph(x) {
        let xs = x.slot
        record(y, op: "rope", inputs: [x]) { g in
            let (dx, beta) = xs.gradBuffer(zeroed: false)
            table.cosines.withUnsafeBufferPointer { c in
                table.sines.withUnsafeBufferPointer { s in
                    rowPositions.withUnsafeBufferPointer { p in
                        ropeKernel(out: dx, input: g.pointer, cosines: c.baseAddress!, sines: s.baseAddress!,
                                   positions: p.baseAddress!, rows: rows, heads: heads, headDim: d,
                                   direction: -1, accumulate: beta != 0)
                    }
                }
            }
        }
    }
    return y
}

/// Convenience form that builds the table for the positions given (θ default 10 000).
public func rope(_ x: Tensor, heads: Int, positions: [Int], theta: Float = 10_000) throws -> Tensor {
    guard heads > 0, x.rank >= 1, x.shape[x.rank - 1] % heads == 0 else {
        throw TensorError.invalidShape(op: "rope", shape: x.shape, detail: "last dimension not divisible by \(heads) heads")
    }
    let table = try RotaryTable(headDim: x.shape[x.rank - 1] / heads,
                                maxPositions: (positions.max() ?? -1) + 1, theta: theta)
    return try rope(x, heads: heads, positions: positions, table: table)
}
