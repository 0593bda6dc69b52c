// The machinery of the study's workflows (compare, location, budget, data size, generalization,
// hallucination): a list of planned runs, each trained from a copy of the base and scored at
// one or more checkpoints (a number of steps, or the end of each epoch) on one or more test
// sets. Runs go one after another, each with the whole thread budget; every finished run's
// rows are stored at once (SweepStore), so a sweep stopped and run again skips what is done.
// The results form one tidy table: one row per run, checkpoint, test set and metric.

import Foundation

/// Where in its training a run is scored: after `steps` steps, reported as `epoch`
/// (a whole epoch, or the fraction of the training set a step-counted run has seen).
public struct StudyCheckpoint: Sendable, Equatable {
    public var epoch: TableValue
    public var steps: Int
    public init(epoch: TableValue, steps: Int) { self.epoch = epoch; self.steps = steps }
}

/// One planned run of a study workflow.
public struct StudyRunPlan {
    /// The run's identity in the store: its columns and whatever else makes it (the method's whole
    /// configuration, learning rates, batch, test sets, the workflow).
    public var key: SweepRun
    /// The leading columns of each of its rows: method, size, location, connector, dataset, seed, trainSize.
    public var columns: [(String, TableValue)]
    public var method: PEFTMethod
    public var connector: ConnectorMode
    public var seed: UInt64
    public var train: [VQAExample]
    /// Scored at every checkpoint.
    public var tests: [StudyDataset]
    /// Whether the rows name the test set in a `test` column (when it differs from `dataset`).
    public var namesTest: Bool
    /// In increasing order of steps.
    public var checkpoints: [StudyCheckpoint]
    /// For progress displays: "lora 8 attention · mini-sqa · seed 42".
    public var label: String

    public init(key: SweepRun, columns: [(String, TableValue)], method: PEFTMethod, connector: ConnectorMode, seed: UInt64,
                train: [VQAExample], tests: [StudyDataset], namesTest: Bool, checkpoints: [StudyCheckpoint], label: String) {
        self.key = key; self.columns = columns; self.method = method; self.connector = connector; self.seed = seed
        self.train = train; self.tests = tests; self.namesTest = namesTest; self.checkpoints = checkpoints; self.label = label
    }

    /// Training steps plus answers to generate: the run's share of a sweep's progress.
    var work: Int { (checkpoints.last?.steps ?? 0) + checkpoints.count * tests.reduce(0) { $0 + $1.test.count } }
}

/// Where a sweep is, for a live display.
public struct StudyProgress: Sendable, Equatable {
    /// The run in progress, counting from 1.
    public var run: Int
    public var runs: Int
    /// Runs finished so far, those stored before included.
    public var finished: Int
    /// Training steps and answers done so far over all runs (stored runs count whole), out of `total`.
    public var done: Int
    public var total: Int
    /// The run: "lora 8 attention · mini-sqa · seed 42".
    public var label: String
    /// "training step 3/12", "evaluating mini-sqa 16/50", "stored before".
    public var activity: String
    /// The last training loss of the run in progress.
    public var loss: Double?
}

/// A workflow's request that cannot run: an empty list, a size of 0, a dataset without a train split.
public struct StudyError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What a workflow returns: its tidy table, a summary where the study reports one (budget:
/// mean ± std over seeds), the figure, and what the sweep did.
public struct StudyResults: Sendable {
    /// One row per run, checkpoint, test set and metric.
    public var table: Table
    public var summary: Table?
    public var figure: Plot
    /// Runs planned, runs with stored results (including those finished before), run now, skipped as stored.
    public var runs: Int, finished: Int, ran: Int, skipped: Int
    /// Stopped by the user: the table holds the finished runs only.
    public var cancelled: Bool
}

extension Study {
    /// Metric rows that stand for a dataset's score: accuracy (POPE's too), VQA score, CIDEr-D.
    public static let headlineMetrics: Set<String> = ["accuracy", "vqa-score", "cider-d"]

    /// Columns that hold measurements (stored whole numbers come back as Int; these stay Double).
    static let measuredColumns: Set<String> = ["score", "share", "tokensPerSecond", "seconds"]

    /// What a sweep did.
    public struct SweepOutcome {
        /// The rows of every run with stored results, in plan order.
        public var rows: [[(String, TableValue)]]
        public var runs: Int, finished: Int, ran: Int, skipped: Int
        public var cancelled: Bool
    }

    /// Runs the plans one after another, skipping those stored in `store` and storing each as it
    /// finishes. An interrupt (`isCancelled`) stops at a step or evaluation batch boundary; the
    /// run in progress is dropped, the finished ones are kept.
    public static func run(_ plans: [StudyRunPlan], base: StudyBase, settings: StudySettings, store: SweepStore,
                           isCancelled: () -> Bool = { false },
                           progress: (StudyProgress) -> Void = { _ in }) throws -> SweepOutcome {
        let total = plans.reduce(0) { $0 + $1.work }
        var outcome = SweepOutcome(rows: [], runs: plans.count, finished: 0, ran: 0, skipped: 0, cancelled: false)
        var done = 0
        for (i, plan) in plans.enumerated() {
            var state = StudyProgress(run: i + 1, runs: plans.count, finished: outcome.finished, done: done, total: total,
                                      label: plan.label, activity: "", loss: nil)
            if store.isFinished(plan.key) {
                outcome.skipped += 1
                outcome.finished += 1
                done += plan.work
                state.finished = outcome.finished; state.done = done; state.activity = "stored before"
                progress(state)
                continue
            }
            if isCancelled() { outcome.cancelled = true; break }
            let start = done
            do {
                let rows = try execute(plan, base: base, settings: settings, isCancelled: isCancelled) { work, activity, loss in
                    state.done = start + work; state.activity = activity; state.loss = loss
                    progress(state)
                }
                try store.record(plan.key, rows: rows)
            } catch is StudyCancelled {
                outcome.cancelled = true
                break
            }
            outcome.ran += 1
            outcome.finished += 1
            done = start + plan.work
        }
        outcome.rows = plans.flatMap { store.rows(for: $0.key) ?? [] }.map(normalized)
        return outcome
    }

    /// Stored whole numbers read back as Int; measurements are Double again.
    static func normalized(_ row: [(String, TableValue)]) -> [(String, TableValue)] {
        row.map { name, value in
            if measuredColumns.contains(name), case .int(let n) = value { return (name, .double(Double(n))) }
            return (name, value)
        }
    }

    /// One run: copy, attach, train to each checkpoint and score every test set there.
    /// - Parameter progress: (work done in this run, what it is doing, last loss)
    static func execute(_ plan: StudyRunPlan, base: StudyBase, settings: StudySettings, isCancelled: () -> Bool,
                        progress: (Int, String, Double?) -> Void) throws -> [[(String, TableValue)]] {
        let started = ContinuousClock.now
        func elapsed() -> Double {
            let d = ContinuousClock.now - started
            return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }
        let model = try base.model.copy()
        let attachment = try attach(method: plan.method, to: model, connector: plan.connector, seed: plan.seed)
        let share = trainableParameterSummary(model, attachment: attachment).share * 100
        let task = try LlavaSupervisedTask(model: model, tokenizer: base.tokenizer, examples: plan.train,
                                           batchSize: settings.batchSize, preprocessor: base.preprocessor, attachment: attachment)
        let lastStep = plan.checkpoints.last?.steps ?? 0
        let run = TrainingRun(task: task, configuration: TrainingConfiguration(
            learningRate: settings.learningRate, connectorLearningRate: settings.connectorLearningRate,
            schedule: settings.schedule, scheduledSteps: max(1, lastStep), seed: plan.seed))
        let evaluator = try Evaluator(model: model, tokenizer: base.tokenizer, preprocessor: base.preprocessor,
                                      batchSize: settings.evaluationBatch, maxNewTokens: settings.maxNewTokens)
        var rows: [[(String, TableValue)]] = []
        var answered = 0
        for checkpoint in plan.checkpoints {
            if checkpoint.steps > run.step {
                setAdapterTraining(true, in: model)
                let outcome = try run.train(steps: checkpoint.steps - run.step, isCancelled: isCancelled) { record in
                    progress(record.step + answered, "training step \(record.step)/\(lastStep)", record.loss)
                }
                if outcome.cancelled { throw StudyCancelled(finished: 0, total: 1) }
            }
            setAdapterTraining(false, in: model)
            let tokensPerSecond = run.history.isEmpty ? 0 : run.history.map(\.tokensPerSecond).reduce(0, +) / Double(run.history.count)
            for test in plan.tests {
                let before = answered
                let result = try evaluator.evaluate(test.test, isCancelled: isCancelled) { p in
                    progress(run.step + before + p.completed, "evaluating \(test.name) \(p.completed)/\(p.total)", run.history.last?.loss)
                }
                if result.isPartial { throw StudyCancelled(finished: 0, total: 1) }
                answered += test.test.count
                let seconds = elapsed()
                for (metric, score) in metricRows(result) {
                    rows.append(plan.columns + (plan.namesTest ? [("test", .text(test.name))] : [])
                                + [("epoch", checkpoint.epoch), ("steps", .int(run.step)), ("metric", .text(metric)),
                                   ("score", .double(score)), ("share", .double(share)),
                                   ("tokensPerSecond", .double(tokensPerSecond)), ("seconds", .double(seconds))])
                }
            }
        }
        return rows
    }

    /// An evaluation as (metric, score) pairs: the headline score under its metric's name, then
    /// the sub-scores (POPE's headline is its accuracy, the first of its sub-scores).
    static func metricRows(_ result: EvaluationResult) -> [(String, Double)] {
        let subScores = result.subScores.map { ($0.name, $0.value) }
        if result.metric == .pope && subScores.first?.0 == "accuracy" { return subScores }
        return [(result.metric.rawValue, result.score)] + subScores
    }

    // MARK: - Plans

    /// Checks what every workflow needs; `what` names the workflow in messages.
    static func validate(_ what: String, methods: [PEFTMethod], connectors: [ConnectorMode], datasets: [StudyDataset],
                         seeds: [UInt64], settings: StudySettings) throws {
        guard !methods.isEmpty else { throw StudyError("\(what) needs at least one method, such as [lora(rank: 8), ia3()]") }
        guard !connectors.isEmpty else { throw StudyError("\(what) needs a connector setting: .frozen, .tuned or both") }
        guard !datasets.isEmpty else { throw StudyError("\(what) needs at least one dataset (on:)") }
        guard !seeds.isEmpty else { throw StudyError("\(what) needs at least one seed") }
        guard settings.steps >= 1, settings.batchSize >= 1, settings.learningRate > 0, settings.connectorLearningRate >= 0,
              settings.evaluationBatch >= 1, settings.maxNewTokens >= 1 else {
            throw StudyError("\(what): steps and batch must be at least 1, lr positive and connectorLR not negative")
        }
        var names: Set<String> = []
        for data in datasets {
            guard names.insert(data.name).inserted else { throw StudyError("\(what): \(data.name) is given twice") }
            guard !data.test.isEmpty else { throw StudyError("\(what): \(data.name) has no test examples") }
        }
        for method in methods { try method.validate() }
    }

    /// The leading columns of a run's rows (`group`: the dataset's, seen, unseen or probe).
    static func columns(_ method: PEFTMethod, _ connector: ConnectorMode, _ data: StudyDataset, seed: UInt64,
                        trainSize: Int) -> [(String, TableValue)] {
        let (size, location) = describe(method)
        return [("method", .text(method.name)), ("size", size), ("location", .text(location)),
                ("connector", .text(connector.rawValue)), ("dataset", .text(data.name)), ("group", .text(data.group)),
                ("seed", .int(Int(seed))), ("trainSize", .int(trainSize))]
    }

    /// A fingerprint of examples' ids, questions and answers (FNV-1a, 64 bits): sets generated from
    /// another seed, or edited, are other data.
    static func fingerprint(_ examples: [VQAExample]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for example in examples {
            for text in [example.id, example.question, example.answer] {
                for byte in text.utf8 + [0] { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            }
        }
        return String(hash, radix: 16)
    }

    /// A run's identity: its columns plus what else makes it.
    static func key(_ workflow: String, columns: [(String, TableValue)], method: PEFTMethod, base: StudyBase,
                    settings: StudySettings, train: [VQAExample], tests: [StudyDataset],
                    checkpoints: [StudyCheckpoint]) -> SweepRun {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let config = (try? encoder.encode(method)).map { String(decoding: $0, as: UTF8.self) } ?? method.name
        var identity: [(String, TableValue)] = columns + [
            ("study", .text(workflow)), ("config", .text(config)),
            ("lr", .text("\(settings.learningRate)")), ("connectorLR", .text("\(settings.connectorLearningRate)")),
            ("batch", .int(settings.batchSize)), ("schedule", .text("\(settings.schedule)")),
            ("maxNewTokens", .int(settings.maxNewTokens)),
            ("tests", .text(tests.map { "\($0.name):\($0.test.count)" }.joined(separator: ","))),
            ("data", .text(fingerprint(train) + "/" + fingerprint(tests.flatMap(\.test)))),
            ("checkpoints", .text(checkpoints.map { "\($0.epoch)@\($0.steps)" }.joined(separator: ","))),
        ]
        if let name = base.name { identity.append(("model", .text(name))) }
        return SweepRun(identity)
    }

    /// "lora 8 attention · connector tuned · mini-sqa · seed 42"
    static func label(_ columns: [(String, TableValue)]) -> String {
        let c = Dictionary(columns, uniquingKeysWith: { a, _ in a })
        let method = [c["method"], c["size"], c["location"]].compactMap { $0 }.map(\.description).filter { !$0.isEmpty }
        return ([method.joined(separator: " "), "connector \(c["connector"] ?? .null)", "\(c["dataset"] ?? .null)",
                 "train \(c["trainSize"] ?? .null)", "seed \(c["seed"] ?? .null)"]).joined(separator: " · ")
    }

    /// Steps in one pass over `count` examples at `batch` per step.
    static func stepsPerEpoch(_ count: Int, batch: Int) -> Int { max(1, (count + batch - 1) / batch) }

    /// The epochs a step-counted run covers, to two decimals (whole ones as Int, as a store reads them back).
    static func epochs(steps: Int, batch: Int, trainSize: Int) -> TableValue {
        let epochs = (Double(steps * batch) / Double(max(1, trainSize)) * 100).rounded() / 100
        return epochs == epochs.rounded() && epochs < 1e9 ? .int(Int(epochs)) : .double(epochs)
    }

    // MARK: - Results

    /// The tidy table and the bookkeeping of a sweep.
    static func results(_ outcome: SweepOutcome, title: String, figure: (Table) -> Plot,
                        summary: ((Table) -> Table)? = nil) -> StudyResults {
        let shown = outcome.cancelled ? "\(title) (interrupted: \(outcome.finished) of \(outcome.runs) runs)" : title
        let table = Table(records: outcome.rows, title: shown)
        let summaryTable = summary?(table)
        return StudyResults(table: table, summary: summaryTable, figure: figure(summaryTable ?? table), runs: outcome.runs,
                            finished: outcome.finished, ran: outcome.ran, skipped: outcome.skipped,
                            cancelled: outcome.cancelled)
    }

    /// Rows of a table as name → value.
    static func records(_ table: Table) -> [[String: TableValue]] {
        table.rows.map { row in Dictionary(uniqueKeysWithValues: zip(table.columns, row)) }
    }

    /// Mean, sample standard deviation and count of `value` per group of `keys`, groups in order
    /// of first appearance; `extra` columns take their mean too.
    static func aggregate(_ rows: [[String: TableValue]], keys: [String], value: String, extra: [String] = [])
        -> [(key: [TableValue], mean: Double, std: Double, n: Int, extra: [Double])] {
        var order: [[TableValue]] = []
        var groups: [[TableValue]: (values: [Double], extra: [[Double]])] = [:]
        for row in rows {
            guard let x = row[value]?.number, x.isFinite else { continue }
            let key = keys.map { row[$0] ?? .null }
            if groups[key] == nil { order.append(key); groups[key] = ([], Array(repeating: [], count: extra.count)) }
            groups[key]!.values.append(x)
            for (i, name) in extra.enumerated() { if let e = row[name]?.number { groups[key]!.extra[i].append(e) } }
        }
        return order.map { key in
            let g = groups[key]!
            let mean = g.values.reduce(0, +) / Double(g.values.count)
            let variance = g.values.count > 1
                ? g.values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(g.values.count - 1) : 0
            return (key, mean, variance.squareRoot(), g.values.count,
                    g.extra.map { $0.isEmpty ? .nan : $0.reduce(0, +) / Double($0.count) })
        }
    }

    /// The rows with a dataset's headline score.
    static func headlineRows(_ table: Table) -> [[String: TableValue]] {
        records(table).filter { if case .text(let m)? = $0["metric"] { return headlineMetrics.contains(m) } else { return false } }
    }

    /// The rows of a tidy table that hold a dataset's own score (accuracy, VQA score, CIDEr-D),
    /// columns kept: one row per run, checkpoint and test set, ready to pivot or summarize.
    /// A table without a `metric` column is returned as it is.
    public static func scores(_ table: Table) -> Table {
        guard let m = table.columns.firstIndex(of: "metric") else { return table }
        let rows = table.rows.filter { if case .text(let metric) = $0[m] { return headlineMetrics.contains(metric) } else { return false } }
        return (try? Table(columns: table.columns, rows: rows, title: table.title.map { "\($0): scores" } ?? "scores")) ?? table
    }

    /// A figure's series name: the method, with the connector when a table has both settings.
    static func seriesName(_ row: [String: TableValue], connectors: Int) -> TableValue {
        let method = row["method"]?.description ?? ""
        return .text(connectors > 1 ? "\(method), connector \(row["connector"]?.description ?? "")" : method)
    }

    /// How many distinct values a column takes.
    static func distinct(_ rows: [[String: TableValue]], _ column: String) -> Int {
        Set(rows.map { $0[column] ?? .null }).count
    }

    /// " (mean over 3 datasets)" when there are several.
    static func overDatasets(_ rows: [[String: TableValue]]) -> String {
        let n = distinct(rows, "dataset")
        return n > 1 ? " (mean over \(n) datasets)" : ""
    }
}
