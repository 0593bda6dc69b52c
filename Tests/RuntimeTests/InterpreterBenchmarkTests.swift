// The loop `peftlab bench interpreter` times computes what CPython computes, and loops keep
// their scoping rules now that one scope is reused across a loop's iterations.

import Runtime
import PEFTLabBenchmarks
import Testing

@Suite("Interpreter benchmark and loop scopes")
struct InterpreterBenchmarkTests {
    @Test("the benchmark's cell computes the sum the peer checks")
    func benchmarkValue() throws {
        #expect(Cells().value(InterpreterBenchmark.program(iterations: 1000)) == String(InterpreterBenchmark.expected(iterations: 1000)))
        #expect(InterpreterBenchmark.expected(iterations: 100_000) == 299_998)   // CPython's value
        let result = try InterpreterBenchmark.run(iterations: 2000, repeats: 1)
        #expect(result.value == InterpreterBenchmark.expected(iterations: 2000) && result.seconds > 0)
    }

    @Test("every iteration starts with fresh bindings; the loop variable is gone after the loop")
    func loopScopes() {
        let c = Cells()
        #expect(c.value("var out = []\nfor i in 0..<3 { let twice = i * 2\nout = out + [twice] }\nout") == "[0, 2, 4]")
        #expect(c.value("var n = 0\nfor x in [1, 2, 3, 4] { if x == 2 { continue }\nif x == 4 { break }\nn += x }\nn") == "4")
        #expect(c.value("var pairs = 0\nfor a in 0..<3 { for b in 0..<a { pairs += 1 } }\npairs") == "3")
        #expect(c.error("for k in 0..<2 { }\nk").message.contains("cannot find 'k' in scope"))
        #expect(c.error("for k in 0..<2 { k = 5 }").message.contains("'let' constant"))
        #expect(c.value("var seen = \"\"\nfor ch in \"abc\" { seen = ch + seen }\nseen") == "\"cba\"")
    }
}
