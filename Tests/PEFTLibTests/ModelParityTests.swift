// Whole-model parity with transformers: the checkpoints and expected values in
// Fixtures/models/<name>/ come from tools/make_model_fixtures.py (PyTorch, float32, eager
// attention). Logits within 1e-4 absolute, gradients within 1e-3 relative (to the largest
// reference entry), loss within 1e-5 relative; plus the three checkpoint layouts and the
// errors for missing, unexpected and mis-shaped weights.

import Foundation
import Testing
import PEFTLib

/// A fixture folder: the checkpoint and the expected values beside it.
struct ModelFixture {
    let directory: String
    let expected: SafetensorsFile

    init(_ name: String) throws {
        let url = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures/models/\(name)"))
        directory = url.path
        expected = try SafetensorsFile(path: url.appendingPathComponent("expected.safetensors").path)
    }

    /// An integer input (B, T) as rows.
    func rows(_ name: String) throws -> [[Int]] {
        let shape = try expected.info(name).shape
        let flat = try expected.integers(name)
        return (0..<shape[0]).map { Array(flat[($0 * shape[1])..<(($0 + 1) * shape[1])]) }
    }

    func tensor(_ name: String) throws -> Tensor {
        try Tensor(shape: expected.info(name).shape, values: expected.floats(name))
    }

    var pixelValues: Tensor? { get throws { expected.contains("pixel_values") ? try tensor("pixel_values") : nil } }
    var gradientKeys: [String] { expected.names.filter { $0.hasPrefix("grad.") }.map { String($0.dropFirst(5)) } }
}

/// max |a − b|.
func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// max |a − b| / max |b|.
func maxRelativeDifference(_ a: [Float], _ reference: [Float]) -> Float {
    let scale = reference.reduce(0) { max($0, abs($1)) }
    return maxAbsDifference(a, reference) / max(scale, 1e-12)
}

/// Writes `file`'s tensors under new names (nil drops one) to a temporary safetensors file.
func rewrittenCheckpoint(_ file: SafetensorsFile, tag: String,
                         transform: (String, [Int], [Float]) -> (String, [Int], [Float])?) throws -> SafetensorsFile {
    var writer = SafetensorsWriter()
    for name in file.names {
        guard let (newName, shape, values) = transform(name, try file.info(name).shape, try file.floats(name)) else { continue }
        try writer.add(newName, shape: shape, values: values)
    }
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("peftlab-\(tag)-\(UUID().uuidString).safetensors").path
    try writer.write(to: path)
    return try SafetensorsFile(path: path)
}

@Suite struct LlavaParityTests {
    @Test(arguments: ["llava-gqa", "llava-odd"])
    func logitsMatchTransformers(name: String) throws {
        let fixture = try ModelFixture(name)
        let model = try LlavaForConditionalGeneration.load(directory: fixture.directory)
        let logits = try withNoGrad {
            try model.logits(inputIds: fixture.rows("input_ids"), pixelValues: fixture.pixelValues,
                             attentionMask: fixture.rows("attention_mask"))
        }
        let reference = try fixture.expected.floats("logits")
        #expect(logits.shape == (try fixture.expected.info("logits").shape))
        let error = maxAbsDifference(logits.toArray(), reference)
        print("\(name): max |Δ logits| = \(error)")
        #expect(error <= 1e-4)
    }

    @Test(arguments: ["llava-gqa", "llava-odd"])
    func lossAndGradientsMatchTransformers(name: String) throws {
        let fixture = try ModelFixture(name)
        let model = try LlavaForConditionalGeneration.load(directory: fixture.directory)
        model.unfreeze()
        let loss = try model.loss(inputIds: fixture.rows("input_ids"), pixelValues: fixture.pixelValues,
                                  attentionMask: fixture.rows("attention_mask"), labels: fixture.rows("labels"))
        try loss.backward()
        let expectedLoss = try fixture.expected.floats("loss")[0]
        print("\(name): loss \(try loss.item()) vs \(expectedLoss)")
        #expect(abs(try loss.item() - expectedLoss) <= 1e-5 * max(1, abs(expectedLoss)))
        let parameters = model.parameterDictionary()
        #expect(!fixture.gradientKeys.isEmpty)
        for key in fixture.gradientKeys {
            let parameter = try #require(parameters[key], "no parameter \(key)")
            let grad = try #require(parameter.grad, "no gradient for \(key)")
            let error = maxRelativeDifference(grad.toArray(), try fixture.expected.floats("grad." + key))
            print("\(name): \(key) relative gradient error \(error)")
            #expect(error <= 1e-3, "\(key)")
        }
    }

    @Test func singleImageTokenIsExpandedLikeTheProcessor() throws {
        let fixture = try ModelFixture("llava-gqa")
        let model = try LlavaForConditionalGeneration.load(directory: fixture.directory)
        let image = model.config.imageTokenIndex
        let expanded = try fixture.rows("input_ids")
        // Collapse each run of image tokens to a single <image>, as in a LLaVA prompt.
        let collapsed = expanded.map { row in
            row.enumerated().filter { i, id in id != image || i == 0 || row[i - 1] != image }.map(\.element)
        }
        #expect(collapsed[0].count == expanded[0].count - model.imageFeatureCount + 1)
        let reference = try fixture.expected.floats("logits")
        let logits = try withNoGrad { try model.logits(inputIds: collapsed, pixelValues: fixture.pixelValues) }
        #expect(maxAbsDifference(logits.toArray(), reference) <= 1e-4)
    }

    /// The fixture's file is in save_pretrained's layout; rewrite it in the transformers 4 Hub
    /// layout and in transformers 5's in-memory names: all three load to the same model.
    @Test(arguments: ["hub", "in-memory"])
    func loadsEveryCheckpointLayout(layout: String) throws {
        let fixture = try ModelFixture("llava-gqa")
        let original = try SafetensorsFile(path: fixture.directory + "/model.safetensors")
        let rewritten = try rewrittenCheckpoint(original, tag: layout) { name, shape, values in
            let path = LlavaForConditionalGeneration.parameterPath(forCheckpointKey: name)
            let key = layout == "hub" ? LlavaForConditionalGeneration.legacyCheckpointKey(forParameterPath: path) : path
            return (key, shape, values)
        }
        defer { try? FileManager.default.removeItem(atPath: rewritten.path) }
        if layout == "hub" {
            #expect(rewritten.names.contains("vision_tower.vision_model.pre_layrnorm.weight"))
            #expect(rewritten.names.contains("language_model.lm_head.weight"))
        } else {
            #expect(rewritten.names.contains("model.vision_tower.pre_layrnorm.weight"))
            #expect(rewritten.names.contains("lm_head.weight"))
        }
        guard case let .llava(config) = try ModelConfig.load(path: fixture.directory) else {
            Issue.record("not a LLaVA config"); return
        }
        let model = try LlavaForConditionalGeneration(config: config)
        try model.load(from: rewritten)
        let logits = try withNoGrad {
            try model.logits(inputIds: fixture.rows("input_ids"), pixelValues: fixture.pixelValues,
                             attentionMask: fixture.rows("attention_mask"))
        }
        #expect(maxAbsDifference(logits.toArray(), try fixture.expected.floats("logits")) <= 1e-4)
    }

    /// A checkpoint split in shards with model.safetensors.index.json, as large models are saved.
    @Test func loadsAShardedCheckpoint() throws {
        let fixture = try ModelFixture("llava-gqa")
        let file = try SafetensorsFile(path: fixture.directory + "/model.safetensors")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("peftlab-shards-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(atPath: fixture.directory + "/config.json",
                                         toPath: folder.appendingPathComponent("config.json").path)
        var shards = [SafetensorsWriter(), SafetensorsWriter()]
        var weightMap: [String: String] = [:]
        for (i, name) in file.names.enumerated() {
            try shards[i % 2].add(name, shape: file.info(name).shape, values: file.floats(name))
            weightMap[name] = "model-0000\(i % 2 + 1)-of-00002.safetensors"
        }
        for (i, shard) in shards.enumerated() {
            try shard.write(to: folder.appendingPathComponent("model-0000\(i + 1)-of-00002.safetensors").path)
        }
        let index = try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": weightMap])
        try index.write(to: folder.appendingPathComponent("model.safetensors.index.json"))
        let model = try LlavaForConditionalGeneration.load(directory: folder.path)
        let logits = try withNoGrad {
            try model.logits(inputIds: fixture.rows("input_ids"), pixelValues: fixture.pixelValues,
                             attentionMask: fixture.rows("attention_mask"))
        }
        #expect(maxAbsDifference(logits.toArray(), try fixture.expected.floats("logits")) <= 1e-4)
    }

    /// transformers 5 writes `rope_parameters` instead of `rope_theta` (the fixtures' configs do).
    @Test func readsRopeParametersOfTransformers5Configs() throws {
        let fixture = try ModelFixture("llava-odd")
        guard case let .llava(config) = try ModelConfig.load(path: fixture.directory) else {
            Issue.record("not a LLaVA config"); return
        }
        #expect(config.textConfig.ropeTheta == 1000)
        #expect(config.textConfig.headDim == 16)
        let scaled = #"{"model_type": "llama", "rope_parameters": {"rope_type": "linear", "rope_theta": 10000, "factor": 2}}"#
        #expect(throws: ConfigError(field: "rope_parameters.rope_type",
                                    problem: "unsupported rope scaling of type \"linear\" (only \"default\", plain RoPE, is supported)")) {
            _ = try ModelConfig.decode(Data(scaled.utf8))
        }
    }

    /// A frozen vision tower gets no gradients and changes none of the others.
    @Test func frozenVisionTowerKeepsTheOtherGradients() throws {
        let fixture = try ModelFixture("llava-gqa")
        let model = try LlavaForConditionalGeneration.load(directory: fixture.directory)
        model.model.visionTower.freeze()
        #expect(model.trainableParameterCount == model.parameterCount - model.model.visionTower.parameterCount)
        let loss = try model.loss(inputIds: fixture.rows("input_ids"), pixelValues: fixture.pixelValues,
                                  attentionMask: fixture.rows("attention_mask"), labels: fixture.rows("labels"))
        try loss.backward()
        #expect(model.model.visionTower.namedParameters().allSatisfy { $0.tensor.grad == nil })
        let parameters = model.parameterDictionary()
        for key in fixture.gradientKeys where !key.hasPrefix("model.vision_tower.") {
            let grad = try #require(parameters[key]?.grad, "no gradient for \(key)")
            #expect(maxRelativeDifference(grad.toArray(), try fixture.expected.floats("grad." + key)) <= 1e-3, "\(key)")
        }
    }

    @Test func parameterPathsAreTheTransformersKeys() throws {
        let fixture = try ModelFixture("llava-gqa")
        let model = try LlavaForConditionalGeneration.load(directory: fixture.directory)
        let paths = Set(model.namedParameters().map(\.path))
        #expect(paths.contains("model.language_model.layers.0.self_attn.q_proj.weight"))
        #expect(paths.contains("model.vision_tower.embeddings.patch_embedding.weight"))
        #expect(paths.contains("model.vision_tower.pre_layrnorm.weight"))
        #expect(paths.contains("model.multi_modal_projector.linear_1.bias"))
        #expect(paths.contains("lm_head.weight"))
        let file = try SafetensorsFile(path: fixture.directory + "/model.safetensors")
        #expect(Set(file.names.map(LlavaForConditionalGeneration.parameterPath(forCheckpointKey:))) == paths)
    }
}

@Suite struct LlamaParityTests {
    @Test func tiedLlamaMatchesTransformers() throws {
        let fixture = try ModelFixture("llama-tied")
        let model = try LlamaForCausalLM.load(directory: fixture.directory)
        #expect(model.config.tieWordEmbeddings)
        #expect(model.lmHead.localParameters[0].tensor === model.model.embedTokens.weight)
        #expect(!model.namedParameters().contains { $0.path == "lm_head.weight" })
        let ids = try fixture.rows("input_ids"), mask = try fixture.rows("attention_mask")
        let logits = try withNoGrad { try model.logits(inputIds: ids, attentionMask: mask) }
        let error = maxAbsDifference(logits.toArray(), try fixture.expected.floats("logits"))
        print("llama-tied: max |Δ logits| = \(error)")
        #expect(error <= 1e-4)

        let loss = try model.loss(inputIds: ids, attentionMask: mask, labels: fixture.rows("labels"))
        try loss.backward()
        let expectedLoss = try fixture.expected.floats("loss")[0]
        #expect(abs(try loss.item() - expectedLoss) <= 1e-5 * max(1, abs(expectedLoss)))
        let parameters = model.parameterDictionary()
        for key in fixture.gradientKeys {
            let grad = try #require(parameters[key]?.grad, "no gradient for \(key)")
            let error = maxRelativeDifference(grad.toArray(), try fixture.expected.floats("grad." + key))
            print("llama-tied: \(key) relative gradient error \(error)")
            #expect(error <= 1e-3, "\(key)")
        }
    }
}

/// Splits a peft prefix table (P, 2·L·d) into per-layer keys and values, as peft's `get_prompt`.
func prefixLayers(_ table: Tensor, layers: Int) throws -> [(key: Tensor, value: Tensor)] {
    let d = table.shape[1] / (2 * layers)
    return try (0..<layers).map { l in
        (try table.sliced((2 * l * d)..<((2 * l + 1) * d), axis: 1),
         try table.sliced(((2 * l + 1) * d)..<((2 * l + 2) * d), axis: 1))
    }
}

@Suite struct PrefixHookParityTests {
    /// The prefix hook against peft's prefix-tuning (past_key_values, positions shifted by P).
    @Test func prefixMatchesPeft() throws {
        let fixture = try ModelFixture("llama-tied")
        let expected = try SafetensorsFile(path: fixture.directory + "/prefix-expected.safetensors")
        let model = try LlamaForCausalLM.load(directory: fixture.directory)
        model.freeze()
        let table = try Tensor(shape: expected.info("prefix").shape, values: expected.floats("prefix"), requiresGrad: true)
        let layers = model.config.numHiddenLayers
        model.model.prefixKeyValues = { try prefixLayers(table, layers: layers) }
        let ids = try fixture.rows("input_ids"), mask = try fixture.rows("attention_mask")
        let logits = try withNoGrad { try model.logits(inputIds: ids, attentionMask: mask) }
        let error = maxAbsDifference(logits.toArray(), try expected.floats("logits"))
        print("llama-tied prefix: max |Δ logits| = \(error)")
        #expect(error <= 1e-4)
        let loss = try model.loss(inputIds: ids, attentionMask: mask, labels: fixture.rows("labels"))
        try loss.backward()
        #expect(abs(try loss.item() - expected.floats("loss")[0]) <= 1e-5 * 5)
        let grad = try #require(table.grad)
        let gradError = maxRelativeDifference(grad.toArray(), try expected.floats("grad.prefix"))
        print("llama-tied prefix: relative gradient error \(gradError)")
        #expect(gradError <= 1e-3)
        #expect(model.trainableParameters().isEmpty)
        #expect(model.model.layers[0].selfAttn.qProj.localParameters[0].tensor.grad == nil)
    }
}

@Suite struct WeightLoadingErrorTests {
    private func llama() throws -> (LlamaForCausalLM, SafetensorsFile) {
        let fixture = try ModelFixture("llama-tied")
        guard case let .llama(config) = try ModelConfig.load(path: fixture.directory) else {
            throw ModelError.invalidInput("not a Llama config")
        }
        return (try LlamaForCausalLM(config: config), try SafetensorsFile(path: fixture.directory + "/model.safetensors"))
    }

    @Test func missingWeightIsNamed() throws {
        let (model, file) = try llama()
        let broken = try rewrittenCheckpoint(file, tag: "missing") { name, shape, values in
            name == "model.layers.1.mlp.up_proj.weight" ? nil : (name, shape, values)
        }
        defer { try? FileManager.default.removeItem(atPath: broken.path) }
        #expect(throws: WeightLoadingError.missing(file: broken.path, keys: ["model.layers.1.mlp.up_proj.weight"])) {
            try model.load(from: broken)
        }
    }

    @Test func misShapedWeightIsNamed() throws {
        let (model, file) = try llama()
        let broken = try rewrittenCheckpoint(file, tag: "shape") { name, shape, values in
            name == "model.norm.weight" ? (name, [shape[0] - 1], Array(values.dropLast())) : (name, shape, values)
        }
        defer { try? FileManager.default.removeItem(atPath: broken.path) }
        let before = model.model.norm.weight.toArray()
        #expect(throws: WeightLoadingError.shapeMismatch(file: broken.path, key: "model.norm.weight",
                                                         expected: [32], found: [31])) {
            try model.load(from: broken)
        }
        #expect(model.model.norm.weight.toArray() == before)   // nothing written on failure
    }

    @Test func unexpectedWeightIsNamed() throws {
        let (model, file) = try llama()
        let broken = try rewrittenCheckpoint(file, tag: "unexpected") { name, shape, values in
            name == "model.norm.weight" ? ("model.final_norm.weight", shape, values) : (name, shape, values)
        }
        defer { try? FileManager.default.removeItem(atPath: broken.path) }
        do {
            try model.load(from: broken)
            Issue.record("expected an error")
        } catch let error as WeightLoadingError {
            // The missing key is reported first; the description names it.
            #expect(error == .missing(file: broken.path, keys: ["model.norm.weight"]))
            #expect(error.description.contains("model.norm.weight"))
        }
        let extra = try rewrittenCheckpoint(file, tag: "extra") { name, shape, values in
            name == "model.norm.weight" ? ("model.norm.weight", shape, values) : (name, shape, values)
        }
        defer { try? FileManager.default.removeItem(atPath: extra.path) }
        var writer = SafetensorsWriter()
        for name in extra.names { try writer.add(name, shape: extra.info(name).shape, values: extra.floats(name)) }
        try writer.add("model.layers.9.mlp.up_proj.weight", shape: [2], values: [1, 2])
        let path = extra.path + ".extra.safetensors"
        try writer.write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: WeightLoadingError.unexpected(file: path, keys: ["model.layers.9.mlp.up_proj.weight"])) {
            try model.load(from: SafetensorsFile(path: path))
        }
    }

    @Test func metaModelRefusesToLoadAndRun() throws {
        let (_, file) = try llama()
        let config = try LlamaConfig(hiddenSize: 32, intermediateSize: 72, numHiddenLayers: 2, numAttentionHeads: 4,
                                     numKeyValueHeads: 1, vocabSize: 64, tieWordEmbeddings: true)
        let meta = try LlamaForCausalLM(config: config, initialization: .meta)
        #expect(throws: ModelError.metaModel(operation: "load weights into")) { try meta.load(from: file) }
        #expect(throws: ModelError.metaModel(operation: "run")) { try meta.logits(inputIds: [[1, 2]]) }
    }
}

@Suite struct PrefixAttachParityTests {
    /// Prefix-tuning attached with `attach` runs through the model and matches peft (same fixture
    /// as the hook test): the encoder's table is the only trainable tensor and gets peft's gradient.
    @Test func attachedPrefixMatchesPeft() throws {
        let fixture = try ModelFixture("llama-tied")
        let expected = try SafetensorsFile(path: fixture.directory + "/prefix-expected.safetensors")
        let model = try LlamaForCausalLM.load(directory: fixture.directory)
        let shape = try expected.info("prefix").shape
        let attachment = try attach(method: .prefix(tokens: shape[0]), to: model)
        let encoder = try #require(attachment.prefix)
        #expect(encoder.embedding.shape == shape)
        try encoder.embedding.assign(try expected.floats("prefix"))
        #expect(model.trainableParameterCount == 0)   // the LLM is frozen; only the encoder trains

        let ids = try fixture.rows("input_ids"), mask = try fixture.rows("attention_mask")
        let logits = try withNoGrad { try model.logits(inputIds: ids, attentionMask: mask) }
        #expect(maxAbsDifference(logits.toArray(), try expected.floats("logits")) <= 1e-4)
        let loss = try model.loss(inputIds: ids, attentionMask: mask, labels: fixture.rows("labels"))
        try loss.backward()
        let grad = try #require(encoder.embedding.grad)
        #expect(maxRelativeDifference(grad.toArray(), try expected.floats("grad.prefix")) <= 1e-3)

        // A second method needs replacing:, and detaching removes the prefix.
        #expect(throws: PEFTError.self) { try attach(method: .lora(rank: 4, alpha: 8, dropout: 0), to: model) }
        try detachAdapters(from: model)
        #expect(model.model.prefixKeyValues == nil)
    }
}
