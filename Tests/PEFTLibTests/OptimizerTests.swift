// Optimizers and schedules against torch: AdamW and SGD trajectories with parameter
// groups, weight decay, gradient clipping and Hugging Face's cosine warm-up schedule.

import Foundation
import PEFTLib
import Testing

@Suite("Optimizers and schedules")
struct OptimizerTests {
    struct Case: Decodable {
        let kind: String
        let shapes: [String: [Int]]
        let initial: [String: [Float]]
        let grads: [[String: [Float]]]
        let factors: [Double]
        let norms: [Double]
        let after: [[String: [Float]]]
    }
    struct Fixture: Decodable { let steps: Int; let max_norm: Double; let cases: [Case] }

    static func fixture() throws -> Fixture {
        let url = try #require(Bundle.module.url(forResource: "optimizer_reference", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    @Test("the cosine schedule with warm-up gives Hugging Face's factors")
    func cosineSchedule() throws {
        let f = try Self.fixture()
        let schedule = LearningRateSchedule.cosine(warmupRatio: 2.0 / 6.0)
        for (step, expected) in f.cases[0].factors.enumerated() {
            #expect(abs(schedule.factor(step: step, totalSteps: f.steps) - expected) < 1e-12)
        }
    }

    @Test("linear and constant schedules")
    func otherSchedules() {
        let linear = LearningRateSchedule.linear(warmupRatio: 0.1)
        #expect(linear.factor(step: 0, totalSteps: 100) == 0)
        #expect(linear.factor(step: 5, totalSteps: 100) == 0.5)
        #expect(linear.factor(step: 10, totalSteps: 100) == 1)
        #expect(abs(linear.factor(step: 55, totalSteps: 100) - 0.5) < 1e-12)
        #expect(linear.factor(step: 100, totalSteps: 100) == 0)
        #expect(LearningRateSchedule.constant.factor(step: 7, totalSteps: 10) == 1)
        #expect(LearningRateSchedule.constantWithWarmup(warmupRatio: 0.5).factor(step: 2, totalSteps: 8) == 0.5)
    }

    @Test("AdamW and SGD follow torch step for step, with clipping and groups", arguments: ["adamw", "sgd"])
    func trajectories(kind: String) throws {
        let f = try Self.fixture()
        let c = try #require(f.cases.first { $0.kind == kind })
        var tensors: [String: Tensor] = [:]
        for (name, shape) in c.shapes {
            tensors[name] = try Tensor(shape: shape, values: c.initial[name]!, requiresGrad: true)
        }
        let groups = [
            ParameterGroup(name: "decay", parameters: [("adapter.weight", tensors["adapter.weight"]!)], learningRate: 2e-3, weightDecay: 0.1),
            ParameterGroup(name: "no decay", parameters: [("adapter.bias", tensors["adapter.bias"]!)], learningRate: 2e-3),
            ParameterGroup(name: "connector", parameters: [("connector.weight", tensors["connector.weight"]!)], learningRate: 2e-4),
        ]
        let optimizer: any Optimizer = kind == "adamw" ? AdamW(groups: groups) : SGD(groups: groups, momentum: 0.9)
        let schedule = LearningRateSchedule.cosine(warmupRatio: 2.0 / 6.0)
        for step in 0..<f.steps {
            for (name, tensor) in tensors {
                tensor.grad = try Tensor(shape: c.shapes[name]!, values: c.grads[step][name]!)
            }
            let norm = optimizer.clipGradients(maxNorm: f.max_norm)
            #expect(abs(norm - c.norms[step]) / c.norms[step] < 1e-5)
            optimizer.step(learningRateFactor: schedule.factor(step: step, totalSteps: f.steps))
            for (name, tensor) in tensors {
                let ours = tensor.toArray(), theirs = c.after[step][name]!
                let worst = zip(ours, theirs).map { abs($0 - $1) / max(1e-3, abs($1)) }.max() ?? 0
                #expect(worst < 1e-5, "\(kind) step \(step) \(name): relative error \(worst)")
            }
        }
    }

    @Test("optimizer state round-trips and rejects a mismatched model")
    func stateRoundTrip() throws {
        let w = try Tensor(shape: [2, 2], values: [1, 2, 3, 4], requiresGrad: true)
        let optimizer = AdamW(groups: [ParameterGroup(name: "all", parameters: [("w", w)], learningRate: 0.1)])
        w.grad = try Tensor(shape: [2, 2], values: [0.1, -0.2, 0.3, -0.4])
        optimizer.step(learningRateFactor: 1)
        let saved = optimizer.state
        #expect(saved.step == 1)
        let other = AdamW(groups: [ParameterGroup(name: "all", parameters: [("w", w)], learningRate: 0.1)])
        try other.load(saved)
        #expect(other.state == saved)
        let wrong = AdamW(groups: [ParameterGroup(name: "all", parameters: [("v", w)], learningRate: 0.1)])
        #expect(throws: OptimizerStateError.self) { try wrong.load(saved) }
    }
}
