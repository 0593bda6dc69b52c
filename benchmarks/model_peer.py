#!/usr/bin/env python3
"""PyTorch + transformers peer of PEFTLib's ModelBenchmark (`peftlab bench model`).

Same shapes as DESIGN.md §5 (llava-hf LlavaForConditionalGeneration, random weights,
float32, torch.set_num_threads(2) unless --threads; rows of `text` tokens plus the image
features), same phases:

- "train full LLM": forward of the loss + backward, vision tower frozen, projector and
  the whole language model trainable; rows `[bos, <image>×features, text…]` of the
  given length (image features included), labels on the second half of the text;
  tokens/s = batch · length / median step time (no optimizer step, as on the Swift side);
- "generate": greedy `generate` with the KV cache, prompts = the first length − 16
  tokens of each row, 16 new tokens per row (no end token); tokens/s = batch · 16 / time.

With --train-method M (`peftlab bench train`, one process per shape and method): whole
training steps — loss, backward, AdamW (lr 1e-4), zero_grad — with M attached by peft
(LoRA r 8 α 16 dropout 0.05 on q,v or all seven; IA3 on k, v, down; 20 prefix tokens) or,
for the bottleneck adapter that peft lacks, by the study's definition (the reference module
of tools/make_peft_fixtures.py), or the whole LLM ("full"); vision tower and connector
frozen. Prints {"tokensPerSecond", "seconds", "trainableParameters", "peakResidentBytes"}.

Otherwise prints one JSON object {"peer": "pytorch", "torch", "transformers", "threads", "rows": [...]}
with rows named like the Swift ones (model, phase, batch, tokens, seconds, tokensPerSecond).
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import transformers
from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

SHAPES = [
    dict(name="tiny", batch=8, tokens=48,
         vision=dict(hidden_size=128, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
                     image_size=32, patch_size=8),
         text=dict(hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=4,
                   num_key_value_heads=4, vocab_size=1024, max_position_embeddings=512)),
    dict(name="small", batch=4, tokens=79,
         vision=dict(hidden_size=384, intermediate_size=1536, num_hidden_layers=6, num_attention_heads=6,
                     image_size=224, patch_size=32),
         text=dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                   num_key_value_heads=3, vocab_size=49152, max_position_embeddings=2048)),
]


def build(shape):
    features = (shape["vision"]["image_size"] // shape["vision"]["patch_size"]) ** 2
    image = shape["text"]["vocab_size"] - 1
    config = LlavaConfig(vision_config=CLIPVisionConfig(hidden_act="quick_gelu", **shape["vision"]),
                         text_config=LlamaConfig(tie_word_embeddings=False, **shape["text"]),
                         image_token_index=image, projector_hidden_act="gelu", vision_feature_layer=-2,
                         vision_feature_select_strategy="default", image_seq_length=features)
    torch.manual_seed(1)
    model = LlavaForConditionalGeneration(config).float()
    for p in model.model.vision_tower.parameters():
        p.requires_grad_(False)
    g = torch.Generator().manual_seed(2)
    shape["length"] = shape["tokens"] + features
    text = shape["tokens"] - 1
    rows, labels = [], []
    for _ in range(shape["batch"]):
        words = torch.randint(3, image, (text,), generator=g).tolist()
        rows.append([1] + [image] * features + words)
        labels.append([-100] * (1 + features + text // 2) + words[text // 2:])
    side = shape["vision"]["image_size"]
    pixels = torch.randn(shape["batch"], 3, side, side, generator=g)
    return model, torch.tensor(rows), torch.tensor(labels), pixels


def median_seconds(repeats, body):
    body()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def attach(model, method):
    """Freezes all but the method's parameters (vision tower and connector stay frozen)."""
    from peft import IA3Config, LoraConfig, PrefixTuningConfig, get_peft_model
    for p in model.parameters():
        p.requires_grad_(False)
    if method == "full":
        for p in model.model.language_model.parameters():
            p.requires_grad_(True)
        for p in model.lm_head.parameters():
            p.requires_grad_(True)
        return model
    language = r"model\.language_model\.layers\.\d+\.(self_attn|mlp)\."
    if method == "lora-qv":
        config = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, target_modules=language + "(q_proj|v_proj)")
    elif method == "lora-all":
        config = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05,
                            target_modules=language + "(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)")
    elif method == "ia3":
        config = IA3Config(target_modules=language + "(k_proj|v_proj|down_proj)", feedforward_modules=["down_proj"])
    elif method == "prefix":
        config = PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=20)
    elif method == "adapter":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
        from make_peft_fixtures import BottleneckReference
        for layer in model.model.language_model.layers:
            layer.mlp.gate_proj = BottleneckReference(layer.mlp.gate_proj, 64, "input")
            layer.mlp.up_proj = BottleneckReference(layer.mlp.up_proj, 64, "input")
            layer.mlp.down_proj = BottleneckReference(layer.mlp.down_proj, 64, "output")
        return model
    else:
        raise SystemExit(f"unknown method {method}")
    return get_peft_model(model, config)


def train_step_row(shape, method, repeats):
    model, ids, labels, pixels = build(shape)
    model = attach(model, method)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=0.0)

    def step():
        loss = model(input_ids=ids, pixel_values=pixels, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    seconds = median_seconds(repeats, step)
    return dict(model=shape["name"], method=method, tokensPerSecond=shape["batch"] * shape["length"] / seconds,
                seconds=seconds, trainableParameters=sum(p.numel() for p in trainable),
                peakResidentBytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--models", nargs="*", default=["tiny", "small"])
    parser.add_argument("--train-method", help="time whole training steps of one method on the first model")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.train_method:
        shape = next(s for s in SHAPES if s["name"] == args.models[0])
        print(json.dumps(train_step_row(shape, args.train_method, args.repeats)))
        return
    rows = []
    for shape in SHAPES:
        if shape["name"] not in args.models:
            continue
        model, ids, labels, pixels = build(shape)
        model.train()

        def step():
            loss = model(input_ids=ids, pixel_values=pixels, labels=labels).loss
            loss.backward()
            model.zero_grad(set_to_none=True)

        seconds = median_seconds(args.repeats, step)
        rows.append(dict(model=shape["name"], phase="train full LLM", batch=shape["batch"], tokens=shape["length"],
                         seconds=seconds, tokensPerSecond=shape["batch"] * shape["length"] / seconds))
        model.eval()
        prompts = ids[:, : shape["length"] - args.new_tokens]
        mask = torch.ones_like(prompts)

        def generate():
            with torch.no_grad():
                model.generate(input_ids=prompts, attention_mask=mask, pixel_values=pixels, do_sample=False,
                               max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
                               eos_token_id=None, pad_token_id=0)

        seconds = median_seconds(max(1, args.repeats // 2), generate)
        rows.append(dict(model=shape["name"], phase="generate", batch=shape["batch"], tokens=args.new_tokens,
                         seconds=seconds, tokensPerSecond=shape["batch"] * args.new_tokens / seconds))
    print(json.dumps(dict(peer="pytorch", torch=torch.__version__, transformers=transformers.__version__,
                          threads=torch.get_num_threads(), rows=rows), indent=1))


if __name__ == "__main__":
    main()
