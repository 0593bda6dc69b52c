#!/usr/bin/env python3
"""Runs a .peft script through the PEFTLab Jupyter kernel, cell by cell, the way a
notebook would, and prints what each cell produced.

Cells are separated by lines that start with `// %%` (the percent format that
Jupytext and VS Code use). A live display (training progress) is redrawn on one line
on a terminal and printed once, in its final state, otherwise. With `--report
out.html`, every output is also written, in order, to one self-contained HTML page
(tables, figures, images; a live display in its final state), built from the MIME
bundles the kernel sent. Exits non-zero if a cell fails."""
import argparse
import html
import os
import shutil
import sys
import time

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


class Terminal:
    """Prints outputs; keeps a live display on one line until something else is printed."""

    def __init__(self, stream=sys.stdout):
        self.stream = stream
        self.tty = stream.isatty()
        self.live_id = None
        self.live_text = ""

    def _line(self, text):
        width = shutil.get_terminal_size((100, 20)).columns - 1
        first = text.splitlines()[0] if text else ""
        return first[:width]

    def live(self, display_id, text):
        if self.live_id is not None and self.live_id != display_id:
            self.settle()
        self.live_id, self.live_text = display_id, text
        if self.tty:
            self.stream.write("\r\033[2K" + self._line(text))
            self.stream.flush()

    def settle(self):
        """Prints the live display's final state on its own lines."""
        if self.live_id is None:
            return
        if self.tty:
            self.stream.write("\r\033[2K")
        self.stream.write(self.live_text + "\n")
        self.stream.flush()
        self.live_id = None

    def write(self, text):
        self.settle()
        self.stream.write(text)
        self.stream.flush()


class Report:
    """The outputs as one HTML page, in order; a display with an id keeps its last state."""

    def __init__(self, title):
        self.title = title
        self.blocks = []
        self.by_id = {}

    @staticmethod
    def block(data):
        if "text/html" in data:
            return f'<div class="output">{data["text/html"]}</div>'
        if "image/svg+xml" in data:
            return f'<div class="output">{data["image/svg+xml"]}</div>'
        if "image/png" in data:
            return f'<div class="output"><img src="data:image/png;base64,{data["image/png"]}"></div>'
        if "text/markdown" in data:
            return f'<pre class="markdown">{html.escape(data["text/markdown"])}</pre>'
        if "text/plain" in data:
            return f"<pre>{html.escape(data['text/plain'])}</pre>"
        return ""

    def add(self, block, display_id=None, update=False):
        if display_id is not None and update and display_id in self.by_id:
            self.blocks[self.by_id[display_id]] = block
            return
        if display_id is not None:
            self.by_id[display_id] = len(self.blocks)
        self.blocks.append(block)

    def cell(self, number, code):
        self.add(f'<pre class="code"><span class="prompt">In [{number}]:</span> {html.escape(code)}</pre>')

    def text(self, text, css=""):
        self.add(f'<pre{css}>{html.escape(text)}</pre>')

    def page(self):
        body = "\n".join(self.blocks)
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; }}
pre {{ background: rgba(128,128,128,0.08); padding: 6px 10px; border-radius: 4px; white-space: pre-wrap; }}
pre.code {{ background: rgba(76,120,168,0.10); }}
.prompt {{ opacity: 0.6; }}
pre.stderr, pre.error {{ color: #c0392b; }}
.output {{ margin: 0.8em 0; overflow-x: auto; }}
@media (prefers-color-scheme: dark) {{ body {{ background: #1e1e1e; color: #ddd; }} }}
</style></head><body>
<h1>{html.escape(self.title)}</h1>
{body}
</body></html>
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("script")
    parser.add_argument("--kernel", default="peftlab")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--report", help="also write every output to this HTML file")
    args = parser.parse_args()

    with open(args.script, encoding="utf-8") as f:
        cells = split_cells(f.read())

    out = Terminal()
    report = Report(os.path.basename(args.script)) if args.report else None
    started = time.monotonic()
    km, kc = start_new_kernel(kernel_name=args.kernel)
    failed = False
    try:
        for i, code in enumerate(cells, 1):
            out.write(f"In [{i}]: " + code.replace("\n", "\n        ") + "\n")
            if report:
                report.cell(i, code)

            def show(msg):
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    out.write(content["text"])
                    if report:
                        report.text(content["text"], ' class="stderr"' if content["name"] == "stderr" else "")
                elif kind in ("execute_result", "display_data", "update_display_data"):
                    data = content["data"]
                    text = data.get("text/plain", "")
                    display_id = content.get("transient", {}).get("display_id")
                    if display_id is not None:
                        out.live(display_id, text)
                    else:
                        out.write(("Out[%d]: " % i if kind == "execute_result" else "") + text + "\n")
                    if report:
                        report.add(Report.block(data), display_id, kind == "update_display_data")
                elif kind == "error":
                    text = "\n".join(content["traceback"])
                    out.write(text + "\n")
                    if report:
                        report.text(text, ' class="error"')

            reply = kc.execute_interactive(code, timeout=args.timeout, output_hook=show)
            out.write("\n")
            if reply["content"]["status"] != "ok":
                failed = True
                break
    finally:
        out.settle()
        kc.stop_channels()
        km.shutdown_kernel()
    if report:
        folder = os.path.dirname(os.path.abspath(args.report))
        os.makedirs(folder, exist_ok=True)
        temporary = args.report + ".tmp"
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(report.page())
        os.replace(temporary, args.report)
    minutes, seconds = divmod(int(time.monotonic() - started), 60)
    print(f"{args.script}: {len(cells)} cells through the kernel in {minutes}m{seconds:02d}s"
          + (" (a cell failed)" if failed else ""))
    if report:
        print(f"HTML report (tables and figures): {os.path.abspath(args.report)}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
