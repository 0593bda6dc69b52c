// Figures as values: what a plot shows — a kind and its marks (x, y, series) — independent
// of how it is drawn. The study's workflows return one with their table; the language's
// `plot(...)` makes one from any table or series; the kernel draws it as SVG, PNG or
// Vega-Lite (Runtime/Rendering).

/// A figure ready to render.
public struct Plot: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case line, bar, scatter, heatmap }

    /// One mark: `x` (a number or a category), `y` (a number; for heatmaps a category),
    /// `series` (its colour group).
    public struct Point: Sendable, Equatable {
        public var x: TableValue
        public var y: TableValue
        public var series: String?

        public init(x: TableValue, y: TableValue, series: String?) { self.x = x; self.y = y; self.series = series }
    }

    public var kind: Kind
    public var title: String?
    public var xLabel: String
    public var yLabel: String
    public var seriesLabel: String?
    public var points: [Point]

    public init(kind: Kind, title: String?, xLabel: String, yLabel: String, seriesLabel: String?, points: [Point]) {
        self.kind = kind; self.title = title; self.xLabel = xLabel; self.yLabel = yLabel
        self.seriesLabel = seriesLabel; self.points = points
    }

    /// The series' names in the order they first occur.
    public var seriesNames: [String] {
        var seen: [String] = []
        for p in points { if let s = p.series, !seen.contains(s) { seen.append(s) } }
        return seen
    }

    /// A plot of a table's columns, choosing what is not given: `y` the last numeric column
    /// that is not `x` or `color`, `x` the first other column, the kind a line over numeric
    /// x and bars over categories. Rows whose y is empty are left out.
    /// - Throws: `PlotError` for a table without numbers, a y column holding text, or a line
    ///   or scatter over categories.
    public init(table: Table, x: String? = nil, y: String? = nil, color: String? = nil, kind: Kind? = nil,
                title: String? = nil) throws(PlotError) {
        let columns = table.columns
        let numericColumns = columns.indices.filter { i in table.rows.contains { $0[i].isNumeric } }.map { columns[$0] }
        guard let yName = y ?? numericColumns.last(where: { $0 != x && $0 != color }) ?? numericColumns.last else {
            throw PlotError("plot: the table has no numeric column to plot", isTypeMismatch: false)
        }
        let xName = x ?? columns.first { $0 != yName && $0 != color } ?? yName
        func column(_ name: String) throws(PlotError) -> [TableValue] {
            do { return try table.column(name) } catch { throw PlotError(error.message, isTypeMismatch: false) }
        }
        let xs = try column(xName), ys = try column(yName)
        let groups = try color.map { name throws(PlotError) in try column(name) }
        let numericX = xs.allSatisfy { $0.isNumeric || $0 == .null }
        let chosen = kind ?? (numericX ? .line : .bar)
        if chosen != .heatmap {
            for (i, v) in ys.enumerated() where !(v.isNumeric || v == .null) {
                throw PlotError("plot: y column \"\(yName)\" must hold numbers; row \(i) holds \"\(v)\"", isTypeMismatch: true)
            }
        }
        if (chosen == .line || chosen == .scatter) && !numericX {
            throw PlotError("plot(kind: .\(chosen.rawValue)): x column \"\(xName)\" must hold numbers; use kind: .bar for categories",
                            isTypeMismatch: true)
        }
        var points: [Point] = []
        for i in 0..<table.count where ys[i] != .null {
            points.append(Point(x: xs[i], y: ys[i], series: groups.map { $0[i].description }))
        }
        self.init(kind: chosen, title: title ?? table.title, xLabel: xName, yLabel: yName, seriesLabel: color, points: points)
    }

    /// A study's figure: one mark per row of `data`, lines and scatters in order of x (rows
    /// with equal x keep their order), a series label only when some row has a series.
    public init(study data: Table, kind: Kind, x: String, y: String, series: String?, title: String) {
        let columns = data.columns
        var points: [Point] = []
        if let xi = columns.firstIndex(of: x), let yi = columns.firstIndex(of: y) {
            let si = series.flatMap { columns.firstIndex(of: $0) }
            points = data.rows.map { row in Point(x: row[xi], y: row[yi], series: si.map { row[$0].description }) }
        }
        if kind == .line || kind == .scatter {
            points = points.enumerated().sorted { a, b in
                let (p, q) = (a.element.x.number ?? 0, b.element.x.number ?? 0)
                return p != q ? p < q : a.offset < b.offset
            }.map(\.element)
        }
        self.init(kind: kind, title: title, xLabel: x, yLabel: y,
                  seriesLabel: points.contains { $0.series != nil } ? series : nil, points: points)
    }

    /// A line (or `kind`) plot of one or more numeric series against their step (1, 2, …).
    public init(series: [(String?, [Double])], kind: Kind? = nil, title: String? = nil) {
        var points: [Point] = []
        for (name, values) in series {
            for (i, v) in values.enumerated() { points.append(Point(x: .int(i + 1), y: .double(v), series: name)) }
        }
        self.init(kind: kind ?? .line, title: title, xLabel: "step", yLabel: "value",
                  seriesLabel: series.count > 1 ? "series" : nil, points: points)
    }

    /// "<line plot "loss": value by step, 120 points>".
    public var summary: String {
        let series = seriesNames
        return "<\(kind.rawValue) plot\(title.map { " \"\($0)\"" } ?? ""): \(yLabel) by \(xLabel), "
            + "\(points.count) points\(series.isEmpty ? "" : " in \(series.count) series")>"
    }
}

/// Why a table cannot be plotted as asked.
public struct PlotError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    /// A column of the wrong kind (text where numbers are needed), rather than a missing one.
    public let isTypeMismatch: Bool
    public init(_ message: String, isTypeMismatch: Bool) { self.message = message; self.isTypeMismatch = isTypeMismatch }
    public var description: String { message }
}
