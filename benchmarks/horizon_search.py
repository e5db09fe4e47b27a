"""Horizon search against the full grid on ``horizon_copy`` at lengths 10, 20, 50, 100, 200
(``PROFILE``, the study's scale; the committed table was measured at an earlier, smaller scale:
1500 steps, 2 seeds, before the literature study): the runs and training steps each costs, and whether both give the same
horizon table. Writes ``results/bench/horizon_search.csv`` and ``results/bench/horizon_search.png``.

The sweep is ``configs/sweeps/horizon_copy.yaml`` with those lengths and without anchors (a copy
written to ``.lrd/bench/horizon_copy.yaml``; W&B logging and the analysis callback off, neither
of which changes a run's id or numbers). Both sweeps are resumable, so they run in slices:

    python benchmarks/horizon_search.py --run full     # the full grid: .lrd/bench/horizon_full
    python benchmarks/horizon_search.py --run search   # the search:    .lrd/bench/horizon_search
    python benchmarks/horizon_search.py                # the table and the figure

The table counts only what is recorded: if the full grid is unfinished, its row says how many
of its runs are missing, and the horizon tables are compared over the lengths where the full
grid is complete (``compared_lengths``). Beside this measurement, the table replays the search
on the committed full grids of every ``horizon_*`` sweep (``results/runs.csv``, read only): the
runner's rule (``lrd.sweeps.next_cut``) applied to their recorded outcomes, rows
``source = replay``; no run is trained for those. A slice stopped by its time limit leaves its
runs in flight recorded as failed (SIGTERMException); the runner reruns them on the next slice.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lrd import results, sweeps  # noqa: E402

LENGTHS = [10, 20, 50, 100, 200]
PROFILE = "literature"
BENCH = ROOT / ".lrd" / "bench"
SWEEP = BENCH / "horizon_copy.yaml"
OUT = {"full": BENCH / "horizon_full", "search": BENCH / "horizon_search"}
DEST = ROOT / "results" / "bench"


def write_sweep() -> Path:
    """The horizon_copy sweep file at LENGTHS, opted in to the search without anchors."""
    raw = yaml.safe_load((ROOT / "configs/sweeps/horizon_copy.yaml").read_text())
    raw["parameters"]["task.length"] = {"values": LENGTHS}
    raw["parameters"]["log.wandb"] = {"value": False}
    raw["parameters"]["analysis.enabled"] = {"value": False}
    raw["lrd"] = {"horizon_search": {"always": []}}
    BENCH.mkdir(parents=True, exist_ok=True)
    SWEEP.write_text(yaml.safe_dump(raw, sort_keys=False))
    return SWEEP


def run(which: str, workers: int) -> None:
    counts = sweeps.run(write_sweep(), workers=workers, profile=PROFILE, out=str(OUT[which]),
                        full_grid=which == "full")
    counts.pop("errors")
    print(which, counts)


COLS = ["task", "model", "init", "regime", "horizon"]


def compare(sweep: str, source: str, full: pd.DataFrame, search: pd.DataFrame,
            planned: int, lengths: list[int]) -> list[dict]:
    """Rows of the table for one pair: runs and training steps of each, and whether the
    horizon tables (horizon per task, model, init, regime) are equal."""
    same = bool(len(full)) and results.horizon(full)[COLS].equals(results.horizon(search)[COLS])
    rows = []
    for mode, r in (("full", full), ("search", search)):
        ran = r[r["status"].isin(["complete", "diverged"])]
        not_run = int((r["status"] == "skipped").sum())
        rows.append({"sweep": sweep, "source": source, "lengths": " ".join(map(str, lengths)),
                     "mode": mode, "planned": planned, "trained": len(ran), "not_run": not_run,
                     "missing": planned - len(ran) - not_run,
                     "train_steps": int(pd.to_numeric(ran["steps"]).sum()),
                     # seconds of training, 2 workers on 2 shared cores (measured rows only)
                     "train_time_s": round(float(pd.to_numeric(ran["train_time_s"]).sum()), 1)
                     if "train_time_s" in ran else float("nan"),
                     "same_horizon_table": same})
    ratio = rows[0]["train_steps"] / rows[1]["train_steps"] if rows[1]["train_steps"] else None
    for row in rows:
        row["steps_full_over_search"] = round(ratio, 3) if ratio else float("nan")
    return rows


def replay(full: pd.DataFrame) -> pd.DataFrame:
    """The rows a horizon search (no anchors) would have left of a full grid's rows: the
    runner's rule (``lrd.sweeps.next_cut``) applied to the recorded outcomes, length by
    length; a run not run becomes a skipped row (not solved, 0 steps)."""
    out = full.copy()
    for _, g in full.groupby(["group", "task", "model", "init", "regime"]):
        cut = None
        for n in sorted(g["length"].unique()):
            at = g[g["length"] == n]
            if cut is not None:
                out.loc[at.index, ["status", "solved", "steps"]] = ["skipped", False, 0]
            else:
                cut = sweeps.next_cut(None, int(n), at[["status", "solved"]].to_dict("records"))
    return out


def summarise() -> pd.DataFrame:
    planned = len(sweeps.plan(sweeps.load(write_sweep(), PROFILE)))
    runs = {k: results.collect(v) for k, v in OUT.items()}
    # measured: compare over the lengths where the full grid has every run recorded
    full = runs["full"]
    per_len = full.groupby("length").size() if len(full) else pd.Series(dtype=int)
    complete = sorted(int(n) for n, c in per_len.items() if c == planned // len(LENGTHS))
    at = {k: r[r["length"].isin(complete)] for k, r in runs.items()}
    rows = compare("horizon_copy", "measured (.lrd/bench)", runs["full"], runs["search"],
                   planned, LENGTHS)
    same = bool(complete) and results.horizon(at["full"])[COLS].equals(
        results.horizon(at["search"])[COLS])
    for row in rows:
        row["same_horizon_table"] = same
        row["compared_lengths"] = " ".join(map(str, complete))
    for k, t in at.items():
        print(f"horizon table ({k}, lengths {complete}):\n"
              f"{results.horizon(t)[COLS].to_string(index=False)}\n")
    # replay: the committed full grids of every horizon sweep (results/runs.csv), searched
    committed = pd.read_csv(ROOT / "results" / "runs.csv")
    for name in sorted(g for g in committed["group"].unique() if str(g).startswith("horizon_")):
        grid = committed[committed["group"] == name]
        lengths = sorted(int(n) for n in grid["length"].unique())
        replayed = compare(name, "replay of results/runs.csv", grid, replay(grid),
                                   len(grid), lengths)
        for row in replayed:
            row["compared_lengths"] = " ".join(map(str, lengths))
        rows += replayed
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    DEST.mkdir(parents=True, exist_ok=True)
    table.to_csv(DEST / "horizon_search.csv", index=False, float_format="%.6g")
    figure(runs)
    return table


def figure(runs: dict[str, pd.DataFrame]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.2), layout="constrained")
    width = 0.38
    x = range(len(LENGTHS))
    for i, (k, r) in enumerate(runs.items()):
        ran = r[r["status"].isin(["complete", "diverged"])]
        steps = [int(pd.to_numeric(ran.loc[ran["length"] == n, "steps"]).sum()) for n in LENGTHS]
        missing = 8 * len(LENGTHS) - len(ran) - int((r["status"] == "skipped").sum())
        ax.bar([j + (i - 0.5) * width for j in x], steps, width,
               label=f"{'full grid' if k == 'full' else 'horizon search'} "
                     f"({sum(steps):,} steps" + (f"; {missing} runs not yet recorded)"
                                                 if missing else ")"))
        if k == "search":
            for j, n in enumerate(LENGTHS):
                skipped = int(((r["length"] == n) & (r["status"] == "skipped")).sum())
                if skipped:
                    ax.annotate(f"{skipped} not run", (j + 0.5 * width, 0), ha="center",
                                va="bottom", rotation=90, fontsize=7, xytext=(0, 3),
                                textcoords="offset points")
    ax.set_xticks(list(x), [str(n) for n in LENGTHS])
    ax.set_xlabel("copy delay T")
    ax.set_ylabel("training steps (all runs)")
    ax.set_title(f"horizon_copy, {PROFILE} profile: training steps per length", fontsize=9)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.25)   # room for the legend above the bars
    ax.legend(fontsize=8, loc="upper right")
    fig.savefig(DEST / "horizon_search.png", dpi=150)
    plt.close(fig)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", choices=["full", "search"], help="run (or resume) one sweep")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    if args.run:
        run(args.run, args.workers)
    else:
        summarise()
