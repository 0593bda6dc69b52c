// Embedding lookup, row selection and cross-entropy with ignore index −100.
import Testing
import Foundation
import PEFTLib

@Suite struct EmbeddingLossTests {
    @Test func embeddingLookupAndScatter() throws {
        let table = randomTensor([6, 4], seed: 1)
        let ids = [2, 0, 2, 5, 1, 2]
        let e = try embedding(ids, shape: [2, 3], table: table)
        #expect(e.shape == [2, 3, 4])
        let tv = table.toArray()
        #expect(Array(e.toArray()[4..<8]) == Array(tv[0..<4]))
        try checkGradients("embedding (repeated ids)", inputs: [table]) { try embedding(ids, shape: [2, 3], table: table) }
        #expect(throws: TensorError.self) { try embedding([6], table: table) }
        #expect(throws: TensorError.self) { try embedding([1, 2], shape: [3], table: table) }
    }

    @Test func selectRowsGathers() throws {
        let x = randomTensor([2, 3, 5], seed: 2)
        let picked = try selectRows(x, [4, 0, 4])
        #expect(picked.shape == [3, 5])
        #expect(Array(picked.toArray()[0..<5]) == Array(x.toArray()[20..<25]))
        try checkGradients("selectRows", inputs: [x]) { try selectRows(x, [4, 0, 4, 5]) }
        #expect(labelledPositions([-100, 3, -100, 7]) == [1, 3])
    }

    /// Reference mean cross-entropy in Double.
    func referenceLoss(_ logits: [Float], _ targets: [Int], classes: Int) -> Double {
        var total = 0.0, n = 0
        for (r, t) in targets.enumerated() where t != -100 {
            let row = logits[(r * classes)..<(r * classes + classes)].map(Double.init)
            let m = row.max()!
            let lse = m + Foundation.log(row.reduce(0) { $0 + exp($1 - m) })
            total += lse - row[t]
            n += 1
        }
        return n == 0 ? 0 : total / Double(n)
    }

    @Test func crossEntropyWithIgnoreIndex() throws {
        let logits = randomTensor([2, 3, 11], seed: 3, std: 3)
        let targets = [4, -100, 0, 10, -100, 7]
        let loss = try crossEntropy(logits, targets: targets)
        #expect(loss.shape == [])
        #expect(abs(Double(try loss.item()) - referenceLoss(logits.toArray(), targets, classes: 11)) < 1e-5)
        try checkGradients("crossEntropy", inputs: [logits]) { try crossEntropy(logits, targets: targets) }
        // Ignored rows get exactly zero gradient.
        logits.grad = nil
        try crossEntropy(logits, targets: targets).backward()
        #expect(Array(logits.grad!.toArray()[11..<22]).allSatisfy { $0 == 0 })
    }

    @Test func crossEntropyRestrictedToLabelledRows() throws {
        // Restricting to labelled rows first gives the same loss and gradient as masking.
        let hidden = randomTensor([6, 8], seed: 4), head = randomTensor([13, 8], seed: 5)
        let labels = [-100, -100, 3, 12, -100, 0]
        let full = try crossEntropy(linear(hidden, weight: head), targets: labels)
        try full.backward()
        let gradFull = head.grad!.toArray()
        head.grad = nil
        let keep = labelledPositions(labels)
        let restricted = try crossEntropy(linear(selectRows(hidden, keep), weight: head), targets: keep.map { labels[$0] })
        try restricted.backward()
        #expect(abs(try full.item() - restricted.item()) < 1e-6)
        expectClose(head.grad!.toArray(), gradFull, atol: 1e-6)
    }

    @Test func crossEntropyEdges() throws {
        let logits = randomTensor([3, 4], seed: 6)
        let none = try crossEntropy(logits, targets: [-100, -100, -100])
        #expect(try none.item() == 0)
        try none.backward()
        #expect(logits.grad!.toArray().allSatisfy { $0 == 0 })
        #expect(throws: TensorError.self) { try crossEntropy(logits, targets: [0, 1]) }
        #expect(throws: TensorError.self) { try crossEntropy(logits, targets: [0, 4, 1]) }
        let extreme = try Tensor(shape: [1, 3], values: [80, -80, 0], requiresGrad: true)
        #expect(try crossEntropy(extreme, targets: [1]).item().isFinite)
    }
}
