// Random token sequences, random programs and random bytes: the session never crashes,
// every cell ends in a value or an error, and long-running cells are interrupted by a watchdog.

import Foundation
import Runtime
import Synchronization
import Testing

/// Interrupts the session when a cell runs past its deadline.
final class Watchdog: Sendable {
    private let deadline = Mutex<ContinuousClock.Instant?>(nil)
    private let stopped = Atomic<Bool>(false)
    private let fired = Atomic<Int>(0)
    let session: Session

    init(session: Session) {
        self.session = session
        let thread = Thread { [self] in
            while !self.stopped.load(ordering: .acquiring) {
                if let d = self.deadline.withLock({ $0 }), ContinuousClock.now > d {
                    self.session.interrupt()
                    _ = self.fired.add(1, ordering: .relaxed)
                }
                Thread.sleep(forTimeInterval: 0.005)
            }
        }
        thread.start()
    }

    var firings: Int { fired.load(ordering: .relaxed) }

    /// Runs one cell with a time limit.
    func execute(_ code: String, limit: Duration = .milliseconds(100)) -> CellResult {
        deadline.withLock { $0 = ContinuousClock.now + limit }
        defer { deadline.withLock { $0 = nil } }
        return session.execute(code, output: NullOutput())
    }

    func stop() { stopped.store(true, ordering: .releasing) }
}

struct NullOutput: OutputSink {
    func write(_ text: String, to stream: OutputStreamName) {}
    func display(_ bundle: MIMEBundle, id: String?, update: Bool) {}
    func clearOutput(wait: Bool) {}
}

@Suite("Fuzz", .serialized)
struct FuzzTests {
    static let vocabulary: [String] = [
        // names, built-ins and keywords
        "x", "y", "xs", "d", "s", "undefinedName", "print", "display", "help", "page", "clearOutput", "sleep",
        "let", "var", "if", "else", "for", "in", "while", "break", "continue", "true", "false", "nil",
        // literals
        "0", "1", "2", "7", "-1", "9223372036854775807", "0.5", "2e-4", "1e308", "1_0", "0.0",
        "\"\"", "\"a\"", "\"\\(x)\"", "\"\\(1 + )\"", "\"\\(\"\\(y)\")\"", "\"\\n\\t\"", "\"é🚀\"",
        // labels and cases
        "seconds:", "separator:", "terminator:", "to:", "html:", "json:", "id:", "update:", "wait:", ".stderr", ".tuned",
        // symbols
        "(", ")", "[", "]", "{", "}", ",", ":", ".", "=", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%",
        "!", "&&", "||", "..<", "...", "+=", "-=", "*=", "/=", ";", "?", "->", "@", "#", "\\", "\"",
        // comments and lines
        "//", "/*", "*/", "\n", "\n", " ",
    ]

    static func randomTokens(_ rng: inout SplitMix64) -> String {
        let count = Int(rng.next() % 24) + 1
        var text = ""
        for _ in 0..<count {
            text += vocabulary[Int(rng.next() % UInt64(vocabulary.count))]
            text += rng.next() % 4 == 0 ? "" : " "
        }
        return text
    }

    /// Mostly valid programs, to reach deep into the interpreter.
    static func randomProgram(_ rng: inout SplitMix64, depth: Int = 0) -> String {
        func pick(_ options: [String]) -> String { options[Int(rng.next() % UInt64(options.count))] }
        func expr(_ d: Int) -> String {
            if d > 2 { return pick(["x", "y", "1", "2", "2.5", "\"s\"", "true", "xs", "d", "0", "-3", "nil", "x", "y"]) }
            switch rng.next() % 14 {
            case 0: return "(\(expr(d + 1)) \(pick(["+", "-", "*", "/", "%", "==", "<", "&&", "||", "..<", "..."])) \(expr(d + 1)))"
            case 1: return "[\(expr(d + 1)), \(expr(d + 1))]"
            case 2: return "[\(expr(d + 1)): \(expr(d + 1))]"
            case 3: return "\(expr(d + 1))[\(expr(d + 1))]"
            case 4: return "\(expr(d + 1)).\(pick(["count", "first", "last", "isEmpty", "keys", "values", "nope"]))"
            case 5: return "\"v=\\(\(expr(d + 1)))\""
            case 6: return "\(pick(["-", "!"]))\(expr(d + 1))"
            case 7: return "print(\(expr(d + 1)), separator: \(expr(d + 1)))"
            case 8: return "display(\(expr(d + 1)))"
            case 9: return "help(\(pick(["print", "sleep", "x", ""])))"
            default: return expr(d + 1)
            }
        }
        var lines: [String] = []
        for _ in 0..<(Int(rng.next() % 5) + 1) {
            switch rng.next() % 9 {
            case 0: lines.append("var \(pick(["x", "y", "xs", "d"])) = \(expr(depth))")
            case 1: lines.append("let \(pick(["a", "b", "c"])) = \(expr(depth))")
            case 2: lines.append("\(pick(["x", "y", "xs[0]", "d[\"k\"]"])) \(pick(["=", "+=", "-=", "*=", "/="])) \(expr(depth))")
            case 3: lines.append("if \(expr(depth)) { \(expr(depth)) } else { \(expr(depth)) }")
            case 4: lines.append("for i in \(expr(depth)) { \(pick(["break", "continue", "x = i", "print(i)"])) }")
            case 5: lines.append("var n = 0\nwhile n < \(pick(["3", "x", "100"])) { n += 1 }")
            default: lines.append(expr(depth))
            }
        }
        return lines.joined(separator: "\n")
    }

    static func randomBytes(_ rng: inout SplitMix64) -> String {
        let count = Int(rng.next() % 40)
        let known = Array("()[]{}\"\\.:,=+-*/%<>!&|;?0123456789abcxyz_ \n".utf8)
        let bytes = (0..<count).map { _ -> UInt8 in
            // Bias towards ASCII that the lexer knows.
            rng.next() % 3 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : known[Int(rng.next() % UInt64(known.count))]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Feeds one input to every entry point and checks the cell ended in a value or an error.
    static func check(_ code: String, _ watchdog: Watchdog, _ rng: inout SplitMix64) -> (ok: Bool, result: CellResult) {
        let result = watchdog.execute(code)
        let scalars = code.unicodeScalars.count
        _ = watchdog.session.isComplete(code)
        let cursor = scalars == 0 ? 0 : Int(rng.next() % UInt64(scalars + 1))
        _ = watchdog.session.complete(code, cursor: cursor)
        _ = watchdog.session.inspect(code, cursor: cursor)
        if let error = result.error {
            return (result.value == nil && !error.name.isEmpty && !error.traceback.isEmpty, result)
        }
        return (true, result)
    }

    @Test("random token sequences")
    func tokenSequences() {
        let session = Session()
        let watchdog = Watchdog(session: session)
        defer { watchdog.stop() }
        var rng = SplitMix64(seed: 42)
        var errors = 0, values = 0
        for i in 0..<3000 {
            let code = Self.randomTokens(&rng)
            let ok = Self.check(code, watchdog, &rng).ok
            #expect(ok, "input \(i): \(code.debugDescription)")
            if watchdog.session.execute("1", output: NullOutput()).error != nil { Issue.record("session broken after \(code.debugDescription)") }
            if session.isComplete(code) == .complete { values += 1 } else { errors += 1 }
        }
        #expect(values > 0 && errors > 0)
    }

    @Test("random programs")
    func programs() {
        let session = Session()
        let watchdog = Watchdog(session: session)
        defer { watchdog.stop() }
        var rng = SplitMix64(seed: 7)
        var succeeded = 0
        var failures: [String: Int] = [:]
        for i in 0..<1500 {
            if i % 50 == 0 {  // names the programs use, reset now and then
                _ = watchdog.execute("var x = 1\nvar y = 2\nvar xs = [1, 2, 3]\nvar d = [\"k\": 1]")
            }
            let code = Self.randomProgram(&rng)
            let (ok, result) = Self.check(code, watchdog, &rng)
            #expect(ok, "program \(i): \(code.debugDescription)")
            if let e = result.error { failures[e.name, default: 0] += 1 } else { succeeded += 1 }
        }
        #expect(succeeded > 50, "the generator should produce valid programs too")
        #expect(failures.count >= 3, "and several kinds of error: \(failures)")
    }

    @Test("random bytes")
    func bytes() {
        let session = Session()
        let watchdog = Watchdog(session: session)
        defer { watchdog.stop() }
        var rng = SplitMix64(seed: 0xB17E5)
        for i in 0..<3000 {
            let code = Self.randomBytes(&rng)
            #expect(Self.check(code, watchdog, &rng).ok, "bytes \(i): \(code.debugDescription)")
        }
    }
}
