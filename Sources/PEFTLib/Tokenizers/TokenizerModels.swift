// The token models of Hugging Face `tokenizers` that PEFTLab reads: BPE (merges applied lowest
// rank first, leftmost on ties, as `tokenizers`' Word::merge_all does with its priority queue) and
// WordLevel (whole pieces looked up, unknown ones mapped to the unk token).

import Foundation

/// A dictionary key that compares strings by their exact Unicode scalars, as Rust does:
/// Swift's String equality treats canonically equivalent spellings (NFC "é" and NFD "é") as equal.
struct ExactString: Hashable, Sendable {
    let value: String
    init(_ value: String) { self.value = value }

    static func == (a: ExactString, b: ExactString) -> Bool { a.value.utf8.elementsEqual(b.value.utf8) }

    func hash(into hasher: inout Hasher) {
        var copy = value
        copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// Byte-pair encoding with a vocabulary and ranked merges.
struct BPEModel: Sendable {
    let vocab: [ExactString: Int]
    /// (left id, right id) packed into one key → (rank, merged id).
    let merges: [UInt64: (rank: Int, id: Int)]
    let unkID: Int?
    let fuseUnknown: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool

    static func pairKey(_ a: Int, _ b: Int) -> UInt64 { UInt64(UInt32(truncatingIfNeeded: a)) << 32 | UInt64(UInt32(truncatingIfNeeded: b)) }

    /// The ids of one pre-tokenized piece.
    func tokenize(_ piece: String, into out: inout [Int]) {
        if ignoreMerges, let id = vocab[ExactString(piece)] { out.append(id); return }
        // Initial symbols: one per character, with byte fallback or unk for characters outside the vocabulary.
        var ids: [Int] = []
        ids.reserveCapacity(piece.unicodeScalars.count)
        var previousWasUnknown = false
        for scalar in piece.unicodeScalars {
            if let id = vocab[ExactString(String(scalar))] {
                ids.append(id); previousWasUnknown = false
            } else if byteFallback, let byteIDs = byteFallbackIDs(scalar) {
                ids += byteIDs; previousWasUnknown = false
            } else if let unk = unkID {
                if !(fuseUnknown && previousWasUnknown) { ids.append(unk) }
                previousWasUnknown = true
            }
        }
        guard ids.count > 1 else { out += ids; return }
        out += mergeAll(ids)
    }

    private func byteFallbackIDs(_ scalar: Unicode.Scalar) -> [Int]? {
        var result: [Int] = []
        for b in String(scalar).utf8 {
            let hex = String(b, radix: 16, uppercase: true)
            guard let id = vocab[ExactString("<0x" + (hex.count == 1 ? "0" : "") + hex + ">")] else { return nil }
            result.append(id)
        }
        return result
    }

    /// Applies merges to a symbol sequence: repeatedly the lowest-rank adjacent pair, leftmost first.
    private func mergeAll(_ initial: [Int]) -> [Int] {
        var ids = initial
        let n = ids.count
        var next = Array(1...n); next[n - 1] = -1
        var prev = Array(-1..<(n - 1))
        var alive = [Bool](repeating: true, count: n)
        var heap = MergeHeap()
        for i in 0..<(n - 1) {
            if let m = merges[Self.pairKey(ids[i], ids[i + 1])] {
                heap.push(.init(rank: m.rank, position: i, left: ids[i], right: ids[i + 1], merged: m.id))
            }
        }
        while let candidate = heap.pop() {
            let i = candidate.position
            guard alive[i], ids[i] == candidate.left else { continue }
            let j = next[i]
            guard j >= 0, ids[j] == candidate.right else { continue }
            ids[i] = candidate.merged
            alive[j] = false
            next[i] = next[j]
            if next[j] >= 0 { prev[next[j]] = i }
            if prev[i] >= 0, let m = merges[Self.pairKey(ids[prev[i]], ids[i])] {
                heap.push(.init(rank: m.rank, position: prev[i], left: ids[prev[i]], right: ids[i], merged: m.id))
            }
            if next[i] >= 0, let m = merges[Self.pairKey(ids[i], ids[next[i]])] {
                heap.push(.init(rank: m.rank, position: i, left: ids[i], right: ids[next[i]], merged: m.id))
            }
        }
        var result: [Int] = []
        var i = 0
        while i >= 0 { result.append(ids[i]); i = next[i] }
        return result
    }
}

/// A binary min-heap of candidate merges ordered by (rank, position).
struct MergeHeap {
    struct Candidate {
        var rank: Int, position: Int, left: Int, right: Int, merged: Int
        func precedes(_ other: Candidate) -> Bool { (rank, position) < (other.rank, other.position) }
    }
    private var items: [Candidate] = []

    mutating func push(_ c: Candidate) {
        items.append(c)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i].precedes(items[parent]) else { break }
            items.swapAt(i, parent); i = parent
        }
    }

    mutating func pop() -> Candidate? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var best = i
                if l < items.count, items[l].precedes(items[best]) { best = l }
                if r < items.count, items[r].precedes(items[best]) { best = r }
                if best == i { break }
                items.swapAt(i, best); i = best
            }
        }
        return top
    }
}

/// Whole-piece lookup with an unknown token.
struct WordLevelModel: Sendable {
    let vocab: [ExactString: Int]
    let unkID: Int?

    func tokenize(_ piece: String, into out: inout [Int]) {
        if let id = vocab[ExactString(piece)] { out.append(id) } else if let unk = unkID { out.append(unk) }
    }
}

/// The model of a tokenizer.json.
enum TokenizerModel: Sendable {
    case bpe(BPEModel)
    case wordLevel(WordLevelModel)

    var vocab: [ExactString: Int] {
        switch self {
        case .bpe(let m): return m.vocab
        case .wordLevel(let m): return m.vocab
        }
    }

    func tokenize(_ piece: String, into out: inout [Int]) {
        switch self {
        case .bpe(let m): m.tokenize(piece, into: &out)
        case .wordLevel(let m): m.tokenize(piece, into: &out)
        }
    }
}
