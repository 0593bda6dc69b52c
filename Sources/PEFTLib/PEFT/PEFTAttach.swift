// Attaching a method to a model: resolve the targets among the decoder layers' projections,
// put the replacement layers in place, and set the trainable set (vision tower always frozen,
// connector tuned or frozen, base LLM frozen except the PEFT parameters; full fine-tuning
// trains the whole LLM, connector-only just the projector). As peft's `get_peft_model` with
// `_mark_only_adapters_as_trainable` and `modules_to_save`.

// MARK: - Host

/// The parts of a supported model that attaching needs.
struct PEFTHost {
    let languageModel: LlamaModel
    /// Path of the language model in the tree: `model` (Llama) or `model.language_model` (LLaVA).
    let languageModelPath: String
    let lmHead: any LinearLayer
    let connector: LlavaMultiModalProjector?
    let visionTower: CLIPVisionModel?
    /// The whole model, whose tree the projections are found and replaced in.
    let root: any Module

    init(_ model: any Module) throws {
        root = model
        if let llava = model as? LlavaForConditionalGeneration {
            languageModel = llava.model.languageModel
            languageModelPath = "model.language_model"
            lmHead = llava.lmHead
            connector = llava.model.multiModalProjector
            visionTower = llava.model.visionTower
        } else if let llama = model as? LlamaForCausalLM {
            languageModel = llama.model
            languageModelPath = "model"
            lmHead = llama.lmHead
            connector = nil
            visionTower = nil
        } else {
            throw PEFTError.unsupported("PEFT methods attach to LlamaForCausalLM or LlavaForConditionalGeneration, "
                                        + "not \(type(of: model))")
        }
    }

    var config: LlamaConfig { languageModel.config }

    /// Path of the vision tower in the tree (`model.vision_tower`), nil without one.
    var visionTowerPath: String? { visionTower == nil ? nil : "model.vision_tower" }

    /// Every replaceable projection: (path, layer index, HF name).
    var projections: [(path: String, layer: Int, name: String)] {
        languageModel.layers.indices.flatMap { i in
            llamaProjectionNames.map { name in
                let block = llamaAttentionProjections.contains(name) ? "self_attn" : "mlp"
                return ("\(languageModelPath).layers.\(i).\(block).\(name)", i, name)
            }
        }
    }

    /// The projection at `path` (one of `projections`, possibly already a PEFT layer).
    func projection(_ path: String) throws -> any LinearLayer {
        guard let layer = root.module(at: path) as? any LinearLayer else {
            throw PEFTError.unsupported("\(path) is not a linear layer of this model")
        }
        return layer
    }

    /// Puts `replacement` at `path`, by key, through the parent module.
    func setProjection(_ path: String, to replacement: any LinearLayer) throws {
        try root.replaceModule(at: path, with: replacement)
    }

    /// The projections matched by `names` (peft's suffix rule); throws for a name matching none.
    func resolve(_ names: [String], root: any Module) throws -> [(path: String, layer: Int, name: String)] {
        let all = projections
        var selected = Set<String>()
        for raw in names {
            let target = expandProjectionName(raw)
            let matches = all.filter { $0.path == target || $0.path.hasSuffix("." + target) }
            if matches.isEmpty {
                let linear = Set(root.namedModules().compactMap { entry -> String? in
                    guard entry.module is any LinearLayer, let last = entry.path.split(separator: ".").last
                    else { return nil }
                    return String(last)
                }).subtracting(llamaProjectionNames).subtracting(["base_layer", "lora_A", "lora_B",
                                                                   "adapter_down", "adapter_up"])
                throw PEFTError.noMatchingModule(target: raw, adaptable: llamaProjectionNames,
                                                 otherLinear: linear.sorted())
            }
            for m in matches { selected.insert(m.path) }
        }
        return all.filter { selected.contains($0.path) }
    }
}

// MARK: - Attachment

/// What `attach` did: the method, the connector mode, the adapted modules and the prefix.
public final class PEFTAttachment {
    public let method: PEFTMethod
    public let connector: ConnectorMode
    /// Paths of the projections replaced by PEFT layers.
    public let adaptedModules: [String]
    /// Prefix-tuning's parameters (nil for the other methods).
    public let prefix: PrefixEncoder?
    /// Where the language model sits in the tree (`model`, `model.language_model`).
    public let languageModelPath: String

    init(method: PEFTMethod, connector: ConnectorMode, adaptedModules: [String], prefix: PrefixEncoder?,
         languageModelPath: String) {
        self.method = method
        self.connector = connector
        self.adaptedModules = adaptedModules
        self.prefix = prefix
        self.languageModelPath = languageModelPath
    }

    /// Number of scalar parameters the method adds (LoRA, IA3, adapter or prefix).
    public func addedParameterCount(in model: any Module) -> Int {
        addedParameters(in: model).reduce(0) { $0 + $1.tensor.count } + (prefix?.parameterCount ?? 0)
    }
}

/// Parameters of PEFT layers in a model, by path.
func addedParameters(in model: any Module) -> [(path: String, tensor: Tensor)] {
    var ids = Set<ObjectIdentifier>()
    for (_, module) in model.namedModules() {
        if let layer = module as? any PEFTLayer {
            for (_, t) in layer.adapterParameters { ids.insert(ObjectIdentifier(t)) }
        }
    }
    return model.namedParameters().filter { ids.contains(ObjectIdentifier($0.tensor)) }
}

/// Paths of the PEFT layers already in a model.
public func adaptedModulePaths(in model: any Module) -> [String] {
    model.namedModules().filter { $0.module is any PEFTLayer }.map(\.path)
}

// MARK: - Attach

/// Attaches a method to a Llama or LLaVA model and sets which parameters train.
///
/// The vision tower is always frozen; the connector trains with `.tuned`; the language model is
/// frozen except the method's parameters (`.full`: all of it trains; `.connectorOnly`: only the
/// projector).
///
///     let llava = try LlavaForConditionalGeneration(config: config, initialization: .meta)
///     let a = try attach(method: .lora(.study), to: llava, connector: .tuned)
///     print(llava.trainableParameterCount)       // 319,815,680 + 20,979,712
///
/// - Parameters:
///   - connector: `.tuned` or `.frozen`; nil means frozen, or tuned for `.connectorOnly`
///   - replacing: removes PEFT layers already in the model first (otherwise that is an error)
///   - seed: initialises the new parameters
/// - Throws: `PEFTError` for a target matching no module (listing those that exist), non-positive
///   sizes, a model already adapted, a connector asked of a model without one.
@discardableResult
public func attach(method: PEFTMethod, to model: any Module, connector: ConnectorMode? = nil,
                   replacing: Bool = false, seed: UInt64 = 0) throws -> PEFTAttachment {
    try method.validate()
    let host = try PEFTHost(model)
    let connectorMode: ConnectorMode
    switch (method, connector) {
    case (.connectorOnly, .frozen?):
        throw PEFTError.invalidValue(field: "connector", detail: "connector-only training with a frozen connector trains nothing")
    case (.connectorOnly, _): connectorMode = .tuned
    case (_, let mode?): connectorMode = mode
    case (_, nil): connectorMode = .frozen
    }
    if connectorMode == .tuned && host.connector == nil { throw PEFTError.noConnector }
    var existing = adaptedModulePaths(in: model)
    if host.languageModel.prefixKeyValues != nil { existing.append(host.languageModelPath + " (prefix-tuning)") }
    if !existing.isEmpty {
        guard replacing else { throw PEFTError.alreadyAdapted(modules: existing) }
        try detachAdapters(from: model)
    }

    var generator = RandomGenerator(seed: seed)
    var adapted: [String] = []
    var prefix: PrefixEncoder?
    let config = host.config

    switch method {
    case let .lora(c):
        let targets = try host.resolve(method.placements.map(\.module), root: model)
        // A rank past a projection's widths adds nothing (B·A has rank at most min(in, out)).
        for t in targets {
            let p = try host.projection(t.path), rank = c.rankAndAlpha(forModule: t.path).rank
            if rank > max(p.inFeatures, p.outFeatures) {
                throw PEFTError.invalidValue(field: "LoRA rank", detail: "\(rank) is larger than \(t.name)'s widths "
                                             + "(\(p.inFeatures) → \(p.outFeatures)); B·A has rank at most \(min(p.inFeatures, p.outFeatures))")
            }
        }
        // Sized before anything is allocated: A (r, in) and B (out, r) per module.
        try requireMemory(host, "LoRA of rank \(c.rank) on \(targets.count) modules", advice: "use a smaller rank",
                          targets.map { t in
                              let p = try host.projection(t.path)
                              return MemoryBudget.product(c.rankAndAlpha(forModule: t.path).rank, p.inFeatures + p.outFeatures)
                          })
        // Validate all before changing the model.
        var replacements: [(String, any LinearLayer)] = []
        for t in targets {
            let (rank, alpha) = c.rankAndAlpha(forModule: t.path)
            let lora = try LoRALinear.from(base: try host.projection(t.path), rank: rank,
                                           alpha: Float(alpha), dropout: Float(c.dropout), rsLoRA: c.useRSLoRA,
                                           generator: &generator)
            replacements.append((t.path, lora))
        }
        for (path, r) in replacements { try host.setProjection(path, to: r) }
        adapted = targets.map(\.path)

    case let .ia3(c):
        let targets = try host.resolve(method.placements.map(\.module), root: model)
        var replacements: [(String, any LinearLayer)] = []
        for t in targets {
            let isFF = c.isFeedforward(path: t.path, name: t.name)
            replacements.append((t.path, try IA3Linear.from(base: try host.projection(t.path),
                                                                     feedforward: isFF)))
        }
        for (path, r) in replacements { try host.setProjection(path, to: r) }
        adapted = targets.map(\.path)

    case let .adapter(c):
        // Series: the study's placement (after o and down, before gate and up); parallel: beside them.
        let placements: [(String, AdapterPlacement)] = method.placements.map { p in
            (p.module, p.kind == .branch ? .parallel : p.kind == .output ? .output : .input)
        }
        var replacements: [(String, any LinearLayer)] = []
        var paths: [String] = []
        try requireMemory(host, "an adapter of size \(c.bottleneckSize)", advice: "use a smaller size",
                          placements.map { _ in MemoryBudget.product(c.bottleneckSize, 2 * max(config.hiddenSize, config.intermediateSize),
                                                                    config.numHiddenLayers) })
        for (name, placement) in placements {
            for t in try host.resolve([name], root: model) {
                let layer = try AdapterLinear.from(base: try host.projection(t.path),
                                                   size: c.bottleneckSize, placement: placement,
                                                   activation: c.activation, scaling: Float(c.scaling),
                                                   dropout: Float(c.dropout), initStd: Float(c.initStd),
                                                   generator: &generator)
                replacements.append((t.path, layer))
                paths.append(t.path)
            }
        }
        for (path, r) in replacements { try host.setProjection(path, to: r) }
        adapted = paths

    case let .prefix(c):
        let meta = host.languageModel.embedTokens.weight.isMeta
        guard c.virtualTokens < config.maxPositionEmbeddings else {
            throw PEFTError.invalidValue(field: "prefix virtual tokens", detail: "\(c.virtualTokens) is not below the model's "
                                         + "max_position_embeddings \(config.maxPositionEmbeddings)")
        }
        let width = 2 * config.numHiddenLayers * config.kvDim
        let hidden = c.encoderHiddenSize ?? config.kvDim
        try requireMemory(host, "a prefix of \(c.virtualTokens) tokens", advice: "use fewer virtual tokens",
                          [MemoryBudget.product(c.virtualTokens, width),
                           c.projection ? MemoryBudget.product(hidden, MemoryBudget.sum(width, config.kvDim, c.virtualTokens)) : 0])
        let encoder = try PrefixEncoder(configuration: c, layers: config.numHiddenLayers, kvDim: config.kvDim,
                                        meta: meta, generator: &generator)
        // Every forward pass asks the encoder for each layer's virtual keys and values, so
        // gradients reach the prefix parameters.
        host.languageModel.prefixKeyValues = { try encoder.keyValues().layers }
        prefix = encoder

    case .full, .connectorOnly:
        break
    }

    // Trainable set: everything frozen (PEFT layers keep their own parameters), then the parts.
    model.freeze()
    host.visionTower?.freeze()
    if case .full = method {
        host.languageModel.unfreeze()
        host.lmHead.unfreeze()
    }
    if connectorMode == .tuned { host.connector?.unfreeze() }
    return PEFTAttachment(method: method, connector: connectorMode, adaptedModules: adapted, prefix: prefix,
                          languageModelPath: host.languageModelPath)
}

/// Refuses a method whose parameters (float counts per part) the machine cannot hold, before
/// they are allocated (a meta model, which allocates nothing, is never refused).
private func requireMemory(_ host: PEFTHost, _ request: String, advice: String, _ counts: [Int]) throws {
    if host.languageModel.embedTokens.weight.isMeta { return }
    let floats = counts.reduce(0) { MemoryBudget.sum($0, $1) }
    try MemoryBudget.require(MemoryBudget.product(floats, 4), for: request, advice: advice)
}

/// Puts the base projections back in place of every PEFT layer (unmerging LoRA and IA3 first).
public func detachAdapters(from model: any Module) throws {
    let host = try PEFTHost(model)
    host.languageModel.prefixKeyValues = nil
    for t in host.projections {
        switch try host.projection(t.path) {
        case let lora as LoRALinear: try host.setProjection(t.path, to: try lora.reverted())
        case let ia3 as IA3Linear: try host.setProjection(t.path, to: try ia3.reverted())
        case let adapter as AdapterLinear: try host.setProjection(t.path, to: adapter.reverted())
        default: break
        }
    }
}

/// Merges every LoRA and IA3 layer of a model into its base weights, in place.
public func mergeAdapters(in model: any Module) throws {
    for (path, module) in model.namedModules() {
        switch module {
        case let lora as LoRALinear: try lora.merge()
        case let ia3 as IA3Linear: try ia3.merge()
        case is AdapterLinear: throw PEFTError.unsupported("the adapter at \(path) has a non-linearity and cannot merge")
        default: break
        }
    }
}

/// Takes every merged LoRA and IA3 update back out of the base weights.
public func unmergeAdapters(in model: any Module) throws {
    for (_, module) in model.namedModules() {
        if let lora = module as? LoRALinear { try lora.unmerge() }
        if let ia3 = module as? IA3Linear { try ia3.unmerge() }
    }
}

/// Turns dropout of every PEFT layer on (training) or off (evaluation).
public func setAdapterTraining(_ training: Bool, in model: any Module) {
    for (_, module) in model.namedModules() {
        if let layer = module as? any PEFTLayer { layer.isTraining = training }
    }
}

/// PEFT layers that draw dropout masks from a generator of their own.
protocol AdapterDropout: AnyObject {
    var generator: RandomGenerator { get set }
}

extension LoRALinear: AdapterDropout {}
extension AdapterLinear: AdapterDropout {}

/// Gives every PEFT layer with dropout a generator split from `generator`, in module order, so
/// that a training step's masks depend on that generator alone, not on the steps before it
/// (a run resumed from a checkpoint then drops the same units).
public func seedAdapterDropout(in model: any Module, generator: inout RandomGenerator) {
    for (_, module) in model.namedModules() {
        if let layer = module as? any AdapterDropout { layer.generator = generator.split() }
    }
}
