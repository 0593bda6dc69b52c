// tiny-llava's ship gate: what the built-in model must score before the recipe writes it,
// so that the study measures PEFT adapting skills the base has, as LLaVA-1.5's did.

import PEFTLabJSON

/// The thresholds of the ship gate.
public struct TinyLlavaGate: Sendable, Equatable {
    /// Least zero-shot score of each seen set.
    public var seenMinimum: [MiniTask: Double] = [.okvqa: 0.90, .vqav2: 0.70, .ocrvqa: 0.50]
    /// POPE, random setting: least accuracy, and the band its share of "yes" must fall in.
    public var popeAccuracy = 0.75
    public var popeYesRatio = 0.35...0.65
    /// Most CHAIRs (share of captions naming an absent object) on mini-flickr.
    public var chairSentences = 0.5
    /// Unseen sets: standard errors above chance, and room left below the ceiling.
    public var standardErrorsAboveChance = 2.0
    public var roomBelowCeiling = 0.2

    public init() {}
}

/// One set's zero-shot figures.
public struct TinyLlavaSetScore: Sendable, Equatable {
    public var task: MiniTask
    public var score: Double
    public var interval: ScoreInterval
    public var standardError: Double
    public var examples: Int
    public var baseline: MiniBaseline
    /// POPE: accuracy, precision, recall, f1, yes-ratio, then accuracy, f1 and yes-ratio per
    /// setting; mini-flickr: CHAIRi, CHAIRs; every other set with several question types, the
    /// mean score of each ("type count").
    public var subScores: [NamedScore]

    public subscript(name: String) -> Double? { subScores.first { $0.name == name }?.value }
}

/// The gate's verdict: every set's figures and every check.
public struct TinyLlavaGateReport: Sendable, Equatable {
    public struct Check: Sendable, Equatable {
        public var name: String
        public var detail: String
        public var passed: Bool
    }

    public var sets: [TinyLlavaSetScore]
    public var checks: [Check]
    public var passed: Bool { checks.allSatisfy(\.passed) }

    public func set(_ task: MiniTask) -> TinyLlavaSetScore? { sets.first { $0.task == task } }

    /// Scores every evaluation set on `examples` test items and applies `gate`.
    /// The evaluator the gate scores with: batches of 16, answers of up to 24 tokens.
    public static func evaluator(model: LlavaForConditionalGeneration, tokenizer: Tokenizer,
                                 preprocessor: CLIPPreprocessorConfig) throws -> Evaluator {
        try Evaluator(model: model, tokenizer: tokenizer, preprocessor: preprocessor, batchSize: 16, maxNewTokens: 24)
    }

    /// - Parameter showing: answers of each set to log, with their questions
    public static func evaluate(_ evaluator: Evaluator, examples: Int, seed: UInt64 = 0, gate: TinyLlavaGate = TinyLlavaGate(),
                                showing: Int = 0, log: (String) -> Void = { _ in }) throws -> TinyLlavaGateReport {
        var sets: [TinyLlavaSetScore] = []
        for task in MiniTask.evaluation {
            let test = MiniDataset(task, split: .test, size: examples, seed: seed, imageSize: TinyLlava.imageSize).examples
            let train = MiniDataset(task, split: .train, size: 1000, seed: seed, imageSize: TinyLlava.imageSize).examples
            let result = try evaluator.evaluate(test)
            for p in result.predictions.prefix(showing) {
                log("    \(p.question.replacingOccurrences(of: "\n", with: " / ")) → \"\(p.prediction)\" (reference \"\(p.reference)\")")
            }
            var subScores = result.subScores
            if task.metric == .pope {
                for setting in POPESetting.allCases {
                    let rows = test.indices.filter { test[$0].questionType == setting.rawValue }
                    let yes = rows.filter { result.predictions[$0].extracted == "yes" }.count
                    subScores.append(NamedScore(name: "\(setting.rawValue) yes-ratio", value: rows.isEmpty ? 0 : Double(yes) / Double(rows.count)))
                }
            } else {
                subScores += byType(test, result)
            }
            let score = TinyLlavaSetScore(task: task, score: result.score, interval: result.interval,
                                          standardError: result.standardError, examples: test.count,
                                          baseline: MiniBaseline.of(task, test: test, train: train), subScores: subScores)
            sets.append(score)
            log("zero-shot \(task.rawValue) (\(task.group.rawValue)): \(TableValue.format(score.score)) "
                + "[\(TableValue.format(score.interval.lower)), \(TableValue.format(score.interval.upper))], "
                + "chance \(TableValue.format(score.baseline.chance))")
            let types = subScores.filter { $0.name.hasPrefix("type ") }
            if !types.isEmpty {
                log("    by type: " + types.map { "\($0.name.dropFirst(5)) \(TableValue.format($0.value))" }.joined(separator: ", "))
            }
        }
        return TinyLlavaGateReport(sets: sets, checks: checks(sets, gate: gate))
    }

    /// The mean score of each question type of a set with several ("type count"), in the
    /// order the types first occur: where a set's score comes from.
    static func byType(_ test: [VQAExample], _ result: EvaluationResult) -> [NamedScore] {
        var order: [String] = [], scores: [String: [Double]] = [:]
        for (example, prediction) in zip(test, result.predictions) {
            let type = example.questionType ?? "untyped"
            if scores[type] == nil { order.append(type) }
            scores[type, default: []].append(prediction.score)
        }
        guard order.count > 1 else { return [] }
        return order.map { NamedScore(name: "type \($0)", value: scores[$0]!.reduce(0, +) / Double(scores[$0]!.count)) }
    }

    static func checks(_ sets: [TinyLlavaSetScore], gate: TinyLlavaGate) -> [Check] {
        func f(_ x: Double) -> String { TableValue.format(x) }
        var checks: [Check] = []
        for (task, minimum) in gate.seenMinimum.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            guard let s = sets.first(where: { $0.task == task }) else { continue }
            checks.append(Check(name: "\(task.rawValue) ≥ \(f(minimum))", detail: f(s.score), passed: s.score >= minimum))
        }
        if let pope = sets.first(where: { $0.task == .pope }) {
            let accuracy = pope["random accuracy"] ?? pope.score, yes = pope["random yes-ratio"] ?? pope["yes-ratio"] ?? 0
            checks.append(Check(name: "mini-pope random accuracy ≥ \(f(gate.popeAccuracy))", detail: f(accuracy),
                                passed: accuracy >= gate.popeAccuracy))
            checks.append(Check(name: "mini-pope random yes-ratio in \(f(gate.popeYesRatio.lowerBound))…\(f(gate.popeYesRatio.upperBound))",
                                detail: f(yes), passed: gate.popeYesRatio.contains(yes)))
        }
        if let flickr = sets.first(where: { $0.task == .flickr }) {
            let chair = flickr["CHAIRs"] ?? 1
            checks.append(Check(name: "mini-flickr CHAIRs ≤ \(f(gate.chairSentences))", detail: f(chair),
                                passed: chair <= gate.chairSentences))
        }
        for s in sets where s.task.group == .unseen {
            let margin = s.score - s.baseline.chance
            let above = margin > gate.standardErrorsAboveChance * s.standardError
            checks.append(Check(name: "\(s.task.rawValue) above chance by > \(f(gate.standardErrorsAboveChance)) SE",
                                detail: "\(f(s.score)) vs chance \(f(s.baseline.chance)), SE \(f(s.standardError))", passed: above))
            let room = s.baseline.ceiling - s.score
            checks.append(Check(name: "\(s.task.rawValue) ≥ \(f(gate.roomBelowCeiling)) below its ceiling",
                                detail: "\(f(s.score)) vs ceiling \(f(s.baseline.ceiling))", passed: room >= gate.roomBelowCeiling))
        }
        return checks
    }

    /// scores.json: the recipe's settings, the gate's checks and every set's figures.
    public func json(recipe: JSON) -> JSON {
        var zeroShot = JSONObject()
        for s in sets {
            var entry: JSONObject = ["group": .string(s.task.group.rawValue), "metric": .string(s.task.metric.rawValue),
                                     "score": .number(s.score), "interval": [.number(s.interval.lower), .number(s.interval.upper)],
                                     "standard_error": .number(s.standardError), "examples": .int(s.examples),
                                     "chance": .number(s.baseline.chance), "chance_rule": .string(s.baseline.chanceRule),
                                     "ceiling": .number(s.baseline.ceiling)]
            if !s.subScores.isEmpty {
                entry["sub_scores"] = .object(s.subScores.reduce(into: JSONObject()) { $0[$1.name] = .number($1.value) })
            }
            zeroShot[s.task.rawValue] = .object(entry)
        }
        let gate: JSON = ["passed": .bool(passed), "checks": .array(checks.map {
            ["check": .string($0.name), "value": .string($0.detail), "passed": .bool($0.passed)]
        })]
        return ["recipe": recipe, "gate": gate, "zero_shot": .object(zeroShot)]
    }
}
