// The study's workflows in the language, on the small random LLaVA of TrainingBuiltinsTests:
// each returns its table and figure, a second run of a cell trains nothing, an interrupt
// returns the finished runs, and mistakes are errors that say what to do.

import Foundation
import PEFTLib
import Runtime
import Synchronization
import Testing

/// Interrupts the session when a progress display reaches a given text (a sweep's second run).
private final class InterruptAtText: OutputSink, @unchecked Sendable {
    let session: Session
    let text: String
    let fired = Mutex(false)
    init(_ session: Session, at text: String) { self.session = session; self.text = text }
    func write(_ text: String, to stream: OutputStreamName) {}
    func display(_ bundle: MIMEBundle, id: String?, update: Bool) {
        guard bundle.data["text/plain"]?.stringValue?.contains(text) == true else { return }
        if fired.withLock({ let was = $0; $0 = true; return !was }) { session.interrupt() }
    }
    func clearOutput(wait: Bool) {}
}

@Suite("Study built-ins")
struct StudyBuiltinsTests {
    /// Cells with `base`, `testSet` (mini-vqav2), `sqa`, `blank`, `pope` and `flickr` (tiny test sets) bound.
    static func prepared() -> Cells {
        let c = Cells()
        c.value("""
            let base = load("\(modelFolder)")
            let testSet = dataset("mini-vqav2", split: .test, size: 4, imageSize: 32)
            let sqa = dataset("mini-sqa", split: .test, size: 3, imageSize: 32)
            let blank = dataset("mini-iconqa-blank", split: .test, size: 3, imageSize: 32)
            let pope = dataset("mini-pope", split: .test, size: 6, imageSize: 32)
            let flickr = dataset("mini-flickr", split: .test, size: 3, imageSize: 32)
            """)
        return c
    }

    static func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("peftlab-study-\(UUID().uuidString)").path
    }

    static let columns = #"["method", "size", "location", "connector", "dataset", "group", "seed", "trainSize", "epoch", "steps", "metric", "score", "share", "tokensPerSecond", "seconds"]"#

    @Test("each workflow returns its table and its figure")
    func workflows() throws {
        let c = Self.prepared()
        let folder = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let output = RecordingOutput()
        c.value("""
            let placed = location(methods: [lora(rank: 2), ia3()], locations: [.attention, .mlp], on: testSet, model: base,
                                  steps: 1, batch: 2, trainSize: 4, runs: "\(folder)/location.jsonl")
            """, output: output)
        #expect(output.displays.contains { $0.update && ($0.bundle.data["text/plain"]?.stringValue ?? "").contains("run 2/4") },
                "one live display over every run")
        #expect(c.value("placed.count") == "4")
        #expect(c.value("placed.columns") == Self.columns)
        #expect(c.value("placed.plot.kind") == ".bar")
        #expect(c.value("placed.column(\"location\")") == #"["attention", "mlp", "attention", "mlp"]"#)
        #expect(c.value("placed.pivot(rows: \"method\", columns: \"location\", value: \"score\").count") == "2")
        let shown = c.value("placed")
        #expect(shown.contains("location") && shown.contains("<bar plot"))

        c.value("""
            let sizes = budget(methods: [lora(rank: 2), prefix(tokens: 2)], sizes: ["lora": [2, 4], "prefix": [1]], on: testSet,
                               model: base, steps: 1, seeds: [1, 2], batch: 2, trainSize: 4, runs: "\(folder)/budget.jsonl")
            """)
        #expect(c.value("sizes.count") == "6")
        #expect(c.value("sizes.summary.columns") == #"["method", "size", "location", "connector", "dataset", "metric", "share", "mean", "std", "n"]"#)
        #expect(c.value("sizes.summary.count") == "3")
        #expect(c.value("sizes.plot.kind") == ".line")

        c.value("""
            let scale = dataSize(methods: [ia3()], trainSizes: [2, 4], on: testSet, model: base, batch: 2,
                                 runs: "\(folder)/data-size.jsonl")
            """)
        #expect(c.value("scale.column(\"trainSize\")") == "[2, 4]")
        #expect(c.value("scale.plot.kind") == ".line")

        c.value("""
            let transfer = generalization(methods: [ia3()], on: [sqa, blank], model: base, epochs: 2, batch: 2, trainSize: 4,
                                          runs: "\(folder)/generalization.jsonl")
            """)
        #expect(c.value("transfer.count") == "4")
        #expect(c.value("transfer.column(\"test\")") == #"["mini-iconqa-blank", "mini-iconqa-blank", "mini-sqa", "mini-sqa"]"#)
        #expect(c.value("transfer.column(\"epoch\")") == "[1, 2, 1, 2]")
        #expect(c.value("transfer.plot.kind") == ".heatmap")

        c.value("""
            let probed = hallucination(methods: [ia3()], on: sqa, probes: [pope, flickr], model: base, epochs: 1, batch: 2,
                                       trainSize: 4, runs: "\(folder)/hallucination.jsonl")
            """)
        #expect(c.value("probed.filter(\"metric\", equals: \"CHAIRi\").count") == "2", "before training and after the epoch")
        #expect(c.value("probed.filter(\"metric\", equals: \"adversarial accuracy\").column(\"epoch\")") == "[0, 1]")
        #expect(c.value("probed.plot.kind") == ".line")

        c.value("""
            let table1 = compare(methods: [lora(rank: 2), ia3()], connector: [.tuned, .frozen], on: [testSet, sqa, pope], model: base,
                                 steps: 1, batch: 2, trainSize: 4, runs: "\(folder)/compare.jsonl")
            """)
        #expect(c.value("table1.columns") == Self.columns)
        #expect(c.value("table1.scores.count") == "12")
        #expect(c.value("table1.summary.columns")
                == #"["method", "size", "location", "connector", "share", "mini-vqav2", "mini-sqa", "mini-pope", "unseen", "seen"]"#)
        #expect(c.value("table1.scores.pivot(rows: [\"method\", \"connector\"], columns: \"dataset\", value: \"score\").columns")
                == #"["method", "connector", "mini-vqav2", "mini-sqa", "mini-pope"]"#)
        #expect(c.value("table1.scores.summarize(\"score\", by: [\"method\", \"group\"]).count") == "6")
        #expect(c.value("table1.plot.kind") == ".bar")
        #expect(c.value("efficiency(table1).count") == "4")

        #expect(c.value("efficiency(placed).count") == "4")
        #expect(c.value("efficiency(placed.table).plot.kind") == ".scatter")
        #expect(c.value("help(budget)").contains("sizes: [Int] or [String: [Int]]"))
    }

    @Test("run again, a workflow skips every stored run; an interrupt returns the finished runs")
    func storedAndInterrupted() throws {
        let c = Self.prepared()
        let folder = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cell = """
            location(methods: [ia3()], on: testSet, model: base, steps: 1, batch: 2, trainSize: 4,
                     runs: "\(folder)/runs.jsonl")
            """
        let lines = { ((try? String(contentsOfFile: folder + "/runs.jsonl", encoding: .utf8)) ?? "").split(separator: "\n").count }
        let interrupted = c.session.execute("let first = " + cell, output: InterruptAtText(c.session, at: "run 2/3"))
        #expect(interrupted.error?.name == "Interrupted", "an interrupted sweep fails as an interrupted cell does")
        #expect(c.value("first.finished") == "1")
        #expect(c.value("first.interrupted") == "true")
        #expect(c.value("first.count") == "1")
        #expect(lines() == 1)
        c.value("let second = " + cell)
        #expect(c.value("[second.ran, second.skipped, second.count]") == "[2, 1, 3]")
        #expect(lines() == 3)
        c.value("let third = " + cell)
        #expect(c.value("[third.ran, third.skipped, third.count]") == "[0, 3, 3]", "nothing trains the third time")
        #expect(lines() == 3)
    }

    @Test("mistakes get errors that say what to do", arguments: [
        ("location(methods: [], on: testSet, model: base)", "at least one method"),
        ("budget(methods: [lora()], sizes: [0], on: testSet, model: base)", "sizes must be at least 1"),
        ("budget(methods: [ia3()], sizes: [2], on: testSet, model: base)", "no size to vary"),
        ("generalization(methods: [ia3()], on: [\"mini-sqa\", \"mini-sqq\"], model: base)", "did you mean \"mini-sqa\""),
        ("generalization(methods: [ia3()], on: [sqa], model: base, trainSize: 2)", "at least two"),
        ("dataSize(methods: [ia3()], trainSizes: [0], on: testSet, model: base)", "between 1 and"),
        ("hallucination(methods: [ia3()], on: sqa, probes: [sqa], model: base, trainSize: 2)", "not a probe"),
        ("location(methods: [ia3()], on: dataset(\"mini-descriptions\", size: 2, imageSize: 32), model: base)", "has none"),
        ("efficiency(table([\"score\": [1]]))", "trainable share"),
    ])
    func errors(code: String, phrase: String) {
        let message = Self.prepared().error(code).message
        #expect(message.contains(phrase), "\(message)")
    }
}
