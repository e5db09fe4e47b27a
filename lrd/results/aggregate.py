"""Aggregate run records with pandas: ``lrd results`` writes the tables under ``results/``.

- ``runs.csv``: one row per run, flat config columns (``task.length``, ``model.init``, ...),
  final test metrics (``test.accuracy``, ...), metrics at extra lengths (``length.5000.accuracy``),
  ``solved``, ``diverged``, ``status`` and ``steps``. Timing and machine columns go to
  ``timing.csv`` instead, so that ``runs.csv`` is identical when the same runs are repeated.
- ``curves.csv``: every run's training curve, thinned: train metrics averaged over bins of
  ``CURVE_BIN`` steps (stamped with the bin's last step), plus every validation and analysis
  row as logged. The per-step ``metrics.csv`` files stay out of git; figures read this.
- ``horizon.csv``: the memory horizon. For each (task, model, init, regime), the largest training
  length solved in at least half of its seeds, with the number of seeds. "Solved" is each task's
  own criterion on the fixed test set (``Task.solved``: accuracy >= 0.99, or MSE < 0.01 for
  ``adding``), evaluated on the final model of each run.

Runs the horizon search did not run (``lrd.sweeps.runner``: ``status`` "skipped") are rows of
``runs.csv`` too, with their ``reason`` ("not run: every seed failed at T=50") and ``failed_at``,
``solved`` False, ``steps`` 0 and no metrics. In ``horizon.csv`` they count as not solved, which
leaves every horizon as the full grid's would be if the failures above ``failed_at`` are real
(the search's premise); ``max_length`` is the largest length of the grid, run or not, and a
``not_run`` column (only when some run was not run) names the lengths not run and why, e.g.
"50, 100, 200 not run (failed at T=20)". Figures never draw them as measurements
(``lrd.figures.data.study`` leaves them out; the horizon figure marks them apart).

Every table is derived from the records alone; nothing is edited by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from lrd.errors import ConfigError
from lrd.models import MODELS
from lrd.training import record

HORIZON_KEYS = ["task", "model", "init", "regime"]
SKIPPED = record.SKIPPED
CURVE_BIN = 50
TIMING = ["run_id", "wall_time_s", "train_time_s", "env.device", "env.torch_threads",
          "env.git_commit", "env.torch", "env.lightning"]


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
               "steps": rec.get("steps"), "task": cfg["task"]["name"],
               "model": model_label(cfg), "init": cfg["model"].get("init", "default"),
               "regime": cfg["regime"]["name"], "length": cfg["task"]["length"],
               "seed": cfg["seed"], "group": cfg["log"].get("group"),
               "sweeps": ";".join(member.get(rec["run_id"], [])),
               "baseline_loss": rec.get("baseline_loss"), "error": rec.get("error")}
        if rec["status"] == SKIPPED:   # not run by the horizon search: why, and no metrics
            row.update(reason=rec.get("reason"), failed_at=rec.get("failed_at"))
        flat = pd.json_normalize({k: v for k, v in cfg.items() if k != "log"}, sep=".")
        row.update({f"config.{k}": _scalar(v) for k, v in flat.iloc[0].items()})
        metrics = rec.get("metrics") or {}
        row.update({f"test.{k}": v for k, v in (metrics.get("test") or {}).items()})
        for n, m in (metrics.get("lengths") or {}).items():
            row.update({f"length.{n}.{k}": v for k, v in m.items()})
        row.update({k: v for k, v in pd.json_normalize(
            {"wall_time_s": rec.get("wall_time_s"), "train_time_s": rec.get("train_time_s"),
             "env": rec.get("env") or {}}, sep=".").iloc[0].items() if k in TIMING})
        rows.append(row)
    return pd.DataFrame(rows)


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


def horizon(runs: pd.DataFrame) -> pd.DataFrame:
    """Largest length solved in >= half the seeds, per (task, model, init, regime)."""
    if runs.empty:
        return pd.DataFrame(columns=[*HORIZON_KEYS, "horizon", "max_length", "seeds"])
    per_length = (runs.groupby([*HORIZON_KEYS, "length"])
                  .agg(seeds=("seed", "nunique"), solved=("solved", "sum")).reset_index())
    per_length["ok"] = 2 * per_length["solved"] >= per_length["seeds"]
    skipped = runs[runs["status"] == SKIPPED] if "status" in runs else runs.iloc[0:0]
    rows = []
    for key, g in per_length.groupby(HORIZON_KEYS):
        ok = g.loc[g["ok"], "length"]
        rows.append({**dict(zip(HORIZON_KEYS, key)),
                     "horizon": int(ok.max()) if len(ok) else 0,
                     "max_length": int(g["length"].max()),
                     "seeds": int(g["seeds"].min())})
        if len(skipped):
            rows[-1]["not_run"] = not_run(skipped[(skipped[HORIZON_KEYS] == key).all(axis=1)])
    return pd.DataFrame(rows).sort_values(HORIZON_KEYS).reset_index(drop=True)


def not_run(skipped: pd.DataFrame) -> str:
    """The lengths of ``skipped`` (rows of one group) and why: "50, 100 not run (failed at
    T=20)"; "" if none."""
    if skipped.empty:
        return ""
    lengths = ", ".join(str(int(n)) for n in sorted(skipped["length"].unique()))
    failed = sorted(int(t) for t in pd.to_numeric(skipped["failed_at"], errors="coerce").dropna()
                    .unique()) if "failed_at" in skipped else []
    why = f" (failed at T={'/'.join(map(str, failed))})" if failed else ""
    return f"{lengths} not run{why}"


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
