// LLaVA (`LlavaForConditionalGeneration` in transformers, llava-hf layout): CLIP vision tower →
// hidden state `vision_feature_layer` (−2) without the class token → multi_modal_projector
// (linear_1 → GELU → linear_2, LLaVA-1.5's mlp2x_gelu) → the image features replace the
// `<image>` tokens of the text embeddings → Llama decoder → lm_head.
//
// Parameter paths are those transformers ≥ 5 uses in memory: `model.vision_tower.…` (no
// `vision_model.`), `model.multi_modal_projector.…`, `model.language_model.…`, `lm_head.weight`.
// Loading also accepts what save_pretrained writes (`language_model.model.…`,
// `language_model.lm_head.weight`, `vision_tower.…`, `multi_modal_projector.…`) and the
// transformers 4 Hub checkpoints (`vision_tower.vision_model.…`).
//
// Image tokens: transformers ≥ 4.48 expects ids with `<image>` already repeated once per image
// feature (the processor expands it). PEFTLib accepts both that and a single `<image>` per image,
// which it expands to `imageFeatureCount` positions; labels are −100 on every image position.

import Foundation

// MARK: - Projector

/// LLaVA-1.5's connector: linear_2(act(linear_1(x))).
public final class LlavaMultiModalProjector: Module {
    public var linear1: any LinearLayer   // linear_1: vision hidden → text hidden
    public var linear2: any LinearLayer   // linear_2: text hidden → text hidden
    public let activation: HiddenActivation

    init(config: LlavaConfig, factory: inout ParameterFactory) throws {
        linear1 = try Linear(config.projectorInputSize, config.projectorHiddenSize,
                             bias: config.multimodalProjectorBias, factory: &factory)
        linear2 = try Linear(config.projectorHiddenSize, config.projectorHiddenSize,
                             bias: config.multimodalProjectorBias, factory: &factory)
        activation = config.projectorHiddenAct
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [] }
    public var children: [(key: String, module: any Module)] { [("linear_1", linear1), ("linear_2", linear2)] }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try linear2(activate(linear1(x), activation))     // (N, P, text hidden)
    }
}

// MARK: - Model

/// The `model` part: vision tower, projector and language model.
public final class LlavaModel: Module {
    public let visionTower: CLIPVisionModel                   // vision_tower
    public let multiModalProjector: LlavaMultiModalProjector  // multi_modal_projector
    public let languageModel: LlamaModel                      // language_model

    init(config: LlavaConfig, factory: inout ParameterFactory) throws {
        visionTower = try CLIPVisionModel(config: config.visionConfig, factory: &factory)
        multiModalProjector = try LlavaMultiModalProjector(config: config, factory: &factory)
        languageModel = try LlamaModel(config: config.textConfig, factory: &factory)
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [] }
    public var children: [(key: String, module: any Module)] {
        [("vision_tower", visionTower), ("multi_modal_projector", multiModalProjector),
         ("language_model", languageModel)]
    }
}

/// LLaVA with its LM head.
///
///     let llava = try LlavaForConditionalGeneration.load(directory: "tiny-llava")
///     let loss = try llava.loss(inputIds: ids, pixelValues: pixels, labels: labels)
///     try loss.backward()
public final class LlavaForConditionalGeneration: Module {
    public let config: LlavaConfig
    public let model: LlavaModel             // model
    public var lmHead: any LinearLayer       // lm_head

    /// Builds the model from its config: random weights, or shapes only (`.meta`).
    public init(config: LlavaConfig, initialization: ModelInitialization = .random(seed: 0)) throws {
        self.config = config
        var factory = ParameterFactory(initialization)
        model = try LlavaModel(config: config, factory: &factory)
        lmHead = config.textConfig.tieWordEmbeddings
            ? Linear(weight: model.languageModel.embedTokens.weight)
            : try Linear(config.textConfig.hiddenSize, config.textConfig.vocabSize, bias: false, factory: &factory)
    }

    public var localParameters: [(key: String, tensor: Tensor)] { [] }
    public var children: [(key: String, module: any Module)] { [("model", model), ("lm_head", lmHead)] }

    /// Features per image in the text sequence (576 for LLaVA-1.5).
    public var imageFeatureCount: Int { config.imageFeatureCount }

    // MARK: Loading

    /// Loads config.json and the safetensors weights (one file or shards) from a Hugging Face model folder.
    /// - Parameter config: the folder's config.json when the caller has read it already
    public static func load(directory: String, config known: LlavaConfig? = nil) throws -> LlavaForConditionalGeneration {
        let config: LlavaConfig
        if let known { config = known } else {
            guard case let .llava(read) = try ModelConfig.load(path: directory) else {
                throw ModelError.invalidInput("'\(directory)' does not hold a LlavaForConditionalGeneration config")
            }
            config = read
        }
        let model = try LlavaForConditionalGeneration(config: config, initialization: .random(seed: 0))
        try model.load(from: try checkpointFiles(directory))
        return model
    }

    /// Loads weights in any of the three layouts (see the file header).
    public func load(from file: SafetensorsFile) throws { try load(from: [file]) }

    /// Loads weights from the shards of one checkpoint, in any of the three layouts.
    public func load(from files: [SafetensorsFile]) throws {
        let tied = config.textConfig.tieWordEmbeddings
        try load(from: files) { key in
            let path = Self.parameterPath(forCheckpointKey: key)
            if path.hasSuffix("position_ids") || path.hasSuffix("rotary_emb.inv_freq") { return nil }
            if tied && path == "lm_head.weight" { return nil }
            return path
        }
    }

    /// The parameter path of a checkpoint key written by transformers 4 or 5.
    public static func parameterPath(forCheckpointKey key: String) -> String {
        let rules: [(String, String)] = [
            ("language_model.model.", "model.language_model."),
            ("language_model.lm_head.", "lm_head."),
            ("model.vision_tower.vision_model.", "model.vision_tower."),
            ("vision_tower.vision_model.", "model.vision_tower."),
            ("vision_tower.", "model.vision_tower."),
            ("multi_modal_projector.", "model.multi_modal_projector."),
        ]
        for (old, new) in rules where key.hasPrefix(old) { return new + key.dropFirst(old.count) }
        return key
    }

    /// The key of a parameter path in the transformers 4 llava-hf layout (checkpoints on the Hub).
    public static func legacyCheckpointKey(forParameterPath path: String) -> String {
        let rules: [(String, String)] = [
            ("model.language_model.", "language_model.model."),
            ("lm_head.", "language_model.lm_head."),
            ("model.vision_tower.", "vision_tower.vision_model."),
            ("model.multi_modal_projector.", "multi_modal_projector."),
        ]
        for (new, old) in rules where path.hasPrefix(new) { return old + path.dropFirst(new.count) }
        return path
    }

    // MARK: Image features and inputs

    /// Projected image features: pixels (N, C, H, W) → (N, features, text hidden).
    public func imageFeatures(pixelValues: Tensor) throws -> Tensor {
        let h = try model.visionTower.hiddenState(pixelValues: pixelValues, layer: config.visionFeatureLayer) // (N, P + 1, Dv)
        let selected = config.visionFeatureSelectStrategy == .default
            ? try h.sliced(1..<h.shape[1], axis: 1)                                                          // (N, P, Dv)
            : h
        return try model.multiModalProjector(selected)                                                       // (N, P, D)
    }

    /// Rows with every image as `imageFeatureCount` consecutive `<image>` tokens. A run of exactly
    /// that many tokens is one pre-expanded image; any other `<image>` is a placeholder to expand.
    /// Masks gain 1s and labels −100 at the inserted positions; rows must stay one length.
    public func expandImageTokens(_ ids: [[Int]], attentionMask: [[Int]]? = nil, labels: [[Int]]? = nil) throws
        -> (ids: [[Int]], attentionMask: [[Int]]?, labels: [[Int]]?) {
        let image = config.imageTokenIndex, features = imageFeatureCount
        var outIds: [[Int]] = [], outMask: [[Int]] = [], outLabels: [[Int]] = []
        for (r, row) in ids.enumerated() {
            var newIds: [Int] = [], newMask: [Int] = [], newLabels: [Int] = []
            var i = 0
            while i < row.count {
                let mask = attentionMask?[r][i] ?? 1
                if row[i] == image {
                    var run = 0
                    while i + run < row.count, row[i + run] == image { run += 1 }
                    let preExpanded = run % features == 0
                    let take = preExpanded ? features : 1
                    newIds += Array(repeating: image, count: features)
                    newMask += Array(repeating: mask, count: features)
                    newLabels += Array(repeating: -100, count: features)
                    i += take
                } else {
                    newIds.append(row[i]); newMask.append(mask); newLabels.append(labels?[r][i] ?? -100)
                    i += 1
                }
            }
            outIds.append(newIds); outMask.append(newMask); outLabels.append(newLabels)
        }
        guard Set(outIds.map(\.count)).count <= 1 else {
            throw ModelError.invalidInput("after expanding <image>, rows differ in length (\(outIds.map(\.count))): give every row the same number of images")
        }
        return (outIds, attentionMask == nil ? nil : outMask, labels == nil ? nil : outLabels)
    }

    /// Input embeddings (B, T, D) for expanded ids: token embeddings with the image features of
    /// `pixelValues`' images, in order, at the `<image>` positions.
    func inputEmbeddings(flatIds ids: [Int], batch b: Int, length t: Int, pixelValues: Tensor?) throws -> Tensor {
        try inputEmbeddings(flatIds: ids, batch: b, length: t, images: pixelValues.map { .pixels($0) })
    }

    /// The images of a forward pass: pixels for the vision tower and projector, or their output.
    enum ImageInput {
        /// (N, C, H, W)
        case pixels(Tensor)
        /// (N, features, text hidden), already projected
        case features(Tensor)

        var name: String {
            if case .pixels = self { return "pixel values" }
            return "image features"
        }
    }

    /// Input embeddings (B, T, D) for expanded ids, with the features of `images`, in order, at
    /// the `<image>` positions.
    func inputEmbeddings(flatIds ids: [Int], batch b: Int, length t: Int, images: ImageInput?) throws -> Tensor {
        try requireWeights(model.languageModel.embedTokens.weight)
        let lm = model.languageModel
        let image = config.imageTokenIndex
        let imagePositions = ids.indices.filter { ids[$0] == image }
        guard !imagePositions.isEmpty else {
            if let images { throw ModelError.invalidInput("\(images.name) given but the ids hold no <image> token") }
            return try lm.embedTokens(ids, shape: [b, t])                                     // (B, T, D)
        }
        let features: Tensor                                                                  // (N, P, D)
        switch images {
        case nil:
            throw ModelError.invalidInput("the ids hold <image> tokens but no pixel values were given")
        case .pixels(let pixelValues)?:
            features = try imageFeatures(pixelValues: pixelValues)
        case .features(let given)?:
            let width = config.textConfig.hiddenSize
            guard given.rank == 3, given.shape[1] == imageFeatureCount, given.shape[2] == width else {
                throw ModelError.invalidInput("image features must be (N, \(imageFeatureCount), \(width)), found \(given.shape)")
            }
            features = given
        }
        let (n, p, d) = (features.shape[0], features.shape[1], features.shape[2])
        guard imagePositions.count == n * p else {
            throw ModelError.invalidInput("\(imagePositions.count) <image> positions but \(n) image(s) of \(p) features")
        }
        var textIds: [Int] = [], source = [Int](repeating: 0, count: ids.count)
        var imageIndex = 0
        for (i, id) in ids.enumerated() {
            if id == image { source[i] = -1 - imageIndex; imageIndex += 1 } else { source[i] = textIds.count; textIds.append(id) }
        }
        let textCount = textIds.count
        let text = try lm.embedTokens(textIds)                                                 // (nText, D)
        let all = try concat([text, features.reshaped([n * p, d])], axis: 0)                   // (nText + N·P, D)
        let rows = source.map { $0 >= 0 ? $0 : textCount + (-1 - $0) }
        return try selectRows(all, rows).reshaped([b, t, d])                                   // (B, T, D)
    }

    // MARK: Forward

    /// Logits for every position (after `<image>` expansion).
    /// - Parameters:
    ///   - inputIds: B rows of token ids with `<image>` (expanded or not)
    ///   - pixelValues: (N, C, H, W), one image per `<image>`, in row order; nil for text only
    ///   - attentionMask: B rows of 1 (real) / 0 (padding)
    /// - Returns: (B, T, V) with T the expanded length
    public func logits(inputIds: [[Int]], pixelValues: Tensor?, attentionMask: [[Int]]? = nil) throws -> Tensor {
        let expanded = try expandImageTokens(inputIds, attentionMask: attentionMask)
        let (b, t) = try rectangularShape(expanded.ids, name: "input ids")
        let x = try inputEmbeddings(flatIds: Array(expanded.ids.joined()), batch: b, length: t, pixelValues: pixelValues)
        let h = try model.languageModel(embeddings: x, keyMask: try flatMask(expanded.attentionMask, b, t))
        return try lmHead(h)                                                                    // (B, T, V)
    }

    /// Training loss: mean next-token cross-entropy over labelled positions (labels shifted by
    /// one as transformers does, −100 ignored, image positions never supervised). Logits are
    /// computed only for the labelled positions.
    public func loss(inputIds: [[Int]], pixelValues: Tensor?, attentionMask: [[Int]]? = nil,
                     labels: [[Int]]) throws -> Tensor {
        try loss(inputIds: inputIds, images: pixelValues.map { .pixels($0) }, attentionMask: attentionMask, labels: labels)
    }

    /// The training loss from image features computed beforehand (`imageFeatures(pixelValues:)`,
    /// e.g. cached while the vision tower and the connector are frozen): no gradient reaches
    /// the vision tower or the connector through them.
    /// - Parameter imageFeatures: (N, features, text hidden), one image per `<image>`, in row order
    public func loss(inputIds: [[Int]], imageFeatures: Tensor?, attentionMask: [[Int]]? = nil,
                     labels: [[Int]]) throws -> Tensor {
        try loss(inputIds: inputIds, images: imageFeatures.map { .features($0) }, attentionMask: attentionMask,
                 labels: labels)
    }

    func loss(inputIds: [[Int]], images: ImageInput?, attentionMask: [[Int]]?, labels: [[Int]]) throws -> Tensor {
        guard labels.count == inputIds.count, zip(labels, inputIds).allSatisfy({ $0.count == $1.count }) else {
            throw ModelError.invalidInput("labels must have the shape of the input ids")
        }
        let expanded = try expandImageTokens(inputIds, attentionMask: attentionMask, labels: labels)
        let (b, t) = try rectangularShape(expanded.ids, name: "input ids")
        let x = try inputEmbeddings(flatIds: Array(expanded.ids.joined()), batch: b, length: t, images: images)
        let h = try model.languageModel(embeddings: x, keyMask: try flatMask(expanded.attentionMask, b, t))
        return try causalLMLoss(hidden: h, labels: expanded.labels!, head: lmHead)
    }

    /// Greedy decoding with a KV cache for prompts holding `<image>` (one image per `<image>`).
    /// Prompts of different lengths are left-padded with `padTokenId`.
    /// - Returns: the new tokens of each row, each ending at its first end token if one came.
    public func generate(prompts: [[Int]], pixelValues: Tensor?, maxNewTokens: Int, endTokens: Set<Int>? = nil,
                         padTokenId: Int? = nil, useCache: Bool = true) throws -> [[Int]] {
        let expanded = try prompts.map { try expandImageTokens([$0]).ids[0] }
        let padded = leftPad(expanded, pad: padTokenId ?? config.padTokenId ?? 0)
        return try greedyGenerate(languageModel: model.languageModel, head: lmHead, prefill: { ids, b, t in
            try self.inputEmbeddings(flatIds: ids, batch: b, length: t, pixelValues: pixelValues)
        }, prompts: padded.ids, mask: padded.mask, maxNewTokens: maxNewTokens,
           endTokens: endTokens ?? Set(config.textConfig.eosTokenIds), useCache: useCache)
    }
}
