// Built-ins for data: dataset(...), suite(...), show(...).

import PEFTLib

enum DataBuiltins {
    static var all: [Builtin] { [dataset, suite, show] }

    static let miniNames: @Sendable () -> [String] = { MiniTask.allCases.map(\.rawValue) }

    static let dataset = Builtin(
        "dataset",
        [Parameter(nil, "String", default: .null, choices: miniNames),
         Parameter("split", "Split", default: .dotCase("train")), Parameter("size", "Int", default: .null),
         Parameter("seed", "Int", default: .int(0)), Parameter("imageSize", "Int", default: .int(64)),
         Parameter("json", "String", default: .null), Parameter("images", "String", default: .null),
         Parameter("skipInvalid", "Bool", default: .bool(false))],
        returns: "Dataset",
        doc: """
            A dataset: one of the built-in mini suite (`dataset("mini-iconqa-blank", split: .test, size: 200)`), \
            generated from `seed` with no download — `split:` is `.train` (1000 samples by default), \
            `.validation` (500, for choosing settings such as learning rates) or `.test` (500), three splits \
            that share no image — or your own LLaVA-format JSON \
            (`dataset(json: "train.json", images: "images/")`). `data[i]` is a sample with `.image`, \
            `.question` and `.answer`; `data.count` its size. A bad record is an error naming it, unless \
            `skipInvalid: true`, which skips it and says how many were skipped.
            """
    ) { args, context throws(RuntimeError) in
        if args.optional("json") != nil {
            guard args.optional("images") != nil else {
                throw RuntimeError(.argument, "dataset(json:) also needs images: the folder its image paths are relative to", at: args.location)
            }
            let json = try args.path("json"), folder = try args.path("images")
            let loaded: LlavaDataset
            do { loaded = try LlavaDataset(json: json, images: folder, skipInvalid: try args.bool("skipInvalid")) } catch {
                throw RuntimeError(.library, "\(error)", at: args.location)
            }
            let items = loaded.records.map { VQAExample($0) }
            let note = loaded.skipped.isEmpty ? nil : "\(loaded.skipped.count) invalid records skipped"
            return .object(DatasetObject(name: json, split: "train", group: "yours", metric: MiniMetric.accuracy.rawValue, items: items, note: note))
        }
        guard case .string(let name) = args[0] else {
            throw RuntimeError(.argument, "dataset() needs a name such as \"mini-vqav2\", or json: and images:", at: args.location)
        }
        guard let task = MiniTask(rawValue: name) else {
            let near = nearestNames(to: name, in: miniNames())
            throw RuntimeError(.value, "no dataset named \"\(name)\""
                + (near.isEmpty ? "" : "; did you mean " + near.map { "\"\($0)\"" }.joined(separator: " or ") + "?")
                + " The built-in ones: " + miniNames().joined(separator: ", "), at: args.location)
        }
        let (split, size, seed) = try splitSizeAndSeed(args)
        let imageSize = try args.int("imageSize")
        guard (MiniDataset.smallestImageSize...512).contains(imageSize) else {
            throw RuntimeError(.value, "imageSize must be between \(MiniDataset.smallestImageSize) and 512, got \(imageSize)", at: args.location)
        }
        return .object(try miniDataset(task, split: split, size: size, seed: seed, imageSize: imageSize, args: args, context: context))
    }

    /// The split (by name), size (nil: the split's default) and seed of `dataset` and `suite`.
    static func splitSizeAndSeed(_ args: BoundArguments) throws(RuntimeError) -> (split: String, size: Int?, seed: Int) {
        let split = try args.dotCase("split", allowed: MiniSplit.allCases.map(\.rawValue))
        var size: Int?
        if args.optional("size") != nil {
            size = try args.int("size")
            guard size! >= 0, size! <= 1_000_000 else { throw RuntimeError(.value, "size must be between 0 and 1,000,000, got \(size!)", at: args.location) }
        }
        return (split, size, try args.int("seed"))
    }

    /// Generates a mini dataset, interruptible, sized against the machine's memory first.
    static func miniDataset(_ task: MiniTask, split: String, size: Int?, seed: Int, imageSize: Int,
                            args: BoundArguments, context: any CallContext) throws(RuntimeError) -> DatasetObject {
        let generated = try ModelBuiltins.library(args.location) {
            try MiniDataset.generate(task, split: MiniSplit(rawValue: split) ?? .test, size: size,
                                     seed: UInt64(bitPattern: Int64(seed)), imageSize: imageSize,
                                     isCancelled: { context.isCancelled })
        }
        guard let data = generated else {
            throw RuntimeError(.interrupted, "generating \(task.rawValue) was interrupted", at: args.location)
        }
        let items = data.examples
        return DatasetObject(name: task.rawValue, split: split, group: task.group.rawValue, metric: task.metric.rawValue, items: items)
    }

    static let suite = Builtin(
        "suite", [Parameter(nil, "String", default: .string("mini"), choices: { ["mini"] }),
                  Parameter("split", "Split", default: .dotCase("test")), Parameter("size", "Int", default: .null),
                  Parameter("seed", "Int", default: .int(0))],
        returns: "[Dataset]",
        doc: "The study's evaluation suite: every mini dataset (seen, unseen and POPE), as an array of datasets."
    ) { args, context throws(RuntimeError) in
        guard try args.string(at: 0) == "mini" else {
            throw RuntimeError(.value, "the only built-in suite is \"mini\"", at: args.location)
        }
        let (split, size, seed) = try splitSizeAndSeed(args)
        let tasks = MiniTask.evaluation
        // The whole suite at once must fit, not each dataset alone.
        let total = tasks.reduce(0) { MemoryBudget.sum($0, MiniDataset.estimatedBytes(size: size ?? $1.defaultSize(MiniSplit(rawValue: split) ?? .test), imageSize: 64)) }
        do { try MemoryBudget.require(total, for: "suite(\"mini\") of \(tasks.count) datasets", advice: "ask for a smaller size:") } catch {
            throw RuntimeError(.value, "\(error)", at: args.location)
        }
        var datasets: [Value] = []
        for task in tasks {
            datasets.append(.object(try miniDataset(task, split: split, size: size, seed: seed, imageSize: 64, args: args, context: context)))
        }
        return .array(datasets)
    }

    static let show = Builtin(
        "show", [Parameter(nil, "Dataset"), Parameter(nil, "Int", default: .int(6))],
        doc: "Shows the first samples of a dataset: their images, questions and answers."
    ) { args, context throws(RuntimeError) in
        guard case .object(let o as DatasetObject) = args[0] else {
            if case .object(let o) = args[0] { context.output.display(o.render(), id: nil, update: false); return .void }
            throw args.fail(at: 0, "a Dataset", got: args[0])
        }
        let count = try args.int(at: 1)
        guard (0...200).contains(count) else { throw RuntimeError(.value, "show at most 200 samples, not \(count)", at: args.location) }
        context.output.display(o.grid(count: count), id: nil, update: false)
        return .void
    }
}
