// What `explain` shows of a PEFT method, in plain words, formulas and the insertion sites of
// its diagram (the sites come from PEFTLib's placements).

import Foundation
import PEFTLabJSON
import PEFTLib

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
