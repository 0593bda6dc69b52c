// Reading a generated text as an answer before scoring it: a short answer is the first
// sentence of the first line; a multiple-choice answer is an option letter (in either case
// when it stands alone) or an option's text; a count is the first number, digits or word; a
// POPE answer is yes unless the first sentence says no (POPE's own rule); a caption is the
// first line.

/// Turns generated text into the answer that is scored.
public enum AnswerExtraction {
    /// The answer `text` gives to `example`, read as its `format` asks.
    public static func extract(_ text: String, for example: VQAExample) -> String {
        switch example.format {
        case .shortAnswer: return firstSentence(text)
        case .caption: return firstLine(text)
        case .number: return number(in: text) ?? firstSentence(text)
        case .yesNo: return POPEScores.readsAsYes(text.trimmingWhitespace()) ? "yes" : "no"
        case .optionLetter: return optionLetter(text, options: example.options).map(String.init) ?? firstSentence(text)
        case .optionText: return optionText(text, options: example.options) ?? firstSentence(text)
        }
    }

    /// The first non-empty line, trimmed.
    public static func firstLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).lazy.map { String($0).trimmingWhitespace() }.first { !$0.isEmpty } ?? ""
    }

    /// The first line up to its first ".", "!" or "?" that ends a sentence (followed by a space
    /// or the end; "2.5" stays whole), without that mark, trimmed.
    public static func firstSentence(_ text: String) -> String {
        let line = Array(firstLine(text))
        for (i, c) in line.enumerated() where c == "." || c == "!" || c == "?" {
            if i + 1 == line.count || line[i + 1].isWhitespace { return String(line[..<i]).trimmingWhitespace() }
        }
        return String(line)
    }

    /// The first number of the first sentence, as digits without leading zeros: "3", "three",
    /// "There are 3 stars." and "Three." all give "3". Nil when there is none.
    public static func number(in text: String) -> String? {
        let words = firstSentence(text).lowercased().split { !($0.isLetter || $0.isNumber) }
        for word in words {
            if word.allSatisfy(\.isASCIIDigit), let value = Int(word) { return String(value) }
            if let value = numberWords[String(word)] { return String(value) }
        }
        return nil
    }

    static let numberWords: [String: Int] = [
        "zero": 0, "none": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
        "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
        "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    ]

    /// The letters of `count` options (A, B, …); five when there are no options.
    public static func letters(count: Int) -> [Character] {
        Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ".prefix(count > 0 ? count : 5))
    }

    /// The letter an answer chose: its letter form (`AnswerMetrics.optionLetter`), or a letter
    /// written alone in lower case ("d", "(d)", "d."), else the option whose text it is, else the
    /// only option whose text it contains.
    public static func optionLetter(_ text: String, options: [String]) -> Character? {
        let letters = letters(count: options.count)
        let line = firstLine(text)
        if let letter = AnswerMetrics.optionLetter(line, letters: letters) { return letter }
        // A lowercasing tokenizer (the built-in tiny-llava's) can only write the letter as "d".
        if line.count <= 3, let letter = AnswerMetrics.optionLetter(line.uppercased(), letters: letters) { return letter }
        return matchingOption(text, options: options).map { letters[$0] }
    }

    /// The option an answer chose: the option whose text it is, else the only one whose text it
    /// contains, else the one its letter names (options lettered A, B, … in order).
    public static func optionText(_ text: String, options: [String]) -> String? {
        if let index = matchingOption(text, options: options) { return options[index] }
        let letters = letters(count: options.count)
        if let letter = AnswerMetrics.optionLetter(firstLine(text), letters: letters), let i = letters.firstIndex(of: letter),
           i < options.count {
            return options[i]
        }
        return nil
    }

    /// The index of the option the first sentence equals (after VQA normalisation), else of the
    /// only option whose words appear in it as a run.
    static func matchingOption(_ text: String, options: [String]) -> Int? {
        let answer = VQANormalizer.normalize(firstSentence(text))
        let normalized = options.map(VQANormalizer.normalize)
        if let exact = normalized.firstIndex(where: { !$0.isEmpty && $0 == answer }) { return exact }
        let words = answer.split(separator: " ")
        let containing = normalized.indices.filter { i in
            let option = normalized[i].split(separator: " ")
            guard !option.isEmpty, option.count <= words.count else { return false }
            return (0...(words.count - option.count)).contains { Array(words[$0..<($0 + option.count)]) == option }
        }
        return containing.count == 1 ? containing[0] : nil
    }
}
