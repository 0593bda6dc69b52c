// Tables as Jupyter shows them: aligned text, HTML that reads in light and dark
// themes, Markdown, and the records as JSON data.

import PEFTLabJSON
import PEFTLib

enum TableRendering {
    static let maxRows = 200
    /// The records as data. Not `application/json`: JupyterLab prefers its JSON tree viewer
    /// over HTML for that type, which would hide the table behind a tree.
    static let recordsMIMEType = "application/vnd.peftlab.table+json"

    static func bundle(_ table: Table) -> MIMEBundle {
        MIMEBundle(data: [
            "text/plain": .string(text(table)),
            "text/html": .string(html(table)),
            "text/markdown": .string(markdown(table)),
            recordsMIMEType: json(table),
        ])
    }

    /// Columns padded to their widest cell; numbers right-aligned.
    static func text(_ table: Table) -> String {
        let shown = Array(table.rows.prefix(maxRows))
        let numeric = table.columns.indices.map { i in shown.contains { $0[i].isNumeric } && shown.allSatisfy { $0[i].isNumeric || $0[i] == .null } }
        let cells = shown.map { $0.map(\.description) }
        let widths = table.columns.indices.map { i in
            max(table.columns[i].count, cells.map { $0[i].count }.max() ?? 0)
        }
        func line(_ values: [String]) -> String {
            values.indices.map { i in
                let pad = String(repeating: " ", count: widths[i] - values[i].count)
                return numeric[i] ? pad + values[i] : values[i] + pad
            }.joined(separator: "  ").replacingTrailingSpaces()
        }
        var lines: [String] = []
        if let title = table.title { lines.append(title) }
        lines.append(line(table.columns))
        lines.append(widths.map { String(repeating: "─", count: $0) }.joined(separator: "  "))
        lines += cells.map(line)
        if table.count > maxRows { lines.append("… \(table.count - maxRows) more rows") }
        lines.append("(\(table.count) row\(table.count == 1 ? "" : "s"))")
        return lines.joined(separator: "\n")
    }

    static func html(_ table: Table) -> String {
        let border = "var(--jp-border-color2, rgba(128,128,128,0.35))"
        var s = "<table class=\"peftlab-table\" style=\"border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:13px\">"
        if let title = table.title {
            s += "<caption style=\"text-align:left;font-weight:600;padding:4px 0\">\(escape(title))</caption>"
        }
        s += "<thead><tr>"
        for c in table.columns {
            s += "<th style=\"text-align:left;padding:3px 10px;border-bottom:2px solid \(border)\">\(escape(c))</th>"
        }
        s += "</tr></thead><tbody>"
        for row in table.rows.prefix(maxRows) {
            s += "<tr>"
            for value in row {
                let align = value.isNumeric ? "right" : "left"
                s += "<td style=\"text-align:\(align);padding:2px 10px;border-bottom:1px solid \(border)\">\(escape(value.description))</td>"
            }
            s += "</tr>"
        }
        s += "</tbody></table>"
        if table.count > maxRows { s += "<p>… \(table.count - maxRows) more rows</p>" }
        return s
    }

    static func markdown(_ table: Table) -> String {
        func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
        var lines: [String] = []
        if let title = table.title { lines.append("**\(cell(title))**\n") }
        lines.append("| " + table.columns.map(cell).joined(separator: " | ") + " |")
        lines.append("|" + table.columns.indices.map { i in
            table.rows.contains { $0[i].isNumeric } ? "---:" : "---"
        }.joined(separator: "|") + "|")
        for row in table.rows.prefix(maxRows) {
            lines.append("| " + row.map { cell($0.description) }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    /// `[{"column": value, …}, …]`
    static func json(_ table: Table) -> JSON {
        .array(table.rows.map { row in
            var object = JSONObject()
            for (name, value) in zip(table.columns, row) { object[name] = value.json }
            return .object(object)
        })
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}

extension String {
    func replacingTrailingSpaces() -> String {
        var s = self
        while s.hasSuffix(" ") { s.removeLast() }
        return s
    }
}
