// The parameter count `explain` shows: a formula in the model's dimensions for a method
// alone, evaluated on an adapted model's own layers and ending in PEFTLib's total.

import Foundation
import PEFTLabJSON
import PEFTLib

/// The added parameters as a formula, its evaluation and PEFTLib's total.
struct CountFormula {
    /// `layers × r × Σ (d_in + d_out)` and its LaTeX.
    var formula: String
    var formulaLatex: String
    /// Evaluation steps, each meaning `= step`; the last is the total when there is one.
    var steps: [String]
    /// PEFTLib's count (adapted models only).
    var total: Int?
    /// What the symbols mean, or how to evaluate the formula.
    var note: String?

    /// Projections' widths in symbols: d (hidden), d_kv (kv heads × head dim), d_ff (MLP).
    static let symbolicWidths: [String: (String, String)] = [
        "q_proj": ("d", "d"), "k_proj": ("d", "d_kv"), "v_proj": ("d", "d_kv"), "o_proj": ("d", "d"),
        "gate_proj": ("d", "d_ff"), "up_proj": ("d", "d_ff"), "down_proj": ("d_ff", "d"),
    ]
    static let symbolsNote = "d: hidden size, d_kv: key/value width (kv heads × head dim), d_ff: MLP width"

    /// The method's formula in symbols; the sum written as a combination of d, d_kv and d_ff.
    static func symbolic(_ method: PEFTMethod, sites: [InsertionSite]) -> CountFormula {
        let evaluate = "explain(attach(model, method)) evaluates it on a model"
        func widths(_ site: InsertionSite) -> (String, String) { symbolicWidths[site.module] ?? ("d", "d") }
        switch method {
        case .lora(let c):
            let sum = combination(sites.flatMap { [widths($0).0, widths($0).1] })
            return CountFormula(formula: "layers × r × Σ (d_in + d_out)", formulaLatex: "L \\cdot r \\sum (d_\\text{in} + d_\\text{out})",
                                steps: ["layers × \(c.rank) × \(sum)"], note: symbolsNote + "; " + evaluate)
        case .ia3:
            let sum = combination(sites.map { $0.kind == .input ? widths($0).0 : widths($0).1 })
            return CountFormula(formula: "layers × Σ d  (d_out where l scales the output, d_in where it scales the input)",
                                formulaLatex: "L \\sum d", steps: ["layers × \(sum)"], note: symbolsNote + "; " + evaluate)
        case .adapter(let c):
            if c.style == .parallel {
                let sum = combination(sites.flatMap { [widths($0).0, widths($0).1] })
                return CountFormula(formula: "layers × m × Σ (d_in + d_out)", formulaLatex: "L \\cdot m \\sum (d_\\text{in} + d_\\text{out})",
                                    steps: ["layers × \(c.bottleneckSize) × \(sum)"], note: symbolsNote + "; " + evaluate)
            }
            let sum = combination(sites.map { $0.kind == .input ? widths($0).0 : widths($0).1 })
            return CountFormula(formula: "layers × 2 × m × Σ d  (d: the width where the adapter sits)",
                                formulaLatex: "L \\cdot 2m \\sum d", steps: ["layers × 2 × \(c.bottleneckSize) × \(sum)"],
                                note: symbolsNote + "; " + evaluate)
        case .prefix(let c):
            if c.projection {
                let e = c.encoderHiddenSize.map(String.init) ?? "d_kv"
                return CountFormula(formula: "tokens × d_kv + (d_kv × e + e) + (e × 2·layers·d_kv + 2·layers·d_kv)",
                                    formulaLatex: "P\\, d_{kv} + (d_{kv}\\, e + e) + (e \\cdot 2 L d_{kv} + 2 L d_{kv})",
                                    steps: ["\(c.virtualTokens) × d_kv + (d_kv × \(e) + \(e)) + (\(e) × 2·layers·d_kv + 2·layers·d_kv)"],
                                    note: "e: the MLP's hidden width (d_kv unless given); " + symbolsNote + "; " + evaluate)
            }
            return CountFormula(formula: "2 × layers × tokens × d_kv  (a key and a value per token and layer)",
                                formulaLatex: "2 \\cdot L \\cdot P \\cdot d_{kv}", steps: ["2 × layers × \(c.virtualTokens) × d_kv"],
                                note: symbolsNote + "; " + evaluate)
        case .full:
            return CountFormula(formula: "none: every parameter of the language model trains", formulaLatex: "0", steps: [])
        case .connectorOnly:
            return CountFormula(formula: "none: only the connector trains", formulaLatex: "0", steps: [])
        }
    }

    /// `(9d + 2d_kv + 3d_ff)` for the widths listed; a single term without parentheses.
    static func combination(_ symbols: [String]) -> String {
        let terms = ["d", "d_kv", "d_ff"].compactMap { symbol -> String? in
            let k = symbols.filter { $0 == symbol }.count
            return k == 0 ? nil : (k == 1 ? symbol : "\(k)\(symbol)")
        }
        return terms.count == 1 ? terms[0] : "(" + terms.joined(separator: " + ") + ")"
    }

    /// The formula on the model's own widths, read from its PEFT layers; `total` is PEFTLib's
    /// count and ends the steps. When the layers are not all alike (targets naming single
    /// layers) the steps are the plain sum.
    static func evaluated(_ method: PEFTMethod, modules: [AdaptedModule], prefix: PrefixEncoder?, total: Int) -> CountFormula {
        var result = symbolic(method, sites: [])
        result.note = nil
        result.total = total
        let end = grouped(total)
        if let prefix {
            let (l, p, d) = (prefix.layers, prefix.virtualTokens, prefix.kvDim)
            if let t0 = prefix.transform0, prefix.transform2 != nil {
                let e = t0.outFeatures, w = 2 * l * d
                let value = p * d + (d * e + e) + (e * w + w)
                result.steps = ["\(p) × \(d) + (\(d) × \(e) + \(e)) + (\(e) × \(grouped(w)) + \(grouped(w)))"]
                result.note = "e = \(e); 2·layers·d_kv = 2 × \(l) × \(d) = \(grouped(w))"
                result.steps.append(value == total ? end : "\(grouped(value)) by the formula; PEFTLib counts \(end)")
            } else {
                let value = 2 * l * p * d
                result.steps = ["2 × \(l) × \(p) × \(d)", value == total ? end : "\(grouped(value)) by the formula; PEFTLib counts \(end)"]
            }
            return result
        }
        guard !modules.isEmpty else { result.steps = total == 0 ? [] : [end]; return result }

        // One layer's terms, if every layer holds the same modules with the same sizes.
        let layers = Set(modules.map(\.layer))
        let names = Explanation.ordered(modules.map { InsertionSite($0.name, $0.kind) }).map(\.module)
        var perLayer: [AdaptedModule] = []
        var uniform = true
        for name in names {
            let same = modules.filter { $0.name == name }
            guard let first = same.first, same.count == layers.count,
                  same.allSatisfy({ $0.dIn == first.dIn && $0.dOut == first.dOut && $0.size == first.size && $0.count == first.count })
            else { uniform = false; break }
            perLayer.append(first)
        }
        let sizes = Set(perLayer.map(\.size))
        guard uniform, sizes.count == 1, let size = sizes.first else {
            result.steps = ["Σ over the \(modules.count) adapted modules in \(layers.count) layers", end]
            return result
        }
        let l = layers.count
        // LoRA and parallel adapters span a projection's input and output; IA3 and series
        // adapters have the width of the one side they sit on.
        let (factor, multiplier, spansBoth): (String, Int, Bool)
        switch method {
        case .lora: (factor, multiplier, spansBoth) = ("\(l) × \(size) × ", l * size, true)
        case .adapter(let c) where c.style == .parallel: (factor, multiplier, spansBoth) = ("\(l) × \(size) × ", l * size, true)
        case .adapter: (factor, multiplier, spansBoth) = ("\(l) × 2 × \(size) × ", l * 2 * size, false)
        default: (factor, multiplier, spansBoth) = ("\(l) × ", l, false)
        }
        let side = { (m: AdaptedModule) in m.kind == .input ? m.dIn : m.dOut }
        let terms = perLayer.map { spansBoth ? "(\($0.dIn) + \($0.dOut))" : "\(side($0))" }
        let sum = perLayer.reduce(0) { $0 + (spansBoth ? $1.dIn + $1.dOut : side($1)) }
        let value = multiplier * sum
        result.steps = [factor + (terms.count == 1 ? terms[0] : "(" + terms.joined(separator: " + ") + ")")]
        if terms.count > 1 { result.steps.append(factor + grouped(sum)) }
        result.steps.append(value == total ? end : "\(grouped(value)) by the formula; PEFTLib counts \(end)")
        return result
    }

    /// 319815680 → `319,815,680`
    static func grouped(_ n: Int) -> String {
        let digits = Array(String(abs(n)))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// A step in LaTeX: `×` → `\times`, `·` → `\cdot`, thousands separators `{,}`, `Σ` → `\sum`.
    static func latex(_ step: String) -> String {
        var s = ""
        let chars = Array(step)
        for (i, c) in chars.enumerated() {
            switch c {
            case "×": s += "\\times"
            case "·": s += "\\cdot "
            case "Σ": s += "\\sum"
            case ",":
                let digitsAround = i > 0 && chars[i - 1].isNumber && i + 1 < chars.count && chars[i + 1].isNumber
                s += digitsAround ? "{,}" : ","
            default: s.append(c)
            }
        }
        return s.replacingOccurrences(of: "d_kv", with: "d_{kv}").replacingOccurrences(of: "d_ff", with: "d_{ff}")
            .replacingOccurrences(of: "layers", with: "L")
            .replacingOccurrences(of: " by the formula; PEFTLib counts ", with: "\\ \\text{by the formula; PEFTLib counts }")
    }
}
