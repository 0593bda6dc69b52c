// explain(method) and explain(adapted): a teaching view of a PEFT method — where it
// sits in a Llama decoder block (a diagram with its insertion points highlighted),
// its formula (LaTeX and Markdown) and what it costs. For a method alone the cost is a
// formula in the model's dimensions; for an adapted model it is evaluated on that
// model's own dimensions, read from the PEFT layers PEFTLib put in, and ends in
// PEFTLib's count (PEFTAttachment.addedParameterCount) with the trainable share.

import Foundation
import PEFTLabJSON
import PEFTLib

enum ExplainBuiltins {
    static var all: [Builtin] { [explain] }

    static let explain = Builtin(
        "explain", [Parameter(nil, "Method or AdaptedModel")], returns: "Explanation",
        doc: """
            Where a PEFT method sits in a Llama decoder block, its formula and its cost. \
            `explain(lora(rank: 8))` draws the block with the method's insertion points highlighted, \
            gives its formula and its added parameters as a formula in the model's dimensions; \
            `explain(attach(model, method))` evaluates that formula on the model (the total is PEFTLib's \
            count) and adds the trainable share. Members: `.sites`, `.added`, `.trainable`, `.latex`, \
            `.markdown`, `.svg`.
            """
    ) { args, _ throws(RuntimeError) in
        switch args[0] {
        case .object(let m as MethodObject):
            return .object(ExplanationObject(try Explanation(method: m.method, location: args.location)))
        case .object(let m as ModelObject):
            guard let attachment = m.attachment else {
                throw RuntimeError(.value, "explain(): this model has no PEFT method attached; explain a method, "
                                   + "explain(lora()), or an adapted model, explain(attach(model, lora()))", at: args.location)
            }
            return .object(ExplanationObject(Explanation(model: m, attachment: attachment)))
        default:
            throw args.fail(at: 0, "a Method such as lora(rank: 8), or an adapted model", got: args[0])
        }
    }
}
