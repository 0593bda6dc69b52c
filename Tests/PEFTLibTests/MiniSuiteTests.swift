// MiniSuiteTests: the built-in mini suite: determinism, disjoint splits,
// balanced answers, the no-image baseline (the question alone predicts no
// better than chance), POPE's adversarial negatives, and the docs grids.
import Foundation
import PEFTLib
import PEFTLabBenchmarks
import Testing

/// What a text-only model should predict for a sample: the answer, or for captions the main object.
private func textOnlyLabel(_ s: MiniSample) -> String {
    s.task == .flickr ? s.objects.first?.name ?? "" : s.answer
}

@Suite struct MiniSuiteTests {
    @Test(arguments: MiniTask.allCases)
    func sameSeedSameBytesOtherSeedOtherBytes(task: MiniTask) {
        for i in 0..<4 {
            let a = MiniDataset.sample(task, split: .train, index: i, seed: 7)
            let b = MiniDataset.sample(task, split: .train, index: i, seed: 7)
            #expect(a == b)
        }
        let one = (0..<6).map { MiniDataset.sample(task, split: .test, index: $0, seed: 1).image }
        let two = (0..<6).map { MiniDataset.sample(task, split: .test, index: $0, seed: 2).image }
        #expect(one != two)
    }

    @Test(arguments: MiniTask.allCases)
    func trainValidationAndTestShareNoImage(task: MiniTask) {
        let train = Set(MiniDataset(task, split: .train, size: 400, seed: 3, imageSize: 32).samples.map(\.image.pixels))
        let validation = Set(MiniDataset(task, split: .validation, size: 150, seed: 3, imageSize: 32).samples.map(\.image.pixels))
        let test = Set(MiniDataset(task, split: .test, size: 150, seed: 3, imageSize: 32).samples.map(\.image.pixels))
        #expect(train.isDisjoint(with: test) && train.isDisjoint(with: validation) && validation.isDisjoint(with: test))
        #expect(test.count > 100 && validation.count > 100) // scenes are varied, not a handful repeated
    }

    @Test func defaultSizesAndSplitNames() {
        #expect(MiniTask.sqa.defaultSize(.train) == 1000)
        #expect(MiniTask.sqa.defaultSize(.validation) == 500 && MiniTask.sqa.defaultSize(.test) == 500)
        #expect(MiniSplit.allCases.map(\.rawValue) == ["train", "validation", "test"])
        #expect(MiniDataset.sample(.vqav2, split: .validation, index: 3).id == "mini-vqav2/validation/3")
    }

    /// The unseen families look different from the seen photos: mini-sqa is a diagram on white
    /// paper with a dark frame, mini-iconqa a ruled blue sheet; seen sets have pale tinted corners.
    @Test func unseenFamiliesDifferVisuallyFromTheSeenOnes() {
        func corner(_ task: MiniTask, _ i: Int) -> RGB { MiniDataset.sample(task, split: .test, index: i).image[0, 0] }
        func centreRow(_ task: MiniTask, _ i: Int) -> [RGB] {
            let image = MiniDataset.sample(task, split: .test, index: i).image
            return (0..<image.width).map { image[$0, 16] }
        }
        for i in 0..<12 {
            #expect(corner(.sqa, i) == RGB(25, 25, 30))
            #expect(centreRow(.sqa, i).contains(RGB(255, 255, 255)))
            for task in [MiniTask.iconqaTxt, .iconqaBlank] { #expect(corner(task, i) == RGB(150, 165, 195), "\(task)") }
            for task in [MiniTask.vqav2, .okvqa, .aokvqa, .pope, .flickr] {
                let c = corner(task, i)
                #expect(c.r >= 214 && c.g >= 214 && c.b >= 214 && c != RGB(255, 255, 255), "\(task) \(c)")
            }
        }
    }

    /// The seen mix teaches the skills the unseen sets reuse: about a third of mini-vqav2 is
    /// yes/no (4 of its 12 question slots, half of them "no"), its counts cover 1…8
    /// (mini-iconqa-blank asks up to 8), and it asks to pick one of the kinds it names
    /// (as mini-iconqa-txt does).
    @Test func theSeenMixTeachesYesNoAndTheWholeCountRange() {
        let vqav2 = MiniDataset(.vqav2, split: .train, size: 960).samples
        let yesNo = vqav2.filter { ["yes", "no"].contains($0.answer) }
        #expect(yesNo.count == 320 && yesNo.filter { $0.answer == "no" }.count == 160)
        // Unanimous, so that the wrong answer never earns VQA-score credit.
        #expect(yesNo.allSatisfy { s in s.references.allSatisfy { $0 == s.answer } })
        let named = vqav2.filter { $0.questionType == "more" }
        #expect(named.count == 80 && named.allSatisfy { $0.question.contains(MiniObject(rawValue: $0.answer)!.plural) })
        let counts = Set(vqav2.filter { $0.questionType.hasPrefix("count") }.map(\.answer))
        #expect(counts == Set((1...8).map(String.init)))
        let lettered = MiniDataset(.aokvqa, split: .train, size: 40).samples
        #expect(lettered.allSatisfy { $0.question.hasSuffix("Answer with the option's letter from the given choices directly.") })
        #expect(Set(lettered.map(\.answer)) == ["A", "B", "C", "D"])
        #expect(MiniDataset.sample(.ocrvqa, split: .train, index: 0).answer.allSatisfy { $0.isUppercase })
    }

    /// Chance levels and ceilings, computed with each set's metric.
    @Test func chanceLevelsAndCeilings() {
        let sqa = MiniBaseline.of(.sqa, testSize: 200, imageSize: 32)
        #expect(abs(sqa.chance - 0.25) < 1e-9 && sqa.ceiling == 1)
        #expect(abs(MiniBaseline.of(.iconqaTxt, testSize: 200, imageSize: 32).chance - 1.0 / 3) < 1e-9)
        let blank = MiniBaseline.of(.iconqaBlank, testSize: 400, imageSize: 32)
        #expect(blank.chance > 0.08 && blank.chance < 0.18, "\(blank)")
        #expect(MiniBaseline.of(.pope, testSize: 300, imageSize: 32).chance == 0.5)
        let vizwiz = MiniBaseline.of(.vizwiz, testSize: 300, imageSize: 32)
        #expect(vizwiz.chance < 0.3 && vizwiz.ceiling > 0.95 && vizwiz.ceiling <= 1)
        let flickr = MiniBaseline.of(.flickr, testSize: 200, imageSize: 32)
        #expect(flickr.chance < flickr.ceiling - 0.5, "\(flickr)")
    }

    @Test func formatMetricsAndGroups() {
        let expected: [MiniTask: (MiniGroup, MiniMetric)] = [
            .sqa: (.unseen, .accuracy), .vizwiz: (.unseen, .vqaScore), .iconqaTxt: (.unseen, .accuracy),
            .iconqaBlank: (.unseen, .accuracy), .flickr: (.unseen, .ciderD), .okvqa: (.seen, .vqaScore),
            .ocrvqa: (.seen, .accuracy), .vqav2: (.seen, .vqaScore), .pope: (.probe, .pope),
        ]
        for task in MiniTask.evaluation {
            #expect(task.group == expected[task]!.0 && task.metric == expected[task]!.1, "\(task)")
            let data = MiniDataset(task, split: .test, size: 12, imageSize: 48)
            #expect(data.count == 12)
            for s in data.samples {
                #expect(s.image.width == 48 && s.image.height == 48)
                #expect(s.question.hasPrefix("<image>\n") && !s.answer.isEmpty && s.task == task)
                #expect(s.id.hasPrefix("\(task.rawValue)/test/"))
                switch task.metric {
                case .vqaScore: #expect(s.references.count == 10 && s.references.filter { $0 == s.answer }.count >= 7)
                case .ciderD: #expect(s.references.count == 5 && s.references[0] == s.answer)
                case .pope: #expect(s.popeSetting != nil && ["yes", "no"].contains(s.answer) && s.queriedObject != nil)
                default: break
                }
            }
        }
        let sqa = MiniDataset.sample(.sqa, split: .train, index: 0)
        #expect(sqa.options.count == 4 && ["A", "B", "C", "D"].contains(sqa.answer))
        #expect(MiniDataset(named: "mini-vqav2", split: .train, size: 1) != nil)
        #expect(MiniDataset(named: "mini-nope", split: .train, size: 1) == nil)
    }

    @Test func popeAnswersMatchTheScene() {
        for s in MiniDataset(.pope, split: .train, size: 90).samples {
            let present = s.objects.contains(s.queriedObject!)
            #expect(present == (s.answer == "yes"), "\(s.id)")
        }
    }

    /// Within each question template every answer appears equally often (±1).
    @Test(arguments: MiniTask.evaluation.filter { $0 != .flickr } + [.aokvqa])
    func answersAreBalanced(task: MiniTask) {
        let data = MiniDataset(task, split: .train, size: 600, seed: 5)
        var counts: [String: [String: Int]] = [:]
        for s in data.samples { counts[s.questionType, default: [:]][s.answer, default: 0] += 1 }
        for (type, byAnswer) in counts {
            let values = byAnswer.values
            #expect(values.max()! - values.min()! <= 1, "\(task) \(type): \(byAnswer)")
        }
    }

    /// The no-image baseline: the best answer predictable from the question text alone
    /// (majority answer for the exact question on train; else the most frequent option or
    /// answer) scores near chance on test, for every task.
    @Test(arguments: MiniTask.evaluation)
    func questionAloneScoresNearChance(task: MiniTask) {
        let train = MiniDataset(task, split: .train, size: 800, seed: 11, imageSize: 32)
        let test = MiniDataset(task, split: .test, size: 300, seed: 11, imageSize: 32)
        var byQuestion: [String: [String: Int]] = [:], overall: [String: Int] = [:]
        var labelsPerType: [String: Set<String>] = [:]
        for s in train.samples {
            byQuestion[s.question, default: [:]][textOnlyLabel(s), default: 0] += 1
            overall[textOnlyLabel(s), default: 0] += 1
            labelsPerType[s.questionType, default: []].insert(textOnlyLabel(s))
        }
        func best(_ counts: [String: Int], among allowed: [String]? = nil) -> String {
            counts.filter { allowed?.contains($0.key) ?? true }.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key ?? ""
        }
        var hits = 0.0, chance = 0.0
        for s in test.samples {
            let guess: String
            if let seen = byQuestion[s.question] { guess = best(seen) }
            else if !s.options.isEmpty, task != .sqa { guess = best(overall, among: s.options) }
            else { guess = best(overall) }
            if guess == textOnlyLabel(s) { hits += 1 }
            chance += s.options.isEmpty ? 1 / Double(labelsPerType[s.questionType]!.count) : 1 / Double(s.options.count)
        }
        let accuracy = hits / Double(test.count), level = chance / Double(test.count)
        print("no-image baseline \(task.rawValue): \(String(format: "%.3f", accuracy)) (chance \(String(format: "%.3f", level)))")
        #expect(accuracy <= level + 0.07, "\(task): text-only \(accuracy) vs chance \(level)")
    }

    /// Adversarial POPE negatives are objects that co-occur with those present;
    /// random negatives are not.
    @Test func adversarialNegativesCoOccurMoreThanRandomOnes() {
        var together: [MiniObject: [MiniObject: Int]] = [:], seen: [MiniObject: Int] = [:]
        for s in MiniDataset(.descriptions, split: .train, size: 2000, seed: 4, imageSize: 32).samples {
            for a in s.objects {
                seen[a, default: 0] += 1
                for b in s.objects where b != a { together[a, default: [:]][b, default: 0] += 1 }
            }
        }
        func coOccurrence(_ s: MiniSample) -> Double { // max over present p of P(queried | p)
            s.objects.map { Double(together[$0]?[s.queriedObject!] ?? 0) / Double(max(1, seen[$0] ?? 0)) }.max() ?? 0
        }
        let negatives = MiniDataset(.pope, split: .test, size: 600, seed: 4, imageSize: 32).samples.filter { $0.answer == "no" }
        func mean(_ setting: POPESetting) -> Double {
            let xs = negatives.filter { $0.popeSetting == setting }.map(coOccurrence)
            return xs.reduce(0, +) / Double(xs.count)
        }
        let adversarial = mean(.adversarial), random = mean(.random)
        print("POPE negatives co-occurrence: adversarial \(adversarial), random \(random), popular \(mean(.popular))")
        #expect(adversarial > 2 * random)
    }

    @Test func benchmarkReportsPositiveRates() {
        let r = benchmarkDataPipeline(imageSize: 64, samples: 90)
        print("data benchmark (64×64): generation \(Int(r.generationImagesPerSecond)) images/s, "
              + "PNG decode + preprocess \(Int(r.decodePreprocessImagesPerSecond)) images/s, "
              + "preprocess \(Int(r.preprocessImagesPerSecond)) images/s")
        #expect(r.generationImagesPerSecond > 0 && r.decodePreprocessImagesPerSecond > 0 && r.preprocessImagesPerSecond > 0)
    }

    /// Writes docs/mini-suite/<task>.png (12 samples each) and README.md; only with PEFTLAB_WRITE_DOCS=1.
    @Test func writeDocsGrids() throws {
        guard ProcessInfo.processInfo.environment["PEFTLAB_WRITE_DOCS"] == "1" else { return }
        let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = root.appendingPathComponent("docs/mini-suite")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var readme = "# The mini suite\n\nTwelve test samples of each dataset (seed 0, 64×64), written by "
            + "`PEFTLAB_WRITE_DOCS=1 swift test --filter writeDocsGrids`. Tiles read left to right, top to bottom.\n"
        for task in MiniTask.allCases {
            let data = MiniDataset(task, split: .test, size: 12)
            let scaled = data.samples.map { $0.image.resizedNearest(factor: 2) }
            try RGBImage.grid(scaled, columns: 6, gap: 4).writePNG(to: dir.appendingPathComponent("\(task.rawValue).png").path)
            var chance = ""
            if MiniTask.evaluation.contains(task) || task == .aokvqa {
                let b = MiniBaseline.of(task)
                chance = " (chance " + String(format: "%.3f", b.chance) + ": \(b.chanceRule); ceiling " + String(format: "%.3f", b.ceiling) + ")"
            }
            readme += "\n## \(task.rawValue)\n\nAnalogue of \(task.analogue); group \(task.group.rawValue); "
                + "metric \(task.metric.rawValue)\(chance).\n\n![\(task.rawValue)](\(task.rawValue).png)\n\n| # | question | answer |\n|---|---|---|\n"
            for (i, s) in data.samples.enumerated() {
                let q = s.question.replacingOccurrences(of: "<image>\n", with: "").replacingOccurrences(of: "\n", with: " ")
                let extra = s.popeSetting.map { " (\($0.rawValue))" } ?? ""
                readme += "| \(i + 1) | \(q)\(extra) | \(s.answer) |\n"
            }
        }
        try readme.write(to: dir.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
    }
}

extension RGBImage {
    /// Each pixel repeated `factor` times in both directions (for viewing small tiles).
    fileprivate func resizedNearest(factor: Int) -> RGBImage {
        var out = RGBImage(width: width * factor, height: height * factor)
        for y in 0..<out.height { for x in 0..<out.width { out[x, y] = self[x / factor, y / factor] } }
        return out
    }
}
