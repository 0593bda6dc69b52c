// Built-ins that make tables and figures: table(...) and plot(...).

import PEFTLabJSON
import PEFTLib

enum OutputBuiltins {
    static var all: [Builtin] { [table, plot] }

    static let table = Builtin(
        "table", [Parameter(nil, "[String: [Any]] or [[String: Any]]"), Parameter("title", "String", default: .null)],
        returns: "Table",
        doc: """
            A table from columns (`table(["method": ["LoRA", "IA3"], "score": [0.81, 0.74]])`) or from \
            records (`table([["method": "LoRA", "score": 0.81], …])`). Methods: `pivot(rows:columns:value:)`, \
            `sorted(by:)`, `filter(_:equals:)`, `select(…)`, `summarize(_:by:)`, `column(_:)`, `csv()`, `json()`, \
            `save("results.csv")` (or `.json`).
            """
    ) { args, _ throws(RuntimeError) in
        let title = try args.optionalString("title")
        switch args[0] {
        case .dictionary(let pairs):
            var columns: [String] = [], values: [[Value]] = []
            for pair in pairs {
                guard case .string(let name) = pair.key else { throw args.fail(at: 0, "column names as strings", got: pair.key) }
                guard case .array(let items) = pair.value else { throw args.fail(at: 0, "an array of values for column \"\(name)\"", got: pair.value) }
                columns.append(name)
                values.append(items)
            }
            let n = values.first?.count ?? 0
            if let bad = values.firstIndex(where: { $0.count != n }) {
                throw RuntimeError(.value, "table(): column \"\(columns[bad])\" has \(values[bad].count) values, \"\(columns[0])\" has \(n)", at: args.location)
            }
            var rows: [[TableValue]] = []
            for i in 0..<n {
                var row: [TableValue] = []
                for column in values { row.append(try column[i].tableValue(callee: "table")) }
                rows.append(row)
            }
            return .object(TableObject(try wrap { () throws(TableError) in try Table(columns: columns, rows: rows, title: title) }))
        case .array(let records):
            var converted: [[(String, TableValue)]] = []
            for record in records {
                guard case .dictionary(let pairs) = record else { throw args.fail(at: 0, "records (dictionaries)", got: record) }
                var fields: [(String, TableValue)] = []
                for pair in pairs {
                    guard case .string(let name) = pair.key else { throw args.fail(at: 0, "column names as strings", got: pair.key) }
                    fields.append((name, try pair.value.tableValue(callee: "table")))
                }
                converted.append(fields)
            }
            return .object(TableObject(Table(records: converted, title: title)))
        case .object(let o as TableObject):
            return .object(o)
        default:
            throw args.fail(at: 0, "a dictionary of columns or an array of records", got: args[0])
        }
    }

    static let plot = Builtin(
        "plot",
        [Parameter(nil, "Table or [Double] or [String: [Double]]"), Parameter("x", "String", default: .null),
         Parameter("y", "String", default: .null), Parameter("color", "String", default: .null),
         Parameter("kind", "PlotKind", default: .null), Parameter("title", "String", default: .null)],
        returns: "Plot",
        doc: """
            A figure: `plot(run.loss)` draws a curve; `plot(table, x: "step", y: "loss", color: "method")` \
            draws any table; `kind:` is `.line`, `.bar` (grouped by `color:`), `.scatter` or `.heatmap` \
            (cells `x` × `color`, coloured by `y`). Shows as SVG, and interactively in JupyterLab; \
            `.save("loss.png")` writes it as PNG, `.svg` or `.json` (Vega-Lite).
            """
    ) { args, _ throws(RuntimeError) in
        let x = try args.optionalString("x"), y = try args.optionalString("y"), color = try args.optionalString("color")
        let title = try args.optionalString("title")
        var kind: Plot.Kind?
        if args.optional("kind") != nil {
            kind = Plot.Kind(rawValue: try args.dotCase("kind", allowed: Plot.Kind.allCases.map(\.rawValue)))
        }
        switch args[0] {
        case .object(let o as TableObject):
            do throws(PlotError) { return .object(PlotObject(try Plot(table: o.table, x: x, y: y, color: color, kind: kind, title: title))) } catch {
                throw RuntimeError(error.isTypeMismatch ? .type : .value, error.message, at: args.location)
            }
        case .array(let items):
            return .object(PlotObject(Plot(series: [(nil, try numbers(items, args))], kind: kind, title: title)))
        case .dictionary(let pairs):
            var series: [(String?, [Double])] = []
            for pair in pairs {
                guard case .array(let items) = pair.value else { throw args.fail(at: 0, "arrays of numbers", got: pair.value) }
                series.append((pair.key.printed, try numbers(items, args)))
            }
            return .object(PlotObject(Plot(series: series, kind: kind, title: title)))
        default:
            throw args.fail(at: 0, "a Table, an array of numbers or a dictionary of them", got: args[0])
        }
    }

    private static func numbers(_ items: [Value], _ args: BoundArguments) throws(RuntimeError) -> [Double] {
        var out: [Double] = []
        for item in items {
            guard let d = item.asDouble else { throw args.fail(at: 0, "numbers", got: item) }
            out.append(d)
        }
        return out
    }
}
