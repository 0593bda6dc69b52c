// What a front end asks while the user types: is the cell complete, completions, inspection.

import PEFTLabJSON
import Runtime
import Testing

@Suite("Session: is complete")
struct IsCompleteTests {
    @Test("complete cells", arguments: [
        "1", "let x = 1", "", "   ", "// comment", "/* c */", "if x { 1 } else { 2 }", "f(1,\n 2)",
        "print(\"a\")", "for i in 0..<3 {\n  print(i)\n}", "let s = \"{\"", "x = \"(\" // (", "[\n1\n]",
    ])
    func complete(_ code: String) {
        #expect(Session().isComplete(code) == .complete, "\(code)")
    }

    @Test("incomplete cells with the indent for the next line", arguments: [
        ("if x {", "    "),
        ("for i in 0..<3 {", "    "),
        ("if x {\n    if y {", "        "),
        ("while true {\n  x += 1\n  if x > 3 {", "        "),
        ("if a { } else {", "    "),
        ("f(1,", ""),
        ("[1, 2", ""),
        ("[\"k\":", ""),
        ("let x =", ""),
        ("1 +", ""),
        ("print(", ""),
        ("/* comment", ""),
        ("(\n", ""),
    ])
    func incomplete(_ code: String, _ indent: String) {
        #expect(Session().isComplete(code) == .incomplete(indent: indent), "\(code)")
    }

    @Test("invalid cells", arguments: [
        "1 2", "let = 1", "x = @", "a < b < c", "}", "1 = 2", "\"abc\ndef\"", "else { }", "let x 1",
        "f(1 2)", "12abc", "\"\\q\"", "if x {\n  1 2\n",
        "print(\"\\(1 +)\")",   // an unfinished interpolation inside a finished string: more lines cannot help
        "\"abc",                // a string cannot continue on the next line
        "print(\"abc",
    ])
    func invalid(_ code: String) {
        #expect(Session().isComplete(code) == .invalid, "\(code)")
    }
}

@Suite("Session: completion and inspection")
struct CompletionTests {
    @Test("names by prefix: built-ins, keywords, variables and names declared in the cell")
    func prefixes() {
        let s = Session()
        _ = s.execute("let learningRate = 0.1\nvar learningSteps = 3", output: RecordingOutput())
        var c = s.complete("pri", cursor: 3)
        #expect(c.matches == ["print"])
        #expect(c.start == 0 && c.end == 3)
        c = s.complete("x = learn", cursor: 9)
        #expect(c.matches == ["learningRate", "learningSteps"])
        #expect(c.start == 4 && c.end == 9)
        #expect(s.complete("whi", cursor: 3).matches == ["while"])
        #expect(s.complete("let alphaBeta = 1\nalph", cursor: 22).matches == ["alphaBeta"])
        #expect(s.complete("for idx in xs { id", cursor: 18).matches.contains("idx"))
        #expect(s.complete("zzz", cursor: 3).matches == [])
        #expect(s.complete("print", cursor: 5).matches == [], "an exact match needs no completion")
    }

    @Test("an empty prefix offers everything in scope")
    func emptyPrefix() {
        let s = Session()
        _ = s.execute("let mine = 1", output: RecordingOutput())
        let c = s.complete("", cursor: 0)
        for name in s.builtinNames + ["mine", "let", "for"] { #expect(c.matches.contains(name), "\(name)") }
        #expect(c.matches == c.matches.sorted())
    }

    @Test("the cursor is in code points and is clamped")
    func cursor() {
        let s = Session()
        let c = s.complete("é🚀 + pri", cursor: 8)
        #expect(c.matches == ["print"])
        #expect(c.start == 5 && c.end == 8)
        let mid = s.complete("print(sle)", cursor: 9)
        #expect(mid.matches == ["sleep"])
        #expect(mid.start == 6 && mid.end == 9)
        let far = s.complete("sle", cursor: 99)
        #expect(far.matches == ["sleep"] && far.end == 3)
        let negative = s.complete("sle", cursor: -5)
        #expect(negative.start == 0 && negative.end == 0)
    }

    @Test("members after '.'")
    func members() {
        let s = Session()
        _ = s.execute("let xs = [1, 2]\nlet name = \"n\"\nlet d = [\"a\": 1]\nlet r = 0..<3\nlet n = 5", output: RecordingOutput())
        var c = s.complete("xs.", cursor: 3)
        #expect(c.matches == ["count", "first", "isEmpty", "last"])
        #expect(c.start == 3 && c.end == 3)
        c = s.complete("xs.c", cursor: 4)
        #expect(c.matches == ["count"])
        #expect(c.start == 3)
        #expect(s.complete("name.", cursor: 5).matches == ["count", "isEmpty"])
        #expect(s.complete("d.", cursor: 2).matches == ["count", "keys", "values"])
        #expect(s.complete("print(r.", cursor: 8).matches == ["count"])
        #expect(s.complete("n.", cursor: 2).matches == [])
        #expect(s.complete("unknown.", cursor: 8).matches == [])
    }

    @Test("argument labels inside a call")
    func labels() {
        let s = Session()
        #expect(s.complete("sleep(se", cursor: 8).matches == ["seconds:"])
        #expect(s.complete("display(ht", cursor: 10).matches == ["html:"])
        #expect(s.complete("print(1, sep", cursor: 12).matches == ["separator:"])
        #expect(s.complete("clearOutput(", cursor: 12).matches.contains("wait:"))
        #expect(s.complete("print(sleep(se", cursor: 14).matches == ["seconds:"], "the innermost call")
        #expect(s.complete("print(sleep(seconds: 1), sep", cursor: 28).matches == ["separator:"], "after a closed inner call")
        #expect(s.complete("display(id: \"x\", up", cursor: 19).matches == ["update:"])
        #expect(!s.complete("sleep(seconds: 1)\nse", cursor: 20).matches.contains("seconds:"), "outside the call")
    }

    @Test("inspect a built-in: signature and doc")
    func inspectBuiltin() throws {
        let s = Session()
        for (code, cursor) in [("print", 2), ("print", 5), ("print", 0), ("x = sleep(seconds: 1)", 6), ("sleep(", 6), ("sleep(seconds: ", 15)] {
            let bundle = try #require(s.inspect(code, cursor: cursor), "\(code) @\(cursor)")
            let text = try #require(bundle.data["text/plain"]?.stringValue)
            let name = code.contains("sleep") ? "sleep" : "print"
            #expect(text.hasPrefix("\(name)("), "\(code) @\(cursor)")
            #expect(bundle.data["text/markdown"]?.stringValue?.hasPrefix("```swift\n\(name)(") == true)
        }
        let sleep = s.inspect("sleep", cursor: 3)?.data["text/plain"]?.stringValue ?? ""
        #expect(sleep == "sleep(seconds: Double)\n\nWaits for the given number of seconds; an interrupt stops it at once.")
    }

    @Test("inspect a variable: kind, type and value")
    func inspectVariable() {
        let s = Session()
        _ = s.execute("var rate = 0.5\nlet label = \"x\"\nlet xs = [1, 2]", output: RecordingOutput())
        #expect(s.inspect("rate", cursor: 2) == MIMEBundle.text("var rate: Double = 0.5"))
        #expect(s.inspect("print(label)", cursor: 8) == MIMEBundle.text("let label: String = \"x\""))
        #expect(s.inspect("xs", cursor: 2) == MIMEBundle.text("let xs: Array = [1, 2]"))
    }

    @Test("inspect finds nothing where there is nothing")
    func inspectNothing() {
        let s = Session()
        #expect(s.inspect("unknownThing", cursor: 3) == nil)
        #expect(s.inspect("", cursor: 0) == nil)
        #expect(s.inspect("1 + 2", cursor: 2) == nil)
        #expect(s.inspect("let", cursor: 1) == nil)
        #expect(s.inspect("x", cursor: 100) == nil)
    }
}

@Suite("Completion inside strings")
struct StringCompletionTests {
    static let session = Session(extra: [
        Builtin("dataset", [Parameter(nil, "String", choices: { ["mini-iconqa-blank", "mini-iconqa-txt", "mini-vqav2"] }),
                            Parameter("split", "String", default: .string("train"), choices: { ["train", "test"] })],
                doc: "A dataset.") { _, _ in .void },
    ])

    @Test("the choices of a string argument complete inside the string", arguments: [
        ("let d = dataset(\"mini-ic", ["mini-iconqa-blank", "mini-iconqa-txt"], 17),
        ("dataset(\"", ["mini-iconqa-blank", "mini-iconqa-txt", "mini-vqav2"], 9),
        ("dataset(\"mini-vqav2\", split: \"te", ["test"], 30),
    ])
    func choices(code: String, expected: [String], start: Int) {
        let c = Self.session.complete(code, cursor: code.unicodeScalars.count)
        #expect(c.matches == expected)
        #expect(c.start == start)
        #expect(c.end == code.unicodeScalars.count)
    }

    @Test("a string that is no known argument completes nothing")
    func plainString() {
        #expect(Self.session.complete("print(\"mini", cursor: 11).matches.isEmpty)
        #expect(Self.session.complete("let s = \"da", cursor: 11).matches.isEmpty)
    }
}
