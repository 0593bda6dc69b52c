// PEFTLabJSON: the strict parser and the compact serializer behind every wire frame.

import PEFTLabJSON
import Testing

@Suite("JSON")
struct JSONTests {
    // MARK: - Round trips

    @Test("canonical compact texts serialize back byte for byte", arguments: [
        "null", "true", "false", "0", "-1", "42", "1.5", "-0.25", "\"\"", "\"abc\"", "[]", "{}",
        "[1,2,3]", "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
        "{\"z\":1,\"a\":2,\"m\":3}", "[[[[[]]]]]", "[{},{\"\":\"\"}]",
        "\"caf\u{e9} \u{4f60}\u{597d} \u{1F680}\"", "\"a\\\"b\\\\c\\nd\\te\\rf\"", "\"\\u0000\\u001f\\u0001\"",
    ])
    func canonicalRoundTrip(_ text: String) throws {
        let value = try JSON.parse(text)
        #expect(value.serialized() == text)
        #expect(value.serializedBytes() == Array(text.utf8))
        #expect(try JSON.parse(bytes: value.serializedBytes()) == value)
    }

    @Test("values survive serialize → parse")
    func valueRoundTrip() throws {
        let values: [JSON] = [
            .null, true, false, 0, -7, 3.25, 1e-7, 6.02e23, -1e300, 9_007_199_254_740_991, 0.1,
            "", "plain", "\u{0}\u{7}\u{1B}\u{7F}", "quote \" backslash \\ slash /", "🚀👩‍👩‍👧 é e\u{301}",
            [], [[], [:], [[nil]]], ["k": ["nested": [1, "two", 3.5, false]]],
            .object(["": "empty key", "é": "unicode key", "a\"b": "quoted key"]),
        ]
        for value in values {
            #expect(try JSON.parse(value.serialized()) == value, "\(value)")
            #expect(try JSON.parse(value.prettySerialized()) == value, "\(value)")
        }
    }

    @Test("object keys keep insertion order; equality ignores it")
    func keyOrder() throws {
        let parsed = try JSON.parse("{\"b\":1,\"a\":2,\"c\":3}")
        #expect(parsed.objectValue?.keys == ["b", "a", "c"])
        #expect(parsed == (try JSON.parse("{\"a\":2,\"c\":3,\"b\":1}")))
        var object: JSONObject = ["x": 1, "y": 2]
        object["x"] = 10
        #expect(object.keys == ["x", "y"])
        object["x"] = nil
        #expect(object.keys == ["y"])
        #expect(object.count == 1)
        object["x"] = 3
        #expect(JSON.object(object).serialized() == "{\"y\":2,\"x\":3}")
        #expect(Array(object.map(\.key)) == ["y", "x"])
    }

    @Test("duplicate keys: the last one wins")
    func duplicateKeys() throws {
        let v = try JSON.parse("{\"a\":1,\"a\":2}")
        #expect(v["a"] == 2)
        #expect(v.objectValue?.count == 1)
    }

    // MARK: - Strings

    @Test("every escape parses")
    func escapes() throws {
        let v = try JSON.parse(#""\"\\\/\b\f\n\r\t\u0041\u00e9\u4F60""#)
        #expect(v.stringValue == "\"\\/\u{8}\u{C}\n\r\tAé你")
    }

    @Test("control characters are escaped on output, '/' and non-ASCII are not")
    func serializerEscapes() {
        #expect(JSON.string("\u{0}\u{8}\u{C}\u{1F}").serialized() == #""\u0000\u0008\u000c\u001f""#)
        #expect(JSON.string("a/b").serialized() == #""a/b""#)
        #expect(JSON.string("\n\r\t").serialized() == #""\n\r\t""#)
        #expect(JSON.string("é🚀").serializedBytes() == [0x22] + Array("é🚀".utf8) + [0x22])
        #expect(JSON.string("\u{7F}").serialized() == "\"\u{7F}\"")
    }

    @Test("surrogate pairs make one scalar")
    func surrogatePairs() throws {
        #expect(try JSON.parse(#""\ud83d\ude80""#).stringValue == "🚀")
        #expect(try JSON.parse(#""\uD83D\uDE00 x""#).stringValue == "😀 x")
        #expect(try JSON.parse(#""\udbff\udfff""#).stringValue == "\u{10FFFF}")
        #expect(try JSON.parse(#""\ud800\udc00""#).stringValue == "\u{10000}")
    }

    @Test("lone surrogates become U+FFFD without eating what follows")
    func loneSurrogates() throws {
        #expect(try JSON.parse(#""\ud800""#).stringValue == "\u{FFFD}")
        #expect(try JSON.parse(#""\udc00x""#).stringValue == "\u{FFFD}x")
        #expect(try JSON.parse(#""\ud800x""#).stringValue == "\u{FFFD}x")
        #expect(try JSON.parse(#""\ud800\n""#).stringValue == "\u{FFFD}\n")
        // A high surrogate followed by an escape that is not a low surrogate: that escape is its own character.
        #expect(try JSON.parse(#""\ud800\u0041""#).stringValue == "\u{FFFD}A")
        #expect(try JSON.parse(#""\ud83d\ud83d\ude80""#).stringValue == "\u{FFFD}🚀")
    }

    @Test("raw UTF-8 of every length passes through")
    func rawUTF8() throws {
        let s = "a é ß € 你 🚀 𝄞"
        #expect(try JSON.parse(bytes: [0x22] + Array(s.utf8) + [0x22]).stringValue == s)
    }

    // MARK: - Numbers

    @Test("numbers", arguments: [
        ("0", 0.0), ("-0", 0.0), ("1", 1), ("-1", -1), ("1.5", 1.5), ("-1.5e3", -1500), ("1E+2", 100),
        ("1e-2", 0.01), ("2e-4", 0.0002), ("123456789012", 123456789012), ("0.000001", 1e-6),
        ("1.7976931348623157e308", 1.7976931348623157e308), ("4.9406564584124654e-324", Double.leastNonzeroMagnitude),
    ])
    func numbers(_ text: String, _ expected: Double) throws {
        #expect(try JSON.parse(text).doubleValue == expected)
        #expect(try JSON.parse(" [\(text)] ").arrayValue?.first?.doubleValue == expected)
    }

    @Test("integers and non-integers")
    func intValues() throws {
        #expect(try JSON.parse("42").intValue == 42)
        #expect(try JSON.parse("-42").intValue == -42)
        #expect(try JSON.parse("4.0").intValue == 4)
        #expect(try JSON.parse("4.5").intValue == nil)
        #expect(try JSON.parse("1e20").intValue == nil)
        #expect(JSON.int(1 << 40).serialized() == "1099511627776")
        #expect(JSON.number(-0.0).serialized() == "0")
        #expect(JSON.number(0.1).serialized() == "0.1")
        #expect(JSON.number(.nan).serialized() == "null")
        #expect(JSON.number(.infinity).serialized() == "null")
        let big = JSON.number(1e20).serialized()
        #expect(try JSON.parse(big).doubleValue == 1e20)
    }

    // MARK: - Nesting

    @Test("moderate nesting parses")
    func moderateNesting() throws {
        let depth = 200
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        var v = try JSON.parse(text)
        var seen = 0
        while case .array(let items) = v, let first = items.first { v = first; seen += 1 }
        #expect(seen == depth - 1)
        let objects = String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth)
        #expect(try JSON.parse(objects).serialized() == objects)
    }

    @Test("nesting 100000 deep is an error, not a crash")
    func deepNesting() {
        for text in [String(repeating: "[", count: 100_000),
                     String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000),
                     String(repeating: "{\"a\":", count: 100_000) + "1" + String(repeating: "}", count: 100_000),
                     String(repeating: "[{\"k\":", count: 50_000)] {
            do {
                _ = try JSON.parse(text)
                Issue.record("deep nesting should be rejected")
            } catch {
                #expect(error.message.contains("nesting"))
            }
        }
    }

    // MARK: - Invalid input

    @Test("invalid texts throw", arguments: [
        "", " ", "nul", "tru", "fals", "nulL", "True", "NULL", "undefined", "falsey", "nullx",
        "[1,]", "[,1]", "[1 2]", "[1,,2]", "[", "]", "{", "}", "{\"a\":1,}", "{a:1}", "{\"a\" 1}", "{\"a\":}",
        "{1:2}", "{\"a\":1 \"b\":2}", "'single'", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\",
        "\"tab\there\"", "\"nl\nx\"", "\"\u{1}\"", "\"\u{1F}\"",
        "{} x", "[] []", "1 2", "\"a\"\"b\"", "null,",
        "-", "+1", ".5", "1.", "1.e5", "1e", "1e+", "--1", "0x10", "Infinity", "-Infinity", "NaN", "1_000",
        "01", "-01", "00",
    ])
    func invalid(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSON.parse(text) }
    }

    @Test("errors say where")
    func errorOffset() {
        do {
            _ = try JSON.parse("[1, 2, x]")
            Issue.record("should throw")
        } catch {
            #expect(error.offset == 7)
            #expect(error.description.contains("byte 7"))
        }
    }

    @Test("white space around and inside is allowed (only JSON's four kinds)")
    func whitespace() throws {
        #expect(try JSON.parse(" \t\r\n{ \"a\" : [ 1 , 2 ] }\n ") == ["a": [1, 2]])
        #expect(throws: JSONParseError.self) { try JSON.parse("\u{0B}1") }
        #expect(throws: JSONParseError.self) { try JSON.parse("\u{A0}1") }
    }

    @Test("random bytes never crash the parser")
    func randomBytes() throws {
        var rng = SplitMix64(seed: 0x5EED)
        let alphabet = Array("{}[]\":,.-+eE0123456789 \\/unlltrfasbx\u{1}\n".utf8) + [0xC3, 0xA9, 0xFF, 0xED, 0xA0, 0x80]
        var parsed = 0
        for _ in 0..<5000 {
            let length = Int(rng.next() % 24)
            let text = (0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            if let value = try? JSON.parse(bytes: text) {
                parsed += 1
                #expect(try JSON.parse(bytes: value.serializedBytes()) == value)
            }
        }
        #expect(parsed > 0)
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
