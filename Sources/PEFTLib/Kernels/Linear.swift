// Linear layers and matrix products on sgemm. Transposes are BLAS flags, gradients
// accumulate with beta 1, and a GEMM runs only when its result is needed: no
// weight-gradient GEMM for a frozen weight, no input-gradient GEMM for an input
// that needs no grad (the property PEFT's speed rests on).

// MARK: - Kernels on raw buffers

/// y (M, N) = x (M, K) · Wᵀ (W is (N, K), torch layout) [+ bias (N)].
func linearForward(out y: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>,
                   weight w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                   rows m: Int, inFeatures k: Int, outFeatures n: Int) {
    var beta: Float = 0
    if let bias {
        for r in 0..<m { (y + r * n).update(from: bias, count: n) }
        beta = 1
    }
    BLAS.sgemm(transposeA: false, transposeB: true, m: m, n: n, k: k,
               a: x, lda: k, b: w, ldb: k, beta: beta, c: y, ldc: n)
}

/// Backward of `linearForward`; each gradient pointer may be nil to skip its work.
/// dx (M, K) (+)= dy · W; dW (N, K) (+)= dyᵀ · x; db (N) += Σ_rows dy.
func linearBackward(dInput dx: UnsafeMutablePointer<Float>?, dxBeta: Float,
                    dWeight dw: UnsafeMutablePointer<Float>?, dwBeta: Float,
                    dBias db: UnsafeMutablePointer<Float>?,
                    dOut dy: UnsafePointer<Float>, input x: UnsafePointer<Float>?,
                    weight w: UnsafePointer<Float>?, rows m: Int, inFeatures k: Int, outFeatures n: Int) {
    if let dx, let w {
        BLAS.sgemm(transposeA: false, transposeB: false, m: m, n: k, k: n,
                   a: dy, lda: n, b: w, ldb: k, beta: dxBeta, c: dx, ldc: k)
    }
    if let dw, let x {
        BLAS.sgemm(transposeA: true, transposeB: false, m: n, n: k, k: m,
                   a: dy, lda: n, b: x, ldb: k, beta: dwBeta, c: dw, ldc: k)
    }
    if let db {
        for r in 0..<m {
            let row = dy + r * n
            for j in 0..<n { db[j] += row[j] }
        }
    }
}

// MARK: - Ops

/// A linear layer: y = x · Wᵀ + b over the last axis.
///
/// - Parameters:
///   - x: (…, inFeatures)
///   - weight: (outFeatures, inFeatures), as stored by PyTorch / Hugging Face
///   - bias: (outFeatures) or nil
/// - Returns: (…, outFeatures)
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) throws -> Tensor {
    guard weight.rank == 2, x.rank >= 1, x.shape[x.rank - 1] == weight.shape[1] else {
        throw TensorError.shapeMismatch(op: "linear", lhs: x.shape, rhs: weight.shape,
                                        detail: "input's last dimension must equal weight's second")
    }
    let k = weight.shape[1], n = weight.shape[0], m = x.shape.dropLast().reduce(1, *)
    if let bias, bias.shape != [n] {
        throw TensorError.shapeMismatch(op: "linear(bias)", lhs: weight.shape, rhs: bias.shape,
                                        detail: "bias must be (outFeatures)")
    }
    try Tensor.requireValues("linear", x, weight, bias)
    var outShape = x.shape
    outShape[outShape.count - 1] = n
    let y = Tensor(uninitializedShape: outShape)
    linearForward(out: y.pointer, input: x.pointer, weight: weight.pointer, bias: bias?.pointer,
                  rows: m, inFeatures: k, outFeatures: n)
    if needsGraph(x, weight, bias) {
        var inputs = [x, weight]
        if let bias { inputs.append(bias) }
        // Keep the input's values only for the weight's gradient (a frozen base layer saves nothing).
        let xs = x.slot, ws = weight.slot, bs = bias?.slot
        let savedInput = weight.requiresGrad ? x : nil
        let savedWeight = x.requiresGrad ? weight : nil
        record(y, op: "linear", inputs: inputs) { g in
            let dx = savedWeight != nil && xs.requiresGrad ? xs.gradBuffer(zeroed: false) : nil
            let dw = savedInput != nil && ws.requiresGrad ? ws.gradBuffer(zeroed: false) : nil
            let db = bs?.requiresGrad == true ? bs?.gradBuffer().0 : nil
            linearBackward(dInput: dx?.0, dxBeta: dx?.beta ?? 0,
                           dWeight: dw?.0, dwBeta: dw?.beta ?? 0, dBias: db,
                           dOut: g.pointer, input: savedInput?.pointer, weight: savedWeight?.pointer,
                           rows: m, inFeatures: k, outFeatures: n)
        }
    }
    return y
}

/// y + scale · (x · Wᵀ), fused: one GEMM accumulating into a copy of `y` (LoRA's
/// `base(x) + (α / r) · B (A x)` with `x` = A x and `weight` = B). No bias.
///
/// - Parameters:
///   - y: (…, outFeatures)
///   - x: (…, inFeatures), same leading axes as `y`
///   - weight: (outFeatures, inFeatures)
public func addLinear(_ y: Tensor, _ x: Tensor, weight: Tensor, scale: Float) throws -> Tensor {
    let k = weight.shape.count == 2 ? weight.shape[1] : -1, n = weight.shape.first ?? -1
    guard weight.rank == 2, x.rank >= 1, x.shape.last == k, y.shape.last == n,
          Array(x.shape.dropLast()) == Array(y.shape.dropLast()) else {
        throw TensorError.shapeMismatch(op: "addLinear", lhs: x.shape, rhs: weight.shape,
                                        detail: "x (…, in), weight (out, in) and y (…, out) must agree")
    }
    try Tensor.requireValues("addLinear", y, x, weight)
    let m = x.count / max(k, 1)
    let out = Tensor(uninitializedShape: y.shape)
    out.pointer.update(from: y.pointer, count: y.count)
    if m > 0 && n > 0 && k > 0 {
        BLAS.sgemm(transposeA: false, transposeB: true, m: m, n: n, k: k, alpha: scale,
                   a: x.pointer, lda: k, b: weight.pointer, ldb: k, beta: 1, c: out.pointer, ldc: n)
    }
    if needsGraph(y, x, weight) {
        let ys = y.slot, xs = x.slot, ws = weight.slot
        let savedX = weight.requiresGrad ? x : nil, savedW = x.requiresGrad ? weight : nil
        record(out, op: "addLinear", inputs: [y, x, weight]) { g in
            if ys.requiresGrad { ys.accumulateGrad(from: g.pointer) }
            if let savedW, xs.requiresGrad, m > 0 {
                let (dx, beta) = xs.gradBuffer(zeroed: false)
                BLAS.sgemm(transposeA: false, transposeB: false, m: m, n: k, k: n, alpha: scale,
                           a: g.pointer, lda: n, b: savedW.pointer, ldb: k, beta: beta, c: dx, ldc: k)
            }
            if let savedX, ws.requiresGrad {
                let (dw, beta) = ws.gradBuffer(zeroed: false)
                if m == 0 { if beta == 0 { dw.update(repeating: 0, count: n * k) } } else {
                    BLAS.sgemm(transposeA: true, transposeB: false, m: n, n: k, k: m, alpha: scale,
                               a: g.pointer, lda: n, b: savedX.pointer, ldb: k, beta: beta, c: dw, ldc: k)
                }
            }
        }
    }
    return out
}

/// Matrix product with optional transposes (as BLAS flags), batched over leading axes.
///
/// - a: (…, M, K), or (…, K, M) with `transposeA`
/// - b: (…, K, N), or (…, N, K) with `transposeB`; a rank-2 `b` is shared across the batch
/// - Returns: (…, M, N)
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false,
                   transposeB: Bool = false) throws -> Tensor {
    guard a.rank >= 2, b.rank >= 2 else {
        throw TensorError.shapeMismatch(op: "matmul", lhs: a.shape, rhs: b.shape, detail: "needs rank ≥ 2")
    }
    let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
    let m = transposeA ? ac : ar, k = transposeA ? ar : ac
    let kb = transposeB ? bc : br, n = transposeB ? br : bc
    let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
    guard k == kb, batchB.isEmpty || batchA == batchB else {
        throw TensorError.shapeMismatch(op: "matmul", lhs: a.shape, rhs: b.shape,
                                        detail: "inner dimensions or batch dimensions differ")
    }
    try Tensor.requireValues("matmul", a, b)
    let batch = batchA.reduce(1, *)
    let sharedB = batchB.isEmpty && batch > 1
    let strideA = m * k, strideB = sharedB ? 0 : k * n, strideC = m * n
    let y = Tensor(uninitializedShape: batchA + [m, n])
    let pa = a.pointer, pb = b.pointer, pc = y.pointer
    if sharedB && !transposeA {
        // One tall GEMM: (batch·M, K) · op(B).
        BLAS.sgemm(transposeA: false, transposeB: transposeB, m: batch * m, n: n, k: k,
                   a: pa, lda: ac, b: pb, ldb: bc, beta: 0, c: pc, ldc: n)
    } else {
        for i in 0..<batch {
            BLAS.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                       a: pa + i * strideA, lda: ac, b: pb + i * strideB, ldb: bc,
                       beta: 0, c: pc + i * strideC, ldc: n)
        }
    }
    if needsGraph(a, b) {
        // Each input's values are kept only for the other input's gradient.
        let aSlot = a.slot, bSlot = b.slot
        let savedA = b.requiresGrad ? a : nil, savedB = a.requiresGrad ? b : nil
        record(y, op: "matmul", inputs: [a, b]) { g in
            let pg = g.pointer
            if let savedB, aSlot.requiresGrad {
                let pb = savedB.pointer
                let (da, beta) = aSlot.gradBuffer(zeroed: false)
                for i in 0..<batch {
                    let dg = pg + i * strideC, bi = pb + i * strideB, dai = da + i * strideA
                    if transposeA {
                        // dA (K, M) = op(B) · dCᵀ
                        BLAS.sgemm(transposeA: transposeB, transposeB: true, m: k, n: m, k: n,
                                   a: bi, lda: bc, b: dg, ldb: n, beta: beta, c: dai, ldc: ac)
                    } else {
                        // dA (M, K) = dC · op(B)ᵀ
                        BLAS.sgemm(transposeA: false, transposeB: !transposeB, m: m, n: k, k: n,
                                   a: dg, lda: n, b: bi, ldb: bc, beta: beta, c: dai, ldc: ac)
                    }
                }
            }
            if let savedA, bSlot.requiresGrad {
                let pa = savedA.pointer
                let (db, beta0) = bSlot.gradBuffer(zeroed: false)
                for i in 0..<batch {
                    let dg = pg + i * strideC, ai = pa + i * strideA, dbi = db + i * strideB
                    let beta: Float = sharedB && i > 0 ? 1 : beta0
                    if transposeB {
                        // dB (N, K) = dCᵀ · op(A)
                        BLAS.sgemm(transposeA: true, transposeB: transposeA, m: n, n: k, k: m,
                                   a: dg, lda: n, b: ai, ldb: ac, beta: beta, c: dbi, ldc: bc)
                    } else {
                        // dB (K, N) = op(A)ᵀ · dC
                        BLAS.sgemm(transposeA: !transposeA, transposeB: false, m: k, n: n, k: m,
                                   a: ai, lda: ac, b: dg, ldb: n, beta: beta, c: dbi, ldc: bc)
                    }
                }
            }
        }
    }
    return y
}
