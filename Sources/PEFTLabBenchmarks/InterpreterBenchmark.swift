// The interpreter's speed on a plain arithmetic loop (`peftlab bench interpreter`), the
// kind of loop a cell runs around its training calls; CPython runs the same loop as the peer
// (benchmarks/interpreter_peer.py).

import Foundation
import PEFTLib
import Runtime

/// Times a loop of integer arithmetic in the language.
public enum InterpreterBenchmark {
    /// The loop as a cell: `s` a cell variable, `i` the loop's own, as a notebook writes it.
    public static func program(iterations: Int) -> String {
        "var s = 0\nfor i in 0..<\(iterations) { s = s + i * 2 % 7 }\ns"
    }

    /// What the loop computes (checked against the peer's result).
    public static func expected(iterations: Int) -> Int {
        (0..<iterations).reduce(0) { $0 + $1 * 2 % 7 }
    }

    public struct Result: Sendable {
        public var iterations: Int
        /// Median seconds of one execution of the whole cell (parse included).
        public var seconds: Double
        public var value: Int
        public var nanosecondsPerIteration: Double { seconds * 1e9 / Double(iterations) }
    }

    /// Runs the cell `repeats` times (after one untimed run) in a fresh session; the median time.
    public static func run(iterations: Int = 100_000, repeats: Int = 5) throws -> Result {
        let session = Session()
        let code = program(iterations: iterations)
        let sink = DiscardingOutput()
        var value = 0
        func once() throws -> Double {
            let start = ContinuousClock.now
            let result = session.execute(code, output: sink)
            let elapsed = ContinuousClock.now - start
            if let error = result.error { throw BenchmarkFailure(message: "\(error.name): \(error.message)") }
            value = Int(result.value?.data["text/plain"]?.stringValue ?? "") ?? -1
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        }
        _ = try once()
        var times: [Double] = []
        for _ in 0..<max(1, repeats) { times.append(try once()) }
        times.sort()
        return Result(iterations: iterations, seconds: times[times.count / 2], value: value)
    }

    public struct BenchmarkFailure: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }
}

/// An output sink that drops everything.
private struct DiscardingOutput: OutputSink {
    func write(_ text: String, to stream: OutputStreamName) {}
    func display(_ bundle: MIMEBundle, id: String?, update: Bool) {}
    func clearOutput(wait: Bool) {}
}
