# lrd — every target creates and fills .venv first if it is missing.
# `make help` lists the targets.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The torch wheel to install. The default pin is the CPU build on this project's machines;
# on a GPU machine use e.g. `make TORCH='torch==2.13.0' ...` with the CUDA index of your choice.
TORCH  ?= torch==2.13.0
PROFILE ?= literature
# Where a profile's study lives: the committed one (literature) in results/, any other in
# .lrd/PROFILE/ (git-ignored), so trying a profile never touches the committed results.
RESULTS ?= $(if $(filter literature,$(PROFILE)),results,.lrd/$(PROFILE))
SWEEP  ?=
WORKERS ?=
WANDB_PROJECT ?= lrd
STAMP  := $(VENV)/.installed
# The study, headline sweeps first (a stopped `make reproduce` resumes where it stopped).
STUDY  := horizon_copy horizon_adding prefix_sum_study irnn_adding positions_prefix_sum \
          positions_copy regime_prefix_sum regime_copy init_adding horizon_delayed_recall \
          lr_positions_prefix_sum irnn_sgd_adding budget_delayed_recall budget_copy
SWEEPS := $(foreach s,$(STUDY),configs/sweeps/$(s).yaml)

export WANDB_MODE ?= offline
export WANDB_SILENT ?= true

.DEFAULT_GOAL := help
.PHONY: help venv test test-slow reproduce retrain results sweep sweep-offline figures bench bench-horizon clean-venv

help:  ## list every target
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

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

reproduce: $(STAMP)  ## the study: every sweep on PROFILE (default: literature) into RESULTS, then tables, figures, report; resumable
	$(BIN)/lrd sweep $(SWEEPS) --profile $(PROFILE) --out $(RESULTS)/runs --results $(RESULTS) \
	  $(if $(WORKERS),--workers $(WORKERS))
	$(BIN)/lrd results --runs $(RESULTS)/runs --dest $(RESULTS)
	$(BIN)/lrd figures --results $(RESULTS)

retrain: $(STAMP)  ## the literature study retrained from scratch into .lrd/retrain/ (results/ untouched; hours: see results/README.md, Compute)
	$(MAKE) reproduce PROFILE=literature RESULTS=.lrd/retrain

results: $(STAMP)  ## aggregate every run record into results/*.csv
	$(BIN)/lrd results

figures: $(STAMP)  ## regenerate every figure and table from results/ alone
	$(BIN)/lrd figures

sweep-offline: $(STAMP)  ## run SWEEP=FILE offline on PROFILE in worker processes
	@test -n "$(SWEEP)" || { echo "usage: make sweep-offline SWEEP=configs/sweeps/NAME.yaml [PROFILE=literature]"; exit 2; }
	$(BIN)/lrd sweep $(SWEEP) --profile $(PROFILE) --out $(RESULTS)/runs --results $(RESULTS) \
	  $(if $(WORKERS),--workers $(WORKERS))

sweep: $(STAMP)  ## create a W&B sweep from SWEEP=FILE on PROFILE and start an agent (wandb login first)
	@test -n "$(SWEEP)" || { echo "usage: make sweep SWEEP=configs/sweeps/NAME.yaml [PROFILE=paper]"; exit 2; }
	@mkdir -p .lrd/sweeps
	$(BIN)/lrd sweep $(SWEEP) --profile $(PROFILE) --export .lrd/sweeps/$(notdir $(SWEEP))
	WANDB_MODE=online $(BIN)/wandb sweep --project $(WANDB_PROJECT) .lrd/sweeps/$(notdir $(SWEEP)) \
	  2>&1 | tee .lrd/sweeps/$(notdir $(SWEEP)).log
	@id=$$(grep -o 'wandb agent [^ ]*' .lrd/sweeps/$(notdir $(SWEEP)).log | tail -n 1 | cut -d' ' -f3); \
	  test -n "$$id" || { echo "no sweep id: is W&B logged in (wandb login)?"; exit 1; }; \
	  echo "starting an agent for $$id (start more, one per GPU: CUDA_VISIBLE_DEVICES=i wandb agent $$id)"; \
	  PATH="$(abspath $(BIN)):$$PATH" WANDB_MODE=online $(BIN)/wandb agent $$id

clean-venv:  ## delete .venv
	rm -rf $(VENV)

bench: $(STAMP)  ## speed benchmarks: print every table, write results/bench/*.csv and bench.png
	$(BIN)/python benchmarks/bench.py
	$(BIN)/python benchmarks/allocator.py

bench-horizon: $(STAMP)  ## horizon search vs the full grid on copy (literature scale: hours on 2 cores; resumable)
	$(BIN)/python benchmarks/horizon_search.py --run full
	$(BIN)/python benchmarks/horizon_search.py --run search
	$(BIN)/python benchmarks/horizon_search.py
