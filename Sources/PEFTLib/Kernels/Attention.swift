// Scaled dot-product attention with grouped-query heads, optional prefix keys/values
// (prefix-tuning's virtual tokens, always visible), causal masking and a key padding
// mask. Heads stay interleaved in (B, T, heads·D): each head is a strided matrix that
// sgemm reads with lda = heads·D, so QKᵀ and PV run as GEMMs without any transpose copy.
// Causal attention runs in blocks of query rows whose GEMMs stop at the last visible key.
// Work is split over (batch, kv-head) units, each on one BLAS thread. Forward saves the
// probabilities (B, heads, Tq, P + Tk) for backward; inference keeps only per-worker scratch.

/// Sizes of one attention call.
struct AttentionGeometry {
    let batch: Int, queries: Int, keys: Int, prefix: Int
    let heads: Int, kvHeads: Int, headDim: Int
    let causal: Bool, scale: Float
    /// Keys per query row: prefix + keys.
    var width: Int { prefix + keys }
    var qRow: Int { heads * headDim }
    var kvRow: Int { kvHeads * headDim }
    var group: Int { heads / kvHeads }
    /// Number of visible main keys for query i (causal alignment at the end).
    @inline(__always) func visibleKeys(query i: Int) -> Int {
        causal ? Swift.max(0, Swift.min(keys, i + keys - queries + 1)) : keys
    }
    /// Causal attention splits query rows into blocks of about 32 so each block's GEMMs
    /// stop at the last key it can see (two blocks skip a quarter of the work, three a third).
    var blockCount: Int { causal ? Swift.min(8, Swift.max(1, (queries + 31) / 32)) : 1 }
    /// Query rows of block k.
    @inline(__always) func block(_ k: Int) -> Range<Int> {
        let size = (queries + blockCount - 1) / Swift.max(blockCount, 1)
        return Swift.min(queries, k * size)..<Swift.min(queries, (k + 1) * size)
    }
    /// Main keys block k's GEMMs cover: those visible to its last row.
    @inline(__always) func blockKeys(_ rows: Range<Int>) -> Int {
        rows.isEmpty ? 0 : visibleKeys(query: rows.upperBound - 1)
    }
    /// Σ over blocks of rows × main keys covered: the (query, key) pairs the GEMMs compute.
    var coveredPairs: Int {
        (0..<blockCount).reduce(0) { total, k in let rows = block(k); return total + rows.count * blockKeys(rows) }
    }
}

/// Pointers of one attention call; prefix pointers are nil without prefix.
struct AttentionBuffers {
    let q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>
    /// Prefix keys/values and their batch stride (0 when shared by the batch).
    let pk: UnsafeMutablePointer<Float>?, pv: UnsafeMutablePointer<Float>?, prefixBatchStride: Int
    /// (B, P + Tk) keep flags: 1 visible, 0 padded.
    let keep: UnsafePointer<Float>
    /// True when some key is padding (the softmax then applies `keep`).
    let padded: Bool
}

/// Forward of one (batch b, kv head g) unit for all its query heads.
/// probs: (group, Tq, L) for this unit; out: (B, Tq, heads·D).
func attentionForwardUnit(b: Int, g: Int, geo: AttentionGeometry, buf: AttentionBuffers,
                          probs: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
    let (tq, tk, p, d, l) = (geo.queries, geo.keys, geo.prefix, geo.headDim, geo.width)
    let kBase = buf.k + b * tk * geo.kvRow + g * d
    let vBase = buf.v + b * tk * geo.kvRow + g * d
    let pkBase = buf.pk.map { $0 + b * buf.prefixBatchStride + g * d }
    let pvBase = buf.pv.map { $0 + b * buf.prefixBatchStride + g * d }
    let keep = buf.keep + b * l
    for local in 0..<geo.group {
        let h = g * geo.group + local
        let qHead = buf.q + b * tq * geo.qRow + h * d
        let oHead = out + b * tq * geo.qRow + h * d
        for blockIndex in 0..<geo.blockCount {
            let rows = geo.block(blockIndex)
            if rows.isEmpty { continue }
            let m = rows.count, kv = geo.blockKeys(rows)
            let s = probs + (local * tq + rows.lowerBound) * l
            let qBase = qHead + rows.lowerBound * geo.qRow
            // S (m, P + kv) = scale · Q_rows · [Kp; K[:kv]]ᵀ
            if p > 0, let pkBase {
                BLAS.sgemmSerial(transposeA: false, transposeB: true, m: m, n: p, k: d, alpha: geo.scale,
                                    a: qBase, lda: geo.qRow, b: pkBase, ldb: geo.kvRow, beta: 0, c: s, ldc: l)
            }
            BLAS.sgemmSerial(transposeA: false, transposeB: true, m: m, n: kv, k: d, alpha: geo.scale,
                                a: qBase, lda: geo.qRow, b: kBase, ldb: geo.kvRow, beta: 0, c: s + p, ldc: l)
            // Masked softmax per query row; invisible keys get probability exactly 0.
            for i in rows {
                let row = s + (i - rows.lowerBound) * l
                let end = p + geo.visibleKeys(query: i)
                if buf.padded {
                    for j in 0..<end { row[j] = keep[j] > 0 ? row[j] : -Float.infinity }
                }
                let peak = vectorMax(row, end)
                if peak == -Float.infinity {
                    row.update(repeating: 0, count: l)
                    continue
                }
                if buf.padded {
                    for j in 0..<end { row[j] = fastExp(row[j] - peak) * keep[j] }
                } else {
                    for j in 0..<end { row[j] = fastExp(row[j] - peak) }
                }
                let inverse = 1 / vectorSum(row, end)
                for j in 0..<end { row[j] *= inverse }
                if end < l { (row + end).update(repeating: 0, count: l - end) }
            }
            // O_rows (m, D) = P_rows · [Vp; V[:kv]]
            let oBase = oHead + rows.lowerBound * geo.qRow
            var beta: Float = 0
            if p > 0, let pvBase {
                BLAS.sgemmSerial(transposeA: false, transposeB: false, m: m, n: d, k: p,
                                    a: s, lda: l, b: pvBase, ldb: geo.kvRow, beta: 0, c: oBase, ldc: geo.qRow)
                beta = 1
            }
            BLAS.sgemmSerial(transposeA: false, transposeB: false, m: m, n: d, k: kv,
                                a: s + p, lda: l, b: vBase, ldb: geo.kvRow, beta: beta, c: oBase, ldc: geo.qRow)
        }
    }
}

/// Gradient pointers of one attention backward; nil skips that gradient's GEMMs.
/// Prefix gradients are (B, P, kvHeads·D) scratch, reduced over the batch by the caller if shared.
struct AttentionGradients {
    let dq, dk, dv, dpk, dpv: UnsafeMutablePointer<Float>?
    /// 0 when dq/dk/dv are fresh, uninitialised buffers: the first GEMM into each region
    /// overwrites instead of accumulating (blocks run last-first so the first covers all keys).
    let dqBeta, dkBeta, dvBeta: Float
}

/// Backward of one (b, g) unit, block by block like the forward. dO: (B, Tq, heads·D);
/// scratch: (Tq, L) for dP, then dS in place.
func attentionBackwardUnit(b: Int, g: Int, geo: AttentionGeometry, buf: AttentionBuffers,
                           probs: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                           grads: AttentionGradients, scratch: UnsafeMutablePointer<Float>) {
    let (tq, tk, p, d, l) = (geo.queries, geo.keys, geo.prefix, geo.headDim, geo.width)
    let kvOffset = b * tk * geo.kvRow + g * d
    let prefixOffset = b * p * geo.kvRow + g * d // into the (B, P, kvRow) prefix-grad scratch
    let pkBase = buf.pk.map { $0 + b * buf.prefixBatchStride + g * d }
    let pvBase = buf.pv.map { $0 + b * buf.prefixBatchStride + g * d }
    for local in 0..<geo.group {
        let h = g * geo.group + local
        for blockIndex in stride(from: geo.blockCount - 1, through: 0, by: -1) {
            let rows = geo.block(blockIndex)
            if rows.isEmpty { continue }
            let m = rows.count, kv = geo.blockKeys(rows), w = p + kv
            // The first block processed for the first head covers every key: it may overwrite.
            let firstKV = local == 0 && blockIndex == geo.blockCount - 1
            let dkBeta: Float = firstKV ? grads.dkBeta : 1, dvBeta: Float = firstKV ? grads.dvBeta : 1
            let qOffset = b * tq * geo.qRow + h * d + rows.lowerBound * geo.qRow
            let pr = probs + (local * tq + rows.lowerBound) * l
            let dO = dOut + qOffset
            let dp = scratch + rows.lowerBound * l
            // dP (m, P + kv) = dO_rows · [Vp; V[:kv]]ᵀ
            if p > 0, let pvBase {
                BLAS.sgemmSerial(transposeA: false, transposeB: true, m: m, n: p, k: d,
                                    a: dO, lda: geo.qRow, b: pvBase, ldb: geo.kvRow, beta: 0, c: dp, ldc: l)
            }
            BLAS.sgemmSerial(transposeA: false, transposeB: true, m: m, n: kv, k: d,
                                a: dO, lda: geo.qRow, b: buf.v + kvOffset, ldb: geo.kvRow, beta: 0, c: dp + p, ldc: l)
            // dV[:kv] += P_rowsᵀ · dO_rows ; dVp += P_rows[:, :P]ᵀ · dO_rows
            if let dv = grads.dv {
                BLAS.sgemmSerial(transposeA: true, transposeB: false, m: kv, n: d, k: m,
                                    a: pr + p, lda: l, b: dO, ldb: geo.qRow, beta: dvBeta, c: dv + kvOffset, ldc: geo.kvRow)
            }
            if p > 0, let dpv = grads.dpv {
                BLAS.sgemmSerial(transposeA: true, transposeB: false, m: p, n: d, k: m,
                                    a: pr, lda: l, b: dO, ldb: geo.qRow, beta: 1, c: dpv + prefixOffset, ldc: geo.kvRow)
            }
            // dS = P ⊙ (dP − rowsum(dP ⊙ P)) · scale over the covered columns (P is 0 beyond).
            for i in 0..<m {
                let row = dp + i * l, prow = pr + i * l
                let dot = vectorDot(row, prow, w)
                for j in 0..<w { row[j] = prow[j] * (row[j] - dot) * geo.scale }
            }
            // dQ_rows += dS · [Kp; K[:kv]]
            if let dq = grads.dq {
                var beta = grads.dqBeta
                if p > 0, let pkBase {
                    BLAS.sgemmSerial(transposeA: false, transposeB: false, m: m, n: d, k: p,
                                        a: dp, lda: l, b: pkBase, ldb: geo.kvRow, beta: beta, c: dq + qOffset, ldc: geo.qRow)
                    beta = 1
                }
                BLAS.sgemmSerial(transposeA: false, transposeB: false, m: m, n: d, k: kv,
                                    a: dp + p, lda: l, b: buf.k + kvOffset, ldb: geo.kvRow,
                                    beta: beta, c: dq + qOffset, ldc: geo.qRow)
            }
            // dK[:kv] += dSᵀ · Q_rows ; dKp += dS[:, :P]ᵀ · Q_rows
            if let dk = grads.dk {
                BLAS.sgemmSerial(transposeA: true, transposeB: false, m: kv, n: d, k: m,
                                    a: dp + p, lda: l, b: buf.q + qOffset, ldb: geo.qRow,
                                    beta: dkBeta, c: dk + kvOffset, ldc: geo.kvRow)
            }
            if p > 0, let dpk = grads.dpk {
                BLAS.sgemmSerial(transposeA: true, transposeB: false, m: p, n: d, k: m,
                                    a: dp, lda: l, b: buf.q + qOffset, ldb: geo.qRow,
                                    beta: 1, c: dpk + prefixOffset, ldc: geo.kvRow)
            }
        }
    }
}

// MARK: - Op

/// Multi-head scaled dot-product attention with grouped-query heads, as Llama and CLIP use it.
///
/// - Parameters:
///   - query: (B, Tq, heads·D)
///   - key, value: (B, Tk, kvHeads·D); query head h reads kv head h / (heads / kvHeads)
///   - causal: query i sees keys j ≤ i + (Tk − Tq) (the last Tq positions of Tk)
///   - prefixKey, prefixValue: (P, kvHeads·D) shared by the batch or (B, P, kvHeads·D);
///     virtual tokens before every sequence, always visible (prefix-tuning)
///   - paddingMask: B·Tk flags, true for a real key, false for padding (Hugging Face's
///     attention_mask); a query that sees no key outputs zeros
///   - scale: defaults to 1/√D
/// - Returns: (B, Tq, heads·D), heads interleaved like the input of `o_proj`.
public func attention(query q: Tensor, key k: Tensor, value v: Tensor, heads: Int, kvHeads: Int,
                      causal: Bool = true, prefixKey: Tensor? = nil, prefixValue: Tensor? = nil,
                      paddingMask: [Bool]? = nil, scale: Float? = nil) throws -> Tensor {
    guard heads > 0, kvHeads > 0, heads % kvHeads == 0 else {
        throw TensorError.invalidArgument(op: "attention",
                                          detail: "heads (\(heads)) must be a positive multiple of kvHeads (\(kvHeads))")
    }
    guard q.rank == 3, q.shape[2] % heads == 0, q.shape[2] > 0 else {
        throw TensorError.invalidShape(op: "attention", shape: q.shape,
                                       detail: "query must be (B, T, heads·D) with heads = \(heads)")
    }
    let (batch, tq, d) = (q.shape[0], q.shape[1], q.shape[2] / heads)
    guard k.rank == 3, k.shape[0] == batch, k.shape[2] == kvHeads * d else {
        throw TensorError.shapeMismatch(op: "attention", lhs: q.shape, rhs: k.shape,
                                        detail: "key must be (B, Tk, kvHeads·D) = (\(batch), Tk, \(kvHeads * d))")
    }
    guard v.shape == k.shape else {
        throw TensorError.shapeMismatch(op: "attention", lhs: k.shape, rhs: v.shape, detail: "key and value differ")
    }
    let tk = k.shape[1], kvRow = kvHeads * d
    var prefixLength = 0, prefixBatchStride = 0
    switch (prefixKey, prefixValue) {
    case (nil, nil): break
    case let (pk?, pv?):
        guard pk.shape == pv.shape else {
            throw TensorError.shapeMismatch(op: "attention(prefix)", lhs: pk.shape, rhs: pv.shape,
                                            detail: "prefix key and value differ")
        }
        if pk.rank == 2, pk.shape[1] == kvRow {
            prefixLength = pk.shape[0]
        } else if pk.rank == 3, pk.shape[0] == batch, pk.shape[2] == kvRow {
            prefixLength = pk.shape[1]
            prefixBatchStride = prefixLength * kvRow
        } else {
            throw TensorError.shapeMismatch(op: "attention(prefix)", lhs: k.shape, rhs: pk.shape,
                                            detail: "prefix must be (P, \(kvRow)) or (\(batch), P, \(kvRow))")
        }
    default:
        throw TensorError.invalidArgument(op: "attention", detail: "prefix key and value must be given together")
    }
    if let paddingMask, paddingMask.count != batch * tk {
        throw TensorError.shapeMismatch(op: "attention(paddingMask)", lhs: k.shape, rhs: [paddingMask.count],
                                        detail: "need B·Tk = \(batch * tk) flags")
    }
    try Tensor.requireValues("attention", q, k, v, prefixKey, prefixValue)
    let geo = AttentionGeometry(batch: batch, queries: tq, keys: tk, prefix: prefixLength,
                                heads: heads, kvHeads: kvHeads, headDim: d, causal: causal,
                                scale: scale ?? 1 / Float(d).squareRoot())
    let l = geo.width
    let keep = TensorStorage(count: batch * l, zeroed: false)
    for b in 0..<batch {
        let row = keep.base + b * l
        row.update(repeating: 1, count: prefixLength)
        for j in 0..<tk { row[prefixLength + j] = (paddingMask?[b * tk + j] ?? true) ? 1 : 0 }
    }
    let buffers = AttentionBuffers(q: q.pointer, k: k.pointer, v: v.pointer,
                                   pk: prefixKey?.pointer, pv: prefixValue?.pointer,
                                   prefixBatchStride: prefixBatchStride, keep: keep.base,
                                   padded: paddingMask?.contains(false) ?? false)
    let recording = needsGraph(q, k, v, prefixKey, prefixValue)
    let probs: TensorStorage? = recording ? TensorStorage(count: batch * heads * tq * l, zeroed: false) : nil
    let out = Tensor(uninitializedShape: [batch, tq, heads * d])
    let units = batch * kvHeads, unitProbs = geo.group * tq * l
    Threading.parallelFor(units) { range in
        let scratch = probs == nil ? UnsafeMutablePointer<Float>.allocate(capacity: unitProbs) : nil
        defer { scratch?.deallocate() }
        for u in range {
            let target = probs.map { $0.base + u * unitProbs } ?? scratch!
            attentionForwardUnit(b: u / kvHeads, g: u % kvHeads, geo: geo, buf: buffers,
                                 probs: target, out: out.pointer)
        }
    }
    let covered = geo.coveredPairs, blocks = geo.blockCount
    let gemmsPerBlock = prefixLength > 0 ? 4 : 2
    OpCounters.countGEMM(calls: gemmsPerBlock * blocks * batch * heads,
                         flops: 4 * batch * heads * d * (covered + tq * prefixLength))
    guard recording, let probs else { return out }

    var inputs = [q, k, v]
    if let prefixKey, let prefixValue { inputs += [prefixKey, prefixValue] }
    record(out, op: "attention", inputs: inputs) { g in
        let prefixGradCount = batch * prefixLength * kvRow
        let needPK = prefixLength > 0 && prefixKey?.requiresGrad == true
        let needPV = prefixLength > 0 && prefixValue?.requiresGrad == true
        let dpk = needPK ? UnsafeMutablePointer<Float>.allocate(capacity: prefixGradCount) : nil
        let dpv = needPV ? UnsafeMutablePointer<Float>.allocate(capacity: prefixGradCount) : nil
        dpk?.initialize(repeating: 0, count: prefixGradCount)
        dpv?.initialize(repeating: 0, count: prefixGradCount)
        defer { dpk?.deallocate(); dpv?.deallocate() }
        // Overwriting fresh buffers is only safe when q, k and v are distinct tensors.
        let distinct = q !== k && q !== v && k !== v
        let dq = q.requiresGrad ? q.gradBuffer(zeroed: !distinct) : nil
        let dk = k.requiresGrad ? k.gradBuffer(zeroed: !distinct) : nil
        let dv = v.requiresGrad ? v.gradBuffer(zeroed: !distinct) : nil
        let grads = AttentionGradients(dq: dq?.0, dk: dk?.0, dv: dv?.0, dpk: dpk, dpv: dpv,
                                       dqBeta: dq?.beta ?? 1, dkBeta: dk?.beta ?? 1, dvBeta: dv?.beta ?? 1)
        Threading.parallelFor(units) { range in
            let dp = UnsafeMutablePointer<Float>.allocate(capacity: tq * l)
            defer { dp.deallocate() }
            for u in range {
                attentionBackwardUnit(b: u / kvHeads, g: u % kvHeads, geo: geo, buf: buffers,
                                      probs: probs.base + u * unitProbs, dOut: g.pointer,
                                      grads: grads, scratch: dp)
            }
        }
        // Prefix gradients: sum the per-batch scratch when the prefix is shared.
        for (scratch, tensor) in [(dpk, prefixKey), (dpv, prefixValue)] {
            guard let scratch, let tensor else { continue }
            let (dst, _) = tensor.gradBuffer()
            let perBatch = prefixLength * kvRow
            for b in 0..<batch {
                let src = scratch + b * perBatch, target = dst + (prefixBatchStride == 0 ? 0 : b * perBatch)
                for i in 0..<perBatch { target[i] += src[i] }
            }
        }
        let mainCalls = 1 + [grads.dv, grads.dq, grads.dk].filter { $0 != nil }.count
        let prefixCalls = prefixLength == 0 ? 0 : 1 + (grads.dq == nil ? 0 : 1) + (needPK ? 1 : 0) + (needPV ? 1 : 0)
        OpCounters.countGEMM(calls: (mainCalls + prefixCalls) * blocks * batch * heads,
                             flops: 2 * batch * heads * d * (mainCalls * covered + prefixCalls * tq * prefixLength))
    }
    return out
}
