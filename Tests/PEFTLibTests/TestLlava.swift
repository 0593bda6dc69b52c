// A tiny random LLaVA and a WordLevel tokenizer over the words of given examples, for
// training and evaluation tests: 32-pixel images in 8-pixel patches (16 image features),
// a 2-layer Llama of width 64.

import Foundation
import PEFTLib

enum TestLlava {
    static let pad = 1, bos = 2, eos = 3, image = 4
    static let preprocessor = CLIPPreprocessorConfig(imageSize: 32)

    /// Examples from the mini suite with 32-pixel images.
    static func examples(_ task: MiniTask, _ split: MiniSplit = .train, count: Int, seed: UInt64 = 0) -> [VQAExample] {
        MiniDataset(task, split: split, size: count, seed: seed, imageSize: 32).examples
    }

    /// A WordLevel tokenizer (no lower-casing, `<s>` before every sequence) knowing every word of
    /// the template and of `texts` (pieces split as the Whitespace pre-tokenizer splits them).
    static func tokenizer(texts: [String]) throws -> Tokenizer {
        var builder = WordLevelBuilder()
        builder.lowercase = false
        for text in texts + ["USER: ASSISTANT:"] { builder.add(text) }
        return try Tokenizer(json: Data(builder.tokenizerJSON().utf8), config: Data(builder.tokenizerConfigJSON(maxLength: 256).utf8))
    }

    /// The tokenizer for the words of `examples`.
    static func tokenizer(for examples: [VQAExample]) throws -> Tokenizer {
        try tokenizer(texts: examples.flatMap { e in e.turns.flatMap { [$0.question, $0.answer] } + e.options + e.references })
    }

    static func config(vocabularySize: Int) throws -> LlavaConfig {
        let vision = try CLIPVisionConfig(hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 2,
                                          imageSize: 32, patchSize: 8)
        let text = try LlamaConfig(hiddenSize: 64, intermediateSize: 128, numHiddenLayers: 2, numAttentionHeads: 4,
                                   numKeyValueHeads: 2, vocabSize: vocabularySize, maxPositionEmbeddings: 256,
                                   bosTokenId: bos, eosTokenIds: [eos], padTokenId: pad)
        return try LlavaConfig(visionConfig: vision, textConfig: text, imageTokenIndex: image, padTokenId: pad)
    }

    /// A random model for `tokenizer`; a larger `std` gives decisive logits (no near ties in greedy decoding).
    static func model(for tokenizer: Tokenizer, seed: UInt64 = 1, std: Float = 0.02) throws -> LlavaForConditionalGeneration {
        try LlavaForConditionalGeneration(config: config(vocabularySize: tokenizer.vocabularySize),
                                          initialization: .random(seed: seed, std: std))
    }
}
