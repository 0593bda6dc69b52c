// Tables in the language: `table(...)` builds one, workflows return them, and
// methods (`pivot`, `sorted`, `filter`, `summarize`, `column`, `csv`) reshape them.

import Foundation
import PEFTLabJSON
import PEFTLib

/// A PEFTLib table as a language value.
public final class TableObject: RuntimeObject {
    public let table: Table
    public init(_ table: Table) { self.table = table }

    public var typeName: String { "Table" }
    public var memberNames: [String] {
        ["count", "columns", "rows", "title", "column", "pivot", "sorted", "filter", "select", "summarize", "csv", "json", "save"]
    }

    public func member(_ name: String) throws(RuntimeError) -> Value? {
        let table = self.table
        switch name {
        case "count": return .int(table.count)
        case "columns": return .array(table.columns.map(Value.string))
        case "title": return table.title.map(Value.string) ?? .null
        case "rows":
            return .array(table.rows.map { row in
                .dictionary(zip(table.columns, row).map { (key: Value.string($0.0), value: Value(tableValue: $0.1)) })
            })
        case "column":
            return method("column", [Parameter(nil, "String")], returns: "[Any]",
                          doc: "The values of one column.") { args throws(RuntimeError) in
                let name = try args.string(at: 0)
                return .array(try wrap { () throws(TableError) in try table.column(name) }.map(Value.init(tableValue:)))
            }
        case "pivot":
            return method("pivot", [Parameter("rows", "String or [String]"), Parameter("columns", "String"), Parameter("value", "String")],
                          returns: "Table", doc: """
                              A wide table: one row per `rows` value (or combination of values, for `rows: ["method", \
                              "connector"]`), one column per `columns` value, cells the mean of `value`.
                              """) { args throws(RuntimeError) in
                var r: [String] = []
                if case .array(let items) = args["rows"] {
                    for item in items {
                        guard case .string(let s) = item else { throw args.fail("rows", "column names (String)", got: item) }
                        r.append(s)
                    }
                } else {
                    r = [try args.string("rows")]
                }
                let (c, v) = (try args.string("columns"), try args.string("value"))
                return .object(TableObject(try wrap { () throws(TableError) in try table.pivot(rows: r, columns: c, value: v) }))
            }
        case "sorted":
            return method("sorted", [Parameter("by", "String"), Parameter("descending", "Bool", default: .bool(false))],
                          returns: "Table", doc: "The rows sorted by a column.") { args throws(RuntimeError) in
                let (key, descending) = (try args.string("by"), try args.bool("descending"))
                return .object(TableObject(try wrap { () throws(TableError) in try table.sorted(by: key, descending: descending) }))
            }
        case "filter":
            return method("filter", [Parameter(nil, "String"), Parameter("equals", "Any")],
                          returns: "Table", doc: "The rows whose column equals a value: `t.filter(\"method\", equals: \"LoRA\")`.") { args throws(RuntimeError) in
                let key = try args.string(at: 0)
                let value = try args["equals"].tableValue(callee: "filter")
                return .object(TableObject(try wrap { () throws(TableError) in try table.filter(key, equals: value) }))
            }
        case "select":
            return method("select", [Parameter(nil, "String", variadic: true)],
                          returns: "Table", doc: "Only the named columns, in that order.") { args throws(RuntimeError) in
                guard case .array(let items) = args[0] else { return .null }
                var names: [String] = []
                for item in items {
                    guard case .string(let s) = item else { throw args.fail(at: 0, "column names (String)", got: item) }
                    names.append(s)
                }
                return .object(TableObject(try wrap { () throws(TableError) in try table.selecting(names) }))
            }
        case "summarize":
            return method("summarize", [Parameter(nil, "String"), Parameter("by", "[String]")],
                          returns: "Table", doc: "Mean, standard deviation and count of a column per group: `t.summarize(\"score\", by: [\"method\"])`.") { args throws(RuntimeError) in
                let key = try args.string(at: 0)
                guard case .array(let items) = args["by"] else { throw args.fail("by", "an array of column names", got: args["by"]) }
                let keys = items.compactMap { if case .string(let s) = $0 { return s } else { return nil } }
                return .object(TableObject(try wrap { () throws(TableError) in try table.summarize(key, by: keys) }))
            }
        case "csv":
            return method("csv", [], returns: "String", doc: "The table as CSV text.") { _ throws(RuntimeError) in
                .string(table.csv())
            }
        case "json":
            return method("json", [], returns: "String", doc: "The table as JSON records.") { _ throws(RuntimeError) in
                .string(TableRendering.json(table).prettySerialized())
            }
        case "save":
            return method("save", [Parameter(nil, "String")], returns: "String",
                          doc: "Writes the table to a .csv or .json file (by its extension); returns the path.") { args throws(RuntimeError) in
                let path = try args.path(at: 0)
                let text: String
                if path.hasSuffix(".csv") { text = table.csv() }
                else if path.hasSuffix(".json") { text = TableRendering.json(table).prettySerialized() + "\n" }
                else { throw RuntimeError(.value, "save: use a .csv or .json file name, not \"\(path)\"") }
                try writeFile(text, to: path)
                return .string(path)
            }
        default:
            return nil
        }
    }

    public func render() -> MIMEBundle { TableRendering.bundle(table) }

    private func method(_ name: String, _ parameters: [Parameter], returns: String, doc: String,
                        _ body: @escaping @Sendable (BoundArguments) throws(RuntimeError) -> Value) -> Value {
        .function(Builtin("Table.\(name)", parameters, returns: returns, doc: doc) { args, _ throws(RuntimeError) in try body(args) })
    }
}

/// Runs a table operation, turning its error into a language error.
func wrap<T>(_ body: () throws(TableError) -> T) throws(RuntimeError) -> T {
    do { return try body() } catch { throw RuntimeError(.value, error.message) }
}

extension Value {
    /// A table cell as a language value.
    init(tableValue: TableValue) {
        switch tableValue {
        case .null: self = .null
        case .int(let n): self = .int(n)
        case .double(let d): self = .double(d)
        case .text(let s): self = .string(s)
        case .bool(let b): self = .bool(b)
        }
    }

    /// A language value as a table cell; containers do not fit in a cell.
    func tableValue(callee: String) throws(RuntimeError) -> TableValue {
        switch self {
        case .null, .void: return .null
        case .int(let n): return .int(n)
        case .double(let d): return .double(d)
        case .string(let s): return .text(s)
        case .bool(let b): return .bool(b)
        case .dotCase(let c): return .text(c)
        default:
            throw RuntimeError(.type, "\(callee)(): a table cell holds a number, text or a Bool, not a \(typeName)")
        }
    }
}

/// Writes text to a file atomically, creating its folder; errors say which file.
func writeFile(_ text: String, to path: String) throws(RuntimeError) {
    try writeFile(Array(text.utf8), to: path)
}

/// Writes bytes to a file atomically, creating its folder; errors say which file.
func writeFile(_ bytes: [UInt8], to path: String) throws(RuntimeError) {
    do { try AtomicFiles.write(bytes, to: path) } catch {
        throw RuntimeError(.value, "\(error)")
    }
}
