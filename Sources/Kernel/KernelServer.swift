// The thin I/O layer: binds the five sockets of a connection file, runs the
// heartbeat and control channels on their own threads and the shell on the
// caller's, and turns SIGINT into an interrupt of the running cell.

import Dispatch
import Foundation
import PEFTLabJSON
import Synchronization

/// A running kernel: sockets, threads and the dispatcher.
public final class KernelServer: @unchecked Sendable {
    private let connection: ConnectionInfo
    private let codec: WireCodec
    private let log: Logger
    private let context: ZMQContext
    private let shell, control, stdin, iopub, heartbeat: ZMQSocket
    private let outbox: SocketOutbox
    public let core: KernelCore
    private let stopping = Atomic<Bool>(false)
    private var signalSource: DispatchSourceSignal?
    private var parentWatch: DispatchSourceTimer?

    /// Binds every socket; throws a readable error when a port is taken.
    public init(connection: ConnectionInfo, interpreter: any KernelInterpreter, log: Logger) throws {
        self.connection = connection
        self.codec = WireCodec(key: connection.key, history: SignatureHistory())
        self.log = log
        context = try ZMQContext()
        shell = try ZMQSocket(context, .router, name: "shell")
        control = try ZMQSocket(context, .router, name: "control")
        stdin = try ZMQSocket(context, .router, name: "stdin")
        iopub = try ZMQSocket(context, .pub, name: "iopub")
        heartbeat = try ZMQSocket(context, .rep, name: "heartbeat")
        try shell.bind(connection.endpoint(port: connection.shellPort))
        try control.bind(connection.endpoint(port: connection.controlPort))
        try stdin.bind(connection.endpoint(port: connection.stdinPort))
        try iopub.bind(connection.endpoint(port: connection.iopubPort))
        try heartbeat.bind(connection.endpoint(port: connection.hbPort))
        outbox = SocketOutbox(codec: codec, shell: shell, control: control, stdin: stdin, iopub: iopub)
        core = KernelCore(interpreter: interpreter, sink: outbox, log: log)
    }

    /// Serves until a shutdown request; returns whether a restart was asked for.
    public func run() -> Bool {
        installInterruptHandler()
        watchParent()
        let heartbeatThread = Thread { [self] in runHeartbeat() }
        heartbeatThread.name = "peftlab-heartbeat"
        heartbeatThread.start()
        let controlThread = Thread { [self] in serve(control, channel: .control) }
        controlThread.name = "peftlab-control"
        controlThread.start()
        log.info("kernel listening on \(connection.ip), shell port \(connection.shellPort)")
        core.announceStarting()
        serve(shell, channel: .shell)

        // Shutdown: let the other loops notice, close sockets, flush what is pending.
        while !outbox.controlClosed.load(ordering: .acquiring) { usleep(1000) }
        shell.close()
        stdin.close()
        outbox.closeIOPub()
        context.shutdown()
        context.terminate()
        return outbox.restartRequested.load(ordering: .relaxed)
    }

    // MARK: - Loops

    private func serve(_ socket: ZMQSocket, channel: Channel) {
        while !stopping.load(ordering: .acquiring) {
            guard socket.waitReadable(timeoutMilliseconds: 100), let frames = socket.receive() else { continue }
            dispatch(frames, on: channel, from: socket)
        }
        if channel == .control {
            control.close()
            outbox.controlClosed.store(true, ordering: .releasing)
        }
    }

    private func dispatch(_ frames: [[UInt8]], on channel: Channel, from socket: ZMQSocket) {
        let message: Message
        do {
            message = try codec.decode(frames)
        } catch let error {
            switch error {
            case .invalidPart(_, _, let header?):
                let split = frames.firstIndex(of: WireCodec.delimiter) ?? 0
                core.rejectUnreadable(header: header, identities: Array(frames[..<split]),
                                      reason: error.description, on: channel)
            default:
                log.warning("dropped a message on \(channel.rawValue): \(error)")
            }
            return
        }
        log.debug("\(channel.rawValue) <- \(message.msgType)")
        // Requests already waiting when a failed cell replies were sent expecting it to succeed:
        // they are collected before that reply goes out and aborted after it, in order.
        var queued: [Message] = []
        let action = core.handle(message, on: channel) {
            while let frames = socket.receive(blocking: false) {
                if let next = try? codec.decode(frames) { queued.append(next) }
            }
        }
        switch action {
        case .none:
            break
        case .abortQueue:
            for next in queued { core.abort(next, on: channel) }
        case .shutdown(let restart):
            outbox.restartRequested.store(restart, ordering: .relaxed)
            stopping.store(true, ordering: .releasing)
        }
    }

    private func runHeartbeat() {
        while let frames = heartbeat.receive() {
            heartbeat.send(frames)
        }
        heartbeat.close()
    }

    /// Exits when the process that started the kernel is gone (its client was killed), as
    /// ipykernel's parent poller does: the parent is `JPY_PARENT_PID` when set, else the
    /// parent at start. A kernel started by init (parent 1) is not watched.
    private func watchParent() {
        let environment = ProcessInfo.processInfo.environment
        let parent = environment["JPY_PARENT_PID"].flatMap { pid_t($0) } ?? getppid()
        guard parent > 1 else { return }
        let startParent = getppid()
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + 1, repeating: 1)
        timer.setEventHandler { [log] in
            let gone = getppid() != startParent || (kill(parent, 0) != 0 && errno == ESRCH)
            guard gone else { return }
            log.warning("the kernel's parent process \(parent) is gone; exiting")
            exit(0)
        }
        timer.resume()
        parentWatch = timer
    }

    private func installInterruptHandler() {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [core] in core.interruptIfExecuting() }
        source.resume()
        signalSource = source
    }
}

/// Encodes and sends messages on the right socket. iopub is shared by the shell and
/// control threads, so its sends are serialized; replies go out on their own channel's thread.
final class SocketOutbox: MessageSink, @unchecked Sendable {
    private let codec: WireCodec
    private let shell, control, stdin: ZMQSocket
    private let iopub: Mutex<ZMQSocket?>
    let controlClosed = Atomic<Bool>(false)
    let restartRequested = Atomic<Bool>(false)

    init(codec: WireCodec, shell: ZMQSocket, control: ZMQSocket, stdin: ZMQSocket, iopub: ZMQSocket) {
        self.codec = codec; self.shell = shell; self.control = control; self.stdin = stdin
        self.iopub = Mutex(iopub)
    }

    func send(_ message: Message, on channel: Channel) {
        let frames = codec.encode(message)
        switch channel {
        case .shell: shell.send(frames)
        case .control: control.send(frames)
        case .stdin: stdin.send(frames)
        case .iopub: iopub.withLock { _ = $0?.send(frames) }
        }
    }

    func closeIOPub() {
        iopub.withLock { socket in
            socket?.close()
            socket = nil
        }
    }
}
