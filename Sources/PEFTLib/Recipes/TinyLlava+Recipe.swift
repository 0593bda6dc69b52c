// The recipe that makes tiny-llava from nothing: the analogue of what LLaVA-1.5 went through
// before the study fine-tuned it.
//
//   1. tokenizer: a case-preserving WordLevel vocabulary over the mini suite's text;
//   2. alignment: the whole model trains on scene descriptions. LLaVA starts from a
//      pretrained CLIP and trains only the connector here; tiny-llava's tower starts from
//      random weights, so it learns to see in this stage;
//   3. instruction tuning on the seen mix — the skills the unseen sets reuse, not their
//      formats: yes/no, colours, shapes, positions, counts over 1…8 (mini-vqav2), facts
//      (mini-okvqa), reading (mini-ocrvqa), lettered choice (mini-aokvqa), with descriptions
//      as about 15 % of the examples;
//   4. the ship gate: zero-shot scores on 500 test items of every set, each with its 95 %
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
    /// Description samples for the alignment stage.
    public var alignmentExamples = 8000
    public var alignmentSteps = 800
    /// Train samples of each set of the instruction mix.
    public var instructionMix: [(task: MiniTask, examples: Int)] = [
        (.vqav2, 27_000), (.okvqa, 6000), (.ocrvqa, 14_000), (.aokvqa, 8000), (.descriptions, 10_000),
    ]
    public var instructionSteps = 7200
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
        ["seed": .int(Int(seed)), "alignment_examples": .int(alignmentExamples), "alignment_steps": .int(alignmentSteps),
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
        let settingsText = settings.prettySerialized()
        if fm.fileExists(atPath: work) {
            guard resume else {
                throw TinyLlavaRecipeError.unfinishedRun(work)
            }
            let saved = (try? String(contentsOfFile: work + "/recipe.json", encoding: .utf8)) ?? ""
            guard saved == settingsText else { throw TinyLlavaRecipeError.otherSettings(work) }
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
        guard let image = tokenizer.id(for: "<image>"), let pad = tokenizer.specialTokens.pad,
              let begin = tokenizer.specialTokens.bos, let end = tokenizer.specialTokens.eos else {
            throw ModelError.invalidInput("the built tokenizer lacks a special token")
        }
        log("tokenizer: \(tokenizer.vocabularySize) tokens (case kept)")
        let config = try TinyLlava.config(vocabularySize: tokenizer.vocabularySize, imageToken: image, pad: pad,
                                          begin: begin, end: end)
        let model = try LlavaForConditionalGeneration(config: config, initialization: .random(seed: seed &+ 1))
        model.unfreeze()
        log("model: \(model.parameterCount) parameters")

        // 2. Alignment, 3. instruction tuning.
        var clock = RecipeClock(totalSteps: alignmentSteps + instructionSteps)
        let alignment = Self.generate([(.descriptions, alignmentExamples)], seed: seed)
        try train(model, tokenizer: tokenizer, examples: alignment, steps: alignmentSteps, stage: "alignment",
                  checkpoint: work + "/alignment.safetensors", clock: &clock, isCancelled: isCancelled, log: log)
        let mix = Self.generate(instructionMix, seed: seed)
        try train(model, tokenizer: tokenizer, examples: mix, steps: instructionSteps, stage: "instruction tuning",
                  checkpoint: work + "/instruction.safetensors", clock: &clock, isCancelled: isCancelled, log: log)

        try model.save(directory: staged)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFiles.write(Array(try encoder.encode(TinyLlava.preprocessor)), to: staged + "/preprocessor_config.json")

        // 4. The gate.
        let evaluator = try Evaluator(model: model, tokenizer: tokenizer, preprocessor: TinyLlava.preprocessor,
                                      batchSize: 16, maxNewTokens: 24)
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

    /// The examples of several mini train sets, generated on the thread budget's workers
    /// (every sample is a pure function of its index, so the order and bytes never change).
    static func generate(_ sets: [(task: MiniTask, examples: Int)], seed: UInt64) -> [VQAExample] {
        var out: [VQAExample] = []
        for (task, count) in sets {
            var samples = [MiniSample?](repeating: nil, count: count)
            samples.withUnsafeMutableBufferPointer { buffer in
                let base = buffer.baseAddress!
                Threading.parallelFor(count, minimumChunk: 64) { range in
                    for i in range {
                        (base + i).pointee = MiniDataset.sample(task, split: .train, index: i, seed: seed,
                                                                imageSize: TinyLlava.imageSize)
                    }
                }
            }
            out += samples.map { VQAExample($0!) }
        }
        return out
    }

    /// One stage: AdamW with a cosine schedule (3 % warm-up), clipping at 1, every parameter
    /// training; a checkpoint every `checkpointSeconds` and at the end.
    private func train(_ model: LlavaForConditionalGeneration, tokenizer: Tokenizer, examples: [VQAExample], steps: Int,
                       stage: String, checkpoint: String, clock: inout RecipeClock, isCancelled: () -> Bool,
                       log: (String) -> Void) throws {
        let task = try LlavaSupervisedTask(model: model, tokenizer: tokenizer, examples: examples, batchSize: batchSize,
                                           preprocessor: TinyLlava.preprocessor)
        let run = TrainingRun(task: task, configuration: TrainingConfiguration(
            learningRate: learningRate, weightDecay: 0.01, schedule: .cosine(warmupRatio: 0.03), scheduledSteps: steps,
            maxGradientNorm: 1, seed: seed &+ 2))
        if FileManager.default.fileExists(atPath: checkpoint) {
            try run.resume(from: checkpoint)
            log("\(stage): resumed at step \(run.step) of \(steps)")
        } else {
            log("\(stage): \(examples.count) examples, \(steps) steps of \(batchSize)")
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
    case otherSettings(String)
    case interrupted(stage: String, step: Int, work: String)
    case gateFailed([String], kept: String)

    public var description: String {
        switch self {
        case .unfinishedRun(let work):
            return "an earlier run of the recipe left its checkpoints in \(work): pass --resume to continue it, "
                + "or --fresh to delete them and start over"
        case .otherSettings(let work):
            return "the checkpoints in \(work) were made with other settings: run with those settings and --resume, "
                + "or pass --fresh to start over"
        case .interrupted(let stage, let step, let work):
            return "interrupted in \(stage) at step \(step); checkpoint \(work) saved: --resume continues from it"
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
