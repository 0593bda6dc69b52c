#!/usr/bin/env python3
"""Writes the small reference fixtures of PEFTLib's I/O tests into Tests/PEFTLibTests/Fixtures/.

- safetensors files written by the Python `safetensors` library (F32, F16, BF16, I64) and the
  values they hold, so the Swift reader is checked against the reference writer, and the Swift
  writer's bytes against the library's;
- tokenizers trained with the `tokenizers` library (byte-level BPE in the GPT-2, SmolLM and
  Llama-3 pre-tokenizer styles, and WordLevel), a corpus of varied text, and the library's ids
  and decodings of every line;
- the ids `tokenizers` gives for LLaVA v1 chat-template strings.

Needs: pip install numpy safetensors tokenizers   (no torch). Deterministic: re-running it
rewrites identical files (the BPE trainers are deterministic for a fixed corpus).

Usage: python3 tools/make_io_fixtures.py
"""
import json
import os
import random
import struct

import numpy as np
from safetensors.numpy import save_file
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "PEFTLibTests", "Fixtures")


def finite_json(value):
    """JSON has no infinities: write them as the strings "inf" and "-inf"."""
    if isinstance(value, float) and not np.isfinite(value):
        return "nan" if np.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, list):
        return [finite_json(v) for v in value]
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    return value


def write_json(name, value):
    value = finite_json(value)
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, indent=None, separators=(",", ":"))
        f.write("\n")


# ---------------------------------------------------------------- safetensors

def bf16_bits(values):
    """float32 -> bfloat16 bits, rounding to nearest even (as torch and ml_dtypes do)."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def write_bf16_file(path, tensors, metadata):
    """safetensors has no numpy bfloat16 without ml_dtypes: write the format by hand, as the library lays it out."""
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        bits = bf16_bits(tensors[name])
        raw = bits.astype("<u2").tobytes()
        header[name] = {"dtype": "BF16", "shape": list(np.shape(tensors[name])), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def make_safetensors():
    rng = np.random.default_rng(1234)
    f32 = {
        "model.embed_tokens.weight": rng.standard_normal((5, 3)).astype(np.float32),
        "model.norm.weight": np.array([1.0, -2.5, 3.25, 0.0], dtype=np.float32),
        "scalar": np.array(7.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "lm_head.weight": rng.standard_normal((2, 3, 4)).astype(np.float32),
    }
    save_file(f32, os.path.join(OUT, "f32.safetensors"), metadata={"format": "pt"})

    special = np.array([0.0, -0.0, 1.0, -1.5, 65504.0, 6.1035156e-05, 5.9604645e-08, np.inf, -np.inf], dtype=np.float32)
    f16 = {
        "half.random": rng.standard_normal((3, 4)).astype(np.float16),
        "half.special": special.astype(np.float16),
    }
    save_file(f16, os.path.join(OUT, "f16.safetensors"), metadata={"format": "pt"})

    bf16_values = {
        "bf16.random": rng.standard_normal((4, 3)).astype(np.float32),
        "bf16.special": np.array([0.0, 1.0, -2.0, 3.0e38, 1.0e-30, np.inf, 0.1], dtype=np.float32),
    }
    write_bf16_file(os.path.join(OUT, "bf16.safetensors"), bf16_values, {"format": "pt"})

    ints = {
        "ids64": np.array([[0, -1, 2**40], [7, 8, -(2**33)]], dtype=np.int64),
        "ids32": np.array([1, -2, 3], dtype=np.int32),
        "mask": np.array([True, False, True]),
    }
    save_file(ints, os.path.join(OUT, "ints.safetensors"))

    expected = {
        "f32": {k: {"shape": list(v.shape), "values": v.astype(np.float64).ravel().tolist()} for k, v in f32.items()},
        "f16": {k: {"shape": list(v.shape), "values": v.astype(np.float32).astype(np.float64).ravel().tolist()} for k, v in f16.items()},
        "bf16": {k: {"shape": list(np.shape(v)),
                     "values": (bf16_bits(v).astype(np.uint32) << 16).view(np.float32).astype(np.float64).ravel().tolist()}
                 for k, v in bf16_values.items()},
        "ints": {k: {"shape": list(v.shape), "values": v.astype(np.int64).ravel().tolist()} for k, v in ints.items()},
    }
    write_json("safetensors-expected.json", expected)

    # Written by the library with the tensors the Swift writer test writes: the bytes must be equal.
    same = {
        "b.weight": np.arange(6, dtype=np.float32).reshape(2, 3) / 4,
        "a.bias": np.array([-1.0, 0.5], dtype=np.float32),
        "c": np.array(3.0, dtype=np.float32),
    }
    save_file(same, os.path.join(OUT, "writer-reference.safetensors"), metadata={"format": "pt"})


# ---------------------------------------------------------------- corpus

HANDWRITTEN = [
    "Hello, world!",
    "How many stars are there in the image?",
    "It's a cat. It'S not a dog; they're friends, we've seen it, I'm sure you'll agree and he'd say so.",
    "Don't stop 'til you get enough — 'tis the season, rock 'n' roll.",
    "USER: <image>\nWhat colour is the square? ASSISTANT: Red</s>",
    "<s>Begin and end</s> with <pad> padding and <unk> unknowns.",
    "an <image> in the middle<image>and glued",
    "    leading spaces and trailing spaces    ",
    "tabs\tbetween\t\twords",
    "multiple\n\nnewlines\n\n\nhere\n",
    "windows\r\nline\r\nendings",
    "mixed \t \n whitespace  \u00a0 runs",
    "non-breaking\u00a0space and zero\u200bwidth and narrow\u202fno-break",
    "Numbers: 0 1 12 123 1234 12345 3.14159 -2.5e-3 1,000,000 0xFF 2024-05-06 10:30pm",
    "Prices: $19.99, €5, £3.50, ¥1000, ₹250",
    "Superscripts² and fractions ½ ¾ and roman Ⅻ and Arabic digits ٠١٢٣",
    "Café, naïve, coöperate, résumé, Ångström, façade, jalapeño",
    "Combining: e\u0301 a\u0308 n\u0303 (decomposed) vs é ä ñ (composed)",
    "Straße, İstanbul, ΣΊΣΥΦΟΣ, ὈΔΥΣΣΕΎΣ, Ǆemal",
    "中文分词测试：今天天气很好。",
    "日本語のテキスト、カタカナとひらがな。",
    "한국어 문장도 있습니다.",
    "Русский текст с цифрами 123 и знаками!",
    "العربية نص من اليمين إلى اليسار",
    "हिन्दी में कुछ शब्द",
    "ไทย ภาษา",
    "Emoji: 👍 👍🏽 👨‍👩‍👧‍👦 🇫🇷 🏳️‍🌈 ❤️ 😂😂😂",
    "Math: ∑ᵢ xᵢ² ≤ ∞, ∀x ∈ ℝ: x ≥ 0 → √x ∈ ℝ",
    "Code: for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; } // done",
    "def f(x):\n    return x ** 2  # square",
    "URL: https://example.com/path?query=1&b=two#frag and mail@example.org",
    "Punctuation!!! ??? ... ,,, ;;; ::: --- ___ *** ### @@@",
    "quotes \"double\" 'single' `back` «guillemets» „low” ‘curly’",
    "a",
    " ",
    "",
    "x  y   z    w",
    "ALL CAPS SENTENCE WITH WORDS",
    "CamelCaseIdentifier snake_case_name kebab-case-name",
    "The quick brown fox jumps over the lazy dog.",
    "'s 't 're 've 'm 'll 'd 'x 'S",
    "trailing apostrophe'",
    "unknown rare glyphs: ꙮ ᚠᛇᚻ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𓀀",
    "A  \n  B",
    "end with newline\n",
    "\n",
    "   ",
    "1 2 3 4 5 6 7 8 9 10 11 12",
    "Question: Is there a red circle in the image? Answer: yes",
    "<image>\n<image>",
]

WORDS = ("the a an of to in is it that for on with as was by at from this are be or which one all "
         "image circle square triangle star red green blue yellow left right top bottom how many what "
         "colour shape count there picture shows contains small large next above below between "
         "question answer yes no model training adapter lora prefix tokens layer attention").split()


def make_corpus():
    rng = random.Random(42)
    lines = list(HANDWRITTEN)
    unicode_bits = ["é", "ü", "ß", "中", "日本", "😀", "👍🏽", "€", "½", "Ω", "ñ", "ç", "Σ", "ø", "İ"]
    while len(lines) < 320:
        kind = rng.randrange(6)
        n = rng.randint(1, 14)
        words = [rng.choice(WORDS) for _ in range(n)]
        if kind == 0:
            line = " ".join(words).capitalize() + rng.choice([".", "?", "!", ""])
        elif kind == 1:
            line = " ".join(w if rng.random() > 0.2 else str(rng.randint(0, 99999)) for w in words)
        elif kind == 2:
            line = "".join(w + rng.choice([" ", "  ", "\t", "\n", ", ", "-", "'s ", "'ll ", " "]) for w in words)
        elif kind == 3:
            line = " ".join(w if rng.random() > 0.3 else w + rng.choice(unicode_bits) for w in words)
        elif kind == 4:
            line = f"USER: <image>\n{' '.join(words)}? ASSISTANT: {rng.choice(WORDS)}</s>"
        else:
            line = " ".join(w.upper() if rng.random() < 0.3 else w for w in words) + " " * rng.randint(0, 3)
        lines.append(line)
    return lines


# ---------------------------------------------------------------- tokenizers

SPECIALS = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def training_text(corpus):
    rng = random.Random(7)
    extra = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 20))) for _ in range(600)]
    return corpus + extra


def train_bpe(corpus, style):
    tok = Tokenizer(models.BPE())
    if style == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    elif style == "smollm":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ])
    elif style == "llama3":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1000, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(training_text(corpus), trainer=trainer)
    if style == "llama3":
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def train_wordlevel(corpus):
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(vocab_size=300, special_tokens=["[UNK]", "[PAD]", "<s>", "</s>", "<image>"],
                                        show_progress=False)
    tok.train_from_iterator(training_text(corpus), trainer=trainer)
    return tok


def expectations(tok, corpus):
    ids = [tok.encode(line, add_special_tokens=False).ids for line in corpus]
    with_special = [tok.encode(line).ids for line in corpus[:20]]
    decoded = [tok.decode(i) for i in ids]
    decoded_keep = [tok.decode(i, skip_special_tokens=False) for i in ids]
    return {"ids": ids, "ids_with_special_tokens": with_special, "decoded": decoded, "decoded_keep_special": decoded_keep}


def make_tokenizers():
    corpus = make_corpus()
    write_json("tokenizer-corpus.json", corpus)
    for style in ["gpt2", "smollm", "llama3"]:
        tok = train_bpe(corpus, style)
        tok.save(os.path.join(OUT, f"bpe-{style}.tokenizer.json"))
        write_json(f"bpe-{style}.expected.json", expectations(tok, corpus))
    tok = train_wordlevel(corpus)
    tok.save(os.path.join(OUT, "wordlevel.tokenizer.json"))
    write_json("wordlevel.expected.json", expectations(tok, corpus))

    # LLaVA v1 template strings and the ids of the whole strings (</s> is an added token).
    gpt2 = Tokenizer.from_file(os.path.join(OUT, "bpe-gpt2.tokenizer.json"))
    cases = [
        ("How many stars are there?", "3"),
        ("What colour is the square?", "red"),
        ("Describe the picture.", "A small red circle above a large blue square."),
    ]
    template = []
    for q, a in cases:
        full = f"USER: <image>\n{q} ASSISTANT: {a}</s>"
        prompt = f"USER: <image>\n{q} ASSISTANT:"
        template.append({"question": q, "answer": a, "text": full,
                         "ids": gpt2.encode(full, add_special_tokens=False).ids,
                         "prompt_ids": gpt2.encode(prompt, add_special_tokens=False).ids})
    two = "USER: <image>\nWhat is it? ASSISTANT: a star</s>USER: How many? ASSISTANT: 2</s>"
    write_json("llava-template.expected.json",
               {"single": template, "two_turns": {"text": two, "ids": gpt2.encode(two, add_special_tokens=False).ids}})


def main():
    os.makedirs(OUT, exist_ok=True)
    make_safetensors()
    make_tokenizers()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"fixtures written to {OUT}: {total / 1024:.0f} KiB in all")


if __name__ == "__main__":
    main()
