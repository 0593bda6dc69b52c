// A fake interpreter and a recording sink, so the dispatcher runs without sockets.

import Foundation
import Kernel
import PEFTLabJSON
import Synchronization
import Testing

/// Records every message the kernel sends, in order, with its channel.
final class RecordingSink: MessageSink {
    struct Sent: Sendable {
        var message: Message
        var channel: Channel
        var type: String { message.msgType }
    }
    private let storage = Mutex<[Sent]>([])

    func send(_ message: Message, on channel: Channel) {
        storage.withLock { $0.append(Sent(message: message, channel: channel)) }
    }

    var all: [Sent] { storage.withLock { $0 } }
    var iopub: [Message] { all.filter { $0.channel == .iopub }.map(\.message) }
    func on(_ channel: Channel) -> [Message] { all.filter { $0.channel == channel }.map(\.message) }
    /// iopub message types, with the status spelled out: `status:busy`.
    var iopubTypes: [String] {
        iopub.map { m in
            m.msgType == "status" ? "status:\(m.content["execution_state"]?.stringValue ?? "?")" : m.msgType
        }
    }
    func clear() { storage.withLock { $0.removeAll() } }
}

/// An interpreter whose cells are tiny scripts: `out text; err text; show text; = result; fail`.
final class FakeInterpreter: KernelInterpreter, @unchecked Sendable {
    struct State {
        var executed: [(code: String, count: Int)] = []
        var interrupts = 0
        var completeCalls: [(String, Int)] = []
        var inspectCalls: [(String, Int, Int)] = []
        var interrupted = false
    }
    let state = Mutex(State())
    /// Runs inside `execute` before the script (e.g. to send an interrupt as the control thread would).
    let duringExecute = Mutex<(@Sendable () -> Void)?>(nil)
    var completeness: CodeCompleteness = .complete

    let implementation = "fake"
    let implementationVersion = "0.1.2"
    let languageInfo = LanguageInfo(name: "peftlab", version: "0.1", mimetype: "text/x-peftlab",
                                    fileExtension: ".peft", pygmentsLexer: "swift", codemirrorMode: "swift")
    let banner = "Fake banner"
    let helpLinks: [(text: String, url: String)] = [("Docs", "https://example.org/docs")]

    var executed: [(code: String, count: Int)] { state.withLock { $0.executed } }
    var interrupts: Int { state.withLock { $0.interrupts } }

    func execute(code: String, executionCount: Int, output: any ExecutionOutput) -> ExecutionOutcome {
        state.withLock { $0.executed.append((code, executionCount)); $0.interrupted = false }
        duringExecute.withLock { $0 }?()
        var result: DisplayData?
        var payload: [JSON] = []
        for command in code.split(separator: ";").map({ $0.trimmingLeadingSpace() }) {
            let (verb, rest) = command.splitOnce()
            switch verb {
            case "out": output.stream(.stdout, rest)
            case "err": output.stream(.stderr, rest)
            case "show": output.display(.text(rest), displayID: nil, update: false)
            case "showid":
                let (id, text) = rest.splitOnce()
                output.display(.text(text), displayID: id, update: false)
            case "update":
                let (id, text) = rest.splitOnce()
                output.display(.text(text), displayID: id, update: true)
            case "clear": output.clearOutput(wait: rest == "wait")
            case "page": payload.append(["source": "page", "data": ["text/plain": .string(rest)], "start": 0])
            case "=": result = DisplayData(data: ["text/plain": .string(rest), "text/html": .string("<b>\(rest)</b>")],
                                           metadata: ["m": 1])
            case "fail":
                return .failure(ExecutionFailure(name: "ValueError", value: rest.isEmpty ? "boom" : rest,
                                                 traceback: ["line 1", "ValueError: boom"]))
            case "wait":  // until interrupted, at most 5 s
                let deadline = ContinuousClock.now + .seconds(5)
                while !state.withLock({ $0.interrupted }) && ContinuousClock.now < deadline {
                    threadSleep(milliseconds: 1)
                }
                if state.withLock({ $0.interrupted }) {
                    return .failure(ExecutionFailure(name: "Interrupted", value: "interrupted", traceback: []))
                }
            default: break
            }
        }
        return .success(result: result, payload: payload)
    }

    func complete(code: String, cursor: Int) -> Completion {
        state.withLock { $0.completeCalls.append((code, cursor)) }
        return Completion(matches: ["alpha", "alps"], cursorStart: max(0, cursor - 2), cursorEnd: cursor,
                          metadata: ["_jupyter_types_experimental": [["text": "alpha", "type": "function"]]])
    }

    func inspect(code: String, cursor: Int, detailLevel: Int) -> DisplayData? {
        state.withLock { $0.inspectCalls.append((code, cursor, detailLevel)) }
        guard code.contains("known") else { return nil }
        return DisplayData(data: ["text/plain": "known(x: Int)", "text/markdown": "**known**"], metadata: ["d": .int(detailLevel)])
    }

    func isComplete(code: String) -> CodeCompleteness { completeness }

    func interrupt() {
        state.withLock { $0.interrupts += 1; $0.interrupted = true }
    }
}

func threadSleep(milliseconds: Int) {
    Thread.sleep(forTimeInterval: Double(milliseconds) / 1000)
}

extension Substring {
    func trimmingLeadingSpace() -> Substring { drop { $0 == " " } }
    /// `verb rest` → ("verb", "rest")
    func splitOnce() -> (String, String) {
        guard let space = firstIndex(of: " ") else { return (String(self), "") }
        return (String(self[..<space]), String(self[index(after: space)...]))
    }
}

extension String {
    func splitOnce() -> (String, String) { Substring(self).splitOnce() }
}

/// A kernel core over a fake interpreter and a recording sink.
struct Harness {
    let interpreter = FakeInterpreter()
    let sink = RecordingSink()
    let core: KernelCore
    let client = MessageFactory(session: "client-session", username: "client")

    init() {
        core = KernelCore(interpreter: interpreter, sink: sink,
                          factory: MessageFactory(session: "kernel-session"), log: Logger(level: .off))
    }

    func request(_ type: String, _ content: JSONObject = [:], identities: [[UInt8]] = [bytes("client-id")]) -> Message {
        Message(identities: identities, header: client.header(type), content: content)
    }

    /// Sends a request and returns the dispatcher's action.
    @discardableResult
    func send(_ type: String, _ content: JSONObject = [:], on channel: Channel = .shell) -> DispatchAction {
        core.handle(request(type, content), on: channel)
    }

    func execute(_ code: String, silent: Bool? = nil, storeHistory: Bool? = nil, stopOnError: Bool? = nil) -> (DispatchAction, Message) {
        var content: JSONObject = ["code": .string(code)]
        if let silent { content["silent"] = .bool(silent) }
        if let storeHistory { content["store_history"] = .bool(storeHistory) }
        if let stopOnError { content["stop_on_error"] = .bool(stopOnError) }
        let before = sink.on(.shell).count
        let action = core.handle(request("execute_request", content), on: .shell)
        let replies = sink.on(.shell)
        #expect(replies.count == before + 1, "one execute_reply per request")
        return (action, replies.last ?? Message(header: [:]))
    }

    /// The reply to the last request on `channel`.
    func lastReply(on channel: Channel = .shell) -> Message? { sink.on(channel).last }
}

/// A value shared with closures that run on other threads.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    var value: Value {
        get { mutex.withLock { $0 } }
        set { mutex.withLock { $0 = newValue } }
    }
}
