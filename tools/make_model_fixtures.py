#!/usr/bin/env python3
"""Writes the model-parity fixtures of Tests/PEFTLibTests/Fixtures/models/.

Each fixture is a small random checkpoint built and saved by `transformers` itself
(save_pretrained, safetensors) plus `expected.safetensors` beside it holding, for
fixed inputs: the inputs (input_ids, attention_mask, labels, pixel_values), the
logits, the loss and the gradients (`grad.<parameter key>`) of a few chosen
parameters, computed in float32 with every parameter trainable and eager attention.

Fixtures:
  llava-gqa   LLaVA: tiny CLIP + Llama with grouped-query attention (4 heads, 2 kv heads)
  llava-odd   LLaVA with odd sizes (text hidden 45, head_dim 16 given explicitly,
              intermediate 67, vocab 97; vision hidden 27, 3 heads of 9) and right padding
  llama-tied  text-only LlamaForCausalLM with tied embeddings and GQA (kv heads 1); also
              prefix-expected.safetensors: peft prefix-tuning (3 virtual tokens) on it

Prefix-tuning references (peft's PrefixTuningConfig, 3 virtual tokens, run on the checkpoint as
saved, with the fixture's inputs, the image included for LLaVA), each in its own file beside the
checkpoint:
  llama-tied/prefix-projection-expected.safetensors    with the reparameterisation MLP (hidden 16)
  llava-gqa/prefix-expected.safetensors,
  llava-gqa/prefix-projection-expected.safetensors,
  llava-odd/prefix-projection-expected.safetensors     the same on LLaVA
These hold the prefix parameters under peft's encoder names (`embedding.weight`,
`transform.0.weight`, `transform.0.bias`, `transform.2.weight`, `transform.2.bias`), their
gradients (`grad.<name>`), the logits of the real tokens and the loss. peft sizes the prefix by
the key/value width (num_key_value_heads · head_dim, its `token_dim` after the grouped-query
adjustment): the embedding is (P, token_dim) with the MLP, (P, 2·L·token_dim) without it.

Key layouts: transformers 5 names parameters in memory `model.language_model.…`,
`model.vision_tower.embeddings.…` (no `vision_model.`), `model.multi_modal_projector.…`,
`lm_head.weight` (the gradient keys below use these), but save_pretrained writes the
legacy llava-hf prefixes `language_model.model.…`, `language_model.lm_head.weight`,
`vision_tower.…`, `multi_modal_projector.…`; checkpoints on the Hub written by
transformers 4 also have `vision_tower.vision_model.…`. PEFTLib loads all three.

The input ids carry the `<image>` token already expanded to one id per patch
feature, as the installed transformers (>= 4.48 / 5.x) processors produce them.

Run:  .venv/bin/python tools/make_model_fixtures.py
"""
import json
import os
import shutil

import torch
from safetensors.torch import save_file
from transformers import (CLIPVisionConfig, LlamaConfig, LlamaForCausalLM, LlavaConfig,
                          LlavaForConditionalGeneration)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "PEFTLibTests", "Fixtures", "models")
torch.set_num_threads(2)


def randomize(model, seed, std=0.2):
    """Random weights large enough that every layer matters (norm weights near 1, biases non-zero)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight") or "layrnorm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(std * torch.randn(p.shape, generator=g))


def greedy_reference(model, prompts, pad, max_new_tokens=6, pixel_values=None):
    """transformers' own greedy generate on left-padded prompts (no end token): (B, new) ids."""
    length = max(len(p) for p in prompts)
    ids = torch.tensor([[pad] * (length - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (length - len(p)) + [1] * len(p) for p in prompts])
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = pad
    extra = {} if pixel_values is None else {"pixel_values": pixel_values}
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=max_new_tokens,
                             min_new_tokens=max_new_tokens, **extra)
    new = out[:, length:]
    tensors = {"generate.input_ids": ids, "generate.attention_mask": mask, "generate.output_ids": new.contiguous()}
    if pixel_values is not None:
        tensors["generate.pixel_values"] = pixel_values
    return tensors


def save(name, model, inputs, chosen, extra=None, generation=None):
    out = os.path.join(ROOT, name)
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out, safe_serialization=True)
    model.train(False)
    for p in model.parameters():
        p.requires_grad_(True)
        p.grad = None
    result = model(**inputs)
    result.loss.backward()
    params = dict(model.named_parameters())
    tensors = {
        "logits": result.logits.detach().float().contiguous(),
        "loss": result.loss.detach().reshape(1).float(),
    }
    for key in chosen:
        grad = params[key].grad
        assert grad is not None, key
        tensors["grad." + key] = grad.detach().float().contiguous()
    for key, value in inputs.items():
        tensors[key] = value.contiguous()
    if generation:
        tensors.update(generation)
    save_file(tensors, os.path.join(out, "expected.safetensors"))
    info = {"loss": result.loss.item(), "gradients": chosen,
            "transformers_keys": sorted(model.state_dict().keys())[:3]}
    if extra:
        info.update(extra)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(info, f, indent=1)
    size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print(f"{name}: loss {result.loss.item():.6f}, {size / 1024:.0f} KiB")


def llava_inputs(config, batch, text_before, text_after, seed, pad_last=0):
    """Rows: [bos, text_before…, <image>×features, text_after…]; labels on text_after; optional right padding."""
    g = torch.Generator().manual_seed(seed)
    features = (config.vision_config.image_size // config.vision_config.patch_size) ** 2
    vocab = config.text_config.vocab_size
    image = config.image_token_index
    rows, labels, masks = [], [], []
    for b in range(batch):
        before = torch.randint(3, image, (text_before,), generator=g).tolist()
        after = torch.randint(3, image, (text_after,), generator=g).tolist()
        ids = [1] + before + [image] * features + after
        lab = [-100] * (1 + text_before + features) + after
        mask = [1] * len(ids)
        if b == batch - 1 and pad_last:
            for i in range(len(ids) - pad_last, len(ids)):
                ids[i], lab[i], mask[i] = 0, -100, 0
        rows.append(ids); labels.append(lab); masks.append(mask)
    assert image < vocab
    pixels = torch.randn(batch, 3, config.vision_config.image_size, config.vision_config.image_size, generator=g)
    return {"input_ids": torch.tensor(rows), "attention_mask": torch.tensor(masks),
            "pixel_values": pixels, "labels": torch.tensor(labels)}


def make_llava(name, vision, text, image_token, seed, chosen_text, pad_last=0, batch=2):
    config = LlavaConfig(vision_config=CLIPVisionConfig(**vision), text_config=LlamaConfig(**text),
                         image_token_index=image_token, projector_hidden_act="gelu",
                         vision_feature_layer=-2, vision_feature_select_strategy="default",
                         image_seq_length=(vision["image_size"] // vision["patch_size"]) ** 2)
    config._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).float()
    model.config._attn_implementation = "eager"
    randomize(model, seed)
    inputs = llava_inputs(config, batch, 3, 5, seed + 1, pad_last=pad_last)
    chosen = [
        "model.vision_tower.embeddings.patch_embedding.weight",
        "model.vision_tower.embeddings.class_embedding",
        "model.vision_tower.embeddings.position_embedding.weight",
        "model.vision_tower.pre_layrnorm.weight",
        "model.vision_tower.encoder.layers.0.self_attn.q_proj.weight",
        "model.vision_tower.encoder.layers.0.mlp.fc1.bias",
        "model.multi_modal_projector.linear_1.weight",
        "model.multi_modal_projector.linear_2.bias",
        "model.language_model.embed_tokens.weight",
        "model.language_model.layers.0.self_attn.k_proj.weight",
        "model.language_model.layers.1.mlp.down_proj.weight",
        "model.language_model.norm.weight",
        "lm_head.weight",
    ] + chosen_text
    features = config.image_seq_length
    image = config.image_token_index
    prompts = [[1, 7] + [image] * features + [20, 21, 22], [1] + [image] * features + [40]]
    pixels = torch.randn(2, 3, config.vision_config.image_size, config.vision_config.image_size,
                         generator=torch.Generator().manual_seed(seed + 2))
    model.train(False)
    generation = greedy_reference(model, prompts, pad=0, pixel_values=pixels)
    save(name, model, inputs, chosen, generation=generation)
    return inputs


def make_llama_tied(seed=7):
    config = LlamaConfig(hidden_size=32, intermediate_size=72, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=1, vocab_size=64, max_position_embeddings=64,
                         tie_word_embeddings=True, rope_theta=500.0, rms_norm_eps=1e-5)
    config._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).float()
    randomize(model, seed)
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(3, 64, (2, 9), generator=g)
    labels = ids.clone()
    labels[:, :3] = -100
    mask = torch.ones_like(ids)
    mask[1, -2:] = 0
    ids[1, -2:] = 0
    labels[1, -2:] = -100
    inputs = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    chosen = ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
              "model.layers.0.self_attn.v_proj.weight", "model.layers.1.mlp.gate_proj.weight",
              "model.layers.1.post_attention_layernorm.weight", "model.norm.weight"]
    model.train(False)
    generation = greedy_reference(model, [[1, 5, 9, 12, 7], [1, 30], [1, 3, 3, 8]], pad=0, max_new_tokens=8)
    save("llama-tied", model, inputs, chosen, generation=generation)
    save_prefix_reference("llama-tied", model, inputs)
    save_prefix_encoder_reference("llama-tied", LlamaForCausalLM, inputs, projection=True)


def save_prefix_reference(name, model, inputs, tokens=3, seed=5):
    """peft prefix-tuning (no projection) on the saved model: the (P, 2·L·d) prefix table, the
    logits of the real tokens, the loss and the table's gradient, in prefix-expected.safetensors."""
    from peft import PrefixTuningConfig, get_peft_model
    peft_model = get_peft_model(model, PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=tokens))
    table = peft_model.prompt_encoder["default"].embedding.weight
    with torch.no_grad():
        table.normal_(0, 0.5, generator=torch.Generator().manual_seed(seed))
    table.grad = None
    result = peft_model(**inputs)
    result.loss.backward()
    tensors = {"prefix": table.detach().clone().contiguous(), "logits": result.logits.detach().contiguous(),
               "loss": result.loss.detach().reshape(1), "grad.prefix": table.grad.detach().contiguous()}
    save_file(tensors, os.path.join(ROOT, name, "prefix-expected.safetensors"))
    print(f"{name} prefix: loss {result.loss.item():.6f}")


def save_prefix_encoder_reference(name, model_class, inputs, projection, tokens=3, encoder_hidden=16, seed=11):
    """peft prefix-tuning on the checkpoint saved in `name`, with or without the reparameterisation
    MLP: every prefix parameter (random, biases non-zero), the logits, the loss and the gradient
    of every prefix parameter, in prefix[-projection]-expected.safetensors."""
    from peft import PrefixTuningConfig, get_peft_model
    folder = os.path.join(ROOT, name)
    model = model_class.from_pretrained(folder, attn_implementation="eager").float()
    model.train(False)
    config = PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=tokens, prefix_projection=projection,
                                encoder_hidden_size=encoder_hidden if projection else None)
    peft_model = get_peft_model(model, config)
    encoder = peft_model.prompt_encoder["default"]
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in encoder.named_parameters():
            # The table is used as keys and values directly; through the MLP, tanh stays unsaturated.
            p.copy_((0.5 if p.dim() > 1 else 0.2) * torch.randn(p.shape, generator=g))
    encoder.zero_grad()
    result = peft_model(**inputs)
    result.loss.backward()
    tensors = {"logits": result.logits.detach().contiguous(), "loss": result.loss.detach().reshape(1)}
    for key, p in encoder.named_parameters():
        tensors[key] = p.detach().clone().contiguous()
        tensors["grad." + key] = p.grad.detach().contiguous()
    file = "prefix-projection-expected.safetensors" if projection else "prefix-expected.safetensors"
    save_file(tensors, os.path.join(folder, file))
    shapes = {k: list(v.shape) for k, v in tensors.items() if not k.startswith("grad.")}
    print(f"{name} {file}: loss {result.loss.item():.6f}, token_dim {peft_model.peft_config['default'].token_dim}, "
          f"{shapes}, {os.path.getsize(os.path.join(folder, file)) / 1024:.0f} KiB")


if __name__ == "__main__":
    os.makedirs(ROOT, exist_ok=True)
    gqa_inputs = make_llava("llava-gqa",
               vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                           image_size=16, patch_size=4, projection_dim=16, hidden_act="quick_gelu"),
               text=dict(hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=128, max_position_embeddings=128,
                         rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=False),
               image_token=127, seed=1,
               chosen_text=["model.language_model.layers.0.self_attn.q_proj.weight",
                            "model.language_model.layers.0.mlp.gate_proj.weight"])
    odd_inputs = make_llava("llava-odd",
               vision=dict(hidden_size=27, intermediate_size=53, num_hidden_layers=2, num_attention_heads=3,
                           image_size=15, patch_size=5, projection_dim=16, hidden_act="quick_gelu"),
               text=dict(hidden_size=45, intermediate_size=67, num_hidden_layers=2, num_attention_heads=3,
                         num_key_value_heads=1, head_dim=16, vocab_size=97, max_position_embeddings=64,
                         rope_theta=1000.0, rms_norm_eps=1e-5, tie_word_embeddings=False),
               image_token=96, seed=2, pad_last=3,
               chosen_text=["model.language_model.layers.1.self_attn.o_proj.weight",
                            "model.language_model.layers.0.mlp.up_proj.weight"])
    make_llama_tied()
    save_prefix_encoder_reference("llava-gqa", LlavaForConditionalGeneration, gqa_inputs, projection=False)
    save_prefix_encoder_reference("llava-gqa", LlavaForConditionalGeneration, gqa_inputs, projection=True)
    save_prefix_encoder_reference("llava-odd", LlavaForConditionalGeneration, odd_inputs, projection=True)
    for folder, _, files in os.walk(ROOT):
        for f in files:
            os.chmod(os.path.join(folder, f), 0o644)
