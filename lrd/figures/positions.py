"""Positional schemes of the attention model (``model.position``: ALiBi, RoPE, none).

From two sweeps, each drawn when it has runs:

``positions_copy``        test accuracy against the copy delay T, one line per scheme;
``positions_prefix_sum``  test accuracy against the test length (``metrics.lengths``), one
                          panel per training length, one line per scheme (as the length
                          generalisation figure, ``lrd.figures.generalisation``).

A scheme is the run's ``config.model.position`` (else its ``model`` label); its label, colour
and marker are those of its ``model`` label in the model classes' ``looks`` (runs.csv names
the variants ``attention-<position>``). Lines are the seed mean, bands its 95% bootstrap CI
(``lrd.figures.seeds.seed_stats``), dots the seeds, schemes offset by a few per cent along the
log length axis; the memoryless baseline is dashed above the data, the solved threshold dotted.
Findings name the best scheme at the longest length only when no other scheme is tied with it
(``seeds.best``: inside its CI, within 0.1 %, or solved as it is); otherwise they report the
tie, or that no scheme is clearly beyond the memoryless baseline, and they mark a named scheme
that is not. The copy finding also says, for each scheme not measured at its length, where it
was last measured and how it did, and which lengths the horizon search did not run and why
(records with status "skipped", ``lrd.figures.data.not_run``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from lrd.figures import generalisation as gen
from lrd.figures import seeds as sd
from lrd.figures import style
from lrd.figures.data import Made, Skipped, baseline, metric, not_run, study, task
from lrd.results.aggregate import not_run as not_run_text
from lrd.models.base import Look

NAME, TITLE = "positions", "Positional schemes of attention"
COPY, PREFIX = "positions_copy", "positions_prefix_sum"
_SPARE = ["o", "s", "^", "D", "v", "P", "X"]


def schemes(rows: pd.DataFrame) -> pd.Series:
    """The positional scheme of every row."""
    col = "config.model.position"
    if col in rows and rows[col].notna().all():
        return rows[col].astype(str)
    return rows["model"].astype(str)


def looks(rows: pd.DataFrame) -> dict[str, Look]:
    """scheme -> Look: its model label's look from the model classes when the labels tell the
    schemes apart, else the first label's look with a spare colour and marker per scheme."""
    pairs = rows[["scheme", "model"]].drop_duplicates()
    order = style.ordered(pairs["model"], style.model_order())
    pairs = pairs.sort_values("model", key=lambda s: s.map(lambda m: order.index(m)),
                              kind="stable")
    if pairs["model"].is_unique and pairs["scheme"].is_unique:
        return {s: style.model_look(m) for s, m in zip(pairs["scheme"], pairs["model"])}
    out = {}
    for i, (s, m) in enumerate(zip(pairs["scheme"], pairs["model"])):
        base = style.model_look(m)
        out.setdefault(s, Look(f"{base.label} ({s})", f"C{i % 10}", _SPARE[i % len(_SPARE)]))
    return out


def _copy_panel(ax, rows, t, m, look, skipped, limited=frozenset()):
    stats = sd.seed_stats(rows, "score", ["scheme", "length"])
    names = list(look)
    for i, s_name in enumerate(names):
        s = stats[stats["scheme"] == s_name]
        x = s["length"] * sd.dodge(i, len(names))
        lk = look[s_name]
        sd.band(ax, x, s, lk.color)
        ax.plot(x, s["mean"], color=lk.color, marker=lk.marker, zorder=4, gid=f"mean:{s_name}")
        seeds = rows[rows["scheme"] == s_name]
        ax.scatter(seeds["length"] * sd.dodge(i, len(names)), seeds["score"], color=lk.color,
                   **style.SEED_DOT)
    lengths = sorted(int(v) for v in rows["length"].unique())
    xs = np.unique(np.geomspace(lengths[0], lengths[-1], 50).round().astype(int))
    style.draw_baseline(ax, xs, [baseline(t, m, x) for x in xs])
    ax.axhline(m.threshold, **style.THRESHOLD, zorder=2)
    style.log_length_axis(ax, lengths)
    ax.set_ylim(-0.02, 1.03)
    ax.set_xlabel(style.length_axis(t.name))
    ax.set_title(style.task_title(t.name, t))
    top = stats[stats["length"] == lengths[-1]]
    return (f"{style.task_title(t.name, t)} at {style.length_symbol(t.name)} = {lengths[-1]}, "
            f"test {m.name} over seeds by positional scheme, "
            + sd.best_text(top, "scheme", lambda s: look[s].label, m.higher_is_better,
                           solved=m.threshold, baseline=baseline(t, m, lengths[-1])) + "."
            + unmeasured(stats, skipped, lengths[-1], t, m, look, limited))


def unmeasured(stats, skipped, length: int, t, m, look, limited=frozenset()) -> str:
    """" Not measured at T = 200: X last measured at T = 10 (seed mean ..., 0/3 seeds
    solved), 20, 50 not run (failed at T=10); ..." for every scheme of ``stats`` (``seed_stats``
    rows by scheme and length) or ``skipped`` (its not-run records) without a finite mean at
    ``length``; "" when there is none. A scheme with runs there but no finite score has "no
    finite score at T = 200", one neither run nor skipped there "no record at T = 200"."""
    sym = style.length_symbol(t.name)
    measured = stats[np.isfinite(stats["mean"].astype(float))]
    parts = []
    for name in [s for s in look if s in {*stats["scheme"], *skipped["scheme"]}]:
        mine = measured[measured["scheme"] == name].sort_values("length")
        gone = skipped[skipped["scheme"] == name]
        if (mine["length"] == length).any():
            continue
        words = []
        if len(mine):
            r = mine.iloc[-1]
            note = sd.baseline_note(r, baseline(t, m, int(r["length"])), m.higher_is_better)
            words.append(f"last measured at {sym} = {int(r['length'])} ({sd.mean_text(r)}, "
                         f"{int(r['solved'])}/{int(r['seeds'])} seeds solved"
                         + (f"; {note}" if note else "") + ")")
        if len(gone):
            words.append(not_run_text(gone, limited))
        ran = ((stats["scheme"] == name) & (stats["length"] == length)).any()
        if ran or not (gone["length"] == length).any():
            words.append(f"no {'finite score' if ran else 'record'} at {sym} = {length}")
        parts.append(f"{look[name].label} {', '.join(words)}")
    return f" Not measured at {sym} = {length}: {'; '.join(parts)}." if parts else ""


def make(runs, results_dir: Path, out_dir: Path):
    parts = {}
    for sweep in (COPY, PREFIX):
        rows = study(runs, sweep)
        if len(rows):
            t = task(rows["task"].iloc[0], rows)
            m = metric(t)
            parts[sweep] = (rows.assign(scheme=schemes(rows), score=sd.score(rows, t, m)), t, m)
    if PREFIX in parts and not gen.eval_lengths(parts[PREFIX][0], parts[PREFIX][2].name):
        del parts[PREFIX]
    if not parts:
        return Skipped(NAME, TITLE, f"no runs of the {COPY} sweep, and no {PREFIX} runs with "
                       "metrics at other lengths", [COPY, PREFIX])
    skipped = not_run(runs, COPY)   # runs with a sweep's rows: with "group" and "model"
    skipped = skipped.assign(scheme=schemes(skipped))
    trains = sorted(int(v) for v in parts[PREFIX][0]["length"].unique()) if PREFIX in parts \
        else []
    n = (COPY in parts) + len(trains)
    fig, axes = style.figure(style.PAGE if n > 1 else style.COLUMN, 2.5, 1, n)
    axs = list(axes.flat)
    look = looks(pd.concat([*(p[0] for p in parts.values()), skipped])[["scheme", "model"]])
    findings = []
    if COPY in parts:
        from lrd.results.budget import budget_table, improving   # it reads figures.data

        findings.append(_copy_panel(axs.pop(0), *parts[COPY], look, skipped,
                                    improving(budget_table(runs, results_dir))))
    if PREFIX in parts:
        rows, t, m = parts[PREFIX]
        stats = gen.curves(rows, m, ["scheme"], at_train=True)
        series = [(("scheme", s),) for s in look if s in set(rows["scheme"])]
        for ax, L in zip(axs, trains):
            gen.draw_panel(ax, stats, t, m, L, series,
                           lambda k: (look[k["scheme"]].color, "-", look[k["scheme"]].marker,
                                      True))
            ax.set_title(f"{style.task_title(t.name, t)}, trained at {L}")
            f = gen.finding(stats, t, m, L, ["scheme"], lambda k: look[k[0]].label)
            findings += [f] if f else []
    axes[0, 0].set_ylabel("test accuracy")
    handles = [Line2D([], [], color=lk.color, marker=lk.marker, label=lk.label)
               for lk in look.values()]
    handles += [Line2D([], [], **style.BASELINE, label="memoryless baseline"),
                Line2D([], [], **style.THRESHOLD, label="solved threshold")]
    style.legend(fig, handles)
    files = style.save(fig, out_dir, NAME)
    caption = ("The causal-attention model with each positional scheme: "
               + ("test accuracy against the copy delay T; " if COPY in parts else "")
               + ("prefix-sum test accuracy against the test length (log axis), one panel per "
                  "training length (grey vertical line, its tick marked 'train'; the point there "
                  "is the test-set accuracy at the training length); " if PREFIX in parts
                  else "")
               + "lines: the seed mean; bands: its 95% bootstrap CI; schemes offset slightly "
               "along the length axis. Dashed, over the data: the memoryless baseline; "
               "dotted: the solved threshold 0.99.")
    return Made(NAME, TITLE, caption, list(parts), files, findings)
