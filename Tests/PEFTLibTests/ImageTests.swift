// ImageTests: PNG and JPEG decoding against Pillow's decode of the same files,
// PNG round trips, clear errors on corrupt files, and CLIP preprocessing against
// transformers' CLIPImageProcessor (fixtures from tools/make_data_fixtures.py).
import Foundation
import PEFTLib
import Testing

/// The path of a file in Fixtures/data.
func dataFixturePath(_ name: String) throws -> String {
    let dir = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures/data"))
    return dir.appendingPathComponent(name).path
}

private func fixtureBytes(_ name: String) throws -> [UInt8] {
    [UInt8](try #require(FileManager.default.contents(atPath: try dataFixturePath(name))))
}

private func fixtureFloats(_ name: String) throws -> [Float] {
    let bytes = try fixtureBytes(name)
    return bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
}

@Suite struct ImageTests {
    @Test func pngRoundTripIsLossless() throws {
        var image = RGBImage(width: 7, height: 5)
        for i in 0..<image.pixels.count { image.pixels[i] = UInt8((i * 37 + 11) % 256) }
        let png = try image.encodePNG()
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(try RGBImage.decode(png) == image)
    }

    @Test(arguments: ["rgb.png", "palette.png", "gray.png"])
    func pngMatchesPillow(name: String) throws {
        let image = try RGBImage(contentsOf: try dataFixturePath(name))
        #expect(image.pixels == (try fixtureBytes(name + ".rgb")))
    }

    @Test(arguments: ["photo.jpg", "photo444.jpg", "progressive.jpg", "gray.jpg"])
    func jpegMatchesPillowWithinOneLevel(name: String) throws {
        let image = try RGBImage(contentsOf: try dataFixturePath(name))
        let expected = try fixtureBytes(name + ".rgb")
        #expect(image.pixels.count == expected.count)
        let worst = zip(image.pixels, expected).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(worst <= 1, "max |ours - Pillow| = \(worst)")
    }

    @Test(arguments: ["corrupt.png", "truncated.png", "corrupt.jpg", "truncated.jpg"])
    func corruptFilesGiveAnErrorNamingTheFile(name: String) throws {
        let path = try dataFixturePath(name)
        do {
            _ = try RGBImage(contentsOf: path)
            Issue.record("\(name) decoded without error")
        } catch let error as ImageError {
            guard case let .corrupt(file, format, reason) = error else {
                Issue.record("unexpected \(error)"); return
            }
            #expect(file == path)
            #expect(format == (name.hasSuffix(".png") ? "PNG" : "JPEG"))
            #expect(!reason.isEmpty)
            #expect(error.description.contains(name))
        }
    }

    @Test func unknownSignatureAndMissingFile() throws {
        #expect(throws: ImageError.unknownFormat(file: try dataFixturePath("not_an_image.png"))) {
            try RGBImage(contentsOf: try dataFixturePath("not_an_image.png"))
        }
        #expect(throws: ImageError.unreadable(file: "/nonexistent/x.png", reason: "no such file")) {
            try RGBImage(contentsOf: "/nonexistent/x.png")
        }
        #expect(throws: ImageError.self) { try RGBImage.decodeJPEG([]) }
        #expect(throws: ImageError.self) { try RGBImage.decodePNG([0x89, 0x50, 0x4E, 0x47]) }
    }

    @Test(arguments: ["pre_down_bicubic", "pre_up_bicubic", "pre_down_bilinear"])
    func preprocessingMatchesTransformers(name: String) throws {
        let config = try CLIPPreprocessorConfig(contentsOf: try dataFixturePath(name + ".json"))
        let image = try RGBImage(contentsOf: try dataFixturePath(name + ".png"))
        let ours = config.preprocess(image)
        let reference = try fixtureFloats(name + ".f32")
        #expect(ours.count == 3 * config.cropHeight * config.cropWidth)
        #expect(ours.count == reference.count)
        let worst = zip(ours, reference).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst < 1e-5, "max |ours - transformers| = \(worst)")
    }

    @Test func preprocessorConfigDefaultsAndOldIntSizes() throws {
        let json = #"{"size": 40, "crop_size": 36}"#
        let config = try JSONDecoder().decode(CLIPPreprocessorConfig.self, from: Data(json.utf8))
        #expect(config.shortestEdge == 40 && config.cropHeight == 36 && config.cropWidth == 36)
        #expect(config.resample == 3 && config.imageMean == CLIPPreprocessorConfig.clipMean)
        let bad = #"{"size": {"shortest_edge": 32}, "resample": 0}"#
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(CLIPPreprocessorConfig.self, from: Data(bad.utf8))
        }
        let again = try JSONDecoder().decode(CLIPPreprocessorConfig.self,
                                             from: try JSONEncoder().encode(config))
        #expect(again == config)
        #expect(config.resizedSize(height: 30, width: 60) == (40, 80))
        #expect(config.resizedSize(height: 61, width: 45) == (54, 40))
    }
}
