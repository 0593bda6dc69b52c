// dataset(), suite(), show() and the rendering of datasets, samples and images.

import Foundation
import PEFTLabJSON
import Runtime
import Testing

@Suite("Data built-ins")
struct DataBuiltinsTests {
    @Test("a mini dataset: size, samples, images, and its card")
    func miniDataset() throws {
        let c = Cells()
        c.value("let d = dataset(\"mini-vqav2\", split: .test, size: 5)")
        #expect(c.value("d.count") == "5")
        #expect(c.value("d.group") == "\"seen\"")
        #expect(!c.value("d[0].question").contains("<image>"), "questions read as asked; the template places the image")
        #expect(c.value("d[0].image.width") == "64")
        #expect(c.value("dataset(\"mini-vqav2\", split: .test, size: 5)[3].answer") == c.value("d[3].answer"))
        let out = RecordingOutput()
        c.value("show(d, 3)", output: out)
        let html = try #require(out.displays.first?.bundle.data["text/html"]?.stringValue)
        #expect(html.components(separatedBy: "<img ").count - 1 == 3)
        #expect(out.displays.first?.bundle.data["text/plain"]?.stringValue?.hasPrefix("mini-vqav2 (test): 5 samples, seen") == true)
    }

    @Test("an image renders as an enlarged PNG with its size in the metadata")
    func image() throws {
        let c = Cells()
        c.value("let d = dataset(\"mini-ocrvqa\", size: 1)")
        let bundle = try #require(c.session.execute("d[0].image", output: RecordingOutput()).value)
        let png = try #require(bundle.data["image/png"]?.stringValue)
        let bytes = try #require(Data(base64Encoded: png))
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(bundle.metadata["image/png"]?["width"] == .int(192))
        #expect(bundle.data["text/plain"] == .string("<image 64×64>"))
    }

    @Test("the suite holds the nine evaluation datasets")
    func suite() {
        let c = Cells()
        #expect(c.value("suite(\"mini\", size: 2).count") == "9")
        #expect(c.value("suite(\"mini\", size: 2)[8].name") == "\"mini-pope\"")
    }

    @Test("LLaVA JSON with images; bad records are errors unless skipped")
    func llavaJSON() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("peftlab-llava-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = Cells()
        c.value("dataset(\"mini-ocrvqa\", size: 1)[0].image.save(\"\(dir)/images/a.png\")")
        let records = """
            [{"id": "a", "image": "a.png", "conversations": [{"from": "human", "value": "<image>\\nWhat word is shown?"}, {"from": "gpt", "value": "cat"}]},
             {"id": "b", "image": "missing.png", "conversations": [{"from": "human", "value": "<image>\\nQ?"}, {"from": "gpt", "value": "A"}]}]
            """
        try records.write(toFile: dir + "/train.json", atomically: true, encoding: .utf8)
        let error = c.error("dataset(json: \"\(dir)/train.json\", images: \"\(dir)/images\")")
        #expect(error.message.contains("train.json"))
        #expect(error.message.contains("missing.png"))
        c.value("let mine = dataset(json: \"\(dir)/train.json\", images: \"\(dir)/images\", skipInvalid: true)")
        #expect(c.value("mine.count") == "1")
        #expect(c.value("mine[0].answer") == "\"cat\"")
        #expect(c.value("String(mine)").contains("1 invalid records skipped"))
    }

    @Test("names complete inside the string and typos get a suggestion")
    func names() {
        let c = Cells()
        #expect(c.session.complete("dataset(\"mini-ic", cursor: 16).matches == ["mini-iconqa-blank", "mini-iconqa-txt"])
        #expect(c.error("dataset(\"mini-vqa2\")").summary.hasPrefix("ValueError: no dataset named \"mini-vqa2\"; did you mean \"mini-vqav2\"?"))
        #expect(c.error("dataset(\"mini-vqav2\")[5000]").summary.hasPrefix("IndexError: index 5000 is out of range"))
    }
}
