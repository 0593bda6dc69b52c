// The study's workflows in the language: compare(…), location(…), budget(…), dataSize(…),
// generalization(…), hallucination(…) and efficiency(…) — bindings over PEFTLib's Study.
// Each returns a StudyResults value that shows its tidy table and the figure the study
// draws; a sweep shows one live display over all its runs, stores each finished run at once
// (run the cell again and it skips them), and on an interrupt returns what finished.

import Foundation
import PEFTLib

/// A workflow's results: the tidy table (its members too: `r.pivot(…)`, `r.count`), its headline
/// rows (`r.scores`), the figure (`r.plot`) and, for compare and budget, the summary
/// (`r.summary`: Table 1; the mean and std over seeds).
final class StudyResultsObject: RuntimeObject, @unchecked Sendable {
    let results: StudyResults
    let plot: Plot
    private let tableObject: TableObject

    init(_ results: StudyResults) {
        self.results = results
        self.plot = results.figure
        self.tableObject = TableObject(results.table)
    }

    var typeName: String { "StudyResults" }
    var memberNames: [String] {
        ["table", "scores", "plot", "summary", "runs", "finished", "ran", "skipped", "interrupted"]
            + tableObject.memberNames.filter { $0 != "title" } + ["title"]
    }

    func member(_ name: String) throws(RuntimeError) -> Value? {
        switch name {
        case "table": return .object(tableObject)
        case "scores": return .object(TableObject(Study.scores(results.table)))
        case "plot": return .object(PlotObject(plot))
        case "summary": return results.summary.map { .object(TableObject($0)) } ?? .null
        case "runs": return .int(results.runs)
        case "finished": return .int(results.finished)
        case "ran": return .int(results.ran)
        case "skipped": return .int(results.skipped)
        case "interrupted": return .bool(results.cancelled)
        default: return try tableObject.member(name)
        }
    }

    /// The table, the summary (if any) and the figure, one under the other.
    func render() -> MIMEBundle {
        let tables = [results.table] + (results.summary.map { [$0] } ?? [])
        let text = tables.map(TableRendering.text).joined(separator: "\n\n") + "\n" + plot.summary
        let html = tables.map(TableRendering.html).joined(separator: "<br>")
            + "<div style=\"margin-top:8px\">" + SVGPlotRenderer(plot: plot).svg() + "</div>"
        return MIMEBundle(data: [
            "text/plain": .string(text),
            "text/html": .string(html),
            TableRendering.recordsMIMEType: TableRendering.json(results.table),
        ])
    }
}

enum StudyBuiltins {
    static var all: [Builtin] { [compare, location, budget, dataSize, generalization, hallucination, efficiency] }

    // MARK: - Arguments

    /// PEFTLib's training defaults, which the workflows' parameters show and use.
    typealias T = TrainingConfiguration.Defaults

    /// The parameters every sweep shares, after its own: connector, on, …, runs.
    static func parameters(_ own: [Parameter], on: Parameter? = nil, extra: [Parameter] = [], epochs: Int? = nil,
                           seeds: [Int] = [Int(T.seed)], trainSize: Bool = true, runs: String) -> [Parameter] {
        own + [Parameter("connector", "Connector or [Connector]", default: .array([.dotCase("frozen")])),
               on ?? Parameter("on", "Dataset or [Dataset]", choices: DataBuiltins.miniNames)]
            + extra
            + [Parameter("model", "Model", default: .null)]
            + (epochs.map { [Parameter("epochs", "Int", default: .int($0))] } ?? [Parameter("steps", "Int", default: .int(T.steps))])
            + [Parameter("seeds", "[Int]", default: .array(seeds.map(Value.int))),
               Parameter("batch", "Int", default: .int(T.batchSize)), Parameter("lr", "Double", default: .double(T.learningRate)),
               Parameter("connectorLR", "Double", default: .double(T.connectorLearningRate))]
            + (trainSize ? [Parameter("trainSize", "Int", default: .int(1000))] : [])
            + [Parameter("runs", "String", default: .string(runs))]
    }

    static func parseMethods(_ a: BoundArguments) throws(RuntimeError) -> [PEFTMethod] {
        let values: [Value]
        if case .array(let items) = a["methods"] { values = items } else { values = [a["methods"]] }
        var methods: [PEFTMethod] = []
        for value in values {
            guard case .object(let m as MethodObject) = value else {
                throw a.fail("methods", "methods such as [lora(rank: 8), ia3()]", got: value)
            }
            methods.append(m.method)
        }
        guard !methods.isEmpty else { throw a.valueError("\(a.callee) needs at least one method, such as [lora(rank: 8), ia3()]") }
        return methods
    }

    static func parseConnectors(_ a: BoundArguments) throws(RuntimeError) -> [ConnectorMode] {
        let values: [Value]
        if case .array(let items) = a["connector"] { values = items } else { values = [a["connector"]] }
        var modes: [ConnectorMode] = []
        for value in values {
            guard case .dotCase(let name) = value, let mode = ConnectorMode(rawValue: name) else {
                throw a.fail("connector", ".tuned or .frozen", got: value)
            }
            if !modes.contains(mode) { modes.append(mode) }
        }
        guard !modes.isEmpty else { throw a.valueError("\(a.callee) needs a connector setting: .frozen, .tuned or [.tuned, .frozen]") }
        return modes
    }

    static func parseSeeds(_ a: BoundArguments) throws(RuntimeError) -> [UInt64] {
        let values: [Value]
        if case .array(let items) = a["seeds"] { values = items } else { values = [a["seeds"]] }
        var seeds: [UInt64] = []
        for value in values {
            guard case .int(let n) = value else { throw a.fail("seeds", "integer seeds such as [42, 43, 44]", got: value) }
            seeds.append(UInt64(bitPattern: Int64(n)))
        }
        guard !seeds.isEmpty else { throw a.valueError("\(a.callee) needs at least one seed") }
        return seeds
    }

    /// Mini-suite datasets (Dataset values or names) with their train splits of `trainSize`.
    static func parseDatasets(_ a: BoundArguments, label: String = "on", trainSize: Int, testSplitOnly: Bool = false,
                         imageSize: Int) throws(RuntimeError) -> [StudyDataset] {
        let values: [Value]
        if case .array(let items) = a[label] { values = items } else { values = [a[label]] }
        var datasets: [StudyDataset] = []
        for value in values {
            let task: MiniTask, test: [VQAExample], size: Int
            switch value {
            case .object(let d as DatasetObject):
                guard let t = MiniTask(rawValue: d.name), t != .descriptions else {
                    throw a.valueError("\(a.callee) trains on the mini datasets' train splits; \(d.name) has none — "
                                  + "use train(…) and evaluate(…) for your own data")
                }
                task = t; test = d.items; size = d.items.first?.image?.width ?? imageSize
            case .string(let name):
                guard let t = MiniTask(rawValue: name), t != .descriptions else {
                    let near = nearestNames(to: name, in: DataBuiltins.miniNames())
                    throw a.valueError("no dataset named \"\(name)\""
                                  + (near.isEmpty ? "" : "; did you mean " + near.map { "\"\($0)\"" }.joined(separator: " or ") + "?")
                                  + " The built-in ones: " + MiniTask.evaluation.map(\.rawValue).joined(separator: ", "))
                }
                task = t; size = imageSize
                test = MiniDataset(t, split: .test, imageSize: imageSize).examples
            default:
                throw a.fail(label, "datasets such as [dataset(\"mini-sqa\", split: .test)] or their names", got: value)
            }
            let train = testSplitOnly ? [] : MiniDataset(task, split: .train, size: trainSize, imageSize: max(24, size)).examples
            datasets.append(StudyDataset(name: task.rawValue, group: task.group.rawValue, train: train, test: test))
        }
        guard !datasets.isEmpty else { throw a.valueError("\(a.callee) needs at least one dataset (\(label):)") }
        return datasets
    }

    /// The base model (default: tiny-llava) with its tokenizer and preprocessing.
    static func loadBase(_ a: BoundArguments) throws(RuntimeError) -> StudyBase {
        let model: ModelObject
        if case .object(let m as ModelObject) = a["model"] {
            guard m.attachment == nil else {
                throw a.valueError("\(a.callee) attaches each method to a copy of a base model; give the base, not an adapted one")
            }
            model = m
        } else if case .null = a["model"] {
            model = try ModelBuiltins.library(a.location) {
                try ModelObject.loadLlava(directory: try TinyLlava.directory(), source: TinyLlava.name)
            }
        } else {
            throw a.fail("model", "a Model such as model(\"tiny-llava\")", got: a["model"])
        }
        let (llava, tokenizer, preprocessor) = try TrainingBuiltins.setting(model, a.callee, a)
        return StudyBase(model: llava, tokenizer: tokenizer, preprocessor: preprocessor, name: model.source)
    }

    static func parseSettings(_ a: BoundArguments) throws(RuntimeError) -> StudySettings {
        var settings = StudySettings()
        if a.labels.contains("steps") { settings.steps = try a.int("steps") }
        settings.batchSize = try a.int("batch")
        settings.learningRate = try a.double("lr")
        settings.connectorLearningRate = try a.double("connectorLR")
        guard settings.steps >= 1, settings.batchSize >= 1 else { throw a.valueError("steps and batch must be at least 1") }
        guard settings.learningRate > 0, settings.connectorLearningRate >= 0 else {
            throw a.valueError("lr must be positive and connectorLR not negative")
        }
        return settings
    }

    static func parseTrainSize(_ a: BoundArguments) throws(RuntimeError) -> Int {
        let n = try a.int("trainSize")
        guard (1...1_000_000).contains(n) else { throw a.valueError("trainSize must be between 1 and 1,000,000, got \(n)") }
        return n
    }

    static func parseEpochs(_ a: BoundArguments) throws(RuntimeError) -> Int {
        let n = try a.int("epochs")
        guard (1...1000).contains(n) else { throw a.valueError("epochs must be between 1 and 1000, got \(n)") }
        return n
    }

    static func imageSize(_ base: StudyBase) -> Int { max(24, base.model.config.visionConfig.imageSize) }

    /// What every sweep takes: the base, connector settings, seeds and training settings.
    struct Common {
        let base: StudyBase, connectors: [ConnectorMode], seeds: [UInt64], settings: StudySettings
        var imageSize: Int { StudyBuiltins.imageSize(base) }
    }

    static func parseCommon(_ a: BoundArguments) throws(RuntimeError) -> Common {
        Common(base: try loadBase(a), connectors: try parseConnectors(a), seeds: try parseSeeds(a), settings: try parseSettings(a))
    }

    // MARK: - Running

    /// Runs a sweep with one live display over all its runs; an interrupt returns what finished.
    static func sweep(_ a: BoundArguments, context: any CallContext, title: String,
                      _ body: (SweepStore, () -> Bool, (StudyProgress) -> Void) throws -> StudyResults) throws(RuntimeError) -> Value {
        let store = try ModelBuiltins.library(a.location) { try SweepStore(path: try a.string("runs")) }
        let path = store.path            // resolved by the store (a leading ~ is $HOME)
        for note in store.notes { context.output.write("note: \(note)\n", to: .stderr) }
        var display: ProgressDisplay?
        var last: StudyProgress?
        let results: StudyResults
        do {
            results = try body(store, { context.isCancelled }) { p in
                if display == nil {
                    display = ProgressDisplay(output: context.output, title: "\(title) (runs stored in \(path))", total: p.total)
                }
                let changedRun = last?.run != p.run
                last = p
                display?.update(step: p.done, metrics: p.loss.map { [("loss", $0)] } ?? [], force: changedRun,
                                detail: "run \(p.run)/\(p.runs) · \(p.label) · \(p.activity)")
            }
        } catch let error as StudyError {
            display?.finish(step: last?.done ?? 0, status: "stopped")
            throw a.valueError(error.message)
        } catch {
            display?.finish(step: last?.done ?? 0, status: "stopped")
            throw RuntimeError(.library, "\(error)", at: a.location)
        }
        if results.cancelled {
            display?.finish(step: last?.done ?? 0, status: "interrupted: \(results.finished) of \(results.runs) runs finished "
                            + "and stored in \(path); run the cell again to continue")
            // Interrupted as a cell is (the queue stops); what finished is bound and stored.
            throw RuntimeError(.interrupted, "interrupted: \(results.finished) of \(results.runs) runs finished and are "
                               + "stored in \(path); run the cell again to continue", at: a.location,
                               keeping: .object(StudyResultsObject(results)))
        } else {
            let stored = results.skipped > 0 ? ", \(results.skipped) stored before" : ""
            display?.finish(step: last?.total ?? 0,
                            status: "done: \(results.runs) run\(results.runs == 1 ? "" : "s") (\(results.ran) run now\(stored))")
        }
        return .object(StudyResultsObject(results))
    }

    // MARK: - compare

    static let compareParameters = parameters([Parameter("methods", "[Method]")], runs: "runs/compare.jsonl")

    static let compare = Builtin(
        "compare", compareParameters, returns: "StudyResults",
        doc: """
            The study's Table 1: for every dataset of `on:` (mini datasets or their names, such as \
            `suite("mini")`), method, connector setting and seed, attaches the method to a copy of `model` \
            (default: tiny-llava), trains `steps` steps on `trainSize` examples of the dataset's train split and \
            scores its test set. One row per run and metric (method, size, location, connector, dataset, group, \
            seed, trainSize, epoch, steps, metric, score, share, tokensPerSecond, seconds); `.scores`: the \
            headline rows; `.summary`: Table 1, a row per method setting with each dataset's score and the \
            unseen and seen means; the figure: grouped bars per dataset. Each finished run is stored in `runs` \
            at once: run the cell again and it skips them; an interrupt returns what finished.
            """
    ) { args, context throws(RuntimeError) in
        let a = args
        let methods = try StudyBuiltins.parseMethods(a)
        let c = try StudyBuiltins.parseCommon(a)
        let datasets = try StudyBuiltins.parseDatasets(a, trainSize: try StudyBuiltins.parseTrainSize(a), imageSize: c.imageSize)
        return try StudyBuiltins.sweep(a, context: context, title: "compare") { store, cancelled, progress in
            try Study.compare(base: c.base, methods: methods, connectors: c.connectors, datasets: datasets, seeds: c.seeds,
                              settings: c.settings, store: store, isCancelled: cancelled, progress: progress)
        }
    }

    // MARK: - location

    static let locationParameters = parameters(
        [Parameter("methods", "[Method]"),
         Parameter("locations", "[Location]", default: .array([.dotCase("attention"), .dotCase("mlp"), .dotCase("both")]))],
        runs: "runs/location.jsonl")

    static let location = Builtin(
        "location", locationParameters, returns: "StudyResults",
        doc: """
            The study's Table 2: each method in attention, in the MLP, or both (`locations:`), with each connector \
            setting, on each mini dataset (`on:` datasets or names) and seed: `steps` steps on `trainSize` \
            training examples from a copy of `model` (default: tiny-llava), then its test set scored. Prefix, \
            full and connector-only run once, at their own place. One row per run and metric (method, size, \
            location, connector, dataset, seed, trainSize, epoch, steps, metric, score, share, tokensPerSecond, \
            seconds); the figure (`.plot`): grouped bars of the mean score per location. Each finished run is \
            stored in `runs` at once: run the cell again and it skips them; an interrupt returns what finished.
            """
    ) { args, context throws(RuntimeError) in
        let a = args
        let methods = try StudyBuiltins.parseMethods(a)
        let locationValues: [Value]
        if case .array(let items) = a["locations"] { locationValues = items } else { locationValues = [a["locations"]] }
        var locations: [PEFTLocation] = []
        for value in locationValues { locations.append(try ModelBuiltins.location(a, value: value, label: "locations")) }
        guard !locations.isEmpty else { throw a.valueError("location needs at least one location: .attention, .mlp or .both") }
        let c = try StudyBuiltins.parseCommon(a)
        let datasets = try StudyBuiltins.parseDatasets(a, trainSize: try StudyBuiltins.parseTrainSize(a), imageSize: c.imageSize)
        return try StudyBuiltins.sweep(a, context: context, title: "location") { store, cancelled, progress in
            try Study.location(base: c.base, methods: methods, locations: locations, connectors: c.connectors, datasets: datasets,
                               seeds: c.seeds, settings: c.settings, store: store, isCancelled: cancelled, progress: progress)
        }
    }

    // MARK: - budget

    static let budgetParameters = parameters(
        [Parameter("methods", "[Method]"), Parameter("sizes", "[Int] or [String: [Int]]", default: .null)],
        seeds: [42, 43, 44], runs: "runs/budget.jsonl")

    /// Sizes tried when none are given, per method name.
    static let defaultSizes: [String: [Int]] = ["lora": [8, 32, 128], "adapter": [16, 64, 256], "prefix": [5, 10, 20]]

    static let budget = Builtin(
        "budget", budgetParameters, returns: "StudyResults",
        doc: """
            The study's parameter budget and stability (Table 6): each method at each size — LoRA's rank (α scaled \
            with it), the adapter's bottleneck, prefix tokens; `sizes: [8, 32]` for all, or per method \
            `["lora": [8, 32, 128], "prefix": [5, 20]]` (default: those and adapter [16, 64, 256]) — over `seeds` \
            (default 42, 43, 44), trained and scored as in location(…). One row per run and metric; `.summary`: \
            share, mean, std and n over the seeds; the figure: mean score against size.
            """
    ) { args, context throws(RuntimeError) in
        let a = args
        let methods = try StudyBuiltins.parseMethods(a)
        var sizes: [String: [Int]] = [:]
        func ints(_ value: Value) throws(RuntimeError) -> [Int] {
            guard case .array(let items) = value else { throw a.fail("sizes", "an array of sizes such as [8, 32, 128]", got: value) }
            var out: [Int] = []
            for item in items {
                guard case .int(let n) = item else { throw a.fail("sizes", "integer sizes", got: item) }
                out.append(n)
            }
            return out
        }
        switch a["sizes"] {
        case .null: sizes = defaultSizes
        case .array: let list = try ints(a["sizes"]); for m in methods { sizes[m.name] = list }
        case .dictionary(let pairs):
            for pair in pairs {
                guard case .string(let name) = pair.key else { throw a.fail("sizes", "method names as keys", got: pair.key) }
                sizes[name] = try ints(pair.value)
            }
        default: throw a.fail("sizes", "[Int] or [String: [Int]]", got: a["sizes"])
        }
        let c = try StudyBuiltins.parseCommon(a)
        let datasets = try StudyBuiltins.parseDatasets(a, trainSize: try StudyBuiltins.parseTrainSize(a), imageSize: c.imageSize)
        return try StudyBuiltins.sweep(a, context: context, title: "budget") { store, cancelled, progress in
            try Study.budget(base: c.base, methods: methods, sizes: sizes, connectors: c.connectors, datasets: datasets,
                             seeds: c.seeds, settings: c.settings, store: store, isCancelled: cancelled, progress: progress)
        }
    }

    // MARK: - dataSize

    static let dataSizeParameters = parameters(
        [Parameter("methods", "[Method]"),
         Parameter("trainSizes", "[Int]", default: .array([.int(125), .int(250), .int(500), .int(1000)]))],
        epochs: 1, trainSize: false, runs: "runs/data-size.jsonl")

    static let dataSize = Builtin(
        "dataSize", dataSizeParameters, returns: "StudyResults",
        doc: """
            The study's data scale (Table 3): each method trained for `epochs` passes over the first `trainSizes` \
            examples of each dataset's train split (so a larger set takes more steps), then the test set scored. \
            One row per run and metric; the figure: mean score against training-set size.
            """
    ) { args, context throws(RuntimeError) in
        let a = args
        let methods = try StudyBuiltins.parseMethods(a)
        guard case .array(let items) = a["trainSizes"] else { throw a.fail("trainSizes", "an array of sizes", got: a["trainSizes"]) }
        var sizes: [Int] = []
        for item in items {
            guard case .int(let n) = item else { throw a.fail("trainSizes", "integer sizes", got: item) }
            guard (1...1_000_000).contains(n) else {
                throw a.valueError("dataSize: training-set sizes must be between 1 and 1,000,000, got \(n)")
            }
            sizes.append(n)
        }
        guard !sizes.isEmpty else { throw a.valueError("dataSize needs at least one training-set size, such as [250, 500, 1000]") }
        let c = try StudyBuiltins.parseCommon(a)
        let datasets = try StudyBuiltins.parseDatasets(a, trainSize: sizes.max()!, imageSize: c.imageSize)
        let epochs = try StudyBuiltins.parseEpochs(a)
        return try StudyBuiltins.sweep(a, context: context, title: "data size") { store, cancelled, progress in
            try Study.dataSize(base: c.base, methods: methods, trainSizes: sizes, connectors: c.connectors, datasets: datasets,
                               seeds: c.seeds, epochs: epochs, settings: c.settings, store: store, isCancelled: cancelled,
                               progress: progress)
        }
    }

    // MARK: - generalization

    static let generalizationParameters = parameters([Parameter("methods", "[Method]")], epochs: 3,
                                                     runs: "runs/generalization.jsonl")

    static let generalization = Builtin(
        "generalization", generalizationParameters, returns: "StudyResults",
        doc: """
            The study's generalization (Table 4): each method trained on one dataset of `on:` (the unseen ones, \
            say) and, after each of `epochs` epochs, scored on every other one. One row per run, epoch, test set \
            (`test`; `dataset` is the one trained on) and metric; the figure: a heatmap of the score after the \
            last epoch, trained on × tested on.
            """
    ) { args, context throws(RuntimeError) in
        let a = args
        let methods = try StudyBuiltins.parseMethods(a)
        let c = try StudyBuiltins.parseCommon(a)
        let datasets = try StudyBuiltins.parseDatasets(a, trainSize: try StudyBuiltins.parseTrainSize(a), imageSize: c.imageSize)
        let epochs = try StudyBuiltins.parseEpochs(a)
        return try StudyBuiltins.sweep(a, context: context, title: "generalization") { store, cancelled, progress in
            try Study.generalization(base: c.base, methods: methods, connectors: c.connectors, datasets: datasets, seeds: c.seeds,
                                     epochs: epochs, settings: c.settings, store: store, isCancelled: cancelled, progress: progress)
        }
    }

    // MARK: - hallucination

    static let hallucinationParameters = parameters(
        [Parameter("methods", "[Method]")],
        extra: [Parameter("probes", "[Dataset]", default: .null, choices: { [MiniTask.pope.rawValue, MiniTask.flickr.rawValue] })],
        epochs: 3, runs: "runs/hallucination.jsonl")

    static let hallucination = Builtin(
        "hallucination", hallucinationParameters, returns: "StudyResults",
        doc: """
            The study's hallucination analysis: each method trained on each dataset of `on:` and probed before \
            training (epoch 0) and after each of `epochs` epochs with POPE (accuracy, precision, recall, f1, \
            yes-ratio, and per random / popular / adversarial setting) and with captions scored by CHAIRi and \
            CHAIRs (`probes:` default: the mini-pope and mini-flickr test sets). One row per run, epoch, probe \
            (`test`) and metric; the figure: the POPE settings' accuracy and CHAIR over the epochs.
            """
    ) { args, context throws(RuntimeError) in
        let a = args
        let methods = try StudyBuiltins.parseMethods(a)
        let c = try StudyBuiltins.parseCommon(a)
        let datasets = try StudyBuiltins.parseDatasets(a, trainSize: try StudyBuiltins.parseTrainSize(a), imageSize: c.imageSize)
        let probes: [StudyDataset]
        if case .null = a["probes"] {
            probes = [MiniTask.pope, .flickr].map {
                StudyDataset(name: $0.rawValue, group: $0.group.rawValue, train: [],
                             test: MiniDataset($0, split: .test, imageSize: c.imageSize).examples)
            }
        } else {
            probes = try StudyBuiltins.parseDatasets(a, label: "probes", trainSize: 0, testSplitOnly: true, imageSize: c.imageSize)
        }
        let epochs = try StudyBuiltins.parseEpochs(a)
        return try StudyBuiltins.sweep(a, context: context, title: "hallucination") { store, cancelled, progress in
            try Study.hallucination(base: c.base, methods: methods, connectors: c.connectors, datasets: datasets, probes: probes,
                                    seeds: c.seeds, epochs: epochs, settings: c.settings, store: store, isCancelled: cancelled,
                                    progress: progress)
        }
    }

    // MARK: - efficiency

    static let efficiency = Builtin(
        "efficiency", [Parameter(nil, "Table or StudyResults")], returns: "StudyResults",
        doc: """
            The study's efficiency view (Table 15 beside the scores): from any results table (a workflow's or \
            compare's), per method setting the mean trainable share and mean score (the last epoch where there \
            are epochs); the figure: score against trainable share, a point per setting.
            """
    ) { args, _ throws(RuntimeError) in
        let table: Table
        switch args[0] {
        case .object(let r as StudyResultsObject): table = r.results.table
        case .object(let t as TableObject): table = t.table
        default: throw args.fail(at: 0, "a results table, such as location(…) or compare(…) returns", got: args[0])
        }
        do {
            return .object(StudyResultsObject(try Study.efficiency(table)))
        } catch let error as StudyError {
            throw RuntimeError(.value, error.message, at: args.location)
        } catch {
            throw RuntimeError(.library, "\(error)", at: args.location)
        }
    }
}
