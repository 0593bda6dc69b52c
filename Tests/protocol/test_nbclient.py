"""Notebooks executed by nbclient and papermill, as CI and users run them."""
import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from conftest import run


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


TRAINING_CELLS = [
    'let base = model("tiny-llava")\nlet trainSet = dataset("mini-vqav2", split: .train, size: 16)',
    "let run = train(attach(base, lora(rank: 4, alpha: 8)), on: trainSet, steps: 4, batch: 4)",
]


def test_saved_notebook_keeps_the_final_training_progress():
    nb = make_notebook(TRAINING_CELLS)
    NotebookClient(nb, timeout=120, kernel_name="peftlab").execute()
    outputs = nb.cells[1].outputs
    assert len(outputs) == 1, outputs          # one display, updated in place: no trail of states
    final = outputs[0]
    assert final["output_type"] == "display_data"
    text = final["data"]["text/plain"]
    assert "step 4/4" in text and "loss " in text and text.endswith("done")
    html = final["data"]["text/html"]
    assert "width:100.0%" in html and "step 4/4" in html and "<polyline" in html   # full bar and the loss curve


def test_a_console_reads_one_progress_line_per_update(kernel):
    _, kc = kernel
    run(kc, TRAINING_CELLS[0], timeout=60)
    reply, outputs = run(kc, TRAINING_CELLS[1], timeout=120)
    assert reply["content"]["status"] == "ok"
    progress = [m for m in outputs if m["msg_type"] in ("display_data", "update_display_data")]
    assert progress[0]["msg_type"] == "display_data"         # what jupyter console prints
    assert all(m["msg_type"] == "update_display_data" for m in progress[1:])
    ids = {m["content"]["transient"]["display_id"] for m in progress}
    assert len(ids) == 1
    for message in progress:
        text = message["content"]["data"]["text/plain"]
        assert "\n" not in text and "step " in text and "loss " in text and "lr " in text
        assert "tokens/s " in text and "ETA " in text and "elapsed " in text
    last = progress[-1]["content"]["data"]["text/plain"]
    assert last.startswith("training lora, connector frozen: ") and " step 4/4 " in last and last.endswith("done")
