#!/usr/bin/env python3
"""PyTorch peer of `peftlab bench ops` (PEFTLib's OpsBenchmark).

Times, with torch.set_num_threads(2) (or --threads), forward+backward of the
linear layers of the tiny and small models of DESIGN.md §5 (trainable weight:
three GEMMs; frozen weight: two) and causal grouped-query attention through
F.scaled_dot_product_attention with the (B, T, heads*D) <-> (B, heads, T, D)
layout changes a Hugging Face Llama layer performs. Prints one JSON object:
{"peer": "pytorch", "torch": ..., "threads": ..., "rows": [...]}, each row with
model, op, shape, seconds (median of one forward+backward), gflops and
tokensPerSecond, named like the Swift rows so the two tables join on
(model, op).
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

SHAPES = [
    dict(name="tiny", tokens=8 * 48, hidden=256, mlp=688, heads=4, kv_heads=4, batch=8, seq=48),
    dict(name="small", tokens=4 * 79, hidden=576, mlp=1536, heads=9, kv_heads=3, batch=4, seq=79),
]


def linears(s):
    d = s["hidden"] // s["heads"]
    h, m, kv = s["hidden"], s["mlp"], s["kv_heads"] * d
    return [("q_proj", h, h), ("k_proj", h, kv), ("v_proj", h, kv), ("o_proj", h, h),
            ("gate_proj", h, m), ("up_proj", h, m), ("down_proj", m, h)]


def median_seconds(body, seconds):
    for _ in range(3):
        body()
    samples, start = [], time.perf_counter()
    while len(samples) < 5 or (time.perf_counter() - start < seconds and len(samples) < 10000):
        t0 = time.perf_counter()
        body()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def linear_row(model, module, m, k, n, frozen, seconds):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(m, k, generator=g, requires_grad=True)
    w = torch.empty(n, k).uniform_(-k ** -0.5, k ** -0.5, generator=g).requires_grad_(not frozen)
    seed = torch.randn(m, n, generator=g)

    def step():
        x.grad = None
        w.grad = None
        F.linear(x, w).backward(seed)

    t = median_seconds(step, seconds)
    flops = (4 if frozen else 6) * m * n * k
    return dict(model=model, op=f"linear {module} {'frozen' if frozen else 'trainable'}",
                shape=f"({m}, {k}) → {n}", seconds=t, gflops=flops / t / 1e9, tokensPerSecond=m / t)


def attention_row(s, seconds):
    b, t, heads, kv_heads = s["batch"], s["seq"], s["heads"], s["kv_heads"]
    d = s["hidden"] // heads
    g = torch.Generator().manual_seed(2)
    q = torch.randn(b, t, heads * d, generator=g, requires_grad=True)
    k = torch.randn(b, t, kv_heads * d, generator=g, requires_grad=True)
    v = torch.randn(b, t, kv_heads * d, generator=g, requires_grad=True)
    seed = torch.randn(b, t, heads * d, generator=g)

    def step():
        q.grad = k.grad = v.grad = None
        qh = q.view(b, t, heads, d).transpose(1, 2)          # (B, heads, T, D)
        kh = k.view(b, t, kv_heads, d).transpose(1, 2)       # (B, kv, T, D)
        vh = v.view(b, t, kv_heads, d).transpose(1, 2)
        if kv_heads != heads:                                # HF repeat_kv
            kh = kh.repeat_interleave(heads // kv_heads, dim=1)
            vh = vh.repeat_interleave(heads // kv_heads, dim=1)
        o = F.scaled_dot_product_attention(qh, kh, vh, is_causal=True)
        o.transpose(1, 2).reshape(b, t, heads * d).backward(seed)

    sec = median_seconds(step, seconds)
    flops = 4 * b * heads * t * t * d * 3
    return dict(model=s["name"], op="attention causal fwd+bwd",
                shape=f"B{b} T{t} heads {heads}/{kv_heads} D{d}", seconds=sec,
                gflops=flops / sec / 1e9, tokensPerSecond=b * t / sec)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=0.3, help="measuring time per row")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for s in SHAPES:
        total_t, total_flops = 0.0, 0
        for frozen in (False, True):
            for module, k, n in linears(s):
                row = linear_row(s["name"], module, s["tokens"], k, n, frozen, args.seconds)
                rows.append(row)
                if not frozen:
                    total_t += row["seconds"]
                    total_flops += 6 * s["tokens"] * k * n
        rows.append(dict(model=s["name"], op="linear all 7 trainable", shape="one block",
                         seconds=total_t, gflops=total_flops / total_t / 1e9,
                         tokensPerSecond=s["tokens"] / total_t))
        rows.append(attention_row(s, args.seconds))
    print(json.dumps(dict(peer="pytorch", torch=torch.__version__, threads=args.threads, rows=rows), indent=1))


if __name__ == "__main__":
    main()
