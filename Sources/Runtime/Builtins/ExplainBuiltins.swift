// explain(method) and explain(adapted): a teaching view of a PEFT method — where it
// sits in a Llama decoder block (a diagram with its insertion points highlighted),
// its formula (LaTeX and Markdown) and what it costs. For a method alone the cost is a
// formula in the model's dimensions; for an adapted model it is evaluated on that
// model's own dimensions, read from the PEFT layers PEFTLib put in, and ends in
// PEFTLib's count (PEFTAttachment.addedParameterCount) with the trainable share.

import Foundation
import PEFTLabJSON
import PEFTLib

enum ExplainBuiltins {
    static var all: [Builtin] { [explain] }

    static let explain = Builtin(
        "explain", [Parameter(nil, "Method or AdaptedModel")], returns: "Explanation",
        doc: """
            Where a PEFT method sits in a Llama decoder block, its formula and its cost. \
            `explain(lora(rank: 8))` draws the block with the method's insertion points highlighted, \
            gives its formula and its added parameters as a formula in the model's dimensions; \
            `explain(attach(model, method))` evaluates that formula on the model (the total is PEFTLib's \
            count) and adds the trainable share. Members: `.sites`, `.added`, `.trainable`, `.latex`, \
            `.markdown`, `.svg`.
            """
    ) { args, _ throws(RuntimeError) in
        switch args[0] {
        case .object(let m as MethodObject):
            return .object(ExplanationObject(try Explanation(method: m.method, location: args.location)))
        case .object(let m as ModelObject):
            guard let attachment = m.attachment else {
                throw RuntimeError(.value, "explain(): this model has no PEFT method attached; explain a method, "
                                   + "explain(lora()), or an adapted model, explain(attach(model, lora()))", at: args.location)
            }
            return .object(ExplanationObject(Explanation(model: m, attachment: attachment)))
        default:
            throw args.fail(at: 0, "a Method such as lora(rank: 8), or an adapted model", got: args[0])
        }
    }
}

// MARK: - What is explained

/// Everything `explain` shows, in plain words, formulas and a diagram.
struct Explanation {
    /// `LoRA · r = 8, α = 16, dropout 0.05`
    var title: String
    /// The method's short name (`lora`), a class of the diagram's insertion points.
    var methodName: String
    var sites: [InsertionSite]
    var labels: [InsertionSite: (String, String?)] = [:]
    /// Where the method sits, in a sentence.
    var placement: String
    /// The formula as text and as LaTeX `aligned` rows (left, right), and a note on its parts.
    var formula: String
    var formulaLatex: [(String, String)]
    var formulaNote: String
    /// The added parameters: a formula, its evaluation steps (text and LaTeX), the total.
    var count: CountFormula
    /// Second lines of the projections' boxes: `4096 → 11008`, or `d → d_ff`.
    var widths: [String: String] = [:]
    var subtitle: String
    var summary: TrainableParameterSummary?
    /// The connector's trainable parameters, when it trains beside a method.
    var connectorTrainable: Int?

    /// A method alone: its formula in symbols.
    init(method: PEFTMethod, location: SourceLocation?) throws(RuntimeError) {
        methodName = method.name
        title = Self.title(method)
        subtitle = "where it sits in a Llama decoder layer (every layer alike)"
        sites = try Self.sites(of: method, location: location)
        (placement, formula, formulaLatex, formulaNote) = Self.describe(method, sites: sites)
        count = CountFormula.symbolic(method, sites: sites)
        labels = Self.labels(method, sites: sites)
        for (name, (i, o)) in CountFormula.symbolicWidths { widths[name] = "\(i) → \(o)" }
    }

    /// An adapted model: the sites and sizes of the PEFT layers in it, and PEFTLib's counts.
    init(model: ModelObject, attachment: PEFTAttachment) {
        let method = attachment.method
        let adapted = AdaptedModule.all(in: model.module, languageModelPath: attachment.languageModelPath)
        let layers = AdaptedModule.layerCount(in: model.module, languageModelPath: attachment.languageModelPath)
        methodName = method.name
        title = Self.title(method)
        subtitle = "in each of the \(layers) decoder layers of \(model.architecture)"
            + (model.module is LlavaForConditionalGeneration ? "; connector \(attachment.connector.rawValue)" : "")
        var found: [InsertionSite] = []
        for m in adapted where !found.contains(InsertionSite(m.name, m.kind)) { found.append(InsertionSite(m.name, m.kind)) }
        if attachment.prefix != nil { found.append(InsertionSite("attention", .prefix)) }
        if case .full = method { found = Self.fullSites }
        sites = Self.ordered(found)
        (placement, formula, formulaLatex, formulaNote) = Self.describe(method, sites: sites)
        let total = attachment.addedParameterCount(in: model.module)
        count = CountFormula.evaluated(method, modules: adapted, prefix: attachment.prefix, total: total)
        labels = Self.labels(method, sites: sites)
        widths = AdaptedModule.widths(in: model.module, languageModelPath: attachment.languageModelPath)
        let summary = trainableParameterSummary(model.module, attachment: attachment)
        self.summary = summary
        switch method {
        case .full, .connectorOnly: break
        default: if attachment.connector == .tuned { connectorTrainable = summary.trainable - total }
        }
    }

    // MARK: Sites

    static let fullSites = PEFTMethod.full.placements.map(InsertionSite.init)

    /// Where `attach` puts the method: PEFTLib's placements, each named by its projection.
    static func sites(of method: PEFTMethod, location: SourceLocation?) throws(RuntimeError) -> [InsertionSite] {
        var sites: [InsertionSite] = []
        for placement in method.placements {
            let site = InsertionSite(placement)
            guard placement.kind == .prefix || placement.kind == .whole || llamaProjectionNames.contains(site.module) else {
                throw RuntimeError(.value, "explain(): '\(placement.module)' is not a decoder projection; the adaptable modules are "
                                   + llamaProjectionNames.joined(separator: ", "), at: location)
            }
            sites.append(site)
        }
        return ordered(sites)
    }

    /// Unique sites in the block's order.
    static func ordered(_ sites: [InsertionSite]) -> [InsertionSite] {
        let order = llamaProjectionNames
        var unique: [InsertionSite] = []
        for s in sites where !unique.contains(s) { unique.append(s) }
        return unique.enumerated().sorted { a, b in
            let (i, j) = (order.firstIndex(of: a.element.module) ?? -1, order.firstIndex(of: b.element.module) ?? -1)
            return i != j ? i < j : a.offset < b.offset
        }.map(\.element)
    }

    static func labels(_ method: PEFTMethod, sites: [InsertionSite]) -> [InsertionSite: (String, String?)] {
        var labels: [InsertionSite: (String, String?)] = [:]
        for site in sites {
            switch method {
            case .lora(let c): labels[site] = ("B·A", "r = \(c.rank)")
            case .ia3: labels[site] = ("⊙ l", nil)
            case .adapter(let c): labels[site] = site.kind == .branch ? ("adapter", "m = \(c.bottleneckSize)") : ("adapter", nil)
            case .prefix(let c): labels[site] = ("prefix", "P_k, P_v: \(c.virtualTokens) tokens")
            case .full, .connectorOnly: break
            }
        }
        return labels
    }

    // MARK: Words and formulas

    static func title(_ method: PEFTMethod) -> String {
        switch method {
        case .lora(let c): return "LoRA · r = \(c.rank), α = \(n(c.alpha)), dropout \(n(c.dropout))"
        case .ia3: return "IA3 · learned scaling vectors"
        case .adapter(let c):
            return "Adapter · bottleneck \(c.bottleneckSize), \(c.style.rawValue), \(c.activation.rawValue), s = \(n(c.scaling))"
        case .prefix(let c):
            return "Prefix-tuning · \(c.virtualTokens) virtual tokens" + (c.projection ? ", MLP reparameterisation" : "")
        case .full: return "Full fine-tuning"
        case .connectorOnly: return "Connector only"
        }
    }

    /// The placement sentence, the formula (text, LaTeX rows) and a note on its parts.
    static func describe(_ method: PEFTMethod, sites: [InsertionSite])
        -> (String, String, [(String, String)], String) {
        let modules = sites.map(\.module)
        switch method {
        case .lora(let c):
            let scaling = c.scaling
            return ("a low-rank side branch B·A beside \(list(modules)) in every decoder layer, added to the projection's "
                    + "output; W stays frozen, only A and B train",
                    "h = W x + (α/r) · B A x,  α/r = \(n(c.alpha))/\(c.rank) = \(n(scaling))",
                    [("h", "W x + \\frac{\\alpha}{r}\\, B A x, \\qquad \\frac{\\alpha}{r} = \\frac{\(n(c.alpha))}{\(c.rank)} = \(n(scaling))")],
                    "A: r × d_in (Kaiming-uniform), B: d_out × r (zeros), so training starts from the base model"
                    + (c.dropout > 0 ? "; dropout \(n(c.dropout)) on x while training" : ""))
        case .ia3:
            let outputs = sites.filter { $0.kind == .output }.map(\.module), inputs = sites.filter { $0.kind == .input }.map(\.module)
            var scaled: [String] = [], text: [String] = [], latex: [(String, String)] = []
            if !outputs.isEmpty {
                scaled.append("the output of \(list(outputs))")
                text.append("h = l ⊙ (W x) on \(outputs.joined(separator: ", "))")
                latex.append(("h", "l \\odot (W x) \\quad \\text{(\(texEscape(outputs.joined(separator: ", "))))}"))
            }
            if !inputs.isEmpty {
                scaled.append("the input of \(list(inputs))")
                text.append("h = W (l ⊙ x) on \(inputs.joined(separator: ", "))")
                latex.append(("h", "W\\,(l \\odot x) \\quad \\text{(\(texEscape(inputs.joined(separator: ", "))))}"))
            }
            return ("learned vectors l that rescale, feature by feature, \(scaled.joined(separator: " and ")) in every "
                    + "decoder layer; no weight changes",
                    text.joined(separator: ";  "), latex,
                    "Each vector l has one entry per feature and starts at ones, so training starts from the base model")
        case .adapter(let c):
            let act = c.activation.rawValue
            let actTex = ["tanh": "\\tanh", "relu": "\\mathrm{relu}", "sigmoid": "\\sigma", "silu": "\\mathrm{SiLU}"][act] ?? act
            let s = c.scaling == 1 ? "" : "\(n(c.scaling)) · "
            let sTex = c.scaling == 1 ? "" : "\(n(c.scaling))\\, "
            if c.style == .parallel {
                return ("bottleneck adapters (down to \(c.bottleneckSize), \(act), back up) beside \(list(modules)) in every "
                        + "decoder layer, added to the projection's output; the projections stay frozen",
                        "h = W x + \(s)up(\(act)(down(x)))",
                        [("h", "W x + \(sTex)W_\\text{up}\\, \(actTex)(W_\\text{down}\\, x)")],
                        "The bottleneck: down d_in → \(c.bottleneckSize), up \(c.bottleneckSize) → d_out, no bias, both N(0, \(n(c.initStd)))"
                        + (c.scaling == 1 ? ", s = 1" : ""))
            }
            var parts: [String] = []
            let inputs = sites.filter { $0.kind == .input }.map(\.module), outputs = sites.filter { $0.kind == .output }.map(\.module)
            if !inputs.isEmpty { parts.append("on the input of \(list(inputs))") }
            if !outputs.isEmpty { parts.append("on the output of \(list(outputs))") }
            return ("bottleneck adapters (down to \(c.bottleneckSize), \(act), back up) \(parts.joined(separator: " and ")) in "
                    + "every decoder layer, each added to the signal it sits on; the projections stay frozen",
                    "h = x + \(s)up(\(act)(down(x)))",
                    [("h", "x + \(sTex)W_\\text{up}\\, \(actTex)(W_\\text{down}\\, x)")],
                    "Here x is the signal where the adapter sits (a projection's input or output, width d); down: d → "
                    + "\(c.bottleneckSize), up: \(c.bottleneckSize) → d, no bias, both N(0, \(n(c.initStd)))"
                    + (c.scaling == 1 ? ", s = 1" : ""))
        case .prefix(let c):
            return ("\(c.virtualTokens) learned key and value vectors per decoder layer, put in front of the sequence's own "
                    + "keys and values so that every query attends to them; no weight changes"
                    + (c.projection ? "; an MLP (embedding → linear → tanh → linear) produces them" : ""),
                    "attention over [P_k; K] and [P_v; V]: softmax(q [P_k; K]ᵀ / √d_head) [P_v; V]",
                    [("\\operatorname{attn}(q)",
                      "\\operatorname{softmax}\\!\\left(\\frac{q\\,[P_k;\\, K]^\\top}{\\sqrt{d_\\text{head}}}\\right) [P_v;\\, V]")],
                    "P_k, P_v: \(c.virtualTokens) × d_kv in every layer, used as they are (no rotary position); "
                    + "the mask lets every token see them")
        case .full:
            return ("every weight of the language model trains: the projections and norms drawn here, and the "
                    + "embeddings and the output head",
                    "h = W x, with every W trained", [("h", "W x \\quad \\text{(every } W \\text{ trains)}")],
                    "A baseline: nothing is added, the base weights themselves change")
        case .connectorOnly:
            return ("the decoder block stays frozen; only the connector (multi_modal_projector) between the vision "
                    + "tower and the language model trains",
                    "h = W x, unchanged", [("h", "W x \\quad \\text{(frozen)}")],
                    "A baseline: the language model is not touched")
        }
    }

    /// `a`, `a and b`, `a, b and c`.
    static func list(_ items: [String]) -> String {
        items.count <= 1 ? items.joined() : items.dropLast().joined(separator: ", ") + " and " + items.last!
    }

    /// 16 → "16", 0.05 → "0.05".
    static func n(_ d: Double) -> String { TableValue.format(d) }

    static func texEscape(_ s: String) -> String { s.replacingOccurrences(of: "_", with: "\\_") }
}

// MARK: - The parameter count

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

// MARK: - Rendering

/// What `explain` returns: shows as the diagram with the formula and the count.
final class ExplanationObject: RuntimeObject, @unchecked Sendable {
    let explanation: Explanation
    init(_ explanation: Explanation) { self.explanation = explanation }

    var typeName: String { "Explanation" }
    var memberNames: [String] { ["sites", "added", "trainable", "text", "markdown", "latex", "svg"] }

    func member(_ name: String) throws(RuntimeError) -> Value? {
        let e = explanation
        switch name {
        case "sites": return .array(e.sites.map { .string($0.phrase) })
        case "added": return e.count.total.map(Value.int) ?? .null
        case "trainable": return e.summary.map { .int($0.trainable) } ?? .null
        case "text": return .string(text)
        case "markdown": return .string(markdown)
        case "latex": return .string(latex)
        case "svg": return .string(svg)
        default: return nil
        }
    }

    func render() -> MIMEBundle {
        MIMEBundle(data: [
            "text/plain": .string(text),
            "text/markdown": .string(markdown),
            "text/latex": .string(latex),
            "image/svg+xml": .string(svg),
            "text/html": .string(html),
        ])
    }

    var svg: String {
        let e = explanation
        return BlockDiagram(title: e.title, subtitle: e.subtitle, method: e.methodName, sites: e.sites, labels: e.labels,
                            widths: e.widths).svg()
    }

    /// Rows `key  value`, long values wrapped under themselves.
    var text: String {
        let e = explanation
        var rows: [(String, String)] = [("where", e.placement), ("formula", e.formula), ("", e.formulaNote)]
        rows.append(("added", e.count.formula))
        for (i, step) in e.count.steps.enumerated() {
            rows.append(("", "= " + step + (i == e.count.steps.count - 1 && e.count.total != nil ? Self.scale(e.count.total!) : "")))
        }
        if let note = e.count.note { rows.append(("", "(\(note))")) }
        if let summary = e.summary { rows.append(("trainable", trainableText(summary))) }
        let width = rows.map(\.0.count).max() ?? 0
        var lines = [e.title]
        for (key, value) in rows {
            let wrapped = Self.wrap(value, width: 92 - width)
            for (i, piece) in wrapped.enumerated() {
                lines.append(((i == 0 ? key : "").padding(toLength: width, withPad: " ", startingAt: 0) + "  " + piece)
                    .replacingTrailingSpaces())
            }
        }
        return lines.joined(separator: "\n")
    }

    /// `$$\begin{aligned} … \end{aligned}$$`: the formula, then the count.
    var latex: String {
        "$$\\begin{aligned}\n" + latexRows.map { ($0.0.isEmpty ? "" : $0.0 + " ") + "&= \($0.1)" }.joined(separator: " \\\\\n") + "\n\\end{aligned}$$"
    }

    private var latexRows: [(String, String)] {
        let e = explanation
        var rows = e.formulaLatex
        rows.append(("\\text{added}", e.count.formulaLatex))
        for step in e.count.steps { rows.append(("", CountFormula.latex(step))) }
        return rows
    }

    var markdown: String {
        let e = explanation
        var parts = ["**\(e.title)**", "*Where:* \(Self.codeNames(e.placement)).", "$$\\begin{aligned}\n"
                     + e.formulaLatex.map { "\($0.0) &= \($0.1)" }.joined(separator: " \\\\\n") + "\n\\end{aligned}$$",
                     Self.codeNames(e.formulaNote) + "."]
        parts.append("*Added parameters:*\n\n$$\\begin{aligned}\n" + countRows.joined(separator: " \\\\\n") + "\n\\end{aligned}$$")
        if let note = e.count.note { parts.append("(\(note))") }
        if let summary = e.summary { parts.append("*Trainable:* \(trainableText(summary))") }
        return parts.joined(separator: "\n\n")
    }

    /// Module names as code (`q_proj`), so Markdown shows them as written.
    static func codeNames(_ s: String) -> String {
        var out = s
        for name in llamaProjectionNames + ["multi_modal_projector"] {
            out = out.replacingOccurrences(of: name, with: "`\(name)`")
        }
        return out
    }

    private var countRows: [String] {
        let e = explanation
        return ["\\text{added} &= \(e.count.formulaLatex)"] + e.count.steps.map { "&= " + CountFormula.latex($0) }
    }

    /// The diagram beside the words and formulas (JupyterLab shows HTML first and typesets its math).
    var html: String {
        let e = explanation
        func p(_ s: String) -> String { "<p style=\"margin:0 0 8px\">\(s)</p>" }
        var words = p("<b>\(TableRendering.escape(e.title))</b>")
        words += p("<i>Where:</i> \(TableRendering.escape(e.placement)).")
        words += p(TableRendering.escape(latex))
        words += p(TableRendering.escape(e.formulaNote) + ".")
        if let note = e.count.note { words += p("(" + TableRendering.escape(note) + ")") }
        if let summary = e.summary { words += p("<i>Trainable:</i> " + TableRendering.escape(trainableText(summary))) }
        return "<div class=\"peftlab-explain\" style=\"display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start\">"
            + "<div style=\"flex:0 0 auto\">\(svg)</div>"
            + "<div style=\"flex:1 1 320px;min-width:280px;font-size:13px\">\(words)</div></div>"
    }

    private func trainableText(_ summary: TrainableParameterSummary) -> String {
        var s = "\(CountFormula.grouped(summary.trainable)) of \(CountFormula.grouped(summary.base + summary.added)) "
            + "(\(String(format: "%.3f", summary.share * 100)) %)"
        if let connector = explanation.connectorTrainable, let added = explanation.count.total {
            s += ": the method's \(CountFormula.grouped(added)) and the connector's \(CountFormula.grouped(connector))"
        }
        return s
    }

    /// ` (319.82 M)` after large totals.
    static func scale(_ n: Int) -> String {
        if n >= 1_000_000_000 { return String(format: " (%.2f B)", Double(n) / 1e9) }
        if n >= 1_000_000 { return String(format: " (%.2f M)", Double(n) / 1e6) }
        return ""
    }

    /// `s` in lines of at most `width` characters, broken at spaces but never inside a short
    /// innermost pair of parentheses (`(4096 + 11008)` stays whole); a longer piece gets its own line.
    static func wrap(_ s: String, width: Int) -> [String] {
        let chars = Array(s)
        var unbreakable = Set<Int>()
        var open: [(index: Int, nested: Bool)] = []
        for (i, c) in chars.enumerated() {
            if c == "(" {
                if !open.isEmpty { open[open.count - 1].nested = true }
                open.append((i, false))
            } else if c == ")", let (start, nested) = open.popLast(), !nested, i - start <= 24 {
                for j in start..<i where chars[j] == " " { unbreakable.insert(j) }
            }
        }
        var pieces: [String] = [], piece = ""
        for (i, c) in chars.enumerated() {
            if c == " " && !unbreakable.contains(i) { pieces.append(piece); piece = "" } else { piece.append(c) }
        }
        pieces.append(piece)
        var lines: [String] = [], line = ""
        for word in pieces {
            if !line.isEmpty && line.count + 1 + word.count > width {
                lines.append(line)
                line = word
            } else {
                line += (line.isEmpty ? "" : " ") + word
            }
        }
        lines.append(line)
        return lines
    }
}
