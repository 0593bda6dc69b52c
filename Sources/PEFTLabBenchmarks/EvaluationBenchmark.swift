// `peftlab bench eval`: evaluation throughput in answers/s at the tiny LLaVA shape of
// DESIGN.md §5 (random weights). Each answer is 8 new tokens (random weights never emit the
// end token, so generation runs without one), 8 answers per batch, each prompt
// `<s> USER: <image>\n{16 words} ASSISTANT:` = 37 positions with the 16 image features.
// Two phases: "evaluate" is the whole Evaluator (tokenise, preprocess 32×32 images, generate,
// decode, score); "generate" is the model's batched greedy generation alone on prepared ids and
// pixels, which benchmarks/eval_peer.py times with transformers' generate.

import PEFTLib
import Foundation

/// One measured phase of the evaluation benchmark.
public struct EvaluationBenchmarkRow: Sendable, Codable, Equatable {
    /// "evaluate" (the whole Evaluator) or "generate" (batched greedy generation alone).
    public let phase: String
    public let batch: Int
    /// Prompt positions per row, image features included.
    public let promptTokens: Int
    public let newTokens: Int
    /// Median seconds per batch.
    public let seconds: Double
    public let answersPerSecond: Double
}

/// The evaluation benchmark (not a timed test: call `EvaluationBenchmark.run()`).
public enum EvaluationBenchmark {
    /// Words per question.
    public static let questionWords = 16

    /// A WordLevel tokenizer over the tiny shape's 1024 ids: `<unk>` 0, `<s>` 1, `</s>` 2, the
    /// template's words, `w6`…`w1022`, `<image>` 1023; `<s>` opens every sequence.
    static func tokenizer(vocabularySize: Int, imageToken: Int) throws -> Tokenizer {
        var vocab: [String: Int] = ["<unk>": 0, "<s>": 1, "</s>": 2, "USER": 3, ":": 4, "ASSISTANT": 5, "<image>": imageToken]
        for id in 6..<vocabularySize where id != imageToken { vocab["w\(id)"] = id }
        let added = ["<unk>", "<s>", "</s>", "<image>"].map { token -> [String: Any] in
            ["id": vocab[token]!, "content": token, "special": true]
        }
        let json: [String: Any] = [
            "added_tokens": added,
            "pre_tokenizer": ["type": "Whitespace"],
            "post_processor": ["type": "TemplateProcessing",
                               "single": [["SpecialToken": ["id": "<s>"]], ["Sequence": ["id": "A"]]],
                               "special_tokens": ["<s>": ["id": "<s>", "ids": [1]]]],
            "model": ["type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"],
        ]
        return try Tokenizer(json: try JSONSerialization.data(withJSONObject: json), source: "<benchmark vocabulary>")
    }

    /// `count` examples with random 32×32 images and 16-word questions.
    static func examples(count: Int, imageSize: Int, vocabularySize: Int, imageToken: Int, seed: UInt64) -> [VQAExample] {
        var rng = RandomGenerator(seed: seed)
        func word() -> String {
            var id = 6 + Int(rng.next() % UInt64(vocabularySize - 6))
            if id == imageToken { id -= 1 }
            return "w\(id)"
        }
        return (0..<count).map { i in
            let pixels = (0..<(imageSize * imageSize * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let question = (0..<questionWords).map { _ in word() }.joined(separator: " ")
            return VQAExample(id: "bench/\(i)", image: RGBImage(width: imageSize, height: imageSize, pixels: pixels),
                              question: question, answer: word())
        }
    }

    /// Runs both phases at the tiny shape.
    /// - Parameters:
    ///   - threads: thread budget for the run (default: the current policy); restored afterwards
    ///   - repeats: timed repetitions per phase (median reported)
    ///   - batches: batches per "evaluate" repetition
    public static func run(threads: Int? = nil, repeats: Int = 5, batches: Int = 4, batch: Int = 8,
                           newTokens: Int = 8) throws -> [EvaluationBenchmarkRow] {
        let previous = Threading.threads
        if let threads { Threading.setThreads(threads) }
        defer { Threading.setThreads(previous) }
        guard let shape = try ModelBenchmark.shapes().first(where: { $0.name == "tiny" }) else { return [] }
        let config = shape.config
        let model = try LlavaForConditionalGeneration(config: config, initialization: .random(seed: 1))
        model.freeze()
        let vocabulary = config.textConfig.vocabSize, image = config.imageTokenIndex, side = config.visionConfig.imageSize
        let tokenizer = try tokenizer(vocabularySize: vocabulary, imageToken: image)
        let preprocessor = CLIPPreprocessorConfig(imageSize: side)
        let examples = examples(count: batch * batches, imageSize: side, vocabularySize: vocabulary, imageToken: image, seed: 2)
        let evaluator = try Evaluator(model: model, tokenizer: tokenizer, preprocessor: preprocessor, batchSize: batch,
                                      maxNewTokens: newTokens, endTokens: [])
        let generator = try LlavaAnswerGenerator(model: model, tokenizer: tokenizer, preprocessor: preprocessor,
                                                 maxNewTokens: newTokens, endTokens: [])
        let prompt = try generator.prompt(for: examples[0])
        let promptTokens = prompt.count - 1 + config.imageFeatureCount

        var rows: [EvaluationBenchmarkRow] = []
        let evaluate = try ModelBenchmark.medianSeconds(repeats: repeats) { _ = try evaluator.evaluate(examples) } / Double(batches)
        rows.append(EvaluationBenchmarkRow(phase: "evaluate", batch: batch, promptTokens: promptTokens, newTokens: newTokens,
                                           seconds: evaluate, answersPerSecond: Double(batch) / evaluate))

        let first = Array(examples.prefix(batch))
        let prompts = try first.map(generator.prompt)
        let pixels = try preprocessor.pixelValues(first.compactMap(\.image))
        let generate = try ModelBenchmark.medianSeconds(repeats: repeats) {
            _ = try model.generate(prompts: prompts, pixelValues: pixels, maxNewTokens: newTokens, endTokens: [])
        }
        rows.append(EvaluationBenchmarkRow(phase: "generate", batch: batch, promptTokens: promptTokens, newTokens: newTokens,
                                           seconds: generate, answersPerSecond: Double(batch) / generate))
        return rows
    }
}
