#!/usr/bin/env python3
"""Checks that transformers loads the shipped tiny-llava (models/tiny-llava) and writes what it
computes there, for PEFTLib's parity test, into Tests/PEFTLibTests/Fixtures/tiny-llava/:

  input.png                 a 64×64 test image (random blocks of colour, made here from a seed)
  expected.safetensors      prompt_ids (the tokenizer's ids of the prompt, <image> not expanded),
                            input_ids (<image> expanded to the 64 features), pixel_values (the
                            image processor's output), logits of the last 8 positions, and
                            generated (16 greedy new tokens, generate() with the KV cache)
  expected.json             the prompt, the decoded answer and the library versions

The model is loaded with LlavaForConditionalGeneration.from_pretrained, the tokenizer with
AutoTokenizer and the image processor with AutoImageProcessor, all from the shipped folder,
in float32 with eager attention. Re-run after re-making the model (`peftlab recipe tiny-llava`).

Run:  .venv/bin/python tools/make_tiny_llava_fixtures.py
"""
import json
import os

import numpy as np
import torch
import transformers
from PIL import Image
from safetensors.torch import save_file
from transformers import AutoImageProcessor, AutoTokenizer, LlavaForConditionalGeneration

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODEL = os.path.join(ROOT, "models", "tiny-llava")
OUT = os.path.join(ROOT, "Tests", "PEFTLibTests", "Fixtures", "tiny-llava")
PROMPT = "USER: <image>\nWhat colour is the circle? ASSISTANT:"


def test_image():
    rng = np.random.default_rng(7)
    pixels = np.full((64, 64, 3), 240, dtype=np.uint8)
    for _ in range(4):
        x, y = rng.integers(0, 48, size=2)
        pixels[y:y + 16, x:x + 16] = rng.integers(0, 256, size=3)
    return Image.fromarray(pixels)


def main():
    os.makedirs(OUT, exist_ok=True)
    model = LlavaForConditionalGeneration.from_pretrained(MODEL, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    processor = AutoImageProcessor.from_pretrained(MODEL)
    image = test_image()
    image.save(os.path.join(OUT, "input.png"))
    pixel_values = processor(images=image, return_tensors="pt")["pixel_values"].float()
    prompt_ids = tokenizer(PROMPT, return_tensors="pt").input_ids[0]
    image_id = model.config.image_token_index
    features = model.config.image_seq_length
    ids = []
    for token in prompt_ids.tolist():
        ids += [image_id] * features if token == image_id else [token]
    input_ids = torch.tensor([ids])
    with torch.no_grad():
        logits = model(input_ids=input_ids, pixel_values=pixel_values).logits[0, -8:]
        generated = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), pixel_values=pixel_values,
                                   do_sample=False, max_new_tokens=16, eos_token_id=None,
                                   pad_token_id=model.config.pad_token_id)[0, input_ids.shape[1]:]
    save_file({"prompt_ids": prompt_ids.to(torch.int64).contiguous(), "input_ids": input_ids[0].to(torch.int64).contiguous(),
               "pixel_values": pixel_values.contiguous(), "logits": logits.contiguous(),
               "generated": generated.to(torch.int64).contiguous()},
              os.path.join(OUT, "expected.safetensors"))
    answer = tokenizer.decode(generated, skip_special_tokens=True)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"prompt": PROMPT, "answer": answer, "torch": torch.__version__,
                   "transformers": transformers.__version__}, f, indent=1)
    print(f"tiny-llava under transformers: {PROMPT!r} -> {answer!r}")


if __name__ == "__main__":
    main()
