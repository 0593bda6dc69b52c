// `peftlab recipe tiny-llava`: re-makes the built-in model from nothing.

import ArgumentParser
import Foundation
import PEFTLib

struct RecipeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recipe",
        abstract: "Re-make the built-in tiny-llava: tokenizer, alignment on descriptions, instruction tuning on the seen mix, ship gate.",
        discussion: "Writes config.json, model.safetensors, tokenizer.json, tokenizer_config.json, "
            + "preprocessor_config.json and scores.json (zero-shot scores with 95 % intervals, chance levels and the gate's "
            + "checks) — only when the model passes its gate. Checkpoints go to <out>.recipe every few minutes; "
            + "--resume continues an interrupted run.")

    @Argument(help: "The recipe to run (tiny-llava).") var name: String
    @Option(help: "Output folder.") var out = "models/tiny-llava"
    @Option(help: "Steps of the alignment stage.") var alignmentSteps: Int?
    @Option(help: "Steps of the instruction-tuning stage.") var instructionSteps: Int?
    @Option(help: "Test samples per dataset for the gate.") var evaluationExamples: Int?
    @Flag(help: "Continue from the checkpoints of an interrupted run.") var resume = false
    @Flag(help: "Delete an earlier run's checkpoints and start over.") var fresh = false
    @Flag(help: "Score the latest checkpoint of a run in progress on --evaluation-examples test items per set (default 100); writes nothing.")
    var evaluateCheckpoint = false
    @Flag(help: "Score the model already in --out with the gate (--evaluation-examples items per set, default 500) and rewrite its scores.json; trains nothing.")
    var score = false
    @Flag(help: "A few steps on a few examples (checks the recipe runs; the model learns nothing, the gate is not enforced).")
    var quick = false

    func run() throws {
        guard name == TinyLlava.name else { throw ValidationError("unknown recipe '\(name)'; recipes: \(TinyLlava.name)") }
        var recipe = quick ? TinyLlavaRecipe.quick() : TinyLlavaRecipe()
        if let alignmentSteps { recipe.alignmentSteps = alignmentSteps }
        if let instructionSteps { recipe.instructionSteps = instructionSteps }
        if let evaluationExamples { recipe.evaluationExamples = evaluationExamples }
        if score {
            try recipe.score(folder: out, examples: evaluationExamples ?? 500) { line in
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
            return
        }
        if evaluateCheckpoint {
            try recipe.evaluateCheckpoint(output: out, examples: evaluationExamples ?? 100) { line in
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
            return
        }
        let interrupted = InterruptFlag.install()
        do {
            try recipe.run(output: out, resume: resume, fresh: fresh, isCancelled: { interrupted.isSet }) { line in
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
        } catch let error as TinyLlavaRecipeError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Set by SIGINT or SIGTERM, so that the recipe saves a checkpoint before it stops.
final class InterruptFlag: @unchecked Sendable {
    nonisolated(unsafe) static var shared: InterruptFlag?
    private let flag = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)

    var isSet: Bool { flag.pointee != 0 }

    static func install() -> InterruptFlag {
        let f = InterruptFlag()
        f.flag.pointee = 0
        shared = f
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { _ in
                if let f = InterruptFlag.shared {
                    if f.flag.pointee != 0 { _exit(130) }
                    f.flag.pointee = 1
                }
            }
        }
        return f
    }
}
