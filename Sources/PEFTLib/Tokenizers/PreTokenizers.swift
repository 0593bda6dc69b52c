// Normalizers and pre-tokenizers of Hugging Face `tokenizers`, the subset PEFTLab's models use:
// ByteLevel (GPT-2's regex split, written by hand, and the byte ↔ printable-character table),
// Whitespace, WhitespaceSplit, Digits, BertPreTokenizer, Split (regex via NSRegularExpression)
// and Sequence; normalizers Lowercase, NF*, Strip, Replace, Prepend and Sequence.

import Foundation

// MARK: - Character classes (as Oniguruma sees them in `tokenizers`)

extension Unicode.Scalar {
    /// `\p{L}`.
    var isLetterCategory: Bool {
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    /// `\p{N}` (Nd, Nl, No).
    var isNumberCategory: Bool {
        switch properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// `\s`: the Unicode White_Space property.
    var isWhiteSpace: Bool { properties.isWhitespace }

    /// `\w` as the Rust regex crate defines it: Alphabetic, marks, decimal digits, connector punctuation, joiners.
    var isWordCharacter: Bool {
        if properties.isAlphabetic || value == 0x200C || value == 0x200D { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    /// BERT's punctuation: ASCII symbols plus the Unicode P* categories.
    var isBertPunctuation: Bool {
        let v = value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }
}

// MARK: - GPT-2 pre-tokenizer split

/// Splits text as GPT-2's pattern does, without a regex engine:
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
/// Returns the pieces as ranges of `scalars`.
func gpt2PreTokenRanges(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
    enum Kind: UInt8 { case letter, number, whitespace, other }
    let n = scalars.count
    let kinds: [Kind] = scalars.map { s in
        if s.isWhiteSpace { return .whitespace }
        if s.isLetterCategory { return .letter }
        if s.isNumberCategory { return .number }
        return .other
    }
    var ranges: [Range<Int>] = []
    ranges.reserveCapacity(n / 3 + 1)
    var i = 0
    while i < n {
        // Contractions come first in the alternation ('s 't 'm 'd, then 're 've 'll), case-sensitive.
        if scalars[i] == "'", i + 1 < n {
            let a = scalars[i + 1]
            if a == "s" || a == "t" || a == "m" || a == "d" {
                ranges.append(i..<(i + 2)); i += 2; continue
            }
            if i + 2 < n {
                let b = scalars[i + 2]
                if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") {
                    ranges.append(i..<(i + 3)); i += 3; continue
                }
            }
        }
        // ` ?X+` for letters, numbers and the rest: an optional single space, then a run of one class.
        var start = i
        if scalars[i] == " ", i + 1 < n, kinds[i + 1] != .whitespace { start = i + 1 }
        let kind = kinds[start]
        if kind != .whitespace {
            var k = start + 1
            while k < n, kinds[k] == kind { k += 1 }
            ranges.append(i..<k); i = k; continue
        }
        // `\s+(?!\S)` then `\s+`: a whitespace run, leaving its last character to a following word.
        var k = i + 1
        while k < n, kinds[k] == .whitespace { k += 1 }
        if k == n || k - i == 1 {
            ranges.append(i..<k); i = k
        } else {
            ranges.append(i..<(k - 1)); i = k - 1
        }
    }
    return ranges
}

// MARK: - Byte-level alphabet

/// GPT-2's reversible map from the 256 byte values to printable characters (`bytes_to_unicode`).
enum ByteLevelAlphabet {
    /// Character for each byte value.
    static let characterForByte: [Unicode.Scalar] = {
        var printable: [Int] = Array(33...126) + Array(161...172) + Array(174...255)
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        for b in printable { table[b] = Unicode.Scalar(UInt32(b))! }
        var extra = 0
        for b in 0..<256 where !printable.contains(b) {
            table[b] = Unicode.Scalar(UInt32(256 + extra))!
            extra += 1
            printable.append(b)
        }
        return table
    }()

    /// Byte for each character of the alphabet.
    static let byteForCharacter: [Unicode.Scalar: UInt8] = {
        var map: [Unicode.Scalar: UInt8] = [:]
        for (b, c) in characterForByte.enumerated() { map[c] = UInt8(b) }
        return map
    }()

    /// The UTF-8 bytes of `text` spelled in the alphabet.
    static func encode(_ text: Substring) -> String {
        var out = String.UnicodeScalarView()
        for b in text.utf8 { out.append(characterForByte[Int(b)]) }
        return String(out)
    }

    /// The bytes a byte-level token spells, or nil if it has a character outside the alphabet.
    static func bytes(of token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        for c in token.unicodeScalars {
            guard let b = byteForCharacter[c] else { return nil }
            bytes.append(b)
        }
        return bytes
    }
}

// MARK: - Normalizers

/// A text normalizer from tokenizer.json (`normalizer`).
indirect enum TextNormalizer: Sendable {
    case lowercase
    case nfc, nfd, nfkc, nfkd
    case strip(left: Bool, right: Bool)
    case replace(pattern: String, content: String)
    case prepend(String)
    case sequence([TextNormalizer])

    func apply(_ text: String) -> String {
        switch self {
        case .lowercase: return text.lowercased()
        case .nfc: return text.precomposedStringWithCanonicalMapping
        case .nfd: return text.decomposedStringWithCanonicalMapping
        case .nfkc: return text.precomposedStringWithCompatibilityMapping
        case .nfkd: return text.decomposedStringWithCompatibilityMapping
        case let .strip(left, right):
            var scalars = Substring(text).unicodeScalars[...]
            if left { while let f = scalars.first, f.isWhiteSpace { scalars.removeFirst() } }
            if right { while let l = scalars.last, l.isWhiteSpace { scalars.removeLast() } }
            return String(String.UnicodeScalarView(scalars))
        case let .replace(pattern, content):
            return pattern.isEmpty ? text : text.replacingOccurrences(of: pattern, with: content)
        case let .prepend(prefix):
            return text.isEmpty ? text : prefix + text
        case let .sequence(steps):
            return steps.reduce(text) { $1.apply($0) }
        }
    }
}

// MARK: - Pre-tokenizers

/// How a Split pre-tokenizer treats the matched delimiters.
enum SplitBehavior: String, Sendable {
    case removed = "Removed", isolated = "Isolated", mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"
}

/// A compiled regex; NSRegularExpression is immutable and documented as thread-safe.
final class CompiledPattern: @unchecked Sendable {
    let regex: NSRegularExpression
    init(_ pattern: String) throws { regex = try NSRegularExpression(pattern: pattern) }

    /// Matched ranges as scalar offsets of `scalars` (which spell `text`).
    func matches(in text: String) -> [Range<Int>] {
        let ns = text as NSString
        let results = regex.matches(in: text, range: NSRange(location: 0, length: ns.length))
        // Map UTF-16 offsets to scalar offsets.
        var utf16ToScalar: [Int] = []
        utf16ToScalar.reserveCapacity(ns.length + 1)
        for (index, scalar) in text.unicodeScalars.enumerated() {
            utf16ToScalar.append(index)
            if scalar.value > 0xFFFF { utf16ToScalar.append(index) }
        }
        utf16ToScalar.append(text.unicodeScalars.count)
        return results.compactMap { r in
            guard r.range.location != NSNotFound, r.range.length > 0 else { return nil }
            return utf16ToScalar[r.range.location]..<utf16ToScalar[r.range.location + r.range.length]
        }
    }
}

/// The pattern of a Split pre-tokenizer: a literal string or a regex.
enum SplitPattern: Sendable {
    case literal(String)
    case regex(CompiledPattern)

    func matches(in text: String, scalars: [Unicode.Scalar]) -> [Range<Int>] {
        switch self {
        case .regex(let compiled): return compiled.matches(in: text)
        case .literal(let literal):
            let needle = Array(literal.unicodeScalars)
            guard !needle.isEmpty, needle.count <= scalars.count else { return [] }
            var out: [Range<Int>] = []
            var i = 0
            while i + needle.count <= scalars.count {
                if scalars[i] == needle[0], Array(scalars[i..<(i + needle.count)]) == needle {
                    out.append(i..<(i + needle.count)); i += needle.count
                } else { i += 1 }
            }
            return out
        }
    }
}

/// A pre-tokenizer from tokenizer.json (`pre_tokenizer`): splits a normalized segment into pieces.
indirect enum PreTokenizerStep: Sendable {
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case whitespace
    case whitespaceSplit
    case digits(individual: Bool)
    case bert
    case split(SplitPattern, SplitBehavior, invert: Bool)
    case sequence([PreTokenizerStep])

    /// Applies the step to every piece.
    func apply(_ pieces: [String]) -> [String] {
        switch self {
        case let .sequence(steps):
            return steps.reduce(pieces) { $1.apply($0) }
        default:
            return pieces.flatMap { applyOne($0) }
        }
    }

    private func applyOne(_ piece: String) -> [String] {
        let scalars = Array(piece.unicodeScalars)
        func slice(_ r: Range<Int>) -> String { String(String.UnicodeScalarView(scalars[r])) }
        switch self {
        case let .byteLevel(addPrefixSpace, useRegex):
            var text = piece
            var chars = scalars
            if addPrefixSpace, chars.first != " " { text = " " + text; chars.insert(" ", at: 0) }
            let ranges = useRegex ? gpt2PreTokenRanges(chars) : (chars.isEmpty ? [] : [0..<chars.count])
            return ranges.map { r in
                ByteLevelAlphabet.encode(Substring(String(String.UnicodeScalarView(chars[r]))))
            }
        case .whitespace:
            // `\w+|[^\w\s]+`: word runs and runs of other non-space characters.
            var out: [String] = []
            var i = 0
            while i < scalars.count {
                let s = scalars[i]
                if s.isWhiteSpace { i += 1; continue }
                let word = s.isWordCharacter
                var k = i + 1
                while k < scalars.count, !scalars[k].isWhiteSpace, scalars[k].isWordCharacter == word { k += 1 }
                out.append(slice(i..<k)); i = k
            }
            return out
        case .whitespaceSplit:
            var out: [String] = []
            var i = 0
            while i < scalars.count {
                if scalars[i].isWhiteSpace { i += 1; continue }
                var k = i + 1
                while k < scalars.count, !scalars[k].isWhiteSpace { k += 1 }
                out.append(slice(i..<k)); i = k
            }
            return out
        case let .digits(individual):
            let ranges = scalars.indices.filter { scalars[$0].isNumberCategory }.map { $0..<($0 + 1) }
            return splitAroundDelimiters(scalars, delimiters: ranges, behavior: individual ? .isolated : .contiguous)
        case .bert:
            var out: [String] = []
            for word in PreTokenizerStep.whitespaceSplit.applyOne(piece) {
                let ws = Array(word.unicodeScalars)
                let punctuation = ws.indices.filter { ws[$0].isBertPunctuation }.map { $0..<($0 + 1) }
                out += splitAroundDelimiters(ws, delimiters: punctuation, behavior: .isolated)
            }
            return out
        case let .split(pattern, behavior, invert):
            let matches = pattern.matches(in: piece, scalars: scalars)
            if !invert { return splitAroundDelimiters(scalars, delimiters: matches, behavior: behavior) }
            // Inverted: the gaps between matches are the delimiters.
            var gaps: [Range<Int>] = []
            var cursor = 0
            for m in matches {
                if m.lowerBound > cursor { gaps.append(cursor..<m.lowerBound) }
                cursor = m.upperBound
            }
            if cursor < scalars.count { gaps.append(cursor..<scalars.count) }
            return splitAroundDelimiters(scalars, delimiters: gaps, behavior: behavior)
        case .sequence:
            return apply([piece])
        }
    }
}

/// Splits `scalars` around sorted, non-overlapping `delimiters` as `tokenizers`' SplitDelimiterBehavior does.
func splitAroundDelimiters(_ scalars: [Unicode.Scalar], delimiters: [Range<Int>], behavior: SplitBehavior) -> [String] {
    // Each span is (range, isDelimiter), covering the text in order.
    var spans: [(Range<Int>, Bool)] = []
    var cursor = 0
    for d in delimiters {
        if d.lowerBound > cursor { spans.append((cursor..<d.lowerBound, false)) }
        spans.append((d, true))
        cursor = d.upperBound
    }
    if cursor < scalars.count { spans.append((cursor..<scalars.count, false)) }

    var ranges: [Range<Int>] = []
    switch behavior {
    case .removed:
        ranges = spans.filter { !$0.1 }.map(\.0)
    case .isolated:
        ranges = spans.map(\.0)
    case .contiguous:
        var previousIsDelimiter = false
        for (r, isDelimiter) in spans {
            if isDelimiter, previousIsDelimiter, let last = ranges.last {
                ranges[ranges.count - 1] = last.lowerBound..<r.upperBound
            } else {
                ranges.append(r)
            }
            previousIsDelimiter = isDelimiter
        }
    case .mergedWithPrevious:
        var previousIsDelimiter = false
        for (r, isDelimiter) in spans {
            if isDelimiter, let last = ranges.last, !previousIsDelimiter {
                ranges[ranges.count - 1] = last.lowerBound..<r.upperBound
            } else {
                ranges.append(r)
            }
            previousIsDelimiter = isDelimiter
        }
    case .mergedWithNext:
        var pending: Range<Int>?
        for (r, isDelimiter) in spans {
            if isDelimiter {
                if let p = pending { ranges.append(p) }
                pending = r
            } else if let p = pending {
                ranges.append(p.lowerBound..<r.upperBound); pending = nil
            } else {
                ranges.append(r)
            }
        }
        if let p = pending { ranges.append(p) }
    }
    return ranges.filter { !$0.isEmpty }.map { String(String.UnicodeScalarView(scalars[$0])) }
}
