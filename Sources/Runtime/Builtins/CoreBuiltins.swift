// Built-ins for output and control: print, display, clearOutput, page, help, sleep, write.

#if canImport(Glibc)
import Glibc
#endif
import PEFTLabJSON

enum CoreBuiltins {
    static func all(catalog: @escaping @Sendable () -> [Builtin]) -> [Builtin] {
        [print, display, clearOutput, page, sleep, help(catalog: catalog), toDouble, toInt, toString, write]
    }

    static let print = Builtin(
        "print",
        [Parameter(nil, "Any", variadic: true), Parameter("separator", "String", default: .string(" ")),
         Parameter("terminator", "String", default: .string("\n")), Parameter("to", "Stream", default: .dotCase("stdout"))],
        doc: "Writes the items, separated by `separator` and followed by `terminator`, to `.stdout` or `.stderr`."
    ) { args, context throws(RuntimeError) in
        guard case .array(let items) = args[0] else { return .void }
        let separator = try args.string("separator")
        let terminator = try args.string("terminator")
        let stream = try args.dotCase("to", allowed: ["stdout", "stderr"])
        let text = items.map(\.printed).joined(separator: separator) + terminator
        context.output.write(text, to: stream == "stderr" ? .stderr : .stdout)
        return .void
    }

    static let display = Builtin(
        "display",
        [Parameter(nil, "Any", default: .null), Parameter("html", "String", default: .null),
         Parameter("markdown", "String", default: .null), Parameter("svg", "String", default: .null),
         Parameter("latex", "String", default: .null), Parameter("json", "String", default: .null),
         Parameter("id", "String", default: .null), Parameter("update", "Bool", default: .bool(false))],
        doc: """
            Shows a value now, as rich output, without ending the cell. With `html:`, `markdown:`, \
            `svg:`, `latex:` or `json:` (JSON text) it shows that content. With `id:` the display can \
            later be replaced by calling display again with the same `id:` and `update: true`.
            """
    ) { args, context throws(RuntimeError) in
        var bundle = MIMEBundle(data: [:])
        if case .null = args[0] {} else if let shown = args[0].mimeBundle() { bundle = shown }
        let kinds = [("html", "text/html"), ("markdown", "text/markdown"), ("svg", "image/svg+xml"),
                     ("latex", "text/latex"), ("json", "application/json")]
        for (label, mime) in kinds {
            guard let s = try args.optionalString(label) else { continue }
            if mime == "application/json" {
                do { bundle.data[mime] = try JSON.parse(s) } catch {
                    throw RuntimeError(.value, "display(json:) needs valid JSON text: \(error)", at: args.location)
                }
            } else {
                bundle.data[mime] = .string(s)
            }
            if bundle.data["text/plain"] == nil {
                // Markdown and LaTeX read well as they are; markup and data get a short placeholder.
                bundle.data["text/plain"] = .string(label == "markdown" || label == "latex" ? s : "<\(label)>")
            }
        }
        if bundle.data.isEmpty { bundle = .text("nil") }
        let id = try args.optionalString("id")
        let update = try args.bool("update")
        if update && id == nil {
            throw RuntimeError(.argument, "display(update: true) needs the id: of the display to replace", at: args.location)
        }
        context.output.display(bundle, id: id, update: update)
        return .void
    }

    static let clearOutput = Builtin(
        "clearOutput", [Parameter("wait", "Bool", default: .bool(false))],
        doc: "Clears this cell's output; with `wait: true` only when the next output arrives (no flicker)."
    ) { args, context throws(RuntimeError) in
        context.output.clearOutput(wait: try args.bool("wait"))
        return .void
    }

    static let page = Builtin(
        "page", [Parameter(nil, "Any")],
        doc: "Shows text in the notebook's pager (or below the cell) instead of as the cell's result."
    ) { args, context throws(RuntimeError) in
        let bundle: MIMEBundle
        if case .string(let s) = args[0] { bundle = .text(s) } else { bundle = args[0].mimeBundle() ?? .text("") }
        context.addPayload(bundle, source: "page")
        return .void
    }

    static let sleep = Builtin(
        "sleep", [Parameter("seconds", "Double")],
        doc: "Waits for the given number of seconds; an interrupt stops it at once."
    ) { args, context throws(RuntimeError) in
        let seconds = try args.double("seconds")
        guard seconds.isFinite, seconds >= 0 else {
            throw RuntimeError(.value, "sleep(seconds:) needs a non-negative number of seconds, got \(seconds)", at: args.location)
        }
        let deadline = ContinuousClock.now + .milliseconds(Int64(min(seconds, 1e9) * 1000))
        while ContinuousClock.now < deadline {
            if context.isCancelled { throw RuntimeError(.interrupted, "the cell was interrupted", at: args.location) }
            usleep(5_000)
        }
        return .void
    }

    static let toDouble = Builtin(
        "Double", [Parameter(nil, "Int, Double or String")], returns: "Double",
        doc: "Converts an Int, or a String such as \"2e-4\", to a Double."
    ) { args, _ throws(RuntimeError) in
        switch args[0] {
        case .int(let n): return .double(Double(n))
        case .double(let d): return .double(d)
        case .string(let s):
            guard let d = Double(s.trimmingSpaces()) else {
                throw RuntimeError(.value, "Double(\(Value.quote(s))): not a number", at: args.location)
            }
            return .double(d)
        default: throw args.fail(at: 0, "an Int, Double or String", got: args[0])
        }
    }

    static let toInt = Builtin(
        "Int", [Parameter(nil, "Int, Double or String")], returns: "Int",
        doc: "Converts a Double (rounding toward zero) or a String such as \"42\" to an Int."
    ) { args, _ throws(RuntimeError) in
        switch args[0] {
        case .int(let n): return .int(n)
        case .double(let d):
            guard d.isFinite, let n = Int(exactly: d.rounded(.towardZero)) else {
                throw RuntimeError(.value, "Int(\(Value.format(d))): out of the range of Int", at: args.location)
            }
            return .int(n)
        case .string(let s):
            guard let n = Int(s.trimmingSpaces()) else {
                throw RuntimeError(.value, "Int(\(Value.quote(s))): not an integer", at: args.location)
            }
            return .int(n)
        default: throw args.fail(at: 0, "an Int, Double or String", got: args[0])
        }
    }

    static let toString = Builtin(
        "String", [Parameter(nil, "Any")], returns: "String",
        doc: "The text of a value, as print writes it."
    ) { args, _ throws(RuntimeError) in
        .string(args[0].printed)
    }

    static let write = Builtin(
        "write", [Parameter(nil, "String, Array or Dictionary"), Parameter("to", "String")], returns: "String",
        doc: """
            Writes a file (its folder is created) and returns its path: a String as it is, arrays and \
            dictionaries as JSON — `write([["id": "1", "image": "a.png"]], to: "data/train.json")`.
            """
    ) { args, _ throws(RuntimeError) in
        let path = try args.path("to")
        let text: String
        switch args[0] {
        case .string(let s): text = s
        case .array, .dictionary: text = try args[0].json(callee: "write").prettySerialized() + "\n"
        default: throw args.fail(at: 0, "a String, an Array or a Dictionary", got: args[0])
        }
        try writeFile(text, to: path)
        return .string(path)
    }

    static func help(catalog: @escaping @Sendable () -> [Builtin]) -> Builtin {
        Builtin(
            "help", [Parameter(nil, "Function", default: .null)], returns: "Help",
            doc: "Describes a built-in (`help(print)`), or lists them all (`help()`)."
        ) { args, _ throws(RuntimeError) in
            switch args[0] {
            case .function(let f): return .object(f.documentation)
            case .null:
                let lines = catalog().sorted { $0.name < $1.name }.map { "  \($0.signature)" }
                return .object(Documentation(title: "PEFTLab built-ins", body: lines.joined(separator: "\n")))
            default:
                throw args.fail(at: 0, "a built-in function such as print", got: args[0])
            }
        }
    }
}

extension Value {
    /// The value as JSON: dictionaries need String keys; functions, objects and ranges do not fit.
    func json(callee: String) throws(RuntimeError) -> JSON {
        switch self {
        case .null, .void: return .null
        case .bool(let b): return .bool(b)
        case .int(let n): return .number(Double(n))
        case .double(let d):
            guard d.isFinite else { throw RuntimeError(.value, "\(callee): JSON has no \(Value.format(d))") }
            return .number(d)
        case .string(let s): return .string(s)
        case .dotCase(let c): return .string(c)
        case .array(let items):
            var out: [JSON] = []
            for item in items { out.append(try item.json(callee: callee)) }
            return .array(out)
        case .dictionary(let pairs):
            var object = JSONObject()
            for pair in pairs {
                guard case .string(let key) = pair.key else {
                    throw RuntimeError(.type, "\(callee): JSON object keys are Strings, not \(pair.key.typeName)")
                }
                object[key] = try pair.value.json(callee: callee)
            }
            return .object(object)
        default:
            throw RuntimeError(.type, "\(callee): a \(typeName) cannot be written as JSON")
        }
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
