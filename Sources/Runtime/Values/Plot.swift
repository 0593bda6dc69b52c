// Figures: what `plot(...)` draws, independent of how it is drawn. A plot is a
// kind plus points (x, y, series); rendered as SVG for any viewer and as a
// Vega-Lite spec for interactive JupyterLab, with a text fallback.

import PEFTLabJSON
import PEFTLib

/// A figure ready to render.
public struct Plot: Sendable {
    public enum Kind: String, Sendable, CaseIterable { case line, bar, scatter, heatmap }

    /// One mark: `x` (a number or a category), `y` (a number; for heatmaps a category),
    /// `value` (heatmaps' colour), `series` (colour group).
    public struct Point: Sendable {
        public var x: TableValue
        public var y: TableValue
        public var series: String?
    }

    public var kind: Kind
    public var title: String?
    public var xLabel: String
    public var yLabel: String
    public var seriesLabel: String?
    public var points: [Point]

    public var seriesNames: [String] {
        var seen: [String] = []
        for p in points { if let s = p.series, !seen.contains(s) { seen.append(s) } }
        return seen
    }

    /// Builds a plot from a table's columns.
    static func from(table: Table, x: String?, y: String?, color: String?, kind: Kind?, title: String?) throws(RuntimeError) -> Plot {
        let columns = table.columns
        let numericColumns = columns.indices.filter { i in table.rows.contains { $0[i].isNumeric } }.map { columns[$0] }
        guard let yName = y ?? numericColumns.last(where: { $0 != x && $0 != color }) ?? numericColumns.last else {
            throw RuntimeError(.value, "plot: the table has no numeric column to plot")
        }
        let xName = x ?? columns.first { $0 != yName && $0 != color } ?? yName
        let xs = try wrap { () throws(TableError) in try table.column(xName) }
        let ys = try wrap { () throws(TableError) in try table.column(yName) }
        let groups = try color.map { name throws(RuntimeError) in try wrap { () throws(TableError) in try table.column(name) } }
        let numericX = xs.allSatisfy { $0.isNumeric || $0 == .null }
        let chosen: Kind
        if let kind {
            chosen = kind
        } else if kind == nil, !numericX {
            chosen = .bar
        } else {
            chosen = .line
        }
        if chosen != .heatmap {
            for (i, v) in ys.enumerated() where !(v.isNumeric || v == .null) {
                throw RuntimeError(.type, "plot: y column \"\(yName)\" must hold numbers; row \(i) holds \"\(v)\"")
            }
        }
        if (chosen == .line || chosen == .scatter) && !numericX {
            throw RuntimeError(.type, "plot(kind: .\(chosen.rawValue)): x column \"\(xName)\" must hold numbers; use kind: .bar for categories")
        }
        var points: [Point] = []
        for i in 0..<table.count where ys[i] != .null {
            points.append(Point(x: xs[i], y: ys[i], series: groups.map { $0[i].description }))
        }
        return Plot(kind: chosen, title: title ?? table.title, xLabel: xName, yLabel: yName, seriesLabel: color, points: points)
    }

    /// A line plot of one or more numeric series against their step (1, 2, …).
    static func from(series: [(String?, [Double])], kind: Kind?, title: String?) -> Plot {
        var points: [Point] = []
        for (name, values) in series {
            for (i, v) in values.enumerated() { points.append(Point(x: .int(i + 1), y: .double(v), series: name)) }
        }
        return Plot(kind: kind ?? .line, title: title, xLabel: "step", yLabel: "value",
                    seriesLabel: series.count > 1 ? "series" : nil, points: points)
    }

    /// The bundle Jupyter shows: SVG, Vega-Lite, and a text summary.
    public func render() -> MIMEBundle {
        MIMEBundle(data: [
            "text/plain": .string(summary),
            "image/svg+xml": .string(SVGPlotRenderer(plot: self).svg()),
            "application/vnd.vegalite.v5+json": VegaLiteSpec.spec(for: self),
        ])
    }

    var summary: String {
        let series = seriesNames
        return "<\(kind.rawValue) plot\(title.map { " \"\($0)\"" } ?? ""): \(yLabel) by \(xLabel), "
            + "\(points.count) points\(series.isEmpty ? "" : " in \(series.count) series")>"
    }
}

/// A figure as a language value.
final class PlotObject: RuntimeObject {
    let plot: Plot
    init(_ plot: Plot) { self.plot = plot }
    var typeName: String { "Plot" }
    var memberNames: [String] { ["svg", "kind", "title", "save"] }
    func member(_ name: String) throws(RuntimeError) -> Value? {
        switch name {
        case "svg": return .string(SVGPlotRenderer(plot: plot).svg())
        case "kind": return .dotCase(plot.kind.rawValue)
        case "title": return plot.title.map(Value.string) ?? .null
        case "save":
            let plot = self.plot
            return .function(Builtin(
                "Plot.save", [Parameter(nil, "String"), Parameter("scale", "Int", default: .int(2))], returns: "String",
                doc: """
                    Writes the figure to a file chosen by its extension: .svg, .png (rasterised, `scale` pixels \
                    per SVG unit: 2 gives 1120 × 680), or .json (the Vega-Lite spec). Returns the path.
                    """
            ) { args, _ throws(RuntimeError) in
                let path = try args.path(0, nil)
                let scale = try args.int(1, "scale")
                if path.hasSuffix(".svg") {
                    try writeFile(SVGPlotRenderer(plot: plot).svg() + "\n", to: path)
                } else if path.hasSuffix(".png") {
                    guard (1...8).contains(scale) else {
                        throw RuntimeError(.value, "save(scale:) takes 1 to 8 pixels per unit, got \(scale)", at: args.location)
                    }
                    let image = PlotRasterizer(scale: scale).image(SVGPlotRenderer(plot: plot))
                    let bytes: [UInt8]
                    do { bytes = try image.encodePNG() } catch {
                        throw RuntimeError(.library, "cannot encode \(path): \(error)", at: args.location)
                    }
                    try writeFile(bytes, to: path)
                } else if path.hasSuffix(".json") {
                    try writeFile(VegaLiteSpec.spec(for: plot).prettySerialized() + "\n", to: path)
                } else {
                    throw RuntimeError(.value, "save: use an .svg, .png or .json file name, not \"\(path)\"", at: args.location)
                }
                return .string(path)
            })
        default: return nil
        }
    }
    func render() -> MIMEBundle { plot.render() }
}
