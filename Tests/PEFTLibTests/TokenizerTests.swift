// Tokenizers from tokenizer.json against the `tokenizers` library's ids and decodings on a committed
// corpus (tools/make_io_fixtures.py): byte-level BPE in the GPT-2, SmolLM (digits split) and
// Llama-3 (regex split + template post-processor) styles, and WordLevel; the LLaVA v1 template.

import Foundation
import Testing
import PEFTLib

private func fixturePath(_ name: String) throws -> String {
    let dir = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures"))
    return dir.appendingPathComponent(name).path
}

private func fixtureJSON(_ name: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: try fixturePath(name))))
}

private func corpus() throws -> [String] {
    try #require(try fixtureJSON("tokenizer-corpus.json") as? [String])
}

/// The `tokenizers` library's output for every corpus line.
private struct Reference {
    let ids: [[Int]]
    let idsWithSpecialTokens: [[Int]]
    let decoded: [String]
    let decodedKeepingSpecial: [String]

    init(_ name: String) throws {
        let root = try #require(try fixtureJSON(name) as? [String: Any])
        ids = try #require(root["ids"] as? [[Int]])
        idsWithSpecialTokens = try #require(root["ids_with_special_tokens"] as? [[Int]])
        decoded = try #require(root["decoded"] as? [String])
        decodedKeepingSpecial = try #require(root["decoded_keep_special"] as? [String])
    }
}

private func loadTokenizer(_ name: String) throws -> Tokenizer {
    try Tokenizer(path: try fixturePath(name + ".tokenizer.json"))
}

private func visible(_ s: String) -> String {
    s.unicodeScalars.map { $0.isASCII && $0.value >= 32 ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined()
}

@Suite struct TokenizerParityTests {
    static let names = ["bpe-gpt2", "bpe-smollm", "bpe-llama3", "wordlevel"]

    @Test(arguments: names)
    func idsEqualTheTokenizersLibrary(name: String) throws {
        let tokenizer = try loadTokenizer(name)
        let reference = try Reference(name + ".expected.json")
        let lines = try corpus()
        #expect(lines.count >= 300)
        var mismatches = 0
        for (i, line) in lines.enumerated() {
            let ids = tokenizer.encode(line, addSpecialTokens: false)
            if ids != reference.ids[i] {
                mismatches += 1
                if mismatches <= 5 {
                    Issue.record("\(name) line \(i) \"\(visible(line))\":\n ours \(ids)\n want \(reference.ids[i])\n ours \(ids.map { tokenizer.token(for: $0) ?? "?" })\n want \(reference.ids[i].map { tokenizer.token(for: $0) ?? "?" })")
                }
            }
        }
        #expect(mismatches == 0, "\(mismatches) of \(lines.count) lines differ")
        for (i, want) in reference.idsWithSpecialTokens.enumerated() {
            #expect(tokenizer.encode(lines[i]) == want, "\(name) line \(i) with special tokens")
        }
    }

    @Test(arguments: names)
    func decodingEqualsTheTokenizersLibrary(name: String) throws {
        let tokenizer = try loadTokenizer(name)
        let reference = try Reference(name + ".expected.json")
        for (i, ids) in reference.ids.enumerated() {
            #expect(tokenizer.decode(ids) == reference.decoded[i], "\(name) line \(i)")
            #expect(tokenizer.decode(ids, skipSpecialTokens: false) == reference.decodedKeepingSpecial[i], "\(name) line \(i)")
        }
    }

    @Test(arguments: ["bpe-gpt2", "bpe-smollm", "bpe-llama3"])
    func byteLevelDecodingRoundTrips(name: String) throws {
        let tokenizer = try loadTokenizer(name)
        for line in try corpus() {
            #expect(tokenizer.decode(tokenizer.encode(line, addSpecialTokens: false), skipSpecialTokens: false) == line)
        }
    }
}

@Suite struct TokenizerVocabularyTests {
    @Test func looksUpTokensIdsAndSpecialRoles() throws {
        let tokenizer = try loadTokenizer("bpe-gpt2")
        #expect(tokenizer.specialTokens == SpecialTokenIDs(bos: 1, eos: 2, pad: 3, unk: 0, image: 4))
        #expect(tokenizer.id(for: "<image>") == 4 && tokenizer.token(for: 4) == "<image>")
        #expect(tokenizer.isSpecial(2) && !tokenizer.isSpecial(100))
        #expect(tokenizer.vocabularySize == 1000)
        #expect(tokenizer.id(for: "Ġthe").map { tokenizer.token(for: $0) } == "Ġthe")
        #expect(tokenizer.tokens("the image") == ["the", "Ġimage"])
        #expect(tokenizer.encode("hi<image>there</s>", addSpecialTokens: false).contains(4))
        #expect(tokenizer.prefixIDs.isEmpty && tokenizer.suffixIDs.isEmpty)
        let llama3 = try loadTokenizer("bpe-llama3")
        #expect(llama3.prefixIDs == [1])
        #expect(llama3.encode("a").first == 1)
    }

    @Test func wordLevelMapsUnknownWordsAndLowercases() throws {
        let tokenizer = try loadTokenizer("wordlevel")
        let unk = try #require(tokenizer.specialTokens.unk)
        #expect(tokenizer.token(for: unk) == "[UNK]")
        #expect(tokenizer.encode("THE Circle") == tokenizer.encode("the circle"))
        #expect(tokenizer.encode("zzzqqq the", addSpecialTokens: false).first == unk)
        #expect(tokenizer.decode(tokenizer.encode("how many zzzqqq"), skipSpecialTokens: false) == "how many [UNK]")
        #expect(tokenizer.specialTokens.image == tokenizer.id(for: "<image>"))
        #expect(tokenizer.specialTokens.pad == tokenizer.id(for: "[PAD]"))
    }

    @Test func readsRolesFromTokenizerConfig() throws {
        let json = try Data(contentsOf: URL(fileURLWithPath: try fixturePath("bpe-gpt2.tokenizer.json")))
        let config = Data(#"{"bos_token": {"content": "<pad>"}, "eos_token": "<s>", "pad_token": null}"#.utf8)
        let tokenizer = try Tokenizer(json: json, config: config)
        #expect(tokenizer.specialTokens.bos == 3 && tokenizer.specialTokens.eos == 1 && tokenizer.specialTokens.pad == 3)
    }

    @Test func rejectsUnsupportedComponentsByName() throws {
        let unigram = Data(#"{"model": {"type": "Unigram", "vocab": {}}}"#.utf8)
        #expect(throws: TokenizerError.unsupported(file: "t.json", field: "model.type", value: "Unigram")) {
            _ = try Tokenizer(json: unigram, source: "t.json")
        }
        let metaspace = Data(#"{"model": {"type": "WordLevel", "vocab": {"a": 0}}, "pre_tokenizer": {"type": "Metaspace"}}"#.utf8)
        #expect(throws: TokenizerError.unsupported(file: "t.json", field: "pre_tokenizer.type", value: "Metaspace")) {
            _ = try Tokenizer(json: metaspace, source: "t.json")
        }
        #expect(throws: TokenizerError.self) { _ = try Tokenizer(json: Data("[]".utf8), source: "t.json") }
        #expect(throws: TokenizerError.self) { _ = try Tokenizer(path: "/no/such/tokenizer.json") }
    }

    @Test func appliesMergesLowestRankFirst() throws {
        // "a b" (rank 0) before "b c" (rank 1): "abc" → "ab" "c"; "bcd" → "bc" "d".
        let json = #"""
            {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "d": 3, "ab": 4, "bc": 5, "abc": 6},
                       "merges": ["a b", ["b", "c"], "ab c"]},
             "pre_tokenizer": {"type": "WhitespaceSplit"}}
            """#
        let tokenizer = try Tokenizer(json: Data(json.utf8))
        #expect(tokenizer.encode("abc bcd aabb") == [6, 5, 3, 0, 4, 1])
        #expect(tokenizer.decode([6, 5]) == "abc bc")
    }
}

@Suite struct LlavaChatTemplateTests {
    private struct Case { let question: String, answer: String, text: String, ids: [Int], promptIDs: [Int] }

    private func cases() throws -> (single: [Case], twoTurns: (text: String, ids: [Int])) {
        let root = try #require(try fixtureJSON("llava-template.expected.json") as? [String: Any])
        let single = try #require(root["single"] as? [[String: Any]]).map {
            Case(question: $0["question"] as! String, answer: $0["answer"] as! String, text: $0["text"] as! String,
                 ids: $0["ids"] as! [Int], promptIDs: $0["prompt_ids"] as! [Int])
        }
        let two = try #require(root["two_turns"] as? [String: Any])
        return (single, (two["text"] as! String, two["ids"] as! [Int]))
    }

    @Test func formatsTheLlavaV1Prompt() {
        let template = LlavaChatTemplate()
        #expect(template.prompt(question: "How many?") == "USER: <image>\nHow many? ASSISTANT:")
        #expect(template.text(turns: [("How many?", "3")]) == "USER: <image>\nHow many? ASSISTANT: 3</s>")
        #expect(template.text(turns: [("Q1", "A1"), ("Q2", "A2")]) == "USER: <image>\nQ1 ASSISTANT: A1</s>USER: Q2 ASSISTANT: A2</s>")
        let system = LlavaChatTemplate(systemPrompt: "A chat.")
        #expect(system.prompt(question: "Q", image: false) == "A chat. USER: Q ASSISTANT:")
    }

    @Test func supervisesOnlyTheAnswerAndTheEndToken() throws {
        let tokenizer = try loadTokenizer("bpe-gpt2")
        let eos = try #require(tokenizer.specialTokens.eos)
        let template = LlavaChatTemplate()
        for c in try cases().single {
            let example = try template.encode(question: c.question, answer: c.answer, tokenizer: tokenizer)
            // The same ids as the tokenizers library gives for the whole template string.
            #expect(example.inputIDs == c.ids, "\(c.text)")
            #expect(example.labels.count == example.inputIDs.count)
            let masked = example.labels.prefix { $0 == SupervisedTokens.ignoreIndex }.count
            #expect(masked == c.promptIDs.count)
            #expect(Array(example.inputIDs.prefix(masked)) == c.promptIDs)
            #expect(Array(example.labels[masked...]) == Array(example.inputIDs[masked...]))
            #expect(example.labels.last == eos)
            #expect(example.inputIDs.filter { $0 == tokenizer.specialTokens.image }.count == 1)
            #expect(tokenizer.decode(Array(example.labels[masked...])) == " " + c.answer)
            #expect(try template.encodePrompt(question: c.question, tokenizer: tokenizer) == c.promptIDs)
        }
    }

    @Test func masksEveryPromptOfAConversation() throws {
        let tokenizer = try loadTokenizer("bpe-gpt2")
        let two = try cases().twoTurns
        let example = try LlavaChatTemplate().encode(turns: [("What is it?", "a star"), ("How many?", "2")], tokenizer: tokenizer)
        #expect(example.inputIDs == two.ids)
        let supervised = zip(example.inputIDs, example.labels).filter { $0.1 != -100 }.map(\.0)
        #expect(tokenizer.decode(supervised, skipSpecialTokens: false) == " a star</s> 2</s>")
    }

    @Test func addsThePostProcessorPrefixAndWorksWithWordLevel() throws {
        let llama3 = try loadTokenizer("bpe-llama3")
        let example = try LlavaChatTemplate().encode(question: "How many?", answer: "3", tokenizer: llama3)
        #expect(example.inputIDs.first == 1 && example.labels.first == -100)
        let words = try loadTokenizer("wordlevel")
        let w = try LlavaChatTemplate().encode(question: "how many circles", answer: "three", tokenizer: words)
        #expect(w.inputIDs.count == w.labels.count)
        #expect(w.labels.suffix(2) == w.inputIDs.suffix(2))
        #expect(w.labels.last == words.specialTokens.eos)
        #expect(w.labels.dropLast(2).allSatisfy { $0 == -100 })
    }

    @Test func needsTheImageAndEndTokens() throws {
        let json = Data(#"{"model": {"type": "WordLevel", "vocab": {"a": 0}}, "pre_tokenizer": {"type": "Whitespace"}}"#.utf8)
        let bare = try Tokenizer(json: json)
        #expect(throws: TokenizerError.self) { _ = try LlavaChatTemplate().encode(question: "a", answer: "a", tokenizer: bare) }
        var withEnd = bare
        withEnd.specialTokens.eos = 0
        #expect(throws: TokenizerError.missingToken("<image>")) { _ = try LlavaChatTemplate().encode(question: "a", answer: "a", tokenizer: withEnd) }
        #expect(try LlavaChatTemplate().encode(question: "a", answer: "a", tokenizer: withEnd, image: false).labels == [-100, 0, 0])
    }
}
