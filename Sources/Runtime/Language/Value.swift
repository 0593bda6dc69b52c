// Stage 5: the values a cell computes with, and the errors it can end in.

import PEFTLabJSON

/// A value of the language.
public enum Value: Sendable {
    case void
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([Value])
    case dictionary([(key: Value, value: Value)])
    case dotCase(String)
    case range(Int, Int)          // half-open lower..<upper
    case function(Builtin)
    case object(any RuntimeObject)

    /// The type's name as an error message says it.
    public var typeName: String {
        switch self {
        case .void: return "Void"
        case .null: return "Nil"
        case .bool: return "Bool"
        case .int: return "Int"
        case .double: return "Double"
        case .string: return "String"
        case .array: return "Array"
        case .dictionary: return "Dictionary"
        case .dotCase: return "Case"
        case .range: return "Range"
        case .function: return "Function"
        case .object(let o): return o.typeName
        }
    }
}

/// A value backed by a host object (models, runs, tables …): members and its own rendering.
public protocol RuntimeObject: AnyObject, Sendable {
    var typeName: String { get }
    /// A member (`run.loss`); nil when there is no such member.
    func member(_ name: String) throws(RuntimeError) -> Value?
    /// Member names, for completion.
    var memberNames: [String] { get }
    /// How the object shows as a cell's result.
    func render() -> MIMEBundle
    /// `object[index]`; nil when the object has no elements.
    func element(at index: Value) throws(RuntimeError) -> Value?
}

extension RuntimeObject {
    public func element(at index: Value) throws(RuntimeError) -> Value? { nil }
}

/// A cell's failure: a kind (shown as the error name), a message, and where it happened.
public struct RuntimeError: Error, Sendable, Equatable {
    public enum Kind: String, Sendable {
        case syntax = "SyntaxError"
        case name = "NameError"
        case type = "TypeError"
        case argument = "ArgumentError"
        case value = "ValueError"
        case arithmetic = "ArithmeticError"
        case index = "IndexError"
        case interrupted = "Interrupted"
        case library = "PEFTLibError"
    }
    public var kind: Kind
    public var message: String
    public var location: SourceLocation?
    /// What an interrupted call made before it stopped (a run with its finished steps, the
    /// study's finished runs): `let run = train(…)` binds it although the cell fails, so
    /// nothing is lost while the queue of cells behind it stops.
    public var kept: KeptValue?

    public init(_ kind: Kind, _ message: String, at location: SourceLocation? = nil, keeping kept: Value? = nil) {
        self.kind = kind; self.message = message; self.location = location
        self.kept = kept.map(KeptValue.init)
    }
}

/// A value carried by an error (compared by identity, so errors stay Equatable).
public final class KeptValue: Sendable, Equatable {
    public let value: Value
    init(_ value: Value) { self.value = value }
    public static func == (a: KeptValue, b: KeptValue) -> Bool { a === b }
}

/// Data in several MIME types with metadata: how a value shows in Jupyter.
public struct MIMEBundle: Sendable, Equatable {
    public var data: JSONObject
    public var metadata: JSONObject
    public init(data: JSONObject, metadata: JSONObject = [:]) { self.data = data; self.metadata = metadata }
    public static func text(_ s: String) -> MIMEBundle { MIMEBundle(data: ["text/plain": .string(s)]) }
}

// MARK: - Nesting

extension Value {
    /// How deep arrays and dictionaries may nest.
    public static let maxNesting = 200
    /// The largest string a cell may build (256 MB): past it an error, not a failed allocation.
    public static let maxStringBytes = 1 << 28
    /// The most elements an array may hold.
    public static let maxArrayCount = 1 << 24

    /// The nesting depth of containers, walked without recursion; stops counting past `limit`.
    public func nestingDepth(limit: Int) -> Int {
        var deepest = 0
        var stack: [(Value, Int)] = [(self, 0)]
        while let (value, depth) = stack.popLast() {
            deepest = max(deepest, depth)
            if deepest > limit { return deepest }
            switch value {
            case .array(let items):
                for item in items { if case .array = item { stack.append((item, depth + 1)) } else if case .dictionary = item { stack.append((item, depth + 1)) } }
                if !items.isEmpty { deepest = max(deepest, depth + 1) }
            case .dictionary(let pairs):
                for pair in pairs { stack.append((pair.key, depth + 1)); stack.append((pair.value, depth + 1)) }
                if !pairs.isEmpty { deepest = max(deepest, depth + 1) }
            default: break
            }
        }
        return deepest
    }
}

// MARK: - Equality and text

extension Value {
    /// Language equality: numbers compare across Int and Double.
    public func isEqual(to other: Value) -> Bool {
        switch (self, other) {
        case (.void, .void), (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.double(let a), .double(let b)): return a == b
        case (.int(let a), .double(let b)), (.double(let b), .int(let a)): return Double(a) == b
        case (.string(let a), .string(let b)): return a == b
        case (.dotCase(let a), .dotCase(let b)): return a == b
        case (.range(let a, let b), .range(let c, let d)): return a == c && b == d
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.isEqual(to: $1) }
        case (.dictionary(let a), .dictionary(let b)):
            return a.count == b.count && a.allSatisfy { pair in
                b.contains { $0.key.isEqual(to: pair.key) && $0.value.isEqual(to: pair.value) }
            }
        case (.function(let a), .function(let b)): return a.name == b.name
        case (.object(let a), .object(let b)): return a === b
        default: return false
        }
    }

    /// The text `print` writes: strings without quotes.
    public var printed: String {
        if case .string(let s) = self { return s }
        return literal
    }

    /// The text a result shows: strings quoted, as Swift's REPL does.
    public var literal: String {
        switch self {
        case .void: return "()"
        case .null: return "nil"
        case .bool(let b): return b ? "true" : "false"
        case .int(let n): return String(n)
        case .double(let d): return Self.format(d)
        case .string(let s): return Self.quote(s)
        case .array(let items): return "[" + items.map(\.literal).joined(separator: ", ") + "]"
        case .dictionary(let pairs):
            return pairs.isEmpty ? "[:]" : "[" + pairs.map { "\($0.key.literal): \($0.value.literal)" }.joined(separator: ", ") + "]"
        case .dotCase(let name): return ".\(name)"
        case .range(let a, let b): return "\(a)..<\(b)"
        case .function(let f): return f.signature
        case .object(let o): return o.render().data["text/plain"]?.stringValue ?? "<\(o.typeName)>"
        }
    }

    static func format(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        return "\(d)"
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for c in s {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default: out.append(c)
            }
        }
        return out + "\""
    }
}
