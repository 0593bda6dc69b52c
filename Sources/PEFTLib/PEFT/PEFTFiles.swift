// Adapter files in the Hugging Face PEFT layout: `adapter_config.json` (peft_type, task_type, r,
// lora_alpha, target_modules, …) and `adapter_model.safetensors` keyed `base_model.model.<path>`
// without peft's adapter name (`…q_proj.lora_A.weight`, `…k_proj.ia3_l`, `prompt_embeddings`).
// A tuned connector goes into the same file as peft's `modules_to_save` writes it
// (`base_model.model.model.multi_modal_projector.linear_1.weight`, config `modules_to_save`); for
// prefix-tuning, a prompt-learning method whose peft model wraps the base model one level less,
// the keys start `base_model.` instead (`base_model.model.multi_modal_projector.linear_1.weight`).
// On LLaVA, `target_modules` is a regex over the language model's projections, since peft matches
// a bare `q_proj` in the vision tower too. tools/check_peft_loads_ours.py checks that peft loads
// what we write. The bottleneck adapter uses LLM-Adapters' `BOTTLENECK` type and key names.

import Foundation

/// The peft key prefix of every module path.
let peftKeyPrefix = "base_model.model."

/// The key prefix of prompt-learning methods (prefix-tuning): peft's model holds the base model
/// directly as `base_model`, without the tuner wrapper in between.
let peftPromptLearningKeyPrefix = "base_model."

/// The prefix of a method's file keys.
func peftKeyPrefix(for method: PEFTMethod) -> String {
    if case .prefix = method { return peftPromptLearningKeyPrefix }
    return peftKeyPrefix
}

/// `target_modules` as peft reads it (a list matches a module path equal to or ending with
/// `.name`; a string is a regex matched against the whole path), selecting exactly the adapted
/// modules among the model's.
enum PEFTTargetModules {
    /// Short names (`["q_proj", "v_proj"]`): every decoder layer has them and nothing else does.
    case names([String])
    /// On LLaVA, whose vision tower also has q, k and v projections: the language model's layers.
    case regex(String)
    /// Full module paths, when only some layers are adapted.
    case paths([String])

    init(adapted: [String], host: PEFTHost) {
        let names = llamaProjectionNames.filter { name in adapted.contains { $0.hasSuffix("." + name) } }
        let everyLayer = Set(host.projections.filter { names.contains($0.name) }.map(\.path)) == Set(adapted)
        if !everyLayer {
            self = .paths(adapted)
        } else if host.visionTower == nil {
            self = .names(names)
        } else {
            let layers = NSRegularExpression.escapedPattern(for: host.languageModelPath + ".layers.")
            self = .regex(layers + #"\d+\.(self_attn|mlp)\.("# + names.joined(separator: "|") + ")")
        }
    }

    var json: Any {
        switch self {
        case let .names(list), let .paths(list): return list
        case let .regex(pattern): return pattern
        }
    }

    /// IA3's `feedforward_modules` among the adapted modules, in the same form (peft requires a
    /// list of them to be a subset of a list of targets).
    func feedforward(_ modules: [String], adapted: [String]) -> [String] {
        let wanted = Set(modules.map(expandProjectionName))
        let paths = adapted.filter { path in wanted.contains { path == $0 || path.hasSuffix("." + $0) } }
        if case .paths = self { return paths }
        return llamaProjectionNames.filter { name in paths.contains { $0.hasSuffix("." + name) } }
    }
}

// MARK: - Save

/// Writes the method's parameters (and the tuned connector) in the Hugging Face PEFT layout.
///
///     let a = try attach(method: .lora(rank: 8, alpha: 16), to: model)
///     try saveAdapter(model, attachment: a, to: "runs/lora-qv")
///     // runs/lora-qv/adapter_config.json, runs/lora-qv/adapter_model.safetensors
public func saveAdapter(_ model: any Module, attachment: PEFTAttachment, to directory: String) throws {
    let host = try PEFTHost(model)
    var config: [String: Any] = ["task_type": "CAUSAL_LM", "base_model_name_or_path": NSNull(),
                                 "inference_mode": true, "revision": NSNull()]
    var writer = SafetensorsWriter()
    let keyPrefix = peftKeyPrefix(for: attachment.method)
    func add(_ path: String, _ tensor: Tensor) throws {
        try Tensor.requireValuesForSaving(tensor, path)
        try writer.add(keyPrefix + path, shape: tensor.shape, values: tensor.toArray())
    }
    let targets = PEFTTargetModules(adapted: attachment.adaptedModules, host: host)
    switch attachment.method {
    case let .lora(c):
        config.merge(["peft_type": "LORA", "r": c.rank, "lora_alpha": c.alpha, "lora_dropout": c.dropout,
                      "target_modules": targets.json, "bias": "none", "fan_in_fan_out": false,
                      "init_lora_weights": true, "use_rslora": c.useRSLoRA, "use_dora": false,
                      "rank_pattern": c.rankPattern, "alpha_pattern": c.alphaPattern]) { $1 }
    case let .ia3(c):
        config.merge(["peft_type": "IA3", "target_modules": targets.json,
                      "feedforward_modules": targets.feedforward(c.feedforwardModules, adapted: attachment.adaptedModules),
                      "fan_in_fan_out": false, "init_ia3_weights": true]) { $1 }
    case let .adapter(c):
        config.merge(["peft_type": "BOTTLENECK", "bottleneck_size": c.bottleneckSize,
                      "non_linearity": c.activation.rawValue, "adapter_dropout": c.dropout, "scaling": c.scaling,
                      "use_parallel_adapter": c.style == .parallel, "use_adapterp": false,
                      "target_modules": targets.json, "init_std": c.initStd]) { $1 }
    case let .prefix(c):
        // peft's sizes after its grouped-query adjustment: token_dim is the key/value width.
        let t = host.config
        config.merge(["peft_type": "PREFIX_TUNING", "num_virtual_tokens": c.virtualTokens,
                      "num_layers": t.numHiddenLayers, "token_dim": t.kvDim,
                      "num_attention_heads": t.numKeyValueHeads, "num_transformer_submodules": 1,
                      "prefix_projection": c.projection,
                      "encoder_hidden_size": c.encoderHiddenSize ?? t.kvDim]) { $1 }
        guard let prefix = attachment.prefix else { throw PEFTError.unsupported("the attachment has no prefix") }
        let table = try withNoGrad { try prefix.table() }                     // (P, 2·L·d)
        try Tensor.requireValuesForSaving(table, "prompt_embeddings")
        try writer.add("prompt_embeddings", shape: table.shape, values: table.toArray())
    case .connectorOnly:
        config.merge(["peft_type": "CONNECTOR"]) { $1 }
    case .full:
        throw PEFTError.unsupported("full fine-tuning has no adapter: save the model's weights instead")
    }
    for (path, tensor) in addedParameters(in: model) { try add(path.replacingOccurrences(of: ".base_layer", with: ""), tensor) }
    if attachment.connector == .tuned, let connector = host.connector {
        config["modules_to_save"] = ["multi_modal_projector"]
        for (path, tensor) in connector.namedParameters() { try add("model.multi_modal_projector." + path, tensor) }
    } else {
        config["modules_to_save"] = NSNull()
    }
    let json = Array(try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]))
    // The weights name the config they were saved with, so a folder holding parts of two saves
    // is refused on load (peft ignores the metadata).
    writer.metadata[adapterConfigDigestKey] = adapterConfigDigest(json)
    // All or nothing: the two files are written into a new folder exchanged with the old one.
    try AtomicFiles.replaceFolder(at: directory) { staging in
        try writer.write(to: staging + "/adapter_model.safetensors")
        FaultInjection.point("adapter-save-between-files")
        try AtomicFiles.write(json, to: staging + "/adapter_config.json")
    }
}

/// The safetensors metadata key holding the digest of the config saved with the weights.
let adapterConfigDigestKey = "peftlab_adapter_config_fnv1a64"

/// FNV-1a (64 bit) of the config's bytes, in hex: a consistency check, not a security one.
func adapterConfigDigest(_ bytes: [UInt8]) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
    return String(hash, radix: 16)
}

extension Tensor {
    static func requireValuesForSaving(_ t: Tensor, _ name: String) throws {
        if t.isMeta { throw ModelError.metaModel(operation: "save \(name) of") }
    }
}

// MARK: - Load

/// The method an `adapter_config.json` describes (LORA, IA3, BOTTLENECK, PREFIX_TUNING, CONNECTOR),
/// read strictly: a field of the wrong type is an error naming the file and the field.
public func adapterMethod(configPath: String) throws -> (method: PEFTMethod, connector: ConnectorMode) {
    try AdapterConfigFile(path: FilePaths.resolve(configPath)).method()
}

/// Loads an adapter saved in the Hugging Face PEFT layout (by PEFTLib or Python peft) onto a base model.
///
/// The adapted modules come from the file's keys (peft may store `target_modules` as a regex);
/// a key naming a module the model lacks, or a shape the model's layers do not fit, is a
/// `PEFTError.configMismatch` naming it. Prefix adapters load as a table (`prompt_embeddings`).
@discardableResult
public func loadAdapter(from directory: String, into model: any Module) throws -> PEFTAttachment {
    let directory = FilePaths.resolve(directory)
    let configFile = try AdapterConfigFile(path: directory + "/adapter_config.json")
    let (savedMethod, connector) = try configFile.method()
    let file = try SafetensorsFile(path: directory + "/adapter_model.safetensors")
    if let digest = file.metadata[adapterConfigDigestKey], digest != adapterConfigDigest(configFile.bytes) {
        throw PEFTError.invalidAdapterFile("'\(directory)' holds adapter_config.json and adapter_model.safetensors "
                                           + "of two different saves (the weights were saved with another config); "
                                           + "save the adapter again")
    }
    let host = try PEFTHost(model)
    let isLlava = model is LlavaForConditionalGeneration
    // File key → parameter path (peft prefix dropped; transformers 4 LLaVA keys renamed).
    let keyPrefix = peftKeyPrefix(for: savedMethod)
    var paths: [String: String] = [:]
    for key in file.names where key != "prompt_embeddings" {
        guard key.hasPrefix(keyPrefix) else {
            throw PEFTError.invalidAdapterFile("key '\(key)' does not start with '\(keyPrefix)'")
        }
        var path = String(key.dropFirst(keyPrefix.count)).replacingOccurrences(of: ".default.", with: ".")
        if isLlava { path = LlavaForConditionalGeneration.parameterPath(forCheckpointKey: path) }
        paths[key] = path
    }
    let suffixes = [".lora_A.weight", ".lora_B.weight", ".ia3_l", ".adapter_down.weight", ".adapter_up.weight"]
    let projections = Set(host.projections.map(\.path))
    var modules: [String] = []
    for path in paths.values.sorted() {
        guard let suffix = suffixes.first(where: { path.hasSuffix($0) }) else { continue }
        let module = String(path.dropLast(suffix.count))
        if let vision = host.visionTowerPath, module.hasPrefix(vision + ".") {
            // peft matches a bare name such as q_proj in the vision tower too.
            throw PEFTError.unsupported("'\(directory)' adapts the vision tower (\(module)): peft applies a target name "
                + "such as q_proj to every module of that name, the vision tower's included, while PEFTLab (as the study) "
                + "adapts the language model only and keeps the tower frozen; in peft, give target_modules as a regex over "
                + "the language model, e.g. r\"\(host.languageModelPath).*\\.(q_proj|v_proj)\"")
        }
        guard projections.contains(module) else {
            throw PEFTError.configMismatch(field: "adapted module", expected: "a projection of the model "
                                           + "(\(host.config.numHiddenLayers) layers)", found: module)
        }
        if !modules.contains(module) { modules.append(module) }
    }
    let method: PEFTMethod
    switch savedMethod {
    case var .lora(c): c.targets = .modules(modules); method = .lora(c)
    case var .ia3(c): c.targets = .modules(modules); method = .ia3(c)
    case var .adapter(c): c.location = .modules(modules); method = .adapter(c)
    default: method = savedMethod
    }
    if case let .prefix(c) = method {
        let info = try file.info("prompt_embeddings")
        let expected = [c.virtualTokens, 2 * host.config.numHiddenLayers * host.config.kvDim]
        if info.shape != expected {
            throw PEFTError.configMismatch(field: "prompt_embeddings shape (P, 2·layers·kv width)",
                                           expected: "\(expected)", found: "\(info.shape)")
        }
    }
    if case .full = method { throw PEFTError.unsupported("full fine-tuning has no adapter to load") }
    let attachment = try attach(method: method, to: model, connector: connector)
    do {
        try copyAdapterTensors(file: file, paths: paths, method: method, attachment: attachment, model: model)
    } catch {
        try? detachAdapters(from: model)      // leave the base model as it was
        throw error
    }
    return attachment
}

private func copyAdapterTensors(file: SafetensorsFile, paths: [String: String], method: PEFTMethod,
                                attachment: PEFTAttachment, model: any Module) throws {
    let parameters = model.parameterDictionary()
    if case let .lora(c) = method {
        for (key, path) in paths where key.hasSuffix("lora_A.weight") {
            let rank = c.rankAndAlpha(forModule: String(path.dropLast(".lora_A.weight".count))).rank
            let info = try file.info(key)
            if info.shape.first != rank {
                throw PEFTError.configMismatch(field: "r", expected: "\(info.shape.first ?? 0) (\(key))", found: "\(rank)")
            }
        }
    }
    // Check every shape first, then copy.
    var copies: [(String, Tensor)] = []
    for (key, path) in paths.sorted(by: { $0.key < $1.key }) {
        guard let tensor = parameters[path], tensor.requiresGrad else {
            throw PEFTError.configMismatch(field: "tensor", expected: "a parameter of the adapted model", found: key)
        }
        let info = try file.info(key)
        if info.shape != tensor.shape {
            throw PEFTError.configMismatch(field: "shape of \(key)", expected: "\(tensor.shape)", found: "\(info.shape)")
        }
        copies.append((key, tensor))
    }
    if let prefix = attachment.prefix { copies.append(("prompt_embeddings", prefix.embedding)) }
    var nonFinite: [String] = []
    for (key, tensor) in copies {
        try tensor.withUnsafeMutableBufferPointer { try file.readFloats(key, into: $0) }
        if !tensor.withUnsafeBufferPointer(allFinite) { nonFinite.append(key) }
    }
    if !nonFinite.isEmpty {
        throw PEFTError.invalidAdapterFile("'\(file.path)' holds NaN or infinite values in "
                                           + nonFinite.prefix(3).joined(separator: ", ")
                                           + (nonFinite.count > 3 ? " and \(nonFinite.count - 3) more" : ""))
    }
}
