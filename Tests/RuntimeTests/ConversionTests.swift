// Double(_:), Int(_:) and String(_:): conversions a user expects from Swift.

import Runtime
import Testing

@Suite("Conversions")
struct ConversionTests {
    @Test("conversions between numbers and text", arguments: [
        ("Double(3)", "3.0"),
        ("Double(\"2e-4\")", "0.0002"),
        ("Double(\" 1.5 \")", "1.5"),
        ("Int(2.9)", "2"),
        ("Int(-2.9)", "-2"),
        ("Int(\"42\")", "42"),
        ("String(7)", "\"7\""),
        ("String([1, 2])", "\"[1, 2]\""),
        ("Double(65536) / Double(4096 * 4096) * 100.0", "0.390625"),
    ])
    func conversions(code: String, expected: String) {
        #expect(Cells().value(code) == expected)
    }

    @Test("impossible conversions are errors that say why", arguments: [
        ("Int(1e300)", "ValueError: Int(1e+300): out of the range of Int"),
        ("Int(\"4.5\")", "ValueError: Int(\"4.5\"): not an integer"),
        ("Double(\"abc\")", "ValueError: Double(\"abc\"): not a number"),
        ("Double(true)", "TypeError: Double(): argument 1 expects an Int, Double or String, got Bool true"),
    ])
    func failures(code: String, expected: String) {
        #expect(Cells().error(code).summary == expected)
    }
}
