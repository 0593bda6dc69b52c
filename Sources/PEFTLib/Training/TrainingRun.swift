// An incremental training run: the model's trainable parameters, the optimizer and its
// state, the step counter, the data order and the history. `train(steps:)` continues
// where the last call stopped; a cancelled call stops at a step boundary with every
// completed step fully applied; a non-finite loss or gradient stops the run with the
// parameters of the last good step.
//
// Randomness is derived from (seed, step) and (seed, epoch), never carried as hidden
// state, so a run resumed from a checkpoint continues exactly as if it had not stopped.

import Foundation

/// How a run trains.
public struct TrainingConfiguration: Sendable, Equatable, Codable {
    public enum OptimizerKind: String, Sendable, Codable { case adamw, sgd }

    /// Micro-batches per optimizer step (gradient accumulation).
    public var gradientAccumulation: Int
    public var learningRate: Double
    /// The connector's own learning rate (the study's 2e-5 by default); nil uses `learningRate`.
    public var connectorLearningRate: Double?
    public var weightDecay: Double
    public var schedule: LearningRateSchedule
    /// The steps the schedule spans (its cosine reaches zero there).
    public var scheduledSteps: Int
    public var maxGradientNorm: Double?
    public var optimizer: OptimizerKind
    public var momentum: Double
    public var seed: UInt64

    /// The defaults of every way to train — `TrainingConfiguration`, the language's `train`, the
    /// study's workflows — in one place: the study's rates (2e-4, the connector 2e-5), a constant
    /// schedule (a run can always be continued with `train(steps:)`), clipping at 1, no weight
    /// decay, AdamW, seed 42, 100 steps of 8.
    public enum Defaults {
        public static let learningRate = 2e-4
        public static let connectorLearningRate = 2e-5
        public static let weightDecay = 0.0
        public static let schedule = LearningRateSchedule.constant
        public static let maxGradientNorm = 1.0
        public static let optimizer = OptimizerKind.adamw
        public static let seed: UInt64 = 42
        public static let steps = 100
        public static let batchSize = 8
    }

    public init(learningRate: Double = Defaults.learningRate, connectorLearningRate: Double? = Defaults.connectorLearningRate,
                weightDecay: Double = Defaults.weightDecay, schedule: LearningRateSchedule = Defaults.schedule, scheduledSteps: Int,
                gradientAccumulation: Int = 1, maxGradientNorm: Double? = Defaults.maxGradientNorm,
                optimizer: OptimizerKind = Defaults.optimizer, momentum: Double = 0, seed: UInt64 = Defaults.seed) {
        self.learningRate = learningRate; self.connectorLearningRate = connectorLearningRate
        self.weightDecay = weightDecay; self.schedule = schedule; self.scheduledSteps = scheduledSteps
        self.gradientAccumulation = gradientAccumulation; self.maxGradientNorm = maxGradientNorm
        self.optimizer = optimizer; self.momentum = momentum; self.seed = seed
    }
}

/// What a run trains: its parameters and how to compute the loss of one micro-batch.
public protocol TrainingTask: AnyObject {
    /// Named trainable parameters, each with its group: "connector", "no decay" (norms,
    /// biases, 1-D vectors) or "decay".
    func trainableParameters() -> [(name: String, tensor: Tensor, group: String)]
    /// How many examples one epoch holds (for the data order).
    var exampleCount: Int { get }
    /// The loss of the micro-batch made of `examples` (indices into the data), with the
    /// number of tokens processed (for tokens/s); `generator` drives dropout.
    func loss(examples: [Int], generator: inout RandomGenerator) throws -> (loss: Tensor, tokens: Int)
    /// Examples per micro-batch.
    var batchSize: Int { get }
}

/// One optimizer step of the history.
public struct StepRecord: Sendable, Equatable, Codable {
    public var step: Int
    public var loss: Double
    public var learningRate: Double
    public var gradientNorm: Double
    public var tokensPerSecond: Double
    public var seconds: Double
}

/// Why training stopped early.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// The loss or a gradient was NaN or infinite; the parameters are those after `lastGoodStep`.
    case nonFinite(step: Int, loss: Double, what: String, lastGoodStep: Int)
    case checkpoint(path: String, problem: String)

    public var description: String {
        switch self {
        case .nonFinite(let step, let loss, let what, let last):
            return "training stopped at step \(step): the \(what) is not finite (loss \(loss)); "
                + "the parameters are those of step \(last). Lower the learning rate or clip gradients."
        case .checkpoint(let path, let problem):
            return "checkpoint \(path): \(problem)"
        }
    }
}

/// The outcome of one `train(steps:)` call.
public struct TrainingProgress: Sendable, Equatable {
    public var completedSteps: Int
    public var cancelled: Bool
    public init(completedSteps: Int, cancelled: Bool) { self.completedSteps = completedSteps; self.cancelled = cancelled }
}

/// A run that trains a little at a time.
public final class TrainingRun: @unchecked Sendable {
    public let task: any TrainingTask
    public let configuration: TrainingConfiguration
    public let optimizer: any Optimizer
    public private(set) var step = 0
    public private(set) var history: [StepRecord] = []
    private let names: [String]

    public init(task: any TrainingTask, configuration: TrainingConfiguration) {
        self.task = task
        self.configuration = configuration
        var byGroup: [String: [(name: String, tensor: Tensor)]] = [:]
        var order: [String] = []
        for p in task.trainableParameters() {
            if byGroup[p.group] == nil { order.append(p.group) }
            byGroup[p.group, default: []].append((p.name, p.tensor))
        }
        names = task.trainableParameters().map(\.name)
        let groups = order.map { name -> ParameterGroup in
            let lr = name == "connector" ? (configuration.connectorLearningRate ?? configuration.learningRate) : configuration.learningRate
            let decay = name == "decay" ? configuration.weightDecay : 0
            return ParameterGroup(name: name, parameters: byGroup[name]!, learningRate: lr, weightDecay: decay)
        }
        switch configuration.optimizer {
        case .adamw: optimizer = AdamW(groups: groups)
        case .sgd: optimizer = SGD(groups: groups, momentum: Float(configuration.momentum))
        }
    }

    /// The examples of micro-batch `index` (counting from the run's start): epochs are
    /// shuffled by (seed, epoch), batches taken in order.
    public func examples(microBatch index: Int) -> [Int] {
        let n = max(1, task.exampleCount), b = max(1, task.batchSize)
        var out: [Int] = []
        var position = index * b
        var order: (epoch: Int, indices: [Int])?
        while out.count < b {
            let epoch = position / n
            if order?.epoch != epoch { order = (epoch, Self.permutation(count: n, seed: configuration.seed, epoch: epoch)) }
            out.append(order!.indices[position % n])
            position += 1
        }
        return out
    }

    static func permutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var generator = RandomGenerator(seed: seed &+ 0x5EED_0000 &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = Int(generator.next() % UInt64(i + 1))
            order.swapAt(i, j)
        }
        return order
    }

    /// Runs up to `steps` more optimizer steps. `progress` sees each finished step;
    /// `isCancelled` is checked before each step and before each micro-batch of a step (a
    /// step cut short is dropped whole: the run stays at its last finished step, and running
    /// that step again later gives the same bits).
    @discardableResult
    public func train(steps: Int, isCancelled: () -> Bool = { false },
                      progress: (StepRecord) -> Void = { _ in }) throws -> TrainingProgress {
        var done = 0
        defer { TensorMemory.returnFreeMemory() }   // the steps' activations go back to the system
        while done < steps {
            if isCancelled() { return TrainingProgress(completedSteps: done, cancelled: true) }
            guard let record = try runStep(isCancelled: isCancelled) else {
                return TrainingProgress(completedSteps: done, cancelled: true)
            }
            history.append(record)
            done += 1
            progress(record)
        }
        return TrainingProgress(completedSteps: done, cancelled: false)
    }

    /// One optimizer step; nil when cancelled between its micro-batches (nothing changed).
    private func runStep(isCancelled: () -> Bool) throws -> StepRecord? {
        let started = ContinuousClock.now
        let accumulation = max(1, configuration.gradientAccumulation)
        optimizer.zeroGradients()
        var lossSum = 0.0, tokens = 0
        for micro in 0..<accumulation {
            if micro > 0 && isCancelled() {
                optimizer.zeroGradients()
                return nil
            }
            let index = step * accumulation + micro
            var generator = RandomGenerator(seed: configuration.seed &+ 0xD80F_0000 &+ UInt64(index) &* 0xBF58_476D_1CE4_E5B9)
            let (loss, count) = try task.loss(examples: examples(microBatch: index), generator: &generator)
            let value = Double(try loss.item())
            guard value.isFinite else {
                optimizer.zeroGradients()
                throw TrainingError.nonFinite(step: step + 1, loss: value, what: "loss", lastGoodStep: step)
            }
            let scaled = accumulation == 1 ? loss : loss * (1 / Float(accumulation))
            try scaled.backward()
            lossSum += value
            tokens += count
        }
        let meanLoss = lossSum / Double(accumulation)
        let norm = configuration.maxGradientNorm.map { optimizer.clipGradients(maxNorm: $0) } ?? optimizer.gradientNorm()
        guard norm.isFinite else {
            optimizer.zeroGradients()
            throw TrainingError.nonFinite(step: step + 1, loss: meanLoss, what: "gradient norm", lastGoodStep: step)
        }
        // Keep the step's starting point, so that an update that overflows can be undone.
        let snapshot = optimizer.groups.flatMap(\.parameters).map { ($0.tensor, $0.tensor.toArray()) }
        let savedState = optimizer.state
        let factor = configuration.schedule.factor(step: step, totalSteps: configuration.scheduledSteps)
        optimizer.step(learningRateFactor: factor)
        if !optimizer.groups.allSatisfy({ $0.parameters.allSatisfy { $0.tensor.sumOfSquares().isFinite } }) {
            for (tensor, values) in snapshot { try tensor.assign(values) }
            try optimizer.load(savedState)
            optimizer.zeroGradients()
            throw TrainingError.nonFinite(step: step + 1, loss: meanLoss, what: "updated parameters", lastGoodStep: step)
        }
        optimizer.zeroGradients()
        step += 1
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return StepRecord(step: step, loss: meanLoss, learningRate: configuration.learningRate * factor,
                          gradientNorm: norm, tokensPerSecond: seconds > 0 ? Double(tokens) / seconds : 0, seconds: seconds)
    }

    // MARK: - Checkpoints

    struct SavedRun: Codable {
        var format = 1
        var configuration: TrainingConfiguration
        var step: Int
        var history: [StepRecord]
        var optimizerStep: Int
        var parameterNames: [String]
    }

    /// Saves parameters, optimizer moments, step, history and configuration into one
    /// safetensors file, written to a temporary file and renamed: a crash while saving
    /// leaves the previous checkpoint as it was.
    public func save(to path: String) throws {
        var writer = SafetensorsWriter()
        let parameters = optimizer.groups.flatMap(\.parameters)
        for (name, tensor) in parameters { try writer.add("param." + name, shape: tensor.shape, values: tensor.toArray()) }
        let state = optimizer.state
        for (name, buffers) in state.buffers {
            for (i, buffer) in buffers.enumerated() { try writer.add("optim.\(i).\(name)", shape: [buffer.count], values: buffer) }
        }
        let saved = SavedRun(configuration: configuration, step: step, history: history, optimizerStep: state.step,
                             parameterNames: parameters.map(\.name))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        writer.metadata["peftlab.run"] = String(decoding: try encoder.encode(saved), as: UTF8.self)
        writer.metadata["format"] = "pt"
        try writer.write(to: path)
    }

    /// Restores a checkpoint saved by a run of the same task and configuration.
    public func resume(from path: String) throws {
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: path) } catch {
            throw TrainingError.checkpoint(path: path, problem: "\(error)")
        }
        guard let text = file.metadata["peftlab.run"],
              let saved = try? JSONDecoder().decode(SavedRun.self, from: Data(text.utf8)) else {
            throw TrainingError.checkpoint(path: path, problem: "not a PEFTLab training checkpoint (no readable peftlab.run metadata)")
        }
        let parameters = optimizer.groups.flatMap(\.parameters)
        guard saved.parameterNames.sorted() == parameters.map(\.name).sorted() else {
            let ours = Set(parameters.map(\.name)), theirs = Set(saved.parameterNames)
            let missing = ours.subtracting(theirs).sorted().prefix(3), extra = theirs.subtracting(ours).sorted().prefix(3)
            throw TrainingError.checkpoint(path: path, problem: "its parameters do not match this run's "
                + "(missing: \(missing.joined(separator: ", ")); unexpected: \(extra.joined(separator: ", ")))")
        }
        guard saved.configuration == configuration else {
            throw TrainingError.checkpoint(path: path, problem: "it was saved with another training configuration")
        }
        var buffers: [String: [[Float]]] = [:]
        for name in file.names where name.hasPrefix("optim.") {
            let parts = name.split(separator: ".", maxSplits: 2)
            guard parts.count == 3, let i = Int(parts[1]) else { continue }
            var list = buffers[String(parts[2]), default: []]
            while list.count <= i { list.append([]) }
            list[i] = try file.floats(name)
            buffers[String(parts[2])] = list
        }
        do {
            for (name, tensor) in parameters { try tensor.assign(try file.floats("param." + name)) }
            try optimizer.load(OptimizerState(step: saved.optimizerStep, buffers: buffers))
        } catch {
            throw TrainingError.checkpoint(path: path, problem: "\(error)")
        }
        step = saved.step
        history = saved.history
    }
}
