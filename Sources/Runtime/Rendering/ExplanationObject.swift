// `explain`'s value: shown as the block diagram with the method's formula and its count, in
// HTML, Markdown, LaTeX and text.

import Foundation
import PEFTLabJSON
import PEFTLib

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
