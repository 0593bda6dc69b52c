// Session.execute: results, state across cells, and errors a user can act on.

import PEFTLabJSON
import Runtime
import Testing

@Suite("Session: results and state")
struct SessionResultTests {
    @Test("results show as Swift's REPL shows them", arguments: [
        ("6 * 7", "42"),
        ("7 / 2", "3"),
        ("-7 / 2", "-3"),
        ("7 % 3", "1"),
        ("7.0 / 2", "3.5"),
        ("1.5 * 2", "3.0"),
        ("0.1 + 0.2", "0.30000000000000004"),
        ("2e-4", "0.0002"),
        ("1 + 2.5", "3.5"),
        ("1.0 / 0", "inf"),
        ("-1.0 / 0", "-inf"),
        ("7.5 % 2", "1.5"),
        ("\"hi\"", "\"hi\""),
        ("\"a\\nb\\t\\\"q\\\" \\\\\"", "\"a\\nb\\t\\\"q\\\" \\\\\""),
        ("\"ab\" + \"cd\"", "\"abcd\""),
        ("\"x\\(1 + 1)y\"", "\"x2y\""),
        ("\"\\(\"inner\")\"", "\"inner\""),
        ("\"\\([1, 2])\"", "\"[1, 2]\""),
        ("[1, 2, 3]", "[1, 2, 3]"),
        ("[\"a\", \"b\"]", "[\"a\", \"b\"]"),
        ("[[1], []]", "[[1], []]"),
        ("[1, 2] + [3]", "[1, 2, 3]"),
        ("[\"a\": 1, \"b\": 2]", "[\"a\": 1, \"b\": 2]"),
        ("[\"a\": 1, \"a\": 2]", "[\"a\": 2]"),
        ("[:]", "[:]"),
        ("[]", "[]"),
        ("true && false", "false"),
        ("true || false", "true"),
        ("!true", "false"),
        ("1 < 2", "true"),
        ("\"a\" < \"b\"", "true"),
        ("1 == 1.0", "true"),
        ("[1, 2] == [1, 2]", "true"),
        ("\"1\" == 1", "false"),
        ("nil", "nil"),
        (".tuned", ".tuned"),
        ("0..<3", "0..<3"),
        ("(0..<3).count", "3"),
        ("[1, 2, 3].count", "3"),
        ("[1, 2, 3].first", "1"),
        ("[1, 2, 3].last", "3"),
        ("[].first", "nil"),
        ("[].isEmpty", "true"),
        ("\"héllo\".count", "5"),
        ("\"abc\"[1]", "\"b\""),
        ("[\"k\": 1].keys", "[\"k\"]"),
        ("[\"k\": 1][\"k\"]", "1"),
        ("[\"k\": 1][\"missing\"]", "nil"),
        ("[10, 20][1]", "20"),
        ("9223372036854775807", "9223372036854775807"),
        ("-9223372036854775807 - 1", "-9223372036854775808"),
        ("let x = 1", ""),
        ("", ""),
        ("// nothing", ""),
        ("print", "print(_ Any..., separator: String = \" \", terminator: String = \"\\n\", to: Stream = .stdout)"),
        ("1\n2\n3", "3"),
        ("let a = 2\na * a", "4"),
    ])
    func results(_ code: String, _ expected: String) {
        #expect(Cells().value(code) == expected, "\(code)")
    }

    @Test("a result is a text/plain MIME bundle; statements have none")
    func mimeBundles() throws {
        let s = Session()
        let r = s.execute("6 * 7", output: RecordingOutput())
        #expect(r.error == nil)
        #expect(r.value == MIMEBundle.text("42"))
        #expect(r.payloads.isEmpty)
        let statement = s.execute("var v = 1", output: RecordingOutput())
        #expect(statement.value == nil)
        #expect(statement.error == nil)
        let void = s.execute("print(\"x\")", output: RecordingOutput())
        #expect(void.value == nil, "Void shows nothing")
    }

    @Test("variables persist across cells")
    func persistence() {
        let c = Cells()
        c.value("let x = 6")
        c.value("var y = x + 1")
        #expect(c.value("x * y") == "42")
        c.value("y += 2")
        c.value("y *= 2")
        #expect(c.value("y") == "18")
        c.value("y -= 3; y /= 5")
        #expect(c.value("y") == "3")
        c.value("let x = 10")  // a new cell may redeclare a name, as in a notebook
        #expect(c.value("x") == "10")
        c.value("var list = [1, 2, 3]\nlist[1] = 20")
        #expect(c.value("list") == "[1, 20, 3]")
        c.value("var d = [:]\nd[\"k\"] = 1\nd[\"k\"] += 1")
        #expect(c.value("d") == "[\"k\": 2]")
        c.value("var nested = [[1, 2], [3]]\nnested[0][1] = 9")
        #expect(c.value("nested") == "[[1, 9], [3]]")
        c.value("var s = \"a\"\ns += \"b\"")
        #expect(c.value("s") == "\"ab\"")
    }

    @Test("what ran before an error stays done")
    func partialCell() {
        let c = Cells()
        let e = c.error("var n = 1\nn = 2\nlet m = 5\n1 / 0\nn = 3")
        #expect(e.name == "ArithmeticError")
        #expect(c.value("n") == "2")
        #expect(c.value("m") == "5")
    }

    @Test("loops, conditions and scopes")
    func control() {
        let c = Cells()
        #expect(c.value("var total = 0\nfor i in 0..<5 { total += i }\ntotal") == "10")
        #expect(c.value("var t = 0\nfor i in 1...4 { t += i }\nt") == "10")
        #expect(c.value("var out = \"\"\nfor ch in \"abc\" { out = ch + out }\nout") == "\"cba\"")
        #expect(c.value("var keys = []\nfor pair in [\"a\": 1, \"b\": 2] { keys = keys + [pair[0]] }\nkeys") == "[\"a\", \"b\"]")
        #expect(c.value("var n = 0\nwhile true { n += 1; if n == 5 { break } }\nn") == "5")
        #expect(c.value("var odd = 0\nfor i in 0..<10 { if i % 2 == 0 { continue }; odd += 1 }\nodd") == "5")
        #expect(c.value("var k = 0\nfor i in 0..<3 { for j in 0..<3 { if j == 1 { break }; k += 1 } }\nk") == "3")
        #expect(c.value("var r = \"\"\nlet v = 7\nif v < 5 { r = \"small\" } else if v < 10 { r = \"medium\" } else { r = \"large\" }\nr") == "\"medium\"")
        #expect(c.value("var z = 0\nfor i in 5..<5 { z += 1 }\nz") == "0")
        // Loop variables and block bindings do not leak.
        #expect(c.error("for q in [1] { }\nq").name == "NameError")
        #expect(c.error("if true { let inner = 1 }\ninner").name == "NameError")
        // A block binding may shadow a global without changing it.
        #expect(c.value("let g = 1\nif true { let g = 2 }\ng") == "1")
        // Short-circuit: the right side is not evaluated.
        #expect(c.value("false && undefinedThing") == "false")
        #expect(c.value("true || 1 / 0 == 1") == "true")
    }
}

@Suite("Session: errors")
struct SessionErrorTests {
    @Test("let is constant, var is not")
    func letVar() {
        let c = Cells()
        c.value("let c = 1\nvar v = 1")
        let e = c.error("c = 2")
        #expect(e.summary == "NameError: cannot assign to 'c': it is a 'let' constant (declare it with 'var' to change it)")
        #expect(c.error("c += 1").name == "NameError")
        #expect(c.value("c") == "1")
        c.value("v = 2")
        #expect(c.value("v") == "2")
        #expect(c.error("let arr = [1]\narr[0] = 2").name == "NameError")
        #expect(c.error("for i in [1] { i = 2 }").name == "NameError")
        #expect(c.error("undeclared = 1").summary.hasPrefix("NameError: cannot find 'undeclared' in scope"))
        #expect(c.error("let print = 1").summary == "NameError: 'print' is a built-in function; choose another name")
    }

    @Test("an unknown name suggests the nearest known ones")
    func didYouMean() {
        let c = Cells()
        c.value("let learningRate = 0.1")
        #expect(c.error("learningRat * 2").summary
                == "NameError: cannot find 'learningRat' in scope; did you mean 'learningRate'?")
        #expect(c.error("prnt(1)").summary == "NameError: cannot find 'prnt' in scope; did you mean 'print'?")
        #expect(c.error("slep(seconds: 1)").message.contains("did you mean 'sleep'"))
        #expect(c.error("qqqqqqqqqq").summary == "NameError: cannot find 'qqqqqqqqqq' in scope")
        #expect(c.error("for item in [1] { itm }").message.contains("'item'"))
    }

    @Test("a wrong argument label lists the accepted labels")
    func wrongLabel() {
        let c = Cells()
        #expect(c.error("clearOutput(wiat: true)").summary
                == "ArgumentError: clearOutput() has no argument labeled 'wiat:' (did you mean 'wait:'?); accepted labels: wait:")
        #expect(c.error("display(htm: \"x\")").summary
                == "ArgumentError: display() has no argument labeled 'htm:' (did you mean 'html:'?); accepted labels: _, html:, markdown:, svg:, latex:, json:, id:, update:")
        #expect(c.error("clearOutput(true)").summary == "ArgumentError: clearOutput() takes no unlabeled argument; accepted labels: wait:")
        #expect(c.error("print(\"a\", terminator: \"\", separator: \"-\")").message.hasPrefix("argument 'separator:' is out of order in call to print("))
        #expect(c.error("help(print, print)").summary == "ArgumentError: too many unlabeled arguments in call to help(_ Function = nil) -> Help")
    }

    @Test("a wrong label on a required parameter names the label and the accepted ones")
    func wrongLabelOnRequired() {
        let e = Cells().error("sleep(secs: 1)")
        #expect(e.name == "ArgumentError")
        #expect(e.message.contains("'secs:'"), "\(e.message)")
        #expect(e.message.contains("seconds:"), "\(e.message)")
    }

    @Test("a missing argument")
    func missingArgument() {
        let c = Cells()
        #expect(c.error("sleep()").summary == "ArgumentError: missing argument 'seconds:' in call to sleep(seconds: Double)")
        #expect(c.error("sleep(1)").summary == "ArgumentError: missing argument 'seconds:' in call to sleep(seconds: Double)")
        #expect(c.error("page()").summary == "ArgumentError: missing an unlabeled Any argument in call to page(_ Any)")
    }

    @Test("type errors name the expected and the given type", arguments: [
        ("1 + \"a\"", "TypeError: '+' cannot combine Int and String"),
        ("[1] * 2", "TypeError: '*' cannot combine Array and Int"),
        ("\"a\" - \"b\"", "TypeError: '-' cannot combine String and String"),
        ("true < false", "TypeError: '<' cannot combine Bool and Bool"),
        ("sleep(seconds: \"x\")", "TypeError: sleep(): argument 'seconds:' expects a number, got String \"x\""),
        ("clearOutput(wait: 1)", "TypeError: clearOutput(): argument 'wait:' expects a Bool, got Int 1"),
        ("print(1, separator: 2)", "TypeError: print(): argument 'separator:' expects a String, got Int 2"),
        ("print(1, to: .file)", "TypeError: print(): argument 'to:' expects one of .stdout, .stderr, got Case .file"),
        ("if 1 { }", "TypeError: a condition must be a Bool, not Int 1"),
        ("while \"x\" { }", "TypeError: a condition must be a Bool, not String \"x\""),
        ("1 && true", "TypeError: a condition must be a Bool, not Int 1"),
        ("-\"a\"", "TypeError: '-' cannot be applied to String"),
        ("!1", "TypeError: '!' cannot be applied to Int"),
        ("5(1)", "TypeError: Int 5 is not a function"),
        ("\"f\"()", "TypeError: String \"f\" is not a function"),
        ("[1][\"a\"]", "TypeError: cannot subscript a Array with a String"),
        ("1[0]", "TypeError: cannot subscript a Int with a Int"),
        ("help(1)", "TypeError: help(): argument 1 expects a built-in function such as print, got Int 1"),
        ("1.count", "NameError: Int has no member 'count'"),
        ("[1].size", "NameError: Array has no member 'size'"),
    ])
    func typeErrors(_ code: String, _ expected: String) {
        #expect(Cells().error(code).summary == expected, "\(code)")
    }

    @Test("iterating over something that is not a sequence")
    func iterate() {
        let e = Cells().error("for x in 5 { }")
        #expect(e.name == "TypeError")
        #expect(e.message.contains("Int"))
    }

    @Test("integer overflow and division by zero are errors, not traps", arguments: [
        ("9223372036854775807 + 1", "ArithmeticError: integer overflow in 9223372036854775807 + 1"),
        ("-9223372036854775807 - 2", "ArithmeticError: integer overflow in -9223372036854775807 - 2"),
        ("9223372036854775807 * 2", "ArithmeticError: integer overflow in 9223372036854775807 * 2"),
        ("let m = -9223372036854775807 - 1\n-m", "ArithmeticError: integer overflow in --9223372036854775808"),
        ("let m = -9223372036854775807 - 1\nm / -1", "ArithmeticError: integer overflow in -9223372036854775808 / -1"),
        ("let m = -9223372036854775807 - 1\nm % -1", "ArithmeticError: integer overflow in -9223372036854775808 % -1"),
        ("1 / 0", "ArithmeticError: division by zero in 1 / 0"),
        ("1 % 0", "ArithmeticError: division by zero in 1 % 0"),
        ("var x = 1\nx /= 0", "ArithmeticError: division by zero in 1 / 0"),
        ("var big = 9223372036854775807\nbig += 1", "ArithmeticError: integer overflow in 9223372036854775807 + 1"),
        ("1...9223372036854775807", "ArithmeticError: integer overflow in 1 ... 9223372036854775807"),
        ("3..<1", "ValueError: range 3..<1 has its upper bound below its lower bound"),
        ("[1, 2][5]", "IndexError: index 5 is out of range for 2 elements"),
        ("[1][-1]", "IndexError: index -1 is out of range for 1 element"),
        ("\"ab\"[2]", "IndexError: index 2 is out of range for 2 elements"),
        ("var a = [1]\na[3] = 0", "IndexError: index 3 is out of range for 1 element"),
    ])
    func arithmetic(_ code: String, _ expected: String) {
        #expect(Cells().error(code).summary == expected, "\(code)")
    }

    @Test("break and continue outside a loop")
    func breakOutside() {
        #expect(Cells().error("break").summary == "SyntaxError: 'break' outside a loop")
        #expect(Cells().error("if true { continue }").summary == "SyntaxError: 'continue' outside a loop")
    }

    @Test("a syntax error is a SyntaxError cell error with a caret traceback")
    func syntaxErrorTraceback() throws {
        let e = Cells().error("let x = 1\nlet = 2")
        #expect(e.name == "SyntaxError")
        #expect(e.message == "expected a name after 'let', found '='")
        #expect(e.location?.line == 2)
        #expect(e.location?.column == 5)
        #expect(e.traceback == [
            "\u{1B}[0;31mSyntaxError\u{1B}[0m: expected a name after 'let', found '='",
            "  at line 2, column 5:",
            "    let = 2",
            "        ^",
        ])
    }

    @Test("a runtime error points at its line and column")
    func runtimeTraceback() {
        let e = Cells().error("let a = 1\nlet b = a / 0")
        #expect(e.location == SourceLocation(line: 2, column: 11, offset: 20))
        #expect(e.traceback == [
            "\u{1B}[0;31mArithmeticError\u{1B}[0m: division by zero in 1 / 0",
            "  at line 2, column 11:",
            "    let b = a / 0",
            "              ^",
        ])
        let call = Cells().error("\tsleep(seconds: -1)")
        #expect(call.summary == "ValueError: sleep(seconds:) needs a non-negative number of seconds, got -1.0")
        #expect(call.traceback.count == 4)
        #expect(call.traceback[2] == "     sleep(seconds: -1)", "tabs show as spaces")
    }

    @Test("errors inside loops report the failing iteration's location")
    func loopError() {
        let e = Cells().error("for i in 0..<3 {\n  let r = 10 / (1 - i)\n}")
        #expect(e.summary == "ArithmeticError: division by zero in 10 / 0")
        #expect(e.location?.line == 2)
    }
}
