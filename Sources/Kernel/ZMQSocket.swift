// The one place that speaks to libzmq: a context and sockets with multipart
// send and receive. Everything above it deals in frames ([UInt8]).

import CZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// A ZeroMQ context; closing it wakes every blocked socket with ETERM.
final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    init() throws {
        guard let h = zmq_ctx_new() else { throw KernelError.socket("zmq_ctx_new failed") }
        handle = h
    }

    /// Makes blocked calls on every socket return ETERM.
    func shutdown() { zmq_ctx_shutdown(handle) }

    /// Waits for sockets to close and pending messages to flush (up to their linger).
    func terminate() { while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {} }
}

/// One ZeroMQ socket. Not thread-safe: one thread uses it at a time.
final class ZMQSocket: @unchecked Sendable {
    enum Kind { case router, pub, rep }
    private(set) var handle: UnsafeMutableRawPointer?
    let name: String

    init(_ context: ZMQContext, _ kind: Kind, name: String) throws {
        let type: Int32
        switch kind {
        case .router: type = ZMQ_ROUTER
        case .pub: type = ZMQ_PUB
        case .rep: type = ZMQ_REP
        }
        guard let h = zmq_socket(context.handle, type) else {
            throw KernelError.socket("cannot create the \(name) socket: \(Self.lastError())")
        }
        handle = h
        self.name = name
        try setOption(ZMQ_LINGER, 1000)
        // Drop peers that send more than 512 MiB in one frame instead of exhausting memory.
        var maxSize: Int64 = 512 << 20
        zmq_setsockopt(h, ZMQ_MAXMSGSIZE, &maxSize, MemoryLayout<Int64>.size)
    }

    func setOption(_ option: Int32, _ value: Int32) throws {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) == 0 else {
            throw KernelError.socket("setsockopt \(option) on \(name): \(Self.lastError())")
        }
    }

    func bind(_ endpoint: String) throws {
        guard zmq_bind(handle, endpoint) == 0 else {
            throw KernelError.socket("cannot bind the \(name) socket to \(endpoint): \(Self.lastError())")
        }
    }

    /// Waits up to `timeoutMilliseconds` for a message; false on timeout or a closed context.
    func waitReadable(timeoutMilliseconds: Int) -> Bool {
        var item = zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        let n = zmq_poll(&item, 1, timeoutMilliseconds)
        return n > 0 && (item.revents & Int16(ZMQ_POLLIN)) != 0
    }

    /// Receives all frames of one message; nil when nothing is there (non-blocking) or the context ended.
    func receive(blocking: Bool = true) -> [[UInt8]]? {
        var frames: [[UInt8]] = []
        var message = zmq_msg_t()
        while true {
            zmq_msg_init(&message)
            defer { zmq_msg_close(&message) }
            var rc: Int32
            repeat {
                rc = zmq_msg_recv(&message, handle, blocking ? 0 : ZMQ_DONTWAIT)
            } while rc < 0 && zmq_errno() == EINTR
            if rc < 0 { return frames.isEmpty ? nil : frames }
            let size = zmq_msg_size(&message)
            if size > 0, let data = zmq_msg_data(&message) {
                frames.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
            } else {
                frames.append([])
            }
            if zmq_msg_more(&message) == 0 { return frames }
        }
    }

    /// Sends frames as one multipart message.
    @discardableResult
    func send(_ frames: [[UInt8]]) -> Bool {
        for (i, frame) in frames.enumerated() {
            let flags = i < frames.count - 1 ? ZMQ_SNDMORE : 0
            var rc: Int32
            repeat {
                rc = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
            } while rc < 0 && zmq_errno() == EINTR
            if rc < 0 { return false }
        }
        return true
    }

    func close() {
        if let h = handle { zmq_close(h) }
        handle = nil
    }

    static func lastError() -> String { String(cString: zmq_strerror(zmq_errno())) }
}
