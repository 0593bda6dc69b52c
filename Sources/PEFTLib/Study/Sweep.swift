// Sweeps that respect the user: each finished run's results are appended to a JSON
// Lines file as soon as it finishes, so an interrupted sweep re-run later skips what
// is done and loses nothing.

import Foundation
import PEFTLabJSON

/// One run of a sweep: its settings (which identify it) and, once done, its results.
public struct SweepRun: Sendable, Equatable {
    /// Settings such as method, size, location, connector, dataset, seed.
    public var settings: [(String, TableValue)]
    public init(_ settings: [(String, TableValue)]) { self.settings = settings }

    /// A stable identity: the settings sorted by name.
    public var key: String {
        settings.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "|")
    }

    public static func == (a: SweepRun, b: SweepRun) -> Bool { a.key == b.key }
}

/// The results of a sweep on disk: one JSON object per line, `settings` and `results`.
public final class SweepStore: @unchecked Sendable {
    public let path: String
    /// Each finished run with its result rows (one row for a run of `record(_:results:)`).
    private var records: [(run: SweepRun, rows: [[(String, TableValue)]])] = []
    private let lock = NSLock()

    /// What opening the store found worth telling (a cut last line it ignores).
    public private(set) var notes: [String] = []
    /// Bytes at the end of the file after its last newline that are no record (cut by a kill,
    /// a full disk or an interrupted copy): dropped before the next record is appended.
    private var cutTail = 0
    /// True when the file's last record lacks its newline (the next record starts a new line).
    private var needsNewline = false

    /// Opens (or starts) the store at `path`. A last line cut short is ignored and reported in
    /// `notes` (its run runs again); any other line that is no record is an error naming it.
    public init(path: String) throws {
        self.path = FilePaths.resolve(path)
        let path = self.path
        guard FileManager.default.fileExists(atPath: path) else { return }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TableError("cannot read the run store '\(path)'")
        }
        let bytes = [UInt8](data)
        let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        for (number, line) in lines.enumerated() where !line.isEmpty {
            let isLast = number == lines.count - 1        // no newline after it
            if let record = Self.record(line) {
                records.append(record)
                if isLast { needsNewline = true }
            } else if isLast {
                cutTail = line.count
                notes.append("the last line of the run store '\(path)' was cut short (\(line.count) bytes without "
                             + "a newline) and is ignored: its run will run again")
            } else {
                throw TableError("\(path): line \(number + 1) is not a sweep record; remove that line (the other "
                                 + "lines are finished runs) or the file to start over")
            }
        }
    }

    /// One line as a record, nil when it is not one.
    private static func record(_ line: ArraySlice<UInt8>) -> (run: SweepRun, rows: [[(String, TableValue)]])? {
        guard let object = try? JSON.parse(bytes: Array(line)), let settings = object["settings"]?.arrayValue else {
            return nil
        }
        if let results = object["results"]?.arrayValue { return (SweepRun(pairs(settings)), [pairs(results)]) }
        if let rows = object["rows"]?.arrayValue, rows.allSatisfy({ $0.arrayValue != nil }) {
            return (SweepRun(pairs(settings)), rows.map { pairs($0.arrayValue!) })
        }
        return nil
    }

    /// Whether a run with these settings has finished.
    public func isFinished(_ run: SweepRun) -> Bool {
        lock.withLock { records.contains { $0.run == run } }
    }

    /// The stored results of a finished run; nil when it has not finished.
    public func results(for run: SweepRun) -> [(String, TableValue)]? {
        rows(for: run)?.first
    }

    /// The stored result rows of a finished run; nil when it has not finished.
    public func rows(for run: SweepRun) -> [[(String, TableValue)]]? {
        lock.withLock { records.last { $0.run == run }?.rows }
    }

    /// Appends a finished run and flushes it to disk at once.
    public func record(_ run: SweepRun, results: [(String, TableValue)]) throws {
        let line: JSON = ["settings": .array(run.settings.map { [.string($0.0), $0.1.json] }),
                          "results": .array(results.map { [.string($0.0), $0.1.json] })]
        try append(line, run: run, rows: [results])
    }

    /// Appends a finished run with several result rows (one per metric, epoch, test set…)
    /// and flushes it to disk at once.
    public func record(_ run: SweepRun, rows: [[(String, TableValue)]]) throws {
        let line: JSON = ["settings": .array(run.settings.map { [.string($0.0), $0.1.json] }),
                          "rows": .array(rows.map { row in .array(row.map { [.string($0.0), $0.1.json] }) })]
        try append(line, run: run, rows: rows)
    }

    private func append(_ line: JSON, run: SweepRun, rows: [[(String, TableValue)]]) throws {
        try lock.withLock {
            let url = URL(fileURLWithPath: path)
            try AtomicFiles.createFolder(url.deletingLastPathComponent().path)
            if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
            let handle = try FileHandle(forUpdating: url)
            defer { try? handle.close() }
            var end = try handle.seekToEnd()
            if cutTail > 0 {
                // The ignored cut line goes; the record starts where it started.
                end -= UInt64(min(cutTail, Int(end)))
                try handle.truncate(atOffset: end)
                cutTail = 0
            }
            // Each record on a line of its own, even after a file that lost its final newline.
            let data = Data((needsNewline ? [0x0A] : []) + line.serializedBytes() + [0x0A])
            try handle.write(contentsOf: data)
            try handle.synchronize()
            needsNewline = false
            records.append((run, rows))
        }
    }

    /// Every finished run as a tidy table: settings columns then result columns (one row per
    /// result row of a run).
    public func table(title: String? = nil) -> Table {
        lock.withLock { Table(records: records.flatMap { r in r.rows.map { r.run.settings + $0 } }, title: title) }
    }

    public var count: Int { lock.withLock { records.count } }

    /// `[["method", "LoRA"], ["seed", 42]]` back to pairs; whole numbers come back as Int.
    static func pairs(_ list: [JSON]) -> [(String, TableValue)] {
        list.compactMap { pair in
            guard let items = pair.arrayValue, items.count == 2, let name = items[0].stringValue else { return nil }
            let value: TableValue
            switch items[1] {
            case .bool(let b): value = .bool(b)
            case .number(let d): value = d == d.rounded() && abs(d) < 1e15 ? .int(Int(d)) : .double(d)
            case .string(let s): value = .text(s)
            default: value = .null
            }
            return (name, value)
        }
    }

}

/// Runs each unfinished run of a list, storing results as they come.
public enum Sweep {
    /// What a sweep did: how many runs it ran now, skipped as already done, and whether it was cancelled.
    public struct Outcome: Sendable, Equatable {
        public var ran: Int
        public var skipped: Int
        public var cancelled: Bool
        public init(ran: Int, skipped: Int, cancelled: Bool) { self.ran = ran; self.skipped = skipped; self.cancelled = cancelled }
    }

    /// - Parameters:
    ///   - body: trains and evaluates one run, returning its result columns.
    ///   - progress: called before each run with (index, total, run, skipped).
    public static func run(_ runs: [SweepRun], store: SweepStore, isCancelled: () -> Bool = { false },
                           progress: (Int, Int, SweepRun, Bool) -> Void = { _, _, _, _ in },
                           body: (SweepRun) throws -> [(String, TableValue)]) throws -> Outcome {
        var outcome = Outcome(ran: 0, skipped: 0, cancelled: false)
        for (i, run) in runs.enumerated() {
            if store.isFinished(run) {
                outcome.skipped += 1
                progress(i, runs.count, run, true)
                continue
            }
            if isCancelled() { outcome.cancelled = true; break }
            progress(i, runs.count, run, false)
            let results = try body(run)
            try store.record(run, results: results)
            outcome.ran += 1
        }
        return outcome
    }
}

extension TableValue {
    /// The cell as JSON; non-finite numbers become null.
    public var json: JSON {
        switch self {
        case .null: return .null
        case .int(let n): return .int(n)
        case .double(let d): return d.isFinite ? .number(d) : .null
        case .text(let s): return .string(s)
        case .bool(let b): return .bool(b)
        }
    }
}
