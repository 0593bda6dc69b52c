// load(config:), the method constructors, attach and trainable in the language:
// the study's Table 15 shares from the LLaVA-1.5-7B config, without weights.

import Foundation
import Runtime
import Testing

private let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("configs/llava-1.5-7b/config.json").path

@Suite("Model built-ins")
struct ModelBuiltinsTests {
    @Test("Table 15 shares from the 7B config, in the language", arguments: [
        ("lora(rank: 128, alpha: 256)", ".frozen", "4.332"),
        ("adapter(size: 256)", ".frozen", "2.771"),
        ("adapter(size: 256)", ".tuned", "3.060"),
        ("ia3()", ".tuned", "0.306"),
        ("prefix(tokens: 20)", ".frozen", "0.074"),
        ("prefix(tokens: 20)", ".tuned", "0.371"),
    ])
    func shares(method: String, connector: String, expected: String) {
        let c = Cells()
        c.value("let m = attach(load(config: \"\(config)\"), \(method), connector: \(connector))")
        #expect(c.value("let s = trainable(m).share\nInt(s * 1000 + 0.5)") == String(Int(Double(expected)! * 1000 + 0.5)))
    }

    @Test("the trainable report: a table, and in HTML a bar chart of where parameters train")
    func trainableBars() throws {
        let c = Cells()
        c.value("let m = attach(load(config: \"\(config)\"), lora(rank: 8, alpha: 16), connector: .tuned)")
        let html = try #require(c.session.execute("trainable(m)", output: RecordingOutput()).value?.data["text/html"]?.stringValue)
        #expect(html.contains("<table") && html.contains("<svg") && html.contains("trainable parameters by part"))
        #expect(c.value("trainable(m).plot.kind") == ".bar")
        #expect(c.value("trainable(m).plot.title") == "\"trainable parameters by part\"")
    }

    @Test("the model card says what the model is and that it has no weights")
    func card() {
        let c = Cells()
        let card = c.value("load(config: \"\(config)\")")
        #expect(card.contains("LlavaForConditionalGeneration"))
        #expect(card.contains("7,063,427,072 (7.06 B)"))
        #expect(card.contains("none (meta: for counting)"))
    }

    @Test("errors from PEFTLib come through with their message", arguments: [
        ("lora(rank: 0)", "PEFTLibError"),
        ("attach(load(config: \"\(config)\"), lora(on: [\"q_prj\"]))", "PEFTLibError"),
        ("lora(on: .everything)", "TypeError"),
        ("load(config: \"/no/such/config.json\")", "PEFTLibError"),
    ])
    func errors(code: String, kind: String) {
        #expect(Cells().error(code).name == kind)
    }

    @Test("a target that matches nothing lists the modules that exist")
    func unknownTarget() {
        let message = Cells().error("attach(load(config: \"\(config)\"), lora(on: [\"q_prj\"]))").message
        #expect(message.contains("q_prj"))
        #expect(message.contains("q_proj"))
    }
}
