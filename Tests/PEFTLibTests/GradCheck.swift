// Finite-difference gradient checking (as micrograd's test_engine and tinygrad's
// helper_test_op): analytic gradients of L = Σ f(inputs) ⊙ R against central
// differences of L evaluated in Double, for random upstream weights R.
import Testing
import PEFTLib

/// A seeded generator for test data.
func makeGenerator(_ seed: UInt64 = 7) -> RandomGenerator { RandomGenerator(seed: seed) }

/// A random normal tensor that requires grad.
func randomTensor(_ shape: [Int], seed: UInt64, std: Float = 1, requiresGrad: Bool = true) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    return try! Tensor.normal(shape, std: std, generator: &rng, requiresGrad: requiresGrad)
}

/// Σ a·b in Double.
func dot(_ a: [Float], _ b: [Float]) -> Double {
    var total = 0.0
    for i in a.indices { total += Double(a[i]) * Double(b[i]) }
    return total
}

/// Compares analytic and numeric gradients of every input that requires grad.
/// - Parameters:
///   - maxElements: elements checked per input (a seeded random subset when larger)
func checkGradients(_ label: String, inputs: [Tensor], eps: Float = 1e-2, atol: Double = 2e-3,
                    rtol: Double = 2e-2, maxElements: Int = 48,
                    sourceLocation: SourceLocation = #_sourceLocation,
                    _ f: () throws -> Tensor) throws {
    for input in inputs { input.grad = nil }
    let y = try f()
    var rng = RandomGenerator(seed: 99)
    let upstream = try Tensor.normal(y.shape, generator: &rng)
    try y.backward(gradient: upstream)
    let weights = upstream.toArray()
    for (n, input) in inputs.enumerated() where input.requiresGrad {
        let analytic = input.grad?.toArray() ?? [Float](repeating: 0, count: input.count)
        var indices = Array(0..<input.count)
        if indices.count > maxElements {
            var pick = RandomGenerator(seed: UInt64(n) + 5)
            indices.shuffle(using: &pick)
            indices = Array(indices.prefix(maxElements))
        }
        var failures: [String] = []
        for i in indices {
            let original = input.withUnsafeBufferPointer { $0[i] }
            input.withUnsafeMutableBufferPointer { $0[i] = original + eps }
            let plus = try withNoGrad { try dot(f().toArray(), weights) }
            input.withUnsafeMutableBufferPointer { $0[i] = original - eps }
            let minus = try withNoGrad { try dot(f().toArray(), weights) }
            input.withUnsafeMutableBufferPointer { $0[i] = original }
            let numeric = (plus - minus) / (2 * Double(eps))
            let error = abs(Double(analytic[i]) - numeric)
            if error > atol + rtol * abs(numeric) {
                failures.append("[\(i)] analytic \(analytic[i]) numeric \(numeric)")
            }
        }
        #expect(failures.isEmpty, "\(label): input \(n) \(input.shape): \(failures.prefix(5))",
                sourceLocation: sourceLocation)
    }
}

/// Expects two float arrays to agree elementwise.
func expectClose(_ a: [Float], _ b: [Float], atol: Float = 1e-5, rtol: Float = 1e-4,
                 _ label: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "\(label): counts \(a.count) vs \(b.count)", sourceLocation: sourceLocation)
    var worst: (Int, Float, Float)? = nil
    for i in 0..<min(a.count, b.count) where abs(a[i] - b[i]) > atol + rtol * abs(b[i]) {
        worst = (i, a[i], b[i])
        break
    }
    #expect(worst == nil, "\(label): first mismatch \(String(describing: worst))", sourceLocation: sourceLocation)
}
