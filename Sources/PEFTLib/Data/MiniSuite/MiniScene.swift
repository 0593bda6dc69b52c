// MiniScene: what a mini-suite image shows: objects of a kind and colour in the
// cells of a grid, over a pale background. Natural scenes follow themes (a
// kitchen: cup, plate, apple), so objects co-occur as in real photos and
// POPE's adversarial negatives are real.

/// The objects that mini-suite scenes are made of: six shapes and eleven icons.
public enum MiniObject: String, CaseIterable, Sendable, Codable {
    case circle, square, triangle, diamond, star, heart
    case cup, plate, apple, tree, house, sun, moon, car, fish, key, umbrella

    /// The geometric shapes (the answers of "what shape" questions).
    public static let shapes: [MiniObject] = [.circle, .square, .triangle, .diamond, .star, .heart]
    /// The pictorial icons.
    public static let icons: [MiniObject] = [.cup, .plate, .apple, .tree, .house, .sun, .moon, .car, .fish, .key, .umbrella]

    public var name: String { rawValue }
    public var plural: String { self == .fish ? "fish" : rawValue + "s" }
}

/// The colours objects are painted in.
public enum MiniColour: String, CaseIterable, Sendable, Codable {
    case red, green, blue, yellow, purple, orange

    public var rgb: RGB {
        switch self {
        case .red: return RGB(215, 35, 35)
        case .green: return RGB(30, 160, 60)
        case .blue: return RGB(35, 75, 215)
        case .yellow: return RGB(240, 205, 25)
        case .purple: return RGB(140, 50, 185)
        case .orange: return RGB(245, 130, 20)
        }
    }
}

/// A theme: objects that tend to appear together, and how often the theme is drawn.
struct SceneTheme: Sendable {
    let name: String
    let objects: [MiniObject]
    let weight: Double

    /// The co-occurrence structure of the suite. Weights make some objects popular
    /// (kitchen objects most of all) for POPE's popular setting.
    static let all: [SceneTheme] = [
        SceneTheme(name: "kitchen", objects: [.cup, .plate, .apple], weight: 3),
        SceneTheme(name: "garden", objects: [.tree, .house, .sun], weight: 2),
        SceneTheme(name: "night", objects: [.moon, .star], weight: 1.5),
        SceneTheme(name: "travel", objects: [.car, .key, .umbrella], weight: 1.5),
        SceneTheme(name: "sea", objects: [.fish, .diamond], weight: 1),
        SceneTheme(name: "geometry", objects: [.circle, .square, .triangle, .heart], weight: 1),
    ]

    static func of(_ object: MiniObject) -> SceneTheme { all.first { $0.objects.contains(object) }! }
}

/// How a scene is drawn. The seen sets are photos; the unseen families look different, as
/// ScienceQA's diagrams and IconQA's icon sheets differ from the COCO photos of VQAv2.
enum SceneStyle: Sendable {
    /// A pale tinted background, objects filled (the seen sets, POPE, captions).
    case photo
    /// White paper, every object outlined in dark ink, a frame (mini-sqa).
    case diagram
    /// A pale blue sheet ruled into the grid's cells (mini-iconqa).
    case iconSheet
}

/// One object placed in a scene.
public struct SceneObject: Sendable, Equatable {
    public var kind: MiniObject
    public var colour: MiniColour
    /// Grid cell, column and row.
    public var column: Int
    public var row: Int
}

/// A scene: a grid of cells, some holding an object.
struct MiniScene: Sendable {
    var size: Int
    var grid: Int
    var background: RGB
    var objects: [SceneObject] = []
    /// Object size as a share of the cell.
    var fill: Double = 0.8
    /// Per-object jitter of the centre, in pixels, drawn at render time from this seed.
    var jitterSeed: UInt64
    var style: SceneStyle = .photo

    init(size: Int, grid: Int = 3, rng: inout SceneRandom) {
        self.size = size
        self.grid = grid
        let base = rng.int(214...240)
        background = RGB(UInt8(base + rng.int(0...12)), UInt8(base + rng.int(0...12)), UInt8(base + rng.int(0...12)))
        jitterSeed = rng.next()
    }

    var kinds: Set<MiniObject> { Set(objects.map(\.kind)) }
    var freeCells: [(Int, Int)] {
        var cells: [(Int, Int)] = []
        for r in 0..<grid { for c in 0..<grid where !objects.contains(where: { $0.column == c && $0.row == r }) { cells.append((c, r)) } }
        return cells
    }

    /// Places an object in a random free cell (optionally restricted to `columns`).
    mutating func place(_ kind: MiniObject, _ colour: MiniColour, rng: inout SceneRandom, columns: Set<Int>? = nil) {
        let cells = freeCells.filter { columns?.contains($0.0) ?? true }
        precondition(!cells.isEmpty, "no free cell for \(kind)")
        let (c, r) = rng.pick(cells)
        objects.append(SceneObject(kind: kind, colour: colour, column: c, row: r))
    }

    /// A natural scene: 2–4 distinct objects, mostly from one theme, random colours and cells.
    static func natural(size: Int, rng: inout SceneRandom, count: ClosedRange<Int> = 2...4) -> MiniScene {
        var scene = MiniScene(size: size, rng: &rng)
        let theme = SceneTheme.all[rng.weighted(SceneTheme.all.map(\.weight))]
        let n = rng.int(count)
        var chosen: [MiniObject] = []
        while chosen.count < n {
            let pool = rng.chance(0.8) ? theme.objects : MiniObject.allCases
            let candidates = pool.filter { !chosen.contains($0) }
            guard !candidates.isEmpty else { continue }
            chosen.append(rng.pick(candidates))
        }
        for kind in chosen { scene.place(kind, rng.pick(MiniColour.allCases), rng: &rng) }
        return scene
    }

    /// Where each object is drawn: its centre (with its jitter) and half-size, in pixels.
    func placements() -> [(object: SceneObject, centreX: Double, centreY: Double, half: Double)] {
        var jitter = SceneRandom(seed: jitterSeed)
        let cell = Double(size) / Double(grid)
        let half = cell * fill / 2
        let slack = max(0, cell / 2 - half - 0.5)
        return objects.map { o in
            let dx = (jitter.unit() * 2 - 1) * slack, dy = (jitter.unit() * 2 - 1) * slack
            return (o, (Double(o.column) + 0.5) * cell + dx, (Double(o.row) + 0.5) * cell + dy, half)
        }
    }

    /// For every pixel (row by row), the index in `objects` of the object drawn there, or −1.
    func ownership() -> [Int] {
        var owner = [Int](repeating: -1, count: size * size)
        for (k, (o, cx, cy, half)) in placements().enumerated() {
            var canvas = RGBImage(width: size, height: size, fill: RGB(0, 0, 0))
            canvas.draw(o.kind, colour: RGB(255, 255, 255), centreX: cx, centreY: cy, half: half)
            for i in 0..<(size * size) where canvas.pixels[3 * i] | canvas.pixels[3 * i + 1] | canvas.pixels[3 * i + 2] != 0 {
                owner[i] = k
            }
        }
        return owner
    }

    /// The image of the scene.
    func render() -> RGBImage {
        let paper: RGB
        switch style {
        case .photo: paper = background
        case .diagram: paper = RGB(255, 255, 255)
        case .iconSheet: paper = RGB(background.r / 4 + 170, background.g / 4 + 178, 250)
        }
        var image = RGBImage(width: size, height: size, fill: paper)
        let cell = Double(size) / Double(grid)
        if style == .iconSheet {
            let rule = RGB(150, 165, 195)
            for k in 0...grid {
                let at = min(size - 1, Int((Double(k) * cell).rounded()))
                image.fillRect(x0: at, y0: 0, x1: at + 1, y1: size, colour: rule)
                image.fillRect(x0: 0, y0: at, x1: size, y1: at + 1, colour: rule)
            }
        }
        for (o, cx, cy, half) in placements() {
            image.draw(o.kind, colour: o.colour.rgb, centreX: cx, centreY: cy, half: half)
        }
        if style == .diagram {
            image.outline(background: paper, ink: RGB(25, 25, 30))
            image.fillRect(x0: 0, y0: 0, x1: size, y1: 1, colour: RGB(25, 25, 30))
            image.fillRect(x0: 0, y0: size - 1, x1: size, y1: size, colour: RGB(25, 25, 30))
            image.fillRect(x0: 0, y0: 0, x1: 1, y1: size, colour: RGB(25, 25, 30))
            image.fillRect(x0: size - 1, y0: 0, x1: size, y1: size, colour: RGB(25, 25, 30))
        }
        return image
    }
}

// MARK: - Language about scenes

extension SceneObject {
    var phrase: String { "\(indefiniteArticle(colour.rawValue)) \(colour.rawValue) \(kind.name)" }
}

func indefiniteArticle(_ word: String) -> String { "aeiou".contains(word.first!) ? "an" : "a" }

func englishNumber(_ n: Int) -> String {
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"][n]
}

/// "a, b and c".
func englishList(_ items: [String]) -> String {
    items.count <= 1 ? (items.first ?? "") : items.dropLast().joined(separator: ", ") + " and " + items.last!
}

extension MiniScene {
    /// Where a cell lies: "top left", "center", "bottom", …
    func location(_ o: SceneObject) -> String {
        let rows = ["top", "middle", "bottom"], cols = ["left", "center", "right"]
        let r = grid == 3 ? rows[o.row] : (o.row < grid / 2 ? "top" : "bottom")
        let c = grid == 3 ? cols[o.column] : (o.column < grid / 2 ? "left" : "right")
        if r == "middle" { return c == "center" ? "center" : c }
        return c == "center" ? r : "\(r) \(c)"
    }

    /// A one-sentence description with positions, for connector alignment.
    var description: String {
        let parts = objects.map { o -> String in
            let at = location(o)
            return "\(o.phrase) \(at == "center" ? "in the center" : at.contains(" ") || at == "top" || at == "bottom" ? "at the \(at)" : "on the \(at)")"
        }
        return englishList(parts)
    }

    /// The objects one by one, each kind first, then its colour and place: "cup: red, top left;
    /// ball: blue, center". Naming the kind before what is looked up about it makes every
    /// attribute a lookup keyed by the object's word — the skill "What colour is the cup?" needs —
    /// where in the sentence form the colour comes first and the words that follow can be read
    /// from the object already being described.
    var listing: String {
        objects.map { "\($0.kind.name): \($0.colour.rawValue), \(location($0))" }.joined(separator: "; ")
    }

    /// Five reference captions of different styles (mini-flickr).
    var captions: [String] {
        let phrases = objects.map(\.phrase)
        let plain = objects.map { "\(indefiniteArticle($0.kind.name)) \($0.kind.name)" }
        let theme = SceneTheme.of(objects[0].kind).name
        let reversed = Array(phrases.reversed())
        return [
            englishList(phrases),
            "a picture of " + englishList(phrases),
            objects.count == 1 ? phrases[0] + " on a plain background" : reversed[0] + " next to " + englishList(Array(reversed.dropFirst())),
            objects.count == 1 ? "one object, " + plain[0] : "\(englishNumber(objects.count)) objects, " + englishList(plain),
            "a \(theme) scene with " + englishList(plain),
        ]
    }
}
