// `peftlab recipe tiny-llava`: re-makes the built-in model from nothing.

import ArgumentParser
import Foundation
import PEFTLib

struct RecipeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recipe",
        abstract: "Re-make the built-in tiny-llava: tokenizer, alignment on captions, instruction tuning on the seen mix.",
        discussion: "Writes config.json, model.safetensors, tokenizer.json, tokenizer_config.json, "
            + "preprocessor_config.json and scores.json (zero-shot scores on every mini test set).")

    @Argument(help: "The recipe to run (tiny-llava).") var name: String
    @Option(help: "Output folder.") var out = "models/tiny-llava"
    @Option(help: "Steps of the alignment stage.") var alignmentSteps: Int?
    @Option(help: "Steps of the instruction-tuning stage.") var instructionSteps: Int?
    @Option(help: "Test samples per dataset for the zero-shot table.") var evaluationExamples: Int?
    @Flag(help: "A few steps on a few examples (checks the recipe runs; the model learns nothing).") var quick = false

    func run() throws {
        guard name == TinyLlava.name else { throw ValidationError("unknown recipe '\(name)'; recipes: \(TinyLlava.name)") }
        var recipe = quick ? TinyLlavaRecipe.quick() : TinyLlavaRecipe()
        if let alignmentSteps { recipe.alignmentSteps = alignmentSteps }
        if let instructionSteps { recipe.instructionSteps = instructionSteps }
        if let evaluationExamples { recipe.evaluationExamples = evaluationExamples }
        try recipe.run(output: out) { line in
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }
}
