// Hallucination probes: POPE (yes/no questions about objects, scored on the first
// sentence of the answer as the POPE code does) and CHAIR (objects a caption names
// that the image does not contain).

/// POPE's scores over a set of yes/no answers; "yes" is the positive class.
public struct POPEScores: Sendable, Equatable {
    public var accuracy: Double
    public var precision: Double
    public var recall: Double
    public var f1: Double
    public var yesRatio: Double
    public var count: Int

    /// Reads each answer as POPE does: the first sentence, commas dropped, "no" if it has
    /// the word No, no or not, otherwise "yes".
    public static func readsAsYes(_ answer: String) -> Bool {
        var text = Substring(answer)
        if let period = text.firstIndex(of: ".") { text = text[..<period] }
        let words = text.filter { $0 != "," }.split(separator: " ", omittingEmptySubsequences: false)
        return !words.contains { $0 == "No" || $0 == "no" || $0 == "not" }
    }

    public init(answers: [String], truths: [Bool]) {
        precondition(answers.count == truths.count, "one truth per answer")
        var tp = 0, fp = 0, tn = 0, fn = 0
        for (answer, truth) in zip(answers, truths) {
            switch (Self.readsAsYes(answer), truth) {
            case (true, true): tp += 1
            case (true, false): fp += 1
            case (false, false): tn += 1
            case (false, true): fn += 1
            }
        }
        let n = max(1, answers.count)
        count = answers.count
        accuracy = Double(tp + tn) / Double(n)
        precision = tp + fp > 0 ? Double(tp) / Double(tp + fp) : 0
        recall = tp + fn > 0 ? Double(tp) / Double(tp + fn) : 0
        f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
        yesRatio = Double(tp + fp) / Double(n)
    }
}

/// CHAIR (Rohrbach et al., 2018): CHAIRᵢ = hallucinated object mentions / all object
/// mentions; CHAIRₛ = captions with a hallucinated object / all captions.
public struct CHAIRScores: Sendable, Equatable {
    public var instance: Double
    public var sentence: Double
    public var mentions: Int
    public var hallucinated: Int

    /// The objects a caption mentions, by canonical name: each word (or two-word phrase)
    /// looked up in `vocabulary` (synonyms and plurals → canonical), each object once.
    public static func mentionedObjects(_ caption: String, vocabulary: [String: String]) -> [String] {
        let words = CIDErD.tokenize(caption).split(separator: " ").map(String.init)
        var found: [String] = []
        var i = 0
        while i < words.count {
            if i + 1 < words.count, let object = vocabulary[words[i] + " " + words[i + 1]] {
                if !found.contains(object) { found.append(object) }
                i += 2
                continue
            }
            if let object = vocabulary[words[i]], !found.contains(object) { found.append(object) }
            i += 1
        }
        return found
    }

    public init(captions: [String], groundTruth: [Set<String>], vocabulary: [String: String]) {
        precondition(captions.count == groundTruth.count, "one set of objects per caption")
        var mentions = 0, hallucinated = 0, badCaptions = 0
        for (caption, truth) in zip(captions, groundTruth) {
            let objects = Self.mentionedObjects(caption, vocabulary: vocabulary)
            let wrong = objects.filter { !truth.contains($0) }.count
            mentions += objects.count
            hallucinated += wrong
            if wrong > 0 { badCaptions += 1 }
        }
        self.mentions = mentions
        self.hallucinated = hallucinated
        instance = mentions > 0 ? Double(hallucinated) / Double(mentions) : 0
        sentence = captions.isEmpty ? 0 : Double(badCaptions) / Double(captions.count)
    }
}
