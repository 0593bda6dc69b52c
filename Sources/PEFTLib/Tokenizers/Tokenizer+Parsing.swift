// Reads the component objects of tokenizer.json (normalizer, pre_tokenizer, decoder,
// post_processor) into their Swift forms; an unknown component type is an error naming the field.

import Foundation

struct TokenizerJSONParser {
    let file: String

    private func unsupported(_ path: String, _ value: String) -> TokenizerError {
        .unsupported(file: file, field: path + ".type", value: value)
    }

    private func object(_ json: Any?, _ path: String) throws -> [String: Any]? {
        guard let json, !(json is NSNull) else { return nil }
        guard let dict = json as? [String: Any] else { throw TokenizerError.malformed(file: file, reason: "\(path) is not an object") }
        return dict
    }

    /// A `String` or `Regex` pattern object's text.
    private func pattern(_ json: Any?, _ path: String) throws -> (String, isRegex: Bool) {
        guard let dict = json as? [String: Any] else { throw TokenizerError.malformed(file: file, reason: "\(path).pattern is not an object") }
        if let s = dict["String"] as? String { return (s, false) }
        if let r = dict["Regex"] as? String { return (r, true) }
        throw TokenizerError.malformed(file: file, reason: "\(path).pattern has neither String nor Regex")
    }

    func normalizer(_ json: Any?, path: String) throws -> TextNormalizer? {
        guard let dict = try object(json, path) else { return nil }
        let type = dict["type"] as? String ?? ""
        switch type {
        case "Lowercase": return .lowercase
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Strip": return .strip(left: dict["strip_left"] as? Bool ?? true, right: dict["strip_right"] as? Bool ?? true)
        case "Prepend": return .prepend(dict["prepend"] as? String ?? "")
        case "Replace":
            let (text, isRegex) = try pattern(dict["pattern"], path)
            if isRegex { throw TokenizerError.unsupported(file: file, field: path + ".pattern", value: "Regex " + text) }
            return .replace(pattern: text, content: dict["content"] as? String ?? "")
        case "Sequence":
            let items = dict["normalizers"] as? [Any] ?? []
            return .sequence(try items.enumerated().compactMap { try normalizer($1, path: "\(path).normalizers[\($0)]") })
        default:
            throw unsupported(path, type)
        }
    }

    func preTokenizer(_ json: Any?, path: String) throws -> PreTokenizerStep? {
        guard let dict = try object(json, path) else { return nil }
        let type = dict["type"] as? String ?? ""
        switch type {
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: dict["add_prefix_space"] as? Bool ?? true, useRegex: dict["use_regex"] as? Bool ?? true)
        case "Whitespace": return .whitespace
        case "WhitespaceSplit": return .whitespaceSplit
        case "BertPreTokenizer": return .bert
        case "Digits": return .digits(individual: dict["individual_digits"] as? Bool ?? false)
        case "Split":
            let (text, isRegex) = try pattern(dict["pattern"], path)
            let behaviorName = dict["behavior"] as? String ?? "Isolated"
            guard let behavior = SplitBehavior(rawValue: behaviorName) else {
                throw TokenizerError.unsupported(file: file, field: path + ".behavior", value: behaviorName)
            }
            let compiled: SplitPattern
            if isRegex {
                do { compiled = .regex(try CompiledPattern(text)) } catch {
                    throw TokenizerError.unsupported(file: file, field: path + ".pattern", value: text)
                }
            } else {
                compiled = .literal(text)
            }
            return .split(compiled, behavior, invert: dict["invert"] as? Bool ?? false)
        case "Sequence":
            let items = dict["pretokenizers"] as? [Any] ?? []
            return .sequence(try items.enumerated().compactMap { try preTokenizer($1, path: "\(path).pretokenizers[\($0)]") })
        default:
            throw unsupported(path, type)
        }
    }

    func decoder(_ json: Any?, path: String) throws -> TokenDecoder? {
        guard let dict = try object(json, path) else { return nil }
        let type = dict["type"] as? String ?? ""
        switch type {
        case "ByteLevel": return .byteLevel
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Replace":
            let (text, isRegex) = try pattern(dict["pattern"], path)
            if isRegex { throw TokenizerError.unsupported(file: file, field: path + ".pattern", value: "Regex " + text) }
            return .replace(pattern: text, content: dict["content"] as? String ?? "")
        case "Strip":
            let content = (dict["content"] as? String)?.unicodeScalars.first ?? " "
            return .strip(content: content, start: (dict["start"] as? NSNumber)?.intValue ?? 0,
                          stop: (dict["stop"] as? NSNumber)?.intValue ?? 0)
        case "Sequence":
            let items = dict["decoders"] as? [Any] ?? []
            return .sequence(try items.enumerated().compactMap { try decoder($1, path: "\(path).decoders[\($0)]") })
        default:
            throw unsupported(path, type)
        }
    }

    /// The ids a post-processor adds before and after a single sequence.
    func postProcessor(_ json: Any?, path: String, vocab: [ExactString: Int], added: [ExactString: Int]) throws -> ([Int], [Int]) {
        guard let dict = try object(json, path) else { return ([], []) }
        let type = dict["type"] as? String ?? ""
        func tokenID(_ value: Any?) throws -> Int {
            // Bert/Roberta store ["[CLS]", 101].
            guard let pair = value as? [Any], pair.count == 2, let id = (pair[1] as? NSNumber)?.intValue else {
                throw TokenizerError.malformed(file: file, reason: "\(path) has a malformed special token")
            }
            return id
        }
        switch type {
        case "ByteLevel": return ([], [])
        case "BertProcessing", "RobertaProcessing":
            return ([try tokenID(dict["cls"])], [try tokenID(dict["sep"])])
        case "TemplateProcessing":
            let specials = dict["special_tokens"] as? [String: Any] ?? [:]
            var before: [Int] = [], after: [Int] = []
            var seenSequence = false
            for item in dict["single"] as? [Any] ?? [] {
                guard let piece = item as? [String: Any] else { continue }
                if piece["Sequence"] != nil { seenSequence = true; continue }
                guard let special = piece["SpecialToken"] as? [String: Any], let name = special["id"] as? String else { continue }
                var ids = (specials[name] as? [String: Any])?["ids"] as? [Any] ?? []
                if ids.isEmpty, let id = added[ExactString(name)] ?? vocab[ExactString(name)] { ids = [id] }
                let values = ids.compactMap { ($0 as? NSNumber)?.intValue }
                if seenSequence { after += values } else { before += values }
            }
            return (before, after)
        case "Sequence":
            var before: [Int] = [], after: [Int] = []
            for (i, item) in (dict["processors"] as? [Any] ?? []).enumerated() {
                let (b, a) = try postProcessor(item, path: "\(path).processors[\(i)]", vocab: vocab, added: added)
                before = b + before; after += a
            }
            return (before, after)
        default:
            throw unsupported(path, type)
        }
    }
}
