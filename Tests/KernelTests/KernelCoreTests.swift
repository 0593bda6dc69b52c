// The dispatcher without sockets: every handler, busy/idle framing, iopub order,
// execution counts, abort and interrupt.

import Foundation
import Kernel
import PEFTLabJSON
import Testing

@Suite("Kernel dispatcher")
struct KernelCoreTests {
    // MARK: - Framing

    static let requests: [(String, JSONObject, Channel)] = [
        ("kernel_info_request", [:], .shell),
        ("kernel_info_request", [:], .control),
        ("execute_request", ["code": "out hi; = 1"], .shell),
        ("execute_request", ["code": "fail"], .shell),
        ("complete_request", ["code": "al", "cursor_pos": 2], .shell),
        ("inspect_request", ["code": "known", "cursor_pos": 1], .shell),
        ("is_complete_request", ["code": "x"], .shell),
        ("history_request", ["hist_access_type": "tail", "n": 3], .shell),
        ("comm_info_request", [:], .shell),
        ("connect_request", [:], .shell),
        ("interrupt_request", [:], .control),
        ("shutdown_request", ["restart": false], .control),
        ("nonsense_request", [:], .shell),
    ]

    @Test("busy → reply and outputs → idle around every request", arguments: 0..<requests.count)
    func busyIdle(_ index: Int) throws {
        let (type, content, channel) = Self.requests[index]
        let h = Harness()
        let request = h.request(type, content)
        h.core.handle(request, on: channel)
        let sent = h.sink.all
        let first = try #require(sent.first)
        let last = try #require(sent.last)
        #expect(first.channel == .iopub && first.type == "status")
        #expect(first.message.content["execution_state"] == "busy")
        #expect(last.channel == .iopub && last.type == "status")
        #expect(last.message.content["execution_state"] == "idle")
        #expect(sent.filter { $0.type == "status" }.count == 2)
        // Exactly one reply, on the request's channel, back to the sender, between busy and idle.
        let replies = sent.filter { $0.channel != .iopub }
        try #require(replies.count == 1)
        let reply = replies[0]
        #expect(reply.channel == channel)
        #expect(reply.type == String(type.dropLast("_request".count)) + "_reply")
        #expect(reply.message.identities == request.identities)
        #expect(reply.message.parentHeader == request.header)
        #expect(reply.message.content["status"] != nil)
        // Everything on iopub belongs to this request.
        for m in h.sink.iopub { #expect(m.parentHeader == request.header, "\(m.msgType)") }
    }

    @Test("the reply and every output come before idle")
    func outputsBeforeIdle() {
        let h = Harness()
        _ = h.execute("out a; err b; show c; = 4")
        let types = h.sink.all.map { $0.channel == .iopub ? $0.type : "reply:\($0.type)" }
        #expect(types.last == "status")
        #expect(types.firstIndex(of: "reply:execute_reply")! > types.firstIndex(of: "execute_result")!)
    }

    @Test("headers of what the kernel sends")
    func headers() throws {
        let h = Harness()
        h.core.announceStarting()
        h.send("kernel_info_request")
        var ids = Set<String>()
        for sent in h.sink.all {
            let header = sent.message.header
            #expect(header["session"] == "kernel-session")
            #expect(header["username"]?.stringValue?.isEmpty == false)
            #expect(header["version"] == "5.3")
            #expect(header["msg_type"]?.stringValue == sent.type)
            let date = try #require(header["date"]?.stringValue)
            #expect(date.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z/) != nil, "\(date)")
            ids.insert(sent.message.msgID)
        }
        #expect(ids.count == h.sink.all.count, "message ids are unique")
        let statusTopic = h.sink.iopub[0].identities
        #expect(statusTopic == [bytes("kernel.kernel-session.status")])
    }

    @Test("starting is announced on iopub without a parent")
    func starting() {
        let h = Harness()
        h.core.announceStarting()
        #expect(h.sink.iopubTypes == ["status:starting"])
        #expect(h.sink.iopub[0].parentHeader.isEmpty)
    }

    // MARK: - kernel_info

    @Test("kernel_info describes the language and the implementation")
    func kernelInfo() throws {
        let h = Harness()
        #expect(h.send("kernel_info_request") == .none)
        let reply = try #require(h.lastReply())
        let c = reply.content
        #expect(reply.msgType == "kernel_info_reply")
        #expect(c["status"] == "ok")
        #expect(c["protocol_version"] == "5.3")
        #expect(c["implementation"] == "fake")
        #expect(c["implementation_version"] == "0.1.2")
        #expect(c["banner"] == "Fake banner")
        #expect(c["debugger"] == false)
        #expect(c["help_links"] == [["text": "Docs", "url": "https://example.org/docs"]])
        let info = try #require(c["language_info"]?.objectValue)
        #expect(info["name"] == "peftlab")
        #expect(info["file_extension"] == ".peft")
        #expect(info["pygments_lexer"] == "swift")
        #expect(info["codemirror_mode"] == "swift")
        #expect(info["mimetype"] == "text/x-peftlab")
        #expect(info["version"] == "0.1")
    }

    // MARK: - execute

    @Test("execute: iopub order and the reply")
    func executeOrder() throws {
        let h = Harness()
        let (action, reply) = h.execute("out hello; err oops; show pic; = 42")
        #expect(action == .none)
        #expect(h.sink.iopubTypes == ["status:busy", "execute_input", "stream", "stream", "display_data",
                                      "execute_result", "status:idle"])
        let io = h.sink.iopub
        #expect(io[1].content["code"] == "out hello; err oops; show pic; = 42")
        #expect(io[1].content["execution_count"] == 1)
        #expect(io[2].content["name"] == "stdout")
        #expect(io[2].content["text"] == "hello")
        #expect(io[3].content["name"] == "stderr")
        #expect(io[3].content["text"] == "oops")
        #expect(io[4].content["data"] == ["text/plain": "pic"])
        #expect(io[4].content["metadata"] == [:])
        #expect(io[4].content["transient"] == [:])
        #expect(io[5].content["execution_count"] == 1)
        #expect(io[5].content["data"] == ["text/plain": "42", "text/html": "<b>42</b>"])
        #expect(io[5].content["metadata"] == ["m": 1])
        #expect(reply.msgType == "execute_reply")
        #expect(reply.content["status"] == "ok")
        #expect(reply.content["execution_count"] == 1)
        #expect(reply.content["payload"] == [])
        #expect(reply.content["user_expressions"] == [:])
        #expect(reply.metadata["status"] == "ok")
        #expect(h.interpreter.executed.map(\.count) == [1])
    }

    @Test("execute: no result means no execute_result; empty stream text is not sent")
    func executeWithoutResult() {
        let h = Harness()
        _ = h.execute("out ; show x")
        #expect(h.sink.iopubTypes == ["status:busy", "execute_input", "display_data", "status:idle"])
    }

    @Test("execute: displays with ids, updates and clear_output")
    func displays() {
        let h = Harness()
        _ = h.execute("showid d1 first; update d1 second; clear wait; clear")
        #expect(h.sink.iopubTypes == ["status:busy", "execute_input", "display_data", "update_display_data",
                                      "clear_output", "clear_output", "status:idle"])
        let io = h.sink.iopub
        #expect(io[2].content["transient"] == ["display_id": "d1"])
        #expect(io[3].content["transient"] == ["display_id": "d1"])
        #expect(io[3].content["data"] == ["text/plain": "second"])
        #expect(io[4].content["wait"] == true)
        #expect(io[5].content["wait"] == false)
    }

    @Test("execute: payloads reach the reply")
    func payloads() {
        let h = Harness()
        let (_, reply) = h.execute("page some help")
        #expect(reply.content["payload"] == [["source": "page", "data": ["text/plain": "some help"], "start": 0]])
    }

    @Test("execute: a failure is an error on iopub and in the reply, and aborts the queue")
    func executeError() throws {
        let h = Harness()
        let (action, reply) = h.execute("out before; fail")
        #expect(action == .abortQueue)
        #expect(h.sink.iopubTypes == ["status:busy", "execute_input", "stream", "error", "status:idle"])
        let error = h.sink.iopub[3].content
        #expect(error["ename"] == "ValueError")
        #expect(error["evalue"] == "boom")
        #expect(error["traceback"] == ["line 1", "ValueError: boom"])
        #expect(reply.content["status"] == "error")
        #expect(reply.content["ename"] == "ValueError")
        #expect(reply.content["evalue"] == "boom")
        #expect(reply.content["traceback"] == ["line 1", "ValueError: boom"])
        #expect(reply.content["execution_count"] == 1)
        #expect(reply.metadata["status"] == "error")
    }

    @Test("execute: stop_on_error false does not abort the queue")
    func noStopOnError() {
        let h = Harness()
        #expect(h.execute("fail", stopOnError: false).0 == .none)
        #expect(h.execute("fail", stopOnError: true).0 == .abortQueue)
        #expect(h.execute("fail").0 == .abortQueue, "stop_on_error defaults to true")
    }

    @Test("execute: a silent failure does not abort the queue (as ipykernel)")
    func silentFailureDoesNotAbort() {
        let h = Harness()
        let (action, reply) = h.execute("fail", silent: true)
        #expect(reply.content["status"] == "error")
        #expect(action == .none)
    }

    @Test("execution_count: counts stored cells only")
    func executionCount() {
        let h = Harness()
        #expect(h.execute("= a").1.content["execution_count"] == 1)
        #expect(h.execute("= b").1.content["execution_count"] == 2)
        h.sink.clear()
        // store_history false: no increment; the current count is reported and shown.
        let (_, unstored) = h.execute("= c", storeHistory: false)
        #expect(unstored.content["execution_count"] == 2)
        #expect(h.sink.iopub.first { $0.msgType == "execute_input" }?.content["execution_count"] == 2)
        #expect(h.sink.iopub.first { $0.msgType == "execute_result" }?.content["execution_count"] == 2)
        // silent: no increment either.
        #expect(h.execute("= d", silent: true).1.content["execution_count"] == 2)
        // silent wins over store_history true.
        #expect(h.execute("= e", silent: true, storeHistory: true).1.content["execution_count"] == 2)
        // Failures count too.
        #expect(h.execute("fail").1.content["execution_count"] == 3)
        #expect(h.execute("= f").1.content["execution_count"] == 4)
        #expect(h.interpreter.executed.map(\.count) == [1, 2, 2, 2, 2, 3, 4])
        // Only stored cells are in the history.
        let history = h.core.handle(h.request("history_request", ["hist_access_type": "tail", "n": 10]), on: .shell)
        #expect(history == .none)
        #expect(h.lastReply()?.content["history"] == [[1, 1, "= a"], [1, 2, "= b"], [1, 3, "fail"], [1, 4, "= f"]])
    }

    @Test("silent: no iopub output except status, whatever the cell does")
    func silent() {
        for code in ["out a; err b; show c; showid x y; update x z; clear; = 5", "out a; fail"] {
            let h = Harness()
            let (_, reply) = h.execute(code, silent: true)
            #expect(h.sink.iopubTypes == ["status:busy", "status:idle"], "\(code)")
            #expect(reply.content["status"] != nil)
            #expect(h.interpreter.executed.count == 1)
        }
    }

    // MARK: - abort

    @Test("abort answers a queued execute with ExecutionAborted without running it")
    func abort() throws {
        let h = Harness()
        _ = h.execute("= 1")
        h.sink.clear()
        let request = h.request("execute_request", ["code": "= never"], identities: [bytes("peer")])
        h.core.abort(request, on: .shell)
        #expect(h.interpreter.executed.count == 1)
        #expect(h.sink.iopubTypes == ["status:busy", "status:idle"])
        let reply = try #require(h.lastReply())
        #expect(reply.msgType == "execute_reply")
        #expect(reply.identities == [bytes("peer")])
        #expect(reply.parentHeader == request.header)
        #expect(reply.content["status"] == "error")
        #expect(reply.content["ename"] == "ExecutionAborted")
        #expect(reply.content["evalue"]?.stringValue?.isEmpty == false)
        #expect(reply.content["traceback"] == [])
        #expect(reply.content["execution_count"] == 1)
        #expect(reply.metadata["status"] == "aborted")
        #expect(h.execute("= 2").1.content["execution_count"] == 2, "aborted cells take no count")
    }

    @Test("abort handles any other request normally")
    func abortOther() {
        let h = Harness()
        h.core.abort(h.request("kernel_info_request"), on: .shell)
        #expect(h.lastReply()?.msgType == "kernel_info_reply")
        #expect(h.lastReply()?.content["status"] == "ok")
        #expect(h.sink.iopubTypes == ["status:busy", "status:idle"])
    }

    // MARK: - complete, inspect, is_complete

    @Test("complete passes the cursor and returns matches with metadata")
    func complete() throws {
        let h = Harness()
        h.send("complete_request", ["code": "x = al", "cursor_pos": 6])
        let c = try #require(h.lastReply()).content
        #expect(c["status"] == "ok")
        #expect(c["matches"] == ["alpha", "alps"])
        #expect(c["cursor_start"] == 4)
        #expect(c["cursor_end"] == 6)
        #expect(c["metadata"]?["_jupyter_types_experimental"] == [["text": "alpha", "type": "function"]])
        // Without cursor_pos the cursor is at the end, counted in code points.
        h.send("complete_request", ["code": "é🚀al"])
        let calls = h.interpreter.state.withLock { $0.completeCalls }
        #expect(calls.map(\.1) == [6, 4])
    }

    @Test("inspect: found and not found")
    func inspect() throws {
        let h = Harness()
        h.send("inspect_request", ["code": "known(", "cursor_pos": 3, "detail_level": 1])
        var c = try #require(h.lastReply()).content
        #expect(c["status"] == "ok")
        #expect(c["found"] == true)
        #expect(c["data"] == ["text/plain": "known(x: Int)", "text/markdown": "**known**"])
        #expect(c["metadata"] == ["d": 1])
        h.send("inspect_request", ["code": "nothing", "cursor_pos": 3])
        c = try #require(h.lastReply()).content
        #expect(c["status"] == "ok")
        #expect(c["found"] == false)
        #expect(c["data"] == [:])
        #expect(c["metadata"] == [:])
        let calls = h.interpreter.state.withLock { $0.inspectCalls }
        #expect(calls.map(\.2) == [1, 0])
    }

    @Test("is_complete: the four answers", arguments: [
        (CodeCompleteness.complete, ["status": "complete"] as JSONObject),
        (.incomplete(indent: "    "), ["status": "incomplete", "indent": "    "] as JSONObject),
        (.invalid, ["status": "invalid"] as JSONObject),
        (.unknown, ["status": "unknown"] as JSONObject),
    ])
    func isComplete(_ answer: CodeCompleteness, _ expected: JSONObject) {
        let h = Harness()
        h.interpreter.completeness = answer
        h.send("is_complete_request", ["code": "if x {"])
        #expect(h.lastReply()?.msgType == "is_complete_reply")
        #expect(h.lastReply()?.content == expected)
    }

    // MARK: - history

    private func harnessWithHistory() -> Harness {
        let h = Harness()
        for code in ["= 1", "out x", "= 1", "let a = 1", "= a1", "let b = 2", "fail"] {
            _ = h.execute(code, stopOnError: false)
        }
        return h
    }

    private func history(_ h: Harness, _ content: JSONObject) -> JSON? {
        h.send("history_request", content)
        #expect(h.lastReply()?.content["status"] == "ok")
        return h.lastReply()?.content["history"]
    }

    @Test("history: tail")
    func historyTail() {
        let h = harnessWithHistory()
        #expect(history(h, ["hist_access_type": "tail", "n": 2]) == [[1, 6, "let b = 2"], [1, 7, "fail"]])
        #expect(history(h, ["hist_access_type": "tail", "n": 0]) == [])
        #expect(history(h, ["hist_access_type": "tail", "n": 100])?.arrayValue?.count == 7)
        #expect(history(h, ["hist_access_type": "tail", "n": 1, "output": true]) == [[1, 7, ["fail", nil]]])
        #expect(history(h, ["hist_access_type": "tail", "n": 3, "output": true])
                == [[1, 5, ["= a1", "a1"]], [1, 6, ["let b = 2", nil]], [1, 7, ["fail", nil]]])
    }

    @Test("history: range")
    func historyRange() {
        let h = harnessWithHistory()
        #expect(history(h, ["hist_access_type": "range", "session": 0, "start": 2, "stop": 4])
                == [[1, 2, "out x"], [1, 3, "= 1"]])
        #expect(history(h, ["hist_access_type": "range", "session": 0, "start": 6])
                == [[1, 6, "let b = 2"], [1, 7, "fail"]])
        #expect(history(h, ["hist_access_type": "range", "start": 1, "stop": 2]) == [[1, 1, "= 1"]])
        #expect(history(h, ["hist_access_type": "range", "session": 1, "start": 1, "stop": 2]) == [[1, 1, "= 1"]])
        #expect(history(h, ["hist_access_type": "range", "session": 7, "start": 1]) == [])
        #expect(history(h, ["hist_access_type": "range", "session": 0, "start": 1, "stop": 3, "output": true])
                == [[1, 1, ["= 1", "1"]], [1, 2, ["out x", nil]]])
    }

    @Test("history: search with glob, unique and n")
    func historySearch() {
        let h = harnessWithHistory()
        #expect(history(h, ["hist_access_type": "search", "pattern": "let*"])
                == [[1, 4, "let a = 1"], [1, 6, "let b = 2"]])
        #expect(history(h, ["hist_access_type": "search", "pattern": "= ?"])
                == [[1, 1, "= 1"], [1, 3, "= 1"]])
        #expect(history(h, ["hist_access_type": "search", "pattern": "= ?", "unique": true]) == [[1, 3, "= 1"]])
        #expect(history(h, ["hist_access_type": "search", "pattern": "*1*", "unique": true])
                == [[1, 3, "= 1"], [1, 4, "let a = 1"], [1, 5, "= a1"]])
        #expect(history(h, ["hist_access_type": "search", "pattern": "*1*", "n": 2])
                == [[1, 4, "let a = 1"], [1, 5, "= a1"]])
        #expect(history(h, ["hist_access_type": "search", "pattern": "*", "unique": true, "n": 2])
                == [[1, 6, "let b = 2"], [1, 7, "fail"]])
        #expect(history(h, ["hist_access_type": "search", "pattern": "nothing*"]) == [])
        #expect(history(h, ["hist_access_type": "search", "pattern": "LET*"]) == [], "glob is case-sensitive")
        #expect(history(h, ["hist_access_type": "search", "pattern": "*a1", "output": true]) == [[1, 5, ["= a1", "a1"]]])
    }

    // MARK: - comm, connect, shutdown, interrupt

    @Test("comm_info answers no comms; comm_open is closed; comm_msg gets no reply")
    func comms() throws {
        let h = Harness()
        h.send("comm_info_request", ["target_name": "jupyter.widget"])
        let c = try #require(h.lastReply()).content
        #expect(c == ["status": "ok", "comms": [:]])
        h.sink.clear()
        h.send("comm_open", ["comm_id": "c-1", "target_name": "x", "data": [:]])
        #expect(h.sink.iopubTypes == ["status:busy", "comm_close", "status:idle"])
        #expect(h.sink.iopub[1].content["comm_id"] == "c-1")
        #expect(h.sink.on(.shell).isEmpty)
        h.sink.clear()
        h.send("comm_msg", ["comm_id": "c-1", "data": [:]])
        h.send("comm_close", ["comm_id": "c-1", "data": [:]])
        #expect(h.sink.iopubTypes == ["status:busy", "status:idle", "status:busy", "status:idle"])
        #expect(h.sink.on(.shell).isEmpty)
    }

    @Test("connect_request is answered")
    func connect() {
        let h = Harness()
        h.send("connect_request")
        #expect(h.lastReply()?.msgType == "connect_reply")
        #expect(h.lastReply()?.content["status"] == "ok")
    }

    @Test("shutdown replies with the restart flag and asks the I/O layer to stop", arguments: [true, false])
    func shutdown(_ restart: Bool) throws {
        let h = Harness()
        let action = h.send("shutdown_request", ["restart": .bool(restart)], on: .control)
        #expect(action == .shutdown(restart: restart))
        let reply = try #require(h.lastReply(on: .control))
        #expect(reply.msgType == "shutdown_reply")
        #expect(reply.content == ["status": "ok", "restart": .bool(restart)])
        #expect(h.sink.on(.shell).isEmpty)
        #expect(h.interpreter.interrupts == 0, "nothing to interrupt while idle")
    }

    @Test("shutdown without restart means restart false")
    func shutdownDefault() {
        let h = Harness()
        #expect(h.send("shutdown_request", [:], on: .control) == .shutdown(restart: false))
        #expect(h.lastReply(on: .control)?.content["restart"] == false)
    }

    @Test("interrupt while idle does not call the interpreter")
    func interruptIdle() throws {
        let h = Harness()
        #expect(!h.core.isExecuting)
        #expect(h.send("interrupt_request", on: .control) == .none)
        let reply = try #require(h.lastReply(on: .control))
        #expect(reply.msgType == "interrupt_reply")
        #expect(reply.content == ["status": "ok"])
        h.core.interruptIfExecuting()
        #expect(h.interpreter.interrupts == 0)
        _ = h.execute("= 1")
        h.core.interruptIfExecuting()
        #expect(h.interpreter.interrupts == 0, "not after the cell either")
    }

    @Test("interrupt_request while a cell runs calls interpreter.interrupt once")
    func interruptWhileExecuting() throws {
        let h = Harness()
        let core = h.core, client = h.client
        let sawExecuting = Locked(false)
        h.interpreter.duringExecute.withLock {
            $0 = {
                sawExecuting.value = core.isExecuting
                core.handle(Message(identities: [bytes("ctl")], header: client.header("interrupt_request")), on: .control)
            }
        }
        let (_, reply) = h.execute("wait")
        #expect(sawExecuting.value)
        #expect(h.interpreter.interrupts == 1)
        #expect(reply.content["ename"] == "Interrupted")
        #expect(!h.core.isExecuting)
        #expect(h.lastReply(on: .control)?.content == ["status": "ok"])
    }

    @Test("an interrupt from another thread stops a running cell (the control thread's path)")
    func interruptFromAnotherThread() throws {
        let h = Harness()
        let core = h.core, request = h.request("interrupt_request")
        let thread = Thread {
            let deadline = Date().addingTimeInterval(5)
            while !core.isExecuting && Date() < deadline { Thread.sleep(forTimeInterval: 0.001) }
            Thread.sleep(forTimeInterval: 0.02)
            core.handle(request, on: .control)
        }
        thread.start()
        let started = ContinuousClock.now
        let (action, reply) = h.execute("out start; wait; out never")
        #expect(ContinuousClock.now - started < .seconds(4))
        #expect(h.interpreter.interrupts == 1)
        #expect(reply.content["status"] == "error")
        #expect(action == .abortQueue)
        #expect(h.sink.on(.shell).count == 1)
        // The session carries on.
        #expect(h.execute("= next").1.content["status"] == "ok")
    }

    @Test("shutdown while a cell runs interrupts it")
    func shutdownInterrupts() {
        let h = Harness()
        let core = h.core, client = h.client
        let action = Locked<DispatchAction?>(nil)
        h.interpreter.duringExecute.withLock {
            $0 = {
                let a = core.handle(Message(header: client.header("shutdown_request"), content: ["restart": true]), on: .control)
                action.value = a
            }
        }
        _ = h.execute("wait")
        #expect(h.interpreter.interrupts == 1)
        #expect(action.value == .shutdown(restart: true))
    }

    // MARK: - Unknown and unreadable requests

    @Test("an unknown request gets an error reply of the matching type")
    func unknownRequest() throws {
        let h = Harness()
        #expect(h.send("frobnicate_request", ["x": 1]) == .none)
        let reply = try #require(h.lastReply())
        #expect(reply.msgType == "frobnicate_reply")
        #expect(reply.content["status"] == "error")
        #expect(reply.content["ename"] == "UnknownMessageType")
        #expect(reply.content["evalue"]?.stringValue?.contains("frobnicate_request") == true)
        #expect(reply.content["traceback"] == [])
        #expect(h.sink.iopubTypes == ["status:busy", "status:idle"])
    }

    @Test("an unknown message that is not a request gets no reply")
    func unknownNonRequest() {
        let h = Harness()
        #expect(h.send("something_else") == .none)
        h.send("")
        #expect(h.sink.on(.shell).isEmpty)
        #expect(h.sink.iopubTypes == ["status:busy", "status:idle", "status:busy", "status:idle"])
    }

    @Test("rejectUnreadable answers a readable request header with an error")
    func rejectUnreadable() throws {
        let h = Harness()
        let header = h.client.header("execute_request")
        h.core.rejectUnreadable(header: header, identities: [bytes("who")], reason: "content is invalid: bad", on: .shell)
        #expect(h.sink.iopubTypes == ["status:busy", "status:idle"])
        for m in h.sink.iopub { #expect(m.parentHeader == header) }
        let reply = try #require(h.lastReply())
        #expect(reply.msgType == "execute_reply")
        #expect(reply.identities == [bytes("who")])
        #expect(reply.parentHeader == header)
        #expect(reply.content["status"] == "error")
        #expect(reply.content["ename"] == "InvalidMessage")
        #expect(reply.content["evalue"] == "content is invalid: bad")
        #expect(h.interpreter.executed.isEmpty)
    }

    @Test("rejectUnreadable sends nothing for non-requests", arguments: ["comm_msg", "execute_reply", ""])
    func rejectUnreadableNonRequest(_ type: String) {
        let h = Harness()
        h.core.rejectUnreadable(header: h.client.header(type), identities: [], reason: "bad", on: .shell)
        h.core.rejectUnreadable(header: [:], identities: [], reason: "bad", on: .control)
        #expect(h.sink.all.isEmpty)
    }

    @Test("a request with odd content types still gets answered")
    func oddContent() {
        let h = Harness()
        h.send("execute_request", ["code": 5, "silent": "yes", "store_history": nil])
        #expect(h.lastReply()?.content["status"] == "ok")
        h.send("complete_request", ["code": [1], "cursor_pos": "x"])
        #expect(h.lastReply()?.content["status"] == "ok")
        h.send("history_request", ["hist_access_type": 3, "n": "many"])
        #expect(h.lastReply()?.content["status"] == "ok")
        h.send("history_request", ["hist_access_type": "tail", "n": -5])
        #expect(h.lastReply()?.content["history"] == [])
    }
}

@Suite("Message factory")
struct MessageFactoryTests {
    @Test("dates are ISO-8601 UTC with microseconds")
    func isoDate() {
        let date = MessageFactory.isoDate()
        #expect(date.wholeMatch(of: /20\d\d-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-6]\d\.\d{6}Z/) != nil, "\(date)")
    }

    @Test("random hex has the requested length and differs each time")
    func randomHex() {
        let a = MessageFactory.randomHex(16), b = MessageFactory.randomHex(16)
        #expect(a.count == 32)
        #expect(a.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(a != b)
        #expect(MessageFactory().session.count == 32)
        #expect(MessageFactory().session != MessageFactory().session)
    }

    @Test("a reply goes back to the request's identities with it as parent")
    func reply() {
        let f = MessageFactory(session: "s", username: "me")
        let request = Message(identities: [bytes("a"), bytes("b")], header: f.header("kernel_info_request"))
        let reply = f.reply(to: request, type: "kernel_info_reply", content: ["status": "ok"], metadata: ["x": 1])
        #expect(reply.identities == request.identities)
        #expect(reply.parentHeader == request.header)
        #expect(reply.metadata == ["x": 1])
        #expect(reply.header["username"] == "me")
        #expect(reply.msgID != request.msgID)
        let b = f.broadcast("stream", content: [:], parent: request.header)
        #expect(b.identities == [bytes("kernel.s.stream")])
    }
}
