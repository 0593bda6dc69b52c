// Activations, SwiGLU, softmax and dropout: values against Double references (libm),
// gradients against finite differences.
import Testing
import Foundation
import PEFTLib

@Suite struct ActivationTests {
    /// Inputs spanning the interesting range, including large magnitudes.
    static let wide: [Float] = stride(from: -12, through: 12, by: 0.37).map { Float($0) } + [0, 1e-4, -1e-4, 0.05]

    @Test func valuesMatchReferences() throws {
        let x = Tensor(Self.wide)
        let xs = Self.wide.map(Double.init)
        func expect(_ y: Tensor, _ f: (Double) -> Double, _ label: String) {
            expectClose(y.toArray(), xs.map { Float(f($0)) }, atol: 2e-6, rtol: 2e-5, label)
        }
        expect(gelu(x), { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }, "gelu")
        expect(gelu(x, approximation: .tanh), {
            0.5 * $0 * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0)))
        }, "gelu tanh")
        expect(quickGELU(x), { $0 / (1 + exp(-1.702 * $0)) }, "quick gelu")
        expect(silu(x), { $0 / (1 + exp(-$0)) }, "silu")
        expect(PEFTLib.tanh(x), { Foundation.tanh($0) }, "tanh")
        expect(sigmoid(x), { 1 / (1 + exp(-$0)) }, "sigmoid")
        expect(relu(x), { max($0, 0) }, "relu")
    }

    @Test func gradients() throws {
        let x = randomTensor([3, 11], seed: 1, std: 2)
        try checkGradients("gelu", inputs: [x]) { gelu(x) }
        try checkGradients("gelu tanh", inputs: [x]) { gelu(x, approximation: .tanh) }
        try checkGradients("quick gelu", inputs: [x]) { quickGELU(x) }
        try checkGradients("silu", inputs: [x]) { silu(x) }
        try checkGradients("tanh", inputs: [x]) { PEFTLib.tanh(x) }
        try checkGradients("sigmoid", inputs: [x]) { sigmoid(x) }
    }

    @Test func swigluProduct() throws {
        let gate = randomTensor([2, 3, 5], seed: 2, std: 2), up = randomTensor([2, 3, 5], seed: 3)
        let y = try swiglu(gate: gate, up: up)
        expectClose(y.toArray(), zip(gate.toArray(), up.toArray()).map { g, u in
            Float(Double(g) / (1 + exp(-Double(g))) * Double(u))
        }, atol: 1e-6)
        try checkGradients("swiglu", inputs: [gate, up]) { try swiglu(gate: gate, up: up) }
        #expect(throws: TensorError.self) { try swiglu(gate: gate, up: randomTensor([5], seed: 1)) }
    }

    @Test func softmaxRows() throws {
        let x = randomTensor([4, 6], seed: 4, std: 3)
        let y = try softmax(x)
        let xv = x.toArray()
        for r in 0..<4 {
            let row = xv[(r * 6)..<(r * 6 + 6)].map(Double.init)
            let m = row.max()!
            let total = row.reduce(0) { $0 + exp($1 - m) }
            expectClose(Array(y.toArray()[(r * 6)..<(r * 6 + 6)]), row.map { Float(exp($0 - m) / total) }, atol: 1e-6)
        }
        try checkGradients("softmax", inputs: [x]) { try softmax(x) }
        let large = try Tensor(shape: [1, 3], values: [1000, 1001, -1000])
        #expect(try softmax(large).toArray().allSatisfy { $0.isFinite })
    }

    @Test func dropoutIsSeededAndScaled() throws {
        let x = randomTensor([40, 50], seed: 5)
        var g1 = RandomGenerator(seed: 11), g2 = RandomGenerator(seed: 11)
        let a = try dropout(x, probability: 0.3, generator: &g1)
        let b = try dropout(x, probability: 0.3, generator: &g2)
        #expect(a.toArray() == b.toArray())
        let zeros = a.toArray().filter { $0 == 0 }.count
        #expect(abs(Double(zeros) / 2000 - 0.3) < 0.04)
        for (y, v) in zip(a.toArray(), x.toArray()) where y != 0 { #expect(abs(y - v / 0.7) < 1e-5) }
        try checkGradients("dropout", inputs: [x]) {
            var g = RandomGenerator(seed: 12)
            return try dropout(x, probability: 0.4, generator: &g)
        }
        var g3 = RandomGenerator(seed: 1)
        #expect(try dropout(x, probability: 0, generator: &g3) === x)
        #expect(throws: TensorError.self) { try dropout(x, probability: 1, generator: &g3) }
    }
}
