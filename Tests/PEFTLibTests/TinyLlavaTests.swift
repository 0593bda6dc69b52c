// tiny-llava's pieces that do not need its trained weights: the WordLevel tokenizer built
// from the mini suite, its configuration, and saving a LLaVA model in the llava-hf layout.

import Foundation
import Testing
import PEFTLib

@Suite struct TinyLlavaTokenizerTests {
    static let builder = TinyLlava.tokenizerBuilder()

    static func tokenizer() throws -> Tokenizer {
        try Tokenizer(json: Data(builder.tokenizerJSON().utf8), config: Data(builder.tokenizerConfigJSON(maxLength: 256).utf8))
    }

    @Test func piecesFollowTheWhitespacePreTokenizer() {
        #expect(WordLevelBuilder.pieces("USER: What's this?\nOptions: (A) cup") ==
                ["user", ":", "what", "'", "s", "this", "?", "options", ":", "(", "a", ")", "cup"])
        #expect(WordLevelBuilder.pieces("  a_b 42x... ") == ["a_b", "42x", "..."])
    }

    @Test func everyTextOfTheSuiteEncodesWithoutUnknownWords() throws {
        let tokenizer = try Self.tokenizer()
        let unknown = try #require(tokenizer.specialTokens.unk)
        #expect(tokenizer.specialTokens.bos == 2 && tokenizer.specialTokens.eos == 3 && tokenizer.specialTokens.pad == 1)
        #expect(tokenizer.prefixIDs == [2])
        let vocabulary = tokenizer.vocabularySize
        #expect(vocabulary > 100 && vocabulary < 2000, "vocabulary of \(vocabulary)")
        for text in TinyLlava.corpus().prefix(4000) {
            let ids = tokenizer.encode(text, addSpecialTokens: false)
            #expect(!ids.contains(unknown), "\(text)")
            let words = ["<image>", "</s>"].reduce(text) { $0.replacingOccurrences(of: $1, with: " ") }
            #expect(tokenizer.decode(ids) == WordLevelBuilder.pieces(words, lowercase: false).joined(separator: " "))
        }
    }

    @Test func theChatTemplateSupervisesTheAnswerOnly() throws {
        let tokenizer = try Self.tokenizer()
        let tokens = try LlavaChatTemplate().encode(question: "What colour is the moon?", answer: "red", tokenizer: tokenizer)
        let image = try #require(tokenizer.id(for: "<image>"))
        #expect(tokens.inputIDs.first == 2 && tokens.inputIDs.contains(image))
        let supervised = zip(tokens.inputIDs, tokens.labels).filter { $0.1 != -100 }.map(\.0)
        #expect(supervised == [try #require(tokenizer.id(for: "red")), 3])
    }

    @Test func configFitsTheVocabularyAndTheImages() throws {
        let tokenizer = try Self.tokenizer()
        let config = try TinyLlava.config(vocabularySize: tokenizer.vocabularySize, imageToken: 4, pad: 1, begin: 2, end: 3)
        #expect(config.imageFeatureCount == 64)
        let model = try LlavaForConditionalGeneration(config: config, initialization: .meta)
        #expect(model.parameterCount * 4 <= 40_000_000, "\(model.parameterCount) parameters")
        #expect(config.visionFeatureLayer == -1)   // every layer of the tower is used and trained
        #expect(tokenizer.id(for: "A") != tokenizer.id(for: "a"))  // the option letter is not the article
    }
}

@Suite struct LlavaSaveTests {
    @Test func savedModelLoadsBackWithTheSameLogits() throws {
        let vision = try CLIPVisionConfig(hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 2, numAttentionHeads: 2,
                                          imageSize: 16, patchSize: 8)
        let text = try LlamaConfig(hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 2, numAttentionHeads: 2,
                                   vocabSize: 40, maxPositionEmbeddings: 64)
        let config = try LlavaConfig(visionConfig: vision, textConfig: text, imageTokenIndex: 39)
        let model = try LlavaForConditionalGeneration(config: config, initialization: .random(seed: 7))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("llava-save-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try model.save(directory: folder)
        let loaded = try LlavaForConditionalGeneration.load(directory: folder)
        var rng = RandomGenerator(seed: 3)
        let pixels = try Tensor.normal([1, 3, 16, 16], generator: &rng)
        let ids = [[1, 39, 5, 6, 7]]
        #expect(try model.logits(inputIds: ids, pixelValues: pixels).toArray()
                == loaded.logits(inputIds: ids, pixelValues: pixels).toArray())
    }

    @Test func anAdaptedModelIsNotSavedAsABase() throws {
        let text = try LlamaConfig(hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1, numAttentionHeads: 2, vocabSize: 40)
        let vision = try CLIPVisionConfig(hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1, numAttentionHeads: 2,
                                          imageSize: 16, patchSize: 8)
        let model = try LlavaForConditionalGeneration(config: try LlavaConfig(visionConfig: vision, textConfig: text, imageTokenIndex: 39))
        try attach(method: .lora(rank: 2, alpha: 4, dropout: 0), to: model)
        #expect(throws: PEFTError.self) { try model.save(directory: FileManager.default.temporaryDirectory.path + "/never") }
    }
}

/// The shipped model against what transformers computes on it (tools/make_tiny_llava_fixtures.py).
@Suite struct TinyLlavaParityTests {
    static let modelFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/tiny-llava").path

    @Test func transformersAndPEFTLibAgreeOnTheShippedModel() throws {
        let fixtures = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures/tiny-llava"))
        let expected = try SafetensorsFile(path: fixtures.appendingPathComponent("expected.safetensors").path)
        let model = try LlavaForConditionalGeneration.load(directory: Self.modelFolder)
        let tokenizer = try Tokenizer(path: Self.modelFolder)
        let preprocessor = try CLIPPreprocessorConfig(contentsOf: Self.modelFolder + "/preprocessor_config.json")

        let prompt = try JSONDecoder().decode([String: String].self,
                                              from: Data(contentsOf: fixtures.appendingPathComponent("expected.json")))["prompt"]
        #expect(tokenizer.encode(try #require(prompt)) == (try expected.integers("prompt_ids")))

        let image = try RGBImage(contentsOf: fixtures.appendingPathComponent("input.png").path)
        let pixels = try preprocessor.pixelValues([image])
        let reference = try expected.floats("pixel_values")
        #expect(zip(pixels.toArray(), reference).map { abs($0 - $1) }.max()! < 1e-5)

        let ids = try expected.integers("input_ids")
        let logits = try model.logits(inputIds: [ids], pixelValues: pixels)          // (1, T, V)
        let vocabulary = logits.shape[2]
        let last = Array(logits.toArray().suffix(8 * vocabulary))
        let referenceLogits = try expected.floats("logits")
        #expect(zip(last, referenceLogits).map { abs($0 - $1) }.max()! < 1e-4)

        let generated = try model.generate(prompts: [ids], pixelValues: pixels, maxNewTokens: 16, endTokens: [])
        #expect(generated[0] == (try expected.integers("generated")))
    }
}
