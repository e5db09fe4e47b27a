"""The report's tables from hand-made runs with known numbers: the prefix-sum study table holds
the mean over seeds of the study's completed runs, and records -> runs.csv -> tables keeps the
numbers exact."""

import pandas as pd
import pytest

from lrd import results
from lrd.results import report

from test_aggregate import put

SWEEP = "prefix_sum_study"


def run(seed, length, regime, model, acc, at100, at5000, group=SWEEP, sweeps=None,
        status="complete", lr=0.003):
    return {"run_id": f"prefix_sum-{model}-{regime}-{length}-s{seed}-{group}-{lr}",
            "group": group,
            "sweeps": sweeps if sweeps is not None else group, "status": status,
            "task": "prefix_sum", "init": "default", "length": length, "regime": regime,
            "model": model, "seed": seed, "solved": acc >= 0.99, "test.accuracy": acc,
            "length.100.accuracy": at100, "length.5000.accuracy": at5000}


@pytest.fixture
def study_runs():
    nan = float("nan")
    return pd.DataFrame([
        run(0, 20, "full", "lstm", 0.5, 0.2, 0.1),
        run(1, 20, "full", "lstm", 0.8, 0.4, 0.1),
        # in the study through the sweep lists only (it ran first under another sweep's group)
        run(2, 20, "full", "lstm", 1.0, 0.9, 0.4, group="horizon_prefix_sum",
            sweeps=f"horizon_prefix_sum;{SWEEP}"),
        run(0, 20, "full", "rnn-tanh", 0.25, 0.3, 0.05),
        run(1, 20, "full", "rnn-tanh", 0.75, 0.1, 0.15),
        # the same two seeds at a second learning rate: still two seeds (means chosen so the
        # mean over runs and the mean of per-seed means agree)
        run(0, 20, "full", "rnn-tanh", 0.75, 0.1, 0.15, lr=0.01),
        run(1, 20, "full", "rnn-tanh", 0.25, 0.3, 0.05, lr=0.01),
        run(0, 200, "teacher_forcing", "lstm", 0.9, 0.85, 0.6),
        run(1, 200, "teacher_forcing", "lstm", nan, nan, nan, status="failed"),  # no metrics
        run(3, 20, "full", "lstm", 0.0, 0.0, 0.0, group="other"),               # not the study
        run(4, 20, "full", "lstm", 0.0, 0.0, 0.0, group="other", sweeps="other"),
    ])


def test_prefix_sum_table_is_the_mean_over_the_study_seeds(study_runs):
    t = report.prefix_sum_table(study_runs)
    assert list(t.columns) == ["train_length", "regime", "model", "seeds", "acc@train",
                               "acc@100", "acc@5000"]
    got = {(r["train_length"], r["regime"], r["model"]): r for r in t.to_dict("records")}
    assert set(got) == {(20, "full", "lstm"), (20, "full", "rnn-tanh"),
                        (200, "teacher_forcing", "lstm")}
    want = {(20, "full", "lstm"): (3, (0.5 + 0.8 + 1.0) / 3, 0.5, 0.2),
            (20, "full", "rnn-tanh"): (2, 0.5, 0.2, 0.1),
            (200, "teacher_forcing", "lstm"): (1, 0.9, 0.85, 0.6)}
    for key, (seeds, acc, at100, at5000) in want.items():
        r = got[key]
        assert r["seeds"] == seeds, key
        assert r["acc@train"] == pytest.approx(acc, abs=1e-12), key
        assert r["acc@100"] == pytest.approx(at100, abs=1e-12), key
        assert r["acc@5000"] == pytest.approx(at5000, abs=1e-12), key
    assert list(t["train_length"]) == sorted(t["train_length"])


def test_prefix_sum_table_without_the_study_is_empty(study_runs):
    t = report.prefix_sum_table(study_runs[study_runs["group"] == "other"]
                                .assign(sweeps="other"))
    assert t.empty and list(t.columns[:4]) == ["train_length", "regime", "model", "seeds"]


def test_records_to_tables_keep_the_numbers(tmp_path):
    """The whole path: records -> ``lrd.results.write`` (runs.csv) -> ``write_tables``."""
    runs = tmp_path / "runs"
    for seed, acc, at100 in ((0, 0.5, 0.25), (1, 0.75, 0.5), (2, 1.0, 0.0)):
        put(runs, task="prefix_sum", length=20, seed=seed, group=SWEEP, solved=acc >= 0.99,
            accuracy=acc, lengths={100: at100})
    put(runs, task="prefix_sum", length=40, seed=0, group=SWEEP, accuracy=0.125,
        lengths={100: 0.06})
    put(runs, task="prefix_sum", length=40, seed=1, group=SWEEP, status="failed")
    put(runs, task="prefix_sum", length=20, seed=5, group="other", accuracy=0.0,
        lengths={100: 0.0})
    res = tmp_path / "res"
    results.write(runs, res)
    tables = report.write_tables(res)
    assert (res / "tables" / "prefix_sum.csv").read_text() == (
        "train_length,regime,model,seeds,acc@train,acc@100\n"
        "20,full,lstm,3,0.750,0.250\n"
        "40,full,lstm,1,0.125,0.060\n")
    md = (res / "tables" / "prefix_sum.md").read_text().splitlines()
    assert md[2] == "| 20 | full | lstm | 3 | 0.750 | 0.250 |"
    h = tables["horizon"]
    # length 20 solved by 1 of 3 seeds (the "other" run is a fourth seed, unsolved): horizon 0
    assert h[["task", "model", "horizon", "max_length"]].to_dict("records") == [
        {"task": "prefix_sum", "model": "lstm", "horizon": 0, "max_length": 40}]
    for name in ("horizon", "prefix_sum"):
        assert {p.name for p in (res / "tables").glob(f"{name}.*")} == \
            {f"{name}.csv", f"{name}.md", f"{name}.tex"}
