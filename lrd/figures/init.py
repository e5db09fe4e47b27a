"""Initialisation × length on the adding problem, one heatmap per vanilla RNN (tanh, ReLU).

From the ``init_adding`` sweep. Cell colour: the fraction of seeds that solved the task
(MSE < 0.01 on the fixed test set, final model); cell text: solved/seeds, then the seed mean of
the normalised score, test MSE / memoryless baseline MSE (1/6; 1 is the baseline), and its 95%
bootstrap CI (``lrd.figures.seeds.seed_stats``). The findings give, per model, the longest
horizon over the initialisations measured (named), from ``lrd.results.horizon``, the rule of the
horizon table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lrd import results as resultslib
from lrd.figures import seeds as sd
from lrd.figures import style
from lrd.figures.data import Made, Skipped, horizon_value, horizon_words, metric, study, task
from lrd.results.scores import diverged_seeds

NAME = "init"
TITLE = "Initialisation"
SWEEP = "init_adding"


def grid(stats, inits: list, lengths: list[int], diverged: dict | None = None):
    """(init × length) fraction of seeds solved and cell texts from ``seed_stats`` rows;
    ``diverged``: (init, length) -> seeds that diverged (no finite score), said in the cell."""
    frac = np.full((len(inits), len(lengths)), np.nan)
    text = [[""] * len(lengths) for _ in inits]
    for _, r in stats.iterrows():
        i, j = inits.index(r["init"]), lengths.index(int(r["length"]))
        frac[i, j] = r["solved"] / r["seeds"]
        ci = (f"\n[{_v(r['low'])}, {_v(r['high'])}]" if np.isfinite(r["low"]) else "")
        d = (diverged or {}).get((r["init"], int(r["length"])), 0)
        head = f"{int(r['solved'])}/{int(r['seeds'])}" + (f", {d} div." if d else "")
        body = "all diverged" if d and d >= r["seeds"] else f"{_v(r['mean'])}{ci}"
        text[i][j] = f"{head}\n{body}"
    return frac, text


def finding(model: str, h) -> str:
    """The longest horizon of ``model`` over its initialisations (``h``: its rows of
    ``lrd.results.horizon``), naming the initialisations measured, so that "none" is never read
    as a claim about initialisations that have no runs yet."""
    measured = ", ".join(style.ordered(h["init"].unique(), style.INIT_ORDER))
    best = max((horizon_value(r) for _, r in h.iterrows()), default=(0.0, False))
    if best[0] <= 0:
        return (f"{style.model_label(model)}: of the measured initialisations ({measured}), "
                "none has a memory horizon (as in the horizon table) at the lengths tested.")
    who = [r["init"] for _, r in h.iterrows() if horizon_value(r) == best]
    return (f"{style.model_label(model)}: of the measured initialisations ({measured}), the "
            f"longest memory horizon (as in the horizon table) is "
            f"{horizon_words(*best, 'T')} ({', '.join(style.ordered(who, style.INIT_ORDER))}).")


def make(runs, results_dir: Path, out_dir: Path):
    rows = study(runs, SWEEP)
    if rows.empty:
        return Skipped(NAME, TITLE, f"no runs of the {SWEEP} sweep", [SWEEP])
    t = task(rows["task"].iloc[0], rows)
    rows = rows.assign(score=sd.score(rows, t, metric(t)))
    models = style.ordered(rows["model"].unique(), style.model_order())
    inits = style.ordered(rows["init"].unique(), style.INIT_ORDER)
    lengths = sorted(int(v) for v in rows["length"].unique())
    stats = sd.seed_stats(rows, "score", ["model", "init", "length"])
    horizons = resultslib.horizon(rows)
    width = min(style.PAGE, 0.75 + len(models) * (0.62 * len(lengths) + 0.9))
    fig, axes = style.figure(width, 0.45 + 0.42 * len(inits) + 0.5, 1, len(models),
                             sharey=True)
    findings = []
    for ax, model in zip(axes.flat, models):
        frac, text = grid(stats[stats["model"] == model], inits, lengths,
                          _diverged(rows[rows["model"] == model]))
        im = style.heatmap(ax, frac, text, inits, lengths)
        ax.set_title(style.model_label(model), color=style.model_color(model))
        ax.set_xlabel("sequence length T")
        findings.append(finding(model, horizons[horizons["model"] == model]))
    axes[0, 0].set_ylabel("initialisation of $W_{hh}$")
    fig.colorbar(im, ax=list(axes.flat), label="fraction of seeds solved", shrink=0.9,
                 pad=0.02)
    files = style.save(fig, out_dir, NAME)
    caption = ("Vanilla RNN on the adding problem: initialisation of the recurrent weights "
               "(rows) against sequence length (columns). Colour: fraction of seeds solved "
               "(test MSE < 0.01); text: solved/seeds, the seed mean of test MSE / memoryless "
               "baseline MSE (1 is the baseline) and its 95% bootstrap CI; \"k div.\": seeds "
               "whose run diverged, a failure with no finite score, left out of the mean; "
               "grey –: no measurement (the horizon search skipped it after every seed "
               "failed at a shorter length, or it has not run yet).")
    return Made(NAME, TITLE, caption, [SWEEP], files, findings)


def _diverged(rows) -> dict:
    """(init, length) -> the seeds of ``rows`` whose run diverged (``scores.diverged_seeds``)."""
    return {(i, int(n)): diverged_seeds(g) for (i, n), g in rows.groupby(["init", "length"])}


def _v(v) -> str:
    return "n/a" if not np.isfinite(v) else f"{v:.2f}" if v >= 0.01 else f"{v:.0e}"
