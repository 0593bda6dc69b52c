#!/usr/bin/env python3
"""The real-browser check: JupyterLab with the PEFTLab kernel, driven by headless
Chromium. It opens a notebook holding a table, a plot, a dataset and a live display,
runs every cell with Shift+Enter as a user would, waits for the
outputs, checks the rendered page (DOM queries, not just that it loaded) and saves a
screenshot.

    .venv/bin/python scripts/browser_check.py [--screenshot docs/screenshot-notebook.png]

Needs: jupyterlab and selenium (pip), chromium and chromium-driver (apt)."""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    new_markdown_cell("# PEFTLab in JupyterLab\nA table, a plot, a dataset and a live display."),
    new_code_cell('let results = table(["method": ["LoRA", "LoRA", "IA3", "IA3", "Adapter", "Adapter"],\n'
                  '                      "connector": ["tuned", "frozen", "tuned", "frozen", "tuned", "frozen"],\n'
                  '                      "score": [0.81, 0.78, 0.70, 0.69, 0.84, 0.80]], title: "Average score")\n'
                  'results'),
    new_code_cell('plot(results, x: "method", y: "score", color: "connector", kind: .bar, title: "Methods × connector")'),
    new_code_cell('show(dataset("mini-vqav2", split: .test, size: 6), 6)'),
    new_code_cell('for step in 1...20 {\n'
                  '    display(html: "<b class=\\"live-step\\">step \\(step) of 20</b>", id: "live", update: step > 1)\n'
                  '    sleep(seconds: 0.05)\n'
                  '}'),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except Exception:  # the page is still being built
            pass
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshot", default="docs/screenshot-notebook.png")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()

    from selenium import webdriver
    from selenium.webdriver.common.by import By

    workdir = tempfile.mkdtemp(prefix="peftlab-lab-")
    nb = new_notebook(cells=CELLS)
    nb.metadata["kernelspec"] = {"name": "peftlab", "display_name": "PEFTLab", "language": "peftlab"}
    nbformat.write(nb, os.path.join(workdir, "check.ipynb"))

    port = free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=os.path.join(workdir, ".config"))
    lab = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                            "--allow-root", "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
                            f"--ServerApp.root_dir={workdir}", "--LabApp.news_url=None",
                            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1300,1480"):
        options.add_argument(flag)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:
        options.binary_location = chromium
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = None
    try:
        wait_for(lambda: socket.create_connection(("127.0.0.1", port), timeout=1), 60, "JupyterLab to listen")
        driver = webdriver.Chrome(options=options, service=service)
        driver.get(f"http://127.0.0.1:{port}/lab/tree/check.ipynb")
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"), args.timeout, "the notebook")
        def kernel_idle():
            status = driver.find_element(By.ID, "jp-main-statusbar").text
            return "PEFTLab" in status and "Idle" in status
        wait_for(kernel_idle, args.timeout, "the PEFTLab kernel to be idle (status bar)")
        # Run every cell as a user would: select the first, then Shift+Enter through the notebook.
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-CodeCell .cm-content"), 30,
                 "the code editors")[0].click()
        actions = ActionChains(driver)
        for _ in [c for c in CELLS if c.cell_type == "code"]:
            actions = actions.key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).pause(0.3)
        actions.perform()

        def rendered():
            page = driver.find_element(By.CSS_SELECTOR, ".jp-Notebook")
            tables = page.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output table")
            plots = page.find_elements(By.CSS_SELECTOR,
                                       ".jp-OutputArea-output svg, .jp-OutputArea-output .vega-embed, .jp-RenderedSVG img")
            images = page.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output img")
            live = page.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output .live-step")
            done = live and live[-1].text == "step 20 of 20"
            return tables and plots and images and done and (tables, plots, images, live)

        tables, plots, images, live = wait_for(rendered, args.timeout, "every output")
        assert any("LoRA" in t.text and "0.84" in t.text for t in tables), "the results table is not rendered"
        assert len(live) == 1, f"the live display should be one output updated in place, found {len(live)}"
        assert len(images) >= 6, f"expected the dataset's six images, found {len(images)}"
        time.sleep(1)
        os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)
        driver.save_screenshot(args.screenshot)
        print(f"browser check passed: {len(tables)} table(s), {len(plots)} plot(s), {len(images)} image(s), "
              f"live display at '{live[0].text}'; screenshot in {args.screenshot}")
    except Exception:
        if driver:
            driver.save_screenshot(args.screenshot.replace(".png", "-failure.png"))
        raise
    finally:
        if driver:
            driver.quit()
        lab.terminate()
        try:
            lab.wait(timeout=10)
        except subprocess.TimeoutExpired:
            lab.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
