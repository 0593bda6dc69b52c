// History.glob (the matcher behind history search) and History on its own.

import Kernel
import PEFTLabJSON
import Testing

@Suite("History")
struct HistoryTests {
    private func glob(_ pattern: String, _ text: String) -> Bool {
        History.glob(Array(pattern), matches: Array(text))
    }

    @Test("glob matches", arguments: [
        ("", ""), ("*", ""), ("*", "anything at all"), ("**", "x"), ("?", "a"), ("??", "ab"), ("a*", "a"),
        ("a*", "abc"), ("*c", "abc"), ("a*c", "abbbbc"), ("a?c", "abc"), ("*b*", "abc"), ("a*b*c", "aXbYc"),
        ("a*b*c", "abc"), ("*a*a*a*", "banana ma"), ("let*", "let x = 1"), ("*=*", "let x = 1"),
        ("print(*)", "print(\"hi\")"), ("*\n*", "two\nlines"), ("🚀*", "🚀 launch"), ("?", "é"), ("?", "🚀"),
        ("a*a", "aaaa"), ("*ab", "aab"), ("*aab", "aaab"), ("a**b", "ab"), ("*?", "x"),
        ("*b", "*ab"), ("a*", "a*"), ("*", "*"), ("\\*", "\\anything"),
    ])
    func matches(_ pattern: String, _ text: String) {
        #expect(glob(pattern, text), "\(pattern) should match \(text)")
    }

    @Test("glob rejects", arguments: [
        ("", "a"), ("a", ""), ("?", ""), ("??", "a"), ("a", "b"), ("a*", "ba"), ("*a", "ab"), ("a?c", "ac"),
        ("a*c", "abcd"), ("abc", "ABC"), ("let*", " let x"), ("*b*", "acd"), ("a*b*c", "acb"), ("?", "ab"),
        ("*?", ""), ("*b", "*a"),
    ])
    func rejects(_ pattern: String, _ text: String) {
        #expect(!glob(pattern, text), "\(pattern) should not match \(text)")
    }

    @Test("glob on long inputs stays fast")
    func longInputs() {
        let text = String(repeating: "a", count: 2000)
        #expect(!glob(String(repeating: "*a", count: 50) + "b", text))
        #expect(glob(String(repeating: "*a", count: 50), text))
    }

    @Test("records, outputs and answers")
    func standalone() {
        var h = History(session: 3)
        h.record(line: 1, input: "x")
        h.record(line: 2, input: "y")
        h.recordOutput(line: 2, output: "out")
        h.recordOutput(line: 9, output: "ignored")
        #expect(h.entries.count == 2)
        #expect(h.entries[1].output == "out")
        #expect(h.answer([:]) == [[3, 1, "x"], [3, 2, "y"]], "tail of 10 by default")
        #expect(h.answer(["hist_access_type": "range", "session": 3, "start": 2]) == [[3, 2, "y"]])
        #expect(h.answer(["hist_access_type": "range", "session": 1, "start": 1]) == [])
        #expect(h.answer(["hist_access_type": "search", "pattern": "?", "output": true])
                == [[3, 1, ["x", nil]], [3, 2, ["y", "out"]]])
        #expect(History().session == 1)
    }
}
