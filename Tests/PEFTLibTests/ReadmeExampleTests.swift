// The README's "PEFTLib from Swift" example, run as written on a small llava-hf model,
// so the documented vocabulary stays the library's.

import Foundation
import PEFTLib
import Testing

@Suite("README example")
struct ReadmeExampleTests {
    @Test("load, attach LoRA with a tuned connector, report, save in the PEFT layout")
    func example() throws {
        let directory = try #require(Bundle.module.url(forResource: "llava-gqa", withExtension: nil, subdirectory: "Fixtures/models")).path
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("readme-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: output) }

        let model = try LlavaForConditionalGeneration.load(directory: directory)
        let attached = try attach(method: .lora(), to: model, connector: .tuned)
        let report = trainableParameterReport(model, attachment: attached)
        try saveAdapter(model, attachment: attached, to: output + "/lora")

        #expect(report.count > 0)
        #expect(model.trainableParameters().contains { $0.path.contains("lora_A") })
        #expect(model.trainableParameters().contains { $0.path.hasPrefix("model.multi_modal_projector.") })
        #expect(!model.trainableParameters().contains { $0.path.hasPrefix("model.vision_tower.") })
        let files = try FileManager.default.contentsOfDirectory(atPath: output + "/lora").sorted()
        #expect(files == ["adapter_config.json", "adapter_model.safetensors"])
    }
}
