// Golden tests of the parser through Expr.treeDescription, and its syntax errors.

import Runtime
import Testing

@Suite("Parser")
struct ParserTests {
    @Test("expressions", arguments: [
        // Precedence and associativity (Swift's).
        ("1 + 2 * 3", "(+ 1 (* 2 3))"),
        ("(1 + 2) * 3", "(* (+ 1 2) 3)"),
        ("1 - 2 - 3", "(- (- 1 2) 3)"),
        ("8 / 4 / 2", "(/ (/ 8 4) 2)"),
        ("7 % 3 * 2", "(* (% 7 3) 2)"),
        ("a || b && c", "(|| a (&& b c))"),
        ("a && b || c && d", "(|| (&& a b) (&& c d))"),
        ("1 + 2 < 3 * 4", "(< (+ 1 2) (* 3 4))"),
        ("a == b && c != d", "(&& (== a b) (!= c d))"),
        ("x % 2 == 0 || y >= 1", "(|| (== (% x 2) 0) (>= y 1))"),
        ("0..<n + 1", "(..< 0 (+ n 1))"),
        ("1...3", "(... 1 3)"),
        ("a <= b", "(<= a b)"),
        ("((1))", "1"),
        // Unary.
        ("-x * y", "(* (- x) y)"),
        ("--x", "(- (- x))"),
        ("!a && !b", "(&& (! a) (! b))"),
        ("-x.y", "(- (. x y))"),
        ("-f(1)[0]", "(- (sub (call f 1) 0))"),
        ("!(a || b)", "(! (|| a b))"),
        ("2 - -3", "(- 2 (- 3))"),
        // Literals.
        ("42", "42"),
        ("1_000_000", "1000000"),
        ("2.5", "2.5"),
        ("2e-4", "0.0002"),
        ("1E3", "1000.0"),
        ("1.5e+2", "150.0"),
        ("true", "true"),
        ("false", "false"),
        ("nil", "nil"),
        ("\"plain\"", "(str \"plain\")"),
        ("\"\"", "(str \"\")"),
        ("\"tab\\tquote\\\"\"", "(str \"tab\tquote\"\")"),
        // Calls with labels.
        ("f()", "(call f)"),
        ("f(1, x: 2, y: g(3))", "(call f 1 x: 2 y: (call g 3))"),
        ("lora(rank: 8, alpha: 16, on: .both)", "(call lora rank: 8 alpha: 16 on: .both)"),
        ("f(x)(y)", "(call (call f x) y)"),
        ("f(a: b ? c)", "error: expected ',' or ')', found '?' @1:8"),
        // Member chains and subscripts.
        ("a.b.c", "(. (. a b) c)"),
        ("run.train(steps: 50)", "(call (. run train) steps: 50)"),
        ("run.loss.last", "(. (. run loss) last)"),
        ("a[0]", "(sub a 0)"),
        ("a[0][1]", "(sub (sub a 0) 1)"),
        ("m[\"k\"]", "(sub m (str \"k\"))"),
        ("f(x)[0].y", "(. (sub (call f x) 0) y)"),
        ("test[0].image", "(. (sub test 0) image)"),
        ("a[i + 1]", "(sub a (+ i 1))"),
        // Arrays and dictionaries.
        ("[1, 2, 3]", "[1 2 3]"),
        ("[]", "[]"),
        ("[1, 2,]", "[1 2]"),
        ("[[1], []]", "[[1] []]"),
        ("[\"a\": 1, \"b\": 2]", "[(str \"a\"):1 (str \"b\"):2]"),
        ("[1: [2]]", "[1:[2]]"),
        ("[:]", "[:]"),
        // Dot-cases.
        (".tuned", ".tuned"),
        ("attach(base, m, connector: .frozen)", "(call attach base m connector: .frozen)"),
        ("[.a, .b]", "[.a .b]"),
        // String interpolation.
        ("\"a\\(x)b\"", "(str \"a\" x \"b\")"),
        ("\"\\(1 + 2)\"", "(str (+ 1 2))"),
        ("\"n = \\(n), twice \\(n * 2)\"", "(str \"n = \" n \", twice \" (* n 2))"),
        ("\"\\(f(\"in\"))\"", "(str (call f (str \"in\")))"),
        ("\"\\(\"in \\(x)\")\"", "(str (str \"in \" x))"),
        ("\"\\(a[0].b)!\"", "(str (. (sub a 0) b) \"!\")"),
        // Comments.
        ("x // a comment", "x"),
        ("x /* c */ + 1", "(+ x 1)"),
        ("/* a /* nested */ still comment */ 1", "1"),
        ("// only a comment", ""),
        ("1 /* multi\nline */ + 2", "(+ 1 2)"),
        // New lines inside brackets and after operators.
        ("f(\n  1,\n  x: 2\n)", "(call f 1 x: 2)"),
        ("[\n1,\n2\n]", "[1 2]"),
        ("[\n\"k\":\n1\n]", "[(str \"k\"):1]"),
        ("(1 +\n 2)", "(+ 1 2)"),
        ("(1\n + 2)", "(+ 1 2)"),
        ("1 +\n2", "(+ 1 2)"),
        ("a &&\n b", "(&& a b)"),
        ("f(a:\n 1)", "(call f a: 1)"),
        // A call or subscript must start on the line of its callee.
        ("f\n(1)", "f; 1"),
        ("a\n[1]", "a; [1]"),
        ("a\n.b", "a; .b"),
    ])
    func expressions(_ source: String, _ expected: String) {
        #expect(tree(source) == expected, "\(source)")
    }

    @Test("statements", arguments: [
        ("let x = 1", "(let x 1)"),
        ("var y = x + 1", "(var y (+ x 1))"),
        ("x = 2", "(= x 2)"),
        ("x += 1", "(+= x 1)"),
        ("x -= 1; x *= 2; x /= 3", "(-= x 1); (*= x 2); (/= x 3)"),
        ("a[0] = 1", "(= (sub a 0) 1)"),
        ("a.b = c.d", "(= (. a b) (. c d))"),
        ("d[\"k\"] += 1", "(+= (sub d (str \"k\")) 1)"),
        ("let a = 1; let b = 2", "(let a 1); (let b 2)"),
        ("let a = 1;;; let b = 2;", "(let a 1); (let b 2)"),
        ("\n\n1\n\n2\n\n", "1; 2"),
        ("if a { 1 }", "(if a {1})"),
        ("if a { 1 } else { 2 }", "(if a {1} else {2})"),
        ("if a { 1 } else if b { 2 } else { 3 }", "(if a {1} else {(if b {2} else {3})})"),
        ("if a {\n} else if b {\n}", "(if a {} else {(if b {})})"),
        ("if x > 1 && y {\n  print(x)\n  x = 0\n}", "(if (&& (> x 1) y) {(call print x); (= x 0)})"),
        ("for i in 0..<3 { print(i) }", "(for i (..< 0 3) {(call print i)})"),
        ("for x in [1, 2] {\n}", "(for x [1 2] {})"),
        ("for c in \"abc\" { continue }", "(for c (str \"abc\") {continue})"),
        ("while x < 3 { x += 1; if x == 2 { break } else { continue } }",
         "(while (< x 3) {(+= x 1); (if (== x 2) {break} else {continue})})"),
        ("while true {\n  break\n}", "(while true {break})"),
        ("for i in 0..<2 {\n  for j in 0..<2 {\n    print(i, j)\n  }\n}",
         "(for i (..< 0 2) {(for j (..< 0 2) {(call print i j)})})"),
        ("break", "break"),
        ("let s = \"\\(a)\" // trailing comment\ns", "(let s (str a)); s"),
        ("let x = [\n  1,\n  2,\n]\nx.count", "(let x [1 2]); (. x count)"),
        ("if a { 1 } else { 2 }; 3", "(if a {1} else {2}); 3"),
    ])
    func statements(_ source: String, _ expected: String) {
        #expect(tree(source) == expected, "\(source)")
    }

    @Test("syntax errors say where and what was expected", arguments: [
        ("let = 1", "error: expected a name after 'let', found '=' @1:5"),
        ("var 3 = 1", "error: expected a name after 'var', found '3' @1:5"),
        ("let x 1", "error: expected '=' and a value, found '1' @1:7"),
        ("let x = ", "error: expected an expression, found end of cell @1:9 atEnd"),
        ("1 +", "error: expected an expression, found end of cell @1:4 atEnd"),
        ("f(1, 2", "error: expected ',' or ')', found end of cell @1:7 atEnd"),
        ("[1, 2", "error: expected ',' or ']', found end of cell @1:6 atEnd"),
        ("(1 + 2", "error: expected ')', found end of cell @1:7 atEnd"),
        ("if x {", "error: expected '}' to close the block, found end of cell @1:7 atEnd"),
        ("if x {\n  print(1)\n", "error: expected '}' to close the block, found end of cell @3:1 atEnd"),
        ("if x print(1)", "error: expected '{' to open a block, found 'print' @1:6"),
        ("for in x {}", "error: expected a loop variable after 'for', found 'in' @1:5"),
        ("for i of x {}", "error: expected 'in', found 'of' @1:7"),
        ("1 2", "error: expected a new line or ';' between statements, found '2' @1:3"),
        ("let x = 1\nlet y = )", "error: expected an expression, found ')' @2:9"),
        ("x = @", "error: unexpected character '@' @1:5"),
        ("12abc", "error: 'a' is not a valid digit in a number @1:3"),
        ("99999999999999999999", "error: integer literal '99999999999999999999' does not fit in 64 bits @1:1"),
        ("/* open", "error: unterminated comment @1:1 atEnd"),
        ("\"\\q\"", "error: invalid escape '\\q' in string @1:3"),
        ("\"abc\ndef\"", "error: unterminated string (a string ends on the line it starts) @1:1"),
        ("a < b < c", "error: '<' cannot follow another '<' without parentheses @1:7"),
        ("a == b != c", "error: '!=' cannot follow another '==' without parentheses @1:8"),
        ("1..<2..<3", "error: '..<' cannot follow another '..<' without parentheses @1:6"),
        ("1 = 2", "error: cannot assign to this expression @1:1"),
        ("f() = 2", "error: cannot assign to this expression @1:2"),
        ("[1: 2, 3]", "error: expected ':' and a value in a dictionary literal, found ']' @1:9"),
        ("[1, 2: 3]", "error: expected ',' or ']' in an array literal, found ':' @1:6"),
        ("f(x: )", "error: expected an expression, found ')' @1:6"),
        ("a.", "error: expected a member name after '.', found end of cell @1:3 atEnd"),
        ("a.+", "error: expected a member name after '.', found '+' @1:3"),
        (". 5", "error: expected a case name after '.', found '5' @1:3"),
        ("}", "error: expected an expression, found '}' @1:1"),
        ("else { }", "error: expected an expression, found 'else' @1:1"),
        ("let x = 1 }", "error: expected an expression, found '}' @1:11"),
        ("print(\"a\"\n", "error: expected ',' or ')', found end of cell @2:1 atEnd"),
        ("x\n  y z", "error: expected a new line or ';' between statements, found 'z' @2:5"),
        ("\"\\(1 + )\"", "error: expected an expression, found end of cell @1:8"),
        ("\"a \\(x y)\"", "error: expected ')' to end the interpolation, found 'y' @1:8"),
    ])
    func syntaxErrors(_ source: String, _ expected: String) {
        #expect(tree(source) == expected, "\(source)")
    }

    @Test("SyntaxError.atEnd marks input that more lines could finish")
    func atEnd() {
        func atEnd(_ s: String) -> Bool? {
            do { _ = try Parser.parse(s); return nil } catch { return error.atEnd }
        }
        for unfinished in ["if x {", "f(", "[1,", "let x =", "1 *", "while true {\n  x += 1", "/* open", "for i in 0..<3 {",
                           "if a { } else {", "[\"k\":", "(\n"] {
            #expect(atEnd(unfinished) == true, "\(unfinished)")
        }
        for broken in ["1 2", "let = 1", "x = @", "}", "a < b < c", "f(1 2)", "\"a\\(1 +)\""] {
            #expect(atEnd(broken) == false, "\(broken)")
        }
        #expect(atEnd("let x = 1") == nil)
    }

    @Test("locations of expressions")
    func locations() throws {
        let statements = try Parser.parse("let a = 1\n  foo(bar: 2) + x")
        guard case .expression(let e) = try #require(statements.last),
              case .binary(let op, let lhs, let rhs, let at) = e else {
            Issue.record("unexpected tree"); return
        }
        #expect(op == "+")
        #expect(at == SourceLocation(line: 2, column: 15, offset: 24))
        #expect(lhs.location.line == 2)
        #expect(lhs.location.column == 6, "a call is located at its '('")
        #expect(rhs.location == SourceLocation(line: 2, column: 17, offset: 26))
    }

    @Test("nesting deeper than the limit is an error, never a crash", arguments: [
        String(repeating: "(", count: 100_000) + "1" + String(repeating: ")", count: 100_000),
        String(repeating: "(", count: 100_000),
        String(repeating: "[", count: 100_000),
        String(repeating: "-", count: 100_000) + "1",
        String(repeating: "!", count: 100_000) + "true",
        String(repeating: "f(", count: 50_000),
        String(repeating: "[1: ", count: 50_000),
        Array(repeating: "1", count: 100_000).joined(separator: " + "),
        Array(repeating: "a", count: 100_000).joined(separator: " && "),
        "a" + String(repeating: ".b", count: 100_000),
        "a" + String(repeating: "[0]", count: 100_000),
        "f" + String(repeating: "()", count: 100_000),
        String(repeating: "if true {\n", count: 10_000),
        String(repeating: "while x { ", count: 10_000) + String(repeating: "}", count: 10_000),
        String(repeating: "\"\\(", count: 2_000) + "1" + String(repeating: ")\"", count: 2_000),
    ])
    func deepNesting(_ source: String) {
        do {
            _ = try Parser.parse(source)
            Issue.record("should be rejected")
        } catch {
            #expect(!error.message.isEmpty)
        }
    }

    @Test("reasonable depth still parses")
    func reasonableDepth() throws {
        let parens = String(repeating: "(", count: 60) + "1" + String(repeating: ")", count: 60)
        #expect(tree(parens) == "1")
        let sum = Array(repeating: "1", count: 100).joined(separator: " + ")
        #expect(try Parser.parse(sum).count == 1)
        let chain = "a" + String(repeating: ".b", count: 100)
        #expect(try Parser.parse(chain).count == 1)
    }

    @Test("the lexer: tokens and locations")
    func lexer() throws {
        var lexer = Lexer("let x = 1.5 // c\nx..<3")
        let tokens = try lexer.tokenize()
        #expect(tokens.map(\.kind) == [
            .keyword("let"), .identifier("x"), .symbol("="), .double(1.5), .newline,
            .identifier("x"), .symbol("..<"), .integer(3), .end,
        ])
        #expect(tokens[5].location == SourceLocation(line: 2, column: 1, offset: 17))
        #expect(tokens[0].spelling == "'let'")
        #expect(tokens.last?.spelling == "end of cell")
        var strings = Lexer("\"a\\(b)c\"")
        let kinds = try strings.tokenize().map(\.kind)
        #expect(kinds.first == .string([.text("a"), .interpolation("b", SourceLocation(line: 1, column: 5, offset: 4)), .text("c")]))
    }
}
