"""Length generalisation: test accuracy against the test length, one panel per training length.

``make`` draws the ``prefix_sum_study`` sweep: for every run, the accuracy of the final model
at each length of ``metrics.lengths`` (``length.<n>.accuracy`` in runs.csv; log axis) and at its
own training length (``test.accuracy``, which replaces a ``length.<n>`` at that same length, so
no length is drawn twice). The training length is a grey vertical line and its x tick reads
"train". Colour by model; with several regimes, line style and marker by regime (else marker by
model). The line is the seed mean, the band its 95% bootstrap CI
(``lrd.figures.seeds.seed_stats``); the series of one panel are offset along the log
test-length axis by about a marker width each (``offset``), so that lines on the same value
(e.g. all at 1.0) stay apart.
The memoryless baseline is dashed and drawn above the data, the solved threshold dotted.

``curves(rows, t, m, key)`` is the long table both this figure and the positional-scheme figure
plot (``lrd.figures.positions``): one row per (``length``, ``key``..., ``test_length``) with
``mean``, ``low``, ``high``. Findings name the best series at the longest test length only when
no other series is tied with it (``seeds.best``: inside its CI, within 0.1 %, or solved as it
is); otherwise they report the tie, or that no series is clearly beyond the memoryless
baseline, and they mark a named series that is not (``seeds.baseline_note``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from lrd.figures import seeds as sd
from lrd.figures import style
from lrd.figures.data import Made, Skipped, baseline, fmt, metric, study, task

NAME, TITLE, SWEEP = "generalisation", "Length generalisation", "prefix_sum_study"


def eval_lengths(rows, metric_name: str) -> list[int]:
    pat = re.compile(rf"^length\.(\d+)\.{metric_name}$")
    return sorted(int(mt.group(1)) for c in rows.columns if (mt := pat.match(c))
                  and rows[c].notna().any())


def curves(rows: pd.DataFrame, m, keys: list[str], at_train: bool = False) -> pd.DataFrame:
    """Seed mean and CI of the metric at every test length, per training length and ``keys``.
    With ``at_train``, each run's score at its own training length is its ``test.<metric>``
    (``at_train_scores``), which then replaces a ``length.<n>`` score at that same length."""
    extra = at_train_scores(rows, m, keys)
    extra = extra if at_train else extra.iloc[0:0]
    long = []
    for n in eval_lengths(rows, m.name):
        d = rows[["length", *keys, "seed", "solved"]].copy()
        d["test_length"] = n
        d["value"] = pd.to_numeric(rows[f"length.{n}.{m.name}"], errors="coerce")
        long.append(d[~d.index.isin(extra.index[extra["test_length"] == n])])
    long = pd.concat([*long, extra], ignore_index=True).dropna(subset=["value"])
    return sd.seed_stats(long, "value", ["length", *keys, "test_length"])


def at_train_scores(rows: pd.DataFrame, m, keys: list[str]) -> pd.DataFrame:
    """Every run's ``test.<metric>`` (the final model on the test set, at the training
    length) as the score at test length = its training length; runs without it left out.
    Indexed as ``rows``."""
    d = rows[["length", *keys, "seed", "solved"]].copy()
    d["test_length"] = rows["length"].astype(int)
    col = f"test.{m.name}"
    d["value"] = pd.to_numeric(rows[col], errors="coerce") if col in rows else np.nan
    return d.dropna(subset=["value"])


# Series of one panel sit OFFSET decades apart along the log test-length axis (about a marker
# width at the figures' size), the whole group within SPREAD decades, so that series on the
# same value stay apart and groups at neighbouring test lengths (20, 40) do not mix.
OFFSET, SPREAD = 0.075, 0.24


def offset(i: int, k: int) -> float:
    """Multiplicative x offset of series ``i`` of ``k`` on a log axis (centred on 1)."""
    step = min(OFFSET, SPREAD / (k - 1)) if k > 1 else 0.0
    return 10 ** (step * (i - (k - 1) / 2))


def mark_train_tick(ax, L: int) -> None:
    """The x tick at the training length ``L`` reads "L" over "train"; the others their
    length (the axis has a tick at ``L``, see ``draw_panel``)."""
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda v, _: f"{round(v)}\ntrain" if round(v) == L else f"{round(v)}"))


def draw_panel(ax, stats, t, m, L, series, look):
    """One training length ``L``: every ``series`` (tuples of key values) of ``stats`` that has
    data, styled by ``look(series) -> (colour, line style, marker, filled)``, offset along x;
    the baseline, the threshold and the training length (a grey line, and its x tick marked
    "train")."""
    present = [key for key in series
               if np.logical_and.reduce([stats[k] == v for k, v in key]).any()]
    panel = stats[stats["length"] == L]
    tests = sorted({int(v) for v in panel["test_length"]} | {int(L)})
    for i, key in enumerate(present):
        sel = np.logical_and.reduce([panel[k] == v for k, v in key])
        s = panel[sel].sort_values("test_length")
        if s.empty:
            continue
        c, ls, mk, filled = look(dict(key))
        x = s["test_length"] * offset(i, len(present))
        sd.band(ax, x, s, c, alpha=0.1)
        ax.plot(x, s["mean"], color=c, ls=ls, marker=mk, zorder=4,
                markerfacecolor=c if filled else "white",
                gid="mean:" + ":".join(str(v) for _, v in key))
    xs = np.unique(np.geomspace(min(tests), max(tests), 60).round().astype(int))
    style.draw_baseline(ax, xs, [baseline(t, m, x) for x in xs])
    ax.axhline(m.threshold, **style.THRESHOLD, zorder=2)
    ax.axvline(L, color="0.6", lw=0.8, zorder=1, gid="train_length")
    style.log_length_axis(ax, tests)
    mark_train_tick(ax, L)
    ax.set_ylim(0, 1.03)
    ax.set_title(f"trained at length {L}")
    ax.set_xlabel(f"test length ({style.length_axis(t.name)}, log)")


def finding(stats, t, m, L, keys, label) -> str | None:
    top = max(stats["test_length"])
    s = stats[(stats["length"] == L) & (stats["test_length"] == top)].copy()
    if s.empty:
        return None
    s["series"] = [label(k) for k in zip(*[s[k] for k in keys])]
    return (f"Trained at length {L}, {m.name} at test length {top} over seeds "
            f"(baseline {fmt(baseline(t, m, top))}), "
            + sd.best_text(s, "series", str, m.higher_is_better, solved=m.threshold,
                           baseline=baseline(t, m, top)) + ".")


def make(runs, results_dir: Path, out_dir: Path):
    rows = study(runs, SWEEP)
    if rows.empty:
        return Skipped(NAME, TITLE, f"no runs of the {SWEEP} sweep", [SWEEP])
    t = task(rows["task"].iloc[0], rows)
    m = metric(t)
    if not eval_lengths(rows, m.name):
        return Skipped(NAME, TITLE, f"the {SWEEP} runs hold no metrics at other lengths "
                       "(train.eval_lengths is empty)", [SWEEP])
    stats = curves(rows, m, ["model", "regime"], at_train=True)
    trains = sorted(int(v) for v in rows["length"].unique())
    models = style.ordered(rows["model"].unique(), style.model_order())
    regimes = style.ordered(rows["regime"].unique(), style.REGIME_ORDER)
    series = [(("model", mo), ("regime", r)) for mo in models for r in regimes]
    fig, axes = style.figure(style.PAGE if len(trains) > 1 else style.COLUMN, 2.5, 1,
                             len(trains), sharey=True)
    findings = []
    for ax, L in zip(axes.flat, trains):
        draw_panel(ax, stats, t, m, L, series, lambda k: _look(k, len(regimes) > 1))
        f = finding(stats, t, m, L, ["model", "regime"], _label)
        findings += [f] if f else []
    axes[0, 0].set_ylabel(m.label)
    handles = [Line2D([], [], color=style.model_color(mo), marker=style.model_marker(mo),
                      label=style.model_label(mo)) for mo in models]
    if len(regimes) > 1:
        handles = [Line2D([], [], color=style.model_color(mo), label=style.model_label(mo))
                   for mo in models]
        handles += [Line2D([], [], color="0.2", ls=style.REGIME_STYLES.get(r, ("-", "o"))[0],
                           marker=style.REGIME_STYLES.get(r, ("-", "o"))[1],
                           markerfacecolor="0.2" if r == "full" else "white",
                           label=style.REGIME_LABELS.get(r, r)) for r in regimes]
    handles += [Line2D([], [], **style.BASELINE, label="memoryless baseline"),
                Line2D([], [], **style.THRESHOLD, label="solved threshold")]
    style.legend(fig, handles)
    files = style.save(fig, out_dir, NAME)
    caption = (f"Length generalisation on {t.name} (n = {getattr(t, 'n', '?')}): test accuracy "
               "of the final model against the test length (log axis), one panel per training "
               "length (grey vertical line, its tick marked \"train\"); the point at the "
               "training length is the run's test-set accuracy there (test.accuracy, the "
               "prefix-sum table's acc@train; it replaces an evaluation at that same length), "
               "the others the evaluations at each test length. Colour: model; "
               + ("line style and marker: training regime" if len(regimes) > 1
                  else "marker: model")
               + ". Lines: the seed mean; bands: its 95% bootstrap CI; series are offset along "
               "the test-length axis (by up to a marker width each, values unmoved) so that "
               "equal values stay apart. "
               "Dashed, over the data: the memoryless baseline (≈ 1/n); dotted: the solved "
               "threshold 0.99.")
    return Made(NAME, TITLE, caption, [SWEEP], files, findings)


def _look(key, by_regime: bool):
    """Colour by model; line style and, with several regimes, marker by regime (else by
    model), so that series on the same values stay apart."""
    ls, mk = style.REGIME_STYLES.get(key["regime"], ("-", "o"))
    return style.model_color(key["model"]), ls, \
        mk if by_regime else style.model_marker(key["model"]), key["regime"] == "full"


def _label(series) -> str:
    model, regime = series
    return f"{style.model_label(model)} ({style.REGIME_LABELS.get(regime, regime)})"
