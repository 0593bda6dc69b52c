// The grounding stage of the tiny-llava recipe, between vision pretraining and alignment:
// the connector learns to turn each patch of the frozen tower into a token that reads, to the
// language model, like the words for what it shows — the object's kind and colour, and the
// row and column of the image it lies in — as LLaVA's connector maps CLIP features (trained
// against text) near the words a pretrained LLM already knows.
//
// Why: in tiny-llava v2's first attempts the language model learned to describe scenes but
// answered "Is there a cup?" from the word alone (a prior per kind: "plate" yes, "apple" no,
// whatever the image), and "Where is the X?" at chance. Finding the patches that show the
// named object is a lookup keyed by a word; when a cup's patches already look like the word
// "cup", that lookup is the matching of equal tokens, which attention learns early, instead
// of a bilinear map between two unrelated spaces that a prior answers first.
//
// The loss, per patch: a cross-entropy of the projected feature's dot products with the input
// embeddings of the 17 kind words (and a learned "no object" vector), of the 6 colour words
// (object patches only), of "left", "center", "right" (the patch's column third) and of
// "top", "middle", "bottom" (its row third). The connector and those embedding rows train; the
// "no object" vector is discarded after this stage.

/// The grounding stage as a training task, on the vision stage's labelled images.
final class GroundingTask: TrainingTask {
    let model: LlavaForConditionalGeneration
    let samples: [LabelledPatches]
    let preprocessor: CLIPPreprocessorConfig
    let batchSize: Int
    /// Token ids of the kind, colour, column and row words, in label order.
    let kindWords: [Int], colourWords: [Int], columnWords: [Int], rowWords: [Int]
    /// The "no object" class of the kind cross-entropy, (1, D).
    let background: Tensor

    static let columnNames = ["left", "center", "right"], rowNames = ["top", "middle", "bottom"]

    /// - Throws: when the tokenizer lacks one of the words
    init(model: LlavaForConditionalGeneration, tokenizer: Tokenizer, samples: [LabelledPatches],
         preprocessor: CLIPPreprocessorConfig, batchSize: Int, seed: UInt64) throws {
        self.model = model
        self.samples = samples
        self.preprocessor = preprocessor
        self.batchSize = batchSize
        func ids(_ words: [String]) throws -> [Int] {
            try words.map { word in
                guard let id = tokenizer.id(for: word) else {
                    throw ModelError.invalidInput("grounding: the tokenizer has no token for \"\(word)\"")
                }
                return id
            }
        }
        kindWords = try ids(MiniObject.allCases.map(\.name))
        colourWords = try ids(MiniColour.allCases.map(\.rawValue))
        columnWords = try ids(Self.columnNames)
        rowWords = try ids(Self.rowNames)
        var rng = RandomGenerator(seed: seed &+ 0x4752_4F55_4E44)
        background = try Tensor.normal([1, model.config.textConfig.hiddenSize], std: 0.02, generator: &rng, requiresGrad: true)
    }

    var exampleCount: Int { samples.count }

    func trainableParameters() -> [(name: String, tensor: Tensor, group: String)] {
        model.model.multiModalProjector.namedParameters().map {
            ("model.multi_modal_projector." + $0.path, $0.tensor, $0.tensor.rank == 1 ? "no decay" : "decay")
        } + [("model.language_model.embed_tokens.weight", model.model.languageModel.embedTokens.weight, "no decay"),
             ("head.background", background, "no decay")]
    }

    func loss(examples indices: [Int], generator: inout RandomGenerator) throws -> (loss: Tensor, tokens: Int) {
        let batch = indices.map { samples[$0] }
        let features = try model.imageFeatures(pixelValues: try preprocessor.pixelValues(batch.map(\.image)))  // (N, P, D)
        let (n, patches, width) = (features.shape[0], features.shape[1], features.shape[2])
        let side = Int(Double(patches).squareRoot().rounded())
        let flat = try features.reshaped([n * patches, width])
        let table = model.model.languageModel.embedTokens.weight
        let ignore = SupervisedTokens.ignoreIndex
        func words(_ ids: [Int]) throws -> Tensor { try embedding(ids, table: table) }
        // Kind: 0 is "no object"; the vision stage's unlabelled patches (−100) stay unlabelled.
        let kind = try crossEntropy(try linear(flat, weight: try concat([background, try words(kindWords)])),
                                    targets: batch.flatMap(\.kind))
        let colour = try crossEntropy(try linear(flat, weight: try words(colourWords)),
                                      targets: batch.flatMap { $0.colour.map { $0 > 0 ? $0 - 1 : ignore } })
        let thirds = (0..<patches).map { p in (column: (p % side) * 3 / side, row: (p / side) * 3 / side) }
        let column = try crossEntropy(try linear(flat, weight: try words(columnWords)),
                                      targets: Array((0..<n).map { _ in thirds.map(\.column) }.joined()))
        let row = try crossEntropy(try linear(flat, weight: try words(rowWords)),
                                   targets: Array((0..<n).map { _ in thirds.map(\.row) }.joined()))
        return (try kind + colour + column + row, n * patches)
    }
}

extension GroundingTask {
    /// How well the connector's tokens still read as their words (a diagnostic of a checkpoint):
    /// per patch, whether the closest of the kind words (object patches only), of the colour words
    /// (object patches), of the column words and of the row words is the right one, on
    /// `samples`. Without the "no object" vector, which only the grounding stage has.
    func accuracy(on probe: [LabelledPatches]) throws -> (kind: Double, colour: Double, column: Double, row: Double) {
        try withNoGrad {
            var hits = [0, 0, 0, 0], totals = [0, 0, 0, 0]
            let table = model.model.languageModel.embedTokens.weight
            for start in stride(from: 0, to: probe.count, by: batchSize) {
                let batch = Array(probe[start..<min(start + batchSize, probe.count)])
                let features = try model.imageFeatures(pixelValues: try preprocessor.pixelValues(batch.map(\.image)))
                let (n, patches, width) = (features.shape[0], features.shape[1], features.shape[2])
                let side = Int(Double(patches).squareRoot().rounded())
                let flat = try features.reshaped([n * patches, width])
                func closest(_ ids: [Int]) throws -> [Int] { try linear(flat, weight: try embedding(ids, table: table)).argmax() }
                let (kinds, colours) = (try closest(kindWords), try closest(colourWords))
                let (columns, rows) = (try closest(columnWords), try closest(rowWords))
                for (b, s) in batch.enumerated() {
                    for p in 0..<patches {
                        let i = b * patches + p
                        if s.kind[p] > 0 { totals[0] += 1; hits[0] += kinds[i] == s.kind[p] - 1 ? 1 : 0 }
                        if s.colour[p] > 0 { totals[1] += 1; hits[1] += colours[i] == s.colour[p] - 1 ? 1 : 0 }
                        totals[2] += 1; hits[2] += columns[i] == (p % side) * 3 / side ? 1 : 0
                        totals[3] += 1; hits[3] += rows[i] == (p / side) * 3 / side ? 1 : 0
                    }
                }
            }
            let rate = (0..<4).map { Double(hits[$0]) / Double(max(totals[$0], 1)) }
            return (rate[0], rate[1], rate[2], rate[3])
        }
    }
}
