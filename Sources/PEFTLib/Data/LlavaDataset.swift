// LlavaDataset: the LLaVA instruction-tuning JSON format, a list of
// {"id", "image", "conversations": [{"from": "human"|"gpt", "value"}]} records
// with images relative to a folder, as in LLaVA's llava_v1_5_mix665k.json.
import Foundation

/// Why a dataset could not be loaded; every case names the file and, where known, the record.
public enum DataError: Error, Equatable, CustomStringConvertible {
    case missingFile(String)
    case malformed(file: String, record: String?, reason: String)
    case badImage(file: String, record: String, image: String, reason: String)

    public var description: String {
        switch self {
        case let .missingFile(path): return "no such file: \(path)"
        case let .malformed(file, record, reason):
            return "\(file)\(record.map { ", record \($0)" } ?? ""): \(reason)"
        case let .badImage(file, record, image, reason):
            return "\(file), record \(record): image \(image): \(reason)"
        }
    }
}

/// One turn of a LLaVA conversation.
public struct LlavaTurn: Codable, Sendable, Equatable {
    /// "human" or "gpt".
    public var from: String
    public var value: String
    public init(from: String, value: String) { self.from = from; self.value = value }
}

/// One decoded record: its id, its image (nil for text-only records) and its turns.
public struct LlavaRecord: Sendable, Equatable {
    public var id: String
    /// The image path as written in the JSON, relative to the image folder.
    public var imagePath: String?
    public var image: RGBImage?
    public var conversations: [LlavaTurn]

    /// The first human turn (with its `<image>` placeholder).
    public var question: String { conversations.first?.value ?? "" }
    /// The first gpt turn.
    public var answer: String { conversations.count > 1 ? conversations[1].value : "" }
}

/// A LLaVA-format dataset with its images decoded.
public struct LlavaDataset: Sendable {
    public let file: String
    public let imageFolder: String
    public private(set) var records: [LlavaRecord]
    /// Records dropped because `skipInvalid` was set, with the reason for each.
    public private(set) var skipped: [String]

    public var count: Int { records.count }
    public subscript(i: Int) -> LlavaRecord { records[i] }

    /// Loads `json`, decoding each record's image from `images`.
    /// - Parameter skipInvalid: drop malformed records and bad images instead of failing;
    ///   `skipped` then lists them. Without it, the first problem is thrown.
    /// Example: `try LlavaDataset(json: "data/train.json", images: "data/images")`
    public init(json: String, images: String, skipInvalid: Bool = false) throws {
        file = json
        imageFolder = images
        records = []
        skipped = []
        guard let data = FileManager.default.contents(atPath: json) else { throw DataError.missingFile(json) }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data) } catch {
            throw DataError.malformed(file: json, record: nil, reason: "not valid JSON (\(error.localizedDescription))")
        }
        guard let list = parsed as? [Any] else {
            throw DataError.malformed(file: json, record: nil, reason: "expected a JSON list of records")
        }
        for (index, item) in list.enumerated() {
            do {
                records.append(try Self.record(item, index: index, file: json, images: images))
            } catch let error as DataError {
                guard skipInvalid else { throw error }
                skipped.append(error.description)
            }
        }
    }

    /// A one-line summary, e.g. "train.json: 998 records (2 skipped)".
    public var summary: String {
        let name = (file as NSString).lastPathComponent
        return "\(name): \(records.count) records" + (skipped.isEmpty ? "" : " (\(skipped.count) skipped)")
    }

    private static func record(_ item: Any, index: Int, file: String, images: String) throws -> LlavaRecord {
        let fallback = "#\(index)"
        guard let dict = item as? [String: Any] else {
            throw DataError.malformed(file: file, record: fallback, reason: "expected an object")
        }
        let id: String
        switch dict["id"] {
        case let s as String: id = s
        case let n as NSNumber: id = n.stringValue
        default: throw DataError.malformed(file: file, record: fallback, reason: "missing \"id\"")
        }
        let name = "\(id) (#\(index))"
        guard let turns = dict["conversations"] as? [Any], !turns.isEmpty else {
            throw DataError.malformed(file: file, record: name, reason: "missing or empty \"conversations\"")
        }
        var conversation: [LlavaTurn] = []
        for (t, turn) in turns.enumerated() {
            guard let td = turn as? [String: Any], let from = td["from"] as? String, let value = td["value"] as? String
            else {
                throw DataError.malformed(file: file, record: name,
                                          reason: "turn \(t) needs string \"from\" and \"value\"")
            }
            let expected = t % 2 == 0 ? "human" : "gpt"
            guard from == expected else {
                throw DataError.malformed(file: file, record: name,
                                          reason: "turn \(t) is from \"\(from)\", expected \"\(expected)\"")
            }
            conversation.append(LlavaTurn(from: from, value: value))
        }
        let mentionsImage = conversation.contains { $0.value.contains("<image>") }
        guard let path = dict["image"] as? String else {
            if dict["image"] != nil {
                throw DataError.malformed(file: file, record: name, reason: "\"image\" must be a string")
            }
            if mentionsImage {
                throw DataError.malformed(file: file, record: name, reason: "has <image> but no \"image\" field")
            }
            return LlavaRecord(id: id, imagePath: nil, image: nil, conversations: conversation)
        }
        let full = (images as NSString).appendingPathComponent(path)
        guard FileManager.default.fileExists(atPath: full) else {
            throw DataError.badImage(file: file, record: name, image: full, reason: "no such file")
        }
        do {
            let image = try RGBImage(contentsOf: full)
            return LlavaRecord(id: id, imagePath: path, image: image, conversations: conversation)
        } catch let error as ImageError {
            throw DataError.badImage(file: file, record: name, image: full, reason: error.description)
        }
    }
}
