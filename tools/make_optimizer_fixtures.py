#!/usr/bin/env python3
"""Reference trajectories of torch.optim.AdamW and SGD (with HF's cosine warm-up
schedule and clip_grad_norm_) for PEFTLib's optimizer tests, written to
Tests/PEFTLibTests/Fixtures/optimizer_reference.json.

    .venv/bin/python tools/make_optimizer_fixtures.py      (needs torch and transformers)
"""
import json
import os

import torch
from transformers import get_cosine_schedule_with_warmup

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "PEFTLibTests", "Fixtures", "optimizer_reference.json")
STEPS = 6


def trajectory(kind):
    g = torch.Generator().manual_seed(3)
    shapes = {"adapter.weight": (3, 5), "adapter.bias": (5,), "connector.weight": (4, 2)}
    params = {n: torch.randn(*s, generator=g).requires_grad_(True) for n, s in shapes.items()}
    grads = [{n: (torch.randn(*s, generator=g) * (10.0 if step == 2 else 1.0)) for n, s in shapes.items()}
             for step in range(STEPS)]
    initial = {n: p.detach().clone().flatten().tolist() for n, p in params.items()}
    groups = [
        {"params": [params["adapter.weight"]], "lr": 2e-3, "weight_decay": 0.1, "name": "decay"},
        {"params": [params["adapter.bias"]], "lr": 2e-3, "weight_decay": 0.0, "name": "no decay"},
        {"params": [params["connector.weight"]], "lr": 2e-4, "weight_decay": 0.0, "name": "connector"},
    ]
    if kind == "adamw":
        opt = torch.optim.AdamW(groups, betas=(0.9, 0.999), eps=1e-8)
    else:
        opt = torch.optim.SGD(groups, momentum=0.9)
    sched = get_cosine_schedule_with_warmup(opt, num_warmup_steps=2, num_training_steps=STEPS)
    after, factors, norms = [], [], []
    for step in range(STEPS):
        for n, p in params.items():
            p.grad = grads[step][n].clone()
        norms.append(float(torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm=1.0)))
        factors.append(sched.get_last_lr()[0] / 2e-3)
        opt.step()
        sched.step()
        after.append({n: p.detach().flatten().tolist() for n, p in params.items()})
    return {"kind": kind, "shapes": {n: list(s) for n, s in shapes.items()}, "initial": initial,
            "grads": [{n: t.flatten().tolist() for n, t in gs.items()} for gs in grads],
            "factors": factors, "norms": norms, "after": after}


def main():
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"torch": torch.__version__, "warmup_steps": 2, "steps": STEPS, "max_norm": 1.0,
                   "cases": [trajectory("adamw"), trajectory("sgd")]}, f)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
