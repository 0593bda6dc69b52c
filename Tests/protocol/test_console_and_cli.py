"""jupyter console driving the kernel in a terminal, and `peftlab run` for scripts."""
import subprocess
import sys

import pexpect
from jupyter_client.kernelspec import KernelSpecManager


def peftlab_binary():
    return KernelSpecManager().get_kernel_spec("peftlab").argv[0]


def test_jupyter_console_runs_cells():
    console = pexpect.spawn(sys.executable, ["-m", "jupyter_console", "--kernel", "peftlab", "--simple-prompt"],
                            encoding="utf-8", timeout=120)  # a fresh venv compiles IPython on first use
    try:
        console.expect(r"In \[1\]: ")
        console.sendline("let r = 6")
        console.expect(r"In \[2\]: ")
        console.sendline("r * 7")
        console.expect(r"Out\[2\]: 42")
        console.expect(r"In \[3\]: ")
        console.sendline('print("from the console")')
        console.expect("from the console")
        console.expect(r"In \[4\]: ")
        console.sendline("nope")
        console.expect("NameError")
        console.expect(r"In \[\d+\]: ")
        console.sendeof()
        if console.expect([r"exit \(\[y\]/n\)\?", pexpect.EOF]) == 0:
            console.sendline("y")
            console.expect(pexpect.EOF)
    finally:
        console.close(force=True)


def test_run_script_prints_results(tmp_path):
    script = tmp_path / "ok.peft"
    script.write_text('print("hi")\nlet x = 20\nx + 1\n')
    done = subprocess.run([peftlab_binary(), "run", str(script)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hi\n21\n"


def test_run_script_reports_the_error_location(tmp_path):
    script = tmp_path / "bad.peft"
    script.write_text('let x = 1\nprint(x)\nprint(y)\n')
    done = subprocess.run([peftlab_binary(), "run", str(script)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert f"{script}:3:7: NameError: cannot find 'y' in scope" in done.stderr
    assert done.stdout == "1\n"


def test_run_script_shows_every_cell_result(tmp_path):
    script = tmp_path / "cells.peft"
    script.write_text('// a header comment\n// %%\nlet x = 20\nx + 1\n// %%\n// only a comment\n// %%\nx * 2\n'
                      '// %%\nprint(x)\nprint(nope)\n')
    done = subprocess.run([peftlab_binary(), "run", str(script)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stdout == "21\n40\n20\n"               # each cell's result, as a notebook shows them
    assert f"{script}:11:7: NameError: cannot find 'nope' in scope" in done.stderr   # the script's own line


def test_kernelspec_and_logos_are_installed(tmp_path):
    done = subprocess.run([peftlab_binary(), "install", "--prefix", str(tmp_path), "--name", "peftlab-test"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "share" / "jupyter" / "kernels" / "peftlab-test"
    spec = KernelSpecManager(kernel_dirs=[str(folder.parent)]).get_kernel_spec("peftlab-test")
    assert spec.language == "peftlab"
    assert spec.interrupt_mode == "signal"
    assert spec.argv[1:] == ["kernel", "-f", "{connection_file}"]
    for size in (32, 64):
        png = (folder / f"logo-{size}x{size}.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert int.from_bytes(png[16:20], "big") == size


def test_run_script_writes_a_self_contained_report(tmp_path):
    script = tmp_path / "report.peft"
    script.write_text(
        'print("training")\n'
        'let t = table(["method": ["LoRA", "IA3"], "score": [0.8, 0.7]], title: "Scores")\n'
        'display(t)\n'
        'display(plot(t, x: "method", y: "score", kind: .bar))\n'
        'for i in 1...3 { display("step \\(i)", id: "live", update: i > 1) }\n'
        't.count\n')
    report = tmp_path / "out.html"
    done = subprocess.run([peftlab_binary(), "run", str(script), "--report", str(report)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "training\n" in done.stdout and done.stdout.endswith("2\n")
    page = report.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<caption" in page and ">Scores</caption>" in page     # the table as HTML
    assert "<svg xmlns=" in page                                    # the plot inline
    assert "&quot;step 3&quot;" in page and "&quot;step 1&quot;" not in page  # only a live display's last state
    assert "<script" not in page                                    # self-contained, no JavaScript
