"""Was the step budget the limit? For every cell (task, model, init, regime, length) that a
majority of its seeds failed to solve, how the failed seeds' training ended.

A run counts when it used its whole step budget (``steps`` = ``train.max_steps``) without
solving; runs that stopped early (solved) or diverged do not. From its thinned training curve
in ``results/curves.csv`` (``train/loss_ratio``: the train loss over the memoryless baseline
loss at the current training length, as 50-step means):

- ``end``: the mean loss ratio over the last ``END`` (10 %) of the budget;
- ``fall``: the relative fall of the train loss over the last quarter of the budget,
  1 − end / (the mean over 65–75 % of the budget): 0.10 means it fell by 10 %.

Per cell: the seeds counted, the cell's diverged seeds (``lrd.results.scores.diverged_seeds``),
its step budget, the seed means of both with their 95% bootstrap CI (``lrd.results.stats``),
and a verdict:

- **still improving**: the CI of the mean fall lies wholly above ``FALL`` (2 %): its failure
  may be set by the step budget (a longer one might solve the cell), so a horizon that stops
  there may not be measured to its end;
- **at the baseline**: not that, and the CI of the end ratio lies at or above ``LOSS_CUT``
  (0.9): training never clearly left the memoryless plateau;
- **no clear fall**: neither: below the baseline, and not clearly improving any more (with 3
  seeds the CI is the seeds' range, so one seed that levelled off is enough);
- **too few seeds**: fewer than ``MIN_SEEDS`` (3) seeds used their budget: shown, not
  judged;
- **budget not used** (``NOT_USED``): no failed seed used its budget (they diverged, or
  stopped early): shown with no end or fall, so that every cell a majority of seeds failed is
  in the table.

``compare`` answers the question directly where a sweep reran a cell at a longer budget
(``configs/sweeps/budget_*.yaml``: twice and four times the steps at the short lengths): per
cell whose runs differ in the step budget alone, the seeds solved and the seed-mean score at
each budget.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lrd.figures import style
from lrd.figures.data import metrics_csv
from lrd.results import scores as sc
from lrd.results.stats import MeanCI, mean_ci

END = 0.10            # the end ratio: the mean over the last 10 % of the budget
BEFORE = (0.65, 0.75)  # ... compared with the mean over this window of the budget
FALL = 0.02           # the fall's CI above 2 % over the last quarter: still improving
VERDICTS = ("still improving", "no clear fall", "at the baseline", "too few seeds")
NOT_USED = "budget not used"   # the verdict of a failed cell no failed seed of which used it
COLUMNS = ["task", "model", "init", "regime", "length", "seeds", "diverged", "budget",
           "end loss/baseline", "fall (last quarter)", "verdict"]


def end_and_fall(curve: pd.DataFrame, budget: int) -> tuple[float, float]:
    """``(end, fall)`` of one run's curve (module docstring); NaN where a window is empty."""
    c = curve.dropna(subset=["train/loss_ratio"])
    step, ratio = c["step"].to_numpy(float), c["train/loss_ratio"].to_numpy(float)
    late = ratio[step >= (1 - END) * budget]
    before = ratio[(step >= BEFORE[0] * budget) & (step < BEFORE[1] * budget)]
    if not late.size or not before.size:
        return math.nan, math.nan
    end, prev = float(late.mean()), float(before.mean())
    return end, (1 - end / prev if prev > 0 else math.nan)


def verdict(end: MeanCI, fall: MeanCI) -> str:
    """"still improving", "at the baseline" or "no clear fall" (module docstring); "–" without
    data. One seed (no interval) is judged by its own value."""
    if math.isnan(fall.mean):
        return "–"
    if (fall.mean if math.isnan(fall.low) else fall.low) > FALL:
        return "still improving"
    return ("at the baseline" if (end.mean if math.isnan(end.low) else end.low) >= sc.LOSS_CUT
            else "no clear fall")


def budget_table(runs: pd.DataFrame, results_dir) -> pd.DataFrame:
    """One row per cell a majority of seeds failed (module docstring), in report order; the
    seeds column counts the seeds that used their budget without solving. A cell some seeds
    of which used their budget but none has a curve is left out."""
    from lrd.results.tables import ordered   # tables lists this table

    rows = sc.measured(runs)
    if rows.empty or not {"config.train.max_steps", "steps", "solved"} <= set(rows):
        return pd.DataFrame(columns=COLUMNS)
    budget = pd.to_numeric(rows["config.train.max_steps"], errors="coerce")
    diverged = sc.is_diverged(rows)
    steps = pd.to_numeric(rows["steps"], errors="coerce")
    spent = ~sc.flag(rows, "solved") & ~diverged & (steps >= budget)
    out = []
    for key, g in rows.groupby(sc.KEYS, sort=True):
        if 2 * sc.solved_seeds(g) > g["seed"].nunique():   # the cell is solved
            continue
        row = _cell(g, g.index[spent[g.index]], budget, results_dir)
        if row is not None:
            out.append({**dict(zip(sc.KEYS, key)), "diverged": sc.diverged_seeds(g),
                        "budget": "/".join(map(str, sorted({int(b) for b in budget[g.index]
                                                            if b == b}))) or "–",
                        **row})
    if not out:
        return pd.DataFrame(columns=COLUMNS)
    t = ordered(pd.DataFrame(out), ("length",))
    t["length"] = t["length"].astype(int)
    return t[COLUMNS]


def improving(table: pd.DataFrame) -> dict:
    """The cells (task, model, init, regime, length) of a ``budget_table`` whose verdict is
    "still improving", each with the table's budget: the steps of the runs the verdict read
    (the run each seed keeps), e.g. "16000" or "4000/8000"."""
    if table.empty:
        return {}
    rows = table[table["verdict"] == VERDICTS[0]]
    budget = rows["budget"] if "budget" in rows else pd.Series(None, index=rows.index)
    return {(*k[:-1], int(k[-1])): (None if pd.isna(b) else str(b)) for *k, b in
            rows[sc.KEYS].assign(budget=budget).itertuples(index=False)}


def _cell(rows: pd.DataFrame, spent: pd.Index, budget: pd.Series, results_dir) -> dict | None:
    """The seeds, end, fall and verdict of one failed cell from its ``spent`` runs (those that
    used their budget); ``NOT_USED`` without any; None if none of them has a curve."""
    if not len(spent):
        return {"seeds": 0, "end loss/baseline": "–", "fall (last quarter)": "–",
                "verdict": NOT_USED}
    ends, falls = {}, {}
    for i in spent:
        curve = metrics_csv(results_dir, rows.at[i, "run_id"])
        if curve is None or "train/loss_ratio" not in curve:
            continue
        e, f = end_and_fall(curve, int(budget[i]))
        ends.setdefault(rows.at[i, "seed"], []).append(e)
        falls.setdefault(rows.at[i, "seed"], []).append(f)
    if not ends:
        return None
    end = mean_ci([np.nanmean(v) for _, v in sorted(ends.items())])
    fall = mean_ci([np.nanmean(v) for _, v in sorted(falls.items())])
    return {"seeds": len(ends), "end loss/baseline": sc.ci_text(end),
            "fall (last quarter)": sc.ci_text(fall),
            "verdict": verdict(end, fall) if len(ends) >= sc.MIN_SEEDS else "too few seeds"}


def findings(table: pd.DataFrame) -> list[str]:
    """The report's sentences on ``budget_table``: how many cells a majority of seeds failed,
    how many of them end each way, which failed without using their budget, and which were
    still improving."""
    if table.empty:
        return ["_No cell used its whole step budget without solving yet._"]
    unused = table[table["verdict"] == NOT_USED]
    counts = table["verdict"].value_counts()
    first = (f"{len(table)} cells failed by a majority of seeds. {len(table) - len(unused)} "
             "used their whole step budget: " + ", ".join(f"{int(counts.get(v, 0))} {v}"
                                                          for v in VERDICTS) + ".")
    if len(unused):
        first += (f" {len(unused)} failed without using it (diverged or stopped early): "
                  + "; ".join(f"{_cell_text(r)} ({r['diverged']} seed"
                              f"{'s' if r['diverged'] != 1 else ''} diverged)"
                              for _, r in unused.iterrows()) + ".")
    out = [first]
    improving = table[table["verdict"] == "still improving"]
    if len(improving):
        out.append("Still improving when the budget ran out (their failure may be set by the "
                   "step budget: a longer one might solve them): " + "; ".join(
                       f"{_cell_text(r)} (fall {r['fall (last quarter)']}, "
                       f"{r['seeds']} seed{'s' if r['seeds'] != 1 else ''})"
                       for _, r in improving.iterrows()) + ".")
    return out


def _cell_text(r: pd.Series) -> str:
    """A table row's cell in words: "Copy, LSTM (identity) at T = 100"; the init and regime
    only where not the default ones."""
    return (f"{style.task_label(r['task'])}, {style.model_label(r['model'])}"
            + "".join(f" ({v})" for v, d in ((r["init"], "default"), (r["regime"], "full"))
                      if v != d)
            + f" at {style.length_symbol(r['task'])} = {r['length']}")


# Config columns a budget comparison lets vary inside a cell: the seed, the cell's own length
# and the budget compared.
_FREE = ("config.seed", "config.task.length", "config.train.max_steps")


def compare(runs: pd.DataFrame) -> list[dict]:
    """Per cell (task, model, init, regime, length) whose measured runs were made at more than
    one step budget and differ in nothing else but the seed: for each budget, its seeds, seeds
    solved, and the seed mean [95% CI] of the score (accuracy where the task has one, else
    test loss / baseline), every run of that budget counted. In report order."""
    from lrd.results.tables import ordered

    rows = sc.measured(runs, tune=False)
    if rows.empty or "config.train.max_steps" not in rows:
        return []
    cols = [c for c in rows.columns if c.startswith("config.") and not c.startswith(_FREE)]
    out = []
    for key, g in ordered(rows, ("length",)).groupby(sc.KEYS, sort=False):
        budgets = pd.to_numeric(g["config.train.max_steps"], errors="coerce")
        if budgets.nunique() < 2 or any(g[c].dropna().astype(str).nunique() > 1 for c in cols):
            continue
        acc = "test.accuracy" in g and g["test.accuracy"].notna().any()
        score = "test.accuracy" if acc else sc.LOSS_RATIO
        per = []
        for b, at in g.groupby(budgets, sort=True):
            per.append({"budget": int(b), "seeds": int(at["seed"].nunique()),
                        "solved": sc.solved_seeds(at), "diverged": sc.diverged_seeds(at),
                        "score": sc.seed_ci(at, score)})
        out.append({**dict(zip(sc.KEYS, key)), "score": "accuracy" if acc else
                    "loss/baseline", "budgets": per})
    return out


def compare_text(runs: pd.DataFrame, table: pd.DataFrame | None = None) -> list[str]:
    """The report's sentences on ``compare``: a line per cell a majority of seeds failed at its
    shortest budget, with the verdict of its ``budget_table`` row (which reads the run each seed
    keeps), then which of them the longest budget solved (a majority of seeds), and how many
    cells were solved at every budget. [] without such cells."""
    cells = compare(runs)
    if not cells:
        return []

    def majority(b):
        return 2 * b["solved"] > b["seeds"]

    def at(b, c):
        return (f"{b['budget']} steps: {b['solved']}/{b['seeds']} solved, {c['score']} "
                f"{sc.ci_text(b['score'])}" + (f" ({b['diverged']} diverged, left out)"
                                              if b["diverged"] else ""))
    rows = {} if table is None or table.empty else {
        tuple(r[sc.KEYS]): r for _, r in table.iterrows()}
    failed = [c for c in cells if not majority(c["budgets"][0])]
    solved = len(cells) - len(failed)
    out = ["Longer budgets: cells rerun with more steps and nothing else in their config "
           "changed (every run counted at its own budget; the tables keep one run per seed, "
           "the one with the best validation score)" + (":" if failed else
                                  f". All {solved} were solved at the shortest budget already.")]
    if not failed:
        return out
    out.append("")
    for c in failed:
        row = rows.get(tuple(c[k] for k in sc.KEYS))
        verdict = (f" Budget table: {row['verdict']} (over {row['budget']} steps)."
                   if row is not None else "")
        out.append(f"- {_cell_text(pd.Series(c))}: " + "; ".join(at(b, c) for b in c["budgets"])
                   + "." + verdict)
    gained = [_cell_text(pd.Series(c)) for c in failed if majority(c["budgets"][-1])]
    out += ["", f"Of the {len(failed)} cell{'s' if len(failed) != 1 else ''} above (failed by "
            "a majority of seeds at the shortest budget), " + (
                f"{len(gained)} {'is' if len(gained) == 1 else 'are'} solved at the longest: "
                + "; ".join(gained) + "." if gained else "none is solved at the longest.")
            + (f" {solved} other cell{'s were' if solved != 1 else ' was'} solved at the "
               "shortest budget already." if solved else "")]
    return out
