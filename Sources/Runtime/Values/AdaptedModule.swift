// The PEFT layers of an adapted model as `explain`'s count reads them: layer, name, kind and
// widths, found by walking the module tree.

import Foundation
import PEFTLabJSON
import PEFTLib

/// One PEFT layer of an adapted model, as the count needs it.
struct AdaptedModule {
    var layer: Int
    var name: String
    var kind: InsertionSite.Kind
    var dIn: Int
    var dOut: Int
    /// LoRA's rank, the adapter's bottleneck, 1 for IA3.
    var size: Int
    /// PEFTLib's count of the parameters it adds.
    var count: Int

    /// The PEFT layers in the language model's decoder layers.
    static func all(in model: any Module, languageModelPath: String) -> [AdaptedModule] {
        let head = languageModelPath + ".layers."
        var out: [AdaptedModule] = []
        for (path, module) in model.namedModules() where path.hasPrefix(head) {
            guard let layer = module as? any PEFTLayer else { continue }
            let rest = path.dropFirst(head.count)
            guard let index = Int(rest.prefix { $0.isNumber }), let name = rest.split(separator: ".").last else { continue }
            let kind: InsertionSite.Kind, size: Int
            switch layer {
            case let l as LoRALinear: (kind, size) = (.branch, l.rank)
            case let l as IA3Linear: (kind, size) = (l.isFeedforward ? .input : .output, 1)
            case let l as AdapterLinear:
                kind = l.placement == .input ? .input : l.placement == .output ? .output : .branch
                size = l.size
            default: continue
            }
            out.append(AdaptedModule(layer: index, name: String(name), kind: kind, dIn: layer.inFeatures,
                                     dOut: layer.outFeatures, size: size, count: layer.adapterParameterCount))
        }
        return out
    }

    /// The number of decoder layers.
    static func layerCount(in model: any Module, languageModelPath: String) -> Int {
        let head = languageModelPath + ".layers."
        var indices = Set<Int>()
        for (path, _) in model.namedModules() where path.hasPrefix(head) {
            if let i = Int(path.dropFirst(head.count).prefix { $0.isNumber }) { indices.insert(i) }
        }
        return indices.count
    }

    /// `in → out` of the first layer's projections.
    static func widths(in model: any Module, languageModelPath: String) -> [String: String] {
        var out: [String: String] = [:]
        for (path, module) in model.namedModules() {
            guard let linear = module as? any LinearLayer else { continue }
            for name in llamaProjectionNames {
                let block = llamaAttentionProjections.contains(name) ? "self_attn" : "mlp"
                if path == "\(languageModelPath).layers.0.\(block).\(name)" { out[name] = "\(linear.inFeatures) → \(linear.outFeatures)" }
            }
        }
        return out
    }
}
