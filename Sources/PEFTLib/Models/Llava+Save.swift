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
        try AtomicFiles.write(Array(try encoder.encode(config)),
                              to: (directory as NSString).appendingPathComponent("config.json"))
    }
}

extension LlavaForConditionalGeneration {
    /// An independent copy of a model without PEFT layers: same configuration, its own
    /// weights (a meta model gives a meta copy) and the same trainable flags.
    /// - Throws: `PEFTError.unsupported` when PEFT layers are attached.
    public func copy() throws -> LlavaForConditionalGeneration {
        let adapted = adaptedModulePaths(in: self)
        guard adapted.isEmpty, model.languageModel.prefixKeyValues == nil else {
            throw PEFTError.unsupported("copy the base model before attaching a method, not after")
        }
        let copy = try LlavaForConditionalGeneration(config: config, initialization: isMeta ? .meta : .random(seed: 0))
        if !isMeta {
            for ((_, from), (_, to)) in zip(namedParameters(), copy.namedParameters()) {
                try to.assign(from.toArray())
                to.requiresGrad = from.requiresGrad
            }
        }
        return copy
    }
}
