// The inputs (and text outputs) of this kernel session, for history_request:
// tail, range and glob search, as IPython's history manager answers them.

import PEFTLabJSON

/// One executed cell: its line number (the execution count), input and text output.
public struct HistoryEntry: Sendable, Equatable {
    public var line: Int
    public var input: String
    public var output: String?
}

/// Cell history of one session, kept in memory.
public struct History: Sendable {
    public let session: Int
    public private(set) var entries: [HistoryEntry] = []

    public init(session: Int = 1) { self.session = session }

    public mutating func record(line: Int, input: String) {
        entries.append(HistoryEntry(line: line, input: input, output: nil))
    }

    public mutating func recordOutput(line: Int, output: String) {
        if let i = entries.lastIndex(where: { $0.line == line }) { entries[i].output = output }
    }

    /// Answers a history_request's content with the `history` list.
    public func answer(_ request: JSONObject) -> [JSON] {
        let withOutput = request["output"]?.boolValue ?? false
        let selected: [HistoryEntry]
        switch request["hist_access_type"]?.stringValue ?? "tail" {
        case "range":
            let session = request["session"]?.intValue ?? 0
            guard session == 0 || session == self.session else { return [] }
            let start = request["start"]?.intValue ?? 1
            let stop = request["stop"]?.intValue
            selected = entries.filter { $0.line >= start && (stop == nil || $0.line < stop!) }
        case "search":
            let pattern = Array(request["pattern"]?.stringValue ?? "*")
            var matched = entries.filter { History.glob(pattern, matches: Array($0.input)) }
            if request["unique"]?.boolValue ?? false {
                var seen = Set<String>()
                matched = matched.reversed().filter { seen.insert($0.input).inserted }.reversed()
            }
            if let n = request["n"]?.intValue, n > 0 { matched = Array(matched.suffix(n)) }
            selected = matched
        default:  // tail
            let n = request["n"]?.intValue ?? 10
            selected = Array(entries.suffix(max(0, n)))
        }
        return selected.map { entry in
            let body: JSON = withOutput
                ? .array([.string(entry.input), entry.output.map(JSON.string) ?? .null])
                : .string(entry.input)
            return .array([.int(session), .int(entry.line), body])
        }
    }

    /// Shell-style glob over the whole text: `*` any run, `?` one character.
    public static func glob(_ pattern: [Character], matches text: [Character]) -> Bool {
        var p = 0, t = 0, star = -1, mark = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == "*" {
                star = p; mark = t; p += 1
            } else if p < pattern.count, pattern[p] == "?" || pattern[p] == text[t] {
                p += 1; t += 1
            } else if star >= 0 {
                p = star + 1; mark += 1; t = mark
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}
