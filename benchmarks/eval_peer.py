#!/usr/bin/env python3
"""PyTorch + transformers peer of PEFTLib's EvaluationBenchmark (`peftlab bench eval`).

The tiny shape of DESIGN.md §5 (llava-hf LlavaForConditionalGeneration, random weights,
float32, torch.set_num_threads(2) unless --threads): a batch of 8 prompts
`[bos, <image>×16, 20 text tokens]` (37 positions, as the Swift side's
`<s> USER: <image>\\n{16 words} ASSISTANT:`), random pixels, greedy `generate` with the KV
cache and exactly 8 new tokens (no end token). answers/s = batch / median seconds per call.
Tokenising, image preprocessing and decoding are not timed here (tensors are prepared).

Prints one JSON object {"peer": "pytorch", "torch", "transformers", "threads", "rows": [...]}
with one row {"phase": "generate", "batch", "promptTokens", "newTokens", "seconds", "answersPerSecond"}.
"""
import argparse
import json
import statistics
import time

import torch
import transformers
from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

VISION = dict(hidden_size=128, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
              image_size=32, patch_size=8)
TEXT = dict(hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=4,
            num_key_value_heads=4, vocab_size=1024, max_position_embeddings=512)


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
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--prompt-tokens", type=int, default=37)
    parser.add_argument("--new-tokens", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    features = (VISION["image_size"] // VISION["patch_size"]) ** 2
    image = TEXT["vocab_size"] - 1
    config = LlavaConfig(vision_config=CLIPVisionConfig(hidden_act="quick_gelu", **VISION),
                         text_config=LlamaConfig(tie_word_embeddings=False, **TEXT),
                         image_token_index=image, projector_hidden_act="gelu", vision_feature_layer=-2,
                         vision_feature_select_strategy="default", image_seq_length=features)
    torch.manual_seed(1)
    model = LlavaForConditionalGeneration(config).float().eval()
    g = torch.Generator().manual_seed(2)
    text = args.prompt_tokens - 1 - features
    ids = torch.tensor([[1] + [image] * features + torch.randint(6, image, (text,), generator=g).tolist()
                        for _ in range(args.batch)])
    mask = torch.ones_like(ids)
    side = VISION["image_size"]
    pixels = torch.randn(args.batch, 3, side, side, generator=g)

    def generate():
        with torch.no_grad():
            model.generate(input_ids=ids, attention_mask=mask, pixel_values=pixels, do_sample=False,
                           max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
                           eos_token_id=None, pad_token_id=0)

    seconds = median_seconds(args.repeats, generate)
    row = dict(phase="generate", batch=args.batch, promptTokens=args.prompt_tokens, newTokens=args.new_tokens,
               seconds=seconds, answersPerSecond=args.batch / seconds)
    print(json.dumps(dict(peer="pytorch", torch=torch.__version__, transformers=transformers.__version__,
                          threads=torch.get_num_threads(), rows=[row]), indent=1))


if __name__ == "__main__":
    main()
