// train, run.train, evaluate, ask, save and load(adapter:on:) in the language, on a small
// random LLaVA written to a folder with a WordLevel tokenizer over the mini suite's text.

import Foundation
import PEFTLib
import Runtime
import Synchronization
import Testing

/// A small LLaVA in the llava-hf layout (32-pixel images, two layers each side), written once.
let modelFolder: String = {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("peftlab-runtime-llava-\(getpid())").path
    var builder = WordLevelBuilder()
    for text in TinyLlava.corpus() { builder.add(text) }
    let vocabulary = builder.vocabulary.count
    let vision = try! CLIPVisionConfig(hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 2,
                                       imageSize: 32, patchSize: 8)
    let text = try! LlamaConfig(hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 2,
                                vocabSize: vocabulary, maxPositionEmbeddings: 256, bosTokenId: 2, eosTokenIds: [3], padTokenId: 1)
    let config = try! LlavaConfig(visionConfig: vision, textConfig: text, imageTokenIndex: 4, padTokenId: 1)
    try! LlavaForConditionalGeneration(config: config, initialization: .random(seed: 5)).save(directory: folder)
    try! Data(builder.tokenizerJSON().utf8).write(to: URL(fileURLWithPath: folder + "/tokenizer.json"))
    try! Data(builder.tokenizerConfigJSON(maxLength: 256).utf8).write(to: URL(fileURLWithPath: folder + "/tokenizer_config.json"))
    try! JSONEncoder().encode(CLIPPreprocessorConfig(imageSize: 32))
        .write(to: URL(fileURLWithPath: folder + "/preprocessor_config.json"))
    return folder
}()

/// Cells with `base`, `trainSet` and `testSet` bound (the small LLaVA of `modelFolder`).
func prepared() -> Cells {
    let c = Cells()
    c.value("""
        let base = load("\(modelFolder)")
        let trainSet = dataset("mini-vqav2", split: .train, size: 12, imageSize: 32)
        let testSet = dataset("mini-vqav2", split: .test, size: 6, imageSize: 32)
        """)
    return c
}

/// Interrupts the session at its first display (the first progress update of a long cell).
private final class InterruptAtFirstDisplay: OutputSink, @unchecked Sendable {
    let session: Session
    let displays = Mutex(0)
    init(_ session: Session) { self.session = session }
    func write(_ text: String, to stream: OutputStreamName) {}
    func display(_ bundle: MIMEBundle, id: String?, update: Bool) {
        if displays.withLock({ $0 += 1; return $0 }) == 1 { session.interrupt() }
    }
    func clearOutput(wait: Bool) {}
}

@Suite("Training built-ins")
struct TrainingBuiltinsTests {
    @Test("train, continue, evaluate, ask, save and load the adapter back")
    func workflow() throws {
        let c = prepared()
        c.value("let tuned = attach(base, lora(rank: 4, alpha: 8, on: .both), connector: .tuned)")
        #expect(c.value("base.method") == "nil", "attach works on a copy; the base stays a base")
        let output = RecordingOutput()
        c.value("let run = train(tuned, on: trainSet, steps: 3, batch: 4, lr: 1e-3)", output: output)
        #expect(output.events.contains { if case .display(_, _?, true) = $0 { return true } else { return false } },
                "the progress display is updated in place")
        #expect(c.value("run.step") == "3")
        c.value("run.train(steps: 2)")
        #expect(c.value("run.step") == "5")
        #expect(c.value("run.loss.count") == "5")
        let table = c.value("evaluate(run, on: testSet)")
        #expect(table.contains("mini-vqav2") && table.contains("vqa-score"))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("peftlab-run-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        c.value("save(run, \"\(folder)\")")
        #expect(FileManager.default.fileExists(atPath: folder + "/adapter_config.json"))
        c.value("let again = load(adapter: \"\(folder)\", on: base)")
        #expect(c.value("again.method") == "\"lora\"")
        #expect(c.value("""
            ask(run, image: testSet[0].image, "What colour is the moon?") == ask(again, image: testSet[0].image, "What colour is the moon?")
            """) == "true")
    }

    @Test("the same seed gives the same losses; another seed other ones")
    func determinism() {
        let c = prepared()
        c.value("""
            let a = train(attach(base, ia3()), on: trainSet, steps: 3, batch: 4, lr: 1e-2, seed: 7)
            let b = train(attach(base, ia3()), on: trainSet, steps: 3, batch: 4, lr: 1e-2, seed: 7)
            let d = train(attach(base, ia3()), on: trainSet, steps: 3, batch: 4, lr: 1e-2, seed: 8)
            """)
        #expect(c.value("a.loss == b.loss") == "true")
        #expect(c.value("a.loss == d.loss") == "false")
    }

    @Test("an interrupt stops training at a step boundary: the cell fails as interrupted (the queue stops), the run is kept")
    func interrupt() {
        let c = prepared()
        c.value("let tuned = attach(base, lora(rank: 4))")
        let result = c.session.execute("let run = train(tuned, on: trainSet, steps: 1000, batch: 2)",
                                       output: InterruptAtFirstDisplay(c.session))
        #expect(result.error?.name == "Interrupted")
        #expect(result.error?.message.contains("the run keeps its") == true)
        let steps = Int(c.value("run.step")) ?? -1
        #expect(steps >= 1 && steps < 1000)
        c.value("run.train(steps: 1)")
        #expect(c.value("run.step") == String(steps + 1))
    }

    @Test("compare: one row per run, stored at once; run again, it skips what is done")
    func compareStoresRuns() throws {
        let c = prepared()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("peftlab-compare-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cell = """
            compare(methods: [lora(rank: 2), ia3()], connector: [.frozen], on: testSet, model: base, steps: 2, batch: 4,
                    trainSize: 8, runs: "\(folder)/runs.jsonl").count
            """
        #expect(c.value(cell) == "2")
        #expect(c.value(cell.replacingOccurrences(of: ".count", with: ".columns")) == """
            ["method", "size", "location", "connector", "dataset", "group", "seed", "trainSize", "epoch", "steps", "metric", \
            "score", "share", "tokensPerSecond", "seconds"]
            """)
        let lines = try String(contentsOfFile: folder + "/runs.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(c.value(cell) == "2")
        #expect(try String(contentsOfFile: folder + "/runs.jsonl", encoding: .utf8).split(separator: "\n").count == 2,
                "nothing was run twice")
    }

    @Test("mistakes get errors that say what to do", arguments: [
        ("train(base, on: trainSet, steps: 1)", "attach"),
        ("train(attach(base, lora()), on: trainSet, steps: 0, batch: 0)", "batch"),
        ("let r = train(attach(base, lora()), on: trainSet, steps: 2, schedule: .cosine)\nr.train(steps: 1)", "schedule"),
        ("train(attach(base, lora()), on: trainSet, steps: 3, lr: 1e30, clip: 0)", "not finite"),
        ("model(\"tiny-lava\")", "tiny-llava"),
        ("save(base, \"/tmp/x\")", "no method"),
        ("evaluate(load(config: \"\(modelFolder)/config.json\"), on: testSet)", "config alone"),
    ])
    func errors(code: String, phrase: String) {
        let message = prepared().error(code).message
        #expect(message.contains(phrase), "\(message)")
    }
}
