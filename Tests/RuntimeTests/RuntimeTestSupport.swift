// Helpers for the language tests: a recording output sink, statement trees, cell results as text.

import Foundation
import PEFTLabJSON
import Runtime
import Synchronization
import Testing

/// Records everything a cell sends out, in order.
final class RecordingOutput: OutputSink {
    enum Event: Sendable, Equatable {
        case write(String, OutputStreamName)
        case display(MIMEBundle, id: String?, update: Bool)
        case clear(wait: Bool)
    }
    private let storage = Mutex<[Event]>([])

    func write(_ text: String, to stream: OutputStreamName) { storage.withLock { $0.append(.write(text, stream)) } }
    func display(_ bundle: MIMEBundle, id: String?, update: Bool) {
        storage.withLock { $0.append(.display(bundle, id: id, update: update)) }
    }
    func clearOutput(wait: Bool) { storage.withLock { $0.append(.clear(wait: wait)) } }

    var events: [Event] { storage.withLock { $0 } }
    var stdout: String {
        events.map { if case .write(let t, .stdout) = $0 { return t } else { return "" } }.joined()
    }
    var stderr: String {
        events.map { if case .write(let t, .stderr) = $0 { return t } else { return "" } }.joined()
    }
    var displays: [(bundle: MIMEBundle, id: String?, update: Bool)] {
        events.compactMap { if case .display(let b, let id, let u) = $0 { return (b, id, u) } else { return nil } }
    }
}

/// Runs cells in one session.
struct Cells {
    let session: Session
    init(_ session: Session = Session()) { self.session = session }

    /// Runs a cell that must succeed; returns its text/plain result ("" for none).
    @discardableResult
    func value(_ code: String, output: RecordingOutput = RecordingOutput(),
               sourceLocation: Testing.SourceLocation = #_sourceLocation) -> String {
        let result = session.execute(code, output: output)
        if let error = result.error {
            Issue.record("\(code) failed: \(error.name): \(error.message)", sourceLocation: sourceLocation)
            return "<error>"
        }
        return result.value?.data["text/plain"]?.stringValue ?? ""
    }

    /// Runs a cell that must fail; returns its error.
    func error(_ code: String, output: RecordingOutput = RecordingOutput(),
               sourceLocation: Testing.SourceLocation = #_sourceLocation) -> CellError {
        let result = session.execute(code, output: output)
        guard let error = result.error else {
            Issue.record("\(code) should fail, gave \(result.value?.data["text/plain"]?.stringValue ?? "nothing")",
                         sourceLocation: sourceLocation)
            return CellError.none
        }
        return error
    }
}

extension CellError {
    /// `Name: message`
    var summary: String { "\(name): \(message)" }
    /// A stand-in when a cell unexpectedly succeeded. (CellError has no public initializer.)
    static var none: CellError {
        let r = Session().execute("¤", output: RecordingOutput())
        var e = r.error!
        e.name = "<none>"; e.message = "<none>"; e.traceback = []; e.location = nil
        return e
    }
}

/// Runs `code` on one session while another thread interrupts it after `after` seconds.
func executeInterrupted(_ session: Session, _ code: String, after: Double,
                        output: RecordingOutput = RecordingOutput()) -> (CellResult, Duration) {
    let box = DoneFlag()
    let thread = Thread {
        Thread.sleep(forTimeInterval: after)
        // Keep asking until the cell has ended: an interrupt is only meaningful while it runs.
        while !box.isDone {
            session.interrupt()
            Thread.sleep(forTimeInterval: 0.01)
        }
    }
    let start = ContinuousClock.now
    thread.start()
    let result = session.execute(code, output: output)
    let elapsed = ContinuousClock.now - start
    box.finish()
    return (result, elapsed)
}

final class DoneFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isDone: Bool { flag.load(ordering: .acquiring) }
    func finish() { flag.store(true, ordering: .releasing) }
}

// MARK: - Statement trees

/// An S-expression for a statement, built on Expr.treeDescription.
func describe(_ statement: Stmt) -> String {
    switch statement {
    case .binding(let name, let mutable, let value, _):
        return "(\(mutable ? "var" : "let") \(name) \(value.treeDescription))"
    case .assignment(let target, let op, let value, _):
        return "(\(op) \(target.treeDescription) \(value.treeDescription))"
    case .expression(let e):
        return e.treeDescription
    case .ifElse(let condition, let then, let otherwise, _):
        return "(if \(condition.treeDescription) {\(describe(then))}" + (otherwise.map { " else {\(describe($0))}" } ?? "") + ")"
    case .forIn(let name, let sequence, let body, _):
        return "(for \(name) \(sequence.treeDescription) {\(describe(body))})"
    case .whileLoop(let condition, let body, _):
        return "(while \(condition.treeDescription) {\(describe(body))})"
    case .breakLoop: return "break"
    case .continueLoop: return "continue"
    }
}

func describe(_ statements: [Stmt]) -> String { statements.map(describe).joined(separator: "; ") }

/// Parses and describes, or "error: message @line:column" for syntax errors.
func tree(_ source: String) -> String {
    do {
        return describe(try Parser.parse(source))
    } catch {
        return "error: \(error.message) @\(error.location.line):\(error.location.column)\(error.atEnd ? " atEnd" : "")"
    }
}

/// A small deterministic generator for reproducible random tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E9B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
