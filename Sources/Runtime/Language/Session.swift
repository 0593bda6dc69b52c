// A language session: the variables that persist across cells, the built-ins,
// and the entry points a front end needs — execute, complete, inspect,
// is-complete and interrupt. Knows nothing of Jupyter's wire protocol.

import PEFTLabJSON
import Synchronization

/// Which standard stream text goes to.
public enum OutputStreamName: Sendable { case stdout, stderr }

/// Where a running cell's output goes. Implementations are thread-safe.
public protocol OutputSink: Sendable {
    func write(_ text: String, to stream: OutputStreamName)
    func display(_ bundle: MIMEBundle, id: String?, update: Bool)
    func clearOutput(wait: Bool)
}

/// A failed cell, ready to show.
public struct CellError: Error, Sendable, Equatable {
    public var name: String
    public var message: String
    public var traceback: [String]
    public var location: SourceLocation?
    public init(name: String, message: String, traceback: [String], location: SourceLocation?) {
        self.name = name; self.message = message; self.traceback = traceback; self.location = location
    }
}

/// The end of a cell: its result and payloads, or an error.
public struct CellResult: Sendable {
    public var value: MIMEBundle?
    public var payloads: [(source: String, bundle: MIMEBundle)]
    public var error: CellError?
}

/// Whether a cell is ready to run.
public enum Completeness: Sendable, Equatable {
    case complete
    case incomplete(indent: String)
    case invalid
}

/// One user's session: state persists from cell to cell. `execute`, `complete`,
/// `inspect` and `isComplete` run on one thread at a time; `interrupt` may come from any.
public final class Session: @unchecked Sendable {
    private var globals: [String: Variable] = [:]
    let builtins: [String: Builtin]
    private let cancellation = Cancellation()

    /// A session with the standard built-ins plus `extra` ones (a front end's own).
    public init(extra: [Builtin] = []) {
        var table: [String: Builtin] = [:]
        let catalog = BuiltinCatalog()
        for builtin in CoreBuiltins.all(catalog: { catalog.list }) + OutputBuiltins.all + DataBuiltins.all + ModelBuiltins.all
            + TrainingBuiltins.all + StudyBuiltins.all + ExplainBuiltins.all + ChangesBuiltins.all + extra { table[builtin.name] = builtin }
        builtins = table
        catalog.set(Array(table.values))
    }

    /// Names of the built-ins, sorted.
    public var builtinNames: [String] { builtins.keys.sorted() }

    /// Stops the running cell at its next check (loop iteration, call, training step).
    public func interrupt() { cancellation.cancel() }

    /// Runs one cell.
    public func execute(_ code: String, output: any OutputSink) -> CellResult {
        cancellation.reset()  // an interrupt sent while idle means nothing to this cell
        let context = CellContext(sink: output, cancellation: cancellation)
        defer {
            context.flush()
            cancellation.reset()
        }
        let statements: [Stmt]
        do {
            statements = try Parser.parse(code)
        } catch {
            let e = RuntimeError(.syntax, error.message, at: error.location)
            return CellResult(value: nil, payloads: [], error: cellError(e, code))
        }
        let interpreter = Interpreter(globals: globals, builtins: builtins, context: context)
        do {
            let value = try interpreter.run(statements)
            globals = interpreter.globals
            return CellResult(value: value.mimeBundle(), payloads: context.payloads, error: nil)
        } catch {
            globals = interpreter.globals  // what ran before the error stays done
            context.flush()
            return CellResult(value: nil, payloads: context.payloads, error: cellError(error, code))
        }
    }

    private func cellError(_ error: RuntimeError, _ code: String) -> CellError {
        CellError(name: error.kind.rawValue, message: error.message, traceback: error.traceback(source: code),
                  location: error.location)
    }

    /// Whether the text parses, could parse with more lines, or cannot.
    public func isComplete(_ code: String) -> Completeness {
        do {
            _ = try Parser.parse(code)
            return .complete
        } catch {
            guard error.atEnd else { return .invalid }
            let open = code.filter { $0 == "{" }.count - code.filter { $0 == "}" }.count
            return .incomplete(indent: String(repeating: " ", count: 4 * max(0, open)))
        }
    }

    // MARK: - Completion and inspection

    /// Completion candidates for the word before `cursor` (a code-point offset).
    public func complete(_ code: String, cursor: Int) -> (matches: [String], start: Int, end: Int) {
        let scalars = Array(code.unicodeScalars)
        let end = min(max(0, cursor), scalars.count)
        if let inString = completeInString(scalars, end: end) { return inString }
        var start = end
        while start > 0, Self.isIdentifier(scalars[start - 1]) { start -= 1 }
        let prefix = String(String.UnicodeScalarView(scalars[start..<end]))
        var candidates: Set<String> = []
        if start > 0, scalars[start - 1] == "." {
            // Members of a variable: `run.lo|`
            var baseStart = start - 1
            while baseStart > 0, Self.isIdentifier(scalars[baseStart - 1]) { baseStart -= 1 }
            let base = String(String.UnicodeScalarView(scalars[baseStart..<(start - 1)]))
            if let value = globals[base]?.value { candidates.formUnion(Self.memberNames(of: value)) }
        } else {
            candidates.formUnion(globals.keys)
            candidates.formUnion(builtins.keys)
            candidates.formUnion(languageKeywords)
            candidates.formUnion(Self.declaredNames(in: code))
            if let callee = Self.enclosingCall(scalars, before: start), let builtin = builtins[callee] {
                candidates.formUnion(builtin.parameters.compactMap { $0.label.map { "\($0):" } })
            }
        }
        let matches = candidates.filter { $0.hasPrefix(prefix) && $0 != prefix }.sorted()
        return (matches, start, end)
    }

    /// Inside a string argument with known choices — `dataset("mini-ic|` — the choices.
    private func completeInString(_ scalars: [Unicode.Scalar], end: Int) -> (matches: [String], start: Int, end: Int)? {
        var lineStart = end
        while lineStart > 0, scalars[lineStart - 1] != "\n" { lineStart -= 1 }
        var quote: Int?
        var i = lineStart
        while i < end {
            if scalars[i] == "\\" { i += 2; continue }
            if scalars[i] == "\"" { quote = quote == nil ? i : nil }
            i += 1
        }
        guard let open = quote else { return nil }
        let nothing: (matches: [String], start: Int, end: Int) = ([], end, end)  // inside a string: no names
        var before = open - 1
        while before >= 0, scalars[before] == " " { before -= 1 }
        guard before >= 0 else { return nothing }
        var label: String?
        if scalars[before] == ":" {
            var s = before
            while s > 0, Self.isIdentifier(scalars[s - 1]) { s -= 1 }
            label = String(String.UnicodeScalarView(scalars[s..<before]))
        } else if scalars[before] != "(" {
            return nothing
        }
        guard let callee = Self.enclosingCall(scalars, before: open), let builtin = builtins[callee],
              let parameter = builtin.parameters.first(where: { $0.label == label }) else { return nothing }
        let prefix = String(String.UnicodeScalarView(scalars[(open + 1)..<end]))
        let matches = parameter.choices().filter { $0.hasPrefix(prefix) }.sorted()
        return (matches, open + 1, end)
    }

    /// Documentation of the name under or before the cursor.
    public func inspect(_ code: String, cursor: Int) -> MIMEBundle? {
        let scalars = Array(code.unicodeScalars)
        var end = min(max(0, cursor), scalars.count)
        var start = end
        while start > 0, Self.isIdentifier(scalars[start - 1]) { start -= 1 }
        while end < scalars.count, Self.isIdentifier(scalars[end]) { end += 1 }
        var name = String(String.UnicodeScalarView(scalars[start..<end]))
        if name.isEmpty, let callee = Self.enclosingCall(scalars, before: start) { name = callee }
        if let builtin = builtins[name] { return builtin.documentation.render() }
        if let variable = globals[name] {
            let kind = variable.mutable ? "var" : "let"
            return .text("\(kind) \(name): \(variable.value.typeName) = \(variable.value.literal)")
        }
        return nil
    }

    static func isIdentifier(_ s: Unicode.Scalar) -> Bool {
        s == "_" || s.properties.isAlphabetic || ("0"..."9").contains(s)
    }

    static func memberNames(of value: Value) -> [String] {
        switch value {
        case .array: return ["count", "isEmpty", "first", "last"]
        case .string: return ["count", "isEmpty"]
        case .dictionary: return ["count", "keys", "values"]
        case .range: return ["count"]
        case .object(let o): return o.memberNames
        default: return []
        }
    }

    /// Names bound with `let`/`var` in the text being edited.
    static func declaredNames(in code: String) -> [String] {
        var lexer = Lexer(code)
        guard let tokens = try? lexer.tokenize() else { return [] }
        var names: [String] = []
        for (i, token) in tokens.enumerated() where token.kind == .keyword("let") || token.kind == .keyword("var") || token.kind == .keyword("for") {
            if i + 1 < tokens.count, case .identifier(let name) = tokens[i + 1].kind { names.append(name) }
        }
        return names
    }

    /// The function whose argument list contains the position: `lora(ra|` → "lora".
    static func enclosingCall(_ scalars: [Unicode.Scalar], before position: Int) -> String? {
        var depth = 0
        var i = position - 1
        while i >= 0 {
            let c = scalars[i]
            if c == ")" { depth += 1 }
            else if c == "(" {
                if depth == 0 {
                    var s = i
                    while s > 0, isIdentifier(scalars[s - 1]) { s -= 1 }
                    return s < i ? String(String.UnicodeScalarView(scalars[s..<i])) : nil
                }
                depth -= 1
            }
            i -= 1
        }
        return nil
    }
}

/// A flag that one thread raises and a running cell polls.
public final class Cancellation: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public var isCancelled: Bool { flag.load(ordering: .acquiring) }
    public func cancel() { flag.store(true, ordering: .releasing) }
    public func reset() { flag.store(false, ordering: .releasing) }
}

/// The built-in list, filled once the table exists (help lists every built-in).
final class BuiltinCatalog: @unchecked Sendable {
    private let storage = Mutex<[Builtin]>([])
    var list: [Builtin] { storage.withLock { $0 } }
    func set(_ builtins: [Builtin]) { storage.withLock { $0 = builtins } }
}

/// What a running cell's built-ins see: buffered output, cancellation and payloads.
final class CellContext: CallContext, OutputSink, @unchecked Sendable {
    private let sink: any OutputSink
    private let cancellation: Cancellation
    private struct Buffer {
        var stdout = ""
        var stderr = ""
        var lastFlush = ContinuousClock.now
        var payloads: [(source: String, bundle: MIMEBundle)] = []
    }
    private let buffer = Mutex(Buffer())

    init(sink: any OutputSink, cancellation: Cancellation) {
        self.sink = sink
        self.cancellation = cancellation
    }

    var output: any OutputSink { self }
    var isCancelled: Bool { cancellation.isCancelled }
    var payloads: [(source: String, bundle: MIMEBundle)] { buffer.withLock { $0.payloads } }

    func addPayload(_ payload: MIMEBundle, source: String) {
        buffer.withLock { $0.payloads.append((source, payload)) }
    }

    func write(_ text: String, to stream: OutputStreamName) {
        let due = buffer.withLock { b -> Bool in
            if stream == .stdout { b.stdout += text } else { b.stderr += text }
            return ContinuousClock.now - b.lastFlush > .milliseconds(50) || b.stdout.utf8.count + b.stderr.utf8.count > 1 << 16
        }
        if due { flush() }
    }

    func display(_ bundle: MIMEBundle, id: String?, update: Bool) {
        flush()
        sink.display(bundle, id: id, update: update)
    }

    func clearOutput(wait: Bool) {
        flush()
        sink.clearOutput(wait: wait)
    }

    /// Sends buffered text: stdout and stderr, each as one stream message.
    func flush() {
        let (out, err) = buffer.withLock { b -> (String, String) in
            defer { b.stdout = ""; b.stderr = ""; b.lastFlush = ContinuousClock.now }
            return (b.stdout, b.stderr)
        }
        if !out.isEmpty { sink.write(out, to: .stdout) }
        if !err.isEmpty { sink.write(err, to: .stderr) }
    }
}
