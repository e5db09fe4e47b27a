"""Sweeps: spec checks, grid and random expansion, run folders, resume after SIGKILL, failures,
bad input (exit 2, nothing written), export for W&B."""

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

from lrd import cli, config, results
from lrd import sweeps as sweep
from lrd.sweeps import runner
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
    ("horizon_copy.yaml", "literature", 6 * 4 * 3),   # lengths x models x seeds
    ("horizon_copy.yaml", "quick", 2 * 4 * 2),        # quick: 2 lengths, 2 seeds
    ("horizon_copy.yaml", "smoke", 2 * 4 * 1),        # smoke: 2 lengths, 1 seed
    ("horizon_copy.yaml", "paper", 6 * 4 * 5),        # paper: 5 seeds
    ("horizon_adding.yaml", "literature", 5 * 4 * 3),
    ("init_adding.yaml", "literature", 2 * 5 * 3 * 3),  # nonlinearity x init x length x seed
    ("regime_copy.yaml", "literature", 4 * 2 * 3),
    ("regime_prefix_sum.yaml", "literature", 4 * 2 * 3),  # regime x model x seed
    ("prefix_sum_study.yaml", "literature", 3 * 4 * 3),  # length x model x seed
    ("positions_copy.yaml", "literature", 3 * 5 * 3),    # position x length x seed
    ("lr_positions_prefix_sum.yaml", "literature", 3 * 2 * 3),  # position x lr x seed
    ("lr_positions_prefix_sum.yaml", "quick", 1),     # quick: one scheme, lr and seed
])
def test_grid_expansion_matches_hand_count(name, profile, count):
    s = sweep.load(CONFIGS / "sweeps" / name, profile)
    params = sweep.expand(s)
    assert len(params) == count
    assert len({json.dumps(p, sort_keys=True) for p in params}) == count


@pytest.mark.parametrize("name", SWEEPS)
def test_every_sweep_file_is_valid_wandb_and_plans_cleanly(name):
    raw = yaml.safe_load((CONFIGS / "sweeps" / name).read_text())
    assert set(raw) - {sweep.LRD_KEY} <= sweep.WANDB_KEYS and raw["command"][-1] == "${args}"
    assert raw["metric"]["name"]
    jobs = sweep.plan(sweep.load(CONFIGS / "sweeps" / name, "smoke"))
    assert jobs and len({j.run_id for j in jobs}) == len(jobs)


@pytest.mark.parametrize("name", SWEEPS)
def test_every_sweep_file_names_its_project_and_export_keeps_it(name, tmp_path):
    """A plain `wandb sweep FILE` lands in the project the file names, not one named after
    the working directory."""
    assert yaml.safe_load((CONFIGS / "sweeps" / name).read_text())["project"] == "lrd"
    dest = sweep.export(sweep.load(CONFIGS / "sweeps" / name, "paper"), tmp_path / name)
    assert yaml.safe_load(dest.read_text())["project"] == "lrd"


@pytest.mark.parametrize("profile,folder", [("literature", ".lrd/runs"),
                                            ("smoke", ".lrd/smoke/runs")])
def test_runs_go_to_the_ignored_folder_unless_told(profile, folder):
    """Without --out, runs go to their log.out: the default .lrd/runs, or smoke's .lrd/smoke/runs;
    only an explicit --out (make reproduce: results/runs) writes into results/."""
    for name in SWEEPS:
        s = sweep.load(CONFIGS / "sweeps" / name, profile)
        assert {j.out for j in sweep.plan(s)} == {ROOT / folder}, name
    s = sweep.load(CONFIGS / "sweeps" / "regime_copy.yaml", profile)
    assert {j.out for j in sweep.plan(s, "results/runs")} == {ROOT / "results/runs"}


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
    assert len({p["optim.lr"] for p in a}) == 40          # continuous: no two draws alike
    assert all(type(p["optim.lr"]) is float and type(p["model.hidden_size"]) is int for p in a)
    other = sweep.expand(sweep.load(path), seed=1)
    assert [p["optim.lr"] for p in other] != [p["optim.lr"] for p in a]
    jobs = sweep.plan(sweep.load(path))                  # every draw is a valid run config
    assert len(jobs) == 40 and {j.run_id.split("-")[1] for j in jobs} == {"lstm", "gru"}


def test_random_search_weighted_choice_follows_its_probabilities(tmp_path):
    path = write_sweep(tmp_path, {"model.name": {
        "distribution": "categorical_w_probabilities", "values": ["lstm", "gru", "rnn"],
        "probabilities": [0.75, 0.25, 0.0]}}, method="random", run_cap=200)
    names = [p["model.name"] for p in sweep.expand(sweep.load(path))]
    assert set(names) == {"lstm", "gru"} and 120 < names.count("lstm") < 180
    bad = write_sweep(tmp_path, {"model.name": {
        "distribution": "categorical_w_probabilities", "values": ["lstm", "gru"],
        "probabilities": [1.0]}}, method="random", run_cap=2, name="bad")
    with pytest.raises(ConfigError, match=r"'model.name': bad spec .*one non-negative probability"):
        sweep.expand(sweep.load(bad))


def test_grid_is_the_product_in_name_order():
    """As W&B and the earlier ParameterGrid: parameters sorted by name, the last varying
    fastest; the error messages' "run N" count in this order."""
    s = sweep.Sweep(path=Path("x.yaml"), name="x", method="grid", metric={}, command=[],
                    parameters={"b": {"values": [1, 2]}, "a": {"values": ["x", "y"]},
                                "c": {"value": 0}})
    assert sweep.expand(s) == [{"a": "x", "b": 1, "c": 0}, {"a": "x", "b": 2, "c": 0},
                               {"a": "y", "b": 1, "c": 0}, {"a": "y", "b": 2, "c": 0}]


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
    assert not (tmp_path / "runs").exists()


def test_unknown_profile(tmp_path):
    with pytest.raises(ConfigError,
                       match="unknown profile .huge.; available: literature, paper, quick, smoke"):
        sweep.load(CONFIGS / "sweeps/horizon_copy.yaml", "huge")


NAN, INF = float("nan"), float("inf")
RANDOM = {"method": "random", "run_cap": 2}


@pytest.mark.parametrize("parameters,extra,match", [
    ({"task.length": {"values": []}}, {}, r"'task.length': 'values' must be a non-empty list"),
    ({"task.length": {"values": 4}}, {}, r"'values' must be a non-empty list, got 4"),
    ({"optim.lr": {"distribution": "uniform", "min": NAN, "max": 0.1}}, RANDOM,
     r"'parameters.optim.lr.min' is nan; a sweep takes finite numbers only"),
    ({"optim.lr": {"values": [1e-3, INF]}}, {}, r"'parameters.optim.lr.values.1' is inf"),
    ({"seed": {"values": [0]}}, {"method": "random", "run_cap": -INF}, r"'run_cap' is -inf"),
    ({"seed": {"values": [0]}}, {"metric": {"name": "test/mse", "goal": "minimize",
                                            "target": NAN}}, r"'metric.target' is nan"),
    ({"optim.lr": {"distribution": "uniform", "min": 0.2, "max": 0.1}}, RANDOM,
     r"'optim.lr': min 0.2 is above max 0.1"),
    ({"optim.lr": {"min": "a", "max": 0.1}}, RANDOM, r"'optim.lr': min and max must be numbers"),
])
def test_bad_parameter_specs_are_refused_on_load_and_write_nothing(tmp_path, parameters, extra,
                                                                 match):
    """Refused when the file is read, so `--export` refuses them too, not only a run."""
    path = write_sweep(tmp_path, parameters, **extra)
    with pytest.raises(ConfigError, match=match):
        sweep.load(path)
    with pytest.raises(ConfigError, match=match):
        sweep.run(path, out=str(tmp_path / "runs"), progress=False)
    assert not (tmp_path / "runs").exists()


def test_a_profiles_non_finite_sweep_spec_is_refused(tmp_path, monkeypatch):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "odd.yaml").write_text("sweeps:\n  tiny: {optim.lr: {values: [.nan]}}\n")
    monkeypatch.setattr(config, "PROFILE_DIR", profiles)
    path = write_sweep(tmp_path, {"seed": {"values": [0]}})
    with pytest.raises(ConfigError, match=r"odd.yaml: 'sweeps.tiny.optim.lr.values.0' is nan"):
        sweep.load(path, "odd")


def snapshot(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes and modification time."""
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("case", ["empty values", "nan bound", "workers -1", "workers 0",
                                  "missing file", "unknown profile", "export empty values"])
def test_lrd_sweep_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, monkeypatch,
                                                                      capsys, case):
    """Through the command line, without --out too (runs would go to the repository's
    .lrd/runs: here a temporary repository root), with an earlier sweep's files in place."""
    monkeypatch.setattr(config, "ROOT", tmp_path / "repo")
    runs = tmp_path / "repo/.lrd/runs"
    (runs / "_sweeps").mkdir(parents=True)
    (runs / "_sweeps/tiny.txt").write_text("adding-gru-4-s0-0123456789\n")
    good = {"task.length": {"values": [4]}}
    params = {"empty values": {"task.length": {"values": []}},
              "nan bound": {"optim.lr": {"min": NAN, "max": 0.1}},
              "export empty values": {"task.length": {"values": []}}}.get(case, good)
    path = write_sweep(tmp_path, params)
    argv = {"workers -1": ["--workers", "-1"], "workers 0": ["--workers", "0"],
            "unknown profile": ["--profile", "huge"],
            "export empty values": ["--export", str(tmp_path / "export/tiny.yaml")]}.get(case, [])
    if case == "missing file":
        path = tmp_path / "missing.yaml"
    before = snapshot(tmp_path)
    assert cli.main(["sweep", str(path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrd: error: ") and err.count("\n") == 1, err
    assert {"empty values": "non-empty list", "nan bound": "is nan", "workers -1": ">= 1, got -1",
            "workers 0": ">= 1, got 0", "missing file": "file not found",
            "unknown profile": "unknown profile 'huge'",
            "export empty values": "non-empty list"}[case] in err
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "export").exists() and not (tmp_path / "repo/results").exists()


def test_smoke_sweep_writes_under_lrd_smoke_and_its_tables_beside(tmp_path, monkeypatch, capsys):
    """`lrd sweep FILE --profile smoke`: runs in <repo>/.lrd/smoke/runs, tables in .lrd/smoke/,
    nothing in results/."""
    monkeypatch.setattr(config, "ROOT", tmp_path)
    path = write_sweep(tmp_path, {"task.length": {"values": [4]}})
    assert cli.main(["sweep", str(path), "--workers", "1", "--profile", "smoke"]) == 0
    assert "(runs in " + str(tmp_path / ".lrd/smoke/runs") + ")" in capsys.readouterr().out
    assert [r["status"] for r in records(tmp_path / ".lrd/smoke/runs").values()] == ["complete"]
    table = pd.read_csv(tmp_path / ".lrd/smoke/runs.csv")
    assert len(table) == 1 and (tmp_path / ".lrd/smoke/horizon.csv").exists()
    assert not (tmp_path / "results").exists()


def test_export_resolves_the_profile_for_wandb(tmp_path):
    dest = sweep.export(sweep.load(CONFIGS / "sweeps/horizon_adding.yaml", "paper"),
                        tmp_path / "paper.yaml")
    raw = yaml.safe_load(dest.read_text())
    assert set(raw) <= sweep.WANDB_KEYS
    assert raw["command"][:4] == ["lrd", "train", "--profile", "paper"]
    assert raw["parameters"]["seed"] == {"values": [0, 1, 2, 3, 4]}



def test_a_method_that_needs_wandbs_server_exports_but_does_not_run_offline(tmp_path):
    path = write_sweep(tmp_path, {"optim.lr": {"min": 1e-4, "max": 1e-2}}, method="bayes")
    raw = yaml.safe_load(sweep.export(sweep.load(path), tmp_path / "out.yaml").read_text())
    assert raw["method"] == "bayes" and raw["parameters"]["optim.lr"] == {"min": 1e-4, "max": 1e-2}
    with pytest.raises(ConfigError, match="method 'bayes' cannot run offline"):
        sweep.run(path, out=str(tmp_path / "runs"), progress=False)
    assert not (tmp_path / "runs").exists()


HOOK = """
# Loaded by every process of the killed sweep (PYTHONPATH): run {run_id} writes its record into
# its staging folder, says so in {marker}, and hangs there, before the rename that finishes it.
import json, time
from pathlib import Path
from lrd.training import record

finish = record.finish

def hang_before_rename(staging, rec):
    if rec["run_id"] != {run_id!r}:
        return finish(staging, rec)
    (Path(staging) / "record.json").write_text(json.dumps(record.clean(rec), default=str))
    Path({marker!r}).write_text(str(staging))
    time.sleep(600)

record.finish = hang_before_rename
"""


def test_sigkill_then_resume_runs_every_run_exactly_once(tmp_path):
    """Kill the whole runner (parent and workers) with SIGKILL at a known point: three runs
    recorded and the fourth hanging with its record written in staging but not yet moved into
    place. The rerun trains only that fourth run, leaves the first three untouched (same
    started_at), never reads the staged record as complete, and removes the debris."""
    path = write_sweep(tmp_path, {"task.length": {"values": [4, 5, 6, 7]},
                                  "model.name": {"value": "gru"}})
    out, marker, hook = tmp_path / "runs", tmp_path / "hanging", tmp_path / "hook"
    hang = next(j.run_id for j in sweep.plan(sweep.load(path), str(out)) if "-6-" in j.run_id)
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK.format(run_id=hang, marker=str(marker)))
    cmd = [sys.executable, "-m", "lrd.cli", "sweep", str(path), "--workers", "2",
           "--out", str(out), "--results", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), str(ROOT)])}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 180   # the three other runs take seconds; this only bounds a hang
    while not (marker.exists() and len(records(out)) == 3):
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        if time.time() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("the sweep did not reach the hanging run within 180 s")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {k: r["started_at"] for k, r in records(out).items()}
    assert hang not in before and all(r["status"] == "complete" for r in records(out).values())
    staged = Path(marker.read_text())
    assert staged.parent == out / ".staging" and (staged / "record.json").exists()
    worker = int(staged.name.rsplit("-", 1)[-1])   # SIGKILL is delivered, not yet acted on
    while runner._alive(worker) and time.time() < deadline:
        time.sleep(0.05)

    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "complete 1, diverged 0, failed 0, skipped 3, total 4" in done.stdout
    after = records(out)
    assert len(after) == 4 and all(r["status"] == "complete" for r in after.values())
    assert {k: after[k]["started_at"] for k in before} == before
    assert not list((out / ".staging").iterdir())


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_killed_process_not_yet_reaped_is_dead_and_its_staging_is_cleaned(tmp_path):
    """A zombie (exited, its parent has not waited for it) is not alive: a parent that never
    reaps its killed workers must not keep their staging debris forever."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.time() + 30
    while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.time() < deadline
        time.sleep(0.01)
    debris = tmp_path / ".staging" / f"run-x-{child.pid}"
    debris.mkdir(parents=True)
    assert runner._alive(os.getpid()) and not runner._alive(child.pid)
    runner.clean_staging(tmp_path)
    assert not debris.exists()
    child.wait()


def test_horizon_table_by_hand():
    """Lengths 10, 20, 40 with 3 seeds: solved 3/3, 2/3, 1/3 -> horizon 20 (a majority of
    unique seeds; 40 was measured, so not censored). Strict (accuracy >= 0.995): 20's
    solves are at 0.992, so 10; loose (>= 0.98): 40's failures are at 0.985, so 40, the
    longest length run. rnn-tanh: one seed, never solved: 0."""
    rows = []
    for length, solved in ((10, [1.0] * 3), (20, [0.992, 0.992, 0.5]),
                           (40, [0.995, 0.985, 0.985])):
        for seed, acc in enumerate(solved):
            rows.append(dict(task="copy", model="lstm", init="default", regime="full",
                             length=length, seed=seed, solved=acc >= 0.99 and length < 40,
                             **{"test.accuracy": acc}))
    rows[-3]["solved"] = True                       # 40: seed 0 solves (0.995), 1 of 3
    rows.append(dict(task="copy", model="rnn-tanh", init="default", regime="full",
                     length=10, seed=0, solved=False, **{"test.accuracy": 0.2}))
    table = results.horizon(pd.DataFrame(rows))
    assert table.to_dict("records") == [
        dict(task="copy", model="lstm", init="default", regime="full", horizon=20,
             censored=False, horizon_strict=10, horizon_loose=40, max_length=40,
             longest_run=40, seeds=3),
        dict(task="copy", model="rnn-tanh", init="default", regime="full", horizon=0,
             censored=False, horizon_strict=0, horizon_loose=0, max_length=10,
             longest_run=10, seeds=1)]


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
    runs = pd.read_csv(tables[0]["runs"])
    assert len(runs) == 4 and set(runs["status"]) == {"complete"}
    # What varies between machines and repeats (times, versions) is kept apart in timing.csv:
    # none of it in runs.csv, all of it, for every run, in timing.csv, as the records say.
    timing = pd.read_csv(tables[0]["timing"]).set_index("run_id")
    assert {"wall_time_s", "train_time_s", "env.device", "env.torch"} <= set(timing.columns)
    assert not set(timing.columns) & set(runs.columns)
    assert not [c for c in runs.columns if c.startswith("env.") or c.endswith("time_s")]
    assert sorted(timing.index) == sorted(runs["run_id"])
    for rid, rec in records(tmp_path / "a" / "runs").items():
        assert timing.loc[rid, "wall_time_s"] == pytest.approx(rec["wall_time_s"], rel=1e-5)
        assert timing.loc[rid, "train_time_s"] == pytest.approx(rec["train_time_s"], rel=1e-5)


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
    assert set(pd.read_csv(tmp_path / "curves.csv")["run_id"]) == set(records(out))
    for log in out.glob("*/metrics.csv"):
        log.unlink()
    assert results.write(out, tmp_path)["curves"].read_bytes() == first
    with pytest.raises(ConfigError, match="no run folder"):
        results.write(tmp_path / "missing", tmp_path)


SLOW = """
# Loaded by every process of the sweep (PYTHONPATH): training writes the worker's pid and hangs.
import os, time
from pathlib import Path
import lrd.training.run as run

def hang(cfg):
    Path({folder!r}, str(os.getpid())).write_text("")
    time.sleep(600)

run.train = hang
"""


def start_hanging_sweep(tmp_path, lengths):
    """A 2-worker sweep whose runs hang while training (SLOW); returns the runner process,
    its workers' pids once both are training, and the run folder."""
    path = write_sweep(tmp_path, {"task.length": {"values": lengths},
                                  "model.name": {"value": "gru"}})
    out, pids, hook = tmp_path / "runs", tmp_path / "pids", tmp_path / "hook"
    pids.mkdir()
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW.format(folder=str(pids)))
    cmd = [sys.executable, "-m", "lrd.cli", "sweep", str(path), "--workers", "2",
           "--out", str(out), "--results", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), str(ROOT)])}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 120
    while len(list(pids.iterdir())) < 2:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        if time.time() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("the workers did not start within 120 s")
        time.sleep(0.05)
    return proc, [int(p.name) for p in pids.iterdir()], out


def still_alive(pids, seconds=20) -> list[int]:
    """The pids still running (not zombies) after up to ``seconds``; those are killed."""
    alive = lambda pid: os.path.exists(f"/proc/{pid}") and \
        Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # noqa: E731
    deadline = time.time() + seconds
    while any(alive(pid) for pid in pids) and time.time() < deadline:
        time.sleep(0.1)
    left = [pid for pid in pids if alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def test_sigterm_stops_the_sweep_and_leaves_no_worker_behind(tmp_path):
    """SIGTERM to the runner alone (``kill PID``; ``timeout`` sends it to the group too):
    the runner exits 130 and its workers, which were training, are gone; nothing recorded."""
    proc, workers, out = start_hanging_sweep(tmp_path, [4, 5, 6, 7])
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    assert not still_alive(workers), "workers left training after SIGTERM"
    assert not records(out)


def test_workers_die_with_a_sweep_killed_by_sigkill(tmp_path):
    """SIGKILL leaves the runner no chance to clean up: its workers die with it (Linux)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux only")
    proc, workers, _ = start_hanging_sweep(tmp_path, [4, 5])
    proc.kill()
    proc.wait()
    assert not still_alive(workers), "workers outlived the killed sweep"


def test_every_sweeps_plan_is_written_before_any_run(tmp_path, monkeypatch):
    """One call, two sweeps, stopped in the first one's first run: the second sweep's plan file
    is already there (the report counts its runs as to run), the first one's too."""
    from lrd.sweeps import runner

    a = write_sweep(tmp_path, {"task.length": {"values": [4, 6]}}, name="first")
    b = write_sweep(tmp_path, {"task.length": {"values": [8]}}, name="second")
    out = tmp_path / "runs"

    def stop(self, jobs):
        raise KeyboardInterrupt
    monkeypatch.setattr(runner._Pool, "train", stop)
    with pytest.raises(KeyboardInterrupt):
        sweep.run([a, b], workers=1, out=str(out), progress=False)
    assert not records(out)
    planned = {p.stem: p.read_text().split() for p in (out / "_sweeps").glob("*.txt")}
    assert set(planned) == {"first", "second"}
    assert len(planned["first"]) == 2 and len(planned["second"]) == 1
