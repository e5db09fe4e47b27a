"""Training regimes: the test score per regime, one panel per (sweep, training length).

From the ``regime_copy`` and ``regime_prefix_sum`` sweeps (each drawn when it has runs). The
regimes are categories on the x axis; each model is a marker at the seed mean of its normalised
score (accuracy, or loss / memoryless baseline) with its 95% bootstrap CI as an error bar
(``lrd.figures.seeds.seed_stats``), every seed a faint dot, models offset sideways. Above each
point: seeds solved / seeds. The memoryless baseline is dashed and drawn above the data, the
solved threshold dotted.

Findings name the best regime per model and panel only when no other regime is tied with it
(``seeds.best``: inside its CI, within 0.1 %, or solved as it is); otherwise they report the
tie, or that no regime is clearly beyond the memoryless baseline. A regime alone in its panel
is "only ... measured so far", and a named regime not clearly beyond the memoryless baseline is
marked so, with how many of its seeds are at it (``seeds.baseline_note``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

from lrd.figures import seeds as sd
from lrd.figures import style
from lrd.figures.data import Made, Skipped, baseline, metric, study, task

NAME, TITLE = "regime", "Training regime"
SWEEPS = ["regime_copy", "regime_prefix_sum"]


def panels(runs):
    """``[(sweep, task object, metric, length, rows), ...]`` with the ``score`` column."""
    out = []
    for sweep in SWEEPS:
        rows = study(runs, sweep)
        if rows.empty:
            continue
        t = task(rows["task"].iloc[0], rows)
        m = metric(t)
        rows = rows.assign(score=sd.score(rows, t, m))
        for L in sorted(int(v) for v in rows["length"].unique()):
            out.append((sweep, t, m, L, rows[rows["length"] == L]))
    return out


def make_regime(runs, results_dir: Path, out_dir: Path):
    found = panels(runs)
    if not found:
        return Skipped(NAME, TITLE, "no runs of the regime_copy or regime_prefix_sum sweeps",
                       SWEEPS)
    n = len(found)
    fig, axes = style.figure(style.PAGE if n > 1 else style.COLUMN, 2.5, 1, n)
    findings, models_seen = [], []
    for ax, (sweep, t, m, L, rows) in zip(axes.flat, found):
        regimes = style.ordered(rows["regime"].unique(), style.REGIME_ORDER)
        models = style.ordered(rows["model"].unique(), style.model_order())
        stats = sd.seed_stats(rows, "score", ["model", "regime"])
        for i, model in enumerate(models):
            s = stats[stats["model"] == model].set_index("regime").reindex(regimes)
            x = np.arange(len(regimes)) + 0.18 * (i - (len(models) - 1) / 2)
            c = style.model_color(model)
            err = np.abs(np.vstack([s["mean"] - s["low"], s["high"] - s["mean"]]))
            ax.errorbar(x, s["mean"], yerr=np.nan_to_num(err), color=c, ls="",
                        marker=style.model_marker(model), capsize=2, elinewidth=0.9,
                        zorder=4, gid=f"mean:{model}")
            seeds = rows[rows["model"] == model]
            ax.scatter(x[[regimes.index(r) for r in seeds["regime"]]], seeds["score"],
                       color=c, **style.SEED_DOT)
            for xi, (_, r) in zip(x, s.iterrows()):
                if np.isfinite(r["mean"]):
                    # one line per model, stacked, so that neighbours never overlap
                    ax.annotate(f"{int(r['solved'])}/{int(r['seeds'])}", (xi, 1.0),
                                xycoords=("data", "axes fraction"), xytext=(0, 2 + 10 * i),
                                textcoords="offset points", ha="center", va="bottom",
                                fontsize=5.5, color=c)
            models_seen += [model] if model not in models_seen else []
            findings.append(f"{style.model_label(model)} on {style.task_title(t.name, t)} at "
                            f"length {L}, test {m.name} over seeds by regime, "
                            + sd.best_text(s.reset_index(), "regime", _regime,
                                           m.higher_is_better,
                                           solved=sd.score_threshold(t, m, L),
                                           baseline=_baseline(t, m, L)) + ".")
        style.draw_baseline(ax, None, _baseline(t, m, L))
        ax.axhline(sd.score_threshold(t, m, L), **style.THRESHOLD, zorder=2)
        if m.name == "accuracy":
            ax.set_ylim(-0.02, 1.03)
        ax.set_xticks(range(len(regimes)), [_regime(r) for r in regimes], rotation=30,
                      ha="right", rotation_mode="anchor")
        ax.set_xlim(-0.5, len(regimes) - 0.5)
        ax.set_title(f"{style.task_title(t.name, t)}, {style.length_symbol(t.name)} = {L}",
                     pad=4 + 10 * len(models))
        ax.set_ylabel(sd.score_label(m))
    handles = [Line2D([], [], color=style.model_color(mo), marker=style.model_marker(mo), ls="",
                      label=style.model_label(mo)) for mo in models_seen]
    handles += [Line2D([], [], **style.BASELINE, label="memoryless baseline"),
                Line2D([], [], **style.THRESHOLD, label="solved threshold")]
    style.legend(fig, handles, most=len(handles))
    files = style.save(fig, out_dir, NAME)
    caption = ("Test score of the final model per training regime (x axis), one panel per sweep "
               "and training length. Markers: the seed mean; error bars: its 95% bootstrap CI; "
               "faint dots: individual seeds; numbers above: seeds solved / seeds. Dashed, over "
               "the data: the memoryless baseline; dotted: the solved threshold.")
    return Made(NAME, TITLE, caption, sorted({p[0] for p in found}), files, findings)


def _baseline(t, m, L: int) -> float:
    """The memoryless baseline on the plotted scale: the baseline accuracy, or 1 for a loss
    over its baseline."""
    return baseline(t, m, L) if m.name == "accuracy" else 1.0


def _regime(r) -> str:
    return style.REGIME_LABELS.get(r, r)
