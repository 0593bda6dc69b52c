// Row reductions (sum, max, dot) with explicit SIMD accumulators: a plain scalar
// float reduction is a serial dependency chain the compiler may not reorder, so
// loops that also compute exp or squares would otherwise stay scalar. SIMD8 with
// hand-written horizontal steps keeps short rows (attention, T ≈ 50–100) cheap:
// the generic SIMD16 `.sum()`/`.max()` lower to scalar loops through the stack.

/// Horizontal sum of 8 lanes.
@inline(__always)
func horizontalSum(_ v: SIMD8<Float>) -> Float {
    let h = v.lowHalf + v.highHalf
    return (h[0] + h[1]) + (h[2] + h[3])
}

/// Horizontal max of 8 lanes.
@inline(__always)
func horizontalMax(_ v: SIMD8<Float>) -> Float {
    let h = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .> v.lowHalf)
    let a = h[0] > h[1] ? h[0] : h[1], b = h[2] > h[3] ? h[2] : h[3]
    return a > b ? a : b
}

/// Loads 8 floats at element offset i.
@inline(__always)
func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
    p.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
}

/// Σ p[0..<n].
@inline(__always)
func vectorSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
    let raw = UnsafeRawPointer(p)
    var i = 0
    while i &+ 16 <= n {
        a0 += load8(raw, i)
        a1 += load8(raw, i &+ 8)
        i &+= 16
    }
    if i &+ 8 <= n { a0 += load8(raw, i); i &+= 8 }
    var total = horizontalSum(a0 + a1)
    while i < n { total += p[i]; i &+= 1 }
    return total
}

/// Σ a[i]·b[i] over n elements.
@inline(__always)
func vectorDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    var i = 0
    while i &+ 16 <= n {
        a0 += load8(ra, i) * load8(rb, i)
        a1 += load8(ra, i &+ 8) * load8(rb, i &+ 8)
        i &+= 16
    }
    if i &+ 8 <= n { a0 += load8(ra, i) * load8(rb, i); i &+= 8 }
    var total = horizontalSum(a0 + a1)
    while i < n { total += a[i] * b[i]; i &+= 1 }
    return total
}

/// Σ a[i]·b[i]·c[i] over n elements.
@inline(__always)
func vectorDot3(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>()
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b), rc = UnsafeRawPointer(c)
    var i = 0
    while i &+ 8 <= n {
        acc += load8(ra, i) * load8(rb, i) * load8(rc, i)
        i &+= 8
    }
    var total = horizontalSum(acc)
    while i < n { total += a[i] * b[i] * c[i]; i &+= 1 }
    return total
}

/// max p[0..<n] (−∞ when n is 0).
@inline(__always)
func vectorMax(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var m = SIMD8<Float>(repeating: -.infinity)
    let raw = UnsafeRawPointer(p)
    var i = 0
    while i &+ 8 <= n {
        let v = load8(raw, i)
        m = m.replacing(with: v, where: v .> m)
        i &+= 8
    }
    var peak = horizontalMax(m)
    while i < n { peak = p[i] > peak ? p[i] : peak; i &+= 1 }
    return peak
}
