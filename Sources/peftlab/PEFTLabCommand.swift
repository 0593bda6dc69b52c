// The `peftlab` command: run the Jupyter kernel, install its kernelspec, run a
// script outside Jupyter.

import ArgumentParser
import Foundation
import Kernel
import PEFTLabJSON
import Runtime

@main
struct PEFTLabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peftlab",
        abstract: "PEFTLab: a Jupyter kernel for parameter-efficient fine-tuning experiments.",
        version: PEFTLabVersion.current,
        subcommands: [KernelCommand.self, InstallCommand.self, RunCommand.self, BenchCommand.self, RecipeCommand.self]
    )
}

struct KernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kernel", abstract: "Run the Jupyter kernel (started by Jupyter).")

    @Option(name: [.customShort("f"), .customLong("connection-file")], help: "The connection file written by the Jupyter client.")
    var connectionFile: String

    @Option(name: .customLong("log-level"), help: "debug, info, warning, error or off.")
    var logLevel: String = ProcessInfo.processInfo.environment["PEFTLAB_LOG"] ?? "warning"

    func run() throws {
        guard let level = Logger.Level(name: logLevel) else {
            throw ValidationError("unknown log level \"\(logLevel)\"; use debug, info, warning, error or off")
        }
        let log = Logger(level: level)
        let connection = try ConnectionInfo.load(path: connectionFile)
        let server = try KernelServer(connection: connection, interpreter: RuntimeInterpreter(), log: log)
        _ = server.run()
        log.info("kernel stopped")
    }
}

struct InstallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "install", abstract: "Register the kernel with Jupyter (writes kernel.json and logos).")

    @Flag(help: "Install for the current user (the default).") var user = false
    @Option(help: "Install under this prefix (e.g. a virtual environment: sys.prefix).") var prefix: String?
    @Option(help: "The kernelspec's folder name.") var name = "peftlab"
    @Option(name: .customLong("display-name"), help: "The name Jupyter shows.") var displayName = "PEFTLab"

    func run() throws {
        if user && prefix != nil { throw ValidationError("choose either --user or --prefix, not both") }
        let environment = ProcessInfo.processInfo.environment
        let base: String
        if let prefix {
            base = prefix + "/share/jupyter/kernels"
        } else if let dataDir = environment["JUPYTER_DATA_DIR"] {
            base = dataDir + "/kernels"
        } else {
            let home = environment["HOME"] ?? NSHomeDirectory()
            base = home + "/.local/share/jupyter/kernels"
        }
        let folder = base + "/" + name
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let executable = Self.executablePath()
        let spec: JSON = [
            "argv": [.string(executable), "kernel", "-f", "{connection_file}"],
            "display_name": .string(displayName),
            "language": "peftlab",
            "interrupt_mode": "signal",
            "metadata": ["debugger": false],
        ]
        try Data(spec.prettySerialized().utf8).write(to: URL(fileURLWithPath: folder + "/kernel.json"))
        for (size, base64) in [(32, Logos.png32), (64, Logos.png64)] {
            guard let data = Data(base64Encoded: base64) else { continue }
            try data.write(to: URL(fileURLWithPath: folder + "/logo-\(size)x\(size).png"))
        }
        print("Installed kernelspec \(name) in \(folder)")
    }

    static func executablePath() -> String {
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return resolved }
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    }
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run a .peft script outside Jupyter and print its results.",
        discussion: """
            Lines starting with `// %%` split the script into cells, as in a notebook (the percent format \
            of Jupytext and VS Code): each cell's last expression is printed as a notebook shows its result. \
            The first failing cell stops the script.
            """)

    @Argument(help: "The script to run.") var script: String

    @Option(help: "Also write every rich output (tables, plots, images) to one self-contained HTML page.")
    var report: String?

    func run() throws {
        guard let data = FileManager.default.contents(atPath: script) else {
            throw ValidationError("cannot read \(script)")
        }
        let session = Session()
        let page = report.map { _ in HTMLReport(title: URL(fileURLWithPath: script).lastPathComponent) }
        let terminal = TerminalOutput(report: page)
        var failure: CellError?
        for code in Self.cells(String(decoding: data, as: UTF8.self)) {
            let result = session.execute(code, output: terminal)
            terminal.closeLiveLine()
            for payload in result.payloads {
                if let text = payload.bundle.data["text/plain"]?.stringValue { terminal.write(text + "\n", to: .stdout) }
            }
            if let text = result.value?.data["text/plain"]?.stringValue { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
            page?.add(result: result)
            if let error = result.error { failure = error; break }
        }
        if let page, let report { try page.write(to: report) }
        if let error = failure {
            let where_ = error.location.map { "\(script):\($0.line):\($0.column): " } ?? "\(script): "
            FileHandle.standardError.write(Data("\(where_)\(error.name): \(error.message)\n".utf8))
            for line in error.traceback.dropFirst() { FileHandle.standardError.write(Data((line + "\n").utf8)) }
            throw ExitCode(1)
        }
    }

    /// The script's cells, split at `// %%` lines; each keeps its place in the file (blank lines
    /// stand in for the lines before it), so that errors name the script's own line numbers.
    /// Cells with nothing but comments and blank lines are left out.
    static func cells(_ text: String) -> [String] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var cells: [String] = [], start = 0
        func close(_ end: Int) {
            let body = lines[start..<end]
            let hasCode = body.contains { line in
                let t = line.trimmingCharacters(in: .whitespaces)
                return !t.isEmpty && !t.hasPrefix("//")
            }
            if hasCode { cells.append(String(repeating: "\n", count: start) + body.joined(separator: "\n")) }
        }
        for (i, line) in lines.enumerated() where line.hasPrefix("// %%") {
            close(i)
            start = i + 1
        }
        close(lines.count)
        return cells
    }
}

/// Prints a script's output as plain text. A live display (one with an id) rewrites
/// its own line in place, so a training run shows one moving progress line.
final class TerminalOutput: OutputSink, @unchecked Sendable {
    /// Where rich outputs also go, when a report was asked for.
    let report: HTMLReport?
    private var liveLineOpen = false
    private let lock = NSLock()

    init(report: HTMLReport?) { self.report = report }

    func write(_ text: String, to stream: OutputStreamName) {
        lock.withLock {
            closeLiveLine()
            let handle = stream == .stdout ? FileHandle.standardOutput : FileHandle.standardError
            handle.write(Data(text.utf8))
        }
        report?.write(text, to: stream)
    }

    func display(_ bundle: MIMEBundle, id: String?, update: Bool) {
        if let text = bundle.data["text/plain"]?.stringValue {
            lock.withLock {
                if id != nil {
                    FileHandle.standardOutput.write(Data(("\r\u{1B}[2K" + text).utf8))
                    liveLineOpen = true
                } else {
                    closeLiveLine()
                    FileHandle.standardOutput.write(Data((text + "\n").utf8))
                }
            }
        }
        report?.display(bundle, id: id, update: update)
    }

    func clearOutput(wait: Bool) {}

    /// Ends a live display's line before other output.
    func closeLiveLine() {
        if liveLineOpen { FileHandle.standardOutput.write(Data("\n".utf8)); liveLineOpen = false }
    }
}
