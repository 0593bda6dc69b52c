// RMSNorm and LayerNorm: values against the textbook formula, gradients against finite differences.
import Testing
import Foundation
import PEFTLib

@Suite struct NormTests {
    @Test func rmsNormValuesAndGradients() throws {
        let x = randomTensor([3, 2, 9], seed: 1), w = randomTensor([9], seed: 2)
        let y = try rmsNorm(x, weight: w, eps: 1e-5)
        let xv = x.toArray(), wv = w.toArray()
        var expected: [Float] = []
        for r in 0..<6 {
            let row = xv[(r * 9)..<(r * 9 + 9)]
            let ms = row.reduce(0.0) { $0 + Double($1) * Double($1) } / 9
            expected += row.enumerated().map { Float(Double($1) / (ms + 1e-5).squareRoot()) * wv[$0] }
        }
        expectClose(y.toArray(), expected, atol: 1e-5)
        try checkGradients("rmsNorm", inputs: [x, w]) { try rmsNorm(x, weight: w, eps: 1e-5) }
        #expect(throws: TensorError.self) { try rmsNorm(x, weight: randomTensor([8], seed: 3)) }
    }

    @Test(arguments: [true, false])
    func layerNormValuesAndGradients(affine: Bool) throws {
        let x = randomTensor([4, 7], seed: 4, std: 2), w = randomTensor([7], seed: 5), b = randomTensor([7], seed: 6)
        let y = try layerNorm(x, weight: affine ? w : nil, bias: affine ? b : nil)
        let xv = x.toArray()
        var expected: [Float] = []
        for r in 0..<4 {
            let row = xv[(r * 7)..<(r * 7 + 7)].map(Double.init)
            let m = row.reduce(0, +) / 7
            let variance = row.reduce(0) { $0 + ($1 - m) * ($1 - m) } / 7
            expected += row.enumerated().map { j, v in
                let n = Float((v - m) / (variance + 1e-5).squareRoot())
                return affine ? n * w.toArray()[j] + b.toArray()[j] : n
            }
        }
        expectClose(y.toArray(), expected, atol: 1e-5)
        try checkGradients("layerNorm affine=\(affine)", inputs: [x, w, b]) {
            try layerNorm(x, weight: affine ? w : nil, bias: affine ? b : nil)
        }
    }
}
