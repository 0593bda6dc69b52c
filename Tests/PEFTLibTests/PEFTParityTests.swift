// Parity with Hugging Face peft (tools/make_peft_fixtures.py): on the same tiny random Llama and
// inputs, the adapters peft saved (LoRA on q,v and on all seven, IA3 on k, v, down) and the
// bottleneck Adapter's PyTorch reference load through `loadAdapter`, and the loss and the gradient
// of every trainable parameter match within 1e-3 relative.

import Foundation
import Testing
import PEFTLib

private struct Expected: Decodable {
    let loss: Double
    let input_ids: [[Int]]
    let labels: [[Int]]
}

@Suite struct PEFTParityTests {
    private func fixtures() throws -> URL {
        try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures/peft"))
    }

    private func check(_ name: String) throws {
        let root = try fixtures()
        let model = try LlamaForCausalLM.load(directory: root.appendingPathComponent("base").path)
        let folder = root.appendingPathComponent(name)
        let attachment = try loadAdapter(from: folder.path, into: model)
        setAdapterTraining(false, in: model)
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: folder.appendingPathComponent("expected.json")))
        let reference = try SafetensorsFile(path: folder.appendingPathComponent("expected.safetensors").path)
        let loss = try model.loss(inputIds: expected.input_ids, labels: expected.labels)
        try loss.backward()
        let lossError = abs(Double(try loss.item()) - expected.loss) / abs(expected.loss)
        #expect(lossError < 1e-5, "\(name) loss")
        let trainable = model.trainableParameters()
        let gradKeys = reference.names.filter { $0.hasPrefix("grad.") }
        #expect(trainable.count == gradKeys.count, "\(name): \(trainable.count) trainable, \(gradKeys.count) in the reference")
        var worst = 0.0
        for (path, tensor) in trainable {
            let key = "grad.base_model.model." + path
            let want = try reference.floats(key)
            let got = try #require(tensor.grad, "\(path) has no gradient").toArray()
            let scale = Double(want.map { abs($0) }.max() ?? 0)
            let difference = Double(zip(got, want).map { abs($0 - $1) }.max() ?? 0)
            let relative = difference / max(scale, 1e-12)
            worst = max(worst, relative)
            #expect(relative < 1e-3, "\(name) \(path): relative error \(relative)")
        }
        print("\(name): \(attachment.adaptedModules.count) modules, \(trainable.count) tensors, loss rel. error \(lossError), worst gradient rel. error \(worst)")
    }

    @Test func loraQV() throws { try check("lora-qv") }
    @Test func loraAllSeven() throws { try check("lora-all") }
    @Test func ia3KVDown() throws { try check("ia3") }
    @Test func adapterMLP() throws { try check("adapter-mlp") }
    // peft's own options, in files Python peft wrote.
    @Test func loraRankStabilised() throws { try check("lora-rslora") }
    @Test func loraRankAndAlphaPatterns() throws { try check("lora-patterns") }
    @Test func ia3RegexTargets() throws { try check("ia3-regex") }
}
