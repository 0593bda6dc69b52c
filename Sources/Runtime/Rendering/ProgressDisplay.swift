// The live view of a long cell (training, evaluation, a sweep): one display that is
// updated in place a few times a second — progress bar, step, metrics, ETA and a
// small loss curve — and whose final state stays in the saved notebook.

import Foundation
import PEFTLabJSON

/// A display that a long-running built-in updates as it goes.
public final class ProgressDisplay: @unchecked Sendable {
    private let output: any OutputSink
    private let title: String
    private let total: Int
    private let unit: String?
    private let minInterval: Duration
    private let id: String
    private let started = ContinuousClock.now
    private var lastShown: ContinuousClock.Instant?
    private var shown = false
    private var losses: [Double] = []
    private let lock = NSLock()

    /// - Parameters:
    ///   - total: the number of steps the cell will take.
    ///   - minInterval: updates closer together than this are skipped (the last one never is).
    ///   - unit: what is counted (`step` shows as `step 3/300`); nil shows just `3/300`.
    public init(output: any OutputSink, title: String, total: Int, unit: String? = nil,
                minInterval: Duration = .milliseconds(250)) {
        self.output = output
        self.title = title
        self.unit = unit
        self.total = max(1, total)
        self.minInterval = minInterval
        self.id = "peftlab-progress-\(UUID().uuidString.lowercased())"
    }

    /// Records a step; shows it unless an update was shown less than `minInterval` ago.
    /// `detail` is a line of text under the bar (a sweep's current run).
    public func update(step: Int, metrics: [(String, Double)] = [], loss: Double? = nil, force: Bool = false,
                       detail: String? = nil) {
        lock.lock()
        defer { lock.unlock() }
        if let loss { losses.append(loss) }
        let now = ContinuousClock.now
        if !force, let last = lastShown, now - last < minInterval { return }
        lastShown = now
        send(render(step: step, metrics: metrics, status: nil, detail: detail))
    }

    /// Shows the final state (always sent), e.g. "done" or "interrupted at step 120".
    public func finish(step: Int, metrics: [(String, Double)] = [], status: String) {
        lock.lock()
        defer { lock.unlock() }
        send(render(step: step, metrics: metrics, status: status))
    }

    private func send(_ bundle: MIMEBundle) {
        output.display(bundle, id: id, update: shown)
        shown = true
    }

    // MARK: - Rendering

    func render(step: Int, metrics: [(String, Double)], status: String?, detail: String? = nil) -> MIMEBundle {
        let fraction = min(1, max(0, Double(step) / Double(total)))
        let elapsed = ContinuousClock.now - started
        let elapsedSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        // While running, the time left at the pace so far; at the end 0 s, when every step is done
        // (an interrupted or failed call has no time left to estimate).
        let eta: Double?
        if step >= total { eta = 0 } else if step > 0 && status == nil {
            eta = elapsedSeconds / Double(step) * Double(total - step)
        } else { eta = nil }
        let filled = Int((fraction * 24).rounded())
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: 24 - filled)
        let counter = (unit.map { "\($0) " } ?? "") + "\(step)/\(total)"
        // One line for consoles and scripts: what, how far, the metrics, the time, the status.
        var parts = ["\(title): \(bar) \(counter)"]
        parts += metrics.map { "\($0.0) \(Self.format($0.1))" }
        if let eta { parts.append("ETA \(Self.duration(eta))") }
        parts.append("elapsed \(Self.duration(elapsedSeconds))")
        if let status { parts.append(status) }
        if let detail { parts.append("· \(detail)") }
        let text = parts.joined(separator: "  ")

        var html = "<div class=\"peftlab-progress\" style=\"font-family:var(--jp-ui-font-family,sans-serif);font-size:13px\">"
        html += "<div style=\"display:flex;align-items:center;gap:10px\"><b>\(TableRendering.escape(title))</b>"
        html += "<div style=\"width:240px;height:10px;border-radius:5px;background:rgba(128,128,128,0.25);overflow:hidden\">"
        html += "<div style=\"width:\(String(format: "%.1f", fraction * 100))%;height:100%;background:#4C78A8\"></div></div>"
        html += "<span>\(TableRendering.escape(counter))</span></div><div style=\"margin-top:4px;opacity:0.85\">"
        html += (metrics.map { "\(TableRendering.escape($0.0)) <b>\(Self.format($0.1))</b>" }
                 + (eta.map { ["ETA \(Self.duration($0))"] } ?? [])
                 + ["elapsed \(Self.duration(elapsedSeconds))"]
                 + (status.map { [TableRendering.escape($0)] } ?? [])).joined(separator: " · ")
        html += "</div>"
        if let detail { html += "<div style=\"margin-top:2px;opacity:0.7\">\(TableRendering.escape(detail))</div>" }
        if losses.count >= 2 { html += sparkline() }
        html += "</div>"
        return MIMEBundle(data: ["text/plain": .string(text), "text/html": .string(html)])
    }

    /// The loss so far as a small inline SVG curve.
    private func sparkline() -> String {
        let values = losses.count > 400 ? stride(from: 0, to: losses.count, by: losses.count / 400 + 1).map { losses[$0] } : losses
        let finite = values.filter(\.isFinite)
        guard let lo = finite.min(), let hi = finite.max() else { return "" }
        let w = 240.0, h = 48.0
        let points = values.enumerated().compactMap { i, v -> String? in
            guard v.isFinite else { return nil }
            let x = Double(i) / Double(max(1, values.count - 1)) * w
            let y = hi > lo ? (1 - (v - lo) / (hi - lo)) * (h - 4) + 2 : h / 2
            return String(format: "%.1f,%.1f", x, y)
        }.joined(separator: " ")
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" style=\"margin-top:4px\">"
            + "<polyline fill=\"none\" stroke=\"#F58518\" stroke-width=\"1.5\" points=\"\(points)\"/>"
            + "<text x=\"\(Int(w) - 2)\" y=\"10\" text-anchor=\"end\" font-size=\"10\" fill=\"#808080\">loss \(Self.format(losses.last ?? .nan))</text></svg>"
    }

    static func format(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "nan" : "inf" }
        let a = abs(v)
        if a != 0 && (a < 1e-3 || a >= 1e5) { return String(format: "%.2e", v) }
        return String(format: a >= 100 ? "%.0f" : "%.4f", v)
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m"
    }
}
