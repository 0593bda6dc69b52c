// Stage 1 of the language pipeline: the tokens of a cell and where they stand.

/// A position in a cell: 1-based line and column, and the code-point offset.
public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var offset: Int
    public init(line: Int, column: Int, offset: Int) { self.line = line; self.column = column; self.offset = offset }
    public var description: String { "line \(line), column \(column)" }
}

/// A piece of a string literal: text, or an interpolated expression's source.
public enum StringSegment: Sendable, Equatable {
    case text(String)
    case interpolation(String, SourceLocation)
}

/// The kinds of token the lexer produces.
public enum TokenKind: Sendable, Equatable {
    case identifier(String)
    case keyword(String)
    case integer(Int)
    case double(Double)
    case string([StringSegment])
    case symbol(String)   // operators and punctuation: ( ) [ ] { } , : . = == + - … ..<
    case newline
    case end
}

/// One token with its location.
public struct Token: Sendable, Equatable {
    public var kind: TokenKind
    public var location: SourceLocation
    public init(_ kind: TokenKind, _ location: SourceLocation) { self.kind = kind; self.location = location }

    /// How the token reads in an error message.
    public var spelling: String {
        switch kind {
        case .identifier(let s), .keyword(let s): return "'\(s)'"
        case .integer(let n): return "'\(n)'"
        case .double(let d): return "'\(d)'"
        case .string: return "a string"
        case .symbol(let s): return "'\(s)'"
        case .newline: return "end of line"
        case .end: return "end of cell"
        }
    }
}

/// Words with a meaning of their own in the language.
public let languageKeywords: Set<String> = ["let", "var", "if", "else", "for", "in", "true", "false", "nil", "while", "break", "continue"]
