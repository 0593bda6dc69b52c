"""The study notebooks (notebooks/*.ipynb), executed by nbclient through the kernel with their
fast parameters: the cell tagged `parameters` is replaced by `metadata.peftlab.fast_parameters`
and the kernel runs in a temporary folder, so the runs' stores and files go there, not into the
repository. No cell may fail, and each notebook must show tables and figures."""
import re
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
TABLE = "application/vnd.peftlab.table+json"
SVG = "image/svg+xml"


def parameters_cell(nb):
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "one cell tagged parameters"
    assert cells[0] is next(c for c in nb.cells if c.cell_type == "code"), "the first code cell holds the parameters"
    return cells[0]


def bound_names(source):
    return set(re.findall(r"^\s*(?:let|var)\s+(\w+)", source, flags=re.M))


def with_fast_parameters(path):
    nb = nbformat.read(path, as_version=4)
    fast = nb.metadata["peftlab"]["fast_parameters"]
    parameters_cell(nb).source = fast
    return nb


def test_the_study_notebooks_are_there():
    names = [p.stem for p in NOTEBOOKS]
    assert names == ["01-quickstart", "02-methods-and-connector", "03-location-and-budget",
                     "04-data-size-and-stability", "05-generalization", "06-hallucination", "07-your-own-data"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_fast_parameters_bind_the_same_names(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "peftlab"
    full = parameters_cell(nb).source
    fast = nb.metadata["peftlab"]["fast_parameters"]
    assert bound_names(full) and bound_names(full) == bound_names(fast)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_with_fast_parameters(path, tmp_path):
    nb = with_fast_parameters(path)
    started = time.monotonic()
    NotebookClient(nb, timeout=600, kernel_name="peftlab", resources={"metadata": {"path": str(tmp_path)}}).execute()
    print(f"{path.stem}: {time.monotonic() - started:.1f} s")

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, errors
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code"), "every code cell ran"
    kinds = {mime for o in outputs for mime in o.get("data", {})}
    assert TABLE in kinds, "a table"
    assert SVG in kinds, "a figure"
    assert (tmp_path / "runs").is_dir(), "stores and files go under the kernel's folder"

    if path.stem == "01-quickstart":
        assert (tmp_path / "runs/01-quickstart/lora/adapter_config.json").is_file()
        scores = [o.data[TABLE] for c in nb.cells if c.cell_type == "code"
                  if c.source.startswith("evaluate(run") or "evaluate(reloaded" in c.source
                  for o in c.outputs if o.get("data", {}).get(TABLE)]
        assert len(scores) == 2 and scores[0][0]["score"] == scores[1][0]["score"], "the reloaded adapter scores the same"
    elif path.stem == "07-your-own-data":
        assert (tmp_path / "runs/07-own-data/train.json").is_file()
        assert len(list((tmp_path / "runs/07-own-data/images").glob("*.png"))) == 18
    else:
        assert any(p.suffix == ".jsonl" for p in (tmp_path / "runs").rglob("*")), "finished runs are stored"
