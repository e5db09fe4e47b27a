"""Memory horizon: the normalised score against the training length, per model, one panel
per task.

From the ``horizon_<task>`` sweeps. The score is normalised (SPEC §7): accuracy, or the loss
over the memoryless baseline at that length (MSE / (1/6) on adding, log axis, lower is better).
Each model is a line through the seed mean at each length with its 95% bootstrap CI as a band
(``lrd.figures.seeds.seed_stats``), every seed a dot; the lines of different models are offset
by a few per cent along the (log) length axis so that lines on the same value stay apart. The
memoryless baseline (analytic, from the task) is dashed and drawn above the data, the "solved"
threshold (``Task.solved``) dotted.

Lengths the horizon search did not run (every seed of the model failed at a shorter length;
records with status "skipped") are no data: no line, band or dot reaches them. Each is a hollow
marker of the model's colour in a strip at the bottom of the panel under the words "not run",
and the legend and caption say so; lines and bands break there. The findings give each model's
horizon from ``lrd.results.horizon`` (the rule of the horizon table); a model with none "solves
no length", and the finding adds the lengths where its score (``lrd.results.scores``) is still
clearly beyond the memoryless baseline, or clearly worse than it (by more than the margin of a
test set's own baseline, ``seeds.WORSE_TOL``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from lrd import results as resultslib
from lrd.results.aggregate import not_run as not_run_text
from lrd.results.scores import scores
from lrd.figures import style
from lrd.figures import seeds as sd
from lrd.figures.data import (Made, Skipped, baseline, horizon_text, metric, not_run, study,
                              sweeps_of, task)

NAME = "horizon"
TITLE = "Memory horizon"


STRIP0, STRIP_STEP = 0.03, 0.035   # the "not run" strip, in axes fractions from the bottom


def _reserve_bottom(ax, frac: float, log: bool) -> None:
    """Lower the y-axis bottom so that the data (the current limits) start ``frac`` of the axes
    height above it, in log or linear terms; the strip below gets no y ticks (``_ticks_on``)."""
    lo, hi = ax.get_ylim()
    if log:
        llo, lhi = np.log10(lo), np.log10(hi)
        ax.set_ylim(10 ** (llo - frac * (lhi - llo) / (1 - frac)), hi)
    else:
        ax.set_ylim(lo - frac * (hi - lo) / (1 - frac), hi)
    _ticks_on(ax, lo, hi)


def _ticks_on(ax, lo: float, hi: float) -> None:
    """Keep only the y ticks, major and minor, with their labels, on the data's range
    [lo, hi]: a tick in the "not run" strip would give its hollow markers a value (an
    accuracy of -0.2, or an MSE ratio of 0.0001 that reads as near-perfect)."""
    for minor in (False, True):
        ticks = ax.get_yticks(minor=minor)
        ax.set_yticks([t for t in ticks if lo <= t <= hi], minor=minor)


def _tasks(runs):
    """The tasks with a ``horizon_<task>`` sweep among the runs' sweeps (``sweeps_of``)."""
    if runs.empty:
        return []
    groups = set(sweeps_of(runs))
    return [t for t in style.ordered([g[len("horizon_"):] for g in groups
                                      if str(g).startswith("horizon_")], style.task_order())]


def make(runs, results_dir: Path, out_dir: Path):
    tasks = [t for t in _tasks(runs) if len(study(runs, f"horizon_{t}"))]
    sweeps = [f"horizon_{t}" for t in tasks]
    if not tasks:
        return Skipped(NAME, TITLE, "no runs of any horizon_<task> sweep", ["horizon_copy"])
    n = len(tasks)
    ncols = min(n, 4)
    nrows = -(-n // ncols)
    fig, axes = style.figure(style.PAGE if n > 1 else style.COLUMN, 2.15 * nrows + 0.35,
                             nrows, ncols)
    models_seen, findings, any_skipped = [], [], False
    from lrd.results.budget import budget_table, improving   # it reads figures.data itself

    limited = improving(budget_table(runs, results_dir))   # skips that may be the budget's
    for ax, name in zip(axes.flat, tasks):
        rows = study(runs, f"horizon_{name}")
        skipped = not_run(runs, f"horizon_{name}")
        t = task(name, rows)
        m = metric(t)
        rows = rows.assign(score=sd.score(rows, t, m))
        stats = sd.seed_stats(rows, "score", ["model", "length"])
        lengths = sorted({*rows["length"].unique(), *skipped["length"].unique()})
        models = style.ordered(rows["model"].unique(), style.model_order())
        # not run: a strip at the bottom, never data; at each length the models not run there
        # are stacked from the bottom, with the words "not run" above them
        strip = {}
        for x in sorted(skipped["length"].unique()):
            here = [mo for mo in models
                    if ((skipped["model"] == mo) & (skipped["length"] == x)).any()]
            for k, model in enumerate(here):
                any_skipped = True
                dodge = 1 + 0.025 * (models.index(model) - (len(models) - 1) / 2)
                ax.scatter([x * dodge], [STRIP0 + STRIP_STEP * k],
                           transform=ax.get_xaxis_transform(), marker=style.model_marker(model),
                           s=16, facecolors="none", edgecolors=style.model_color(model),
                           linewidths=0.8, zorder=5, clip_on=False)
            ax.text(x, STRIP0 + STRIP_STEP * len(here), "not run",
                    transform=ax.get_xaxis_transform(), fontsize=5.5, color="0.35",
                    ha="center", va="bottom", zorder=5)
            strip[x] = len(here)
        for i, model in enumerate(models):
            s = stats[stats["model"] == model]
            gaps = sorted(set(skipped.loc[skipped["model"] == model, "length"]) - set(s["length"]))
            if gaps:   # lines and bands break at the lengths not run
                s = pd.concat([s, pd.DataFrame({"model": model, "length": gaps})])
                s = s.sort_values("length")
            c = style.model_color(model)
            dodge = sd.dodge(i, len(models))
            sd.band(ax, s["length"] * dodge, s, c)
            ax.plot(s["length"] * dodge, s["mean"], color=c, marker=style.model_marker(model),
                    label=style.model_label(model), zorder=4, gid=f"mean:{model}")
            seeds = rows[rows["model"] == model]
            ax.scatter(seeds["length"] * dodge, seeds["score"], color=c, **style.SEED_DOT)
            if model not in models_seen:
                models_seen.append(model)
        xs = np.unique(np.geomspace(min(lengths), max(lengths), 50).round().astype(int))
        if m.name == "accuracy":
            style.draw_baseline(ax, xs, [baseline(t, m, x) for x in xs])
            ax.axhline(m.threshold, **style.THRESHOLD, zorder=2)
        else:   # normalised: the baseline is 1, the threshold its fraction (per length)
            style.draw_baseline(ax, xs, 1.0)
            ax.plot(xs, [sd.score_threshold(t, m, x) for x in xs], **style.THRESHOLD, zorder=2)
        style.log_length_axis(ax, lengths)
        if m.log:
            style.log_y(ax)
        else:
            ax.set_ylim(-0.02, 1.03)
        if strip:   # keep the data above the strip: the bottom of the axes is the strip's
            _reserve_bottom(ax, STRIP0 + STRIP_STEP * (max(strip.values()) + 1) + 0.02, m.log)
        ax.set_xlabel(style.length_axis(name))
        ax.set_ylabel(sd.score_label(m) + (" (log)" if m.log else ""))
        ax.set_title(style.task_title(name, t))
        findings.append(_finding(name, rows, skipped, limited, runs[runs["task"] == name]))
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    handles = [Line2D([], [], color=style.model_color(mo), marker=style.model_marker(mo),
                      label=style.model_label(mo))
               for mo in style.ordered(models_seen, style.model_order())]
    handles += [Line2D([], [], **style.BASELINE, label="memoryless baseline"),
                Line2D([], [], **style.THRESHOLD, label="solved threshold")]
    if any_skipped:
        handles.append(Line2D([], [], ls="", marker="o", markerfacecolor="none",
                              markeredgecolor="0.35", label="not run (horizon search)"))
    style.legend(fig, handles, most=-(-len(handles) // 2))
    files = style.save(fig, out_dir, NAME)
    seeds = sorted({int(v) for s in sweeps for v in study(runs, s)
                    .groupby(["model", "length"])["seed"].nunique()})
    caption = (
        "Final test score against the training length, one panel per task (log length axis): "
        "accuracy, or on adding the test MSE divided by the memoryless baseline MSE (log axis, "
        "lower is better). Lines: seed mean; bands: its 95% bootstrap CI; dots: individual "
        f"seeds ({'/'.join(map(str, seeds))} per point); models are offset by a few per cent "
        "along the length axis so that lines on the same value stay apart. Dashed (drawn over "
        "the data): the memoryless baseline; dotted: the solved threshold (accuracy ≥ 0.99, or "
        "MSE < 0.01). A model has memory at a length when it is clearly beyond the baseline."
        + (" Hollow markers at the bottom: lengths the horizon search did not run, because "
           "every seed of that model failed at a shorter length (not a measurement; "
           "`lrd sweep --full-grid` runs them)." if any_skipped else ""))
    return Made(NAME, TITLE, caption, sweeps, files, findings)


def beyond_baseline(name: str, rows, model: str) -> tuple[list[int], list[int]]:
    """``(above, worse)``: the lengths where ``model``'s seed-mean 95% CI (``lrd.results.scores``;
    default init, full BPTT) of the normalised score lies wholly beyond the memoryless baseline
    by more than ``seeds.BASELINE_TOL`` (accuracy CI low above the baseline accuracy + 0.01;
    loss / baseline CI high below 0.99: a practical margin, as for "at the memoryless
    baseline"), and those where it lies wholly on the wrong side by more than
    ``seeds.WORSE_TOL`` (accuracy CI high below the baseline − 0.02; loss / baseline CI low
    above 1.02: a test set's own memoryless score is that far from the analytic baseline, so
    only a CI past that margin is a failure to optimise): ``seeds.side`` of the CI. Lengths
    with one seed (no CI) are in neither."""
    s = scores(rows[rows["model"] == model])
    s = s[(s["init"] == "default") & (s["regime"] == "full")]
    t = task(name, rows)
    accuracy = metric(t).name == "accuracy"
    found = {"beyond": [], "worse": [], "at": []}
    for _, r in s.iterrows():
        if accuracy:
            lo, hi, base = r["acc_lo"], r["acc_hi"], t.baseline_accuracy(int(r["length"]))
        else:
            lo, hi, base = r["loss_lo"], r["loss_hi"], 1.0
        found[sd.side(lo, hi, base, higher_is_better=accuracy)].append(int(r["length"]))
    return found["beyond"], found["worse"]


def _model_horizon(name: str, rows, model: str, h) -> str:
    """"LSTM 40", or for no horizon "LSTM solves no length" with where it is still clearly
    beyond the memoryless baseline or clearly worse than it (``beyond_baseline``): no horizon
    is not no memory."""
    text = horizon_text(h)
    if text != "none":
        return f"{style.model_label(model)} {text}"
    above, worse = beyond_baseline(name, rows, model)
    sym = style.length_symbol(name)
    notes = ([f"above the baseline at {sym} = {', '.join(map(str, above))}"] if above else [])
    notes += ([f"worse than the memoryless baseline at {sym} = {', '.join(map(str, worse))}: "
               "an optimisation failure, not only missing memory"] if worse else [])
    return (f"{style.model_label(model)} solves no length"
            + (f" ({'; '.join(notes)})" if notes else ""))


def _finding(name: str, rows, skipped=None, limited=frozenset(), every=None) -> str:
    """The panel's finding: each model's horizon, as in the horizon table, and the lengths its
    sweep did not run, in the horizon table's words when ``every`` (all runs of the task, of
    every sweep) is given, so that the reasons name every sweep's failures and budgets."""
    h = resultslib.horizon(rows)
    h = h[(h["init"] == "default") & (h["regime"] == "full")] if len(h) else h
    parts = [_model_horizon(name, rows, model, h[h["model"] == model].iloc[0])
             for model in style.ordered(h["model"].unique(), style.model_order())]
    top = max(int(h["max_length"].max()), 0) if len(h) and "max_length" in h else 0
    text = (f"{style.task_title(name, task(name, rows))}: memory horizon (as in the horizon "
            f"table, lengths up to {top}): " + ", ".join(parts) + ".")
    if skipped is not None and len(skipped):
        table = {}
        if every is not None and len(every):
            full = resultslib.horizon(every, limited)
            if "not_run" in full:
                full = full[(full["init"] == "default") & (full["regime"] == "full")]
                table = dict(zip(full["model"], full["not_run"]))
        text += " Not run by the horizon search: " + "; ".join(
            f"{style.model_label(model)} "
            f"{table.get(model) or not_run_text(skipped[skipped['model'] == model], limited)}"
            for model in style.ordered(skipped["model"].unique(), style.model_order())) + "."
    return text
