// VQAExample: the one example type that training and evaluation read, made from a
// mini-suite sample or a LLaVA JSON record. Questions are stored without their `<image>`
// placeholder; the chat template puts `<image>\n` before the first question when the
// example has an image (as LLaVA's preprocess_multimodal moves the token to the front).

import Foundation

/// One question–answer turn of a conversation.
public struct VQATurn: Sendable, Equatable, Codable {
    public var question: String
    public var answer: String
    public init(question: String, answer: String) { self.question = question; self.answer = answer }
}

/// How a generated answer is read before it is scored.
public enum AnswerFormat: String, Sendable, Codable, CaseIterable {
    /// A word or short phrase: the first sentence of the first line.
    case shortAnswer = "short-answer"
    /// A letter naming one of `options` ("B", "(B) cat", "The answer is B."), or an option's text.
    case optionLetter = "option-letter"
    /// One of `options` by its text (or by its letter, in the order listed).
    case optionText = "option-text"
    /// A count: the first number, digits or a number word.
    case number
    /// Yes or no, read from the first sentence as the POPE code does.
    case yesNo = "yes-no"
    /// Free text: the first line.
    case caption
}

/// An image (or none), a conversation and what scoring needs.
public struct VQAExample: Sendable, Equatable {
    /// "mini-vqav2/test/3", or the record id of a LLaVA JSON file.
    public var id: String
    public var image: RGBImage?
    /// At least one turn; training supervises every answer, evaluation asks the first question.
    public var turns: [VQATurn]
    /// Multiple-choice options in order (letter A is the first).
    public var options: [String]
    /// Annotator answers (VQA score) or reference captions (CIDEr-D); empty: the answer alone.
    public var references: [String]
    public var metric: MiniMetric
    public var format: AnswerFormat
    /// The question template or, for POPE, its setting ("random", "popular", "adversarial").
    public var questionType: String?
    /// Canonical names of the objects in the image (CHAIR); empty when unknown.
    public var objects: [String]

    /// The first question, without `<image>`.
    public var question: String { turns.first?.question ?? "" }
    /// The first answer: the target of evaluation.
    public var answer: String { turns.first?.answer ?? "" }

    public init(id: String, image: RGBImage?, turns: [VQATurn], options: [String] = [], references: [String] = [],
                metric: MiniMetric = .accuracy, format: AnswerFormat = .shortAnswer, questionType: String? = nil,
                objects: [String] = []) {
        self.id = id; self.image = image; self.turns = turns; self.options = options
        self.references = references; self.metric = metric; self.format = format
        self.questionType = questionType; self.objects = objects
    }

    /// A one-turn example.
    public init(id: String, image: RGBImage?, question: String, answer: String, options: [String] = [],
                references: [String] = [], metric: MiniMetric = .accuracy, format: AnswerFormat = .shortAnswer,
                questionType: String? = nil, objects: [String] = []) {
        self.init(id: id, image: image, turns: [VQATurn(question: question, answer: answer)], options: options,
                  references: references, metric: metric, format: format, questionType: questionType, objects: objects)
    }

    /// A mini-suite sample with its dataset's metric and the answer format of its task.
    public init(_ sample: MiniSample) {
        let format: AnswerFormat
        switch sample.task {
        case .sqa, .aokvqa: format = .optionLetter
        case .iconqaTxt: format = .optionText
        case .iconqaBlank: format = .number
        case .pope: format = .yesNo
        case .flickr, .descriptions: format = .caption
        case .vqav2 where MiniTaskGenerator.countingTypes.contains(sample.questionType): format = .number
        case .vqav2 where MiniTaskGenerator.yesNoTypes.contains(sample.questionType): format = .yesNo
        default: format = .shortAnswer
        }
        var seen = Set<MiniObject>()
        self.init(id: sample.id, image: sample.image,
                  question: Self.removingImagePlaceholder(sample.question), answer: sample.answer,
                  options: sample.options, references: sample.references, metric: sample.task.metric, format: format,
                  questionType: sample.popeSetting?.rawValue ?? sample.questionType,
                  objects: sample.objects.filter { seen.insert($0).inserted }.map(\.name))
    }

    /// A LLaVA record: its human/gpt turns in pairs (a trailing human turn is dropped), scored by
    /// `metric` with `format`.
    public init(_ record: LlavaRecord, imageToken: String = "<image>", metric: MiniMetric = .accuracy,
                format: AnswerFormat = .shortAnswer) {
        var turns: [VQATurn] = []
        var i = 0
        while i + 1 < record.conversations.count {
            turns.append(VQATurn(question: Self.removingImagePlaceholder(record.conversations[i].value, token: imageToken),
                                 answer: record.conversations[i + 1].value))
            i += 2
        }
        self.init(id: record.id, image: record.image, turns: turns, metric: metric, format: format)
    }

    /// The question without `token` and the line break that joins it to the text
    /// ("<image>\nWhat is it?" and "What is it?\n<image>" both give "What is it?").
    public static func removingImagePlaceholder(_ text: String, token: String = "<image>") -> String {
        guard text.contains(token) else { return text }
        return text.components(separatedBy: token)
            .map { $0.trimmingWhitespace() }
            .filter { !$0.isEmpty }
            .joined(separator: "\n")
    }
}

extension MiniDataset {
    /// The samples as examples for training and evaluation.
    public var examples: [VQAExample] { samples.map(VQAExample.init) }
}

extension MiniObject {
    /// Words naming objects in captions (names and plurals) → canonical names, for CHAIR.
    public static let captionVocabulary: [String: String] = {
        var words: [String: String] = [:]
        for object in allCases { words[object.name] = object.name; words[object.plural] = object.name }
        return words
    }()
}
