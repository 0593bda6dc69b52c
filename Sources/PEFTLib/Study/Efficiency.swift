// The study's efficiency view (its Table 15 beside the scores): the trainable share of each
// method setting against its mean score, from any results table.

import Foundation

extension Study {
    /// Per method setting (method, size, location, connector — those the table has), the mean
    /// trainable share and mean headline score; for tables with epochs, the last epoch only.
    /// Reads the tidy table every workflow returns (`share`, `metric`, `score`).
    /// - Returns: the summary as `table`; the figure: score against share,
    ///   coloured by method.
    public static func efficiency(_ table: Table) throws -> StudyResults {
        guard table.columns.contains("share") else {
            throw StudyError("efficiency needs a table with a trainable share column (\"share\"), such as compare(…) "
                             + "or location(…) return; this one has \(table.columns.joined(separator: ", "))")
        }
        guard table.columns.contains("score") else {
            throw StudyError("efficiency needs a \"score\" column; this table has \(table.columns.joined(separator: ", "))")
        }
        var rows = records(table)
        if table.columns.contains("metric") {
            rows = rows.filter { if case .text(let m)? = $0["metric"] { return headlineMetrics.contains(m) } else { return false } }
        }
        if table.columns.contains("epoch"), let last = rows.compactMap({ $0["epoch"] }).max() {
            rows = rows.filter { $0["epoch"] == last }
        }
        let keys = ["method", "size", "location", "connector"].filter(table.columns.contains)
        let groups = aggregate(rows, keys: keys, value: "score", extra: ["share"])
        let summary = Table(records: groups.map { g in
            zip(keys, g.key).map { ($0, $1) } + [("share", .double(g.extra[0])), ("score", .double(g.mean)), ("n", .int(g.n))]
        }, title: "efficiency: trainable share and mean score")
        let figure = Plot(study: summary, kind: .scatter, x: "share", y: "score",
                                 series: keys.contains("method") ? "method" : nil,
                                 title: "score against trainable share (%)")
        return StudyResults(table: summary, summary: nil, figure: figure, runs: 0, finished: 0, ran: 0, skipped: 0,
                            cancelled: false)
    }
}
