// The study's parameter budget and stability analysis (its Table 6): each method at several
// sizes (LoRA ranks, adapter bottlenecks, prefix tokens), each size over several seeds; the
// summary gives the mean and standard deviation over the seeds, the figure the mean score
// against the size.

import Foundation

extension PEFTMethod {
    /// The same method at another size: LoRA's rank (α scaled with it, so α/r stays), the
    /// adapter's bottleneck, prefix-tuning's virtual tokens. Nil for IA3, full fine-tuning and
    /// connector-only, which have no size.
    public func resized(to size: Int) throws -> PEFTMethod? {
        switch self {
        case .lora(let c):
            return .lora(try LoRAConfiguration(rank: size, alpha: c.alpha / Double(c.rank) * Double(size), dropout: c.dropout,
                                               targets: c.targets))
        case .adapter(let c):
            return .adapter(try AdapterConfiguration(bottleneckSize: size, location: c.location, style: c.style,
                                                     activation: c.activation, dropout: c.dropout, scaling: c.scaling,
                                                     initStd: c.initStd))
        case .prefix(let c):
            return .prefix(try PrefixConfiguration(virtualTokens: size, projection: c.projection,
                                                   encoderHiddenSize: c.encoderHiddenSize))
        case .ia3, .full, .connectorOnly: return nil
        }
    }
}

extension Study {
    /// Each method at each of its sizes × connectors × datasets × seeds, `settings.steps` steps each.
    /// - Parameter sizes: per method name ("lora", "adapter", "prefix"), the sizes to try.
    /// - Returns: one row per run and metric; the summary: per method, size, location, connector,
    ///   dataset and metric the trainable share and the mean, standard deviation (n − 1) and number
    ///   of seeds; the figure: mean headline score against size, a line per method.
    public static func budget(base: StudyBase, methods: [PEFTMethod], sizes: [String: [Int]],
                              connectors: [ConnectorMode] = [.frozen], datasets: [StudyDataset],
                              seeds: [UInt64] = [42, 43, 44], settings: StudySettings, store: SweepStore,
                              isCancelled: () -> Bool = { false },
                              progress: (StudyProgress) -> Void = { _ in }) throws -> StudyResults {
        try validate("budget", methods: methods, connectors: connectors, datasets: datasets, seeds: seeds, settings: settings)
        for data in datasets where data.train.isEmpty { throw StudyError("budget: \(data.name) has no training examples") }
        var sized: [PEFTMethod] = []
        for method in methods {
            guard let list = sizes[method.name], !list.isEmpty else {
                throw StudyError("budget: no sizes for \(method.name); give sizes: [8, 32, 128] or [\"\(method.name)\": [8, 32]]")
            }
            for size in list {
                guard size >= 1 else { throw StudyError("budget: sizes must be at least 1, got \(size) for \(method.name)") }
                guard let resized = try method.resized(to: size) else {
                    throw StudyError("budget: \(method.name) has no size to vary (only LoRA's rank, the adapter's "
                                     + "bottleneck and prefix tokens do); compare it with compare(…)")
                }
                if !sized.contains(resized) { sized.append(resized) }
            }
        }
        var plans: [StudyRunPlan] = []
        for data in datasets {
            for method in sized {
                for connector in connectors {
                    for seed in seeds {
                        let columns = columns(method, connector, data, seed: seed, trainSize: data.train.count)
                        let checkpoints = [StudyCheckpoint(epoch: epochs(steps: settings.steps, batch: settings.batchSize,
                                                                         trainSize: data.train.count), steps: settings.steps)]
                        plans.append(StudyRunPlan(
                            key: key("budget", columns: columns, method: method, base: base, settings: settings,
                                     train: data.train, tests: [data], checkpoints: checkpoints),
                            columns: columns, method: method, connector: connector, seed: seed, train: data.train, tests: [data],
                            namesTest: false, checkpoints: checkpoints, label: label(columns)))
                    }
                }
            }
        }
        let outcome = try run(plans, base: base, settings: settings, store: store, isCancelled: isCancelled, progress: progress)
        return results(outcome, title: "budget", figure: { summary in
            let rows = records(summary).filter {
                if case .text(let m)? = $0["metric"] { return headlineMetrics.contains(m) } else { return false }
            }
            let connectorCount = distinct(rows, "connector")
            let groups = aggregate(rows.map { r in r.merging(["series": seriesName(r, connectors: connectorCount)]) { $1 } },
                                   keys: ["size", "series"], value: "mean")
            let data = Table(records: groups.map { [("size", $0.key[0]), ("method", $0.key[1]), ("score", .double($0.mean))] })
            return Plot(study: data, kind: .line, x: "size", y: "score", series: "method",
                               title: "score by size, mean over seeds" + overDatasets(rows))
        }, summary: { table in
            let keys = ["method", "size", "location", "connector", "dataset", "metric"]
            let groups = aggregate(records(table), keys: keys, value: "score", extra: ["share"])
            return Table(records: groups.map { g in
                zip(keys, g.key).map { ($0, $1) }
                    + [("share", .double(g.extra[0])), ("mean", .double(g.mean)), ("std", .double(g.std)), ("n", .int(g.n))]
            }, title: "budget: mean ± std over seeds")
        })
    }
}
