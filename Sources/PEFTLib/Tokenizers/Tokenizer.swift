// A tokenizer read from a Hugging Face tokenizer.json: added and special tokens split out first,
// then normalizer → pre-tokenizer → model (byte-level BPE or WordLevel) → post-processor, and the
// decoder on the way back. Follows the pipeline of the `tokenizers` library so that ids match it.

import Foundation

/// A tokenizer.json that cannot be used, naming the file and the problem.
public enum TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    case io(file: String, reason: String)
    case malformed(file: String, reason: String)
    /// A component type or option this reader does not implement, e.g. `model.type` = `Unigram`.
    case unsupported(file: String, field: String, value: String)
    /// A token the caller needs (e.g. `<image>` or the end token) is not in the vocabulary.
    case missingToken(String)

    public var description: String {
        switch self {
        case let .io(file, reason): return "tokenizer '\(file)': \(reason)"
        case let .malformed(file, reason): return "tokenizer '\(file)' is malformed: \(reason)"
        case let .unsupported(file, field, value): return "tokenizer '\(file)': unsupported \(field) \"\(value)\""
        case let .missingToken(token): return "the tokenizer has no token \(token)"
        }
    }
}

/// The ids of the tokens with a role: begin, end, padding, unknown and `<image>`.
public struct SpecialTokenIDs: Sendable, Equatable {
    public var bos: Int?
    public var eos: Int?
    public var pad: Int?
    public var unk: Int?
    public var image: Int?

    public init(bos: Int? = nil, eos: Int? = nil, pad: Int? = nil, unk: Int? = nil, image: Int? = nil) {
        self.bos = bos; self.eos = eos; self.pad = pad; self.unk = unk; self.image = image
    }
}

/// A token added on top of the model's vocabulary (`added_tokens`), matched before any splitting.
struct AddedToken: Sendable {
    let id: Int
    let content: String
    let scalars: [Unicode.Scalar]
    let singleWord: Bool
    let lstrip: Bool
    let rstrip: Bool
    let special: Bool
}

/// A decoder from tokenizer.json (`decoder`): turns tokens back into text pieces.
indirect enum TokenDecoder: Sendable {
    case byteLevel
    case replace(pattern: String, content: String)
    case byteFallback
    case fuse
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    case sequence([TokenDecoder])

    func decodeChain(_ tokens: [String]) -> [String] {
        switch self {
        case .byteLevel:
            var bytes: [UInt8] = []
            for t in tokens { bytes += ByteLevelAlphabet.bytes(of: t) ?? Array(t.utf8) }
            return [String(decoding: bytes, as: UTF8.self)]
        case let .replace(pattern, content):
            return tokens.map { $0.replacingOccurrences(of: pattern, with: content) }
        case .byteFallback:
            var out: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let s = String(validatingUTF8CString: pending) { out.append(s) } else {
                    out += Array(repeating: "\u{FFFD}", count: pending.count)
                }
                pending = []
            }
            for t in tokens {
                let u = Array(t.utf8)
                if u.count == 6, t.hasPrefix("<0x"), t.hasSuffix(">"), let b = UInt8(String(t.dropFirst(3).dropLast()), radix: 16) {
                    pending.append(b)
                } else {
                    flush(); out.append(t)
                }
            }
            flush()
            return out
        case .fuse:
            return [tokens.joined()]
        case let .strip(content, start, stop):
            return tokens.map { t in
                var scalars = Array(t.unicodeScalars)
                var s = 0
                while s < start, s < scalars.count, scalars[s] == content { s += 1 }
                var e = scalars.count
                var removed = 0
                while removed < stop, e > s, scalars[e - 1] == content { e -= 1; removed += 1 }
                scalars = Array(scalars[s..<e])
                return String(String.UnicodeScalarView(scalars))
            }
        case let .sequence(steps):
            return steps.reduce(tokens) { $1.decodeChain($0) }
        }
    }
}

private extension String {
    /// Strict UTF-8 decoding of bytes, nil if invalid.
    init?(validatingUTF8CString bytes: [UInt8]) {
        guard let s = String(bytes: bytes, encoding: .utf8) else { return nil }
        self = s
    }
}

/// A Hugging Face tokenizer (byte-level BPE or WordLevel) read from tokenizer.json.
///
/// ```swift
/// let tokenizer = try Tokenizer(path: "models/tiny-llava")     // folder or tokenizer.json
/// let ids = tokenizer.encode("How many stars?")
/// tokenizer.decode(ids)                                       // "How many stars?"
/// ```
public struct Tokenizer: Sendable {
    /// Where it was read from (used in error messages).
    public let source: String
    /// The token ids with a role; set from tokenizer_config.json when present, else from common token names.
    public var specialTokens: SpecialTokenIDs
    /// Ids the post-processor puts before and after a single sequence (e.g. `<s>` for Llama).
    public let prefixIDs: [Int]
    public let suffixIDs: [Int]

    let model: TokenizerModel
    let normalizer: TextNormalizer?
    let preTokenizer: PreTokenizerStep?
    let decoder: TokenDecoder?
    let addedTokens: [AddedToken]
    private let addedByFirstScalar: [Unicode.Scalar: [Int]]   // indices into addedTokens, longest first
    private let addedByID: [Int: Int]
    private let addedByContent: [ExactString: Int]
    private let tokenForID: [Int: String]

    /// Reads `path`: a tokenizer.json, or a folder holding one (and optionally tokenizer_config.json).
    public init(path: String) throws {
        var isDirectory: ObjCBool = false
        var file = path
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            file = (path as NSString).appendingPathComponent("tokenizer.json")
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw TokenizerError.io(file: file, reason: "cannot read the file")
        }
        let configPath = ((file as NSString).deletingLastPathComponent as NSString).appendingPathComponent("tokenizer_config.json")
        let config = FileManager.default.contents(atPath: configPath)
        try self.init(json: data, config: config, source: file)
    }

    /// Parses tokenizer.json bytes (and tokenizer_config.json bytes, for the special-token roles).
    public init(json: Data, config: Data? = nil, source: String = "tokenizer.json") throws {
        self.source = source
        func malformed(_ reason: String) -> TokenizerError { .malformed(file: source, reason: reason) }
        guard let root = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] else {
            throw malformed("not a JSON object")
        }
        let parser = TokenizerJSONParser(file: source)

        // Model.
        guard let modelJSON = root["model"] as? [String: Any] else { throw malformed("no \"model\" object") }
        let modelType = modelJSON["type"] as? String ?? (modelJSON["merges"] != nil ? "BPE" : "")
        guard let vocabJSON = modelJSON["vocab"] as? [String: Any] else { throw malformed("model has no \"vocab\" object") }
        if !["BPE", "WordLevel"].contains(modelType) {
            throw TokenizerError.unsupported(file: source, field: "model.type", value: modelType)
        }
        // A model that knows no token would answer every question with "".
        if vocabJSON.isEmpty { throw malformed("the vocabulary (model.vocab) is empty") }
        var vocab: [ExactString: Int] = [:]
        vocab.reserveCapacity(vocabJSON.count)
        for (token, value) in vocabJSON {
            guard let id = (value as? NSNumber)?.intValue else { throw malformed("vocab entry \"\(token)\" has no integer id") }
            vocab[ExactString(token)] = id
        }
        let unkToken = modelJSON["unk_token"] as? String
        switch modelType {
        case "BPE":
            for field in ["continuing_subword_prefix", "end_of_word_suffix"] {
                if let v = modelJSON[field] as? String, !v.isEmpty { throw TokenizerError.unsupported(file: source, field: "model.\(field)", value: v) }
            }
            if let dropout = (modelJSON["dropout"] as? NSNumber)?.doubleValue, dropout > 0 {
                throw TokenizerError.unsupported(file: source, field: "model.dropout", value: "\(dropout)")
            }
            let mergesJSON = modelJSON["merges"] as? [Any] ?? []
            var merges: [UInt64: (rank: Int, id: Int)] = [:]
            merges.reserveCapacity(mergesJSON.count)
            for (rank, entry) in mergesJSON.enumerated() {
                let pair: [String]
                if let line = entry as? String {
                    pair = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                } else if let list = entry as? [String] {
                    pair = list
                } else { throw malformed("merge \(rank) is neither \"a b\" nor [a, b]") }
                guard pair.count == 2 else { throw malformed("merge \(rank) does not have two parts") }
                guard let a = vocab[ExactString(pair[0])], let b = vocab[ExactString(pair[1])] else {
                    throw malformed("merge \(rank) (\(pair[0]) \(pair[1])) uses a token missing from the vocabulary")
                }
                guard let merged = vocab[ExactString(pair[0] + pair[1])] else {
                    throw malformed("merge \(rank) gives \(pair[0] + pair[1]), which is missing from the vocabulary")
                }
                let key = BPEModel.pairKey(a, b)
                if merges[key] == nil { merges[key] = (rank, merged) }
            }
            model = .bpe(BPEModel(vocab: vocab, merges: merges, unkID: unkToken.flatMap { vocab[ExactString($0)] },
                                  fuseUnknown: modelJSON["fuse_unk"] as? Bool ?? false,
                                  byteFallback: modelJSON["byte_fallback"] as? Bool ?? false,
                                  ignoreMerges: modelJSON["ignore_merges"] as? Bool ?? false))
        case "WordLevel":
            model = .wordLevel(WordLevelModel(vocab: vocab, unkID: unkToken.flatMap { vocab[ExactString($0)] }))
        default:
            throw TokenizerError.unsupported(file: source, field: "model.type", value: modelType)
        }

        normalizer = try parser.normalizer(root["normalizer"], path: "normalizer")
        preTokenizer = try parser.preTokenizer(root["pre_tokenizer"], path: "pre_tokenizer")
        decoder = try parser.decoder(root["decoder"], path: "decoder")

        // Added tokens.
        var added: [AddedToken] = []
        for entry in root["added_tokens"] as? [[String: Any]] ?? [] {
            guard let id = (entry["id"] as? NSNumber)?.intValue, let content = entry["content"] as? String else {
                throw malformed("an added token lacks \"id\" or \"content\"")
            }
            added.append(AddedToken(id: id, content: content, scalars: Array(content.unicodeScalars),
                                    singleWord: entry["single_word"] as? Bool ?? false,
                                    lstrip: entry["lstrip"] as? Bool ?? false, rstrip: entry["rstrip"] as? Bool ?? false,
                                    special: entry["special"] as? Bool ?? false))
        }
        addedTokens = added
        var byFirst: [Unicode.Scalar: [Int]] = [:]
        var byID: [Int: Int] = [:]
        var byContent: [ExactString: Int] = [:]
        for (index, token) in added.enumerated() {
            if let first = token.scalars.first { byFirst[first, default: []].append(index) }
            byID[token.id] = index
            byContent[ExactString(token.content)] = token.id
        }
        for key in byFirst.keys { byFirst[key]!.sort { added[$0].scalars.count > added[$1].scalars.count } }
        addedByFirstScalar = byFirst
        addedByID = byID
        addedByContent = byContent
        var reverse: [Int: String] = [:]
        reverse.reserveCapacity(vocab.count)
        for (token, id) in vocab { reverse[id] = token.value }
        tokenForID = reverse

        // Post-processor: the ids around a single sequence.
        (prefixIDs, suffixIDs) = try parser.postProcessor(root["post_processor"], path: "post_processor", vocab: vocab, added: byContent)

        // Special-token roles.
        var roles = SpecialTokenIDs()
        let configJSON = config.flatMap { try? JSONSerialization.jsonObject(with: $0) } as? [String: Any]
        func configured(_ key: String) -> String? {
            guard let value = configJSON?[key] else { return nil }
            if let s = value as? String { return s }
            return (value as? [String: Any])?["content"] as? String
        }
        func lookup(_ token: String) -> Int? { byContent[ExactString(token)] ?? vocab[ExactString(token)] }
        func firstKnown(_ candidates: [String]) -> Int? { candidates.lazy.compactMap(lookup).first }
        roles.bos = configured("bos_token").flatMap(lookup)
            ?? firstKnown(["<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>", "[CLS]", "<|endoftext|>"])
        roles.eos = configured("eos_token").flatMap(lookup)
            ?? firstKnown(["</s>", "<|end_of_text|>", "<eos>", "<|endoftext|>", "[SEP]", "<|im_end|>"])
        roles.pad = configured("pad_token").flatMap(lookup) ?? firstKnown(["<pad>", "[PAD]", "<|pad|>"])
        roles.unk = configured("unk_token").flatMap(lookup) ?? unkToken.flatMap(lookup) ?? firstKnown(["<unk>", "[UNK]"])
        roles.image = lookup("<image>")
        specialTokens = roles
    }

    // MARK: Lookups

    /// Number of ids: one past the largest id of the vocabulary and the added tokens.
    public var vocabularySize: Int {
        max(tokenForID.keys.max() ?? -1, addedTokens.map(\.id).max() ?? -1) + 1
    }

    /// The id of a token string (added tokens first, then the model's vocabulary).
    public func id(for token: String) -> Int? { addedByContent[ExactString(token)] ?? model.vocab[ExactString(token)] }

    /// The token string of an id.
    public func token(for id: Int) -> String? {
        if let index = addedByID[id] { return addedTokens[index].content }
        return tokenForID[id]
    }

    /// Whether `id` is an added token marked special.
    public func isSpecial(_ id: Int) -> Bool { addedByID[id].map { addedTokens[$0].special } ?? false }

    // MARK: Encoding

    /// Token ids of `text`; with `addSpecialTokens`, the post-processor's tokens (e.g. `<s>`) around them, as `tokenizers` does by default.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        var ids: [Int] = []
        var cache: [ExactString: [Int]] = [:]   // exact keys: NFC and NFD spellings tokenize differently
        for segment in splitOnAddedTokens(text) {
            switch segment {
            case .added(let id):
                ids.append(id)
            case .text(let raw):
                let normalized = normalizer?.apply(raw) ?? raw
                guard !normalized.isEmpty else { continue }
                let pieces = preTokenizer?.apply([normalized]) ?? [normalized]
                for piece in pieces where !piece.isEmpty {
                    if let cached = cache[ExactString(piece)] { ids += cached; continue }
                    var pieceIDs: [Int] = []
                    model.tokenize(piece, into: &pieceIDs)
                    cache[ExactString(piece)] = pieceIDs
                    ids += pieceIDs
                }
            }
        }
        return addSpecialTokens ? prefixIDs + ids + suffixIDs : ids
    }

    /// The tokens (as strings) of `text`, without the post-processor's tokens.
    public func tokens(_ text: String) -> [String] {
        encode(text, addSpecialTokens: false).map { token(for: $0) ?? "" }
    }

    private enum Segment { case text(String), added(Int) }

    /// Splits out added tokens, leftmost-longest, honouring lstrip, rstrip and single_word.
    private func splitOnAddedTokens(_ text: String) -> [Segment] {
        guard !addedTokens.isEmpty else { return [.text(text)] }
        let scalars = Array(text.unicodeScalars)
        func slice(_ a: Int, _ b: Int) -> String { String(String.UnicodeScalarView(scalars[a..<b])) }
        var segments: [Segment] = []
        var segmentStart = 0
        var i = 0
        while i < scalars.count {
            var matched = false
            for index in addedByFirstScalar[scalars[i]] ?? [] {
                let token = addedTokens[index]
                let end = i + token.scalars.count
                guard end <= scalars.count, scalars[i..<end].elementsEqual(token.scalars) else { continue }
                if token.singleWord {
                    let before = i > 0 && scalars[i - 1].isWordCharacter
                    let after = end < scalars.count && scalars[end].isWordCharacter
                    if before || after { continue }
                }
                var a = i, b = end
                if token.lstrip { while a > segmentStart, scalars[a - 1].isWhiteSpace { a -= 1 } }
                if token.rstrip { while b < scalars.count, scalars[b].isWhiteSpace { b += 1 } }
                if a > segmentStart { segments.append(.text(slice(segmentStart, a))) }
                segments.append(.added(token.id))
                segmentStart = b; i = b; matched = true
                break
            }
            if !matched { i += 1 }
        }
        if segmentStart < scalars.count { segments.append(.text(slice(segmentStart, scalars.count))) }
        return segments
    }

    // MARK: Decoding

    /// The text of `ids`; special tokens are left out unless `skipSpecialTokens` is false (as in `tokenizers`).
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) -> String {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            if let index = addedByID[id] {
                if skipSpecialTokens, addedTokens[index].special { continue }
                tokens.append(addedTokens[index].content)
            } else if let token = tokenForID[id] {
                tokens.append(token)
            }
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decodeChain(tokens).joined()
    }
}
