#!/usr/bin/env python3
"""Writes the fixtures of PEFTLib's data tests into Tests/PEFTLibTests/Fixtures/data/.

PNG and JPEG files written by Pillow, the RGB bytes Pillow decodes from them
(`<name>.rgb`, raw row-major), corrupt files, the CLIP preprocessing reference of
transformers' CLIPImageProcessor (`<name>.f32`, raw float32, channels first), and
tiny LLaVA-format JSON datasets. Re-run with: python3 tools/make_data_fixtures.py
Needs: pillow, numpy, transformers (no torch: its PIL image-processor backend).
"""
import json
import os

import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "PEFTLibTests", "Fixtures", "data")


def smooth_image(width, height, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / max(width - 1, 1), y * 255 / max(height - 1, 1), (x + y) * 127 / (width + height)], -1)
    return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


def raw(name, array, dtype):
    np.ascontiguousarray(array, dtype=dtype).tofile(os.path.join(ROOT, name))


def main():
    os.makedirs(os.path.join(ROOT, "images"), exist_ok=True)
    manifest = {}

    # PNG: RGB, palette and greyscale; expected bytes are Pillow's convert("RGB").
    rgb = smooth_image(23, 17, 1)
    Image.fromarray(rgb).save(os.path.join(ROOT, "rgb.png"))
    Image.fromarray(rgb).quantize(16).save(os.path.join(ROOT, "palette.png"))
    Image.fromarray(rgb).convert("L").save(os.path.join(ROOT, "gray.png"))
    for name in ["rgb.png", "palette.png", "gray.png"]:
        im = Image.open(os.path.join(ROOT, name)).convert("RGB")
        raw(name + ".rgb", np.asarray(im), np.uint8)
        manifest[name] = {"width": im.width, "height": im.height}

    # JPEG: baseline 4:2:0, 4:4:4, progressive and greyscale; expected bytes are Pillow's decode.
    photo = smooth_image(41, 29, 2)
    Image.fromarray(photo).save(os.path.join(ROOT, "photo.jpg"), quality=90)
    Image.fromarray(photo).save(os.path.join(ROOT, "photo444.jpg"), quality=95, subsampling=0)
    Image.fromarray(photo).save(os.path.join(ROOT, "progressive.jpg"), quality=85, progressive=True)
    Image.fromarray(photo).convert("L").save(os.path.join(ROOT, "gray.jpg"), quality=90)
    for name in ["photo.jpg", "photo444.jpg", "progressive.jpg", "gray.jpg"]:
        im = Image.open(os.path.join(ROOT, name)).convert("RGB")
        raw(name + ".rgb", np.asarray(im), np.uint8)
        manifest[name] = {"width": im.width, "height": im.height}

    # Corrupt files: damaged PNG data, truncated PNG, JPEG garbage after SOI, truncated JPEG.
    png = bytearray(open(os.path.join(ROOT, "rgb.png"), "rb").read())
    idat = png.index(b"IDAT")
    png[idat + 8:idat + 24] = bytes(range(16))
    open(os.path.join(ROOT, "corrupt.png"), "wb").write(png)
    open(os.path.join(ROOT, "truncated.png"), "wb").write(open(os.path.join(ROOT, "rgb.png"), "rb").read()[:60])
    open(os.path.join(ROOT, "corrupt.jpg"), "wb").write(b"\xff\xd8" + bytes(range(7, 200)))
    jpg = open(os.path.join(ROOT, "photo.jpg"), "rb").read()
    open(os.path.join(ROOT, "truncated.jpg"), "wb").write(jpg[: len(jpg) // 2])
    open(os.path.join(ROOT, "not_an_image.png"), "wb").write(b"hello, world\n")

    # CLIP preprocessing reference (transformers' CLIPImageProcessor, PIL backend).
    from transformers import CLIPImageProcessor

    cases = [
        ("pre_down_bicubic", smooth_image(50, 37, 3), 32, 32, 3),
        ("pre_up_bicubic", smooth_image(20, 27, 4), 32, 32, 3),
        ("pre_down_bilinear", smooth_image(45, 61, 5), 24, 20, 2),
    ]
    for name, array, edge, crop, resample in cases:
        Image.fromarray(array).save(os.path.join(ROOT, name + ".png"))
        processor = CLIPImageProcessor(size={"shortest_edge": edge}, crop_size={"height": crop, "width": crop},
                                       resample=resample)
        processor.to_json_file(os.path.join(ROOT, name + ".json"))
        pixels = processor(Image.open(os.path.join(ROOT, name + ".png")), return_tensors="np")["pixel_values"][0]
        raw(name + ".f32", pixels, "<f4")
        manifest[name] = {"channels": int(pixels.shape[0]), "height": int(pixels.shape[1]),
                          "width": int(pixels.shape[2])}

    # Tiny LLaVA-format datasets.
    for i in range(3):
        Image.fromarray(smooth_image(16, 12, 10 + i)).save(os.path.join(ROOT, "images", f"img{i}.png"))
    Image.fromarray(smooth_image(16, 12, 20)).save(os.path.join(ROOT, "images", "img3.jpg"), quality=90)
    open(os.path.join(ROOT, "images", "broken.png"), "wb").write(png)

    def record(rid, image, question, answer):
        r = {"id": rid, "conversations": [{"from": "human", "value": "<image>\n" + question},
                                          {"from": "gpt", "value": answer}]}
        if image is not None:
            r["image"] = image
        return r

    good = [record("a0", "img0.png", "What colour dominates?", "red"),
            record("a1", "img1.png", "Describe the image.", "a gradient"),
            record(2, "img2.png", "Is it noisy?", "yes"),
            record("a3", "img3.jpg", "What format is this?", "jpeg"),
            {"id": "text-only", "conversations": [{"from": "human", "value": "Say hi."},
                                                  {"from": "gpt", "value": "hi"}]}]
    bad = good[:2] + [
        record("missing", "nope.png", "Where is it?", "nowhere"),
        record("broken", "broken.png", "Can you read it?", "no"),
        {"id": "no-conversations", "image": "img0.png"},
        {"id": "wrong-order", "image": "img0.png",
         "conversations": [{"from": "gpt", "value": "hi"}, {"from": "human", "value": "<image>\nhello"}]},
    ] + good[2:]
    json.dump(good, open(os.path.join(ROOT, "llava_good.json"), "w"), indent=1)
    json.dump(bad, open(os.path.join(ROOT, "llava_bad.json"), "w"), indent=1)
    open(os.path.join(ROOT, "llava_not_list.json"), "w").write('{"id": "x"}')
    open(os.path.join(ROOT, "llava_invalid.json"), "w").write('[{"id": "x",')

    json.dump(manifest, open(os.path.join(ROOT, "manifest.json"), "w"), indent=1, sort_keys=True)
    print("wrote fixtures to", os.path.normpath(ROOT))


if __name__ == "__main__":
    main()
