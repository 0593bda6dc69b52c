// Training runs on a small regression task: bit-identical determinism, incremental
// training, cancellation at step boundaries, non-finite losses, and checkpoints that
// resume exactly.

import Foundation
import PEFTLib
import Testing

/// y = W x + b on fixed random data; W and b train.
final class RegressionTask: TrainingTask {
    let weight: Tensor, bias: Tensor
    let inputs: [[Float]], targets: [[Float]]
    let batchSize = 4
    var exampleCount: Int { inputs.count }

    init(seed: UInt64 = 1) throws {
        var g = RandomGenerator(seed: seed)
        weight = try Tensor.normal([3, 5], std: 0.1, generator: &g, requiresGrad: true)
        bias = try Tensor.zeros([3], requiresGrad: true)
        let truth = (0..<15).map { _ in Float(g.nextNormal()) }
        var xs: [[Float]] = [], ys: [[Float]] = []
        for _ in 0..<24 {
            let x = (0..<5).map { _ in Float(g.nextNormal()) }
            xs.append(x)
            ys.append((0..<3).map { r in (0..<5).reduce(Float(0)) { $0 + truth[r * 5 + $1] * x[$1] } })
        }
        inputs = xs; targets = ys
    }

    func trainableParameters() -> [(name: String, tensor: Tensor, group: String)] {
        [("weight", weight, "decay"), ("bias", bias, "no decay")]
    }

    func loss(examples: [Int], generator: inout RandomGenerator) throws -> (loss: Tensor, tokens: Int) {
        let x = try Tensor(shape: [examples.count, 5], values: examples.flatMap { inputs[$0] })
        let y = try Tensor(shape: [examples.count, 3], values: examples.flatMap { targets[$0] })
        let diff = try linear(x, weight: weight, bias: bias) - y
        return (try (diff * diff).mean(), examples.count)
    }
}

private func config(seed: UInt64 = 7, lr: Double = 0.05) -> TrainingConfiguration {
    TrainingConfiguration(learningRate: lr, weightDecay: 0.01, schedule: .cosine(warmupRatio: 0.1), scheduledSteps: 20,
                          gradientAccumulation: 2, maxGradientNorm: 1.0, seed: seed)
}

private func losses(_ run: TrainingRun) -> [Double] { run.history.map(\.loss) }

@Suite("Training runs")
struct TrainingRunTests {
    @Test("the same seed gives a bit-identical loss sequence; another seed differs")
    func determinism() throws {
        let a = TrainingRun(task: try RegressionTask(), configuration: config())
        let b = TrainingRun(task: try RegressionTask(), configuration: config())
        let c = TrainingRun(task: try RegressionTask(), configuration: config(seed: 8))
        try a.train(steps: 10); try b.train(steps: 10); try c.train(steps: 10)
        #expect(losses(a) == losses(b))
        #expect(losses(a) != losses(c))
        #expect(losses(a).last! < losses(a).first!)
    }

    @Test("training in pieces equals training at once")
    func incremental() throws {
        let whole = TrainingRun(task: try RegressionTask(), configuration: config())
        try whole.train(steps: 9)
        let pieces = TrainingRun(task: try RegressionTask(), configuration: config())
        try pieces.train(steps: 4)
        try pieces.train(steps: 5)
        #expect(losses(whole) == losses(pieces))
        #expect(pieces.step == 9)
    }

    @Test("a cancelled call stops at a step boundary and the next call continues")
    func cancellation() throws {
        let run = TrainingRun(task: try RegressionTask(), configuration: config())
        var seen = 0
        let outcome = try run.train(steps: 10, isCancelled: { seen >= 3 }, progress: { _ in seen += 1 })
        #expect(outcome == TrainingProgress(completedSteps: 3, cancelled: true))
        #expect(run.step == 3 && run.history.count == 3)
        try run.train(steps: 4)
        let reference = TrainingRun(task: try RegressionTask(), configuration: config())
        try reference.train(steps: 7)
        #expect(losses(run) == losses(reference))
    }

    @Test("an absurd learning rate stops with the step and loss, and the last good parameters")
    func nonFinite() throws {
        let task = try RegressionTask()
        let run = TrainingRun(task: task, configuration: TrainingConfiguration(
            learningRate: 1e38, schedule: .constant, scheduledSteps: 10, maxGradientNorm: nil, optimizer: .sgd, seed: 7))
        var before: [Float] = []
        do {
            try run.train(steps: 10, progress: { _ in before = task.weight.toArray() })
            Issue.record("training should have stopped")
        } catch let error as TrainingError {
            guard case .nonFinite(let step, _, _, let lastGood) = error else { Issue.record("\(error)"); return }
            #expect(lastGood == step - 1)
            #expect(run.step == lastGood)
            #expect(error.description.hasPrefix("training stopped at step \(step):"))
        }
        let weights = task.weight.toArray()
        #expect(weights.allSatisfy { $0.isFinite })
        if run.step > 0 { #expect(task.weight.toArray() == before) }
    }

    @Test("a checkpoint resumes bit-identically; corrupt or mismatched ones are errors naming the file")
    func checkpoints() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("peftlab-ckpt-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("run.safetensors").path

        let first = TrainingRun(task: try RegressionTask(), configuration: config())
        try first.train(steps: 4)
        try first.save(to: path)
        try first.train(steps: 1)
        try first.save(to: path)          // saving over a checkpoint replaces it whole
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["run.safetensors"])

        let resumed = TrainingRun(task: try RegressionTask(), configuration: config())
        try resumed.resume(from: path)
        #expect(resumed.step == 5)
        try resumed.train(steps: 3)
        let straight = TrainingRun(task: try RegressionTask(), configuration: config())
        try straight.train(steps: 8)
        #expect(losses(resumed) == losses(straight))

        let other = TrainingRun(task: try RegressionTask(), configuration: config(seed: 99))
        #expect(throws: TrainingError.self) { try other.resume(from: path) }

        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let broken = dir.appendingPathComponent("broken.safetensors").path
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: broken))
        do {
            try TrainingRun(task: try RegressionTask(), configuration: config()).resume(from: broken)
            Issue.record("a truncated checkpoint must not load")
        } catch {
            #expect("\(error)".contains(broken))
        }
    }
}
