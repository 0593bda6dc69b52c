// Stage 3: the syntax tree of a cell.

/// A call argument: an optional label and a value.
public struct CallArgument: Sendable, Equatable {
    public var label: String?
    public var value: Expr
    public init(label: String?, value: Expr) { self.label = label; self.value = value }
}

/// An expression with the location of its first token.
public indirect enum Expr: Sendable, Equatable {
    case integer(Int, SourceLocation)
    case double(Double, SourceLocation)
    case bool(Bool, SourceLocation)
    case null(SourceLocation)
    case string([StringPart], SourceLocation)
    case array([Expr], SourceLocation)
    case dictionary([(Expr, Expr)], SourceLocation)
    case name(String, SourceLocation)
    case dotCase(String, SourceLocation)
    case call(Expr, [CallArgument], SourceLocation)
    case member(Expr, String, SourceLocation)
    case subscripted(Expr, [CallArgument], SourceLocation)
    case unary(String, Expr, SourceLocation)
    case binary(String, Expr, Expr, SourceLocation)

    public var location: SourceLocation {
        switch self {
        case .integer(_, let l), .double(_, let l), .bool(_, let l), .null(let l), .string(_, let l),
             .array(_, let l), .dictionary(_, let l), .name(_, let l), .dotCase(_, let l),
             .call(_, _, let l), .member(_, _, let l), .subscripted(_, _, let l), .unary(_, _, let l),
             .binary(_, _, _, let l):
            return l
        }
    }

    public static func == (a: Expr, b: Expr) -> Bool { a.treeDescription == b.treeDescription }
}

/// A piece of an interpolated string.
public enum StringPart: Sendable, Equatable {
    case text(String)
    case expression(Expr)
}

/// A statement with its location.
public indirect enum Stmt: Sendable, Equatable {
    case binding(name: String, mutable: Bool, value: Expr, SourceLocation)
    case assignment(target: Expr, op: String, value: Expr, SourceLocation)
    case expression(Expr)
    case ifElse(condition: Expr, then: [Stmt], otherwise: [Stmt]?, SourceLocation)
    case forIn(name: String, sequence: Expr, body: [Stmt], SourceLocation)
    case whileLoop(condition: Expr, body: [Stmt], SourceLocation)
    case breakLoop(SourceLocation)
    case continueLoop(SourceLocation)
}

extension Expr {
    /// A compact S-expression form, for golden tests and equality.
    public var treeDescription: String {
        switch self {
        case .integer(let n, _): return "\(n)"
        case .double(let d, _): return "\(d)"
        case .bool(let b, _): return "\(b)"
        case .null: return "nil"
        case .string(let parts, _):
            return "(str " + parts.map { part -> String in
                switch part {
                case .text(let t): return "\"\(t)\""
                case .expression(let e): return e.treeDescription
                }
            }.joined(separator: " ") + ")"
        case .array(let items, _): return "[" + items.map(\.treeDescription).joined(separator: " ") + "]"
        case .dictionary(let pairs, _):
            if pairs.isEmpty { return "[:]" }
            return "[" + pairs.map { "\($0.0.treeDescription):\($0.1.treeDescription)" }.joined(separator: " ") + "]"
        case .name(let n, _): return n
        case .dotCase(let n, _): return ".\(n)"
        case .call(let f, let args, _): return "(call \(f.treeDescription)\(Self.describe(args)))"
        case .member(let e, let m, _): return "(. \(e.treeDescription) \(m))"
        case .subscripted(let e, let args, _): return "(sub \(e.treeDescription)\(Self.describe(args)))"
        case .unary(let op, let e, _): return "(\(op) \(e.treeDescription))"
        case .binary(let op, let a, let b, _): return "(\(op) \(a.treeDescription) \(b.treeDescription))"
        }
    }

    private static func describe(_ args: [CallArgument]) -> String {
        args.map { " " + ($0.label.map { "\($0): " } ?? "") + $0.value.treeDescription }.joined()
    }
}
