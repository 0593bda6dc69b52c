// Tables and plots: construction, reshaping, and every rendering (text, HTML,
// Markdown, JSON, SVG that parses as XML, a Vega-Lite spec).

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import PEFTLabJSON
import Runtime
import Testing

private let methods = """
    let t = table(["method": ["LoRA", "LoRA", "IA3", "IA3"], "connector": ["tuned", "frozen", "tuned", "frozen"], \
    "score": [0.81, 0.78, 0.70, 0.69]], title: "Average")
    """

private func bundle(_ cells: Cells, _ code: String) -> MIMEBundle? {
    cells.session.execute(code, output: RecordingOutput()).value
}

private func parsesAsXML(_ text: String) -> Bool {
    XMLParser(data: Data(text.utf8)).parse()
}

@Suite("Tables")
struct TableTests {
    @Test("a table renders as aligned text with numbers on the right")
    func textRendering() {
        let c = Cells()
        c.value(methods)
        #expect(c.value("t") == """
            Average
            method  connector  score
            ──────  ─────────  ─────
            LoRA    tuned       0.81
            LoRA    frozen      0.78
            IA3     tuned        0.7
            IA3     frozen      0.69
            (4 rows)
            """)
    }

    @Test("pivot, summarize, sorted, filter, select and column")
    func reshaping() {
        let c = Cells()
        c.value(methods)
        #expect(c.value("t.pivot(rows: \"method\", columns: \"connector\", value: \"score\").column(\"tuned\")") == "[0.81, 0.7]")
        #expect(c.value("t.summarize(\"score\", by: [\"method\"]).column(\"n\")") == "[2, 2]")
        #expect(c.value("t.sorted(by: \"score\").column(\"score\")") == "[0.69, 0.7, 0.78, 0.81]")
        #expect(c.value("t.sorted(by: \"score\", descending: true).column(\"method\").first") == "\"LoRA\"")
        #expect(c.value("t.filter(\"method\", equals: \"IA3\").count") == "2")
        #expect(c.value("t.select(\"score\", \"method\").columns") == "[\"score\", \"method\"]")
        #expect(c.value("t.csv()") == "\"method,connector,score\\nLoRA,tuned,0.81\\nLoRA,frozen,0.78\\nIA3,tuned,0.7\\nIA3,frozen,0.69\\n\"")
    }

    @Test("records make a table; missing fields are empty")
    func records() {
        let c = Cells()
        #expect(c.value("table([[\"a\": 1], [\"a\": 2, \"b\": \"x\"]]).column(\"b\")") == "[nil, \"x\"]")
    }

    @Test("table errors name the column or the mismatch", arguments: [
        ("table([\"a\": [1, 2], \"b\": [1]])", "ValueError: table(): column \"b\" has 1 values, \"a\" has 2"),
        (methods + "\nt.column(\"nope\")", "ValueError: no column \"nope\"; the columns are method, connector, score"),
        ("table([\"a\": [[1]]])", "TypeError: table(): a table cell holds a number, text or a Bool, not a Array"),
    ])
    func errors(code: String, expected: String) {
        #expect(Cells().error(code).summary == expected)
    }

    @Test("HTML, Markdown and JSON renderings")
    func richRenderings() throws {
        let c = Cells()
        c.value(methods)
        let b = try #require(bundle(c, "t"))
        let html = try #require(b.data["text/html"]?.stringValue)
        #expect(html.contains("<th style=\"text-align:left;padding:3px 10px;border-bottom:2px solid var(--jp-border-color2"))
        #expect(html.contains(">0.81</td>"))
        #expect(parsesAsXML(html))
        #expect(b.data["text/markdown"]?.stringValue?.contains("| method | connector | score |\n|---|---|---:|") == true)
        #expect(b.data["application/json"] == nil)  // JupyterLab would show a JSON tree instead of the table
        let json = try #require(b.data["application/vnd.peftlab.table+json"]?.arrayValue)
        #expect(json.count == 4)
        #expect(json[0]["score"] == .number(0.81))
    }
}

@Suite("Plots")
struct PlotTests {
    @Test("every kind renders SVG that parses as XML and a Vega-Lite v5 spec", arguments: [
        "plot(t, x: \"method\", y: \"score\", color: \"connector\", kind: .bar, title: \"Methods\")",
        "plot(t, x: \"connector\", y: \"score\", color: \"method\", kind: .heatmap)",
        "plot([2.5, 2.1, 1.7, 1.6])",
        "plot([\"train\": [2.5, 2.1, 1.7], \"eval\": [2.6, 2.3, 2.0]], title: \"Loss\")",
        "plot(table([\"share\": [4.3, 0.3, 2.8], \"score\": [0.8, 0.7, 0.84], \"method\": [\"LoRA\", \"IA3\", \"Adapter\"]]), x: \"share\", y: \"score\", color: \"method\", kind: .scatter)",
        "plot(table([\"x\": [1, 1], \"y\": [3, 3]]))",
    ])
    func kinds(code: String) throws {
        let c = Cells()
        c.value(methods)
        let b = try #require(bundle(c, code))
        let svg = try #require(b.data["image/svg+xml"]?.stringValue)
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(parsesAsXML(svg))
        let spec = try #require(b.data["application/vnd.vegalite.v5+json"])
        #expect(spec["$schema"]?.stringValue == "https://vega.github.io/schema/vega-lite/v5.json")
        #expect(spec["data"]?["values"]?.arrayValue?.isEmpty == false)
        #expect(b.data["text/plain"]?.stringValue?.hasPrefix("<") == true)
    }

    @Test("a grouped bar chart has one bar per method and connector, and a legend")
    func groupedBars() throws {
        let c = Cells()
        c.value(methods)
        let svg = try #require(bundle(c, "plot(t, x: \"method\", y: \"score\", color: \"connector\", kind: .bar)")?.data["image/svg+xml"]?.stringValue)
        #expect(svg.components(separatedBy: "<rect").count - 1 == 4 + 2)  // 4 bars, 2 legend swatches
        #expect(svg.contains(">tuned</text>") && svg.contains(">frozen</text>"))
    }

    @Test("long legend entries get room inside the figure")
    func longLegend() throws {
        let c = Cells()
        let name = "adapter 32, connector frozen"
        let svg = try #require(bundle(c, """
            plot(table(["x": ["a", "b"], "y": [1, 2], "s": ["\(name)", "lora 8, connector tuned"]]), x: "x", y: "y", color: "s", kind: .bar)
            """)?.data["image/svg+xml"]?.stringValue)
        let entry = try #require(svg.components(separatedBy: "<text x=\"").first { $0.contains(">\(name)</text>") })
        let x = try #require(Double(entry.prefix { $0 != "\"" }))
        #expect(x + Double(name.count) * 6.2 <= 560, "the entry ends inside the 560-wide figure (starts at \(x))")
    }

    @Test("plot errors say what is wrong", arguments: [
        ("plot(t, x: \"method\", kind: .line)", "TypeError: plot(kind: .line): x column \"method\" must hold numbers; use kind: .bar for categories"),
        ("plot(t, kind: .pie)", "TypeError: plot(): argument 'kind:' expects one of .line, .bar, .scatter, .heatmap, got Case .pie"),
        ("plot(t, y: \"nope\")", "ValueError: no column \"nope\"; the columns are method, connector, score"),
        ("plot([1, \"a\"])", "TypeError: plot(): argument 1 expects numbers, got String \"a\""),
    ])
    func errors(code: String, expected: String) {
        let c = Cells()
        c.value(methods)
        #expect(c.error(code).summary == expected)
    }
}

@Suite("Export")
struct ExportTests {
    @Test("tables save as CSV and JSON, plots as SVG and Vega-Lite; other extensions are errors")
    func files() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("peftlab-export-\(UInt32.random(in: 0...UInt32.max))").path
        let c = Cells()
        c.value(methods)
        c.value("t.save(\"\(dir)/t.csv\")\nt.save(\"\(dir)/sub/t.json\")")
        c.value("plot(t, x: \"method\", y: \"score\", kind: .bar).save(\"\(dir)/p.svg\")")
        c.value("plot([1, 2, 3]).save(\"\(dir)/p.json\")")
        #expect(try String(contentsOfFile: dir + "/t.csv", encoding: .utf8).hasPrefix("method,connector,score\n"))
        let records = try JSON.parse(String(contentsOfFile: dir + "/sub/t.json", encoding: .utf8))
        #expect(records.arrayValue?.count == 4)
        #expect(parsesAsXML(try String(contentsOfFile: dir + "/p.svg", encoding: .utf8)))
        let spec = try JSON.parse(String(contentsOfFile: dir + "/p.json", encoding: .utf8))
        #expect(spec["mark"]?["type"]?.stringValue == "line")
        #expect(c.error("t.save(\"\(dir)/t.xlsx\")").summary.hasPrefix("ValueError: save: use a .csv or .json file name"))
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test("write(_:to:) writes text as it is and arrays and dictionaries as JSON, creating the folder")
    func write() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("peftlab-write-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = Cells()
        #expect(c.value("write(\"a\\nb\", to: \"\(dir)/notes.txt\")") == "\"\(dir)/notes.txt\"")
        #expect(try String(contentsOfFile: dir + "/notes.txt", encoding: .utf8) == "a\nb")
        c.value("""
            write([["id": "1", "image": "a.png", "conversations": [["from": "human", "value": "<image>\\nWhat?"], ["from": "gpt", "value": "red"]]],
                   ["id": 2, "score": 0.5, "ok": true, "none": nil, "split": .train]], to: "\(dir)/sub/train.json")
            """)
        let records = try #require(try JSON.parse(String(contentsOfFile: dir + "/sub/train.json", encoding: .utf8)).arrayValue)
        #expect(records.count == 2)
        #expect(records[0]["conversations"]?.arrayValue?[0]["value"]?.stringValue == "<image>\nWhat?")
        #expect(records[0].objectValue?.keys == ["id", "image", "conversations"], "keys keep their order")
        #expect(records[1]["id"] == .int(2) && records[1]["ok"] == .bool(true) && records[1]["none"] == .null)
        #expect(records[1]["split"]?.stringValue == "train")
        #expect(c.error("write([1: 2], to: \"\(dir)/x.json\")").summary.contains("keys are Strings"))
        #expect(c.error("write(3, to: \"\(dir)/x.json\")").summary.contains("String, an Array or a Dictionary"))
        #expect(c.error("write([Double(\"inf\")], to: \"\(dir)/x.json\")").summary.contains("JSON has no"))
    }
}
