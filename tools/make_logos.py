#!/usr/bin/env python3
"""Draws the PEFTLab kernel logo (32 and 64 px PNG) and writes it into
Sources/peftlab/Logos.swift as base64, so `peftlab install` needs no resource files.

The logo: a dark rounded square with a low-rank "A·B" motif — a tall bar and a
wide bar in the project's orange, the picture of a LoRA update."""
import base64, os, struct, zlib

def png(size):
    bg, fg, accent = (24, 28, 40), (255, 140, 40), (90, 170, 255)
    rows = []
    r = size // 6
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            # rounded-square mask
            cx = min(x, size - 1 - x); cy = min(y, size - 1 - y)
            inside = not (cx < r and cy < r and (r - cx) ** 2 + (r - cy) ** 2 > r * r)
            color, alpha = bg, 255 if inside else 0
            u, v = x / size, y / size
            if inside and 0.20 <= u <= 0.34 and 0.18 <= v <= 0.82:
                color = fg          # tall bar: B (d x r)
            if inside and 0.42 <= u <= 0.82 and 0.18 <= v <= 0.32:
                color = accent      # wide bar: A (r x d)
            if inside and 0.42 <= u <= 0.82 and 0.40 <= v <= 0.82 and (int(u * 12) + int(v * 12)) % 2 == 0:
                color = (70, 78, 100)  # the frozen weight W
            row += bytes(color) + bytes([alpha])
        rows.append(bytes(row))
    raw = b"".join(rows)
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "Sources", "peftlab", "Logos.swift")
with open(out, "w") as f:
    f.write("// The kernel logos, drawn by tools/make_logos.py (re-run it to change them).\n\n")
    f.write("enum Logos {\n")
    for size in (32, 64):
        f.write(f'    static let png{size} = "{base64.b64encode(png(size)).decode()}"\n')
    f.write("}\n")
print("wrote", out)
