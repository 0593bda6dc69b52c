// The card a model or a run shows as: a title over "key: value" rows as text, and an HTML
// table with the title as its caption.

import PEFTLabJSON

struct Card {
    var title: String
    var rows: [(key: String, value: String)]

    var bundle: MIMEBundle {
        let text = ([title] + rows.map { "  \($0.key): \($0.value)" }).joined(separator: "\n")
        var html = "<table style=\"border-collapse:collapse;font-size:13px\"><caption style=\"text-align:left;font-weight:600\">"
            + "\(TableRendering.escape(title))</caption>"
        for (key, value) in rows {
            html += "<tr><td style=\"padding:2px 12px 2px 0;opacity:0.75\">\(TableRendering.escape(key))</td>"
                + "<td style=\"padding:2px 0\">\(TableRendering.escape(value))</td></tr>"
        }
        html += "</table>"
        return MIMEBundle(data: ["text/plain": .string(text), "text/html": .string(html)])
    }
}
