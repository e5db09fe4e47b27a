"""Initialisation × length on the adding problem, one heatmap per vanilla RNN (tanh, ReLU).

From the ``init_adding`` sweep. Cell colour: the fraction of seeds that solved the task
(MSE < 0.01 on the fixed test set, final model); cell text: solved/seeds and the mean test MSE.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lrd.figures import style
from lrd.figures.data import Made, Skipped, fmt, per_length, solved_grid, study

NAME = "init"
TITLE = "Initialisation"
SWEEP = "init_adding"


def make(runs, results_dir: Path, out_dir: Path):
    rows = study(runs, SWEEP)
    if rows.empty:
        return Skipped(NAME, TITLE, f"no runs of the {SWEEP} sweep", [SWEEP])
    models = style.ordered(rows["model"].unique(), style.model_order())
    inits = style.ordered(rows["init"].unique(), style.INIT_ORDER)
    lengths = sorted(int(v) for v in rows["length"].unique())
    stats = per_length(rows, "test.mse", ["model", "init", "length"])
    width = min(style.PAGE, 0.75 + len(models) * (0.55 * len(lengths) + 0.9))
    fig, axes = style.figure(width, 0.45 + 0.32 * len(inits) + 0.5, 1, len(models),
                             sharey=True)
    findings = []
    for ax, model in zip(axes.flat, models):
        frac, text = solved_grid(stats[stats["model"] == model], "init", inits, lengths, _mse)
        im = style.heatmap(ax, frac, text, inits, lengths)
        ax.set_title(style.model_label(model), color=style.model_color(model))
        ax.set_xlabel("sequence length T")
        s = stats[stats["model"] == model]
        longest = s[s["solved"] * 2 >= s["seeds"]]
        if len(longest):
            top = int(longest["length"].max())
            who = ", ".join(style.ordered(longest.loc[longest["length"] == top, "init"],
                                          style.INIT_ORDER))
            findings.append(f"{style.model_label(model)}: the longest length solved in at "
                            f"least half the seeds is T = {top} ({who}).")
        else:
            findings.append(f"{style.model_label(model)}: no initialisation solves adding "
                            f"in at least half the seeds at any length tested "
                            f"(best mean MSE {fmt(s['mean'].min())}, "
                            f"{_where(s, s['mean'].idxmin())}).")
    axes[0, 0].set_ylabel("initialisation of $W_{hh}$")
    fig.colorbar(im, ax=list(axes.flat), label="fraction of seeds solved", shrink=0.9,
                 pad=0.02)
    files = style.save(fig, out_dir, NAME)
    caption = ("Vanilla RNN on the adding problem: initialisation of the recurrent weights "
               "(rows) against sequence length (columns). Colour: fraction of seeds solved "
               "(test MSE < 0.01); text: solved/seeds and the mean test MSE over seeds "
               "(memoryless baseline 0.167).")
    return Made(NAME, TITLE, caption, [SWEEP], files, findings)


def _mse(v) -> str:
    return "n/a" if not np.isfinite(v) else f"{v:.3f}" if v >= 0.001 else f"{v:.0e}"


def _where(s, idx) -> str:
    r = s.loc[idx]
    return f"{r['init']} at T = {int(r['length'])}"
