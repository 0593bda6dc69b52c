// Models and PEFT methods in the language: load(...), lora/ia3/adapter/prefix/full/
// connectorOnly, attach(...) and trainable(...) — thin bindings over PEFTLib.

import Foundation
import PEFTLabJSON
import PEFTLib

/// A loaded model (with or without weights), possibly adapted.
final class ModelObject: RuntimeObject, @unchecked Sendable {
    let module: any Module
    let architecture: String
    let source: String
    let configSummary: [(String, String)]
    var attachment: PEFTAttachment?
    /// The tokenizer and image preprocessing found beside the weights (needed to train and ask).
    var tokenizer: Tokenizer?
    var preprocessor: CLIPPreprocessorConfig?

    init(module: any Module, architecture: String, source: String, configSummary: [(String, String)],
         tokenizer: Tokenizer? = nil, preprocessor: CLIPPreprocessorConfig? = nil) {
        self.module = module; self.architecture = architecture; self.source = source; self.configSummary = configSummary
        self.tokenizer = tokenizer; self.preprocessor = preprocessor
    }

    /// A LLaVA model from a Hugging Face folder, with its tokenizer and preprocessor when present.
    /// - Parameter config: the folder's config.json when the caller has read it already
    static func loadLlava(directory: String, source: String, config known: LlavaConfig? = nil) throws -> ModelObject {
        let config: LlavaConfig
        if let known { config = known } else {
            guard case .llava(let read) = try ModelConfig.load(path: directory) else {
                throw ModelError.invalidInput("'\(directory)' does not hold a LLaVA model")
            }
            config = read
        }
        let model = try LlavaForConditionalGeneration.load(directory: directory, config: config)
        let files = FileManager.default
        let tokenizer = files.fileExists(atPath: directory + "/tokenizer.json") ? try Tokenizer(path: directory) : nil
        let preprocessorPath = directory + "/preprocessor_config.json"
        let preprocessor = files.fileExists(atPath: preprocessorPath)
            ? try CLIPPreprocessorConfig(contentsOf: preprocessorPath)
            : CLIPPreprocessorConfig(imageSize: config.visionConfig.imageSize)
        return ModelObject(module: model, architecture: "LlavaForConditionalGeneration", source: source,
                           configSummary: ModelBuiltins.summary(config), tokenizer: tokenizer, preprocessor: preprocessor)
    }

    /// The LLaVA model, or an error saying what this one is.
    func llava(_ what: String, at location: SourceLocation?) throws(RuntimeError) -> LlavaForConditionalGeneration {
        guard let model = module as? LlavaForConditionalGeneration else {
            throw RuntimeError(.value, "\(what) needs a LLaVA model; this one is a \(architecture)", at: location)
        }
        if model.isMeta {
            throw RuntimeError(.value, "\(what) needs weights; this model was loaded from a config alone (for counting)", at: location)
        }
        return model
    }

    /// An unadapted copy with the same tokenizer and preprocessing.
    func copy() throws -> ModelObject {
        let copied: any Module
        if let llava = module as? LlavaForConditionalGeneration { copied = try llava.copy() } else {
            throw PEFTError.unsupported("only LLaVA models can be copied")
        }
        return ModelObject(module: copied, architecture: architecture, source: source, configSummary: configSummary,
                           tokenizer: tokenizer, preprocessor: preprocessor)
    }

    var typeName: String { attachment == nil ? "Model" : "AdaptedModel" }
    var memberNames: [String] { ["parameters", "trainable", "architecture", "isMeta", "method"] }

    func member(_ name: String) throws(RuntimeError) -> Value? {
        switch name {
        case "parameters": return .int(module.parameterCount)
        case "trainable": return .int(trainableParameterSummary(module, attachment: attachment).trainable)
        case "architecture": return .string(architecture)
        case "isMeta": return .bool(module.isMeta)
        case "method": return attachment.map { .string($0.method.name) } ?? .null
        default: return nil
        }
    }

    /// The model card: architecture, parameters, configuration, method.
    func render() -> MIMEBundle {
        let summary = trainableParameterSummary(module, attachment: attachment)
        var rows: [(String, String)] = [("architecture", architecture), ("source", source),
                                        ("parameters", Self.count(summary.base + summary.added))]
        if module.isMeta { rows.append(("weights", "none (meta: for counting)")) }
        if let attachment {
            rows.append(("method", "\(attachment.method.name), connector \(attachment.connector.rawValue)"))
            rows.append(("added by the method", Self.count(summary.added)))
        }
        rows.append(("trainable", "\(Self.count(summary.trainable)) (\(String(format: "%.3f", summary.share * 100)) %)"))
        rows += configSummary
        return Card(title: "\(typeName): \(architecture)", rows: rows.map { (key: $0.0, value: $0.1) }).bundle
    }

    /// 7,063,427,072 (7.06 B)
    static func count(_ n: Int) -> String {
        let grouped = String(n).reversed().enumerated().map { $0.offset > 0 && $0.offset % 3 == 0 ? ",\($0.element)" : "\($0.element)" }
        let text = String(grouped.joined().reversed())
        if n >= 1_000_000_000 { return text + String(format: " (%.2f B)", Double(n) / 1e9) }
        if n >= 1_000_000 { return text + String(format: " (%.2f M)", Double(n) / 1e6) }
        return text
    }
}

/// A PEFT method with its settings.
final class MethodObject: RuntimeObject, @unchecked Sendable {
    let method: PEFTMethod
    init(_ method: PEFTMethod) { self.method = method }
    var typeName: String { "Method" }
    var memberNames: [String] { ["name"] }
    func member(_ name: String) throws(RuntimeError) -> Value? { name == "name" ? .string(method.name) : nil }
    func render() -> MIMEBundle { .text("\(method)") }
}

/// The trainable-parameter report: a table plus its totals.
final class TrainableReportObject: RuntimeObject, @unchecked Sendable {
    let table: Table
    let summary: TrainableParameterSummary
    init(table: Table, summary: TrainableParameterSummary) { self.table = table; self.summary = summary }
    var typeName: String { "TrainableReport" }
    var memberNames: [String] { ["share", "trainable", "total", "added", "table", "plot"] }
    func member(_ name: String) throws(RuntimeError) -> Value? {
        switch name {
        case "share": return .double(summary.share * 100)
        case "trainable": return .int(summary.trainable)
        case "total": return .int(summary.base + summary.added)
        case "added": return .int(summary.added)
        case "table": return .object(TableObject(table))
        case "plot": return .object(PlotObject(bars))
        default: return try TableObject(table).member(name)
        }
    }

    /// Trainable parameters per decoder layer and top-level part (connector, prefix, …).
    var bars: Plot {
        let parts = (try? table.filter("scope", equals: .text("layer"))) ?? table
        let names = (try? parts.column("name")) ?? [], counts = (try? parts.column("trainable")) ?? []
        return Plot(kind: .bar, title: "trainable parameters by part", xLabel: "part", yLabel: "trainable",
                    seriesLabel: nil, points: zip(names, counts).map { Plot.Point(x: $0, y: $1, series: nil) })
    }

    /// The table, and in HTML the table followed by the bar chart of where the parameters train.
    func render() -> MIMEBundle {
        var bundle = TableRendering.bundle(table)
        if case .string(let html)? = bundle.data["text/html"], !bars.points.isEmpty {
            bundle.data["text/html"] = .string(html + "<div style=\"margin-top:8px\">" + SVGPlotRenderer(plot: bars).svg() + "</div>")
        }
        return bundle
    }
}

enum ModelBuiltins {
    static var all: [Builtin] { [load, lora, ia3, adapter, prefix, full, connectorOnly, attach, trainable] }

    static func library<T>(_ location: SourceLocation?, _ body: () throws -> T) throws(RuntimeError) -> T {
        do { return try body() } catch { throw RuntimeError(.library, "\(error)", at: location) }
    }

    static let load = Builtin(
        "load", [Parameter(nil, "String", default: .null), Parameter("config", "String", default: .null),
                 Parameter("adapter", "String", default: .null), Parameter("on", "Model", default: .null)],
        returns: "Model",
        doc: """
            A model in the Hugging Face layout: `load("path/to/llava-hf-model")` reads config.json, the \
            safetensors weights, tokenizer.json and preprocessor_config.json; `load(config: "config.json")` builds \
            it without weights, for counting the parameters of models too big for the machine (LLaVA-1.5-7B: \
            configs/llava-1.5-7b/config.json); `load(adapter: "runs/x", on: base)` puts an adapter saved in the \
            Hugging Face PEFT layout (by `save` or by Python peft) on a copy of `base`.
            """
    ) { args, _ throws(RuntimeError) in
        if args.optional("adapter") != nil {
            let folder = try args.path("adapter")
            guard case .object(let base as ModelObject) = args["on"] else {
                throw RuntimeError(.argument, "load(adapter:) also needs on: the base model to put it on", at: args.location)
            }
            if let existing = base.attachment {
                throw RuntimeError(.value, "load(adapter:on:) needs a base model; this one already carries a \(existing.method.name) adapter", at: args.location)
            }
            let adapted = try library(args.location) { try base.copy() }
            adapted.attachment = try library(args.location) { try loadAdapter(from: folder, into: adapted.module) }
            return .object(adapted)
        }
        if args.optional("config") != nil {
            let path = try args.path("config")
            let config = try library(args.location) { try ModelConfig.load(path: path) }
            switch config {
            case .llava(let c):
                let model = try library(args.location) { try LlavaForConditionalGeneration(config: c, initialization: .meta) }
                return .object(ModelObject(module: model, architecture: "LlavaForConditionalGeneration", source: path, configSummary: summary(c)))
            case .llama(let c):
                let model = try library(args.location) { try LlamaForCausalLM(config: c, initialization: .meta) }
                return .object(ModelObject(module: model, architecture: "LlamaForCausalLM", source: path, configSummary: summary(c)))
            case .clipVision:
                throw RuntimeError(.value, "\(path) is a CLIP vision config; load a LLaVA or Llama model", at: args.location)
            }
        }
        guard case .string = args[0] else {
            throw RuntimeError(.argument, "load() needs a model folder, or config: a config.json", at: args.location)
        }
        let directory = try args.path(at: 0)
        let config = try library(args.location) { try ModelConfig.load(path: directory) }
        switch config {
        case .llava(let c):
            return .object(try library(args.location) { try ModelObject.loadLlava(directory: directory, source: directory, config: c) })
        case .llama(let c):
            let model = try library(args.location) { try LlamaForCausalLM.load(directory: directory, config: c) }
            return .object(ModelObject(module: model, architecture: "LlamaForCausalLM", source: directory, configSummary: summary(c)))
        case .clipVision:
            throw RuntimeError(.value, "\(directory) holds a CLIP vision model; load a LLaVA or Llama model", at: args.location)
        }
    }

    static func summary(_ c: LlamaConfig) -> [(String, String)] {
        [("language model", "\(c.numHiddenLayers) layers, hidden \(c.hiddenSize), MLP \(c.intermediateSize), "
          + "\(c.numAttentionHeads) heads (\(c.numKeyValueHeads) kv), vocab \(c.vocabSize)")]
    }

    static func summary(_ c: LlavaConfig) -> [(String, String)] {
        let v = c.visionConfig
        return summary(c.textConfig) + [("vision tower", "CLIP \(v.numHiddenLayers) layers, hidden \(v.hiddenSize), "
                                         + "image \(v.imageSize), patch \(v.patchSize)")]
    }

    /// PEFTLib's defaults of the methods, which the built-ins' parameters show and use.
    typealias D = PEFTMethod.Defaults

    /// A default number as the language writes it (16, not 16.0).
    static func number(_ x: Double) -> Value { x.rounded() == x && abs(x) < 1e15 ? .int(Int(x)) : .double(x) }

    /// A default location as the language writes it (.both); module lists as arrays of names.
    static func literal(_ location: PEFTLocation) -> Value {
        switch location {
        case .attention: return .dotCase("attention")
        case .mlp: return .dotCase("mlp")
        case .both: return .dotCase("both")
        case .modules(let names): return .array(names.map(Value.string))
        }
    }

    /// Where a method goes: the `on:` argument, or `value` given for the argument `label`.
    static func location(_ args: BoundArguments, value: Value? = nil, label: String = "on") throws(RuntimeError) -> PEFTLocation {
        let value = value ?? args[label]
        switch value {
        case .dotCase("attention"): return .attention
        case .dotCase("mlp"): return .mlp
        case .dotCase("both"): return .both
        case .array(let items):
            var names: [String] = []
            for item in items {
                guard case .string(let s) = item else { throw args.fail(label, "module names such as \"q_proj\"", got: item) }
                names.append(s)
            }
            return .modules(names)
        default: throw args.fail(label, ".attention, .mlp, .both or a list of module names", got: value)
        }
    }

    static let lora = Builtin(
        "lora", [Parameter("rank", "Int", default: .int(D.loraRank)), Parameter("alpha", "Double", default: number(D.loraAlpha)),
                 Parameter("dropout", "Double", default: number(D.loraDropout)), Parameter("on", "Location", default: literal(D.loraLocation))],
        returns: "Method", doc: "LoRA: y = W x + (α/r)·B A dropout(x), A Kaiming-uniform, B zero; on q, k, v, o (.attention), gate, up, down (.mlp), or both."
    ) { args, _ throws(RuntimeError) in
        let (r, a, d) = (try args.int("rank"), try args.double("alpha"), try args.double("dropout"))
        let on = try location(args)
        return .object(MethodObject(try library(args.location) { try PEFTMethod.lora(rank: r, alpha: a, dropout: d, on: on) }))
    }

    static let ia3 = Builtin(
        "ia3", [Parameter("on", "Location", default: literal(D.ia3Location))], returns: "Method",
        doc: "IA3: learned vectors (initialised to ones) scaling the outputs of k and v and the input of down_proj."
    ) { args, _ throws(RuntimeError) in
        .object(MethodObject(PEFTMethod.ia3(on: try location(args))))
    }

    static let adapter = Builtin(
        "adapter", [Parameter("size", "Int", default: .int(D.adapterSize)), Parameter("on", "Location", default: literal(D.adapterLocation)),
                    Parameter("style", "AdapterStyle", default: .dotCase(D.adapterStyle.rawValue))],
        returns: "Method",
        doc: "Bottleneck adapter x + up(tanh(down(x))): .mlp before gate_proj and up_proj and after down_proj (the study's placement), .attention after o_proj, .both; style .series or .parallel."
    ) { args, _ throws(RuntimeError) in
        let size = try args.int("size")
        let on = try location(args)
        let style: AdapterStyle = try args.dotCase("style", allowed: ["series", "parallel"]) == "series" ? .series : .parallel
        return .object(MethodObject(try library(args.location) { try PEFTMethod.adapter(size: size, on: on, style: style) }))
    }

    static let prefix = Builtin(
        "prefix", [Parameter("tokens", "Int", default: .int(D.prefixTokens)), Parameter("projection", "Bool", default: .bool(D.prefixProjection))],
        returns: "Method", doc: "Prefix-tuning: learned keys and values for `tokens` virtual tokens in every layer; projection: the reparameterisation MLP."
    ) { args, _ throws(RuntimeError) in
        let (tokens, projection) = (try args.int("tokens"), try args.bool("projection"))
        return .object(MethodObject(try library(args.location) { try PEFTMethod.prefix(tokens: tokens, projection: projection) }))
    }

    static let full = Builtin("full", [], returns: "Method", doc: "Full fine-tuning of the language model (a baseline).") { _, _ in
        .object(MethodObject(.full))
    }

    static let connectorOnly = Builtin("connectorOnly", [], returns: "Method", doc: "Train only the connector (a baseline).") { _, _ in
        .object(MethodObject(.connectorOnly))
    }

    static let attach = Builtin(
        "attach", [Parameter(nil, "Model"), Parameter(nil, "Method"), Parameter("connector", "Connector", default: .null),
                   Parameter("replacing", "Bool", default: .bool(false)), Parameter("seed", "Int", default: .int(0))],
        returns: "AdaptedModel",
        doc: """
            Attaches a PEFT method to a copy of a LLaVA model (the base stays as it was, so one base serves \
            many methods; a text-only Llama is adapted in place): the vision tower is always frozen, the \
            connector .tuned or .frozen, the language model frozen except the method's parameters. An \
            adapted model takes another method only with replacing: true (in place).
            """
    ) { args, _ throws(RuntimeError) in
        guard case .object(let m as ModelObject) = args[0] else { throw args.fail(at: 0, "a Model", got: args[0]) }
        guard case .object(let method as MethodObject) = args[1] else { throw args.fail(at: 1, "a Method such as lora(rank: 8)", got: args[1]) }
        var connector: ConnectorMode?
        if args.optional("connector") != nil {
            connector = try args.dotCase("connector", allowed: ["tuned", "frozen"]) == "tuned" ? .tuned : .frozen
        }
        let replacing = try args.bool("replacing")
        let seed = UInt64(bitPattern: Int64(try args.int("seed")))
        // A base LLaVA model stays as it was: the method goes on a copy, so one base serves many methods.
        let target = m.attachment == nil && m.module is LlavaForConditionalGeneration ? try library(args.location) { try m.copy() } : m
        target.attachment = try library(args.location) {
            try PEFTLib.attach(method: method.method, to: target.module, connector: connector, replacing: replacing, seed: seed)
        }
        return .object(target)
    }

    static let trainable = Builtin(
        "trainable", [Parameter(nil, "Model")], returns: "TrainableReport",
        doc: "What trains, where and how much: per module type and layer, and in total; `.share` (percent of base + added), `.trainable`, `.total`."
    ) { args, _ throws(RuntimeError) in
        guard case .object(let m as ModelObject) = args[0] else { throw args.fail(at: 0, "a Model", got: args[0]) }
        return .object(TrainableReportObject(table: trainableParameterReport(m.module, attachment: m.attachment),
                                             summary: trainableParameterSummary(m.module, attachment: m.attachment)))
    }
}
