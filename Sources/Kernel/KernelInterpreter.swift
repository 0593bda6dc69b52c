// The interface between the kernel and whatever language it runs. The kernel
// drives an interpreter through it and knows nothing else of it, as xeus keeps
// its interpreter apart from its kernel core.

import PEFTLabJSON

/// Data in several MIME types plus their metadata, as display_data and execute_result carry it.
public struct DisplayData: Sendable, Equatable {
    public var data: JSONObject
    public var metadata: JSONObject
    public init(data: JSONObject, metadata: JSONObject = [:]) {
        self.data = data; self.metadata = metadata
    }
    /// Plain text only.
    public static func text(_ text: String) -> DisplayData { DisplayData(data: ["text/plain": .string(text)]) }
}

/// Where an interpreter sends what a cell produces while it runs. Thread-safe.
public protocol ExecutionOutput: Sendable {
    /// Text on stdout or stderr.
    func stream(_ name: StreamName, _ text: String)
    /// A display; with `update` it replaces the earlier display of the same `displayID`.
    func display(_ value: DisplayData, displayID: String?, update: Bool)
    /// Clears the cell's output; with `wait` only once new output arrives.
    func clearOutput(wait: Bool)
}

public enum StreamName: String, Sendable { case stdout, stderr }

/// A failed cell: what the client shows as the error.
public struct ExecutionFailure: Error, Sendable, Equatable {
    public var name: String
    public var value: String
    public var traceback: [String]
    public init(name: String, value: String, traceback: [String]) {
        self.name = name; self.value = value; self.traceback = traceback
    }
}

/// What a cell ended with: its result (if any) and payloads (e.g. a page), or a failure.
public enum ExecutionOutcome: Sendable, Equatable {
    case success(result: DisplayData?, payload: [JSON])
    case failure(ExecutionFailure)
}

/// Completion candidates for the text between `cursorStart` and `cursorEnd` (code-point offsets).
public struct Completion: Sendable, Equatable {
    public var matches: [String]
    public var cursorStart: Int
    public var cursorEnd: Int
    public var metadata: JSONObject
    public init(matches: [String], cursorStart: Int, cursorEnd: Int, metadata: JSONObject = [:]) {
        self.matches = matches; self.cursorStart = cursorStart; self.cursorEnd = cursorEnd; self.metadata = metadata
    }
}

/// Whether a cell is ready to run (for consoles deciding between Enter and a new line).
public enum CodeCompleteness: Sendable, Equatable {
    case complete
    case incomplete(indent: String)
    case invalid
    case unknown
}

/// The language facts a client shows and highlights with.
public struct LanguageInfo: Sendable {
    public var name: String
    public var version: String
    public var mimetype: String
    public var fileExtension: String
    public var pygmentsLexer: String
    public var codemirrorMode: String
    public init(name: String, version: String, mimetype: String, fileExtension: String,
                pygmentsLexer: String, codemirrorMode: String) {
        self.name = name; self.version = version; self.mimetype = mimetype
        self.fileExtension = fileExtension; self.pygmentsLexer = pygmentsLexer; self.codemirrorMode = codemirrorMode
    }
}

/// A language the kernel can run. `interrupt()` is called from another thread while
/// `execute` runs; everything else is called on the shell thread, one call at a time.
public protocol KernelInterpreter: AnyObject, Sendable {
    var implementation: String { get }
    var implementationVersion: String { get }
    var languageInfo: LanguageInfo { get }
    var banner: String { get }
    var helpLinks: [(text: String, url: String)] { get }

    func execute(code: String, executionCount: Int, output: any ExecutionOutput) -> ExecutionOutcome
    func complete(code: String, cursor: Int) -> Completion
    /// Documentation of the name at the cursor, or nil when there is none.
    func inspect(code: String, cursor: Int, detailLevel: Int) -> DisplayData?
    func isComplete(code: String) -> CodeCompleteness
    /// Asks a running `execute` to stop at its next safe point.
    func interrupt()
}
