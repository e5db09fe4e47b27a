"""Training regimes: regime × length on copy (LSTM), and length generalisation on prefix sum.

``regime``: from the ``regime_copy`` sweep; cell colour is the fraction of seeds solved
(accuracy ≥ 0.99 on the fixed test set, final model), cell text solved/seeds and the mean test
accuracy.

``generalisation``: from the ``prefix_sum_study`` sweep; test accuracy of the final model
against the test length (``metrics.lengths`` of each record, log axis), one panel per training
length, colour by model and line style by regime, mean over seeds with a worst-to-best band.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

from lrd.figures import style
from lrd.figures.data import (Made, Skipped, baseline, fmt, metric, per_length, solved_grid,
                              study, task)

REGIME, REGIME_SWEEP = "regime", "regime_copy"
GEN, GEN_SWEEP = "generalisation", "prefix_sum_study"


def make_regime(runs, results_dir: Path, out_dir: Path):
    title = "Training regime"
    rows = study(runs, REGIME_SWEEP)
    if rows.empty:
        return Skipped(REGIME, title, f"no runs of the {REGIME_SWEEP} sweep", [REGIME_SWEEP])
    name = rows["task"].iloc[0]
    t = task(name, rows)
    m = metric(t)
    col = f"test.{m.name}"
    regimes = style.ordered(rows["regime"].unique(), style.REGIME_ORDER)
    lengths = sorted(int(v) for v in rows["length"].unique())
    models = style.ordered(rows["model"].unique(), style.model_order())
    stats = per_length(rows, col, ["model", "regime", "length"])
    width = min(style.PAGE, 1.5 + len(models) * (0.6 * len(lengths) + 0.4))
    fig, axes = style.figure(width, 0.5 + 0.34 * len(regimes) + 0.5, 1, len(models),
                             sharey=True)
    findings = []
    for ax, model in zip(axes.flat, models):
        s = stats[stats["model"] == model]
        frac, text = solved_grid(s, "regime", regimes, lengths, lambda v: f"{v:.3f}")
        im = style.heatmap(ax, frac, text, [style.REGIME_LABELS.get(r, r) for r in regimes],
                           lengths)
        ax.set_title(f"{style.model_label(model)} on {style.task_title(name, t).lower()}",
                     color=style.model_color(model))
        ax.set_xlabel(f"training length ({style.length_axis(name)})")
        for regime in regimes:
            ok = s[(s["regime"] == regime) & (s["solved"] * 2 >= s["seeds"])]
            findings.append(f"{style.model_label(model)} with {style.REGIME_LABELS.get(regime, regime)}"
                            f": horizon {int(ok['length'].max()) if len(ok) else 'none'}"
                            f" (lengths up to {max(lengths)}).")
    fig.colorbar(im, ax=list(axes.flat), label="fraction of seeds solved", shrink=0.9, pad=0.02)
    files = style.save(fig, out_dir, REGIME)
    caption = (f"{' / '.join(style.model_label(mo) for mo in models)} on "
               f"{name}: training regime (rows) against training length (columns). Colour: "
               f"fraction of seeds solved ({m.name} {'≥' if m.higher_is_better else '<'} "
               f"{m.threshold}); text: solved/seeds and the mean {m.label} over seeds.")
    return Made(REGIME, title, caption, [REGIME_SWEEP], files, findings)


def _eval_lengths(rows, m) -> list[int]:
    pat = re.compile(rf"^length\.(\d+)\.{m}$")
    return sorted(int(mt.group(1)) for c in rows.columns if (mt := pat.match(c))
                  and rows[c].notna().any())


def make_generalisation(runs, results_dir: Path, out_dir: Path):
    title = "Length generalisation"
    rows = study(runs, GEN_SWEEP)
    if rows.empty:
        return Skipped(GEN, title, f"no runs of the {GEN_SWEEP} sweep", [GEN_SWEEP])
    name = rows["task"].iloc[0]
    t = task(name, rows)
    m = metric(t)
    tests = _eval_lengths(rows, m.name)
    if not tests:
        return Skipped(GEN, title, f"the {GEN_SWEEP} runs hold no metrics at other lengths "
                       "(train.eval_lengths is empty)", [GEN_SWEEP])
    long = []
    for n in tests:
        d = rows[["model", "regime", "length", "seed", "solved"]].copy()
        d["test_length"] = n
        d["value"] = rows[f"length.{n}.{m.name}"]
        long.append(d)
    import pandas as pd
    long = pd.concat(long, ignore_index=True)
    stats = per_length(long, "value", ["length", "model", "regime", "test_length"])
    trains = sorted(int(v) for v in rows["length"].unique())
    models = style.ordered(rows["model"].unique(), style.model_order())
    regimes = style.ordered(rows["regime"].unique(), style.REGIME_ORDER)
    fig, axes = style.figure(style.PAGE if len(trains) > 1 else style.COLUMN, 2.5, 1,
                             len(trains), sharey=True)
    xs = np.unique(np.geomspace(min(tests), max(tests), 60).round().astype(int))
    findings = []
    for ax, L in zip(axes.flat, trains):
        for model in models:
            for regime in regimes:
                s = stats[(stats["length"] == L) & (stats["model"] == model)
                          & (stats["regime"] == regime)].sort_values("test_length")
                if s.empty:
                    continue
                ls, mk = style.REGIME_STYLES.get(regime, ("-", "o"))
                c = style.model_color(model)
                ax.fill_between(s["test_length"], s["lo"], s["hi"], color=c, alpha=0.08, lw=0)
                ax.plot(s["test_length"], s["mean"], color=c, ls=ls, marker=mk, zorder=4,
                        markerfacecolor="white" if regime != "full" else c)
        ax.plot(xs, [baseline(t, m, x) for x in xs], **style.BASELINE, zorder=2)
        ax.axhline(m.threshold, **style.THRESHOLD, zorder=2)
        ax.axvline(L, color="0.6", lw=0.8, zorder=1)
        ax.annotate("train length", (L, 0.97), xytext=(2, 0), textcoords="offset points",
                    xycoords=("data", "axes fraction"), rotation=90, ha="left", va="top",
                    fontsize=6.5, color="0.4")
        style.log_length_axis(ax, tests)
        ax.set_ylim(0, 1.03)
        ax.set_title(f"trained at length {L}")
        ax.set_xlabel(f"test length ({style.length_axis(name)}, log)")
        s = stats[(stats["length"] == L) & (stats["test_length"] == max(tests))]
        if len(s):
            b = s.loc[s["mean"].idxmax()]
            findings.append(
                f"Trained at length {L}, the best mean accuracy at test length {max(tests)} is "
                f"{fmt(b['mean'])} ({style.model_label(b['model'])}, "
                f"{style.REGIME_LABELS.get(b['regime'], b['regime'])}; baseline "
                f"{fmt(baseline(t, m, max(tests)))}).")
    axes[0, 0].set_ylabel(m.label)
    handles = [Line2D([], [], color=style.model_color(mo), label=style.model_label(mo))
               for mo in models]
    handles += [Line2D([], [], color="0.2", ls=style.REGIME_STYLES.get(r, ("-", "o"))[0],
                       marker=style.REGIME_STYLES.get(r, ("-", "o"))[1],
                       markerfacecolor="white" if r != "full" else "0.2",
                       label=style.REGIME_LABELS.get(r, r)) for r in regimes]
    handles += [Line2D([], [], **style.BASELINE, label="memoryless baseline"),
                Line2D([], [], **style.THRESHOLD, label="solved threshold")]
    fig.legend(handles=handles, loc="outside upper center", ncol=min(len(handles), 5))
    files = style.save(fig, out_dir, GEN)
    caption = (f"Length generalisation on {name} (n = {getattr(t, 'n', '?')}): test accuracy of "
               "the final model against the test length (log axis), one panel per training "
               "length (grey vertical line). Colour: model; line style and marker: training "
               "regime; lines are the mean over seeds, faint bands worst to best seed. Dashed: "
               "the memoryless baseline (≈ 1/n); dotted: the solved threshold 0.99.")
    return Made(GEN, title, caption, [GEN_SWEEP], files, findings)
