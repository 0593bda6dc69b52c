// Answers from a LLaVA model: the first question of each example as a LLaVA v1 prompt
// (`USER: <image>\n{question} ASSISTANT:`), prompts left-padded into one batch, images
// preprocessed as CLIP expects, greedy decoding with the KV cache until the end token or
// `maxNewTokens`, then the new tokens decoded without the end token.

import Foundation

/// Generates answers to examples with a LLaVA model, a batch at a time.
///
///     let generator = try LlavaAnswerGenerator(model: llava, tokenizer: tokenizer,
///                                              preprocessor: CLIPPreprocessorConfig(imageSize: 64))
///     let answers = try generator.answers(for: Array(test.examples.prefix(8)))
public struct LlavaAnswerGenerator {
    public let model: LlavaForConditionalGeneration
    public let tokenizer: Tokenizer
    public let template: LlavaChatTemplate
    public let preprocessor: CLIPPreprocessorConfig
    /// Most tokens generated per answer (the end token included).
    public var maxNewTokens: Int
    /// Tokens that end an answer; empty: always `maxNewTokens` tokens (benchmarks).
    public var endTokens: Set<Int>
    /// The id that pads prompts on the left.
    public let padTokenId: Int

    /// - Parameter endTokens: default: the tokenizer's end token and the model's `eos_token_id`s
    /// - Throws: when the tokenizer's image token is not the model's `image_token_index`.
    public init(model: LlavaForConditionalGeneration, tokenizer: Tokenizer, template: LlavaChatTemplate = LlavaChatTemplate(),
                preprocessor: CLIPPreprocessorConfig, maxNewTokens: Int = 16, endTokens: Set<Int>? = nil) throws {
        if let id = tokenizer.id(for: template.imageToken), id != model.config.imageTokenIndex {
            throw ModelError.invalidInput("the tokenizer's \(template.imageToken) is id \(id), the model's image_token_index \(model.config.imageTokenIndex)")
        }
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
        self.preprocessor = preprocessor
        self.maxNewTokens = maxNewTokens
        self.endTokens = endTokens ?? Set(model.config.textConfig.eosTokenIds + (tokenizer.specialTokens.eos.map { [$0] } ?? []))
        padTokenId = tokenizer.specialTokens.pad ?? model.config.padTokenId ?? model.config.textConfig.padTokenId
            ?? tokenizer.specialTokens.eos ?? 0
    }

    /// The prompt ids of an example's first question.
    public func prompt(for example: VQAExample) throws -> [Int] {
        try template.encodePrompt(question: example.question, tokenizer: tokenizer, image: example.image != nil)
    }

    /// The new tokens of each example, in one batch, each ending at its first end token if one came.
    public func generateTokens(for examples: [VQAExample]) throws -> [[Int]] {
        guard !examples.isEmpty else { return [] }
        let prompts = try examples.map(prompt)
        let images = examples.compactMap(\.image)
        let pixels = images.isEmpty ? nil : try preprocessor.pixelValues(images)      // (N, 3, H, W)
        return try model.generate(prompts: prompts, pixelValues: pixels, maxNewTokens: maxNewTokens,
                                  endTokens: endTokens, padTokenId: padTokenId)
    }

    /// The decoded answer of each example (end token and special tokens left out, trimmed).
    public func answers(for examples: [VQAExample]) throws -> [String] {
        try generateTokens(for: examples).map(decode)
    }

    /// The answer to one question about an image (or about nothing); an `<image>` in the
    /// question is dropped (the template places it).
    public func answer(_ question: String, image: RGBImage?) throws -> String {
        let text = VQAExample.removingImagePlaceholder(question, token: template.imageToken)
        return try answers(for: [VQAExample(id: "question", image: image, question: text, answer: "")])[0]
    }

    /// Text of generated tokens without the end token.
    public func decode(_ tokens: [Int]) -> String {
        let body = tokens.last.map(endTokens.contains) == true ? Array(tokens.dropLast()) : tokens
        return tokenizer.decode(body, skipSpecialTokens: true).trimmingWhitespace()
    }
}
