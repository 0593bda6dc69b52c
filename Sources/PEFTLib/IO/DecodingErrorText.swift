// Foundation's DecodingError in the project's words: which field, what it should be.
import Foundation

/// "field 'size.height' must be a number", "the field 'r' is missing", "not valid JSON"; other
/// errors as they describe themselves.
func describeDecoding(_ error: any Error) -> String {
    func path(_ keys: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
        let all = keys + (last.map { [$0] } ?? [])
        return all.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            .joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }
    func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Double.Type, is Float.Type, is Int32.Type, is UInt64.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "a list" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "a \(name)"
        }
    }
    guard let decoding = error as? DecodingError else { return "\(error)" }
    switch decoding {
    case let .typeMismatch(type, context):
        return "field '\(path(context.codingPath))' must be \(typeName(type))"
    case let .valueNotFound(type, context):
        return "field '\(path(context.codingPath))' must be \(typeName(type)), found null"
    case let .keyNotFound(key, context):
        return "the field '\(path(context.codingPath, key))' is missing"
    case let .dataCorrupted(context):
        if context.codingPath.isEmpty { return "not valid JSON" }
        return "field '\(path(context.codingPath))' is invalid (\(context.debugDescription))"
    @unknown default:
        return "\(error)"
    }
}
