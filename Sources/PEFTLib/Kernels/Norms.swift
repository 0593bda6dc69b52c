// RMSNorm (Llama) and LayerNorm (CLIP) over the last axis, as llm.c's
// layernorm_forward/backward: forward saves per-row statistics (mean, rstd),
// backward adds into dx, dweight and dbias.

// MARK: - RMSNorm kernels

/// y = x · rstd · w per row, rstd = 1/√(mean(x²) + eps). x, y: (N, C); w: (C); rstd: (N).
func rmsNormForward(out y: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                    input x: UnsafePointer<Float>, weight w: UnsafePointer<Float>,
                    rows: Int, channels c: Int, eps: Float) {
    Threading.parallelFor(rows, minimumChunk: max(1, pointwiseGrain / max(c, 1))) { range in
        for r in range {
            let xs = x + r * c, ys = y + r * c
            let squares = vectorDot(xs, xs, c)
            let s = 1 / (squares / Float(c) + eps).squareRoot()
            rstd[r] = s
            for j in 0..<c { ys[j] = xs[j] * s * w[j] }
        }
    }
}

/// dx += rstd · (dy·w − x̂ · mean(dy·w·x̂)), dw += Σ_rows dy · x̂, with x̂ = x · rstd.
func rmsNormBackward(dInput dx: UnsafeMutablePointer<Float>?, dWeight dw: UnsafeMutablePointer<Float>?,
                     dOut dy: UnsafePointer<Float>, input x: UnsafePointer<Float>,
                     weight w: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                     rows: Int, channels c: Int) {
    if let dx {
        Threading.parallelFor(rows, minimumChunk: max(1, pointwiseGrain / max(c, 1))) { range in
            for r in range {
                let xs = x + r * c, gs = dy + r * c, ds = dx + r * c, s = rstd[r]
                let dot = vectorDot3(gs, w, xs, c)
                let k = dot * s * s / Float(c)
                for j in 0..<c { ds[j] += s * (gs[j] * w[j] - xs[j] * k) }
            }
        }
    }
    if let dw {
        for r in 0..<rows {
            let xs = x + r * c, gs = dy + r * c, s = rstd[r]
            for j in 0..<c { dw[j] += gs[j] * xs[j] * s }
        }
    }
}

// MARK: - LayerNorm kernels

/// y = (x − mean) · rstd · w + b per row. x, y: (N, C); w, b: (C) or nil; mean, rstd: (N).
func layerNormForward(out y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                      rstd: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>,
                      weight w: UnsafePointer<Float>?, bias b: UnsafePointer<Float>?,
                      rows: Int, channels c: Int, eps: Float) {
    Threading.parallelFor(rows, minimumChunk: max(1, pointwiseGrain / max(c, 1))) { range in
        for r in range {
            let xs = x + r * c, ys = y + r * c
            let m = vectorSum(xs, c) / Float(c)
            for j in 0..<c { ys[j] = xs[j] - m }
            let variance = vectorDot(ys, ys, c)
            let s = 1 / (variance / Float(c) + eps).squareRoot()
            mean[r] = m; rstd[r] = s
            for j in 0..<c { ys[j] *= s }
            if let w { for j in 0..<c { ys[j] *= w[j] } }
            if let b { for j in 0..<c { ys[j] += b[j] } }
        }
    }
}

/// dx += rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ·x̂)) with ĝ = dy·w; dw += Σ dy·x̂; db += Σ dy.
/// `w` is all ones when the layer has no weight.
func layerNormBackward(dInput dx: UnsafeMutablePointer<Float>?, dWeight dw: UnsafeMutablePointer<Float>?,
                       dBias db: UnsafeMutablePointer<Float>?, dOut dy: UnsafePointer<Float>,
                       input x: UnsafePointer<Float>, weight w: UnsafePointer<Float>,
                       mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows: Int, channels c: Int) {
    if let dx {
        Threading.parallelFor(rows, minimumChunk: max(1, pointwiseGrain / max(c, 1))) { range in
            let centered = UnsafeMutablePointer<Float>.allocate(capacity: max(c, 1))
            defer { centered.deallocate() }
            for r in range {
                let xs = x + r * c, gs = dy + r * c, ds = dx + r * c
                let m = mean[r], s = rstd[r]
                // Σ ĝ and Σ ĝ·x̂ with ĝ = dy·w, x̂ = (x − m)·s (centred first: no cancellation)
                for j in 0..<c { centered[j] = xs[j] - m }
                let sumG = vectorDot(gs, w, c)
                let sumGX = s * vectorDot3(gs, w, centered, c)
                let meanG = sumG / Float(c), meanGX = sumGX / Float(c)
                for j in 0..<c {
                    ds[j] += s * (gs[j] * w[j] - meanG - (xs[j] - m) * s * meanGX)
                }
            }
        }
    }
    if dw != nil || db != nil {
        for r in 0..<rows {
            let xs = x + r * c, gs = dy + r * c, m = mean[r], s = rstd[r]
            if let dw { for j in 0..<c { dw[j] += gs[j] * (xs[j] - m) * s } }
            if let db { for j in 0..<c { db[j] += gs[j] } }
        }
    }
}

// MARK: - Ops

/// RMSNorm over the last axis (Llama): x / √(mean(x²) + eps) · weight.
/// x: (…, C), weight: (C).
public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float = 1e-6) throws -> Tensor {
    guard x.rank >= 1, weight.shape == [x.shape[x.rank - 1]] else {
        throw TensorError.shapeMismatch(op: "rmsNorm", lhs: x.shape, rhs: weight.shape,
                                        detail: "weight must be (C) for input (…, C)")
    }
    try Tensor.requireValues("rmsNorm", x, weight)
    let c = weight.count, rows = c == 0 ? 0 : x.count / c
    let y = Tensor(uninitializedShape: x.shape)
    let rstd = TensorStorage(count: rows, zeroed: false)
    rmsNormForward(out: y.pointer, rstd: rstd.base, input: x.pointer, weight: weight.pointer,
                   rows: rows, channels: c, eps: eps)
    if needsGraph(x, weight) {
        record(y, op: "rmsNorm", inputs: [x, weight]) { g in
            rmsNormBackward(dInput: x.requiresGrad ? x.gradBuffer().0 : nil,
                            dWeight: weight.requiresGrad ? weight.gradBuffer().0 : nil,
                            dOut: g.pointer, input: x.pointer, weight: weight.pointer,
                            rstd: rstd.base, rows: rows, channels: c)
        }
    }
    return y
}

/// LayerNorm over the last axis (CLIP): (x − mean) / √(var + eps) · weight + bias.
/// x: (…, C), weight and bias: (C) or nil.
public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) throws -> Tensor {
    guard x.rank >= 1 else {
        throw TensorError.invalidShape(op: "layerNorm", shape: x.shape, detail: "needs rank ≥ 1")
    }
    let c = x.shape[x.rank - 1], rows = c == 0 ? 0 : x.count / c
    for p in [weight, bias].compactMap({ $0 }) where p.shape != [c] {
        throw TensorError.shapeMismatch(op: "layerNorm", lhs: x.shape, rhs: p.shape,
                                        detail: "weight and bias must be (C) for input (…, C)")
    }
    try Tensor.requireValues("layerNorm", x, weight, bias)
    let y = Tensor(uninitializedShape: x.shape)
    let stats = TensorStorage(count: 2 * rows, zeroed: false) // mean, then rstd
    layerNormForward(out: y.pointer, mean: stats.base, rstd: stats.base + rows, input: x.pointer,
                     weight: weight?.pointer, bias: bias?.pointer, rows: rows, channels: c, eps: eps)
    if needsGraph(x, weight, bias) {
        let ones: TensorStorage? = weight == nil ? TensorStorage(count: c, zeroed: false) : nil
        ones?.base.update(repeating: 1, count: c)
        record(y, op: "layerNorm", inputs: [x] + [weight, bias].compactMap { $0 }) { g in
            layerNormBackward(dInput: x.requiresGrad ? x.gradBuffer().0 : nil,
                              dWeight: weight?.requiresGrad == true ? weight?.gradBuffer().0 : nil,
                              dBias: bias?.requiresGrad == true ? bias?.gradBuffer().0 : nil,
                              dOut: g.pointer, input: x.pointer, weight: weight?.pointer ?? ones!.base,
                              mean: stats.base, rstd: stats.base + rows, rows: rows, channels: c)
        }
    }
    return y
}
