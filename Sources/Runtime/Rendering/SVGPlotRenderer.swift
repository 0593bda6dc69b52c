// Plots as self-contained SVG: axes with rounded ticks, labels, a legend and a
// title, in mid-tone colours that read on light and dark notebook themes. The layout
// is a list of marks (lines, rects, circles, text) that the SVG serialises here and
// PlotRasterizer draws into a PNG, so both files show the same figure.

import Foundation
import PEFTLib

/// One drawing primitive of a figure, in SVG user units (y down).
enum PlotMark {
    enum Anchor: String { case start, middle, end }

    case line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String, opacity: Double)
    case polyline([(x: Double, y: Double)], stroke: String, width: Double)
    case rect(x: Double, y: Double, width: Double, height: Double, fill: String, tooltip: String?)
    case circle(x: Double, y: Double, r: Double, fill: String, opacity: Double)
    /// Text whose baseline starts, centres or ends at (x, y); `rotated` turns it a quarter
    /// counter-clockwise about that point (a y-axis label).
    case text(x: Double, y: Double, String, anchor: Anchor, size: Int, weight: String, fill: String, rotated: Bool)
}

struct SVGPlotRenderer {
    let plot: Plot
    let width = 560.0, height = 340.0
    let right = 24.0, top = 36.0, bottom = 52.0
    /// Room for the y axis; a heatmap's row labels ("mini-iconqa-blank") may need more, about
    /// 6.5 units a character at size 11.
    var left: Double {
        guard plot.kind == .heatmap else { return 64 }
        let longest = plot.points.map { ($0.series ?? plot.yLabel).count }.max() ?? 0
        return min(width / 2, max(64, Double(longest) * 6.5 + 12))
    }
    static let palette = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#EECA3B", "#9D755D", "#FF9DA6", "#BAB0AC"]
    static let ink = "#808080"

    var plotWidth: Double { width - left - right - legendWidth }
    /// Room for the legend: its longest entry (about 6.2 units a character at size 11) and the
    /// swatch, at least 110 and at most 40 % of the figure.
    var legendWidth: Double {
        guard !legendEntries.isEmpty else { return 0 }
        let longest = (legendEntries.prefix(16).map(\.count) + [plot.seriesLabel?.count ?? 0]).max() ?? 0
        return min(width * 0.4, max(110, Double(longest) * 6.2 + 30))
    }
    var plotHeight: Double { height - top - bottom }
    var legendEntries: [String] { plot.kind == .heatmap ? [] : plot.seriesNames }

    /// Every mark of the figure, back to front.
    func marks() -> [PlotMark] {
        var marks: [PlotMark] = []
        if let title = plot.title {
            marks.append(text(width / 2, 20, title, anchor: .middle, size: 14, weight: "600"))
        }
        switch plot.kind {
        case .line, .scatter: marks += xyMarks()
        case .bar: marks += bars()
        case .heatmap: marks += heatmap()
        }
        return marks + legend()
    }

    func svg() -> String {
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
        s += "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">"
        for mark in marks() { s += svg(mark) }
        s += "</svg>"
        return s
    }

    /// One mark as an SVG element.
    private func svg(_ mark: PlotMark) -> String {
        switch mark {
        case let .line(x1, y1, x2, y2, stroke, opacity):
            return "<line x1=\"\(fmt(x1))\" y1=\"\(fmt(y1))\" x2=\"\(fmt(x2))\" y2=\"\(fmt(y2))\" stroke=\"\(stroke)\""
                + (opacity < 1 ? " stroke-opacity=\"\(opacity)\"" : "") + "/>"
        case let .polyline(points, stroke, width):
            let path = points.map { "\(fmt($0.x)),\(fmt($0.y))" }.joined(separator: " ")
            return "<polyline fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(fmt(width))\" points=\"\(path)\"/>"
        case let .rect(x, y, w, h, fill, tooltip):
            let head = "<rect x=\"\(fmt(x))\" y=\"\(fmt(y))\" width=\"\(fmt(w))\" height=\"\(fmt(h))\" fill=\"\(fill)\""
            return tooltip.map { head + "><title>\(escape($0))</title></rect>" } ?? head + "/>"
        case let .circle(x, y, r, fill, opacity):
            return "<circle cx=\"\(fmt(x))\" cy=\"\(fmt(y))\" r=\"\(fmt(r))\" fill=\"\(fill)\""
                + (opacity < 1 ? " fill-opacity=\"\(opacity)\"" : "") + "/>"
        case let .text(x, y, string, anchor, size, weight, fill, rotated):
            let rotation = rotated ? " transform=\"rotate(-90 \(fmt(x)) \(fmt(y)))\"" : ""
            return "<text x=\"\(fmt(x))\" y=\"\(fmt(y))\" text-anchor=\"\(anchor.rawValue)\" fill=\"\(fill)\" "
                + "font-size=\"\(size)\" font-weight=\"\(weight)\"\(rotation)>\(escape(string))</text>"
        }
    }

    // MARK: - Marks

    private func color(_ series: String?) -> String {
        guard let series, let i = plot.seriesNames.firstIndex(of: series) else { return Self.palette[0] }
        return Self.palette[i % Self.palette.count]
    }

    private func xyMarks() -> [PlotMark] {
        let xs = plot.points.compactMap { $0.x.number }, ys = plot.points.compactMap { $0.y.number }
        guard !xs.isEmpty, !ys.isEmpty else { return [emptyNote()] }
        let xScale = NiceScale(min: xs.min()!, max: xs.max()!), yScale = NiceScale(min: ys.min()!, max: ys.max()!)
        var s = axes(xTicks: xScale.ticks.map { ($0, TableValue.format($0)) }, xScale: xScale,
                     yScale: yScale)
        let groups = plot.seriesNames.isEmpty ? [nil] : plot.seriesNames.map { Optional($0) }
        for group in groups {
            let points = plot.points.filter { $0.series == group }.compactMap { p -> (Double, Double)? in
                guard let x = p.x.number, let y = p.y.number, y.isFinite else { return nil }
                return (px(xScale.fraction(x)), py(yScale.fraction(y)))
            }
            let c = color(group)
            if plot.kind == .line {
                s.append(.polyline(points.map { (x: $0.0, y: $0.1) }, stroke: c, width: 2))
                if points.count <= 40 {
                    for (x, y) in points { s.append(.circle(x: x, y: y, r: 2.5, fill: c, opacity: 1)) }
                }
            } else {
                for (x, y) in points { s.append(.circle(x: x, y: y, r: 5, fill: c, opacity: 0.85)) }
            }
        }
        return s
    }

    private func bars() -> [PlotMark] {
        var categories: [String] = []
        for p in plot.points where !categories.contains(p.x.description) { categories.append(p.x.description) }
        let ys = plot.points.compactMap { $0.y.number }
        guard !categories.isEmpty, !ys.isEmpty else { return [emptyNote()] }
        let yScale = NiceScale(min: min(0, ys.min()!), max: max(0, ys.max()!))
        var s = axes(xTicks: [], xScale: nil, yScale: yScale)
        let groups = plot.seriesNames.isEmpty ? [nil] : plot.seriesNames.map { Optional($0) }
        let band = plotWidth / Double(categories.count)
        let barWidth = band * 0.8 / Double(groups.count)
        let zero = py(yScale.fraction(0))
        for (ci, category) in categories.enumerated() {
            let x0 = left + band * Double(ci) + band * 0.1
            s.append(text(x0 + band * 0.4, top + plotHeight + 16, category, anchor: .middle))
            for (gi, group) in groups.enumerated() {
                let values = plot.points.filter { $0.x.description == category && $0.series == group }.compactMap { $0.y.number }
                guard !values.isEmpty else { continue }
                let v = values.reduce(0, +) / Double(values.count)
                let y = py(yScale.fraction(v))
                s.append(.rect(x: x0 + barWidth * Double(gi), y: min(y, zero), width: max(barWidth - 1, 1), height: abs(zero - y),
                               fill: color(group), tooltip: "\(group.map { "\($0), " } ?? "")\(category): \(TableValue.format(v))"))
            }
        }
        s.append(text(left + plotWidth / 2, height - 10, plot.xLabel, anchor: .middle, size: 12))
        return s
    }

    private func heatmap() -> [PlotMark] {
        var columns: [String] = [], rows: [String] = []
        for p in plot.points {
            if !columns.contains(p.x.description) { columns.append(p.x.description) }
            let r = p.series ?? plot.yLabel
            if !rows.contains(r) { rows.append(r) }
        }
        let values = plot.points.compactMap { $0.y.number }.filter(\.isFinite)
        guard !columns.isEmpty, !rows.isEmpty, let lo = values.min(), let hi = values.max() else { return [emptyNote()] }
        let cellW = plotWidth / Double(columns.count), cellH = plotHeight / Double(rows.count)
        var s: [PlotMark] = []
        for (ri, row) in rows.enumerated() {
            s.append(text(left - 6, top + cellH * (Double(ri) + 0.5) + 4, row, anchor: .end))
            for (ci, column) in columns.enumerated() {
                guard let v = plot.points.first(where: { $0.x.description == column && ($0.series ?? plot.yLabel) == row })?.y.number,
                      v.isFinite else { continue }
                let t = hi > lo ? (v - lo) / (hi - lo) : 0.5
                let (fill, label) = (Self.viridis(t), t > 0.6 ? "#202020" : "#f0f0f0")
                let x = left + cellW * Double(ci), y = top + cellH * Double(ri)
                s.append(.rect(x: x, y: y, width: cellW - 1, height: cellH - 1, fill: fill, tooltip: nil))
                if cellW > 28 && cellH > 14 {
                    s.append(.text(x: x + cellW / 2, y: y + cellH / 2 + 4, TableValue.format(v), anchor: .middle, size: 11,
                                   weight: "normal", fill: label, rotated: false))
                }
            }
        }
        for (ci, column) in columns.enumerated() {
            s.append(text(left + cellW * (Double(ci) + 0.5), top + plotHeight + 16, column, anchor: .middle))
        }
        s.append(text(left + plotWidth / 2, height - 10, plot.xLabel, anchor: .middle, size: 12))
        return s
    }

    // MARK: - Axes and legend

    private func axes(xTicks: [(Double, String)], xScale: NiceScale?, yScale: NiceScale) -> [PlotMark] {
        var s: [PlotMark] = yScale.ticks.map { t in
            let y = py(yScale.fraction(t))
            return .line(x1: left, y1: y, x2: left + plotWidth, y2: y, stroke: Self.ink, opacity: 0.25)
        }
        s.append(.line(x1: left, y1: top, x2: left, y2: top + plotHeight, stroke: Self.ink, opacity: 1))
        s.append(.line(x1: left, y1: top + plotHeight, x2: left + plotWidth, y2: top + plotHeight, stroke: Self.ink, opacity: 1))
        for t in yScale.ticks {
            s.append(text(left - 6, py(yScale.fraction(t)) + 4, TableValue.format(t), anchor: .end))
        }
        if let xScale {
            for (t, label) in xTicks { s.append(text(px(xScale.fraction(t)), top + plotHeight + 16, label, anchor: .middle)) }
            s.append(text(left + plotWidth / 2, height - 10, plot.xLabel, anchor: .middle, size: 12))
        }
        s.append(.text(x: 14, y: top + plotHeight / 2, plot.yLabel, anchor: .middle, size: 12, weight: "normal",
                       fill: Self.ink, rotated: true))
        return s
    }

    private func legend() -> [PlotMark] {
        guard !legendEntries.isEmpty else { return [] }
        let x = left + plotWidth + 16
        var s: [PlotMark] = []
        if let label = plot.seriesLabel { s.append(text(x, top, label, anchor: .start, weight: "600")) }
        for (i, name) in legendEntries.prefix(16).enumerated() {
            let y = top + 16 + Double(i) * 16
            s.append(.rect(x: x, y: y - 9, width: 10, height: 10, fill: color(name), tooltip: nil))
            s.append(text(x + 14, y, name, anchor: .start))
        }
        return s
    }

    private func emptyNote() -> PlotMark {
        text(width / 2, height / 2, "no data to plot", anchor: .middle, size: 13)
    }

    // MARK: - Helpers

    private func px(_ f: Double) -> Double { left + f * plotWidth }
    private func py(_ f: Double) -> Double { top + (1 - f) * plotHeight }
    private func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    private func text(_ x: Double, _ y: Double, _ s: String, anchor: PlotMark.Anchor, size: Int = 11, weight: String = "normal") -> PlotMark {
        .text(x: x, y: y, s, anchor: anchor, size: size, weight: weight, fill: Self.ink, rotated: false)
    }

    private func escape(_ s: String) -> String { TableRendering.escape(s) }

    /// A perceptually even dark-blue → green → yellow ramp (viridis' end points and middle).
    static func viridis(_ t: Double) -> String {
        let stops: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
        let x = min(max(t, 0), 1) * Double(stops.count - 1)
        let i = min(Int(x), stops.count - 2), f = x - Double(i)
        let a = stops[i], b = stops[i + 1]
        func mix(_ u: Double, _ v: Double) -> Int { Int((u + (v - u) * f).rounded()) }
        return String(format: "#%02x%02x%02x", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }
}

/// Axis bounds and ticks at 1, 2 or 5 × 10^k, covering the data.
struct NiceScale {
    let lower: Double, upper: Double, step: Double

    init(min lo: Double, max hi: Double, ticks: Int = 5) {
        var lo = lo, hi = hi
        if !lo.isFinite || !hi.isFinite { lo = 0; hi = 1 }
        if lo == hi { lo -= lo == 0 ? 1 : abs(lo) * 0.1; hi += hi == 0 ? 1 : abs(hi) * 0.1 }
        let raw = (hi - lo) / Double(max(1, ticks))
        let magnitude = pow(10, floor(log10(raw)))
        let residual = raw / magnitude
        let nice = residual > 5 ? 10.0 : residual > 2 ? 5.0 : residual > 1 ? 2.0 : 1.0
        step = nice * magnitude
        lower = floor(lo / step) * step
        upper = ceil(hi / step) * step
    }

    var ticks: [Double] {
        var out: [Double] = []
        var t = lower
        while t <= upper + step * 0.5, out.count < 50 {
            out.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        return out
    }

    func fraction(_ v: Double) -> Double { upper > lower ? (v - lower) / (upper - lower) : 0.5 }
}
