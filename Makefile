# lrd — every target creates and fills .venv first if it is missing.
# `make help` lists the targets.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The torch wheel to install. The default pin is the CPU build on this project's machines;
# on a GPU machine use e.g. `make TORCH='torch==2.13.0' ...` with the CUDA index of your choice.
TORCH  ?= torch==2.13.0
PROFILE ?= cpu
STAMP  := $(VENV)/.installed

export WANDB_MODE ?= offline
export WANDB_SILENT ?= true
export JSONARGPARSE_DEPRECATION_WARNINGS ?= off

.DEFAULT_GOAL := help
.PHONY: help venv test test-slow reproduce clean-venv

help:  ## list every target
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

venv: $(STAMP)  ## create .venv and install lrd with its test dependencies

test: $(STAMP)  ## run the test suite (fast tests; under 10 minutes on 2 CPU cores)
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: $(STAMP)  ## run only the slow tests (marked @pytest.mark.slow)
	$(BIN)/python -m pytest -m slow -q

reproduce: $(STAMP)  ## run the main job on profile PROFILE (default: cpu)
	$(BIN)/lrd tasks

clean-venv:  ## delete .venv
	rm -rf $(VENV)

bench: $(STAMP)  ## speed benchmark: prints every table, writes results/bench/*.csv and bench.png
	$(BIN)/python benchmarks/bench.py
