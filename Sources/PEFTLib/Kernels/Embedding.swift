// Row gathers with scatter-add backward: embedding lookup (token ids → vectors) and
// selecting rows of activations (e.g. only the positions that carry labels, so the
// LM head and its GEMMs run on those rows alone).

/// out[i] = table[indices[i]] for rows of width c.
func gatherRowsForward(out: UnsafeMutablePointer<Float>, table: UnsafePointer<Float>,
                       indices: [Int], width c: Int) {
    for (i, row) in indices.enumerated() {
        (out + i * c).update(from: table + row * c, count: c)
    }
}

/// dTable[indices[i]] += dOut[i] (rows may repeat).
func gatherRowsBackward(dTable: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                        indices: [Int], width c: Int) {
    for (i, row) in indices.enumerated() {
        let d = dTable + row * c, s = dOut + i * c
        for j in 0..<c { d[j] += s[j] }
    }
}

/// Gathers rows of `source` (flattened to (R, C) over its leading axes) with autodiff.
func gatherRows(_ source: Tensor, rows: Int, width: Int, indices: [Int], outShape: [Int],
                op: String) throws -> Tensor {
    try Tensor.requireValues(op, source)
    if let bad = indices.first(where: { $0 < 0 || $0 >= rows }) {
        throw TensorError.invalidArgument(op: op, detail: "index \(bad) out of range 0..<\(rows) for shape \(source.shape)")
    }
    let out = Tensor(uninitializedShape: outShape)
    gatherRowsForward(out: out.pointer, table: source.pointer, indices: indices, width: width)
    if needsGraph(source) {
        let sourceSlot = source.slot
        record(out, op: op, inputs: [source]) { g in
            let (d, _) = sourceSlot.gradBuffer()
            gatherRowsBackward(dTable: d, dOut: g.pointer, indices: indices, width: width)
        }
    }
    return out
}

/// Embedding lookup: vectors of `table` (V, D) at token `ids`, shaped `idsShape + [D]`.
///
///     let h = try embedding(ids, shape: [B, T], table: embedTokens)   // (B, T, D)
public func embedding(_ ids: [Int], shape idsShape: [Int]? = nil, table: Tensor) throws -> Tensor {
    guard table.rank == 2 else {
        throw TensorError.invalidShape(op: "embedding", shape: table.shape, detail: "table must be (V, D)")
    }
    let shape = idsShape ?? [ids.count]
    guard shape.reduce(1, *) == ids.count else {
        throw TensorError.shapeMismatch(op: "embedding", lhs: shape, rhs: [ids.count],
                                        detail: "ids shape does not match the number of ids")
    }
    return try gatherRows(table, rows: table.shape[0], width: table.shape[1], indices: ids,
                          outShape: shape + [table.shape[1]], op: "embedding")
}

/// Rows of `x` flattened to (N, C) over all but its last axis, at `rows`: result (k, C).
public func selectRows(_ x: Tensor, _ rows: [Int]) throws -> Tensor {
    guard x.rank >= 1 else {
        throw TensorError.invalidShape(op: "selectRows", shape: x.shape, detail: "needs rank ≥ 1")
    }
    let c = x.shape[x.rank - 1], n = c == 0 ? 0 : x.count / c
    return try gatherRows(x, rows: n, width: c, indices: rows, outShape: [rows.count, c], op: "selectRows")
}

/// Positions whose label is not `ignoreIndex`: pass them to `selectRows` so the LM head
/// and cross-entropy only see supervised tokens.
public func labelledPositions(_ labels: [Int], ignoreIndex: Int = -100) -> [Int] {
    labels.indices.filter { labels[$0] != ignoreIndex }
}
