"""The words of the figure findings on hand-made data: a group alone is "only ... measured so
far", a group at chance is marked "at the memoryless baseline", solved groups and groups within
a practical tolerance tie, and "no horizon" is not read as "no memory".

With three seeds the 95% percentile-bootstrap CI of the mean is [min, max] (a resample of one
seed three times has probability 1/27 > 2.5 %), so the expected intervals below are exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lrd import results as resultslib
from test_figures import write_run

SEEDS = (0, 1, 2)


def _stats(rows):
    """``seed_stats``-like rows from ``(key, mean, low, high)`` tuples."""
    return pd.DataFrame(rows, columns=["k", "mean", "low", "high"])


def _results(root, runs):
    """A results folder of the runs ``[(write_run keyword arguments), ...]``; its runs table."""
    from lrd.figures.data import load_runs

    for kw in runs:
        write_run(root / "runs", **kw)
    resultslib.write(root / "runs", root)
    return load_runs(root)


# 1. one group compared with nothing; a group at the memoryless baseline

def test_a_group_alone_is_only_measured_not_best():
    from lrd.figures.seeds import best_text

    s = _stats([("full", 0.179, 0.124, 0.2129), ("truncated", np.nan, np.nan, np.nan)])
    assert best_text(s, "k", str) == "only full measured so far (seed mean 0.179, 95% CI " \
                                      "[0.124, 0.2129])"
    assert best_text(s, "k", str, baseline=0.125) == (
        "only full measured so far (seed mean 0.179, 95% CI [0.124, 0.2129]) (at the "
        "memoryless baseline)")


@pytest.mark.parametrize("row, base, higher, want", [
    ((0.3353, 0.334, 0.3364), 0.3335, True, True),      # at chance: CI high within 0.01
    ((0.3, 0.1, 0.5), 0.125, True, True),               # CI contains the baseline
    ((0.12, 0.11, 0.124), 0.125, True, True),           # wholly below it
    ((0.5, 0.4, 0.6), 0.3335, True, False),
    ((0.139, 0.136, 0.14), 0.125, True, False),         # low 0.136 > 0.125 + 0.01
    ((1.04, 1.008, 1.084), 1.0, False, True),           # loss / baseline above 1
    ((0.995, 0.992, 0.998), 1.0, False, True),          # within 0.01 of it
    ((0.5, 0.3, 0.7), 1.0, False, False),
    ((0.5, np.nan, np.nan), 1.0, False, False),         # one seed: the mean decides
    ((0.995, np.nan, np.nan), 1.0, False, True)])
def test_at_baseline_is_a_ci_not_clearly_beyond_the_baseline(row, base, higher, want):
    from lrd.figures.seeds import at_baseline

    r = pd.Series(dict(zip(["mean", "low", "high"], row)))
    assert at_baseline(r, base, higher) is want


def test_the_best_at_chance_is_marked_and_without_a_baseline_nothing_is_said():
    from lrd.figures.seeds import best_text

    s = _stats([("RoPE", 0.3353, 0.334, 0.3364), ("NoPE", 0.30, 0.29, 0.31)])
    assert best_text(s, "k", str, baseline=0.3335) == (
        "best: RoPE (seed mean 0.3353, 95% CI [0.334, 0.3364]) (at the memoryless baseline)")
    assert best_text(s, "k", str) == "best: RoPE (seed mean 0.3353, 95% CI [0.334, 0.3364])"


def test_the_regime_finding_of_a_lone_regime_at_chance(tmp_path):
    """Copy at length 10: only full BPTT has runs, at accuracies 0.125, 0.126, 0.127 (the
    baseline is 1/8)."""
    from lrd.figures import regime

    runs = _results(tmp_path, [dict(task="copy", model="lstm", length=10, seed=s,
                                    group="regime_copy", test={"accuracy": 0.125 + 0.001 * s,
                                                               "loss": 2.0}) for s in SEEDS])
    made = regime.make_regime(runs, tmp_path, tmp_path / "figures")
    assert made.findings == [
        "LSTM on Copy at length 10, test accuracy over seeds by regime, only full BPTT measured "
        "so far (seed mean 0.126, 95% CI [0.125, 0.127]) (at the memoryless baseline)."]


def test_the_init_finding_names_the_initialisations_measured(tmp_path):
    from lrd.figures import init

    runs = _results(tmp_path, [dict(task="adding", model="rnn-tanh", length=L, seed=s,
                                    group="init_adding", test={"mse": 0.16, "loss": 0.16})
                               for L in (10, 25) for s in SEEDS])
    made = init.make(runs, tmp_path, tmp_path / "figures")
    assert made.findings == [
        "RNN (tanh): of the measured initialisations (default), none has a memory horizon (as "
        "in the horizon table) at the lengths tested."]


# 2. ties: a degenerate CI, and solved groups

def test_a_mean_within_a_tenth_of_a_percent_ties_with_a_degenerate_ci():
    from lrd.figures.seeds import best, best_text

    s = _stats([("LSTM", 1.0, 1.0, 1.0), ("GRU", 0.9999993, 0.999998, 1.0)])
    assert best(s, "k") == (["LSTM", "GRU"], True)
    assert best_text(s, "k", str) == (
        "tied: LSTM, GRU (seed means 1, 1, each within the best's 95% CI [1, 1] or 0.1 % of "
        "its mean)")
    apart = _stats([("LSTM", 1.0, 1.0, 1.0), ("GRU", 0.998, 0.997, 0.999)])
    assert best(apart, "k") == (["LSTM"], False)


def test_solved_groups_tie_when_the_best_is_solved():
    from lrd.figures.seeds import best, best_text

    s = _stats([("LSTM", 1.0, 1.0, 1.0), ("GRU", 0.997, 0.995, 0.999),
                ("RNN", 0.98, 0.97, 0.99)])
    assert best(s, "k") == (["LSTM"], False)
    assert best(s, "k", solved=0.99) == (["LSTM", "GRU"], True)
    assert best_text(s, "k", str, solved=0.99) == (
        "tied: LSTM, GRU, all solved (seed means 1, 0.997, each ≥ 0.99)")
    # a loss: solved below the threshold
    loss = _stats([("a", 0.001, 0.0009, 0.0011), ("b", 0.004, 0.003, 0.005),
                   ("c", 0.5, 0.4, 0.6)])
    assert best_text(loss, "k", str, higher_is_better=False, solved=0.06) == (
        "tied: a, b, all solved (seed means 0.001, 0.004, each < 0.06)")
    # an unsolved best ties with nothing by the threshold
    low = _stats([("a", 0.5, 0.45, 0.55), ("b", 0.3, 0.25, 0.35)])
    assert best(low, "k", solved=0.99) == (["a"], False)


def test_the_generalisation_finding_ties_solved_models(tmp_path):
    """Prefix sum trained at 20, at test length 5000: the LSTM at 1.0 in every seed, the GRU
    at 0.996, 0.997, 0.998; both solved, so tied (the LSTM's CI is [1, 1])."""
    from lrd.figures import generalisation

    runs = []
    for model, acc in (("lstm", lambda s: 1.0), ("gru", lambda s: 0.996 + 0.001 * s)):
        for s in SEEDS:
            lengths = {"5000": {"accuracy": acc(s), "loss": 0.1}}
            runs.append(dict(task="prefix_sum", model=model, length=20, seed=s,
                             group="prefix_sum_study", lengths=lengths,
                             test={"accuracy": 1.0, "loss": 0.1}))
    made = generalisation.make(_results(tmp_path, runs), tmp_path, tmp_path / "figures")
    assert made.findings == [
        "Trained at length 20, accuracy at test length 5000 over seeds (baseline 0.333), tied: "
        "GRU (full BPTT), LSTM (full BPTT), all solved (seed means 0.997, 1, each ≥ 0.99)."]


# 3. no horizon is not no memory

def test_a_model_without_a_horizon_says_where_it_beats_or_loses_to_the_baseline(tmp_path):
    """Copy (baseline 1/8): the tanh RNN at 0.125-0.127 (at the baseline), the LSTM at
    0.175-0.179 (clearly above it), neither solves. Adding (baseline MSE 1/6): the tanh RNN at
    MSE 0.17-0.172 (1.02-1.032 of the baseline: worse), the LSTM solves 10, not 25."""
    from lrd.figures import horizon
    from lrd.figures.data import study

    runs = []
    for L in (5, 10):
        for s in SEEDS:
            for model, acc in (("rnn-tanh", 0.125 + 0.001 * s), ("lstm", 0.175 + 0.002 * s)):
                runs.append(dict(task="copy", model=model, length=L, seed=s,
                                 group="horizon_copy", test={"accuracy": acc, "loss": 2.0}))
    for L in (10, 25):
        for s in SEEDS:
            mse = {"rnn-tanh": 0.17 + 0.001 * s, "lstm": 0.004 if L == 10 else 0.16}
            for model, v in mse.items():
                runs.append(dict(task="adding", model=model, length=L, seed=s,
                                 group="horizon_adding", test={"mse": v, "loss": v}))
    runs = _results(tmp_path, runs)
    copy = horizon._finding("copy", study(runs, "horizon_copy"))
    assert copy == ("Copy: memory horizon (as in the horizon table, lengths up to 10): RNN "
                    "(tanh) solves no length, LSTM solves no length (above the baseline at "
                    "T = 5, 10).")
    adding = horizon._finding("adding", study(runs, "horizon_adding"))
    assert adding == ("Adding: memory horizon (as in the horizon table, lengths up to 25): RNN "
                      "(tanh) solves no length (worse than the memoryless baseline at T = 10, "
                      "25: an optimisation failure, not only missing memory), LSTM 10.")
