"""Training curves: the seed mean of train loss / memoryless baseline over steps, with its CI.

From the ``horizon_<task>`` sweeps, one panel per task, at the middle (the upper middle for an
even count) of the training lengths where the most models were trained (with the horizon
search, lengths above a model's failures are not run: e.g. the anchors), every seed of every
model there. A seed's curve is
``train/loss_ratio`` from ``results/curves.csv`` (train/loss over the baseline loss at the
current training length, as 50-step means), smoothed by a centred running mean over 2 % of its
steps. The seeds are put on one grid of at most ``GRID`` steps (linear interpolation; a seed
that stopped early, solved, holds its last value to the end of the longest seed), and at each
grid step the line is the seed mean and the band its 95% bootstrap CI
(``lrd.results.stats.mean_ci``). 1 is the baseline; each panel has its own y-scale.

The findings compare the models by each seed's final value (``final_value``: the mean of the
last 5 % of its logged, unsmoothed curve points, at least one; for a 500-step run, 10 points of
50 steps, that is the last point, the last 10 % of its steps), with the rule of ``seeds.best``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from lrd.figures import seeds as sd
from lrd.figures import style
from lrd.figures.data import Made, Skipped, metrics_csv, study, task
from lrd.figures.horizon import _tasks
from lrd.results import CURVE_BIN
from lrd.results.stats import mean_ci

NAME = "curves"
TITLE = "Training curves"
GRID = 120


def middle(rows: pd.DataFrame) -> pd.DataFrame:
    """Every run at the middle of the lengths of ``rows`` that the most models have runs at."""
    models = rows.groupby("length")["model"].nunique()
    lengths = sorted(models.index[models == models.max()])
    return rows[rows["length"] == lengths[len(lengths) // 2]]


def _ratio(df: pd.DataFrame, baseline_loss) -> pd.Series | None:
    if "train/loss_ratio" in df:
        return df["train/loss_ratio"]
    if "train/loss" in df and baseline_loss:
        return df["train/loss"] / float(baseline_loss)
    return None


def _seed_curve(results_dir, r):
    """``(steps, loss ratios)`` of a run's logged curve points (curves.csv), or None."""
    df = metrics_csv(results_dir, r["run_id"])
    y = None if df is None else _ratio(df, r.get("baseline_loss"))
    if y is None or not y.notna().any():
        return None
    ok = y.notna()
    return df.loc[ok, "step"].to_numpy(float), y[ok].to_numpy(float)


def smooth(curve):
    """A seed curve ``(x, y)`` with ``y`` as a centred running mean over 2 % of its points."""
    x, y = curve
    w = max(1, int(round(len(y) * 0.02)))
    return x, pd.Series(y).rolling(w, center=True, min_periods=1).mean().to_numpy()


FINAL = 20   # a seed's final value: the mean of the last 1/FINAL (5 %) of its curve points


def final_value(curve) -> float:
    """The mean of the last 1/``FINAL`` (5 %) of a seed's logged curve points (unsmoothed;
    the count rounded down, at least one)."""
    _, y = curve
    return float(np.nanmean(y[-max(1, len(y) // FINAL):]))


def seed_mean(curves: list) -> pd.DataFrame:
    """``step``, ``mean``, ``low``, ``high``, ``n`` over the seed curves ``[(x, y), ...]``
    (module docstring: a common grid, a stopped seed holds its last value)."""
    end = max(x[-1] for x, _ in curves)
    start = min(x[0] for x, _ in curves)
    grid = np.unique(np.linspace(start, end, GRID).round())
    ys = np.array([np.interp(grid, x, y, left=np.nan, right=y[-1]) for x, y in curves])
    stats = [mean_ci(col) for col in ys.T]
    return pd.DataFrame({"step": grid, "mean": [s.mean for s in stats],
                         "low": [s.low for s in stats], "high": [s.high for s in stats],
                         "n": np.isfinite(ys).sum(0)})


def make(runs, results_dir: Path, out_dir: Path):
    panels = []
    for name in [t for t in _tasks(runs) if len(study(runs, f"horizon_{t}"))]:
        rows = middle(study(runs, f"horizon_{name}"))
        per_model = {}
        for _, r in rows.iterrows():
            c = _seed_curve(results_dir, r)
            if c is not None:
                per_model.setdefault(r["model"], []).append(c)
        if per_model:
            panels.append((name, task(name, rows), int(rows["length"].iloc[0]), per_model))
    if not panels:
        return Skipped(NAME, TITLE, "no curves.csv rows with train/loss for any horizon_<task> run",
                       ["horizon_copy"])
    n = len(panels)
    ncols = min(n, 4)
    nrows = -(-n // ncols)
    fig, axes = style.figure(style.PAGE if n > 1 else style.COLUMN, 2.15 * nrows + 0.35,
                             nrows, ncols)
    models_seen, findings, counts = [], [], set()
    for ax, (name, t, length, per_model) in zip(axes.flat, panels):
        final = []
        models = style.ordered(per_model, style.model_order())
        for i, model in enumerate(models):
            c = style.model_color(model)
            s = seed_mean([smooth(curve) for curve in per_model[model]])
            sd.band(ax, s["step"], s, c, alpha=0.2)
            every = max(1, len(s) // 6)   # markers staggered by model: overlaps stay readable
            ax.plot(s["step"], s["mean"], color=c, lw=1.2, zorder=4, gid=f"mean:{model}",
                    marker=style.model_marker(model),
                    markevery=(i * every // max(1, len(models)), every))
            models_seen.append(model)
            counts.add(len(per_model[model]))
            values = [final_value(c) for c in per_model[model]]
            m = mean_ci(values)
            final.append({"model": model, "mean": m.mean, "low": m.low, "high": m.high,
                          "per_seed": tuple(values)})
        style.draw_baseline(ax, None, 1.0)
        style.log_y(ax)
        ax.set_xlabel("training step")
        ax.set_ylabel("train loss / baseline loss (log)")
        ax.set_title(f"{style.task_label(name)}, {style.length_symbol(name)} = {length}")
        findings.append(f"{style.task_title(name, t)} at length {length}, final train loss / "
                        f"baseline (each seed: the mean of its last {100 / FINAL:g} % of logged "
                        f"curve points, {CURVE_BIN}-step means, rounded down, at least one; "
                        "lower is better), "
                        + sd.best_text(pd.DataFrame(final), "model", style.model_label,
                                       higher_is_better=False, baseline=1.0) + ".")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    handles = [Line2D([], [], color=style.model_color(mo), marker=style.model_marker(mo),
                      label=style.model_label(mo))
               for mo in style.ordered(models_seen, style.model_order())]
    handles += [Line2D([], [], **style.BASELINE, label="memoryless baseline (= 1)")]
    style.legend(fig, handles, most=-(-len(handles) // 2))
    files = style.save(fig, out_dir, NAME)
    caption = ("Training loss divided by the memoryless baseline loss over training steps "
               "(log axis, each panel its own scale; below 1 means the model uses its memory), "
               "one panel per task at the middle of the training lengths of its horizon sweep "
               "where the most models were trained. Lines: "
               f"the seed mean ({'/'.join(map(str, sorted(counts)))} seeds) of each model's "
               "smoothed curves (running mean over 2 % of the steps); bands: its 95% bootstrap "
               "CI; markers are staggered so that lines on the same values stay apart; a seed "
               "that stopped early (solved) holds its last value. Dashed, over the data: the "
               "memoryless baseline.")
    return Made(NAME, TITLE, caption, [f"horizon_{p[0]}" for p in panels], files, findings)
