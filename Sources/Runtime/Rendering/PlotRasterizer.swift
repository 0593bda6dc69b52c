// Figures as PNG: a small rasteriser for the marks SVGPlotRenderer lays out —
// anti-aliased lines and circles, rectangles with fractional edges, axis lines snapped
// to whole pixels, text in PEFTLib's bitmap font — into an RGBImage that PEFTLib
// encodes with libpng. No other drawing library is involved.

import Foundation
import PEFTLib

/// Draws a plot into pixels, at `scale` pixels per SVG unit, on a white background.
struct PlotRasterizer {
    let scale: Int
    /// The PNG is for documents on white: the SVG's mid-tone ink (text, axes) becomes a
    /// darker grey there, the series colours stay as they are.
    static let ink = RGB(0x4D, 0x4D, 0x4D)
    static let background = RGB(255, 255, 255)

    init(scale: Int = 2) { self.scale = max(1, scale) }

    func image(_ renderer: SVGPlotRenderer) -> RGBImage {
        var canvas = RasterCanvas(width: Int(renderer.width) * scale, height: Int(renderer.height) * scale,
                                  background: Self.background)
        let s = Double(scale)
        for mark in renderer.marks() {
            switch mark {
            case let .line(x1, y1, x2, y2, stroke, opacity):
                var (ax, ay, bx, by) = (x1 * s, y1 * s, x2 * s, y2 * s)
                // A 1-unit axis or grid line covers whole pixel rows or columns.
                if ay == by { ay = snap(ay); by = ay }
                if ax == bx { ax = snap(ax); bx = ax }
                canvas.stroke([(ax, ay), (bx, by)], width: s, colour: colour(stroke), opacity: opacity)
            case let .polyline(points, stroke, width):
                canvas.stroke(points.map { ($0.x * s, $0.y * s) }, width: width * s, colour: colour(stroke), opacity: 1)
            case let .rect(x, y, w, h, fill, _):
                canvas.fillRect(x: x * s, y: y * s, width: w * s, height: h * s, colour: colour(fill), opacity: 1)
            case let .circle(x, y, r, fill, opacity):
                canvas.fillCircle(x: x * s, y: y * s, r: r * s, colour: colour(fill), opacity: opacity)
            case let .text(x, y, string, anchor, size, weight, fill, rotated):
                let glyphScale = max(1, Int((Double(size * scale) / 10).rounded()))
                canvas.drawText(string, x: x * s, y: y * s, anchor: anchor, glyphScale: glyphScale,
                                bold: weight != "normal", rotated: rotated, colour: colour(fill))
            }
        }
        return canvas.image()
    }

    /// The centre of the pixel row a line of `scale` pixels' width should cover.
    private func snap(_ v: Double) -> Double { scale % 2 == 1 ? v.rounded(.down) + 0.5 : v.rounded() }

    private func colour(_ hex: String) -> RGB {
        hex == SVGPlotRenderer.ink ? Self.ink : RasterCanvas.parse(hex) ?? Self.ink
    }
}

/// An RGB canvas that blends each shape by how much of every pixel it covers.
struct RasterCanvas {
    let width: Int
    let height: Int
    /// R, G, B per pixel, 0…255, row-major.
    private var pixels: [Float]

    init(width: Int, height: Int, background: RGB) {
        self.width = width
        self.height = height
        pixels = [Float](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            pixels[3 * i] = Float(background.r); pixels[3 * i + 1] = Float(background.g); pixels[3 * i + 2] = Float(background.b)
        }
    }

    /// `#rrggbb` as a colour.
    static func parse(_ hex: String) -> RGB? {
        guard hex.count == 7, hex.first == "#", let v = UInt32(hex.dropFirst(), radix: 16) else { return nil }
        return RGB(UInt8(v >> 16), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF))
    }

    func image() -> RGBImage {
        RGBImage(width: width, height: height, pixels: pixels.map { UInt8(max(0, min(255, $0.rounded()))) })
    }

    /// Mixes `colour` into pixel (x, y) with weight `alpha`.
    private mutating func blend(_ x: Int, _ y: Int, _ colour: RGB, _ alpha: Float) {
        guard x >= 0, y >= 0, x < width, y < height, alpha > 0 else { return }
        let i = 3 * (y * width + x), a = min(alpha, 1)
        pixels[i] += (Float(colour.r) - pixels[i]) * a
        pixels[i + 1] += (Float(colour.g) - pixels[i + 1]) * a
        pixels[i + 2] += (Float(colour.b) - pixels[i + 2]) * a
    }

    /// Pixel indices whose squares meet [lo, hi), clipped to `0..<limit`.
    private func span(_ lo: Double, _ hi: Double, _ limit: Int) -> Range<Int> {
        let a = max(0, Int(lo.rounded(.down))), b = min(limit, Int(hi.rounded(.up)))
        return a < b ? a..<b : 0..<0
    }

    /// A filled rectangle; partly covered edge pixels get partial colour.
    mutating func fillRect(x: Double, y: Double, width w: Double, height h: Double, colour: RGB, opacity: Double) {
        guard w > 0, h > 0 else { return }
        for py in span(y, y + h, height) {
            let cy = min(Double(py + 1), y + h) - max(Double(py), y)
            for px in span(x, x + w, width) {
                let cx = min(Double(px + 1), x + w) - max(Double(px), x)
                blend(px, py, colour, Float(cx * cy * opacity))
            }
        }
    }

    /// A filled disc, anti-aliased over one pixel at its edge.
    mutating func fillCircle(x: Double, y: Double, r: Double, colour: RGB, opacity: Double) {
        for py in span(y - r - 1, y + r + 1, height) {
            for px in span(x - r - 1, x + r + 1, width) {
                let d = ((Double(px) + 0.5 - x) * (Double(px) + 0.5 - x) + (Double(py) + 0.5 - y) * (Double(py) + 0.5 - y)).squareRoot()
                blend(px, py, colour, Float(min(1, max(0, r + 0.5 - d)) * opacity))
            }
        }
    }

    /// Connected line segments of the given width with round joins. Each pixel takes its
    /// largest coverage over the segments, so joints are not painted twice.
    mutating func stroke(_ points: [(Double, Double)], width w: Double, colour: RGB, opacity: Double) {
        guard let first = points.first else { return }
        let half = w / 2
        let segments = points.count == 1 ? [(first, first)] : Array(zip(points, points.dropFirst()))
        var minX = Double.infinity, minY = Double.infinity, maxX = -Double.infinity, maxY = -Double.infinity
        for p in points { minX = min(minX, p.0); maxX = max(maxX, p.0); minY = min(minY, p.1); maxY = max(maxY, p.1) }
        let xs = span(minX - half - 1, maxX + half + 1, width), ys = span(minY - half - 1, maxY + half + 1, height)
        guard !xs.isEmpty, !ys.isEmpty else { return }
        var coverage = [Float](repeating: 0, count: xs.count * ys.count)
        for (a, b) in segments {
            let (dx, dy) = (b.0 - a.0, b.1 - a.1)
            let length2 = dx * dx + dy * dy
            for py in span(min(a.1, b.1) - half - 1, max(a.1, b.1) + half + 1, height) {
                for px in span(min(a.0, b.0) - half - 1, max(a.0, b.0) + half + 1, width) {
                    let (cx, cy) = (Double(px) + 0.5, Double(py) + 0.5)
                    let t = length2 > 0 ? min(1, max(0, ((cx - a.0) * dx + (cy - a.1) * dy) / length2)) : 0
                    let (ex, ey) = (cx - a.0 - t * dx, cy - a.1 - t * dy)
                    let c = Float(min(1, max(0, half + 0.5 - (ex * ex + ey * ey).squareRoot())))
                    let i = (py - ys.lowerBound) * xs.count + (px - xs.lowerBound)
                    if c > coverage[i] { coverage[i] = c }
                }
            }
        }
        for py in ys {
            for px in xs {
                blend(px, py, colour, coverage[(py - ys.lowerBound) * xs.count + (px - xs.lowerBound)] * Float(opacity))
            }
        }
    }

    /// Text in the 5×7 bitmap font, each font pixel a `glyphScale`-pixel square, with its
    /// baseline at `y` and starting, centred or ending at `x`; bold draws it twice, one
    /// pixel apart; rotated runs it upwards (turned a quarter counter-clockwise about (x, y)).
    mutating func drawText(_ text: String, x: Double, y: Double, anchor: PlotMark.Anchor, glyphScale gs: Int,
                           bold: Bool, rotated: Bool, colour: RGB) {
        let total = BitmapFont.width(of: text, scale: gs) + (bold ? 1 : 0)
        let start: Int
        switch anchor {
        case .start: start = 0
        case .middle: start = -total / 2
        case .end: start = -total
        }
        let (ox, oy) = (Int(x.rounded()), Int(y.rounded()))
        for (n, character) in text.enumerated() {
            let rows = BitmapFont.glyph(character) ?? BitmapFont.missingGlyph
            for (row, bits) in rows.enumerated() {
                for col in 0..<BitmapFont.glyphWidth where bits & (0x10 >> UInt8(col)) != 0 {
                    // (u, v): the square's offset along the text and from the baseline (down).
                    let u = start + (n * BitmapFont.advance + col) * gs
                    let v = (row - BitmapFont.glyphHeight) * gs
                    for extra in 0...(bold ? 1 : 0) {
                        if rotated {
                            fillPixels(x: ox + v, y: oy - (u + extra) - gs, width: gs, height: gs, colour: colour)
                        } else {
                            fillPixels(x: ox + u + extra, y: oy + v, width: gs, height: gs, colour: colour)
                        }
                    }
                }
            }
        }
    }

    private mutating func fillPixels(x: Int, y: Int, width w: Int, height h: Int, colour: RGB) {
        for py in max(0, y)..<max(max(0, y), min(height, y + h)) {
            for px in max(0, x)..<max(max(0, x), min(width, x + w)) { blend(px, py, colour, 1) }
        }
    }
}
