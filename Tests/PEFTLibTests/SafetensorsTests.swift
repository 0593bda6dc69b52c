// The safetensors reader and writer against files written by the Python `safetensors` library
// (tools/make_io_fixtures.py), round trips, and one test per kind of malformed file.

import Foundation
import Testing
import PEFTLib

private func fixture(_ name: String) throws -> String {
    let dir = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures"))
    return dir.appendingPathComponent(name).path
}

/// `safetensors-expected.json`: group → tensor → (shape, values).
private func expectedTensors(_ group: String) throws -> [String: (shape: [Int], values: [Double])] {
    let data = try Data(contentsOf: URL(fileURLWithPath: try fixture("safetensors-expected.json")))
    let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let tensors = try #require(root[group] as? [String: Any])
    var out: [String: (shape: [Int], values: [Double])] = [:]
    for (name, value) in tensors {
        let entry = try #require(value as? [String: Any])
        let shape = try #require(entry["shape"] as? [Int])
        let values = try #require(entry["values"] as? [Any]).map { v -> Double in
            if let n = v as? NSNumber { return n.doubleValue }
            switch v as? String {
            case "inf": return .infinity
            case "-inf": return -.infinity
            default: return .nan
            }
        }
        out[name] = (shape, values)
    }
    return out
}

/// A fresh temporary folder for one test.
private func temporaryFolder() throws -> String {
    let path = NSTemporaryDirectory() + "peftlab-safetensors-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Raw bytes of a safetensors file: length prefix (or `length`), header text, `dataBytes` bytes of data.
private func rawFile(header: String, dataBytes: Int, length: UInt64? = nil) -> [UInt8] {
    let text = Array(header.utf8)
    var bytes: [UInt8] = []
    withUnsafeBytes(of: (length ?? UInt64(text.count)).littleEndian) { bytes += $0 }
    bytes += text
    bytes += (0..<dataBytes).map { UInt8(truncatingIfNeeded: $0) }
    return bytes
}

@Suite struct SafetensorsReaderTests {
    @Test(arguments: [("f32.safetensors", "f32"), ("f16.safetensors", "f16"), ("bf16.safetensors", "bf16")])
    func readsFilesOfThePythonLibrary(file: String, group: String) throws {
        let reader = try SafetensorsFile(path: try fixture(file))
        let expected = try expectedTensors(group)
        #expect(reader.names == expected.keys.sorted())
        #expect(reader.metadata == ["format": "pt"])
        for (name, tensor) in expected {
            let info = try reader.info(name)
            #expect(info.shape == tensor.shape, "\(name)")
            #expect(info.dtype.rawValue == group.uppercased())
            let values = try reader.floats(name)
            #expect(values.count == tensor.values.count)
            for (got, want) in zip(values, tensor.values) {
                // Exact: F16 and BF16 widen to F32 without rounding.
                #expect(got == Float(want) || (got.isNaN && want.isNaN), "\(name): \(got) vs \(want)")
            }
        }
    }

    @Test func readsIntegerTensors() throws {
        let reader = try SafetensorsFile(path: try fixture("ints.safetensors"))
        let expected = try expectedTensors("ints")
        #expect(reader.metadata.isEmpty)
        for (name, tensor) in expected {
            #expect(try reader.integers(name) == tensor.values.map { Int($0) }, "\(name)")
            #expect(try reader.info(name).shape == tensor.shape)
        }
        #expect(try reader.info("ids64").dtype == .i64)
        #expect(try reader.info("ids32").dtype == .i32)
        #expect(try reader.info("mask").dtype == .bool)
        #expect(try reader.floats("ids32") == [1, -2, 3])
    }

    @Test func fillsABufferAndChecksItsSize() throws {
        let reader = try SafetensorsFile(path: try fixture("f32.safetensors"))
        var buffer = [Float](repeating: .nan, count: 4)
        try buffer.withUnsafeMutableBufferPointer { try reader.readFloats("model.norm.weight", into: $0) }
        #expect(buffer == [1.0, -2.5, 3.25, 0.0])
        var wrong = [Float](repeating: 0, count: 3)
        #expect(throws: SafetensorsError.self) {
            try wrong.withUnsafeMutableBufferPointer { try reader.readFloats("model.norm.weight", into: $0) }
        }
        #expect(try reader.floats("scalar") == [7.5])
        #expect(try reader.info("scalar").shape == [])
        #expect(try reader.floats("empty").isEmpty)
    }

    @Test func namesAMissingTensorAndAWrongDType() throws {
        let path = try fixture("f32.safetensors")
        let reader = try SafetensorsFile(path: path)
        #expect(!reader.contains("nope"))
        do {
            _ = try reader.floats("nope")
            Issue.record("expected an error")
        } catch let error as SafetensorsError {
            #expect(error == .missingTensor(file: path, tensor: "nope"))
            #expect(error.description.contains("nope") && error.description.contains(path))
        }
        #expect(throws: SafetensorsError.wrongDType(file: path, tensor: "scalar", dtype: "F32", expected: "an integer dtype")) {
            _ = try reader.integers("scalar")
        }
    }
}

@Suite struct SafetensorsWriterTests {
    @Test func roundTripsNamesShapesValuesAndMetadata() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var writer = SafetensorsWriter(metadata: ["format": "pt", "note": "quote \" and \\ and\nnewline é"])
        let big = (0..<1000).map { Float($0) * 0.001 - 0.5 }
        try writer.add("layers.0.weight", shape: [10, 100], values: big)
        try writer.add("scalar", shape: [], values: [42])
        try writer.add("empty", shape: [3, 0], values: [])
        try writer.add("special", shape: [4], values: [.infinity, -.infinity, -0.0, .leastNonzeroMagnitude])
        let path = folder + "/model.safetensors"
        try writer.write(to: path)

        let reader = try SafetensorsFile(path: path)
        #expect(reader.names == ["empty", "layers.0.weight", "scalar", "special"])
        #expect(reader.metadata == writer.metadata)
        #expect(try reader.floats("layers.0.weight") == big)
        #expect(try reader.info("layers.0.weight").shape == [10, 100])
        #expect(try reader.floats("scalar") == [42])
        #expect(try reader.info("empty").shape == [3, 0])
        let special = try reader.floats("special")
        #expect(special[0] == .infinity && special[1] == -.infinity && special[2].sign == .minus && special[3] == .leastNonzeroMagnitude)
        // The header is padded with spaces to 8 bytes, so the data starts aligned.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0)
        #expect(bytes.count == 8 + headerLength + 4 * (1000 + 1 + 4))
    }

    @Test func writesTheSameBytesAsThePythonLibrary() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var writer = SafetensorsWriter()
        try writer.add("b.weight", shape: [2, 3], values: [0, 0.25, 0.5, 0.75, 1, 1.25])
        try writer.add("a.bias", shape: [2], values: [-1, 0.5])
        try writer.add("c", shape: [], values: [3])
        let path = folder + "/out.safetensors"
        try writer.write(to: path)
        let ours = try Data(contentsOf: URL(fileURLWithPath: path))
        let reference = try Data(contentsOf: URL(fileURLWithPath: try fixture("writer-reference.safetensors")))
        #expect(ours == reference)
        #expect(writer.encoded() == reference)
    }

    @Test func replacesAtomicallyAndLeavesNoTemporaryFile() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/adapter_model.safetensors"
        for version in 1...3 {
            var writer = SafetensorsWriter()
            try writer.add("w", shape: [version], values: Array(repeating: Float(version), count: version))
            try writer.write(to: path)
            #expect(try SafetensorsFile(path: path).floats("w") == Array(repeating: Float(version), count: version))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["adapter_model.safetensors"])
    }

    @Test func rejectsBadEntriesAndAFolderThatCannotBe() throws {
        var writer = SafetensorsWriter()
        #expect(throws: SafetensorsError.self) { try writer.add("x", shape: [2, 2], values: [1, 2, 3]) }
        #expect(throws: SafetensorsError.self) { try writer.add("__metadata__", shape: [1], values: [1]) }
        try writer.add("x", shape: [1], values: [1])
        #expect(throws: SafetensorsError.self) { try writer.add("x", shape: [1], values: [2]) }
        // Its folder would have to be made inside a file.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("peftlab-file-\(UUID().uuidString)").path
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        do {
            try writer.write(to: file + "/x.safetensors")
            Issue.record("expected an error")
        } catch let error as SafetensorsError {
            #expect(error.description.contains(file) && error.description.contains("not a folder"), "\(error)")
        }
    }
}

/// One malformed file and the error it must give.
struct MalformedSafetensorsCase: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let kind: String
    let mentions: String
    var testDescription: String { name }

    static let all: [MalformedSafetensorsCase] = {
        let ok = #"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#
        let valid = rawFile(header: ok, dataBytes: 16)
        return [
            .init(name: "empty file", bytes: [], kind: "truncated", mentions: "truncated"),
            .init(name: "shorter than the length prefix", bytes: [1, 2, 3, 4], kind: "truncated", mentions: "truncated"),
            .init(name: "zero header length", bytes: rawFile(header: "", dataBytes: 0), kind: "badHeaderLength", mentions: "header length"),
            .init(name: "huge header length", bytes: rawFile(header: ok, dataBytes: 16, length: 1 << 40), kind: "badHeaderLength", mentions: "header length"),
            .init(name: "header beyond the file", bytes: rawFile(header: ok, dataBytes: 0, length: 500), kind: "headerBeyondFile", mentions: "beyond the file size"),
            .init(name: "malformed JSON", bytes: rawFile(header: #"{"a":{"dtype":"F32","#, dataBytes: 16), kind: "malformedHeader", mentions: "JSON"),
            .init(name: "header not an object", bytes: rawFile(header: "[1,2,3] ", dataBytes: 0), kind: "malformedHeader", mentions: "JSON"),
            .init(name: "missing dtype", bytes: rawFile(header: #"{"a":{"shape":[1],"data_offsets":[0,4]}}"#, dataBytes: 4), kind: "malformedHeader", mentions: "dtype"),
            .init(name: "bad data_offsets", bytes: rawFile(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, dataBytes: 4), kind: "malformedHeader", mentions: "data_offsets"),
            .init(name: "invalid UTF-8", bytes: rawFile(header: "{\"\u{FF}\":1}", dataBytes: 0).enumerated().map { $0.offset == 10 ? 0xFF : $0.element }, kind: "malformedHeader", mentions: "UTF-8"),
            .init(name: "unknown dtype", bytes: rawFile(header: #"{"a":{"dtype":"Q4_K","shape":[4],"data_offsets":[0,4]}}"#, dataBytes: 4), kind: "unknownDType", mentions: "Q4_K"),
            .init(name: "shape and size disagree", bytes: rawFile(header: #"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#, dataBytes: 12), kind: "shapeMismatch", mentions: "[2, 2]"),
            .init(name: "overlapping offsets", bytes: rawFile(header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#, dataBytes: 24), kind: "overlappingOffsets", mentions: "overlap"),
            .init(name: "reversed offsets", bytes: rawFile(header: #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#, dataBytes: 8), kind: "offsetOutOfRange", mentions: "out of range"),
            .init(name: "offsets past the data", bytes: rawFile(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}}"#, dataBytes: 16), kind: "offsetOutOfRange", mentions: "'b'"),
            .init(name: "truncated data", bytes: Array(valid.dropLast(5)), kind: "truncated", mentions: "truncated"),
        ]
    }()
}

private func kind(of error: SafetensorsError) -> String {
    switch error {
    case .io: return "io"
    case .truncated: return "truncated"
    case .badHeaderLength: return "badHeaderLength"
    case .headerBeyondFile: return "headerBeyondFile"
    case .malformedHeader: return "malformedHeader"
    case .unknownDType: return "unknownDType"
    case .shapeMismatch: return "shapeMismatch"
    case .offsetOutOfRange: return "offsetOutOfRange"
    case .overlappingOffsets: return "overlappingOffsets"
    case .missingTensor: return "missingTensor"
    case .wrongDType: return "wrongDType"
    case .invalidEntry: return "invalidEntry"
    }
}

@Suite struct SafetensorsMalformedTests {
    @Test(arguments: MalformedSafetensorsCase.all)
    func givesAClearError(_ test: MalformedSafetensorsCase) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/bad.safetensors"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(test.bytes)))
        do {
            _ = try SafetensorsFile(path: path)
            Issue.record("\(test.name): no error")
        } catch let error as SafetensorsError {
            #expect(kind(of: error) == test.kind, "\(test.name): \(error)")
            #expect(error.description.contains(path), "\(error)")
            #expect(error.description.contains(test.mentions), "\(error)")
        }
    }

    @Test func aValidFileOfTheSameShapeOpens() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/ok.safetensors"
        let header = #"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#
        #expect(FileManager.default.createFile(atPath: path, contents: Data(rawFile(header: header, dataBytes: 16))))
        #expect(try SafetensorsFile(path: path).floats("a").count == 4)
    }

    @Test func namesAMissingFile() {
        #expect(throws: SafetensorsError.io(file: "/no/such/file.safetensors", reason: "cannot open (No such file or directory)")) {
            _ = try SafetensorsFile(path: "/no/such/file.safetensors")
        }
    }
}
