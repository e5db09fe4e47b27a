"""Horizon search (lrd.sweeps.runner): the skip rule on synthetic outcomes, waves in length
order, skipped records, resume, --full-grid, export without the lrd: key, and skipped cells in
runs.csv, the horizon table and the horizon figure. Training is replaced by a stub that writes
a record with a chosen outcome, except in one smoke-scale run through the command line."""

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from lrd import cli, results
from lrd import sweeps as sweep
from lrd.errors import ConfigError
from lrd.sweeps import runner
from lrd.training import record

from conftest import CONFIGS, ROOT

HORIZON_SWEEPS = sorted((CONFIGS / "sweeps").glob("horizon_*.yaml"))
LENGTHS = [2, 4, 6, 8, 10]


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def write_sweep(tmp_path, lengths=LENGTHS, models=("rnn", "gru", "lstm"), seeds=(0, 1),
                search={"always": [8]}, name="hs"):
    data = {"name": name, "program": "lrd", "method": "grid",
            "metric": {"name": "test/accuracy", "goal": "maximize"},
            "command": ["lrd", "train", "--profile", "smoke", "--config",
                        "configs/task/copy.yaml", "${args}"],
            "parameters": {"task.length": {"values": list(lengths)},
                           "model.name": {"values": list(models)},
                           "seed": {"values": list(seeds)}}}
    if search is not None:
        data["lrd"] = {"horizon_search": search}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


# Outcome per (model, length, seed): True solved, False failed (trained to its end), "crash".
# rnn: fails at 2 -> cut at 2: 4, 6, 10 skipped; 8 is an anchor and runs (fails).
# gru: solves 2, one seed solves 4 (goes on), fails 6 -> cut at 6; anchor 8: seed 1 solves,
#      which lifts the cut -> 10 runs.
# lstm: solves everything -> nothing skipped.
OUTCOMES = {("rnn", n, s): False for n in LENGTHS for s in (0, 1)}
OUTCOMES.update({("gru", 2, 0): True, ("gru", 2, 1): True, ("gru", 4, 0): True,
                 ("gru", 4, 1): False, ("gru", 6, 0): False, ("gru", 6, 1): False,
                 ("gru", 8, 0): False, ("gru", 8, 1): True, ("gru", 10, 0): False,
                 ("gru", 10, 1): False})
OUTCOMES.update({("lstm", n, s): True for n in LENGTHS for s in (0, 1)})
EXPECTED_SKIPPED = {("rnn", 4), ("rnn", 6), ("rnn", 10)}


class Stub:
    """Replaces ``runner._run_job``: writes a record with the outcome of ``outcomes`` (steps:
    100 if solved, else 1000) and logs the calls; ``crash_after`` raises, as a killed sweep."""

    def __init__(self, outcomes, crash_after=None):
        self.outcomes, self.crash_after, self.calls = outcomes, crash_after, []

    def __call__(self, job, threads, redo=(runner.SKIPPED,)):
        if self.crash_after is not None and len(self.calls) >= self.crash_after:
            raise KeyboardInterrupt("killed")
        if not runner.redone(record.read(job.out / job.run_id), redo):
            return job.run_id, "skipped", None
        key = (job.config["model"]["name"], job.length, job.config["seed"])
        self.calls.append(key)
        outcome = self.outcomes[key]
        status = "failed" if outcome == "crash" else "complete"
        rec = {"run_id": job.run_id, "config": job.config, "status": status,
               "solved": outcome is True, "diverged": False,
               "steps": 100 if outcome is True else 1000,
               "metrics": {"test": {"accuracy": 1.0 if outcome is True else 0.2}}}
        record.finish(record.staging_dir(job.out, job.run_id), rec)
        return job.run_id, status, None


@pytest.fixture
def stub(monkeypatch):
    def install(outcomes=OUTCOMES, crash_after=None):
        s = Stub(outcomes, crash_after)
        monkeypatch.setattr(runner, "_run_job", s)
        return s
    return install


def records(out):
    return {p.parent.name: json.loads(p.read_text()) for p in Path(out).glob("*/record.json")}


def by_cell(out):
    return {(r["config"]["model"]["name"], r["config"]["task"]["length"], r["config"]["seed"]): r
            for r in records(out).values()}


def search(path, out, **kw):
    return sweep.run(path, workers=1, profile="quick", out=str(out), progress=False, **kw)


# -- the rule ------------------------------------------------------------------------------------

def test_skip_rule_gives_the_exact_skipped_set(tmp_path, stub):
    s = stub()
    out = tmp_path / "runs"
    counts = search(write_sweep(tmp_path), out)
    cells = by_cell(out)
    assert len(cells) == 30
    skipped = {(m, n) for (m, n, _), r in cells.items() if r["status"] == "skipped"}
    assert skipped == EXPECTED_SKIPPED
    assert {(m, n, seed) for (m, n, seed) in s.calls} == set(OUTCOMES) - {
        (m, n, seed) for m, n in EXPECTED_SKIPPED for seed in (0, 1)}
    assert counts["not_run"] == 6 and counts["complete"] == 24 and counts["total"] == 30
    assert ("rnn", 8, 0) in s.calls and ("rnn", 8, 1) in s.calls     # the anchor ran
    assert ("gru", 10, 1) in s.calls                                 # cut lifted at 8
    assert all((m, n) not in EXPECTED_SKIPPED for m, n, _ in s.calls)


def test_without_anchors_a_cut_is_final(tmp_path, stub):
    s = stub()
    out = tmp_path / "runs"
    search(write_sweep(tmp_path, search={"always": []}), out)
    skipped = {(m, n) for (m, n, _), r in by_cell(out).items() if r["status"] == "skipped"}
    assert skipped == {("rnn", 4), ("rnn", 6), ("rnn", 8), ("rnn", 10),
                       ("gru", 8), ("gru", 10)}
    assert not [c for c in s.calls if (c[0], c[1]) in skipped]


def test_a_crashed_seed_is_no_evidence(tmp_path, stub):
    """rnn at 2: seed 0 fails, seed 1 crashes (status failed): not every seed failed, so the
    group goes on to 4, where both fail; --retry-failed reruns the crash."""
    outcomes = {**OUTCOMES, ("rnn", 2, 1): "crash"}
    s = stub(outcomes)
    out = tmp_path / "runs"
    search(write_sweep(tmp_path, models=("rnn",), search=True), out)
    assert ("rnn", 4, 0) in s.calls and ("rnn", 4, 1) in s.calls
    cells = by_cell(out)
    assert cells[("rnn", 6, 0)]["reason"] == "not run: every seed failed at T=4"
    s2 = stub({**outcomes, ("rnn", 2, 1): False})
    search(write_sweep(tmp_path, models=("rnn",), search=True), out, retry_failed=True)
    assert s2.calls == [("rnn", 2, 1)]
    # the group is now cut at 2: the skipped records say so
    assert by_cell(out)[("rnn", 6, 0)]["reason"] == "not run: every seed failed at T=2"
    assert by_cell(out)[("rnn", 4, 0)]["status"] == "complete"   # a real record is kept


def test_runs_go_in_waves_of_increasing_length(tmp_path, stub):
    s = stub()
    search(write_sweep(tmp_path), tmp_path / "runs")
    lengths = [n for _, n, _ in s.calls]
    assert lengths == sorted(lengths) and lengths[0] == 2


def test_groups_are_every_parameter_but_length_and_seed(tmp_path):
    path = write_sweep(tmp_path)
    jobs = sweep.plan(sweep.load(path, "quick"), str(tmp_path / "runs"))
    groups = {}
    for j in jobs:
        groups.setdefault(j.group, set()).add(j.config["model"]["name"])
    assert sorted(map(sorted, groups.values())) == [["gru"], ["lstm"], ["rnn"]]
    assert sorted({j.length for j in jobs}) == LENGTHS


# -- skipped records, resume, full grid ----------------------------------------------------------

def test_a_skipped_record_holds_the_reason_the_config_and_the_evidence(tmp_path, stub):
    stub()
    out = tmp_path / "runs"
    search(write_sweep(tmp_path), out)
    jobs = {j.run_id: j for j in sweep.plan(sweep.load(write_sweep(tmp_path), "quick"), str(out))}
    cells = by_cell(out)
    rec = cells[("rnn", 6, 1)]
    assert rec["status"] == "skipped" and rec["reason"] == "not run: every seed failed at T=2"
    assert rec["failed_at"] == 2 and rec["solved"] is False and rec["steps"] == 0
    assert "metrics" not in rec
    assert rec["config"] == jobs[rec["run_id"]].config         # the full resolved config
    assert rec["run_id"].endswith(rec["config_hash"][:10])
    assert sorted(rec["evidence"]) == sorted(cells[("rnn", 2, s)]["run_id"] for s in (0, 1))
    assert (out / rec["run_id"] / "record.json").exists()
    assert not list((out / ".staging").iterdir())


def test_resume_after_a_killed_search_trains_nothing_twice(tmp_path, stub):
    path, out = write_sweep(tmp_path), tmp_path / "runs"
    first = stub(crash_after=9)   # killed in the middle of the second wave
    with pytest.raises(KeyboardInterrupt):
        search(path, out)
    assert len(first.calls) == 9
    second = stub()
    counts = search(path, out)
    assert not set(first.calls) & set(second.calls)
    assert counts["skipped"] == 9 and counts["not_run"] == 6
    whole = tmp_path / "whole"
    stub()
    search(path, whole)
    strip = lambda rs: {k: (r["status"], r.get("reason")) for k, r in rs.items()}  # noqa: E731
    assert strip(by_cell(out)) == strip(by_cell(whole))
    third = stub()
    again = search(path, out)    # a third time: nothing to train, nothing rewritten
    assert third.calls == [] and again["not_run"] == 6 and again["skipped"] == 24


def test_full_grid_trains_the_skipped_runs_and_replaces_their_records(tmp_path, stub):
    path, out = write_sweep(tmp_path), tmp_path / "runs"
    stub()
    search(path, out)
    s = stub()
    counts = search(path, out, full_grid=True)
    assert {(m, n) for m, n, _ in s.calls} == EXPECTED_SKIPPED and len(s.calls) == 6
    assert counts["complete"] == 6 and counts["skipped"] == 24 and "not_run" not in counts
    assert {r["status"] for r in records(out).values()} == {"complete"}
    s = stub()
    counts = search(path, out)   # the search again: every cell has a real record now
    assert s.calls == [] and counts["not_run"] == 0


def test_a_sweep_without_the_opt_in_runs_the_full_grid(tmp_path, stub):
    s = stub()
    counts = search(write_sweep(tmp_path, search=None), tmp_path / "runs")
    assert len(s.calls) == 30 and "not_run" not in counts
    lengths = [n for _, n, _ in s.calls]
    assert lengths == sorted(lengths)   # pending runs go shortest first


# -- the sweep files and export ------------------------------------------------------------------

@pytest.mark.parametrize("path", HORIZON_SWEEPS, ids=lambda p: p.stem)
def test_horizon_sweeps_opt_in_and_export_pure_wandb(path, tmp_path):
    raw = yaml.safe_load(path.read_text())
    assert set(raw) - sweep.WANDB_KEYS == {sweep.LRD_KEY}
    s = sweep.load(path)
    assert s.horizon_search is not None
    for profile in ("smoke", "quick", "literature", "paper"):
        dest = sweep.export(sweep.load(path, profile), tmp_path / f"{profile}.yaml")
        exported = yaml.safe_load(dest.read_text())
        assert set(exported) <= sweep.WANDB_KEYS and sweep.LRD_KEY not in exported
        assert exported["parameters"] == sweep.load(path, profile).parameters


def test_the_anchors_of_the_literature_study():
    get = lambda t: sweep.load(CONFIGS / f"sweeps/horizon_{t}.yaml").horizon_search.always  # noqa
    assert get("copy") == (100, 200) and get("adding") == (200, 400)
    assert get("delayed_recall") == (100, 200)


@pytest.mark.parametrize("lrd,match", [
    ({"horizon_search": {"always": [10]}, "other": 1}, r"'lrd' takes only 'horizon_search'"),
    ({"horizon_search": {"anchors": [10]}}, r"'lrd.horizon_search' is true or a mapping"),
    ({"horizon_search": {"always": "10"}}, r"'lrd.horizon_search.always' must be a list"),
    ({"horizon_search": {"always": [1.5]}}, r"must be a list of lengths"),
    ("yes", r"'lrd' takes only 'horizon_search'"),
])
def test_a_bad_lrd_key_is_refused_on_load(tmp_path, lrd, match):
    path = write_sweep(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["lrd"] = lrd
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=match):
        sweep.load(path)


# -- aggregation, tables, figure -----------------------------------------------------------------

@pytest.fixture
def searched(tmp_path, stub):
    stub()
    out = tmp_path / "runs"
    search(write_sweep(tmp_path), out)
    return out


def test_runs_csv_holds_skipped_rows_without_metrics(searched, tmp_path):
    paths = results.write(searched, tmp_path / "res")
    runs = pd.read_csv(paths["runs"])
    skipped = runs[runs["status"] == "skipped"]
    assert len(runs) == 30 and len(skipped) == 6
    assert set(zip(skipped["model"], skipped["length"])) == {
        ("rnn-tanh", 4), ("rnn-tanh", 6), ("rnn-tanh", 10)}
    assert not skipped["solved"].any() and set(skipped["steps"]) == {0}
    assert set(skipped["reason"]) == {"not run: every seed failed at T=2"}
    assert set(skipped["failed_at"]) == {2}
    # the budget of the runs whose failure cut them (their evidence records)
    assert pd.to_numeric(skipped["failed_steps"]).eq(1500).all() and "evidence" not in runs
    assert skipped["test.accuracy"].isna().all()
    assert runs.loc[runs["status"] != "skipped", "reason"].isna().all()


def test_horizon_table_names_the_cells_not_run(searched, tmp_path):
    paths = results.write(searched, tmp_path / "res")
    h = pd.read_csv(paths["horizon"]).set_index("model")
    assert h.loc["rnn-tanh", "not_run"] == "4, 6, 10 not run (failed at T=2 with 1500 steps)"
    assert h["not_run"].drop("rnn-tanh").isna().all()
    assert h.loc["rnn-tanh", "horizon"] == 0 and h.loc["rnn-tanh", "max_length"] == 10
    # gru: both seeds solve 2, one of two at 4 and at 8 (not a majority); lstm: every length,
    # censored at the longest one tried
    assert h.loc["gru", "horizon"] == 2 and not h.loc["gru", "censored"]
    assert h.loc["lstm", "horizon"] == 10 and h.loc["lstm", "censored"]
    # the same horizons as the full grid with the same outcomes (the search's premise; the
    # searched fixture's stub still stands in for training)
    full = tmp_path / "full"
    assert search(write_sweep(tmp_path), full, full_grid=True)["complete"] == 30
    hf = results.horizon(results.collect(full)).set_index("model")
    assert (hf["horizon"] == h["horizon"]).all() and (hf["seeds"] == h["seeds"]).all()


def test_a_table_without_skipped_runs_is_unchanged(tmp_path, stub):
    stub()
    out = tmp_path / "runs"
    search(write_sweep(tmp_path, search=None), out)
    assert list(results.horizon(results.collect(out)).columns) == [
        "task", "model", "init", "regime", "horizon", "censored", "horizon_strict",
        "horizon_loose", "max_length", "longest_run", "seeds"]


def test_report_and_figure_mark_not_run_cells(searched, tmp_path):
    from lrd.figures import horizon as horizon_fig
    from lrd.figures.data import load_runs, not_run, study
    from lrd.results import report

    res = tmp_path / "res"
    results.write(searched, res)
    runs = load_runs(res)
    runs["group"] = "horizon_copy"   # as the horizon figure finds its sweep
    runs["sweeps"] = "horizon_copy"
    assert len(study(runs, "horizon_copy")) == 24          # no measurement from a skipped run
    assert len(not_run(runs, "horizon_copy")) == 6
    tables = report.write_tables(res, runs)
    md = (res / "tables" / "horizon.md").read_text()
    assert "4, 6, 10 not run (failed at T=2 with 1500 steps)" in md and "not_run" in md
    assert list(tables["horizon"].columns)[-1] == "not_run"
    made = horizon_fig.make(runs, res, res / "figures")
    assert "Hollow markers at the bottom" in made.caption
    assert any("Not run by the horizon search: RNN" in f and "(failed at T=2 with 1500 steps)" in f
               for f in made.findings)
    text = report.readme([made], tables, runs, res)
    assert "6 not run by the horizon search (recorded as skipped)" in text


# -- one real sweep through the command line -----------------------------------------------------

def test_lrd_sweep_searches_then_full_grid_runs_the_rest(tmp_path, capsys):
    """Smoke scale (20 steps): copy is never solved, so the search trains T=2 and records
    T=4 as skipped; --full-grid then trains T=4, whose record replaces the skipped one."""
    path = write_sweep(tmp_path, lengths=[2, 4], models=("rnn",), seeds=(0,), search=True)
    out = tmp_path / "runs"
    argv = ["sweep", str(path), "--workers", "1", "--out", str(out), "--results",
            str(tmp_path / "res")]
    assert cli.main(argv) == 0
    assert "complete 1, diverged 0, failed 0, skipped 0, not_run 1, total 2" in \
        capsys.readouterr().out
    assert sorted(r["status"] for r in records(out).values()) == ["complete", "skipped"]
    assert cli.main([*argv, "--full-grid"]) == 0
    assert "complete 1, diverged 0, failed 0, skipped 1, total 2" in capsys.readouterr().out
    recs = by_cell(out)
    assert recs[("rnn", 4, 0)]["status"] == "complete" and recs[("rnn", 4, 0)]["steps"] > 0
    runs = pd.read_csv(tmp_path / "res" / "runs.csv")
    assert set(runs["status"]) == {"complete"}


def test_a_run_stopped_by_sigterm_is_rerun_without_retry_failed(tmp_path, stub):
    """A time limit's SIGTERM reaches the workers as Lightning's SIGTERMException, which
    lrd.training.run records as failed: the next sweep reruns it; a real failure it keeps."""
    path, out = write_sweep(tmp_path, search=None, models=("rnn",), lengths=[2, 4]), \
        tmp_path / "runs"
    stub()
    search(path, out)
    cells = by_cell(out)
    for key, error in ((("rnn", 2, 0), "SIGTERMException: "), (("rnn", 4, 0), "ValueError: x")):
        rec = {**cells[key], "status": "failed", "error": error}
        record.finish(record.staging_dir(out, rec["run_id"]), rec)
    s = stub()
    counts = search(path, out)
    assert s.calls == [("rnn", 2, 0)] and counts["skipped"] == 3
    assert by_cell(out)[("rnn", 4, 0)]["status"] == "failed"


# -- several sweeps in one call (make reproduce) ---------------------------------------------------

def test_several_sweeps_run_in_one_call_each_run_once(tmp_path, stub):
    """The search sweep skips rnn at 4, 6, 10; a plain sweep over rnn at 4 and 6 (shared ids)
    that comes after it in the same call trains them; every other shared run trains once."""
    s = stub()
    searched = write_sweep(tmp_path, name="hs")
    plain = write_sweep(tmp_path, lengths=[2, 4, 6], models=("rnn", "lstm"), search=None,
                        name="plain")
    out = tmp_path / "runs"
    counts = sweep.run([searched, plain], workers=1, profile="quick", out=str(out),
                       progress=False)
    assert len(s.calls) == len(set(s.calls))                  # nothing trained twice
    assert {("rnn", 4, 0), ("rnn", 6, 1)} <= set(s.calls)     # trained by the plain sweep
    cells = by_cell(out)
    assert cells[("rnn", 10, 0)]["status"] == "skipped"       # the plain sweep has no 10
    assert cells[("rnn", 4, 0)]["status"] == "complete"
    assert counts["total"] == 30 and counts["not_run"] == 6   # 5 lengths x 3 models x 2 seeds
    members = {p.stem: p.read_text().split() for p in (out / "_sweeps").glob("*.txt")}
    assert set(members) == {"hs", "plain"} and len(members["plain"]) == 12


def test_a_bad_file_among_several_writes_nothing(tmp_path, stub):
    s = stub()
    good = write_sweep(tmp_path, name="good")
    bad = write_sweep(tmp_path, name="bad")
    bad.write_text(bad.read_text().replace("model.name", "model.nam"))
    with pytest.raises(ConfigError):
        sweep.run([good, bad], workers=1, profile="quick", out=str(tmp_path / "runs"),
                  progress=False)
    assert not s.calls and not (tmp_path / "runs").exists()


def test_a_runs_work_is_its_step_budget_times_its_sequence_length():
    jobs = sweep.plan(sweep.load(CONFIGS / "sweeps/horizon_copy.yaml", "literature"))
    by_length = {j.length: runner.work(j) for j in jobs}
    assert by_length[10] == 4000 * 30 and by_length[100] == 8000 * 120
    assert by_length[500] == 12000 * 520     # the budget of the largest min_length <= 500


def test_a_run_stopped_from_outside_in_a_cut_group_is_recorded_skipped(tmp_path, stub):
    """rnn at 4 (seed 0) was stopped by SIGTERM in an earlier call: no result, so pending. Its
    group is cut at 2: the stopped record is replaced by a skipped one and counted, never left
    pending for ever (which kept the bar and the ETA from finishing)."""
    stub()
    path, out = write_sweep(tmp_path), tmp_path / "runs"
    job = next(j for j in sweep.plan(sweep.load(path, "quick"), str(out))
               if j.config["model"]["name"] == "rnn" and j.length == 4 and j.config["seed"] == 0)
    record.finish(record.staging_dir(out, job.run_id),
                  {"run_id": job.run_id, "config": job.config, "status": "failed",
                   "error": "SIGTERMException: stopped", "solved": False})
    counts = search(path, out)
    assert by_cell(out)[("rnn", 4, 0)]["status"] == "skipped"
    assert counts["not_run"] == 6 and counts["skipped"] == 0
