// Adapter files in the Hugging Face PEFT layout: keys and config as peft writes them, round trips
// for every method (and the tuned connector), and loading onto a mismatched base is an error naming it.

import Foundation
import Testing
import PEFTLib

private func tinyLlama(hidden: Int = 32, layers: Int = 2, seed: UInt64 = 7) throws -> LlamaForCausalLM {
    let config = try LlamaConfig(hiddenSize: hidden, intermediateSize: 48, numHiddenLayers: layers, numAttentionHeads: 4,
                                 numKeyValueHeads: 2, vocabSize: 61, tieWordEmbeddings: false)
    return try LlamaForCausalLM(config: config, initialization: .random(seed: seed, std: 0.1))
}

private func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "peft-files-\(UInt64.random(in: 0...UInt64.max))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

private func randomize(_ tensors: [(path: String, tensor: Tensor)], seed: UInt64) throws {
    var rng = RandomGenerator(seed: seed)
    for (_, t) in tensors { try t.assign(try Tensor.normal(t.shape, std: 0.1, generator: &rng).toArray()) }
}

private let ids = [[3, 14, 15, 9, 26, 5, 35, 8]]

@Suite struct PEFTFilesTests {
    @Test func loraKeysAndConfigFollowPeft() throws {
        let model = try tinyLlama()
        let a = try attach(method: .lora(rank: 4, alpha: 8, dropout: 0.05, on: .modules(["q_proj", "v_proj"])), to: model)
        try randomize(model.trainableParameters(), seed: 1)
        let dir = temporaryDirectory()
        try saveAdapter(model, attachment: a, to: dir)
        let file = try SafetensorsFile(path: dir + "/adapter_model.safetensors")
        #expect(file.names.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"))
        #expect(try file.info("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight").shape == [16, 4])
        #expect(file.names.count == 8)
        let json = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: dir + "/adapter_config.json"))) as? [String: Any])
        #expect(json["peft_type"] as? String == "LORA")
        #expect(json["task_type"] as? String == "CAUSAL_LM")
        #expect(json["r"] as? Int == 4)
        #expect(json["lora_alpha"] as? Double == 8)
        #expect(json["target_modules"] as? [String] == ["q_proj", "v_proj"])

        let expected = try withNoGrad { try model.logits(inputIds: ids).toArray() }
        let fresh = try tinyLlama()
        let loaded = try loadAdapter(from: dir, into: fresh)
        #expect(loaded.adaptedModules.count == 4)
        let got = try withNoGrad { try fresh.logits(inputIds: ids).toArray() }
        #expect(zip(expected, got).allSatisfy { $0 == $1 })
    }

    @Test func everyMethodRoundTrips() throws {
        let methods: [PEFTMethod] = [.ia3(), try .adapter(size: 3, on: .both), try .adapter(size: 2, style: .parallel),
                                     try .lora(rank: 2, alpha: 3, dropout: 0, on: .both)]
        for method in methods {
            let model = try tinyLlama()
            let a = try attach(method: method, to: model)
            try randomize(model.trainableParameters(), seed: 2)
            let dir = temporaryDirectory()
            try saveAdapter(model, attachment: a, to: dir)
            let fresh = try tinyLlama()
            try loadAdapter(from: dir, into: fresh)
            let before = try withNoGrad { try model.logits(inputIds: ids).toArray() }
            let after = try withNoGrad { try fresh.logits(inputIds: ids).toArray() }
            #expect(zip(before, after).allSatisfy { $0 == $1 }, "\(method.name)")
            #expect(fresh.trainableParameterCount == model.trainableParameterCount)
        }
    }

    @Test func tunedConnectorIsSavedAsModulesToSave() throws {
        let url = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures/models/llava-gqa"))
        let llava = try LlavaForConditionalGeneration.load(directory: url.path)
        let a = try attach(method: .ia3(), to: llava, connector: .tuned)
        try randomize(llava.trainableParameters(), seed: 3)
        let dir = temporaryDirectory()
        try saveAdapter(llava, attachment: a, to: dir)
        let file = try SafetensorsFile(path: dir + "/adapter_model.safetensors")
        #expect(file.names.contains("base_model.model.model.multi_modal_projector.linear_1.weight"))
        #expect(file.names.contains("base_model.model.model.language_model.layers.0.self_attn.k_proj.ia3_l"))
        let fresh = try LlavaForConditionalGeneration.load(directory: url.path)
        let loaded = try loadAdapter(from: dir, into: fresh)
        #expect(loaded.connector == .tuned)
        let original = llava.parameterDictionary(), restored = fresh.parameterDictionary()
        for (path, t) in llava.trainableParameters() {
            #expect(restored[path]?.toArray() == t.toArray(), "\(path)")
            #expect(original[path] != nil)
        }
    }

    /// Prefix-tuning is a prompt-learning method in peft: its tuned connector is keyed one level
    /// up (`base_model.model.multi_modal_projector…`), and the config has peft's grouped-query
    /// sizes (token_dim = kv heads · head_dim); LoRA's targets on LLaVA leave the vision tower out.
    @Test func llavaPrefixAndLoRAFilesUsePeftsLayout() throws {
        let url = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures/models/llava-gqa"))
        let llava = try LlavaForConditionalGeneration.load(directory: url.path)
        let a = try attach(method: .prefix(tokens: 2, projection: true), to: llava, connector: .tuned)
        let dir = temporaryDirectory()
        try saveAdapter(llava, attachment: a, to: dir)
        let file = try SafetensorsFile(path: dir + "/adapter_model.safetensors")
        #expect(Set(file.names) == ["prompt_embeddings", "base_model.model.multi_modal_projector.linear_1.weight",
                                    "base_model.model.multi_modal_projector.linear_1.bias",
                                    "base_model.model.multi_modal_projector.linear_2.weight",
                                    "base_model.model.multi_modal_projector.linear_2.bias"])
        let json = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: dir + "/adapter_config.json"))) as? [String: Any])
        let text = llava.config.textConfig
        #expect(json["token_dim"] as? Int == text.kvDim)
        #expect(json["num_attention_heads"] as? Int == text.numKeyValueHeads)
        #expect(json["encoder_hidden_size"] as? Int == text.kvDim)
        #expect(json["peftlab_version"] == nil)      // peft warns about fields it does not know
        let loaded = try loadAdapter(from: dir, into: try LlavaForConditionalGeneration.load(directory: url.path))
        #expect(loaded.connector == .tuned)

        let lora = try LlavaForConditionalGeneration.load(directory: url.path)
        let b = try attach(method: .lora(rank: 2, alpha: 4, dropout: 0, on: .modules(["q_proj", "v_proj"])), to: lora)
        let loraDir = temporaryDirectory()
        try saveAdapter(lora, attachment: b, to: loraDir)
        let loraJSON = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: loraDir + "/adapter_config.json"))) as? [String: Any])
        #expect(loraJSON["target_modules"] as? String == #"model\.language_model\.layers\.\d+\.(self_attn|mlp)\.(q_proj|v_proj)"#)
    }

    @Test func mismatchedBaseIsAnErrorNamingIt() throws {
        let model = try tinyLlama(layers: 3)
        let a = try attach(method: .lora(rank: 2, alpha: 4, dropout: 0, on: .modules(["q_proj"])), to: model)
        let dir = temporaryDirectory()
        try saveAdapter(model, attachment: a, to: dir)
        do {
            try loadAdapter(from: dir, into: try tinyLlama(layers: 2))
            Issue.record("expected a mismatch")
        } catch let error as PEFTError {
            #expect(error.description.contains("model.layers.2.self_attn.q_proj"))
        }
        do {
            try loadAdapter(from: dir + "-missing", into: try tinyLlama(layers: 3))
            Issue.record("expected an error")
        } catch {}
        let wide = try tinyLlama(hidden: 48, layers: 3)
        do {
            try loadAdapter(from: dir, into: wide)
            Issue.record("expected a mismatch")
        } catch let error as PEFTError {
            #expect(error.description.contains("q_proj.lora_") && error.description.contains("shape"))
            #expect(adaptedModulePaths(in: wide).isEmpty)      // a failed load leaves the base model as it was
        }
    }
}
