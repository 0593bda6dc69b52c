"""Fixtures for PEFTLib's parity tests against Hugging Face peft.

On a tiny random LlamaForCausalLM (saved beside the fixtures), for each case: the adapter in the
PEFT layout (adapter_config.json + adapter_model.safetensors, written by peft's save_pretrained
with non-trivial adapter values), and expected.safetensors holding the loss and the gradient of
every trainable parameter under the adapter-file key names (peft's adapter name removed).
LoRA (q,v and all seven; rsLoRA; rank_pattern and alpha_pattern) and IA3 (k, v, down; as a list
and as regex strings) run through peft itself; the bottleneck Adapter
(x + s·up(tanh(down(dropout(x)))), before gate_proj/up_proj and after down_proj; no peft type)
through a small PyTorch reference of its definition written here.

Run: /work/main/.venv/bin/python tools/make_peft_fixtures.py
"""
import json, os, shutil
import torch
from torch import nn
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, IA3Config, get_peft_model

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "PEFTLibTests", "Fixtures", "peft")
PREFIX = "base_model.model."

INPUT_IDS = [[1, 17, 42, 9, 33, 5, 60, 12, 2, 7], [1, 8, 8, 25, 41, 3, 19, 50, 44, 2]]
LABELS = [[-100, -100, 42, 9, 33, 5, 60, 12, 2, 7], [-100, -100, -100, 25, 41, 3, 19, 50, 44, 2]]


def base_model():
    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=64, max_position_embeddings=64, rms_norm_eps=1e-6,
                         tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
    model = LlamaForCausalLM(config).float()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1) if p.dim() > 1 else p.uniform_(0.8, 1.2)
    return model


def randomize_trainable(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in model.named_parameters():
            if p.requires_grad:
                if p.shape[-1] == 1 or p.shape[0] == 1:      # IA3 vectors: around one
                    p.copy_(1 + 0.3 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(0.2 * torch.randn(p.shape, generator=g))


def clean(name):
    return name.replace(".default", "")


def loss_and_grads(model, key_of):
    model.zero_grad()
    out = model(input_ids=torch.tensor(INPUT_IDS), labels=torch.tensor(LABELS))
    out.loss.backward()
    tensors = {"loss": out.loss.detach().reshape(1).clone()}
    for name, p in model.named_parameters():
        if p.requires_grad:
            tensors["grad." + key_of(name)] = p.grad.detach().clone().contiguous()
    return tensors


def write_case(name, tensors, meta):
    folder = os.path.join(ROOT, name)
    save_file(tensors, os.path.join(folder, "expected.safetensors"))
    with open(os.path.join(folder, "expected.json"), "w") as f:
        json.dump(dict(meta, loss=tensors["loss"].item(), input_ids=INPUT_IDS, labels=LABELS), f, indent=1)


def peft_case(name, peft_config, seed):
    model = get_peft_model(base_model(), peft_config)
    randomize_trainable(model, seed)
    folder = os.path.join(ROOT, name)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder)
    os.remove(os.path.join(folder, "README.md"))         # peft's model card
    tensors = loss_and_grads(model, clean)
    write_case(name, tensors, {"case": name})


class BottleneckReference(nn.Module):
    """A projection with a series bottleneck adapter on its input or output (the study's definition)."""

    def __init__(self, base, size, placement, scaling=1.0):
        super().__init__()
        self.base_layer = base
        width = base.in_features if placement == "input" else base.out_features
        self.adapter_down = nn.Linear(width, size, bias=False)
        self.adapter_up = nn.Linear(size, width, bias=False)
        nn.init.normal_(self.adapter_down.weight, std=0.02)
        nn.init.normal_(self.adapter_up.weight, std=0.02)
        self.placement, self.scaling = placement, scaling

    def branch(self, x):
        return self.scaling * self.adapter_up(torch.tanh(self.adapter_down(x)))

    def forward(self, x):
        if self.placement == "input":
            return self.base_layer(x + self.branch(x))
        y = self.base_layer(x)
        return y + self.branch(y)


def adapter_case(name, size, seed):
    model = base_model()
    for p in model.parameters():
        p.requires_grad_(False)
    for layer in model.model.layers:
        layer.mlp.gate_proj = BottleneckReference(layer.mlp.gate_proj, size, "input")
        layer.mlp.up_proj = BottleneckReference(layer.mlp.up_proj, size, "input")
        layer.mlp.down_proj = BottleneckReference(layer.mlp.down_proj, size, "output")
    randomize_trainable(model, seed)
    folder = os.path.join(ROOT, name)
    os.makedirs(folder, exist_ok=True)
    weights = {PREFIX + n: p.detach().clone().contiguous() for n, p in model.named_parameters() if p.requires_grad}
    save_file(weights, os.path.join(folder, "adapter_model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(folder, "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "BOTTLENECK", "task_type": "CAUSAL_LM", "bottleneck_size": size,
                   "non_linearity": "tanh", "adapter_dropout": 0.0, "scaling": 1.0, "use_parallel_adapter": False,
                   "use_adapterp": False, "target_modules": ["gate_proj", "up_proj", "down_proj"]}, f, indent=1)
    tensors = loss_and_grads(model, lambda n: PREFIX + n)
    write_case(name, tensors, {"case": name})


def main():
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    os.makedirs(ROOT)
    base = base_model()
    base.save_pretrained(os.path.join(ROOT, "base"), safe_serialization=True)
    for f in ("generation_config.json",):
        p = os.path.join(ROOT, "base", f)
        if os.path.exists(p):
            os.remove(p)
    peft_case("lora-qv", LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"],
                                    task_type="CAUSAL_LM"), seed=1)
    peft_case("lora-all", LoraConfig(r=4, lora_alpha=16, lora_dropout=0.0,
                                     target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                                     "down_proj"], task_type="CAUSAL_LM"), seed=2)
    peft_case("ia3", IA3Config(target_modules=["k_proj", "v_proj", "down_proj"], feedforward_modules=["down_proj"],
                               task_type="CAUSAL_LM"), seed=3)
    adapter_case("adapter-mlp", size=8, seed=4)
    # Options peft users set: rank-stabilised scaling, per-module ranks and alphas, regex targets.
    peft_case("lora-rslora", LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"],
                                        use_rslora=True, task_type="CAUSAL_LM"), seed=5)
    peft_case("lora-patterns", LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"],
                                          rank_pattern={"v_proj": 2}, alpha_pattern={"q_proj": 32},
                                          task_type="CAUSAL_LM"), seed=6)
    peft_case("ia3-regex", IA3Config(target_modules=r".*\.(k_proj|v_proj|down_proj)",
                                     feedforward_modules=r".*\.down_proj", task_type="CAUSAL_LM"), seed=7)
    print("fixtures written to", os.path.normpath(ROOT))


if __name__ == "__main__":
    main()
