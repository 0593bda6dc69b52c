// The study's metrics: VQA normalisation and score, exact match, option letters,
// CIDEr-D against pycocoevalcap's values, POPE and CHAIR.

import Foundation
import PEFTLib
import Testing

@Suite("Answer metrics")
struct AnswerMetricsTests {
    @Test("VQA normalisation", arguments: [
        ("The Dog.", "dog"),
        ("Two", "2"),
        ("an apple", "apple"),
        ("1,000", "1000"),
        ("hot-dog", "hot dog"),
        ("yes!", "yes"),
        ("2.5", "2.5"),
        ("dont", "don't"),
        ("  Red\tand\nBlue ", "red and blue"),
        ("it's red, and blue", "it s red and blue"),  // an apostrophe touching no space becomes one, as in the VQA code
    ])
    func normalization(answer: String, expected: String) {
        #expect(VQANormalizer.normalize(answer) == expected)
    }

    @Test("VQA score: leave-one-annotator-out, min(matches / 3, 1), averaged")
    func vqaScore() {
        let three = ["2", "2", "two", "3", "3", "3", "3", "4", "4", "4"]
        #expect(abs(AnswerMetrics.vqaScore("Two.", annotators: three) - 0.9) < 1e-12)
        let one = ["cat"] + Array(repeating: "dog", count: 9)
        #expect(abs(AnswerMetrics.vqaScore("cat", annotators: one) - 0.3) < 1e-12)
        #expect(AnswerMetrics.vqaScore("dog", annotators: one) == 1)
        #expect(AnswerMetrics.vqaScore("bird", annotators: one) == 0)
        #expect(AnswerMetrics.vqaScore("x", annotators: []) == 0)
    }

    @Test("exact match compares normalised answers")
    func exactMatch() {
        #expect(AnswerMetrics.exactMatch("Three", "3") == 1)
        #expect(AnswerMetrics.exactMatch("the STOP sign", "stop sign") == 1)
        #expect(AnswerMetrics.exactMatch("stop", "stop sign") == 0)
    }

    @Test("option letters from free-form answers", arguments: [
        ("B", "B"), ("(C)", "C"), ("A. a cat", "A"), ("D) four", "D"), ("The answer is E.", "E"),
        ("the answer is (B)", "B"), ("Because it is", nil), ("answer is Apple", nil), ("F", nil), ("", nil),
    ] as [(String, String?)])
    func letters(answer: String, expected: String?) {
        #expect(AnswerMetrics.optionLetter(answer).map { String($0) } == expected)
    }
}

@Suite("Caption and hallucination metrics")
struct CaptionMetricsTests {
    struct Case: Decodable { let candidates: [String]; let references: [[String]]; let mean: Double; let scores: [Double] }
    struct Fixture: Decodable { let cases: [Case] }

    @Test("CIDEr-D equals pycocoevalcap's on every fixture case")
    func ciderMatchesReference() throws {
        let url = try #require(Bundle.module.url(forResource: "cider_reference", withExtension: "json", subdirectory: "Fixtures"))
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        #expect(fixture.cases.count == 3)
        for c in fixture.cases {
            let ours = CIDErD.score(candidates: c.candidates, references: c.references)
            #expect(abs(ours.mean - c.mean) < 1e-9)
            for (a, b) in zip(ours.scores, c.scores) { #expect(abs(a - b) < 1e-9) }
        }
    }

    @Test("CIDEr-D tokenisation lower-cases and drops punctuation")
    func tokenize() {
        #expect(CIDErD.tokenize("A red Circle, next to: the SQUARE.") == "a red circle next to the square")
    }

    @Test("POPE reads the first sentence and looks for no/No/not")
    func popeReading() {
        #expect(POPEScores.readsAsYes("Yes, there is a cup."))
        #expect(!POPEScores.readsAsYes("No, there is not."))
        #expect(!POPEScores.readsAsYes("There is not a cup in the image"))
        #expect(POPEScores.readsAsYes("Yes. No cup though"))
        #expect(!POPEScores.readsAsYes("no"))
        #expect(POPEScores.readsAsYes("Nope"))  // as the POPE code reads it
    }

    @Test("POPE metrics with yes as the positive class")
    func popeMetrics() {
        let s = POPEScores(answers: ["yes", "Yes, it is.", "no", "No.", "yes", "yes"],
                           truths: [true, false, false, true, true, true])
        // tp 3, fp 1, tn 1, fn 1
        #expect(s.accuracy == 4.0 / 6)
        #expect(s.precision == 0.75)
        #expect(s.recall == 0.75)
        #expect(s.f1 == 0.75)
        #expect(s.yesRatio == 4.0 / 6)
        #expect(s.count == 6)
    }

    @Test("CHAIR counts hallucinated objects per mention and per caption")
    func chair() {
        let vocabulary = ["cup": "cup", "cups": "cup", "plate": "plate", "dining table": "table", "table": "table"]
        #expect(CHAIRScores.mentionedObjects("Two cups and a dining table, and a cup.", vocabulary: vocabulary) == ["cup", "table"])
        let s = CHAIRScores(captions: ["a cup on a plate", "two cups and a dining table", "nothing here"],
                            groundTruth: [["cup", "plate"], ["cup"], []], vocabulary: vocabulary)
        #expect(s.mentions == 4)
        #expect(s.hallucinated == 1)
        #expect(s.instance == 0.25)
        #expect(s.sentence == 1.0 / 3)
    }
}
