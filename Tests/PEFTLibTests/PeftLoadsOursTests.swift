// Python peft loads the adapter folders `saveAdapter` writes: LoRA (q,v and all seven with the
// tuned connector), IA3 (with the tuned connector) and prefix-tuning (table, and MLP with the tuned
// connector) on the LLaVA fixture llava-gqa, and LoRA, IA3 and prefix (MLP) on the text-only
// llama-tied. The folders go to a temporary directory, never into Fixtures.
//
// The Swift half always runs: each folder loads back through `loadAdapter` to the same logits,
// and the config's `target_modules`, read with peft's matching rule (a string is a regex matched
// against the whole module path, a list matches a path equal to or ending with `.name`), selects
// exactly the adapted projections among the model's linear layers (not the vision tower's).
// The Python half runs when PEFTLAB_PEFT_PYTHON names a Python with torch, transformers and peft
// (`make bench` sets it): tools/check_peft_loads_ours.py loads every folder with
// `PeftModel.from_pretrained`, reports missing or unexpected keys and loading warnings, and prints
// the adapted model's logits, which must match ours within 1e-4.

import Foundation
import Testing
import PEFTLib

/// The Python with peft named by PEFTLAB_PEFT_PYTHON, if any.
private let peftPython = ProcessInfo.processInfo.environment["PEFTLAB_PEFT_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }

/// One adapter folder to write: its name, the method and the connector mode.
private struct RoundTripCase {
    let name: String
    let method: PEFTMethod
    let connector: ConnectorMode
}

/// The cases of each base model.
private func roundTripCases(llava: Bool) throws -> [RoundTripCase] {
    if llava {
        return [
            RoundTripCase(name: "lora-qv", method: try .lora(rank: 4, alpha: 8, dropout: 0, on: .modules(["q_proj", "v_proj"])),
                          connector: .frozen),
            RoundTripCase(name: "lora-all-connector", method: try .lora(rank: 2, alpha: 4, dropout: 0, on: .both), connector: .tuned),
            RoundTripCase(name: "ia3-connector", method: .ia3(), connector: .tuned),
            RoundTripCase(name: "prefix", method: try .prefix(tokens: 3), connector: .frozen),
            RoundTripCase(name: "prefix-projection-connector",
                          method: try .prefix(tokens: 3, projection: true, encoderHiddenSize: 16), connector: .tuned),
        ]
    }
    return [
        RoundTripCase(name: "lora-qv", method: try .lora(rank: 4, alpha: 8, dropout: 0, on: .modules(["q_proj", "v_proj"])),
                      connector: .frozen),
        RoundTripCase(name: "ia3", method: .ia3(), connector: .frozen),
        RoundTripCase(name: "prefix-projection", method: try .prefix(tokens: 3, projection: true, encoderHiddenSize: 16),
                      connector: .frozen),
    ]
}

/// A base fixture model and its inputs.
private struct BaseModel {
    let fixture: ModelFixture
    let isLlava: Bool

    init(_ name: String) throws {
        fixture = try ModelFixture(name)
        isLlava = name.hasPrefix("llava")
    }

    func load() throws -> any Module {
        isLlava ? try LlavaForConditionalGeneration.load(directory: fixture.directory)
            : try LlamaForCausalLM.load(directory: fixture.directory)
    }

    /// Logits (flattened) on the fixture's inputs, image included.
    func logits(_ model: any Module) throws -> [Float] {
        let ids = try fixture.rows("input_ids"), mask = try fixture.rows("attention_mask")
        return try withNoGrad {
            if let llava = model as? LlavaForConditionalGeneration {
                return try llava.logits(inputIds: ids, pixelValues: fixture.pixelValues, attentionMask: mask).toArray()
            }
            let llama = try #require(model as? LlamaForCausalLM)
            return try llama.logits(inputIds: ids, attentionMask: mask).toArray()
        }
    }
}

/// An adapter folder written from a model whose trainable parameters were set to random values.
private struct WrittenAdapter {
    let name: String
    let folder: String
    let adaptedModules: [String]
    let logits: [Float]
}

/// Attaches each case to a fresh base model, randomises the trainable parameters (LoRA's B, the
/// IA3 vectors, the prefix, the connector), saves the adapter into `directory`/<case> and keeps
/// the adapted model's logits.
private func writeAdapters(base: BaseModel, into directory: String) throws -> [WrittenAdapter] {
    var written: [WrittenAdapter] = []
    for (index, c) in try roundTripCases(llava: base.isLlava).enumerated() {
        let model = try base.load()
        let attachment = try attach(method: c.method, to: model, connector: c.connector, seed: UInt64(index))
        var rng = RandomGenerator(seed: 100 + UInt64(index))
        for (path, t) in model.trainableParameters() {
            let around = path.hasSuffix("ia3_l") ? Float(1) : 0       // IA3 vectors scale around one
            let noise = try Tensor.normal(t.shape, std: 0.3, generator: &rng).toArray()
            try t.assign(noise.map { around + $0 })
        }
        setAdapterTraining(false, in: model)
        let folder = directory + "/" + c.name
        try saveAdapter(model, attachment: attachment, to: folder)
        written.append(WrittenAdapter(name: c.name, folder: folder, adaptedModules: attachment.adaptedModules,
                                      logits: try base.logits(model)))
    }
    return written
}

private func temporaryFolder(_ tag: String) throws -> String {
    let path = NSTemporaryDirectory() + "peftlab-\(tag)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The module paths peft would adapt for a config's `target_modules` among `candidates`.
private func peftTargets(_ targetModules: Any?, among candidates: [String]) throws -> [String] {
    if let pattern = targetModules as? String {
        let regex = try NSRegularExpression(pattern: "^(?:" + pattern + ")$")
        return candidates.filter { regex.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) != nil }
    }
    let names = try #require(targetModules as? [String], "target_modules is neither a string nor a list")
    return candidates.filter { path in names.contains { path == $0 || path.hasSuffix("." + $0) } }
}

@Suite struct PeftLoadsOursTests {
    /// Our own loader reads every folder back, and `target_modules` selects exactly what we adapted.
    @Test(arguments: ["llava-gqa", "llama-tied"])
    func foldersLoadBackAndTargetOnlyTheAdaptedModules(name: String) throws {
        let base = try BaseModel(name)
        let directory = try temporaryFolder("adapters")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let linear = try base.load().namedModules().filter { $0.module is any LinearLayer }.map(\.path)
        for adapter in try writeAdapters(base: base, into: directory) {
            let fresh = try base.load()
            try loadAdapter(from: adapter.folder, into: fresh)
            #expect(maxAbsDifference(try base.logits(fresh), adapter.logits) == 0, "\(name) \(adapter.name)")

            let data = try Data(contentsOf: URL(fileURLWithPath: adapter.folder + "/adapter_config.json"))
            let config = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            if adapter.adaptedModules.isEmpty { continue }        // prefix-tuning adapts no module
            let selected = try peftTargets(config["target_modules"], among: linear)
            #expect(selected.sorted() == adapter.adaptedModules.sorted(),
                    "\(name) \(adapter.name): target_modules \(config["target_modules"] ?? "nil") selects \(selected.count)")
        }
    }

    /// peft's `PeftModel.from_pretrained` loads every folder without missing or unexpected keys, adapts
    /// the same modules and gives the same logits.
    @Test(.enabled(if: peftPython != nil, "set PEFTLAB_PEFT_PYTHON to a Python with torch, transformers and peft"),
          arguments: ["llava-gqa", "llama-tied"])
    func pythonPeftLoadsThem(name: String) throws {
        let python = try #require(peftPython)
        let base = try BaseModel(name)
        let directory = try temporaryFolder("peft-check")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let adapters = directory + "/adapters"
        let written = try writeAdapters(base: base, into: adapters)
        let report = try runPeftCheck(python: python, adapters: adapters, baseDirectory: base.fixture.directory,
                                      log: directory + "/stderr.txt")
        for adapter in written {
            let result = try #require(report.adapters[adapter.name], "\(name) \(adapter.name): not in the report")
            #expect(result.problems.isEmpty, "\(name) \(adapter.name): \(result.problems.joined(separator: "; "))")
            #expect(result.modules == adapter.adaptedModules.sorted(), "\(name) \(adapter.name): peft adapted \(result.modules)")
            #expect(result.logits.count == adapter.logits.count, "\(name) \(adapter.name): logits \(result.shape)")
            let error = maxAbsDifference(result.logits, adapter.logits)
            print("\(name) \(adapter.name): peft loads it, \(result.modules.count) modules, max |Δ logits| = \(error)")
            #expect(error <= 1e-4, "\(name) \(adapter.name)")
        }
    }
}

/// What tools/check_peft_loads_ours.py prints.
private struct PeftCheckReport: Decodable {
    struct Adapter: Decodable {
        let problems: [String]
        let modules: [String]
        let shape: [Int]
        let logits: [Float]
    }
    let adapters: [String: Adapter]
}

/// Runs the Python check on `adapters` and decodes its report; its stderr goes to `log`.
private func runPeftCheck(python: String, adapters: String, baseDirectory: String, log: String) throws -> PeftCheckReport {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let script = root.appendingPathComponent("tools/check_peft_loads_ours.py").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [script, adapters, baseDirectory]
    let output = Pipe()
    process.standardOutput = output
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard let report = try? JSONDecoder().decode(PeftCheckReport.self, from: data) else {
        let stderr = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        Issue.record("the check exited with \(process.terminationStatus) and no report: \(stderr.suffix(2000))")
        throw PEFTError.invalidAdapterFile("no report from \(script)")
    }
    return report
}
