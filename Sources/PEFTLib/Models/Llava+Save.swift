// Writes a LLaVA model in the llava-hf layout transformers reads: config.json and
// model.safetensors keyed by transformers 5's parameter names.

import Foundation

extension LlavaForConditionalGeneration {
    /// Writes config.json and model.safetensors (Float32) into `directory`, creating it.
    /// The weights are written to a temporary file and renamed.
    /// - Throws: `PEFTError.unsupported` when PEFT layers are attached (merge or detach them first).
    public func save(directory: String) throws {
        let adapted = adaptedModulePaths(in: self)
        guard adapted.isEmpty else {
            throw PEFTError.unsupported("the model carries PEFT layers (\(adapted.prefix(2).joined(separator: ", ")), …); "
                                        + "merge or detach them before saving the base model")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var writer = SafetensorsWriter()
        for (path, tensor) in namedParameters() {
            if config.textConfig.tieWordEmbeddings && path == "lm_head.weight" { continue }
            try requireWeights(tensor)
            try writer.add(path, shape: tensor.shape, values: tensor.toArray())
        }
        try writer.write(to: (directory as NSString).appendingPathComponent("model.safetensors"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(config).write(to: URL(fileURLWithPath: (directory as NSString).appendingPathComponent("config.json")),
                                         options: .atomic)
    }
}
