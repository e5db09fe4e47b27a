"""Scores over seeds: the seed mean and its 95% bootstrap CI (``lrd.results.stats.mean_ci``) of
a normalised score, per (task, model, init, regime, length).

- **Normalised loss** (``LOSS_RATIO``): the final test loss over the task's memoryless baseline
  loss at the training length, ``test.loss / baseline_loss`` (1: no better than remembering
  nothing; 0: perfect).
- **Accuracy**: ``test.accuracy`` at the training length, ``length.<n>.accuracy`` at a test
  length n (``train.eval_lengths``); tasks without an accuracy (adding) have none.

Definitions shared by every table and the literature section:

- The measured runs are the completed and diverged ones; failed runs (no metrics) and runs the
  horizon search did not run (status "skipped") are no measurement.
- One seed is one value: a seed run at several settings of one cell (e.g. two learning rates)
  counts by its run with the best validation score (``lrd.results.aggregate.tuned``; never the
  test score). Non-finite values (a diverged run's NaN loss) are left out of the
  mean and the CI, never out of the seed count.
- ``solved``: the seeds with a solved run (``Task.solved`` on the final model), out of
  ``seeds``, the unique seeds measured.
- ``diverged``: the seeds every run of which diverged (``diverged`` set): they have no finite
  score, so they are in ``seeds`` but not in the mean; a seed with one finite run has a score.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lrd.results.aggregate import HORIZON_KEYS, SKIPPED, flag, is_diverged, tuned
from lrd.results.stats import MeanCI, mean_ci

KEYS = [*HORIZON_KEYS, "length"]
LOSS_RATIO = "score.loss_ratio"   # the column ``measured`` adds
MIN_SEEDS = 3    # a finding or verdict rests on at least 3 seeds (SPEC §7)
LOSS_CUT = 0.9   # normalised loss below 0.9: clearly below the memoryless baseline


def measured(runs: pd.DataFrame, tune: bool = True) -> pd.DataFrame:
    """The completed and diverged runs, one per seed of each cell (``tuned``; every one with
    ``tune=False``), with the normalised loss in ``LOSS_RATIO``."""
    if runs.empty:
        return runs.assign(**{LOSS_RATIO: pd.Series(dtype=float)})
    status = runs["status"] if "status" in runs else pd.Series("complete", index=runs.index)
    rows = runs[~status.isin(["failed", SKIPPED])]
    rows = (tuned(rows) if tune else rows).copy()
    loss = _numeric(rows, "test.loss")
    base = _numeric(rows, "baseline_loss")
    rows[LOSS_RATIO] = loss / base.where(base > 0)
    return rows.reset_index(drop=True)


def _numeric(rows: pd.DataFrame, col: str) -> pd.Series:
    if col not in rows:
        return pd.Series(np.nan, index=rows.index, dtype=float)
    return pd.to_numeric(rows[col], errors="coerce").astype(float)


def seed_values(rows: pd.DataFrame, col: str) -> list[float]:
    """One value per unique seed of ``rows``: the mean of its finite ``col`` values (NaN if
    none), in seed order."""
    v = _numeric(rows, col)
    v = v.where(np.isfinite(v))
    return [float(x) for x in v.groupby(rows["seed"]).mean().sort_index()]


def seed_ci(rows: pd.DataFrame, col: str) -> MeanCI:
    """``mean_ci`` of ``seed_values``: NaN if no seed has a finite value."""
    return mean_ci(seed_values(rows, col))


def solved_seeds(rows: pd.DataFrame) -> int:
    """Unique seeds of ``rows`` with a solved run."""
    if rows.empty:
        return 0
    solved = flag(rows, "solved")
    return int(rows.loc[solved, "seed"].nunique())


def diverged_seeds(rows: pd.DataFrame) -> int:
    """Unique seeds of ``rows`` every run of which diverged (``is_diverged``)."""
    if rows.empty:
        return 0
    return int(is_diverged(rows).groupby(rows["seed"]).all().sum())


def scores(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (task, model, init, regime, length), sorted: ``seeds``, ``solved``, ``diverged``,
    and mean, low and high of the normalised loss (``loss``, ``loss_lo``, ``loss_hi``) and of
    the accuracy (``acc``, ``acc_lo``, ``acc_hi``; NaN where the task has no accuracy or no
    seed a finite one)."""
    cols = [*KEYS, "seeds", "solved", "diverged", "loss", "loss_lo", "loss_hi", "acc", "acc_lo",
            "acc_hi"]
    rows = measured(runs)
    if rows.empty:
        return pd.DataFrame(columns=cols)
    out = []
    for key, g in rows.groupby(KEYS, sort=True):
        loss, acc = seed_ci(g, LOSS_RATIO), seed_ci(g, "test.accuracy")
        out.append({**dict(zip(KEYS, key)), "seeds": int(g["seed"].nunique()),
                    "solved": solved_seeds(g), "diverged": diverged_seeds(g),
                    "loss": loss.mean, "loss_lo": loss.low, "loss_hi": loss.high,
                    "acc": acc.mean, "acc_lo": acc.low, "acc_hi": acc.high})
    return pd.DataFrame(out, columns=cols)


def ci_text(ci: MeanCI, decimals: int = 3) -> str:
    """"mean [low, high]" with ``decimals`` places; "mean [–]" for one seed (no interval);
    "–" for no value."""
    if ci.mean is None or math.isnan(ci.mean):
        return "–"
    if math.isnan(ci.low) or math.isnan(ci.high):
        return f"{ci.mean:.{decimals}f} [–]"
    return f"{ci.mean:.{decimals}f} [{ci.low:.{decimals}f}, {ci.high:.{decimals}f}]"
