# Quickstart: `make demo` instruction-tunes a pretrained tiny T5 on the synthetic suite and shows
# it beside the untuned model on held-out task clusters (offline, CPU);
# `make test` runs the test suite. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test bench install

$(STAMP): setup.py
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ".[test,hf,beam]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/flan-jax experiment demo --gin_file=gin/experiments/demo.gin

test: $(STAMP)
	$(VENV)/bin/python -m pytest

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/train_throughput.py
	$(VENV)/bin/python benchmarks/decode_throughput.py
