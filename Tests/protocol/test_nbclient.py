"""Notebooks executed by nbclient and papermill, as CI and users run them."""
import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook


def make_notebook(cells):
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "peftlab", "display_name": "PEFTLab", "language": "peftlab"}
    return nb


def test_nbclient_executes_a_notebook():
    nb = make_notebook([
        'print("hello")',
        "let r = 8\nr * 2",
        'display(html: "<i>table</i>")',
        "for i in 0..<3 { print(i) }",
    ])
    NotebookClient(nb, timeout=60, kernel_name="peftlab").execute()
    out = [c.outputs for c in nb.cells]
    assert out[0][0]["text"] == "hello\n"
    assert out[1][0]["data"]["text/plain"] == "16"
    assert out[1][0]["execution_count"] == 2
    assert out[2][0]["data"]["text/html"] == "<i>table</i>"
    assert out[3][0]["text"] == "0\n1\n2\n"
    assert nb.metadata["language_info"]["name"] == "peftlab"


def test_display_updates_are_kept_in_the_saved_notebook():
    nb = make_notebook([
        'display("step 0", id: "progress")\nfor step in 1...3 { display("step \\(step)", id: "progress", update: true) }',
    ])
    NotebookClient(nb, timeout=60, kernel_name="peftlab").execute()
    outputs = nb.cells[0].outputs
    assert len(outputs) == 1
    assert outputs[0]["data"]["text/plain"] == '"step 3"'


def test_papermill_runs_a_parameterised_notebook(tmp_path):
    import papermill

    nb = make_notebook(["var steps = 10", "steps * 2"])
    nb.cells[0].metadata["tags"] = ["parameters"]
    src, dst = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    papermill.execute_notebook(str(src), str(dst), parameters={}, kernel_name="peftlab", progress_bar=False)
    out = nbformat.read(dst, as_version=4)
    assert out.cells[-1].outputs[0]["data"]["text/plain"] == "20"
