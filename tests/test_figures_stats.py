"""What the figures plot, read back from the drawn artists of a synthetic 3-seed results/:
seed means with ``mean_ci`` bands, the baseline above the data, ties reported as ties, the
σ_max^lag bound, the final spectral values from the end-of-training analysis, the predicted
horizon's formula, and the positional-scheme figure."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from lrd.results.stats import mean_ci
from test_figures import (END_RADIUS, END_SIGMA, POSITIONS, SOLVES_UP_TO, build, decay_base,
                          horizon_rate)

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """``(root, made, figs)``: every figure of a full synthetic folder, with its Figure."""
    from lrd.figures import make_all, style

    root = build(tmp_path_factory.mktemp("results"), seeds=SEEDS)
    figs, save = {}, style.save

    def keep(fig, out_dir, name):
        figs[name] = fig
        return save(fig, out_dir, name)

    style.save = keep
    try:
        made = {d.name: d for d in make_all(root, verbose=False)}
    finally:
        style.save = save
    return root, made, figs


def _lines(fig, prefix):
    return {ln.get_gid(): (ax, ln) for ax in fig.axes for ln in ax.lines
            if (ln.get_gid() or "").startswith(prefix)}


def _band_at(ax, x):
    """(low, high) of the CI band polygons of ``ax`` at x (every band that has a vertex there)."""
    out = []
    for c in ax.collections:
        if c.get_gid() != "ci":
            continue
        for path in c.get_paths():
            v = path.vertices
            ys = v[np.isclose(v[:, 0], x), 1]
            if len(ys):
                out.append((ys.min(), ys.max()))
    return out


def test_every_figure_is_made(drawn):
    _, made, _ = drawn
    from lrd.figures import Made
    assert all(isinstance(d, Made) for d in made.values()), \
        {n: d.note for n, d in made.items() if not isinstance(d, Made)}


def test_horizon_line_and_band_are_the_seed_mean_and_mean_ci(drawn):
    from lrd.figures import seeds as sd
    from test_figures import _task, _value

    _, _, figs = drawn
    ax = next(a for a in figs["horizon"].axes if a.get_title() == "Copy")
    line = next(ln for ln in ax.lines if ln.get_gid() == "mean:lstm")
    t = _task("copy")
    values = [_value(t, 40, SOLVES_UP_TO["lstm"], s) for s in SEEDS]
    ci = mean_ci(values)
    x = 40 * sd.dodge(1, 4)   # LSTM is the second of four models
    i = int(np.argmin(np.abs(np.asarray(line.get_xdata()) - x)))
    assert line.get_xdata()[i] == pytest.approx(x)
    assert line.get_ydata()[i] == pytest.approx(ci.mean)
    assert any(lo == pytest.approx(ci.low) and hi == pytest.approx(ci.high)
               for lo, hi in _band_at(ax, x))
    assert ci.low < ci.mean < ci.high   # a real interval, not a degenerate one


def test_seed_stats_is_mean_ci_per_group():
    from lrd.figures.seeds import seed_stats

    rows = pd.DataFrame({"g": ["a"] * 3 + ["b"] * 3, "seed": [0, 1, 2] * 2,
                         "solved": [True, False, True, False, False, False],
                         "v": [0.1, 0.5, 0.3, 2.0, 2.0, 2.0]})
    s = seed_stats(rows, "v", ["g"]).set_index("g")
    assert tuple(s.loc["a", ["mean", "low", "high"]]) == pytest.approx(tuple(mean_ci([.1, .5, .3])))
    assert tuple(s.loc["b", ["mean", "low", "high"]]) == (2.0, 2.0, 2.0)
    assert s.loc["a", "solved"] == 2 and s.loc["a", "seeds"] == 3


def test_the_baseline_is_drawn_above_every_data_artist_and_labelled(drawn):
    _, _, figs = drawn
    for name in ("horizon", "curves", "regime", "generalisation", "positions"):
        for ax in figs[name].axes:
            base = [a for a in ax.lines if a.get_gid() == "baseline"]
            data = [a for a in [*ax.lines, *ax.collections] if a.get_gid() != "baseline"]
            if not data:
                continue
            assert base, (name, ax.get_title())
            assert min(b.get_zorder() for b in base) > max(a.get_zorder() for a in data), name
            assert any(t.get_text() == "memoryless baseline" for t in ax.texts), name


def test_overlapping_series_are_offset(drawn):
    """Generalisation, trained at 20: three LSTM regimes sit on 0.999; their x differ."""
    _, _, figs = drawn
    ax = next(a for a in figs["generalisation"].axes if a.get_title() == "trained at length 20")
    xs = [tuple(ln.get_xdata()) for ln in ax.lines if (ln.get_gid() or "").startswith("mean:")]
    assert len(xs) == 8 and len(set(xs)) == 8


def test_curves_are_the_seed_mean_with_mean_ci_and_own_y_scales(drawn):
    from lrd.figures.curves import seed_mean

    x = np.arange(0.0, 100.0, 10)
    curves = [(x, np.linspace(1, 0.1, 10)), (x, np.linspace(1, 0.3, 10)), (x[:5], np.full(5, .5))]
    s = seed_mean(curves)
    end = s.iloc[-1]   # the third seed stopped at step 40 and holds 0.5
    want = mean_ci([0.1, 0.3, 0.5])
    assert (end["step"], end["n"]) == (90, 3)
    assert (end["mean"], end["low"], end["high"]) == pytest.approx(tuple(want))
    _, made, figs = drawn
    axes = [a for a in figs["curves"].axes if a.get_visible()]
    assert len(axes) == 4
    for ax in axes:
        assert ax.get_shared_y_axes().get_siblings(ax) == [ax]
    assert "seed mean" in made["curves"].caption and "best seed" not in made["curves"].caption


def test_a_tie_is_reported_as_a_tie():
    from lrd.figures.seeds import best, best_text

    s = pd.DataFrame({"k": ["full", "curriculum", "truncated"], "mean": [0.95, 0.97, 0.50],
                      "low": [0.90, 0.93, 0.4], "high": [0.99, 0.99, 0.6]})
    assert best(s, "k") == (["full", "curriculum"], True)
    text = best_text(s, "k", str)
    assert text.startswith("tied: full, curriculum") and "best:" not in text
    one = s.assign(mean=[0.5, 0.97, 0.4], low=[0.4, 0.96, 0.3], high=[0.6, 0.98, 0.5])
    assert best(one, "k") == (["curriculum"], False)
    assert best_text(one, "k", str).startswith("best: curriculum (seed mean 0.97")
    equal = pd.DataFrame({"k": ["a", "b"], "mean": [0.9, 0.9], "low": [np.nan] * 2,
                          "high": [np.nan] * 2})   # one seed each: equal means tie
    assert best(equal, "k") == (["a", "b"], True)
    lower = best(s, "k", higher_is_better=False)
    assert lower == (["truncated"], False)


def test_regime_and_generalisation_findings_report_ties(drawn):
    _, made, _ = drawn
    regime = made["regime"].findings
    at20 = next(f for f in regime if "at length 20" in f)
    # full BPTT is the horizon study's LSTM, which solves copy up to 40
    assert "tied: full BPTT, teacher forcing, curriculum" in at20 and "best:" not in at20
    gen = made["generalisation"].findings
    g20 = next(f for f in gen if f.startswith("Trained at length 20,"))
    assert "tied: " in g20 and "RNN" not in g20          # RNN's 0.989 is outside the CI
    assert "best:" not in " ".join(gen)


def test_gradient_decay_reference_is_the_sigma_max_bound(drawn):
    _, made, figs = drawn
    bounds = _lines(figs["gradient_decay"], "bound:")
    assert bounds
    for ax, line in bounds.values():
        lag = np.asarray(line.get_xdata(), float)
        np.testing.assert_allclose(line.get_ydata(), END_SIGMA ** lag)   # not ρ^lag = 1
    labels = [t.get_text() for t in figs["gradient_decay"].legends[0].get_texts()]
    assert any("sigma_{\\max}" in t and "lag" in t for t in labels)
    assert all(f"ln σ_max(W_hh) = {math.log(END_SIGMA):.3g}" in f
               for f in made["gradient_decay"].findings)


def test_gradient_decay_draws_the_seeds_geometric_mean_with_its_ci_band(drawn):
    """Three seeds with norms b_s^lag: the solid line is (Π b_s)^(lag/3) and the band runs from
    the smallest to the largest seed's curve (3 seeds: the bootstrap CI is their range)."""
    _, made, figs = drawn
    ax = figs["gradient_decay"].axes[0]
    solid = [ln for ln in ax.lines if ln.get_linewidth() == 1.3]
    assert solid
    lag = np.asarray(solid[0].get_xdata(), float)
    bases = [decay_base(s) for s in SEEDS]
    np.testing.assert_allclose(solid[0].get_ydata(), np.prod(bases) ** (lag / 3), rtol=1e-9)
    band = _band_at(ax, lag[5])
    assert band
    lo, hi = band[0]
    assert lo == pytest.approx(min(bases) ** lag[5]) and hi == pytest.approx(max(bases) ** lag[5])
    assert all("(3 seeds)" in f for f in made["gradient_decay"].findings)


def test_spectral_final_values_come_from_the_end_of_training_analysis(drawn):
    _, made, figs = drawn
    for f in made["spectral"].findings:
        assert f"→ {END_RADIUS:g}," in f and f"→ {END_SIGMA:g}" in f and "final weights" in f
    finals = [ln for ax in figs["spectral"].axes for ln in ax.lines if ln.get_gid() == "final"]
    assert finals and all(tuple(ln.get_ydata()) == (END_RADIUS, END_SIGMA) for ln in finals)
    assert all(ln.get_xdata()[0] == 200 for ln in finals)   # the record's steps


def test_predicted_horizon_is_the_formula(drawn):
    from lrd.figures.predicted import TOLERANCE, lag_star

    assert lag_star(-0.05) == pytest.approx(math.log(TOLERANCE) / -0.05)
    assert lag_star(0.0) == math.inf and lag_star(0.1) == math.inf
    assert math.isnan(lag_star(float("nan")))
    _, made, _ = drawn
    # horizon sweeps: every rate was chosen to predict exactly the measured horizon
    for f in made["predicted_horizon"].findings[:4]:
        assert f.endswith("Equal to the measured horizon in 4 of 4."), f
    # init_adding: rate ln 0.8 everywhere → lag* = ln 0.01 / ln 0.8 ≈ 20.6 → horizon 10
    init = made["predicted_horizon"].findings[-1]
    assert re.search(r"RNN \(tanh\), identity 10 \(measured (≥ )?50\)", init)
    assert math.log(0.01) / math.log(0.8) == pytest.approx(20.64, abs=0.01)


def test_predicted_table_uses_lrd_results_horizon(tmp_path):
    from lrd.figures.data import load_runs, not_run, study
    from lrd.figures.predicted import table

    root = build(tmp_path, seeds=(0, 1), studies=("horizon",))
    runs = load_runs(root)
    rows = study(runs, "horizon_copy")
    tab = table(rows, not_run(runs, "horizon_copy"), root)
    label = {"attention": rows.loc[rows["config.model.name"] == "attention", "model"].iloc[0]}
    got = dict(zip(tab["model"], tab["predicted"]))
    assert got == {label.get(m, m): float(up) for m, up in SOLVES_UP_TO.items()}
    assert horizon_rate(0) < 0


def test_positions_figure_shows_every_scheme_with_its_mean(drawn):
    from lrd.figures import positions
    from lrd.figures.data import load_runs, study

    root, made, figs = drawn
    rows = study(load_runs(root), positions.COPY)
    look = positions.looks(rows.assign(scheme=positions.schemes(rows)))
    assert set(look) == set(POSITIONS) and len({lk.color for lk in look.values()}) == 3
    ax = figs["positions"].axes[0]
    for pos, acc in POSITIONS.items():
        line = next(ln for ln in ax.lines if ln.get_gid() == f"mean:{pos}")
        want = mean_ci([acc - 0.01 * s for s in SEEDS]).mean
        np.testing.assert_allclose(line.get_ydata(), want)
    assert all(f"best: {look['alibi'].label}" in f for f in made["positions"].findings)
    assert len(figs["positions"].axes) == 3   # copy + prefix sum trained at 20 and 40


@pytest.mark.parametrize("row, want", [
    ({"horizon": 40}, (40.0, False)), ({"horizon": 0}, (0.0, False)),
    ({"horizon": float("nan")}, (0.0, False)), ({"horizon": 500, "censored": True}, (500.0, True)),
    ({"horizon": "≥ 500"}, (500.0, True)), ({"horizon": "200"}, (200.0, False)),
    ({"horizon": 0, "censored": True}, (0.0, False))])
def test_horizon_rows_are_read_whatever_their_columns(row, want):
    from lrd.figures.data import horizon_text, horizon_value

    assert horizon_value(pd.Series(row)) == want
    text = horizon_text(pd.Series(row), "T")
    assert text == ("none" if not want[0] else f"T {'≥' if want[1] else '='} {int(want[0])}")


def test_positional_schemes_take_their_looks_from_the_model_class(tmp_path, monkeypatch):
    """With ``attention-<position>`` variants registered (as lrd/models/attention.py will), the
    figure shows each scheme with its class's label, colour and marker."""
    from lrd.figures import positions, style
    from lrd.figures.data import load_runs, study
    from lrd.models import MODELS
    from lrd.models.base import Look

    cls = MODELS["attention"]
    looks = {f"attention-{p}": Look(f"Attn {p}", c, m) for p, c, m in
             (("alibi", "#112233", "s"), ("rope", "#445566", "D"), ("nope", "#778899", "v"))}
    monkeypatch.setattr(cls, "looks", {**cls.looks, **looks})
    monkeypatch.setattr(cls, "variants", {v: {"position": v.split("-")[1]} for v in looks})
    root = build(tmp_path, seeds=(0, 1), studies=("positions",))
    rows = study(load_runs(root), positions.COPY)
    assert set(rows["model"]) == set(looks)
    got = positions.looks(rows.assign(scheme=positions.schemes(rows)))
    assert got == {v.split("-")[1]: style.model_look(v) for v in looks}
    made = positions.make(load_runs(root), root, root / "figures")
    assert "best: Attn alibi" in made.findings[0]


def test_one_seed_is_one_value():
    """Two runs of one seed (e.g. two learning rates) give one value, their mean; a NaN run
    leaves the mean and CI but not the seed count."""
    from lrd.figures.seeds import seed_stats

    rows = pd.DataFrame({"g": ["a"] * 5, "seed": [0, 0, 1, 2, 3],
                         "solved": [False, True, False, False, False],
                         "v": [0.2, 0.4, 0.5, 0.7, float("nan")]})
    s = seed_stats(rows, "v", ["g"]).iloc[0]
    assert (s["mean"], s["low"], s["high"]) == pytest.approx(tuple(mean_ci([0.3, 0.5, 0.7])))
    assert (s["seeds"], s["n"], s["solved"]) == (4, 3, 1)


def test_a_lone_point_gets_an_error_bar():
    """A CI at a point with no finite neighbour (one length, or one between lengths not run)
    is drawn as an error bar, since a band there has no width."""
    from lrd.figures import seeds as sd
    from lrd.figures import style

    fig, axes = style.figure(3, 2)
    ax = axes[0, 0]
    s = pd.DataFrame({"low": [0.1, np.nan, 0.3, 0.35], "high": [0.2, np.nan, 0.5, 0.55]})
    sd.band(ax, [10, 20, 50, 100], s, "k")
    bars = [c for c in ax.collections if c.get_gid() == "ci" and hasattr(c, "get_segments")]
    assert len(bars) == 1
    np.testing.assert_allclose(bars[0].get_segments()[0], [[10, 0.1], [10, 0.2]])


def test_the_curves_panel_is_at_a_length_where_most_models_ran():
    """With the horizon search, lengths above a model's failures are not run: the panel goes
    to the middle of the lengths every model ran (10, 100, 200 -> 100), not of all lengths."""
    from lrd.figures.curves import middle

    ran = {10: "abcd", 20: "d", 50: "d", 100: "abcd", 200: "abcd", 500: "d"}
    rows = pd.DataFrame([{"length": n, "model": m} for n, ms in ran.items() for m in ms])
    assert set(middle(rows)["length"]) == {100} and len(middle(rows)) == 4


def test_legends_never_get_more_columns_than_the_figure_is_wide():
    from matplotlib.lines import Line2D

    from lrd.figures import style

    handles = [Line2D([], [], label=f"model {i}") for i in range(5)]
    for width, cols in ((style.COLUMN, 2), (style.PAGE, 4)):
        fig, _ = style.figure(width, 2.0)
        assert style.legend(fig, handles)._ncols == cols
    fig, _ = style.figure(style.PAGE, 2.0)
    assert style.legend(fig, handles, most=3)._ncols == 3


@pytest.mark.parametrize("log", [False, True])
def test_the_not_run_strip_gets_the_bottom_of_the_axes_to_itself(log):
    """The horizon figure lowers the y-axis so that the data start above its "not run" strip:
    the old bottom sits exactly at that fraction of the axes height, and no tick or tick label
    is drawn in the strip (no accuracy of -0.2; on the log axis, where 1e-4 and 1e-5 fall in
    the strip, no MSE ratio that would label the hollow markers as near-perfect)."""
    from lrd.figures import style
    from lrd.figures.horizon import _reserve_bottom

    fig, axes = style.figure(3, 2)
    ax = axes[0, 0]
    old = 3e-4 if log else -0.02
    if log:
        ax.plot([1, 2], [old, 1.0])
        style.log_y(ax)
        ax.set_ylim(old, 1.0)
    else:
        ax.set_ylim(old, 1.03)
    _reserve_bottom(ax, 0.3, log)
    lo, hi = ax.get_ylim()
    f = (lambda y: np.log10(y)) if log else (lambda y: y)
    assert (f(old) - f(lo)) / (f(hi) - f(lo)) == pytest.approx(0.3)
    fig.canvas.draw()
    ticks = [y for minor in (False, True) for y in ax.get_yticks(minor=minor) if lo <= y <= hi]
    labels = [(t.get_position()[1], t.get_text()) for t in ax.get_yticklabels(which="both")
              if t.get_text() and lo <= t.get_position()[1] <= hi]
    assert ticks and labels
    assert min(ticks) >= old and min(labels) >= (old, ""), labels
