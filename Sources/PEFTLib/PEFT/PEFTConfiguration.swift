// The configurations of the study's PEFT methods (LoRA, IA3, bottleneck Adapter, Prefix-tuning),
// the baselines (full fine-tuning, connector-only), where a method goes (`PEFTLocation`) and the
// errors of attaching one. Codable, Sendable structs with snake_case keys and validation in
// `init(from:)`, as peft's `tuners/<method>/config.py` and mlx-swift-lm's `LoRAConfiguration`.

import Foundation

// MARK: - Errors

/// A PEFT method that cannot be attached, saved or loaded as asked.
public enum PEFTError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A target name that matches no module; lists the names that exist.
    case noMatchingModule(target: String, adaptable: [String], otherLinear: [String])
    /// A size that must be positive (rank, alpha, bottleneck size, virtual tokens).
    case nonPositive(field: String, value: Double)
    /// A value outside its range (dropout probability, …).
    case invalidValue(field: String, detail: String)
    /// The model already carries PEFT layers.
    case alreadyAdapted(modules: [String])
    /// The connector was asked for on a model without one (a plain Llama).
    case noConnector
    /// An operation the layer or method does not support (merging an adapter, …).
    case unsupported(String)
    /// A saved adapter whose configuration does not fit the model or the method.
    case configMismatch(field: String, expected: String, found: String)
    /// A saved adapter file that is missing or malformed.
    case invalidAdapterFile(String)

    public var description: String {
        switch self {
        case let .noMatchingModule(target, adaptable, other):
            return "target '\(target)' matches no module; adaptable modules: \(adaptable.joined(separator: ", "))"
                + (other.isEmpty ? "" : "; other linear modules (not adaptable): \(other.joined(separator: ", "))")
        case let .nonPositive(field, value):
            return "\(field) must be positive, found \(TableValue.format(value))"
        case let .invalidValue(field, detail): return "invalid \(field): \(detail)"
        case let .alreadyAdapted(modules):
            return "the model is already adapted (\(modules.prefix(3).joined(separator: ", "))"
                + (modules.count > 3 ? " and \(modules.count - 3) more" : "")
                + "); pass replacing: true to replace the existing method, or start from the base model"
        case .noConnector: return "the model has no connector (multi_modal_projector) to tune"
        case let .unsupported(detail): return detail
        case let .configMismatch(field, expected, found):
            return "adapter config mismatch: \(field) is \(found) in the adapter, the model has \(expected)"
        case let .invalidAdapterFile(detail): return "invalid adapter files: \(detail)"
        }
    }
}

// MARK: - Location

/// Where in each decoder layer a method goes: the study's location analysis.
///
/// Per method: LoRA `.attention` = q, k, v, o; `.mlp` = gate, up, down; `.both` = all seven.
/// IA3 `.attention` = k, v (output scaling); `.mlp` = down (input scaling); `.both` = k, v, down.
/// Adapter `.attention` = after o_proj; `.mlp` = before gate_proj, before up_proj, after down_proj;
/// `.both` = the union. `.modules` names modules as peft's `target_modules` does: a name matches
/// a module whose path equals it or ends with `.name` (`q_proj`, `layers.0.self_attn.q_proj`).
public enum PEFTLocation: Codable, Sendable, Equatable, Hashable {
    case attention
    case mlp
    case both
    case modules([String])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let names = try? container.decode([String].self) {
            self = .modules(names)
            return
        }
        let name = try container.decode(String.self)
        switch name {
        case "attention": self = .attention
        case "mlp": self = .mlp
        case "both": self = .both
        default: self = .modules([name])
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .attention: try container.encode("attention")
        case .mlp: try container.encode("mlp")
        case .both: try container.encode("both")
        case let .modules(names): try container.encode(names)
        }
    }
}

/// Whether the connector (LLaVA's multi_modal_projector) trains along with the method.
public enum ConnectorMode: String, Codable, Sendable {
    case tuned
    case frozen
}

// MARK: - LoRA

/// LoRA: y = W x + (α / r) · B A dropout(x), A Kaiming-uniform (a = √5), B zeros.
public struct LoRAConfiguration: Codable, Sendable, Equatable {
    public var rank: Int
    public var alpha: Double
    public var dropout: Double
    public var targets: PEFTLocation
    /// Rank-stabilised LoRA (peft's `use_rslora`): the update is scaled by α / √r, not α / r.
    public var useRSLoRA: Bool
    /// Per-module ranks and alphas (peft's `rank_pattern`, `alpha_pattern`): a module whose path
    /// ends with a match of the pattern (`(.*\.)?(pattern)$`) takes its value, others `rank`, `alpha`.
    public var rankPattern: [String: Int]
    public var alphaPattern: [String: Double]

    enum CodingKeys: String, CodingKey {
        case rank = "r", alpha = "lora_alpha", dropout = "lora_dropout", targets = "target_modules"
        case useRSLoRA = "use_rslora", rankPattern = "rank_pattern", alphaPattern = "alpha_pattern"
    }

    /// The study's setting: r = 128, α = 256, dropout 0.05, all seven projections.
    public static let study = LoRAConfiguration(uncheckedRank: 128, alpha: 256, dropout: 0.05, targets: .both)

    public init(rank: Int, alpha: Double, dropout: Double = 0, targets: PEFTLocation = .both,
                useRSLoRA: Bool = false, rankPattern: [String: Int] = [:], alphaPattern: [String: Double] = [:]) throws {
        self.init(uncheckedRank: rank, alpha: alpha, dropout: dropout, targets: targets, useRSLoRA: useRSLoRA,
                  rankPattern: rankPattern, alphaPattern: alphaPattern)
        try validate()
    }

    private init(uncheckedRank rank: Int, alpha: Double, dropout: Double, targets: PEFTLocation,
                 useRSLoRA: Bool = false, rankPattern: [String: Int] = [:], alphaPattern: [String: Double] = [:]) {
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.targets = targets
        self.useRSLoRA = useRSLoRA
        self.rankPattern = rankPattern
        self.alphaPattern = alphaPattern
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rank = try c.decode(Int.self, forKey: .rank)
        alpha = try c.decodeIfPresent(Double.self, forKey: .alpha) ?? 8
        dropout = try c.decodeIfPresent(Double.self, forKey: .dropout) ?? 0
        targets = try c.decodeIfPresent(PEFTLocation.self, forKey: .targets) ?? .modules(["q_proj", "v_proj"])
        useRSLoRA = try c.decodeIfPresent(Bool.self, forKey: .useRSLoRA) ?? false
        rankPattern = try c.decodeIfPresent([String: Int].self, forKey: .rankPattern) ?? [:]
        alphaPattern = try c.decodeIfPresent([String: Double].self, forKey: .alphaPattern) ?? [:]
        try validate()
    }

    /// The factor of the low-rank update: α / r, or α / √r with rsLoRA.
    public var scaling: Double { Self.scaling(rank: rank, alpha: alpha, rsLoRA: useRSLoRA) }

    static func scaling(rank: Int, alpha: Double, rsLoRA: Bool) -> Double {
        rsLoRA ? alpha / Double(rank).squareRoot() : alpha / Double(rank)
    }

    /// The rank and alpha of the module at `path` (the patterns first, longest pattern first).
    public func rankAndAlpha(forModule path: String) -> (rank: Int, alpha: Double) {
        func lookup<V>(_ patterns: [String: V]) -> V? {
            for pattern in patterns.keys.sorted(by: { $0.count != $1.count ? $0.count > $1.count : $0 < $1 }) {
                if path.range(of: "^(.*\\.)?(" + pattern + ")$", options: .regularExpression) != nil {
                    return patterns[pattern]
                }
            }
            return nil
        }
        return (lookup(rankPattern) ?? rank, lookup(alphaPattern) ?? alpha)
    }

    func validate() throws {
        for (pattern, r) in rankPattern.map({ ($0.key, $0.value) }) + [("", rank)] where r <= 0 {
            throw PEFTError.nonPositive(field: pattern.isEmpty ? "LoRA rank" : "LoRA rank_pattern '\(pattern)'", value: Double(r))
        }
        for (pattern, a) in alphaPattern.map({ ($0.key, $0.value) }) + [("", alpha)] {
            let field = pattern.isEmpty ? "LoRA alpha" : "LoRA alpha_pattern '\(pattern)'"
            if !(a > 0) { throw PEFTError.nonPositive(field: field, value: a) }
            if !Float(a).isFinite || a > 1e6 {
                throw PEFTError.invalidValue(field: field, detail: "\(a) is beyond 10⁶ (the update would overflow)")
            }
        }
        for pattern in Array(rankPattern.keys) + Array(alphaPattern.keys)
        where (try? NSRegularExpression(pattern: pattern)) == nil {
            throw PEFTError.invalidValue(field: "LoRA rank/alpha pattern", detail: "'\(pattern)' is not a regular expression")
        }
        if !(0..<1).contains(dropout) {
            throw PEFTError.invalidValue(field: "LoRA dropout", detail: "\(dropout) is not in [0, 1)")
        }
    }
}

// MARK: - IA3

/// IA3: learned vectors initialised to ones; on k and v they scale the output, on down_proj
/// (feed-forward) they scale the input.
public struct IA3Configuration: Codable, Sendable, Equatable {
    public var targets: PEFTLocation
    /// Modules whose input (not output) is scaled; peft's `feedforward_modules` as a list.
    public var feedforwardModules: [String]
    /// peft's `feedforward_modules` as a string: a regex a module's whole path matches.
    public var feedforwardRegex: String?

    enum CodingKeys: String, CodingKey {
        case targets = "target_modules", feedforwardModules = "feedforward_modules"
    }

    /// The study's setting: k, v and down_proj.
    public static let study = IA3Configuration(targets: .both)

    public init(targets: PEFTLocation = .both, feedforwardModules: [String] = ["down_proj"],
                feedforwardRegex: String? = nil) {
        self.targets = targets
        self.feedforwardModules = feedforwardModules
        self.feedforwardRegex = feedforwardRegex
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        targets = try c.decodeIfPresent(PEFTLocation.self, forKey: .targets) ?? .both
        if let regex = try? c.decodeIfPresent(String.self, forKey: .feedforwardModules) {
            feedforwardModules = []
            feedforwardRegex = regex
        } else {
            feedforwardModules = try c.decodeIfPresent([String].self, forKey: .feedforwardModules) ?? ["down_proj"]
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(targets, forKey: .targets)
        if let feedforwardRegex { try c.encode(feedforwardRegex, forKey: .feedforwardModules) } else {
            try c.encode(feedforwardModules, forKey: .feedforwardModules)
        }
    }

    /// True when the module at `path` (named `name`) has its input scaled.
    func isFeedforward(path: String, name: String) -> Bool {
        if let feedforwardRegex {
            return path.range(of: "^(?:" + feedforwardRegex + ")$", options: .regularExpression) != nil
        }
        let names = Set(feedforwardModules.map(expandProjectionName))
        return names.contains(name) || names.contains { path.hasSuffix("." + $0) || path == $0 }
    }
}

// MARK: - Adapter

/// Series adapters sit on a projection's input or output; the parallel variant runs beside it.
public enum AdapterStyle: String, Codable, Sendable {
    /// x + s · up(act(down(dropout(x)))) on the input or output of the projection.
    case series
    /// W x + s · up(act(down(dropout(x)))) beside the projection.
    case parallel
}

/// The adapter's non-linearity (the study: tanh).
public enum AdapterActivation: String, Codable, Sendable {
    case tanh, relu, sigmoid, silu
}

/// Bottleneck adapter as in the LLM-Adapters code the study used; down and up without bias,
/// both N(0, 0.02), scaling 1.
public struct AdapterConfiguration: Codable, Sendable, Equatable {
    public var bottleneckSize: Int
    public var location: PEFTLocation
    public var style: AdapterStyle
    public var activation: AdapterActivation
    public var dropout: Double
    public var scaling: Double
    public var initStd: Double

    enum CodingKeys: String, CodingKey {
        case bottleneckSize = "bottleneck_size", location = "target_modules", style
        case activation = "non_linearity", dropout = "adapter_dropout", scaling, initStd = "init_std"
    }

    /// The study's setting: bottleneck 256 at the MLP location, series.
    public static let study = AdapterConfiguration(unchecked: 256, location: .mlp, style: .series)

    public init(bottleneckSize: Int, location: PEFTLocation = .mlp, style: AdapterStyle = .series,
                activation: AdapterActivation = .tanh, dropout: Double = 0, scaling: Double = 1,
                initStd: Double = 0.02) throws {
        self.init(unchecked: bottleneckSize, location: location, style: style, activation: activation,
                  dropout: dropout, scaling: scaling, initStd: initStd)
        try validate()
    }

    private init(unchecked size: Int, location: PEFTLocation, style: AdapterStyle,
                 activation: AdapterActivation = .tanh, dropout: Double = 0, scaling: Double = 1,
                 initStd: Double = 0.02) {
        bottleneckSize = size
        self.location = location
        self.style = style
        self.activation = activation
        self.dropout = dropout
        self.scaling = scaling
        self.initStd = initStd
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        bottleneckSize = try c.decode(Int.self, forKey: .bottleneckSize)
        location = try c.decodeIfPresent(PEFTLocation.self, forKey: .location) ?? .mlp
        style = try c.decodeIfPresent(AdapterStyle.self, forKey: .style) ?? .series
        activation = try c.decodeIfPresent(AdapterActivation.self, forKey: .activation) ?? .tanh
        dropout = try c.decodeIfPresent(Double.self, forKey: .dropout) ?? 0
        scaling = try c.decodeIfPresent(Double.self, forKey: .scaling) ?? 1
        initStd = try c.decodeIfPresent(Double.self, forKey: .initStd) ?? 0.02
        try validate()
    }

    func validate() throws {
        if bottleneckSize <= 0 { throw PEFTError.nonPositive(field: "adapter size", value: Double(bottleneckSize)) }
        if !(0..<1).contains(dropout) {
            throw PEFTError.invalidValue(field: "adapter dropout", detail: "\(dropout) is not in [0, 1)")
        }
        if initStd < 0 { throw PEFTError.invalidValue(field: "adapter init_std", detail: "\(initStd) is negative") }
    }
}

// MARK: - Prefix

/// Prefix-tuning: per-layer virtual keys and values, optionally produced by the
/// reparameterisation MLP Embedding → Linear → tanh → Linear(2·L·d).
public struct PrefixConfiguration: Codable, Sendable, Equatable {
    public var virtualTokens: Int
    public var projection: Bool
    /// Width of the MLP's hidden layer (peft's `encoder_hidden_size`); if nil, the key/value
    /// width kvHeads · headDim, as peft defaults it to its grouped-query-adjusted `token_dim`.
    public var encoderHiddenSize: Int?

    enum CodingKeys: String, CodingKey {
        case virtualTokens = "num_virtual_tokens", projection = "prefix_projection"
        case encoderHiddenSize = "encoder_hidden_size"
    }

    /// The study's setting: 20 virtual tokens, no reparameterisation.
    public static let study = PrefixConfiguration(unchecked: 20, projection: false)

    public init(virtualTokens: Int, projection: Bool = false, encoderHiddenSize: Int? = nil) throws {
        self.init(unchecked: virtualTokens, projection: projection, encoderHiddenSize: encoderHiddenSize)
        try validate()
    }

    private init(unchecked tokens: Int, projection: Bool, encoderHiddenSize: Int? = nil) {
        virtualTokens = tokens
        self.projection = projection
        self.encoderHiddenSize = encoderHiddenSize
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        virtualTokens = try c.decode(Int.self, forKey: .virtualTokens)
        projection = try c.decodeIfPresent(Bool.self, forKey: .projection) ?? false
        encoderHiddenSize = try c.decodeIfPresent(Int.self, forKey: .encoderHiddenSize)
        try validate()
    }

    func validate() throws {
        if virtualTokens <= 0 { throw PEFTError.nonPositive(field: "virtual tokens", value: Double(virtualTokens)) }
        if let e = encoderHiddenSize, e <= 0 { throw PEFTError.nonPositive(field: "encoder hidden size", value: Double(e)) }
    }
}

// MARK: - Method

/// One of the study's methods or baselines. The constructors are the language's built-ins
/// (`lora(rank:alpha:dropout:on:)`, `ia3(on:)`, `adapter(size:on:style:)`, `prefix(tokens:projection:)`)
/// with the same labels and the same defaults, `PEFTMethod.Defaults`, which the built-ins read.
///
///     let method = try PEFTMethod.lora(rank: 128, alpha: 256, on: .both)
///     let attachment = try attach(method: method, to: llava, connector: .tuned)
public enum PEFTMethod: Codable, Sendable, Equatable {
    case lora(LoRAConfiguration)
    case ia3(IA3Configuration)
    case adapter(AdapterConfiguration)
    case prefix(PrefixConfiguration)
    /// Every parameter of the language model trains.
    case full
    /// Only the connector trains.
    case connectorOnly

    /// Every method's default settings, in one place (PEFTLib's constructors and the language's
    /// built-ins both use them).
    public enum Defaults {
        public static let loraRank = 8
        public static let loraAlpha = 16.0
        public static let loraDropout = 0.05
        public static let loraLocation = PEFTLocation.both
        public static let ia3Location = PEFTLocation.both
        public static let adapterSize = 64
        /// The study's placement: before gate_proj and up_proj, after down_proj.
        public static let adapterLocation = PEFTLocation.mlp
        public static let adapterStyle = AdapterStyle.series
        public static let prefixTokens = 20
        public static let prefixProjection = false
    }

    public static func lora(rank: Int = Defaults.loraRank, alpha: Double = Defaults.loraAlpha,
                            dropout: Double = Defaults.loraDropout, on targets: PEFTLocation = Defaults.loraLocation) throws -> PEFTMethod {
        .lora(try LoRAConfiguration(rank: rank, alpha: alpha, dropout: dropout, targets: targets))
    }

    public static func ia3(on targets: PEFTLocation = Defaults.ia3Location) -> PEFTMethod { .ia3(IA3Configuration(targets: targets)) }

    public static func adapter(size: Int = Defaults.adapterSize, on location: PEFTLocation = Defaults.adapterLocation,
                               style: AdapterStyle = Defaults.adapterStyle) throws -> PEFTMethod {
        .adapter(try AdapterConfiguration(bottleneckSize: size, location: location, style: style))
    }

    public static func prefix(tokens: Int = Defaults.prefixTokens, projection: Bool = Defaults.prefixProjection,
                              encoderHiddenSize: Int? = nil) throws -> PEFTMethod {
        .prefix(try PrefixConfiguration(virtualTokens: tokens, projection: projection, encoderHiddenSize: encoderHiddenSize))
    }

    /// Short name for tables: lora, ia3, adapter, prefix, full, connector.
    public var name: String {
        switch self {
        case .lora: return "lora"
        case .ia3: return "ia3"
        case .adapter: return "adapter"
        case .prefix: return "prefix"
        case .full: return "full"
        case .connectorOnly: return "connector"
        }
    }

    /// Checks the sizes (configurations built in code skip the throwing initialisers' checks
    /// only for the study presets).
    public func validate() throws {
        switch self {
        case let .lora(c): try c.validate()
        case let .adapter(c): try c.validate()
        case let .prefix(c): try c.validate()
        case .ia3, .full, .connectorOnly: break
        }
    }
}
