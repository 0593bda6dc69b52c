// changes(run) in the language: a layer × module heatmap of what training moved, with its
// table as text; zero for a fresh LoRA and IA3, non-zero after training exactly where the
// method sits.

import Foundation
import PEFTLabJSON
import Runtime
import Testing

@Suite("changes(run)")
struct ChangesBuiltinsTests {
    @Test("a fresh LoRA moved nothing; a trained one moved exactly its targets, shown as a heatmap")
    func lora() throws {
        let c = prepared()
        c.value("let tuned = attach(base, lora(rank: 4, alpha: 8, on: [\"q_proj\", \"v_proj\"]))")
        #expect(c.value("changes(tuned).max") == "0.0")
        #expect(c.value("changes(tuned).count") == "4")
        c.value("let run = train(tuned, on: trainSet, steps: 3, batch: 4, lr: 1e-2)")
        let result = c.session.execute("changes(run)", output: RecordingOutput())
        let bundle = try #require(result.value)
        let text = try #require(bundle.data["text/plain"]?.stringValue)
        #expect(text.contains("layer") && text.contains("module") && text.contains("q_proj") && text.contains("v_proj"))
        #expect(!text.contains("k_proj") && !text.contains("down_proj"))
        let svg = try #require(bundle.data["image/svg+xml"]?.stringValue)
        #expect(svg.contains("what lora moved by step 3: |(alpha/r) B A|_F") && svg.contains("layer 1"))
        #expect(bundle.data["application/vnd.vegalite.v5+json"]?["mark"] == "rect")
        #expect(c.value("changes(run).column(\"module\")") == "[\"q_proj\", \"v_proj\", \"q_proj\", \"v_proj\"]")
        #expect(c.value("changes(run).column(\"value\").count") == "4")
        #expect(c.value("var moved = true\nfor v in changes(run).column(\"value\") { if v <= 0.0 { moved = false } }\nmoved") == "true")
        #expect(c.value("changes(run).measures") == "[\"‖(α/r)·B·A‖_F\"]")
    }

    @Test("IA3 fresh is zero; adapters are measured on the run's first examples, or bounded without data")
    func ia3AndAdapters() {
        let c = prepared()
        #expect(c.value("changes(attach(base, ia3())).total") == "0.0")
        c.value("let adapted = attach(base, adapter(size: 8))")
        #expect(c.value("changes(adapted).measures") == "[\"‖W_up‖_F·‖W_down‖_F (gain bound)\"]")
        #expect(c.value("changes(adapted, on: trainSet).measures") == "[\"mean ‖adapter output‖₂\"]")
        c.value("let run = train(adapted, on: trainSet, steps: 1, batch: 4)")
        #expect(c.value("changes(run).measures") == "[\"mean ‖adapter output‖₂\"]")
        #expect(c.value("changes(run).max > 0.0") == "true")
        #expect(c.value("changes(attach(base, prefix(tokens: 4))).count") == "4")
    }

    @Test("mistakes get errors that say what to do", arguments: [
        ("changes(base)", "no PEFT method attached"),
        ("changes(attach(base, full()))", "none"),
        ("changes(3)", "a Run or an adapted model"),
    ])
    func errors(code: String, phrase: String) {
        let message = prepared().error(code).message
        #expect(message.contains(phrase), "\(message)")
    }

    @Test("help knows it")
    func help() {
        let text = Cells().value("help(changes)")
        #expect(text.contains("changes(_ Run or AdaptedModel, on: Dataset = nil) -> Changes"))
        #expect(text.contains("‖(α/r)·B·A‖_F"))
    }
}
