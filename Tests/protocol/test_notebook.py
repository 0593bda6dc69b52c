"""The DESIGN.md §3 notebook (examples/notebook.peft), run for real with smaller sizes: cell by
cell through the kernel with jupyter_client, and whole with `peftlab run`."""
import re
import subprocess
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import start_new_kernel

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebook.peft"

# The sizes of the first cell, small enough for a test (about 40 s a run).
SMALL = {"trainSize": 16, "testSize": 4, "steps": 3, "moreSteps": 2, "batch": 4,
         "compareSteps": 2, "compareTrainSize": 8}


def small_notebook():
    """The notebook's text with the parameters of its first cell replaced by SMALL."""
    text = NOTEBOOK.read_text(encoding="utf-8")
    for name, value in SMALL.items():
        text, count = re.subn(rf"^let {name} = \d+", f"let {name} = {value}", text, count=1, flags=re.M)
        assert count == 1, f"the notebook has no parameter {name}"
    return text


def cells(text):
    """Cells split at `// %%` lines, as scripts/run_through_kernel.py and `peftlab run` split them."""
    out, current = [], []
    for line in text.splitlines() + ["// %%"]:
        if line.startswith("// %%"):
            if any(l.strip() and not l.strip().startswith("//") for l in current):
                out.append("\n".join(current).strip("\n"))
            current = []
        else:
            current.append(line)
    return out


def rich(outputs, kind):
    """The data of the outputs of one message type."""
    return [m["content"]["data"] for m in outputs if m["msg_type"] == kind]


def check_parameters(result, displays, outputs):
    assert result is None and not displays


def check_card(result, displays, outputs):
    assert "LlavaForConditionalGeneration" in result["text/html"] and "4,191,232" in result["text/plain"]


def check_samples(result, displays, outputs):
    assert result is None                                         # show(...) displays the samples
    html = displays[0]["text/html"]
    assert html.count('<img src="data:image/png;base64,') == 6 and "How many" in html


def check_trainable(result, displays, outputs):
    html = result["text/html"]
    assert "<table" in html and "<svg" in html and "trainable parameters by part" in html


def check_training(result, displays, outputs):
    assert result is None
    assert " step 3/3 " in displays[-1]["text/plain"] and displays[-1]["text/plain"].endswith("done")


def check_continued(result, displays, outputs):
    assert "steps: 5" in result["text/plain"]                  # the run's card: 3 + 2 steps
    assert " step 2/2 " in displays[-1]["text/plain"] and "the run is at step 5" in displays[-1]["text/plain"]


def check_plot(result, displays, outputs):
    assert result["image/svg+xml"].startswith("<svg") and "application/vnd.vegalite.v5+json" in result
    assert result["text/plain"] == "<line plot: value by step, 5 points>"


def check_evaluation(result, displays, outputs):
    assert "<table" in result["text/html"] and "mini-iconqa-blank" in result["text/plain"]
    assert " answer 4/4 " in displays[-1]["text/plain"]


def check_answer(result, displays, outputs):
    assert result["text/plain"].startswith('"')


def check_changes(result, displays, outputs):
    assert "what lora moved by step 5" in result["image/svg+xml"]
    assert result["application/vnd.vegalite.v5+json"]["mark"] == "rect"
    assert "q_proj" in result["text/plain"] and "down_proj" in result["text/plain"]


def check_comparison(result, displays, outputs):
    text = result["text/plain"]
    assert text.startswith("comparison: score")
    for method in ("lora", "ia3", "adapter", "prefix"):
        assert re.search(rf"^{method} ", text, re.M), text
    assert "mini-sqa" in text and "mini-pope" in text            # the nine datasets of suite("mini")
    assert "done: 72 runs" in displays[-1]["text/plain"]         # 4 methods × 2 connectors × 9 datasets


def check_saved(result, displays, outputs):
    assert result["text/plain"] == '"runs/iconqa-lora"'


CHECKS = [check_parameters, check_card, check_samples, check_trainable, check_training, check_continued,
          check_plot, check_evaluation, check_answer, check_changes, check_comparison, check_saved]


def test_the_notebook_runs_cell_by_cell_in_the_kernel(tmp_path):
    code = cells(small_notebook())
    assert len(code) == len(CHECKS)
    km, kc = start_new_kernel(kernel_name="peftlab", cwd=str(tmp_path))
    try:
        for i, (cell, check) in enumerate(zip(code, CHECKS), 1):
            outputs = []
            reply = kc.execute_interactive(cell, timeout=120, output_hook=outputs.append)
            errors = [m["content"] for m in outputs if m["msg_type"] == "error"]
            assert reply["content"]["status"] == "ok", f"cell {i}: {errors}"
            results = rich(outputs, "execute_result")
            displays = [m["content"]["data"] for m in outputs if m["msg_type"] in ("display_data", "update_display_data")]
            check(results[0] if results else None, displays, outputs)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert (tmp_path / "runs" / "iconqa-lora" / "adapter_config.json").exists()
    assert len((tmp_path / "runs" / "compare.jsonl").read_text().splitlines()) == 72


def test_the_notebook_runs_as_a_script(tmp_path):
    script = tmp_path / "notebook.peft"
    script.write_text(small_notebook(), encoding="utf-8")
    binary = KernelSpecManager().get_kernel_spec("peftlab").argv[0]
    done = subprocess.run([binary, "run", str(script)], capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^mini-iconqa-blank +unseen +accuracy +[\d.]+ +4 ", done.stdout, re.M), done.stdout  # evaluate's table
    assert "comparison: score" in done.stdout and '"runs/iconqa-lora"' in done.stdout
    assert (tmp_path / "runs" / "iconqa-lora" / "adapter_model.safetensors").exists()
