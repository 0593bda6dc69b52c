// The study's generalization analysis (its Table 4): each method trained on one dataset
// and scored, after each epoch, on every other dataset; drawn as a heatmap of training
// set × test set.

import Foundation

extension Study {
    /// Methods × connectors × training datasets × seeds; a run trains `epochs` passes over one
    /// dataset's `train` and, after each, scores the `test` examples of every other dataset.
    /// - Returns: one row per run, epoch, test set (`test`, never the training set `dataset`) and
    ///   metric; the figure: the mean headline score after the last epoch, training set × test set.
    public static func generalization(base: StudyBase, methods: [PEFTMethod], connectors: [ConnectorMode] = [.frozen],
                                      datasets: [StudyDataset], seeds: [UInt64] = [42], epochs: Int = 3,
                                      settings: StudySettings, store: SweepStore, isCancelled: () -> Bool = { false },
                                      progress: (StudyProgress) -> Void = { _ in }) throws -> StudyResults {
        try validate("generalization", methods: methods, connectors: connectors, datasets: datasets, seeds: seeds, settings: settings)
        guard datasets.count >= 2 else {
            throw StudyError("generalization trains on one dataset and tests on the others: give at least two (on:)")
        }
        guard epochs >= 1 else { throw StudyError("generalization: epochs must be at least 1, got \(epochs)") }
        for data in datasets where data.train.isEmpty { throw StudyError("generalization: \(data.name) has no training examples") }
        var plans: [StudyRunPlan] = []
        for data in datasets {
            let tests = datasets.filter { $0.name != data.name }
            let perEpoch = stepsPerEpoch(data.train.count, batch: settings.batchSize)
            let checkpoints = (1...epochs).map { StudyCheckpoint(epoch: .int($0), steps: $0 * perEpoch) }
            for method in methods {
                for connector in connectors {
                    for seed in seeds {
                        let columns = columns(method, connector, data, seed: seed, trainSize: data.train.count)
                        plans.append(StudyRunPlan(
                            key: key("generalization", columns: columns, method: method, base: base, settings: settings,
                                     train: data.train, tests: tests, checkpoints: checkpoints),
                            columns: columns, method: method, connector: connector, seed: seed, train: data.train, tests: tests,
                            namesTest: true, checkpoints: checkpoints, label: label(columns)))
                    }
                }
            }
        }
        let outcome = try run(plans, base: base, settings: settings, store: store, isCancelled: isCancelled, progress: progress)
        return results(outcome, title: "generalization", figure: { table in
            let rows = headlineRows(table).filter { $0["epoch"] == .int(epochs) }
            let several = distinct(rows, "method") > 1 || distinct(rows, "connector") > 1
            let connectorCount = distinct(rows, "connector")
            let groups = aggregate(rows.map { r in
                let train = r["dataset"]?.description ?? ""
                return r.merging(["train": .text(several ? "\(seriesName(r, connectors: connectorCount)): \(train)" : train)]) { $1 }
            }, keys: ["train", "test"], value: "score")
            let data = Table(records: groups.map { [("train", $0.key[0]), ("test", $0.key[1]), ("score", .double($0.mean))] })
            return Plot(study: data, kind: .heatmap, x: "test", y: "score", series: "train",
                               title: "score on other datasets after epoch \(epochs) (rows: trained on)")
        })
    }
}
