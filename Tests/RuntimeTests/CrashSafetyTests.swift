// Inputs that could trap or overflow the stack, each run in a child process (an exit test)
// so that a crash fails one test instead of the whole run. "No input crashes the kernel."

import Runtime
import Testing

@Suite("Crash safety")
struct CrashSafetyTests {
    @Test("count of a range spanning all of Int is a value or an error, not a trap")
    func wholeRangeCount() async {
        await #expect(processExitsWith: .success) {
            let r = Session().execute("let r = -9223372036854775807 - 1..<9223372036854775807\nr.count", output: NullOutput())
            precondition(r.error != nil || r.value != nil)
        }
    }

    @Test("nesting a value 100000 deep stops at the limit with an error; the rest is safe")
    func deeplyNestedValue() async {
        await #expect(processExitsWith: .success) {
            let s = Session()
            let built = s.execute("var a = [0]\nfor i in 0..<100000 { a = [a] }", output: NullOutput())
            precondition(built.error?.name == "ValueError" && built.error!.message.contains("nest"))
            _ = s.execute("a", output: NullOutput())
            _ = s.execute("a == a", output: NullOutput())
            _ = s.execute("print(a)", output: NullOutput())
            _ = s.execute("a = [0]", output: NullOutput())
        }
    }

    @Test("a dictionary nested 100000 deep")
    func deeplyNestedDictionary() async {
        await #expect(processExitsWith: .success) {
            let s = Session()
            _ = s.execute("var d = [:]\nfor i in 0..<100000 { d = [\"k\": d] }\nd", output: NullOutput())
        }
    }

    @Test("a long string doubled many times is an error or a value, not a crash")
    func longStrings() async {
        await #expect(processExitsWith: .success) {
            let s = Session()
            _ = s.execute("var t = \"ab\"\nfor i in 0..<20 { t = t + t }\nt.count", output: NullOutput())
        }
    }
}
