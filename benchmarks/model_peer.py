#!/usr/bin/env python3
"""PyTorch + transformers peer of PEFTLib's ModelBenchmark (`peftlab bench model`).

Same shapes as DESIGN.md §5 (llava-hf LlavaForConditionalGeneration, random weights,
float32, torch.set_num_threads(2) unless --threads), same phases:

- "train full LLM": forward of the loss + backward, vision tower frozen, projector and
  the whole language model trainable; rows `[bos, <image>×features, text…]` of the
  given length (image features included), labels on the second half of the text;
  tokens/s = batch · length / median step time (no optimizer step, as on the Swift side);
- "generate": greedy `generate` with the KV cache, prompts = the first length − 16
  tokens of each row, 16 new tokens per row (no end token); tokens/s = batch · 16 / time.

Prints one JSON object {"peer": "pytorch", "torch", "transformers", "threads", "rows": [...]}
with rows named like the Swift ones (model, phase, batch, tokens, seconds, tokensPerSecond).
"""
import argparse
import json
import statistics
import time

import torch
import transformers
from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

SHAPES = [
    dict(name="tiny", batch=8, length=48,
         vision=dict(hidden_size=128, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
                     image_size=32, patch_size=8),
         text=dict(hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=4,
                   num_key_value_heads=4, vocab_size=1024, max_position_embeddings=512)),
    dict(name="small", batch=4, length=79,
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
    text = shape["length"] - 1 - features
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--models", nargs="*", default=["tiny", "small"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
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
