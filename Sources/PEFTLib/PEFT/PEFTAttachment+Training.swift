// What an optimizer must see once a method is attached: the model's trainable parameters
// plus prefix-tuning's encoder, which sits beside the model (the attention layers call it)
// rather than in its module tree.

extension PEFTAttachment {
    /// The model's trainable parameters, then the prefix encoder's under `prompt_encoder.`
    /// (peft's name for it), in a stable order.
    public func trainableParameters(in model: any Module) -> [(path: String, tensor: Tensor)] {
        let prefixParameters = prefix?.trainableParameters().map { (path: "prompt_encoder." + $0.path, tensor: $0.tensor) } ?? []
        return model.trainableParameters() + prefixParameters
    }
}
