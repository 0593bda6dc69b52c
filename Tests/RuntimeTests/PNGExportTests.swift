// Plots saved as PNG: the file decodes (PEFTLib's libpng reader) to the plot's size at
// the chosen scale, on white, with the axes, their labels and every kind's marks drawn.

import Foundation
import PEFTLib
import Runtime
import Testing

private let scores = """
    let t = table(["method": ["LoRA", "LoRA", "IA3", "IA3"], "connector": ["tuned", "frozen", "tuned", "frozen"], \
    "score": [0.81, 0.78, 0.70, 0.69]], title: "Average")
    """

private func temporaryFolder() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("peftlab-png-\(UInt32.random(in: 0...UInt32.max))").path
}

private let white = RGB(255, 255, 255)
private let ink = RGB(0x4D, 0x4D, 0x4D)

/// Pixels of `image` in the rectangle (x, y, width, height) equal to `colour`.
private func count(_ image: RGBImage, _ colour: RGB, x: Int = 0, y: Int = 0, width: Int? = nil, height: Int? = nil) -> Int {
    var n = 0
    for py in y..<(y + (height ?? image.height - y)) {
        for px in x..<(x + (width ?? image.width - x)) where image[px, py] == colour { n += 1 }
    }
    return n
}

@Suite("PNG export")
struct PNGExportTests {
    @Test("a line plot saved as PNG has its size, white ground, axes, tick labels and the curve", arguments: [1, 2])
    func linePlot(scale: Int) throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = Cells()
        #expect(c.value("plot([2.5, 2.1, 1.7, 1.6], title: \"Loss\").save(\"\(dir)/loss.png\", scale: \(scale))") == "\"\(dir)/loss.png\"")
        let image = try RGBImage(contentsOf: dir + "/loss.png")
        #expect(image.width == 560 * scale && image.height == 340 * scale)
        #expect(image[0, 0] == white && image[image.width - 1, image.height - 1] == white)
        // The plot area is x 64…536, y 36…288 in SVG units: the y axis is the column at x = 64,
        // the x axis the row at y = 288, each fully inked over (nearly) its whole length.
        let (left, top, bottom, right) = (64 * scale, 36 * scale, 288 * scale, 536 * scale)
        #expect(count(image, ink, x: left, y: top, width: 1, height: bottom - top) > (bottom - top) * 9 / 10)
        #expect(count(image, ink, x: left, y: bottom, width: right - left, height: 1) > (right - left) * 9 / 10)
        // Tick labels left of the y axis and below the x axis, the axis title at the bottom.
        #expect(count(image, ink, x: 20 * scale, y: top, width: 40 * scale, height: bottom - top) > 20 * scale * scale)
        #expect(count(image, ink, x: left, y: bottom + 4 * scale, width: right - left, height: 16 * scale) > 20 * scale * scale)
        #expect(count(image, ink, x: 0, y: 320 * scale, height: 20 * scale) > 10 * scale * scale)
        #expect(count(image, ink, x: 0, y: 0, height: 30 * scale) > 10 * scale * scale)      // the title
        // The curve, in the first series colour, inside the plot area.
        #expect(count(image, RGB(0x4C, 0x78, 0xA8), x: left, y: top, width: right - left, height: bottom - top) > 300 * scale)
    }

    @Test("bars, scatter points and heatmap cells come out in their colours", arguments: [
        ("plot(t, x: \"method\", y: \"score\", color: \"connector\", kind: .bar)", [RGB(0x4C, 0x78, 0xA8), RGB(0xF5, 0x85, 0x18)], 5000),
        ("plot(table([\"share\": [4.3, 0.3, 2.8], \"score\": [0.8, 0.7, 0.84], \"method\": [\"LoRA\", \"IA3\", \"Adapter\"]]), x: \"share\", y: \"score\", color: \"method\", kind: .scatter)",
         [RGB(0x4C, 0x78, 0xA8), RGB(0xF5, 0x85, 0x18), RGB(0x54, 0xA2, 0x4B)], 100),
        ("plot(t, x: \"connector\", y: \"score\", color: \"method\", kind: .heatmap)", [RGB(68, 1, 84), RGB(253, 231, 37)], 5000),
    ])
    func kinds(code: String, colours: [RGB], atLeast: Int) throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = Cells()
        c.value(scores)
        c.value("\(code).save(\"\(dir)/figure.png\")")
        let image = try RGBImage(contentsOf: dir + "/figure.png")
        #expect(image.width == 1120 && image.height == 680)
        for colour in colours { #expect(count(image, colour) >= atLeast, "\(colour)") }
    }

    @Test("PNG errors: an unknown extension, a scale out of range")
    func errors() {
        let c = Cells()
        #expect(c.error("plot([1, 2]).save(\"/tmp/p.bmp\")").summary == "ValueError: save: use an .svg, .png or .json file name, not \"/tmp/p.bmp\"")
        #expect(c.error("plot([1, 2]).save(\"/tmp/p.png\", scale: 0)").summary == "ValueError: save(scale:) takes 1 to 8 pixels per unit, got 0")
    }
}
