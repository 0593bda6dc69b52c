// Shape ops: reshape and leading-axis slices are views; other slices, permute and concat copy.
import Testing
import PEFTLib

@Suite struct ShapeTests {
    @Test func reshapeIsAViewWithGradient() throws {
        let x = randomTensor([2, 3, 4], seed: 1)
        let y = try x.reshaped([6, -1])
        #expect(y.shape == [6, 4])
        #expect(y.toArray() == x.toArray())
        try checkGradients("reshape", inputs: [x]) { try x.reshaped([4, 6]) * x.reshaped([4, 6]) }
        #expect(try x.unsqueezed(axis: 1).shape == [2, 1, 3, 4])
        #expect(try x.unsqueezed(axis: 1).squeezed(axis: 1).shape == [2, 3, 4])
        #expect(throws: TensorError.self) { try x.reshaped([5, 5]) }
        #expect(throws: TensorError.self) { try x.reshaped([-1, -1]) }
    }

    @Test func slices() throws {
        let x = randomTensor([5, 3, 4], seed: 2)
        let rows = try x.sliced(1..<4)
        #expect(rows.shape == [3, 3, 4])
        #expect(rows.toArray() == Array(x.toArray()[12..<48]))
        try checkGradients("slice axis 0", inputs: [x]) { try x.sliced(1..<4) }
        try checkGradients("slice axis 1", inputs: [x]) { try x.sliced(1..<3, axis: 1) }
        try checkGradients("slice axis 2", inputs: [x]) { try x.sliced(0..<1, axis: -1) }
        let values = x.toArray()
        let middle = try x.sliced(2..<3, axis: 2)
        #expect(middle.shape == [5, 3, 1])
        #expect(middle.toArray() == (0..<15).map { values[$0 * 4 + 2] })
        #expect(throws: TensorError.self) { try x.sliced(3..<7) }
    }

    @Test func concatenation() throws {
        let a = randomTensor([2, 3], seed: 3), b = randomTensor([2, 5], seed: 4), c = randomTensor([4, 3], seed: 5)
        let ab = try concat([a, b], axis: 1)
        #expect(ab.shape == [2, 8])
        #expect(Array(ab.toArray()[0..<8]) == Array(a.toArray()[0..<3]) + Array(b.toArray()[0..<5]))
        try checkGradients("concat axis 1", inputs: [a, b]) { try concat([a, b], axis: 1) }
        try checkGradients("concat axis 0", inputs: [a, c]) { try concat([a, c, a], axis: 0) }
        #expect(throws: TensorError.self) { try concat([a, c], axis: 1) }
        #expect(throws: TensorError.self) { try concat([], axis: 0) }
    }

    @Test func permuteAndTranspose() throws {
        let x = randomTensor([2, 3, 4], seed: 6)
        let t = try x.transposed()
        #expect(t.shape == [2, 4, 3])
        let v = x.toArray(), tv = t.toArray()
        #expect(tv[1 * 12 + 2 * 3 + 1] == v[1 * 12 + 1 * 4 + 2])
        try checkGradients("permute", inputs: [x]) { try x.permuted([2, 0, 1]) }
        try checkGradients("transpose 0 2", inputs: [x]) { try x.transposed(0, 2) }
        #expect(try x.permuted([2, 0, 1]).permuted([1, 2, 0]).toArray() == v)
        #expect(throws: TensorError.self) { try x.permuted([0, 0, 1]) }
    }

    @Test func creationAndExport() throws {
        let t = try Tensor(shape: [2, 2], values: [1, 2, 3, 4])
        #expect(t.toArray() == [1, 2, 3, 4])
        #expect(t.rank == 2 && t.count == 4)
        #expect(throws: TensorError.self) { try Tensor(shape: [2, 3], values: [1, 2]) }
        #expect(throws: TensorError.self) { try Tensor.zeros([-1, 2]) }
        #expect(throws: TensorError.self) { try t.item() }
        #expect(try Tensor(scalar: 3).item() == 3)
        #expect(try Tensor.ones([3]).toArray() == [1, 1, 1])
        try t.assign([5, 6, 7, 8])
        #expect(t.toArray() == [5, 6, 7, 8])
        let filled = try Tensor(shape: [2, 3]) { values in for i in values.indices { values[i] = Float(i) } }
        #expect(filled.toArray() == [0, 1, 2, 3, 4, 5])
        #expect(throws: TensorError.self) { try Tensor(shape: [-2]) { _ in } }
    }
}
