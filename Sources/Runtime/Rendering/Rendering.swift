// Stage 7: how values and errors show in Jupyter — MIME bundles with text/plain
// always present, and short tracebacks that point at the line and column.

import PEFTLabJSON

extension Value {
    /// The bundle a cell's result shows as; nil for Void (nothing to show).
    public func mimeBundle() -> MIMEBundle? {
        switch self {
        case .void: return nil
        case .object(let o): return o.render()
        default: return .text(literal)
        }
    }
}

extension RuntimeError {
    /// Traceback lines: the error, where it happened, the source line and a caret.
    public func traceback(source: String) -> [String] {
        var lines = ["\u{1B}[0;31m\(kind.rawValue)\u{1B}[0m: \(message)"]
        guard let location else { return lines }
        lines.append("  at \(location):")
        let sourceLines = source.split(separator: "\n", omittingEmptySubsequences: false)
        if location.line >= 1, location.line <= sourceLines.count {
            let text = String(sourceLines[location.line - 1]).replacingTabs()
            lines.append("    " + text)
            lines.append("    " + String(repeating: " ", count: max(0, location.column - 1)) + "^")
        }
        return lines
    }
}

extension String {
    fileprivate func replacingTabs() -> String {
        String(map { $0 == "\t" ? " " : $0 })
    }
}

/// Documentation shown by `help` and by inspect.
final class Documentation: RuntimeObject {
    let title: String
    let body: String
    init(title: String, body: String) { self.title = title; self.body = body }

    var typeName: String { "Help" }
    var memberNames: [String] { [] }
    func member(_ name: String) throws(RuntimeError) -> Value? { nil }

    func render() -> MIMEBundle {
        MIMEBundle(data: [
            "text/plain": .string("\(title)\n\n\(body)"),
            "text/markdown": .string("```swift\n\(title)\n```\n\n\(body)"),
        ])
    }
}

extension Builtin {
    var documentation: Documentation { Documentation(title: signature, body: doc) }
}
