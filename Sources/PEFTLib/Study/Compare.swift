// The study's main comparison (its Table 1): methods × connector tuned/frozen × datasets ×
// seeds. Each run copies the base model, attaches the method, trains on the dataset's
// train split and scores its test split; every finished run is stored at once (SweepStore),
// so an interrupted comparison re-run later skips what is done.

import Foundation

/// What a comparison trains from: a base model with its tokenizer and image preprocessing.
public struct StudyBase {
    public let model: LlavaForConditionalGeneration
    public let tokenizer: Tokenizer
    public let preprocessor: CLIPPreprocessorConfig
    /// Where the model came from ("tiny-llava", a folder): part of each run's identity in a store, so
    /// that runs of another model are not taken for these.
    public let name: String?
    public init(model: LlavaForConditionalGeneration, tokenizer: Tokenizer, preprocessor: CLIPPreprocessorConfig,
                name: String? = nil) {
        self.model = model; self.tokenizer = tokenizer; self.preprocessor = preprocessor; self.name = name
    }
}

/// One dataset of a comparison: examples to train on and to score.
public struct StudyDataset {
    public let name: String
    public let group: String
    public let train: [VQAExample]
    public let test: [VQAExample]
    public init(name: String, group: String, train: [VQAExample], test: [VQAExample]) {
        self.name = name; self.group = group; self.train = train; self.test = test
    }
}

/// How each run of a comparison trains and evaluates.
public struct StudySettings: Sendable {
    public var steps = 100
    public var batchSize = 8
    public var learningRate = 2e-4
    public var connectorLearningRate = 2e-5
    public var schedule: LearningRateSchedule = .cosine(warmupRatio: 0.03)
    public var evaluationBatch = 16
    public var maxNewTokens = 24
    public init() {}
}

/// A comparison stopped by the user: the runs finished before it are stored.
public struct StudyCancelled: Error, CustomStringConvertible {
    public let finished: Int, total: Int
    public var description: String { "stopped after \(finished) of \(total) runs; the finished ones are stored" }
}

public enum Study {
    /// The method's size (rank, bottleneck, virtual tokens) and location, for result tables.
    public static func describe(_ method: PEFTMethod) -> (size: TableValue, location: String) {
        func where_(_ l: PEFTLocation) -> String {
            switch l {
            case .attention: return "attention"
            case .mlp: return "mlp"
            case .both: return "both"
            case .modules(let names): return names.joined(separator: ",")
            }
        }
        switch method {
        case .lora(let c): return (.int(c.rank), where_(c.targets))
        case .ia3(let c): return (.null, where_(c.targets))
        case .adapter(let c): return (.int(c.bottleneckSize), where_(c.location))
        case .prefix(let c): return (.int(c.virtualTokens), "attention")
        case .full: return (.null, "all")
        case .connectorOnly: return (.null, "connector")
        }
    }

    /// One run: a copy of the base, the method attached, `settings.steps` steps on `data.train`,
    /// then `data.test` scored. Returns the result columns (metric, score, sub-scores, share,
    /// tokens/s, seconds), or throws `StudyCancelled` when `isCancelled` stops it.
    public static func trainAndEvaluate(base: StudyBase, method: PEFTMethod, connector: ConnectorMode, data: StudyDataset,
                                        seed: UInt64, settings: StudySettings, isCancelled: () -> Bool = { false },
                                        step: (Int) -> Void = { _ in }) throws -> [(String, TableValue)] {
        let started = ContinuousClock.now
        let model = try base.model.copy()
        let attachment = try attach(method: method, to: model, connector: connector, seed: seed)
        let share = trainableParameterSummary(model, attachment: attachment).share
        let task = try LlavaSupervisedTask(model: model, tokenizer: base.tokenizer, examples: data.train,
                                           batchSize: settings.batchSize, preprocessor: base.preprocessor, attachment: attachment)
        let run = TrainingRun(task: task, configuration: TrainingConfiguration(
            learningRate: settings.learningRate, connectorLearningRate: settings.connectorLearningRate,
            schedule: settings.schedule, scheduledSteps: max(1, settings.steps), seed: seed))
        let progress = try run.train(steps: settings.steps, isCancelled: isCancelled) { step($0.step) }
        if progress.cancelled { throw StudyCancelled(finished: 0, total: 1) }
        setAdapterTraining(false, in: model)
        let evaluator = try Evaluator(model: model, tokenizer: base.tokenizer, preprocessor: base.preprocessor,
                                      batchSize: settings.evaluationBatch, maxNewTokens: settings.maxNewTokens)
        let result = try evaluator.evaluate(data.test, isCancelled: isCancelled)
        if result.isPartial { throw StudyCancelled(finished: 0, total: 1) }
        let elapsed = ContinuousClock.now - started
        let tokensPerSecond = run.history.isEmpty ? 0 : run.history.map(\.tokensPerSecond).reduce(0, +) / Double(run.history.count)
        return [("metric", .text(result.metric.rawValue)), ("score", .double(result.score))]
            + result.subScores.map { ($0.name, TableValue.double($0.value)) }
            + [("final loss", run.history.last.map { .double($0.loss) } ?? .null), ("trainable share", .double(share * 100)),
               ("tokens/s", .double(tokensPerSecond)),
               ("seconds", .double(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18))]
    }

    /// methods × connectors × datasets × seeds, one run each, stored in `store` as they finish;
    /// runs already in the store are not run again.
    /// - Parameter progress: (runs done or skipped so far, total, the run about to start)
    /// - Returns: one row per run of this comparison: method, size, location, connector, dataset,
    ///   group, seed, train size, steps, then the results.
    /// - Throws: `StudyCancelled` when stopped (finished runs stay stored).
    public static func compare(base: StudyBase, methods: [PEFTMethod], connectors: [ConnectorMode], datasets: [StudyDataset],
                               seeds: [UInt64], settings: StudySettings, store: SweepStore,
                               isCancelled: () -> Bool = { false },
                               progress: (Int, Int, SweepRun) -> Void = { _, _, _ in }) throws -> Table {
        var runs: [(SweepRun, PEFTMethod, ConnectorMode, StudyDataset, UInt64)] = []
        for data in datasets {
            for method in methods {
                for connector in connectors {
                    for seed in seeds {
                        let (size, location) = describe(method)
                        let key = SweepRun([("method", .text(method.name)), ("size", size), ("location", .text(location)),
                                            ("connector", .text(connector.rawValue)), ("dataset", .text(data.name)),
                                            ("group", .text(data.group)), ("seed", .int(Int(seed))),
                                            ("train size", .int(data.train.count)), ("steps", .int(settings.steps)),
                                            ("lr", .double(settings.learningRate)), ("batch", .int(settings.batchSize))])
                        runs.append((key, method, connector, data, seed))
                    }
                }
            }
        }
        var finished = 0
        for (i, (key, method, connector, data, seed)) in runs.enumerated() {
            if store.isFinished(key) { finished += 1; continue }
            if isCancelled() { throw StudyCancelled(finished: finished, total: runs.count) }
            progress(i, runs.count, key)
            do {
                let results = try trainAndEvaluate(base: base, method: method, connector: connector, data: data, seed: seed,
                                                   settings: settings, isCancelled: isCancelled)
                try store.record(key, results: results)
                finished += 1
            } catch is StudyCancelled {
                throw StudyCancelled(finished: finished, total: runs.count)
            }
        }
        return Table(records: runs.compactMap { run in store.results(for: run.0).map { run.0.settings + $0 } },
                     title: "comparison")
    }
}
