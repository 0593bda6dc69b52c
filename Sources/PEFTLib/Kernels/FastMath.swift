// Branch-free float approximations of exp, tanh, sigmoid and erf written as plain
// scalar code that the compiler auto-vectorises inside loops (libm calls do not).
// exp follows the Cephes expf range reduction and polynomial (~2 ulp).

/// e^x, accurate to about 2 ulp for x in [-87, 88]; clamps outside (no inf, no denormals).
@inline(__always)
func fastExp(_ value: Float) -> Float {
    let x = Swift.min(Swift.max(value, -87.0), 88.0)
    let magic: Float = 12_582_912 // 1.5 · 2²³: adding it rounds to an integer
    let shifted = x * 1.442_695_04 + magic
    let n = shifted - magic
    let r = x - n * 0.693_359_375 + n * 2.121_944_4e-4
    var p: Float = 1.987_569_15e-4
    p = p * r + 1.398_199_950_7e-3
    p = p * r + 8.333_451_907_3e-3
    p = p * r + 4.166_579_589_4e-2
    p = p * r + 1.666_666_545_9e-1
    p = p * r + 5.000_000_120_1e-1
    p = p * (r * r) + r + 1
    let exponent = Int32(bitPattern: shifted.bitPattern) &- Int32(bitPattern: magic.bitPattern)
    let scale = Float(bitPattern: UInt32(bitPattern: (exponent &+ 127) &<< 23))
    return p * scale
}

/// Logistic sigmoid 1 / (1 + e^−x).
@inline(__always)
func fastSigmoid(_ x: Float) -> Float {
    1 / (1 + fastExp(-x))
}

/// tanh x via 1 − 2 / (e^{2x} + 1), with a Taylor polynomial near 0 for relative accuracy.
@inline(__always)
func fastTanh(_ x: Float) -> Float {
    let viaExp = 1 - 2 / (fastExp(2 * x) + 1)
    let x2 = x * x
    let series = x * (1 + x2 * (-1.0 / 3 + x2 * (2.0 / 15 - x2 * (17.0 / 315))))
    return Swift.abs(x) < 0.125 ? series : viaExp
}

/// erf x (Abramowitz–Stegun 7.1.26, absolute error ≤ 1.5e-7).
@inline(__always)
func fastErf(_ x: Float) -> Float {
    let ax = Swift.abs(x)
    let t = 1 / (1 + 0.327_591_1 * ax)
    var poly: Float = 1.061_405_429
    poly = poly * t - 1.453_152_027
    poly = poly * t + 1.421_413_741
    poly = poly * t - 0.284_496_736
    poly = poly * t + 0.254_829_592
    let y = 1 - poly * t * fastExp(-ax * ax)
    return Float(signOf: x, magnitudeOf: y)
}
