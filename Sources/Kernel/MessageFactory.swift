// Headers for the messages the kernel sends: a session id made once per process,
// fresh message ids, and ISO-8601 UTC dates with microseconds.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PEFTLabJSON
import Synchronization

/// Builds replies, broadcasts and their headers for one kernel session.
public final class MessageFactory: Sendable {
    public static let protocolVersion = "5.3"
    public let session: String
    public let username: String
    private let counter = Atomic<Int>(0)

    public init(session: String = MessageFactory.randomHex(16), username: String = "peftlab") {
        self.session = session
        self.username = username
    }

    /// A header for a new message of `type`.
    public func header(_ type: String) -> JSONObject {
        let n = counter.add(1, ordering: .relaxed).newValue
        return [
            "msg_id": .string("\(session)_\(n)"),
            "session": .string(session),
            "username": .string(username),
            "date": .string(Self.isoDate()),
            "msg_type": .string(type),
            "version": .string(Self.protocolVersion),
        ]
    }

    /// A reply to `request` on the channel it came from, back to the same identities.
    public func reply(to request: Message, type: String, content: JSONObject, metadata: JSONObject = [:]) -> Message {
        Message(identities: request.identities, header: header(type), parentHeader: request.header,
                metadata: metadata, content: content)
    }

    /// A message on iopub, as a result of `parent`.
    public func broadcast(_ type: String, content: JSONObject, parent: JSONObject, metadata: JSONObject = [:]) -> Message {
        Message(identities: [Array("kernel.\(session).\(type)".utf8)], header: header(type),
                parentHeader: parent, metadata: metadata, content: content)
    }

    /// `2026-11-25T19:07:48.123456Z`
    public static func isoDate() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var seconds = time_t(ts.tv_sec)
        var t = tm()
        gmtime_r(&seconds, &t)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(Int(t.tm_year) + 1900, 4))-\(pad(Int(t.tm_mon) + 1, 2))-\(pad(Int(t.tm_mday), 2))T"
            + "\(pad(Int(t.tm_hour), 2)):\(pad(Int(t.tm_min), 2)):\(pad(Int(t.tm_sec), 2)).\(pad(ts.tv_nsec / 1000, 6))Z"
    }

    /// Random lowercase hex from the system's generator.
    public static func randomHex(_ bytes: Int) -> String {
        var g = SystemRandomNumberGenerator()
        let hex = Array("0123456789abcdef")
        var s = ""
        for _ in 0..<bytes {
            let b = UInt8.random(in: 0...255, using: &g)
            s.append(hex[Int(b >> 4)]); s.append(hex[Int(b & 0xF)])
        }
        return s
    }
}
