// Requests sized before they allocate: a dataset, an attached method or a training step
// whose estimated bytes exceed what the machine can give is refused with an error naming
// the need and the limit, instead of a failed allocation that ends the process (Swift
// aborts where Python raises MemoryError) or the kernel's OOM kill.
import Foundation

/// A request too big for the machine.
public struct ResourceError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What was asked for, e.g. "dataset(size: 1000000) of 64-pixel images".
    public let request: String
    public let neededBytes: Int
    public let limitBytes: Int
    /// How to ask for less, in the user's terms.
    public let advice: String

    public var description: String {
        "\(request) needs about \(MemoryBudget.format(neededBytes)), more than the \(MemoryBudget.format(limitBytes)) "
            + "this machine can give it (PEFTLAB_MEMORY_LIMIT sets the limit); \(advice)"
    }
}

/// The memory a single request may take.
public enum MemoryBudget {
    /// `PEFTLAB_MEMORY_LIMIT` (bytes, or with a K/M/G suffix) when set, else three quarters of
    /// the memory available now (MemAvailable of /proc/meminfo, else the physical memory).
    public static var limitBytes: Int {
        if let text = ProcessInfo.processInfo.environment["PEFTLAB_MEMORY_LIMIT"], let bytes = parse(text) { return bytes }
        return availableBytes() / 4 * 3
    }

    /// Throws `ResourceError` when `bytes` exceed `limitBytes`.
    public static func require(_ bytes: Int, for request: String, advice: String) throws {
        let limit = limitBytes
        if bytes > limit {
            throw ResourceError(request: request, neededBytes: bytes, limitBytes: limit, advice: advice)
        }
    }

    /// `a · b · …` with saturation instead of overflow (estimates of absurd requests stay huge).
    public static func product(_ factors: Int...) -> Int {
        var total = 1
        for f in factors {
            let (value, overflow) = total.multipliedReportingOverflow(by: max(0, f))
            total = overflow ? Int.max : value
        }
        return total
    }

    /// `a + b + …` with saturation.
    public static func sum(_ terms: Int...) -> Int {
        terms.reduce(0) { a, b in let (v, o) = a.addingReportingOverflow(b); return o ? Int.max : v }
    }

    static func parse(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Int)] = [("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            return Double(t.dropLast()).map { Int($0 * Double(scale)) }
        }
        return Int(t)
    }

    static func availableBytes() -> Int {
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
           let kb = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) {
            return kb * 1024
        }
        return Int(clamping: ProcessInfo.processInfo.physicalMemory)
    }

    /// "1.2 GB", "340 MB".
    public static func format(_ bytes: Int) -> String {
        if bytes == Int.max { return "more than 9 EB" }
        let value = Double(bytes)
        for (unit, scale) in [("TB", 1e12), ("GB", 1e9), ("MB", 1e6)] where value >= scale {
            return "\((value / scale * 10).rounded() / 10) \(unit)"
        }
        return "\(Int((value / 1e3).rounded())) kB"
    }
}
