"""Scores over seeds as every figure shows them: the seed mean with its 95% bootstrap CI.

``seed_stats`` is the one place a figure turns per-seed values into what it plots: per group,
``mean``, ``low``, ``high`` (``lrd.results.stats.mean_ci``: the percentile bootstrap CI of the
mean over seeds, one value per seed; NaN bounds for a single seed), ``n`` (seeds with a finite
value), ``seeds`` (unique seeds) and ``solved`` (seeds with a solved run).

``score`` gives the normalised score of SPEC §7: accuracy as it is, any loss (MSE on adding)
divided by the task's memoryless baseline at the run's length, so 1 is the baseline.

``best`` names the best group, or the groups tied with it: every group whose mean lies inside
the best mean's CI (or equals it, when there is no CI) is tied, and then no winner is named.
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
    group (e.g. at two learning rates) gives the mean of its finite values; non-finite values
    are left out of the mean and the CI, never out of ``seeds``. ``solved`` counts the seeds
    with a solved run (``lrd.results.scores.solved_seeds``)."""
    cols = [*keys, "mean", "low", "high", "n", "seeds", "solved"]
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
                    "solved": solved_seeds(g) if "solved" in g else 0})
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


def best(stats: pd.DataFrame, key: str, higher_is_better: bool = True):
    """``(names, tied)``: the best ``key`` by seed mean, or every ``key`` tied with it (mean
    inside the best's CI, or equal to its mean). Groups without a finite mean are left out."""
    s = stats[np.isfinite(stats["mean"].astype(float))]
    if s.empty:
        return [], False
    top = s.loc[s["mean"].idxmax() if higher_is_better else s["mean"].idxmin()]
    lo, hi = top["low"], top["high"]
    if np.isfinite(lo) and np.isfinite(hi):
        near = (s["mean"] >= lo) & (s["mean"] <= hi)
    else:
        near = s["mean"] == top["mean"]
    names = list(s.loc[near | (s["mean"] == top["mean"]), key])
    return names, len(names) > 1


def best_text(stats: pd.DataFrame, key: str, label, higher_is_better: bool = True,
              what: str = "seed mean") -> str:
    """A sentence part: "best: X (0.99 [0.98, 1])" or "tied: X, Y (means within the best's
    95% CI [a, b])"."""
    names, tied = best(stats, key, higher_is_better)
    if not names:
        return "no finite values"
    s = stats.set_index(key)
    top = s.loc[names[0]] if not tied else s.loc[names].sort_values(
        "mean", ascending=not higher_is_better).iloc[0]
    ci = _ci(top)
    if tied:
        return (f"tied: {', '.join(label(n) for n in names)} ({what}s "
                f"{', '.join(_num(s.loc[n, 'mean']) for n in names)}, all within the best's "
                f"95% CI {ci})")
    return f"best: {label(names[0])} ({what} {_num(top['mean'])}, 95% CI {ci})"


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
