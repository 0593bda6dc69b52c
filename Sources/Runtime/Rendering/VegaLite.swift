// Plots as Vega-Lite v5 specs, for JupyterLab's interactive renderer.

import PEFTLabJSON
import PEFTLib

enum VegaLiteSpec {
    static let schema = "https://vega.github.io/schema/vega-lite/v5.json"

    static func spec(for plot: Plot) -> JSON {
        let numericX = plot.points.allSatisfy { $0.x.isNumeric }
        let values: [JSON] = plot.points.map { p in
            var record: JSONObject = [:]
            record[plot.xLabel] = p.x.json
            record[plot.yLabel] = p.y.json
            if let s = p.series { record[plot.seriesLabel ?? "series"] = .string(s) }
            return .object(record)
        }
        var encoding: JSONObject = [:]
        var mark: JSON
        switch plot.kind {
        case .line:
            mark = ["type": "line", "point": .bool(plot.points.count <= 60)]
            encoding["x"] = field(plot.xLabel, numericX ? "quantitative" : "ordinal")
            encoding["y"] = field(plot.yLabel, "quantitative")
        case .scatter:
            mark = ["type": "point", "filled": true, "size": 80]
            encoding["x"] = field(plot.xLabel, "quantitative")
            encoding["y"] = field(plot.yLabel, "quantitative")
        case .bar:
            mark = "bar"
            encoding["x"] = field(plot.xLabel, "nominal")
            encoding["y"] = field(plot.yLabel, "quantitative")
            if plot.seriesLabel != nil { encoding["xOffset"] = field(plot.seriesLabel!, "nominal") }
        case .heatmap:
            mark = "rect"
            encoding["x"] = field(plot.xLabel, "ordinal")
            encoding["y"] = field(plot.seriesLabel ?? "series", "ordinal")
            encoding["color"] = ["field": .string(plot.yLabel), "type": "quantitative", "scale": ["scheme": "viridis"]]
        }
        if plot.kind != .heatmap, let s = plot.seriesLabel {
            encoding["color"] = field(s, "nominal")
        }
        var tooltip: [JSON] = [field(plot.xLabel, numericX ? "quantitative" : "nominal"), field(plot.yLabel, "quantitative")]
        if let s = plot.seriesLabel { tooltip.append(field(s, "nominal")) }
        encoding["tooltip"] = .array(tooltip)
        var spec: JSONObject = [
            "$schema": .string(schema),
            "width": 480, "height": 280,
            "data": ["values": .array(values)],
            "mark": mark,
            "encoding": .object(encoding),
        ]
        if let title = plot.title { spec["title"] = .string(title) }
        return .object(spec)
    }

    private static func field(_ name: String, _ type: String) -> JSON {
        ["field": .string(name), "type": .string(type)]
    }
}
