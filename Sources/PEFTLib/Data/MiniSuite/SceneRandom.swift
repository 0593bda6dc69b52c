// SceneRandom: the mini suite's own seeded generator (SplitMix64), a value type
// with no global state, so every sample is a pure function of its seed.

/// A small deterministic random generator (SplitMix64) for scene generation.
public struct SceneRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator for one of many independent streams, e.g. `(seed, task, split, index)`.
    public init(_ parts: UInt64...) {
        var s: UInt64 = 0x9E37_79B9_7F4A_7C15
        for p in parts { s = SceneRandom.mix(s ^ p) }
        state = s
    }

    /// The SplitMix64 finaliser: a good 64-bit hash of `x`.
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<n`.
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    /// Uniform in `range`.
    public mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + below(range.count) }
    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { unit() < p }
    /// A uniformly chosen element.
    public mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
    /// An index chosen with probability proportional to `weights`.
    public mutating func weighted(_ weights: [Double]) -> Int {
        var r = unit() * weights.reduce(0, +)
        for (i, w) in weights.enumerated() { r -= w; if r < 0 { return i } }
        return weights.count - 1
    }
    /// The items in a uniformly random order (Fisher–Yates).
    public mutating func shuffled<T>(_ items: [T]) -> [T] {
        var a = items
        if a.count > 1 { for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, below(i + 1)) } }
        return a
    }
}

/// FNV-1a over bytes: the image hash that assigns scenes to splits.
func fnv1a(_ bytes: [UInt8]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}
