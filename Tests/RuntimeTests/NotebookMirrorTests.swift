// The experiment of examples/notebook.peft, small, written twice: in the language (a Session)
// and as a plain Swift program against PEFTLib's public API. Both must give the same losses,
// bit for bit, and the same score: the language is a thin layer over the library, and this
// file is the dictionary between them (each Swift step is under the cell it mirrors).

import Foundation
import PEFTLib
import Runtime
import Testing

@Suite("The notebook, mirrored in Swift")
struct NotebookMirrorTests {
    static let trainSize = 16, testSize = 8, steps = 3, moreSteps = 2, batch = 4

    /// The notebook's cells, with the same sizes.
    static let notebook = """
        let base = model("tiny-llava")
        let trainSet = dataset("mini-iconqa-blank", split: .train, size: \(trainSize))
        let testSet = dataset("mini-iconqa-blank", split: .test, size: \(testSize))
        let tuned = attach(base, lora(rank: 8, alpha: 16, on: .both), connector: .tuned)
        let run = train(tuned, on: trainSet, steps: \(steps), batch: \(batch), lr: 2e-4, seed: 42)
        run.train(steps: \(moreSteps))
        let scores = evaluate(run, on: testSet)
        """

    /// The same experiment in Swift; returns the losses of every step and the test score.
    static func swiftProgram() throws -> (losses: [Double], score: Double) {
        // let base = model("tiny-llava")
        let folder = try TinyLlava.directory()                                       // models/tiny-llava
        let base = try LlavaForConditionalGeneration.load(directory: folder)
        let tokenizer = try Tokenizer(path: folder)
        let preprocessor = try CLIPPreprocessorConfig(contentsOf: folder + "/preprocessor_config.json")

        // let trainSet = dataset("mini-iconqa-blank", split: .train, size: 16)
        // let testSet = dataset("mini-iconqa-blank", split: .test, size: 8)
        let trainSet = MiniDataset(.iconqaBlank, split: .train, size: trainSize).examples
        let testSet = MiniDataset(.iconqaBlank, split: .test, size: testSize).examples

        // let tuned = attach(base, lora(rank: 8, alpha: 16, on: .both), connector: .tuned)
        // (the language attaches to a copy, so that `base` stays a base; here `base` becomes the
        // adapted model)
        let attachment = try attach(method: .lora(rank: 8, alpha: 16, on: .both), to: base, connector: .tuned)

        // let run = train(tuned, on: trainSet, steps: 3, batch: 4, lr: 2e-4, seed: 42)
        let task = try LlavaSupervisedTask(model: base, tokenizer: tokenizer, examples: trainSet, batchSize: batch,
                                           preprocessor: preprocessor, attachment: attachment)
        let run = TrainingRun(task: task, configuration: TrainingConfiguration(learningRate: 2e-4, scheduledSteps: steps, seed: 42))
        try run.train(steps: steps)

        // run.train(steps: 2)
        try run.train(steps: moreSteps)

        // let scores = evaluate(run, on: testSet)
        // (evaluate's defaults: batches of 16, at most 24 new tokens, greedy)
        let evaluator = try Evaluator(model: base, tokenizer: tokenizer, preprocessor: preprocessor,
                                      batchSize: 16, maxNewTokens: 24)
        let result = try evaluator.evaluate(testSet)

        return (run.history.map(\.loss), result.score)
    }

    @Test("the language and the Swift program give the same losses and the same score")
    func sameNumbers() throws {
        let cells = Cells()
        cells.value(Self.notebook)
        let (losses, score) = try Self.swiftProgram()
        #expect(losses.count == Self.steps + Self.moreSteps)
        #expect(losses.allSatisfy { $0.isFinite })
        // Numbers print as Swift prints a Double (the shortest text that reads back the same),
        // so equal text is equal bits: the same experiment gives the same bits, whatever other
        // suites run in the process meanwhile.
        #expect(cells.value("run.loss") == "[" + losses.map { "\($0)" }.joined(separator: ", ") + "]")
        #expect(cells.value("scores.column(\"score\")[0]") == "\(score)")
        #expect(cells.value("scores.column(\"examples\")[0]") == "\(Self.testSize)")
    }
}
