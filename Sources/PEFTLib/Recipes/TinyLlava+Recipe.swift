// The recipe that makes tiny-llava from nothing: the analogue of what LLaVA-1.5 went through
// before the study fine-tuned it.
//
//   1. tokenizer: a case-preserving WordLevel vocabulary over the mini suite's text;
//   2. vision pretraining, the analogue of CLIP's: the tower alone learns, patch by patch,
//      which object, colour and letter it shows, where the patch lies and how many objects of
//      each kind the image holds (TinyLlava+VisionPretraining.swift); it is frozen from then
//      on, as LLaVA-1.5 freezes its CLIP;
//   2b. grounding: the connector learns to make each patch read, to the language model, like
//      the words for its kind, colour, row and column (TinyLlava+Grounding.swift);
//   3. alignment: the connector and the language model train on scene descriptions (LLaVA
//      trains only the connector here; tiny-llava's language model starts from random
//      weights, so it learns to speak in this stage too);
//   4. instruction tuning on the seen mix — the skills the unseen sets reuse, not their
//      formats: yes/no, colours, shapes, positions, counts over 1…8, which of two named
//      kinds there is more of (mini-vqav2), facts
//      (mini-okvqa), reading (mini-ocrvqa), lettered choice (mini-aokvqa), with descriptions
//      as about 15 % of the examples;
//   5. the ship gate: zero-shot scores on 500 test items of every set, each with its 95 %
//      interval, chance level and ceiling, written to scores.json. A model that fails the
//      gate is not written.
//
// Each stage checkpoints every few minutes into a work folder; `--resume` continues from
// the last checkpoint with the same bits as a run that was never stopped. Every number comes
// from the seed, so a re-run on the same machine gives the same files.

import Foundation
import PEFTLabJSON

/// Settings of the tiny-llava recipe.
public struct TinyLlavaRecipe: Sendable {
    public var seed: UInt64 = 0
    /// Images and steps of the vision pretraining stage, and its batch.
    public var visionExamples = 48_000
    public var visionSteps = 2000
    public var visionBatchSize = 32
    /// Steps of the grounding stage (on the vision stage's images, in batches of `visionBatchSize`).
    public var groundingSteps = 1000
    /// Description samples for the alignment stage.
    public var alignmentExamples = 8000
    public var alignmentSteps = 800
    /// Train samples of each set of the instruction mix.
    public var instructionMix: [(task: MiniTask, examples: Int)] = [
        (.vqav2, 40_000), (.okvqa, 6000), (.ocrvqa, 14_000), (.aokvqa, 8000), (.descriptions, 12_000),
    ]
    public var instructionSteps = 6000
    public var batchSize = 16
    public var learningRate = 1e-3
    /// Test samples per dataset for the gate and the zero-shot table.
    public var evaluationExamples = 500
    /// Seconds between checkpoints.
    public var checkpointSeconds = 240.0
    /// Whether a model that fails its gate is refused (the quick variant only checks the plumbing).
    public var enforcesGate = true

    public init() {}

    /// A quick variant for tests: a few steps on a few examples, the gate reported but not enforced.
    public static func quick() -> TinyLlavaRecipe {
        var r = TinyLlavaRecipe()
        r.visionExamples = 16; r.visionSteps = 2; r.visionBatchSize = 4; r.groundingSteps = 2
        r.alignmentExamples = 32; r.alignmentSteps = 2
        r.instructionMix = r.instructionMix.map { ($0.task, 8) }
        r.instructionSteps = 3
        r.batchSize = 4; r.evaluationExamples = 8
        r.enforcesGate = false
        return r
    }

    /// The settings as JSON (scores.json's "recipe"; a checkpoint folder is resumed only by
    /// the same settings).
    public var settings: JSON {
        ["seed": .int(Int(seed)), "vision_examples": .int(visionExamples), "vision_steps": .int(visionSteps),
         "vision_batch_size": .int(visionBatchSize), "grounding_steps": .int(groundingSteps), "alignment_examples": .int(alignmentExamples), "alignment_steps": .int(alignmentSteps),
         "instruction_mix": .object(instructionMix.reduce(into: JSONObject()) { $0[$1.task.rawValue] = .int($1.examples) }),
         "instruction_steps": .int(instructionSteps), "batch_size": .int(batchSize), "learning_rate": .number(learningRate),
         "evaluation_examples": .int(evaluationExamples)]
    }

    /// The work folder beside `output` where checkpoints live while the recipe runs.
    public static func workFolder(for output: String) -> String {
        let resolved = FilePaths.resolve(output)
        return (resolved.hasSuffix("/") ? String(resolved.dropLast()) : resolved) + ".recipe"
    }

    /// Runs the recipe and, when the model passes its gate, replaces `output` with config.json,
    /// model.safetensors, tokenizer.json, tokenizer_config.json, preprocessor_config.json and
    /// scores.json in one step.
    /// - Parameters:
    ///   - resume: continue from the checkpoints in the work folder (`workFolder(for:)`);
    ///     without it, an existing work folder is an error, so that no run's work is dropped
    ///     by accident
    ///   - fresh: delete the work folder's checkpoints and start over
    ///   - isCancelled: checked between steps; a cancelled run saves a checkpoint and throws
    ///     `TinyLlavaRecipeError.interrupted`
    ///   - log: one line per stage, progress with the time left, and the gate's checks
    /// - Returns: the gate report (also in scores.json)
    /// - Throws: `TinyLlavaRecipeError.gateFailed` (the model is kept in the work folder, not written)
    @discardableResult
    public func run(output: String, resume: Bool = false, fresh: Bool = false, isCancelled: () -> Bool = { false },
                    log: (String) -> Void = { print($0) }) throws -> TinyLlavaGateReport {
        let started = ContinuousClock.now
        let work = Self.workFolder(for: output)
        let fm = FileManager.default
        if fresh { try? fm.removeItem(atPath: work) }
        // The checkpoints belong to these settings and to this version of the suite's data.
        var resumeKey = settings.objectValue ?? [:]
        resumeKey["data_fnv1a64"] = .string(String(dataDigest(), radix: 16))
        let settingsText = JSON.object(resumeKey).prettySerialized()
        if fm.fileExists(atPath: work) {
            guard resume else {
                throw TinyLlavaRecipeError.unfinishedRun(work)
            }
            let saved = (try? String(contentsOfFile: work + "/recipe.json", encoding: .utf8)) ?? ""
            guard saved == settingsText else {
                let old = (try? JSON.parse(saved))?.objectValue ?? [:]
                let changed = Set(old.keys).union(resumeKey.keys).filter { old[$0] != resumeKey[$0] }.sorted()
                throw TinyLlavaRecipeError.otherSettings(work, changed: changed)
            }
        } else {
            try fm.createDirectory(atPath: work, withIntermediateDirectories: true)
            try AtomicFiles.write(Array(settingsText.utf8), to: work + "/recipe.json")
        }

        // 1. Tokenizer and model.
        let staged = work + "/model"
        try fm.createDirectory(atPath: staged, withIntermediateDirectories: true)
        let builder = TinyLlava.tokenizerBuilder(seed: seed)
        try AtomicFiles.write(Array(builder.tokenizerJSON().utf8), to: staged + "/tokenizer.json")
        try AtomicFiles.write(Array(builder.tokenizerConfigJSON(maxLength: TinyLlava.maxPositions).utf8),
                              to: staged + "/tokenizer_config.json")
        let tokenizer = try Tokenizer(path: staged)
        log("tokenizer: \(tokenizer.vocabularySize) tokens (case kept)")
        let untrained = untrainedPromptWords()
        if !untrained.isEmpty { log("warning: words of the evaluation prompts that no stage trains: \(untrained.sorted().joined(separator: " "))") }
        let model = try initialModel(tokenizer: tokenizer)
        let config = model.config
        model.unfreeze()
        log("model: \(model.parameterCount) parameters")

        // 2. Vision pretraining and grounding, 3. alignment, 4. instruction tuning.
        var clock = RecipeClock(totalSteps: visionSteps + groundingSteps + alignmentSteps + instructionSteps)
        let images = Self.parallelMap(visionExamples) { i in
            LabelledPatches.sample(index: i, seed: seed, size: TinyLlava.imageSize, patch: config.visionConfig.patchSize)
        }
        let vision = try VisionPretrainingTask(tower: model.model.visionTower, samples: images,
                                               preprocessor: TinyLlava.preprocessor, batchSize: visionBatchSize, seed: seed)
        try train(vision, steps: visionSteps, stage: "vision pretraining", checkpoint: work + "/vision.safetensors",
                  clock: &clock, isCancelled: isCancelled, log: log)
        model.model.visionTower.freeze()
        let grounding = try GroundingTask(model: model, tokenizer: tokenizer, samples: images, preprocessor: TinyLlava.preprocessor,
                                          batchSize: visionBatchSize, seed: seed)
        try train(grounding, steps: groundingSteps, stage: "grounding", checkpoint: work + "/grounding.safetensors",
                  clock: &clock, isCancelled: isCancelled, log: log)
        let alignment = Self.generate([(.descriptions, alignmentExamples)], seed: seed)
        try train(try supervised(model, tokenizer, alignment), steps: alignmentSteps, stage: "alignment",
                  checkpoint: work + "/alignment.safetensors", clock: &clock, isCancelled: isCancelled, log: log)
        let mix = Self.generate(instructionMix, seed: seed)
        try train(try supervised(model, tokenizer, mix), steps: instructionSteps, stage: "instruction tuning",
                  checkpoint: work + "/instruction.safetensors", clock: &clock, isCancelled: isCancelled, log: log)

        try model.save(directory: staged)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFiles.write(Array(try encoder.encode(TinyLlava.preprocessor)), to: staged + "/preprocessor_config.json")

        // 4. The gate.
        let evaluator = try TinyLlavaGateReport.evaluator(model: model, tokenizer: tokenizer, preprocessor: TinyLlava.preprocessor)
        let report = try TinyLlavaGateReport.evaluate(evaluator, examples: evaluationExamples, seed: seed, log: log)
        let elapsed = ContinuousClock.now - started
        var recipe = settings.objectValue ?? [:]
        recipe["minutes_this_run"] = .number((Double(elapsed.components.seconds) / 60 * 10).rounded() / 10)
        try AtomicFiles.write(Array(report.json(recipe: .object(recipe)).prettySerialized().utf8), to: staged + "/scores.json")
        for check in report.checks { log("  \(check.passed ? "pass" : "FAIL")  \(check.name): \(check.detail)") }
        if enforcesGate && !report.passed {
            throw TinyLlavaRecipeError.gateFailed(report.checks.filter { !$0.passed }.map(\.name), kept: staged)
        }
        try AtomicFiles.replaceFolder(at: output) { folder in
            for name in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                         "preprocessor_config.json", "scores.json"] {
                try fm.copyItem(atPath: staged + "/" + name, toPath: folder + "/" + name)
            }
        }
        try? fm.removeItem(atPath: work)
        log("wrote \(output) (\(report.passed ? "gate passed" : "gate not enforced"))")
        return report
    }

    /// The gate's figures for the latest checkpoint of a run still in progress (instruction
    /// tuning's, else alignment's, else grounding's), on `examples` test items per set: to see how far a long
    /// recipe has got without stopping it. Nothing is written.
    public func evaluateCheckpoint(output: String, examples: Int, log: (String) -> Void = { print($0) }) throws -> TinyLlavaGateReport {
        let work = Self.workFolder(for: output), staged = work + "/model"
        let tokenizer = try Tokenizer(path: staged)
        let model = try initialModel(tokenizer: tokenizer)
        let paths = ["vision", "grounding", "alignment", "instruction"].map { work + "/\($0).safetensors" }
            .filter { FileManager.default.fileExists(atPath: $0) }
        guard !paths.isEmpty else { throw TinyLlavaRecipeError.noCheckpoint(work) }
        for path in paths {   // later stages override earlier ones
            let file = try SafetensorsFile(path: path)
            let names = Set(file.names)
            // The vision stage names the tower's parameters as VisionPretrainingTask does.
            let parameters = path.hasSuffix("/vision.safetensors")
                ? model.model.visionTower.namedParameters().map { ("vision_tower." + $0.path, $0.tensor) }
                : model.namedParameters().map { ($0.path, $0.tensor) }
            for (name, tensor) in parameters where names.contains("param." + name) {
                try tensor.assign(try file.floats("param." + name))
            }
            log("checkpoint \(path)")
        }
        // Whether the connector's tokens still read as their words, on natural scenes no stage trained on.
        let probe = Self.parallelMap(64) { i in
            LabelledPatches.sample(index: 4 * (visionExamples + i), seed: seed, size: TinyLlava.imageSize,
                                   patch: model.config.visionConfig.patchSize)
        }
        let grounded = try GroundingTask(model: model, tokenizer: tokenizer, samples: [], preprocessor: TinyLlava.preprocessor,
                                         batchSize: visionBatchSize, seed: seed).accuracy(on: probe)
        log("grounding probe (natural scenes, closest word per patch): kind \(String(format: "%.3f", grounded.kind)), colour \(String(format: "%.3f", grounded.colour)), "
            + "column \(String(format: "%.3f", grounded.column)), row \(String(format: "%.3f", grounded.row))")
        let evaluator = try TinyLlavaGateReport.evaluator(model: model, tokenizer: tokenizer, preprocessor: TinyLlava.preprocessor)
        let report = try TinyLlavaGateReport.evaluate(evaluator, examples: examples, seed: seed, showing: 3, log: log)
        for check in report.checks { log("  \(check.passed ? "pass" : "FAIL")  \(check.name): \(check.detail)") }
        return report
    }

    /// Scores the model in `folder` with the gate on `examples` test items per set and writes
    /// its scores.json again (the "recipe" section of the old one is kept): for a model made
    /// before the suite or the gate changed. Nothing else in the folder changes.
    @discardableResult
    public func score(folder: String, examples: Int, log: (String) -> Void = { print($0) }) throws -> TinyLlavaGateReport {
        let model = try LlavaForConditionalGeneration.load(directory: folder)
        let tokenizer = try Tokenizer(path: folder)
        let preprocessor = try CLIPPreprocessorConfig(contentsOf: folder + "/preprocessor_config.json")
        let evaluator = try TinyLlavaGateReport.evaluator(model: model, tokenizer: tokenizer, preprocessor: preprocessor)
        let report = try TinyLlavaGateReport.evaluate(evaluator, examples: examples, seed: seed, log: log)
        let old = (try? JSON.parse(bytes: Array(FileManager.default.contents(atPath: folder + "/scores.json") ?? Data())))
        try AtomicFiles.write(Array(report.json(recipe: old?["recipe"] ?? .null).prettySerialized().utf8),
                              to: folder + "/scores.json")
        for check in report.checks { log("  \(check.passed ? "pass" : "FAIL")  \(check.name): \(check.detail)") }
        return report
    }

    /// tiny-llava's architecture for `tokenizer`'s vocabulary and special tokens, with the
    /// recipe's random initial weights.
    func initialModel(tokenizer: Tokenizer) throws -> LlavaForConditionalGeneration {
        guard let image = tokenizer.id(for: "<image>"), let pad = tokenizer.specialTokens.pad,
              let begin = tokenizer.specialTokens.bos, let end = tokenizer.specialTokens.eos else {
            throw ModelError.invalidInput("the tokenizer lacks <image>, <pad>, <s> or </s>")
        }
        let config = try TinyLlava.config(vocabularySize: tokenizer.vocabularySize, imageToken: image, pad: pad,
                                          begin: begin, end: end)
        return try LlavaForConditionalGeneration(config: config, initialization: .random(seed: seed &+ 1))
    }

    /// A digest of what the stages train on: the tokenizer and the first samples of every
    /// stream (a changed generator or vocabulary changes it).
    func dataDigest() -> UInt64 {
        var bytes = Array(TinyLlava.tokenizerBuilder(seed: seed).tokenizerJSON().utf8)
        for task in [MiniTask.descriptions] + instructionMix.map(\.task) {
            for i in 0..<4 {
                let s = MiniDataset.sample(task, split: .train, index: i, seed: seed, imageSize: TinyLlava.imageSize)
                bytes += s.image.pixels + Array((s.question + s.answer).utf8)
            }
        }
        for i in 0..<4 {   // the vision and grounding stages' images and labels
            let s = LabelledPatches.sample(index: i, seed: seed, size: TinyLlava.imageSize, patch: 8)
            bytes += s.image.pixels + Array("\(s.kind)\(s.colour)\(s.centre)\(s.letter)\(s.counts)".utf8)
        }
        return fnv1a(bytes)
    }

    /// Words of the evaluation sets' prompts that no text the recipe trains on contains
    /// (alignment descriptions, the instruction mix, the chat template), from `sample` prompts
    /// of each: their embeddings would keep their random start, noise in every prompt that
    /// uses them, where an LLM's pretraining would have taught every word.
    public func untrainedPromptWords(sample: Int = 400) -> Set<String> {
        var trained = Set(WordLevelBuilder.pieces(LlavaChatTemplate().text(turns: [(question: "q", answer: "a")]), lowercase: false))
        for (task, examples) in [(MiniTask.descriptions, alignmentExamples)] + instructionMix {
            for i in 0..<min(sample * 4, examples) {
                let s = MiniDataset.sample(task, split: .train, index: i, seed: seed, imageSize: 16)
                for text in [s.question, s.answer] { trained.formUnion(WordLevelBuilder.pieces(text, lowercase: false)) }
            }
        }
        var untrained = Set<String>()
        for task in MiniTask.evaluation {
            for i in 0..<sample {
                let s = MiniDataset.sample(task, split: .test, index: i, seed: seed, imageSize: 16)
                let words = WordLevelBuilder.pieces(s.question.replacingOccurrences(of: "<image>", with: " "), lowercase: false)
                untrained.formUnion(words.filter { !trained.contains($0) })
            }
        }
        return untrained
    }

    /// The examples of several mini train sets (every sample is a pure function of its index,
    /// so the order and bytes never change).
    static func generate(_ sets: [(task: MiniTask, examples: Int)], seed: UInt64) -> [VQAExample] {
        sets.flatMap { task, count in
            parallelMap(count) { i in VQAExample(MiniDataset.sample(task, split: .train, index: i, seed: seed,
                                                                    imageSize: TinyLlava.imageSize)) }
        }
    }

    /// `body(0..<count)` on the thread budget's workers, in index order.
    static func parallelMap<T>(_ count: Int, _ body: (Int) -> T) -> [T] {
        var out = [T?](repeating: nil, count: count)
        out.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            Threading.parallelFor(count, minimumChunk: 64) { range in
                for i in range { (base + i).pointee = body(i) }
            }
        }
        return out.map { $0! }
    }

    private func supervised(_ model: LlavaForConditionalGeneration, _ tokenizer: Tokenizer,
                            _ examples: [VQAExample]) throws -> LlavaSupervisedTask {
        try LlavaSupervisedTask(model: model, tokenizer: tokenizer, examples: examples, batchSize: batchSize,
                                preprocessor: TinyLlava.preprocessor)
    }

    /// One stage: AdamW with a cosine schedule (3 % warm-up), clipping at 1, every parameter of
    /// the task training; a checkpoint every `checkpointSeconds` and at the end.
    private func train(_ task: any TrainingTask, steps: Int, stage: String, checkpoint: String, clock: inout RecipeClock,
                       isCancelled: () -> Bool, log: (String) -> Void) throws {
        let run = TrainingRun(task: task, configuration: TrainingConfiguration(
            learningRate: learningRate, weightDecay: 0.01, schedule: .cosine(warmupRatio: 0.03), scheduledSteps: steps,
            maxGradientNorm: 1, seed: seed &+ 2))
        if FileManager.default.fileExists(atPath: checkpoint) {
            try run.resume(from: checkpoint)
            log("\(stage): resumed at step \(run.step) of \(steps)")
        } else {
            log("\(stage): \(task.exampleCount) examples, \(steps) steps of \(task.batchSize)")
        }
        clock.skip(run.step)
        let every = max(1, steps / 40)
        var window: [Double] = []
        var lastSave = ContinuousClock.now
        while run.step < steps {
            let progress = try run.train(steps: min(every, steps - run.step), isCancelled: isCancelled) { record in
                clock.record(seconds: record.seconds)
                window.append(record.loss)
            }
            if progress.cancelled {
                try run.save(to: checkpoint)
                throw TinyLlavaRecipeError.interrupted(stage: stage, step: run.step, work: checkpoint)
            }
            if !window.isEmpty {
                let mean = window.reduce(0, +) / Double(window.count)
                log("  \(stage) step \(run.step)/\(steps): loss \(String(format: "%.4f", mean)), "
                    + "\(Int(run.history.last?.tokensPerSecond ?? 0)) tokens/s, \(clock.summary)")
                window.removeAll()
            }
            if Double((ContinuousClock.now - lastSave).components.seconds) >= checkpointSeconds || run.step == steps {
                try run.save(to: checkpoint)
                lastSave = ContinuousClock.now
            }
        }
    }
}

/// Why the recipe stopped.
public enum TinyLlavaRecipeError: Error, CustomStringConvertible, Equatable {
    case unfinishedRun(String)
    /// The checkpoints' settings differ from this run's in `changed` (`data_fnv1a64`: the
    /// mini suite's training data or the tokenizer).
    case otherSettings(String, changed: [String])
    case interrupted(stage: String, step: Int, work: String)
    case gateFailed([String], kept: String)
    case noCheckpoint(String)

    public var description: String {
        switch self {
        case .unfinishedRun(let work):
            return "an earlier run of the recipe left its checkpoints in \(work): pass --resume to continue it, "
                + "or --fresh to delete them and start over"
        case .otherSettings(let work, let changed):
            let what = changed.map { $0 == "data_fnv1a64" ? "the training data (mini suite or tokenizer)" : $0 }
            return "the checkpoints in \(work) were made with other settings or another version of the mini suite "
                + "(differs: \(what.joined(separator: ", "))): run with those and --resume, or pass --fresh to start over"
        case .interrupted(let stage, let step, let work):
            return "interrupted in \(stage) at step \(step); checkpoint \(work) saved: --resume continues from it"
        case .noCheckpoint(let work):
            return "no checkpoint in \(work) yet"
        case .gateFailed(let checks, let kept):
            return "the model fails its gate (\(checks.joined(separator: "; "))): not written; it is kept in \(kept) "
                + "with its scores.json"
        }
    }
}

/// Steps done and the time left, over every stage of the recipe.
struct RecipeClock {
    let totalSteps: Int
    private(set) var done = 0
    private var seconds: [Double] = []

    init(totalSteps: Int) { self.totalSteps = totalSteps }

    mutating func skip(_ steps: Int) { done += steps }

    mutating func record(seconds step: Double) {
        done += 1
        seconds.append(step)
        if seconds.count > 200 { seconds.removeFirst(seconds.count - 200) }
    }

    /// "37 % of 9000 steps, 41 min left".
    var summary: String {
        let mean = seconds.isEmpty ? 0 : seconds.reduce(0, +) / Double(seconds.count)
        let left = Int((mean * Double(totalSteps - done) / 60).rounded(.up))
        return "\(done * 100 / max(1, totalSteps)) % of \(totalSteps) steps, \(left) min left"
    }
}
