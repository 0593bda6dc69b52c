// Shape ops with autodiff: reshape (a view), slicing (a view along the leading axis,
// a copy elsewhere), concatenation, permutation and transpose (a copy; matmul takes
// transposes as BLAS flags instead, see Kernels/Linear.swift).

/// Row-major strides of a shape.
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var running = 1
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[axis] = running
        running *= shape[axis]
    }
    return strides
}

/// dst[i] (+)= src[Σ index_d · srcStrides_d] over the row-major index space of `shape`.
func stridedCopy(src: UnsafePointer<Float>, srcStrides: [Int], shape: [Int],
                 dst: UnsafeMutablePointer<Float>, accumulate: Bool) {
    let total = shape.reduce(1, *)
    if total == 0 { return }
    if shape.isEmpty {
        dst[0] = accumulate ? dst[0] + src[0] : src[0]
        return
    }
    let rank = shape.count
    let inner = shape[rank - 1], innerStride = srcStrides[rank - 1]
    var index = [Int](repeating: 0, count: rank)
    var srcOffset = 0
    var out = 0
    while out < total {
        let s = src + srcOffset, d = dst + out
        if accumulate {
            for i in 0..<inner { d[i] += s[i * innerStride] }
        } else if innerStride == 1 {
            d.update(from: s, count: inner)
        } else {
            for i in 0..<inner { d[i] = s[i * innerStride] }
        }
        out += inner
        // Advance the odometer over the outer dimensions.
        var axis = rank - 2
        while axis >= 0 {
            index[axis] += 1
            srcOffset += srcStrides[axis]
            if index[axis] < shape[axis] { break }
            srcOffset -= srcStrides[axis] * shape[axis]
            index[axis] = 0
            axis -= 1
        }
    }
}

/// Normalises a possibly negative axis; throws if out of range.
func normalizedAxis(_ axis: Int, rank: Int, op: String, shape: [Int]) throws -> Int {
    let resolved = axis < 0 ? axis + rank : axis
    guard resolved >= 0, resolved < rank else {
        throw TensorError.invalidShape(op: op, shape: shape, detail: "axis \(axis) out of range")
    }
    return resolved
}

extension Tensor {
    // MARK: - Reshape

    /// A view with a new shape of the same element count; one dimension may be -1.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var resolved = newShape
        let unknown = newShape.indices.filter { newShape[$0] == -1 }
        let known = newShape.filter { $0 != -1 }
        guard unknown.count <= 1, !known.contains(where: { $0 < 0 }) else {
            throw TensorError.shapeMismatch(op: "reshape", lhs: shape, rhs: newShape,
                                            detail: "at most one -1 and no other negative sizes")
        }
        let knownCount = known.reduce(1, *)
        if let u = unknown.first {
            guard knownCount > 0, count % knownCount == 0 else {
                throw TensorError.shapeMismatch(op: "reshape", lhs: shape, rhs: newShape)
            }
            resolved[u] = count / knownCount
        }
        guard resolved.reduce(1, *) == count else {
            throw TensorError.shapeMismatch(op: "reshape", lhs: shape, rhs: newShape,
                                            detail: "element counts differ")
        }
        let view = Tensor(shape: resolved, storage: storage, offset: offset)
        if needsGraph(self) {
            let source = slot
            record(view, op: "reshape", inputs: [self]) { g in
                source.accumulateGrad(from: g.pointer)
            }
        }
        return view
    }

    /// A view with all dimensions of size 1 at `axis` removed or, without axis, all of them.
    public func squeezed(axis: Int? = nil) throws -> Tensor {
        if let axis {
            let a = try normalizedAxis(axis, rank: rank, op: "squeeze", shape: shape)
            guard shape[a] == 1 else {
                throw TensorError.invalidShape(op: "squeeze", shape: shape, detail: "axis \(axis) is not 1")
            }
            var s = shape
            s.remove(at: a)
            return try reshaped(s)
        }
        return try reshaped(shape.filter { $0 != 1 })
    }

    /// A view with a dimension of size 1 inserted at `axis`.
    public func unsqueezed(axis: Int) throws -> Tensor {
        let a = try normalizedAxis(axis, rank: rank + 1, op: "unsqueeze", shape: shape)
        var s = shape
        s.insert(1, at: a)
        return try reshaped(s)
    }

    // MARK: - Slicing

    /// Elements `range` along `axis` (default the leading one). A view, without copying,
    /// when all dimensions before `axis` are 1; a copy otherwise.
    public func sliced(_ range: Range<Int>, axis: Int = 0) throws -> Tensor {
        let a = try normalizedAxis(axis, rank: rank, op: "slice", shape: shape)
        guard range.lowerBound >= 0, range.upperBound <= shape[a] else {
            throw TensorError.invalidShape(op: "slice", shape: shape,
                                           detail: "range \(range) out of bounds on axis \(a)")
        }
        let outer = shape[..<a].reduce(1, *)
        let extent = shape[a]
        let inner = shape[(a + 1)...].reduce(1, *)
        var newShape = shape
        newShape[a] = range.count
        let lo = range.lowerBound, width = range.count * inner
        let result: Tensor
        if outer != 1 { try Tensor.requireValues("slice", self) }
        if outer == 1 {
            result = Tensor(shape: newShape, storage: storage, offset: offset + lo * inner)
        } else {
            result = Tensor(uninitializedShape: newShape)
            let src = pointer, dst = result.pointer
            for o in 0..<outer {
                (dst + o * width).update(from: src + (o * extent + lo) * inner, count: width)
            }
        }
        if needsGraph(self) {
            let source = slot
            record(result, op: "slice", inputs: [self]) { g in
                let (dst, _) = source.gradBuffer()
                let src = g.pointer
                for o in 0..<outer {
                    let d = dst + (o * extent + lo) * inner, s = src + o * width
                    for i in 0..<width { d[i] += s[i] }
                }
            }
        }
        return result
    }

    // MARK: - Permute and transpose

    /// A copy with dimensions reordered: result dimension i is input dimension `axes[i]`.
    public func permuted(_ axes: [Int]) throws -> Tensor {
        guard axes.count == rank, Set(axes) == Set(0..<rank) else {
            throw TensorError.invalidShape(op: "permute", shape: shape,
                                           detail: "axes \(axes) are not a permutation of 0..<\(rank)")
        }
        try Tensor.requireValues("permute", self)
        let strides = contiguousStrides(shape)
        let outShape = axes.map { shape[$0] }
        let result = Tensor(uninitializedShape: outShape)
        stridedCopy(src: pointer, srcStrides: axes.map { strides[$0] }, shape: outShape,
                    dst: result.pointer, accumulate: false)
        if needsGraph(self) {
            var inverse = [Int](repeating: 0, count: rank)
            for (i, axis) in axes.enumerated() { inverse[axis] = i }
            let outStrides = contiguousStrides(outShape)
            let inputShape = shape
            let source = slot
            record(result, op: "permute", inputs: [self]) { g in
                let (dst, _) = source.gradBuffer()
                stridedCopy(src: g.pointer, srcStrides: inverse.map { outStrides[$0] },
                            shape: inputShape, dst: dst, accumulate: true)
            }
        }
        return result
    }

    /// A copy with two dimensions swapped (default: the last two).
    public func transposed(_ axis0: Int = -2, _ axis1: Int = -1) throws -> Tensor {
        guard rank >= 2 else {
            throw TensorError.invalidShape(op: "transpose", shape: shape, detail: "needs rank ≥ 2")
        }
        let a = try normalizedAxis(axis0, rank: rank, op: "transpose", shape: shape)
        let b = try normalizedAxis(axis1, rank: rank, op: "transpose", shape: shape)
        var axes = Array(0..<rank)
        axes.swapAt(a, b)
        return try permuted(axes)
    }
}

// MARK: - Concatenation

/// Joins tensors along `axis`; all other dimensions must match.
public func concat(_ tensors: [Tensor], axis: Int = 0) throws -> Tensor {
    guard let first = tensors.first else {
        throw TensorError.invalidArgument(op: "concat", detail: "needs at least one tensor")
    }
    for t in tensors { try Tensor.requireValues("concat", t) }
    let a = try normalizedAxis(axis, rank: first.rank, op: "concat", shape: first.shape)
    for t in tensors.dropFirst() {
        var lhs = first.shape, rhs = t.shape
        guard lhs.count == rhs.count else {
            throw TensorError.shapeMismatch(op: "concat", lhs: first.shape, rhs: t.shape)
        }
        lhs[a] = 0; rhs[a] = 0
        guard lhs == rhs else {
            throw TensorError.shapeMismatch(op: "concat", lhs: first.shape, rhs: t.shape,
                                            detail: "dimensions other than axis \(a) differ")
        }
    }
    let outer = first.shape[..<a].reduce(1, *)
    let inner = first.shape[(a + 1)...].reduce(1, *)
    let widths = tensors.map { $0.shape[a] * inner }
    let rowWidth = widths.reduce(0, +)
    var outShape = first.shape
    outShape[a] = tensors.reduce(0) { $0 + $1.shape[a] }
    let result = Tensor(uninitializedShape: outShape)
    let dst = result.pointer
    var column = 0
    for (t, width) in zip(tensors, widths) {
        let src = t.pointer
        for o in 0..<outer {
            (dst + o * rowWidth + column).update(from: src + o * width, count: width)
        }
        column += width
    }
    if GradMode.isEnabled, tensors.contains(where: { $0.requiresGrad }) {
        let slots = tensors.map(\.slot)
        record(result, op: "concat", inputs: tensors) { g in
            var column = 0
            for (t, width) in zip(slots, widths) {
                defer { column += width }
                guard t.requiresGrad else { continue }
                let (gt, _) = t.gradBuffer()
                let src = g.pointer
                for o in 0..<outer {
                    let d = gt + o * width, s = src + o * rowWidth + column
                    for i in 0..<width { d[i] += s[i] }
                }
            }
        }
    }
    return result
}
