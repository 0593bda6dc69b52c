// Plots as self-contained SVG: axes with rounded ticks, labels, a legend and a
// title, in mid-tone colours that read on light and dark notebook themes.

import Foundation
import PEFTLib

struct SVGPlotRenderer {
    let plot: Plot
    let width = 560.0, height = 340.0
    let left = 64.0, right = 24.0, top = 36.0, bottom = 52.0
    static let palette = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#EECA3B", "#9D755D", "#FF9DA6", "#BAB0AC"]
    static let ink = "#808080"

    var plotWidth: Double { width - left - right - (legendEntries.isEmpty ? 0 : 110) }
    var plotHeight: Double { height - top - bottom }
    var legendEntries: [String] { plot.kind == .heatmap ? [] : plot.seriesNames }

    func svg() -> String {
        var body = ""
        switch plot.kind {
        case .line, .scatter: body = xyMarks()
        case .bar: body = bars()
        case .heatmap: body = heatmap()
        }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
        s += "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">"
        if let title = plot.title {
            s += text(width / 2, 20, title, anchor: "middle", size: 14, weight: "600")
        }
        s += body
        s += legend()
        s += "</svg>"
        return s
    }

    // MARK: - Marks

    private func color(_ series: String?) -> String {
        guard let series, let i = plot.seriesNames.firstIndex(of: series) else { return Self.palette[0] }
        return Self.palette[i % Self.palette.count]
    }

    private func xyMarks() -> String {
        let xs = plot.points.compactMap { $0.x.number }, ys = plot.points.compactMap { $0.y.number }
        guard !xs.isEmpty, !ys.isEmpty else { return emptyNote() }
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
                let path = points.map { String(format: "%.1f,%.1f", $0.0, $0.1) }.joined(separator: " ")
                s += "<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"2\" points=\"\(path)\"/>"
                if points.count <= 40 {
                    for (x, y) in points { s += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%@\"/>", x, y, c) }
                }
            } else {
                for (x, y) in points {
                    s += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%@\" fill-opacity=\"0.85\"/>", x, y, c)
                }
            }
        }
        return s
    }

    private func bars() -> String {
        var categories: [String] = []
        for p in plot.points where !categories.contains(p.x.description) { categories.append(p.x.description) }
        let ys = plot.points.compactMap { $0.y.number }
        guard !categories.isEmpty, !ys.isEmpty else { return emptyNote() }
        let yScale = NiceScale(min: min(0, ys.min()!), max: max(0, ys.max()!))
        var s = axes(xTicks: [], xScale: nil, yScale: yScale)
        let groups = plot.seriesNames.isEmpty ? [nil] : plot.seriesNames.map { Optional($0) }
        let band = plotWidth / Double(categories.count)
        let barWidth = band * 0.8 / Double(groups.count)
        let zero = py(yScale.fraction(0))
        for (ci, category) in categories.enumerated() {
            let x0 = left + band * Double(ci) + band * 0.1
            s += text(x0 + band * 0.4, top + plotHeight + 16, category, anchor: "middle")
            for (gi, group) in groups.enumerated() {
                let values = plot.points.filter { $0.x.description == category && $0.series == group }.compactMap { $0.y.number }
                guard !values.isEmpty else { continue }
                let v = values.reduce(0, +) / Double(values.count)
                let y = py(yScale.fraction(v))
                s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\"><title>%@</title></rect>",
                            x0 + barWidth * Double(gi), min(y, zero), max(barWidth - 1, 1), abs(zero - y), color(group),
                            escape("\(group.map { "\($0), " } ?? "")\(category): \(TableValue.format(v))"))
            }
        }
        s += text(left + plotWidth / 2, height - 10, plot.xLabel, anchor: "middle", size: 12)
        return s
    }

    private func heatmap() -> String {
        var columns: [String] = [], rows: [String] = []
        for p in plot.points {
            if !columns.contains(p.x.description) { columns.append(p.x.description) }
            let r = p.series ?? plot.yLabel
            if !rows.contains(r) { rows.append(r) }
        }
        let values = plot.points.compactMap { $0.y.number }.filter(\.isFinite)
        guard !columns.isEmpty, !rows.isEmpty, let lo = values.min(), let hi = values.max() else { return emptyNote() }
        let cellW = plotWidth / Double(columns.count), cellH = plotHeight / Double(rows.count)
        var s = ""
        for (ri, row) in rows.enumerated() {
            s += text(left - 6, top + cellH * (Double(ri) + 0.5) + 4, row, anchor: "end")
            for (ci, column) in columns.enumerated() {
                guard let v = plot.points.first(where: { $0.x.description == column && ($0.series ?? plot.yLabel) == row })?.y.number,
                      v.isFinite else { continue }
                let t = hi > lo ? (v - lo) / (hi - lo) : 0.5
                let (fill, label) = (Self.viridis(t), t > 0.6 ? "#202020" : "#f0f0f0")
                let x = left + cellW * Double(ci), y = top + cellH * Double(ri)
                s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\"/>", x, y, cellW - 1, cellH - 1, fill)
                if cellW > 28 && cellH > 14 {
                    s += "<text x=\"\(fmt(x + cellW / 2))\" y=\"\(fmt(y + cellH / 2 + 4))\" text-anchor=\"middle\" fill=\"\(label)\">\(escape(TableValue.format(v)))</text>"
                }
            }
        }
        for (ci, column) in columns.enumerated() {
            s += text(left + cellW * (Double(ci) + 0.5), top + plotHeight + 16, column, anchor: "middle")
        }
        s += text(left + plotWidth / 2, height - 10, plot.xLabel, anchor: "middle", size: 12)
        return s
    }

    // MARK: - Axes and legend

    private func axes(xTicks: [(Double, String)], xScale: NiceScale?, yScale: NiceScale) -> String {
        var s = "<g stroke=\"\(Self.ink)\" stroke-opacity=\"0.25\">"
        for t in yScale.ticks {
            let y = py(yScale.fraction(t))
            s += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(y))\" x2=\"\(fmt(left + plotWidth))\" y2=\"\(fmt(y))\"/>"
        }
        s += "</g>"
        s += "<g stroke=\"\(Self.ink)\"><line x1=\"\(fmt(left))\" y1=\"\(fmt(top))\" x2=\"\(fmt(left))\" y2=\"\(fmt(top + plotHeight))\"/>"
        s += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(top + plotHeight))\" x2=\"\(fmt(left + plotWidth))\" y2=\"\(fmt(top + plotHeight))\"/></g>"
        for t in yScale.ticks {
            s += text(left - 6, py(yScale.fraction(t)) + 4, TableValue.format(t), anchor: "end")
        }
        if let xScale {
            for (t, label) in xTicks { s += text(px(xScale.fraction(t)), top + plotHeight + 16, label, anchor: "middle") }
            s += text(left + plotWidth / 2, height - 10, plot.xLabel, anchor: "middle", size: 12)
        }
        s += "<text x=\"14\" y=\"\(fmt(top + plotHeight / 2))\" text-anchor=\"middle\" fill=\"\(Self.ink)\" font-size=\"12\" "
        s += "transform=\"rotate(-90 14 \(fmt(top + plotHeight / 2)))\">\(escape(plot.yLabel))</text>"
        return s
    }

    private func legend() -> String {
        guard !legendEntries.isEmpty else { return "" }
        let x = left + plotWidth + 16
        var s = ""
        if let label = plot.seriesLabel { s += text(x, top, label, anchor: "start", weight: "600") }
        for (i, name) in legendEntries.prefix(16).enumerated() {
            let y = top + 16 + Double(i) * 16
            s += "<rect x=\"\(fmt(x))\" y=\"\(fmt(y - 9))\" width=\"10\" height=\"10\" fill=\"\(color(name))\"/>"
            s += text(x + 14, y, name, anchor: "start")
        }
        return s
    }

    private func emptyNote() -> String {
        text(width / 2, height / 2, "no data to plot", anchor: "middle", size: 13)
    }

    // MARK: - Helpers

    private func px(_ f: Double) -> Double { left + f * plotWidth }
    private func py(_ f: Double) -> Double { top + (1 - f) * plotHeight }
    private func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    private func text(_ x: Double, _ y: Double, _ s: String, anchor: String, size: Int = 11, weight: String = "normal") -> String {
        "<text x=\"\(fmt(x))\" y=\"\(fmt(y))\" text-anchor=\"\(anchor)\" fill=\"\(Self.ink)\" font-size=\"\(size)\" font-weight=\"\(weight)\">\(escape(s))</text>"
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
