// A tidy results table: named columns, one row per observation (a run, a dataset, a
// module). Every study workflow returns one; the front ends render and plot it.

import Foundation

/// One cell of a table.
public enum TableValue: Sendable, Equatable, Hashable, Comparable, CustomStringConvertible {
    case null
    case int(Int)
    case double(Double)
    case text(String)
    case bool(Bool)

    public var number: Double? {
        switch self {
        case .int(let n): return Double(n)
        case .double(let d): return d
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    public var isNumeric: Bool { number != nil && !isBool }
    private var isBool: Bool { if case .bool = self { return true }; return false }

    public var description: String {
        switch self {
        case .null: return ""
        case .int(let n): return String(n)
        case .double(let d): return TableValue.format(d)
        case .text(let s): return s
        case .bool(let b): return b ? "true" : "false"
        }
    }

    /// Numbers compare as numbers, text as text; nulls sort last.
    public static func < (a: TableValue, b: TableValue) -> Bool {
        switch (a, b) {
        case (.null, _): return false
        case (_, .null): return true
        default:
            if let x = a.number, let y = b.number { return x < y }
            return a.description < b.description
        }
    }

    /// Four significant decimals at most, no trailing zeros: 0.4332, 12.5, 3.
    public static func format(_ d: Double) -> String {
        guard d.isFinite else { return d.isNaN ? "nan" : (d < 0 ? "-inf" : "inf") }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        let magnitude = abs(d)
        if magnitude >= 1e6 || magnitude < 1e-4 { return String(format: "%.4g", d) }
        var s = String(format: "%.4f", d)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }
}

/// Why a table operation could not be done.
public struct TableError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Rows of named columns.
public struct Table: Sendable, Equatable {
    public var title: String?
    public private(set) var columns: [String]
    public private(set) var rows: [[TableValue]]

    public init(columns: [String], rows: [[TableValue]] = [], title: String? = nil) throws(TableError) {
        guard Set(columns).count == columns.count else { throw TableError("column names must be unique: \(columns)") }
        for (i, row) in rows.enumerated() where row.count != columns.count {
            throw TableError("row \(i) has \(row.count) values for \(columns.count) columns")
        }
        self.columns = columns
        self.rows = rows
        self.title = title
    }

    /// A table from records (dictionaries); columns in order of first appearance.
    public init(records: [[(String, TableValue)]], title: String? = nil) {
        var columns: [String] = []
        var index: [String: Int] = [:]
        for record in records {
            for (key, _) in record where index[key] == nil {
                index[key] = columns.count
                columns.append(key)
            }
        }
        rows = records.map { record in
            var row = [TableValue](repeating: .null, count: columns.count)
            for (key, value) in record { row[index[key]!] = value }
            return row
        }
        self.columns = columns
        self.title = title
    }

    public var count: Int { rows.count }

    /// Adds a row; its length must match the columns.
    public mutating func append(_ row: [TableValue]) throws(TableError) {
        guard row.count == columns.count else {
            throw TableError("a row of \(row.count) values does not fit \(columns.count) columns")
        }
        rows.append(row)
    }

    public func columnIndex(_ name: String) throws(TableError) -> Int {
        guard let i = columns.firstIndex(of: name) else {
            throw TableError("no column \"\(name)\"; the columns are \(columns.joined(separator: ", "))")
        }
        return i
    }

    /// The values of one column.
    public func column(_ name: String) throws(TableError) -> [TableValue] {
        let i = try columnIndex(name)
        return rows.map { $0[i] }
    }

    /// Rows sorted by a column (stable).
    public func sorted(by name: String, descending: Bool = false) throws(TableError) -> Table {
        let i = try columnIndex(name)
        var copy = self
        copy.rows = rows.enumerated().sorted { a, b in
            if a.element[i] == b.element[i] { return a.offset < b.offset }
            return descending ? b.element[i] < a.element[i] : a.element[i] < b.element[i]
        }.map(\.element)
        return copy
    }

    /// Rows whose `column` equals `value`.
    public func filter(_ name: String, equals value: TableValue) throws(TableError) -> Table {
        let i = try columnIndex(name)
        var copy = self
        copy.rows = rows.filter { $0[i] == value || ($0[i].number != nil && $0[i].number == value.number) }
        return copy
    }

    /// Only the named columns, in that order.
    public func selecting(_ names: [String]) throws(TableError) -> Table {
        var indices: [Int] = []
        for name in names { indices.append(try columnIndex(name)) }
        return try Table(columns: names, rows: rows.map { row in indices.map { row[$0] } }, title: title)
    }

    /// A wide table: one row per value of `rows`, one column per value of `columns`,
    /// cells the mean of `value` over the matching rows (as a pivot table does).
    public func pivot(rows rowKey: String, columns columnKey: String, value valueKey: String) throws(TableError) -> Table {
        try pivot(rows: [rowKey], columns: columnKey, value: valueKey)
    }

    /// A wide table: one row per combination of the `rows` columns' values (in order of first
    /// appearance), one column per value of `columns`, cells the mean of `value` over the matching rows.
    public func pivot(rows rowKeys: [String], columns columnKey: String, value valueKey: String) throws(TableError) -> Table {
        guard !rowKeys.isEmpty else { throw TableError("pivot needs at least one rows column") }
        var r: [Int] = []
        for key in rowKeys { r.append(try columnIndex(key)) }
        let c = try columnIndex(columnKey), v = try columnIndex(valueKey)
        var rowValues: [[TableValue]] = [], columnValues: [TableValue] = []
        var seenRows: Set<[TableValue]> = []
        var sums: [[TableValue]: [TableValue: (Double, Int)]] = [:]
        for row in rows {
            let key = r.map { row[$0] }
            if seenRows.insert(key).inserted { rowValues.append(key) }
            if !columnValues.contains(row[c]) { columnValues.append(row[c]) }
            guard let x = row[v].number else { continue }
            let old = sums[key, default: [:]][row[c]] ?? (0, 0)
            sums[key, default: [:]][row[c]] = (old.0 + x, old.1 + 1)
        }
        let header = rowKeys + columnValues.map(\.description)
        guard Set(header).count == header.count else {
            throw TableError("pivot: a value of \"\(columnKey)\" equals a rows column's name (\(rowKeys.joined(separator: ", ")))")
        }
        let body = rowValues.map { rv -> [TableValue] in
            rv + columnValues.map { cv in
                guard let (sum, n) = sums[rv]?[cv], n > 0 else { return .null }
                return .double(sum / Double(n))
            }
        }
        return try Table(columns: header, rows: body, title: title.map { "\($0): \(valueKey)" } ?? valueKey)
    }

    /// Mean and standard deviation (sample, n − 1) of `value` per group of `by` columns.
    public func summarize(_ valueKey: String, by keys: [String]) throws(TableError) -> Table {
        let v = try columnIndex(valueKey)
        var keyIndices: [Int] = []
        for key in keys { keyIndices.append(try columnIndex(key)) }
        var order: [[TableValue]] = []
        var groups: [[TableValue]: [Double]] = [:]
        for row in rows {
            let key = keyIndices.map { row[$0] }
            if groups[key] == nil { order.append(key); groups[key] = [] }
            if let x = row[v].number { groups[key]!.append(x) }
        }
        let body = order.map { key -> [TableValue] in
            let xs = groups[key]!
            let mean = xs.isEmpty ? Double.nan : xs.reduce(0, +) / Double(xs.count)
            let variance = xs.count > 1 ? xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(xs.count - 1) : 0
            return key + [.double(mean), .double(variance.squareRoot()), .int(xs.count)]
        }
        return try Table(columns: keys + ["\(valueKey)_mean", "\(valueKey)_std", "n"], rows: body, title: title)
    }

    // MARK: - Export

    /// RFC 4180 CSV with a header row.
    public func csv() -> String {
        func field(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var lines = [columns.map(field).joined(separator: ",")]
        for row in rows {
            lines.append(row.map { value -> String in
                if case .double(let d) = value { return d.isFinite ? "\(d)" : "" }
                return field(value.description)
            }.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
