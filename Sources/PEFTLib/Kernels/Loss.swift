// Cross-entropy over logits with ignore index −100 (Hugging Face's label convention),
// mean over the labelled positions. Fused like the "liger"/llm.c kernels: when a graph
// is recorded, the forward pass already writes d(loss)/d(logits) for an upstream
// gradient of 1 (softmax − one-hot, over the labelled count), so backward costs no
// second pass of exponentials; without a graph only one log-sum-exp per row is kept.
import Foundation

/// Loss terms per row; with `gradient` non-nil also writes (softmax − onehot) / labelled
/// into it (zeros on ignored rows). logits, gradient: (N, V). Returns the summed loss.
func crossEntropyForward(logits: UnsafePointer<Float>, targets: [Int],
                         gradient: UnsafeMutablePointer<Float>?, labelled: Int,
                         rows: Int, classes v: Int, ignoreIndex: Int) -> Double {
    let partial = UnsafeMutablePointer<Double>.allocate(capacity: max(rows, 1))
    defer { partial.deallocate() }
    let inverseCount = 1 / Float(max(labelled, 1))
    targets.withUnsafeBufferPointer { t in
        Threading.parallelFor(rows, minimumChunk: max(1, pointwiseGrain / max(v, 1))) { range in
            // Exponentials go into the gradient row when there is one, else into scratch.
            let scratch = gradient == nil ? UnsafeMutablePointer<Float>.allocate(capacity: max(v, 1)) : nil
            defer { scratch?.deallocate() }
            for r in range {
                partial[r] = 0
                let target = t[r]
                let exps = gradient.map { $0 + r * v } ?? scratch!
                if target == ignoreIndex {
                    if gradient != nil { exps.update(repeating: 0, count: v) }
                    continue
                }
                let row = logits + r * v
                let peak = vectorMax(row, v)
                for j in 0..<v { exps[j] = fastExp(row[j] - peak) }
                let total = vectorSum(exps, v)
                partial[r] = Double(peak) + Foundation.log(Double(total)) - Double(row[target])
                if gradient != nil {
                    let scale = inverseCount / total
                    for j in 0..<v { exps[j] *= scale }
                    exps[target] -= inverseCount
                }
            }
        }
    }
    var loss = 0.0
    for r in 0..<rows { loss += partial[r] }
    return loss
}

/// Mean cross-entropy of `logits` (…, V) against integer `targets` (one per row);
/// rows whose target is `ignoreIndex` (−100) are skipped and do not count in the mean.
/// Returns a scalar; 0 (with zero gradient) when no row carries a label.
///
///     let keep = labelledPositions(labels)                   // supervised positions only
///     let logits = try linear(selectRows(hidden, keep), weight: lmHead)
///     let loss = try crossEntropy(logits, targets: keep.map { labels[$0] })
public func crossEntropy(_ logits: Tensor, targets: [Int], ignoreIndex: Int = -100) throws -> Tensor {
    guard logits.rank >= 1 else {
        throw TensorError.invalidShape(op: "crossEntropy", shape: logits.shape, detail: "needs rank ≥ 1")
    }
    let v = logits.shape[logits.rank - 1], rows = logits.shape.dropLast().reduce(1, *)
    guard targets.count == rows else {
        throw TensorError.shapeMismatch(op: "crossEntropy", lhs: logits.shape, rhs: [targets.count],
                                        detail: "one target per row of logits")
    }
    if let bad = targets.first(where: { $0 != ignoreIndex && ($0 < 0 || $0 >= v) }) {
        throw TensorError.invalidArgument(op: "crossEntropy",
                                          detail: "target \(bad) out of range 0..<\(v) (ignore index \(ignoreIndex))")
    }
    try Tensor.requireValues("crossEntropy", logits)
    let labelled = targets.reduce(0) { $0 + ($1 == ignoreIndex ? 0 : 1) }
    let recording = needsGraph(logits)
    // d(mean loss)/d(logits) for an upstream gradient of 1, filled by the forward pass.
    let unitGradient: Tensor? = recording ? Tensor(uninitializedShape: logits.shape) : nil
    let total = crossEntropyForward(logits: logits.pointer, targets: targets, gradient: unitGradient?.pointer,
                                    labelled: labelled, rows: rows, classes: v, ignoreIndex: ignoreIndex)
    let out = Tensor(scalar: labelled == 0 ? 0 : Float(total / Double(labelled)))
    guard recording, let unitGradient else { return out }
    let logitsSlot = logits.slot   // the logits' values are not needed again
    record(out, op: "crossEntropy", inputs: [logits]) { g in
        let upstream = g.pointer.pointee
        if logitsSlot.grad == nil && upstream == 1 {
            logitsSlot.grad = unitGradient // hand the buffer over: no copy, no second pass
        } else {
            logitsSlot.accumulateGrad(from: unitGradient.pointer, scale: upstream)
        }
    }
    return out
}
