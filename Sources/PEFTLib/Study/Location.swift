// The study's location analysis (its Table 2): each method in the attention block, in the
// MLP, or in both, trained and scored on each dataset; drawn as grouped bars.

import Foundation

extension PEFTMethod {
    /// The same method at another location; nil for methods whose place is fixed (prefix-tuning
    /// sits in attention; full fine-tuning and connector-only have no location).
    public func placed(at location: PEFTLocation) -> PEFTMethod? {
        switch self {
        case .lora(var c): c.targets = location; return .lora(c)
        case .ia3(var c): c.targets = location; return .ia3(c)
        case .adapter(var c): c.location = location; return .adapter(c)
        case .prefix, .full, .connectorOnly: return nil
        }
    }
}

extension Study {
    /// Methods × locations × connectors × datasets × seeds, `settings.steps` steps each. A method
    /// whose place is fixed (prefix, full, connector) runs once, at its own place.
    /// - Returns: one row per run and metric; the figure: mean headline score per location and
    ///   method, as grouped bars.
    public static func location(base: StudyBase, methods: [PEFTMethod],
                                locations: [PEFTLocation] = [.attention, .mlp, .both],
                                connectors: [ConnectorMode] = [.frozen], datasets: [StudyDataset], seeds: [UInt64] = [42],
                                settings: StudySettings, store: SweepStore, isCancelled: () -> Bool = { false },
                                progress: (StudyProgress) -> Void = { _ in }) throws -> StudyResults {
        try validate("location", methods: methods, connectors: connectors, datasets: datasets, seeds: seeds, settings: settings)
        guard !locations.isEmpty else { throw StudyError("location needs at least one location: .attention, .mlp or .both") }
        for data in datasets where data.train.isEmpty {
            throw StudyError("location: \(data.name) has no training examples")
        }
        var plans: [StudyRunPlan] = []
        var planned: Set<String> = []
        for data in datasets {
            for method in methods {
                for placed in locations.map({ method.placed(at: $0) ?? method }) {
                    for connector in connectors {
                        for seed in seeds {
                            let columns = columns(placed, connector, data, seed: seed, trainSize: data.train.count)
                            let checkpoints = [StudyCheckpoint(epoch: epochs(steps: settings.steps, batch: settings.batchSize,
                                                                             trainSize: data.train.count), steps: settings.steps)]
                            let key = key("location", columns: columns, method: placed, base: base, settings: settings,
                                          train: data.train, tests: [data], checkpoints: checkpoints)
                            guard planned.insert(key.key).inserted else { continue }
                            plans.append(StudyRunPlan(key: key, columns: columns, method: placed, connector: connector, seed: seed,
                                                      train: data.train, tests: [data], namesTest: false,
                                                      checkpoints: checkpoints, label: label(columns)))
                        }
                    }
                }
            }
        }
        let outcome = try run(plans, base: base, settings: settings, store: store, isCancelled: isCancelled, progress: progress)
        return results(outcome, title: "location", figure: { table in
            let rows = headlineRows(table)
            let connectorCount = distinct(rows, "connector")
            let groups = aggregate(rows.map { r in r.merging(["series": seriesName(r, connectors: connectorCount)]) { $1 } },
                                   keys: ["location", "series"], value: "score")
            let data = Table(records: groups.map { [("location", $0.key[0]), ("method", $0.key[1]), ("score", .double($0.mean))] })
            return Plot(study: data, kind: .bar, x: "location", y: "score", series: "method",
                               title: "score by location" + overDatasets(rows))
        })
    }
}
