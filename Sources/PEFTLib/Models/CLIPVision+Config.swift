// The CLIP vision tower's configuration (CLIPVisionModel, or the vision_config of a LLaVA).

import Foundation

// MARK: - CLIP vision

/// The configuration of a CLIP vision tower (`CLIPVisionModel`, model_type `clip_vision_model`).
public struct CLIPVisionConfig: Codable, Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var imageSize: Int
    public var patchSize: Int
    public var numChannels: Int
    public var layerNormEps: Float
    public var hiddenAct: HiddenActivation
    /// Width of CLIP's visual projection; unused by LLaVA, kept for round trips.
    public var projectionDim: Int

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case imageSize = "image_size", patchSize = "patch_size", numChannels = "num_channels"
        case layerNormEps = "layer_norm_eps", hiddenAct = "hidden_act", projectionDim = "projection_dim"
        case modelType = "model_type"
    }

    /// Builds and validates a config; the defaults are those of `transformers.CLIPVisionConfig` (ViT-B/32).
    public init(hiddenSize: Int = 768, intermediateSize: Int = 3072, numHiddenLayers: Int = 12,
                numAttentionHeads: Int = 12, imageSize: Int = 224, patchSize: Int = 32, numChannels: Int = 3,
                layerNormEps: Float = 1e-5, hiddenAct: HiddenActivation = .quickGELU, projectionDim: Int = 512) throws {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.numChannels = numChannels
        self.layerNormEps = layerNormEps
        self.hiddenAct = hiddenAct
        self.projectionDim = projectionDim
        try validate()
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let type: String = try c.optional(.modelType), type != "clip_vision_model" {
            throw ConfigError(field: "model_type", problem: "expected \"clip_vision_model\", found \"\(type)\"")
        }
        let act: String = try c.value(.hiddenAct, default: "quick_gelu")
        guard let activation = HiddenActivation(rawValue: act), activation == .quickGELU || activation == .gelu else {
            throw ConfigError(field: "hidden_act", problem: "unsupported activation \"\(act)\" (CLIP uses \"quick_gelu\" or \"gelu\")")
        }
        try self.init(hiddenSize: c.value(.hiddenSize, default: 768),
                      intermediateSize: c.value(.intermediateSize, default: 3072),
                      numHiddenLayers: c.value(.numHiddenLayers, default: 12),
                      numAttentionHeads: c.value(.numAttentionHeads, default: 12),
                      imageSize: c.value(.imageSize, default: 224),
                      patchSize: c.value(.patchSize, default: 32),
                      numChannels: c.value(.numChannels, default: 3),
                      layerNormEps: c.value(.layerNormEps, default: 1e-5),
                      hiddenAct: activation,
                      projectionDim: c.value(.projectionDim, default: 512))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("clip_vision_model", forKey: .modelType)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(imageSize, forKey: .imageSize)
        try c.encode(patchSize, forKey: .patchSize)
        try c.encode(numChannels, forKey: .numChannels)
        try c.encode(layerNormEps, forKey: .layerNormEps)
        try c.encode(hiddenAct, forKey: .hiddenAct)
        try c.encode(projectionDim, forKey: .projectionDim)
    }

    private func validate() throws {
        try requirePositive(hiddenSize, "hidden_size")
        try requirePositive(intermediateSize, "intermediate_size")
        try requirePositive(numHiddenLayers, "num_hidden_layers")
        try requirePositive(numAttentionHeads, "num_attention_heads")
        try requirePositive(imageSize, "image_size")
        try requirePositive(patchSize, "patch_size")
        try requirePositive(numChannels, "num_channels")
        guard hiddenAct == .quickGELU || hiddenAct == .gelu else {
            throw ConfigError(field: "hidden_act", problem: "unsupported activation \"\(hiddenAct.rawValue)\" (CLIP uses \"quick_gelu\" or \"gelu\")")
        }
        guard layerNormEps > 0 else { throw ConfigError(field: "layer_norm_eps", problem: "must be positive, found \(layerNormEps)") }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw ConfigError(field: "num_attention_heads",
                              problem: "hidden_size \(hiddenSize) is not divisible by num_attention_heads \(numAttentionHeads)")
        }
        guard imageSize % patchSize == 0 else {
            throw ConfigError(field: "patch_size", problem: "image_size \(imageSize) is not a multiple of patch_size \(patchSize)")
        }
    }

    /// Per-head width.
    public var headDim: Int { hiddenSize / numAttentionHeads }
    /// Patches along one side of the image.
    public var patchesPerSide: Int { imageSize / patchSize }
    /// Patches per image (576 for ViT-L/14 at 336).
    public var numPatches: Int { patchesPerSide * patchesPerSide }
    /// Positions: the class token plus the patches.
    public var numPositions: Int { numPatches + 1 }
    /// Inputs of the patch embedding seen as a matmul: channels × patch × patch.
    public var patchInputSize: Int { numChannels * patchSize * patchSize }
}
