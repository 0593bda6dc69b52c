// Writes Float32 tensors as a safetensors file in the layout of the Python `safetensors` library:
// tensors sorted by name, compact JSON header with "__metadata__" first, header padded with spaces
// to a multiple of 8 bytes, data contiguous. Written atomically (AtomicFiles).

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Collects named Float32 tensors and writes them as one safetensors file.
///
/// ```swift
/// var writer = SafetensorsWriter()
/// try writer.add("lm_head.weight", shape: [4, 3], values: weights)
/// try writer.write(to: "run/adapter_model.safetensors")
/// ```
public struct SafetensorsWriter: Sendable {
    /// Written as `__metadata__` when not empty; `format: pt` by default, which `transformers` expects.
    public var metadata: [String: String]
    private var entries: [String: (shape: [Int], values: [Float])] = [:]

    public init(metadata: [String: String] = ["format": "pt"]) {
        self.metadata = metadata
    }

    /// Names added so far, in the order they will be written (byte-wise sorted).
    public var names: [String] { entries.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) } }

    /// Adds one F32 tensor; `values.count` must equal the product of `shape`.
    public mutating func add(_ name: String, shape: [Int], values: [Float]) throws {
        guard name != Safetensors.metadataKey else { throw SafetensorsError.invalidEntry(tensor: name, reason: "the name is reserved for metadata") }
        guard entries[name] == nil else { throw SafetensorsError.invalidEntry(tensor: name, reason: "added twice") }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw SafetensorsError.invalidEntry(tensor: name, reason: "negative dimension in shape \(shape)") }
        let count = shape.reduce(1, *)
        guard count == values.count else {
            throw SafetensorsError.invalidEntry(tensor: name, reason: "shape \(shape) holds \(count) values but \(values.count) were given")
        }
        entries[name] = (shape, values)
    }

    /// The header bytes (JSON plus space padding), without the 8-byte length prefix.
    public func headerBytes() -> [UInt8] {
        var json = "{"
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(safetensorsJSONString($0)):\(safetensorsJSONString(metadata[$0]!))" }
            fields.append("\(safetensorsJSONString(Safetensors.metadataKey)):{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for name in names {
            let entry = entries[name]!
            let bytes = entry.values.count * 4
            let shape = entry.shape.map(String.init).joined(separator: ",")
            fields.append("\(safetensorsJSONString(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        json += fields.joined(separator: ",") + "}"
        var header = Array(json.utf8)
        let padding = (8 - header.count % 8) % 8
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))
        return header
    }

    /// The whole file in memory (length prefix, header, data).
    public func encoded() -> Data {
        var data = Data()
        let header = headerBytes()
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: header)
        for name in names {
            entries[name]!.values.withUnsafeBytes { raw in
                #if _endian(big)
                for v in raw.bindMemory(to: Float.self) { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
                #else
                data.append(contentsOf: raw)
                #endif
            }
        }
        return data
    }

    /// Writes the file to `path` atomically (`AtomicFiles`: a temporary sibling, flushed, renamed).
    public func write(to path: String) throws {
        do {
            try AtomicFiles.write(to: path) { append in
                let header = headerBytes()
                try withUnsafeBytes(of: UInt64(header.count).littleEndian) { try append($0) }
                try header.withUnsafeBytes { try append($0) }
                for name in names {
                    #if _endian(big)
                    let littleEndian = entries[name]!.values.map { $0.bitPattern.littleEndian }
                    try littleEndian.withUnsafeBytes { try append($0) }
                    #else
                    try entries[name]!.values.withUnsafeBytes { try append($0) }
                    #endif
                }
            }
        } catch let error as FileWriteError {
            throw SafetensorsError.io(file: error.path, reason: error.reason)
        }
    }
}

/// A JSON string literal escaped as serde_json escapes it (quote, backslash, control characters).
func safetensorsJSONString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        default:
            if scalar.value < 0x20 {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
