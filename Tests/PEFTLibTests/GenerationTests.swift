// Greedy generation: decoding with the KV cache gives the same tokens as recomputing the whole
// sequence at every step, for a batch of left-padded prompts; a row decodes in a batch as it
// does alone; the end token and max-new-tokens stop it.

import Foundation
import Testing
import PEFTLib

@Suite struct GenerationTests {
    private func tinyLlama() throws -> LlamaForCausalLM {
        let config = try LlamaConfig(hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2, numAttentionHeads: 4,
                                     numKeyValueHeads: 2, vocabSize: 40, maxPositionEmbeddings: 64)
        return try LlamaForCausalLM(config: config, initialization: .random(seed: 11, std: 0.3))
    }

    @Test func cacheGivesTheSameTokensAsNoCache() throws {
        let model = try tinyLlama()
        let prompts = [[1, 5, 9, 12, 7], [1, 30], [1, 3, 3, 8]]
        let cached = try model.generate(prompts: prompts, maxNewTokens: 12, endTokens: [], useCache: true)
        let uncached = try model.generate(prompts: prompts, maxNewTokens: 12, endTokens: [], useCache: false)
        #expect(cached == uncached)
        #expect(cached.allSatisfy { $0.count == 12 })
    }

    @Test func cacheWithAPrefixGivesTheSameTokensAsNoCache() throws {
        let model = try tinyLlama()
        var rng = RandomGenerator(seed: 9)
        let table = try Tensor.normal([4, 2 * 2 * 16], std: 0.5, generator: &rng)   // P 4, 2 layers, kv width 16
        model.model.prefixKeyValues = { try prefixLayers(table, layers: 2) }
        let prompts = [[1, 5, 9, 12, 7], [1, 30]]
        let cached = try model.generate(prompts: prompts, maxNewTokens: 10, endTokens: [])
        #expect(cached == (try model.generate(prompts: prompts, maxNewTokens: 10, endTokens: [], useCache: false)))
        model.model.prefixKeyValues = nil
        #expect(cached != (try model.generate(prompts: prompts, maxNewTokens: 10, endTokens: [])))
    }

    @Test func aRowDecodesInABatchAsItDoesAlone() throws {
        let model = try tinyLlama()
        let prompts = [[1, 5, 9, 12, 7], [1, 30]]
        let batched = try model.generate(prompts: prompts, maxNewTokens: 8, endTokens: [])
        for (row, prompt) in prompts.enumerated() {
            #expect(try model.generate(prompts: [prompt], maxNewTokens: 8, endTokens: []) == [batched[row]])
        }
    }

    @Test func greedyTokensAreTheArgmaxOfTheLogits() throws {
        let model = try tinyLlama()
        let prompt = [1, 5, 9, 12]
        let generated = try model.generate(prompts: [prompt], maxNewTokens: 4, endTokens: [])[0]
        var sequence = prompt
        for token in generated {
            let logits = try withNoGrad { try model.logits(inputIds: [sequence]) }
            let last = try logits.sliced((sequence.count - 1)..<sequence.count, axis: 1)
            #expect(try last.argmax() == [token])
            sequence.append(token)
        }
    }

    @Test func endTokenStopsARow() throws {
        let model = try tinyLlama()
        let prompts = [[1, 5, 9, 12, 7], [1, 30]]
        let free = try model.generate(prompts: prompts, maxNewTokens: 10, endTokens: [])
        let end = free[0][2]
        let stopped = try model.generate(prompts: prompts, maxNewTokens: 10, endTokens: [end])
        let firstEnd = try #require(free[0].firstIndex(of: end))
        #expect(stopped[0] == Array(free[0].prefix(firstEnd + 1)))
        if let other = free[1].firstIndex(of: end) {
            #expect(stopped[1] == Array(free[1].prefix(other + 1)))
        } else {
            #expect(stopped[1] == free[1])
        }
    }

    /// Left-padded prompts (pad 0) as the fixture stores them, without the padding.
    private func unpadded(_ fixture: ModelFixture) throws -> [[Int]] {
        let ids = try fixture.rows("generate.input_ids"), mask = try fixture.rows("generate.attention_mask")
        return zip(ids, mask).map { row, flags in zip(row, flags).filter { $0.1 != 0 }.map(\.0) }
    }

    @Test func llamaMatchesTransformersGenerate() throws {
        let fixture = try ModelFixture("llama-tied")
        let model = try LlamaForCausalLM.load(directory: fixture.directory)
        let expected = try fixture.rows("generate.output_ids")
        let tokens = try model.generate(prompts: unpadded(fixture), maxNewTokens: expected[0].count, endTokens: [])
        #expect(tokens == expected)
    }

    @Test(arguments: ["llava-gqa", "llava-odd"])
    func llavaMatchesTransformersGenerate(name: String) throws {
        let fixture = try ModelFixture(name)
        let model = try LlavaForConditionalGeneration.load(directory: fixture.directory)
        let expected = try fixture.rows("generate.output_ids")
        let pixels = try fixture.tensor("generate.pixel_values")
        let tokens = try model.generate(prompts: unpadded(fixture), pixelValues: pixels,
                                        maxNewTokens: expected[0].count, endTokens: [])
        #expect(tokens == expected)
    }

    @Test func llavaCacheGivesTheSameTokensAsNoCache() throws {
        let url = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures/models/llava-gqa"))
        let model = try LlavaForConditionalGeneration.load(directory: url.path)
        let image = model.config.imageTokenIndex
        var rng = RandomGenerator(seed: 3)
        let side = model.config.visionConfig.imageSize
        let pixels = try Tensor.normal([2, 3, side, side], generator: &rng)
        let prompts = [[1, 7, image, 20, 21, 22], [1, image, 40]]
        let cached = try model.generate(prompts: prompts, pixelValues: pixels, maxNewTokens: 8, endTokens: [])
        let uncached = try model.generate(prompts: prompts, pixelValues: pixels, maxNewTokens: 8, endTokens: [],
                                          useCache: false)
        #expect(cached == uncached)
        #expect(cached.allSatisfy { $0.count == 8 })
    }
}
