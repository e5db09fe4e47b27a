"""Which runs a sweep's study reads (lrd.results.select): a cell that two sweeps ran at other
settings is pooled, so every table, finding and figure keeps the same run for a seed."""

from __future__ import annotations

import pandas as pd

from lrd.results.select import borrowed, borrowed_text, not_run, study


def _run(rid, group, seed, acc, length=40, model="attention-rope", status="complete",
         sweeps=""):
    return {"run_id": rid, "group": group, "sweeps": sweeps, "task": "prefix_sum",
            "model": model, "init": "default", "regime": "full", "length": length,
            "seed": seed, "status": status, "diverged": status == "diverged",
            "val.accuracy": acc}


RUNS = pd.DataFrame([
    _run("a0", "positions", 0, 0.60), _run("a1", "positions", 1, 0.90),
    _run("a20", "positions", 0, 0.70, length=20),
    _run("b0", "lr", 0, 0.95), _run("b1", "lr", 1, 0.50),
    _run("b2", "lr", 2, 0.99),                 # a seed that positions never ran
    _run("c0", "lr", 0, 0.99, status="diverged"),   # diverged: ranks last, whatever its score
    _run("d0", "lr", 0, float("nan"), status="failed"),
    _run("s3", "positions", 3, float("nan"), status="skipped"),
    _run("x0", "other", 0, 1.0, model="lstm"),      # another cell: never pooled
])


def test_a_cell_two_sweeps_ran_counts_each_seed_by_its_best_run_over_both():
    got = study(RUNS, "positions")
    assert sorted(got["run_id"]) == ["a1", "a20", "b0"]
    # seed 0 at 40 is lr's b0 (0.95 > 0.60; the diverged c0 ranks last); seed 1 stays a1;
    # lr's seed 2 is not a seed of this study; the lstm cell is not this study's
    assert sorted(study(RUNS, "lr")["run_id"]) == ["a1", "b0", "b2"]


def test_tune_false_is_the_sweeps_own_runs_and_skipped_runs_are_not_run():
    assert sorted(study(RUNS, "positions", tune=False)["run_id"]) == ["a0", "a1", "a20"]
    assert sorted(study(RUNS, "lr", tune=False)["run_id"]) == ["b0", "b1", "b2", "c0"]
    assert list(not_run(RUNS, "positions")["run_id"]) == ["s3"]


def test_a_run_listed_for_a_sweep_is_its_own_not_borrowed():
    runs = RUNS.copy()
    runs.loc[runs["run_id"] == "b0", "sweeps"] = "lr;positions"
    assert borrowed(runs, ["positions"]).empty
    assert sorted(study(runs, "positions", tune=False)["run_id"]) == ["a0", "a1", "a20", "b0"]


def test_borrowed_runs_are_named_with_their_sweep():
    assert list(borrowed(RUNS, ["positions"])["run_id"]) == ["b0"]
    assert list(borrowed(RUNS, ["lr"])["run_id"]) == ["a1"]
    # each sweep alone, as a figure draws each sweep's panel apart
    assert sorted(borrowed(RUNS, ["positions", "lr"])["run_id"]) == ["a1", "b0"]
    assert borrowed_text(RUNS, ["positions"]) == (
        "Pooled: 1 seed of 1 cell of `positions` counts by a run that another sweep made of "
        "the same cell and seed at other settings (`lr`): a seed counts by its run with the "
        "best validation score over every sweep that ran it.")
    assert borrowed_text(RUNS, ["positions", "lr"]).startswith(
        "Pooled: 2 seeds of 1 cell of `positions`, `lr` count by runs that other sweeps made "
        "of the same cell and seed at other settings (`lr`, `positions`)")
    assert borrowed_text(RUNS, ["other"]) == ""
    # the settings the borrowed run differs in are named (not its group or seed)
    lrs = RUNS.assign(**{"config.optim.lr": [0.003] * 3 + [0.001] * 7,
                         "config.log.group": RUNS["group"]})
    assert "(`lr`: optim.lr 0.001): a seed" in borrowed_text(lrs, ["positions"])
    # compared with the same cells only: positions' run at 20 at lr 0.001 changes nothing
    lrs.loc[lrs["run_id"] == "a20", "config.optim.lr"] = 0.001
    assert "(`lr`: optim.lr 0.001): a seed" in borrowed_text(lrs, ["positions"])


def test_a_failed_run_of_another_sweep_never_stands_for_a_seed():
    """Only measured runs pool: a failed run (no score) would otherwise outrank a diverged
    one, which ranks last among measured runs."""
    runs = pd.DataFrame([_run("p0", "own", 0, 0.9, status="diverged"),
                         _run("q0", "else", 0, float("nan"), status="failed")])
    assert list(study(runs, "own")["run_id"]) == ["p0"]
    # the other way round: a seed whose own run failed counts by another sweep's measured run,
    # as in every table built from all runs; so does a seed the horizon search skipped, which
    # is then no longer "not run"
    assert list(study(runs, "else")["run_id"]) == ["p0"]
    skipped = runs.assign(status=["diverged", "skipped"])
    assert list(study(skipped, "else")["run_id"]) == ["p0"]
    assert not_run(skipped, "else").empty
    alone = skipped.assign(seed=[0, 1])            # no other sweep measured seed 1: not run
    assert study(alone, "else").empty and list(not_run(alone, "else")["run_id"]) == ["q0"]


def test_rows_keep_their_order_and_unusual_frames_stay_the_sweeps_own():
    backwards = RUNS.iloc[::-1]
    assert list(study(backwards, "positions")["run_id"]) == ["b0", "a20", "a1"]
    no_seed = RUNS.drop(columns="seed")            # nothing to pool by: the sweep's own runs
    assert sorted(study(no_seed, "positions")["run_id"]) == ["a0", "a1", "a20"]
    unknown = RUNS.assign(init=None)               # an unknown init is one value, as in tuned
    assert sorted(study(unknown, "positions")["run_id"]) == ["a1", "a20", "b0"]
