// Loads the wire vectors that tools/make_wire_vectors.py computed with jupyter_client's Session.

import Foundation
import PEFTLabJSON
import Testing

/// One message as jupyter_client serialized and signed it.
struct WireVector: Sendable, CustomTestStringConvertible {
    var name: String
    var key: String
    var identityCount: Int
    var frames: [[UInt8]]
    var signature: String
    var header: JSONObject
    var parentHeader: JSONObject
    var metadata: JSONObject
    var content: JSONObject
    var bufferCount: Int

    var testDescription: String { name }
    var delimiterIndex: Int { identityCount }
    var identities: [[UInt8]] { Array(frames[..<identityCount]) }
    /// The four JSON parts, as signed.
    var parts: [[UInt8]] { Array(frames[(identityCount + 2)..<(identityCount + 6)]) }
    var buffers: [[UInt8]] { Array(frames[(identityCount + 6)...]) }

    static let all: [WireVector] = load()

    static func named(_ name: String) -> WireVector {
        guard let v = all.first(where: { $0.name == name }) else { fatalError("no wire vector \(name)") }
        return v
    }

    static func fixtureURL() -> URL? {
        Bundle.module.url(forResource: "wire_vectors", withExtension: "json", subdirectory: "Fixtures")
    }

    private static func load() -> [WireVector] {
        guard let url = fixtureURL(), let data = try? Data(contentsOf: url),
              let root = try? JSON.parse(bytes: Array(data)),
              let items = root["vectors"]?.arrayValue else { return [] }
        return items.compactMap { item -> WireVector? in
            guard let name = item["name"]?.stringValue, let key = item["key"]?.stringValue,
                  let ids = item["identity_count"]?.intValue,
                  let frames = item["frames"]?.arrayValue?.compactMap({ $0.stringValue.flatMap { Data(base64Encoded: $0) } }),
                  let signature = item["signature"]?.stringValue,
                  let header = item["header"]?.objectValue, let parent = item["parent_header"]?.objectValue,
                  let metadata = item["metadata"]?.objectValue, let content = item["content"]?.objectValue,
                  let buffers = item["buffer_count"]?.intValue
            else { return nil }
            return WireVector(name: name, key: key, identityCount: ids, frames: frames.map { Array($0) },
                              signature: signature, header: header, parentHeader: parent, metadata: metadata,
                              content: content, bufferCount: buffers)
        }
    }
}

/// UTF-8 bytes of a string.
func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }
