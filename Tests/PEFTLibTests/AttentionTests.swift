// Attention: values against a naive Double reference (GQA, causal, prefix, padding),
// gradients of queries, keys, values and prefixes against finite differences.
import Testing
import Foundation
import PEFTLib

/// Naive attention in Double; layouts as `attention`. prefix: (P, kvRow) or (B, P, kvRow).
func referenceAttention(q: [Float], k: [Float], v: [Float], batch: Int, tq: Int, tk: Int,
                        heads: Int, kvHeads: Int, d: Int, causal: Bool,
                        prefixK: [Float]? = nil, prefixV: [Float]? = nil, prefix: Int = 0,
                        prefixPerBatch: Bool = false, mask: [Bool]? = nil) -> [Float] {
    var out = [Float](repeating: 0, count: batch * tq * heads * d)
    let scale = 1 / Double(d).squareRoot(), kvRow = kvHeads * d
    for b in 0..<batch {
        for h in 0..<heads {
            let g = h / (heads / kvHeads)
            for i in 0..<tq {
                var scores: [Double] = [], values: [[Double]] = []
                func key(_ src: [Float], _ row: Int) -> [Double] { (0..<d).map { Double(src[row * kvRow + g * d + $0]) } }
                for j in 0..<prefix {
                    let row = (prefixPerBatch ? b * prefix : 0) + j
                    scores.append(zip((0..<d).map { Double(q[((b * tq + i) * heads + h) * d + $0]) }, key(prefixK!, row)).reduce(0) { $0 + $1.0 * $1.1 } * scale)
                    values.append(key(prefixV!, row))
                }
                for j in 0..<tk {
                    if causal && j > i + tk - tq { continue }
                    if let mask, !mask[b * tk + j] { continue }
                    scores.append(zip((0..<d).map { Double(q[((b * tq + i) * heads + h) * d + $0]) }, key(k, b * tk + j)).reduce(0) { $0 + $1.0 * $1.1 } * scale)
                    values.append(key(v, b * tk + j))
                }
                guard let m = scores.max() else { continue }
                let e = scores.map { exp($0 - m) }, total = e.reduce(0, +)
                for c in 0..<d {
                    out[((b * tq + i) * heads + h) * d + c] = Float(zip(e, values).reduce(0) { $0 + $1.0 * $1.1[c] } / total)
                }
            }
        }
    }
    return out
}

@Suite struct AttentionTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var batch = 2, tq = 5, tk = 5, heads = 4, kvHeads = 2, d = 4, causal = true
        var prefix = 0, prefixPerBatch = false, padded = false
        var testDescription: String {
            "B\(batch) Tq\(tq) Tk\(tk) H\(heads)/\(kvHeads) D\(d) causal=\(causal) P\(prefix)\(prefixPerBatch ? "b" : "") pad=\(padded)"
        }
    }

    static let cases: [Case] = [
        Case(),
        Case(heads: 2, kvHeads: 2, causal: false),
        Case(batch: 1, tq: 7, tk: 7, heads: 3, kvHeads: 1, d: 2),
        Case(prefix: 3),
        Case(prefix: 2, prefixPerBatch: true, padded: true),
        Case(padded: true),
        Case(tq: 2, tk: 6, prefix: 1),
        Case(batch: 3, tq: 1, tk: 4, heads: 2, kvHeads: 1, causal: false, padded: true),
        // Long enough for the causal row blocks (2 and 3 blocks), with and without prefix/padding.
        Case(batch: 1, tq: 40, tk: 40, heads: 2, kvHeads: 1, d: 4),
        Case(batch: 2, tq: 70, tk: 70, heads: 2, kvHeads: 2, d: 3, prefix: 2, padded: true),
        Case(batch: 1, tq: 33, tk: 50, heads: 3, kvHeads: 1, d: 2, prefix: 1, prefixPerBatch: true),
    ]

    @Test(arguments: cases)
    func matchesReferenceAndFiniteDifferences(_ c: Case) throws {
        let q = randomTensor([c.batch, c.tq, c.heads * c.d], seed: 1)
        let k = randomTensor([c.batch, c.tk, c.kvHeads * c.d], seed: 2)
        let v = randomTensor([c.batch, c.tk, c.kvHeads * c.d], seed: 3)
        let prefixShape = c.prefixPerBatch ? [c.batch, c.prefix, c.kvHeads * c.d] : [c.prefix, c.kvHeads * c.d]
        let pk = c.prefix > 0 ? randomTensor(prefixShape, seed: 4) : nil
        let pv = c.prefix > 0 ? randomTensor(prefixShape, seed: 5) : nil
        // Left padding on batch row 0 (its first two keys are padding).
        let mask: [Bool]? = c.padded ? (0..<(c.batch * c.tk)).map { !($0 < 2) } : nil
        func run() throws -> Tensor {
            try attention(query: q, key: k, value: v, heads: c.heads, kvHeads: c.kvHeads, causal: c.causal,
                          prefixKey: pk, prefixValue: pv, paddingMask: mask)
        }
        let y = try run()
        #expect(y.shape == [c.batch, c.tq, c.heads * c.d])
        let expected = referenceAttention(q: q.toArray(), k: k.toArray(), v: v.toArray(), batch: c.batch,
                                          tq: c.tq, tk: c.tk, heads: c.heads, kvHeads: c.kvHeads, d: c.d,
                                          causal: c.causal, prefixK: pk?.toArray(), prefixV: pv?.toArray(),
                                          prefix: c.prefix, prefixPerBatch: c.prefixPerBatch, mask: mask)
        expectClose(y.toArray(), expected, atol: 1e-5, rtol: 1e-4, "values")
        try checkGradients("attention", inputs: [q, k, v] + [pk, pv].compactMap { $0 }, maxElements: 40, run)
    }

    @Test(arguments: [false, true])
    func gradientsAccumulateIntoExistingBuffers(aliasedKeyValue: Bool) throws {
        let q = randomTensor([2, 40, 8], seed: 1), k = randomTensor([2, 40, 4], seed: 2)
        let v = aliasedKeyValue ? k : randomTensor([2, 40, 4], seed: 3)
        func once() throws { try attention(query: q, key: k, value: v, heads: 2, kvHeads: 1).sum().backward() }
        try once()
        let single = [q, k, v].map { $0.grad!.toArray() }
        try once()
        for (tensor, first) in zip([q, k, v], single) {
            expectClose(tensor.grad!.toArray(), first.map { 2 * $0 }, atol: 1e-5, rtol: 1e-5)
        }
    }

    @Test func fullyMaskedQueriesOutputZeros() throws {
        let q = randomTensor([1, 3, 4], seed: 1), k = randomTensor([1, 3, 4], seed: 2), v = randomTensor([1, 3, 4], seed: 3)
        let y = try attention(query: q, key: k, value: v, heads: 1, kvHeads: 1, paddingMask: [false, true, true])
        #expect(Array(y.toArray()[0..<4]) == [0, 0, 0, 0])
        #expect(y.toArray().allSatisfy { $0.isFinite })
        try y.sum().backward()
        #expect(q.grad!.toArray().allSatisfy { $0.isFinite })
    }

    @Test func shapeErrors() throws {
        let q = randomTensor([2, 3, 8], seed: 1), k = randomTensor([2, 3, 4], seed: 2)
        #expect(throws: TensorError.self) { try attention(query: q, key: k, value: k, heads: 2, kvHeads: 2) }
        #expect(throws: TensorError.self) { try attention(query: q, key: k, value: k, heads: 3, kvHeads: 1) }
        #expect(throws: TensorError.self) { try attention(query: q, key: k, value: q, heads: 2, kvHeads: 1) }
        #expect(throws: TensorError.self) {
            try attention(query: q, key: k, value: k, heads: 2, kvHeads: 1, paddingMask: [true])
        }
        #expect(throws: TensorError.self) {
            try attention(query: q, key: k, value: k, heads: 2, kvHeads: 1, prefixKey: randomTensor([2, 4], seed: 3))
        }
        #expect(throws: TensorError.self) {
            try attention(query: q, key: k, value: k, heads: 2, kvHeads: 1,
                          prefixKey: randomTensor([2, 5], seed: 3), prefixValue: randomTensor([2, 5], seed: 4))
        }
    }
}

@Suite struct AttentionCostTests {
    @Test func inputsWithoutGradCostNoGEMM() throws {
        // T = 40 runs as 2 causal row blocks; 2 query heads.
        let q = randomTensor([1, 40, 8], seed: 1, requiresGrad: false)
        let k = randomTensor([1, 40, 4], seed: 2, requiresGrad: false)
        let v = randomTensor([1, 40, 4], seed: 3)
        let forward = try OpCounters.measure { _ = try withNoGrad { try attention(query: q, key: k, value: v, heads: 2, kvHeads: 1) } }
        #expect(forward.gemmCalls == 2 * 2 * 2)  // (QKᵀ, PV) × blocks × heads
        let onlyValue = try OpCounters.measure {
            try attention(query: q, key: k, value: v, heads: 2, kvHeads: 1).sum().backward()
        }
        // Forward 8, backward dP and dV only: no dQ, no dK.
        #expect(onlyValue.gemmCalls == 8 + 2 * 2 * 2)
        #expect(q.grad == nil && k.grad == nil && v.grad != nil)
    }
}
