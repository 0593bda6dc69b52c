// A small seeded generator (xoshiro256**, seeded through splitmix64) and the random
// initialisers built on it: uniform, normal, Kaiming-uniform as in torch's nn.Linear.
import Foundation

/// Deterministic pseudo-random generator: xoshiro256** seeded by splitmix64.
///
/// Value type: copying it forks the stream, so pass it `inout` to advance it.
public struct RandomGenerator: RandomNumberGenerator, Sendable, Equatable {
    private var s0, s1, s2, s3: UInt64

    /// Seeds the four words of state from `seed` with splitmix64.
    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            return Self.splitmixFinalizer(x)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    /// splitmix64's output function: a 64-bit mix of `z` (also the hash behind dropout masks).
    @inline(__always)
    static func splitmixFinalizer(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform Float in [0, 1) with 24 random bits.
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * 0x1p-24
    }

    /// Uniform Double in [0, 1) with 53 random bits.
    public mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Standard normal sample (Box–Muller in Double).
    public mutating func nextNormal() -> Double {
        let u1 = max(nextUnitDouble(), 0x1p-60)
        let u2 = nextUnitDouble()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    /// A generator for a sub-stream (e.g. one per layer) derived from this one's next value.
    public mutating func split() -> RandomGenerator {
        RandomGenerator(seed: next())
    }
}

extension Tensor {
    /// Uniform values in [low, high).
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1,
                               generator: inout RandomGenerator,
                               requiresGrad: Bool = false) throws -> Tensor {
        try validate(shape: shape, op: "uniform")
        let t = Tensor(uninitializedShape: shape)
        let p = t.pointer
        let width = high - low
        for i in 0..<t.count { p[i] = low + width * generator.nextUnitFloat() }
        t.requiresGrad = requiresGrad
        return t
    }

    /// Normal values with the given mean and standard deviation.
    public static func normal(_ shape: [Int], mean: Float = 0, std: Float = 1,
                              generator: inout RandomGenerator,
                              requiresGrad: Bool = false) throws -> Tensor {
        try validate(shape: shape, op: "normal")
        let t = Tensor(uninitializedShape: shape)
        let p = t.pointer
        for i in 0..<t.count { p[i] = mean + std * Float(generator.nextNormal()) }
        t.requiresGrad = requiresGrad
        return t
    }

    /// Kaiming-uniform init as torch's `kaiming_uniform_(w, a)`: bound = gain·√(3 / fanIn),
    /// gain = √(2 / (1 + a²)), fanIn = product of all but the first dimension.
    /// With the default a = √5 (nn.Linear, LoRA's A) the bound is 1/√fanIn.
    public static func kaimingUniform(_ shape: [Int], a: Float = Float(5).squareRoot(),
                                      generator: inout RandomGenerator,
                                      requiresGrad: Bool = false) throws -> Tensor {
        guard shape.count >= 2 else {
            throw TensorError.invalidShape(op: "kaimingUniform", shape: shape,
                                           detail: "needs at least 2 dimensions (out, in, …)")
        }
        let fanIn = shape.dropFirst().reduce(1, *)
        guard fanIn > 0 else {
            throw TensorError.invalidShape(op: "kaimingUniform", shape: shape, detail: "fan-in is zero")
        }
        let gain = (2 / (1 + Double(a) * Double(a))).squareRoot()
        let bound = Float(gain * (3 / Double(fanIn)).squareRoot())
        return try uniform(shape, low: -bound, high: bound, generator: &generator,
                           requiresGrad: requiresGrad)
    }
}
