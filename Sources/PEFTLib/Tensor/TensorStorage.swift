// Raw Float32 storage behind tensors, and the accounting of live storage bytes
// (process-wide and per scope) that leak tests read.
import Synchronization

/// Live tensor-storage bytes: a process-wide counter plus optional per-task scopes.
public enum TensorMemory {
    private static let processBytes = Atomic<Int>(0)

    /// The scope storages allocated by the current task are charged to (see `measure`).
    @TaskLocal static var scope: TensorMemoryScope?

    /// Bytes held by all live tensor storages in this process.
    public static var liveBytes: Int { processBytes.load(ordering: .relaxed) }

    /// Runs `body` with a fresh scope that counts only storages allocated by this task
    /// (immune to tests running in parallel), and returns it with the result.
    public static func measure<R>(_ body: (TensorMemoryScope) throws -> R) rethrows -> R {
        let scope = TensorMemoryScope()
        return try $scope.withValue(scope) { try body(scope) }
    }

    static func charge(_ bytes: Int, to scope: TensorMemoryScope?) {
        processBytes.add(bytes, ordering: .relaxed)
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
