#!/usr/bin/env python3
"""Runs a .peft script through the PEFTLab Jupyter kernel, cell by cell, the way a
notebook would, and prints what each cell produced.

Cells are separated by lines that start with `// %%` (the percent format that
Jupytext and VS Code use). Exits non-zero if a cell fails."""
import argparse
import sys

from jupyter_client.manager import start_new_kernel


def has_code(lines):
    return any(l.strip() and not l.strip().startswith("//") for l in lines)


def split_cells(text):
    cells, current = [], []
    for line in text.splitlines():
        if line.startswith("// %%"):
            if has_code(current):
                cells.append("\n".join(current).strip("\n"))
            current = []
        else:
            current.append(line)
    if has_code(current):
        cells.append("\n".join(current).strip("\n"))
    return cells


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("script")
    parser.add_argument("--kernel", default="peftlab")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    with open(args.script, encoding="utf-8") as f:
        cells = split_cells(f.read())

    km, kc = start_new_kernel(kernel_name=args.kernel)
    failed = False
    try:
        for i, code in enumerate(cells, 1):
            print(f"In [{i}]: " + code.replace("\n", "\n        "))

            def show(msg):
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    sys.stdout.write(content["text"])
                elif kind in ("execute_result", "display_data", "update_display_data"):
                    text = content["data"].get("text/plain", "")
                    label = f"Out[{i}]: " if kind == "execute_result" else ""
                    print(label + text)
                elif kind == "error":
                    print("\n".join(content["traceback"]))

            reply = kc.execute_interactive(code, timeout=args.timeout, output_hook=show)
            print()
            if reply["content"]["status"] != "ok":
                failed = True
                break
    finally:
        kc.stop_channels()
        km.shutdown_kernel()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
