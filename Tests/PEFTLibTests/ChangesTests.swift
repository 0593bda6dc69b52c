// changes(_:attachment:probe:): what a method moved, per layer and module — zero for a fresh
// LoRA (B = 0) and a fresh IA3 (ones), non-zero after training exactly where the method sits;
// adapters by their output on a probe batch or by the bound on their gain; prefixes per layer.

import Foundation
import PEFTLib
import Testing

@Suite("changes: what training moved")
struct ChangesTests {
    private func setting(_ method: PEFTMethod) throws -> (LlavaForConditionalGeneration, PEFTAttachment, LlavaSupervisedTask) {
        let examples = TestLlava.examples(.vqav2, count: 8)
        let tokenizer = try TestLlava.tokenizer(for: examples)
        let llava = try TestLlava.model(for: tokenizer)
        let attachment = try attach(method: method, to: llava, seed: 3)
        let task = try LlavaSupervisedTask(model: llava, tokenizer: tokenizer, examples: examples, batchSize: 4,
                                           preprocessor: TestLlava.preprocessor, attachment: attachment)
        return (llava, attachment, task)
    }

    private func values(_ table: Table) throws -> [Double] { try table.column("value").compactMap(\.number) }
    private func modules(_ table: Table) throws -> Set<String> { Set(try table.column("module").map(\.description)) }

    @Test("a fresh LoRA moves nothing; after training, exactly its targets have moved")
    func lora() throws {
        let (llava, attachment, task) = try setting(try .lora(rank: 4, alpha: 8, dropout: 0, on: .modules(["q_proj", "v_proj"])))
        let fresh = try changes(llava, attachment: attachment)
        #expect(fresh.columns == ["layer", "module", "measure", "value"])
        #expect(fresh.count == 4, "2 layers × q_proj, v_proj")
        #expect(try values(fresh).allSatisfy { $0 == 0 })
        #expect(try fresh.column("measure").allSatisfy { $0.description == ChangeMeasure.loraUpdate })

        try TrainingRun(task: task, configuration: TrainingConfiguration(learningRate: 1e-2, scheduledSteps: 3)).train(steps: 3)
        let trained = try changes(llava, attachment: attachment)
        #expect(try modules(trained) == ["q_proj", "v_proj"])
        #expect(try values(trained).allSatisfy { $0 > 0 })
        #expect(try trained.column("layer") == [.int(0), .int(0), .int(1), .int(1)])
        // The value is the norm of the update itself.
        let q0 = llava.model.languageModel.layers[0].selfAttn.qProj as! LoRALinear
        let expected = try q0.deltaWeight().toArray().reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(abs(try values(trained)[0] - expected) < 1e-9 * max(1, expected))
    }

    @Test("IA3: zero while its vectors are ones, the distance from ones after")
    func ia3() throws {
        let (llava, attachment, task) = try setting(.ia3())
        let fresh = try changes(llava, attachment: attachment)
        #expect(fresh.count == 6)
        #expect(try modules(fresh) == ["k_proj", "v_proj", "down_proj"])
        #expect(try values(fresh).allSatisfy { $0 == 0 })
        try TrainingRun(task: task, configuration: TrainingConfiguration(learningRate: 1e-2, scheduledSteps: 2)).train(steps: 2)
        #expect(try values(changes(llava, attachment: attachment)).allSatisfy { $0 > 0 })
    }

    @Test("adapters: the mean output norm on a probe batch, or the gain bound without one")
    func adapter() throws {
        let (llava, attachment, task) = try setting(try .adapter(size: 8, on: .mlp))
        let bound = try changes(llava, attachment: attachment)
        #expect(bound.count == 6)
        #expect(try modules(bound) == ["gate_proj", "up_proj", "down_proj"])
        #expect(try bound.column("measure").allSatisfy { $0.description == ChangeMeasure.adapterGainBound })
        let down = llava.model.languageModel.layers[0].mlp.downProj as! AdapterLinear
        func norm(_ t: Tensor) -> Double { t.toArray().reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }
        let expected = norm(down.adapterUp.weight) * norm(down.adapterDown.weight)
        let row = try bound.filter("layer", equals: .int(0)).filter("module", equals: .text("down_proj"))
        #expect(abs((row.rows[0][3].number ?? 0) - expected) < 1e-9)

        let probed = try changes(llava, attachment: attachment, probe: { try task.probe(examples: 4) })
        #expect(try probed.column("measure").allSatisfy { $0.description == ChangeMeasure.adapterOutput })
        #expect(try values(probed).allSatisfy { $0 > 0 && $0.isFinite })
        let again = try changes(llava, attachment: attachment, probe: { try task.probe(examples: 4) })
        #expect(try values(again) == values(probed), "the probe is deterministic and leaves nothing behind")
        #expect(down.namedParameters().allSatisfy { $0.tensor.grad == nil })
    }

    @Test("prefix-tuning: the norms of every layer's virtual keys and values")
    func prefix() throws {
        let (llava, attachment, _) = try setting(try .prefix(tokens: 5, projection: false))
        let table = try changes(llava, attachment: attachment)
        #expect(table.count == 4)
        #expect(try modules(table) == ["prefix keys", "prefix values"])
        #expect(try values(table).allSatisfy { $0 > 0 })
    }

    @Test("full fine-tuning has no PEFT layers to measure")
    func full() throws {
        let (llava, attachment, _) = try setting(.full)
        #expect(throws: PEFTError.self) { try changes(llava, attachment: attachment) }
    }
}
