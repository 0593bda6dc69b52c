// Errors of the lexer and parser: where, what was found, what was expected.

/// A cell that does not parse. `atEnd` marks input that may just be unfinished.
public struct SyntaxError: Error, Sendable, Equatable {
    public var message: String
    public var location: SourceLocation
    public var atEnd: Bool
    public init(_ message: String, at location: SourceLocation, atEnd: Bool = false) {
        self.message = message; self.location = location; self.atEnd = atEnd
    }
}
