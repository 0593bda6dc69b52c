// DataTests: LLaVA-format JSON datasets: loading, errors naming file and record,
// and skipping bad records only when asked, with a count.
import Foundation
import PEFTLib
import Testing

@Suite struct LlavaDatasetTests {
    @Test func loadsGoodDataset() throws {
        let data = try LlavaDataset(json: try dataFixturePath("llava_good.json"), images: try dataFixturePath("images"))
        #expect(data.count == 5)
        #expect(data.skipped.isEmpty)
        #expect(data[0].id == "a0" && data[0].answer == "red")
        #expect(data[0].question.hasPrefix("<image>\n"))
        #expect(data[0].image?.width == 16 && data[0].image?.height == 12)
        #expect(data[2].id == "2")                       // numeric ids become strings
        #expect(data[3].image != nil)                     // JPEG
        #expect(data[4].image == nil && data[4].imagePath == nil) // text-only record
    }

    @Test func firstBadRecordIsAnErrorNamingFileAndRecord() throws {
        let json = try dataFixturePath("llava_bad.json")
        do {
            _ = try LlavaDataset(json: json, images: try dataFixturePath("images"))
            Issue.record("loaded a dataset with a missing image")
        } catch let error as DataError {
            guard case let .badImage(file, record, image, reason) = error else { Issue.record("\(error)"); return }
            #expect(file == json && record.hasPrefix("missing"))
            #expect(image.hasSuffix("nope.png") && reason == "no such file")
            #expect(error.description.contains("llava_bad.json") && error.description.contains("missing"))
        }
    }

    @Test func skipInvalidSkipsAndCounts() throws {
        let data = try LlavaDataset(json: try dataFixturePath("llava_bad.json"), images: try dataFixturePath("images"),
                                    skipInvalid: true)
        #expect(data.count == 5)
        #expect(data.skipped.count == 4)
        #expect(data.summary == "llava_bad.json: 5 records (4 skipped)")
        let reasons = data.skipped.joined(separator: "\n")
        for expected in ["missing", "broken", "no-conversations", "wrong-order", "cannot decode PNG"] {
            #expect(reasons.contains(expected), "\(expected) not in \(reasons)")
        }
    }

    @Test func malformedFilesAreErrors() throws {
        let images = try dataFixturePath("images")
        for name in ["llava_not_list.json", "llava_invalid.json"] {
            let json = try dataFixturePath(name)
            #expect(throws: DataError.self) { try LlavaDataset(json: json, images: images, skipInvalid: true) }
        }
        #expect(throws: DataError.missingFile("/nonexistent.json")) {
            try LlavaDataset(json: "/nonexistent.json", images: images)
        }
    }
}
