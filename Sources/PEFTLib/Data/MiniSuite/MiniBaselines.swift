// What a score means on a mini set: its chance level (what answering without looking at
// the image scores) and its ceiling (what a perfect answerer scores), both computed with
// the set's own metric, so that "above chance" and "room to move" are measured, not assumed.

/// The chance level and the ceiling of a mini dataset's metric.
public struct MiniBaseline: Sendable, Equatable {
    /// The score of answering without the image: for lettered or listed choices, a uniform
    /// pick among the options; for POPE, always one answer (0.5 on its balanced probes); for
    /// captions, the caption of another test image; otherwise the best single answer per
    /// question type, learnt from the train split.
    public var chance: Double
    /// The best score reachable: 1 for accuracy and POPE; the majority annotator answer for
    /// the VQA score; for captions, one reference scored against the other four.
    public var ceiling: Double
    /// How `chance` is defined for this set, in a few words (for tables and the README).
    public var chanceRule: String

    /// Both figures for `task` on its `test` samples (`train`: the set's train split, for the
    /// per-question-type prior).
    public static func of(_ task: MiniTask, test: [VQAExample], train: [VQAExample]) -> MiniBaseline {
        let metric = task.metric
        func score(_ examples: [VQAExample], _ answers: [String]) -> Double {
            examples.isEmpty ? 0 : Evaluator.score(examples, answers: answers, metric: metric).score
        }
        let chance: Double, rule: String
        if metric == .pope {
            chance = score(test, test.map { _ in "yes" })
            rule = "always yes"
        } else if metric == .ciderD {
            chance = score(test, test.indices.map { test[($0 + 1) % test.count].answer })
            rule = "another image's caption"
        } else if test.allSatisfy({ !$0.options.isEmpty }) {
            chance = test.isEmpty ? 0 : test.reduce(0) { $0 + 1 / Double($1.options.count) } / Double(test.count)
            rule = "a uniform pick among the options"
        } else {
            var counts: [String: [String: Int]] = [:]
            for e in train { counts[e.questionType ?? "", default: [:]][e.answer, default: 0] += 1 }
            let prior = counts.mapValues { answers in
                answers.max { ($0.value, $1.key) < ($1.value, $0.key) }!.key
            }
            let fallback = train.first?.answer ?? ""
            chance = score(test, test.map { prior[$0.questionType ?? ""] ?? fallback })
            rule = "the most frequent train answer per question type"
        }
        let ceiling: Double
        switch metric {
        case .accuracy, .pope: ceiling = 1
        case .vqaScore:
            ceiling = score(test, test.map { e in
                let votes = Dictionary((e.references.isEmpty ? [e.answer] : e.references).map { ($0, 1) }, uniquingKeysWith: +)
                return votes.max { ($0.value, $1.key) < ($1.value, $0.key) }!.key
            })
        case .ciderD:
            let heldOut = test.filter { $0.references.count > 1 }
            var others = heldOut
            for i in others.indices { others[i].references.removeFirst() }
            ceiling = score(others, heldOut.map { $0.references[0] })
        }
        return MiniBaseline(chance: chance, ceiling: ceiling, chanceRule: rule)
    }

    /// Both figures for `task` at a test size, from the suite itself.
    public static func of(_ task: MiniTask, testSize: Int = 500, seed: UInt64 = 0, imageSize: Int = 64) -> MiniBaseline {
        let test = MiniDataset(task, split: .test, size: testSize, seed: seed, imageSize: imageSize).examples
        let train = MiniDataset(task, split: .train, size: 1000, seed: seed, imageSize: imageSize).examples
        return of(task, test: test, train: train)
    }
}
