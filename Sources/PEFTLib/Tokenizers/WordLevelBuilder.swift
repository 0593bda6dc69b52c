// Builds a WordLevel tokenizer.json from a corpus, in the form the `tokenizers` library
// writes and reads: Lowercase normalizer, Whitespace pre-tokenizer (`\w+|[^\w\s]+`), a
// TemplateProcessing post-processor that puts the begin token first, special tokens as
// added tokens. The built-in tiny-llava's tokenizer is made this way.

import Foundation
import PEFTLabJSON

/// A WordLevel vocabulary built from text, written as tokenizer.json + tokenizer_config.json.
public struct WordLevelBuilder: Sendable {
    /// Special tokens in id order (ids 0…): unknown, padding, begin, end, then the rest.
    public var unknown = "<unk>", padding = "<pad>", begin = "<s>", end = "</s>"
    public var extraSpecials: [String]
    /// Whether text is lower-cased first (the Lowercase normalizer).
    public var lowercase = true
    /// Word counts of the corpus.
    public private(set) var counts: [String: Int] = [:]

    public init(extraSpecials: [String] = ["<image>"]) { self.extraSpecials = extraSpecials }

    /// The pieces the Whitespace pre-tokenizer makes of lower-cased text: runs of word
    /// characters (letters, digits, `_`) and runs of other non-space characters.
    public static func pieces(_ text: String, lowercase: Bool = true) -> [String] {
        var out: [String] = [], current = "", currentIsWord = false
        func flush() { if !current.isEmpty { out.append(current); current = "" } }
        for ch in lowercase ? text.lowercased() : text {
            if ch.isWhitespace { flush(); continue }
            let isWord = ch.isLetter || ch.isNumber || ch == "_"
            if !current.isEmpty && isWord != currentIsWord { flush() }
            current.append(ch); currentIsWord = isWord
        }
        flush()
        return out
    }

    /// Counts the words of `text`, with special tokens taken out first.
    public mutating func add(_ text: String) {
        var rest = text
        for special in [unknown, padding, begin, end] + extraSpecials { rest = rest.replacingOccurrences(of: special, with: " ") }
        for piece in Self.pieces(rest, lowercase: lowercase) { counts[piece, default: 0] += 1 }
    }

    /// The special tokens in id order.
    public var specials: [String] { [unknown, padding, begin, end] + extraSpecials }

    /// The vocabulary: special tokens, then words by falling count (ties alphabetical).
    public var vocabulary: [String] {
        specials + counts.filter { !specials.contains($0.key) }
            .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map(\.key)
    }

    /// tokenizer.json text.
    public func tokenizerJSON() -> String {
        let vocabulary = vocabulary
        var vocab = JSONObject()
        for (id, token) in vocabulary.enumerated() { vocab[token] = .int(id) }
        let added: [JSON] = specials.enumerated().map { id, token in
            ["id": .int(id), "content": .string(token), "single_word": false, "lstrip": false, "rstrip": false,
             "normalized": false, "special": true]
        }
        var specialTokens = JSONObject()
        specialTokens[begin] = ["id": .string(begin), "ids": [.int(2)], "tokens": [.string(begin)]]
        let json: JSON = [
            "version": "1.0", "truncation": nil, "padding": nil,
            "added_tokens": .array(added),
            "normalizer": lowercase ? ["type": "Lowercase"] : nil,
            "pre_tokenizer": ["type": "Whitespace"],
            "post_processor": [
                "type": "TemplateProcessing",
                "single": [["SpecialToken": ["id": .string(begin), "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
                "pair": [["SpecialToken": ["id": .string(begin), "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]],
                         ["Sequence": ["id": "B", "type_id": 1]]],
                "special_tokens": .object(specialTokens),
            ],
            "decoder": nil,
            "model": ["type": "WordLevel", "vocab": .object(vocab), "unk_token": .string(unknown)],
        ]
        return json.prettySerialized()
    }

    /// tokenizer_config.json text: the special tokens' roles.
    public func tokenizerConfigJSON(maxLength: Int) -> String {
        let json: JSON = [
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": .string(begin), "eos_token": .string(end), "unk_token": .string(unknown),
            "pad_token": .string(padding), "model_max_length": .int(maxLength),
            "clean_up_tokenization_spaces": false,
        ]
        return json.prettySerialized()
    }
}
