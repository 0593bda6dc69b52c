// MiniTasks: one generator per mini-suite dataset. Each picks its answer class
// from the balanced slot first, then draws a scene consistent with it, so the
// answer is uniform per question template and the question alone predicts nothing.

/// Facts for mini-okvqa: knowledge not visible in the image, keyed by object.
enum MiniFacts {
    /// "What is this object used for?"
    static let usedFor: [(MiniObject, String, [String])] = [
        (.cup, "drinking", ["drink", "drinking tea"]), (.plate, "eating", ["eat", "serving food"]),
        (.key, "unlocking", ["opening doors", "unlock"]), (.umbrella, "rain", ["staying dry", "keeping dry"]),
        (.car, "driving", ["travel", "drive"]), (.house, "living", ["living in", "home"]),
    ]
    /// "Where is this usually found?"
    static let foundIn: [(MiniObject, String, [String])] = [
        (.fish, "water", ["sea", "river"]), (.tree, "forest", ["park", "woods"]), (.sun, "sky", ["day sky", "above"]),
        (.moon, "night", ["night sky", "space"]), (.apple, "orchard", ["kitchen", "tree"]),
        (.star, "space", ["night sky", "sky"]),
    ]
}

/// Words for mini-ocrvqa.
enum MiniWords {
    static let all = ["CAT", "DOG", "SUN", "MAP", "BOOK", "TREE", "FISH", "STAR", "MOON", "CAKE", "BIRD", "LAMP",
                      "SHIP", "ROSE", "KING", "GOLD", "RAIN", "SNOW", "WIND", "FIRE", "LION", "BEAR", "FROG", "DUCK",
                      "MILK", "SALT", "ROAD", "HILL", "LAKE", "SEED", "JAZZ", "QUIZ"]
}

enum MiniTaskGenerator {
    static func make(_ task: MiniTask, slot: TaskSlot, size: Int, rng: inout SceneRandom) -> MiniSample {
        switch task {
        case .vqav2: return vqav2(slot, size, &rng)
        case .okvqa: return okvqa(slot, size, &rng)
        case .ocrvqa: return ocrvqa(slot, size, &rng)
        case .sqa: return sqa(slot, size, &rng)
        case .vizwiz: return vizwiz(slot, size, &rng)
        case .iconqaTxt: return iconqaTxt(slot, size, &rng)
        case .iconqaBlank: return iconqaBlank(slot, size, &rng)
        case .flickr: return flickr(slot, size, &rng)
        case .pope: return pope(slot, size, &rng)
        case .aokvqa: return aokvqa(slot, size, &rng)
        case .descriptions:
            let scene = MiniScene.natural(size: size, rng: &rng, count: 1...4)
            if rng.chance(0.5) {
                let prompt = rng.pick(["List the objects with their colours and places.", "Name each object, then its colour and place."])
                return sample(scene.render(), prompt, scene.listing, "listing", objects: scene)
            }
            let prompt = rng.pick(["Describe the image.", "What is in this picture?", "Give a short description of the image.",
                                   "Write a description of the image.", "Give the picture a caption."])
            return sample(scene.render(), prompt, scene.description, "description", objects: scene)
        }
    }

    static func sample(_ image: RGBImage, _ question: String, _ answer: String, _ type: String,
                       objects scene: MiniScene? = nil) -> MiniSample {
        MiniSample(id: "", task: .descriptions, image: image, question: "<image>\n" + question, answer: answer,
                   questionType: type, objects: scene.map { s in MiniObject.allCases.filter { s.kinds.contains($0) } } ?? [])
    }

    /// Ten annotator answers: mostly `answer`, a few from `others` (synonyms or mistakes).
    static func annotators(_ answer: String, others: [String], rng: inout SceneRandom) -> [String] {
        let disagree = others.isEmpty ? 0 : rng.int(0...3)
        var answers = Array(repeating: answer, count: 10 - disagree)
        for _ in 0..<disagree { answers.append(rng.pick(others)) }
        return rng.shuffled(answers)
    }

    /// A colour other than `colour`.
    static func otherColour(than colour: MiniColour, rng: inout SceneRandom) -> MiniColour {
        rng.pick(MiniColour.allCases.filter { $0 != colour })
    }

    // MARK: - Seen

    /// mini-vqav2's question types, one slot each in the round-robin: existence twice, so that
    /// yes/no is a third of the set, as in VQAv2.
    static let vqav2Types = ["exists", "exists", "any", "is-colour", "colour", "shape", "count", "position",
                             "count-all", "most", "least", "more"]
    /// The question types of mini-vqav2 answered with a number.
    static let countingTypes: Set<String> = ["count", "count-all"]
    /// The question types of mini-vqav2 answered yes or no.
    static let yesNoTypes: Set<String> = ["exists", "any", "is-colour"]

    /// VQAv2's kinds of question about photos: yes/no (is there, are there any, is it this
    /// colour), colour, shape, counts over 1…8, position, which kind there is most of, which
    /// there is only one of, and which of two named kinds there is more of.
    static func vqav2(_ slot: TaskSlot, _ size: Int, _ rng: inout SceneRandom) -> MiniSample {
        let colours = MiniColour.allCases, shapes = MiniObject.shapes, kinds = MiniObject.allCases
        let types = vqav2Types
        let classes = types.map { type -> Int in
            switch type {
            case "colour": return colours.count
            case "shape": return shapes.count
            case "count", "count-all": return 8
            case "position": return 3
            case "most", "least", "more": return kinds.count
            default: return 2
            }
        }
        let (slotIndex, cycled) = slot.typeAndClass(types: types.count) { classes[$0] }
        let type = types[slotIndex]
        // The second existence slot answers the opposite of the first in each round (the first
        // slot's draw, flipped), so that "exists" as a whole stays balanced to within one.
        let a = slotIndex == 1
            ? 1 - TaskSlot.balanced(slot.index / types.count, count: 2, seed: slot.seed, salt: 101) : cycled
        // Yes/no answers are unanimous: with VQA score (min(matching annotators / 3, 1)), three
        // dissenting annotators would give the wrong answer full credit, and "always no" would
        // score about 0.75 on the existence questions.
        func yesNo(_ scene: MiniScene, _ question: String) -> MiniSample {
            let answer = a == 0 ? "yes" : "no"
            return withReferences(sample(scene.render(), question, answer, type, objects: scene),
                                  annotators(answer, others: [], rng: &rng))
        }
        /// Counting scenes are laid out on a 3×3 or a 4×4 grid, as photos hold objects at many scales.
        func countingScene() -> MiniScene {
            var scene = MiniScene(size: size, grid: rng.chance(0.5) ? 3 : 4, rng: &rng)
            if scene.grid == 4 { scene.fill = 0.85 }
            return scene
        }
        switch type {
        case "exists", "any":
            // Half the negatives are objects that go with the scene's others but are absent (as
            // POPE's adversarial ones), half any absent object, so a scene's theme alone never answers.
            let scene = MiniScene.natural(size: size, rng: &rng)
            let absent = kinds.filter { !scene.kinds.contains($0) }
            let mates = absent.filter { k in scene.objects.contains { SceneTheme.of($0.kind).objects.contains(k) } }
            let kind = a == 0 ? rng.pick(scene.objects).kind : rng.pick(mates.isEmpty || rng.chance(0.5) ? absent : mates)
            let article = indefiniteArticle(kind.name)
            return type == "exists"
                ? yesNo(scene, asked(["Is there \(article) \(kind.name) in the image?", "Is there \(article) \(kind.name) in this picture?",
                                      "Do you see \(article) \(kind.name)?", "Can you see \(article) \(kind.name) here?",
                                      "Is there \(article) \(kind.name)?"], &rng))
                : yesNo(scene, asked(["Are there any \(kind.plural)?", "Are there any \(kind.plural) in the image?",
                                      "Does this picture show any \(kind.plural)?"], &rng))
        case "is-colour": // an attribute: is the named object of this colour
            let scene = MiniScene.natural(size: size, rng: &rng)
            let object = rng.pick(scene.objects)
            let colour = (a == 0 ? object.colour : otherColour(than: object.colour, rng: &rng)).rawValue
            return yesNo(scene, asked(["Is the \(object.kind.name) \(colour)?", "Is the \(object.kind.name) in the picture \(colour)?",
                                       "Is the colour of the \(object.kind.name) \(colour)?"], &rng))
        case "colour": // colour of a named object
            var scene = MiniScene.natural(size: size, rng: &rng)
            let t = rng.below(scene.objects.count)
            scene.objects[t].colour = colours[a]
            let answer = colours[a].rawValue
            return withReferences(sample(scene.render(), asked(["What colour is the \(scene.objects[t].kind.name)?", "What is the colour of the \(scene.objects[t].kind.name)?", "Which colour does the \(scene.objects[t].kind.name) have?"], &rng), answer, type, objects: scene),
                                  annotators(answer, others: colours.map(\.rawValue).filter { $0 != answer }, rng: &rng))
        case "shape": // shape of the only object of a colour
            let colour = rng.pick(colours)
            var scene = MiniScene(size: size, rng: &rng)
            scene.place(shapes[a], colour, rng: &rng)
            for _ in 0..<rng.int(1...3) {
                let kind = rng.pick(kinds.filter { !scene.kinds.contains($0) })
                scene.place(kind, otherColour(than: colour, rng: &rng), rng: &rng)
            }
            let answer = shapes[a].name
            return withReferences(sample(scene.render(), asked(["What shape is the \(colour.rawValue) object?", "What is the shape of the \(colour.rawValue) object?", "Which shape is \(colour.rawValue)?"], &rng), answer, type, objects: scene),
                                  annotators(answer, others: shapes.map(\.name).filter { $0 != answer }, rng: &rng))
        case "count": // count of a kind, 1…8, among up to two others
            let n = a + 1, kind = rng.pick(kinds)
            var scene = countingScene()
            for _ in 0..<n { scene.place(kind, rng.pick(colours), rng: &rng) }
            for _ in 0..<rng.int(0...min(scene.grid == 4 ? 4 : 2, scene.freeCells.count)) {
                scene.place(rng.pick(kinds.filter { $0 != kind }), rng.pick(colours), rng: &rng)
            }
            return counted(scene, asked(["How many \(kind.plural) are there?", "How many \(kind.plural) can you see?", "What is the number of \(kind.plural)?", "Count the \(kind.plural).", "How many \(kind.plural) are in the image?"], &rng), n, type, &rng)
        case "position": // column of a named object
            let where_ = ["left", "center", "right"][a]
            var scene = MiniScene(size: size, rng: &rng)
            let kind = rng.pick(kinds)
            scene.place(kind, rng.pick(colours), rng: &rng, columns: [a])
            for _ in 0..<rng.int(1...2) {
                scene.place(rng.pick(kinds.filter { !scene.kinds.contains($0) }), rng.pick(colours),
                            rng: &rng, columns: Set([0, 1, 2]).subtracting([a]))
            }
            return withReferences(sample(scene.render(), rng.pick(["Where is the \(kind.name)? Answer left, center or right.", "Is the \(kind.name) on the left, in the center or on the right?"]), where_, type, objects: scene),
                                  annotators(where_, others: ["middle"], rng: &rng))
        case "count-all": // every object counted, 1…8
            let n = a + 1
            var scene = countingScene()
            for _ in 0..<n { scene.place(rng.pick(kinds), rng.pick(colours), rng: &rng) }
            return counted(scene, asked(["How many objects are in this picture?", "How many objects are there?", "What is the number of objects?", "How many things can you see?", "How many objects are in the image?"], &rng), n, type, &rng)
        case "most": // the kind there is most of: 2…4 of it, fewer of one or two others
            let kind = kinds[a], top = rng.int(2...4)
            var scene = MiniScene(size: size, rng: &rng)
            for _ in 0..<top { scene.place(kind, rng.pick(colours), rng: &rng) }
            for other in rng.shuffled(kinds.filter { $0 != kind }).prefix(rng.int(1...2)) {
                for _ in 0..<min(rng.int(1...(top - 1)), scene.freeCells.count) { scene.place(other, rng.pick(colours), rng: &rng) }
            }
            return withReferences(sample(scene.render(), asked(["Which kind of object is there the most of?", "Which object appears most often?", "What is the most common object?"], &rng), kind.name, type, objects: scene),
                                  annotators(kind.name, others: [kind.plural], rng: &rng))
        case "more": // which of two named kinds there is more of: 2…4 of the answer, fewer of the other
            let kind = kinds[a], other = rng.pick(kinds.filter { $0 != kind }), top = rng.int(2...4)
            var scene = MiniScene(size: size, rng: &rng)
            for _ in 0..<top { scene.place(kind, rng.pick(colours), rng: &rng) }
            for _ in 0..<rng.int(1...(top - 1)) { scene.place(other, rng.pick(colours), rng: &rng) }
            let pair = rng.chance(0.5) ? (kind, other) : (other, kind)
            return withReferences(sample(scene.render(), asked(["Which is there more of, the \(pair.0.plural) or the \(pair.1.plural)?",
                                                                "Are there more \(pair.0.plural) or more \(pair.1.plural)?"], &rng),
                                         kind.name, type, objects: scene),
                                  annotators(kind.name, others: [kind.plural], rng: &rng))
        default: // "least": the kind there is only one of, beside two or more of one or two others
            let kind = kinds[a]
            var scene = MiniScene(size: size, rng: &rng)
            scene.place(kind, rng.pick(colours), rng: &rng)
            for other in rng.shuffled(kinds.filter { $0 != kind }).prefix(rng.int(1...2)) {
                for _ in 0..<min(rng.int(2...3), scene.freeCells.count) { scene.place(other, rng.pick(colours), rng: &rng) }
            }
            return withReferences(sample(scene.render(), asked(["Which kind of object is there only one of?", "Which object appears only once?", "What is the least common object?"], &rng), kind.name, type, objects: scene),
                                  annotators(kind.name, others: [], rng: &rng))
        }
    }

    /// Response-format prompts of LLaVA-1.5's kind, added to about half of the seen short-answer
    /// questions so that a trailing instruction is something the model has learnt to follow or
    /// ignore (the unseen sets' own prompts are not among them).
    static let formatPrompts = ["Answer the question using a single word or phrase.", "Answer in one word.",
                                "Give a short answer.", "Reply with a single word.", "Answer briefly."]

    /// One of a question's phrasings, sometimes with a response-format prompt after it.
    static func asked(_ forms: [String], _ rng: inout SceneRandom) -> String {
        let question = rng.pick(forms)
        return rng.chance(0.5) ? question + " " + rng.pick(formatPrompts) : question
    }

    /// A count answer with annotators who are sometimes off by one.
    static func counted(_ scene: MiniScene, _ question: String, _ n: Int, _ type: String,
                        _ rng: inout SceneRandom) -> MiniSample {
        withReferences(sample(scene.render(), question, String(n), type, objects: scene),
                       annotators(String(n), others: [String(max(1, n - 1)), String(n + 1)], rng: &rng))
    }

    static func withReferences(_ s: MiniSample, _ refs: [String]) -> MiniSample {
        var s = s
        s.references = refs
        return s
    }

    /// One large icon; the question needs a fact about it (OKVQA).
    static func okvqa(_ slot: TaskSlot, _ size: Int, _ rng: inout SceneRandom) -> MiniSample {
        let tables = [MiniFacts.usedFor, MiniFacts.foundIn]
        let (type, a) = slot.typeAndClass(types: 2) { tables[$0].count }
        let (kind, answer, synonyms) = tables[type][a]
        var scene = MiniScene(size: size, grid: 1, rng: &rng)
        scene.fill = 0.62 + 0.25 * rng.unit()
        scene.place(kind, rng.pick(MiniColour.allCases), rng: &rng)
        let question = type == 0 ? asked(["What is this object used for?", "What is this used for?", "What can this be used for?"], &rng)
            : asked(["Where is this usually found?", "Where would you usually find this?", "Where is this object found?"], &rng)
        return withReferences(sample(scene.render(), question, answer, type == 0 ? "used-for" : "found-in", objects: scene),
                              annotators(answer, others: synonyms, rng: &rng))
    }

    /// A book cover with a rendered word (OCR-VQA).
    static func ocrvqa(_ slot: TaskSlot, _ size: Int, _ rng: inout SceneRandom) -> MiniSample {
        let (type, a) = slot.typeAndClass(types: 2) { _ in MiniWords.all.count }
        let word = MiniWords.all[a]
        let image = bookCover(word, size: size, rng: &rng).image
        let question = type == 0 ? asked(["What word is written on the book?", "What does the cover say?", "Read the word on the cover."], &rng)
            : asked(["What is the title of this book?", "What is this book called?"], &rng)
        return sample(image, question, word, type == 0 ? "word" : "title")
    }

    /// The instruction mix's multiple-choice prompt (LLaVA-1.5's, for A-OKVQA).
    static let letterPrompt = "Answer with the option's letter from the given choices directly."

    /// A multiple-choice question as LLaVA-1.5 asks A-OKVQA and ScienceQA: the question, one
    /// lettered option per line ("A. red"), then `letterPrompt`.
    static func lettered(_ question: String, _ options: [String]) -> String {
        let listed = zip(["A", "B", "C", "D", "E"], options).map { "\($0). \($1)" }.joined(separator: "\n")
        return "\(question)\n\(listed)\n\(letterPrompt)"
    }

    /// Lettered multiple choice about photos (A-OKVQA): colour, shape, position, or what an
    /// object is for; options one per line.
    static func aokvqa(_ slot: TaskSlot, _ size: Int, _ rng: inout SceneRandom) -> MiniSample {
        let letters = ["A", "B", "C", "D"]
        let (type, a) = slot.typeAndClass(types: 4) { _ in 4 }
        var scene = MiniScene.natural(size: size, rng: &rng)
        var options: [String] = [], correct = "", question = ""
        switch type {
        case 0:
            let object = rng.pick(scene.objects)
            correct = object.colour.rawValue
            options = Array(rng.shuffled(MiniColour.allCases.map(\.rawValue).filter { $0 != correct }).prefix(3))
            question = rng.pick(["What colour is the \(object.kind.name)?", "Which of these colours is the \(object.kind.name)?"])
        case 1:
            scene = MiniScene(size: size, rng: &rng)
            let colour = rng.pick(MiniColour.allCases), shape = rng.pick(MiniObject.shapes)
            scene.place(shape, colour, rng: &rng)
            for _ in 0..<rng.int(1...2) {
                scene.place(rng.pick(MiniObject.icons.filter { !scene.kinds.contains($0) }), otherColour(than: colour, rng: &rng), rng: &rng)
            }
            correct = shape.name
            options = Array(rng.shuffled(MiniObject.shapes.map(\.name).filter { $0 != correct }).prefix(3))
            question = "What shape is the \(colour.rawValue) object?"
        case 2:
            let object = rng.pick(scene.objects)
            correct = scene.location(object)
            let places = ["top left", "top", "top right", "left", "center", "right", "bottom left", "bottom", "bottom right"]
            options = Array(rng.shuffled(places.filter { $0 != correct }).prefix(3))
            question = "Where is the \(object.kind.name)?"
        default:
            let (kind, answer, _) = rng.pick(MiniFacts.usedFor)
            scene = MiniScene(size: size, grid: 1, rng: &rng)
            scene.fill = 0.62 + 0.25 * rng.unit()
            scene.place(kind, rng.pick(MiniColour.allCases), rng: &rng)
            correct = answer
            options = Array(rng.shuffled(MiniFacts.usedFor.map(\.1).filter { $0 != answer }).prefix(3))
            question = "What is this object used for?"
        }
        options.insert(correct, at: a)
        var s = sample(scene.render(), lettered(question, options), letters[a],
                       ["colour", "shape", "position", "used-for"][type], objects: scene)
        s.options = options
        return s
    }

    /// A book cover in a random colour with `word` printed across it, and where each letter
    /// lies (x0, y0, x1, y1, half-open, in pixels).
    static func bookCover(_ word: String, size: Int, rng: inout SceneRandom)
        -> (image: RGBImage, letters: [(letter: Character, x0: Int, y0: Int, x1: Int, y1: Int)]) {
        let scene = MiniScene(size: size, rng: &rng)
        var image = RGBImage(width: size, height: size, fill: scene.background)
        let cover = rng.pick(MiniColour.allCases)
        let margin = size / 8
        let bx0 = rng.int(0...margin), by0 = rng.int(0...margin)
        let bx1 = size - rng.int(0...margin), by1 = size - rng.int(0...margin)
        image.fillRect(x0: bx0, y0: by0, x1: bx1, y1: by1, colour: cover.rgb)
        image.fillRect(x0: bx0, y0: by0, x1: bx0 + max(2, size / 16), y1: by1, colour: RGB(60, 45, 35)) // spine
        let ink = cover == .yellow || cover == .orange ? RGB(20, 20, 20) : RGB(250, 250, 250)
        let spine = max(2, size / 16) + 2
        let room = bx1 - bx0 - spine - 2
        var scale = max(1, room / (word.count * BitmapFont.advance))
        scale = min(scale, max(1, (by1 - by0) / 14))
        let tw = BitmapFont.width(of: word, scale: scale), th = BitmapFont.glyphHeight * scale
        let tx = bx0 + spine + max(0, (room - tw) / 2) + rng.int(-1...1)
        let ty = by0 + max(0, (by1 - by0 - th) / 3) + rng.int(0...max(0, (by1 - by0 - th) / 3))
        image.drawText(word, x: tx, y: ty, scale: scale, colour: ink)
        let letters = word.enumerated().map { k, letter in
            let x = tx + k * BitmapFont.advance * scale
            return (letter, x, ty, x + BitmapFont.glyphWidth * scale, ty + th)
        }
        return (image, letters)
    }

    // MARK: - Unseen

    /// Lettered multiple choice (ScienceQA-img) on diagrams: which object, what colour, how many;
    /// asked as LLaVA-1.5 asks ScienceQA, so what is new is the look and the content, not the layout.
    static func sqa(_ slot: TaskSlot, _ size: Int, _ rng: inout SceneRandom) -> MiniSample {
        let letters = ["A", "B", "C", "D"]
        let (type, a) = slot.typeAndClass(types: 3) { _ in 4 }
        var scene = MiniScene(size: size, rng: &rng)
        var options: [String] = [], correct = "", question = ""
        switch type {
        case 0: // which object is present: uniform kinds, no themes, so options carry no prior
            let kinds = Array(rng.shuffled(MiniObject.allCases).prefix(rng.int(1...3)))
            for k in kinds { scene.place(k, rng.pick(MiniColour.allCases), rng: &rng) }
            correct = rng.pick(kinds).name
            options = Array(rng.shuffled(MiniObject.allCases.filter { !kinds.contains($0) }).prefix(3)).map(\.name)
            question = "Which of these objects is in the image?"
        case 1:
            scene = MiniScene.natural(size: size, rng: &rng)
            let t = rng.below(scene.objects.count)
            correct = scene.objects[t].colour.rawValue
            options = Array(rng.shuffled(MiniColour.allCases.map(\.rawValue).filter { $0 != correct }).prefix(3))
            question = "What colour is the \(scene.objects[t].kind.name)?"
        default:
            let n = rng.int(1...6)
            for _ in 0..<n { scene.place(rng.pick(MiniObject.allCases), rng.pick(MiniColour.allCases), rng: &rng) }
            correct = String(n)
            options = Array(rng.shuffled((1...7).map(String.init).filter { $0 != correct }).prefix(3))
            question = "How many objects are in the image?"
        }
        scene.style = .diagram
        options.insert(correct, at: a)
        var s = sample(scene.render(), lettered(question, options), letters[a],
                       ["object", "colour", "count"][type], objects: scene)
        s.options = options
        return s
    }

    /// Degraded photos of one object; some cannot be answered (VizWiz).
    static func vizwiz(_ slot: TaskSlot, _ size: Int, _ rng: inout SceneRandom) -> MiniSample {
        let kinds: [MiniObject] = [.cup, .key, .umbrella, .apple, .car, .fish, .house]
        let colours = MiniColour.allCases
        let (type, a) = slot.typeAndClass(types: 2) { [kinds.count + 1, colours.count + 1][$0] }
        let classes = type == 0 ? kinds.map(\.name) : colours.map(\.rawValue)
        let unanswerable = a == classes.count
        let kind = unanswerable || type == 1 ? rng.pick(kinds) : kinds[a]
        let colour = unanswerable || type == 0 ? rng.pick(colours) : colours[a]
        var scene = MiniScene(size: size, grid: 1, rng: &rng)
        scene.fill = 0.55 + 0.25 * rng.unit()
        scene.place(kind, colour, rng: &rng)
        var image = RGBImage(width: size, height: size, fill: scene.background)
        let half = Double(size) * scene.fill / 2
        // Unanswerable: the object is almost out of frame, or the photo is very dark or blurred.
        let failure = unanswerable ? rng.below(3) : -1
        var cx = Double(size) / 2 + (rng.unit() - 0.5) * Double(size) * 0.25
        var cy = Double(size) / 2 + (rng.unit() - 0.5) * Double(size) * 0.25
        if failure == 0 {
            let side = rng.below(4), out = half * 0.85
            if side < 2 { cx = side == 0 ? -out : Double(size) + out } else { cy = side == 2 ? -out : Double(size) + out }
        }
        image.draw(kind, colour: colour.rgb, centreX: cx, centreY: cy, half: half)
        image = image.boxBlurred(radius: failure == 2 ? max(3, size / 10) : rng.int(0...1))
        image.scaleBrightness(failure == 1 ? 0.06 + 0.04 * rng.unit() : 0.6 + 0.4 * rng.unit())
        image.addNoise(amplitude: rng.int(6...(failure == 1 ? 10 : 30)), rng: &rng)
        let answer = unanswerable ? "unanswerable" : classes[a]
        let question = type == 0 ? "What is this?" : "What colour is this?"
        var s = sample(image, question, answer, type == 0 ? "what" : "colour")
        s.objects = failure >= 0 ? [] : [kind]
        s.references = annotators(answer, others: unanswerable ? classes : ["unanswerable"], rng: &rng)
        return s
    }

    /// Choose the text option about the icons (IconQA choose-txt): which is most, which only once.
    static func iconqaTxt(_ slot: TaskSlot, _ size: Int, _ rng: inout SceneRandom) -> MiniSample {
        let icons = MiniObject.icons
        let (type, a) = slot.typeAndClass(types: 2) { _ in icons.count }
        let target = icons[a]
        let others = Array(rng.shuffled(icons.filter { $0 != target }).prefix(2))
        var scene = MiniScene(size: size, grid: 4, rng: &rng)
        scene.fill = 0.85
        scene.style = .iconSheet
        let colour = rng.pick(MiniColour.allCases)
        let counts: [Int]
        if type == 0 { let top = rng.int(3...5); counts = [top, rng.int(1...(top - 1)), rng.int(1...(top - 1))] }
        else { counts = [1, rng.int(2...4), rng.int(2...4)] }
        for (k, n) in zip([target] + others, counts) { for _ in 0..<n { scene.place(k, colour, rng: &rng) } }
        let options = rng.shuffled([target] + others).map(\.name)
        // The options named in the question, as mini-vqav2 names positions ("on the left, in the
        // center or on the right").
        let named = options.map { "the " + $0 }
        let listed = named.dropLast().joined(separator: ", ") + " or " + named.last!
        let question = (type == 0 ? "Which object appears most often, " : "Which object appears only once, ") + listed + "?"
        var s = sample(scene.render(), question, target.name, type == 0 ? "most" : "once", objects: scene)
        s.options = options
        return s
    }

    /// Count the icons of one kind among others (IconQA fill-in-the-blank).
    static func iconqaBlank(_ slot: TaskSlot, _ size: Int, _ rng: inout SceneRandom) -> MiniSample {
        let n = slot.answer(count: 8) + 1
        let kind = rng.pick(MiniObject.icons)
        var scene = MiniScene(size: size, grid: 4, rng: &rng)
        scene.fill = 0.85
        scene.style = .iconSheet
        let colour = rng.pick(MiniColour.allCases)
        for _ in 0..<n { scene.place(kind, colour, rng: &rng) }
        let distractor = rng.pick(MiniObject.icons.filter { $0 != kind })
        for _ in 0..<rng.int(0...4) { scene.place(distractor, rng.pick(MiniColour.allCases), rng: &rng) }
        return sample(scene.render(), "How many \(kind.plural) are there? Answer with a number.", String(n), "count", objects: scene)
    }

    /// Captioning with five references (Flickr30k).
    static func flickr(_ slot: TaskSlot, _ size: Int, _ rng: inout SceneRandom) -> MiniSample {
        let scene = MiniScene.natural(size: size, rng: &rng, count: 1...3)
        let prompt = rng.pick(["Write a short caption for this image.", "Describe the image briefly.", "What does this picture show?"])
        let refs = scene.captions
        var s = sample(scene.render(), prompt, refs[0], "caption", objects: scene)
        s.references = refs
        s.objects = scene.objects.map(\.kind) // main object first, for the text-only baseline
        return s
    }

    // MARK: - Probe

    /// The objects most often present in natural scenes, most frequent first (POPE "popular").
    static let popularObjects: [MiniObject] = {
        var counts: [MiniObject: Int] = [:]
        for i in 0..<3000 {
            var rng = SceneRandom(0x504F5045, UInt64(i))
            for k in MiniScene.natural(size: 32, rng: &rng).kinds { counts[k, default: 0] += 1 }
        }
        return MiniObject.allCases.sorted { (counts[$0] ?? 0, $1.rawValue) > (counts[$1] ?? 0, $0.rawValue) }
    }()

    /// "Is there a {object} in the image?" with random, popular and adversarial negatives (POPE).
    static func pope(_ slot: TaskSlot, _ size: Int, _ rng: inout SceneRandom) -> MiniSample {
        let settings = POPESetting.allCases
        let (type, a) = slot.typeAndClass(types: 3) { _ in 2 }
        let setting = settings[type], yes = a == 0
        let object = setting == .popular ? rng.pick(Array(popularObjects.prefix(3))) : rng.pick(MiniObject.allCases)
        let mates = Set(SceneTheme.of(object).objects).subtracting([object])
        var scene = MiniScene.natural(size: size, rng: &rng)
        for _ in 0..<1000 {
            let has = scene.kinds.contains(object)
            let ok = yes ? has : (!has && (setting != .adversarial || !scene.kinds.isDisjoint(with: mates)))
            if ok { break }
            scene = MiniScene.natural(size: size, rng: &rng)
        }
        if yes && !scene.kinds.contains(object) { scene.objects[0].kind = object } // never reached in practice
        if !yes { scene.objects.removeAll { $0.kind == object } }
        var s = sample(scene.render(), "Is there \(indefiniteArticle(object.name)) \(object.name) in the image?", yes ? "yes" : "no",
                       setting.rawValue, objects: scene)
        s.popeSetting = setting
        s.queriedObject = object
        return s
    }
}
