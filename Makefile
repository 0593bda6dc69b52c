# PEFTLab: two commands for users (`make demo`, `make test`), a few for developers.
# Both install what they need on a fresh Debian machine (apt, then a Python venv in .venv).

SWIFT      ?= swift
VENV       := .venv
PYTHON     := $(VENV)/bin/python
PEFTLAB    := .build/release/peftlab
# The kernelspec this checkout registers comes first, before any user-wide install.
export JUPYTER_PATH := $(abspath $(VENV))/share/jupyter

.PHONY: demo test setup setup-test build kernelspec test-swift test-protocol test-browser bench notebooks clean

## The main job: build, register the kernel, run the demo script through it, then the quickstart
## study (Table 1 in miniature on tiny-llava, a few minutes): its summary table printed, every
## output written to out/quickstart.html. Its runs start afresh each time.
demo: setup build kernelspec
	$(PYTHON) scripts/run_through_kernel.py examples/demo.peft
	rm -f out/quickstart-runs.jsonl
	$(PYTHON) scripts/run_through_kernel.py examples/quickstart-study.peft --report out/quickstart.html

## Every test: Swift unit tests (release), the protocol tests with real Jupyter clients,
## and JupyterLab in headless Chromium.
test: setup-test build kernelspec test-swift test-protocol test-browser

setup:
	@bash scripts/setup.sh

setup-test:
	@bash scripts/setup.sh --test

build:
	$(SWIFT) build -c release --product peftlab

kernelspec: build
	$(PEFTLAB) install --prefix $(abspath $(VENV))

test-swift:
	$(SWIFT) test -c release

test-protocol:
	$(PYTHON) -m pytest -q Tests/protocol

test-browser:
	$(PYTHON) scripts/browser_check.py --screenshot .build/screenshot-notebook.png

## Benchmarks against the peers, each in one run on this machine: ipykernel for the kernel,
## PyTorch (+ transformers + peft) for the numeric ones, CPython for the interpreter. With peft installed, also
## the check that Python peft loads the adapter files PEFTLab writes (skipped by `make test`).
bench: setup build kernelspec
	$(PYTHON) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	PEFTLAB_PEFT_PYTHON=$(abspath $(VENV))/bin/python $(SWIFT) test -c release --filter PeftLoadsOursTests
	$(PYTHON) benchmarks/kernel_bench.py
	$(PEFTLAB) bench ops --peer-python $(PYTHON)
	$(PEFTLAB) bench eval --peer-python $(PYTHON)
	$(PEFTLAB) bench model --peer-python $(PYTHON)
	$(PEFTLAB) bench train --peer-python $(PYTHON)
	$(PEFTLAB) bench data
	$(PEFTLAB) bench interpreter --peer-python $(PYTHON)

## The study notebooks at full settings, saved with their outputs (about half an hour on 2 cores).
notebooks: setup build kernelspec
	$(PYTHON) scripts/run_notebooks.py

clean:
	rm -rf .build $(VENV)
