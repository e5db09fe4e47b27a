"""What the figures read, from ``results/`` alone: ``runs.csv`` (or, if it is missing, the
records under ``results/runs/`` aggregated the same way by ``lrd.results.collect``), and per
run ``results/curves.csv`` (thinned training curves) and ``analysis_{init,end}.npz``.

A figure draws the study of one sweep (``lrd.results.select.study``): its cells, one run per
seed, pooled with every other sweep's runs of the same cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from lrd import results as resultslib
from lrd.errors import ConfigError
from lrd.figures import style
from lrd.results import stats as resultslib_stats
from lrd.results.select import members, not_run, study, sweeps_of  # noqa: F401


@dataclass
class Made:
    """A figure that was drawn: its files, and the text the report shows beside it."""
    name: str
    title: str
    caption: str                      # what is plotted and how to read it
    sweeps: list[str]                 # the sweep files it comes from
    files: list[Path]
    findings: list[str] = field(default_factory=list)   # data-driven sentences


@dataclass
class Skipped:
    name: str
    title: str
    note: str
    sweeps: list[str] = field(default_factory=list)


def require_results(results_dir) -> Path:
    """``results_dir`` as a Path; ConfigError unless it is a folder with ``runs.csv`` (written
    by ``lrd results``), so that nothing is drawn or written into a folder that is not one."""
    results_dir = Path(results_dir)
    if not (results_dir / "runs.csv").is_file():
        what = "no such folder" if not results_dir.is_dir() else "no runs.csv in it"
        raise ConfigError(f"{results_dir}: not a results folder ({what}; "
                          "`lrd results` writes runs.csv)")
    return results_dir


def load_runs(results_dir) -> pd.DataFrame:
    """One row per run, as in ``runs.csv``; sorted by run id."""
    results_dir = Path(results_dir)
    csv = results_dir / "runs.csv"
    if csv.exists() and csv.stat().st_size > 1:
        runs = pd.read_csv(csv)
    else:
        runs = resultslib.collect(results_dir / "runs")
    if runs.empty:
        return runs
    runs["solved"] = resultslib.flag(runs, "solved")
    return runs.sort_values("run_id").reset_index(drop=True)


def analysed(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(kept, left_out)``: the rule of every figure and finding that reads a run's
    end-of-training analysis (the record's ``analysis.end``, ``analysis_end.npz``).

    A diverged run is left out whole: its final weights are those of a blown-up model, and
    its end analysis is skipped or, where it was taken at the blow-up, holds infinite norms.
    Its analysis at initialisation and its periodic logs go with it, so that every analysis
    figure counts the same seeds. Findings say how many runs were left out (``seeds_text``)."""
    out = resultslib.is_diverged(rows)
    return rows[~out], rows[out]


def left_out_text(n: int, what: str = "") -> str:
    """"1 diverged run left out", "3 diverged runs left out<what>"; "" for none."""
    return f"{n} diverged run{'' if n == 1 else 's'} left out{what}" if n else ""


def seeds_text(n: int, left_out: int = 0) -> str:
    """"3 seeds", "1 seed; 2 diverged runs left out" (``analysed``)."""
    return f"{n} seed{'' if n == 1 else 's'}" + (f"; {left_out_text(left_out)}"
                                                  if left_out else "")


def diverged_note(n: int, what: str = "") -> str:
    """A caption sentence for ``n`` diverged runs left out (of ``what``) by ``analysed`` (""
    for none)."""
    return (f" {left_out_text(n, what).capitalize()}: the final weights of a diverged run are "
            "those of a blown-up model." if n else "")


def diverged_caption(left: dict, drawn, label=None) -> str:
    """The caption sentences for the diverged runs that ``analysed`` left out: ``left`` maps a
    cell to its diverged runs left out, ``drawn`` holds the cells drawn. How many runs were
    left out of drawn cells (``diverged_note``), then ``lost_text``."""
    return (diverged_note(sum(n for k, n in left.items() if k in drawn))
            + lost_text(left, drawn, label))


def lost_text(left: dict, drawn, label=None) -> str:
    """A caption sentence naming the cells of ``left`` (cell -> diverged runs left out) that
    are not ``drawn`` at all, so that no cell with a diverged run vanishes unsaid ("" if
    none). ``label``: a cell's name (default: a (model, init) pair, as
    "RNN (ReLU), identity")."""
    label = label or (lambda k: f"{style.model_label(k[0])}, {k[1]}")
    lost = [k for k, n in left.items() if n and k not in drawn]
    if not lost:
        return ""
    return (" Not drawn (diverged runs left out, and no other run drawn): " + "; ".join(
        f"{label(k)} ({left[k]} diverged)" for k in sorted(lost, key=str)) + ".")


def _plain(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value


def task_params(rows: pd.DataFrame) -> dict:
    """The task's parameters (besides name and length) shared by ``rows``."""
    params = {}
    for col in rows.columns:
        if not col.startswith("config.task.") or col in ("config.task.name",
                                                          "config.task.length"):
            continue
        vals = rows[col].dropna().unique()
        if len(vals) == 1:
            params[col[len("config.task."):]] = _plain(vals[0])
    return params


@lru_cache(maxsize=None)
def _task(name: str, params: tuple):
    import lrd.tasks
    return lrd.tasks.make(name, **dict(params))


def task(name: str, rows: pd.DataFrame | None = None):
    """The ``lrd.tasks`` object of ``name`` with the parameters the runs used."""
    params = task_params(rows) if rows is not None else {}
    return _task(name, tuple(sorted(params.items())))


@dataclass(frozen=True)
class Metric:
    name: str          # e.g. "accuracy" or "mse"
    label: str         # axis label
    log: bool          # plot on a log axis
    higher_is_better: bool
    threshold: float   # Task.solved_threshold


def metric(t) -> Metric:
    """The metric that decides "solved" for task ``t`` (``Task.solved_metric``)."""
    name = t.solved_metric
    label = {"accuracy": "test accuracy", "mse": "test MSE"}.get(name, f"test {name}")
    return Metric(name, label, name in ("mse", "loss"), t.solved_higher_is_better,
                  t.solved_threshold)


def baseline(t, m: Metric, length: int) -> float:
    """The memoryless baseline of metric ``m`` at ``length`` (analytic, from the task)."""
    if m.name == "accuracy":
        return float(t.baseline_accuracy(int(length)))
    return float(t.baseline_loss(int(length)))  # mse: the loss is the MSE (1/6 on adding)


def run_dir(results_dir, run_id: str) -> Path:
    return Path(results_dir) / "runs" / run_id


def metrics_csv(results_dir, run_id: str) -> pd.DataFrame | None:
    """A run's training curve from ``results/curves.csv`` (thinned, one row per step), or None.

    The per-step ``metrics.csv`` files are not committed; ``lrd results`` thins them into
    curves.csv (train metrics averaged over 50-step bins, every validation/analysis row)."""
    path = Path(results_dir) / "curves.csv"
    table = _curves(str(path), path.stat().st_mtime_ns if path.exists() else 0)
    if table is None:
        return None
    df = table[table["run_id"] == run_id].drop(columns=["run_id"])
    df = df.dropna(axis=1, how="all")
    return df.reset_index(drop=True) if len(df) else None


@lru_cache(maxsize=4)
def _curves(path: str, mtime: int) -> pd.DataFrame | None:
    return pd.read_csv(path) if Path(path).exists() else None


def analysis_npz(results_dir, run_id: str, label: str) -> dict | None:
    """``analysis_<label>.npz`` of a run as a dict of arrays, or None (absent or skipped)."""
    path = run_dir(results_dir, run_id) / f"analysis_{label}.npz"
    if not path.exists():
        return None
    with np.load(path) as z:
        d = {k: z[k] for k in z.files}
    return None if "skipped" in d else d


def fmt(value, digits: int = 3) -> str:
    """A number for a sentence: NaN as 'n/a', integers plain, else ``digits`` significant."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if float(value).is_integer() and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.{digits}g}"


def ci_text(values) -> str:
    """"mean [lo, hi]" of per-seed values, the seed mean and its 95% bootstrap CI ("[n/a: one
    seed]" for one)."""
    ci = resultslib_stats.mean_ci(values)
    band = f"[{fmt(ci.low)}, {fmt(ci.high)}]" if np.isfinite(ci.low) else "[n/a: one seed]"
    return f"{fmt(ci.mean)} {band}"


def horizon_value(row) -> tuple[float, bool]:
    """``(length, censored)`` of one row of ``lrd.results.horizon``, whatever its columns: a
    number (0 or NaN: none), or text such as "≥ 500"; censored when a ``censored`` column says
    so or the text starts with "≥". ``(0, False)`` for no horizon."""
    v = row.get("horizon")
    cens = row.get("censored", False)
    cens = bool(cens) if isinstance(cens, (bool, np.bool_)) else str(cens).lower() == "true"
    if isinstance(v, str):
        text = v.strip()
        cens = cens or text.startswith(("≥", ">="))
        v = pd.to_numeric(text.lstrip("≥>= "), errors="coerce")
    v = float(v) if v is not None and np.isfinite(float(v)) else 0.0
    return (v, cens and v > 0) if v > 0 else (0.0, False)


def horizon_text(row, symbol: str = "") -> str:
    """One horizon row as words: "none", "40" or "≥ 500" (censored); with ``symbol`` "T = 40"
    or "T ≥ 500"."""
    return horizon_words(*horizon_value(row), symbol)


def horizon_words(v: float, censored: bool, symbol: str = "") -> str:
    if v <= 0:
        return "none"
    if symbol:
        return f"{symbol} {'≥' if censored else '='} {fmt(v)}"
    return ("≥ " if censored else "") + fmt(v)


def read_record(results_dir, run_id: str) -> dict:
    """A run's record.json as a dict, or {} (absent or unreadable)."""
    path = run_dir(results_dir, run_id) / "record.json"
    return _record(str(path), path.stat().st_mtime_ns if path.exists() else 0)


@lru_cache(maxsize=4096)
def _record(path: str, mtime: int) -> dict:
    import json

    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def run_summary(results_dir, run_id: str, label: str = "end") -> dict:
    """The record's ``analysis.<label>`` summary (lrd/analysis/summary.py ``summarize``; "end"
    is computed on the final weights in on_train_end), or {}."""
    out = (read_record(results_dir, run_id).get("analysis") or {}).get(label) or {}
    return {} if "skipped" in out else out
