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
///
/// PEFTLib owns GEMM threading: OpenBLAS always runs single-threaded, and a large product is
/// cut into output tiles whose boundaries depend on its shape alone, which the thread budget's
/// workers share. OpenBLAS's own threaded driver splits the work by the thread count it sees,
/// and that count is process-wide, so the last bits of a product changed with whatever else
/// ran in the process; tiles fixed by the shape give the same bits for any budget and any
/// neighbour.
@_spi(Benchmarks) public enum BLAS {
    /// C ← alpha · op(A) · op(B) + beta · C, row-major; op(X) is Xᵀ when the flag is set.
    /// Shapes: op(A) (m, k), op(B) (k, n), C (m, n); lda/ldb/ldc are row strides.
    /// Runs its tiles over the thread budget (call `sgemmSerial` from inside a parallel loop).
    /// Counted in `OpCounters` of the current task.
    @inline(__always)
    static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        sgemmTiled(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                   alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        OpCounters.countGEMM(calls: 1, flops: 2 * m * n * k)
    }

    /// How one product is cut: along C's rows or columns, at `boundaries` (first 0, last m or n).
    struct Tiling: Equatable {
        let alongRows: Bool
        let boundaries: [Int]
        var count: Int { boundaries.count - 1 }
    }

    /// Multiply-adds below which a tile is not worth a worker's hand-off.
    static let minimumTileWork = 1 << 18
    /// Rows or columns below which a tile packs its shared operand too often for its work.
    static let minimumTileSide = 64
    /// At most this many tiles: enough to balance 1, 2, 4 or 8 workers.
    static let maximumTiles = 8

    /// The tiles of an (m, n, k) product, from the shape alone: the longer output side is cut
    /// (each tile then re-packs only the smaller operand) into a power of two of equal tiles,
    /// boundaries on multiples of 16 (the kernels' unrolling).
    static func tiling(m: Int, n: Int, k: Int) -> Tiling {
        let alongRows = m >= n
        let side = alongRows ? m : n
        let work = m * n * k
        var tiles = 1
        while tiles * 2 <= maximumTiles, side / (tiles * 2) >= minimumTileSide,
              work / (tiles * 2) >= minimumTileWork {
            tiles *= 2
        }
        var boundaries = [0]
        for t in 1..<tiles {
            let cut = min(side, (side * t / tiles + 8) / 16 * 16)
            if cut > boundaries.last! { boundaries.append(cut) }
        }
        if side > boundaries.last! || boundaries.count == 1 { boundaries.append(side) }
        return Tiling(alongRows: alongRows, boundaries: boundaries)
    }

    /// `sgemm` without counting: its tiles, each one single-threaded OpenBLAS call.
    public static func sgemmTiled(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let tiling = tiling(m: m, n: n, k: k)
        if tiling.count == 1 {
            sgemmSerial(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                        a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        let shared = UncheckedSendable(value: (a, b, c))
        Threading.parallelFor(tiling.count) { range in
            let (a, b, c) = shared.value
            for tile in range {
                let start = tiling.boundaries[tile], size = tiling.boundaries[tile + 1] - start
                if tiling.alongRows {
                    // Rows start..<start+size of op(A) and of C.
                    let tileA = transposeA ? a + start : a + start * lda
                    sgemmSerial(transposeA: transposeA, transposeB: transposeB, m: size, n: n, k: k,
                                alpha: alpha, a: tileA, lda: lda, b: b, ldb: ldb, beta: beta,
                                c: c + start * ldc, ldc: ldc)
                } else {
                    // Columns start..<start+size of op(B) and of C.
                    let tileB = transposeB ? b + start * ldb : b + start
                    sgemmSerial(transposeA: transposeA, transposeB: transposeB, m: m, n: size, k: k,
                                alpha: alpha, a: a, lda: lda, b: tileB, ldb: ldb, beta: beta,
                                c: c + start, ldc: ldc)
                }
            }
        }
    }

    /// One single-threaded OpenBLAS call, not counted: for workers of a parallel loop, and
    /// for each tile of `sgemm`.
    @inline(__always)
    static func sgemmSerial(
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

    /// Makes OpenBLAS single-threaded for the process (called once, at configuration).
    static func useOneThread() {
        openblas_set_num_threads(1)
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
    public static var configuration: String {
        let config = openblas_get_config().map { String(cString: $0) } ?? "?"
        return "\(config); kernels \(coreSelection)"
    }
}
