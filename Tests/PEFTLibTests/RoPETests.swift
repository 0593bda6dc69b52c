// Rotary embeddings in the rotate-half convention: values, inverse, gradients.
import Testing
import Foundation
import PEFTLib

@Suite struct RoPETests {
    @Test func valuesFollowRotateHalf() throws {
        let (b, t, h, d) = (2, 3, 2, 6)
        let x = randomTensor([b, t, h * d], seed: 1)
        let positions = [0, 4, 9]
        let y = try rope(x, heads: h, positions: positions, theta: 500)
        let xv = x.toArray(), yv = y.toArray()
        for bi in 0..<b {
            for ti in 0..<t {
                for hi in 0..<h {
                    let base = ((bi * t + ti) * h + hi) * d
                    for i in 0..<(d / 2) {
                        let angle = Double(positions[ti]) / pow(500, Double(2 * i) / Double(d))
                        let a = Double(xv[base + i]), c = Double(xv[base + i + d / 2])
                        #expect(abs(yv[base + i] - Float(a * cos(angle) - c * sin(angle))) < 1e-5)
                        #expect(abs(yv[base + i + d / 2] - Float(c * cos(angle) + a * sin(angle))) < 1e-5)
                    }
                }
            }
        }
    }

    @Test func gradientsAndPerRowPositions() throws {
        let x = randomTensor([2, 3, 8], seed: 2)
        let table = try RotaryTable(headDim: 4, maxPositions: 16, theta: 10_000)
        try checkGradients("rope shared positions", inputs: [x]) { try rope(x, heads: 2, positions: [1, 2, 3], table: table) }
        try checkGradients("rope per-row positions", inputs: [x]) {
            try rope(x, heads: 2, positions: [0, 0, 1, 5, 6, 7], table: table)
        }
        #expect(throws: TensorError.self) { try rope(x, heads: 3, positions: [0, 1, 2], table: table) }
        #expect(throws: TensorError.self) { try rope(x, heads: 2, positions: [0, 1], table: table) }
        #expect(throws: TensorError.self) { try rope(x, heads: 2, positions: [0, 1, 16], table: table) }
        #expect(throws: TensorError.self) { try RotaryTable(headDim: 5, maxPositions: 4) }
    }
}
