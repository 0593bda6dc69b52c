// The trainable-parameter report against the study's Table 15: LLaVA-1.5-7B built from its config
// alone (meta mode), the study's settings, shares to three decimals and the exact added counts.

import Foundation
import Testing
import PEFTLib

@Suite struct PEFTReportTests {
    private func llava7B() throws -> LlavaForConditionalGeneration {
        let url = try #require(Bundle.module.url(forResource: "llava-1.5-7b-config", withExtension: "json",
                                                 subdirectory: "Fixtures"))
        guard case let .llava(config) = try ModelConfig.load(path: url.path) else {
            throw ModelError.invalidInput("not a LLaVA config")
        }
        return try LlavaForConditionalGeneration(config: config, initialization: .meta)
    }

    private func percent(_ s: TrainableParameterSummary) -> String { String(format: "%.3f", 100 * s.share) }

    @Test func baseCountAndProjector() throws {
        let model = try llava7B()
        #expect(model.parameterCount == 7_063_427_072)
        #expect(model.model.multiModalProjector.parameterCount == 20_979_712)
    }

    @Test func loraAllSeven() throws {
        let model = try llava7B()
        let a = try attach(method: .lora(LoRAConfiguration.study), to: model, connector: .frozen)
        let s = trainableParameterSummary(model, attachment: a)
        #expect(s.added == 319_815_680)
        #expect(s.trainable == 319_815_680)
        #expect(s.base == 7_063_427_072)
        #expect(percent(s) == "4.332")
        #expect(a.adaptedModules.count == 32 * 7)
    }

    @Test func adapterMLPPlacement() throws {
        let model = try llava7B()
        let a = try attach(method: .adapter(AdapterConfiguration.study), to: model)
        let s = trainableParameterSummary(model, attachment: a)
        #expect(s.added == 201_326_592)
        #expect(percent(s) == "2.771")
        let withConnector = try llava7B()
        let b = try attach(method: .adapter(AdapterConfiguration.study), to: withConnector, connector: .tuned)
        let t = trainableParameterSummary(withConnector, attachment: b)
        #expect(t.trainable == 201_326_592 + 20_979_712)
        #expect(percent(t) == "3.060")
    }

    @Test func ia3WithConnector() throws {
        let model = try llava7B()
        let a = try attach(method: .ia3(IA3Configuration.study), to: model, connector: .tuned)
        let s = trainableParameterSummary(model, attachment: a)
        #expect(s.added == 614_400)
        #expect(s.trainable == 614_400 + 20_979_712)
        #expect(percent(s) == "0.306")
    }

    @Test func prefixWithAndWithoutConnector() throws {
        let model = try llava7B()
        let a = try attach(method: .prefix(PrefixConfiguration.study), to: model)
        let s = trainableParameterSummary(model, attachment: a)
        #expect(s.added == 5_242_880)
        #expect(percent(s) == "0.074")
        let withConnector = try llava7B()
        let b = try attach(method: .prefix(PrefixConfiguration.study), to: withConnector, connector: .tuned)
        #expect(percent(trainableParameterSummary(withConnector, attachment: b)) == "0.371")
    }

    @Test func baselines() throws {
        let model = try llava7B()
        try attach(method: .connectorOnly, to: model)
        #expect(model.trainableParameterCount == 20_979_712)
        let full = try llava7B()
        try attach(method: .full, to: full)
        #expect(full.trainableParameterCount == 6_738_939_904)
        #expect(full.trainableParameters().allSatisfy { !$0.path.hasPrefix("model.vision_tower") })
    }

    @Test func reportTable() throws {
        let model = try llava7B()
        let a = try attach(method: .lora(LoRAConfiguration.study), to: model, connector: .tuned)
        let table = trainableParameterReport(model, attachment: a)
        print(table.rows.prefix(14).map { $0.map(\.description).joined(separator: " | ") }.joined(separator: "\n"))
        let names = try table.column("name").map(\.description)
        let scopes = try table.column("scope").map(\.description)
        let trainable = try table.column("trainable")
        let all = try #require(names.indices.first { scopes[$0] == "total" && names[$0] == "all" })
        #expect(trainable[all] == .int(319_815_680 + 20_979_712))
        let q = try #require(names.indices.first { scopes[$0] == "module" && names[$0] == "self_attn.q_proj.lora_A" })
        #expect(trainable[q] == .int(32 * 128 * 4096))
        let layer0 = try #require(names.indices.first { scopes[$0] == "layer" && names[$0] == "layers.0" })
        #expect(trainable[layer0] == .int(319_815_680 / 32))
        #expect(names.contains("connector"))
    }
}
