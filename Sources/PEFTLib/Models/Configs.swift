// Model configurations read from Hugging Face config.json files, each beside its model
// (Llama+Config.swift, CLIPVision+Config.swift, Llava+Config.swift); here what they share:
// the error that names the offending field, activations, reading a config.json of any of
// them, and the decoding helpers. Follows `LlamaConfiguration` in mlx-swift-lm: Codable,
// Sendable structs with snake_case keys, the defaults of `transformers` in init(from:)
// (llava-hf configs omit every default), derived sizes as computed properties.

import Foundation

// MARK: - Errors

/// A config.json that cannot be used, naming the field (dotted path, e.g. `text_config.rope_scaling`).
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The offending field as a dotted path; empty when the problem is the whole file.
    public var field: String
    /// What is wrong with it.
    public var problem: String
    /// The file it came from, when known.
    public var file: String?

    public init(field: String, problem: String, file: String? = nil) {
        self.field = field
        self.problem = problem
        self.file = file
    }

    public var description: String {
        let place = file.map { "config '\($0)': " } ?? "config: "
        return field.isEmpty ? place + problem : place + "field `\(field)`: " + problem
    }

    /// The same error seen from an enclosing config (`text_config` + `rope_scaling`).
    func nested(under parent: String) -> ConfigError {
        ConfigError(field: field.isEmpty ? parent : parent + "." + field, problem: problem, file: file)
    }
}

// MARK: - Activations

/// An activation function as config.json names it (`hidden_act`, `projector_hidden_act`).
public enum HiddenActivation: String, Codable, Sendable, CaseIterable {
    case silu
    case gelu
    case geluTanh = "gelu_pytorch_tanh"
    case quickGELU = "quick_gelu"
}

// MARK: - Loading config.json

/// A model configuration of one of the supported architectures, read from config.json.
public enum ModelConfig: Sendable, Equatable {
    case llava(LlavaConfig)
    case llama(LlamaConfig)
    case clipVision(CLIPVisionConfig)

    /// The Hugging Face class name of the architecture.
    public var architecture: String {
        switch self {
        case .llava: return "LlavaForConditionalGeneration"
        case .llama: return "LlamaForCausalLM"
        case .clipVision: return "CLIPVisionModel"
        }
    }

    /// Reads `path` (a config.json, or a folder holding one) and dispatches on `architectures`, then `model_type`.
    public static func load(path: String) throws -> ModelConfig {
        var isDirectory: ObjCBool = false
        var file = path
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            file = (path as NSString).appendingPathComponent("config.json")
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigError(field: "", problem: "cannot read the file", file: file)
        }
        do {
            return try decode(data)
        } catch var error as ConfigError {
            error.file = file
            throw error
        }
    }

    /// Decodes config.json bytes, dispatching on `architectures`, then `model_type`.
    public static func decode(_ data: Data) throws -> ModelConfig {
        let probe: ArchitectureProbe
        do {
            probe = try JSONDecoder().decode(ArchitectureProbe.self, from: data)
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(field: "", problem: describeDecoding(error))
        }
        let architecture = probe.architectures?.first
        let kind: String
        switch (architecture, probe.modelType) {
        case ("LlavaForConditionalGeneration", _), (nil, "llava"): kind = "llava"
        case ("LlamaForCausalLM", _), ("LlamaModel", _), (nil, "llama"): kind = "llama"
        case ("CLIPVisionModel", _), (nil, "clip_vision_model"): kind = "clip_vision"
        case ("CLIPModel", _), (nil, "clip"): kind = "clip"
        default:
            throw ConfigError(field: architecture != nil ? "architectures" : "model_type",
                              problem: "unsupported architecture \"\(architecture ?? probe.modelType ?? "none")\" (supported: LlavaForConditionalGeneration, LlamaForCausalLM, CLIPVisionModel)")
        }
        do {
            switch kind {
            case "llava": return .llava(try JSONDecoder().decode(LlavaConfig.self, from: data))
            case "llama": return .llama(try JSONDecoder().decode(LlamaConfig.self, from: data))
            case "clip_vision": return .clipVision(try JSONDecoder().decode(CLIPVisionConfig.self, from: data))
            default:
                let wrapper = try JSONDecoder().decode(CLIPWrapper.self, from: data)
                return .clipVision(wrapper.visionConfig)
            }
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(field: "", problem: describeDecoding(error))
        }
    }

    private struct ArchitectureProbe: Decodable {
        var architectures: [String]?
        var modelType: String?
        enum CodingKeys: String, CodingKey { case architectures, modelType = "model_type" }
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            architectures = try c.optional(.architectures)
            modelType = try c.optional(.modelType)
        }
    }

    /// A full CLIPModel config: only its vision half is used.
    private struct CLIPWrapper: Decodable {
        var visionConfig: CLIPVisionConfig
        enum CodingKeys: String, CodingKey { case visionConfig = "vision_config" }
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            do {
                visionConfig = try c.decodeIfPresent(CLIPVisionConfig.self, forKey: .visionConfig) ?? CLIPVisionConfig()
            } catch let error as ConfigError {
                throw error.nested(under: "vision_config")
            }
        }
    }
}

// MARK: - Decoding helpers

func requirePositive(_ value: Int, _ field: String) throws {
    guard value > 0 else { throw ConfigError(field: field, problem: "must be a positive integer, found \(value)") }
}

/// The type name inside a rope_scaling object (`type` in older configs, `rope_type` in newer ones).
struct RopeScalingProbe: Decodable {
    var type: String?
    var ropeType: String?
    enum CodingKeys: String, CodingKey { case type, ropeType = "rope_type" }
}

/// The `rope_parameters` object of transformers ≥ 5 configs.
struct RopeParametersProbe: Decodable {
    var ropeType: String?
    var ropeTheta: Double?
    enum CodingKeys: String, CodingKey { case ropeType = "rope_type", ropeTheta = "rope_theta" }
}

/// An unknown rope_scaling would silently give a wrong model: only null (or absence) is accepted.
func rejectRopeScaling<K: CodingKey>(_ c: KeyedDecodingContainer<K>, key: K) throws {
    guard c.contains(key), (try? c.decodeNil(forKey: key)) == false else { return }
    let probe = try? c.decode(RopeScalingProbe.self, forKey: key)
    if let name = probe?.ropeType ?? probe?.type {
        throw ConfigError(field: key.stringValue, problem: "unsupported rope scaling of type \"\(name)\" (only null, plain RoPE, is supported)")
    }
    throw ConfigError(field: key.stringValue, problem: "unsupported rope scaling value (only null, plain RoPE, is supported)")
}

extension KeyedDecodingContainer {
    /// The value at `key`, or `fallback` when absent or null; a wrong type is a ConfigError naming the key.
    func value<T: Decodable>(_ key: Key, default fallback: T) throws -> T {
        try optional(key) ?? fallback
    }

    /// The value at `key`, or nil when absent or null; a wrong type is a ConfigError naming the key.
    func optional<T: Decodable>(_ key: Key) throws -> T? {
        do {
            return try decodeIfPresent(T.self, forKey: key)
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(field: key.stringValue, problem: "expected \(configTypeName(T.self))")
        }
    }
}

func configTypeName<T>(_ type: T.Type) -> String {
    switch type {
    case is Int.Type: return "an integer"
    case is Float.Type, is Double.Type: return "a number"
    case is Bool.Type: return "true or false"
    case is String.Type: return "a string"
    case is [Int].Type: return "an integer or a list of integers"
    case is [String].Type: return "a list of strings"
    default: return "a value of type \(T.self)"
    }
}
