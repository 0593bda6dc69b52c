// Sweeps store each finished run at once and skip finished runs when re-run.

import Foundation
import PEFTLib
import Testing

@Suite("Sweeps")
struct SweepTests {
    static func runs() -> [SweepRun] {
        ["LoRA", "IA3", "Adapter"].flatMap { method in
            [42, 43].map { seed in SweepRun([("method", .text(method)), ("seed", .int(seed))]) }
        }
    }

    @Test("an interrupted sweep re-run skips what finished and ends with every run once")
    func resumeAfterInterrupt() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sweep-\(UInt32.random(in: 0...UInt32.max))/runs.jsonl").path
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        var executed: [String] = []
        let body = { (run: SweepRun) -> [(String, TableValue)] in
            executed.append(run.key)
            return [("score", .double(Double(executed.count) / 10)), ("converged", .bool(true))]
        }
        let first = try Sweep.run(Self.runs(), store: try SweepStore(path: path), isCancelled: { executed.count >= 4 }, body: body)
        #expect(first == Sweep.Outcome(ran: 4, skipped: 0, cancelled: true))

        // A new process opens the same file: the four finished runs are skipped.
        let store = try SweepStore(path: path)
        #expect(store.count == 4)
        let second = try Sweep.run(Self.runs(), store: store, body: body)
        #expect(second == Sweep.Outcome(ran: 2, skipped: 4, cancelled: false))
        #expect(executed.count == 6)
        #expect(Set(executed).count == 6)

        let table = try SweepStore(path: path).table()
        #expect(table.columns == ["method", "seed", "score", "converged"])
        #expect(table.count == 6)
        #expect(try table.column("seed").first == .int(42))
        #expect(try table.column("converged").first == .bool(true))
    }

    @Test("a run with several result rows comes back as those rows, beside one-row runs")
    func rows() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sweep-rows-\(UInt32.random(in: 0...UInt32.max)).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let many = SweepRun([("method", .text("LoRA"))]), one = SweepRun([("method", .text("IA3"))])
        let rows: [[(String, TableValue)]] = [[("metric", .text("f1")), ("score", .double(0.5))],
                                              [("metric", .text("CHAIRi")), ("score", .double(0.25))]]
        let store = try SweepStore(path: path)
        try store.record(many, rows: rows)
        try store.record(one, results: [("metric", .text("accuracy")), ("score", .double(0.75))])
        let reopened = try SweepStore(path: path)
        #expect(reopened.count == 2)
        #expect(reopened.rows(for: many)?.map { $0.map(\.1) } == rows.map { $0.map(\.1) })
        #expect(reopened.results(for: one)?.last?.1 == .double(0.75))
        let table = reopened.table()
        #expect(table.count == 3)
        #expect(try table.column("metric") == [.text("f1"), .text("CHAIRi"), .text("accuracy")])
    }

    @Test("a damaged line is an error naming the file and line")
    func damaged() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sweep-bad-\(UInt32.random(in: 0...UInt32.max)).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "{\"settings\": [], \"results\": []}\n{broken\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: TableError("\(path): line 2 is not a sweep record; remove that line (the other lines are finished runs) or the file to start over")) {
            _ = try SweepStore(path: path)
        }
    }
}
