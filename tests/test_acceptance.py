"""Acceptance runs at full scale: slow (minutes), so `make test-slow` runs them, not `make test`.

Each trains a named config from configs/experiments as a user would and checks the result
that the config promises."""

import pytest

pytestmark = pytest.mark.slow

QUIET = ["log.wandb=false", "train.progress_bar=false"]


def test_lstm_solves_adding_at_length_50(run_tiny):
    rec = run_tiny("experiments/adding_lstm.yaml", overrides=QUIET, tiny=False)
    assert rec["solved"] and rec["metrics"]["test"]["mse"] < 0.01


def test_lstm_solves_copy_at_delay_20(run_tiny):
    rec = run_tiny("experiments/copy_lstm.yaml", overrides=QUIET, tiny=False)
    assert rec["solved"] and rec["metrics"]["test"]["accuracy"] >= 0.99


def test_prefix_sum_trained_at_20_generalises_to_5000(run_tiny):
    rec = run_tiny("experiments/prefix_sum_train20.yaml", overrides=QUIET, tiny=False)
    assert rec["solved"]
    assert rec["metrics"]["lengths"]["5000"]["accuracy"] >= 0.99
