// Nothing lost: saves are all or nothing, a folder holding parts of two saves is refused, a
// run store survives a cut last line, adapter configs are read strictly (errors name the file
// and the field), damaged weights and requests too big for the machine are clear errors.
import Foundation
import Testing
@testable import PEFTLib

@Suite struct NothingLostTests {
    static func folder(_ name: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("peftlab-\(name)-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func peftFixtures() throws -> URL {
        try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures/peft"))
    }

    static func baseModel() throws -> LlamaForCausalLM {
        try LlamaForCausalLM.load(directory: try peftFixtures().appendingPathComponent("base").path)
    }

    /// A LoRA of `alpha` on q and v, its B set to `fill`, saved to `folder`.
    static func saveLoRA(alpha: Double, fill: Float, to folder: String) throws {
        let model = try baseModel()
        let attachment = try attach(method: .lora(try LoRAConfiguration(rank: 2, alpha: alpha, targets: .modules(["q_proj", "v_proj"]))),
                                    to: model)
        for (path, tensor) in model.trainableParameters() where path.hasSuffix("lora_B.weight") {
            try tensor.assign([Float](repeating: fill, count: tensor.count))
        }
        try saveAdapter(model, attachment: attachment, to: folder)
    }

    // MARK: - Saves

    @Test("saving over an adapter replaces both files at once and keeps the folder's other files")
    func saveReplacesTheWholeAdapter() throws {
        let folder = Self.folder("save")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.saveLoRA(alpha: 16, fill: 0.1, to: folder)
        try "notes".write(toFile: folder + "/README.md", atomically: true, encoding: .utf8)
        try Self.saveLoRA(alpha: 512, fill: 0.2, to: folder)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(names == ["README.md", "adapter_config.json", "adapter_model.safetensors"])
        let model = try Self.baseModel()
        let attachment = try loadAdapter(from: folder, into: model)
        guard case let .lora(c) = attachment.method else { Issue.record("not LoRA"); return }
        #expect(c.alpha == 512)
        let b = try #require(model.trainableParameters().first { $0.path.hasSuffix("lora_B.weight") })
        #expect(b.tensor.toArray().allSatisfy { $0 == 0.2 })
        // No temporary folder or file is left beside it.
        let parent = URL(fileURLWithPath: folder).deletingLastPathComponent().path
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: parent)
            .filter { $0.contains(URL(fileURLWithPath: folder).lastPathComponent) && $0.contains("peftlab-tmp") }
        #expect(leftovers.isEmpty)
    }

    @Test("a folder with one save's config and another's weights is refused on load")
    func mixedSavesAreRefused() throws {
        let a = Self.folder("mix-a"), b = Self.folder("mix-b")
        defer { for f in [a, b] { try? FileManager.default.removeItem(atPath: f) } }
        try Self.saveLoRA(alpha: 16, fill: 0.1, to: a)
        try Self.saveLoRA(alpha: 512, fill: 0.2, to: b)
        try FileManager.default.removeItem(atPath: a + "/adapter_config.json")
        try FileManager.default.copyItem(atPath: b + "/adapter_config.json", toPath: a + "/adapter_config.json")
        let error = #expect(throws: PEFTError.self) { try loadAdapter(from: a, into: try Self.baseModel()) }
        #expect("\(error!)".contains("two different saves"))
    }

    @Test("a temporary left by a killed writer is removed by the next write beside it")
    func staleTemporariesAreRemoved() throws {
        let folder = Self.folder("stale")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A pid that is not running: a child that has exited.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        let stale = folder + "/.out.json" + AtomicFiles.temporaryMarker + "\(child.processIdentifier)-7"
        let mine = folder + "/.out.json" + AtomicFiles.temporaryMarker + "\(getpid())-8"
        for path in [stale, mine] { try "partial".write(toFile: path, atomically: false, encoding: .utf8) }
        try AtomicFiles.write(Array("{}".utf8), to: folder + "/out.json")
        #expect(!FileManager.default.fileExists(atPath: stale))
        #expect(FileManager.default.fileExists(atPath: mine), "a live writer's temporary is not touched")
        #expect(try String(contentsOfFile: folder + "/out.json", encoding: .utf8) == "{}")
    }

    @Test("saving onto a file, or into an empty path, says so in the project's words")
    func badSaveTargets() throws {
        let folder = Self.folder("targets")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "x".write(toFile: folder + "/file", atomically: true, encoding: .utf8)
        for target in [folder + "/file", ""] {
            let error = #expect(throws: (any Error).self) { try Self.saveLoRA(alpha: 8, fill: 0, to: target) }
            let text = "\(error!)"
            #expect(!text.contains("NSCocoaErrorDomain") && text.contains("cannot write"), "\(text)")
        }
    }

    // MARK: - Paths

    @Test("a leading ~ is $HOME for every file; other tildes stay")
    func homeExpansion() {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        #expect(FilePaths.resolve("~/runs/a") == home + "/runs/a")
        #expect(FilePaths.resolve("~") == home)
        #expect(FilePaths.resolve("runs/~a") == "runs/~a")
        #expect(FilePaths.resolve("~other/a") == "~other/a")
    }

    // MARK: - Run store

    @Test("a run store whose last line was cut keeps every finished run and starts the next record on its own line")
    func cutRunStore() throws {
        let folder = Self.folder("store")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/runs.jsonl"
        let store = try SweepStore(path: path)
        for seed in 0..<2 { try store.record(SweepRun([("seed", .int(seed))]), results: [("score", .double(0.5))]) }
        let whole = try String(contentsOfFile: path, encoding: .utf8)
        // A power cut in the middle of the third record.
        try (whole + "{\"settings\":[[\"seed\",2]],\"res").write(toFile: path, atomically: true, encoding: .utf8)
        let reopened = try SweepStore(path: path)
        #expect(reopened.count == 2)
        #expect(reopened.notes.count == 1 && reopened.notes[0].contains("cut short"))
        try reopened.record(SweepRun([("seed", .int(2))]), results: [("score", .double(0.7))])
        let again = try SweepStore(path: path)
        #expect(again.count == 3 && again.notes.isEmpty)
        #expect(again.isFinished(SweepRun([("seed", .int(2))])))

        // A store that lost only its final newline: the next record is not glued to it.
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try String(text.dropLast()).write(toFile: path, atomically: true, encoding: .utf8)
        let unterminated = try SweepStore(path: path)
        #expect(unterminated.count == 3)
        try unterminated.record(SweepRun([("seed", .int(3))]), results: [("score", .double(0.1))])
        let last = try SweepStore(path: path)
        #expect(last.count == 4 && last.notes.isEmpty)
    }

    // MARK: - Adapter configs

    /// Writes a LoRA adapter of the fixture folder with its config changed by `change`; returns the error text.
    static func loadError(_ change: (inout [String: Any]) -> Void) throws -> String {
        let source = try peftFixtures().appendingPathComponent("lora-qv")
        let folder = Self.folder("config")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.copyItem(atPath: source.appendingPathComponent("adapter_model.safetensors").path,
                                         toPath: folder + "/adapter_model.safetensors")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("adapter_config.json"))) as! [String: Any]
        change(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: folder + "/adapter_config.json"))
        do {
            _ = try loadAdapter(from: folder, into: try baseModel())
            return "loaded"
        } catch {
            return "\(error)"
        }
    }

    @Test("adapter config fields of the wrong type are errors naming the file and the field")
    func strictConfigs() throws {
        #expect(try Self.loadError { _ in } == "loaded")
        let alpha = try Self.loadError { $0["lora_alpha"] = "32" }
        #expect(alpha.contains("adapter_config.json") && alpha.contains("'lora_alpha'") && alpha.contains("the string \"32\""), "\(alpha)")
        let huge = try Self.loadError { $0["lora_alpha"] = 1e308 }
        #expect(huge.contains("alpha") && huge.contains("10⁶"), "\(huge)")
        let dora = try Self.loadError { $0["use_dora"] = "true" }
        #expect(dora.contains("'use_dora'") && dora.contains("true or false"), "\(dora)")
        let doraOn = try Self.loadError { $0["use_dora"] = true }
        #expect(doraOn.contains("use_dora") && doraOn.contains("not supported"), "\(doraOn)")
        let targets = try Self.loadError { $0["target_modules"] = 42 }
        #expect(targets.contains("'target_modules'"), "\(targets)")
        let rank = try Self.loadError { $0["r"] = "4" }
        #expect(rank.contains("'r'") && rank.contains("whole number") && !rank.contains("missing"), "\(rank)")
        let noType = try Self.loadError { $0.removeValue(forKey: "peft_type") }
        #expect(noType.contains("adapter_config.json") && noType.contains("peft_type"), "\(noType)")
        let unknown = try Self.loadError { $0["peft_type"] = "LOHA" }
        #expect(unknown.contains("adapter_config.json") && unknown.contains("LOHA"), "\(unknown)")
    }

    @Test("an adapter config that is not JSON names its file, in the project's words")
    func notJSON() throws {
        let folder = Self.folder("notjson")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "{\"peft_type\": LORA".write(toFile: folder + "/adapter_config.json", atomically: true, encoding: .utf8)
        let error = #expect(throws: PEFTError.self) { try adapterMethod(configPath: folder + "/adapter_config.json") }
        let text = "\(error!)"
        #expect(text.contains(folder + "/adapter_config.json") && text.contains("not valid JSON"))
        #expect(!text.contains("NSCocoaErrorDomain"))
    }

    @Test("a peft file that adapts the vision tower (a bare q_proj target on LLaVA) is refused by name")
    func visionTowerAdapter() throws {
        let model = try LlavaForConditionalGeneration.load(directory: try TinyLlava.directory())
        let attachment = try attach(method: .lora(try LoRAConfiguration(rank: 2, alpha: 4, targets: .modules(["q_proj"]))), to: model)
        let folder = Self.folder("vision")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try saveAdapter(model, attachment: attachment, to: folder)
        // What peft writes for target_modules ["q_proj"]: the tower's q_proj adapted too.
        let file = try SafetensorsFile(path: folder + "/adapter_model.safetensors")
        var writer = SafetensorsWriter()
        for name in file.names { try writer.add(name, shape: try file.info(name).shape, values: try file.floats(name)) }
        let width = model.config.visionConfig.hiddenSize
        try writer.add("base_model.model.model.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.lora_A.weight",
                       shape: [2, width], values: [Float](repeating: 0, count: 2 * width))
        try writer.write(to: folder + "/adapter_model.safetensors")
        let error = #expect(throws: PEFTError.self) {
            try loadAdapter(from: folder, into: try LlavaForConditionalGeneration.load(directory: try TinyLlava.directory()))
        }
        #expect("\(error!)".contains("vision tower") && "\(error!)".contains("regex"), "\(error!)")
    }

    // MARK: - Damaged weights and vocabularies

    @Test("a NaN weight in model.safetensors is an error naming the tensor")
    func nonFiniteWeights() throws {
        let base = try Self.peftFixtures().appendingPathComponent("base")
        let folder = Self.folder("nan")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.copyItem(atPath: base.appendingPathComponent("config.json").path, toPath: folder + "/config.json")
        let file = try SafetensorsFile(path: base.appendingPathComponent("model.safetensors").path)
        var writer = SafetensorsWriter()
        for name in file.names {
            var values = try file.floats(name)
            if name == "model.norm.weight" { values[3] = .nan }
            try writer.add(name, shape: try file.info(name).shape, values: values)
        }
        try writer.write(to: folder + "/model.safetensors")
        let error = #expect(throws: WeightLoadingError.self) { try LlamaForCausalLM.load(directory: folder) }
        #expect("\(error!)".contains("model.norm.weight") && "\(error!)".contains("NaN"))
    }

    @Test("a tokenizer.json with an empty vocabulary is an error")
    func emptyVocabulary() throws {
        let folder = Self.folder("vocab")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let json = #"{"model": {"type": "WordLevel", "vocab": {}, "unk_token": "[UNK]"}, "added_tokens": []}"#
        try json.write(toFile: folder + "/tokenizer.json", atomically: true, encoding: .utf8)
        let error = #expect(throws: TokenizerError.self) { try Tokenizer(path: folder) }
        #expect("\(error!)".contains("vocabulary") && "\(error!)".contains("empty"))
    }

    @Test("a preprocessor config with a field of the wrong type names the file and the field, not DecodingError")
    func preprocessorWrongType() throws {
        let folder = Self.folder("preprocessor")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try #"{"image_mean": "half", "image_std": [0.5, 0.5, 0.5]}"#.write(toFile: folder + "/preprocessor_config.json",
                                                                           atomically: true, encoding: .utf8)
        let error = #expect(throws: (any Error).self) { try CLIPPreprocessorConfig(contentsOf: folder + "/preprocessor_config.json") }
        let text = "\(error!)"
        #expect(text.contains("preprocessor_config.json") && text.contains("'image_mean'") && text.contains("a list"), "\(text)")
        #expect(!text.contains("DecodingError") && !text.contains("typeMismatch"), "\(text)")
    }

    // MARK: - Requests too big for the machine

    @Test("a PNG whose header claims a million by a million pixels is refused before decoding")
    func pixelBomb() throws {
        var png = try RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 9, count: 12)).encodePNG()
        // IHDR's width and height (big-endian, bytes 16–23), then its CRC (bytes 29–32) recomputed.
        let side = UInt32(1_000_000).bigEndian
        withUnsafeBytes(of: side) { raw in
            for i in 0..<4 { png[16 + i] = raw[i]; png[20 + i] = raw[i] }
        }
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in png[12..<29] {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
        }
        withUnsafeBytes(of: (~crc).bigEndian) { raw in for i in 0..<4 { png[29 + i] = raw[i] } }
        let error = #expect(throws: ImageError.self) { try RGBImage.decodePNG(png, name: "bomb.png") }
        #expect("\(error!)".contains("1000000 × 1000000") && "\(error!)".contains("bomb.png"))
    }

    @Test("a LoRA rank, a prefix or a dataset too big for the machine is refused before allocating")
    func oversizedRequests() throws {
        let model = try Self.baseModel()
        let lora = #expect(throws: PEFTError.self) {
            try attach(method: .lora(try LoRAConfiguration(rank: 100_000, alpha: 8)), to: model)
        }
        #expect("\(lora!)".contains("rank at most"))
        let adapter = #expect(throws: ResourceError.self) {
            try attach(method: .adapter(try AdapterConfiguration(bottleneckSize: 1 << 40)), to: model)
        }
        #expect("\(adapter!)".contains("smaller size") && "\(adapter!)".contains("PEFTLAB_MEMORY_LIMIT"))
        #expect(model.trainableParameters().isEmpty || model.namedParameters().allSatisfy { !$0.path.contains("lora") },
                "a refused attach leaves the model as it was")
        let prefix = #expect(throws: PEFTError.self) {
            try attach(method: .prefix(try PrefixConfiguration(virtualTokens: 1_000_000)), to: try Self.baseModel())
        }
        #expect("\(prefix!)".contains("max_position_embeddings"))
        let data = #expect(throws: ResourceError.self) {
            _ = try MiniDataset.generate(.vqav2, split: .train, size: 1 << 40, imageSize: 64, isCancelled: { false })
        }
        #expect("\(data!)".contains("fewer samples"))
    }

    @Test("dataset generation stops at once when cancelled")
    func cancelledGeneration() throws {
        var calls = 0
        let data = try MiniDataset.generate(.vqav2, split: .train, size: 300_000, imageSize: 32) {
            calls += 1
            return calls > 2
        }
        #expect(data == nil)
    }
}
