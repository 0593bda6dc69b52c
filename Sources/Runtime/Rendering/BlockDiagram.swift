// The teaching diagram of `explain`: one Llama decoder block drawn top to bottom as
// self-contained SVG — the residual stream on the left; RMSNorm, the q, k, v
// projections, attention and o_proj; RMSNorm, gate and up, SiLU(gate) ⊙ up and
// down_proj — with a method's insertion points drawn in and highlighted. Mid-tone
// strokes and translucent fills read on light and dark notebook themes alike.
//
// Every base module is a group `id="module-<name>" class="module"`; every insertion
// point is a group `id="site-<module>-<kind>" class="insertion <method>"` (for full
// fine-tuning inside the module's group), so what is highlighted can be checked (and
// styled) by id and class.

import Foundation
import PEFTLib

/// A place in the decoder block where a method puts its parameters.
struct InsertionSite: Hashable, Sendable {
    enum Kind: String, Sendable {
        /// Beside the projection, added to its output (LoRA, parallel adapter).
        case branch
        /// On the projection's input (series adapter before gate/up, IA3 on down_proj).
        case input
        /// On the projection's output (series adapter after o/down, IA3 on k and v).
        case output
        /// Virtual keys and values entering the attention (prefix-tuning).
        case prefix
        /// The module's own weights train (full fine-tuning).
        case whole
    }

    var module: String
    var kind: Kind

    init(_ module: String, _ kind: Kind) { self.module = module; self.kind = kind }

    /// A placement of PEFTLib's, named by its projection.
    init(_ placement: PEFTPlacement) {
        self.init(placement.kind == .prefix || placement.kind == .whole ? placement.module : placement.projectionName,
                  Kind(rawValue: placement.kind.rawValue)!)
    }

    /// The SVG element id of the site.
    var id: String { "site-\(module)-\(kind.rawValue)" }

    /// `beside q_proj`, `on the output of k_proj`, …
    var phrase: String {
        switch kind {
        case .branch: return "beside \(module)"
        case .input: return "on the input of \(module)"
        case .output: return "on the output of \(module)"
        case .prefix: return "into the attention"
        case .whole: return module
        }
    }
}

/// One decoder block with a method's insertion points.
struct BlockDiagram {
    var title: String
    var subtitle: String
    /// The method's short name, used as a class of its insertion points (`lora`, `ia3`, …).
    var method: String
    var sites: [InsertionSite]
    /// What an insertion point's box says: a label and an optional second, smaller line.
    var labels: [InsertionSite: (String, String?)]
    /// The projections' widths, `4096 → 11008` or `d → d_ff`, shown under their names when known.
    var widths: [String: String] = [:]

    static let width = 680.0
    static let ink = "#808080"
    static let highlight = "#F58518"
    private let y0 = 66.0
    private let rx = 56.0          // the residual stream
    private let boxW = 76.0, boxH = 30.0

    /// Top-left corners of the projections' boxes.
    private var slots: [String: (x: Double, y: Double)] {
        ["q_proj": (120, y0 + 108), "k_proj": (280, y0 + 108), "v_proj": (440, y0 + 108), "o_proj": (120, y0 + 248),
         "gate_proj": (120, y0 + 420), "up_proj": (280, y0 + 420), "down_proj": (120, y0 + 556)]
    }

    var height: Double { y0 + 722 }

    func svg() -> String {
        let w = Self.width
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(height))\" "
        s += "viewBox=\"0 0 \(Int(w)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\" class=\"peftlab-block\">"
        s += "<title>\(escape(title)): \(escape(subtitle))</title>"
        s += text(w / 2, 22, title, size: 15, weight: "600")
        s += text(w / 2, 42, subtitle, size: 11)
        s += "<rect x=\"28\" y=\"\(f(y0 + 14))\" width=\"\(f(w - 40))\" height=\"\(f(634))\" rx=\"10\" fill=\"none\" "
        s += "stroke=\"\(Self.ink)\" stroke-opacity=\"0.6\" stroke-dasharray=\"5 4\"/>"
        s += text(w - 20, y0 + 30, "one decoder layer", anchor: "end", size: 10)
        s += residual() + attentionHalf() + mlpHalf() + legend()
        s += "</svg>"
        return s
    }

    // MARK: - The block

    private func residual() -> String {
        var s = text(rx, y0 + 4, "hidden states in", size: 10)
        s += line(rx, y0 + 10, rx, y0 + 318 - 9) + line(rx, y0 + 318 + 9, rx, y0 + 626 - 9) + line(rx, y0 + 626 + 9, rx, y0 + 660)
        s += arrowDown(rx, y0 + 668)
        s += text(rx, y0 + 684, "hidden states out", size: 10)
        s += add(rx, y0 + 318, id: "residual-attention") + add(rx, y0 + 626, id: "residual-mlp")
        return s
    }

    private func attentionHalf() -> String {
        var s = tap(y0 + 41) + norm("input_layernorm", y: y0 + 28)
        s += line(170, y0 + 54, 170, y0 + 70) + line(158, y0 + 70, 478, y0 + 70)
        for name in ["q_proj", "k_proj", "v_proj"] {
            let (x, y) = slots[name]!
            s += wire(name, from: y0 + 70, to: y - 5) + arrowDown(x + boxW / 2, y)
            s += projection(name)
            s += wire(name, from: y + boxH, to: y0 + 173) + arrowDown(x + boxW / 2, y0 + 178)
        }
        s += group(id: "module-attention", class: "module") {
            box(120, y0 + 178, 396, 30) + text(318, y0 + 197, "attention  softmax(q kᵀ / √d) v")
        }
        if let prefix = sites.first(where: { $0.kind == .prefix }) {
            s += insertion(prefix) {
                line(536, y0 + 193, 521, y0 + 193, color: Self.highlight) + arrowLeft(516, y0 + 193, color: Self.highlight)
                    + box(536, y0 + 172, 120, 42, highlighted: true)
                    + text(596, y0 + 189, labels[prefix]?.0 ?? "prefix", weight: "600")
                    + text(596, y0 + 205, labels[prefix]?.1 ?? "", size: 9)
            }
        }
        let (ox, oy) = slots["o_proj"]!
        s += wire("o_proj", from: y0 + 208, to: oy - 5) + arrowDown(ox + boxW / 2, oy)
        s += projection("o_proj")
        s += wire("o_proj", from: oy + boxH, to: y0 + 318) + line(ox + boxW / 2, y0 + 318, rx + 14, y0 + 318)
        s += arrowLeft(rx + 9, y0 + 318)
        return s
    }

    private func mlpHalf() -> String {
        var s = tap(y0 + 353) + norm("post_attention_layernorm", y: y0 + 340)
        s += line(170, y0 + 366, 170, y0 + 382) + line(158, y0 + 382, 318, y0 + 382)
        for name in ["gate_proj", "up_proj"] {
            let (x, y) = slots[name]!
            s += wire(name, from: y0 + 382, to: y - 5) + arrowDown(x + boxW / 2, y)
            s += projection(name)
            s += wire(name, from: y + boxH, to: y0 + 485) + arrowDown(x + boxW / 2, y0 + 490)
        }
        s += group(id: "module-act", class: "module") {
            box(120, y0 + 490, 236, 28) + text(238, y0 + 508, "SiLU(gate) ⊙ up")
        }
        let (dx, dy) = slots["down_proj"]!
        s += wire("down_proj", from: y0 + 518, to: dy - 5) + arrowDown(dx + boxW / 2, dy)
        s += projection("down_proj")
        s += wire("down_proj", from: dy + boxH, to: y0 + 626) + line(dx + boxW / 2, y0 + 626, rx + 14, y0 + 626)
        s += arrowLeft(rx + 9, y0 + 626)
        return s
    }

    /// The vertical wire into or out of a projection, broken where an insertion point's box
    /// sits on it (so the box's label stays clear).
    private func wire(_ name: String, from y1: Double, to y2: Double) -> String {
        let (x, y) = slots[name]!
        var gaps: [(Double, Double)] = []
        if sites.contains(InsertionSite(name, .input)) { gaps.append((y - 29, y - 9)) }
        if sites.contains(InsertionSite(name, .output)) { gaps.append((y + boxH + 9, y + boxH + 29)) }
        var s = "", start = y1
        for (a, b) in gaps where a >= y1 && b <= y2 {
            s += line(x + boxW / 2, start, x + boxW / 2, a)
            start = b
        }
        return s + line(x + boxW / 2, start, x + boxW / 2, y2)
    }

    /// The residual stream's branch into a sub-layer, at height `y`.
    private func tap(_ y: Double) -> String {
        "<circle cx=\"\(f(rx))\" cy=\"\(f(y))\" r=\"3\" fill=\"\(Self.ink)\"/>" + line(rx, y, 115, y) + arrowRight(120, y)
    }

    private func norm(_ name: String, y: Double) -> String {
        let site = sites.first { $0.module == name && $0.kind == .whole }
        let body = box(120, y, 100, 26, highlighted: site != nil) + text(170, y + 17, "RMSNorm")
        return group(id: "module-\(name)", class: "module") { site.map { site in insertion(site) { body } } ?? body }
    }

    /// A projection's box and the method's insertion points around it.
    private func projection(_ name: String) -> String {
        let (x, y) = slots[name]!
        let cx = x + boxW / 2
        let whole = sites.contains(InsertionSite(name, .whole))
        var b = box(x, y, boxW, boxH, highlighted: whole)
        if let w = widths[name] {
            b += text(cx, y + 13, name) + text(cx, y + 25, w, size: 9)
        } else {
            b += text(cx, y + 19, name)
        }
        let body = b
        var s = group(id: "module-\(name)", class: "module") { whole ? insertion(InsertionSite(name, .whole)) { body } : body }
        for site in sites where site.module == name {
            let (label, detail) = labels[site] ?? (site.kind.rawValue, nil)
            switch site.kind {
            case .branch:
                // A side path: taps the input, runs beside the projection, joins its output at ⊕.
                let bx = x + boxW + 18, bcx = bx + 26
                s += insertion(site) {
                    var b = dot(cx, y - 12) + line(cx, y - 12, bcx, y - 12, color: Self.highlight)
                    b += line(bcx, y - 12, bcx, y - 5, color: Self.highlight) + arrowDown(bcx, y, color: Self.highlight)
                    b += box(bx, y, 52, boxH, highlighted: true)
                    b += detail == nil ? text(bcx, y + 19, label, weight: "600")
                        : text(bcx, y + 13, label, weight: "600") + text(bcx, y + 25, detail!, size: 9)
                    b += line(bcx, y + boxH, bcx, y + 48, color: Self.highlight)
                    b += line(bcx, y + 48, cx + 12, y + 48, color: Self.highlight) + arrowLeft(cx + 7, y + 48, color: Self.highlight)
                    b += add(cx, y + 48, r: 7, color: Self.highlight)
                    return b
                }
            case .input, .output:
                let cy = site.kind == .input ? y - 19 : y + boxH + 19
                s += insertion(site) {
                    box(cx - 34, cy - 10, 68, 20, highlighted: true) + text(cx, cy + 4, label, weight: "600")
                }
            case .prefix, .whole:
                break
            }
        }
        return s
    }

    private func legend() -> String {
        let y = y0 + 704
        var s = "<rect x=\"40\" y=\"\(f(y - 10))\" width=\"14\" height=\"12\" rx=\"2\" fill=\"\(Self.highlight)\" fill-opacity=\"0.3\" "
        s += "stroke=\"\(Self.highlight)\" stroke-width=\"2\"/>"
        s += text(60, y, "added or trained by the method", anchor: "start")
        s += "<rect x=\"280\" y=\"\(f(y - 10))\" width=\"14\" height=\"12\" rx=\"2\" fill=\"\(Self.ink)\" fill-opacity=\"0.12\" "
        s += "stroke=\"\(Self.ink)\"/>"
        s += text(300, y, "frozen", anchor: "start")
        return s
    }

    // MARK: - Primitives

    private func insertion(_ site: InsertionSite, _ body: () -> String) -> String {
        group(id: site.id, class: "insertion \(method)", body)
    }

    private func group(id: String, class c: String, _ body: () -> String) -> String {
        "<g id=\"\(escape(id))\" class=\"\(escape(c))\">" + body() + "</g>"
    }

    private func box(_ x: Double, _ y: Double, _ w: Double, _ h: Double, highlighted: Bool = false) -> String {
        let color = highlighted ? Self.highlight : Self.ink
        return "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(w))\" height=\"\(f(h))\" rx=\"4\" fill=\"\(color)\" "
            + "fill-opacity=\"\(highlighted ? "0.25" : "0.1")\" stroke=\"\(color)\" stroke-width=\"\(highlighted ? "2" : "1")\"/>"
    }

    private func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, color: String = ink) -> String {
        "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"\(color)\" stroke-width=\"1.5\"/>"
    }

    private func dot(_ x: Double, _ y: Double) -> String {
        "<circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"2.5\" fill=\"\(Self.highlight)\"/>"
    }

    /// A circled plus: a sum.
    private func add(_ x: Double, _ y: Double, r: Double = 9, id: String? = nil, color: String = ink) -> String {
        let idAttribute = id.map { " id=\"\($0)\"" } ?? ""
        return "<g\(idAttribute)><circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"\(f(r))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\"/>"
            + line(x - r + 3, y, x + r - 3, y, color: color) + line(x, y - r + 3, x, y + r - 3, color: color) + "</g>"
    }

    private func arrowDown(_ x: Double, _ y: Double, color: String = ink) -> String {
        triangle([(x, y), (x - 4, y - 7), (x + 4, y - 7)], color)
    }

    private func arrowLeft(_ x: Double, _ y: Double, color: String = ink) -> String {
        triangle([(x, y), (x + 7, y - 4), (x + 7, y + 4)], color)
    }

    private func arrowRight(_ x: Double, _ y: Double, color: String = ink) -> String {
        triangle([(x, y), (x - 7, y - 4), (x - 7, y + 4)], color)
    }

    private func triangle(_ points: [(Double, Double)], _ color: String) -> String {
        "<polygon points=\"" + points.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ") + "\" fill=\"\(color)\"/>"
    }

    private func text(_ x: Double, _ y: Double, _ s: String, anchor: String = "middle", size: Int = 11, weight: String = "normal") -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\" fill=\"\(Self.ink)\" font-size=\"\(size)\" "
            + "font-weight=\"\(weight)\">\(escape(s))</text>"
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }
    private func escape(_ s: String) -> String { TableRendering.escape(s) }
}
