"""Aggregate run records with pandas: ``lrd results`` writes the tables under ``results/``.

- ``runs.csv``: one row per run, flat config columns (``task.length``, ``model.init``, ...),
  final test metrics (``test.accuracy``, ...), metrics at extra lengths (``length.5000.accuracy``),
  ``solved``, ``diverged``, ``status`` and ``steps``. Timing and machine columns go to
  ``timing.csv`` instead, so that ``runs.csv`` is identical when the same runs are repeated.
- ``curves.csv``: every run's training curve, thinned: train metrics averaged over bins of
  ``CURVE_BIN`` steps (stamped with the bin's last step), plus every validation and analysis
  row as logged. The per-step ``metrics.csv`` files stay out of git; figures read this.
- ``horizon.csv``: the memory horizon (``horizon``). For each (task, model, init, regime), the
  largest training length solved by a majority of unique seeds, whether it is censored (the
  longest length measured: "≥ T"), and the same at half and double the solve tolerance.
  "Solved" is each task's own criterion on the fixed test set (``Task.solved``: accuracy >=
  0.99, or MSE < 0.01 for ``adding``), evaluated on the final model of each run.
- ``final_train_length`` (runs.csv): the length the run trained at last (a curriculum's last
  stage; the target length otherwise). ``env.git_dirty`` (timing.csv): the record was made
  from a tree with uncommitted changes.

Runs the horizon search did not run (``lrd.sweeps.runner``: ``status`` "skipped") are rows of
``runs.csv`` too, with their ``reason`` ("not run: every seed failed at T=50"), ``failed_at``,
``failed_steps`` (the step budget of the runs whose failure cut them), ``solved`` False,
``steps`` 0 and no metrics. In ``horizon.csv`` they are no measurement (no seed counts at a
length not run), which leaves every horizon as the full grid's would be if the
failures above ``failed_at`` are real (the search's premise), and uncensored (``failed_at`` was
measured); ``max_length`` is the largest length of the grid, run or not, and a ``not_run``
column (only when some run was not run) names the lengths not run and why, e.g.
"50, 100, 200 not run (failed at T=20 with 4000 steps)". A length another sweep measured (at
a longer budget, say) is no skip. Figures never draw skips as measurements
(``lrd.results.select.study`` pools another sweep's runs there, if any; the horizon figure
marks the rest apart).

Every table is derived from the records alone; nothing is edited by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from lrd.errors import ConfigError
from lrd.models import MODELS
from lrd.tasks import TASKS
from lrd.training import record

HORIZON_KEYS = ["task", "model", "init", "regime"]
SKIPPED = record.SKIPPED
CURVE_BIN = 50
TIMING = ["run_id", "wall_time_s", "train_time_s", "env.device", "env.torch_threads",
          "env.git_commit", "env.git_dirty", "env.torch", "env.lightning"]


def model_label(cfg: dict) -> str:
    """The model as researchers name it (rnn-tanh, rnn-relu, lstm, ...): the ``variant`` of
    the registered class for the recorded parameters; the bare name if no class is registered
    under it."""
    cls = MODELS.get(cfg["model"]["name"])
    return cls.variant(cfg["model"]) if hasattr(cls, "variant") else cfg["model"]["name"]


def memberships(runs_dir) -> dict[str, list[str]]:
    """run id -> the sweeps it belongs to, from the lists sweeps write (lrd/sweeps/)."""
    out: dict[str, list[str]] = {}
    for path in sorted((Path(runs_dir) / "_sweeps").glob("*.txt")):
        for rid in path.read_text().split():
            out.setdefault(rid, []).append(path.stem)
    return out


def collect(runs_dir="results/runs") -> pd.DataFrame:
    """Every complete record under ``runs_dir`` as one flat row each, sorted by run id.

    ``sweeps`` lists every sweep the run belongs to (";"-separated): identical configs in two
    sweeps run once, under the first sweep's ``group``, but count for both."""
    member = memberships(runs_dir)
    rows = []
    for path in sorted(Path(runs_dir).glob("*/record.json")):
        rec = record.read(path.parent)
        if rec is None:
            continue
        cfg = rec["config"]
        row = {"run_id": rec["run_id"], "status": rec["status"],
               "solved": bool(rec.get("solved")), "diverged": bool(rec.get("diverged")),
               "steps": rec.get("steps"), "final_train_length": rec.get("final_train_length"),
               "task": cfg["task"]["name"],
               "model": model_label(cfg), "init": cfg["model"].get("init", "default"),
               "regime": cfg["regime"]["name"], "length": cfg["task"]["length"],
               "seed": cfg["seed"], "group": cfg["log"].get("group"),
               "sweeps": ";".join(member.get(rec["run_id"], [])),
               "baseline_loss": rec.get("baseline_loss"), "error": rec.get("error")}
        if rec["status"] == SKIPPED:   # not run by the horizon search: why, and no metrics
            row.update(reason=rec.get("reason"), failed_at=rec.get("failed_at"),
                       evidence=";".join(rec.get("evidence") or []))
        flat = pd.json_normalize({k: v for k, v in cfg.items() if k != "log"}, sep=".")
        row.update({f"config.{k}": _scalar(v) for k, v in flat.iloc[0].items()})
        metrics = rec.get("metrics") or {}
        row.update({f"val.{k}": v for k, v in (metrics.get("val") or {}).items()})
        row.update({f"test.{k}": v for k, v in (metrics.get("test") or {}).items()})
        for n, m in (metrics.get("lengths") or {}).items():
            row.update({f"length.{n}.{k}": v for k, v in m.items()})
        row.update({k: v for k, v in pd.json_normalize(
            {"wall_time_s": rec.get("wall_time_s"), "train_time_s": rec.get("train_time_s"),
             "env": rec.get("env") or {}}, sep=".").iloc[0].items() if k in TIMING})
        rows.append(row)
    return _failed_steps(pd.DataFrame(rows))


def _failed_steps(runs: pd.DataFrame) -> pd.DataFrame:
    """Each skipped row's ``failed_steps``: the step budget of the runs whose failure cut it
    (its ``evidence``), "/"-joined; the ``evidence`` column itself is dropped. Where a longer
    budget later solved the length, this says which budget failed."""
    if "evidence" not in runs:
        return runs
    steps = runs.set_index("run_id")["config.train.max_steps"] \
        if "config.train.max_steps" in runs else pd.Series(dtype=float)

    def budgets(ids) -> str | None:
        found = sorted({int(steps[i]) for i in str(ids).split(";") if i in steps.index
                        and pd.notna(steps[i])}) if isinstance(ids, str) and ids else []
        return "/".join(map(str, found)) or None
    return runs.assign(failed_steps=runs["evidence"].map(budgets)).drop(columns="evidence")


def curves(runs_dir="results/runs") -> pd.DataFrame:
    """Thinned training curves of every complete run, one table (see module docstring)."""
    parts = []
    for path in sorted(Path(runs_dir).glob("*/record.json")):
        log = path.parent / "metrics.csv"
        if record.read(path.parent) is None or not log.exists():
            continue
        df = pd.read_csv(log).drop(columns=["epoch"], errors="ignore")
        if df.empty or "step" not in df:
            continue
        df = df.groupby("step", sort=True).first().reset_index()
        train = [c for c in df.columns if c.startswith("train/")]
        other = [c for c in df.columns if c != "step" and c not in train]
        binned = (df.dropna(subset=train, how="all")
                  .groupby(df["step"] // CURVE_BIN)
                  .agg({"step": "max", **{c: "mean" for c in train}})
                  .reset_index(drop=True))
        events = df.loc[df[other].notna().any(axis=1), ["step", *other]] if other else None
        part = pd.concat([binned, events]) if events is not None else binned
        part = part.groupby("step", sort=True).first().reset_index()
        part.insert(0, "run_id", path.parent.name)
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["run_id",
                                                                                    "step"])


def _scalar(value):
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def horizon(runs: pd.DataFrame, improving=frozenset()) -> pd.DataFrame:
    """The memory horizon per (task, model, init, regime); one row each, sorted
    (``improving``: see ``not_run``).

    - ``horizon``: the largest length solved by a majority of unique seeds: the seeds solving
      it are more than half of the unique seeds measured there (a seed run at several settings
      there, e.g. two learning rates, counts by one run: ``tuned``). 0: none is.
      Runs not run (status "skipped") and failed runs (crashed: no metrics) are no
      measurement; diverged runs are measured seeds that did not solve.
    - ``censored``: the horizon equals ``longest_run``, the longest length measured in the
      group, so the true horizon may be longer ("≥ T"). A horizon below a measured length
      where the seeds failed, or below lengths not run, is not censored.
    - ``horizon_strict`` / ``horizon_loose``: the same with the solve tolerance halved /
      doubled (``tolerance_threshold``), from the final test metric; empty where the metric
      is missing.
    - ``max_length``: the largest length of the grid, run or not; ``seeds``: the fewest unique
      seeds measured at any length; ``not_run`` (only when some run was skipped): see
      ``not_run``.
    """
    cols = [*HORIZON_KEYS, "horizon", "censored", "horizon_strict", "horizon_loose",
            "max_length", "longest_run", "seeds"]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    status = runs["status"] if "status" in runs else pd.Series("complete", index=runs.index)
    is_skipped = status == SKIPPED
    measured = tuned(runs[~status.isin([SKIPPED, "failed"])])
    out = pd.DataFrame(index=runs.groupby(HORIZON_KEYS).size().index)
    if len(measured):
        solved = flag(measured, "solved")
        out["horizon"] = _horizon_of(measured, solved)
        for col, factor in (("horizon_strict", 0.5), ("horizon_loose", 2.0)):
            out[col] = _horizon_of(measured, solved_at(measured, factor))
        out["longest_run"] = measured.groupby(HORIZON_KEYS)["length"].max()
        per_length = measured.groupby([*HORIZON_KEYS, "length"])["seed"].nunique()
        out["seeds"] = per_length.groupby(HORIZON_KEYS).min()
    out["max_length"] = runs.groupby(HORIZON_KEYS)["length"].max()
    for col in ("horizon", "longest_run", "seeds"):
        out[col] = out.get(col, pd.Series(dtype=float)).reindex(out.index).fillna(0).astype(int)
    for col in ("horizon_strict", "horizon_loose"):
        out[col] = out.get(col, pd.Series(dtype=float)).reindex(out.index).astype("Int64")
    out["censored"] = (out["horizon"] > 0) & (out["horizon"] == out["longest_run"])
    out = out.reset_index()[cols]
    if is_skipped.any():
        # a length another sweep measured is no skip, whichever sweep skipped it
        skipped = unmeasured(runs[is_skipped], measured, [*HORIZON_KEYS, "length"])
        out["not_run"] = [not_run(skipped[(skipped[HORIZON_KEYS] == tuple(k)).all(axis=1)],
                                  improving)
                          for k in out[HORIZON_KEYS].itertuples(index=False)]
    return out.sort_values(HORIZON_KEYS).reset_index(drop=True)


def unmeasured(skipped: pd.DataFrame, measured: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """The rows of ``skipped`` whose ``key`` (a cell, or a cell and seed) no row of
    ``measured`` has: a skip that another sweep measured is no skip."""
    if skipped.empty or measured.empty or not set(key) <= set(skipped) & set(measured):
        return skipped
    done = pd.MultiIndex.from_frame(measured[key])
    return skipped[~pd.MultiIndex.from_frame(skipped[key]).isin(done)]


def flag(rows: pd.DataFrame, col: str) -> pd.Series:
    """A boolean column as read back from CSV ("True", "true", "1", True): True where set."""
    return rows[col].astype(str).str.lower().isin(["true", "1"])


def is_diverged(rows: pd.DataFrame) -> pd.Series:
    """Per run: whether it diverged, by its ``diverged`` flag or its status "diverged" (the one
    definition of every table, figure and selection)."""
    out = pd.Series(False, index=rows.index)
    if "diverged" in rows:
        out |= flag(rows, "diverged")
    if "status" in rows:
        out |= (rows["status"] == "diverged").to_numpy()
    return out


def tuned(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with one run per seed of each cell (task, model, init, regime, length), in
    their order: where a seed was run at several settings (e.g. two learning rates), the run
    that a researcher tuning on validation would keep. Diverged runs (``is_diverged``) rank
    last, whatever validation score they logged before blowing up; then the best last
    validation score, the task's ``solved_metric`` on the validation set (``val.<metric>``,
    the final model's when the run stopped early or its budget is a multiple of
    ``val_every``; never the test set, whose scores are then reported unbiased), a run
    without one after any run with one; then run id. Rows with one run per seed, or without
    the key columns, are returned as they are."""
    keys = [*HORIZON_KEYS, "length", "seed"]
    if rows.empty or not set(keys) <= set(rows) or not rows.duplicated(keys).any():
        return rows
    score = np.full(len(rows), -np.inf)
    for name, pos in rows.reset_index(drop=True).groupby("task").indices.items():
        cls = TASKS.get(name)
        col = f"val.{cls.solved_metric}" if cls is not None else None
        if col in rows:
            v = pd.to_numeric(rows[col].iloc[pos], errors="coerce").to_numpy(dtype=float)
            v = v if cls.solved_higher_is_better else -v
            score[pos] = np.where(np.isnan(v), -np.inf, v)
    order = rows[keys].reset_index(drop=True).assign(
        _div=is_diverged(rows).to_numpy(), _score=score, _pos=np.arange(len(rows)),
        _id=rows["run_id"].astype(str).to_numpy() if "run_id" in rows else "")
    order = order.sort_values(["_div", "_score", "_id"], ascending=[True, False, True],
                              kind="stable")
    return rows.iloc[np.sort(order.loc[~order.duplicated(keys), "_pos"].to_numpy())]


def tolerance_threshold(task_cls, factor: float = 1.0) -> float:
    """The solve threshold of ``task_cls`` with its tolerance scaled by ``factor``.

    The tolerance is the distance from a perfect score that still counts as solved: for a
    higher-is-better metric (accuracy) the error ``1 - solved_threshold`` (0.99 -> 0.01), for a
    lower-is-better one (MSE) the threshold itself (0.01). ``factor`` 0.5 is the strict
    threshold (accuracy >= 0.995, MSE < 0.005), 2 the loose one (accuracy >= 0.98, MSE < 0.02).
    Read from the task class (``solved_metric``, ``solved_threshold``,
    ``solved_higher_is_better``), never from its name."""
    t = float(task_cls.solved_threshold)
    if task_cls.solved_higher_is_better:
        return 1.0 - factor * (1.0 - t)
    return factor * t


def solved_at(runs: pd.DataFrame, factor: float) -> pd.Series:
    """Per row: solved at the tolerance scaled by ``factor`` (``tolerance_threshold``), from
    the final test metric ``test.<solved_metric>``. Only completed runs can solve (a diverged,
    failed or skipped run never does); NaN where the task is not registered or its metric
    column is absent, so that no horizon is made from a missing number."""
    out = pd.Series(np.nan, index=runs.index, dtype=object)
    status = runs["status"] if "status" in runs else pd.Series("complete", index=runs.index)
    diverged = is_diverged(runs)
    for name, idx in runs.groupby("task").groups.items():
        cls = TASKS.get(name)
        col = f"test.{cls.solved_metric}" if cls is not None else None
        if col is None or col not in runs:
            continue
        value = pd.to_numeric(runs.loc[idx, col], errors="coerce")
        cut = tolerance_threshold(cls, factor)
        ok = value >= cut if cls.solved_higher_is_better else value < cut
        out.loc[idx] = (ok & (status.loc[idx] == "complete") & ~diverged.loc[idx]).astype(bool)
    return out


def _horizon_of(runs: pd.DataFrame, solved: pd.Series) -> pd.Series:
    """Per group of ``HORIZON_KEYS``: the largest length whose seeds mostly solve it (see
    ``horizon``), from the per-row ``solved`` (NaN rows: the group's horizon is NaN)."""
    d = runs[[*HORIZON_KEYS, "length", "seed"]].assign(solved=solved.values)
    unknown = d.groupby(HORIZON_KEYS)["solved"].apply(lambda s: s.isna().any())
    d["solved"] = d["solved"].fillna(False).astype(bool)
    seeds = d.groupby([*HORIZON_KEYS, "length", "seed"])["solved"].any().reset_index()
    counts = seeds.groupby([*HORIZON_KEYS, "length"]).agg(
        seeds=("seed", "size"), solved=("solved", "sum")).reset_index()
    counts = counts[2 * counts["solved"] > counts["seeds"]]
    best = counts.groupby(HORIZON_KEYS)["length"].max()
    out = pd.Series(0.0, index=unknown.index)
    out.loc[best.index] = best.astype(float)
    out[unknown] = np.nan
    return out


def length_symbol(task: str | None, unknown: str = "T") -> str:
    """The letter of a task's length (``Task.length_symbol``: T, D, L); ``unknown`` for a task
    not registered."""
    return getattr(TASKS.get(task), "length_symbol", unknown) if task else unknown


def not_run(skipped: pd.DataFrame, improving=frozenset()) -> str:
    """The lengths of ``skipped`` (rows of one group) and why: "50, 100 not run (failed at
    T=20)", with the task's length letter (D=20 for delayed recall); "" if none.
    ``improving``: the cells (task, model, init, regime, length) whose failed seeds were still
    improving when their step budget ran out (``lrd.results.budget``); a failure that skipped
    the lengths and is one of them is said to be so, since the search may then have stopped
    for want of steps."""
    if skipped.empty:
        return ""
    lengths = ", ".join(str(int(n)) for n in sorted(skipped["length"].unique()))
    failed = sorted(int(t) for t in pd.to_numeric(skipped["failed_at"], errors="coerce").dropna()
                    .unique()) if "failed_at" in skipped else []
    key = tuple(skipped[HORIZON_KEYS].iloc[0]) if set(HORIZON_KEYS) <= set(skipped) else ()
    limited = [t for t in failed if (*key, t) in improving]
    sym = length_symbol(key[0] if key else None)
    why = f" (failed at {failed_text(skipped, failed, sym)}" if failed else ""
    if limited:
        where = "there" if limited == failed else f"at {sym}=" + "/".join(map(str, limited))
        why += f", still improving {where} {budget_text(improving, key, limited)}"
    return f"{lengths} not run{why}{')' if failed else ''}"


def budget_text(improving, key: tuple, lengths: list[int]) -> str:
    """"when their step budget ran out", or where ``improving`` maps each cell to the budget its
    verdict read (``lrd.results.budget.improving``): "at the end of 16000 steps". That budget
    can be longer than the one that failed and cut the search (``failed_text``)."""
    found = [improving.get((*key, t)) for t in lengths] if isinstance(improving, dict) else []
    budgets = sorted({b for v in found if v for b in v.split("/")}, key=float)
    return (f"at the end of {'/'.join(budgets)} steps" if budgets
            else "when their step budget ran out")


def failed_text(skipped: pd.DataFrame, failed: list[int], sym: str) -> str:
    """"T=10/20", or with the evidence's step budgets where runs.csv has them
    (``failed_steps``): "T=10 with 4000 steps and T=20 with 16000 steps"."""
    if "failed_steps" not in skipped or skipped["failed_steps"].isna().all():
        return f"{sym}={'/'.join(map(str, failed))}"
    at = pd.to_numeric(skipped["failed_at"], errors="coerce")
    parts = []
    for t in failed:
        steps = sorted({int(float(b)) for v in skipped.loc[at == t, "failed_steps"].dropna()
                        for b in str(v).split("/")})   # read back from CSV: "4000.0" or "4000/8000"
        parts.append(f"{sym}={t}" + (f" with {'/'.join(map(str, steps))} steps" if steps
                                     else ""))
    return " and ".join(parts)


def write(runs_dir="results/runs", dest="results") -> dict[str, Path]:
    """Write runs.csv, timing.csv, horizon.csv and curves.csv under ``dest``; return their paths.

    A run whose per-step log is not here (a fresh clone: metrics.csv stays out of git) keeps
    its rows of the existing curves.csv, so aggregating again never loses committed curves."""
    if not Path(runs_dir).is_dir():
        raise ConfigError(f"no run folder at {runs_dir}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    runs = collect(runs_dir)
    timing_cols = [c for c in TIMING if c in runs.columns]
    out = {"runs": dest / "runs.csv", "timing": dest / "timing.csv",
           "horizon": dest / "horizon.csv", "curves": dest / "curves.csv"}
    table = runs.drop(columns=[c for c in timing_cols if c != "run_id"])
    _atomic_csv(table, out["runs"])
    _atomic_csv(runs[timing_cols] if timing_cols else pd.DataFrame(), out["timing"])
    _atomic_csv(horizon(runs), out["horizon"])
    _atomic_csv(_keep_old_curves(curves(runs_dir), out["curves"], set(runs.get("run_id", []))),
                out["curves"])
    return out


def _keep_old_curves(new: pd.DataFrame, path: Path, run_ids: set) -> pd.DataFrame:
    if not path.exists():
        return new
    old = pd.read_csv(path)
    if old.empty or "run_id" not in old:
        return new
    keep = old[old["run_id"].isin(run_ids - set(new["run_id"]))]
    if keep.empty:
        return new
    merged = pd.concat([new, keep], ignore_index=True)
    return merged.sort_values(["run_id", "step"], kind="stable").reset_index(drop=True)


def _atomic_csv(df: pd.DataFrame, path: Path) -> None:
    record.write_atomic(path, df.to_csv(index=False, float_format="%.6g"))
