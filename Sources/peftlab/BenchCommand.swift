// `peftlab bench …`: PEFTLib's benchmarks beside their PyTorch peers, measured in
// the same command on the same machine.

import ArgumentParser
import Foundation
import PEFTLib
import PEFTLabBenchmarks
import Runtime

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks against the PyTorch peer (not timed tests).",
        subcommands: [OpsBench.self, ModelBench.self, TrainBench.self, EvalBench.self, DataBench.self, InterpreterBench.self])
}

struct OpsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops",
        abstract: "Linear layers as a fraction of raw sgemm, and attention tokens/s, beside PyTorch.")

    @Option(help: "Threads for OpenBLAS and parallel loops (default: PEFTLAB_THREADS or all cores).")
    var threads: Int?

    @Option(help: "Seconds of timing per op.")
    var seconds: Double = 0.3

    @Option(name: .customLong("peer-python"),
            help: "The Python that runs benchmarks/ops_peer.py (needs torch); 'none' skips the peer.")
    var peerPython: String = defaultPeerPython

    @Option(name: .customLong("peer-script"), help: "The peer script.")
    var peerScript = "benchmarks/ops_peer.py"

    func run() throws {
        let rows = OpsBenchmark.run(threads: threads, seconds: seconds)
        var peer: OpsPeerReport?
        if peerPython != "none" {
            let threadCount = threads ?? Threading.threads
            switch runPeerScript(python: peerPython, arguments: [peerScript, "--threads", String(threadCount), "--seconds", String(seconds)]) {
            case .success(let data):
                do { peer = try OpsPeerReport(json: data) } catch {
                    FileHandle.standardError.write(Data("peer: unreadable output from \(peerScript): \(error)\n".utf8))
                }
            case .failure(let message):
                FileHandle.standardError.write(Data("peer: \(message); showing PEFTLab alone\n".utf8))
            }
        }
        print("PEFTLab ops benchmark — \(OpsBenchmark.environment)")
        if let peer { print("peer: \(peer.peer) \(peer.torch ?? "") with \(peer.threads.map(String.init) ?? "?") threads") }
        print(OpsBenchmark.table(rows, peer: peer))
    }

}

struct DataBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Images/s of the mini suite's generation and of PNG decoding + CLIP preprocessing.")

    @Option(help: "Image side in pixels.") var imageSize = 64
    @Option(help: "Images per measurement.") var samples = 500

    func run() throws {
        let r = benchmarkDataPipeline(imageSize: imageSize, samples: samples)
        print("PEFTLab data benchmark — \(r.samples) images of \(r.imageSize)×\(r.imageSize), one thread")
        print("| stage | images/s |")
        print("|---|---|")
        print("| scene generation (mini suite) | \(Int(r.generationImagesPerSecond)) |")
        print("| PNG decode + CLIP preprocessing | \(Int(r.decodePreprocessImagesPerSecond)) |")
        print("| CLIP preprocessing alone | \(Int(r.preprocessImagesPerSecond)) |")
    }
}

/// What a peer script printed, or why it could not run.
enum PeerResult { case success(Data), failure(String) }

/// Runs a Python peer script and returns its standard output.
func runPeerScript(python: String, arguments: [String]) -> PeerResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [python] + arguments
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    do { try process.run() } catch { return .failure("cannot start \(python): \(error)") }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        let last = errorText.split(separator: "\n").last.map(String.init) ?? "exit status \(process.terminationStatus)"
        return .failure("\(python) \(arguments[0]) failed: \(last)")
    }
    return .success(data)
}

/// The default Python for peers: the checkout's venv when there is one.
let defaultPeerPython = FileManager.default.isExecutableFile(atPath: ".venv/bin/python") ? ".venv/bin/python" : "python3"

struct ModelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "LLaVA forward+backward (whole LLM trainable) and generation tokens/s beside PyTorch + transformers.")

    @Option(help: "Threads for OpenBLAS and parallel loops.") var threads = 2
    @Option(help: "Timed steps per phase (the median is reported).") var repeats = 5
    @Option(parsing: .upToNextOption, help: "Shapes to run: tiny, small.") var models = ["tiny", "small"]
    @Option(name: .customLong("peer-python"), help: "The Python that runs benchmarks/model_peer.py; 'none' skips it.")
    var peerPython: String = defaultPeerPython

    struct PeerRow: Decodable { let model: String; let phase: String; let tokensPerSecond: Double }
    struct PeerReport: Decodable { let torch: String?; let transformers: String?; let rows: [PeerRow] }

    func run() throws {
        let rows = try ModelBenchmark.run(models: models, threads: threads, repeats: repeats)
        var peer: PeerReport?
        if peerPython != "none" {
            switch runPeerScript(python: peerPython, arguments: ["benchmarks/model_peer.py", "--threads", String(threads),
                                                                 "--repeats", String(repeats), "--models"] + models) {
            case .success(let data): peer = try? JSONDecoder().decode(PeerReport.self, from: data)
            case .failure(let message): FileHandle.standardError.write(Data("peer: \(message)\n".utf8))
            }
        }
        print("PEFTLab model benchmark — \(OpsBenchmark.environment)")
        if let peer { print("peer: torch \(peer.torch ?? "?"), transformers \(peer.transformers ?? "?")") }
        print("| model | phase | batch × tokens | PEFTLab tokens/s | PyTorch tokens/s | ratio |")
        print("|---|---|---|---|---|---|")
        for r in rows {
            let match = peer?.rows.first { $0.model == r.model && $0.phase == r.phase }
            let theirs = match.map { String(Int($0.tokensPerSecond)) } ?? "-"
            let ratio = match.map { String(format: "%.2f×", r.tokensPerSecond / $0.tokensPerSecond) } ?? "-"
            print("| \(r.model) | \(r.phase) | \(r.batch) × \(r.tokens) | \(Int(r.tokensPerSecond)) | \(theirs) | \(ratio) |")
        }
    }
}

struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Training-step tokens/s and peak memory per PEFT method beside PyTorch + transformers + peft.",
        discussion: "Each (shape, method) runs in a fresh process on both sides, so that peak memory is its own.")

    @Option(help: "Threads for OpenBLAS and parallel loops.") var threads = 2
    @Option(help: "Timed steps per row (the median is reported).") var repeats = 5
    @Option(parsing: .upToNextOption, help: "Shapes to run: tiny, small.") var models = ["tiny", "small"]
    @Option(parsing: .upToNextOption, help: "Methods: \(BenchmarkMethod.allCases.map(\.rawValue).joined(separator: ", ")).")
    var methods = BenchmarkMethod.allCases.map(\.rawValue)
    @Option(name: .customLong("peer-python"), help: "The Python that runs benchmarks/model_peer.py; 'none' skips it.")
    var peerPython: String = defaultPeerPython
    @Flag(help: .hidden) var child = false

    struct PeerRow: Decodable { let tokensPerSecond: Double; let peakResidentBytes: Int }

    func run() throws {
        let chosen = try methods.map { name -> BenchmarkMethod in
            guard let m = BenchmarkMethod(rawValue: name) else { throw ValidationError("unknown method '\(name)'") }
            return m
        }
        if child {
            let row = try ModelBenchmark.trainingStep(model: models[0], method: chosen[0], threads: threads, repeats: repeats)
            print(String(decoding: try JSONEncoder().encode(row), as: UTF8.self))
            return
        }
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        print("PEFTLab training-step benchmark — \(OpsBenchmark.environment)")
        print("| model | method | trainable | PEFTLab tokens/s | PyTorch+peft tokens/s | ratio | PEFTLab peak RSS | PyTorch peak RSS | RSS ratio |")
        print("|---|---|---|---|---|---|---|---|---|")
        for model in models {
            for method in chosen {
                let common = ["--threads", String(threads), "--repeats", String(repeats)]
                let ours: TrainingBenchmarkRow
                switch runPeerScript(python: me, arguments: ["bench", "train", "--child", "--models", model,
                                                             "--methods", method.rawValue] + common) {
                case .success(let data): ours = try JSONDecoder().decode(TrainingBenchmarkRow.self, from: data)
                case .failure(let message): throw ValidationError("PEFTLab \(model) \(method.rawValue): \(message)")
                }
                var peer: PeerRow?
                if peerPython != "none" {
                    switch runPeerScript(python: peerPython, arguments: ["benchmarks/model_peer.py", "--train-method", method.rawValue,
                                                                         "--models", model] + common) {
                    case .success(let data): peer = try? JSONDecoder().decode(PeerRow.self, from: data)
                    case .failure(let message): FileHandle.standardError.write(Data("peer: \(message)\n".utf8))
                    }
                }
                func mb(_ bytes: Int) -> String { "\(bytes / 1_048_576) MB" }
                let ratio = peer.map { String(format: "%.2f×", ours.tokensPerSecond / $0.tokensPerSecond) } ?? "-"
                let memory = peer.map { String(format: "%.2f", Double(ours.peakResidentBytes) / Double($0.peakResidentBytes)) } ?? "-"
                print("| \(model) | \(method.label) | \(ours.trainableParameters) | \(Int(ours.tokensPerSecond)) | "
                      + "\(peer.map { String(Int($0.tokensPerSecond)) } ?? "-") | \(ratio) | \(mb(ours.peakResidentBytes)) | "
                      + "\(peer.map { mb($0.peakResidentBytes) } ?? "-") | \(memory) |")
            }
        }
    }
}

struct EvalBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluation answers/s at the tiny LLaVA shape (8 new tokens, batch 8) beside transformers' generate.")

    @Option(help: "Threads for OpenBLAS and parallel loops.") var threads = 2
    @Option(help: "Timed repetitions per phase (the median is reported).") var repeats = 5
    @Option(name: .customLong("peer-python"), help: "The Python that runs benchmarks/eval_peer.py; 'none' skips it.")
    var peerPython: String = defaultPeerPython

    struct PeerRow: Decodable { let phase: String; let answersPerSecond: Double }
    struct PeerReport: Decodable { let torch: String?; let transformers: String?; let rows: [PeerRow] }

    func run() throws {
        let rows = try EvaluationBenchmark.run(threads: threads, repeats: repeats)
        var peer: PeerReport?
        if peerPython != "none", let shape = rows.first {
            switch runPeerScript(python: peerPython, arguments: [
                "benchmarks/eval_peer.py", "--threads", String(threads), "--repeats", String(repeats),
                "--batch", String(shape.batch), "--prompt-tokens", String(shape.promptTokens),
                "--new-tokens", String(shape.newTokens)]) {
            case .success(let data):
                do { peer = try JSONDecoder().decode(PeerReport.self, from: data) } catch {
                    FileHandle.standardError.write(Data("peer: unreadable output from benchmarks/eval_peer.py: \(error)\n".utf8))
                }
            case .failure(let message): FileHandle.standardError.write(Data("peer: \(message)\n".utf8))
            }
        }
        print("PEFTLab evaluation benchmark — \(OpsBenchmark.environment)")
        if let peer { print("peer: torch \(peer.torch ?? "?"), transformers \(peer.transformers ?? "?") (generate on prepared tensors)") }
        print("| tiny LLaVA | batch × (prompt + new tokens) | PEFTLab answers/s | PyTorch answers/s | ratio |")
        print("|---|---|---|---|---|")
        for r in rows {
            let match = peer?.rows.first { $0.phase == "generate" }
            let theirs = match.map { String(format: "%.1f", $0.answersPerSecond) } ?? "-"
            let ratio = match.map { String(format: "%.2f×", r.answersPerSecond / $0.answersPerSecond) } ?? "-"
            let what = r.phase == "evaluate" ? "evaluate (tokenise, preprocess, generate, decode, score)" : "generate"
            print("| \(what) | \(r.batch) × (\(r.promptTokens) + \(r.newTokens)) | \(String(format: "%.1f", r.answersPerSecond)) | \(theirs) | \(ratio) |")
        }
    }
}

struct InterpreterBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "interpreter",
        abstract: "A 100,000-iteration arithmetic loop in the language beside the same loop in CPython.",
        discussion: "The language runs `var s = 0; for i in 0..<n { s = s + i * 2 % 7 }` as one cell (parse included); "
            + "CPython runs `for i in range(n): s = s + i * 2 % 7` at module level, as ipykernel runs a cell.")

    @Option(help: "Loop iterations.") var iterations = 100_000
    @Option(help: "Timed runs (the median is reported).") var repeats = 5
    @Option(name: .customLong("peer-python"), help: "The Python that runs benchmarks/interpreter_peer.py; 'none' skips it.")
    var peerPython: String = defaultPeerPython

    struct PeerReport: Decodable { let python: String; let seconds: Double; let value: Int }

    func run() throws {
        let ours = try InterpreterBenchmark.run(iterations: iterations, repeats: repeats)
        guard ours.value == InterpreterBenchmark.expected(iterations: iterations) else {
            throw ValidationError("the loop computed \(ours.value), not \(InterpreterBenchmark.expected(iterations: iterations))")
        }
        var peer: PeerReport?
        if peerPython != "none" {
            switch runPeerScript(python: peerPython, arguments: ["benchmarks/interpreter_peer.py", "--iterations", String(iterations),
                                                                 "--repeats", String(repeats)]) {
            case .success(let data):
                do { peer = try JSONDecoder().decode(PeerReport.self, from: data) } catch {
                    FileHandle.standardError.write(Data("peer: unreadable output from benchmarks/interpreter_peer.py: \(error)\n".utf8))
                }
            case .failure(let message): FileHandle.standardError.write(Data("peer: \(message)\n".utf8))
            }
        }
        if let peer, peer.value != ours.value {
            throw ValidationError("CPython computed \(peer.value), the language \(ours.value)")
        }
        func ms(_ s: Double) -> String { String(format: "%.1f ms", s * 1000) }
        print("PEFTLab interpreter benchmark — \(iterations) iterations of s = s + i * 2 % 7, median of \(repeats)")
        print("| loop | PEFTLab | ns/iteration | CPython\(peer.map { " \($0.python)" } ?? "") | PEFTLab / CPython time |")
        print("|---|---|---|---|---|")
        print("| for i in 0..<\(iterations) { s = s + i * 2 % 7 } | \(ms(ours.seconds)) | "
              + String(format: "%.0f", ours.nanosecondsPerIteration) + " | \(peer.map { ms($0.seconds) } ?? "-") | "
              + "\(peer.map { String(format: "%.2f×", ours.seconds / $0.seconds) } ?? "-") |")
    }
}
