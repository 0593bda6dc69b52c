// LlavaSupervisedTask: tokenisation, labels, right padding and truncation; parameter groups
// and the connector's own learning rate; cached image features; bit-identical runs and
// resumes (dropout included); a few steps on a tiny random LLaVA reduce the loss.

import Foundation
import PEFTLib
import Testing

@Suite("LLaVA supervised training")
struct LlavaTrainingTests {
    private func task(_ examples: [VQAExample], model: LlavaForConditionalGeneration? = nil, batch: Int = 4,
                      maxLength: Int? = nil) throws -> (LlavaSupervisedTask, Tokenizer) {
        let tokenizer = try TestLlava.tokenizer(for: examples)
        let llava = try model ?? TestLlava.model(for: tokenizer)
        let task = try LlavaSupervisedTask(model: llava, tokenizer: tokenizer, examples: examples, batchSize: batch,
                                           preprocessor: TestLlava.preprocessor, maxLength: maxLength)
        return (task, tokenizer)
    }

    /// A LLaVA JSON file with one image record and one two-turn text-only record.
    private func llavaRecords() throws -> [LlavaRecord] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("peftlab-records-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try RGBImage(width: 40, height: 30, fill: RGB(200, 30, 30)).writePNG(to: dir.appendingPathComponent("red.png").path)
        let json = #"""
        [{"id": "r1", "image": "red.png", "conversations": [{"from": "human", "value": "What colour is it?\n<image>"},
                                                            {"from": "gpt", "value": "red"}]},
         {"id": "t2", "conversations": [{"from": "human", "value": "Say one word."}, {"from": "gpt", "value": "hello"},
                                        {"from": "human", "value": "Another one?"}, {"from": "gpt", "value": "world"},
                                        {"from": "human", "value": "unanswered"}]}]
        """#
        let file = dir.appendingPathComponent("data.json")
        try Data(json.utf8).write(to: file)
        return try LlavaDataset(json: file.path, images: dir.path).records
    }

    @Test("examples from LLaVA records: placeholder removed, turns paired, a trailing question dropped")
    func examplesFromRecords() throws {
        let records = try llavaRecords()
        let examples = records.map { VQAExample($0) }
        #expect(examples[0].question == "What colour is it?" && examples[0].answer == "red" && examples[0].image != nil)
        #expect(examples[1].turns == [VQATurn(question: "Say one word.", answer: "hello"),
                                      VQATurn(question: "Another one?", answer: "world")])
        #expect(examples[1].image == nil)
        let mini = VQAExample(MiniDataset(.sqa, split: .train, size: 1, imageSize: 32)[0])
        #expect(!mini.question.contains("<image>") && mini.format == .optionLetter && mini.options.count == 4)
        #expect(VQAExample.removingImagePlaceholder("<image>\nHow many?") == "How many?")
    }

    @Test("rows: image expanded, labels only on answers and end tokens, right padding with pad / 0 / -100")
    func tokenisationAndPadding() throws {
        let examples = try llavaRecords().map { VQAExample($0) }
        let (task, tokenizer) = try task(examples)
        let features = task.model.imageFeatureCount
        let image = task.sequences[0], text = task.sequences[1]
        #expect(image.inputIDs.first == TestLlava.bos)
        #expect(image.inputIDs.filter { $0 == TestLlava.image }.count == features)
        #expect(!text.inputIDs.contains(TestLlava.image))
        func supervised(_ s: SupervisedTokens) -> String {
            tokenizer.decode(zip(s.inputIDs, s.labels).filter { $0.1 != -100 }.map(\.0), skipSpecialTokens: false)
        }
        #expect(supervised(image) == "red </s>")
        #expect(supervised(text) == "hello </s> world </s>")
        for s in [image, text] {
            for (id, label) in zip(s.inputIDs, s.labels) where label != -100 { #expect(label == id) }
        }
        let prompt = try LlavaChatTemplate().encodePrompt(question: "What colour is it?", tokenizer: tokenizer)
        #expect(Array(image.inputIDs.prefix(prompt.count + features - 1))
                == prompt.flatMap { $0 == TestLlava.image ? Array(repeating: $0, count: features) : [$0] })

        let batch = task.batch(examples: [1, 0])
        let width = max(image.inputIDs.count, text.inputIDs.count)
        #expect(batch.inputIds.allSatisfy { $0.count == width })
        #expect(batch.imageExamples == [0])
        let short = image.inputIDs.count < text.inputIDs.count ? 1 : 0   // row of the shorter sequence
        let real = [text, image][short].inputIDs.count
        #expect(batch.inputIds[short].suffix(width - real).allSatisfy { $0 == TestLlava.pad })
        #expect(batch.attentionMask[short] == Array(repeating: 1, count: real) + Array(repeating: 0, count: width - real))
        #expect(batch.labels[short].suffix(width - real).allSatisfy { $0 == -100 })
        #expect(batch.attentionMask[1 - short].allSatisfy { $0 == 1 })

        var generator = RandomGenerator(seed: 0)
        let (loss, tokens) = try task.loss(examples: [1, 0], generator: &generator)
        #expect(tokens == image.inputIDs.count + text.inputIDs.count)   // every real position, no padding
        #expect(try loss.item().isFinite)
    }

    @Test("truncation keeps the start and cuts the end; an answer past the limit is an error naming the example")
    func truncation() throws {
        let examples = try llavaRecords().map { VQAExample($0) }
        let (full, _) = try task(examples)
        let length = full.sequences[0].inputIDs.count       // the image record is the longer one
        #expect(full.sequences[1].inputIDs.count < length - 1 && full.truncatedExamples.isEmpty)
        let (cut, _) = try task(examples, maxLength: length - 1)
        #expect(cut.sequences[0].inputIDs == Array(full.sequences[0].inputIDs.dropLast()))
        #expect(cut.sequences[0].labels == Array(full.sequences[0].labels.dropLast()))
        #expect(cut.sequences[1] == full.sequences[1])
        #expect(cut.truncatedExamples == ["r1"])
        do {
            _ = try task(examples, maxLength: 20)   // the 16 image features and the prompt leave no room for "red"
            Issue.record("an example without a supervised token must be refused")
        } catch {
            #expect("\(error)".contains("r1") && "\(error)".contains("max length 20"))
        }
    }

    @Test("groups: connector, no decay (1-D), decay; only trainable parameters; the connector gets its own rate")
    func connectorLearningRate() throws {
        let examples = TestLlava.examples(.vqav2, count: 8)
        let (task, _) = try task(examples)
        try attach(method: .lora(try LoRAConfiguration(rank: 4, alpha: 8, targets: .modules(["q_proj", "v_proj"]))),
                   to: task.model, connector: .tuned)
        let parameters = task.trainableParameters()
        #expect(parameters.count == task.model.trainableParameters().count)
        #expect(parameters.allSatisfy { $0.tensor.requiresGrad })
        for p in parameters {
            let expected = p.name.hasPrefix("model.multi_modal_projector.") ? "connector" : p.tensor.rank == 1 ? "no decay" : "decay"
            #expect(p.group == expected, "\(p.name)")
        }
        #expect(parameters.filter { $0.group == "connector" }.count == 4)                  // linear_1/2 weight + bias
        #expect(parameters.filter { $0.group == "decay" }.allSatisfy { $0.name.contains("lora_") })
        #expect(!task.cachesImageFeatures)

        // SGD, constant rate, no clipping: each parameter moves by −rate · gradient.
        let configuration = TrainingConfiguration(learningRate: 0.5, connectorLearningRate: 0.01, schedule: .constant,
                                                  scheduledSteps: 1, maxGradientNorm: nil, optimizer: .sgd)
        let run = TrainingRun(task: task, configuration: configuration)
        let groups = Dictionary(uniqueKeysWithValues: run.optimizer.groups.map { ($0.name, $0) })
        #expect(groups["connector"]?.learningRate == 0.01)
        #expect(groups["decay"]?.learningRate == 0.5)
        #expect(groups["connector"]?.parameters.allSatisfy { $0.name.hasPrefix("model.multi_modal_projector.") } == true)

        let connector = task.model.model.multiModalProjector.linear2.namedParameters().first { $0.path == "weight" }!.tensor
        let lora = try #require(task.model.namedParameters().first { $0.path.hasSuffix("v_proj.lora_B.weight") }?.tensor)
        var generator = RandomGenerator(seed: 0)
        let (loss, _) = try task.loss(examples: run.examples(microBatch: 0), generator: &generator)
        try loss.backward()
        let (gc, gl) = (try #require(connector.grad).toArray(), try #require(lora.grad).toArray())
        task.model.zeroGradients()
        let (c0, l0) = (connector.toArray(), lora.toArray())
        try run.train(steps: 1)
        let (c1, l1) = (connector.toArray(), lora.toArray())
        #expect(gc.contains { $0 != 0 } && gl.contains { $0 != 0 })
        for i in c0.indices { #expect(abs((c0[i] - c1[i]) - 0.01 * gc[i]) <= 1e-6 + 1e-4 * abs(0.01 * gc[i])) }
        for i in l0.indices { #expect(abs((l0[i] - l1[i]) - 0.5 * gl[i]) <= 1e-6 + 1e-4 * abs(0.5 * gl[i])) }
    }

    @Test("frozen vision tower and connector: cached features give the loss of the pixels")
    func cachedFeatures() throws {
        let examples = TestLlava.examples(.vqav2, count: 6)
        let (task, _) = try task(examples)
        var generator = RandomGenerator(seed: 0)
        let fromPixels = try task.loss(examples: [0, 1, 2], generator: &generator).loss.item()   // everything trains
        try attach(method: .lora(try LoRAConfiguration(rank: 4, alpha: 8)), to: task.model, connector: .frozen)
        #expect(task.cachesImageFeatures)
        let cached = try task.loss(examples: [0, 1, 2], generator: &generator).loss.item()
        let again = try task.loss(examples: [2, 1, 0], generator: &generator).loss.item()
        #expect(abs(cached - fromPixels) < 1e-4)
        #expect(abs(again - cached) < 1e-4)

        let batch = task.batch(examples: [0, 1])
        let pixels = try TestLlava.preprocessor.pixelValues([examples[0].image!, examples[1].image!])
        let features = try withNoGrad { try task.model.imageFeatures(pixelValues: pixels) }
        let a = try task.model.loss(inputIds: batch.inputIds, pixelValues: pixels, attentionMask: batch.attentionMask,
                                    labels: batch.labels).item()
        let b = try task.model.loss(inputIds: batch.inputIds, imageFeatures: features, attentionMask: batch.attentionMask,
                                    labels: batch.labels).item()
        #expect(abs(a - b) < 1e-5)
        #expect(throws: ModelError.self) {
            _ = try task.model.loss(inputIds: batch.inputIds, imageFeatures: try features.sliced(0..<1, axis: 1),
                                    attentionMask: batch.attentionMask, labels: batch.labels)
        }
    }

    private func freshRun(seed: UInt64, examples: [VQAExample]) throws -> TrainingRun {
        let (task, _) = try task(examples, batch: 3)
        try attach(method: .lora(try LoRAConfiguration(rank: 4, alpha: 8, dropout: 0.2)), to: task.model, connector: .tuned)
        return TrainingRun(task: task, configuration: TrainingConfiguration(
            learningRate: 2e-3, connectorLearningRate: 1e-3, weightDecay: 0.01, schedule: .cosine(warmupRatio: 0.1),
            scheduledSteps: 10, gradientAccumulation: 2, seed: seed))
    }

    @Test("the same seed gives bit-identical losses; a resumed run continues exactly (dropout on)")
    func determinism() throws {
        let examples = TestLlava.examples(.iconqaBlank, count: 9)
        let a = try freshRun(seed: 5, examples: examples), b = try freshRun(seed: 5, examples: examples)
        let c = try freshRun(seed: 6, examples: examples)
        try a.train(steps: 4); try b.train(steps: 4); try c.train(steps: 4)
        #expect(a.history.map(\.loss) == b.history.map(\.loss))
        #expect(a.history.map(\.loss) != c.history.map(\.loss))

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("peftlab-llava-\(UInt32.random(in: 0...UInt32.max)).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = try freshRun(seed: 5, examples: examples)
        try first.train(steps: 2)
        try first.save(to: path)
        let resumed = try freshRun(seed: 5, examples: examples)
        try resumed.resume(from: path)
        try resumed.train(steps: 2)
        #expect(resumed.history.map(\.loss) == a.history.map(\.loss))
    }

    @Test("a few steps on a small fixed mini-suite set reduce the loss")
    func lossGoesDown() throws {
        let examples = TestLlava.examples(.vqav2, count: 16)
        // With the frozen head and final norm of a model drawn at std 0.02, logits stay within about ±1.3
        // whatever LoRA does; std 0.1 leaves room for confident answers.
        let model = try TestLlava.model(for: try TestLlava.tokenizer(for: examples), std: 0.1)
        let (task, _) = try task(examples, model: model, batch: 8)
        try attach(method: .lora(try LoRAConfiguration(rank: 8, alpha: 16)), to: task.model, connector: .tuned)
        let run = TrainingRun(task: task, configuration: TrainingConfiguration(
            learningRate: 5e-3, connectorLearningRate: 5e-3, schedule: .constant, scheduledSteps: 40, seed: 1))
        try run.train(steps: 40)
        let losses = run.history.map(\.loss)
        let start = losses.prefix(3).reduce(0, +) / 3, end = losses.suffix(3).reduce(0, +) / 3
        #expect(end < 0.4 * start, "losses: \(losses)")
    }
}
