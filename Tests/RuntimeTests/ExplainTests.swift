// explain(method) and explain(adapted): snapshots of the text, Markdown and LaTeX for
// every method and location, the diagram's highlighted insertion points read back from
// its XML, and the parameter counts against PEFTLib's on the LLaVA-1.5-7B config.
//
// Snapshots live in Snapshots/explain/<case>.txt. After a deliberate change, re-record
// them with PEFTLAB_RECORD_SNAPSHOTS=1 and review the diff.

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import PEFTLabJSON
import Runtime
import Testing

private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
private let config = root.appendingPathComponent("configs/llava-1.5-7b/config.json").path
private let snapshots = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots/explain")

/// A method, by every location it can take, and the insertion points it must highlight.
struct ExplainCase: Sendable, CustomTestStringConvertible {
    let name: String
    let method: String
    let sites: [String]
    var testDescription: String { name }
}

private let attention = ["q_proj", "k_proj", "v_proj", "o_proj"], mlp = ["gate_proj", "up_proj", "down_proj"]

let explainCases: [ExplainCase] = [
    ExplainCase(name: "lora-attention", method: "lora(rank: 8, alpha: 16, on: .attention)",
                sites: attention.map { "site-\($0)-branch" }),
    ExplainCase(name: "lora-mlp", method: "lora(rank: 8, alpha: 16, on: .mlp)", sites: mlp.map { "site-\($0)-branch" }),
    ExplainCase(name: "lora-both", method: "lora(rank: 128, alpha: 256)", sites: (attention + mlp).map { "site-\($0)-branch" }),
    ExplainCase(name: "lora-modules", method: "lora(rank: 8, alpha: 16, dropout: 0.0, on: [\"q\", \"v_proj\"])",
                sites: ["site-q_proj-branch", "site-v_proj-branch"]),
    ExplainCase(name: "ia3-attention", method: "ia3(on: .attention)", sites: ["site-k_proj-output", "site-v_proj-output"]),
    ExplainCase(name: "ia3-mlp", method: "ia3(on: .mlp)", sites: ["site-down_proj-input"]),
    ExplainCase(name: "ia3-both", method: "ia3()", sites: ["site-k_proj-output", "site-v_proj-output", "site-down_proj-input"]),
    ExplainCase(name: "adapter-attention", method: "adapter(size: 64, on: .attention)", sites: ["site-o_proj-output"]),
    ExplainCase(name: "adapter-mlp", method: "adapter(size: 256)",
                sites: ["site-gate_proj-input", "site-up_proj-input", "site-down_proj-output"]),
    ExplainCase(name: "adapter-both", method: "adapter(size: 64, on: .both)",
                sites: ["site-o_proj-output", "site-gate_proj-input", "site-up_proj-input", "site-down_proj-output"]),
    ExplainCase(name: "adapter-parallel", method: "adapter(size: 64, on: .mlp, style: .parallel)",
                sites: mlp.map { "site-\($0)-branch" }),
    ExplainCase(name: "prefix", method: "prefix(tokens: 20)", sites: ["site-attention-prefix"]),
    ExplainCase(name: "prefix-projection", method: "prefix(tokens: 10, projection: true)", sites: ["site-attention-prefix"]),
    ExplainCase(name: "full", method: "full()",
                sites: (attention + mlp + ["input_layernorm", "post_attention_layernorm"]).map { "site-\($0)-whole" }),
    ExplainCase(name: "connector-only", method: "connectorOnly()", sites: []),
]

private func bundle(_ cells: Cells, _ code: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> MIMEBundle? {
    let result = cells.session.execute(code, output: RecordingOutput())
    if let error = result.error { Issue.record("\(code): \(error.summary)", sourceLocation: sourceLocation) }
    return result.value
}

/// `## title` sections of text/plain, text/markdown and text/latex.
private func sections(_ title: String, _ b: MIMEBundle) -> String {
    ["text/plain", "text/markdown", "text/latex"].map { type in
        "## \(title): \(type)\n\n" + (b.data[type]?.stringValue ?? "<missing>") + "\n"
    }.joined(separator: "\n")
}

/// Elements of an SVG with their id and class attributes.
private final class ElementCollector: NSObject, XMLParserDelegate {
    var elements: [(name: String, id: String?, classes: [String])] = []
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements.append((name, attributes["id"], (attributes["class"] ?? "").split(separator: " ").map(String.init)))
    }
}

private func parseSVG(_ svg: String) -> ElementCollector? {
    let collector = ElementCollector()
    let parser = XMLParser(data: Data(svg.utf8))
    parser.delegate = collector
    return parser.parse() ? collector : nil
}

@Suite("Explain")
struct ExplainTests {
    @Test("text, Markdown and LaTeX match the snapshot, for the method and on the 7B config", arguments: explainCases)
    func snapshot(_ c: ExplainCase) throws {
        let cells = Cells()
        cells.value("let base = load(config: \"\(config)\")\nlet m = \(c.method)")
        let alone = try #require(bundle(cells, "explain(m)"))
        let adapted = try #require(bundle(cells, "explain(attach(base, m))"))
        let text = "# explain(\(c.method))\n\n" + sections("method", alone) + "\n" + sections("on llava-1.5-7b", adapted)
        let file = snapshots.appendingPathComponent(c.name + ".txt")
        if ProcessInfo.processInfo.environment["PEFTLAB_RECORD_SNAPSHOTS"] == "1" {
            try FileManager.default.createDirectory(at: snapshots, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: file)
            return
        }
        guard let expected = try? String(contentsOf: file, encoding: .utf8) else {
            Issue.record("no snapshot \(file.path); record it with PEFTLAB_RECORD_SNAPSHOTS=1")
            return
        }
        #expect(text == expected)
        if text != expected {
            // The first differing line, to read the failure without a diff tool.
            let (a, b) = (text.split(separator: "\n", omittingEmptySubsequences: false),
                          expected.split(separator: "\n", omittingEmptySubsequences: false))
            if let i = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset ?? (a.count != b.count ? min(a.count, b.count) : nil) {
                Issue.record("line \(i + 1): got \(i < a.count ? String(a[i]) : "<end>"), expected \(i < b.count ? String(b[i]) : "<end>")")
            }
        }
    }

    @Test("the diagram parses as XML and highlights exactly the method's insertion points", arguments: explainCases)
    func diagram(_ c: ExplainCase) throws {
        let cells = Cells()
        cells.value("let base = load(config: \"\(config)\")\nlet m = \(c.method)")
        for code in ["explain(m)", "explain(attach(base, m))"] {
            let b = try #require(bundle(cells, code))
            let svg = try #require(b.data["image/svg+xml"]?.stringValue)
            #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
            let parsed = try #require(parseSVG(svg), "\(code): the SVG does not parse")
            let highlighted = parsed.elements.filter { $0.classes.contains("insertion") }
            #expect(highlighted.compactMap(\.id).sorted() == c.sites.sorted(), "\(code)")
            let method = String(c.name.split(separator: "-")[0])
            #expect(highlighted.allSatisfy { $0.name == "g" && $0.classes.contains(method) })
            let modules = Set(parsed.elements.filter { $0.classes.contains("module") }.compactMap(\.id))
            #expect(modules == Set((attention + mlp + ["input_layernorm", "post_attention_layernorm", "attention", "act"]).map { "module-\($0)" }))
            // The HTML puts the same diagram beside the words; it is well-formed too.
            let html = try #require(b.data["text/html"]?.stringValue)
            #expect(html.contains(svg))
            #expect(XMLParser(data: Data(html.utf8)).parse(), "\(code): the HTML does not parse")
        }
    }

    @Test("the method alone and attached to a model have the same insertion points", arguments: explainCases)
    func sitesAgree(_ c: ExplainCase) {
        let cells = Cells()
        cells.value("let base = load(config: \"\(config)\")\nlet m = \(c.method)")
        #expect(cells.value("explain(m).sites") == cells.value("explain(attach(base, m)).sites"))
    }

    @Test("added parameters on the 7B config are the study's and PEFTLib's", arguments: [
        ("lora(rank: 128, alpha: 256)", "319815680", "= 32 × 128 × 78,080"),
        ("adapter(size: 256)", "201326592", "= 32 × 2 × 256 × (4096 + 4096 + 4096)"),
        ("ia3()", "614400", "= 32 × (4096 + 4096 + 11008)"),
        ("prefix(tokens: 20)", "5242880", "= 2 × 32 × 20 × 4096"),
    ])
    func studyCounts(method: String, added: String, step: String) {
        let cells = Cells()
        cells.value("let a = attach(load(config: \"\(config)\"), \(method))")
        #expect(cells.value("explain(a).added") == added)
        #expect(cells.value("trainable(a).added") == added)
        let text = cells.value("explain(a).text")
        #expect(text.contains(step))
        #expect(text.contains("= " + CountFormatting.grouped(Int(added)!)))
    }

    @Test("grouped-query attention: k and v have the key/value width, not the hidden size")
    func groupedQuery() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("peftlab-gqa-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = """
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 256, "intermediate_size": 688,
             "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 1024}
            """
        try Data(json.utf8).write(to: dir.appendingPathComponent("config.json"))
        let cells = Cells()
        cells.value("let base = load(config: \"\(dir.path)/config.json\")")
        let lora = cells.value("explain(attach(base, lora(rank: 4, alpha: 8, on: [\"k\", \"v\"]))).text")
        #expect(lora.contains("= 4 × 4 × ((256 + 128) + (256 + 128))"))
        #expect(lora.contains("= 12,288"))
        let ia3 = cells.value("explain(attach(base, ia3(), replacing: true)).text")
        #expect(ia3.contains("= 4 × (128 + 128 + 688)"))
        let prefix = cells.value("explain(attach(base, prefix(tokens: 5), replacing: true)).text")
        #expect(prefix.contains("= 2 × 4 × 5 × 128"))
        let svg = cells.value("explain(attach(base, lora(), replacing: true)).svg")
        #expect(svg.contains("256 → 128") && svg.contains("688 → 256"))
    }

    @Test("every MIME type is there, and text/plain reads on its own")
    func bundleTypes() throws {
        let b = try #require(bundle(Cells(), "explain(lora())"))
        #expect(Set(b.data.keys) == ["text/plain", "text/markdown", "text/latex", "image/svg+xml", "text/html"])
        let latex = try #require(b.data["text/latex"]?.stringValue)
        #expect(latex.hasPrefix("$$\\begin{aligned}") && latex.hasSuffix("\\end{aligned}$$"))
        #expect(b.data["text/markdown"]?.stringValue?.contains("`q_proj`") == true)
    }

    @Test("explain errors say what it takes", arguments: [
        ("explain(3)", "TypeError: explain(): argument 1 expects a Method such as lora(rank: 8), or an adapted model, got Int 3"),
        ("explain(load(config: \"\(config)\"))", "ValueError: explain(): this model has no PEFT method attached; explain a method, explain(lora()), or an adapted model, explain(attach(model, lora()))"),
        ("explain(lora(on: [\"lm_head\"]))", "ValueError: explain(): 'lm_head' is not a decoder projection; the adaptable modules are q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj"),
    ])
    func errors(code: String, expected: String) {
        #expect(Cells().error(code).summary == expected)
    }

    @Test("help lists explain with its signature and documentation")
    func help() {
        let cells = Cells()
        #expect(cells.value("help()").contains("explain(_ Method or AdaptedModel) -> Explanation"))
        #expect(cells.value("help(explain)").contains("insertion points highlighted"))
    }
}

/// Thousands separators as the explanation writes them.
enum CountFormatting {
    static func grouped(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, c) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return out
    }
}
