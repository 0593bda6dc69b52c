#!/usr/bin/env python3
"""Checks that Hugging Face peft loads the adapter folders PEFTLib writes (saveAdapter).

Usage:  python tools/check_peft_loads_ours.py <adapters dir> <base model dir>

<adapters dir> holds one folder per adapter (adapter_config.json + adapter_model.safetensors),
written by the Swift test PeftLoadsOursTests for the base model in <base model dir> (a fixture of
Tests/PEFTLibTests/Fixtures/models: config.json, model.safetensors and expected.safetensors,
whose input_ids, attention_mask and pixel_values are the inputs used here).

For every adapter folder: load a fresh base model with transformers (float32, eager attention),
load the adapter with `PeftModel.from_pretrained`, and record as problems
  - every warning peft or transformers raises while loading (missing adapter keys, unexpected
    config fields, …), except deprecation notices,
  - the keys peft would save for this config (get_peft_model_state_dict) that the file lacks
    (missing) and the file's keys peft does not use (unexpected; peft ignores those silently),
  - a shape, or a loaded value, that differs from the file.
Prints one JSON object on stdout: {"adapters": {name: {"problems": [...], "modules": [...],
"shape": [...], "logits": [...]}}}, where `modules` are the base-model paths peft put its layers
on and `logits` the adapted model's logits on the inputs, flattened. Exits 1 if any adapter has
a problem, 2 on bad arguments.
"""
import json
import os
import sys
import warnings

import torch
from safetensors.torch import load_file


def base_model(directory):
    """The fixture's model class from its config.json, loaded in float32 with eager attention."""
    from transformers import LlamaForCausalLM, LlavaForConditionalGeneration
    with open(os.path.join(directory, "config.json")) as f:
        model_type = json.load(f)["model_type"]
    cls = {"llava": LlavaForConditionalGeneration, "llama": LlamaForCausalLM}[model_type]
    model = cls.from_pretrained(directory, attn_implementation="eager", dtype=torch.float32)
    model.train(False)
    return model


def inputs(directory):
    """input_ids, attention_mask and (for LLaVA) pixel_values of the fixture."""
    expected = load_file(os.path.join(directory, "expected.safetensors"))
    names = ["input_ids", "attention_mask", "pixel_values"]
    return {name: expected[name] for name in names if name in expected}


def key_problems(model, folder):
    """Missing, unexpected, mis-shaped and mis-loaded keys of the adapter file against peft's own."""
    from peft import get_peft_model_state_dict
    stored = load_file(os.path.join(folder, "adapter_model.safetensors"))
    used = get_peft_model_state_dict(model)
    problems = [f"missing key {k}" for k in sorted(set(used) - set(stored))]
    problems += [f"unexpected key {k} (peft ignores it)" for k in sorted(set(stored) - set(used))]
    for key in sorted(set(stored) & set(used)):
        ours, theirs = stored[key], used[key].detach().cpu().float()
        if tuple(ours.shape) != tuple(theirs.shape):
            problems.append(f"shape of {key}: file {list(ours.shape)}, peft {list(theirs.shape)}")
        elif not torch.equal(ours.float(), theirs):
            problems.append(f"value of {key} differs after loading")
    return problems


def adapted_modules(model):
    """Base-model paths of the modules peft adapted (its tuner layers), in the base model's names."""
    from peft.tuners.tuners_utils import BaseTunerLayer
    prefix = "base_model.model."
    return sorted(name[len(prefix):] if name.startswith(prefix) else name
                  for name, module in model.named_modules() if isinstance(module, BaseTunerLayer))


def check(folder, base_directory, batch):
    from peft import PeftModel
    problems = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = PeftModel.from_pretrained(base_model(base_directory), folder)
    for w in caught:
        if not issubclass(w.category, (DeprecationWarning, FutureWarning)):
            problems.append(f"warning while loading: {w.message}")
    problems += key_problems(model, folder)
    model.train(False)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        logits = model(**batch).logits.float()
    return {"problems": problems, "modules": adapted_modules(model), "shape": list(logits.shape),
            "logits": logits.reshape(-1).tolist()}


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    adapters, base_directory = argv[1], argv[2]
    torch.set_num_threads(1)
    batch = inputs(base_directory)
    results = {}
    for name in sorted(os.listdir(adapters)):
        folder = os.path.join(adapters, name)
        if os.path.isfile(os.path.join(folder, "adapter_config.json")):
            try:
                results[name] = check(folder, base_directory, batch)
            except Exception as error:      # reported per adapter, the others still run
                results[name] = {"problems": [f"{type(error).__name__}: {error}"], "modules": [], "shape": [],
                                 "logits": []}
    json.dump({"adapters": results}, sys.stdout)
    return 1 if any(r["problems"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
