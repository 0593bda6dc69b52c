// The dispatcher: turns each request into replies and iopub broadcasts, with
// busy/idle around it. Pure logic over a MessageSink, so it is tested without sockets.

import PEFTLabJSON
import Synchronization

/// The kernel's channels, as in the connection file.
public enum Channel: String, Sendable { case shell, control, stdin, iopub }

/// Sends messages out; the socket layer implements it, tests record with it.
public protocol MessageSink: Sendable {
    func send(_ message: Message, on channel: Channel)
}

/// What the I/O layer should do after a request was handled.
public enum DispatchAction: Sendable, Equatable {
    case none
    /// A cell failed with stop_on_error: abort the execute requests already queued.
    case abortQueue
    /// The client asked the kernel to stop.
    case shutdown(restart: Bool)
}

/// The protocol logic of a kernel: every handler of messaging protocol 5.3.
public final class KernelCore: Sendable {
    public let interpreter: any KernelInterpreter
    public let factory: MessageFactory
    private let sink: any MessageSink
    private let log: Logger

    private struct State {
        var executionCount = 0
        var history = History()
        var executing = false
    }
    private let state = Mutex(State())

    public init(interpreter: any KernelInterpreter, sink: any MessageSink,
                factory: MessageFactory = MessageFactory(), log: Logger = Logger(level: .warning)) {
        self.interpreter = interpreter
        self.sink = sink
        self.factory = factory
        self.log = log
    }

    /// True while a cell runs (for deciding whether SIGINT means anything).
    public var isExecuting: Bool { state.withLock { $0.executing } }

    /// Announces `starting` once the sockets are bound.
    public func announceStarting() {
        sink.send(factory.broadcast("status", content: ["execution_state": "starting"], parent: [:]), on: .iopub)
    }

    /// Handles one decoded request from `channel`.
    @discardableResult
    /// Handles one request. `takeQueued` is called when a failed cell will abort the queue,
    /// just before its reply goes out: the caller collects what is already waiting then, so a
    /// request sent after the client saw the reply is never aborted by mistake.
    public func handle(_ request: Message, on channel: Channel, takeQueued: () -> Void = {}) -> DispatchAction {
        publishStatus("busy", parent: request.header)
        defer { publishStatus("idle", parent: request.header) }
        let type = request.msgType
        let content = request.content
        switch type {
        case "kernel_info_request":
            reply(request, on: channel, type: "kernel_info_reply", content: kernelInfo())
        case "execute_request":
            return execute(request, on: channel, takeQueued: takeQueued)
        case "complete_request":
            let code = content["code"]?.stringValue ?? ""
            let cursor = content["cursor_pos"]?.intValue ?? code.unicodeScalars.count
            let c = interpreter.complete(code: code, cursor: cursor)
            reply(request, on: channel, type: "complete_reply", content: [
                "status": "ok", "matches": .array(c.matches.map(JSON.string)),
                "cursor_start": .int(c.cursorStart), "cursor_end": .int(c.cursorEnd),
                "metadata": .object(c.metadata),
            ])
        case "inspect_request":
            let code = content["code"]?.stringValue ?? ""
            let cursor = content["cursor_pos"]?.intValue ?? code.unicodeScalars.count
            let found = interpreter.inspect(code: code, cursor: cursor, detailLevel: content["detail_level"]?.intValue ?? 0)
            reply(request, on: channel, type: "inspect_reply", content: [
                "status": "ok", "found": .bool(found != nil),
                "data": .object(found?.data ?? [:]), "metadata": .object(found?.metadata ?? [:]),
            ])
        case "is_complete_request":
            let answer: JSONObject
            switch interpreter.isComplete(code: content["code"]?.stringValue ?? "") {
            case .complete: answer = ["status": "complete"]
            case .incomplete(let indent): answer = ["status": "incomplete", "indent": .string(indent)]
            case .invalid: answer = ["status": "invalid"]
            case .unknown: answer = ["status": "unknown"]
            }
            reply(request, on: channel, type: "is_complete_reply", content: answer)
        case "history_request":
            let history = state.withLock { $0.history.answer(content) }
            reply(request, on: channel, type: "history_reply", content: ["status": "ok", "history": .array(history)])
        case "comm_info_request":
            reply(request, on: channel, type: "comm_info_reply", content: ["status": "ok", "comms": [:]])
        case "connect_request":
            reply(request, on: channel, type: "connect_reply", content: ["status": "ok"])
        case "interrupt_request":
            interruptIfExecuting()
            reply(request, on: channel, type: "interrupt_reply", content: ["status": "ok"])
        case "shutdown_request":
            let restart = content["restart"]?.boolValue ?? false
            interruptIfExecuting()  // a training cell must not hold the shutdown up
            reply(request, on: channel, type: "shutdown_reply", content: ["status": "ok", "restart": .bool(restart)])
            return .shutdown(restart: restart)
        case "comm_open", "comm_msg", "comm_close":
            // No comm targets are registered: closing an unknown comm is the polite answer.
            if type == "comm_open", let id = content["comm_id"] {
                sink.send(factory.broadcast("comm_close", content: ["comm_id": id, "data": [:]], parent: request.header), on: .iopub)
            }
        default:
            log.warning("unknown message type \"\(type)\" on \(channel.rawValue)")
            if type.hasSuffix("_request") {
                replyError(request, on: channel, name: "UnknownMessageType",
                           value: "the kernel does not handle \(type)")
            }
        }
        return .none
    }

    /// Answers a request whose frames were signed correctly but could not be read.
    public func rejectUnreadable(header: JSONObject, identities: [[UInt8]], reason: String, on channel: Channel) {
        let request = Message(identities: identities, header: header)
        log.warning("unreadable \(request.msgType) on \(channel.rawValue): \(reason)")
        guard request.msgType.hasSuffix("_request") else { return }
        publishStatus("busy", parent: header)
        replyError(request, on: channel, name: "InvalidMessage", value: reason)
        publishStatus("idle", parent: header)
    }

    /// Answers an execute request queued behind a failed cell, without running it.
    public func abort(_ request: Message, on channel: Channel) {
        guard request.msgType == "execute_request" else {
            handle(request, on: channel)
            return
        }
        publishStatus("busy", parent: request.header)
        let count = state.withLock { $0.executionCount }
        reply(request, on: channel, type: "execute_reply", content: [
            "status": "error", "ename": "ExecutionAborted",
            "evalue": "not run because an earlier cell failed", "traceback": [],
            "execution_count": .int(count),
        ], metadata: ["status": "aborted"])
        publishStatus("idle", parent: request.header)
    }

    /// SIGINT and interrupt_request: stop the running cell; nothing to do when idle.
    public func interruptIfExecuting() {
        if isExecuting {
            log.info("interrupting the running cell")
            interpreter.interrupt()
        }
    }

    // MARK: - Execute

    private func execute(_ request: Message, on channel: Channel, takeQueued: () -> Void) -> DispatchAction {
        let content = request.content
        let code = content["code"]?.stringValue ?? ""
        let silent = content["silent"]?.boolValue ?? false
        let storeHistory = silent ? false : (content["store_history"]?.boolValue ?? true)
        let stopOnError = content["stop_on_error"]?.boolValue ?? true

        let count = state.withLock { s -> Int in
            if storeHistory {
                s.executionCount += 1
                s.history.record(line: s.executionCount, input: code)
            }
            s.executing = true
            return s.executionCount
        }
        if !silent {
            broadcast("execute_input", ["code": .string(code), "execution_count": .int(count)], parent: request.header)
        }
        let output = CellOutput(core: self, parent: request.header, silent: silent)
        let outcome = interpreter.execute(code: code, executionCount: count, output: output)
        state.withLock { $0.executing = false }

        switch outcome {
        case .success(let result, let payload):
            if let result, !silent {
                broadcast("execute_result", ["execution_count": .int(count), "data": .object(result.data),
                                             "metadata": .object(result.metadata)], parent: request.header)
                if storeHistory, let text = result.data["text/plain"]?.stringValue {
                    state.withLock { $0.history.recordOutput(line: count, output: text) }
                }
            }
            reply(request, on: channel, type: "execute_reply", content: [
                "status": "ok", "execution_count": .int(count),
                "payload": .array(payload), "user_expressions": [:],
            ], metadata: ["status": "ok"])
            return .none
        case .failure(let failure):
            let details: JSONObject = ["ename": .string(failure.name), "evalue": .string(failure.value),
                                       "traceback": .array(failure.traceback.map(JSON.string))]
            if !silent { broadcast("error", details, parent: request.header) }
            var replyContent = details
            replyContent["status"] = "error"
            replyContent["execution_count"] = .int(count)
            let aborts = stopOnError && !silent
            if aborts { takeQueued() }
            reply(request, on: channel, type: "execute_reply", content: replyContent, metadata: ["status": "error"])
            return aborts ? .abortQueue : .none
        }
    }

    // MARK: - Sending

    func broadcast(_ type: String, _ content: JSONObject, parent: JSONObject, metadata: JSONObject = [:]) {
        sink.send(factory.broadcast(type, content: content, parent: parent, metadata: metadata), on: .iopub)
    }

    private func publishStatus(_ state: String, parent: JSONObject) {
        broadcast("status", ["execution_state": .string(state)], parent: parent)
    }

    private func reply(_ request: Message, on channel: Channel, type: String, content: JSONObject, metadata: JSONObject = [:]) {
        sink.send(factory.reply(to: request, type: type, content: content, metadata: metadata), on: channel)
    }

    private func replyError(_ request: Message, on channel: Channel, name: String, value: String) {
        let type = request.msgType.hasSuffix("_request")
            ? String(request.msgType.dropLast("_request".count)) + "_reply" : "error_reply"
        reply(request, on: channel, type: type, content: [
            "status": "error", "ename": .string(name), "evalue": .string(value), "traceback": [],
        ])
    }

    private func kernelInfo() -> JSONObject {
        let info = interpreter.languageInfo
        return [
            "status": "ok",
            "protocol_version": .string(MessageFactory.protocolVersion),
            "implementation": .string(interpreter.implementation),
            "implementation_version": .string(interpreter.implementationVersion),
            "language_info": [
                "name": .string(info.name), "version": .string(info.version),
                "mimetype": .string(info.mimetype), "file_extension": .string(info.fileExtension),
                "pygments_lexer": .string(info.pygmentsLexer), "codemirror_mode": .string(info.codemirrorMode),
            ],
            "banner": .string(interpreter.banner),
            "debugger": false,
            "help_links": .array(interpreter.helpLinks.map { ["text": .string($0.text), "url": .string($0.url)] }),
        ]
    }
}

/// The output sink handed to a running cell: iopub messages parented to its request.
struct CellOutput: ExecutionOutput {
    let core: KernelCore
    let parent: JSONObject
    let silent: Bool

    func stream(_ name: StreamName, _ text: String) {
        guard !silent, !text.isEmpty else { return }
        core.broadcast("stream", ["name": .string(name.rawValue), "text": .string(text)], parent: parent)
    }

    func display(_ value: DisplayData, displayID: String?, update: Bool) {
        guard !silent else { return }
        var transient: JSONObject = [:]
        if let displayID { transient["display_id"] = .string(displayID) }
        core.broadcast(update ? "update_display_data" : "display_data",
                       ["data": .object(value.data), "metadata": .object(value.metadata),
                        "transient": .object(transient)], parent: parent)
    }

    func clearOutput(wait: Bool) {
        guard !silent else { return }
        core.broadcast("clear_output", ["wait": .bool(wait)], parent: parent)
    }
}
