"""Training curves of representative runs: train loss / memoryless baseline over steps.

From the ``horizon_<task>`` sweeps, one panel per task, at the middle training length of the
sweep (the upper middle for an even count), and for each model its best seed there (by the
task's own metric on the test set). The curve is ``train/loss_ratio`` from the run's
``results/curves.csv`` (train/loss over the baseline loss at the current training length, as
50-step means), smoothed by a centred running mean over 2 % of the steps (the 50-step means
faint behind). 1 is the baseline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from lrd.figures import style
from lrd.figures.data import Made, Skipped, metric, metrics_csv, study, task
from lrd.figures.horizon import _tasks

NAME = "curves"
TITLE = "Training curves"


def representative(rows: pd.DataFrame, m) -> pd.DataFrame:
    """The best seed of each model at the middle length of ``rows``."""
    lengths = sorted(rows["length"].unique())
    mid = lengths[len(lengths) // 2]
    at = rows[rows["length"] == mid].copy()
    at["_key"] = pd.to_numeric(at[f"test.{m.name}"], errors="coerce")
    at = at.sort_values(["model", "_key", "seed"], ascending=[True, not m.higher_is_better, True],
                        na_position="last")
    return at.groupby("model", sort=True).head(1)


def _ratio(df: pd.DataFrame, baseline_loss) -> pd.Series | None:
    if "train/loss_ratio" in df:
        return df["train/loss_ratio"]
    if "train/loss" in df and baseline_loss:
        return df["train/loss"] / float(baseline_loss)
    return None


def make(runs, results_dir: Path, out_dir: Path):
    tasks = [t for t in _tasks(runs) if len(study(runs, f"horizon_{t}"))]
    panels = []
    for name in tasks:
        rows = study(runs, f"horizon_{name}")
        t = task(name, rows)
        m = metric(t)
        curves = []
        for _, r in representative(rows, m).iterrows():
            df = metrics_csv(results_dir, r["run_id"])
            y = None if df is None else _ratio(df, r.get("baseline_loss"))
            if y is not None and y.notna().any():
                ok = y.notna()
                curves.append((r, df.loc[ok, "step"].to_numpy(), y[ok].to_numpy()))
        if curves:
            panels.append((name, t, int(curves[0][0]["length"]), curves))
    if not panels:
        return Skipped(NAME, TITLE, "no curves.csv rows with train/loss for any horizon_<task> run",
                       ["horizon_copy"])
    n = len(panels)
    ncols = min(n, 4)
    nrows = -(-n // ncols)
    fig, axes = style.figure(style.PAGE if n > 1 else style.COLUMN, 2.15 * nrows + 0.35,
                             nrows, ncols, sharey=True)
    models_seen, findings = [], []
    for ax, (name, t, length, curves) in zip(axes.flat, panels):
        for r, x, y in sorted(curves, key=lambda c: style.rank(c[0]["model"],
                                                             style.model_order())):
            c = style.model_color(r["model"])
            w = max(1, int(round(len(y) * 0.02)))
            smooth = pd.Series(y).rolling(w, center=True, min_periods=1).mean().to_numpy()
            if w > 1:
                ax.plot(x, y, color=c, lw=0.5, alpha=0.25)
            ax.plot(x, smooth, color=c, lw=1.2)
            if r["solved"]:
                ax.plot(x[-1], smooth[-1], marker="*", ms=7, color=c, mec="black", mew=0.4,
                        zorder=5)
            models_seen.append(r["model"])
        ax.axhline(1.0, **style.BASELINE)
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_title(f"{style.task_label(name)}, {style.length_symbol(name)} = {length}")
        final = {r["model"]: float(np.nanmean(y[-max(1, len(y) // 20):]))
                 for r, x, y in curves}
        best = min(final, key=final.get)
        findings.append(f"{style.task_title(name, t)} at length {length}: the lowest "
                        f"final train loss / baseline is {final[best]:.3g} "
                        f"({style.model_label(best)}).")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    style.log_y(axes[0, 0])  # shared y: once, after every panel is drawn
    for ax in axes[:, 0]:
        ax.set_ylabel("train loss / baseline loss (log)")
    handles = [Line2D([], [], color=style.model_color(mo), label=style.model_label(mo))
               for mo in style.ordered(models_seen, style.model_order())]
    handles += [Line2D([], [], **style.BASELINE, label="memoryless baseline (= 1)"),
                Line2D([], [], ls="", marker="*", ms=7, color="0.5", mec="black", mew=0.4,
                       label="solved (test set)")]
    fig.legend(handles=handles, loc="outside upper center", ncol=-(-len(handles) // 2))
    files = style.save(fig, out_dir, NAME)
    caption = ("Training loss divided by the memoryless baseline loss over training steps "
               "(log axis; below 1 means the model uses its memory), one panel per task at the "
               "middle training length of its horizon sweep, for the best seed of each model "
               "there. Bold: running mean over 2 % of the steps; faint: 50-step means; a star "
               "marks a run that met the solved criterion.")
    return Made(NAME, TITLE, caption, [f"horizon_{p[0]}" for p in panels], files, findings)
