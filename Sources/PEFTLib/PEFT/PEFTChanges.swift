// What training moved: per decoder layer and adapted module, one number saying how far the
// method pulls the model away from its base. LoRA: the Frobenius norm of its update
// (α/r)·B·A, zero while B is zero. IA3: the distance of its vector from ones, ‖l − 1‖₂, zero
// before training. Adapter: the mean norm of its output s·up(act(down(x))) over the positions
// of a probe batch (the forward passes `probe` runs), or, with no probe, the bound
// ‖W_up‖_F·‖W_down‖_F on its gain (|tanh z| ≤ |z|). Prefix: the Frobenius norms of each
// layer's virtual keys and values.

import Foundation

/// Adds up, while set on adapter layers, the norm of the adapter's output at every position.
final class AdapterOutputProbe {
    private(set) var sumOfNorms = 0.0
    private(set) var positions = 0

    /// Adds the L2 norm of every row (the last axis) of `output`.
    func record(_ output: Tensor) {
        guard let width = output.shape.last, width > 0 else { return }
        output.withUnsafeBufferPointer { values in
            var start = 0
            while start + width <= values.count {
                var sum = 0.0
                for i in start..<(start + width) { sum += Double(values[i]) * Double(values[i]) }
                sumOfNorms += sum.squareRoot()
                positions += 1
                start += width
            }
        }
    }

    var mean: Double { positions == 0 ? 0 : sumOfNorms / Double(positions) }
}

/// The measures `changes` reports, as they appear in its `measure` column.
public enum ChangeMeasure {
    public static let loraUpdate = "‖(α/r)·B·A‖_F"
    public static let ia3Distance = "‖l − 1‖₂"
    public static let adapterOutput = "mean ‖adapter output‖₂"
    public static let adapterGainBound = "‖W_up‖_F·‖W_down‖_F (gain bound)"
    public static let prefixNorm = "‖prefix‖_F"
}

/// How far a PEFT method moves the model, per decoder layer and module, as a tidy table.
///
/// Columns: `layer` (decoder layer index), `module` (`q_proj` … `down_proj`, or `prefix keys` /
/// `prefix values`), `measure` (see `ChangeMeasure`) and `value`. Rows are ordered by layer,
/// then module in the order q, k, v, o, gate, up, down.
///
///     let a = try attach(method: .lora(rank: 8, alpha: 16), to: llava)
///     print(try changes(llava, attachment: a))          // every value 0: B starts at zero
///
/// - Parameters:
///   - attachment: what `attach` returned (needed for prefix-tuning, whose parameters sit
///     beside the model)
///   - probe: forward passes through the model (e.g. a batch of training data); while it runs
///     each adapter adds up the norms of its outputs, and adapters are measured by their mean
///     output norm. Without it adapters report the bound ‖W_up‖_F·‖W_down‖_F.
/// - Throws: `PEFTError.unsupported` for a model without PEFT layers or prefix (full
///   fine-tuning and connector-only training have none), `ModelError.metaModel` for a model
///   without weights, and whatever `probe` throws.
public func changes(_ model: any Module, attachment: PEFTAttachment? = nil,
                    probe: (() throws -> Void)? = nil) throws -> Table {
    if model.isMeta { throw ModelError.metaModel(operation: "measure the changes of") }
    var rows: [(layer: Int, module: String, measure: String, value: Double)] = []
    let layers = model.namedModules().compactMap { entry -> (layer: Int, module: String, peft: any PEFTLayer)? in
        guard let peft = entry.module as? any PEFTLayer else { return nil }
        let parts = entry.path.split(separator: ".").map(String.init)
        guard let at = parts.lastIndex(of: "layers"), at + 1 < parts.count, let layer = Int(parts[at + 1]),
              let module = parts.last else { return nil }
        return (layer, module, peft)
    }

    // Adapters measured on the probe's forward passes.
    var probes: [ObjectIdentifier: AdapterOutputProbe] = [:]
    if let probe {
        let adapters = layers.compactMap { $0.peft as? AdapterLinear }
        for adapter in adapters {
            let p = AdapterOutputProbe()
            adapter.outputProbe = p
            probes[ObjectIdentifier(adapter)] = p
        }
        defer { for adapter in adapters { adapter.outputProbe = nil } }
        if !adapters.isEmpty { try withNoGrad { try probe() } }
    }

    for (layer, module, peft) in layers {
        switch peft {
        case let lora as LoRALinear:
            rows.append((layer, module, ChangeMeasure.loraUpdate, frobeniusNorm(try lora.deltaWeight())))
        case let ia3 as IA3Linear:
            let distance = ia3.ia3L.withUnsafeBufferPointer { l in
                l.reduce(0.0) { $0 + Double($1 - 1) * Double($1 - 1) }.squareRoot()
            }
            rows.append((layer, module, ChangeMeasure.ia3Distance, distance))
        case let adapter as AdapterLinear:
            if let p = probes[ObjectIdentifier(adapter)] {
                rows.append((layer, module, ChangeMeasure.adapterOutput, p.mean))
            } else {
                let bound = frobeniusNorm(adapter.adapterUp.weight) * frobeniusNorm(adapter.adapterDown.weight)
                rows.append((layer, module, ChangeMeasure.adapterGainBound, bound))
            }
        default:
            continue
        }
    }

    if let prefix = attachment?.prefix {
        let keyValues = try withNoGrad { try prefix.keyValues() }
        for (layer, kv) in keyValues.layers.enumerated() {
            rows.append((layer, "prefix keys", ChangeMeasure.prefixNorm, frobeniusNorm(kv.key)))
            rows.append((layer, "prefix values", ChangeMeasure.prefixNorm, frobeniusNorm(kv.value)))
        }
    }

    if rows.isEmpty {
        let what = attachment.map { "\($0.method.name) adds" } ?? "the model has"
        throw PEFTError.unsupported("changes measures PEFT layers (LoRA, IA3, adapters) and prefixes; \(what) none")
    }
    let order = llamaProjectionNames + ["prefix keys", "prefix values"]
    func rank(_ module: String) -> Int { order.firstIndex(of: module) ?? order.count }
    rows.sort { ($0.layer, rank($0.module), $0.module) < ($1.layer, rank($1.module), $1.module) }
    return Table(records: rows.map { r in
        [("layer", .int(r.layer)), ("module", .text(r.module)), ("measure", .text(r.measure)), ("value", .double(r.value))]
    }, title: "what training moved")
}

/// √(Σ x²) of a tensor's values, accumulated in Double.
func frobeniusNorm(_ t: Tensor) -> Double {
    t.withUnsafeBufferPointer { values in values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }
}

extension LlavaSupervisedTask {
    /// Forward passes over the first `count` examples (in batches of `batchSize`) without
    /// gradients or dropout: a probe batch for `changes(_:attachment:probe:)`.
    public func probe(examples count: Int) throws {
        let indices = Array(0..<min(max(count, 1), exampleCount))
        var generator = RandomGenerator(seed: 0)
        try withNoGrad {
            var start = 0
            while start < indices.count {
                let chunk = Array(indices[start..<min(start + batchSize, indices.count)])
                _ = try loss(examples: chunk, generator: &generator)
                start += batchSize
            }
        }
    }
}
