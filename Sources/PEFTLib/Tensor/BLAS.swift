// The one file in PEFTLib that imports COpenBLAS: single-precision GEMM, the
// OpenBLAS thread count, and the choice of OpenBLAS kernels, wrapped so the rest
// of the library never sees C types.
//
// Kernel choice: a DYNAMIC_ARCH OpenBLAS older than the CPU (Debian's 0.3.21 on an
// Emerald Rapids Xeon, say) falls back to its generic Prescott kernels, 3–4× slower.
// When that happens and OPENBLAS_CORETYPE is unset, we re-run OpenBLAS's own core
// selection once with the best core the CPU flags support (PEFTLAB_BLAS_CORE=keep
// disables this; PEFTLAB_BLAS_CORE=<name> forces a core).
import COpenBLAS
import Foundation

/// Thin wrapper over OpenBLAS: row-major `sgemm` with transposes as flags, plus thread control.
enum BLAS {
    /// C ← alpha · op(A) · op(B) + beta · C, row-major; op(X) is Xᵀ when the flag is set.
    /// Shapes: op(A) (m, k), op(B) (k, n), C (m, n); lda/ldb/ldc are row strides.
    /// Counted in `OpCounters` of the current task (see `countGEMM` for parallel regions).
    @inline(__always)
    static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        sgemmUncounted(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                       alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        OpCounters.countGEMM(calls: 1, flops: 2 * m * n * k)
    }

    /// Same as `sgemm` without touching counters, for use on worker threads of a parallel loop.
    @inline(__always)
    static func sgemmUncounted(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS leaves C·beta; make the empty product explicit for beta 0.
            if beta == 0 {
                for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
            }
            return
        }
        Threading.ensureConfigured()
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Sets the number of threads OpenBLAS uses for one GEMM.
    static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// Core name of the OpenBLAS kernels in use (e.g. "Cooperlake").
    static var coreName: String {
        openblas_get_corename().map { String(cString: $0) } ?? "?"
    }

    /// What kernel selection did, for reports; evaluating it runs the selection once.
    static let coreSelection: String = selectCore()

    /// Kernel families in increasing capability, with the CPU flags each needs.
    private static let coreLadder: [(name: String, flags: [String])] = [
        ("Prescott", []), ("Core2", ["ssse3"]), ("Nehalem", ["sse4_2"]), ("Sandybridge", ["avx"]),
        ("Haswell", ["avx2", "fma"]), ("SkylakeX", ["avx512f", "avx512bw", "avx512vl", "avx512dq"]),
        ("Cooperlake", ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_bf16"]),
    ]

    /// Re-selects OpenBLAS kernels when its detection fell back below what the CPU supports.
    /// Runs once, before the first GEMM (through `coreSelection`, from `Threading.ensureConfigured`).
    private static func selectCore() -> String {
        let environment = ProcessInfo.processInfo.environment
        let loaded = coreName
        let request = environment["PEFTLAB_BLAS_CORE"] ?? "auto"
        if request == "keep" || environment["OPENBLAS_CORETYPE"] != nil {
            return "\(loaded) (as loaded)"
        }
        var wanted = request
        if request == "auto" {
            let flags = cpuFlags()
            guard !flags.isEmpty,
                  let best = coreLadder.last(where: { $0.flags.allSatisfy(flags.contains) }),
                  let bestRank = coreLadder.firstIndex(where: { $0.name == best.name }),
                  let loadedRank = coreLadder.firstIndex(where: { $0.name.lowercased() == loaded.lowercased() }),
                  loadedRank < bestRank else {
                return "\(loaded) (detected)"
            }
            wanted = best.name
        }
        // OpenBLAS's own entry points: forget the core, then select again from OPENBLAS_CORETYPE.
        let handle = UnsafeMutableRawPointer(bitPattern: 0) // RTLD_DEFAULT
        guard let quit = dlsym(handle, "gotoblas_dynamic_quit"),
              let initialize = dlsym(handle, "gotoblas_dynamic_init") else {
            return "\(loaded) (not a DYNAMIC_ARCH build)"
        }
        typealias Entry = @convention(c) () -> Void
        setenv("OPENBLAS_CORETYPE", wanted, 1)
        unsafeBitCast(quit, to: Entry.self)()
        unsafeBitCast(initialize, to: Entry.self)()
        unsetenv("OPENBLAS_CORETYPE")
        return "\(coreName) (OpenBLAS detected \(loaded); CPU flags allow \(wanted))"
    }

    /// The CPU feature flags of the first processor in /proc/cpuinfo (empty elsewhere).
    private static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }

    /// The number of threads OpenBLAS currently uses.
    static var threads: Int { Int(openblas_get_num_threads()) }

    /// OpenBLAS build description (core name and configuration), for benchmark reports.
    static var configuration: String {
        let config = openblas_get_config().map { String(cString: $0) } ?? "?"
        return "\(config); kernels \(coreSelection)"
    }
}
