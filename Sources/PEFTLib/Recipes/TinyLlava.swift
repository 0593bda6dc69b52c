// The built-in model, tiny-llava: its shape, its tokenizer (a case-preserving WordLevel
// vocabulary over the mini suite's text), where its shipped files live and how to load them. The recipe that
// trains it is TinyLlava+Recipe.swift.

import Foundation

/// The built-in LLaVA model of the mini suite (DESIGN.md §4 Data).
public enum TinyLlava {
    /// The name `model("tiny-llava")` knows it by.
    public static let name = "tiny-llava"
    /// Side of its square images (the mini suite's default).
    public static let imageSize = 64
    /// Longest sequence it is configured for (image features included).
    public static let maxPositions = 256

    /// Every text of the mini suite at its default sizes, both splits (questions, answers,
    /// options, reference captions), with the chat template's words.
    public static func corpus(seed: UInt64 = 0) -> [String] {
        var texts = [LlavaChatTemplate().text(turns: [(question: "question", answer: "answer")])]
        for task in MiniTask.allCases {
            for split in MiniSplit.allCases {
                for i in 0..<task.defaultSize(split) {
                    let s = MiniDataset.sample(task, split: split, index: i, seed: seed, imageSize: 24)
                    texts.append(s.question)
                    texts.append(s.answer)
                    texts += s.options
                    texts += s.references
                }
            }
        }
        return texts
    }

    /// The tokenizer's builder, filled with the mini suite's corpus. It keeps case, so the
    /// option letter "A" is not the article "a".
    public static func tokenizerBuilder(seed: UInt64 = 0) -> WordLevelBuilder {
        var builder = WordLevelBuilder(extraSpecials: ["<image>"])
        builder.lowercase = false
        for text in corpus(seed: seed) { builder.add(text) }
        return builder
    }

    /// The architecture: a 4-layer CLIP tower of width 192 on 64-pixel images in 8-pixel
    /// patches (64 features, taken from its last layer, so that no layer is trained but unused),
    /// a 2-layer GELU connector and a 4-layer Llama of width 256 — the tiny shape of DESIGN.md
    /// §5 with larger images, a wider tower and the suite's vocabulary.
    public static func config(vocabularySize: Int, imageToken: Int, pad: Int, begin: Int, end: Int) throws -> LlavaConfig {
        let vision = try CLIPVisionConfig(hiddenSize: 192, intermediateSize: 768, numHiddenLayers: 4, numAttentionHeads: 4,
                                          imageSize: imageSize, patchSize: 8)
        let text = try LlamaConfig(hiddenSize: 256, intermediateSize: 688, numHiddenLayers: 4, numAttentionHeads: 4,
                                   numKeyValueHeads: 4, vocabSize: vocabularySize, maxPositionEmbeddings: maxPositions,
                                   bosTokenId: begin, eosTokenIds: [end], padTokenId: pad)
        return try LlavaConfig(visionConfig: vision, textConfig: text, imageTokenIndex: imageToken, visionFeatureLayer: -1,
                               padTokenId: pad)
    }

    /// The CLIP preprocessing of its images.
    public static var preprocessor: CLIPPreprocessorConfig { CLIPPreprocessorConfig(imageSize: imageSize) }

    /// The folder holding the shipped files: `$PEFTLAB_MODELS/tiny-llava`, else `models/tiny-llava`
    /// in the checkout the running binary was built in (found by walking up from it), else
    /// under the current directory.
    /// - Throws: `ModelError.invalidInput` naming the places searched.
    public static func directory() throws -> String {
        var candidates: [String] = []
        let environment = ProcessInfo.processInfo.environment
        if let root = environment["PEFTLAB_MODELS"], !root.isEmpty { candidates.append(root + "/" + name) }
        var folder = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(folder.appendingPathComponent("models/" + name).path)
            folder = folder.deletingLastPathComponent()
        }
        candidates.append(FileManager.default.currentDirectoryPath + "/models/" + name)
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate + "/config.json") {
            return candidate
        }
        throw ModelError.invalidInput("the built-in model \(name) was not found (looked in: \(candidates.joined(separator: ", "))); "
                                      + "set PEFTLAB_MODELS to the folder holding \(name)/")
    }
}
