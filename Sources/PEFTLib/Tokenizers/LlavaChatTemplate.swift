// The LLaVA v1 conversation format (`conv_llava_v1` / `conv_vicuna_v1`, SeparatorStyle.TWO:
// sep " ", sep2 "</s>") without its system prompt, which is the prompt llava-hf documents for
// llava-1.5:
//
//     USER: <image>\n{question} ASSISTANT: {answer}</s>USER: {question 2} ASSISTANT: {answer 2}</s>
//
// "USER: " and "ASSISTANT: " each end with one space, `<image>\n` opens the first question only,
// and the end token follows the answer with no space (LLaVA's sep2). Labels follow LLaVA's
// `preprocess_v1`: −100 on everything but the answers and their end tokens.
// The prompt part ends at "ASSISTANT:"; the answer is encoded as " {answer}" so its leading space
// belongs to the answer's first token, as a byte-level BPE or whitespace split of the whole line does.

import Foundation

/// Token ids and labels for supervised training: labels are −100 where the loss is ignored.
public struct SupervisedTokens: Sendable, Equatable {
    public var inputIDs: [Int]
    public var labels: [Int]

    /// The label value the cross-entropy loss ignores.
    public static let ignoreIndex = -100
}

/// The LLaVA v1 chat template with label masking.
public struct LlavaChatTemplate: Sendable {
    /// An optional system line put before the first turn, followed by one space (LLaVA v1 has one; llava-hf's prompt omits it).
    public var systemPrompt: String?
    /// The placeholder the model expands into image features.
    public var imageToken: String

    public init(systemPrompt: String? = nil, imageToken: String = "<image>") {
        self.systemPrompt = systemPrompt
        self.imageToken = imageToken
    }

    /// The prompt of a first question, up to and including "ASSISTANT:" (what generation starts from).
    public func prompt(question: String, image: Bool = true) -> String {
        (systemPrompt.map { $0 + " " } ?? "") + "USER: " + (image ? imageToken + "\n" : "") + question + " ASSISTANT:"
    }

    /// The whole conversation as text, `eosText` after every answer.
    public func text(turns: [(question: String, answer: String)], image: Bool = true, eosText: String = "</s>") -> String {
        var out = systemPrompt.map { $0 + " " } ?? ""
        for (i, turn) in turns.enumerated() {
            out += "USER: " + (image && i == 0 ? imageToken + "\n" : "") + turn.question + " ASSISTANT: " + turn.answer + eosText
        }
        return out
    }

    /// Ids of a prompt ready for generation: the tokenizer's prefix ids (e.g. `<s>`), then the prompt.
    public func encodePrompt(question: String, tokenizer: Tokenizer, image: Bool = true) throws -> [Int] {
        if image, tokenizer.id(for: imageToken) == nil { throw TokenizerError.missingToken(imageToken) }
        return tokenizer.prefixIDs + tokenizer.encode(prompt(question: question, image: image), addSpecialTokens: false)
    }

    /// Ids and labels of a one-turn example: only the answer and the end token are supervised.
    public func encode(question: String, answer: String, tokenizer: Tokenizer, image: Bool = true) throws -> SupervisedTokens {
        try encode(turns: [(question, answer)], tokenizer: tokenizer, image: image)
    }

    /// Ids and labels of a conversation; every answer and its end token are supervised, the rest is −100.
    public func encode(turns: [(question: String, answer: String)], tokenizer: Tokenizer, image: Bool = true) throws -> SupervisedTokens {
        guard let eos = tokenizer.specialTokens.eos else { throw TokenizerError.missingToken("for the end of an answer (eos)") }
        if image, tokenizer.id(for: imageToken) == nil { throw TokenizerError.missingToken(imageToken) }
        var ids = tokenizer.prefixIDs
        var labels = [Int](repeating: SupervisedTokens.ignoreIndex, count: ids.count)
        for (i, turn) in turns.enumerated() {
            var instruction = i == 0 ? (systemPrompt.map { $0 + " " } ?? "") : ""
            instruction += "USER: " + (image && i == 0 ? imageToken + "\n" : "") + turn.question + " ASSISTANT:"
            let promptIDs = tokenizer.encode(instruction, addSpecialTokens: false)
            let answerIDs = tokenizer.encode(" " + turn.answer, addSpecialTokens: false) + [eos]
            ids += promptIDs
            labels += [Int](repeating: SupervisedTokens.ignoreIndex, count: promptIDs.count)
            ids += answerIDs
            labels += answerIDs
        }
        return SupervisedTokens(inputIDs: ids, labels: labels)
    }
}
