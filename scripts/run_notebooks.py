#!/usr/bin/env python3
"""Executes the study notebooks (notebooks/*.ipynb) through the PEFTLab kernel with nbclient.

At full settings (the default) each notebook runs with its own parameters cell, in the
notebooks/ folder (so its runs are stored in notebooks/runs/, as when it is opened in
JupyterLab), and is saved in place with its outputs. A run already in a store is skipped;
--fresh deletes the selected notebooks' stores first, so everything trains again.

With --fast, the parameters cell is replaced by the fast variant kept in the notebook's
metadata (peftlab.fast_parameters, what the tests run), the kernel works in a temporary
folder, and the executed copies go to --output (default out/notebooks-fast/): the notebooks
themselves are not touched.

    scripts/run_notebooks.py                  # every notebook, full settings, saved in place
    scripts/run_notebooks.py 02 05            # only these (a name or its number)
    scripts/run_notebooks.py --fast           # quick check that every notebook runs

The kernelspec `peftlab` must be registered (`make kernelspec`, or JUPYTER_PATH pointing at a
prefix where `peftlab install --prefix` put it)."""
import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def select(names):
    every = sorted(NOTEBOOKS.glob("*.ipynb"))
    if not names:
        return every
    chosen = []
    for name in names:
        stem = Path(name).stem
        matches = [p for p in every if p.stem == stem or p.stem.split("-")[0] == stem.zfill(2)]
        if not matches:
            sys.exit(f"no notebook named {name!r}; there are: {', '.join(p.stem for p in every)}")
        chosen += [p for p in matches if p not in chosen]
    return chosen


def parameters_cell(nb):
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            return cell
    raise SystemExit("no cell tagged `parameters`")


def stores(path):
    """The notebook's stores and files under notebooks/runs/ (they start with its number)."""
    runs = NOTEBOOKS / "runs"
    number = path.stem.split("-")[0]
    return sorted(runs.glob(number + "-*")) if runs.is_dir() else []


def duration(seconds):
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}m{seconds:02d}s"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="notebooks to run (01, 02-methods-and-connector, …); default: all")
    parser.add_argument("--fast", action="store_true", help="the fast parameters, in a temporary folder; notebooks untouched")
    parser.add_argument("--output", help="where --fast writes the executed copies (default: out/notebooks-fast)")
    parser.add_argument("--fresh", action="store_true", help="delete the selected notebooks' stores first (full runs)")
    parser.add_argument("--kernel", default="peftlab")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds one cell may take")
    args = parser.parse_args()

    paths = select(args.names)
    output = Path(args.output or ROOT / "out" / "notebooks-fast")
    timings, failed = [], []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        cell = parameters_cell(nb)
        if args.fast:
            cell.source = nb.metadata["peftlab"]["fast_parameters"]
            workdir = Path(tempfile.mkdtemp(prefix=f"peftlab-{path.stem}-"))
        else:
            workdir = NOTEBOOKS
            if args.fresh:
                for store in stores(path):
                    print(f"  removing {store.relative_to(ROOT)}")
                    shutil.rmtree(store) if store.is_dir() else store.unlink()
        code_cells = sum(c.cell_type == "code" for c in nb.cells)
        print(f"{path.stem}: {'fast' if args.fast else 'full'} settings, {code_cells} code cells", flush=True)
        started = time.monotonic()
        client = NotebookClient(nb, timeout=args.timeout, kernel_name=args.kernel,
                                resources={"metadata": {"path": str(workdir)}})
        done = [0]

        def executed(cell, cell_index, execute_reply, **_):
            if cell.cell_type == "code":
                done[0] += 1
                print(f"  cell {done[0]}/{code_cells} done at {duration(time.monotonic() - started)}", flush=True)

        client.on_cell_executed = executed
        try:
            client.execute()
        except CellExecutionError as error:
            failed.append(path.stem)
            print(f"  FAILED: {str(error).splitlines()[0] if str(error) else error}", flush=True)
        elapsed = time.monotonic() - started
        timings.append((path.stem, elapsed))
        if args.fast:
            output.mkdir(parents=True, exist_ok=True)
            target = output / path.name
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            target = path
        nbformat.write(nb, target)
        print(f"  {duration(elapsed)}, saved {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}", flush=True)

    print()
    print(f"{'notebook':<30} {'settings':<8} {'time':>8}")
    for name, seconds in timings:
        print(f"{name:<30} {'fast' if args.fast else 'full':<8} {duration(seconds):>8}" + ("  FAILED" if name in failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
