// The recipe that makes tiny-llava from nothing, as the study's base models are prepared
// (an alignment stage on captions, then instruction tuning on the seen mix):
//
//   1. tokenizer: a WordLevel vocabulary over the mini suite's text (tokenizer.json);
//   2. alignment: the whole model trains on mini-descriptions (scene captions). LLaVA starts
//      from a pretrained CLIP and trains only the connector here; tiny-llava's tower starts
//      from random weights, so it learns to see in this stage;
//   3. instruction tuning on the seen mix (mini-okvqa, mini-ocrvqa, mini-vqav2), the whole
//      model still training;
//   4. zero-shot scores on every mini test set, written beside the weights (scores.json).
//
// `peftlab recipe tiny-llava --out models/tiny-llava` runs it; every number comes from the
// seed, so a re-run on the same machine gives the same files.

import Foundation
import PEFTLabJSON

/// Settings of the tiny-llava recipe.
public struct TinyLlavaRecipe: Sendable {
    public var seed: UInt64 = 0
    /// Caption samples for the alignment stage.
    public var alignmentExamples = 6000
    /// Samples per seen dataset for instruction tuning.
    public var seenExamplesPerTask = 4000
    public var alignmentSteps = 1500
    public var instructionSteps = 3000
    public var batchSize = 16
    public var learningRate = 1e-3
    /// Test samples per dataset for the zero-shot table.
    public var evaluationExamples = 250

    public init() {}

    /// A quick variant for tests: a few steps on a few examples.
    public static func quick() -> TinyLlavaRecipe {
        var r = TinyLlavaRecipe()
        r.alignmentExamples = 32; r.seenExamplesPerTask = 16; r.alignmentSteps = 2; r.instructionSteps = 2
        r.batchSize = 4; r.evaluationExamples = 4
        return r
    }

    /// Runs the recipe and writes config.json, model.safetensors, tokenizer.json,
    /// tokenizer_config.json, preprocessor_config.json and scores.json into `output`.
    /// - Parameter log: one line per stage and every few dozen steps
    /// - Returns: the zero-shot score of every evaluation dataset, in the study's order
    @discardableResult
    public func run(output: String, log: (String) -> Void = { print($0) }) throws -> [(task: MiniTask, score: Double)] {
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        func write(_ text: String, _ name: String) throws {
            try AtomicFiles.write(Array(text.utf8), to: output + "/" + name)
        }

        // 1. Tokenizer.
        let builder = TinyLlava.tokenizerBuilder(seed: seed)
        try write(builder.tokenizerJSON(), "tokenizer.json")
        try write(builder.tokenizerConfigJSON(maxLength: TinyLlava.maxPositions), "tokenizer_config.json")
        let tokenizer = try Tokenizer(path: output)
        guard let image = tokenizer.id(for: "<image>"), let pad = tokenizer.specialTokens.pad,
              let begin = tokenizer.specialTokens.bos, let end = tokenizer.specialTokens.eos else {
            throw ModelError.invalidInput("the built tokenizer lacks a special token")
        }
        log("tokenizer: \(tokenizer.vocabularySize) tokens")
        let config = try TinyLlava.config(vocabularySize: tokenizer.vocabularySize, imageToken: image, pad: pad,
                                          begin: begin, end: end)
        let model = try LlavaForConditionalGeneration(config: config, initialization: .random(seed: seed &+ 1))
        model.unfreeze()
        log("model: \(model.parameterCount) parameters")

        // 2. Alignment on captions, 3. instruction tuning on the seen mix.
        let alignment = MiniDataset(.descriptions, split: .train, size: alignmentExamples, seed: seed,
                                    imageSize: TinyLlava.imageSize).examples
        try train(model, tokenizer: tokenizer, examples: alignment, steps: alignmentSteps, stage: "alignment", log: log)
        var seen: [VQAExample] = []
        for task in MiniTask.seenMix {
            seen += MiniDataset(task, split: .train, size: seenExamplesPerTask, seed: seed, imageSize: TinyLlava.imageSize).examples
        }
        try train(model, tokenizer: tokenizer, examples: seen, steps: instructionSteps, stage: "instruction tuning", log: log)

        try model.save(directory: output)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFiles.write(Array(try encoder.encode(TinyLlava.preprocessor)), to: output + "/preprocessor_config.json")

        // 4. Zero-shot scores.
        let evaluator = try Evaluator(model: model, tokenizer: tokenizer, preprocessor: TinyLlava.preprocessor,
                                      batchSize: 16, maxNewTokens: 24)
        var scores: [(task: MiniTask, score: Double)] = []
        var json = JSONObject()
        for task in MiniTask.evaluation {
            let test = MiniDataset(task, split: .test, size: evaluationExamples, seed: seed, imageSize: TinyLlava.imageSize)
            let result = try evaluator.evaluate(test.examples)
            scores.append((task, result.score))
            json[task.rawValue] = ["group": .string(task.group.rawValue), "metric": .string(task.metric.rawValue),
                                   "score": .number(result.score), "examples": .int(test.count)]
            log("zero-shot \(task.rawValue) (\(task.group.rawValue)): \(TableValue.format(result.score))")
        }
        let settings: JSON = ["seed": .int(Int(seed)), "alignment_examples": .int(alignmentExamples),
                              "seen_examples_per_task": .int(seenExamplesPerTask), "alignment_steps": .int(alignmentSteps),
                              "instruction_steps": .int(instructionSteps), "batch_size": .int(batchSize),
                              "learning_rate": .number(learningRate)]
        try write(JSON.object(["recipe": settings, "zero_shot": .object(json)]).prettySerialized(), "scores.json")
        return scores
    }

    /// One stage: AdamW with a cosine schedule (3 % warm-up), clipping at 1, every parameter training.
    private func train(_ model: LlavaForConditionalGeneration, tokenizer: Tokenizer, examples: [VQAExample], steps: Int,
                       stage: String, log: (String) -> Void) throws {
        let task = try LlavaSupervisedTask(model: model, tokenizer: tokenizer, examples: examples, batchSize: batchSize,
                                           preprocessor: TinyLlava.preprocessor)
        let run = TrainingRun(task: task, configuration: TrainingConfiguration(
            learningRate: learningRate, weightDecay: 0.01, schedule: .cosine(warmupRatio: 0.03), scheduledSteps: steps,
            maxGradientNorm: 1, seed: seed &+ 2))
        log("\(stage): \(examples.count) examples, \(steps) steps of \(batchSize)")
        let every = max(1, steps / 20)
        var window: [Double] = []
        try run.train(steps: steps, progress: { record in
            window.append(record.loss)
            if record.step % every == 0 || record.step == steps {
                let mean = window.reduce(0, +) / Double(window.count)
                log("  \(stage) step \(record.step)/\(steps): loss \(String(format: "%.4f", mean)), "
                    + "\(Int(record.tokensPerSecond)) tokens/s")
                window.removeAll()
            }
        })
    }
}
