// changes(run): what training moved, per decoder layer and module, as a heatmap — a
// binding over PEFTLib's `changes(_:attachment:probe:)`, with the run's first training
// examples as the probe batch that adapters are measured on.

import PEFTLabJSON
import PEFTLib

/// The table of `changes` and its heatmap; shows as the heatmap, with the table as text.
final class ChangesObject: RuntimeObject, @unchecked Sendable {
    let table: Table
    let plot: Plot
    init(table: Table, plot: Plot) { self.table = table; self.plot = plot }

    var typeName: String { "Changes" }
    var memberNames: [String] { ["table", "plot", "max", "total", "measures"] }

    func member(_ name: String) throws(RuntimeError) -> Value? {
        let values = (try? table.column("value"))?.compactMap(\.number) ?? []
        switch name {
        case "table": return .object(TableObject(table))
        case "plot": return .object(PlotObject(plot))
        case "max": return .double(values.max() ?? 0)
        case "total": return .double(values.reduce(0, +))
        case "measures":
            var seen: [String] = []
            for v in (try? table.column("measure")) ?? [] where !seen.contains(v.description) { seen.append(v.description) }
            return .array(seen.map(Value.string))
        default: return try TableObject(table).member(name)
        }
    }

    /// The heatmap (SVG and Vega-Lite) with the table as its text: a console reads the numbers.
    func render() -> MIMEBundle {
        var bundle = plot.render()
        bundle.data["text/plain"] = .string(TableRendering.text(table))
        return bundle
    }
}

enum ChangesBuiltins {
    static var all: [Builtin] { [changes] }

    /// Examples of the probe batch adapters are measured on.
    static let probeExamples = 8

    static let changes = Builtin(
        "changes", [Parameter(nil, "Run or AdaptedModel"), Parameter("on", "Dataset", default: .null)],
        returns: "Changes",
        doc: """
            What training moved: a heatmap of decoder layer × module of how far the method pulls the \
            model from its base — LoRA: ‖(α/r)·B·A‖_F (0 while B is 0); IA3: ‖l − 1‖₂ (0 before training); \
            Adapter: the mean norm of its output on a probe batch (the run's first 8 training examples, or \
            the first 8 of `on:`), or without data the bound ‖W_up‖_F·‖W_down‖_F; Prefix: the norms of each \
            layer's virtual keys and values. Members: `.table` (layer, module, measure, value), `.plot`, \
            `.max`, `.total`, `.measures`.
            """
    ) { args, _ throws(RuntimeError) in
        let model: ModelObject
        var task: LlavaSupervisedTask?
        var step: Int?
        switch args[0] {
        case .object(let run as RunObject): model = run.model; task = run.task; step = run.run.step
        case .object(let m as ModelObject): model = m
        default: throw args.fail(at: 0, "a Run or an adapted model", got: args[0])
        }
        guard let attachment = model.attachment else {
            throw RuntimeError(.value, "changes(): this model has no PEFT method attached; pass a run or "
                               + "attach(model, lora()) first", at: args.location)
        }
        if case .object(let data as DatasetObject) = args["on"] {
            let (llava, tokenizer, preprocessor) = try TrainingBuiltins.setting(model, "changes", args)
            let examples = Array(data.items.prefix(probeExamples))
            guard !examples.isEmpty else { throw RuntimeError(.value, "changes(on:): the dataset is empty", at: args.location) }
            task = try ModelBuiltins.library(args.location) {
                try LlavaSupervisedTask(model: llava, tokenizer: tokenizer, examples: examples, batchSize: probeExamples,
                                        preprocessor: preprocessor, attachment: attachment)
            }
        } else if let other = args.optional("on") {
            throw args.fail("on", "a Dataset", got: other)
        }
        let probe: (() throws -> Void)? = task.map { t in { try t.probe(examples: probeExamples) } }
        let table = try ModelBuiltins.library(args.location) {
            try PEFTLib.changes(model.module, attachment: attachment, probe: probe)
        }
        return .object(ChangesObject(table: table, plot: heatmap(table, method: attachment.method.name, step: step)))
    }

    /// Layer × module cells coloured by the value.
    static func heatmap(_ table: Table, method: String, step: Int?) -> Plot {
        let layers = (try? table.column("layer")) ?? [], modules = (try? table.column("module")) ?? []
        let values = (try? table.column("value")) ?? [], measures = (try? table.column("measure")) ?? []
        var distinct: [String] = []
        for m in measures where !distinct.contains(m.description) { distinct.append(m.description) }
        let points = (0..<table.count).map { i in
            Plot.Point(x: modules[i], y: values[i], series: "layer \(layers[i])")
        }
        var title = "what \(method) moved" + (step.map { " by step \($0)" } ?? "")
        if distinct.count == 1, let plain = plainMeasures[distinct[0]] { title += ": " + plain }
        return Plot(kind: .heatmap, title: title, xLabel: "module", yLabel: distinct.count == 1 ? distinct[0] : "value",
                    seriesLabel: "layer", points: points)
    }

    /// The measures in ASCII, for titles that the PNG export's bitmap font can draw.
    static let plainMeasures: [String: String] = [
        ChangeMeasure.loraUpdate: "|(alpha/r) B A|_F",
        ChangeMeasure.ia3Distance: "|l - 1|_2",
        ChangeMeasure.adapterOutput: "mean |adapter output|_2",
        ChangeMeasure.adapterGainBound: "|W_up|_F |W_down|_F (gain bound)",
        ChangeMeasure.prefixNorm: "|prefix keys, values|_F",
    ]
}
