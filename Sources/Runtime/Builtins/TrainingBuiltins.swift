// Training and evaluation in the language: model("tiny-llava"), train(...) and run.train(...),
// evaluate(...), ask(...) and save(...) — bindings over PEFTLib's LlavaSupervisedTask,
// TrainingRun, Evaluator and adapter files, with a live progress display and interrupts
// that stop at a step boundary and keep the run.

import Foundation
import PEFTLabJSON
import PEFTLib

/// A training run: the adapted model, its data, optimizer state and history.
final class RunObject: RuntimeObject, @unchecked Sendable {
    let run: TrainingRun
    let task: LlavaSupervisedTask
    let model: ModelObject
    let dataName: String

    init(run: TrainingRun, task: LlavaSupervisedTask, model: ModelObject, dataName: String) {
        self.run = run; self.task = task; self.model = model; self.dataName = dataName
    }

    var typeName: String { "Run" }
    var memberNames: [String] { ["loss", "history", "model", "step", "train", "learningRate", "tokensPerSecond"] }

    func member(_ name: String) throws(RuntimeError) -> Value? {
        switch name {
        case "loss": return .array(run.history.map { .double($0.loss) })
        case "learningRate": return .array(run.history.map { .double($0.learningRate) })
        case "tokensPerSecond": return .array(run.history.map { .double($0.tokensPerSecond) })
        case "history": return .object(TableObject(historyTable))
        case "model": return .object(model)
        case "step": return .int(run.step)
        case "train":
            return .function(Builtin("Run.train", [Parameter("steps", "Int")], returns: "Run",
                                     doc: "Trains this run for more steps, continuing its optimizer state, data order and history.") {
                [self] args, context throws(RuntimeError) in
                try TrainingBuiltins.advance(self, steps: try args.int("steps"), args: args, context: context)
                return .object(self)
            })
        default: return nil
        }
    }

    var historyTable: Table {
        Table(records: run.history.map { r in
            [("step", .int(r.step)), ("loss", .double(r.loss)), ("learning rate", .double(r.learningRate)),
             ("gradient norm", .double(r.gradientNorm)), ("tokens/s", .double(r.tokensPerSecond)), ("seconds", .double(r.seconds))]
        }, title: "training history")
    }

    var methodName: String { model.attachment.map { "\($0.method.name), connector \($0.connector.rawValue)" } ?? "none" }

    func render() -> MIMEBundle {
        let last = run.history.last
        let rows: [(String, String)] = [
            ("method", methodName), ("data", "\(dataName) (\(task.exampleCount) examples, batch \(task.batchSize))"),
            ("steps", "\(run.step)"), ("loss", last.map { ProgressDisplay.format($0.loss) } ?? "-"),
            ("learning rate", last.map { ProgressDisplay.format($0.learningRate) } ?? "-"),
        ]
        return Card(title: "Run", rows: rows.map { (key: $0.0, value: $0.1) }).bundle
    }
}

enum TrainingBuiltins {
    static var all: [Builtin] { [model, train, evaluate, ask, save] }

    static let model = Builtin(
        "model", [Parameter(nil, "String", choices: { [TinyLlava.name] })], returns: "Model",
        doc: """
            A built-in pretrained model, loaded with no download: `model("tiny-llava")`, the mini suite's \
            LLaVA (a CLIP tower, an MLP connector and a 4-layer Llama, trained by `peftlab recipe tiny-llava`). \
            Your own models: `load("path")`.
            """
    ) { args, _ throws(RuntimeError) in
        let name = try args.string(at: 0)
        guard name == TinyLlava.name else {
            throw RuntimeError(.value, "no built-in model named \"\(name)\"; the built-in one is \"\(TinyLlava.name)\" "
                               + "(load your own with load(\"path/to/folder\"))", at: args.location)
        }
        return .object(try ModelBuiltins.library(args.location) {
            try ModelObject.loadLlava(directory: try TinyLlava.directory(), source: TinyLlava.name)
        })
    }

    // MARK: - train

    /// PEFTLib's training defaults, which `train`'s parameters show and use.
    typealias T = TrainingConfiguration.Defaults

    static let train = Builtin(
        "train",
        [Parameter(nil, "AdaptedModel"), Parameter("on", "Dataset"), Parameter("steps", "Int", default: .int(T.steps)),
         Parameter("batch", "Int", default: .int(T.batchSize)), Parameter("lr", "Double", default: .double(T.learningRate)),
         Parameter("seed", "Int", default: .int(Int(T.seed))), Parameter("connectorLR", "Double", default: .double(T.connectorLearningRate)),
         Parameter("schedule", "Schedule", default: .dotCase(T.schedule.name)), Parameter("warmup", "Double", default: .double(0)),
         Parameter("weightDecay", "Double", default: .double(T.weightDecay)), Parameter("accumulation", "Int", default: .int(1)),
         Parameter("clip", "Double", default: .double(T.maxGradientNorm)), Parameter("optimizer", "Optimizer", default: .dotCase(T.optimizer.rawValue))],
        returns: "Run",
        doc: """
            Trains an adapted model on a dataset and returns the run; `run.train(steps:)` continues it. \
            AdamW by default (`optimizer: .sgd`), `lr` for the method and `connectorLR` for a tuned connector \
            (the study: 2e-4 and 2e-5), `schedule: .constant`, `.linear` or `.cosine` with `warmup` as a \
            fraction of `steps`, gradient clipping at `clip`, `accumulation` micro-batches per step. The same \
            seed gives the same losses. An interrupt stops at a step boundary and keeps the run.
            """
    ) { args, context throws(RuntimeError) in
        guard case .object(let adapted as ModelObject) = args[0] else { throw args.fail(at: 0, "an adapted model", got: args[0]) }
        guard case .object(let data as DatasetObject) = args["on"] else { throw args.fail("on", "a Dataset", got: args["on"]) }
        let llava = try adapted.llava("train", at: args.location)
        guard let attachment = adapted.attachment else {
            throw RuntimeError(.value, "train needs a method: attach(model, lora(rank: 8)) first (or full(), connectorOnly())",
                               at: args.location)
        }
        guard let tokenizer = adapted.tokenizer, let preprocessor = adapted.preprocessor else {
            throw RuntimeError(.value, "this model has no tokenizer.json beside its weights, so it cannot read questions", at: args.location)
        }
        let steps = try args.int("steps"), batch = try args.int("batch"), accumulation = try args.int("accumulation")
        guard steps >= 0, batch >= 1, accumulation >= 1 else {
            throw RuntimeError(.value, "steps must be ≥ 0, batch and accumulation ≥ 1 (got \(steps), \(batch), \(accumulation))", at: args.location)
        }
        let lr = try args.double("lr"), connectorLR = try args.double("connectorLR"), warmup = try args.double("warmup")
        guard lr > 0, connectorLR >= 0, (0...1).contains(warmup) else {
            throw RuntimeError(.value, "lr must be positive, connectorLR ≥ 0 and warmup between 0 and 1", at: args.location)
        }
        let schedule: LearningRateSchedule
        switch try args.dotCase("schedule", allowed: ["constant", "linear", "cosine"]) {
        case "linear": schedule = .linear(warmupRatio: warmup)
        case "cosine": schedule = .cosine(warmupRatio: warmup)
        default: schedule = warmup > 0 ? .constantWithWarmup(warmupRatio: warmup) : .constant
        }
        let optimizer: TrainingConfiguration.OptimizerKind = try args.dotCase("optimizer", allowed: ["adamw", "sgd"]) == "sgd" ? .sgd : .adamw
        let clip = try args.double("clip")
        let configuration = TrainingConfiguration(
            learningRate: lr, connectorLearningRate: connectorLR, weightDecay: try args.double("weightDecay"),
            schedule: schedule, scheduledSteps: max(1, steps), gradientAccumulation: accumulation,
            maxGradientNorm: clip > 0 ? clip : nil, optimizer: optimizer,
            seed: UInt64(bitPattern: Int64(try args.int("seed"))))
        let task = try ModelBuiltins.library(args.location) {
            try LlavaSupervisedTask(model: llava, tokenizer: tokenizer, examples: data.items, batchSize: batch,
                                    preprocessor: preprocessor, attachment: attachment)
        }
        let run = RunObject(run: TrainingRun(task: task, configuration: configuration), task: task, model: adapted,
                            dataName: data.name)
        try advance(run, steps: steps, args: args, context: context)
        return .object(run)
    }

    /// Trains `steps` more steps with a live display; an interrupt ends the call at a step
    /// boundary (the run keeps every finished step); a non-finite loss is an error.
    static func advance(_ run: RunObject, steps: Int, args: BoundArguments, context: any CallContext) throws(RuntimeError) {
        guard steps > 0 else { return }
        let configuration = run.run.configuration
        if configuration.schedule.decays && run.run.step + steps > configuration.scheduledSteps {
            throw RuntimeError(.value, "this run's \(configuration.schedule) schedule ends at step \(configuration.scheduledSteps) "
                               + "(it is at step \(run.run.step)); start a new run with more steps, or train with schedule: .constant",
                               at: args.location)
        }
        let start = run.run.step
        let display = ProgressDisplay(output: context.output, title: "training \(run.methodName)", total: steps, unit: "step")
        func metrics(_ r: StepRecord) -> [(String, Double)] {
            [("loss", r.loss), ("lr", r.learningRate), ("grad norm", r.gradientNorm), ("tokens/s", r.tokensPerSecond)]
        }
        let outcome: TrainingProgress
        do {
            outcome = try run.run.train(steps: steps, isCancelled: { context.isCancelled }) { record in
                display.update(step: record.step - start, metrics: metrics(record), loss: record.loss)
            }
        } catch {
            display.finish(step: run.run.step - start, status: "stopped")
            throw RuntimeError(.library, "\(error)", at: args.location)
        }
        let last = run.run.history.last.map(metrics) ?? []
        if outcome.cancelled {
            display.finish(step: outcome.completedSteps, metrics: last,
                           status: "interrupted after step \(run.run.step); the run keeps it — run.train(steps:) continues")
            // The cell fails as an interrupted cell does (the queue behind it stops); the run,
            // with every finished step, is still bound.
            throw RuntimeError(.interrupted, "training interrupted after step \(run.run.step); the run keeps its "
                               + "\(run.run.step) steps — run.train(steps:) continues it", at: args.location,
                               keeping: .object(run))
        } else {
            display.finish(step: outcome.completedSteps, metrics: last,
                           status: start == 0 ? "done" : "done; the run is at step \(run.run.step)")
        }
    }

    // MARK: - evaluate and ask

    /// The adapted or base model of a call's first, unlabelled argument, a Run or a Model.
    static func modelArgument(_ args: BoundArguments) throws(RuntimeError) -> ModelObject {
        switch args[0] {
        case .object(let run as RunObject): return run.model
        case .object(let model as ModelObject): return model
        default: throw args.fail(at: 0, "a Run or a Model", got: args[0])
        }
    }

    static func setting(_ model: ModelObject, _ what: String, _ args: BoundArguments) throws(RuntimeError)
        -> (LlavaForConditionalGeneration, Tokenizer, CLIPPreprocessorConfig) {
        let llava = try model.llava(what, at: args.location)
        guard let tokenizer = model.tokenizer, let preprocessor = model.preprocessor else {
            throw RuntimeError(.value, "this model has no tokenizer.json beside its weights, so it cannot answer", at: args.location)
        }
        return (llava, tokenizer, preprocessor)
    }

    static let evaluate = Builtin(
        "evaluate",
        [Parameter(nil, "Run or Model"), Parameter("on", "Dataset or [Dataset]"), Parameter("batch", "Int", default: .int(16)),
         Parameter("maxTokens", "Int", default: .int(24))],
        returns: "Table",
        doc: """
            Answers every question of a dataset (or of each dataset of `suite("mini")`) by greedy generation and \
            scores the answers with the dataset's metric (accuracy, VQA score, CIDEr-D, POPE); one row per \
            dataset: score, sub-scores, examples, answers/s.
            """
    ) { args, context throws(RuntimeError) in
        let model = try modelArgument(args)
        let (llava, tokenizer, preprocessor) = try setting(model, "evaluate", args)
        var datasets: [DatasetObject] = []
        switch args["on"] {
        case .object(let d as DatasetObject): datasets = [d]
        case .array(let items):
            for item in items {
                guard case .object(let d as DatasetObject) = item else { throw args.fail("on", "datasets", got: item) }
                datasets.append(d)
            }
        default: throw args.fail("on", "a Dataset or an array of them", got: args["on"])
        }
        let batch = try args.int("batch"), maxTokens = try args.int("maxTokens")
        guard (1...512).contains(batch), (1...512).contains(maxTokens) else {
            throw RuntimeError(.value, "batch and maxTokens must be between 1 and 512", at: args.location)
        }
        let evaluator = try ModelBuiltins.library(args.location) {
            try Evaluator(model: llava, tokenizer: tokenizer, preprocessor: preprocessor, batchSize: batch, maxNewTokens: maxTokens)
        }
        let total = datasets.reduce(0) { $0 + $1.items.count }
        let display = ProgressDisplay(output: context.output, title: "evaluating", total: total, unit: "answer")
        var records: [[(String, TableValue)]] = [], done = 0
        for data in datasets {
            let result: EvaluationResult
            do {
                result = try evaluator.evaluate(data.items, isCancelled: { context.isCancelled }) { p in
                    display.update(step: done + p.completed)
                }
            } catch {
                display.finish(step: done, status: "stopped")
                throw RuntimeError(.library, "\(data.name): \(error)", at: args.location)
            }
            if result.isPartial {
                display.finish(step: done + result.predictions.count, status: "interrupted")
                throw RuntimeError(.interrupted, "evaluation interrupted in \(data.name) after \(result.predictions.count) of \(data.items.count) answers",
                                   at: args.location)
            }
            done += data.items.count
            var record: [(String, TableValue)] = [("dataset", .text(data.name)), ("group", .text(data.group)),
                                                   ("metric", .text(data.metric)), ("score", .double(result.score))]
            record += result.subScores.map { ($0.name, .double($0.value)) }
            record += [("examples", .int(result.total)), ("answers/s", .double(result.answersPerSecond))]
            records.append(record)
        }
        display.finish(step: done, status: "done")
        return .object(TableObject(Table(records: records, title: "evaluation")))
    }

    static let ask = Builtin(
        "ask",
        [Parameter(nil, "Run or Model"), Parameter("image", "Image or String", default: .null), Parameter(nil, "String"),
         Parameter("maxTokens", "Int", default: .int(32))],
        returns: "String",
        doc: "Asks the model a question about an image (an Image value or a PNG/JPEG path) and returns its greedy answer."
    ) { args, _ throws(RuntimeError) in
        let model = try modelArgument(args)
        let (llava, tokenizer, preprocessor) = try setting(model, "ask", args)
        var image: RGBImage?
        switch args["image"] {
        case .null: image = nil
        case .object(let i as ImageObject): image = i.image
        case .string: image = try ModelBuiltins.library(args.location) { try RGBImage(contentsOf: try args.path("image")) }
        default: throw args.fail("image", "an Image or an image file path", got: args["image"])
        }
        let question = try args.string(at: 2), maxTokens = try args.int("maxTokens")
        guard (1...512).contains(maxTokens) else { throw RuntimeError(.value, "maxTokens must be between 1 and 512", at: args.location) }
        let answers = try ModelBuiltins.library(args.location) {
            let generator = try LlavaAnswerGenerator(model: llava, tokenizer: tokenizer, preprocessor: preprocessor, maxNewTokens: maxTokens)
            return try generator.answers(for: [VQAExample(id: "ask", image: image, question: question, answer: "")])
        }
        return .string(answers.first ?? "")
    }

    // MARK: - save

    static let save = Builtin(
        "save", [Parameter(nil, "Run or AdaptedModel"), Parameter(nil, "String")], returns: "String",
        doc: """
            Writes the adapter in the Hugging Face PEFT layout (adapter_config.json, adapter_model.safetensors \
            with peft's key names, the tuned connector inside): Python peft loads it, and so does \
            `load(adapter: "dir", on: base)`.
            """
    ) { args, _ throws(RuntimeError) in
        let model = try modelArgument(args)
        guard let attachment = model.attachment else {
            throw RuntimeError(.value, "save needs an adapted model or a run; this model has no method attached", at: args.location)
        }
        let folder = try args.path(at: 1)
        try ModelBuiltins.library(args.location) { try saveAdapter(model.module, attachment: attachment, to: folder) }
        return .string(folder)
    }
}
