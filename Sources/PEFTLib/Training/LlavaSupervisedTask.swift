// Supervised fine-tuning of a LLaVA model on VQA examples: the TrainingTask that
// TrainingRun drives. Each example is tokenised once with the LLaVA v1 template (labels on
// the answers and their end tokens only), its `<image>` expanded to the model's feature count
// and its image preprocessed once; a micro-batch right-pads the rows (pad id, mask 0,
// labels −100). While neither the vision tower nor the connector trains, the projected
// features of each image are computed once (one image at a time, so a cached value never
// depends on the batch it first appeared in) and reused at every epoch.
//
// Truncation: sequences longer than `maxLength` positions (image features included) lose
// their end, as LLaVA's tokenizer truncates on the right; an example whose first answer
// would lose every supervised token is an error naming it.

import Foundation

/// One right-padded micro-batch of a `LlavaSupervisedTask`.
public struct LlavaBatch: Sendable, Equatable {
    /// Rows of ids with every `<image>` expanded, right-padded with the pad id.
    public var inputIds: [[Int]]
    /// 1 on real tokens, 0 on padding.
    public var attentionMask: [[Int]]
    /// The answer tokens and end tokens; −100 elsewhere (prompt, image, padding).
    public var labels: [[Int]]
    /// The examples (indices into the task's examples) whose images the rows hold, in row order.
    public var imageExamples: [Int]
}

/// Trains a LLaVA model on question–answer examples (`TrainingRun(task:configuration:)`).
///
///     let task = try LlavaSupervisedTask(model: llava, tokenizer: tokenizer,
///                                        examples: MiniDataset(.vqav2, split: .train).examples,
///                                        batchSize: 8, preprocessor: CLIPPreprocessorConfig(imageSize: 64))
///     let run = TrainingRun(task: task, configuration: TrainingConfiguration(scheduledSteps: 300))
///     try run.train(steps: 300)
public final class LlavaSupervisedTask: TrainingTask {
    public let model: LlavaForConditionalGeneration
    public let examples: [VQAExample]
    public let batchSize: Int
    public let preprocessor: CLIPPreprocessorConfig
    /// Most positions of one row, image features included.
    public let maxLength: Int
    /// The id that pads rows on the right.
    public let padTokenId: Int
    /// Prefix-tuning's encoder (from the attachment), trained beside the model's parameters.
    public let attachment: PEFTAttachment?
    /// Per example: expanded ids and labels, after truncation.
    public let sequences: [SupervisedTokens]
    /// Ids of the examples cut at `maxLength`.
    public let truncatedExamples: [String]

    private var pixelCache: [Int: Tensor] = [:]      // example → (1, 3, H, W)
    private var featureCache: [Int: Tensor] = [:]    // example → (1, features, text hidden)

    public var exampleCount: Int { examples.count }

    /// The path prefix of the connector's parameters, trained in the "connector" group.
    public static let connectorPrefix = "model.multi_modal_projector."

    /// Tokenises every example.
    /// - Parameters:
    ///   - tokenizer: must know the template's image token, with the model's `image_token_index`
    ///   - maxLength: most positions per row, image features included (default: the text model's
    ///     `max_position_embeddings`, less the prefix's virtual tokens)
    ///   - attachment: what `attach` returned; needed for prefix-tuning, whose parameters live
    ///     outside the model's tree
    /// - Throws: for an example without a turn, an example whose answer lies past `maxLength`,
    ///   an image token the model does not use, or a prefix-tuned model without its attachment.
    public init(model: LlavaForConditionalGeneration, tokenizer: Tokenizer,
                template: LlavaChatTemplate = LlavaChatTemplate(), examples: [VQAExample], batchSize: Int,
                preprocessor: CLIPPreprocessorConfig, maxLength: Int? = nil,
                attachment: PEFTAttachment? = nil) throws {
        guard batchSize > 0 else { throw ModelError.invalidInput("batch size must be positive, got \(batchSize)") }
        guard !examples.isEmpty else { throw ModelError.invalidInput("training needs at least one example") }
        if model.model.languageModel.prefixKeyValues != nil && attachment?.prefix == nil {
            throw ModelError.invalidInput("the model has a prefix attached: pass its attachment so that the prefix trains")
        }
        let imageID = model.config.imageTokenIndex
        if examples.contains(where: { $0.image != nil }), let id = tokenizer.id(for: template.imageToken), id != imageID {
            throw ModelError.invalidInput("the tokenizer's \(template.imageToken) is id \(id), the model's image_token_index \(imageID)")
        }
        self.model = model
        self.examples = examples
        self.batchSize = batchSize
        self.preprocessor = preprocessor
        self.attachment = attachment
        let limit = maxLength ?? (model.config.textConfig.maxPositionEmbeddings - (attachment?.prefix?.virtualTokens ?? 0))
        guard limit > 1 else { throw ModelError.invalidInput("max length must be at least 2, got \(limit)") }
        self.maxLength = limit
        padTokenId = tokenizer.specialTokens.pad ?? model.config.padTokenId ?? model.config.textConfig.padTokenId
            ?? tokenizer.specialTokens.eos ?? 0

        let features = model.imageFeatureCount
        var sequences: [SupervisedTokens] = [], truncated: [String] = []
        for example in examples {
            guard !example.turns.isEmpty else {
                throw DataError.malformed(file: "<examples>", record: example.id, reason: "no question–answer turn to train on")
            }
            let encoded = try template.encode(turns: example.turns.map { ($0.question, $0.answer) }, tokenizer: tokenizer,
                                              image: example.image != nil)
            var ids: [Int] = [], labels: [Int] = []
            for (id, label) in zip(encoded.inputIDs, encoded.labels) {
                if id == imageID && example.image != nil {
                    ids += Array(repeating: imageID, count: features)
                    labels += Array(repeating: SupervisedTokens.ignoreIndex, count: features)
                } else {
                    ids.append(id); labels.append(label)
                }
            }
            if ids.count > limit {
                let firstAnswer = labels.firstIndex { $0 != SupervisedTokens.ignoreIndex } ?? ids.count
                guard firstAnswer < limit else {
                    throw DataError.malformed(file: "<examples>", record: example.id, reason:
                        "its answer starts at position \(firstAnswer) (image features included), past the max length "
                        + "\(limit); raise maxLength or shorten the question")
                }
                ids.removeLast(ids.count - limit); labels.removeLast(labels.count - limit)
                truncated.append(example.id)
            }
            sequences.append(SupervisedTokens(inputIDs: ids, labels: labels))
        }
        self.sequences = sequences
        truncatedExamples = truncated
        let longest = sequences.map(\.inputIDs.count).max() ?? 0
        try MemoryBudget.require(Self.estimatedStepBytes(model: model, batch: batchSize, length: longest),
                                 for: "a training step of batch \(batchSize) × \(longest) positions",
                                 advice: "use a smaller batch (with accumulation: to keep the effective batch)")
    }

    /// Bytes one forward and backward keeps alive, roughly: per position and layer the
    /// activations autodiff saves (norms, projections, attention rows, the MLP), the logits
    /// with their gradient, and for every parameter a gradient and two optimizer moments.
    static func estimatedStepBytes(model: LlavaForConditionalGeneration, batch: Int, length: Int) -> Int {
        let t = model.config.textConfig
        let perLayer = MemoryBudget.sum(MemoryBudget.product(t.hiddenSize, 16), MemoryBudget.product(t.intermediateSize, 6),
                                        MemoryBudget.product(t.numAttentionHeads, length, 3))
        let perPosition = MemoryBudget.sum(MemoryBudget.product(perLayer, t.numHiddenLayers), MemoryBudget.product(t.vocabSize, 3))
        let activations = MemoryBudget.product(batch, length, perPosition, 4)
        let trainable = model.namedParameters().filter { $0.tensor.requiresGrad }.reduce(0) { $0 + $1.tensor.count }
        return MemoryBudget.sum(activations, MemoryBudget.product(trainable, 12))
    }

    // MARK: Parameters

    /// Parameters that require grad: under `model.multi_modal_projector.` → "connector", 1-D
    /// tensors (norms, biases, IA3 vectors) → "no decay", the rest → "decay". Prefix-tuning's
    /// parameters are named `prompt_encoder.…`.
    public func trainableParameters() -> [(name: String, tensor: Tensor, group: String)] {
        let parameters = attachment?.trainableParameters(in: model) ?? model.trainableParameters()
        return parameters.map { name, tensor in
            let group = name.hasPrefix(Self.connectorPrefix) ? "connector" : tensor.rank == 1 ? "no decay" : "decay"
            return (name, tensor, group)
        }
    }

    /// True while neither the vision tower nor the connector trains: the loss then reuses each
    /// image's projected features.
    public var cachesImageFeatures: Bool {
        !model.model.visionTower.namedParameters().contains { $0.tensor.requiresGrad }
            && !model.model.multiModalProjector.namedParameters().contains { $0.tensor.requiresGrad }
    }

    /// Forgets the cached pixels and features (after loading other vision or connector weights).
    public func clearImageCaches() {
        pixelCache.removeAll()
        featureCache.removeAll()
    }

    // MARK: Batches

    /// The right-padded rows of `examples` (indices into `examples`).
    public func batch(examples indices: [Int]) -> LlavaBatch {
        let rows = indices.map { sequences[$0] }
        let width = rows.map(\.inputIDs.count).max() ?? 0
        var batch = LlavaBatch(inputIds: [], attentionMask: [], labels: [], imageExamples: [])
        for (index, row) in zip(indices, rows) {
            let padding = width - row.inputIDs.count
            batch.inputIds.append(row.inputIDs + Array(repeating: padTokenId, count: padding))
            batch.attentionMask.append(Array(repeating: 1, count: row.inputIDs.count) + Array(repeating: 0, count: padding))
            batch.labels.append(row.labels + Array(repeating: SupervisedTokens.ignoreIndex, count: padding))
            if examples[index].image != nil { batch.imageExamples.append(index) }
        }
        return batch
    }

    public func loss(examples indices: [Int], generator: inout RandomGenerator) throws -> (loss: Tensor, tokens: Int) {
        let batch = batch(examples: indices)
        seedAdapterDropout(in: model, generator: &generator)
        // Throughput counts every position the model processes (image features included), not padding.
        let tokens = batch.attentionMask.reduce(0) { $0 + $1.reduce(0, +) }
        let images = batch.imageExamples
        let loss: Tensor
        if images.isEmpty {
            loss = try model.loss(inputIds: batch.inputIds, pixelValues: nil, attentionMask: batch.attentionMask,
                                  labels: batch.labels)
        } else if cachesImageFeatures {
            let features = try concat(images.map(imageFeatures), axis: 0)              // (N, P, D)
            loss = try model.loss(inputIds: batch.inputIds, imageFeatures: features, attentionMask: batch.attentionMask,
                                  labels: batch.labels)
        } else {
            featureCache.removeAll()   // the features are changing: never reuse ones computed before
            let pixels = try concat(images.map(pixelValues), axis: 0)                  // (N, 3, H, W)
            loss = try model.loss(inputIds: batch.inputIds, pixelValues: pixels, attentionMask: batch.attentionMask,
                                  labels: batch.labels)
        }
        return (loss, tokens)
    }

    /// Example `index`'s preprocessed image, (1, 3, H, W), computed once.
    private func pixelValues(_ index: Int) throws -> Tensor {
        if let cached = pixelCache[index] { return cached }
        guard let image = examples[index].image else {
            throw ModelError.invalidInput("example \(examples[index].id) has no image")
        }
        let pixels = try preprocessor.pixelValues([image])
        pixelCache[index] = pixels
        return pixels
    }

    /// Example `index`'s projected image features, (1, P, D), computed once; the pixels are
    /// not kept once the features are.
    private func imageFeatures(_ index: Int) throws -> Tensor {
        if let cached = featureCache[index] { return cached }
        let pixels = try pixelValues(index)
        let features = try withNoGrad { try model.imageFeatures(pixelValues: pixels) }
        featureCache[index] = features
        pixelCache[index] = nil
        return features
    }
}
