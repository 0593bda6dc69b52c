// Plugs the language Runtime into the Jupyter Kernel: the one place that knows both.

import Kernel
import PEFTLabJSON
import Runtime

/// The PEFTLab language as a Jupyter kernel interpreter.
final class RuntimeInterpreter: KernelInterpreter {
    let session = Session()

    let implementation = "peftlab"
    let implementationVersion = PEFTLabVersion.current
    let languageInfo = LanguageInfo(name: "peftlab", version: PEFTLabVersion.current, mimetype: "text/x-peftlab",
                                    fileExtension: ".peft", pygmentsLexer: "swift", codemirrorMode: "swift")
    let banner = """
        PEFTLab \(PEFTLabVersion.current): parameter-efficient fine-tuning, interactively.
        Type help() for the built-ins.
        """
    let helpLinks: [(text: String, url: String)] = []

    func execute(code: String, executionCount: Int, output: any ExecutionOutput) -> ExecutionOutcome {
        let result = session.execute(code, output: OutputBridge(output: output))
        if let error = result.error {
            return .failure(ExecutionFailure(name: error.name, value: error.message, traceback: error.traceback))
        }
        let payload: [JSON] = result.payloads.map { item in
            ["source": .string(item.source), "data": .object(item.bundle.data), "start": 0]
        }
        return .success(result: result.value.map { DisplayData(data: $0.data, metadata: $0.metadata) }, payload: payload)
    }

    func complete(code: String, cursor: Int) -> Completion {
        let c = session.complete(code, cursor: cursor)
        return Completion(matches: c.matches, cursorStart: c.start, cursorEnd: c.end)
    }

    func inspect(code: String, cursor: Int, detailLevel: Int) -> DisplayData? {
        session.inspect(code, cursor: cursor).map { DisplayData(data: $0.data, metadata: $0.metadata) }
    }

    func isComplete(code: String) -> CodeCompleteness {
        switch session.isComplete(code) {
        case .complete: return .complete
        case .incomplete(let indent): return .incomplete(indent: indent)
        case .invalid: return .invalid
        }
    }

    func interrupt() { session.interrupt() }
}

/// Runtime output → kernel output.
struct OutputBridge: OutputSink {
    let output: any ExecutionOutput

    func write(_ text: String, to stream: OutputStreamName) {
        output.stream(stream == .stdout ? .stdout : .stderr, text)
    }
    func display(_ bundle: MIMEBundle, id: String?, update: Bool) {
        output.display(DisplayData(data: bundle.data, metadata: bundle.metadata), displayID: id, update: update)
    }
    func clearOutput(wait: Bool) { output.clearOutput(wait: wait) }
}

enum PEFTLabVersion {
    static let current = "0.1.0"
}
