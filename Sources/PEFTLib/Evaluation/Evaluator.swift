// Evaluation: answers generated a batch at a time, each read as its example's format asks
// (AnswerExtraction), then scored with the example's metric: exact-match accuracy (option
// letters compared as letters), the VQA score over the annotators, CIDEr-D over the whole set
// (with CHAIR when the images' objects are known), POPE's accuracy, precision, recall, F1 and
// yes-ratio (per setting too). Cancellation is checked between batches; a cancelled
// evaluation scores the answers it has and says it is partial.

import Foundation

/// A score with its name ("f1", "random accuracy", "CHAIRi").
public struct NamedScore: Sendable, Equatable, Codable {
    public var name: String
    public var value: Double
    public init(name: String, value: Double) { self.name = name; self.value = value }
}

/// One scored answer.
public struct EvaluationPrediction: Sendable, Equatable, Codable {
    public var id: String
    public var question: String
    /// The generated text.
    public var prediction: String
    /// What was scored: the text read as the example's format asks (a letter, a number, yes/no…).
    public var extracted: String
    /// The target answer.
    public var reference: String
    /// This answer's score: 1 or 0 for accuracy and POPE, its VQA score, its CIDEr-D.
    public var score: Double
    /// Whether the answer is right (accuracy, POPE; VQA score 1); nil for captions.
    public var correct: Bool?
}

/// Where an evaluation is.
public struct EvaluationProgress: Sendable, Equatable {
    public var completed: Int
    public var total: Int
    public var seconds: Double
}

/// The outcome of an evaluation.
public struct EvaluationResult: Sendable, Equatable {
    public var metric: MiniMetric
    /// Accuracy, mean VQA score, CIDEr-D, or POPE's accuracy (fractions, not percentages).
    public var score: Double
    /// POPE: accuracy, precision, recall, f1, yes-ratio, then accuracy and f1 per setting;
    /// captions with known objects: CHAIRi, CHAIRs.
    public var subScores: [NamedScore]
    public var predictions: [EvaluationPrediction]
    /// Examples asked for; more than `predictions.count` when cancelled.
    public var total: Int
    /// True when cancelled before every example was answered: scores cover `predictions` only.
    public var isPartial: Bool
    public var seconds: Double
    public var answersPerSecond: Double

    /// A sub-score by name.
    public subscript(name: String) -> Double? { subScores.first { $0.name == name }?.value }

    /// The standard error of `score`: the per-example scores' sample standard deviation over
    /// √n (0 with fewer than two predictions).
    public var standardError: Double { ScoreInterval.standardError(predictions.map(\.score)) }

    /// The 95 % interval of `score` over the examples: Wilson's when every example scores 0 or
    /// 1 (accuracy, POPE), else the normal one, mean ± 1.96 standard errors.
    public var interval: ScoreInterval { ScoreInterval(predictions.map(\.score)) }
}

/// A 95 % interval of a mean score over examples.
public struct ScoreInterval: Sendable, Equatable, Codable {
    public var lower: Double
    public var upper: Double

    public init(lower: Double, upper: Double) { self.lower = lower; self.upper = upper }

    /// The interval of the mean of `scores` (see `EvaluationResult.interval`).
    public init(_ scores: [Double]) {
        let n = Double(scores.count)
        guard n > 0 else { self.init(lower: 0, upper: 0); return }
        let mean = scores.reduce(0, +) / n
        if scores.allSatisfy({ $0 == 0 || $0 == 1 }) {
            let z = 1.959964, z2 = z * z
            let centre = (mean + z2 / (2 * n)) / (1 + z2 / n)
            let half = z / (1 + z2 / n) * (mean * (1 - mean) / n + z2 / (4 * n * n)).squareRoot()
            self.init(lower: max(0, centre - half), upper: min(1, centre + half))
        } else {
            let half = 1.959964 * Self.standardError(scores)
            self.init(lower: mean - half, upper: mean + half)
        }
    }

    /// Sample standard deviation over √n.
    public static func standardError(_ scores: [Double]) -> Double {
        let n = Double(scores.count)
        guard n > 1 else { return 0 }
        let mean = scores.reduce(0, +) / n
        let variance = scores.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        return (variance / n).squareRoot()
    }

    public func contains(_ value: Double) -> Bool { value >= lower && value <= upper }
}

/// Why an evaluation could not run.
public enum EvaluationError: Error, Equatable, CustomStringConvertible {
    case mixedMetrics([MiniMetric])
    case answerCount(expected: Int, got: Int)

    public var description: String {
        switch self {
        case .mixedMetrics(let metrics):
            return "the examples are scored by different metrics (\(metrics.map(\.rawValue).joined(separator: ", "))): evaluate each dataset on its own"
        case .answerCount(let expected, let got):
            return "the answer source gave \(got) answers for \(expected) examples"
        }
    }
}

/// Generates answers for examples and scores them.
///
///     let evaluator = try Evaluator(model: llava, tokenizer: tokenizer,
///                                   preprocessor: CLIPPreprocessorConfig(imageSize: 64), batchSize: 8)
///     let result = try evaluator.evaluate(MiniDataset(.vqav2, split: .test).examples)
///     print(result.metric, result.score, result.answersPerSecond)
public struct Evaluator {
    /// Answers for a batch of examples, one per example, in order.
    public typealias AnswerSource = ([VQAExample]) throws -> [String]

    /// Examples per generation call.
    public let batchSize: Int
    /// Words naming objects → canonical names, for CHAIR on captions (default: the mini suite's objects).
    public var objectVocabulary: [String: String] = MiniObject.captionVocabulary
    private let answers: AnswerSource

    /// An evaluator over any source of answers (another model, a stub in tests).
    public init(batchSize: Int = 8, answers: @escaping AnswerSource) {
        self.batchSize = max(1, batchSize)
        self.answers = answers
    }

    /// An evaluator that generates greedily with a LLaVA model (`LlavaAnswerGenerator`).
    /// - Parameter endTokens: default: the end tokens of the tokenizer and the model; empty: always `maxNewTokens`
    public init(model: LlavaForConditionalGeneration, tokenizer: Tokenizer, template: LlavaChatTemplate = LlavaChatTemplate(),
                preprocessor: CLIPPreprocessorConfig, batchSize: Int = 8, maxNewTokens: Int = 16,
                endTokens: Set<Int>? = nil) throws {
        let generator = try LlavaAnswerGenerator(model: model, tokenizer: tokenizer, template: template,
                                                 preprocessor: preprocessor, maxNewTokens: maxNewTokens, endTokens: endTokens)
        self.init(batchSize: batchSize, answers: generator.answers)
    }

    /// Answers and scores `examples`, which must share one metric.
    /// - Parameters:
    ///   - isCancelled: checked before each batch; a cancelled evaluation returns what it has, partial
    ///   - progress: called after each batch
    public func evaluate(_ examples: [VQAExample], isCancelled: () -> Bool = { false },
                         progress: (EvaluationProgress) -> Void = { _ in }) throws -> EvaluationResult {
        let metrics = examples.reduce(into: [MiniMetric]()) { if !$0.contains($1.metric) { $0.append($1.metric) } }
        guard metrics.count <= 1 else { throw EvaluationError.mixedMetrics(metrics) }
        let started = ContinuousClock.now
        func elapsed() -> Double {
            let d = ContinuousClock.now - started
            return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }
        var texts: [String] = []
        var cancelled = false
        var start = 0
        while start < examples.count {
            if isCancelled() { cancelled = true; break }
            let batch = Array(examples[start..<min(start + batchSize, examples.count)])
            let answered = try answers(batch)
            guard answered.count == batch.count else {
                throw EvaluationError.answerCount(expected: batch.count, got: answered.count)
            }
            texts += answered
            start += batch.count
            progress(EvaluationProgress(completed: texts.count, total: examples.count, seconds: elapsed()))
        }
        let seconds = elapsed()
        var result = Self.score(Array(examples.prefix(texts.count)), answers: texts,
                                metric: metrics.first ?? .accuracy, objectVocabulary: objectVocabulary)
        result.total = examples.count
        result.isPartial = cancelled
        result.seconds = seconds
        result.answersPerSecond = seconds > 0 ? Double(texts.count) / seconds : 0
        return result
    }

    /// Scores given answers (no generation; `seconds` and `answersPerSecond` are 0).
    public static func score(_ examples: [VQAExample], answers: [String], metric: MiniMetric,
                             objectVocabulary: [String: String] = MiniObject.captionVocabulary) -> EvaluationResult {
        precondition(examples.count == answers.count, "one answer per example")
        let extracted = zip(answers, examples).map { AnswerExtraction.extract($0, for: $1) }
        var scores: [Double] = []
        var correct: [Bool?] = []
        var subScores: [NamedScore] = []
        var headline: Double
        switch metric {
        case .accuracy:
            scores = zip(extracted, examples).map { answer, example in
                example.format == .optionLetter
                    ? (answer == example.answer.trimmingWhitespace().uppercased() ? 1 : 0)
                    : AnswerMetrics.exactMatch(answer, example.answer)
            }
            correct = scores.map { $0 == 1 }
            headline = mean(scores)
        case .vqaScore:
            scores = zip(extracted, examples).map { answer, example in
                AnswerMetrics.vqaScore(answer, annotators: example.references.isEmpty ? [example.answer] : example.references)
            }
            correct = scores.map { $0 == 1 }
            headline = mean(scores)
        case .ciderD:
            let references = examples.map { ($0.references.isEmpty ? [$0.answer] : $0.references).map(CIDErD.tokenize) }
            let cider = CIDErD.score(candidates: extracted.map(CIDErD.tokenize), references: references)
            scores = cider.scores
            correct = scores.map { _ in nil }
            headline = cider.mean
            let known = examples.indices.filter { !examples[$0].objects.isEmpty }
            if !known.isEmpty {
                let chair = CHAIRScores(captions: known.map { extracted[$0] },
                                        groundTruth: known.map { Set(examples[$0].objects) }, vocabulary: objectVocabulary)
                subScores = [NamedScore(name: "CHAIRi", value: chair.instance), NamedScore(name: "CHAIRs", value: chair.sentence)]
            }
        case .pope:
            let truths = examples.map { VQANormalizer.normalize($0.answer) == "yes" }
            scores = zip(extracted, truths).map { ($0 == "yes") == $1 ? 1 : 0 }
            correct = scores.map { $0 == 1 }
            let pope = POPEScores(answers: extracted, truths: truths)
            headline = pope.accuracy
            subScores = popeScores(pope)
            let settings = examples.reduce(into: [String]()) { list, e in
                if let s = e.questionType, !list.contains(s) { list.append(s) }
            }
            if settings.count > 1 {
                for setting in settings {
                    let rows = examples.indices.filter { examples[$0].questionType == setting }
                    let part = POPEScores(answers: rows.map { extracted[$0] }, truths: rows.map { truths[$0] })
                    subScores += [NamedScore(name: "\(setting) accuracy", value: part.accuracy),
                                  NamedScore(name: "\(setting) f1", value: part.f1)]
                }
            }
        }
        let predictions = examples.indices.map { i in
            EvaluationPrediction(id: examples[i].id, question: examples[i].question, prediction: answers[i],
                                 extracted: extracted[i], reference: examples[i].answer, score: scores[i], correct: correct[i])
        }
        return EvaluationResult(metric: metric, score: headline, subScores: subScores, predictions: predictions,
                                total: examples.count, isPartial: false, seconds: 0, answersPerSecond: 0)
    }

    private static func popeScores(_ s: POPEScores) -> [NamedScore] {
        [NamedScore(name: "accuracy", value: s.accuracy), NamedScore(name: "precision", value: s.precision),
         NamedScore(name: "recall", value: s.recall), NamedScore(name: "f1", value: s.f1),
         NamedScore(name: "yes-ratio", value: s.yesRatio)]
    }

    private static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
    }
}
