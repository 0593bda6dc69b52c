// One self-contained HTML page holding every output of a script, in order: text,
// tables, figures and images, for `peftlab run script.peft --report out.html`.

import Foundation
import PEFTLabJSON
import PEFTLib

/// Collects a script's outputs and writes them as a single HTML file.
public final class HTMLReport: OutputSink, @unchecked Sendable {
    private let title: String
    private var blocks: [String] = []
    private var displayBlocks: [String: Int] = [:]
    private let lock = NSLock()

    public init(title: String) { self.title = title }

    public func write(_ text: String, to stream: OutputStreamName) {
        let style = stream == .stderr ? " class=\"stderr\"" : ""
        append("<pre\(style)>\(TableRendering.escape(text))</pre>", id: nil, update: false)
    }

    public func display(_ bundle: MIMEBundle, id: String?, update: Bool) {
        append(Self.html(for: bundle), id: id, update: update)
    }

    public func clearOutput(wait: Bool) {}

    /// Adds a cell's result or its error.
    public func add(result: CellResult) {
        if let value = result.value { display(value, id: nil, update: false) }
        if let error = result.error {
            let text = ([error.name + ": " + error.message] + error.traceback.dropFirst()).joined(separator: "\n")
            append("<pre class=\"error\">\(TableRendering.escape(text))</pre>", id: nil, update: false)
        }
    }

    private func append(_ block: String, id: String?, update: Bool) {
        lock.lock()
        defer { lock.unlock() }
        if let id, update, let index = displayBlocks[id] {
            blocks[index] = block  // a live display keeps only its final state
        } else {
            if let id { displayBlocks[id] = blocks.count }
            blocks.append(block)
        }
    }

    /// The richest form a page can show without scripts.
    static func html(for bundle: MIMEBundle) -> String {
        let data = bundle.data
        if let html = data["text/html"]?.stringValue { return "<div class=\"output\">\(html)</div>" }
        if let svg = data["image/svg+xml"]?.stringValue { return "<div class=\"output\">\(svg)</div>" }
        if let png = data["image/png"]?.stringValue {
            return "<div class=\"output\"><img src=\"data:image/png;base64,\(png)\"></div>"
        }
        if let markdown = data["text/markdown"]?.stringValue {
            return "<pre class=\"markdown\">\(TableRendering.escape(markdown))</pre>"
        }
        if let text = data["text/plain"]?.stringValue { return "<pre>\(TableRendering.escape(text))</pre>" }
        if let json = data["application/json"] { return "<pre>\(TableRendering.escape(json.prettySerialized()))</pre>" }
        return ""
    }

    /// The whole page.
    public func page() -> String {
        lock.lock()
        defer { lock.unlock() }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(TableRendering.escape(title))</title>
            <style>
            body { font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em; }
            pre { background: rgba(128,128,128,0.08); padding: 6px 10px; border-radius: 4px; white-space: pre-wrap; }
            pre.stderr, pre.error { color: #c0392b; }
            .output { margin: 0.8em 0; overflow-x: auto; }
            @media (prefers-color-scheme: dark) { body { background: #1e1e1e; color: #ddd; } }
            </style></head><body>
            <h1>\(TableRendering.escape(title))</h1>
            \(blocks.joined(separator: "\n"))
            </body></html>

            """
    }

    /// Writes the page atomically (a temporary file, then a rename).
    public func write(to path: String) throws {
        try AtomicFiles.write(Array(page().utf8), to: path)
    }
}
