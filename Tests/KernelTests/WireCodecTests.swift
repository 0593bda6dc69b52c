// The wire codec against frames that jupyter_client's Session made and signed,
// and against broken frame lists.

import Kernel
import PEFTLabJSON
import Testing

@Suite("Wire codec")
struct WireCodecTests {
    @Test("the fixture is bundled and readable")
    func fixtureLoads() throws {
        let url = try #require(WireVector.fixtureURL())
        #expect(url.lastPathComponent == "wire_vectors.json")
        #expect(WireVector.all.count == 7)
        #expect(Set(WireVector.all.map(\.name)).count == WireVector.all.count)
    }

    @Test("our decoder accepts jupyter_client's frames", arguments: WireVector.all)
    func decodesJupyterClientFrames(_ v: WireVector) throws {
        let codec = WireCodec(key: v.key)
        let message = try codec.decode(v.frames)
        #expect(message.identities == v.identities)
        #expect(message.header == v.header)
        #expect(message.parentHeader == v.parentHeader)
        #expect(message.metadata == v.metadata)
        #expect(message.content == v.content)
        #expect(message.buffers.count == v.bufferCount)
        #expect(message.buffers == v.buffers)
        #expect(message.msgType == v.header["msg_type"]?.stringValue)
        #expect(message.msgID == v.header["msg_id"]?.stringValue)
    }

    @Test("our signature equals jupyter_client's", arguments: WireVector.all)
    func signatureMatches(_ v: WireVector) {
        let signer = MessageSigner(key: v.key)
        #expect(signer.isSigning == !v.key.isEmpty)
        #expect(signer.signature(of: v.parts) == bytes(v.signature))
        #expect(v.frames[v.delimiterIndex + 1] == bytes(v.signature))
        #expect(signer.verify(bytes(v.signature), parts: v.parts))
    }

    @Test("jupyter_client's signature is lowercase hex of HMAC-SHA256")
    func signatureShape() {
        for v in WireVector.all where !v.key.isEmpty {
            #expect(v.signature.count == 64)
            #expect(v.signature.allSatisfy { "0123456789abcdef".contains($0) })
        }
        #expect(WireVector.named("empty_key").signature == "")
    }

    @Test("unicode content is read exactly, escaped or raw")
    func unicodeContent() throws {
        let raw = try WireCodec(key: WireVector.named("unicode_content").key).decode(WireVector.named("unicode_content").frames)
        #expect(raw.content["text"]?.stringValue == "héllo wörld → 你好 🚀 \"quoted\" \\ tab\t nl\n \u{01}")
        #expect(raw.metadata["clé"]?.stringValue == "värde")
        #expect(raw.parentHeader["msg_type"]?.stringValue == "execute_request")
        let escaped = try WireCodec(key: WireVector.named("unicode_ascii_escaped").key)
            .decode(WireVector.named("unicode_ascii_escaped").frames)
        #expect(escaped.content["text"]?.stringValue == "héllo 你好 🚀 😀 end")
    }

    @Test("a buffer that reads like the delimiter stays a buffer")
    func delimiterLikeBuffer() throws {
        let v = WireVector.named("with_buffers")
        let m = try WireCodec(key: v.key).decode(v.frames)
        #expect(m.buffers == [[0, 1, 2, 255], [], bytes("<IDS|MSG>")])
        #expect(m.identities == [[0x00, 0x6B, 0x8B, 0x45, 0x67]])
        #expect(m.content["data"]?["shape"] == [2, 3])
        #expect(m.content["data"]?["ratio"]?.doubleValue == 0.25)
        #expect(m.content["data"]?["none"] == JSON.null)
    }

    // MARK: - Tampering

    @Test("a changed byte in any signed part is a bad signature", arguments: WireVector.all.filter { !$0.key.isEmpty })
    func tamperedParts(_ v: WireVector) {
        let codec = WireCodec(key: v.key)
        for part in 0..<4 {
            var frames = v.frames
            let index = v.delimiterIndex + 2 + part
            if frames[index].isEmpty { frames[index] = [0x20] } else { frames[index][frames[index].count / 2] ^= 0x01 }
            #expect(throws: WireError.badSignature, "part \(part)") { try codec.decode(frames) }
        }
        // An appended space changes the bytes but not the JSON: still rejected.
        var padded = v.frames
        padded[v.delimiterIndex + 5].append(0x20)
        #expect(throws: WireError.badSignature) { try codec.decode(padded) }
    }

    @Test("a changed, truncated, uppercased or missing signature is rejected", arguments: WireVector.all.filter { !$0.key.isEmpty })
    func tamperedSignature(_ v: WireVector) {
        let codec = WireCodec(key: v.key)
        let s = v.delimiterIndex + 1
        var variants: [[UInt8]] = []
        var flipped = v.frames[s]; flipped[0] = flipped[0] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0"); variants.append(flipped)
        var last = v.frames[s]; last[63] = last[63] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a"); variants.append(last)
        variants.append(Array(v.frames[s].dropLast()))
        variants.append(v.frames[s] + [UInt8(ascii: "0")])
        variants.append(bytes(v.signature.uppercased()))
        variants.append([])
        for variant in variants where variant != v.frames[s] {
            var frames = v.frames
            frames[s] = variant
            #expect(throws: WireError.badSignature) { try codec.decode(frames) }
        }
    }

    @Test("parts in another order are rejected")
    func swappedParts() {
        let v = WireVector.named("unicode_content")
        var frames = v.frames
        frames.swapAt(v.delimiterIndex + 2, v.delimiterIndex + 5)
        #expect(throws: WireError.badSignature) { try WireCodec(key: v.key).decode(frames) }
    }

    @Test("another key is a bad signature; no key accepts anything signed")
    func wrongKey() throws {
        let v = WireVector.named("execute_request")
        #expect(throws: WireError.badSignature) { try WireCodec(key: v.key + "x").decode(v.frames) }
        #expect(throws: WireError.badSignature) { try WireCodec(key: "ключ-🔑").decode(v.frames) }
        // A kernel without a key does not check signatures at all.
        let m = try WireCodec(key: "").decode(v.frames)
        #expect(m.content == v.content)
        // A kernel with a key refuses unsigned messages.
        let unsigned = WireVector.named("empty_key")
        #expect(throws: WireError.badSignature) { try WireCodec(key: v.key).decode(unsigned.frames) }
    }

    // MARK: - Broken frame lists

    @Test("no delimiter")
    func missingDelimiter() {
        let v = WireVector.named("with_identities")
        var frames = v.frames
        frames.remove(at: v.delimiterIndex)
        #expect(throws: WireError.missingDelimiter) { try WireCodec(key: v.key).decode(frames) }
        #expect(throws: WireError.missingDelimiter) { try WireCodec(key: v.key).decode([]) }
        #expect(throws: WireError.missingDelimiter) { try WireCodec(key: "").decode([bytes("<IDS|MSG"), [], bytes("{}")]) }
    }

    @Test("too few frames after the delimiter")
    func tooFewFrames() {
        let v = WireVector.named("with_identities")
        let codec = WireCodec(key: v.key)
        for keep in 0..<5 {
            let frames = Array(v.frames[...(v.delimiterIndex + keep)])
            #expect(throws: WireError.tooFewFrames(keep)) { try codec.decode(frames) }
        }
        #expect(throws: WireError.tooFewFrames(0)) { try codec.decode([WireCodec.delimiter]) }
    }

    /// Frames with a valid signature over the given parts.
    private func signedFrames(key: String, _ parts: [String], identities: [[UInt8]] = []) -> [[UInt8]] {
        let raw = parts.map(bytes)
        return identities + [WireCodec.delimiter, MessageSigner(key: key).signature(of: raw)] + raw
    }

    private let header = #"{"msg_id":"m1","session":"s","username":"u","date":"2024-01-01T00:00:00Z","msg_type":"execute_request","version":"5.3"}"#

    @Test("an unreadable content part reports the readable header")
    func invalidContentKeepsHeader() throws {
        let key = "secret"
        let frames = signedFrames(key: key, [header, "{}", "{}", #"{"code": "1 +"#], identities: [bytes("id")])
        do {
            _ = try WireCodec(key: key).decode(frames)
            Issue.record("decoding should fail")
        } catch {
            guard case .invalidPart(let name, let reason, let readHeader) = error else {
                Issue.record("unexpected \(error)"); return
            }
            #expect(name == "content")
            #expect(!reason.isEmpty)
            let h = try #require(readHeader)
            #expect(h["msg_type"]?.stringValue == "execute_request")
            #expect(h["msg_id"]?.stringValue == "m1")
            #expect(error.description.hasPrefix("content is invalid"))
        }
    }

    @Test("unreadable parent header and metadata are named", arguments: [(1, "parent_header"), (2, "metadata")])
    func invalidMiddleParts(_ index: Int, _ expectedName: String) {
        var parts = [header, "{}", "{}", "{}"]
        parts[index] = "[1, 2]"  // JSON, but not an object
        do {
            _ = try WireCodec(key: "k").decode(signedFrames(key: "k", parts))
            Issue.record("decoding should fail")
        } catch {
            guard case .invalidPart(let name, let reason, let readHeader) = error else { Issue.record("\(error)"); return }
            #expect(name == expectedName)
            #expect(reason == "not a JSON object")
            #expect(readHeader?["msg_id"]?.stringValue == "m1")
        }
    }

    @Test("an unreadable header reports no header",
          arguments: ["{\"msg_id\": ", "[]", "{\"msg_id\": \"x\"}", "{\"msg_type\": \"kernel_info_request\"}",
                      "{\"msg_id\": 1, \"msg_type\": \"kernel_info_request\"}", "\u{FF}\u{FE}", ""])
    func invalidHeader(_ text: String) {
        do {
            _ = try WireCodec(key: "k").decode(signedFrames(key: "k", [text, "{}", "{}", "{}"]))
            Issue.record("decoding should fail")
        } catch {
            guard case .invalidPart(let name, _, let readHeader) = error else { Issue.record("\(error)"); return }
            #expect(name == "header")
            #expect(readHeader == nil)
        }
    }

    @Test("the signature is checked before any JSON is read")
    func signatureBeforeJSON() {
        var frames = signedFrames(key: "k", ["not json", "{}", "{}", "{}"])
        frames[1] = MessageSigner(key: "other").signature(of: frames[2...5].map { $0 })
        #expect(throws: WireError.badSignature) { try WireCodec(key: "k").decode(frames) }
    }

    // MARK: - Round trips

    @Test("encode then decode gives the same message, with identities and buffers", arguments: ["", "key", "ключ"])
    func roundTrip(_ key: String) throws {
        let codec = WireCodec(key: key)
        let message = Message(
            identities: [[0, 1, 2, 0x80], bytes("second"), []],
            header: ["msg_id": "abc_1", "msg_type": "execute_reply", "session": "s", "username": "u",
                     "date": "2024-06-07T08:09:10.123456Z", "version": "5.3"],
            parentHeader: ["msg_id": "p", "msg_type": "execute_request"],
            metadata: ["status": "ok", "nested": ["a": [1, 2.5, true, nil]]],
            content: ["text": "🚀 \"q\" \\ \n\t\u{0}\u{1F} é", "n": -12345, "x": 1.0e-7, "big": 1.0e300,
                      "list": [], "obj": [:]],
            buffers: [[], [0xFF, 0x00], WireCodec.delimiter])
        let frames = codec.encode(message)
        #expect(frames.count == 3 + 6 + 3)
        #expect(frames[3] == WireCodec.delimiter)
        #expect(frames[4].count == (key.isEmpty ? 0 : 64))
        let decoded = try codec.decode(frames)
        #expect(decoded == message)
        #expect(decoded.header.keys == message.header.keys)
        #expect(decoded.content.keys == message.content.keys)
    }

    @Test("encoding jupyter_client's decoded messages signs them validly", arguments: WireVector.all)
    func reencode(_ v: WireVector) throws {
        let codec = WireCodec(key: v.key)
        let decoded = try codec.decode(v.frames)
        let frames = codec.encode(decoded)
        #expect(Array(frames[..<v.identityCount]) == v.identities)
        let split = v.identityCount
        #expect(codec.signer.verify(frames[split + 1], parts: Array(frames[(split + 2)...(split + 5)])))
        #expect(try codec.decode(frames) == decoded)
    }
}

@Suite("Message signer")
struct MessageSignerTests {
    let signer = MessageSigner(key: "a0436f6c-1916-498b-8eb9-e81ab9368e84")
    let parts: [[UInt8]] = [bytes("{\"msg_id\":\"1\"}"), bytes("{}"), bytes("{}"), bytes("{\"code\":\"1\"}")]

    @Test("a known HMAC-SHA256 (RFC 4231 test case 2)")
    func knownVector() {
        let s = MessageSigner(key: "Jefe")
        #expect(s.signature(of: [bytes("what do ya want "), bytes("for nothing?")])
                == bytes("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"))
    }

    @Test("the right signature verifies")
    func verifies() {
        #expect(signer.verify(signer.signature(of: parts), parts: parts))
    }

    @Test("a signature of the wrong length never verifies", arguments: [0, 1, 32, 63, 65, 128, 256, 320])
    func wrongLength(_ length: Int) {
        let good = signer.signature(of: parts)
        let candidate = (0..<length).map { good[$0 % good.count] }
        #expect(!signer.verify(candidate, parts: parts))
        // The right prefix followed by anything, and the right signature twice.
        #expect(!signer.verify(good + good, parts: parts))
    }

    @Test("one byte off anywhere is rejected", arguments: Array(0..<64))
    func oneByteOff(_ position: Int) {
        var candidate = signer.signature(of: parts)
        candidate[position] ^= 0x01
        #expect(!signer.verify(candidate, parts: parts))
    }

    @Test("a low bit off in one byte only is still rejected")
    func subtleDifferences() {
        let good = signer.signature(of: parts)
        for bit in 0..<8 {
            var candidate = good
            candidate[31] ^= UInt8(1) << UInt8(bit)
            #expect(!signer.verify(candidate, parts: parts))
        }
    }

    @Test("without a key nothing is signed and everything verifies")
    func noKey() {
        let none = MessageSigner(key: "")
        #expect(!none.isSigning)
        #expect(none.signature(of: parts) == [])
        #expect(none.verify([], parts: parts))
        #expect(none.verify(bytes("garbage"), parts: parts))
    }

    @Test("the parts are hashed as one concatenation")
    func concatenation() {
        #expect(signer.signature(of: [bytes("ab"), bytes("c")]) == signer.signature(of: [bytes("abc")]))
        #expect(signer.signature(of: [bytes("ab")]) != signer.signature(of: [bytes("ba")]))
    }
}

@Suite("Replay protection")
struct ReplayTests {
    @Test("a signed message decoded twice is a replay the second time; another message is not")
    func replayedSignature() throws {
        let v = WireVector.named("execute_request")
        let codec = WireCodec(key: v.key, history: SignatureHistory())
        _ = try codec.decode(v.frames)
        #expect(throws: WireError.replayed) { try codec.decode(v.frames) }
        // A codec without a history (reading test vectors) decodes the same frames again.
        _ = try WireCodec(key: v.key).decode(v.frames)
        _ = try WireCodec(key: v.key).decode(v.frames)
    }

    @Test("the history is bounded: past its capacity the oldest signatures are forgotten")
    func boundedHistory() {
        let history = SignatureHistory(capacity: 3)
        let signatures = (0..<5).map { Array("sig-\($0)".utf8) }
        for s in signatures { #expect(history.insert(s)) }
        #expect(!history.insert(signatures[4]) && !history.insert(signatures[2]))
        #expect(history.insert(signatures[0]), "forgotten after three newer ones")
        #expect(history.insert([]) && history.insert([]), "an unsigned session has no replays")
    }
}
