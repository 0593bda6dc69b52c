// Built-in functions: a signature with Swift-style argument labels and defaults,
// a doc string (used by help, inspect and completion), and the implementation.

import PEFTLib

/// One parameter of a built-in. `label == nil` is Swift's `_`.
public struct Parameter: Sendable {
    public var label: String?
    public var type: String
    public var defaultValue: Value?
    public var variadic: Bool
    /// Known values of a String parameter (model or dataset names), offered by completion.
    public var choices: @Sendable () -> [String]

    public init(_ label: String?, _ type: String, default defaultValue: Value? = nil, variadic: Bool = false,
                choices: @escaping @Sendable () -> [String] = { [] }) {
        self.label = label; self.type = type; self.defaultValue = defaultValue; self.variadic = variadic
        self.choices = choices
    }
    var display: String {
        let head = label.map { "\($0): " } ?? "_ "
        return head + type + (variadic ? "..." : "") + (defaultValue.map { " = \($0.literal)" } ?? "")
    }
}

/// The arguments of one call, bound to parameters by label once, in `Builtin.bind`. A
/// built-in reads a labelled parameter by its label (`args.int("steps")`, `args["on"]`) and
/// an unlabelled one (Swift's `_`) by its position (`args.int(at: 0)`, `args[0]`), so no
/// index has to agree with a label by hand.
public struct BoundArguments: Sendable {
    /// Values per parameter, in parameter order (variadic ones as an array).
    public var values: [Value]
    /// The parameters' labels, in the same order (nil for `_`).
    public let labels: [String?]
    public let callee: String
    public let location: SourceLocation?

    /// The value of the unlabelled parameter at `i`.
    public subscript(i: Int) -> Value { values[unlabelled(i)] }

    /// `i`, checked (in debug builds) to be an unlabelled parameter: a labelled one is read by label.
    func unlabelled(_ i: Int) -> Int {
        assert(labels[i] == nil, "\(callee)(): parameter \(i) has the label \(labels[i]!); read it by label")
        return i
    }

    /// The value of the parameter labelled `label`.
    public subscript(label: String) -> Value { values[index(label)] }

    /// Where the parameter labelled `label` sits (a label the built-in does not declare is a
    /// bug in the built-in, caught by its tests).
    func index(_ label: String) -> Int {
        guard let i = labels.firstIndex(of: label) else {
            preconditionFailure("\(callee)() declares no parameter labelled '\(label):'")
        }
        return i
    }
}

/// What a running built-in can reach: the cell's output and cancellation.
public protocol CallContext: Sendable {
    var output: any OutputSink { get }
    var isCancelled: Bool { get }
    /// Adds a payload to the cell's reply (e.g. a page for the pager).
    func addPayload(_ payload: MIMEBundle, source: String)
}

/// A function the language provides.
public struct Builtin: Sendable {
    public typealias Body = @Sendable (BoundArguments, any CallContext) throws(RuntimeError) -> Value
    public let name: String
    public let parameters: [Parameter]
    public let returns: String
    public let doc: String
    public let body: Body

    public init(_ name: String, _ parameters: [Parameter], returns: String = "Void", doc: String, body: @escaping Body) {
        self.name = name; self.parameters = parameters; self.returns = returns; self.doc = doc; self.body = body
    }

    /// `sleep(seconds: Double) -> Void`
    public var signature: String {
        "\(name)(" + parameters.map(\.display).joined(separator: ", ") + ")" + (returns == "Void" ? "" : " -> \(returns)")
    }

    /// Labels as written in calls: `seconds:` or `_`.
    var labelList: String {
        parameters.map { $0.label.map { "\($0):" } ?? "_" }.joined(separator: ", ")
    }

    /// Matches call arguments to parameters the way Swift does: in order, by label.
    public func bind(_ args: [(label: String?, value: Value)], at location: SourceLocation?) throws(RuntimeError) -> BoundArguments {
        var values: [Value] = []
        var i = 0
        for parameter in parameters {
            if parameter.variadic {
                var items: [Value] = []
                while i < args.count, args[i].label == parameter.label {
                    items.append(args[i].value); i += 1
                    if parameter.label != nil { break }
                }
                values.append(.array(items))
                continue
            }
            if i < args.count, args[i].label == parameter.label {
                values.append(args[i].value); i += 1
            } else if let defaultValue = parameter.defaultValue {
                values.append(defaultValue)
            } else if i < args.count, let label = args[i].label, !parameters.contains(where: { $0.label == label }) {
                throw RuntimeError(.argument, "\(name)() has no argument labeled '\(label):'\(suggestion(for: label)); accepted labels: \(labelList)", at: location)
            } else {
                let what = parameter.label.map { "argument '\($0):'" } ?? "an unlabeled \(parameter.type) argument"
                throw RuntimeError(.argument, "missing \(what) in call to \(signature)", at: location)
            }
        }
        if i < args.count {
            let extra = args[i]
            let accepted = "accepted labels: \(labelList)"
            if let label = extra.label {
                let known = parameters.contains { $0.label == label }
                throw RuntimeError(.argument, known
                    ? "argument '\(label):' is out of order in call to \(signature)"
                    : "\(name)() has no argument labeled '\(label):'\(suggestion(for: label)); \(accepted)", at: location)
            }
            throw RuntimeError(.argument, parameters.contains(where: { $0.label == nil })
                ? "too many unlabeled arguments in call to \(signature)"
                : "\(name)() takes no unlabeled argument; \(accepted)", at: location)
        }
        return BoundArguments(values: values, labels: parameters.map(\.label), callee: name, location: location)
    }

    private func suggestion(for label: String) -> String {
        let labels = parameters.compactMap(\.label)
        guard let best = nearestNames(to: label, in: labels).first else { return "" }
        return " (did you mean '\(best):'?)"
    }
}

// MARK: - Argument conversion

extension BoundArguments {
    /// The error for a parameter's value of the wrong kind.
    public func fail(_ label: String, _ expected: String, got value: Value) -> RuntimeError {
        fail(index: index(label), expected, got: value)
    }

    /// The error for an unlabelled parameter's value of the wrong kind.
    public func fail(at i: Int, _ expected: String, got value: Value) -> RuntimeError { fail(index: unlabelled(i), expected, got: value) }

    /// The value of the parameter labelled `label`, nil when it is `nil` (the default of an
    /// optional parameter).
    public func optional(_ label: String) -> Value? {
        if case .null = values[index(label)] { return nil }
        return values[index(label)]
    }

    /// The String parameter labelled `label`, nil when it is `nil`.
    public func optionalString(_ label: String) throws(RuntimeError) -> String? {
        optional(label) == nil ? nil : try string(label)
    }

    /// An error about the arguments' values as a whole.
    public func valueError(_ message: String) -> RuntimeError { RuntimeError(.value, message, at: location) }

    private func fail(index i: Int, _ expected: String, got value: Value) -> RuntimeError {
        let which = labels[i].map { "argument '\($0):'" } ?? "argument \(i + 1)"
        return RuntimeError(.type, "\(callee)(): \(which) expects \(expected), got \(value.typeName) \(value.literal)", at: location)
    }

    public func double(_ label: String) throws(RuntimeError) -> Double { try double(index: index(label)) }
    public func double(at i: Int) throws(RuntimeError) -> Double { try double(index: unlabelled(i)) }
    private func double(index i: Int) throws(RuntimeError) -> Double {
        switch values[i] {
        case .int(let n): return Double(n)
        case .double(let d): return d
        default: throw fail(index: i, "a number", got: values[i])
        }
    }

    public func int(_ label: String) throws(RuntimeError) -> Int { try int(index: index(label)) }
    public func int(at i: Int) throws(RuntimeError) -> Int { try int(index: unlabelled(i)) }
    private func int(index i: Int) throws(RuntimeError) -> Int {
        if case .int(let n) = values[i] { return n }
        throw fail(index: i, "an Int", got: values[i])
    }

    public func string(_ label: String) throws(RuntimeError) -> String { try string(index: index(label)) }
    public func string(at i: Int) throws(RuntimeError) -> String { try string(index: unlabelled(i)) }
    private func string(index i: Int) throws(RuntimeError) -> String {
        if case .string(let s) = values[i] { return s }
        throw fail(index: i, "a String", got: values[i])
    }

    /// A file or folder path, resolved by PEFTLib's one rule (a leading `~` is `$HOME`).
    public func path(_ label: String) throws(RuntimeError) -> String { try path(index: index(label)) }
    public func path(at i: Int) throws(RuntimeError) -> String { try path(index: unlabelled(i)) }
    private func path(index i: Int) throws(RuntimeError) -> String {
        let text = try string(index: i)
        if text.isEmpty { throw RuntimeError(.value, "\(callee)(): the path is empty", at: location) }
        return FilePaths.resolve(text)
    }

    public func bool(_ label: String) throws(RuntimeError) -> Bool {
        let i = index(label)
        if case .bool(let b) = values[i] { return b }
        throw fail(index: i, "a Bool", got: values[i])
    }

    public func dotCase(_ label: String, allowed: [String]) throws(RuntimeError) -> String {
        let i = index(label)
        if case .dotCase(let name) = values[i], allowed.contains(name) { return name }
        throw fail(index: i, "one of " + allowed.map { ".\($0)" }.joined(separator: ", "), got: values[i])
    }
}

/// Names closest to `name` by edit distance, best first (for "did you mean").
public func nearestNames(to name: String, in candidates: [String], limit: Int = 3) -> [String] {
    let target = Array(name.lowercased())
    let scored = candidates.map { candidate -> (String, Int) in
        (candidate, editDistance(target, Array(candidate.lowercased())))
    }
    // Close enough to be a typo, and no worse than the best candidate.
    let threshold = max(1, target.count / 3)
    let close = scored.filter { $0.1 <= threshold || $0.0.lowercased().hasPrefix(name.lowercased()) }
    guard let best = close.map(\.1).min() else { return [] }
    return close.filter { $0.1 == best || $0.0.lowercased().hasPrefix(name.lowercased()) }
        .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
        .prefix(limit).map(\.0)
}

/// Edit distance where swapping two neighbouring characters counts as one edit
/// (optimal string alignment), since `wiat` is one slip from `wait`.
func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    let width = b.count + 1
    var d = [Int](repeating: 0, count: (a.count + 1) * width)
    for i in 0...a.count { d[i * width] = i }
    for j in 0...b.count { d[j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            var best = min(d[(i - 1) * width + j] + 1, d[i * width + j - 1] + 1, d[(i - 1) * width + j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                best = min(best, d[(i - 2) * width + j - 2] + 1)
            }
            d[i * width + j] = best
        }
    }
    return d[a.count * width + b.count]
}
