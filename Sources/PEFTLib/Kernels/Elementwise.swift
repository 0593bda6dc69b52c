// Elementwise arithmetic with NumPy/PyTorch broadcasting (add, sub, mul, div, scale,
// shift) and the sum/mean reductions, each with its hand-written backward.
// Broadcast shapes are coalesced so the inner loop runs over the longest contiguous run.

/// Iteration plan for a broadcast binary op: coalesced shape and per-operand strides.
struct BroadcastPlan {
    let outShape: [Int]
    let count: Int
    /// Coalesced dimensions; strides are 0 where an operand is broadcast.
    let dims: [Int]
    let aStrides: [Int]
    let bStrides: [Int]

    init(_ a: [Int], _ b: [Int], op: String) throws {
        let rank = max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        var sa = [Int](repeating: 0, count: rank)
        var sb = [Int](repeating: 0, count: rank)
        var runA = 1, runB = 1
        for i in 0..<rank {
            let da = i < a.count ? a[a.count - 1 - i] : 1
            let db = i < b.count ? b[b.count - 1 - i] : 1
            let axis = rank - 1 - i
            guard da == db || da == 1 || db == 1 else {
                throw TensorError.shapeMismatch(op: op, lhs: a, rhs: b, detail: "not broadcastable")
            }
            out[axis] = da == 1 ? db : da
            sa[axis] = da == 1 ? 0 : runA
            sb[axis] = db == 1 ? 0 : runB
            runA *= da; runB *= db
        }
        try Tensor.validate(shape: out, op: op)
        outShape = out
        count = out.reduce(1, *)
        // Drop size-1 dimensions, then merge neighbours that are contiguous in both operands.
        var dims: [Int] = [], stridesA: [Int] = [], stridesB: [Int] = []
        for axis in 0..<rank where out[axis] != 1 {
            if let last = dims.last,
               stridesA[stridesA.count - 1] == sa[axis] * out[axis],
               stridesB[stridesB.count - 1] == sb[axis] * out[axis] {
                dims[dims.count - 1] = last * out[axis]
                stridesA[stridesA.count - 1] = sa[axis]
                stridesB[stridesB.count - 1] = sb[axis]
            } else {
                dims.append(out[axis]); stridesA.append(sa[axis]); stridesB.append(sb[axis])
            }
        }
        if dims.isEmpty { dims = [1]; stridesA = [0]; stridesB = [0] }
        self.dims = dims
        aStrides = stridesA
        bStrides = stridesB
    }

    var innerCount: Int { dims[dims.count - 1] }
    var innerA: Int { aStrides[aStrides.count - 1] }
    var innerB: Int { bStrides[bStrides.count - 1] }

    /// Calls `body(aOffset, bOffset, outOffset)` for each inner row, in row-major order.
    @inline(__always)
    func forEachRow(_ body: (Int, Int, Int) -> Void) {
        if count == 0 { return }
        let rank = dims.count, inner = innerCount
        var index = [Int](repeating: 0, count: rank)
        var offA = 0, offB = 0, out = 0
        while out < count {
            body(offA, offB, out)
            out += inner
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                offA += aStrides[axis]; offB += bStrides[axis]
                if index[axis] < dims[axis] { break }
                offA -= aStrides[axis] * dims[axis]; offB -= bStrides[axis] * dims[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }
}

/// The four broadcast binary operations.
enum BinaryOp: String { case add, sub, mul, div }

/// out = a ∘ b over a broadcast plan (forward kernel).
func binaryForward(_ op: BinaryOp, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                   out: UnsafeMutablePointer<Float>, plan: BroadcastPlan) {
    let n = plan.innerCount, ia = plan.innerA, ib = plan.innerB
    @inline(__always) func rows(_ f: (Float, Float) -> Float) {
        plan.forEachRow { oa, ob, oo in
            let pa = a + oa, pb = b + ob, po = out + oo
            if ia == 1 && ib == 1 {
                for i in 0..<n { po[i] = f(pa[i], pb[i]) }
            } else if ia == 1 && ib == 0 {
                let y = pb[0]
                for i in 0..<n { po[i] = f(pa[i], y) }
            } else if ia == 0 && ib == 1 {
                let x = pa[0]
                for i in 0..<n { po[i] = f(x, pb[i]) }
            } else {
                for i in 0..<n { po[i] = f(pa[i * ia], pb[i * ib]) }
            }
        }
    }
    switch op {
    case .add: rows { $0 + $1 }
    case .sub: rows { $0 - $1 }
    case .mul: rows { $0 * $1 }
    case .div: rows { $0 / $1 }
    }
}

/// dst[broadcast index] += f(g, other, self) over a plan where `dst` has strides `dstIsA ? a : b`
/// (backward kernel: reduces over broadcast dimensions by accumulation).
func binaryBackward(into dst: UnsafeMutablePointer<Float>, dstIsA: Bool,
                    g: UnsafePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                    plan: BroadcastPlan, _ f: (Float, Float, Float) -> Float) {
    let n = plan.innerCount, ia = plan.innerA, ib = plan.innerB
    let id = dstIsA ? ia : ib
    plan.forEachRow { oa, ob, oo in
        let pa = a + oa, pb = b + ob, pg = g + oo, pd = dst + (dstIsA ? oa : ob)
        if ia == 1 && ib == 1 {
            for i in 0..<n { pd[i] += f(pg[i], pa[i], pb[i]) }
        } else if id == 0 {
            var total: Float = 0
            for i in 0..<n { total += f(pg[i], pa[i * ia], pb[i * ib]) }
            pd[0] += total
        } else {
            for i in 0..<n { pd[i * id] += f(pg[i], pa[i * ia], pb[i * ib]) }
        }
    }
}

/// Broadcast binary op with autodiff.
func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) throws -> Tensor {
    let plan = try BroadcastPlan(a.shape, b.shape, op: op.rawValue)
    try Tensor.requireValues(op.rawValue, a, b)
    let out = Tensor(uninitializedShape: plan.outShape)
    binaryForward(op, a: a.pointer, b: b.pointer, out: out.pointer, plan: plan)
    if needsGraph(a, b) {
        // add/sub need no input values for their gradients: keep only the slots, so a residual
        // sum's operands are freed as soon as nothing else holds them.
        let aSlot = a.slot, bSlot = b.slot, aShape = a.shape, bShape = b.shape
        let keepsValues = op == .mul || op == .div
        let savedA = keepsValues ? a : nil, savedB = keepsValues ? b : nil
        record(out, op: op.rawValue, inputs: [a, b]) { g in
            let pg = g.pointer
            // Same-shape add/sub (residual connections): the gradient is g itself, copied.
            if op == .add || op == .sub, aShape == plan.outShape, bShape == plan.outShape {
                if aSlot.requiresGrad { aSlot.accumulateGrad(from: pg) }
                if bSlot.requiresGrad { bSlot.accumulateGrad(from: pg, scale: op == .add ? 1 : -1) }
                return
            }
            // add/sub read no operand values; g spans the broadcast output, so it is a safe stand-in.
            let pa = UnsafePointer(savedA?.pointer ?? pg), pb = UnsafePointer(savedB?.pointer ?? pg)
            if aSlot.requiresGrad {
                let (da, _) = aSlot.gradBuffer()
                switch op {
                case .add, .sub: binaryBackward(into: da, dstIsA: true, g: pg, a: pa, b: pb, plan: plan) { g, _, _ in g }
                case .mul: binaryBackward(into: da, dstIsA: true, g: pg, a: pa, b: pb, plan: plan) { g, _, y in g * y }
                case .div: binaryBackward(into: da, dstIsA: true, g: pg, a: pa, b: pb, plan: plan) { g, _, y in g / y }
                }
            }
            if bSlot.requiresGrad {
                let (db, _) = bSlot.gradBuffer()
                switch op {
                case .add: binaryBackward(into: db, dstIsA: false, g: pg, a: pa, b: pb, plan: plan) { g, _, _ in g }
                case .sub: binaryBackward(into: db, dstIsA: false, g: pg, a: pa, b: pb, plan: plan) { g, _, _ in -g }
                case .mul: binaryBackward(into: db, dstIsA: false, g: pg, a: pa, b: pb, plan: plan) { g, x, _ in g * x }
                case .div: binaryBackward(into: db, dstIsA: false, g: pg, a: pa, b: pb, plan: plan) { g, x, y in -g * x / (y * y) }
                }
            }
        }
    }
    return out
}

// MARK: - Public arithmetic

/// a + b with broadcasting.
public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor { try binary(.add, a, b) }
/// a − b with broadcasting.
public func sub(_ a: Tensor, _ b: Tensor) throws -> Tensor { try binary(.sub, a, b) }
/// a · b elementwise with broadcasting.
public func mul(_ a: Tensor, _ b: Tensor) throws -> Tensor { try binary(.mul, a, b) }
/// a / b elementwise with broadcasting.
public func div(_ a: Tensor, _ b: Tensor) throws -> Tensor { try binary(.div, a, b) }

/// scale · x + shift, elementwise with scalars.
public func affine(_ x: Tensor, scale: Float, shift: Float = 0) -> Tensor {
    if x.isMeta { return Tensor.metaResult(x.shape) }
    let out = Tensor(uninitializedShape: x.shape)
    let src = x.pointer, dst = out.pointer
    for i in 0..<x.count { dst[i] = scale * src[i] + shift }
    if needsGraph(x) {
        let xs = x.slot
        record(out, op: "affine", inputs: [x]) { g in xs.accumulateGrad(from: g.pointer, scale: scale) }
    }
    return out
}

/// x · s for a scalar s.
public func scale(_ x: Tensor, by s: Float) -> Tensor { affine(x, scale: s) }

extension Tensor {
    public static func + (a: Tensor, b: Tensor) throws -> Tensor { try binary(.add, a, b) }
    public static func - (a: Tensor, b: Tensor) throws -> Tensor { try binary(.sub, a, b) }
    public static func * (a: Tensor, b: Tensor) throws -> Tensor { try binary(.mul, a, b) }
    public static func / (a: Tensor, b: Tensor) throws -> Tensor { try binary(.div, a, b) }
    public static func * (a: Tensor, s: Float) -> Tensor { affine(a, scale: s) }
    public static func * (s: Float, a: Tensor) -> Tensor { affine(a, scale: s) }
    public static func / (a: Tensor, s: Float) -> Tensor { affine(a, scale: 1 / s) }
    public static func + (a: Tensor, s: Float) -> Tensor { affine(a, scale: 1, shift: s) }
    public static func - (a: Tensor, s: Float) -> Tensor { affine(a, scale: 1, shift: -s) }
    public static prefix func - (a: Tensor) -> Tensor { affine(a, scale: -1) }
}

// MARK: - Reductions

extension Tensor {
    /// Sum of all elements, as a scalar tensor (accumulated in Double).
    public func sum() -> Tensor { reduceAll(mean: false) }

    /// Mean of all elements, as a scalar tensor (NaN for an empty tensor).
    public func mean() -> Tensor { reduceAll(mean: true) }

    private func reduceAll(mean: Bool) -> Tensor {
        if isMeta { return Tensor.metaResult([]) }
        let src = pointer, n = count
        var total = 0.0
        for i in 0..<n { total += Double(src[i]) }
        let factor: Float = mean ? 1 / Float(n) : 1
        let out = Tensor(scalar: Float(total) * factor)
        if needsGraph(self) {
            let xs = slot
            record(out, op: mean ? "mean" : "sum", inputs: [self]) { g in
                let (dst, _) = xs.gradBuffer()
                let v = g.pointer.pointee * factor
                for i in 0..<n { dst[i] += v }
            }
        }
        return out
    }

    /// Sum along `axis`, keeping it as size 1 if `keepDims`.
    public func sum(axis: Int, keepDims: Bool = false) throws -> Tensor {
        try reduce(axis: axis, keepDims: keepDims, mean: false)
    }

    /// Mean along `axis`, keeping it as size 1 if `keepDims`.
    public func mean(axis: Int, keepDims: Bool = false) throws -> Tensor {
        try reduce(axis: axis, keepDims: keepDims, mean: true)
    }

    private func reduce(axis: Int, keepDims: Bool, mean: Bool) throws -> Tensor {
        let a = try normalizedAxis(axis, rank: rank, op: mean ? "mean" : "sum", shape: shape)
        try Tensor.requireValues(mean ? "mean" : "sum", self)
        let outer = shape[..<a].reduce(1, *), extent = shape[a]
        let inner = shape[(a + 1)...].reduce(1, *)
        var outShape = shape
        if keepDims { outShape[a] = 1 } else { outShape.remove(at: a) }
        let out = Tensor(uninitializedShape: outShape, zeroed: true)
        let factor: Float = mean ? 1 / Float(extent) : 1
        let src = pointer, dst = out.pointer
        for o in 0..<outer {
            let d = dst + o * inner
            for k in 0..<extent {
                let s = src + (o * extent + k) * inner
                for i in 0..<inner { d[i] += s[i] }
            }
            for i in 0..<inner { d[i] *= factor }
        }
        if needsGraph(self) {
            let xs = slot
            record(out, op: mean ? "mean(axis)" : "sum(axis)", inputs: [self]) { g in
                let (gx, _) = xs.gradBuffer()
                let pg = g.pointer
                for o in 0..<outer {
                    let s = pg + o * inner
                    for k in 0..<extent {
                        let d = gx + (o * extent + k) * inner
                        for i in 0..<inner { d[i] += factor * s[i] }
                    }
                }
            }
        }
        return out
    }
}

// MARK: - Non-differentiable queries

extension Tensor {
    /// Index of the largest value along the last axis, one per row (greedy decoding).
    /// Ties go to the first index; NaN never wins.
    public func argmax() throws -> [Int] {
        guard rank >= 1, shape[rank - 1] > 0 else {
            throw TensorError.invalidShape(op: "argmax", shape: shape, detail: "needs a non-empty last axis")
        }
        try Tensor.requireValues("argmax", self)
        let n = shape[rank - 1], rows = count / n, p = pointer
        return (0..<rows).map { r in
            let row = p + r * n
            var best = 0
            for j in 1..<n where row[j] > row[best] { best = j }
            return best
        }
    }

    /// Σ x² in Double (global-norm gradient clipping, diagnostics).
    public func sumOfSquares() -> Double {
        if isMeta { return 0 }
        let p = pointer
        var total = 0.0
        for i in 0..<count { total += Double(p[i]) * Double(p[i]) }
        return total
    }
}

