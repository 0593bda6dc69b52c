// What cells send while they run: print, display, clearOutput, page, help, and interrupts.

import Foundation
import PEFTLabJSON
import Runtime
import Testing

@Suite("Session: output")
struct OutputTests {
    @Test("print writes to stdout with separator and terminator")
    func printing() {
        let c = Cells()
        let out = RecordingOutput()
        c.value("print(1, \"a\", 2.5, [1, \"b\"], nil, .tuned)", output: out)
        #expect(out.events == [.write("1 a 2.5 [1, \"b\"] nil .tuned\n", .stdout)])
        let custom = RecordingOutput()
        c.value("print(1, 2, separator: \", \", terminator: \"!\")", output: custom)
        #expect(custom.stdout == "1, 2!")
        let empty = RecordingOutput()
        c.value("print()", output: empty)
        #expect(empty.events == [.write("\n", .stdout)])
        let interpolated = RecordingOutput()
        c.value("let n = 3\nprint(\"n = \\(n), list \\([n, n])\")", output: interpolated)
        #expect(interpolated.stdout == "n = 3, list [3, 3]\n")
    }

    @Test("print(to: .stderr) writes to stderr")
    func stderr() {
        let out = RecordingOutput()
        Cells().value("print(\"warning\", to: .stderr)", output: out)
        #expect(out.events == [.write("warning\n", .stderr)])
    }

    @Test("output is buffered and flushed at the end of the cell, before it returns")
    func buffering() {
        let out = RecordingOutput()
        let r = Session().execute("print(\"a\")\nprint(\"b\")\nprint(\"e\", to: .stderr)\nprint(\"c\")\n42", output: out)
        #expect(r.value == MIMEBundle.text("42"))
        #expect(out.stdout == "a\nb\nc\n")
        #expect(out.stderr == "e\n")
        // Within 50 ms everything goes out as one stream message per stream: stdout first, then stderr.
        #expect(out.events.count <= 4)
        if r.error == nil && out.events.count == 2 {
            #expect(out.events == [.write("a\nb\nc\n", .stdout), .write("e\n", .stderr)])
        }
    }

    @Test("output before an error is flushed")
    func flushedOnError() {
        let out = RecordingOutput()
        let r = Session().execute("print(\"before\")\n1 / 0\nprint(\"after\")", output: out)
        #expect(r.error?.name == "ArithmeticError")
        #expect(out.events == [.write("before\n", .stdout)])
    }

    @Test("displays flush the text before them, keeping the order")
    func displayOrder() {
        let out = RecordingOutput()
        Cells().value("print(\"a\")\ndisplay(html: \"<b>x</b>\")\nprint(\"b\")", output: out)
        #expect(out.events == [
            .write("a\n", .stdout),
            .display(MIMEBundle(data: ["text/html": "<b>x</b>", "text/plain": "<html>"]), id: nil, update: false),
            .write("b\n", .stdout),
        ])
    }

    static let displayCases: [(String, JSONObject)] = [
        ("display(html: \"<i>h</i>\")", ["text/html": "<i>h</i>", "text/plain": "<html>"]),
        ("display(markdown: \"# T\")", ["text/markdown": "# T", "text/plain": "# T"]),
        ("display(svg: \"<svg/>\")", ["image/svg+xml": "<svg/>", "text/plain": "<svg>"]),
        ("display(latex: \"$x^2$\")", ["text/latex": "$x^2$", "text/plain": "$x^2$"]),
        ("display(json: \"{\\\"a\\\": [1, true]}\")", ["application/json": ["a": [1, true]], "text/plain": "<json>"]),
        ("display(42)", ["text/plain": "42"]),
        ("display(\"s\")", ["text/plain": "\"s\""]),
        ("display([1, 2])", ["text/plain": "[1, 2]"]),
        ("display()", ["text/plain": "nil"]),
        ("display(7, html: \"<b>7</b>\")", ["text/plain": "7", "text/html": "<b>7</b>"]),
        ("display(html: \"<p/>\", markdown: \"p\")", ["text/html": "<p/>", "text/markdown": "p", "text/plain": "<html>"]),
        ]

    @Test("display of rich content", arguments: displayCases)
    func displayKinds(_ code: String, _ expected: JSONObject) throws {
        let out = RecordingOutput()
        let result = Cells().value(code, output: out)
        #expect(result == "", "display returns nothing")
        let d = try #require(out.displays.first)
        #expect(out.displays.count == 1)
        #expect(d.bundle.data == expected, "\(code)")
        #expect(d.id == nil)
        #expect(d.update == false)
    }

    @Test("display with id, then update")
    func displayUpdate() {
        let out = RecordingOutput()
        let c = Cells()
        c.value("display(markdown: \"step 1\", id: \"progress\")", output: out)
        c.value("display(markdown: \"step 2\", id: \"progress\", update: true)", output: out)
        let d = out.displays
        #expect(d.count == 2)
        #expect(d[0].id == "progress" && d[0].update == false)
        #expect(d[1].id == "progress" && d[1].update == true)
        #expect(d[1].bundle.data["text/markdown"] == "step 2")
    }

    @Test("display errors", arguments: [
        ("display(update: true)", "ArgumentError"),
        ("display(html: 3)", "TypeError"),
        ("display(json: \"{not json\")", "ValueError"),
        ("display(id: 5)", "TypeError"),  // an id is a String, never silently dropped
        ("display(id: \"x\", update: 1)", "TypeError"),
        ("display(update: true, id: \"x\")", "ArgumentError"),  // labels in the wrong order
    ])
    func displayErrors(_ code: String, _ expectedName: String) {
        let r = Session().execute(code, output: RecordingOutput())
        #expect((r.error?.name ?? "") == expectedName, "\(code): \(r.error?.message ?? "ok")")
    }

    @Test("clearOutput")
    func clear() {
        let out = RecordingOutput()
        Cells().value("print(\"x\")\nclearOutput()\nclearOutput(wait: true)", output: out)
        #expect(out.events == [.write("x\n", .stdout), .clear(wait: false), .clear(wait: true)])
    }

    @Test("page adds a payload instead of a result")
    func page() throws {
        let s = Session()
        let r = s.execute("page(\"long text\")", output: RecordingOutput())
        #expect(r.error == nil)
        #expect(r.value == nil)
        #expect(r.payloads.count == 1)
        let p = try #require(r.payloads.first)
        #expect(p.source == "page")
        #expect(p.bundle == MIMEBundle.text("long text"))
        let helpPage = s.execute("page(help(sleep))", output: RecordingOutput())
        #expect(helpPage.payloads.first?.bundle.data["text/markdown"] != nil)
        // Payloads belong to one cell.
        #expect(s.execute("1", output: RecordingOutput()).payloads.isEmpty)
        // Payloads added before an error are kept.
        let failed = s.execute("page(\"p\")\n1 / 0", output: RecordingOutput())
        #expect(failed.error != nil)
        #expect(failed.payloads.count == 1)
    }

    @Test("help(print) shows the signature and the doc")
    func helpPrint() throws {
        let r = Session().execute("help(print)", output: RecordingOutput())
        let bundle = try #require(r.value)
        let text = try #require(bundle.data["text/plain"]?.stringValue)
        #expect(text.hasPrefix("print(_ Any..., separator: String = \" \", terminator: String = \"\\n\", to: Stream = .stdout)\n\n"))
        #expect(text.contains("Writes the items"))
        let markdown = try #require(bundle.data["text/markdown"]?.stringValue)
        #expect(markdown.hasPrefix("```swift\nprint("))
    }

    @Test("help() lists every built-in with its signature")
    func helpAll() throws {
        let s = Session()
        let r = s.execute("help()", output: RecordingOutput())
        let text = try #require(r.value?.data["text/plain"]?.stringValue)
        #expect(text.hasPrefix("PEFTLab built-ins\n\n"))
        for name in s.builtinNames { #expect(text.contains("  \(name)("), "\(name)") }
        #expect(text.contains("  sleep(seconds: Double)"))
        #expect(text.contains("  help(_ Function = nil) -> Help"))
        #expect(s.builtinNames == s.builtinNames.sorted())
        #expect(Set(s.builtinNames).isSuperset(of: ["print", "display", "clearOutput", "page", "sleep", "help"]))
    }

    @Test("sleep waits")
    func sleepWaits() {
        let start = ContinuousClock.now
        #expect(Cells().value("sleep(seconds: 0.05)") == "")
        #expect(ContinuousClock.now - start >= .milliseconds(50))
        #expect(Cells().value("sleep(seconds: 0)") == "")
        #expect(Cells().error("sleep(seconds: -1)").name == "ValueError")
    }
}

@Suite("Session: interrupt")
struct InterruptTests {
    @Test("sleep is interruptible")
    func interruptSleep() {
        let s = Session()
        _ = s.execute("let kept = 1", output: RecordingOutput())
        let out = RecordingOutput()
        let (r, elapsed) = executeInterrupted(s, "print(\"start\")\nsleep(seconds: 10)\nprint(\"never\")", after: 0.05, output: out)
        #expect(r.error?.name == "Interrupted")
        #expect(r.error?.location?.line == 2)
        #expect(elapsed < .seconds(2), "stopped quickly, not after 10 s")
        #expect(out.stdout == "start\n", "output before the interrupt is flushed")
        // The session stays usable and keeps its variables.
        #expect(Cells(s).value("kept + 1") == "2")
    }

    @Test("while loops check for interruption")
    func interruptWhile() {
        let s = Session()
        let (r, elapsed) = executeInterrupted(s, "var spins = 0\nwhile true { spins += 1 }", after: 0.05)
        #expect(r.error?.name == "Interrupted")
        #expect(elapsed < .seconds(5))
        #expect(Cells(s).value("spins > 0") == "true", "completed iterations are kept")
    }

    @Test("for loops check for interruption")
    func interruptFor() {
        let s = Session()
        let (r, elapsed) = executeInterrupted(s, "var n = 0\nfor i in 0..<9223372036854775807 { n = i }", after: 0.05)
        #expect(r.error?.name == "Interrupted")
        #expect(elapsed < .seconds(5))
        let (nested, _) = executeInterrupted(s, "for i in 0..<1000000 { for j in 0..<1000000 { } }", after: 0.05)
        #expect(nested.error?.name == "Interrupted")
    }

    @Test("an interrupt while idle does not stop the next cell")
    func idleInterrupt() {
        let s = Session()
        s.interrupt()
        #expect(Cells(s).value("var x = 0\nfor i in 0..<100 { x += i }\nx") == "4950")
    }
}
