"""Which runs a sweep's tables, findings and figures read, from the rows of ``runs.csv``.

A run belongs to a sweep by its ``group`` (the sweep's ``log.group``, set by every file under
``configs/sweeps/``) or by its ``sweeps`` list (``members``): identical configs in two sweeps
run once, under the first sweep's group, but count for both.

A sweep's study (``study``) is its measured cells, each seed counted once: where any sweep ran
a seed of the same cell (task, model, init, regime, length) at other settings (e.g. another
learning rate or budget), all those runs are pooled, also into a cell this sweep's horizon
search skipped, and the seed counts by the run a
researcher tuning on validation would keep (``tuned``). Every table, finding and figure thus
reads the same run for a seed of a cell, whichever sweep it is drawn for.
"""

from __future__ import annotations

import pandas as pd

from lrd.results.aggregate import HORIZON_KEYS, SKIPPED, tuned, unmeasured

CELL = [*HORIZON_KEYS, "length"]


def members(runs: pd.DataFrame, group: str) -> pd.Series:
    """Whether each run belongs to the sweep ``group``: its ``group``, or its ``sweeps`` list."""
    member = runs["group"] == group
    if "sweeps" in runs:
        member |= runs["sweeps"].fillna("").astype(str).str.split(";").apply(
            lambda names: group in names)
    return member


def sweeps_of(runs: pd.DataFrame) -> list[str]:
    """Every sweep a record belongs to: its ``group`` and its ``sweeps`` list, sorted."""
    if runs.empty or "group" not in runs:
        return []
    names = set(runs["group"].dropna().astype(str))
    if "sweeps" in runs:
        names |= {n for v in runs["sweeps"].dropna().astype(str) for n in v.split(";") if n}
    return sorted(names)


def _measured(runs: pd.DataFrame) -> pd.Series:
    """Completed or diverged runs: failed runs have no metrics, and runs the horizon search
    skipped (status "skipped") are no measurement (``not_run``)."""
    return ~runs["status"].isin(["failed", SKIPPED])


def study(runs: pd.DataFrame, group: str, tune: bool = True) -> pd.DataFrame:
    """The measured runs of the sweep ``group``, one per seed of each cell, pooled over every
    sweep that ran the cell and seed (see the module); ``tune=False``: every run of this
    sweep (what it tried), nothing pooled. Rows keep the order of ``runs``."""
    if runs.empty or "group" not in runs:
        return runs.iloc[0:0]
    measured = _measured(runs)
    own = members(runs, group) & measured
    if not tune:
        return runs[own].reset_index(drop=True)
    key = CELL + ["seed"]
    if set(key) <= set(runs):
        # pool: every measured run of a cell and seed this sweep planned, also where its own
        # run failed (no metrics) or the horizon search skipped it: a measurement another
        # sweep made stands for the seed there (and ``not_run`` no longer lists the cell)
        index = pd.MultiIndex.from_frame(runs[key])
        own = measured & index.isin(index[members(runs, group).to_numpy()])
    return tuned(runs[own]).reset_index(drop=True)


def borrowed(runs: pd.DataFrame, sweeps) -> pd.DataFrame:
    """The runs that a study of ``sweeps`` keeps (``study``) but that its own sweep did not
    run: another sweep's run of the same cell and seed at other settings, which won the
    seed. Each sweep is taken alone, as a figure draws each sweep's panel apart."""
    kept = [k[~members(k, s)] for s in sweeps if not (k := study(runs, s)).empty]
    if not kept:
        return runs.iloc[0:0]
    return pd.concat(kept, ignore_index=True).drop_duplicates("run_id").reset_index(drop=True)


def value_order(v):
    """Numbers in numeric order ("8000" before "16000"), then text."""
    num = pd.to_numeric(v, errors="coerce")
    return (0, float(num), "") if pd.notna(num) else (1, 0.0, str(v))


def borrowed_text(runs: pd.DataFrame, sweeps) -> str:
    """A sentence on ``borrowed`` runs ("" if none): how many seeds of how many cells, which
    sweeps made their runs, and the settings (config values) in which they differ from the
    sweeps' own runs of the same cells."""
    b = borrowed(runs, sweeps)
    if b.empty:
        return ""
    n, cells = len(b), len(b[CELL].drop_duplicates()) if set(CELL) <= set(b) else len(b)
    groups = sorted(set(b["group"].astype(str)))
    own = pd.concat([study(runs, s, tune=False) for s in sweeps], ignore_index=True)
    if set(CELL) <= set(own):   # the sweeps' own runs of the same cells
        cell = pd.MultiIndex.from_frame(own[CELL])
        own = own[cell.isin(pd.MultiIndex.from_frame(b[CELL]))]
    differ = [f"{c.removeprefix('config.')} {'/'.join(sorted(new, key=value_order))}"
              for c in sorted(b)
              if c.startswith("config.") and not c.startswith(UNCOMPARED) and c in own
              and (new := set(b[c].dropna().astype(str)) - set(own[c].dropna().astype(str)))]
    takers = ", ".join(f"`{s}`" for s in sweeps if not borrowed(runs, [s]).empty)
    return (f"Pooled: {n} seed{'' if n == 1 else 's'} of {cells} cell{'' if cells == 1 else 's'}"
            f" of {takers} count{'s' if n == 1 else ''} by {'a run' if n == 1 else 'runs'} that "
            f"{'another sweep' if len(groups) == 1 else 'other sweeps'} made of the same cell "
            f"and seed at other settings ({', '.join(f'`{g}`' for g in groups)}"
            + (f": {', '.join(differ)}" if differ else "") + "): a seed counts by its run with "
            "the best validation score over every sweep that ran it.")


# config columns that are not a setting of the run's training (names, seeds, logging)
UNCOMPARED = ("config.seed", "config.task.length", "config.log.")


def not_run(runs: pd.DataFrame, group: str) -> pd.DataFrame:
    """The runs of one sweep that the horizon search recorded as skipped (``reason``,
    ``failed_at``; no metrics): shown as "not run", never as data. A seed of a cell another
    sweep measured is left out: ``study`` pools that measurement instead."""
    if runs.empty or "group" not in runs:
        return runs.iloc[0:0]
    skipped = runs[members(runs, group) & (runs["status"] == SKIPPED)]
    if set(CELL + ["seed"]) <= set(runs):
        skipped = unmeasured(skipped, runs[_measured(runs)], CELL + ["seed"])
    return skipped.reset_index(drop=True)
