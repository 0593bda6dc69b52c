// Scoring generated answers: exact match, multiple-choice letters, and the VQA score
// with the standard answer normalisation (punctuation, articles, number words,
// contractions), as the VQA evaluation defines them.

/// Normalises answers the way the VQA evaluation does before comparing them.
public enum VQANormalizer {
    /// Lower-cased, punctuation handled, number words as digits, articles dropped,
    /// common contractions restored ("dont" → "don't").
    public static func normalize(_ answer: String) -> String {
        var text = answer.lowercased()
            .replacingAll("\n", with: " ").replacingAll("\t", with: " ")
            .trimmingWhitespace()
        text = processPunctuation(text)
        var words: [String] = []
        for word in text.split(separator: " ").map(String.init) {
            let w = numberWords[word] ?? word
            if articles.contains(w) { continue }
            words.append(contractions[w] ?? w)
        }
        return words.joined(separator: " ")
    }

    /// The VQA evaluation's punctuation rule: each mark is deleted when it touches a space
    /// somewhere in the answer (or the answer has a comma between digits), and otherwise
    /// becomes a space; then periods not followed by a digit go ("2.5" keeps its point).
    static func processPunctuation(_ text: String) -> String {
        let chars = Array(text)
        let commaBetweenDigits = chars.indices.contains { i in
            i > 0 && i + 1 < chars.count && chars[i] == "," && chars[i - 1].isASCIIDigit && chars[i + 1].isASCIIDigit
        }
        var out = chars
        for mark in punctuation where chars.contains(mark) {
            let touchesSpace = chars.indices.contains { i in
                chars[i] == mark && ((i + 1 < chars.count && chars[i + 1] == " ") || (i > 0 && chars[i - 1] == " "))
            }
            if touchesSpace || commaBetweenDigits {
                out.removeAll { $0 == mark }
            } else {
                out = out.map { $0 == mark ? " " : $0 }
            }
        }
        var kept: [Character] = []
        for (i, c) in out.enumerated() where !(c == "." && !(i + 1 < out.count && out[i + 1].isASCIIDigit)) {
            kept.append(c)
        }
        return String(kept)
    }

    static let punctuation: Set<Character> = [";", "/", "[", "]", "\"", "{", "}", "(", ")", "=", "+", "\\", "_", "-",
                                              ">", "<", "@", "`", ",", "?", "!", "*", "#", "%", "^", "&", "$", "'", ":", "~", "|"]
    static let articles: Set<String> = ["a", "an", "the"]
    static let numberWords: [String: String] = [
        "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
        "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
    ]
    /// Contractions written without their apostrophe, mapped back to the usual spelling.
    static let contractions: [String: String] = [
        "aint": "ain't", "arent": "aren't", "cant": "can't", "couldnt": "couldn't", "couldve": "could've",
        "didnt": "didn't", "doesnt": "doesn't", "dont": "don't", "hadnt": "hadn't", "hasnt": "hasn't",
        "havent": "haven't", "hed": "he'd", "hes": "he's", "howd": "how'd", "howll": "how'll", "hows": "how's",
        "Im": "I'm", "im": "i'm", "ive": "i've", "isnt": "isn't", "itd": "it'd", "itll": "it'll", "lets": "let's",
        "mightnt": "mightn't", "mightve": "might've", "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't",
        "shant": "shan't", "shed": "she'd", "shes": "she's", "shouldnt": "shouldn't", "shouldve": "should've",
        "thats": "that's", "thered": "there'd", "theres": "there's", "theyd": "they'd", "theyll": "they'll",
        "theyre": "they're", "theyve": "they've", "wasnt": "wasn't", "wed": "we'd", "weve": "we've",
        "werent": "weren't", "whatll": "what'll", "whatre": "what're", "whats": "what's", "whatve": "what've",
        "whens": "when's", "whered": "where'd", "wheres": "where's", "whereve": "where've", "whod": "who'd",
        "wholl": "who'll", "whos": "who's", "whove": "who've", "whyll": "why'll", "whyre": "why're", "whys": "why's",
        "wont": "won't", "wouldnt": "wouldn't", "wouldve": "would've", "yall": "y'all", "youd": "you'd",
        "youll": "you'll", "youre": "you're", "youve": "you've",
    ]
}

/// Scores of one answer against its references.
public enum AnswerMetrics {
    /// 1 when the normalised answer equals the normalised reference.
    public static func exactMatch(_ answer: String, _ reference: String) -> Double {
        VQANormalizer.normalize(answer) == VQANormalizer.normalize(reference) ? 1 : 0
    }

    /// The VQA score: for each annotator left out in turn, min(#other annotators who gave
    /// this answer / 3, 1), averaged — so an answer 3 of 10 annotators gave scores 0.9.
    public static func vqaScore(_ answer: String, annotators: [String]) -> Double {
        guard !annotators.isEmpty else { return 0 }
        let normalizedAnswer = VQANormalizer.normalize(answer)
        let matches = annotators.map { VQANormalizer.normalize($0) == normalizedAnswer }
        guard annotators.count > 1 else { return matches[0] ? 1 : 0 }
        let total = matches.filter { $0 }.count
        var sum = 0.0
        for left in matches {
            let others = total - (left ? 1 : 0)
            sum += min(Double(others) / 3, 1)
        }
        return sum / Double(annotators.count)
    }

    /// The option letter a free-form answer chose: "B", "(B)", "B.", "B) cat",
    /// "The answer is B." — or nil when it names none of `letters`.
    public static func optionLetter(_ answer: String, letters: [Character] = Array("ABCDE")) -> Character? {
        let text = answer.trimmingWhitespace()
        let chars = Array(text)
        func isOption(_ c: Character) -> Bool { letters.contains(c) }
        if chars.count == 1, isOption(chars[0]) { return chars[0] }
        if chars.count >= 2, isOption(chars[0]), [".", ")", ":", " ", ","].contains(chars[1]) { return chars[0] }
        if chars.count >= 3, chars[0] == "(", isOption(chars[1]), chars[2] == ")" { return chars[1] }
        let lower = text.lowercased()
        if let range = lower.range(of: "answer is ") {
            let rest = Array(text[range.upperBound...]).drop { $0 == "(" || $0 == " " }
            if let c = rest.first, isOption(c), rest.dropFirst().first.map({ !$0.isLetter }) ?? true { return c }
        }
        return nil
    }

    /// Multiple-choice accuracy: 1 when the extracted letter is the right one.
    public static func multipleChoice(_ answer: String, correct: Character, letters: [Character] = Array("ABCDE")) -> Double {
        optionLetter(answer, letters: letters) == correct ? 1 : 0
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }

    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
