// The study's hallucination analysis: each method trained on a dataset and probed before
// training and after each epoch with POPE (yes/no questions about objects, with its random,
// popular and adversarial settings) and with captions scored by CHAIR (objects named that
// are not in the image); drawn as lines over the epochs.

import Foundation

extension Study {
    /// Sub-scores drawn by the hallucination figure, where present.
    static let hallucinationCurves = ["random accuracy", "popular accuracy", "adversarial accuracy", "CHAIRi", "CHAIRs"]

    /// Methods × connectors × training datasets × seeds; a run is probed at epoch 0 (the method
    /// attached, untrained) and after each of `epochs` passes over the dataset's `train`.
    /// - Parameter probes: POPE sets and caption sets whose images' objects are known (mini-pope,
    ///   mini-flickr).
    /// - Returns: one row per run, epoch, probe (`test`) and metric (POPE's accuracy, precision,
    ///   recall, f1, yes-ratio and per-setting accuracy and f1; CIDEr-D, CHAIRi, CHAIRs); the figure:
    ///   the per-setting POPE accuracies (named by setting) and CHAIR over the epochs.
    public static func hallucination(base: StudyBase, methods: [PEFTMethod], connectors: [ConnectorMode] = [.frozen],
                                     datasets: [StudyDataset], probes: [StudyDataset], seeds: [UInt64] = [42],
                                     epochs: Int = 3, settings: StudySettings, store: SweepStore,
                                     isCancelled: () -> Bool = { false },
                                     progress: (StudyProgress) -> Void = { _ in }) throws -> StudyResults {
        try validate("hallucination", methods: methods, connectors: connectors, datasets: datasets, seeds: seeds, settings: settings)
        guard !probes.isEmpty else { throw StudyError("hallucination needs probes: mini-pope and mini-flickr test sets") }
        for probe in probes {
            let isPOPE = probe.test.allSatisfy { $0.metric == .pope }
            let isCaptions = probe.test.allSatisfy { $0.metric == .ciderD && !$0.objects.isEmpty }
            guard !probe.test.isEmpty, isPOPE || isCaptions else {
                throw StudyError("hallucination: \(probe.name) is not a probe; probes are POPE sets (mini-pope) and captions "
                                 + "whose images' objects are known (mini-flickr)")
            }
        }
        guard epochs >= 1 else { throw StudyError("hallucination: epochs must be at least 1, got \(epochs)") }
        for data in datasets where data.train.isEmpty { throw StudyError("hallucination: \(data.name) has no training examples") }
        var plans: [StudyRunPlan] = []
        for data in datasets {
            let perEpoch = stepsPerEpoch(data.train.count, batch: settings.batchSize)
            let checkpoints = (0...epochs).map { StudyCheckpoint(epoch: .int($0), steps: $0 * perEpoch) }
            for method in methods {
                for connector in connectors {
                    for seed in seeds {
                        let columns = columns(method, connector, data, seed: seed, trainSize: data.train.count)
                        plans.append(StudyRunPlan(
                            key: key("hallucination", columns: columns, method: method, base: base, settings: settings,
                                     train: data.train, tests: probes, checkpoints: checkpoints),
                            columns: columns, method: method, connector: connector, seed: seed, train: data.train, tests: probes,
                            namesTest: true, checkpoints: checkpoints, label: label(columns)))
                    }
                }
            }
        }
        let outcome = try run(plans, base: base, settings: settings, store: store, isCancelled: isCancelled, progress: progress)
        return results(outcome, title: "hallucination", figure: { table in
            let all = records(table)
            let present = Set(all.compactMap { $0["metric"]?.description })
            let curves = present.contains("random accuracy") ? hallucinationCurves : ["accuracy"] + hallucinationCurves.suffix(2)
            let rows = all.filter { curves.contains($0["metric"]?.description ?? "") }
            let several = distinct(rows, "method") > 1 || distinct(rows, "connector") > 1
            let connectorCount = distinct(rows, "connector")
            let groups = aggregate(rows.map { r in
                // "adversarial accuracy" → "adversarial": the legend is narrow.
                let metric = (r["metric"]?.description ?? "").replacingOccurrences(of: " accuracy", with: "")
                return r.merging(["curve": .text(several ? "\(seriesName(r, connectors: connectorCount)) \(metric)" : metric)]) { $1 }
            }, keys: ["epoch", "curve"], value: "score")
            let data = Table(records: groups.map { [("epoch", $0.key[0]), ("metric", $0.key[1]), ("score", .double($0.mean))] })
            return Plot(study: data, kind: .line, x: "epoch", y: "score", series: "metric",
                               title: "POPE accuracy per setting and CHAIR, by epoch" + overDatasets(rows))
        })
    }
}
