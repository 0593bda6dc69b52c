// The study's main comparison (its Table 1): methods × connector tuned/frozen × datasets ×
// seeds. Each run copies the base model, attaches the method, trains on the dataset's
// train split and scores its test split; every finished run is stored at once (SweepStore),
// so an interrupted comparison re-run later skips what is done. The same machinery, tidy
// table and store keys as the other workflows (StudySweep).

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
    public var steps = TrainingConfiguration.Defaults.steps
    public var batchSize = TrainingConfiguration.Defaults.batchSize
    public var learningRate = TrainingConfiguration.Defaults.learningRate
    public var connectorLearningRate = TrainingConfiguration.Defaults.connectorLearningRate
    public var schedule = TrainingConfiguration.Defaults.schedule
    public var evaluationBatch = 16
    public var maxNewTokens = 24
    public init() {}
}

/// A run stopped by the user; the sweep keeps the runs finished before it.
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

    /// The groups whose mean the comparison's summary reports, in this order.
    static let averagedGroups = ["unseen", "seen"]

    /// Methods × connectors × datasets × seeds, `settings.steps` steps on each dataset's `train`,
    /// then its `test` scored; runs already in `store` are not run again.
    /// - Returns: one row per run and metric (the tidy table of every workflow: method, size,
    ///   location, connector, dataset, group, seed, trainSize, epoch, steps, metric, score, share,
    ///   tokensPerSecond, seconds); the summary: the study's Table 1, one row per method setting
    ///   with its trainable share, each dataset's headline score (mean over seeds) and the means
    ///   over the unseen and the seen datasets; the figure: grouped bars of the score per dataset.
    /// - Throws: `StudyError` for a request that cannot run; an interrupt returns the finished runs
    ///   (`cancelled`).
    public static func compare(base: StudyBase, methods: [PEFTMethod], connectors: [ConnectorMode] = [.frozen],
                               datasets: [StudyDataset], seeds: [UInt64] = [42], settings: StudySettings, store: SweepStore,
                               isCancelled: () -> Bool = { false },
                               progress: (StudyProgress) -> Void = { _ in }) throws -> StudyResults {
        try validate("compare", methods: methods, connectors: connectors, datasets: datasets, seeds: seeds, settings: settings)
        for data in datasets where data.train.isEmpty { throw StudyError("compare: \(data.name) has no training examples") }
        var plans: [StudyRunPlan] = []
        var planned: Set<String> = []
        for data in datasets {
            let checkpoints = [StudyCheckpoint(epoch: epochs(steps: settings.steps, batch: settings.batchSize,
                                                             trainSize: data.train.count), steps: settings.steps)]
            for method in methods {
                for connector in connectors {
                    for seed in seeds {
                        let columns = columns(method, connector, data, seed: seed, trainSize: data.train.count)
                        let key = key("compare", columns: columns, method: method, base: base, settings: settings,
                                      train: data.train, tests: [data], checkpoints: checkpoints)
                        guard planned.insert(key.key).inserted else { continue }
                        plans.append(StudyRunPlan(key: key, columns: columns, method: method, connector: connector, seed: seed,
                                                  train: data.train, tests: [data], namesTest: false,
                                                  checkpoints: checkpoints, label: label(columns)))
                    }
                }
            }
        }
        let outcome = try run(plans, base: base, settings: settings, store: store, isCancelled: isCancelled, progress: progress)
        return results(outcome, title: "comparison", figure: { _ in compareFigure(outcome.rows) },
                       summary: { table in tableOne(table) })
    }

    /// Grouped bars: the mean headline score per dataset (in the order run), one bar per method
    /// setting ("lora 8", or "lora 8, tuned" when both connector settings ran).
    static func compareFigure(_ tidy: [[(String, TableValue)]]) -> Plot {
        let rows = headlineRows(Table(records: tidy))
        let both = distinct(rows, "connector") > 1
        let groups = aggregate(rows.map { r in r.merging(["series": settingName(r, connector: both)]) { $1 } },
                               keys: ["dataset", "series"], value: "score")
        let series = both ? "method, connector" : "method"
        let data = Table(records: groups.map { [("dataset", $0.key[0]), (series, $0.key[1]), ("score", .double($0.mean))] })
        return Plot(study: data, kind: .bar, x: "dataset", y: "score", series: series,
                           title: "score per dataset" + (distinct(rows, "seed") > 1 ? ", mean over seeds" : ""))
    }

    /// "lora 8" or "lora 8, tuned": a method setting as one short name (a legend entry).
    static func settingName(_ row: [String: TableValue], connector: Bool) -> TableValue {
        let method = [row["method"], row["size"]].compactMap { $0 }.filter { $0 != .null }.map(\.description)
            .joined(separator: " ")
        return .text(connector ? "\(method), \(row["connector"]?.description ?? "")" : method)
    }

    /// The study's Table 1 from a comparison's tidy table: one row per method setting (method,
    /// size, location, connector), its trainable share, each dataset's headline score (mean over
    /// seeds) and the mean over the unseen and over the seen datasets.
    public static func tableOne(_ table: Table) -> Table {
        let rows = headlineRows(table)
        let keys = ["method", "size", "location", "connector"].filter(table.columns.contains)
        let datasets = rows.reduce(into: [TableValue]()) { seen, row in
            let d = row["dataset"] ?? .null
            if !seen.contains(d) { seen.append(d) }
        }
        var groupOf: [TableValue: String] = [:]
        for row in rows { if let d = row["dataset"], case .text(let g)? = row["group"] { groupOf[d] = g } }
        let cells = aggregate(rows, keys: keys + ["dataset"], value: "score", extra: ["share"])
        var settings: [[TableValue]] = []
        var scores: [[TableValue]: [TableValue: Double]] = [:]
        var shares: [[TableValue]: [Double]] = [:]
        for cell in cells {
            let setting = Array(cell.key.dropLast())
            if scores[setting] == nil { settings.append(setting); scores[setting] = [:] }
            scores[setting]![cell.key.last!] = cell.mean
            if cell.extra[0].isFinite { shares[setting, default: []].append(cell.extra[0]) }
        }
        let groups = averagedGroups.filter { g in datasets.contains { groupOf[$0] == g } }
        let records = settings.map { setting -> [(String, TableValue)] in
            let own = scores[setting]!
            let share = shares[setting].map { TableValue.double($0.reduce(0, +) / Double($0.count)) } ?? .null
            var record = zip(keys, setting).map { ($0, $1) } + [("share", share)]
            record += datasets.map { d in (d.description, own[d].map(TableValue.double) ?? .null) }
            record += groups.map { g -> (String, TableValue) in
                let values = datasets.filter { groupOf[$0] == g }.compactMap { own[$0] }
                return (g, values.isEmpty ? .null : .double(values.reduce(0, +) / Double(values.count)))
            }
            return record
        }
        return Table(records: records, title: "Table 1: score per dataset"
                     + (groups.isEmpty ? "" : ", mean over the " + groups.joined(separator: " and ") + " datasets"))
    }
}
