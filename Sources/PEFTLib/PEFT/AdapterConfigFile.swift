// `adapter_config.json` read strictly: each field has the JSON type peft writes, and a wrong
// one is an error naming the file and the field (`lora_alpha: "32"` is not quietly α 8). The
// options peft users set commonly work — `target_modules` and IA3's `feedforward_modules`
// as a list or a regex, `use_rslora`, `rank_pattern`, `alpha_pattern` — and the ones that
// change the method beyond the study's four (DoRA, LoRA bias, …) are refused by name.

import Foundation
import PEFTLabJSON

/// One `adapter_config.json`, parsed, with typed field access whose errors name the file.
struct AdapterConfigFile {
    let path: String
    let fields: JSONObject
    /// The file's bytes (the digest the weights carry is over them).
    let bytes: [UInt8]

    init(path: String) throws {
        self.path = path
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else {
            throw PEFTError.invalidAdapterFile("'\(path)' does not exist: an adapter folder holds adapter_config.json "
                                               + "and adapter_model.safetensors")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PEFTError.invalidAdapterFile("'\(path)' cannot be read")
        }
        bytes = Array(data)
        let parsed: JSON
        do { parsed = try JSON.parse(bytes: bytes) } catch {
            throw PEFTError.invalidAdapterFile("'\(path)' is not valid JSON (\(error))")
        }
        guard case .object(let object) = parsed else {
            throw PEFTError.invalidAdapterFile("'\(path)' holds \(Self.describe(parsed)), not a JSON object")
        }
        fields = object
    }

    /// How a JSON value reads in an error: `the string "32"`, `the number 1e308`, `a list`.
    static func describe(_ value: JSON) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return "\(b)"
        case .number: return "the number \(value.serialized())"
        case .string(let s): return "the string \(JSON.string(s).serialized())"
        case .array: return "a list"
        case .object: return "an object"
        }
    }

    func wrongType(_ key: String, _ expected: String) -> PEFTError {
        .invalidAdapterFile("'\(path)': field '\(key)' must be \(expected), found \(Self.describe(fields[key] ?? .null))")
    }

    /// A present, non-null field.
    func value(_ key: String) -> JSON? {
        guard let v = fields[key], v != .null else { return nil }
        return v
    }

    func int(_ key: String, default fallback: Int? = nil) throws -> Int {
        guard let v = value(key) else {
            if let fallback { return fallback }
            throw PEFTError.invalidAdapterFile("'\(path)': the required field '\(key)' is missing")
        }
        guard let n = v.intValue else { throw wrongType(key, "a whole number") }
        return n
    }

    func number(_ key: String, default fallback: Double) throws -> Double {
        guard let v = value(key) else { return fallback }
        guard let n = v.doubleValue, n.isFinite else { throw wrongType(key, "a number") }
        return n
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let v = value(key) else { return fallback }
        guard let b = v.boolValue else { throw wrongType(key, "true or false") }
        return b
    }

    func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.stringValue else { throw wrongType(key, "a string") }
        return s
    }

    /// A list of strings or one string (a regex, as peft reads a string of target names).
    func namesOrRegex(_ key: String) throws -> (names: [String]?, regex: String?) {
        guard let v = value(key) else { return (nil, nil) }
        if let s = v.stringValue { return (nil, s) }
        if let list = v.arrayValue {
            let names = list.compactMap(\.stringValue)
            if names.count == list.count { return (names, nil) }
        }
        throw wrongType(key, "a list of module names or a regex string")
    }

    /// An object of pattern → value (peft's `rank_pattern`, `alpha_pattern`).
    func patterns(_ key: String, _ read: (JSON) -> Double?) throws -> [String: Double] {
        guard let v = value(key) else { return [:] }
        guard let object = v.objectValue else { throw wrongType(key, "an object of module pattern → value") }
        var out: [String: Double] = [:]
        for (pattern, entry) in object {
            guard let n = read(entry) else {
                throw PEFTError.invalidAdapterFile("'\(path)': '\(key)' entry '\(pattern)' must be a number, found "
                                                   + Self.describe(entry))
            }
            out[pattern] = n
        }
        return out
    }

    /// Refuses a set option the study's method does not have (any value but `allowed`), naming it.
    func refuse(_ key: String, unless allowed: JSON? = nil, because reason: String) throws {
        if let v = value(key), v != allowed {
            throw PEFTError.unsupported("'\(path)': \(key) = \(v.serialized()) is not supported: \(reason)")
        }
    }

    /// The method and connector mode the file describes.
    func method() throws -> (method: PEFTMethod, connector: ConnectorMode) {
        let types = ["LORA", "IA3", "BOTTLENECK", "PREFIX_TUNING", "CONNECTOR"]
        guard let type = try string("peft_type") else {
            throw PEFTError.invalidAdapterFile("'\(path)' has no peft_type (one of \(types.joined(separator: ", ")))")
        }
        let saved = try namesOrRegex("modules_to_save")
        let connectorNames = (saved.names ?? []) + (saved.regex.map { [$0] } ?? [])
        let connector: ConnectorMode = connectorNames.contains { $0.hasSuffix("multi_modal_projector") } ? .tuned : .frozen
        let targets = try namesOrRegex("target_modules")
        let location: PEFTLocation = targets.names.map { .modules($0) } ?? .both
        let method: PEFTMethod
        switch type {
        case "LORA":
            for (key, reason) in [("use_dora", "DoRA is not part of the study's LoRA"),
                                  ("lora_bias", "PEFTLab's LoRA trains no biases"),
                                  ("fan_in_fan_out", "PEFTLab's projections are torch Linear layers")] {
                _ = try bool(key, default: false)          // a wrong type is named as such first
                try refuse(key, unless: .bool(false), because: reason)
            }
            try refuse("bias", unless: .string("none"), because: "PEFTLab's LoRA trains no biases")
            try refuse("layers_to_transform", because: "adapt every layer, or name the modules' paths in target_modules")
            let ranks = try patterns("rank_pattern") { $0.intValue.map(Double.init) }
            method = .lora(try LoRAConfiguration(
                rank: try int("r"), alpha: try number("lora_alpha", default: 8),
                dropout: try number("lora_dropout", default: 0), targets: location,
                useRSLoRA: try bool("use_rslora", default: false),
                rankPattern: ranks.mapValues { Int($0) }, alphaPattern: try patterns("alpha_pattern") { $0.doubleValue }))
        case "IA3":
            let feedforward = try namesOrRegex("feedforward_modules")
            method = .ia3(IA3Configuration(targets: location, feedforwardModules: feedforward.names ?? [],
                                           feedforwardRegex: feedforward.regex))
        case "BOTTLENECK":
            let activationName = try string("non_linearity") ?? "tanh"
            guard let activation = AdapterActivation(rawValue: activationName) else {
                throw PEFTError.invalidAdapterFile("'\(path)': non_linearity '\(activationName)' is not one of "
                                                   + "tanh, relu, sigmoid, silu")
            }
            method = .adapter(try AdapterConfiguration(
                bottleneckSize: try int("bottleneck_size"), location: location,
                style: try bool("use_parallel_adapter", default: false) ? .parallel : .series,
                activation: activation, dropout: try number("adapter_dropout", default: 0),
                scaling: try number("scaling", default: 1)))
        case "PREFIX_TUNING":
            method = .prefix(try PrefixConfiguration(virtualTokens: try int("num_virtual_tokens"), projection: false))
        case "CONNECTOR":
            method = .connectorOnly
        default:
            throw PEFTError.unsupported("'\(path)': peft_type '\(type)' is not one of the study's methods "
                                        + "(\(types.joined(separator: ", ")))")
        }
        return (method, connector)
    }
}
