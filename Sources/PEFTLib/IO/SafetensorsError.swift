// The errors of the safetensors reader and writer: each names the file and the problem.

import Foundation

/// A safetensors file that cannot be read or written, with the file and the problem named.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be opened, mapped, created or renamed.
    case io(file: String, reason: String)
    /// The file is shorter than its 8-byte header length, or its data ends before the header says it does.
    case truncated(file: String, expectedBytes: Int, actualBytes: Int)
    /// The 8-byte header length is zero or larger than the 100 MB the format allows.
    case badHeaderLength(file: String, length: UInt64)
    /// The header length points past the end of the file.
    case headerBeyondFile(file: String, headerEnd: UInt64, fileSize: Int)
    /// The header is not valid UTF-8 JSON of the expected layout.
    case malformedHeader(file: String, reason: String)
    /// A tensor's dtype is not one this reader converts.
    case unknownDType(file: String, tensor: String, dtype: String)
    /// A tensor's shape and dtype do not give the byte size of its offsets.
    case shapeMismatch(file: String, tensor: String, shape: [Int], dtype: String, expectedBytes: Int, actualBytes: Int)
    /// A tensor's offsets are reversed or reach past the data section.
    case offsetOutOfRange(file: String, tensor: String, begin: Int, end: Int, dataSize: Int)
    /// Two tensors share bytes.
    case overlappingOffsets(file: String, first: String, second: String)
    /// The file holds no tensor of that name.
    case missingTensor(file: String, tensor: String)
    /// The tensor exists but cannot be read as asked (e.g. integers from a float tensor).
    case wrongDType(file: String, tensor: String, dtype: String, expected: String)
    /// The writer was given an invalid entry (bad shape, value count, duplicate or reserved name).
    case invalidEntry(tensor: String, reason: String)

    public var description: String {
        switch self {
        case let .io(file, reason):
            return "safetensors file '\(file)': \(reason)"
        case let .truncated(file, expected, actual):
            return "safetensors file '\(file)' is truncated: expected at least \(expected) bytes, found \(actual)"
        case let .badHeaderLength(file, length):
            return "safetensors file '\(file)' has a bad header length \(length) (must be between 1 and \(Safetensors.maxHeaderLength) bytes)"
        case let .headerBeyondFile(file, headerEnd, size):
            return "safetensors file '\(file)': the header ends at byte \(headerEnd), beyond the file size \(size)"
        case let .malformedHeader(file, reason):
            return "safetensors file '\(file)' has a malformed JSON header: \(reason)"
        case let .unknownDType(file, tensor, dtype):
            return "safetensors file '\(file)': tensor '\(tensor)' has an unknown or unsupported dtype '\(dtype)' (supported: \(SafetensorsDType.allCases.map(\.rawValue).joined(separator: ", ")))"
        case let .shapeMismatch(file, tensor, shape, dtype, expected, actual):
            return "safetensors file '\(file)': tensor '\(tensor)' of shape \(shape) and dtype \(dtype) needs \(expected) bytes but its offsets span \(actual)"
        case let .offsetOutOfRange(file, tensor, begin, end, dataSize):
            return "safetensors file '\(file)': tensor '\(tensor)' has offsets [\(begin), \(end)] out of range of the \(dataSize)-byte data section"
        case let .overlappingOffsets(file, first, second):
            return "safetensors file '\(file)': the offsets of tensors '\(first)' and '\(second)' overlap"
        case let .missingTensor(file, tensor):
            return "safetensors file '\(file)' has no tensor named '\(tensor)'"
        case let .wrongDType(file, tensor, dtype, expected):
            return "safetensors file '\(file)': tensor '\(tensor)' has dtype \(dtype), expected \(expected)"
        case let .invalidEntry(tensor, reason):
            return "safetensors entry '\(tensor)': \(reason)"
        }
    }
}
