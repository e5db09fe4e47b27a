"""The offline sweep runner: expansion, resume, kill-and-resume, failures, bad files, export."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from lrd import results
from lrd import sweeps as sweep
from lrd.errors import ConfigError

from conftest import CONFIGS, ROOT

SWEEPS = sorted(p.name for p in (CONFIGS / "sweeps").glob("*.yaml"))


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)   # profiles and sweep commands use repository-relative paths


def write_sweep(tmp_path, parameters, method="grid", name="tiny", **extra):
    data = {"name": name, "program": "lrd", "method": method,
            "metric": {"name": "test/mse", "goal": "minimize"},
            "command": ["lrd", "train", "--profile", "smoke", "--config",
                        "configs/task/adding.yaml", "${args}"],
            "parameters": parameters, **extra}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def records(out):
    return {p.parent.name: json.loads(p.read_text()) for p in Path(out).glob("*/record.json")}


# -- expansion -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name,profile,count", [
    ("horizon_copy.yaml", "cpu", 4 * 4 * 2),          # lengths x models x seeds
    ("horizon_copy.yaml", "smoke", 2 * 4 * 1),        # smoke: 2 lengths, 1 seed
    ("horizon_copy.yaml", "paper", 4 * 4 * 5),        # paper: 5 seeds
    ("init_adding.yaml", "cpu", 2 * 5 * 3 * 2),       # nonlinearity x init x length x seed
    ("regime_copy.yaml", "cpu", 4 * 3 * 2),
    ("prefix_sum_study.yaml", "cpu", 2 * 4 * 2 * 2),  # length x regime x model x seed
])
def test_grid_expansion_matches_hand_count(name, profile, count):
    s = sweep.load(CONFIGS / "sweeps" / name, profile)
    params = sweep.expand(s)
    assert len(params) == count
    assert len({json.dumps(p, sort_keys=True) for p in params}) == count


@pytest.mark.parametrize("name", SWEEPS)
def test_every_sweep_file_is_valid_wandb_and_plans_cleanly(name):
    raw = yaml.safe_load((CONFIGS / "sweeps" / name).read_text())
    assert set(raw) <= sweep.WANDB_KEYS and raw["command"][-1] == "${args}"
    assert raw["metric"]["name"]
    jobs = sweep.plan(sweep.load(CONFIGS / "sweeps" / name, "smoke"))
    assert jobs and len({j.run_id for j in jobs}) == len(jobs)


def test_random_search_draws_run_cap_points_in_bounds_reproducibly(tmp_path):
    path = write_sweep(tmp_path, {
        "optim.lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-2},
        "model.hidden_size": {"distribution": "int_uniform", "min": 4, "max": 9},
        "optim.grad_clip": {"distribution": "q_uniform", "min": 0.5, "max": 2.0, "q": 0.5},
        "model.name": {"values": ["lstm", "gru"]},
    }, method="random", run_cap=40)
    a, b = sweep.expand(sweep.load(path)), sweep.expand(sweep.load(path))
    assert a == b and len(a) == 40
    assert all(1e-4 <= p["optim.lr"] <= 1e-2 for p in a)
    assert {p["model.hidden_size"] for p in a} <= set(range(4, 10))
    assert {p["optim.grad_clip"] for p in a} <= {0.5, 1.0, 1.5, 2.0}
    assert {p["model.name"] for p in a} == {"lstm", "gru"}


# -- running -------------------------------------------------------------------------------------

def test_tiny_sweep_twice_does_nothing_the_second_time(tmp_path):
    path = write_sweep(tmp_path, {"task.length": {"values": [4, 6]},
                                  "model.name": {"values": ["gru", "rnn"]}})
    out = tmp_path / "runs"
    first = sweep.run(path, workers=2, out=str(out), progress=False)
    assert first["complete"] == 4 and first["failed"] == 0
    before = {k: r["started_at"] for k, r in records(out).items()}
    second = sweep.run(path, workers=2, out=str(out), progress=False)
    assert second["skipped"] == 4 and second["complete"] == 0
    assert {k: r["started_at"] for k, r in records(out).items()} == before
    table = results.write(out, tmp_path)
    runs = pd.read_csv(table["runs"])
    assert len(runs) == 4 and set(runs["group"]) == {"tiny"}


def test_failed_and_diverged_runs_are_recorded_and_the_sweep_goes_on(tmp_path):
    """accelerator=gpu fails at run time on a machine without one; a ReLU RNN with
    N(0, 100²/H) weights overflows float32 and diverges; the lstm run completes."""
    path = write_sweep(tmp_path, {
        "model.name": {"value": "rnn"}, "task.length": {"value": 60},
        "model.nonlinearity": {"value": "relu"}, "model.init": {"value": "gaussian"},
        "optim.grad_clip": {"value": None},
        "model.init_gain": {"values": [100.0, 0.5]},
        "train.accelerator": {"values": ["cpu", "gpu"]}})
    if __import__("torch").cuda.is_available():
        pytest.skip("needs a machine without a GPU")
    out = tmp_path / "runs"
    counts = sweep.run(path, workers=1, out=str(out), progress=False)
    assert counts["failed"] == 2 and counts["diverged"] == 1 and counts["complete"] == 1
    status = sorted(r["status"] for r in records(out).values())
    assert status == ["complete", "diverged", "failed", "failed"]


@pytest.mark.parametrize("parameters,match", [
    ({"model.hidden_sise": {"values": [4]}}, r"run 1 \(model.hidden_sise=4.*unknown parameter"),
    ({"train.foo": {"values": [1]}}, r"unknown key 'train.foo'"),
    ({"task.length": {"values": [0, 5]}}, r"run 1 \(seed=0, task.length=0\).*must be an integer >= 2"),
    ({"model.name": {"values": ["lstm", "transformer"]}}, r"run 2 .*unknown model 'transformer'"),
    ({"task.length": [4, 5]}, r"expected a mapping"),
    ({"optim.lr": {"distribution": "uniform", "min": 0.1, "max": 0.2}},
     r"grid search needs 'values'"),
    ({"optim.lr": {"distribution": "zipf", "min": 1, "max": 2}}, r"'zipf' is not supported"),
])
def test_bad_sweep_files_fail_before_any_run(tmp_path, parameters, match):
    path = write_sweep(tmp_path, parameters)
    with pytest.raises(ConfigError, match=match):
        sweep.run(path, out=str(tmp_path / "runs"), progress=False)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("extra,match", [
    ({"method": "bayes"}, r"method 'bayes' cannot run offline"),
    ({"method": "random"}, r"random search offline needs 'run_cap'"),
    ({"profiles": {}}, r"unknown sweep key 'profiles'"),
    ({"command": ["lrd", "train"]}, r"command must end with \$\{args\}"),
    ({"command": ["python", "train.py", "${args}"]}, r"must start with 'lrd train'"),
])
def test_bad_sweep_structure(tmp_path, extra, match):
    path = write_sweep(tmp_path, {"seed": {"values": [0]}}, **extra)
    with pytest.raises(ConfigError, match=match):
        sweep.run(path, out=str(tmp_path / "runs"), progress=False)


def test_unknown_profile(tmp_path):
    with pytest.raises(ConfigError, match="unknown profile 'huge'; available: cpu, paper, smoke"):
        sweep.load(CONFIGS / "sweeps/horizon_copy.yaml", "huge")


def test_export_resolves_the_profile_for_wandb(tmp_path):
    dest = sweep.export(sweep.load(CONFIGS / "sweeps/horizon_adding.yaml", "paper"),
                        tmp_path / "paper.yaml")
    raw = yaml.safe_load(dest.read_text())
    assert set(raw) <= sweep.WANDB_KEYS
    assert raw["command"][:4] == ["lrd", "train", "--profile", "paper"]
    assert raw["parameters"]["seed"] == {"values": [0, 1, 2, 3, 4]}


def test_sigkill_then_resume_runs_every_run_exactly_once(tmp_path):
    """Kill the whole runner (all its processes) with SIGKILL after the first records appear,
    then rerun: every run ends with exactly one complete record, runs finished before the kill
    are not redone (same started_at), and no partial record is ever read as complete."""
    path = write_sweep(tmp_path, {"task.length": {"values": [4, 5, 6, 7, 8, 9]},
                                  "model.name": {"value": "gru"}})
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "lrd.cli", "sweep", str(path), "--workers", "2",
           "--out", str(out), "--results", str(tmp_path)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(records(out)) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {k: r["started_at"] for k, r in records(out).items()}
    assert 2 <= len(before) < 6, "killed mid-sweep"
    for rec in records(out).values():
        assert rec["status"] == "complete"
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    after = records(out)
    assert len(after) == 6 and all(r["status"] == "complete" for r in after.values())
    assert {k: after[k]["started_at"] for k in before} == before
    assert not list((out / ".staging").iterdir())


def test_horizon_table_by_hand():
    """Lengths 10, 20, 40 with 2 seeds: solved 2/2, 1/2, 0/2 -> horizon 20 (half counts)."""
    rows = []
    for length, solved in ((10, [True, True]), (20, [True, False]), (40, [False, False])):
        for seed, ok in enumerate(solved):
            rows.append(dict(task="copy", model="lstm", init="default", regime="full",
                             length=length, seed=seed, solved=ok))
    rows.append(dict(task="copy", model="rnn-tanh", init="default", regime="full",
                     length=10, seed=0, solved=False))
    table = results.horizon(pd.DataFrame(rows))
    assert table.to_dict("records") == [
        dict(task="copy", model="lstm", init="default", regime="full", horizon=20,
             max_length=40, seeds=2),
        dict(task="copy", model="rnn-tanh", init="default", regime="full", horizon=0,
             max_length=10, seeds=1)]


def test_same_sweep_twice_from_scratch_gives_identical_tables(tmp_path):
    """CPU determinism: seeds fix data, weights and dropout, and torch runs deterministic
    algorithms, so two sweeps from scratch (2 workers) write byte-identical tables."""
    path = write_sweep(tmp_path, {"task.length": {"values": [4, 6]},
                                  "model.name": {"values": ["lstm", "rnn"]}})
    tables = []
    for name in ("a", "b"):
        sweep.run(path, workers=2, out=str(tmp_path / name / "runs"), progress=False)
        tables.append(results.write(tmp_path / name / "runs", tmp_path / name))
    for key in ("runs", "horizon"):
        assert tables[0][key].read_bytes() == tables[1][key].read_bytes(), key
    assert tables[0]["timing"].read_bytes() != tables[1]["timing"].read_bytes()


def test_a_run_shared_by_two_sweeps_runs_once_and_counts_for_both(tmp_path):
    a = write_sweep(tmp_path, {"task.length": {"values": [4, 6]}}, name="first")
    b = write_sweep(tmp_path, {"task.length": {"values": [6, 8]}}, name="second")
    out = tmp_path / "runs"
    assert sweep.run(a, workers=1, out=str(out), progress=False)["complete"] == 2
    counts = sweep.run(b, workers=1, out=str(out), progress=False)
    assert counts["complete"] == 1 and counts["skipped"] == 1
    runs = results.collect(out).set_index("length")
    assert runs.loc[6, "group"] == "first" and runs.loc[6, "sweeps"] == "first;second"
    assert runs.loc[4, "sweeps"] == "first" and runs.loc[8, "sweeps"] == "second"


def test_results_keep_committed_curves_when_step_logs_are_absent(tmp_path):
    """metrics.csv stays out of git: aggregating on a fresh clone must not drop the curves."""
    path = write_sweep(tmp_path, {"task.length": {"values": [4, 6]}})
    out = tmp_path / "runs"
    sweep.run(path, workers=1, out=str(out), progress=False)
    first = results.write(out, tmp_path)["curves"].read_bytes()
    for log in out.glob("*/metrics.csv"):
        log.unlink()
    assert results.write(out, tmp_path)["curves"].read_bytes() == first
    with pytest.raises(ConfigError, match="no run folder"):
        results.write(tmp_path / "missing", tmp_path)
