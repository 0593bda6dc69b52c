// The one rule for every file and folder PEFTLib writes: all or nothing. A file is written to
// a temporary sibling, flushed and renamed over its name; a folder of several files (an
// adapter) is built beside its target and exchanged with it in one rename, so a kill at any
// moment leaves either the old folder or the new one, never a mix. Temporaries carry the
// writer's pid, and the next write beside them removes those whose writer is gone.
// Paths follow one rule too: a leading `~` is the user's `$HOME`, for every file.

import Foundation

/// A file or folder that could not be written, named with the reason.
public struct FileWriteError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "cannot write '\(path)': \(reason)" }
}

/// Paths as the user wrote them, resolved by one rule.
public enum FilePaths {
    /// `path` with a leading `~` or `~/` replaced by `$HOME` (the password database's home only
    /// when `$HOME` is unset); every other path as it is (`~user` is not expanded).
    public static func resolve(_ path: String) -> String {
        guard path == "~" || path.hasPrefix("~/") else { return path }
        let environment = ProcessInfo.processInfo.environment
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + path.dropFirst()
    }
}

/// All-or-nothing writes of files and folders.
public enum AtomicFiles {
    /// What names a temporary: `.<name>.peftlab-tmp-<pid>-<random>`.
    static let temporaryMarker = ".peftlab-tmp-"

    /// A fresh temporary sibling of `path`.
    static func temporarySibling(of path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        return folder + "/." + url.lastPathComponent + temporaryMarker
            + "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Removes temporaries beside `path` whose writer no longer runs (it was killed mid-write).
    static func removeStaleTemporaries(besides path: String) {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let prefix = "." + url.lastPathComponent + temporaryMarker
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names where name.hasPrefix(prefix) {
            let pid = name.dropFirst(prefix.count).split(separator: "-").first.flatMap { pid_t($0) }
            guard let pid, pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: folder + "/" + name)
        }
    }

    /// Writes `bytes` to `path` (its folder created): a temporary sibling, flushed, renamed.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try write(to: path) { append in try bytes.withUnsafeBytes { try append($0) } }
    }

    /// Writes what `produce` appends to `path` atomically; `produce` may append many times
    /// (a large file is streamed, never held whole). Errors are `FileWriteError`s naming `path`.
    public static func write(to path: String,
                             _ produce: (_ append: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let path = FilePaths.resolve(path)
        if path.isEmpty { throw FileWriteError(path: path, reason: "the path is empty") }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw FileWriteError(path: path, reason: "it is a folder")
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try createFolder(folder)
        removeStaleTemporaries(besides: path)
        let temp = temporarySibling(of: path)
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw FileWriteError(path: path, reason: "cannot create a file in '\(folder)' (\(errnoText()))")
        }
        var closed = false
        do {
            try produce { raw in
                var done = 0
                while done < raw.count {
                    let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw FileWriteError(path: path, reason: "write failed (\(errnoText()))")
                    }
                    done += n
                }
            }
            guard fsync(fd) == 0 else { throw FileWriteError(path: path, reason: "fsync failed (\(errnoText()))") }
            closed = true
            guard close(fd) == 0 else { throw FileWriteError(path: path, reason: "close failed (\(errnoText()))") }
            FaultInjection.point("write-file-before-rename")
            guard rename(temp, path) == 0 else {
                throw FileWriteError(path: path, reason: "cannot rename the new file into place (\(errnoText()))")
            }
        } catch {
            if !closed { close(fd) }
            unlink(temp)
            throw error
        }
        syncFolder(folder)
    }

    /// Replaces the folder at `path` by the one `fill` writes into the folder it is given, in
    /// one step: the new folder is built beside the old one and exchanged with it atomically
    /// (renameat2's RENAME_EXCHANGE; a plain rename when there was none). Regular files of the
    /// old folder that `fill` does not write are kept (linked into the new one). Where the
    /// file system cannot exchange folders, or the old folder holds subfolders, the files are
    /// renamed into the old folder one by one, JSON last (an adapter's config after its
    /// weights, whose digest of that config then tells a half-finished save on load).
    public static func replaceFolder(at path: String,
                                     _ fill: (_ staging: String) throws -> Void) throws {
        let path = FilePaths.resolve(path)
        if path.isEmpty { throw FileWriteError(path: path, reason: "the path is empty") }
        var isFolder: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
        if exists && !isFolder.boolValue { throw FileWriteError(path: path, reason: "it is a file, not a folder") }
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try createFolder(parent)
        removeStaleTemporaries(besides: path)
        let staging = temporarySibling(of: path)
        do {
            try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        } catch {
            throw FileWriteError(path: path, reason: "cannot create a folder in '\(parent)'")
        }
        defer { try? FileManager.default.removeItem(atPath: staging) }
        try fill(staging)
        let written = Set((try? FileManager.default.contentsOfDirectory(atPath: staging)) ?? [])
        if !exists {
            guard rename(staging, path) == 0 else {
                throw FileWriteError(path: path, reason: "cannot rename the new folder into place (\(errnoText()))")
            }
            syncFolder(parent)
            return
        }
        // Keep what the old folder holds besides the new files.
        var canExchange = true
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] where !written.contains(name) {
            var sub: ObjCBool = false
            FileManager.default.fileExists(atPath: path + "/" + name, isDirectory: &sub)
            if sub.boolValue || link(path + "/" + name, staging + "/" + name) != 0 { canExchange = false; break }
        }
        FaultInjection.point("replace-folder-before-exchange")
        if canExchange, exchange(staging, path) {
            syncFolder(parent)
            // `staging` now holds the old folder; the deferred removal deletes it.
            return
        }
        // Fallback: file by file (each rename atomic), the adapter's weights before its config.
        let order = written.sorted { a, b in a.hasSuffix(".json") == b.hasSuffix(".json") ? a < b : !a.hasSuffix(".json") }
        for (index, name) in order.enumerated() {
            if index > 0 { FaultInjection.point("replace-folder-between-files") }
            guard rename(staging + "/" + name, path + "/" + name) == 0 else {
                throw FileWriteError(path: path + "/" + name, reason: "cannot rename the new file into place (\(errnoText()))")
            }
        }
        syncFolder(path)
    }

    /// Creates `folder` and its parents; the error names it.
    static func createFolder(_ folder: String) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) {
            if isFolder.boolValue { return }
            throw FileWriteError(path: folder, reason: "it is a file, not a folder")
        }
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw FileWriteError(path: folder, reason: "cannot create the folder (\(errnoText()))")
        }
    }

    /// Exchanges two paths atomically (Linux renameat2 with RENAME_EXCHANGE); false when the
    /// system or the file system cannot.
    private static func exchange(_ a: String, _ b: String) -> Bool {
        typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
        guard let symbol = renameAt2 else { return false }
        let function = unsafeBitCast(symbol, to: RenameAt2.self)
        let atCurrentFolder: Int32 = -100, renameExchange: UInt32 = 2
        return function(atCurrentFolder, a, atCurrentFolder, b, renameExchange) == 0
    }

    nonisolated(unsafe) private static let renameAt2: UnsafeMutableRawPointer? =
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2")

    /// Flushes a folder's entries (the rename) to disk; best effort.
    private static func syncFolder(_ folder: String) {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// Named moments inside writes where the fault-injection tests kill the process: with
/// `PEFTLAB_KILL_AT=<name>` in the environment, reaching that point sends SIGKILL to itself.
/// Costs one dictionary look-up per point when unset.
enum FaultInjection {
    static let target = ProcessInfo.processInfo.environment["PEFTLAB_KILL_AT"]

    static func point(_ name: String) {
        if let target, target == name { kill(getpid(), SIGKILL) }
    }
}
