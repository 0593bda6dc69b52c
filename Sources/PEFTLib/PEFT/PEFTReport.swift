// The trainable-parameter report of an adapted model: per module type, per decoder layer and in
// total, with share = trainable / (base + added), the study's Table 15 definition. Works on meta
// models (built from a config alone), so LLaVA-1.5-7B's shares come out without its weights.

import Foundation

/// Totals of an adapted model.
public struct TrainableParameterSummary: Sendable, Equatable {
    /// Parameters of the model without the method (base layers, vision tower, connector, …).
    public var base: Int
    /// Parameters the method adds (LoRA A/B, IA3 vectors, adapters, prefix).
    public var added: Int
    /// Parameters that receive gradients.
    public var trainable: Int
    /// trainable / (base + added).
    public var share: Double { Double(trainable) / Double(base + added) }
}

/// Base, added and trainable counts of a model, the prefix of an attachment included.
public func trainableParameterSummary(_ model: any Module, attachment: PEFTAttachment? = nil) -> TrainableParameterSummary {
    let all = model.namedParameters()
    let addedCount = addedParameters(in: model).reduce(0) { $0 + $1.tensor.count }
    let prefixCount = attachment?.prefix?.parameterCount ?? 0
    let prefixTrainable = attachment?.prefix?.trainableParameterCount ?? 0
    let total = all.reduce(0) { $0 + $1.tensor.count }
    return TrainableParameterSummary(base: total - addedCount, added: addedCount + prefixCount,
                                     trainable: model.trainableParameterCount + prefixTrainable)
}

/// The trainable-parameter report as a table.
///
/// Columns: `scope` (total, module, layer), `name`, `parameters`, `trainable`, `share_percent`.
/// Total rows: base, added, all (trainable share of the whole). Module rows group trainable
/// parameters by type across layers (`self_attn.q_proj.lora_A`, `multi_modal_projector.linear_1`);
/// layer rows by decoder layer (`layers.3`) or top-level part (`connector`, `prefix`, `lm_head`).
///
///     let a = try attach(method: .lora(.study), to: llava)
///     print(trainableParameterReport(llava, attachment: a))
public func trainableParameterReport(_ model: any Module, attachment: PEFTAttachment? = nil) -> Table {
    let summary = trainableParameterSummary(model, attachment: attachment)
    let denominator = Double(summary.base + summary.added)
    func percent(_ n: Int) -> TableValue { .double(100 * Double(n) / denominator) }
    var records: [[(String, TableValue)]] = []
    func row(_ scope: String, _ name: String, _ parameters: Int, _ trainable: Int) {
        records.append([("scope", .text(scope)), ("name", .text(name)), ("parameters", .int(parameters)),
                        ("trainable", .int(trainable)), ("share_percent", percent(trainable))])
    }
    let addedIDs = Set(addedParameters(in: model).map { ObjectIdentifier($0.tensor) })
    let baseTrainable = model.trainableParameters().filter { !addedIDs.contains(ObjectIdentifier($0.tensor)) }
        .reduce(0) { $0 + $1.tensor.count }
    row("total", "base", summary.base, baseTrainable)
    row("total", "added", summary.added, summary.trainable - baseTrainable)
    row("total", "all", summary.base + summary.added, summary.trainable)

    var trainable = model.trainableParameters().map { (path: $0.path, count: $0.tensor.count) }
    if let prefix = attachment?.prefix {
        trainable += prefix.trainableParameters().map { (path: "prefix." + $0.path, count: $0.tensor.count) }
    }
    let lmPath = attachment?.languageModelPath ?? (model is LlavaForConditionalGeneration ? "model.language_model" : "model")
    var byModule: [(String, Int)] = [], byLayer: [(String, Int)] = []
    func accumulate(_ list: inout [(String, Int)], _ key: String, _ n: Int) {
        if let i = list.firstIndex(where: { $0.0 == key }) { list[i].1 += n } else { list.append((key, n)) }
    }
    for (path, count) in trainable {
        var p = Substring(path)
        if p.hasSuffix(".weight") { p = p.dropLast(7) } else if p.hasSuffix(".bias") { p = p.dropLast(5) }
        var layerName: String
        var moduleType: String
        if p.hasPrefix(lmPath + ".layers.") {
            let rest = p.dropFirst(lmPath.count + ".layers.".count)
            let index = rest.prefix { $0.isNumber }
            layerName = "layers.\(index)"
            moduleType = String(rest.dropFirst(index.count + 1))
        } else if p.hasPrefix("model.multi_modal_projector.") {
            layerName = "connector"
            moduleType = String(p.dropFirst("model.".count))
        } else if p.hasPrefix("prefix.") {
            layerName = "prefix"
            moduleType = String(p)
        } else {
            moduleType = p.hasPrefix(lmPath + ".") ? String(p.dropFirst(lmPath.count + 1)) : String(p)
            layerName = String(moduleType.split(separator: ".").first ?? "")
        }
        moduleType = moduleType.replacingOccurrences(of: ".base_layer", with: "")
        accumulate(&byModule, moduleType, count)
        accumulate(&byLayer, layerName, count)
    }
    for (name, n) in byModule { row("module", name, n, n) }
    for (name, n) in byLayer { row("layer", name, n, n) }
    return Table(records: records, title: "Trainable parameters")
}
