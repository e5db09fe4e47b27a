"""``lrd figures`` on a small synthetic ``results/``: records and metrics.csv written by hand
with known numbers, so the figures, tables and report can be checked exactly and fast."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from lrd import results as resultslib
from lrd import tasks as tasklib

MODELS = {"rnn-tanh": ("rnn", "tanh"), "rnn-relu": ("rnn", "relu"), "lstm": ("lstm", None),
          "gru": ("gru", None), "attention": ("attention", None)}
HORIZON_LENGTHS = {"copy": [5, 10, 20, 40], "adding": [10, 25, 50, 100],
                   "delayed_recall": [5, 10, 20, 40], "prefix_sum": [10, 20, 40, 80]}
# The longest length each model solves in the synthetic horizon study (0: none).
SOLVES_UP_TO = {"rnn-tanh": 10, "lstm": 40, "gru": 20, "attention": 0}
PREFIX_TESTS = [20, 200, 1000, 5000]
END_RADIUS, END_SIGMA = 1.05, 1.5   # the end-of-training summary of the analysed runs
POSITIONS = {"alibi": 1.0, "rope": 0.6, "nope": 0.4}   # copy/prefix accuracy per scheme


def _task(name):
    return tasklib.make(name)


def _value(task, length, solves_up_to, seed):
    """A metric value that solves exactly when ``length <= solves_up_to``."""
    jitter = 0.002 * seed
    if task.solved_metric == "mse":
        return 0.004 + jitter if length <= solves_up_to else 0.16 - jitter
    base = task.baseline_accuracy(length)
    return 0.995 + jitter if length <= solves_up_to else base + 0.05 + jitter


def write_run(runs_dir: Path, *, task: str, model: str, length: int, seed: int, group: str,
              init: str = "default", regime: str = "full", test: dict | None = None,
              lengths: dict | None = None, steps: int = 200, analysis: bool = False,
              status: str = "complete", rate: float | None = None,
              position: str | None = None) -> str:
    """One record (and metrics.csv); ``analysis``: npz files and init/end summaries;
    ``rate``: the end summary's fitted decay rates (both)."""
    t = _task(task)
    name, nl = MODELS[model]
    m = {"name": name, "init": init, "hidden_size": 8}
    if nl:
        m["nonlinearity"] = nl
    if position:
        m["position"] = position
    cfg = {"task": {"name": task, "length": length}, "model": m, "regime": {"name": regime},
           "seed": seed, "log": {"group": group}, "train": {"eval_lengths": sorted(
               int(n) for n in (lengths or {}))}}
    run_id = f"{task}-{name}-{length}-s{seed}-{group}-{model}-{init}-{regime}-{position}"
    test = test or {}
    solved = status == "complete" and bool(t.solved(test))
    rec = {"run_id": run_id, "config": cfg, "status": status, "solved": solved,
           "diverged": status == "diverged", "steps": steps,
           "baseline_loss": t.baseline_loss(length),
           "metrics": {"test": test, "lengths": lengths or {}}}
    d = runs_dir / run_id
    d.mkdir(parents=True)
    final_ratio = 0.05 if solved else 0.9
    rows = ["epoch,step,train/loss,train/loss_ratio" + (
        ",analysis/weight_radius,analysis/weight_sigma_max" if analysis else "")]
    for s in range(steps):
        ratio = 1.2 * (final_ratio / 1.2) ** (s / (steps - 1))
        rows.append(f"0,{s},{ratio * rec['baseline_loss']:.6g},{ratio:.6g}"
                    + (",," if analysis else ""))
        if analysis and s % 20 == 19:
            rows.append(f",{s},,,{0.9 + 0.1 * s / steps:.6g},{1.2 + 0.2 * s / steps:.6g}")
    (d / "metrics.csv").write_text("\n".join(rows) + "\n")
    if analysis:
        rec["analysis"] = {"init": {"weight_radius": 0.9, "weight_sigma_max": 1.2},
                           "end": {"weight_radius": END_RADIUS, "weight_sigma_max": END_SIGMA,
                                   "jacobian_decay_rate": math.log(0.8),
                                   "grad_decay_rate": math.log(0.8)}}
        rng = np.random.default_rng(seed)
        for label, rho, sigma in (("init", 0.9, 1.2), ("end", 1.0, END_SIGMA)):
            eig = rho * np.exp(2j * np.pi * rng.random(8)) * np.sqrt(rng.random(8))
            eig[0] = rho
            lag = np.arange(length + 1)
            np.savez(d / f"analysis_{label}.npz",
                     **{"weights.l0.eigenvalues": eig.astype(np.complex64),
                        "weights.l0.singular_values": np.linspace(sigma, 0.1, 8),
                        "curve.lag": lag, "curve.grad_norm": 0.1 * 0.8 ** lag,
                        "curve.jacobian_norm": decay_base(seed) ** lag,
                        "rates.quantity": np.array(["grad_norm", "jacobian_norm"]),
                        "rates.lag_lo": np.array([1, 1]),
                        "rates.lag_hi": np.array([length, length]),
                        "rates.rate": np.array([math.log(0.8), math.log(0.8)]),
                        "model": np.array("rnn")})
    if rate is not None:
        rec.setdefault("analysis", {})["end"] = {"jacobian_decay_rate": rate,
                                                 "grad_decay_rate": rate}
    (d / "record.json").write_text(json.dumps(rec, indent=2, sort_keys=True))
    return run_id


def decay_base(seed: int) -> float:
    """The synthetic Jacobian-norm curve of a seed: base ** lag, a different base per seed."""
    return 0.8 + 0.01 * (seed % 3 - 1)


def prefix_accuracy(train_length, regime, model, test_length, seed):
    """Synthetic prefix-sum accuracy: training at 20 generalises, at 200 it fails."""
    if train_length == 20 and regime != "truncated":
        return 1.0 - 0.001 * seed - (0.01 if model == "rnn-tanh" else 0.0)
    return 0.34 + 0.01 * seed


def horizon_rate(up_to: int) -> float:
    """A decay rate whose predicted horizon (ε = 0.01) is ``up_to``: lag* = up_to + 0.5
    (-1, lag* 4.6: none)."""
    return math.log(0.01) / (up_to + 0.5) if up_to else -1.0


def build(root: Path, seeds=(0, 1, 2),
          studies=("horizon", "init", "regime", "prefix", "positions"), analysis=True) -> Path:
    """A results/ folder with the given studies, then runs.csv and horizon.csv.

    As in a real study, a cell (task, model, init, regime, length, position) and seed that two
    studies run is one run, written by the first and listed for both in their plans
    (``_sweeps/<group>.txt``). The prefix-sum and init studies are written first, so that
    their runs (with test lengths, with analysis files) are the horizon study's where both
    ran the cell."""
    runs_dir = root / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    written: dict[tuple, str] = {}

    def put(**kw):
        kw.setdefault("init", "default")
        kw.setdefault("regime", "full")
        key = tuple(kw.get(k) for k in ("task", "model", "init", "regime", "length", "seed",
                                         "position"))
        if key not in written:
            written[key] = write_run(runs_dir, **kw)
        lists = runs_dir / "_sweeps"          # every sweep's plan, as the runner writes it
        lists.mkdir(exist_ok=True)
        with open(lists / f"{kw['group']}.txt", "a") as f:
            f.write(written[key] + "\n")

    if "prefix" in studies:
        for L in (20, 200):
            for regime in ("full", "truncated", "teacher_forcing", "curriculum"):
                for model in ("lstm", "rnn-tanh"):
                    for s in seeds:
                        lengths = {str(n): {"accuracy": prefix_accuracy(L, regime, model, n, s),
                                            "loss": 0.5} for n in PREFIX_TESTS}
                        put(task="prefix_sum", model=model, length=L, seed=s,
                            group="prefix_sum_study", regime=regime,
                            test=dict(lengths[str(L)]), lengths=lengths)
    if "init" in studies:
        for model in ("rnn-tanh", "rnn-relu"):
            for init in ("default", "xavier", "orthogonal", "identity", "gaussian"):
                up_to = {"identity": 50, "orthogonal": 25}.get(init, 10 if model == "rnn-tanh"
                                                               else 0)
                for L in (10, 25, 50):
                    for s in seeds:
                        v = _value(_task("adding"), L, up_to, s)
                        put(task="adding", model=model, length=L, seed=s, group="init_adding",
                            init=init, analysis=analysis, test={"mse": v, "loss": v})
    if "horizon" in studies:
        for task, lengths in HORIZON_LENGTHS.items():
            t = _task(task)
            for model, up_to in SOLVES_UP_TO.items():
                for L in lengths:
                    for s in seeds:
                        v = _value(t, L, up_to, s)
                        put(task=task, model=model, length=L, seed=s, group=f"horizon_{task}",
                            test={t.solved_metric: v, "loss": v},
                            rate=horizon_rate(up_to) if analysis else None)
    if "regime" in studies:
        # full BPTT is the horizon study's LSTM (solves up to 40) where both studies ran
        for regime, up_to in {"full": 40, "truncated": 5, "teacher_forcing": 20,
                              "curriculum": 20}.items():
            for L in (5, 10, 20):
                for s in seeds:
                    v = _value(_task("copy"), L, up_to, s)
                    put(task="copy", model="lstm", length=L, seed=s, group="regime_copy",
                        regime=regime, test={"accuracy": v, "loss": 0.1})
    if "positions" in studies:
        for pos, acc in POSITIONS.items():
            for s in seeds:
                for L in (10, 50, 100):
                    put(task="copy", model="attention", length=L, seed=s,
                        group="positions_copy", position=pos,
                        test={"accuracy": acc - 0.01 * s, "loss": 0.1})
                for L in (20, 40):
                    lengths = {str(n): {"accuracy": acc if n <= L else acc - 0.01 * s,
                                        "loss": 0.5} for n in PREFIX_TESTS}
                    put(task="prefix_sum", model="attention", length=L, seed=s,
                        group="positions_prefix_sum", position=pos,
                        test=dict(lengths[str(L)]) if str(L) in lengths else
                        {"accuracy": acc, "loss": 0.5}, lengths=lengths)
    resultslib.write(runs_dir, root)
    return root


EXPECTED = ["horizon", "curves", "init", "regime", "generalisation", "positions", "spectral",
            "eigenspectra", "gradient_decay", "predicted_horizon"]


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    from lrd.cli import main

    root = build(tmp_path_factory.mktemp("results"))
    assert main(["figures", "--results", str(root)]) == 0
    return root


def test_every_figure_is_drawn(full):
    for name in EXPECTED:
        for ext in ("pdf", "png"):
            path = full / "figures" / f"{name}.{ext}"
            assert path.exists() and path.stat().st_size > 1000, path


def test_every_init_cell_is_in_the_analysis_figures(full):
    """The init study's cells that the horizon study also ran (tanh RNN, default init) are
    one run each, with its analysis files: every (model, init) cell is drawn."""
    from lrd.figures.data import load_runs
    from lrd.figures.gradient import make_gradient_decay
    from lrd.figures.spectra import make_eigenspectra, make_spectral

    runs = load_runs(full)
    for make in (make_spectral, make_eigenspectra, make_gradient_decay):
        m = make(runs, full, full / "figures")
        assert len(m.findings) == 10, make.__name__
        assert any(f.startswith("RNN (tanh), default (") for f in m.findings), make.__name__


def test_make_all_reports_what_it_made(tmp_path):
    from lrd.figures import Made, make_all

    root = build(tmp_path, seeds=(0,), studies=("init",))
    done = {d.name: d for d in make_all(root, verbose=False)}
    assert list(done) == EXPECTED
    assert isinstance(done["init"], Made) and isinstance(done["spectral"], Made)
    assert not isinstance(done["horizon"], Made)
    # identity solves up to T = 50 for both nonlinearities in the synthetic input (the longest
    # length: "≥" where lrd.results.horizon censors it)
    assert any(re.search(r"T [=≥] 50 \(identity\)", f) for f in done["init"].findings)


def test_missing_studies_are_skipped_with_a_note(tmp_path, capsys):
    from lrd.cli import main

    root = build(tmp_path, seeds=(0,), studies=("regime",), analysis=False)
    assert main(["figures", "--results", str(root)]) == 0
    out = capsys.readouterr().out
    for name in ("horizon", "curves", "init", "generalisation", "spectral", "eigenspectra",
                 "gradient_decay"):
        assert f"figure {name}: skipped (" in out
        assert not (root / "figures" / f"{name}.png").exists()
    assert (root / "figures" / "regime.png").stat().st_size > 1000
    assert "error" not in out


def test_analysis_absent_skips_only_the_analysis_figures(tmp_path, capsys):
    from lrd.figures import Made, make_all

    root = build(tmp_path, seeds=(0,), studies=("init",), analysis=False)
    done = {d.name: d for d in make_all(root)}
    assert isinstance(done["init"], Made)
    for name in ("spectral", "eigenspectra", "gradient_decay", "predicted_horizon"):
        assert not isinstance(done[name], Made)
        assert "error" not in done[name].note


def test_empty_results_folder(tmp_path, capsys):
    """No runs: every figure is skipped with a note, the README and empty tables are written."""
    from lrd.cli import main

    (tmp_path / "runs").mkdir()
    resultslib.write(tmp_path / "runs", tmp_path)
    assert main(["figures", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines() if "skipped (" in line] == \
        [f"figure {name}" for name in EXPECTED]
    assert not (tmp_path / "figures").exists()
    readme = (tmp_path / "README.md").read_text()
    assert readme.count("_No runs for this table yet._") == 3 and "0 run records." in readme
    assert (tmp_path / "tables" / "horizon.csv").read_text() == \
        "task,model,init,regime,horizon,max_length,seeds\n"


@pytest.mark.parametrize("make_folder", [False, True], ids=["no folder", "no runs.csv"])
def test_figures_refuse_a_folder_that_is_not_results_and_write_nothing(tmp_path, capsys,
                                                                        make_folder):
    from lrd.cli import main
    from lrd.errors import ConfigError
    from lrd.figures import make_all
    from lrd.results import report

    target = tmp_path / "results"
    if make_folder:
        (target / "runs").mkdir(parents=True)
    before = sorted(tmp_path.rglob("*"))
    assert main(["figures", "--results", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"lrd: error: {target}: not a results folder "
                   f"({'no runs.csv in it' if make_folder else 'no such folder'}; "
                   "`lrd results` writes runs.csv)")
    for call in (lambda: make_all(target), lambda: report.write(target, done=[])):
        with pytest.raises(ConfigError, match="not a results folder"):
            call()
    assert sorted(tmp_path.rglob("*")) == before


def test_horizon_findings_match_the_synthetic_horizon(full):
    from lrd.figures import horizon
    from lrd.figures.data import load_runs

    from lrd.figures import style

    runs = load_runs(full)
    made = horizon.make(runs, full, full / "figures")
    copy = next(f for f in made.findings if f.startswith("Copy"))
    # LSTM solves the longest length, 40: "≥ 40" where lrd.results.horizon censors it
    assert "RNN (tanh) 10" in copy and re.search("LSTM (≥ )?40", copy) and "GRU 20" in copy
    attention = runs.loc[runs["config.model.name"] == "attention", "model"].iloc[0]
    # attention solves nothing, but 0.05 above the baseline accuracy is clearly beyond it
    assert (f"{style.model_label(attention)} solves no length (above the baseline at "
            "T = 5, 10, 20, 40)") in copy


def test_style_gives_every_model_one_colour_marker_and_label():
    """Every variant of every registered model: its own colour, marker and label, from its
    class; models in registration order."""
    import lrd.models
    from lrd.figures import style

    order = style.model_order()
    looks = [look for name in lrd.models.available()
             for look in lrd.models.MODELS[name].looks.values()]
    assert sorted(map(style.model_look, order)) == sorted(looks) and len(order) == len(looks)
    for field in ("label", "color", "marker"):
        values = [getattr(style.model_look(m), field) for m in order]
        assert len(set(values)) == len(values), field
    assert order[:4] == ["rnn-tanh", "rnn-relu", "rnn-linear", "lstm"]
    assert style.model_look("no-such-model") == ("no-such-model", "#444444", "o")


def test_every_init_scheme_has_its_own_colour_apart_from_the_models():
    from lrd.figures import style
    from lrd.models.init import SCHEMES

    assert style.INIT_ORDER == list(SCHEMES) and set(style.INIT_COLORS) == set(SCHEMES)
    colours = list(style.INIT_COLORS.values())
    assert len(set(colours)) == len(colours)
    assert not set(colours) & {style.model_color(m) for m in style.model_order()}


@pytest.mark.parametrize("name", tasklib.available())
def test_style_reads_task_titles_from_the_task_class(name):
    from lrd.figures import style

    cls = tasklib.TASKS[name]
    assert style.task_label(name) == cls.label and style.length_symbol(name) == cls.length_symbol
    assert cls.length_means.endswith(cls.length_symbol)
    assert style.length_axis(name) == cls.length_means.removeprefix("the ")
    assert style.task_title(name, tasklib.make(name)) == tasklib.make(name).title()
    assert style.task_order() == list(tasklib.TASKS)


def test_prefix_sum_title_names_its_modulus():
    from lrd.figures import style

    assert style.task_title("prefix_sum", tasklib.make("prefix_sum", n=7)) == "Prefix sum mod 7"
    assert style.task_title("prefix_sum") == "Prefix sum"
    assert style.length_axis("copy") == "delay T" and style.length_symbol("delayed_recall") == "D"


def test_a_skipped_figure_leaves_no_stale_files(tmp_path):
    """Files of a figure drawn from earlier results go when the figure is skipped now; files
    that are no figure's stay."""
    from lrd.cli import main

    (tmp_path / "runs").mkdir()
    resultslib.write(tmp_path / "runs", tmp_path)
    figures = tmp_path / "figures"
    figures.mkdir()
    for f in ("init.png", "init.pdf", "horizon.png", "notes.txt"):
        (figures / f).write_text("old")
    assert main(["figures", "--results", str(tmp_path)]) == 0
    assert sorted(p.name for p in figures.iterdir()) == ["notes.txt"]


def test_a_figure_that_raises_is_skipped_under_its_own_name_and_leaves_no_stale_file(
        tmp_path, monkeypatch, capsys):
    import lrd.figures as figures
    from lrd.figures import make_all

    (tmp_path / "runs").mkdir()
    resultslib.write(tmp_path / "runs", tmp_path)
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "curves.png").write_text("old")

    def broken(runs, results_dir, out_dir):
        raise RuntimeError("boom")
    monkeypatch.setattr(figures, "FIGURES", [("curves", broken)])
    done = make_all(tmp_path, verbose=False)
    assert [(d.name, d.note) for d in done] == [("curves", "error: RuntimeError: boom")]
    assert not (tmp_path / "figures" / "curves.png").exists()
