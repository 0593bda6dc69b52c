// `peftlab bench model`: whole-model throughput at the tiny and small LLaVA shapes of
// DESIGN.md §5 — forward+backward of the loss with the whole LLM (and the projector)
// trainable and the vision tower frozen, in tokens/s, and greedy generation with the KV
// cache in new tokens/s. benchmarks/model_peer.py times the same in PyTorch + transformers.
import PEFTLib
import Foundation

/// One measured phase of the model benchmark.
public struct ModelBenchmarkRow: Sendable, Codable, Equatable {
    /// "tiny" or "small" (DESIGN.md §5).
    public let model: String
    /// "train full LLM" (forward+backward of the loss) or "generate" (greedy, KV cache).
    public let phase: String
    /// Rows in the batch.
    public let batch: Int
    /// Sequence length per row (image features included) for training; new tokens per row for generation.
    public let tokens: Int
    /// Median seconds of one step (one forward+backward, or one whole generate call).
    public let seconds: Double
    /// batch · tokens / seconds.
    public let tokensPerSecond: Double
}

/// The model benchmark of issue 4 (not a timed test: call `ModelBenchmark.run()`).
public enum ModelBenchmark {
    /// A benchmark shape: the llava-hf config and the batch.
    public struct Shape: Sendable {
        public let name: String
        public let config: LlavaConfig
        /// Rows per batch and text tokens per row (the begin token included).
        public let batch: Int, textTokens: Int
        /// Tokens per row once `<image>` is expanded: text tokens + image features.
        public var sequenceLength: Int { textTokens + config.imageFeatureCount }
    }

    /// DESIGN.md §5's shapes: projector hidden = text hidden, untied embeddings, features of
    /// layer −2 without the class token; `<image>` is the last vocabulary id.
    public static func shapes() throws -> [Shape] {
        let tinyVision = try CLIPVisionConfig(hiddenSize: 128, intermediateSize: 512, numHiddenLayers: 4,
                                              numAttentionHeads: 4, imageSize: 32, patchSize: 8)
        let tinyText = try LlamaConfig(hiddenSize: 256, intermediateSize: 688, numHiddenLayers: 4, numAttentionHeads: 4,
                                       numKeyValueHeads: 4, vocabSize: 1024, maxPositionEmbeddings: 512)
        let smallVision = try CLIPVisionConfig(hiddenSize: 384, intermediateSize: 1536, numHiddenLayers: 6,
                                               numAttentionHeads: 6, imageSize: 224, patchSize: 32)
        let smallText = try LlamaConfig(hiddenSize: 576, intermediateSize: 1536, numHiddenLayers: 30, numAttentionHeads: 9,
                                        numKeyValueHeads: 3, vocabSize: 49152, ropeTheta: 10000, maxPositionEmbeddings: 2048)
        return [
            Shape(name: "tiny", config: try LlavaConfig(visionConfig: tinyVision, textConfig: tinyText, imageTokenIndex: 1023),
                  batch: 8, textTokens: 48),
            Shape(name: "small", config: try LlavaConfig(visionConfig: smallVision, textConfig: smallText, imageTokenIndex: 49151),
                  batch: 4, textTokens: 79),
        ]
    }

    /// Deterministic batch: per row `[bos, <image>×features, text…]`, labels on the second half of the text.
    static func batch(for shape: Shape, seed: UInt64) throws -> (ids: [[Int]], labels: [[Int]], pixels: Tensor) {
        var rng = RandomGenerator(seed: seed)
        let config = shape.config, features = config.imageFeatureCount
        let text = shape.textTokens - 1
        guard text > 1 else { throw ModelError.invalidInput("\(shape.textTokens) text tokens are too few") }
        var ids: [[Int]] = [], labels: [[Int]] = []
        for _ in 0..<shape.batch {
            let words = (0..<text).map { _ in 3 + Int(rng.next() % UInt64(config.imageTokenIndex - 3)) }
            ids.append([1] + Array(repeating: config.imageTokenIndex, count: features) + words)
            labels.append(Array(repeating: -100, count: 1 + features + text / 2) + words[(text / 2)...])
        }
        let side = config.visionConfig.imageSize
        let pixels = try Tensor.normal([shape.batch, 3, side, side], generator: &rng)
        return (ids, labels, pixels)
    }

    /// Median of `repeats` timings of `body` after one warm-up call.
    static func medianSeconds(repeats: Int, _ body: () throws -> Void) rethrows -> Double {
        try body()
        var times: [Double] = []
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        return times.sorted()[times.count / 2]
    }

    /// Runs both phases on each shape.
    /// - Parameters:
    ///   - models: names of the shapes to run ("tiny", "small")
    ///   - threads: thread budget for the run (default: the current policy); restored afterwards
    ///   - repeats: timed steps per phase (median reported)
    ///   - newTokens: tokens generated per row
    public static func run(models: [String] = ["tiny", "small"], threads: Int? = nil, repeats: Int = 5,
                           newTokens: Int = 16) throws -> [ModelBenchmarkRow] {
        let previous = Threading.threads
        if let threads { Threading.setThreads(threads) }
        defer { Threading.setThreads(previous) }
        var rows: [ModelBenchmarkRow] = []
        for shape in try shapes() where models.contains(shape.name) {
            let model = try LlavaForConditionalGeneration(config: shape.config, initialization: .random(seed: 1))
            model.model.visionTower.freeze()
            let (ids, labels, pixels) = try batch(for: shape, seed: 2)
            let train = try medianSeconds(repeats: repeats) {
                let loss = try model.loss(inputIds: ids, pixelValues: pixels, labels: labels)
                try loss.backward()
                model.zeroGradients()
            }
            let trained = shape.batch * shape.sequenceLength
            rows.append(ModelBenchmarkRow(model: shape.name, phase: "train full LLM", batch: shape.batch,
                                          tokens: shape.sequenceLength, seconds: train,
                                          tokensPerSecond: Double(trained) / train))
            let prompts = ids.map { Array($0.prefix(shape.sequenceLength - newTokens)) }
            let generate = try medianSeconds(repeats: max(1, repeats / 2)) {
                _ = try model.generate(prompts: prompts, pixelValues: pixels, maxNewTokens: newTokens, endTokens: [])
            }
            rows.append(ModelBenchmarkRow(model: shape.name, phase: "generate", batch: shape.batch, tokens: newTokens,
                                          seconds: generate, tokensPerSecond: Double(shape.batch * newTokens) / generate))
        }
        return rows
    }
}

// MARK: - Training steps per method

/// The methods of the training benchmark (DESIGN.md §5), each with the connector and the
/// vision tower frozen.
public enum BenchmarkMethod: String, CaseIterable, Sendable, Codable {
    case full
    case loraQV = "lora-qv"
    case loraAll = "lora-all"
    case ia3
    case adapter
    case prefix

    /// How the benchmark table names it.
    public var label: String {
        switch self {
        case .full: return "full LLM"
        case .loraQV: return "LoRA r8 q,v"
        case .loraAll: return "LoRA r8 all"
        case .ia3: return "IA3 k,v,down"
        case .adapter: return "Adapter 64"
        case .prefix: return "Prefix 20"
        }
    }

    /// The PEFT method: LoRA r 8, α 16, dropout 0.05; IA3 on k, v, down; a 64-wide adapter at
    /// the study's MLP placement; 20 prefix tokens without the reparameterisation MLP.
    public func method() throws -> PEFTMethod {
        switch self {
        case .full: return .full
        case .loraQV: return try .lora(rank: 8, alpha: 16, dropout: 0.05, on: .modules(["q_proj", "v_proj"]))
        case .loraAll: return try .lora(rank: 8, alpha: 16, dropout: 0.05, on: .both)
        case .ia3: return .ia3(on: .both)
        case .adapter: return try .adapter(size: 64, on: .mlp)
        case .prefix: return try .prefix(tokens: 20)
        }
    }
}

/// One training-step measurement: a whole optimizer step (forward, backward, AdamW).
public struct TrainingBenchmarkRow: Sendable, Codable, Equatable {
    public let model: String
    /// A `BenchmarkMethod` raw value.
    public let method: String
    public let batch: Int
    /// Tokens per row, image features included.
    public let tokens: Int
    public let trainableParameters: Int
    /// Median seconds of one step.
    public let seconds: Double
    /// batch · tokens / seconds.
    public let tokensPerSecond: Double
    /// The process's peak resident set size when the steps are done, in bytes.
    public let peakResidentBytes: Int
    /// Peak bytes of live tensor storage (parameters, activations, gradients, optimizer
    /// state excluded: it lives in arrays): RSS minus this is runtime and allocator overhead.
    public var peakTensorBytes: Int? = nil
}

extension ModelBenchmark {
    /// Times whole training steps of one method on one shape: the loss, its backward, AdamW
    /// (lr 1e-4) and clearing the gradients. Run it in a fresh process for a meaningful
    /// peak memory (`peftlab bench train` does).
    public static func trainingStep(model name: String, method: BenchmarkMethod, threads: Int? = nil,
                                    repeats: Int = 5) throws -> TrainingBenchmarkRow {
        let previous = Threading.threads
        if let threads { Threading.setThreads(threads) }
        defer { Threading.setThreads(previous) }
        guard let shape = try shapes().first(where: { $0.name == name }) else {
            throw ModelError.invalidInput("no benchmark shape '\(name)'; shapes: tiny, small")
        }
        let model = try LlavaForConditionalGeneration(config: shape.config, initialization: .random(seed: 1))
        let attachment = try attach(method: try method.method(), to: model, connector: .frozen, seed: 3)
        setAdapterTraining(true, in: model)
        let trainable = attachment.trainableParameters(in: model)
        let optimizer = AdamW(groups: [ParameterGroup(name: "all", parameters: trainable.map { ($0.path, $0.tensor) },
                                                      learningRate: 1e-4)])
        let (ids, labels, pixels) = try batch(for: shape, seed: 2)
        let seconds = try medianSeconds(repeats: repeats) {
            let loss = try model.loss(inputIds: ids, pixelValues: pixels, labels: labels)
            try loss.backward()
            optimizer.step(learningRateFactor: 1)
            optimizer.zeroGradients()
        }
        let tokens = shape.batch * shape.sequenceLength
        return TrainingBenchmarkRow(model: name, method: method.rawValue, batch: shape.batch, tokens: shape.sequenceLength,
                                    trainableParameters: trainable.reduce(0) { $0 + $1.tensor.count },
                                    seconds: seconds, tokensPerSecond: Double(tokens) / seconds,
                                    peakResidentBytes: peakResidentBytes(), peakTensorBytes: TensorMemory.peakBytes)
    }

    /// The process's peak resident set size in bytes (getrusage; Linux reports kilobytes).
    public static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }
}
