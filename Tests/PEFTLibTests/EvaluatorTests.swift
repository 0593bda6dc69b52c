// Evaluator: answer extraction per format and exact scores per metric with a stub answer
// source; batches, cancellation and errors; one run on a tiny random LLaVA; batched
// generation equals generation one example at a time (left padding).

import Foundation
import PEFTLib
import Testing

@Suite("Evaluation")
struct EvaluatorTests {
    private func examples(_ answers: [String], metric: MiniMetric, format: AnswerFormat, options: [String] = [],
                          references: [[String]] = [], types: [String] = [], objects: [[String]] = []) -> [VQAExample] {
        answers.indices.map { i in
            VQAExample(id: "e\(i)", image: nil, question: "q\(i)", answer: answers[i], options: options,
                       references: references.isEmpty ? [] : references[i], metric: metric, format: format,
                       questionType: types.isEmpty ? nil : types[i], objects: objects.isEmpty ? [] : objects[i])
        }
    }

    private func evaluate(_ examples: [VQAExample], _ answers: [String], batch: Int = 3) throws -> EvaluationResult {
        try Evaluator(batchSize: batch) { batch in batch.map { answers[Int($0.id.dropFirst())!] } }.evaluate(examples)
    }

    @Test("extraction: first sentence, numbers, option letters and texts, yes/no")
    func extraction() {
        #expect(AnswerExtraction.firstSentence("  Red. It is red.\nBlue") == "Red")
        #expect(AnswerExtraction.firstSentence("It costs 2.5 dollars") == "It costs 2.5 dollars")
        #expect(AnswerExtraction.firstLine("\n\n a cat \n a dog") == "a cat")
        #expect(AnswerExtraction.number(in: "There are three stars.") == "3")
        #expect(AnswerExtraction.number(in: "07") == "7")
        #expect(AnswerExtraction.number(in: "Twelve") == "12")
        #expect(AnswerExtraction.number(in: "many") == nil)
        let options = ["dog", "cat", "sun", "cup"]
        #expect(AnswerExtraction.optionLetter("(B) cat", options: options) == "B")
        #expect(AnswerExtraction.optionLetter("The answer is D.", options: options) == "D")
        #expect(AnswerExtraction.optionLetter("a sun", options: options) == "C")
        #expect(AnswerExtraction.optionLetter("E", options: options) == nil)          // four options: A–D
        #expect(AnswerExtraction.optionLetter("d", options: options) == "D", "a lowercasing tokenizer writes the letter so")
        #expect(AnswerExtraction.optionLetter("(b)", options: options) == "B")
        #expect(AnswerExtraction.optionLetter("e", options: options) == nil)
        #expect(AnswerExtraction.optionLetter("a cat", options: options) == "B", "an article is not option A")
        #expect(AnswerExtraction.optionText("C", options: options) == "sun")
        #expect(AnswerExtraction.optionText("the cup.", options: options) == "cup")
        #expect(AnswerExtraction.optionText("a cat and a dog", options: options) == nil)
    }

    @Test("exact-match accuracy on counts: number words and digits")
    func countingAccuracy() throws {
        let result = try evaluate(examples(["3", "5", "4", "12"], metric: .accuracy, format: .number),
                                  ["There are three stars.", "5", "two", "I see 12 cups"])
        #expect(result.score == 0.75)
        #expect(result.predictions.map(\.extracted) == ["3", "5", "2", "12"])
        #expect(result.predictions.map(\.correct) == [true, true, false, true])
        #expect(result.predictions[0].prediction == "There are three stars." && result.predictions[2].reference == "4")
    }

    @Test("multiple choice: letters, letter forms and option texts")
    func multipleChoice() throws {
        let letters = try evaluate(examples(["B", "B", "B", "B", "A"], metric: .accuracy, format: .optionLetter,
                                            options: ["dog", "cat", "sun", "cup"]),
                                   ["(B) cat", "The answer is C.", "cat", "I do not know", "A"])
        #expect(letters.predictions.map(\.extracted) == ["B", "C", "B", "I do not know", "A"])
        #expect(letters.score == 0.6)
        let texts = try evaluate(examples(["tree", "tree", "tree", "tree"], metric: .accuracy, format: .optionText,
                                          options: ["cup", "tree", "sun"]),
                                 ["B", "a tree.", "sun and tree", "Tree"])
        #expect(texts.predictions.map(\.extracted) == ["tree", "tree", "sun and tree", "tree"])
        #expect(texts.score == 0.75)
    }

    @Test("VQA score: min(#agreeing annotators / 3, 1) over leave-one-out subsets")
    func vqaScore() throws {
        let references = [Array(repeating: "blue", count: 3) + Array(repeating: "red", count: 7),
                          Array(repeating: "blue", count: 3) + Array(repeating: "red", count: 7),
                          Array(repeating: "red", count: 10),
                          Array(repeating: "navy", count: 2) + Array(repeating: "red", count: 8)]
        let result = try evaluate(examples(["red", "red", "red", "navy"], metric: .vqaScore, format: .shortAnswer,
                                           references: references),
                                  ["Red.", "blue", "green", "navy"])
        let scores = result.predictions.map(\.score)
        #expect(scores[0] == 1 && scores[2] == 0)
        #expect(abs(scores[1] - 0.9) < 1e-12 && abs(scores[3] - 0.6) < 1e-12)
        #expect(abs(result.score - 0.625) < 1e-12)
        #expect(result.metric == .vqaScore)
    }

    @Test("POPE: accuracy, precision, recall, F1, yes-ratio, and per setting")
    func pope() throws {
        let types = ["random", "random", "random", "random", "adversarial", "adversarial", "adversarial", "adversarial"]
        let result = try evaluate(examples(["yes", "no", "yes", "no", "yes", "no", "yes", "no"], metric: .pope,
                                           format: .yesNo, types: types),
                                  ["Yes, there is a cup.", "No.", "There is not a cup", "yes",
                                   "Yes", "Yes, I think so", "yes", "No, there is no cup."])
        #expect(result.predictions.map(\.extracted) == ["yes", "no", "no", "yes", "yes", "yes", "yes", "no"])
        #expect(result.score == 0.625)
        #expect(result["accuracy"] == 0.625 && result["precision"] == 0.6 && result["recall"] == 0.75)
        #expect(abs(result["f1"]! - 2.0 / 3.0) < 1e-12)
        #expect(result["yes-ratio"] == 0.625)
        #expect(result["random accuracy"] == 0.5 && result["random f1"] == 0.5)
        #expect(result["adversarial accuracy"] == 0.75 && abs(result["adversarial f1"]! - 0.8) < 1e-12)
    }

    @Test("captions: CIDEr-D over the set as CIDErD computes it, CHAIR from the known objects")
    func captions() throws {
        let references = [["a red cup on a plate", "a cup and a plate", "a plate with a cup"],
                          ["a green tree", "one tree", "a tall green tree"]]
        let set = examples(["a red cup on a plate", "a green tree"], metric: .ciderD, format: .caption,
                           references: references, objects: [["cup", "plate"], ["tree"]])
        let captions = ["A cup and a plate.\nThen more text", "A tree next to a car and two cups"]
        let result = try evaluate(set, captions)
        let expected = CIDErD.score(candidates: ["a cup and a plate", "a tree next to a car and two cups"],
                                    references: references.map { $0.map(CIDErD.tokenize) })
        #expect(result.score == expected.mean && result.predictions.map(\.score) == expected.scores)
        #expect(result.predictions[0].extracted == "A cup and a plate.")
        #expect(result.predictions.allSatisfy { $0.correct == nil })
        #expect(result["CHAIRi"] == 0.4 && result["CHAIRs"] == 0.5)
        let better = try evaluate(set, ["a cup and a plate", "a green tree"])
        #expect(better.score > result.score)
    }

    @Test("batches of the given size; cancellation between batches reports a partial result; errors")
    func batchesAndCancellation() throws {
        let set = examples(["1", "2", "3", "4", "5"], metric: .accuracy, format: .number)
        var sizes: [Int] = []
        let evaluator = Evaluator(batchSize: 2) { batch in sizes.append(batch.count); return batch.map(\.answer) }
        var seen: [EvaluationProgress] = []
        let whole = try evaluator.evaluate(set, progress: { seen.append($0) })
        #expect(sizes == [2, 2, 1] && seen.map(\.completed) == [2, 4, 5] && seen.allSatisfy { $0.total == 5 })
        #expect(whole.score == 1 && !whole.isPartial && whole.total == 5)
        var batches = 0
        let partial = try evaluator.evaluate(set, isCancelled: { batches >= 1 }, progress: { _ in batches += 1 })
        #expect(partial.isPartial && partial.predictions.count == 2 && partial.total == 5 && partial.score == 1)
        #expect(throws: EvaluationError.self) {
            _ = try evaluator.evaluate(set + examples(["x"], metric: .vqaScore, format: .shortAnswer))
        }
        #expect(throws: EvaluationError.answerCount(expected: 2, got: 0)) {
            _ = try Evaluator(batchSize: 2) { _ in [] }.evaluate(set)
        }
    }

    @Test("a tiny random LLaVA: every example answered, counts and timing filled in")
    func endToEnd() throws {
        let test = TestLlava.examples(.vqav2, .test, count: 6)
        let tokenizer = try TestLlava.tokenizer(for: test)
        let model = try TestLlava.model(for: tokenizer)
        let generator = try LlavaAnswerGenerator(model: model, tokenizer: tokenizer, preprocessor: TestLlava.preprocessor,
                                                 maxNewTokens: 5)
        #expect(try generator.generateTokens(for: test).allSatisfy { (1...5).contains($0.count) })
        let evaluator = try Evaluator(model: model, tokenizer: tokenizer, preprocessor: TestLlava.preprocessor,
                                      batchSize: 4, maxNewTokens: 5)
        let result = try evaluator.evaluate(test)
        #expect(result.metric == .vqaScore && result.predictions.count == 6 && result.total == 6 && !result.isPartial)
        #expect((0...1).contains(result.score) && result.answersPerSecond > 0 && result.seconds > 0)
        #expect(result.predictions.map(\.id) == test.map(\.id))
        #expect(result.predictions.map(\.reference) == test.map(\.answer))
        let inBatches = try generator.answers(for: Array(test[0..<4])) + generator.answers(for: Array(test[4...]))
        #expect(result.predictions.map(\.prediction) == inBatches)
    }

    @Test("batched generation equals generation one example at a time (left padding)")
    func batchedEqualsUnbatched() throws {
        var set = TestLlava.examples(.vqav2, .test, count: 3) + TestLlava.examples(.sqa, .test, count: 1)
        set.insert(VQAExample(id: "text", image: nil, question: "What colour is the sky?", answer: "blue"), at: 2)
        let tokenizer = try TestLlava.tokenizer(for: set)
        let model = try TestLlava.model(for: tokenizer, seed: 3, std: 0.2)
        let generator = try LlavaAnswerGenerator(model: model, tokenizer: tokenizer, preprocessor: TestLlava.preprocessor,
                                                 maxNewTokens: 6, endTokens: [])
        #expect(Set(try set.map { try generator.prompt(for: $0).count }).count > 2)   // different lengths: padding happens
        let batched = try generator.generateTokens(for: set)
        #expect(batched.allSatisfy { $0.count == 6 })
        for (example, row) in zip(set, batched) {
            #expect(try generator.generateTokens(for: [example]) == [row], "\(example.id)")
        }
    }
}
