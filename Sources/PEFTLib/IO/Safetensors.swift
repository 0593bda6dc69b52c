// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
// naming each tensor's dtype, shape and data offsets, then the raw little-endian data.
// The reader memory-maps the file, validates the header as the `safetensors` library does and
// converts F32, F16, BF16 (and the other numeric dtypes) to Float32; the writer writes F32 in the
// library's layout (tensors sorted by name, header padded with spaces to 8 bytes) atomically.
// Independent of the Tensor class: values come and go as [Float] or raw buffers.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Constants of the safetensors format.
public enum Safetensors {
    /// The largest header the format (and the Python library) accepts: 100 MB.
    public static let maxHeaderLength: UInt64 = 100_000_000
    /// The reserved header key holding string-to-string metadata.
    public static let metadataKey = "__metadata__"
}

/// An element type of a safetensors tensor, spelled as in the header.
public enum SafetensorsDType: String, CaseIterable, Sendable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8", bool = "BOOL"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    /// Whether the elements are integers (or booleans) rather than floating point.
    public var isInteger: Bool {
        switch self {
        case .f64, .f32, .f16, .bf16: return false
        default: return true
        }
    }
}

/// What the header says about one tensor: dtype, shape and where its bytes are.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// Byte range inside the data section (after the header).
    public let dataOffsets: Range<Int>

    /// Number of elements (1 for a scalar of shape []).
    public var count: Int { shape.reduce(1, *) }
}

// MARK: - Reader

/// A memory-mapped safetensors file whose header has been validated.
///
/// ```swift
/// let file = try SafetensorsFile(path: "model.safetensors")
/// for name in file.names { print(name, try file.info(name).shape) }
/// let w = try file.floats("model.embed_tokens.weight")   // F32/F16/BF16 → [Float]
/// ```
public final class SafetensorsFile: @unchecked Sendable {
    // Sendable: every stored property is immutable after init; the mapping is read-only.

    /// The path the file was opened from (used in error messages).
    public let path: String
    /// The `__metadata__` strings (empty if the header has none).
    public let metadata: [String: String]
    /// Tensor names, sorted byte-wise as the Python library's `keys()` lists them.
    public let names: [String]
    /// Every tensor's header entry, by name.
    public let tensors: [String: SafetensorsTensorInfo]
    /// Size of the whole file in bytes.
    public let fileSize: Int

    private let mapping: MappedRegion
    private let dataStart: Int

    /// Opens, maps and validates `path`; throws a `SafetensorsError` naming the file and the problem.
    public init(path: String) throws {
        self.path = path
        let mapping = try MappedRegion(path: path)
        self.mapping = mapping
        self.fileSize = mapping.count
        guard mapping.count >= 8 else {
            throw SafetensorsError.truncated(file: path, expectedBytes: 8, actualBytes: mapping.count)
        }
        let base = mapping.bytes
        let headerLength = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard headerLength > 0, headerLength <= Safetensors.maxHeaderLength else {
            throw SafetensorsError.badHeaderLength(file: path, length: headerLength)
        }
        guard 8 + headerLength <= UInt64(mapping.count) else {
            throw SafetensorsError.headerBeyondFile(file: path, headerEnd: 8 + headerLength, fileSize: mapping.count)
        }
        let dataStart = 8 + Int(headerLength)
        self.dataStart = dataStart
        let headerBytes = UnsafeRawBufferPointer(start: base + 8, count: Int(headerLength))
        let (metadata, infos) = try SafetensorsHeader.parse(headerBytes, dataSize: mapping.count - dataStart, file: path)
        try SafetensorsHeader.validateOffsets(infos, dataSize: mapping.count - dataStart,
                                              fileSize: mapping.count, dataStart: dataStart, file: path)
        self.metadata = metadata
        var byName: [String: SafetensorsTensorInfo] = [:]
        for info in infos { byName[info.name] = info }
        self.tensors = byName
        self.names = byName.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Whether the file holds a tensor of that name.
    public func contains(_ name: String) -> Bool { tensors[name] != nil }

    /// The dtype, shape and offsets of `name`.
    public func info(_ name: String) throws -> SafetensorsTensorInfo {
        guard let info = tensors[name] else { throw SafetensorsError.missingTensor(file: path, tensor: name) }
        return info
    }

    /// Calls `body` with the tensor's raw little-endian bytes, valid only during the call.
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let info = try info(name)
        let start = mapping.bytes + dataStart + info.dataOffsets.lowerBound
        return try body(UnsafeRawBufferPointer(start: start, count: info.dataOffsets.count))
    }

    /// The tensor's values converted to Float32, row-major.
    public func floats(_ name: String) throws -> [Float] {
        let n = try info(name).count
        return try [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            try readFloats(name, into: buffer)
            initialized = n
        }
    }

    /// Converts the tensor's values to Float32 into `destination`, whose count must equal the element count.
    public func readFloats(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let info = try info(name)
        guard destination.count == info.count else {
            throw SafetensorsError.shapeMismatch(file: path, tensor: name, shape: info.shape, dtype: info.dtype.rawValue,
                                                 expectedBytes: info.count * info.dtype.byteSize,
                                                 actualBytes: destination.count * info.dtype.byteSize)
        }
        guard let out = destination.baseAddress, info.count > 0 else { return }
        try withRawBytes(name) { raw in
            convertToFloat(raw, dtype: info.dtype, count: info.count, into: out)
        }
    }

    /// The values of an integer (or boolean) tensor, row-major; throws `wrongDType` for a float tensor.
    public func integers(_ name: String) throws -> [Int] {
        let info = try info(name)
        guard info.dtype.isInteger else {
            throw SafetensorsError.wrongDType(file: path, tensor: name, dtype: info.dtype.rawValue, expected: "an integer dtype")
        }
        return try withRawBytes(name) { raw in
            (0..<info.count).map { i in integerElement(raw, dtype: info.dtype, index: i) }
        }
    }
}

// MARK: - Header parsing and validation

enum SafetensorsHeader {
    /// Parses the JSON header into metadata and tensor entries (in header order).
    static func parse(_ bytes: UnsafeRawBufferPointer, dataSize: Int, file: String) throws -> ([String: String], [SafetensorsTensorInfo]) {
        func malformed(_ reason: String) -> SafetensorsError { .malformedHeader(file: file, reason: reason) }
        let data = Data(bytes)
        guard String(data: data, encoding: .utf8) != nil else { throw malformed("the header is not valid UTF-8") }
        guard bytes.first == UInt8(ascii: "{") else { throw malformed("the header does not start with '{'") }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            throw malformed("not valid JSON (\(error.localizedDescription))")
        }
        guard let root = object as? [String: Any] else { throw malformed("the header is not a JSON object") }

        var metadata: [String: String] = [:]
        var infos: [SafetensorsTensorInfo] = []
        for (key, value) in root {
            if key == Safetensors.metadataKey {
                if value is NSNull { continue }
                guard let dict = value as? [String: Any] else { throw malformed("'__metadata__' is not an object") }
                for (k, v) in dict {
                    guard let s = v as? String else { throw malformed("'__metadata__' value for '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any] else { throw malformed("the entry for tensor '\(key)' is not an object") }
            guard let dtypeName = entry["dtype"] as? String else { throw malformed("tensor '\(key)' has no string 'dtype'") }
            guard let shapeValues = entry["shape"] as? [Any] else { throw malformed("tensor '\(key)' has no 'shape' array") }
            guard let offsetValues = entry["data_offsets"] as? [Any] else { throw malformed("tensor '\(key)' has no 'data_offsets' array") }
            var shape: [Int] = []
            for v in shapeValues {
                guard let d = nonNegativeInteger(v) else { throw malformed("tensor '\(key)' has a shape entry that is not a non-negative integer") }
                shape.append(d)
            }
            guard offsetValues.count == 2, let begin = nonNegativeInteger(offsetValues[0]),
                  let end = nonNegativeInteger(offsetValues[1]) else {
                throw malformed("tensor '\(key)' needs 'data_offsets' as two non-negative integers")
            }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw SafetensorsError.unknownDType(file: file, tensor: key, dtype: dtypeName)
            }
            guard begin <= end else {
                throw SafetensorsError.offsetOutOfRange(file: file, tensor: key, begin: begin, end: end, dataSize: dataSize)
            }
            var elements = 1
            for d in shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow else { throw malformed("tensor '\(key)' has a shape \(shape) too large to address") }
                elements = product
            }
            let (expected, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, expected == end - begin else {
                throw SafetensorsError.shapeMismatch(file: file, tensor: key, shape: shape, dtype: dtypeName,
                                                     expectedBytes: overflow ? Int.max : expected, actualBytes: end - begin)
            }
            infos.append(SafetensorsTensorInfo(name: key, dtype: dtype, shape: shape, dataOffsets: begin..<end))
        }
        return (metadata, infos)
    }

    /// Rejects overlapping offsets and offsets past the data; a contiguous layout that runs past the
    /// end of the file is reported as a truncated file.
    static func validateOffsets(_ infos: [SafetensorsTensorInfo], dataSize: Int, fileSize: Int,
                                dataStart: Int, file: String) throws {
        let sorted = infos.sorted {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name)
        }
        var previous: SafetensorsTensorInfo?
        var contiguous = true
        var cursor = 0
        for info in sorted {
            if info.dataOffsets.lowerBound != cursor { contiguous = false }
            cursor = max(cursor, info.dataOffsets.upperBound)
            guard !info.dataOffsets.isEmpty else { continue }
            if let p = previous, info.dataOffsets.lowerBound < p.dataOffsets.upperBound {
                throw SafetensorsError.overlappingOffsets(file: file, first: p.name, second: info.name)
            }
            previous = info
        }
        guard cursor > dataSize else { return }
        if contiguous {
            throw SafetensorsError.truncated(file: file, expectedBytes: dataStart + cursor, actualBytes: fileSize)
        }
        let culprit = sorted.first { $0.dataOffsets.upperBound > dataSize }!
        throw SafetensorsError.offsetOutOfRange(file: file, tensor: culprit.name, begin: culprit.dataOffsets.lowerBound,
                                                end: culprit.dataOffsets.upperBound, dataSize: dataSize)
    }

    private static func nonNegativeInteger(_ value: Any) -> Int? {
        guard let number = value as? NSNumber else { return nil }
        let d = number.doubleValue
        guard d >= 0, d == d.rounded(), d < 9.0e18 else { return nil }
        return number.intValue
    }
}

// MARK: - Conversion to Float32

/// IEEE half → single, exact (subnormals, infinities and NaN included).
@inline(__always)
func halfBitsToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x03FF)
    if exponent == 0 {
        let magnitude = Float(mantissa) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    }
    if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

/// bfloat16 → single: the bfloat16 bits are the high half of the float.
@inline(__always)
func bfloat16BitsToFloat(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

/// Converts `count` little-endian elements of `dtype` at `raw` to Float32 (unaligned reads are fine).
private func convertToFloat(_ raw: UnsafeRawBufferPointer, dtype: SafetensorsDType, count n: Int, into out: UnsafeMutablePointer<Float>) {
    guard let p = raw.baseAddress else { return }
    switch dtype {
    case .f32:
        memcpy(out, p, n * 4)
        #if _endian(big)
        for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: out[i].bitPattern)) }
        #endif
    case .f16:
        for i in 0..<n { out[i] = halfBitsToFloat(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
    case .bf16:
        for i in 0..<n { out[i] = bfloat16BitsToFloat(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
    case .f64:
        for i in 0..<n { out[i] = Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
    default:
        for i in 0..<n { out[i] = Float(integerElement(raw, dtype: dtype, index: i)) }
    }
}

/// Element `index` of an integer or boolean tensor as Int (U64 above Int.max wraps).
@inline(__always)
private func integerElement(_ raw: UnsafeRawBufferPointer, dtype: SafetensorsDType, index i: Int) -> Int {
    let p = raw.baseAddress!
    switch dtype {
    case .i64: return Int(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
    case .u64: return Int(truncatingIfNeeded: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
    case .i32: return Int(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
    case .u32: return Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
    case .i16: return Int(Int16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
    case .u16: return Int(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
    case .i8: return Int(p.load(fromByteOffset: i, as: Int8.self))
    case .u8: return Int(p.load(fromByteOffset: i, as: UInt8.self))
    case .bool: return p.load(fromByteOffset: i, as: UInt8.self) == 0 ? 0 : 1
    case .f64, .f32, .f16, .bf16: return 0
    }
}

// MARK: - Memory mapping

/// A read-only, private memory mapping of a whole file, unmapped on deinit.
final class MappedRegion: @unchecked Sendable {
    // Sendable: the mapping is read-only and never changes after init.
    let bytes: UnsafeRawPointer
    let count: Int
    private let mappedLength: Int

    init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SafetensorsError.io(file: path, reason: "cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw SafetensorsError.io(file: path, reason: "cannot stat (\(String(cString: strerror(errno))))") }
        count = Int(status.st_size)
        if count == 0 {
            // mmap refuses empty files; one zero byte keeps `bytes` valid for the (failing) length check.
            let empty = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
            empty.initializeMemory(as: UInt8.self, repeating: 0, count: 8)
            bytes = UnsafeRawPointer(empty)
            mappedLength = 0
            return
        }
        guard let address = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else {
            throw SafetensorsError.io(file: path, reason: "cannot memory-map (\(String(cString: strerror(errno))))")
        }
        bytes = UnsafeRawPointer(address)
        mappedLength = count
    }

    deinit {
        if mappedLength > 0 {
            munmap(UnsafeMutableRawPointer(mutating: bytes), mappedLength)
        } else {
            UnsafeMutableRawPointer(mutating: bytes).deallocate()
        }
    }
}
