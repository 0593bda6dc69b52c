// The first stage of the tiny-llava recipe: the vision tower learns to see before any
// language, as LLaVA's CLIP was pretrained before LLaVA existed. A tower trained from random
// weights only through the language model's loss learns the language prior long before it
// learns to look (tiny-llava v1 answered "yes" to every probe), so here every patch of the
// tower's last layer is taught directly what it shows: which object and colour (none, or one
// of 17 kinds and 6 colours), whether an object's centre lies in it (for counting), which
// letter is printed on it (for reading), where it lies (its row and column), and what the
// whole image holds (how many objects of each kind, 0…9) — the global content a CLIP feature
// carries in every patch, without which the language model saw a bag of patches it could not
// place or count (tiny-llava v2's second attempt described scenes with the right objects in
// the wrong places and answered "Where is the X?" at chance). The heads that read those
// labels are discarded after this stage; the language stages train the connector and the
// language model on the frozen tower, as LLaVA-1.5 does.

/// One image of the vision stage with a label per patch (−100: not labelled).
struct LabelledPatches: Sendable {
    var image: RGBImage
    /// 0 for none, 1 + index in `MiniObject.allCases`.
    var kind: [Int]
    /// 0 for none, 1 + index in `MiniColour.allCases`.
    var colour: [Int]
    /// 1 where an object's centre lies in the patch, else 0.
    var centre: [Int]
    /// 0 for none, 1…26 for A…Z.
    var letter: [Int]
    /// Objects of each kind in the whole image (in `MiniObject.allCases` order), at most `maxCount`.
    var counts: [Int]

    static let kinds = 1 + MiniObject.allCases.count, colours = 1 + MiniColour.allCases.count, letters = 27
    static let maxCount = 9

    /// Image `index` of the stage's stream: natural scenes, sheets of small icons, one or
    /// four large objects and book covers with random letters, in turn; drawn only from the
    /// train split's share of image hashes, so no test or validation image is ever seen.
    static func sample(index: Int, seed: UInt64, size: Int, patch: Int) -> LabelledPatches {
        for attempt in 0..<UInt64(1000) {
            var rng = SceneRandom(seed, 0x5649_5349_4F4E, UInt64(index), attempt)
            let s = draw(kind: index % 4, size: size, patch: patch, rng: &rng)
            if MiniSplit.of(imageHash: fnv1a(s.image.pixels)) == .train { return s }
        }
        fatalError("vision pretraining: no train-split image for #\(index)")
    }

    private static func draw(kind: Int, size: Int, patch: Int, rng: inout SceneRandom) -> LabelledPatches {
        let side = size / patch, ignore = SupervisedTokens.ignoreIndex
        if kind == 3 {
            let word = String((0..<rng.int(3...5)).map { _ in Character(UnicodeScalar(UInt8(65 + rng.below(26)))) })
            let (image, boxes) = MiniTaskGenerator.bookCover(word, size: size, rng: &rng)
            var letter = [Int](repeating: 0, count: side * side)
            for p in 0..<(side * side) {
                let (px, py) = ((p % side) * patch, (p / side) * patch)
                var best = 0, bestLetter = 0
                for b in boxes {
                    let w = max(0, min(px + patch, b.x1) - max(px, b.x0)), h = max(0, min(py + patch, b.y1) - max(py, b.y0))
                    if w * h > best { best = w * h; bestLetter = Int(b.letter.asciiValue! - 64) }
                }
                letter[p] = best >= patch * patch / 4 ? bestLetter : best == 0 ? 0 : ignore
            }
            let none = [Int](repeating: 0, count: side * side)
            return LabelledPatches(image: image, kind: none, colour: [Int](repeating: ignore, count: side * side),
                                   centre: none, letter: letter, counts: [Int](repeating: 0, count: MiniObject.allCases.count))
        }
        var scene: MiniScene
        switch kind {
        case 0: scene = MiniScene.natural(size: size, rng: &rng)
        case 1:
            scene = MiniScene(size: size, grid: 4, rng: &rng)
            scene.fill = 0.85
            for _ in 0..<rng.int(1...12) { scene.place(rng.pick(MiniObject.allCases), rng.pick(MiniColour.allCases), rng: &rng) }
        default:
            let grid = rng.chance(0.5) ? 1 : 2
            scene = MiniScene(size: size, grid: grid, rng: &rng)
            scene.fill = 0.55 + 0.35 * rng.unit()
            for _ in 0..<(grid == 1 ? 1 : rng.int(1...4)) {
                scene.place(rng.pick(MiniObject.allCases), rng.pick(MiniColour.allCases), rng: &rng)
            }
        }
        let image = scene.render(), owner = scene.ownership()
        var kinds = [Int](repeating: 0, count: side * side), colours = kinds, centres = kinds
        for p in 0..<(side * side) {
            let (px, py) = ((p % side) * patch, (p / side) * patch)
            var counts: [Int: Int] = [:]
            for y in py..<(py + patch) { for x in px..<(px + patch) where owner[y * size + x] >= 0 { counts[owner[y * size + x], default: 0] += 1 } }
            guard let (object, n) = counts.max(by: { ($0.value, $1.key) < ($1.value, $0.key) }) else { continue }
            if n >= patch * patch / 6 {
                let o = scene.objects[object]
                kinds[p] = 1 + MiniObject.allCases.firstIndex(of: o.kind)!
                colours[p] = 1 + MiniColour.allCases.firstIndex(of: o.colour)!
            } else {
                kinds[p] = ignore; colours[p] = ignore
            }
        }
        for (_, cx, cy, _) in scene.placements() {
            let c = min(side - 1, max(0, Int(cx) / patch)), r = min(side - 1, max(0, Int(cy) / patch))
            centres[r * side + c] = 1
        }
        let counts = MiniObject.allCases.map { k in min(maxCount, scene.objects.filter { $0.kind == k }.count) }
        return LabelledPatches(image: image, kind: kinds, colour: colours, centre: centres,
                               letter: [Int](repeating: 0, count: side * side), counts: counts)
    }
}

/// The vision stage as a training task: the tower's last hidden state, patch by patch,
/// through seven linear heads, the sum of their cross-entropies. A head reads `slots`
/// labels of `classes` classes from each patch (the image's counts: one slot per kind).
final class VisionPretrainingTask: TrainingTask {
    let tower: CLIPVisionModel
    let samples: [LabelledPatches]
    let preprocessor: CLIPPreprocessorConfig
    let batchSize: Int
    /// Weight and bias of each head: kind, colour, centre, letter, row, column, counts.
    let heads: [Head]

    struct Head {
        var name: String
        var classes: Int
        var slots: Int
        var weight: Tensor
        var bias: Tensor
        /// The labels of every patch of one image, patch after patch, `slots` per patch.
        var targets: @Sendable (LabelledPatches) -> [Int]
    }

    init(tower: CLIPVisionModel, samples: [LabelledPatches], preprocessor: CLIPPreprocessorConfig, batchSize: Int,
         seed: UInt64) throws {
        self.tower = tower
        self.samples = samples
        self.preprocessor = preprocessor
        self.batchSize = batchSize
        let width = tower.config.hiddenSize
        var rng = RandomGenerator(seed: seed &+ 0x4845_4144)
        let side = tower.config.imageSize / tower.config.patchSize, patches = side * side
        let kinds = MiniObject.allCases.count
        let labels: [(String, Int, Int, @Sendable (LabelledPatches) -> [Int])] = [
            ("kind", LabelledPatches.kinds, 1, { $0.kind }),
            ("colour", LabelledPatches.colours, 1, { $0.colour }),
            ("centre", 2, 1, { $0.centre }),
            ("letter", LabelledPatches.letters, 1, { $0.letter }),
            ("row", side, 1, { _ in (0..<patches).map { $0 / side } }),
            ("column", side, 1, { _ in (0..<patches).map { $0 % side } }),
            ("counts", LabelledPatches.maxCount + 1, kinds, { s in (0..<patches).flatMap { _ in s.counts } }),
        ]
        var heads: [Head] = []
        for (name, classes, slots, targets) in labels {
            heads.append(Head(name: name, classes: classes, slots: slots,
                              weight: try Tensor.normal([classes * slots, width], std: 0.02, generator: &rng, requiresGrad: true),
                              bias: try Tensor.zeros([classes * slots], requiresGrad: true), targets: targets))
        }
        self.heads = heads
    }

    var exampleCount: Int { samples.count }

    func trainableParameters() -> [(name: String, tensor: Tensor, group: String)] {
        tower.namedParameters().filter { $0.tensor.requiresGrad }.map { ("vision_tower." + $0.path, $0.tensor, $0.tensor.rank == 1 ? "no decay" : "decay") }
            + heads.flatMap { [("head.\($0.name).weight", $0.weight, "decay"), ("head.\($0.name).bias", $0.bias, "no decay")] }
    }

    func loss(examples indices: [Int], generator: inout RandomGenerator) throws -> (loss: Tensor, tokens: Int) {
        let batch = indices.map { samples[$0] }
        let pixels = try preprocessor.pixelValues(batch.map(\.image))
        let h = try tower.hiddenState(pixelValues: pixels, layer: -1)                 // (N, P + 1, D)
        let (n, positions, width) = (h.shape[0], h.shape[1] - 1, h.shape[2])
        let patches = try h.sliced(1..<(positions + 1), axis: 1).reshaped([n * positions, width])
        var total: Tensor?
        for head in heads {
            let logits = try linear(patches, weight: head.weight, bias: head.bias)
                .reshaped([n * positions * head.slots, head.classes])
            let part = try crossEntropy(logits, targets: batch.flatMap(head.targets))
            total = try total.map { try $0 + part } ?? part
        }
        return (total!, n * (positions + 1))
    }
}
