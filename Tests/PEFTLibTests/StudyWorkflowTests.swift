// The study's workflows on a tiny random LLaVA, one training step and a few examples per run:
// their tidy tables (columns, row counts), their figures, stores that make a second sweep
// train nothing, interrupts that keep the finished runs, and clear errors for bad requests.

import Foundation
import PEFTLib
import Testing

@Suite("Study workflows")
struct StudyWorkflowTests {
    static let tasks: [MiniTask] = [.sqa, .iconqaBlank, .pope, .flickr]

    /// The tiny model and a tokenizer knowing every word of the examples used here.
    nonisolated(unsafe) static let base: StudyBase = {
        let all = tasks.flatMap { TestLlava.examples($0, count: 8) + TestLlava.examples($0, .test, count: 8) }
        let tokenizer = try! TestLlava.tokenizer(for: all)
        return StudyBase(model: try! TestLlava.model(for: tokenizer), tokenizer: tokenizer, preprocessor: TestLlava.preprocessor,
                         name: "test-llava")
    }()

    static func data(_ task: MiniTask, train: Int = 4, test: Int = 3) -> StudyDataset {
        StudyDataset(name: task.rawValue, group: task.group.rawValue, train: TestLlava.examples(task, count: train),
                     test: TestLlava.examples(task, .test, count: test))
    }

    static var settings: StudySettings {
        var s = StudySettings()
        s.steps = 1
        s.batchSize = 2
        s.evaluationBatch = 8
        s.maxNewTokens = 3
        return s
    }

    static let columns = ["method", "size", "location", "connector", "dataset", "group", "seed", "trainSize", "epoch", "steps",
                          "metric", "score", "share", "tokensPerSecond", "seconds"]

    /// A fresh store path, removed by `defer`.
    static func storePath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("study-\(UUID().uuidString)/runs.jsonl").path
    }

    static func lines(_ path: String) -> Int {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    @Test("location: a run per method and location (prefix once), one row per run and metric; run again, nothing trains")
    func location() throws {
        let path = Self.storePath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let methods = [try PEFTMethod.lora(rank: 2, alpha: 4, dropout: 0), .ia3(), try PEFTMethod.prefix(tokens: 2)]
        var activities: [String] = []
        let first = try Study.location(base: Self.base, methods: methods, datasets: [Self.data(.sqa)], seeds: [1],
                                       settings: Self.settings, store: try SweepStore(path: path),
                                       progress: { activities.append($0.activity) })
        #expect(first.runs == 7 && first.ran == 7 && first.skipped == 0 && !first.cancelled)
        #expect(first.table.columns == Self.columns)
        #expect(first.table.count == 7, "mini-sqa is scored by accuracy alone: one row per run")
        #expect(try first.table.column("location").map(\.description)
                == ["attention", "mlp", "both", "attention", "mlp", "both", "attention"])
        #expect(try first.table.column("steps").allSatisfy { $0 == .int(1) })
        #expect(try first.table.column("epoch").allSatisfy { $0 == .double(0.5) }, "1 step of 2 over 4 examples")
        #expect(try first.table.column("share").allSatisfy { ($0.number ?? 0) > 0 })
        #expect(activities.contains { $0.hasPrefix("training step") } && activities.contains { $0.hasPrefix("evaluating") })
        #expect(first.figure.kind == .bar && first.figure.xLabel == "location" && first.figure.seriesLabel == "method")
        #expect(first.figure.points.count == 7)
        #expect(Self.lines(path) == 7)

        activities = []
        let second = try Study.location(base: Self.base, methods: methods, datasets: [Self.data(.sqa)], seeds: [1],
                                        settings: Self.settings, store: try SweepStore(path: path),
                                       progress: { activities.append($0.activity) })
        #expect(second.ran == 0 && second.skipped == 7)
        #expect(activities == Array(repeating: "stored before", count: 7), "nothing trained the second time")
        #expect(second.table == first.table)
        #expect(Self.lines(path) == 7)
    }

    @Test("budget: sizes × seeds, a summary with mean, std and n over the seeds")
    func budget() throws {
        let path = Self.storePath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let results = try Study.budget(base: Self.base, methods: [try PEFTMethod.lora(rank: 4, alpha: 8, dropout: 0), try PEFTMethod.prefix(tokens: 2)],
                                       sizes: ["lora": [2, 4], "prefix": [1, 2]], datasets: [Self.data(.sqa)], seeds: [1, 2],
                                       settings: Self.settings, store: try SweepStore(path: path))
        #expect(results.runs == 8 && results.table.count == 8)
        #expect(results.table.columns == Self.columns)
        #expect(try results.table.column("size") == [2, 2, 4, 4, 1, 1, 2, 2].map(TableValue.int))
        let summary = try #require(results.summary)
        #expect(summary.columns == ["method", "size", "location", "connector", "dataset", "metric", "share", "mean", "std", "n"])
        #expect(summary.count == 4)
        #expect(try summary.column("n").allSatisfy { $0 == .int(2) })
        #expect(try summary.column("std").allSatisfy { ($0.number ?? -1) >= 0 })
        let lora2 = try summary.filter("method", equals: .text("lora")).filter("size", equals: .int(2))
        let scores = try results.table.filter("method", equals: .text("lora")).filter("size", equals: .int(2)).column("score")
        #expect(try lora2.column("mean").first?.number == scores.compactMap(\.number).reduce(0, +) / 2)
        #expect(results.figure.kind == .line && results.figure.xLabel == "size" && results.figure.points.count == 4)
        // The share grows with the size.
        let shares = try summary.filter("method", equals: .text("lora")).column("share").compactMap(\.number)
        #expect(shares.count == 2 && shares[0] < shares[1])
    }

    @Test("dataSize: one run per training-set size, more steps for more data")
    func dataSize() throws {
        let path = Self.storePath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let results = try Study.dataSize(base: Self.base, methods: [.ia3()], trainSizes: [2, 4], datasets: [Self.data(.iconqaBlank)],
                                         seeds: [1], epochs: 1, settings: Self.settings, store: try SweepStore(path: path))
        #expect(results.table.columns == Self.columns)
        #expect(results.table.count == 2)
        #expect(try results.table.column("trainSize") == [.int(2), .int(4)])
        #expect(try results.table.column("steps") == [.int(1), .int(2)])
        #expect(try results.table.column("epoch") == [.int(1), .int(1)])
        #expect(results.figure.kind == .line && results.figure.xLabel == "trainSize")
        #expect(throws: StudyError.self) {
            _ = try Study.dataSize(base: Self.base, methods: [.ia3()], trainSizes: [8], datasets: [Self.data(.iconqaBlank)],
                                   settings: Self.settings, store: try SweepStore(path: path))
        }
    }

    @Test("generalization: train on one, test on the others, a row per epoch; the heatmap is train × test")
    func generalization() throws {
        let path = Self.storePath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let datasets = [Self.data(.sqa), Self.data(.iconqaBlank)]
        let results = try Study.generalization(base: Self.base, methods: [try PEFTMethod.lora(rank: 2, alpha: 4, dropout: 0)],
                                               datasets: datasets, seeds: [1], epochs: 2, settings: Self.settings,
                                               store: try SweepStore(path: path))
        #expect(results.runs == 2)
        var columns = Self.columns
        columns.insert("test", at: columns.firstIndex(of: "epoch")!)
        #expect(results.table.columns == columns)
        #expect(results.table.count == 4, "2 runs × 2 epochs × 1 other dataset × 1 metric")
        let pairs = try zip(results.table.column("dataset"), results.table.column("test")).map { [$0.0, $0.1] }
        #expect(pairs.allSatisfy { $0[0] != $0[1] })
        #expect(try results.table.column("epoch") == [1, 2, 1, 2].map(TableValue.int))
        #expect(try results.table.column("steps") == [2, 4, 2, 4].map(TableValue.int), "an epoch of 4 examples is 2 steps of 2")
        #expect(results.figure.kind == .heatmap && results.figure.xLabel == "test" && results.figure.seriesLabel == "train")
        #expect(results.figure.points.count == 2)
        #expect(throws: StudyError.self) {
            _ = try Study.generalization(base: Self.base, methods: [.ia3()], datasets: [Self.data(.sqa)],
                                         settings: Self.settings, store: try SweepStore(path: path))
        }
    }

    @Test("hallucination: POPE and CHAIR before training and after each epoch")
    func hallucination() throws {
        let path = Self.storePath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let pope = Self.data(.pope, train: 0, test: 6), flickr = Self.data(.flickr, train: 0, test: 3)
        let results = try Study.hallucination(base: Self.base, methods: [.ia3()], datasets: [Self.data(.sqa)],
                                              probes: [pope, flickr], seeds: [1], epochs: 1, settings: Self.settings,
                                              store: try SweepStore(path: path))
        let settings = Set(pope.test.compactMap(\.questionType)).count
        #expect(settings == 3)
        let perCheckpoint = (5 + 2 * settings) + 3   // POPE's five and per-setting accuracy and f1; CIDEr-D, CHAIRi, CHAIRs
        #expect(results.table.count == 2 * perCheckpoint)
        #expect(try Set(results.table.column("epoch")) == [.int(0), .int(1)])
        #expect(try Set(results.table.column("test")) == [.text("mini-pope"), .text("mini-flickr")])
        let metrics = try Set(results.table.column("metric").map(\.description))
        #expect(metrics.isSuperset(of: ["random accuracy", "popular f1", "adversarial accuracy", "CHAIRi", "CHAIRs", "cider-d", "yes-ratio"]))
        #expect(results.figure.kind == .line && results.figure.xLabel == "epoch")
        #expect(Set(results.figure.points.compactMap { $0.series })
                == ["random", "popular", "adversarial", "CHAIRi", "CHAIRs"])
        #expect(throws: StudyError("hallucination: mini-sqa is not a probe; probes are POPE sets (mini-pope) and captions "
                                   + "whose images' objects are known (mini-flickr)")) {
            _ = try Study.hallucination(base: Self.base, methods: [.ia3()], datasets: [Self.data(.sqa)], probes: [Self.data(.sqa)],
                                        settings: Self.settings, store: try SweepStore(path: path))
        }
    }

    @Test("an interrupt keeps the finished runs and drops the one in progress; run again, only the rest trains")
    func interrupt() throws {
        let path = Self.storePath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let store = try SweepStore(path: path)
        let methods: [PEFTMethod] = [.ia3()]
        // Stop once the first run is stored, while the second trains.
        var checks = 0
        let stopped = try Study.location(base: Self.base, methods: methods, datasets: [Self.data(.sqa)], seeds: [1],
                                         settings: Self.settings, store: store,
                                         isCancelled: { if store.count >= 1 { checks += 1 }; return checks > 1 })
        #expect(stopped.cancelled && stopped.finished == 1 && stopped.ran == 1 && stopped.runs == 3)
        #expect(stopped.table.count == 1)
        #expect(stopped.table.title?.contains("interrupted") == true)
        #expect(Self.lines(path) == 1)

        let resumed = try Study.location(base: Self.base, methods: methods, datasets: [Self.data(.sqa)], seeds: [1],
                                         settings: Self.settings, store: try SweepStore(path: path))
        #expect(resumed.skipped == 1 && resumed.ran == 2 && !resumed.cancelled && resumed.table.count == 3)
        #expect(Self.lines(path) == 3)
    }

    @Test("compare: methods × connectors × datasets in the workflows' tidy table; Table 1 as the summary; run again, nothing trains")
    func compare() throws {
        let path = Self.storePath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let methods = [try PEFTMethod.lora(rank: 2, alpha: 4, dropout: 0), .ia3()]
        let datasets = [Self.data(.sqa), Self.data(.iconqaBlank), Self.data(.pope, train: 4, test: 6)]
        let first = try Study.compare(base: Self.base, methods: methods, connectors: [.tuned, .frozen], datasets: datasets,
                                      seeds: [1], settings: Self.settings, store: try SweepStore(path: path))
        #expect(first.runs == 12 && first.ran == 12 && !first.cancelled)
        #expect(first.table.columns == Self.columns)
        let popeRows = try first.table.filter("dataset", equals: .text("mini-pope")).count
        #expect(first.table.count == 8 + popeRows, "one row per run on the single-metric sets, all of POPE's on mini-pope")
        #expect(try first.table.filter("dataset", equals: .text("mini-iconqa-blank")).column("group")
                .allSatisfy { $0 == .text("unseen") })
        #expect(try first.table.column("epoch").allSatisfy { $0 == .double(0.5) }, "1 step of 2 over 4 examples")
        let scores = Study.scores(first.table)
        #expect(scores.columns == first.table.columns && scores.count == 12, "one headline row per run")
        #expect(try scores.filter("dataset", equals: .text("mini-pope")).column("metric").allSatisfy { $0 == .text("accuracy") })

        let tableOne = try #require(first.summary)
        #expect(tableOne.columns == ["method", "size", "location", "connector", "share", "mini-sqa", "mini-iconqa-blank",
                                     "mini-pope", "unseen"])
        #expect(tableOne.count == 4)
        let row = try tableOne.filter("method", equals: .text("ia3")).filter("connector", equals: .text("tuned"))
        let sqa = try row.column("mini-sqa")[0].number!, blank = try row.column("mini-iconqa-blank")[0].number!
        #expect(abs(try row.column("unseen")[0].number! - (sqa + blank) / 2) < 1e-12, "mini-pope is a probe, not unseen")
        let tuned = try row.column("share")[0].number!
        let frozen = try tableOne.filter("method", equals: .text("ia3")).filter("connector", equals: .text("frozen")).column("share")[0].number!
        #expect(tuned > frozen, "a tuned connector trains more")
        #expect(first.figure.kind == .bar && first.figure.xLabel == "dataset" && first.figure.points.count == 12)
        #expect(first.figure.seriesLabel == "method, connector")
        #expect(Set(first.figure.points.compactMap { $0.series }).contains("lora 2, tuned"))

        let second = try Study.compare(base: Self.base, methods: methods, connectors: [.tuned, .frozen], datasets: datasets,
                                       seeds: [1], settings: Self.settings, store: try SweepStore(path: path))
        #expect(second.ran == 0 && second.skipped == 12 && second.table == first.table)
        var other = Self.settings
        other.connectorLearningRate = 1e-4
        let third = try Study.compare(base: Self.base, methods: [.ia3()], connectors: [.tuned], datasets: [Self.data(.sqa)],
                                      seeds: [1], settings: other, store: try SweepStore(path: path))
        #expect(third.ran == 1, "another connector learning rate is another run")
        let otherData = StudyDataset(name: "mini-sqa", group: "unseen", train: TestLlava.examples(.sqa, .test, count: 4),
                                     test: TestLlava.examples(.sqa, .test, count: 3))
        let fourth = try Study.compare(base: Self.base, methods: [.ia3()], connectors: [.tuned], datasets: [otherData],
                                       seeds: [1], settings: Self.settings, store: try SweepStore(path: path))
        #expect(fourth.ran == 1, "other training examples of the same size are another run")
        #expect(Self.lines(path) == 14)
    }

    @Test("efficiency: share against score per method setting, from a workflow's tidy table")
    func efficiency() throws {
        let tidy = Table(records: [
            [("method", .text("lora")), ("size", .int(8)), ("metric", .text("accuracy")), ("score", .double(0.5)), ("share", .double(2))],
            [("method", .text("lora")), ("size", .int(8)), ("metric", .text("accuracy")), ("score", .double(0.7)), ("share", .double(2))],
            [("method", .text("lora")), ("size", .int(8)), ("metric", .text("CHAIRi")), ("score", .double(0.9)), ("share", .double(2))],
            [("method", .text("ia3")), ("size", .null), ("metric", .text("vqa-score")), ("score", .double(0.4)), ("share", .double(0.1))],
        ])
        let results = try Study.efficiency(tidy)
        #expect(results.table.columns == ["method", "size", "share", "score", "n"])
        #expect(results.table.count == 2)
        #expect(try results.table.column("score").first?.number.map { abs($0 - 0.6) < 1e-12 } == true, "CHAIRi is not a score")
        #expect(results.figure.kind == .scatter && results.figure.xLabel == "share" && results.figure.yLabel == "score")
        #expect(throws: StudyError.self) { _ = try Study.efficiency(Table(records: [[("score", .double(1))]])) }
        #expect(throws: StudyError.self) {
            _ = try Study.efficiency(Table(records: [[("score", .double(1)), ("trainable share", .double(1))]]))
        }
    }

    @Test("bad requests are errors that say what to do")
    func errors() throws {
        let path = Self.storePath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let store = try SweepStore(path: path)
        #expect(throws: StudyError("location needs at least one method, such as [lora(rank: 8), ia3()]")) {
            _ = try Study.location(base: Self.base, methods: [], datasets: [Self.data(.sqa)], settings: Self.settings, store: store)
        }
        #expect(throws: StudyError("budget: sizes must be at least 1, got 0 for lora")) {
            _ = try Study.budget(base: Self.base, methods: [try PEFTMethod.lora(rank: 2, alpha: 4, dropout: 0)], sizes: ["lora": [0]],
                                 datasets: [Self.data(.sqa)], settings: Self.settings, store: store)
        }
        #expect(throws: StudyError.self) {
            _ = try Study.budget(base: Self.base, methods: [.ia3()], sizes: ["ia3": [2]], datasets: [Self.data(.sqa)],
                                 settings: Self.settings, store: store)
        }
        #expect(throws: StudyError("location: mini-sqa is given twice")) {
            _ = try Study.location(base: Self.base, methods: [.ia3()], datasets: [Self.data(.sqa), Self.data(.sqa)],
                                   settings: Self.settings, store: store)
        }
        #expect(store.count == 0)
    }
}
