// Raw Float32 storage behind tensors, and the accounting of live storage bytes
// (process-wide and per scope) that leak tests read.
import Foundation
import Synchronization

/// Live tensor-storage bytes: a process-wide counter plus optional per-task scopes.
public enum TensorMemory {
    private static let processBytes = Atomic<Int>(0)
    private static let processPeak = Atomic<Int>(0)

    /// The scope storages allocated by the current task are charged to (see `measure`).
    @TaskLocal static var scope: TensorMemoryScope?

    /// Bytes held by all live tensor storages in this process.
    public static var liveBytes: Int { processBytes.load(ordering: .relaxed) }
    /// The largest `liveBytes` reached in this process (since `resetPeak`).
    public static var peakBytes: Int { processPeak.load(ordering: .relaxed) }
    /// Starts peak tracking again from the current live bytes.
    public static func resetPeak() { processPeak.store(liveBytes, ordering: .relaxed) }

    /// Runs `body` with a fresh scope that counts only storages allocated by this task
    /// (immune to tests running in parallel), and returns it with the result.
    public static func measure<R>(_ body: (TensorMemoryScope) throws -> R) rethrows -> R {
        let scope = TensorMemoryScope()
        return try $scope.withValue(scope) { try body(scope) }
    }

    /// Tells glibc's malloc to keep freed tensor buffers for reuse instead of handing them back
    /// to the kernel after every step (buffers up to 32 MB come from the heap, and the heap is
    /// trimmed only past 1 GB free): a training step then allocates its activations without
    /// page faults. `returnFreeMemory()` gives the memory back when a run is over.
    static func configureAllocator() {
        if ProcessInfo.processInfo.environment["PEFTLAB_MALLOC"] == "default" { return }
        // glibc's <malloc.h> is not in the Glibc module: look the calls up (absent elsewhere).
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
        let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
        let trimThreshold: Int32 = -1, topPad: Int32 = -2, mmapThreshold: Int32 = -3   // M_* in malloc.h
        _ = mallopt(mmapThreshold, 32 << 20)
        _ = mallopt(trimThreshold, 1 << 30)
        _ = mallopt(topPad, 64 << 20)
    }

    /// Returns freed heap memory to the operating system (after training or evaluation).
    public static func returnFreeMemory() {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
        typealias MallocTrim = @convention(c) (Int) -> Int32
        _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
    }

    static func charge(_ bytes: Int, to scope: TensorMemoryScope?) {
        let now = processBytes.add(bytes, ordering: .relaxed).newValue
        if bytes > 0 { processPeak.max(now, ordering: .relaxed) }
        scope?.add(bytes)
    }
}

/// Live bytes of the storages allocated inside one `TensorMemory.measure` call.
public final class TensorMemoryScope: Sendable {
    private let bytes = Atomic<Int>(0)
    private let peak = Atomic<Int>(0)

    /// Bytes allocated inside the scope and not yet freed.
    public var liveBytes: Int { bytes.load(ordering: .relaxed) }
    /// Largest value `liveBytes` reached.
    public var peakBytes: Int { peak.load(ordering: .relaxed) }

    func add(_ delta: Int) {
        let now = bytes.add(delta, ordering: .relaxed).newValue
        if delta > 0 { peak.max(now, ordering: .relaxed) }
    }
}

/// A contiguous, 64-byte aligned Float32 buffer owned by tensors (shared by views).
final class TensorStorage: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    let count: Int
    private let scope: TensorMemoryScope?

    /// Allocates `count` floats; zero-filled when `zeroed`, else uninitialised.
    init(count: Int, zeroed: Bool) {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        if zeroed { base.update(repeating: 0, count: count) }
        self.count = count
        scope = TensorMemory.scope
        TensorMemory.charge(count * MemoryLayout<Float>.stride, to: scope)
    }

    deinit {
        TensorMemory.charge(-count * MemoryLayout<Float>.stride, to: scope)
        UnsafeMutableRawPointer(base).deallocate()
    }
}
