// The live progress display: one display id, throttled updates, a final state that is
// always sent, and renderings for a notebook (HTML) and a console (one text line).

import Foundation
import Runtime
import Testing

@Suite("Progress display")
struct ProgressDisplayTests {
    @Test("the first show is a display, later ones update the same id")
    func sameID() {
        let out = RecordingOutput()
        let progress = ProgressDisplay(output: out, title: "train", total: 10, minInterval: .zero)
        for step in 1...10 { progress.update(step: step, metrics: [("loss", 2.0 / Double(step))], loss: 2.0 / Double(step)) }
        progress.finish(step: 10, metrics: [("loss", 0.2)], status: "done")
        let displays = out.displays
        #expect(displays.count == 11)
        #expect(displays.first?.update == false)
        #expect(displays.dropFirst().allSatisfy { $0.update })
        #expect(Set(displays.map(\.id)).count == 1)
        let final = displays.last!.bundle
        let text = final.data["text/plain"]?.stringValue ?? ""
        #expect(text.hasPrefix("train: ████████████████████████ 10/10  loss 0.2000  ETA 0s  elapsed 0s  done"), "\(text)")
        #expect(!text.contains("\n"))
        let html = final.data["text/html"]?.stringValue ?? ""
        #expect(html.contains("width:100.0%"))
        #expect(html.contains("<polyline"))
    }

    @Test("updates closer than the interval are skipped; finish is always sent")
    func throttling() {
        let out = RecordingOutput()
        let progress = ProgressDisplay(output: out, title: "train", total: 1000, minInterval: .seconds(60))
        for step in 1...1000 { progress.update(step: step, loss: 1) }
        progress.finish(step: 1000, status: "done")
        #expect(out.displays.count == 2)
    }

    @Test("an ETA while running, the status at the end")
    func etaAndStatus() {
        let out = RecordingOutput()
        let progress = ProgressDisplay(output: out, title: "eval", total: 4, minInterval: .zero)
        progress.update(step: 2)
        #expect(out.displays.last?.bundle.data["text/plain"]?.stringValue?.contains("ETA ") == true)
        progress.finish(step: 3, status: "interrupted at step 3")
        let text = out.displays.last?.bundle.data["text/plain"]?.stringValue ?? ""
        #expect(text.hasSuffix("interrupted at step 3"))
        #expect(!text.contains("ETA"))
    }

    @Test("one console line: what is counted, the metrics, ETA, elapsed time")
    func consoleLine() {
        let out = RecordingOutput()
        let progress = ProgressDisplay(output: out, title: "training lora", total: 4, unit: "step", minInterval: .zero)
        progress.update(step: 1, metrics: [("loss", 1.5), ("lr", 2e-4), ("tokens/s", 3000)], loss: 1.5)
        let first = out.displays.last?.bundle.data["text/plain"]?.stringValue ?? ""
        #expect(first.hasPrefix("training lora: ██████░░░░░░░░░░░░░░░░░░ step 1/4  loss 1.5000  lr 2.00e-04  tokens/s 3000  ETA "), "\(first)")
        progress.finish(step: 4, metrics: [("loss", 1.0), ("lr", 2e-4), ("tokens/s", 3000)], status: "done")
        let last = out.displays.last?.bundle.data["text/plain"]?.stringValue ?? ""
        #expect(last.hasPrefix("training lora: ████████████████████████ step 4/4  loss 1.0000  lr 2.00e-04  tokens/s 3000  ETA 0s  elapsed "))
        #expect(last.hasSuffix("  done") && !last.contains("\n"))
    }
}
