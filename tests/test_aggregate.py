"""Results aggregation from run records written here by hand: runs.csv (one row per complete
record, exact values), sweep membership, the memory horizon, and the thinned curves.

Horizon cases (SPEC §7): the largest length solved by a majority of unique seeds, censored at
the longest length measured, and moved by halving or doubling the solve tolerance; every
expected horizon below is worked out by hand in the test's comments.
"""

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from lrd import results
from lrd.tasks import TASKS

KEYS = ["task", "model", "init", "regime"]
ENV = {"device": "cpu: test", "torch_threads": 1, "git_commit": "abc123", "torch": "2.0",
       "lightning": "2.0", "python": "3.11"}


def put(runs_dir: Path, *, task="copy", model="lstm", nonlinearity="tanh", init="default",
        regime="full", length=10, seed=0, solved=False, status="complete", lr=0.003,
        group="study", accuracy=None, lengths=None, wall=2.0, run_id=None,
        val_accuracy=None) -> str:
    """Write one run record as ``lrd train`` does; returns its run id."""
    model_cfg = {"name": model, "init": init, "hidden_size": 8}
    if model == "rnn":
        model_cfg["nonlinearity"] = nonlinearity
    cfg = {"task": {"name": task, "length": length}, "model": model_cfg,
           "regime": {"name": regime}, "optim": {"lr": lr}, "seed": seed,
           "log": {"group": group, "out": "somewhere"}}
    run_id = run_id or f"{task}-{model}{nonlinearity if model == 'rnn' else ''}-{init}-{regime}" \
                       f"-{length}-s{seed}-lr{lr}"
    rec = {"run_id": run_id, "config": cfg, "status": status, "solved": solved,
           "diverged": status == "diverged", "baseline_loss": 0.25, "wall_time_s": wall,
           "train_time_s": wall / 2, "env": ENV}
    if status == "failed":
        rec["error"] = "RuntimeError: boom"
    else:
        acc = accuracy if accuracy is not None else (1.0 if solved else 0.5)
        rec["steps"] = 100
        rec["final_train_length"] = length
        rec["metrics"] = {"test": {"accuracy": acc, "loss": 1 - acc},
                          "val": {"accuracy": val_accuracy if val_accuracy is not None else acc},
                          "lengths": {str(n): {"accuracy": a} for n, a in (lengths or {}).items()}}
    folder = runs_dir / run_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "record.json").write_text(json.dumps(rec))
    return run_id


# -- runs.csv -------------------------------------------------------------------------------------

@pytest.fixture
def three_runs(tmp_path):
    runs = tmp_path / "runs"
    ids = [put(runs, model="lstm", length=20, seed=1, solved=True, accuracy=0.995,
               lengths={50: 0.75, 100: 0.5}),
           put(runs, model="rnn", nonlinearity="relu", init="identity", length=10, seed=0,
               status="diverged", accuracy=0.125, wall=7.0),
           put(runs, model="gru", seed=2, status="failed")]
    (runs / "unfinished").mkdir()                                   # killed before its record
    (runs / "unfinished" / "metrics.csv").write_text("step,train/loss\n0,1.0\n")
    (runs / "torn").mkdir()
    (runs / "torn" / "record.json").write_text('{"run_id": "torn", "status": "comp')
    (runs / ".staging" / "x-1").mkdir(parents=True)
    (runs / ".staging" / "x-1" / "record.json").write_text(json.dumps({"run_id": "x"}))
    return runs, ids


def test_collect_has_one_exact_row_per_complete_record(three_runs):
    runs, ids = three_runs
    df = results.collect(runs)
    assert list(df["run_id"]) == sorted(ids)
    by = df.set_index("run_id")
    lstm, rnn, gru = (by.loc[i] for i in ids)
    assert (lstm["model"], lstm["init"], lstm["regime"], lstm["length"], lstm["seed"]) == \
        ("lstm", "default", "full", 20, 1)
    assert lstm["status"] == "complete" and bool(lstm["solved"]) is True
    assert lstm["test.accuracy"] == 0.995 and lstm["length.50.accuracy"] == 0.75
    assert lstm["length.100.accuracy"] == 0.5 and lstm["config.optim.lr"] == 0.003
    assert rnn["model"] == "rnn-relu" and rnn["init"] == "identity"
    assert rnn["status"] == "diverged" and bool(rnn["diverged"]) and not bool(rnn["solved"])
    assert gru["status"] == "failed" and not bool(gru["solved"])
    assert math.isnan(gru["test.accuracy"])
    assert set(df["group"]) == {"study"}


def test_runs_csv_is_the_records_and_nothing_else(three_runs, tmp_path):
    runs, ids = three_runs
    out = results.write(runs, tmp_path / "res")
    table = pd.read_csv(out["runs"])
    assert list(table["run_id"]) == sorted(ids)               # none dropped, none repeated
    assert table.set_index("run_id").loc[ids[0], "test.accuracy"] == 0.995
    assert list(table["solved"].astype(str).str.lower()) == \
        [str(i == ids[0]).lower() for i in sorted(ids)]
    # timing and machine columns live in timing.csv only, so runs.csv repeats exactly
    assert not [c for c in table.columns if c.startswith("env.") or c.endswith("time_s")]
    timing = pd.read_csv(out["timing"]).set_index("run_id")
    assert sorted(timing.index) == sorted(ids)
    assert timing.loc[ids[1], "wall_time_s"] == 7.0
    assert timing.loc[ids[1], "env.git_commit"] == "abc123"
    before = {k: out[k].read_bytes() for k in ("runs", "horizon")}
    put(runs, model="rnn", nonlinearity="relu", init="identity", length=10, seed=0,
        status="diverged", accuracy=0.125, wall=99.0)     # the same run again, slower
    again = results.write(runs, tmp_path / "res")
    assert {k: again[k].read_bytes() for k in ("runs", "horizon")} == before
    assert pd.read_csv(again["timing"]).set_index("run_id").loc[ids[1], "wall_time_s"] == 99.0


def test_sweep_membership_comes_from_the_sweep_lists(tmp_path):
    runs = tmp_path / "runs"
    a = put(runs, seed=0, group="first")
    b = put(runs, seed=1, group="first")
    c = put(runs, seed=2, group="other")
    (runs / "_sweeps").mkdir()
    (runs / "_sweeps" / "first.txt").write_text(f"{a}\n{b}\n")
    (runs / "_sweeps" / "second.txt").write_text(f"{b}\n")
    df = results.collect(runs).set_index("run_id")
    assert df.loc[a, "sweeps"] == "first"
    assert df.loc[b, "sweeps"] == "first;second"
    assert df.loc[c, "sweeps"] in ("", None) or pd.isna(df.loc[c, "sweeps"])
    table = pd.read_csv(results.write(runs, tmp_path / "res")["runs"]).set_index("run_id")
    assert table.loc[b, "sweeps"] == "first;second"


# -- horizon --------------------------------------------------------------------------------------

def horizon_rows(df):
    cols = [*KEYS, "horizon", "max_length", "seeds"]
    return {tuple(r[k] for k in KEYS): (int(r["horizon"]), int(r["max_length"]), int(r["seeds"]))
            for r in df[cols].to_dict("records")}


@pytest.fixture
def horizon_runs(tmp_path):
    """Three seeds per length; solved counts chosen away from exactly half."""
    runs = tmp_path / "runs"
    solved_by = {  # (model, init, regime) -> {length: seeds that solve it}
        ("lstm", "default", "full"): {10: {0, 1, 2}, 20: {0, 2}, 40: {1}, 80: set()},
        ("lstm", "default", "curriculum"): {10: {0, 1, 2}, 20: {0, 1, 2}, 40: {0, 1}},
        ("lstm", "orthogonal", "full"): {10: {2}, 20: {0, 1}, 40: set()},  # not monotone
        ("gru", "default", "full"): {10: {0, 1, 2}, 20: {0, 1}},
        ("rnn", "default", "full"): {10: {1}, 20: set()},
    }
    for (model, init, regime), table in solved_by.items():
        for length, winners in table.items():
            for seed in (0, 1, 2):
                put(runs, model=model, init=init, regime=regime, length=length, seed=seed,
                    solved=seed in winners)
    return runs


EXPECTED_HORIZONS = {
    ("copy", "lstm", "default", "full"): (20, 80, 3),      # 3/3, 2/3, 1/3, 0/3
    ("copy", "lstm", "default", "curriculum"): (40, 40, 3),
    ("copy", "lstm", "orthogonal", "full"): (20, 40, 3),   # largest solved, not first failure
    ("copy", "gru", "default", "full"): (20, 20, 3),
    ("copy", "rnn-tanh", "default", "full"): (0, 20, 3),   # one seed of three is not enough
}


def test_horizon_is_the_largest_length_most_seeds_solve(horizon_runs):
    assert horizon_rows(results.horizon(results.collect(horizon_runs))) == EXPECTED_HORIZONS


def test_horizon_csv_is_the_same_table(horizon_runs, tmp_path):
    out = results.write(horizon_runs, tmp_path / "res")
    assert horizon_rows(pd.read_csv(out["horizon"])) == EXPECTED_HORIZONS


def test_horizon_ignores_the_order_of_the_rows(horizon_runs):
    runs = results.collect(horizon_runs).sample(frac=1.0, random_state=3)
    assert horizon_rows(results.horizon(runs)) == EXPECTED_HORIZONS


def test_failed_and_diverged_runs_never_count_as_solved(tmp_path):
    """Five seeds at length 20: one solves, two fail (crash: no metrics, no measurement), two
    diverge (measured, not solved): 1 of 3 measured seeds, not a majority."""
    runs = tmp_path / "runs"
    for seed in range(5):
        put(runs, length=10, seed=seed, solved=True)
    put(runs, length=20, seed=0, solved=True)
    for seed in (1, 2):
        put(runs, length=20, seed=seed, status="failed")
    for seed in (3, 4):
        put(runs, length=20, seed=seed, status="diverged", accuracy=0.999)
    df = results.collect(runs)
    assert int(df["solved"].sum()) == 6
    h = results.horizon(df)
    assert list(h["horizon"]) == [10] and list(h["max_length"]) == [20]
    assert list(h["seeds"]) == [3] and list(h["horizon_loose"]) == [10]


def test_a_length_where_every_run_crashed_is_not_measured(tmp_path):
    """10 solved by all three seeds; at 20 every run failed (crashed): 10 is the longest
    length measured, so the horizon is censored there ("≥ 10")."""
    runs = tmp_path / "runs"
    for seed in (0, 1, 2):
        put(runs, length=10, seed=seed, solved=True)
        put(runs, length=20, seed=seed, status="failed")
    h = results.horizon(results.collect(runs)).iloc[0]
    assert (h["horizon"], h["longest_run"], h["max_length"]) == (10, 10, 20)
    assert bool(h["censored"]) is True


def test_no_runs_no_horizon():
    h = results.horizon(pd.DataFrame())
    assert h.empty and {"horizon", "max_length", "seeds", *KEYS} <= set(h.columns)


def test_a_seed_tried_at_several_settings_is_one_seed(tmp_path):
    """Length 10: seeds 0 and 1 solve, seed 2 fails at three learning rates: 2 of 3 seeds,
    whether the solved count is of rows or of unique seeds."""
    runs = tmp_path / "runs"
    put(runs, seed=0, solved=True)
    put(runs, seed=1, solved=True)
    for lr in (0.001, 0.003, 0.01):
        put(runs, seed=2, lr=lr)
    h = results.horizon(results.collect(runs))
    assert list(h["horizon"]) == [10] and list(h["seeds"]) == [3]


def test_a_seed_at_several_settings_counts_by_its_best_validation_run(tmp_path):
    """Length 10: seed 0 ran at two learning rates; 0.001 scores higher on validation (0.98)
    but lower on test (0.5, not solved) than 0.01 (0.97; test 1.0, solved). Selected on
    validation, seed 0 did not solve: with seed 1 solved and seed 2 not, 1 of 3 seeds, no
    horizon (picking on test, or "any run solved", would give 2 of 3: horizon 10). Scores
    use the same run: seed 0's accuracy is 0.5, not the mean 0.75."""
    runs = tmp_path / "runs"
    put(runs, seed=0, lr=0.001, accuracy=0.5, val_accuracy=0.98)
    put(runs, seed=0, lr=0.01, solved=True, accuracy=1.0, val_accuracy=0.97)
    put(runs, seed=1, solved=True)
    put(runs, seed=2)
    df = results.collect(runs)
    assert list(results.horizon(df)["horizon"]) == [0]
    picked = results.tuned(df)
    assert len(picked) == 3 and list(picked["config.optim.lr"]) == [0.001, 0.003, 0.003]
    from lrd.results.scores import scores
    assert scores(df).iloc[0]["acc"] == pytest.approx((0.5 + 1.0 + 0.5) / 3)


def test_a_diverged_run_never_stands_for_its_seed_over_a_finite_one(tmp_path):
    runs = tmp_path / "runs"
    put(runs, seed=0, lr=0.1, status="diverged", run_id="a-diverged")
    kept = put(runs, seed=0, lr=0.001, accuracy=0.4, run_id="b-finite")
    df = results.collect(runs)
    df.loc[df["run_id"] == "a-diverged", "val.accuracy"] = float("nan")   # as recorded: none
    assert list(results.tuned(df)["run_id"]) == [kept]
    single = df[df["run_id"] == kept]
    assert results.tuned(single) is single            # one run per seed: untouched


def test_horizon_counts_unique_seeds(tmp_path):
    """Length 10: seed 0 solves at both learning rates, seeds 1 and 2 do not: 1 of 3 seeds."""
    runs = tmp_path / "runs"
    put(runs, seed=0, lr=0.001, solved=True)
    put(runs, seed=0, lr=0.01, solved=True)
    put(runs, seed=1, lr=0.001)
    put(runs, seed=2, lr=0.01)
    h = results.horizon(results.collect(runs))
    assert list(h["horizon"]) == [0] and list(h["seeds"]) == [3]


def test_half_the_seeds_is_not_a_majority(tmp_path):
    """Two seeds: length 10 solved by both, 20 by one of two (half: not a majority)."""
    runs = tmp_path / "runs"
    for seed in (0, 1):
        put(runs, length=10, seed=seed, solved=True)
    put(runs, length=20, seed=0, solved=True)
    put(runs, length=20, seed=1)
    h = results.horizon(results.collect(runs)).iloc[0]
    assert (h["horizon"], h["longest_run"], bool(h["censored"])) == (10, 20, False)


def test_duplicated_rows_of_one_seed_are_one_vote(tmp_path):
    """Length 20: seed 0 solves at three learning rates, seeds 1 and 2 fail once each: rows
    say 3 of 5 solved, unique seeds say 1 of 3: not a majority; horizon 10."""
    runs = tmp_path / "runs"
    for seed in (0, 1, 2):
        put(runs, length=10, seed=seed, solved=True)
    for lr in (0.001, 0.003, 0.01):
        put(runs, length=20, seed=0, lr=lr, solved=True)
    put(runs, length=20, seed=1)
    put(runs, length=20, seed=2)
    h = results.horizon(results.collect(runs))
    assert list(h["horizon"]) == [10] and list(h["seeds"]) == [3]


def test_horizon_at_the_longest_length_run_is_censored(tmp_path):
    """lstm solves 10 and 20 (all it was run at): "≥ 20", censored. gru solves 10 and fails
    at 20: 10, not censored. rnn solves 10, every seed fails at 15, and 20, 40 were not run
    (skipped): 10, not censored."""
    runs = tmp_path / "runs"
    for seed in (0, 1, 2):
        for n in (10, 20):
            put(runs, model="lstm", length=n, seed=seed, solved=True)
            put(runs, model="gru", length=n, seed=seed, solved=n == 10)
        put(runs, model="rnn", length=10, seed=seed, solved=True)
        put(runs, model="rnn", length=15, seed=seed)
        for n in (20, 40):
            put(runs, model="rnn", length=n, seed=seed, status="skipped")
    df = results.collect(runs)
    h = results.horizon(df).set_index("model")
    assert h.loc["lstm", ["horizon", "longest_run", "max_length"]].tolist() == [20, 20, 20]
    assert bool(h.loc["lstm", "censored"]) is True
    assert h.loc["gru", "horizon"] == 10 and not h.loc["gru", "censored"]
    # rnn: 15 measured and failed by all; 20, 40 not run: horizon 10, not censored
    assert h.loc["rnn-tanh", ["horizon", "longest_run", "max_length", "seeds"]].tolist() == \
        [10, 15, 40, 3]
    assert not h.loc["rnn-tanh", "censored"]
    assert h.loc["rnn-tanh", "not_run"] == "20, 40 not run"


def test_skipped_lengths_are_no_measurement_and_never_a_horizon(tmp_path):
    """Seeds 0-2 solve 10; at 20 every seed is skipped: 20 is neither solved nor measured,
    so the horizon is 10 and censored only because 10 is the longest length measured."""
    runs = tmp_path / "runs"
    for seed in (0, 1, 2):
        put(runs, length=10, seed=seed, solved=True)
        put(runs, length=20, seed=seed, status="skipped")
    h = results.horizon(results.collect(runs)).iloc[0]
    assert (h["horizon"], h["longest_run"], h["max_length"], h["seeds"]) == (10, 10, 20, 3)
    assert bool(h["censored"]) is True


def test_a_length_one_sweep_skipped_and_another_measured_is_not_listed_as_not_run(tmp_path):
    """A longer-budget sweep skips 20 and 50 after failing at 10; another sweep measured 20:
    the horizon table lists only 50 as not run, and counts 20 as measured."""
    runs = tmp_path / "runs"
    for seed in (0, 1, 2):
        put(runs, length=10, seed=seed, group="budget")
        put(runs, length=20, seed=seed, group="regime")
        for n in (20, 50):
            put(runs, length=n, seed=seed, status="skipped", group="budget",
                run_id=f"skip-{n}-s{seed}")
    h = results.horizon(results.collect(runs)).iloc[0]
    assert (h["not_run"], h["longest_run"], h["max_length"]) == ("50 not run", 20, 50)


def test_threshold_halving_and_doubling_move_the_horizon(tmp_path):
    """Accuracy (threshold 0.99, tolerance 0.01): strict >= 0.995, loose >= 0.98.
    Length 10: 1.0 for all three seeds; 20: 0.993 (solved, not strict); 40: 0.985 (loose
    only); 80: 0.5. Horizons: nominal 20, strict 10, loose 40."""
    runs = tmp_path / "runs"
    for seed in (0, 1, 2):
        for n, acc in ((10, 1.0), (20, 0.993), (40, 0.985), (80, 0.5)):
            put(runs, length=n, seed=seed, solved=acc >= 0.99, accuracy=acc)
    h = results.horizon(results.collect(runs)).iloc[0]
    assert (h["horizon"], h["horizon_strict"], h["horizon_loose"]) == (20, 10, 40)
    assert not h["censored"]


def test_threshold_sensitivity_of_mse_reads_the_task_class(tmp_path):
    """adding: MSE < 0.01 solves; strict < 0.005, loose < 0.02 (the threshold is the
    tolerance). A diverged run never solves, whatever its metric says."""
    runs = tmp_path / "runs"
    for seed in (0, 1, 2):
        for n, mse in ((10, 0.004), (20, 0.008), (40, 0.015), (80, 0.1)):
            rid = put(runs, task="adding", length=n, seed=seed, solved=mse < 0.01)
            rec = json.loads((runs / rid / "record.json").read_text())
            rec["metrics"]["test"] = {"mse": mse, "loss": mse}
            (runs / rid / "record.json").write_text(json.dumps(rec))
    assert results.tolerance_threshold(TASKS.get("adding"), 0.5) == 0.005
    assert results.tolerance_threshold(TASKS.get("copy"), 2.0) == pytest.approx(0.98)
    h = results.horizon(results.collect(runs)).iloc[0]
    assert (h["horizon"], h["horizon_strict"], h["horizon_loose"]) == (20, 10, 40)
    # length 40 again, seeds 1 and 2 diverged (the same MSE recorded): loose 1 of 3 seeds
    for seed in (1, 2):
        rid = put(runs, task="adding", length=40, seed=seed, status="diverged")
        rec = json.loads((runs / rid / "record.json").read_text())
        rec["metrics"]["test"] = {"mse": 0.015, "loss": 0.015}
        (runs / rid / "record.json").write_text(json.dumps(rec))
    h = results.horizon(results.collect(runs)).iloc[0]
    assert (h["horizon"], h["horizon_strict"], h["horizon_loose"]) == (20, 10, 20)


def test_runs_csv_has_the_final_training_length(tmp_path):
    runs = tmp_path / "runs"
    rid = put(runs, regime="curriculum", length=100)
    rec = json.loads((runs / rid / "record.json").read_text())
    rec["final_train_length"] = 10
    rec["env"] = {**ENV, "git_dirty": True}
    (runs / rid / "record.json").write_text(json.dumps(rec))
    out = results.write(runs, tmp_path / "res")
    assert pd.read_csv(out["runs"])["final_train_length"].tolist() == [10]
    assert pd.read_csv(out["timing"])["env.git_dirty"].tolist() == [True]


# -- curves.csv -----------------------------------------------------------------------------------

def step_log(folder: Path, steps: int, val_at=()):
    """A Lightning-style metrics.csv: train/loss = step at every step; val/loss rows apart."""
    lines = ["epoch,step,train/loss,val/loss"]
    lines += [f"0,{s},{float(s)}," for s in range(steps)]
    lines += [f"0,{s},,{v}" for s, v in val_at]
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")


def test_curves_are_50_step_means_stamped_with_the_last_step_plus_every_validation(tmp_path):
    runs = tmp_path / "runs"
    rid = put(runs)
    step_log(runs / rid, 120, val_at=[(49, 0.5), (99, 0.25)])
    skipped = runs / "unfinished"                 # a step log without a record: not a run
    skipped.mkdir()
    step_log(skipped, 10)
    assert results.CURVE_BIN == 50
    c = results.curves(runs)
    assert list(c["run_id"]) == [rid] * 3
    assert list(c["step"]) == [49, 99, 119]
    assert list(c["train/loss"]) == [24.5, 74.5, 109.5]   # means of 0..49, 50..99, 100..119
    assert list(c["val/loss"].fillna(-1)) == [0.5, 0.25, -1]
    assert "epoch" not in c


def test_curves_csv_keeps_rows_of_runs_whose_step_log_is_gone(tmp_path):
    runs = tmp_path / "runs"
    a, b = put(runs, seed=0), put(runs, seed=1)
    step_log(runs / a, 60)
    step_log(runs / b, 60)
    first = results.write(runs, tmp_path / "res")["curves"]
    table = pd.read_csv(first)
    assert sorted(set(table["run_id"])) == sorted([a, b]) and len(table) == 4
    (runs / a / "metrics.csv").unlink()                  # a fresh clone: step logs not in git
    text = first.read_text()
    assert results.write(runs, tmp_path / "res")["curves"].read_text() == text
    for f in (runs / b).iterdir():                       # a run removed: its curve goes too
        f.unlink()
    (runs / b).rmdir()
    assert set(pd.read_csv(results.write(runs, tmp_path / "res")["curves"])["run_id"]) == {a}


def tuned_frame(rows):
    base = {"task": "adding", "model": "lstm", "init": "default", "regime": "full",
            "length": 50, "seed": 0, "status": "complete", "diverged": False}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_tuning_on_a_lower_is_better_metric_keeps_the_lowest_validation_mse():
    df = tuned_frame([{"run_id": "a", "val.mse": 0.02}, {"run_id": "b", "val.mse": 0.001},
                      {"run_id": "c", "val.mse": 0.5}])
    assert list(results.tuned(df)["run_id"]) == ["b"]


def test_a_diverged_run_ranks_last_even_with_a_better_validation_score_logged_before():
    """A run that diverged after its last validation keeps that score in its record: it must
    not stand for its seed over a run that finished."""
    df = tuned_frame([{"run_id": "a", "val.mse": 0.001, "status": "diverged", "diverged": True},
                      {"run_id": "b", "val.mse": 0.1}])
    assert list(results.tuned(df)["run_id"]) == ["b"]
    as_csv = df.assign(diverged=df["diverged"].astype(str))           # "True" read back
    assert list(results.tuned(as_csv)["run_id"]) == ["b"]


def test_tuning_keeps_the_rows_order_and_any_index():
    """Selection is by position: an index out of order, or with repeated labels (a concat
    without ignore_index), gives the same runs, in the input's order."""
    df = tuned_frame([{"run_id": "x", "seed": 1, "val.mse": 0.3},
                      {"run_id": "a", "val.mse": 0.2}, {"run_id": "b", "val.mse": 0.1},
                      {"run_id": "y", "seed": 2, "val.mse": 0.3}])
    for index in ([5, 3, 1, 0], [0, 0, 1, 1]):
        got = results.tuned(df.set_axis(index))
        assert list(got["run_id"]) == ["x", "b", "y"] and len(got) == 3


def test_not_run_names_the_budget_each_failure_had():
    """Skips cut by failures at D=10 (4000 and 8000 steps) and at D=20 (16000 steps), read back
    from CSV as text and as floats: each failed length is named with its budgets; without
    budgets the text is the plain one."""
    from lrd.results.aggregate import not_run

    skipped = pd.DataFrame({"task": "delayed_recall", "model": "lstm", "init": "default",
                            "regime": "full", "length": [20, 50, 50],
                            "failed_at": [10, 10, 20],
                            "failed_steps": ["4000/8000", "4000", 16000.0]})
    assert not_run(skipped) == ("20, 50 not run (failed at D=10 with 4000/8000 steps and D=20 "
                                "with 16000 steps)")
    assert not_run(skipped.drop(columns="failed_steps")) == "20, 50 not run (failed at D=10/20)"


def test_failed_steps_is_the_budget_of_the_evidence_not_of_the_skipped_run():
    """A run skipped at T=400 (its own budget 12000) was cut by failures at T=50 (4000 steps):
    failed_steps is 4000; an evidence id not in the folder is left out; no evidence, no value."""
    from lrd.results.aggregate import _failed_steps

    runs = pd.DataFrame({"run_id": ["e1", "e2", "s1", "s2"],
                         "status": ["complete", "complete", "skipped", "skipped"],
                         "config.train.max_steps": [4000, 4000, 12000, 12000],
                         "evidence": [None, None, "e1;e2;gone", ""]})
    out = _failed_steps(runs).set_index("run_id")
    assert out.loc["s1", "failed_steps"] == "4000" and pd.isna(out.loc["s2", "failed_steps"])
    assert "evidence" not in out
