// Datasets, samples and images as language values: `data[i].image`, `.question`,
// `.answer`; datasets render as a card with a grid of samples, images as PNG.

import Foundation
import PEFTLabJSON
import PEFTLib

/// One example of any dataset the language loads (mini suite or LLaVA JSON): PEFTLib's
/// `VQAExample`, which training and evaluation take as they are.
typealias DataItem = VQAExample

/// An RGB image.
final class ImageObject: RuntimeObject {
    let image: RGBImage
    init(_ image: RGBImage) { self.image = image }

    var typeName: String { "Image" }
    var memberNames: [String] { ["width", "height", "save"] }

    func member(_ name: String) throws(RuntimeError) -> Value? {
        switch name {
        case "width": return .int(image.width)
        case "height": return .int(image.height)
        case "save":
            let image = self.image
            return .function(Builtin("Image.save", [Parameter(nil, "String")], returns: "String",
                                     doc: "Writes the image to a .png file.") { args, _ throws(RuntimeError) in
                let path = try args.path(at: 0)
                guard path.hasSuffix(".png") else { throw RuntimeError(.value, "save: use a .png file name, not \"\(path)\"", at: args.location) }
                do { try image.writePNG(to: path) } catch {
                    throw RuntimeError(.library, "\(error)", at: args.location)
                }
                return .string(path)
            })
        default: return nil
        }
    }

    func render() -> MIMEBundle {
        let shown = ImageObject.enlarged(image, minimumWidth: 192)
        guard let png = try? shown.encodePNG() else { return .text("<image \(image.width)×\(image.height)>") }
        return MIMEBundle(data: ["text/plain": .string("<image \(image.width)×\(image.height)>"),
                                 "image/png": .string(Data(png).base64EncodedString())],
                          metadata: ["image/png": ["width": .int(shown.width), "height": .int(shown.height)]])
    }

    /// Small images scaled up by whole pixels (nearest neighbour), so 64 px scenes stay crisp.
    static func enlarged(_ image: RGBImage, minimumWidth: Int) -> RGBImage {
        let factor = max(1, (minimumWidth + image.width - 1) / max(1, image.width))
        guard factor > 1 else { return image }
        var pixels = [UInt8](repeating: 0, count: image.width * factor * image.height * factor * 3)
        let w = image.width * factor
        for y in 0..<(image.height * factor) {
            for x in 0..<w {
                let source = ((y / factor) * image.width + x / factor) * 3
                let target = (y * w + x) * 3
                pixels[target] = image.pixels[source]
                pixels[target + 1] = image.pixels[source + 1]
                pixels[target + 2] = image.pixels[source + 2]
            }
        }
        return RGBImage(width: w, height: image.height * factor, pixels: pixels)
    }

    /// `<img>` with the PNG inline, drawn with crisp pixels.
    static func htmlImage(_ image: RGBImage, width: Int) -> String {
        guard let png = try? image.encodePNG() else { return "" }
        return "<img src=\"data:image/png;base64,\(Data(png).base64EncodedString())\" width=\"\(width)\" "
            + "style=\"image-rendering:pixelated;border-radius:3px\" alt=\"image\">"
    }
}

/// One example: image, question, answer.
final class SampleObject: RuntimeObject {
    let item: DataItem
    init(_ item: DataItem) { self.item = item }

    var typeName: String { "Sample" }
    var memberNames: [String] { ["id", "image", "question", "answer", "options", "references"] }

    func member(_ name: String) throws(RuntimeError) -> Value? {
        switch name {
        case "id": return .string(item.id)
        case "image": return item.image.map { .object(ImageObject($0)) } ?? .null
        case "question": return .string(item.question)
        case "answer": return .string(item.answer)
        case "options": return .array(item.options.map(Value.string))
        case "references": return .array(item.references.map(Value.string))
        default: return nil
        }
    }

    func render() -> MIMEBundle {
        let question = item.question.replacingOccurrences(of: "<image>\n", with: "")
        var html = "<div style=\"display:flex;gap:12px;align-items:flex-start\">"
        if let image = item.image { html += ImageObject.htmlImage(image, width: 160) }
        html += "<div><div><b>Q</b> \(TableRendering.escape(question))</div><div><b>A</b> \(TableRendering.escape(item.answer))</div></div></div>"
        return MIMEBundle(data: ["text/plain": .string("\(item.id)\nQ: \(question)\nA: \(item.answer)"), "text/html": .string(html)])
    }
}

/// A dataset: its samples and what it measures.
final class DatasetObject: RuntimeObject {
    let name: String
    let split: String
    let group: String
    let metric: String
    let items: [DataItem]
    let note: String?

    init(name: String, split: String, group: String, metric: String, items: [DataItem], note: String? = nil) {
        self.name = name; self.split = split; self.group = group; self.metric = metric; self.items = items; self.note = note
    }

    var typeName: String { "Dataset" }
    var memberNames: [String] { ["count", "name", "split", "group", "metric"] }

    func member(_ name: String) throws(RuntimeError) -> Value? {
        switch name {
        case "count": return .int(items.count)
        case "name": return .string(self.name)
        case "split": return .dotCase(split)
        case "group": return .string(group)
        case "metric": return .string(metric)
        default: return nil
        }
    }

    func element(at index: Value) throws(RuntimeError) -> Value? {
        guard case .int(let i) = index else { return nil }
        guard items.indices.contains(i) else {
            throw RuntimeError(.index, "index \(i) is out of range for \(name) with \(items.count) samples")
        }
        return .object(SampleObject(items[i]))
    }

    var summary: String {
        "\(name) (\(split)): \(items.count) samples, \(group), scored by \(metric)" + (note.map { "; \($0)" } ?? "")
    }

    func render() -> MIMEBundle { grid(count: 6) }

    /// A card: the summary and the first `count` samples with their questions and answers.
    func grid(count: Int) -> MIMEBundle {
        let shown = Array(items.prefix(max(0, count)))
        var text = [summary]
        var html = "<div><div style=\"margin-bottom:6px\"><b>\(TableRendering.escape(name))</b> · \(split) · "
            + "\(items.count) samples · \(TableRendering.escape(group)) · \(TableRendering.escape(metric))</div>"
            + "<div style=\"display:flex;flex-wrap:wrap;gap:10px\">"
        for item in shown {
            let question = item.question.replacingOccurrences(of: "<image>\n", with: "")
            text.append("  [\(item.id)] \(question) → \(item.answer)")
            html += "<div style=\"width:150px;font-size:12px\">"
            if let image = item.image { html += ImageObject.htmlImage(image, width: 150) }
            html += "<div>\(TableRendering.escape(question))</div><div><b>\(TableRendering.escape(item.answer))</b></div></div>"
        }
        html += "</div></div>"
        return MIMEBundle(data: ["text/plain": .string(text.joined(separator: "\n")), "text/html": .string(html)])
    }
}
