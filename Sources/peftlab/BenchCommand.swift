// `peftlab bench …`: PEFTLib's benchmarks beside their PyTorch peers, measured in
// the same command on the same machine.

import ArgumentParser
import Foundation
import PEFTLib

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks against the PyTorch peer (not timed tests).",
        subcommands: [OpsBench.self, DataBench.self])
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
    var peerPython: String = FileManager.default.isExecutableFile(atPath: ".venv/bin/python") ? ".venv/bin/python" : "python3"

    @Option(name: .customLong("peer-script"), help: "The peer script.")
    var peerScript = "benchmarks/ops_peer.py"

    func run() throws {
        let rows = OpsBenchmark.run(threads: threads, seconds: seconds)
        var peer: OpsPeerReport?
        if peerPython != "none" {
            let threadCount = threads ?? Threading.threads
            switch runPeer(arguments: [peerScript, "--threads", String(threadCount), "--seconds", String(seconds)]) {
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

    enum PeerResult { case success(Data), failure(String) }

    private func runPeer(arguments: [String]) -> PeerResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [peerPython] + arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch { return .failure("cannot start \(peerPython): \(error)") }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let last = errorText.split(separator: "\n").last.map(String.init) ?? "exit status \(process.terminationStatus)"
            return .failure("\(peerPython) \(arguments[0]) failed: \(last)")
        }
        return .success(data)
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
