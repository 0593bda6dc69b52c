// Prefix-tuning attached with `attach` against peft's PrefixTuningConfig (tools/make_model_fixtures.py):
// with the reparameterisation MLP on the text-only llama-tied, and on LLaVA with an image in the
// input (llava-gqa: table and MLP; llava-odd, head_dim given explicitly: MLP). The encoder has
// peft's parameters with peft's shapes (sized by the key/value width, peft's grouped-query
// `token_dim`); with peft's values, logits match within 1e-4, the loss within 1e-5 relative and
// the gradient of every prefix parameter within 1e-3 relative.

import Foundation
import Testing
import PEFTLib

/// A peft prefix reference beside a model fixture, and the model with the prefix attached to it.
private struct PrefixReference {
    let fixture: ModelFixture
    let expected: SafetensorsFile
    let model: any Module
    let encoder: PrefixEncoder

    /// Loads `model/file`, attaches prefix-tuning sized as the reference and copies peft's values in.
    init(model name: String, file: String) throws {
        fixture = try ModelFixture(name)
        expected = try SafetensorsFile(path: fixture.directory + "/" + file)
        model = name.hasPrefix("llava") ? try LlavaForConditionalGeneration.load(directory: fixture.directory)
            : try LlamaForCausalLM.load(directory: fixture.directory)
        let projection = expected.contains("transform.0.weight")
        let tokens = try expected.info("embedding.weight").shape[0]
        let encoderHidden = projection ? try expected.info("transform.0.weight").shape[0] : nil
        let attachment = try attach(method: .prefix(tokens: tokens, projection: projection, encoderHiddenSize: encoderHidden),
                                    to: model)
        encoder = try #require(attachment.prefix)
    }

    /// The reference's parameter names (peft's encoder names), sorted.
    var parameterNames: [String] {
        expected.names.filter { !$0.hasPrefix("grad.") && $0 != "logits" && $0 != "loss" }.sorted()
    }

    /// Logits on the fixture's inputs (with the image for LLaVA).
    func logits() throws -> Tensor {
        let ids = try fixture.rows("input_ids"), mask = try fixture.rows("attention_mask")
        if let llava = model as? LlavaForConditionalGeneration {
            return try llava.logits(inputIds: ids, pixelValues: fixture.pixelValues, attentionMask: mask)
        }
        return try #require(model as? LlamaForCausalLM).logits(inputIds: ids, attentionMask: mask)
    }

    /// The loss on the fixture's inputs and labels.
    func loss() throws -> Tensor {
        let ids = try fixture.rows("input_ids"), mask = try fixture.rows("attention_mask"), labels = try fixture.rows("labels")
        if let llava = model as? LlavaForConditionalGeneration {
            return try llava.loss(inputIds: ids, pixelValues: fixture.pixelValues, attentionMask: mask, labels: labels)
        }
        return try #require(model as? LlamaForCausalLM).loss(inputIds: ids, attentionMask: mask, labels: labels)
    }
}

@Suite struct PrefixParityTests {
    @Test(arguments: ["llama-tied/prefix-projection-expected.safetensors", "llava-gqa/prefix-expected.safetensors",
                      "llava-gqa/prefix-projection-expected.safetensors", "llava-odd/prefix-projection-expected.safetensors"])
    func attachedPrefixMatchesPeft(reference path: String) throws {
        let parts = path.split(separator: "/").map(String.init)
        let reference = try PrefixReference(model: parts[0], file: parts[1])
        let encoder = reference.encoder
        let parameters = encoder.namedParameters()

        // peft's parameters, names and shapes.
        #expect(parameters.map(\.path).sorted() == reference.parameterNames, "\(path)")
        for (name, tensor) in parameters {
            #expect(tensor.shape == (try reference.expected.info(name).shape), "\(path) \(name)")
            try tensor.assign(try reference.expected.floats(name))
        }
        #expect(reference.model.trainableParameters().isEmpty)      // the model is frozen; only the encoder trains

        let logits = try withNoGrad { try reference.logits() }
        #expect(logits.shape == (try reference.expected.info("logits").shape))
        let logitsError = maxAbsDifference(logits.toArray(), try reference.expected.floats("logits"))
        #expect(logitsError <= 1e-4, "\(path)")

        let loss = try reference.loss()
        try loss.backward()
        let expectedLoss = try reference.expected.floats("loss")[0]
        let lossError = abs(try loss.item() - expectedLoss) / abs(expectedLoss)
        #expect(lossError <= 1e-5, "\(path)")
        var worst: Float = 0
        for (name, tensor) in parameters {
            let grad = try #require(tensor.grad, "\(path): no gradient for \(name)")
            let error = maxRelativeDifference(grad.toArray(), try reference.expected.floats("grad." + name))
            worst = max(worst, error)
            #expect(error <= 1e-3, "\(path) \(name)")
        }
        print("\(path): max |Δ logits| \(logitsError), loss rel. error \(lossError), worst gradient rel. error \(worst)")
    }
}
