// CIDEr-D for captions (Vedantam et al., 2015), as the COCO caption evaluation computes
// it: TF-IDF weighted 1- to 4-gram vectors with document frequencies over the
// references of the whole evaluation set, candidate counts clipped by the reference's,
// a Gaussian length penalty (σ = 6), averaged over references and n, times 10.

import Foundation

/// CIDEr-D over a set of captions.
public enum CIDErD {
    public static let maxN = 4
    public static let sigma = 6.0

    /// Lower-case words without punctuation: what captions are scored on.
    public static func tokenize(_ caption: String) -> String {
        String(caption.lowercased().map { $0.isLetter || $0.isNumber ? $0 : " " })
            .split(separator: " ").joined(separator: " ")
    }

    /// The corpus score (mean) and one score per candidate. Captions are split on spaces;
    /// tokenize them first for free text.
    public static func score(candidates: [String], references: [[String]]) -> (mean: Double, scores: [Double]) {
        precondition(candidates.count == references.count, "one list of references per candidate")
        guard !candidates.isEmpty else { return (0, []) }
        let refCounts = references.map { $0.map(ngramCounts) }
        var documentFrequency: [[String]: Double] = [:]
        for refs in refCounts {
            var seen = Set<[String]>()
            for counts in refs { seen.formUnion(counts.keys) }
            for ngram in seen { documentFrequency[ngram, default: 0] += 1 }
        }
        let logImages = log(Double(candidates.count))

        func vector(_ counts: [[String]: Int]) -> (vec: [[[String]: Double]], norm: [Double], length: Double) {
            var vec = [[[String]: Double]](repeating: [:], count: maxN)
            var norm = [Double](repeating: 0, count: maxN)
            var length = 0.0
            for (ngram, tf) in counts {
                let n = ngram.count - 1
                let df = log(max(1, documentFrequency[ngram] ?? 0))
                let weight = Double(tf) * (logImages - df)
                vec[n][ngram] = weight
                norm[n] += weight * weight
                if n == 1 { length += Double(tf) }  // the reference implementation measures length in bigrams
            }
            return (vec, norm.map { $0.squareRoot() }, length)
        }

        var scores: [Double] = []
        for (candidate, refs) in zip(candidates, refCounts) {
            let hyp = vector(ngramCounts(candidate))
            var total = [Double](repeating: 0, count: maxN)
            for ref in refs {
                let r = vector(ref)
                let delta = hyp.length - r.length
                for n in 0..<maxN {
                    var value = 0.0
                    for (ngram, weight) in hyp.vec[n] {
                        let refWeight = r.vec[n][ngram] ?? 0
                        value += min(weight, refWeight) * refWeight
                    }
                    if hyp.norm[n] != 0 && r.norm[n] != 0 { value /= hyp.norm[n] * r.norm[n] }
                    value *= exp(-(delta * delta) / (2 * sigma * sigma))
                    total[n] += value
                }
            }
            let mean = total.reduce(0, +) / Double(maxN)
            scores.append(refs.isEmpty ? 0 : mean / Double(refs.count) * 10)
        }
        return (scores.reduce(0, +) / Double(scores.count), scores)
    }

    static func ngramCounts(_ caption: String) -> [[String]: Int] {
        let words = caption.split(separator: " ").map(String.init)
        var counts: [[String]: Int] = [:]
        for n in 1...maxN where words.count >= n {
            for i in 0...(words.count - n) { counts[Array(words[i..<(i + n)]), default: 0] += 1 }
        }
        return counts
    }
}
