// Where each method acts in a decoder block: the one place the rules live. `attach` puts the
// layers where these placements say, `explain` draws them, the trainable report and the
// adapter files name the same modules.

/// The Llama projections of a decoder block's attention, by Hugging Face name.
public let llamaAttentionProjections = ["q_proj", "k_proj", "v_proj", "o_proj"]
/// The Llama projections of a decoder block's MLP.
public let llamaMLPProjections = ["gate_proj", "up_proj", "down_proj"]
/// The seven Llama projections PEFT layers can replace.
public let llamaProjectionNames = llamaAttentionProjections + llamaMLPProjections

/// Short names accepted in targets: `q` → `q_proj`, `gate` → `gate_proj`.
func expandProjectionName(_ name: String) -> String {
    ["q", "k", "v", "o", "gate", "up", "down"].contains(name) ? name + "_proj" : name
}

/// One place a method acts in every decoder block.
public struct PEFTPlacement: Sendable, Equatable {
    /// How the method's parameters meet the module.
    public enum Kind: String, Sendable {
        /// A branch beside the module, added to its output (LoRA; the parallel adapter).
        case branch
        /// On the module's output (IA3's scaling of keys and values; a series adapter after o or down).
        case output
        /// On the module's input (IA3's feed-forward scaling; a series adapter before gate or up).
        case input
        /// The whole module trains (full fine-tuning).
        case whole
        /// Virtual keys and values before every layer's attention (prefix-tuning).
        case prefix
    }

    /// The module: a projection's name (`q_proj`), a full or partial path given in the targets,
    /// a norm's name (full fine-tuning), or `attention` (prefix-tuning).
    public var module: String
    public var kind: Kind

    public init(_ module: String, _ kind: Kind) { self.module = module; self.kind = kind }

    /// The projection's own name: the last component of `module`, short names expanded.
    public var projectionName: String {
        expandProjectionName(String(module.split(separator: ".").last ?? Substring(module)))
    }
}

extension PEFTLocation {
    /// The projections a location names: its attention ones, its MLP ones, both, or the
    /// listed modules (short names expanded).
    func modules(attention: [String], mlp: [String]) -> [String] {
        switch self {
        case .attention: return attention
        case .mlp: return mlp
        case .both: return attention + mlp
        case let .modules(list): return list.map(expandProjectionName)
        }
    }
}

extension PEFTMethod {
    /// Where the method acts in each decoder block (for `.modules` targets, in the order given).
    ///
    ///     PEFTMethod.ia3(.study).placements    // k_proj output, v_proj output, down_proj input
    public var placements: [PEFTPlacement] {
        switch self {
        case let .lora(c):
            return c.targets.modules(attention: llamaAttentionProjections, mlp: llamaMLPProjections)
                .map { PEFTPlacement($0, .branch) }
        case let .ia3(c):
            return c.targets.modules(attention: ["k_proj", "v_proj"], mlp: ["down_proj"]).map { name in
                let short = PEFTPlacement(name, .output).projectionName
                return PEFTPlacement(name, c.isFeedforward(path: name, name: short) ? .input : .output)
            }
        case let .adapter(c):
            return c.location.modules(attention: ["o_proj"], mlp: llamaMLPProjections).map { name in
                if c.style == .parallel { return PEFTPlacement(name, .branch) }
                let short = PEFTPlacement(name, .output).projectionName
                return PEFTPlacement(name, short == "o_proj" || short == "down_proj" ? .output : .input)
            }
        case .prefix:
            return [PEFTPlacement("attention", .prefix)]
        case .full:
            return (llamaProjectionNames + ["input_layernorm", "post_attention_layernorm"]).map { PEFTPlacement($0, .whole) }
        case .connectorOnly:
            return []
        }
    }
}
