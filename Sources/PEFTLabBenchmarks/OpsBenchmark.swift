// `peftlab bench ops`: forward+backward of the linear layers of DESIGN.md §5's tiny and
// small models as a fraction of the same GEMMs called bare (the same tiled sgemm on
// preallocated buffers) in the same process, and attention forward+backward in tokens/s. benchmarks/ops_peer.py times the same
// ops in PyTorch for the side-by-side table.
@_spi(Benchmarks) import PEFTLib
import Dispatch
import Foundation

/// One measured op of the ops benchmark.
public struct OpsBenchmarkRow: Sendable, Codable, Equatable {
    /// "tiny" or "small" (DESIGN.md §5).
    public let model: String
    /// What was timed, e.g. "linear gate_proj trainable" or "attention".
    public let op: String
    /// Shapes in words, e.g. "(316, 576) → 1536".
    public let shape: String
    /// Median seconds for one forward+backward.
    public let seconds: Double
    /// GEMM throughput of the op, GFLOP/s (nil when not GEMM-bound).
    public let gflops: Double?
    /// Median seconds of the same GEMMs called bare on preallocated buffers (nil for attention).
    public let rawSeconds: Double?
    /// rawSeconds / seconds: 1.0 means no overhead over raw sgemm.
    public let fractionOfRaw: Double?
    /// Tokens per second of forward+backward (attention rows).
    public let tokensPerSecond: Double?
}

/// One row of the PyTorch peer's JSON (benchmarks/ops_peer.py), joined on (model, op).
public struct OpsPeerRow: Sendable, Codable, Equatable {
    public let model: String
    public let op: String
    public let shape: String
    public let seconds: Double
    public let gflops: Double?
    public let tokensPerSecond: Double?
}

/// The JSON object benchmarks/ops_peer.py prints.
public struct OpsPeerReport: Sendable, Codable, Equatable {
    /// "pytorch".
    public let peer: String
    /// torch.__version__.
    public let torch: String?
    /// torch.get_num_threads() during the run.
    public let threads: Int?
    public let rows: [OpsPeerRow]

    /// Decodes the script's standard output; throws on malformed JSON.
    public init(json: Data) throws {
        self = try JSONDecoder().decode(OpsPeerReport.self, from: json)
    }
}

/// The ops benchmark of issue 3 (not a timed test: run it with `peftlab bench ops`).
public enum OpsBenchmark {
    /// Linear-layer shapes of one model of DESIGN.md §5.
    struct ModelShape {
        let name: String, tokens: Int, hidden: Int, mlp: Int, heads: Int, kvHeads: Int, batch: Int, seqLen: Int
        var headDim: Int { hidden / heads }
        /// (module, in, out)
        var linears: [(String, Int, Int)] {
            [("q_proj", hidden, hidden), ("k_proj", hidden, kvHeads * headDim), ("v_proj", hidden, kvHeads * headDim),
             ("o_proj", hidden, hidden), ("gate_proj", hidden, mlp), ("up_proj", hidden, mlp), ("down_proj", mlp, hidden)]
        }
    }

    static let shapes = [
        ModelShape(name: "tiny", tokens: 8 * 48, hidden: 256, mlp: 688, heads: 4, kvHeads: 4, batch: 8, seqLen: 48),
        ModelShape(name: "small", tokens: 4 * 79, hidden: 576, mlp: 1536, heads: 9, kvHeads: 3, batch: 4, seqLen: 79),
    ]

    /// Runs the benchmark and returns one row per op, plus a per-model "all linear" total.
    /// - Parameters:
    ///   - threads: thread budget for the run (default: the current policy); restored afterwards
    ///   - seconds: approximate time spent measuring each row
    public static func run(threads: Int? = nil, seconds: Double = 0.3) -> [OpsBenchmarkRow] {
        let previous = Threading.threads
        if let threads { Threading.setThreads(threads) }
        defer { Threading.setThreads(previous) }
        var rows: [OpsBenchmarkRow] = []
        for model in shapes {
            var total = (op: 0.0, raw: 0.0, flops: 0.0)
            for frozen in [false, true] {
                for (module, inFeatures, outFeatures) in model.linears {
                    let row = linearRow(model: model.name, module: module, tokens: model.tokens,
                                        inFeatures: inFeatures, outFeatures: outFeatures,
                                        frozen: frozen, seconds: seconds)
                    rows.append(row)
                    if !frozen {
                        total.op += row.seconds
                        total.raw += row.rawSeconds ?? 0
                        total.flops += Double(6 * model.tokens * inFeatures * outFeatures)
                    }
                }
            }
            rows.append(OpsBenchmarkRow(model: model.name, op: "linear all 7 trainable", shape: "one block",
                                        seconds: total.op, gflops: total.flops / total.op / 1e9,
                                        rawSeconds: total.raw, fractionOfRaw: total.raw / total.op,
                                        tokensPerSecond: Double(model.tokens) / total.op))
            rows.append(attentionRow(model, seconds: seconds))
        }
        return rows
    }

    /// A plain-text table of the rows, with the peer's time and our speed-up beside each
    /// row when a peer report (from benchmarks/ops_peer.py) is given.
    public static func table(_ rows: [OpsBenchmarkRow], peer: OpsPeerReport? = nil) -> String {
        func format(_ value: Double?, _ digits: Int) -> String {
            guard let value, value.isFinite else { return "-" }
            let scale = (0..<digits).reduce(1.0) { r, _ in r * 10 }
            return String((value * scale).rounded() / scale)
        }
        var header = "model | op | shape | ms | GFLOP/s | raw sgemm ms | fraction of raw | tokens/s"
        if let peer { header += " | \(peer.peer) ms | \(peer.peer) tokens/s | speed-up" }
        var lines = [header]
        for r in rows {
            var line = "\(r.model) | \(r.op) | \(r.shape) | \(format(r.seconds * 1e3, 3)) | \(format(r.gflops, 1)) | "
                + "\(format(r.rawSeconds.map { $0 * 1e3 }, 3)) | \(format(r.fractionOfRaw, 3)) | \(format(r.tokensPerSecond, 0))"
            if let peer {
                let match = peer.rows.first { $0.model == r.model && $0.op == r.op }
                line += " | \(format(match.map { $0.seconds * 1e3 }, 3)) | \(format(match?.tokensPerSecond, 0))"
                    + " | \(format(match.map { $0.seconds / r.seconds }, 2))"
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// Description of the BLAS library and thread budget, for the report header.
    public static var environment: String {
        "OpenBLAS \(BLAS.configuration); threads \(Threading.threads)"
    }

    // MARK: - Rows

    static func linearRow(model: String, module: String, tokens m: Int, inFeatures k: Int, outFeatures n: Int,
                          frozen: Bool, seconds: Double) -> OpsBenchmarkRow {
        var rng = RandomGenerator(seed: 1)
        let x = try! Tensor.normal([m, k], generator: &rng, requiresGrad: true)
        let w = try! Tensor.kaimingUniform([n, k], generator: &rng, requiresGrad: !frozen)
        let seed = try! Tensor.normal([m, n], generator: &rng)
        let opTime = median(seconds: seconds) {
            x.grad = nil; w.grad = nil
            let y = try! linear(x, weight: w)
            try! y.backward(gradient: seed)
        }
        // The same GEMMs bare, on preallocated buffers.
        let y = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        let dx = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
        let dw = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
        defer { y.deallocate(); dx.deallocate(); dw.deallocate() }
        let rawTime = median(seconds: seconds) {
            BLAS.sgemmTiled(transposeA: false, transposeB: true, m: m, n: n, k: k,
                                a: x.pointer, lda: k, b: w.pointer, ldb: k, beta: 0, c: y, ldc: n)
            BLAS.sgemmTiled(transposeA: false, transposeB: false, m: m, n: k, k: n,
                                a: seed.pointer, lda: n, b: w.pointer, ldb: k, beta: 0, c: dx, ldc: k)
            if !frozen {
                BLAS.sgemmTiled(transposeA: true, transposeB: false, m: n, n: k, k: m,
                                    a: seed.pointer, lda: n, b: x.pointer, ldb: k, beta: 0, c: dw, ldc: k)
            }
        }
        let flops = Double((frozen ? 4 : 6) * m * n * k)
        return OpsBenchmarkRow(model: model, op: "linear \(module) \(frozen ? "frozen" : "trainable")",
                               shape: "(\(m), \(k)) → \(n)", seconds: opTime, gflops: flops / opTime / 1e9,
                               rawSeconds: rawTime, fractionOfRaw: rawTime / opTime,
                               tokensPerSecond: Double(m) / opTime)
    }

    static func attentionRow(_ model: ModelShape, seconds: Double) -> OpsBenchmarkRow {
        var rng = RandomGenerator(seed: 2)
        let (b, t, d) = (model.batch, model.seqLen, model.headDim)
        let q = try! Tensor.normal([b, t, model.heads * d], generator: &rng, requiresGrad: true)
        let k = try! Tensor.normal([b, t, model.kvHeads * d], generator: &rng, requiresGrad: true)
        let v = try! Tensor.normal([b, t, model.kvHeads * d], generator: &rng, requiresGrad: true)
        let seed = try! Tensor.normal([b, t, model.heads * d], generator: &rng)
        let time = median(seconds: seconds) {
            q.grad = nil; k.grad = nil; v.grad = nil
            let y = try! attention(query: q, key: k, value: v, heads: model.heads, kvHeads: model.kvHeads)
            try! y.backward(gradient: seed)
        }
        // Full T×T products (forward 2 GEMMs, backward 4), although the causal kernel skips part.
        let flops = Double(4 * b * model.heads * t * t * d) * 3
        return OpsBenchmarkRow(model: model.name, op: "attention causal fwd+bwd",
                               shape: "B\(b) T\(t) heads \(model.heads)/\(model.kvHeads) D\(d)",
                               seconds: time, gflops: flops / time / 1e9, rawSeconds: nil, fractionOfRaw: nil,
                               tokensPerSecond: Double(b * t) / time)
    }

    /// Median wall time of `body` over repeated runs filling about `seconds` (after warm-up).
    static func median(seconds: Double, _ body: () -> Void) -> Double {
        for _ in 0..<3 { body() }
        var samples: [Double] = []
        let start = DispatchTime.now().uptimeNanoseconds
        while samples.count < 5 || (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < seconds
                                    && samples.count < 10_000) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        samples.sort()
        return samples[samples.count / 2]
    }
}
