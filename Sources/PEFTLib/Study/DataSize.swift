// The study's data-scale analysis (its Table 3): each method trained on training sets of
// several sizes for the same number of epochs (so a larger set takes more steps), scored
// on the same test set; drawn as score against training-set size.

import Foundation

extension Study {
    /// Methods × training-set sizes × connectors × datasets × seeds, `epochs` passes over the
    /// first `size` examples of each dataset's `train` (which must hold the largest size).
    /// - Returns: one row per run and metric; the figure: mean headline score against training-set
    ///   size, a line per method.
    public static func dataSize(base: StudyBase, methods: [PEFTMethod], trainSizes: [Int],
                                connectors: [ConnectorMode] = [.frozen], datasets: [StudyDataset], seeds: [UInt64] = [42],
                                epochs: Int = 1, settings: StudySettings, store: SweepStore,
                                isCancelled: () -> Bool = { false },
                                progress: (StudyProgress) -> Void = { _ in }) throws -> StudyResults {
        try validate("dataSize", methods: methods, connectors: connectors, datasets: datasets, seeds: seeds, settings: settings)
        guard !trainSizes.isEmpty else { throw StudyError("dataSize needs at least one training-set size, such as [250, 500, 1000]") }
        for size in trainSizes where size < 1 { throw StudyError("dataSize: training-set sizes must be at least 1, got \(size)") }
        guard epochs >= 1 else { throw StudyError("dataSize: epochs must be at least 1, got \(epochs)") }
        let largest = trainSizes.max()!
        for data in datasets where data.train.count < largest {
            throw StudyError("dataSize: \(data.name) has \(data.train.count) training examples; the largest size asks for \(largest)")
        }
        var plans: [StudyRunPlan] = []
        for data in datasets {
            for method in methods {
                for size in trainSizes where !trainSizes[..<trainSizes.firstIndex(of: size)!].contains(size) {
                    for connector in connectors {
                        for seed in seeds {
                            let train = Array(data.train.prefix(size))
                            let columns = columns(method, connector, data, seed: seed, trainSize: size)
                            let checkpoints = [StudyCheckpoint(epoch: .int(epochs),
                                                               steps: epochs * stepsPerEpoch(size, batch: settings.batchSize))]
                            plans.append(StudyRunPlan(
                                key: key("dataSize", columns: columns, method: method, base: base, settings: settings,
                                         train: train, tests: [data], checkpoints: checkpoints),
                                columns: columns, method: method, connector: connector, seed: seed, train: train, tests: [data],
                                namesTest: false, checkpoints: checkpoints, label: label(columns)))
                        }
                    }
                }
            }
        }
        let outcome = try run(plans, base: base, settings: settings, store: store, isCancelled: isCancelled, progress: progress)
        return results(outcome, title: "data size", figure: { table in
            let rows = headlineRows(table)
            let connectorCount = distinct(rows, "connector")
            let groups = aggregate(rows.map { r in r.merging(["series": seriesName(r, connectors: connectorCount)]) { $1 } },
                                   keys: ["trainSize", "series"], value: "score")
            let data = Table(records: groups.map { [("trainSize", $0.key[0]), ("method", $0.key[1]), ("score", .double($0.mean))] })
            return Plot(study: data, kind: .line, x: "trainSize", y: "score", series: "method",
                               title: "score by training-set size" + overDatasets(rows))
        })
    }
}
