"""Scores over seeds as every figure shows them: the seed mean with its 95% bootstrap CI.

``seed_stats`` is the one place a figure turns per-seed values into what it plots: per group,
``mean``, ``low``, ``high`` (``lrd.results.stats.mean_ci``: the percentile bootstrap CI of the
mean over seeds, one value per seed; NaN bounds for a single seed), ``n`` (seeds with a finite
value), ``seeds`` (unique seeds), ``solved`` (seeds with a solved run) and ``per_seed`` (the
value of each seed, a tuple).

``score`` gives the normalised score of SPEC §7: accuracy as it is, any loss (MSE on adding)
divided by the task's memoryless baseline at the run's length, so 1 is the baseline.

``best`` names the best group, or the groups tied with it (its docstring gives the rule), and
then no winner is named; ``best_text`` says so in words, says "only X measured so far" when one
group has a finite mean (nothing to compare with), says that no group is clearly beyond the
memoryless baseline when none is (and then ranks none), and marks a named group that is not
clearly beyond it (``at_baseline``), with how many of its seeds are at it (``side``).
``dodge`` spreads k overlapping series by a small factor on a log axis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lrd.figures.data import baseline
from lrd.results.scores import seed_values, solved_seeds
from lrd.results.stats import mean_ci


def seed_stats(rows: pd.DataFrame, col: str, keys: list[str]) -> pd.DataFrame:
    """Seed mean and 95% CI of ``col`` per ``keys`` (module docstring), sorted by ``keys``.

    One seed is one value (``lrd.results.scores.seed_values``): a seed with several runs in a
    group gives the mean of its finite values (a group that spans cells, e.g. every length; a
    cell's seed has one run in the rows of ``study``, ``lrd.results.aggregate.tuned``);
    non-finite values are left out of the mean and the CI, never out of ``seeds``. ``solved`` counts the seeds
    with a solved run (``lrd.results.scores.solved_seeds``); ``per_seed`` holds every seed's
    value (NaN included), in seed order."""
    cols = [*keys, "mean", "low", "high", "n", "seeds", "solved", "per_seed"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    if "seed" not in rows:
        rows = rows.assign(seed=np.arange(len(rows)))
    out = []
    for key, g in rows.groupby(keys, sort=True):
        values = seed_values(g, col)
        m = mean_ci(values)
        key = key if isinstance(key, tuple) else (key,)
        out.append({**dict(zip(keys, key)), "mean": m.mean, "low": m.low, "high": m.high,
                    "n": int(np.isfinite(values).sum()), "seeds": len(values),
                    "solved": solved_seeds(g) if "solved" in g else 0,
                    "per_seed": tuple(values)})
    return pd.DataFrame(out, columns=cols)


def score(rows: pd.DataFrame, t, m, col: str | None = None, length: str = "length") -> pd.Series:
    """The normalised score of ``col`` (default ``test.<metric>``): accuracy as is, a loss
    over the memoryless baseline at each row's ``length``."""
    v = pd.to_numeric(rows[col or f"test.{m.name}"], errors="coerce")
    if m.name == "accuracy":
        return v
    return v / rows[length].map(lambda n: baseline(t, m, n))


def score_label(m) -> str:
    return m.label if m.name == "accuracy" else f"{m.label} / memoryless baseline"


def score_threshold(t, m, length: int) -> float:
    """The solved threshold on the normalised scale."""
    return m.threshold if m.name == "accuracy" else m.threshold / baseline(t, m, length)


REL_TOL = 1e-3        # means within 0.1 % of the best's are tied (4-digit text shows no gap)
BASELINE_TOL = 0.01   # on the normalised scale: "beyond" the baseline only when past it by more
# On the normalised scale: "worse" than the baseline only when past it on the wrong side by
# more than this. A run's test set has its own memoryless score, not the analytic one: on
# adding (32768 test sequences) its MSE is within 2 % of 1/6 (tests/test_tasks.py), and the
# test MSE itself has a relative standard error of about 0.65 %. So a loss / baseline of 1.01
# may be a memoryless predictor on its test set, and "worse" needs a margin as large as that
# guarantee; accuracy uses the same margin, on the same normalised scale.
WORSE_TOL = 0.02


def _meets(mean: float, threshold: float | None, higher_is_better: bool) -> bool:
    """Whether a seed mean meets the solved threshold (``Task.solved``: ≥ for a score where
    higher is better, < for a loss); never without a threshold."""
    if threshold is None or not np.isfinite(mean):
        return False
    return mean >= threshold if higher_is_better else mean < threshold


def best(stats: pd.DataFrame, key: str, higher_is_better: bool = True,
         solved: float | None = None):
    """``(names, tied)``: the best ``key`` by seed mean, or every ``key`` tied with it.

    A group is tied with the best when its mean lies inside the best's 95% CI, or is within
    ``REL_TOL`` (0.1 %) of the best mean (a degenerate CI such as [1, 1] would otherwise make
    0.9999993 "worse"), or, when the solved threshold ``solved`` is given (on the scale of the
    means) and the best meets it, when it meets it too: solved groups are not ranked by how
    far past the threshold they are. Groups without a finite mean are left out."""
    s = stats[np.isfinite(stats["mean"].astype(float))]
    if s.empty:
        return [], False
    top = s.loc[s["mean"].idxmax() if higher_is_better else s["mean"].idxmin()]
    lo, hi = top["low"], top["high"]
    near = np.isclose(s["mean"].astype(float), float(top["mean"]), rtol=REL_TOL, atol=0)
    if np.isfinite(lo) and np.isfinite(hi):
        near |= (s["mean"] >= lo) & (s["mean"] <= hi)
    if _meets(top["mean"], solved, higher_is_better):
        near |= s["mean"].map(lambda v: _meets(v, solved, higher_is_better))
    names = list(s.loc[near, key])
    return names, len(names) > 1


def side(lo: float, hi: float, baseline: float, higher_is_better: bool = True) -> str:
    """Where values from ``lo`` to ``hi`` (a 95% CI, or one value as ``lo = hi``) lie against
    the memoryless ``baseline``, on the normalised scale (accuracy, or loss / baseline):
    "beyond" when even the worse end is past it on the better side by more than
    ``BASELINE_TOL`` (0.01), "worse" when even the better end is past it on the wrong side by
    more than ``WORSE_TOL`` (0.02), else "at". NaN ends are "at"."""
    sign = 1.0 if higher_is_better else -1.0
    worse_end, better_end = (lo, hi) if higher_is_better else (hi, lo)
    if sign * (worse_end - baseline) > BASELINE_TOL:
        return "beyond"
    if sign * (baseline - better_end) > WORSE_TOL:
        return "worse"
    return "at"


def at_baseline(row, baseline: float, higher_is_better: bool = True) -> bool:
    """Whether a ``seed_stats`` row is not clearly beyond the memoryless ``baseline``: the bound
    of its 95% CI on the baseline's side (the mean, with one seed) is within ``BASELINE_TOL``
    (0.01 on the normalised scale: accuracy, or loss / baseline) of the baseline or past it
    (``side`` is not "beyond"). So a CI that contains the baseline, lies at chance (accuracy
    0.3353 [0.334, 0.3364] against 0.3335) or on its wrong side is not clearly beyond it."""
    lo, hi = (row[k] if np.isfinite(row[k]) else row["mean"] for k in ("low", "high"))
    return side(lo, hi, baseline, higher_is_better) != "beyond"


_SEED_SIDE = {"at": "at it", "worse": "worse than it", "beyond": "clearly beyond it"}


def baseline_note(row, baseline: float, higher_is_better: bool = True) -> str:
    """"" when the row is clearly beyond the memoryless ``baseline`` (``at_baseline``); else
    "at the memoryless baseline" when its every seed (``per_seed``, finite values) is "at" it
    (``side`` of one value), else "not clearly beyond the memoryless baseline", with the
    seeds on each side when they are known: ": 1 of 3 seeds at it, 2 clearly beyond it"."""
    if not at_baseline(row, baseline, higher_is_better):
        return ""
    values = row.get("per_seed")
    values = [v for v in values if np.isfinite(v)] if isinstance(values, (tuple, list)) else []
    sides = [side(v, v, baseline, higher_is_better) for v in values]
    if sides and set(sides) == {"at"}:
        return "at the memoryless baseline"
    counts = [(sides.count(k), words) for k, words in _SEED_SIDE.items() if k in sides]
    seeds = ", ".join(f"{c} of {len(sides)} seeds {w}" if i == 0 else f"{c} {w}"
                      for i, (c, w) in enumerate(counts))
    return "not clearly beyond the memoryless baseline" + (f": {seeds}" if seeds else "")


def best_text(stats: pd.DataFrame, key: str, label, higher_is_better: bool = True,
              what: str = "seed mean", solved: float | None = None,
              baseline: float | None = None) -> str:
    """A sentence part: "best: X (0.99, 95% CI [0.98, 1])", "tied: X, Y (...)" (the rule of
    ``best``, with the solved threshold ``solved``), or "only X measured so far (...)" when no
    other group has a finite mean. With the memoryless ``baseline`` (on the scale of the
    means): when two or more groups have a finite mean and none is clearly beyond the baseline
    (``at_baseline``), "none clearly beyond the memoryless baseline (...)" and no group is
    ranked; else a named best, only or tied group that is not clearly beyond it gets its
    ``baseline_note``. Without it, nothing is said about the baseline."""
    names, tied = best(stats, key, higher_is_better, solved)
    if not names:
        return "no finite values"
    s = stats.set_index(key)
    finite = s[np.isfinite(s["mean"].astype(float))]

    def note(n) -> str:
        return "" if baseline is None else baseline_note(s.loc[n], baseline, higher_is_better)

    if len(finite) > 1 and all(note(n) for n in finite.index):
        return _none_beyond_text(finite, label, higher_is_better, what, baseline)
    if tied:
        marks = "; ".join(f"{label(n)} {note(n)}" for n in names if note(n))
        return (_tie_text(s, names, label, higher_is_better, what, solved)
                + (f"; {marks}" if marks else ""))
    top = s.loc[names[0]]
    at = f" ({note(names[0])})" if note(names[0]) else ""
    head = (f"only {label(names[0])} measured so far" if len(finite) == 1
            else f"best: {label(names[0])}")
    return f"{head} ({mean_text(top, what)}){at}"


def _none_beyond_text(s: pd.DataFrame, label, higher_is_better: bool, what: str,
                      baseline: float) -> str:
    """"none clearly beyond the memoryless baseline (seed means: X 0.3368, Y 0.3361; baseline
    0.3335)": the groups of ``s`` (indexed by key), best mean first."""
    s = s.sort_values("mean", ascending=not higher_is_better, kind="stable")
    means = ", ".join(f"{label(n)} {_num(v)}" for n, v in s["mean"].items())
    return (f"none clearly beyond the memoryless baseline ({what}s: {means}; baseline "
            f"{_num(baseline)})")


def _tie_text(s: pd.DataFrame, names: list, label, higher_is_better: bool, what: str,
              solved: float | None) -> str:
    """"tied: X, Y (...)": "all solved" when every tied group meets the threshold, else the
    best's CI, and the 0.1 % tolerance where a tied mean lies outside that CI. (A solved group
    tied only by the threshold makes every tied group solved: the best's CI then lies above
    the threshold, or the others meet it as they lie in that CI.)"""
    top = s.loc[names].sort_values("mean", ascending=not higher_is_better).iloc[0]
    means = ", ".join(_num(s.loc[n, "mean"]) for n in names)
    who = ", ".join(label(n) for n in names)
    if all(_meets(s.loc[n, "mean"], solved, higher_is_better) for n in names):
        sign = "≥" if higher_is_better else "<"
        return f"tied: {who}, all solved ({what}s {means}, each {sign} {solved:g})"
    lo, hi = top["low"], top["high"]
    inside = [np.isfinite(lo) and np.isfinite(hi) and lo <= s.loc[n, "mean"] <= hi
              for n in names]
    why = f"within the best's 95% CI {_ci(top)}" + ("" if all(inside)
                                                     else " or 0.1 % of its mean")
    return f"tied: {who} ({what}s {means}, each {why})"


def mean_text(row, what: str = "seed mean") -> str:
    """"seed mean 0.99, 95% CI [0.98, 1]" of a ``seed_stats`` row."""
    return f"{what} {_num(row['mean'])}, 95% CI {_ci(row)}"


def _num(v) -> str:
    return "n/a" if not np.isfinite(v) else f"{v:.4g}"


def _ci(r) -> str:
    if not (np.isfinite(r["low"]) and np.isfinite(r["high"])):
        return "n/a (one seed)"
    return f"[{_num(r['low'])}, {_num(r['high'])}]"


def dodge(i: int, k: int, width: float = 0.03) -> float:
    """Multiplicative x offset of series ``i`` of ``k`` (centred on 1)."""
    return 1 + width * (i - (k - 1) / 2)


def band(ax, x, s: pd.DataFrame, color, alpha: float = 0.15):
    """The CI band of ``seed_stats`` rows ``s`` at ``x`` (nothing where a bound is NaN); a point
    with no finite neighbour, where a band has no width, gets an error bar instead."""
    x, lo, hi = (np.asarray(v, float) for v in (x, s["low"], s["high"]))
    ok = np.isfinite(lo) & np.isfinite(hi)
    near = np.zeros_like(ok)
    near[1:] |= ok[:-1]
    near[:-1] |= ok[1:]
    alone = ok & ~near
    if alone.any():
        ax.vlines(x[alone], lo[alone], hi[alone], color=color, lw=1.0, zorder=3.5, gid="ci")
    return ax.fill_between(x, lo, hi, color=color, alpha=alpha, lw=0, gid="ci")
