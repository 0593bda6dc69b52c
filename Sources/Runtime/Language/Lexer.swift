// Stage 2: source text to tokens. Swift's lexical rules where the language uses them:
// `//` and nested `/* */` comments, integer and floating literals with `_` and exponents,
// strings with escapes and `\( )` interpolation.

/// Splits a cell into tokens.
public struct Lexer {
    private let chars: [Character]
    private var index = 0
    private var line = 1
    private var column = 1
    private let base: SourceLocation

    /// `base` places the text inside a larger cell (for interpolated expressions).
    public init(_ source: String, base: SourceLocation = SourceLocation(line: 1, column: 1, offset: 0)) {
        chars = Array(source)
        self.base = base
        line = base.line
        column = base.column
    }

    private var location: SourceLocation { SourceLocation(line: line, column: column, offset: base.offset + index) }
    private func peek(_ ahead: Int = 0) -> Character? { index + ahead < chars.count ? chars[index + ahead] : nil }

    private mutating func advance() -> Character {
        let c = chars[index]
        index += 1
        if c == "\n" { line += 1; column = 1 } else { column += 1 }
        return c
    }

    static let symbols: [String] = ["..<", "...", "==", "!=", "<=", ">=", "&&", "||", "->", "+=", "-=", "*=", "/=",
                                    "(", ")", "[", "]", "{", "}", ",", ":", ".", "=", "<", ">", "+", "-", "*", "/", "%", "!", ";", "?"]

    /// All tokens, ending with `.end`.
    public mutating func tokenize() throws(SyntaxError) -> [Token] {
        var tokens: [Token] = []
        while true {
            try skipSpaceAndComments()
            let start = location
            guard let c = peek() else {
                tokens.append(Token(.end, start))
                return tokens
            }
            if c == "\n" || c == ";" {
                _ = advance()
                if tokens.last?.kind != .newline { tokens.append(Token(.newline, start)) }
            } else if c.isLetter || c == "_" {
                var word = ""
                while let d = peek(), d.isLetter || d.isNumber || d == "_" { word.append(advance()) }
                tokens.append(Token(languageKeywords.contains(word) ? .keyword(word) : .identifier(word), start))
            } else if c.isASCII && c.isNumber {
                tokens.append(Token(try number(), start))
            } else if c == "\"" {
                tokens.append(Token(try string(), start))
            } else if let symbol = Self.symbols.first(where: { matches($0) }) {
                for _ in symbol { _ = advance() }
                tokens.append(Token(.symbol(symbol), start))
            } else {
                throw SyntaxError("unexpected character '\(c)'", at: start)
            }
        }
    }

    private func matches(_ symbol: String) -> Bool {
        for (i, s) in symbol.enumerated() where peek(i) != s { return false }
        return true
    }

    private mutating func skipSpaceAndComments() throws(SyntaxError) {
        while let c = peek() {
            if c == " " || c == "\t" || c == "\r" {
                _ = advance()
            } else if c == "/" && peek(1) == "/" {
                while let d = peek(), d != "\n" { _ = advance() }
            } else if c == "/" && peek(1) == "*" {
                let start = location
                var depth = 0
                repeat {
                    guard peek() != nil else { throw SyntaxError("unterminated comment", at: start, atEnd: true) }
                    if peek() == "/" && peek(1) == "*" { _ = advance(); _ = advance(); depth += 1 }
                    else if peek() == "*" && peek(1) == "/" { _ = advance(); _ = advance(); depth -= 1 }
                    else { _ = advance() }
                } while depth > 0
            } else {
                return
            }
        }
    }

    private mutating func number() throws(SyntaxError) -> TokenKind {
        let start = location
        var text = ""
        var isDouble = false
        func digits(_ lexer: inout Lexer, into text: inout String) {
            while let d = lexer.peek(), (d.isASCII && d.isNumber) || d == "_" {
                let c = lexer.advance()
                if c != "_" { text.append(c) }
            }
        }
        digits(&self, into: &text)
        if peek() == ".", let next = peek(1), next.isASCII, next.isNumber {
            isDouble = true
            text.append(advance())
            digits(&self, into: &text)
        }
        if peek() == "e" || peek() == "E" {
            let sign = peek(1)
            if let s = sign, (s.isASCII && s.isNumber) || ((s == "+" || s == "-") && peek(2)?.isNumber == true) {
                isDouble = true
                text.append(advance())
                if peek() == "+" || peek() == "-" { text.append(advance()) }
                digits(&self, into: &text)
            }
        }
        if let d = peek(), d.isLetter {
            throw SyntaxError("'\(d)' is not a valid digit in a number", at: location)
        }
        if isDouble {
            guard let value = Double(text) else { throw SyntaxError("invalid number '\(text)'", at: start) }
            return .double(value)
        }
        guard let value = Int(text) else {
            throw SyntaxError("integer literal '\(text)' does not fit in 64 bits", at: start)
        }
        return .integer(value)
    }

    private mutating func string() throws(SyntaxError) -> TokenKind {
        let start = location
        _ = advance()  // "
        var segments: [StringSegment] = []
        var text = ""
        while true {
            guard let c = peek(), c != "\n" else {
                throw SyntaxError("unterminated string (a string ends on the line it starts)", at: start)
            }
            _ = advance()
            if c == "\"" { break }
            guard c == "\\" else { text.append(c); continue }
            guard let e = peek() else { throw SyntaxError("unterminated string", at: start) }
            let escapeLocation = location
            _ = advance()
            switch e {
            case "n": text.append("\n")
            case "t": text.append("\t")
            case "r": text.append("\r")
            case "0": text.append("\0")
            case "\"": text.append("\"")
            case "'": text.append("'")
            case "\\": text.append("\\")
            case "(":
                if !text.isEmpty { segments.append(.text(text)); text = "" }
                let exprStart = location
                var depth = 1
                var inner = ""
                while true {
                    guard let d = peek(), d != "\n" else {
                        throw SyntaxError("unterminated interpolation", at: escapeLocation)
                    }
                    _ = advance()
                    if d == "(" { depth += 1 }
                    if d == ")" { depth -= 1; if depth == 0 { break } }
                    inner.append(d)
                }
                segments.append(.interpolation(inner, exprStart))
            default:
                throw SyntaxError("invalid escape '\\\(e)' in string", at: escapeLocation)
            }
        }
        if !text.isEmpty || segments.isEmpty { segments.append(.text(text)) }
        return .string(segments)
    }
}
