// The tiny-llava recipe's plumbing (quick variant: a few steps): a model that fails its gate
// is not written, an interrupted run resumes to the same bits, an unfinished run is not
// dropped by accident; and the shipped model against its own scores.json.

import Foundation
import PEFTLabJSON
@testable import PEFTLib
import Testing

@Suite(.serialized) struct TinyLlavaRecipeTests {
    static func folder(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("recipe-\(name)-\(UUID().uuidString)").path
    }

    @Test func aModelThatFailsItsGateIsNotWrittenAndIsKeptForInspection() throws {
        let out = Self.folder("gate")
        defer { try? FileManager.default.removeItem(atPath: TinyLlavaRecipe.workFolder(for: out)) }
        var recipe = TinyLlavaRecipe.quick()
        recipe.enforcesGate = true
        #expect {
            try recipe.run(output: out, log: { _ in })
        } throws: { error in
            guard case TinyLlavaRecipeError.gateFailed(let checks, let kept)? = error as? TinyLlavaRecipeError else { return false }
            return checks.contains("mini-okvqa ≥ 0.9") && FileManager.default.fileExists(atPath: kept + "/scores.json")
        }
        #expect(!FileManager.default.fileExists(atPath: out))
        // The work folder is kept: running again without --resume says so instead of dropping it.
        #expect(throws: TinyLlavaRecipeError.unfinishedRun(TinyLlavaRecipe.workFolder(for: out))) {
            try recipe.run(output: out, log: { _ in })
        }
    }

    /// A word of an evaluation prompt that no stage trains keeps its random embedding: noise
    /// in every prompt that uses it, where an LLM's pretraining would have taught every word.
    @Test func everyWordOfTheEvaluationPromptsIsTrained() {
        #expect(TinyLlavaRecipe().untrainedPromptWords().isEmpty)
    }

    /// The grounding stage makes each patch's projected feature read like the words for what it
    /// shows: on a few images its four cross-entropies (kind, colour, column, row) fall well
    /// below their start, and it trains only the connector and the word embeddings.
    @Test func groundingTeachesThePatchesTheirWords() throws {
        let folder = Self.folder("grounding")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let builder = TinyLlava.tokenizerBuilder()
        try builder.tokenizerJSON().write(toFile: folder + "/tokenizer.json", atomically: true, encoding: .utf8)
        try builder.tokenizerConfigJSON(maxLength: TinyLlava.maxPositions)
            .write(toFile: folder + "/tokenizer_config.json", atomically: true, encoding: .utf8)
        let tokenizer = try Tokenizer(path: folder)
        let model = try TinyLlavaRecipe().initialModel(tokenizer: tokenizer)
        model.model.visionTower.freeze()
        let samples = (0..<8).map { LabelledPatches.sample(index: $0, seed: 0, size: TinyLlava.imageSize, patch: 8) }
        let task = try GroundingTask(model: model, tokenizer: tokenizer, samples: samples, preprocessor: TinyLlava.preprocessor,
                                     batchSize: 8, seed: 0)
        let trained = Set(task.trainableParameters().map { $0.name.components(separatedBy: ".").prefix(2).joined(separator: ".") })
        #expect(trained == ["model.multi_modal_projector", "model.language_model", "head.background"])
        var generator = RandomGenerator(seed: 0)
        let before = try task.loss(examples: Array(0..<8), generator: &generator).loss.item()
        let run = TrainingRun(task: task, configuration: TrainingConfiguration(learningRate: 3e-3, scheduledSteps: 60, seed: 1))
        try run.train(steps: 60)
        let after = try task.loss(examples: Array(0..<8), generator: &generator).loss.item()
        #expect(after < before / 4, "loss \(before) → \(after)")
    }

    @Test func anInterruptedRecipeResumesToTheSameBits() throws {
        let whole = Self.folder("whole"), cut = Self.folder("cut")
        defer { for f in [whole, cut] { try? FileManager.default.removeItem(atPath: f) } }
        let recipe = TinyLlavaRecipe.quick()
        let report = try recipe.run(output: whole, log: { _ in })
        #expect(report.sets.count == MiniTask.evaluation.count)
        let scores = try JSON.parse(bytes: Data(contentsOf: URL(fileURLWithPath: whole + "/scores.json")))
        #expect(scores["zero_shot"]?["mini-sqa"]?["interval"]?.arrayValue?.count == 2)
        #expect(scores["zero_shot"]?["mini-sqa"]?["chance"]?.doubleValue == 0.25)
        #expect(scores["gate"]?["passed"]?.boolValue == false)

        // Stop in the instruction stage (the 7th check comes after the two steps of each of the
        // vision, grounding and alignment stages).
        var checks = 0
        #expect(throws: TinyLlavaRecipeError.self) {
            try recipe.run(output: cut, isCancelled: { checks += 1; return checks >= 7 }, log: { _ in })
        }
        #expect(!FileManager.default.fileExists(atPath: cut))
        var lines: [String] = []
        try recipe.run(output: cut, resume: true, log: { lines.append($0) })
        #expect(lines.contains { $0.contains("resumed at step") })
        let a = try Data(contentsOf: URL(fileURLWithPath: whole + "/model.safetensors"))
        let b = try Data(contentsOf: URL(fileURLWithPath: cut + "/model.safetensors"))
        #expect(a == b)
        #expect(!FileManager.default.fileExists(atPath: TinyLlavaRecipe.workFolder(for: cut)))
    }

    @Test func otherSettingsDoNotResumeAnotherRunsCheckpoints() throws {
        let out = Self.folder("settings")
        defer { try? FileManager.default.removeItem(atPath: TinyLlavaRecipe.workFolder(for: out)) }
        var checks = 0
        let recipe = TinyLlavaRecipe.quick()
        #expect(throws: TinyLlavaRecipeError.self) {
            try recipe.run(output: out, isCancelled: { checks += 1; return checks >= 2 }, log: { _ in })
        }
        var other = recipe
        other.instructionSteps += 1
        #expect(throws: TinyLlavaRecipeError.otherSettings(TinyLlavaRecipe.workFolder(for: out), changed: ["instruction_steps"])) {
            try other.run(output: out, resume: true, log: { _ in })
        }
    }
}

/// The shipped model's scores.json is its own — three sets scored again with the shipped files
/// land inside the intervals written there — and the model passes its gate.
@Suite struct TinyLlavaGateTests {
    static let modelFolder = TinyLlavaParityTests.modelFolder

    static func scores() throws -> JSON {
        try JSON.parse(bytes: Data(contentsOf: URL(fileURLWithPath: modelFolder + "/scores.json")))
    }

    @Test(.disabled("the shipped tiny-llava is still v1, which fails the v2 gate (its scores.json says where); enabled when a model made by the v2 recipe ships — issue #16"))
    func theShippedModelPassesItsGate() throws {
        let scores = try Self.scores()
        #expect(scores["gate"]?["passed"]?.boolValue == true)
        let checks = try #require(scores["gate"]?["checks"]?.arrayValue)
        #expect(checks.count >= 14)
        for check in checks { #expect(check["passed"]?.boolValue == true, "\(check)") }
    }

    @Test func scoresJSONHoldsEverySetWithItsInterval() throws {
        let scores = try Self.scores()
        #expect(scores["gate"]?["checks"]?.arrayValue?.isEmpty == false)
        for task in MiniTask.evaluation {
            let entry = try #require(scores["zero_shot"]?[task.rawValue], "\(task)")
            #expect(entry["examples"]?.intValue == 500)
            let interval = try #require(entry["interval"]?.arrayValue?.compactMap { $0.doubleValue })
            let score = try #require(entry["score"]?.doubleValue)
            #expect(interval.count == 2 && interval[0] <= score && score <= interval[1], "\(task)")
            #expect(entry["chance"]?.doubleValue != nil && entry["ceiling"]?.doubleValue != nil, "\(task)")
        }
    }

    @Test(arguments: [MiniTask.okvqa, .sqa, .pope])
    func scoresJSONAgreesWithTheShippedModel(task: MiniTask) throws {
        let entry = try #require(try Self.scores()["zero_shot"]?[task.rawValue])
        let interval = try #require(entry["interval"]?.arrayValue?.compactMap { $0.doubleValue })
        let model = try LlavaForConditionalGeneration.load(directory: Self.modelFolder)
        let tokenizer = try Tokenizer(path: Self.modelFolder)
        let preprocessor = try CLIPPreprocessorConfig(contentsOf: Self.modelFolder + "/preprocessor_config.json")
        let evaluator = try TinyLlavaGateReport.evaluator(model: model, tokenizer: tokenizer, preprocessor: preprocessor)
        let result = try evaluator.evaluate(MiniDataset(task, split: .test, size: 500, imageSize: TinyLlava.imageSize).examples)
        #expect(interval[0] <= result.score && result.score <= interval[1],
                "\(task): \(result.score) outside scores.json's \(interval)")
    }
}
