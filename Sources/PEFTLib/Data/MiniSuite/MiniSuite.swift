// MiniSuite: the built-in datasets of DESIGN.md §4, procedurally generated and
// deterministic from a seed, mirroring the columns of the study's Table 1.
// Every sample is a pure function of (task, split, seed, index, image size);
// train, validation and test never share an image (split by image hash).

/// The mini suite's datasets, named as in `dataset("mini-…")`.
public enum MiniTask: String, CaseIterable, Sendable, Codable {
    case sqa = "mini-sqa"
    case vizwiz = "mini-vizwiz"
    case iconqaTxt = "mini-iconqa-txt"
    case iconqaBlank = "mini-iconqa-blank"
    case flickr = "mini-flickr"
    case okvqa = "mini-okvqa"
    case ocrvqa = "mini-ocrvqa"
    case vqav2 = "mini-vqav2"
    case pope = "mini-pope"
    /// Lettered multiple choice on seen content (A-OKVQA): part of the built-in model's
    /// instruction mix, not a column of the study's table.
    case aokvqa = "mini-aokvqa"
    /// One caption per natural scene, for connector alignment (not an evaluation set).
    case descriptions = "mini-descriptions"

    /// The nine evaluation datasets in the order of the study's Table 1 (descriptions excluded).
    public static let evaluation: [MiniTask] = [.sqa, .vizwiz, .iconqaTxt, .iconqaBlank, .flickr, .okvqa, .ocrvqa, .vqav2, .pope]
    /// The seen instruction mix the built-in model is tuned on (with descriptions beside it).
    public static let seenMix: [MiniTask] = [.okvqa, .ocrvqa, .vqav2, .aokvqa]

    /// The study's dataset this one stands in for.
    public var analogue: String {
        switch self {
        case .sqa: return "ScienceQA-img"
        case .vizwiz: return "VizWiz"
        case .iconqaTxt: return "IconQA choose-txt"
        case .iconqaBlank: return "IconQA fill-in-blank"
        case .flickr: return "Flickr30k"
        case .okvqa: return "OKVQA"
        case .ocrvqa: return "OCR-VQA"
        case .vqav2: return "VQAv2"
        case .pope: return "POPE"
        case .aokvqa: return "A-OKVQA"
        case .descriptions: return "LLaVA-Pretrain (LCS-558K)"
        }
    }

    public var group: MiniGroup {
        switch self {
        case .sqa, .vizwiz, .iconqaTxt, .iconqaBlank, .flickr: return .unseen
        case .okvqa, .ocrvqa, .vqav2, .aokvqa: return .seen
        case .pope: return .probe
        case .descriptions: return .alignment
        }
    }

    public var metric: MiniMetric {
        switch self {
        case .sqa, .iconqaTxt, .iconqaBlank, .ocrvqa, .aokvqa: return .accuracy
        case .vizwiz, .okvqa, .vqav2: return .vqaScore
        case .flickr, .descriptions: return .ciderD
        case .pope: return .pope
        }
    }

    /// Samples per split when no size is given: 1000 to train on, 500 to validate or test.
    public func defaultSize(_ split: MiniSplit) -> Int { split == .train ? 1000 : 500 }
}

/// Whether the built-in model saw a dataset's kind of data in training.
public enum MiniGroup: String, Sendable, Codable { case seen, unseen, probe, alignment }

/// How a dataset is scored.
public enum MiniMetric: String, Sendable, Codable {
    /// Exact match of the normalised answer (multiple choice: the option letter or text).
    case accuracy
    /// min(#annotators agreeing / 3, 1), averaged, over the 10 `references`.
    case vqaScore = "vqa-score"
    /// CIDEr-D against the 5 reference captions.
    case ciderD = "cider-d"
    /// Accuracy, precision, recall, F1 and yes-ratio of yes/no answers.
    case pope
}

/// The three disjoint splits: train, validation (for choosing settings such as learning
/// rates) and test. An image's hash decides its split: one in five is test, one in five
/// validation, the rest train.
public enum MiniSplit: String, Sendable, Codable, CaseIterable {
    case train, validation, test

    /// The split an image with this FNV-1a hash belongs to.
    static func of(imageHash: UInt64) -> MiniSplit {
        switch imageHash % 5 { case 0: return .test; case 1: return .validation; default: return .train }
    }

    /// The salt of the split's scene stream.
    var salt: UInt64 { switch self { case .train: return 1; case .test: return 2; case .validation: return 3 } }
}

/// POPE's negative sampling: absent objects chosen at random, among the most
/// frequent objects, or among the objects that co-occur with those present.
public enum POPESetting: String, Sendable, Codable, CaseIterable { case random, popular, adversarial }

/// One sample of the mini suite.
public struct MiniSample: Sendable, Equatable {
    /// "<task>/<split>/<index>", e.g. "mini-vqav2/train/17".
    public var id: String
    public var task: MiniTask
    public var image: RGBImage
    /// The human turn, starting with "<image>\n" as in LLaVA's data.
    public var question: String
    /// The gpt turn: the target answer (for captions, the first reference).
    public var answer: String
    /// Question template name, e.g. "colour", "count" (used for balance and baseline checks).
    public var questionType: String
    /// Multiple-choice options in order (mini-sqa: texts behind the letters; mini-iconqa-txt: choices).
    public var options: [String] = []
    /// VQA-score sets: 10 annotator answers; mini-flickr: 5 reference captions.
    public var references: [String] = []
    /// mini-pope only.
    public var popeSetting: POPESetting?
    /// mini-pope only: the object the question asks about.
    public var queriedObject: MiniObject?
    /// The distinct objects in the scene (for CHAIR and co-occurrence analyses); empty for words.
    public var objects: [MiniObject] = []
}

/// A split of one mini-suite dataset, generated eagerly.
public struct MiniDataset: Sendable {
    public let task: MiniTask
    public let split: MiniSplit
    public let seed: UInt64
    public let imageSize: Int
    public let samples: [MiniSample]

    public var count: Int { samples.count }
    public subscript(i: Int) -> MiniSample { samples[i] }
    public var group: MiniGroup { task.group }
    public var metric: MiniMetric { task.metric }

    /// Generates `size` samples (default: 1000 train, 500 validation or test).
    /// - Parameters:
    ///   - seed: the suite seed; the same seed gives the same bytes on every machine.
    ///   - imageSize: side of the square images (64 suits a CLIP with patch 8).
    /// Example: `MiniDataset(.iconqaBlank, split: .train, size: 2000)`
    public init(_ task: MiniTask, split: MiniSplit, size: Int? = nil, seed: UInt64 = 0, imageSize: Int = 64) {
        self.init(task, split: split, seed: seed, imageSize: imageSize,
                  samples: (0..<(size ?? task.defaultSize(split))).map {
                      MiniDataset.sample(task, split: split, index: $0, seed: seed, imageSize: imageSize)
                  })
    }

    private init(_ task: MiniTask, split: MiniSplit, seed: UInt64, imageSize: Int, samples: [MiniSample]) {
        precondition(imageSize >= Self.smallestImageSize, "mini-suite images must be at least 24 pixels, got \(imageSize)")
        self.task = task
        self.split = split
        self.seed = seed
        self.imageSize = imageSize
        self.samples = samples
    }

    /// The smallest image side the scenes can be drawn at.
    public static let smallestImageSize = 24

    /// Like `init(_:split:size:seed:imageSize:)`, checking `isCancelled` every few samples
    /// (nil when cancelled) and refusing first a size the machine's memory cannot hold.
    public static func generate(_ task: MiniTask, split: MiniSplit, size: Int? = nil, seed: UInt64 = 0,
                                imageSize: Int = 64, isCancelled: () -> Bool) throws -> MiniDataset? {
        let count = size ?? task.defaultSize(split)
        guard count >= 0, imageSize >= smallestImageSize else {
            throw ModelError.invalidInput("a mini dataset needs a size ≥ 0 and images of at least \(smallestImageSize) pixels")
        }
        try MemoryBudget.require(estimatedBytes(size: count, imageSize: imageSize),
                                 for: "\(count) samples of \(task.rawValue) with \(imageSize)-pixel images",
                                 advice: "ask for fewer samples or smaller images")
        var samples: [MiniSample] = []
        samples.reserveCapacity(count)
        for index in 0..<count {
            if index % 64 == 0 && isCancelled() { return nil }
            samples.append(sample(task, split: split, index: index, seed: seed, imageSize: imageSize))
        }
        return MiniDataset(task, split: split, seed: seed, imageSize: imageSize, samples: samples)
    }

    /// Bytes `size` samples take: the RGB image and the sample's text, kept twice while the
    /// dataset becomes examples.
    public static func estimatedBytes(size: Int, imageSize: Int) -> Int {
        MemoryBudget.product(size, MemoryBudget.sum(MemoryBudget.product(imageSize, imageSize, 3), 1024), 2)
    }

    /// Looks a dataset up by its name ("mini-vqav2"); nil for unknown names.
    public init?(named name: String, split: MiniSplit, size: Int? = nil, seed: UInt64 = 0, imageSize: Int = 64) {
        guard let task = MiniTask(rawValue: name) else { return nil }
        self.init(task, split: split, size: size, seed: seed, imageSize: imageSize)
    }

    /// Sample `index` of a split: a pure function of its arguments.
    public static func sample(_ task: MiniTask, split: MiniSplit, index: Int, seed: UInt64 = 0,
                              imageSize: Int = 64) -> MiniSample {
        let taskSalt = fnv1a(Array(task.rawValue.utf8))
        // The slot stream fixes the answer class (balanced over indices); attempts redraw
        // the scene until its image hash falls in this split's share (MiniSplit.of).
        let slot = TaskSlot(index: index, seed: SceneRandom.mix(seed ^ taskSalt))
        for attempt in 0..<UInt64(10_000) {
            var rng = SceneRandom(seed, taskSalt, split.salt, UInt64(index), attempt)
            var s = MiniTaskGenerator.make(task, slot: slot, size: imageSize, rng: &rng)
            guard MiniSplit.of(imageHash: fnv1a(s.image.pixels)) == split else { continue }
            s.id = "\(task.rawValue)/\(split.rawValue)/\(index)"
            s.task = task
            return s
        }
        fatalError("mini suite: no \(split) scene for \(task) #\(index) in 10000 attempts")
    }
}

/// The sample's position in the balanced sequence of answer classes.
struct TaskSlot: Sendable {
    let index: Int
    let seed: UInt64

    /// Class `0..<count` for the `index`-th sample of a stream named `salt`: each block of
    /// `count` consecutive indices holds every class once, in a seeded random order.
    static func balanced(_ index: Int, count: Int, seed: UInt64, salt: UInt64) -> Int {
        var rng = SceneRandom(seed, salt, UInt64(index / count))
        return rng.shuffled(Array(0..<count))[index % count]
    }

    /// Round-robin over `types` question types, then a balanced class within the type.
    func typeAndClass(types: Int, classes: (Int) -> Int) -> (type: Int, answer: Int) {
        let type = index % types, j = index / types
        return (type, TaskSlot.balanced(j, count: classes(type), seed: seed, salt: UInt64(type) &+ 101))
    }

    /// A balanced class for single-template tasks.
    func answer(count: Int, salt: UInt64 = 0) -> Int { TaskSlot.balanced(index, count: count, seed: seed, salt: salt) }
}
