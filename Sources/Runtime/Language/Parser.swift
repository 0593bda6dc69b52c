// Stage 4: tokens to statements. Recursive descent with Swift's operator precedence
// (|| < && < comparison < range < + - < * / % < prefix < postfix), and a nesting limit
// so that no input can exhaust the stack.

/// Parses a cell into statements.
public struct Parser {
    private var tokens: [Token]
    private var position = 0
    private var bracketDepth = 0
    private var nesting = 0
    static let maxNesting = 128

    public init(tokens: [Token]) { self.tokens = tokens }

    /// Lexes and parses a whole cell.
    public static func parse(_ source: String) throws(SyntaxError) -> [Stmt] {
        var lexer = Lexer(source)
        var parser = Parser(tokens: try lexer.tokenize())
        return try parser.parseProgram()
    }

    public mutating func parseProgram() throws(SyntaxError) -> [Stmt] {
        var statements: [Stmt] = []
        skipNewlines()
        while !check(.end) {
            statements.append(try statement())
            if !check(.end) { try expectStatementEnd() }
            skipNewlines()
        }
        return statements
    }

    // MARK: - Token access

    private var current: Token {
        var i = position
        if bracketDepth > 0 { while tokens[i].kind == .newline { i += 1 } }
        return tokens[i]
    }

    private mutating func next() -> Token {
        if bracketDepth > 0 { while tokens[position].kind == .newline { position += 1 } }
        let t = tokens[position]
        if t.kind != .end { position += 1 }
        return t
    }

    private func check(_ kind: TokenKind) -> Bool { current.kind == kind }
    private func checkSymbol(_ s: String) -> Bool { current.kind == .symbol(s) }
    private func checkKeyword(_ k: String) -> Bool { current.kind == .keyword(k) }

    private mutating func skipNewlines() { while tokens[position].kind == .newline { position += 1 } }

    private func failure(_ expected: String, at token: Token? = nil) -> SyntaxError {
        let t = token ?? current
        return SyntaxError("expected \(expected), found \(t.spelling)", at: t.location, atEnd: t.kind == .end)
    }

    private mutating func expectSymbol(_ s: String, _ what: String? = nil) throws(SyntaxError) {
        guard checkSymbol(s) else { throw failure(what ?? "'\(s)'") }
        _ = next()
    }

    private mutating func expectIdentifier(_ what: String) throws(SyntaxError) -> String {
        guard case .identifier(let name) = current.kind else { throw failure(what) }
        _ = next()
        return name
    }

    private mutating func expectStatementEnd() throws(SyntaxError) {
        guard check(.newline) || check(.end) || checkSymbol("}") else {
            throw failure("a new line or ';' between statements")
        }
    }

    private mutating func nest() throws(SyntaxError) {
        nesting += 1
        if nesting > Self.maxNesting {
            throw SyntaxError("expression nested more than \(Self.maxNesting) levels deep", at: current.location)
        }
    }

    /// A left-leaning chain (`a + b + c …`, `a.b.c …`) deepens the tree as nesting does.
    private func checkDepth(_ chain: Int) throws(SyntaxError) {
        if nesting + chain > Self.maxNesting * 2 {
            throw SyntaxError("expression too long or nested too deeply (split it with 'let')", at: current.location)
        }
    }

    // MARK: - Statements

    private mutating func statement() throws(SyntaxError) -> Stmt {
        try nest()
        defer { nesting -= 1 }
        let start = current.location
        if checkKeyword("let") || checkKeyword("var") {
            let mutable = checkKeyword("var")
            _ = next()
            let name = try expectIdentifier("a name after '\(mutable ? "var" : "let")'")
            try expectSymbol("=", "'=' and a value")
            return .binding(name: name, mutable: mutable, value: try expression(), start)
        }
        if checkKeyword("if") { return try ifStatement() }
        if checkKeyword("for") {
            _ = next()
            let name = try expectIdentifier("a loop variable after 'for'")
            guard checkKeyword("in") else { throw failure("'in'") }
            _ = next()
            let sequence = try expression()
            return .forIn(name: name, sequence: sequence, body: try block(), start)
        }
        if checkKeyword("while") {
            _ = next()
            let condition = try expression()
            return .whileLoop(condition: condition, body: try block(), start)
        }
        if checkKeyword("break") { _ = next(); return .breakLoop(start) }
        if checkKeyword("continue") { _ = next(); return .continueLoop(start) }
        let expr = try expression()
        for op in ["=", "+=", "-=", "*=", "/="] where checkSymbol(op) {
            switch expr {
            case .name, .member, .subscripted: break
            default: throw SyntaxError("cannot assign to this expression", at: expr.location)
            }
            _ = next()
            return .assignment(target: expr, op: op, value: try expression(), start)
        }
        return .expression(expr)
    }

    private mutating func ifStatement() throws(SyntaxError) -> Stmt {
        let start = current.location
        _ = next()  // if
        let condition = try expression()
        let then = try block()
        guard checkKeyword("else") else { return .ifElse(condition: condition, then: then, otherwise: nil, start) }
        _ = next()
        if checkKeyword("if") {
            return .ifElse(condition: condition, then: then, otherwise: [try ifStatement()], start)
        }
        return .ifElse(condition: condition, then: then, otherwise: try block(), start)
    }

    private mutating func block() throws(SyntaxError) -> [Stmt] {
        try expectSymbol("{", "'{' to open a block")
        let saved = bracketDepth
        bracketDepth = 0  // statements inside braces are separated by new lines again
        defer { bracketDepth = saved }
        var body: [Stmt] = []
        skipNewlines()
        while !checkSymbol("}") {
            if check(.end) { throw failure("'}' to close the block") }
            body.append(try statement())
            try expectStatementEnd()
            skipNewlines()
        }
        _ = next()
        return body
    }

    // MARK: - Expressions

    public mutating func expression() throws(SyntaxError) -> Expr {
        try nest()
        defer { nesting -= 1 }
        return try binary(level: 0)
    }

    private static let levels: [[String]] = [["||"], ["&&"], ["==", "!=", "<", "<=", ">", ">="], ["..<", "..."], ["+", "-"], ["*", "/", "%"]]

    private mutating func binary(level: Int) throws(SyntaxError) -> Expr {
        guard level < Self.levels.count else { return try unary() }
        var left = try binary(level: level + 1)
        var chain = 0
        while case .symbol(let op) = current.kind, Self.levels[level].contains(op) {
            let location = current.location
            chain += 1
            try checkDepth(chain)
            _ = next()
            skipNewlines()
            let right = try binary(level: level + 1)
            left = .binary(op, left, right, location)
            if level == 2 || level == 3, case .symbol(let again) = current.kind, Self.levels[level].contains(again) {
                throw SyntaxError("'\(again)' cannot follow another '\(op)' without parentheses", at: current.location)
            }
        }
        return left
    }

    private mutating func unary() throws(SyntaxError) -> Expr {
        if checkSymbol("-") || checkSymbol("!") {
            let t = next()
            try nest()
            defer { nesting -= 1 }
            guard case .symbol(let op) = t.kind else { throw failure("an operator") }
            return .unary(op, try unary(), t.location)
        }
        return try postfix(try primary())
    }

    private mutating func postfix(_ base: Expr) throws(SyntaxError) -> Expr {
        var expr = base
        var chain = 0
        while true {
            chain += 1
            try checkDepth(chain)
            // A call or subscript must start on the same line as what it applies to.
            let sameLine = tokens[position].kind != .newline
            if sameLine && checkSymbol("(") {
                let location = current.location
                expr = .call(expr, try arguments(close: ")"), location)
            } else if sameLine && checkSymbol("[") {
                let location = current.location
                expr = .subscripted(expr, try arguments(close: "]"), location)
            } else if checkSymbol(".") {
                let location = next().location
                guard case .identifier(let member) = current.kind else {
                    if case .integer(let n) = current.kind { _ = next(); expr = .member(expr, "\(n)", location); continue }
                    throw failure("a member name after '.'")
                }
                _ = next()
                expr = .member(expr, member, location)
            } else {
                return expr
            }
        }
    }

    private mutating func arguments(close: String) throws(SyntaxError) -> [CallArgument] {
        _ = next()  // ( or [
        bracketDepth += 1
        defer { bracketDepth -= 1 }
        var args: [CallArgument] = []
        while !checkSymbol(close) {
            var label: String?
            if case .identifier(let name) = current.kind, peekAfterCurrent() == .symbol(":") {
                label = name
                _ = next(); _ = next()
            }
            args.append(CallArgument(label: label, value: try expression()))
            if checkSymbol(",") { _ = next(); continue }
            guard checkSymbol(close) else { throw failure("',' or '\(close)'") }
        }
        _ = next()
        return args
    }

    private func peekAfterCurrent() -> TokenKind {
        var i = position
        if bracketDepth > 0 { while tokens[i].kind == .newline { i += 1 } }
        i += 1
        while tokens[i].kind == .newline && bracketDepth > 0 { i += 1 }
        return tokens[i].kind
    }

    private mutating func primary() throws(SyntaxError) -> Expr {
        let t = current
        switch t.kind {
        case .integer(let n): _ = next(); return .integer(n, t.location)
        case .double(let d): _ = next(); return .double(d, t.location)
        case .keyword("true"): _ = next(); return .bool(true, t.location)
        case .keyword("false"): _ = next(); return .bool(false, t.location)
        case .keyword("nil"): _ = next(); return .null(t.location)
        case .identifier(let name): _ = next(); return .name(name, t.location)
        case .string(let segments):
            _ = next()
            var parts: [StringPart] = []
            for segment in segments {
                switch segment {
                case .text(let text): parts.append(.text(text))
                case .interpolation(let source, let location):
                    do throws(SyntaxError) {
                        var lexer = Lexer(source, base: location)
                        var inner = Parser(tokens: try lexer.tokenize())
                        inner.nesting = nesting
                        let e = try inner.expression()
                        guard inner.check(.end) else { throw inner.failure("')' to end the interpolation") }
                        parts.append(.expression(e))
                    } catch {
                        // The interpolation is closed, so more lines cannot complete it.
                        throw SyntaxError(error.message, at: error.location, atEnd: false)
                    }
                }
            }
            return .string(parts, t.location)
        case .symbol("("):
            _ = next()
            bracketDepth += 1
            let inner = try expression()
            guard checkSymbol(")") else { throw failure("')'") }
            bracketDepth -= 1
            _ = next()
            return inner
        case .symbol("["):
            return try collectionLiteral()
        case .symbol("."):
            _ = next()
            let name = try expectIdentifier("a case name after '.'")
            return .dotCase(name, t.location)
        default:
            throw failure("an expression", at: t)
        }
    }

    private mutating func collectionLiteral() throws(SyntaxError) -> Expr {
        let start = next().location  // [
        bracketDepth += 1
        defer { bracketDepth -= 1 }
        if checkSymbol(":") {
            _ = next()
            try expectSymbol("]", "']' after '[:'")
            return .dictionary([], start)
        }
        var items: [Expr] = []
        var pairs: [(Expr, Expr)] = []
        var isDictionary: Bool?
        while !checkSymbol("]") {
            let key = try expression()
            if checkSymbol(":") {
                if isDictionary == false { throw failure("',' or ']' in an array literal") }
                isDictionary = true
                _ = next()
                pairs.append((key, try expression()))
            } else {
                if isDictionary == true { throw failure("':' and a value in a dictionary literal") }
                isDictionary = false
                items.append(key)
            }
            if checkSymbol(",") { _ = next(); continue }
            guard checkSymbol("]") else { throw failure("',' or ']'") }
        }
        _ = next()
        return isDictionary == true ? .dictionary(pairs, start) : .array(items, start)
    }
}
