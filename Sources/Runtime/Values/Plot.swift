// A figure (PEFTLib's `Plot`) as a language value: rendered as SVG for any viewer and as a
// Vega-Lite spec for interactive JupyterLab, with a text fallback; saved as SVG, PNG or JSON.

import PEFTLabJSON
import PEFTLib

extension Plot {
    /// The bundle Jupyter shows: SVG, Vega-Lite, and a text summary.
    public func render() -> MIMEBundle {
        MIMEBundle(data: [
            "text/plain": .string(summary),
            "image/svg+xml": .string(SVGPlotRenderer(plot: self).svg()),
            "application/vnd.vegalite.v5+json": VegaLiteSpec.spec(for: self),
        ])
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
                let path = try args.path(at: 0)
                let scale = try args.int("scale")
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
