// The Jupyter wire format: ZeroMQ routing identities, the `<IDS|MSG>` delimiter,
// an HMAC-SHA256 signature over the four JSON parts, then optional raw buffers.
// A pure codec: no sockets here, so it is tested frame by frame.

import Crypto
import PEFTLabJSON
import Synchronization

/// A Jupyter message as it travels between client and kernel.
public struct Message: Sendable, Equatable {
    /// ROUTER identities (shell, control, stdin) or the topic (iopub).
    public var identities: [[UInt8]]
    public var header: JSONObject
    public var parentHeader: JSONObject
    public var metadata: JSONObject
    public var content: JSONObject
    public var buffers: [[UInt8]]

    public init(identities: [[UInt8]] = [], header: JSONObject, parentHeader: JSONObject = [:],
                metadata: JSONObject = [:], content: JSONObject = [:], buffers: [[UInt8]] = []) {
        self.identities = identities; self.header = header; self.parentHeader = parentHeader
        self.metadata = metadata; self.content = content; self.buffers = buffers
    }

    public var msgType: String { header["msg_type"]?.stringValue ?? "" }
    public var msgID: String { header["msg_id"]?.stringValue ?? "" }
}

/// Signs and verifies messages with the connection file's key.
public struct MessageSigner: Sendable {
    private let key: [UInt8]?

    public init(key: String) {
        self.key = key.isEmpty ? nil : Array(key.utf8)
    }

    /// True when messages are signed at all (the key is not empty).
    public var isSigning: Bool { key != nil }

    /// The lowercase hex HMAC-SHA256 of the parts, or "" without a key.
    public func signature(of parts: [[UInt8]]) -> [UInt8] {
        guard let key else { return [] }
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: key))
        for part in parts { hmac.update(data: part) }
        let mac = hmac.finalize()
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in mac {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return out
    }

    /// Compares a received signature with the expected one in time independent of where they differ.
    public func verify(_ signature: [UInt8], parts: [[UInt8]]) -> Bool {
        guard key != nil else { return true }
        return Self.constantTimeEqual(signature, self.signature(of: parts))
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        let n = min(a.count, b.count)
        for i in 0..<n { difference |= a[i] ^ b[i] }
        // Touch the rest of the longer one so the time depends only on lengths.
        for i in n..<max(a.count, b.count) { difference |= (i < a.count ? a[i] : b[i]) | 1 }
        return difference == 0
    }
}

/// Signatures already seen, so that a captured signed message sent again is not run again
/// (jupyter_client's Session keeps such a digest history too). Bounded: past `capacity`
/// the oldest are forgotten. Shared by the channels' threads.
public final class SignatureHistory: Sendable {
    public let capacity: Int
    private struct State {
        var seen: Set<[UInt8]> = []
        var order: [[UInt8]] = []
        var oldest = 0
    }
    private let state = Mutex(State())

    public init(capacity: Int = 1 << 16) { self.capacity = max(1, capacity) }

    /// Records `signature`; false when it was seen before (a replay). Empty signatures (an
    /// unsigned session) are never replays.
    public func insert(_ signature: [UInt8]) -> Bool {
        if signature.isEmpty { return true }
        let capacity = self.capacity
        return state.withLock { s in
            guard s.seen.insert(signature).inserted else { return false }
            if s.order.count < capacity {
                s.order.append(signature)
            } else {
                s.seen.remove(s.order[s.oldest])
                s.order[s.oldest] = signature
                s.oldest = (s.oldest + 1) % capacity
            }
            return true
        }
    }
}

/// Why a list of frames is not a message we can act on.
public enum WireError: Error, Equatable, CustomStringConvertible {
    case missingDelimiter
    case tooFewFrames(Int)
    case badSignature
    /// A validly signed message whose signature was seen before.
    case replayed
    /// A JSON part did not parse; `header` holds the header when that part was readable.
    case invalidPart(name: String, reason: String, header: JSONObject?)

    public var description: String {
        switch self {
        case .missingDelimiter: return "no <IDS|MSG> delimiter among the frames"
        case .tooFewFrames(let n): return "expected at least 5 frames after the delimiter, got \(n)"
        case .badSignature: return "signature does not match"
        case .replayed: return "a message with this signature was already received (a replay)"
        case .invalidPart(let name, let reason, _): return "\(name) is invalid: \(reason)"
        }
    }
}

/// Turns frames into messages and back.
public struct WireCodec: Sendable {
    public static let delimiter: [UInt8] = Array("<IDS|MSG>".utf8)
    public let signer: MessageSigner
    /// When set, a signature seen before is refused as `.replayed` (the kernel sets it; a
    /// codec that only reads test vectors does not).
    public let history: SignatureHistory?

    public init(key: String, history: SignatureHistory? = nil) {
        signer = MessageSigner(key: key)
        self.history = history
    }

    /// Frames for sending: identities, delimiter, signature, the four JSON parts, buffers.
    public func encode(_ message: Message) -> [[UInt8]] {
        let parts = [JSON.object(message.header).serializedBytes(),
                     JSON.object(message.parentHeader).serializedBytes(),
                     JSON.object(message.metadata).serializedBytes(),
                     JSON.object(message.content).serializedBytes()]
        var frames = message.identities
        frames.reserveCapacity(frames.count + 6 + message.buffers.count)
        frames.append(Self.delimiter)
        frames.append(signer.signature(of: parts))
        frames.append(contentsOf: parts)
        frames.append(contentsOf: message.buffers)
        return frames
    }

    /// Parses and verifies received frames. The signature is checked before any JSON is read.
    public func decode(_ frames: [[UInt8]]) throws(WireError) -> Message {
        guard let split = frames.firstIndex(of: Self.delimiter) else { throw .missingDelimiter }
        let rest = frames.count - split - 1
        guard rest >= 5 else { throw .tooFewFrames(rest) }
        let signature = frames[split + 1]
        let parts = Array(frames[(split + 2)..<(split + 6)])
        guard signer.verify(signature, parts: parts) else { throw .badSignature }
        if let history, signer.isSigning, !history.insert(signature) { throw .replayed }

        func object(_ index: Int, _ name: String, header: JSONObject?) throws(WireError) -> JSONObject {
            let parsed: JSON
            do { parsed = try JSON.parse(bytes: parts[index]) } catch {
                throw .invalidPart(name: name, reason: error.description, header: header)
            }
            guard case .object(let object) = parsed else {
                throw .invalidPart(name: name, reason: "not a JSON object", header: header)
            }
            return object
        }
        let header = try object(0, "header", header: nil)
        guard header["msg_type"]?.stringValue != nil, header["msg_id"]?.stringValue != nil else {
            throw .invalidPart(name: "header", reason: "msg_type and msg_id must be strings", header: nil)
        }
        let parent = try object(1, "parent_header", header: header)
        let metadata = try object(2, "metadata", header: header)
        let content = try object(3, "content", header: header)
        return Message(identities: Array(frames[..<split]), header: header, parentHeader: parent,
                       metadata: metadata, content: content, buffers: Array(frames[(split + 6)...]))
    }
}
