"""The analysis figures leave diverged runs out, by one rule (``lrd.figures.data.analysed``):
a diverged run's end-of-training analysis is that of a blown-up model, even where the record
holds one (taken at the blow-up), so the spectral, eigenspectra, gradient-decay and
predicted-horizon findings leave the run out, say how many they left out, and count the same
seeds."""

from __future__ import annotations

import json
import re

import pytest

from test_figures import horizon_rate
from test_figures_findings import SEEDS, _results

DIVERGED_SEED = 1
BLOWN_UP = 1e21     # the diverged run's end summary: norms of a blown-up model


def _init_results(root):
    """init_adding at 10, 25, 50 (middle: 25), ReLU RNN with identity init, 3 seeds with
    analysis; seed 1 diverged at every length, yet its record holds an end summary (as a
    run that blew up during the end-of-training analysis does) with huge values."""
    runs = _results(root, [dict(task="adding", model="rnn-relu", length=L, seed=s,
                                init="identity", group="init_adding", analysis=True,
                                status="diverged" if s == DIVERGED_SEED else "complete",
                                test={"mse": 0.16, "loss": 0.16})
                           for L in (10, 25, 50) for s in SEEDS])
    for d in (root / "runs").iterdir():
        rec = json.loads((d / "record.json").read_text())
        if rec["diverged"]:
            rec["analysis"]["end"].update(weight_radius=BLOWN_UP, weight_sigma_max=BLOWN_UP,
                                          lyapunov_max=0.25)
            (d / "record.json").write_text(json.dumps(rec))
    return runs


@pytest.fixture
def made(tmp_path):
    """The spectral, eigenspectra and gradient-decay figures of ``_init_results``."""
    from lrd.figures.gradient import make_gradient_decay
    from lrd.figures.spectra import make_eigenspectra, make_spectral

    runs = _init_results(tmp_path)
    return {f.__name__: f(runs, tmp_path, tmp_path / "figures")
            for f in (make_spectral, make_eigenspectra, make_gradient_decay)}


def test_the_rule_leaves_out_every_diverged_run(tmp_path):
    from lrd.figures.data import analysed

    runs = _init_results(tmp_path)
    kept, out = analysed(runs)
    assert set(out["seed"]) == {DIVERGED_SEED} and len(out) == 3
    assert DIVERGED_SEED not in set(kept["seed"]) and len(kept) == 6


def test_analysis_findings_leave_the_diverged_run_out_and_say_so(made):
    for name, m in made.items():
        assert len(m.findings) == 1, name
        assert "2 seeds; 1 diverged run left out" in m.findings[0], name
    assert "1e+21" not in made["make_spectral"].findings[0]
    assert "λ_max" not in made["make_gradient_decay"].findings[0]   # only the diverged run's


def test_the_seed_counts_agree_across_the_analysis_findings(made):
    counts = {name: re.findall(r"\((?:mean of )?(\d+) seeds?", m.findings[0])
              for name, m in made.items()}
    assert all(c == ["2"] for c in counts.values()), counts


def test_the_predicted_horizon_leaves_out_a_diverged_run_with_a_rate(tmp_path):
    """Seed 0 is predicted to carry 10, seed 2 50, seed 1 diverged with a rate > 0 (lag* = ∞):
    counted, it would make 2 of 3 seeds carry 25 and 50; left out, 1 of 2 does not. Seeds 0
    and 2 solve 10, so the measured horizon is 10 (the diverged seed failed)."""
    from lrd.figures import predicted

    spec = {0: ("complete", horizon_rate(10)), 1: ("diverged", 0.23),
            2: ("complete", horizon_rate(50))}
    runs = _results(tmp_path, [
        dict(task="copy", model="rnn-tanh", length=L, seed=s, group="horizon_copy",
             status=status, rate=rate,
             test={"accuracy": 1.0 if L == 10 and status == "complete" else 0.1, "loss": 1.0})
        for L in (10, 25, 50) for s, (status, rate) in spec.items()])
    made = predicted.make(runs, tmp_path, tmp_path / "figures")
    assert made.findings[0].split(": ", 1)[1].startswith(
        "RNN (tanh) 10 (measured 10; 3 diverged runs left out of the prediction).")
    assert "post hoc: from the same runs' final weights" in made.caption


def test_a_cell_whose_every_run_diverged_is_named_not_dropped(tmp_path):
    """Orthogonal init diverged at every seed: no run to draw, so the captions name the cell
    (and identity's one diverged run is counted as before)."""
    from lrd.figures.gradient import make_gradient_decay
    from lrd.figures.spectra import make_eigenspectra, make_spectral

    specs = [dict(task="adding", model="rnn-relu", length=L, seed=s, init=init,
                  group="init_adding", analysis=True, test={"mse": 0.16, "loss": 0.16},
                  status="diverged" if init == "orthogonal" or s == DIVERGED_SEED
                  else "complete")
             for init in ("identity", "orthogonal") for L in (10, 25, 50) for s in SEEDS]
    runs = _results(tmp_path, specs)
    for make in (make_spectral, make_eigenspectra, make_gradient_decay):
        m = make(runs, tmp_path, tmp_path / "figures")
        assert "1 diverged run left out" in m.caption, make.__name__
        assert ("Not drawn (diverged runs left out, and no other run drawn): RNN (ReLU), "
                "orthogonal (3 diverged).") in m.caption, make.__name__
        assert not any("orthogonal" in f for f in m.findings), make.__name__


def test_the_predicted_horizon_names_a_group_whose_every_run_diverged(tmp_path):
    from lrd.figures import predicted

    runs = _results(tmp_path, [
        dict(task="copy", model=model, length=L, seed=s, group="horizon_copy",
             status="diverged" if model == "gru" else "complete", rate=horizon_rate(10),
             test={"accuracy": 1.0 if L == 10 else 0.1, "loss": 1.0})
        for model in ("rnn-tanh", "gru") for L in (10, 25, 50) for s in SEEDS])
    made = predicted.make(runs, tmp_path, tmp_path / "figures")
    assert "GRU" not in made.findings[0]
    assert made.caption.endswith(" Not drawn (diverged runs left out, and no other run drawn): "
                                 "Copy, GRU, default, full (9 diverged).")


def test_a_group_drawn_in_one_panel_is_not_named_lost_for_another(tmp_path):
    """The tanh RNN's adding group is drawn in the horizon_adding panel; its init_adding runs
    (other lengths) all diverged: the group is not "not drawn", and no run counts twice."""
    from lrd.figures import predicted

    runs = _results(tmp_path, [
        dict(task="adding", model="rnn-tanh", length=L, seed=s, group=group, status=status,
             rate=horizon_rate(10), test={"mse": 0.004 if L == 10 else 0.16, "loss": 0.16})
        for group, status, lengths in (("horizon_adding", "complete", (10, 25, 50)),
                                       ("init_adding", "diverged", (40, 80)))
        for L in lengths for s in SEEDS])
    made = predicted.make(runs, tmp_path, tmp_path / "figures")
    assert "Not drawn" not in made.caption


def test_the_init_heatmap_says_how_many_seeds_diverged_in_each_cell(tmp_path):
    """Seed 1 diverged at every length (one of three); at 50 every seed of orthogonal did."""
    from lrd.figures import init

    runs = _init_results(tmp_path)
    extra = _results(tmp_path, [dict(task="adding", model="rnn-relu", length=50, seed=s,
                                     init="orthogonal", group="init_adding",
                                     status="diverged", test={"mse": 0.16, "loss": 0.16})
                                for s in SEEDS])
    made = init.make(extra, tmp_path, tmp_path / "figures")
    assert "\"k div.\": seeds whose run diverged" in made.caption
    rows = init.study(extra, init.SWEEP)
    stats = init.sd.seed_stats(rows.assign(score=rows["test.mse"] * 6), "score",
                               ["model", "init", "length"])
    _, text = init.grid(stats, ["identity", "orthogonal"], [10, 25, 50], init._diverged(rows))
    assert text[0][0].startswith("0/3, 1 div.\n")
    assert text[1][2] == "0/3, 3 div.\nall diverged"
    assert len(runs) < len(extra)
