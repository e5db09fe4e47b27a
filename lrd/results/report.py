"""``results/README.md``, from ``results/`` alone: ``lrd figures`` writes it after the figures,
with the tables of ``lrd.results.tables`` (CSV, Markdown and LaTeX under ``results/tables/``).

The README shows every figure with what it plots, how to read it, numbers computed from the
results, the sweep and the command that produced it; the tables; the study's status per sweep
and how many records came from an uncommitted tree; how each training regime is scored (with
every curriculum run's last training length); the horizons' threshold sensitivity and whether
the step budget limited them; and the comparison with published findings
(``lrd.results.literature``). The same ``results/`` always gives a byte-identical README.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from lrd import results as resultslib
from lrd.figures import style
from lrd.figures.data import Made, Skipped, load_runs, require_results
from lrd.results import budget, literature
from lrd.results.select import borrowed_text, members, sweeps_of, value_order  # noqa: F401
from lrd.results.tables import (PREFIX_SWEEP, TABLES, Table, ordered,  # noqa: F401
                                horizon_table, horizon_text, prefix_sum_table, scores_table,
                                to_csv, to_latex, to_markdown, write_tables)
from lrd.tasks import TASKS
from lrd.training.record import write_atomic


# -- the report ----------------------------------------------------------------------------
def command(sweeps: list[str]) -> str:
    lines = [f"lrd sweep configs/sweeps/{s}.yaml --profile literature" for s in sweeps]
    return "\n".join([*lines, "lrd figures"])


RULES = """\
## How the numbers are made

- **Source.** Every figure, table and number here is computed by `lrd figures` from `results/`
  alone: `results/runs.csv` (built by `lrd results` from the run records), and per run
  `results/runs/<run_id>/record.json`, the thinned training curves `results/curves.csv` (50-step
  means of the per-step logs, which stay out of git) and, where present, `analysis_*.npz`.
  Nothing comes from the W&B API and nothing is edited by hand.
- **Which model is evaluated.** The final model of each run (not the best checkpoint), on the
  run's fixed test set (its own seeded generator stream; no training batch holds one of its
  sequences, `lrd.data.exclude`), at the training length and at every `train.eval_lengths`.
- **Solved.** Each task's own criterion, `Task.solved`: accuracy ≥ 0.99 on the scored positions
  (copy, delayed recall, prefix sum), test MSE < 0.01 on adding. A diverged run counts as not
  solved.
- **Seeds.** Figures and tables show a score over seeds as the seed mean with its 95%
  bootstrap CI (`lrd.results.stats.mean_ci`: percentile bootstrap of the mean, 2000
  resamples, fixed seed; one value per seed), as bands, error bars or "mean [lo, hi]", of a
  normalised score: loss / memoryless baseline loss, or accuracy (`lrd.results.scores`).
  With 3 seeds this interval is the range of the seeds (min to max), whose real coverage is
  about 75%, not 95% (about 85% with 5 seeds; `lrd/results/stats.py`): read it as the
  spread of the seeds. Dots are individual seeds; cells give the seeds solved. Failed runs (no metrics) are left
  out; the seed count is shown with every aggregate.
- **Memory horizon.** For each (task, model, initialisation, regime): the largest training
  length solved by a majority of unique seeds (more than half of the seeds measured there;
  a seed run at several settings counts by its run with the best validation score); 0 when
  none is (`lrd.results.horizon`). When it is the longest length measured it is censored, shown
  "≥ T": the true horizon may be longer. It is also given with the solve tolerance halved
  and doubled (accuracy error 1 − 0.99 = 0.01 → accuracy ≥ 0.995 / ≥ 0.98; MSE 0.01 →
  < 0.005 / < 0.02), read from each task class; "–" where no seed was measured. The step
  budget grows with the length (the profile's `train.max_steps` table), so a model can fail
  at one length and solve a longer one with more steps: the horizon is the largest length
  solved, and the horizon search's premise (failing at T, it fails at 2T) is weakest across
  a budget step.
- **Not run.** A sweep in horizon-search mode does not train a model at the lengths above the
  first one where every seed failed (`lrd sweep --full-grid` trains them). Such a cell is
  recorded as skipped, with the reason: the horizon table names it "not run (failed at T with N
  steps)", the horizon figure marks it with a hollow marker at the bottom of its panel, and no
  mean, band or seed count includes it. Where another sweep measured that cell (a longer step
  budget), its runs count there instead.
- **Baselines.** The memoryless baseline is analytic (`lrd.tasks`): accuracy 1/8 on copy and
  delayed recall (8 symbols), (1 + (L−1)/n)/L on prefix sum, MSE 1/6 on adding; loss ratios
  divide by the task's baseline loss at the current training length.
"""


def study_status(runs: pd.DataFrame, runs_dir: Path | None = None) -> list[str]:
    """One line per sweep group: its records by status (complete, diverged, skipped, failed),
    and, where the sweep runner wrote its plan (``<runs>/_sweeps/<name>.txt``, one run id a
    line), how many of the planned runs have a record."""
    if runs.empty or "group" not in runs:
        return []
    names = set(sweeps_of(runs))
    if runs_dir is not None and (Path(runs_dir) / "_sweeps").is_dir():   # planned, no record yet
        names |= {p.stem for p in (Path(runs_dir) / "_sweeps").glob("*.txt")}
    out = []
    for name in sorted(names):
        st = runs.loc[members(runs, name), "status"].value_counts()
        plan = Path(runs_dir) / "_sweeps" / f"{name}.txt" if runs_dir is not None else None
        planned = ""
        if plan is not None and plan.is_file():
            ids = {line.strip() for line in plan.read_text().splitlines() if line.strip()}
            done = len(ids & set(runs["run_id"].astype(str)))
            planned = (f" of {len(ids)} planned" + ("" if done == len(ids) else
                                                    f" ({len(ids) - done} to run)"))
        n = int(st.sum())
        out.append(f"`{name}`: {n} record{'' if n == 1 else 's'}{planned}: " + ", ".join(
            f"{int(st.get(k, 0))} {k}" for k in ("complete", "diverged", resultslib.SKIPPED,
                                                  "failed")) + ".")
    return out


def provenance(results_dir: Path, runs: pd.DataFrame) -> str:
    """How many records were made from a tree with uncommitted changes (timing.csv's
    ``env.git_dirty``)."""
    path = Path(results_dir) / "timing.csv"
    timing = pd.read_csv(path) if path.exists() and path.stat().st_size > 1 else pd.DataFrame()
    if "env.git_dirty" not in timing:
        return "Whether the records were made from a committed tree is not recorded here."
    dirty = timing["env.git_dirty"].astype(str).str.lower().eq("true")
    known = timing["env.git_dirty"].notna()
    text = (f"{int(dirty.sum())} of {len(runs)} records were made from a tree with uncommitted "
            f"changes (`env.git_dirty` in `timing.csv`)"
            + (f"; {int((~known).sum())} do not say" if (~known).any() else "") + ".")
    return (text + revisions(timing) + mixed(timing, runs) + settings(runs)
            + compute(timing, runs))


# Config columns that vary inside a cell by design: the seed, and the cell's own length.
CELL_FREE = ("config.seed", "config.task.length")


def settings(runs: pd.DataFrame) -> str:
    """" Merged settings: ..." the cells (task, model, init, regime, length) whose measured
    runs differ in a config value other than the seed (e.g. two learning rates), with the
    values (a value some records do not hold is no difference); "" if none. Such a cell's
    seed counts by its run with the best validation score in every score, figure and horizon
    (``lrd.results.tuned``), and the report says so rather than merge them silently."""
    if runs.empty or "status" not in runs:
        return ""
    rows = runs[~runs["status"].isin(["failed", resultslib.SKIPPED])]
    cols = [c for c in rows.columns if c.startswith("config.") and c not in CELL_FREE]
    out = []
    for name, g in _cells(rows):
        varied = [c for c in cols if g[c].dropna().astype(str).nunique() > 1]
        if varied:
            out.append(f"{name} (" + "; ".join(
                f"{c.removeprefix('config.')}: " + ", ".join(_sorted_values(g[c]))
                for c in varied) + ")")
    if not out:
        return ""
    return (f" Merged settings: {len(out)} cell{'s hold' if len(out) > 1 else ' holds'} runs that "
            "differ in more than the seed; each seed there counts by its run with the best "
            "validation score (the task's solved metric on the validation set, never the test "
            "set): " + "; ".join(out) + ".")


def _sorted_values(col: pd.Series) -> list[str]:
    """The distinct set values of ``col`` as text, numbers in numeric order ("4000, 10000")."""
    return [str(v) for v in sorted(col.dropna().unique(), key=value_order)]


def mixed(timing: pd.DataFrame, runs: pd.DataFrame) -> str:
    """" Mixed cells: ..." the cells (task, model, init, regime, length) whose measured seeds
    were made at different revisions, with the count per revision; "" if none. A seed counts
    by the run every score keeps (``lrd.results.tuned``), not by the runs tuning dropped."""
    if "env.git_commit" not in timing or runs.empty or "run_id" not in runs:
        return ""
    rev = timing.set_index("run_id")["env.git_commit"].dropna().astype(str).str[:7]
    rows = resultslib.tuned(runs[~runs["status"].isin(["failed", resultslib.SKIPPED])])
    rows = rows.assign(rev=rows["run_id"].map(rev)).dropna(subset=["rev"])
    out = []
    for name, g in _cells(rows):
        if g["rev"].nunique() > 1:
            counts = sorted(g["rev"].value_counts().items(), key=lambda kv: (-kv[1], kv[0]))
            out.append(f"{name} (" + ", ".join(f"{c} ×{n}" for c, n in counts) + ")")
    if not out:
        return ""
    return (f" Mixed cells: the seeds of {len(out)} cell{'s' if len(out) > 1 else ''} were made "
            "at different revisions, so a rerun of the whole cell at one revision can differ: "
            + "; ".join(out) + ".")


def revisions(timing: pd.DataFrame) -> str:
    """" Revisions: ..." the code revisions the records were made at (``env.git_commit``), the
    one with most records first, with their counts; "" if not recorded."""
    if "env.git_commit" not in timing:
        return ""
    commits = timing["env.git_commit"].dropna().astype(str).str[:7].value_counts()
    if commits.empty:
        return ""
    listed = ", ".join(f"{c} ({n})" for c, n in sorted(commits.items(),
                                                      key=lambda kv: (-kv[1], kv[0])))
    return (f" Revisions: the records were made at {len(commits)} revision"
            f"{'s' if len(commits) > 1 else ''} of lrd ({listed}; `env.git_commit` in "
            "`timing.csv`); CPU runs are deterministic, so a record rerun at its revision on the "
            "same kind of CPU with the same number of torch threads gives the same numbers "
            f"(tests/test_sweep.py){_threads(timing)}; another thread count sums in another "
            "order, and training, which is chaotic, ends elsewhere.")


def _threads(timing: pd.DataFrame) -> str:
    """" (`env.torch_threads`: 1 thread in 229 records)": the thread counts the records were
    made with (``lrd sweep`` gives each of N workers cores // N); "" if not recorded."""
    if "env.torch_threads" not in timing:
        return ""
    counts = pd.to_numeric(timing["env.torch_threads"], errors="coerce").dropna().astype(int)
    if counts.empty:
        return ""
    listed = ", ".join(f"{t} thread{'s' if t > 1 else ''} in {n} record{'s' if n > 1 else ''}"
                       for t, n in sorted(counts.value_counts().items()))
    return f" (`env.torch_threads`: {listed})"


def compute(timing: pd.DataFrame, runs: pd.DataFrame | None = None) -> str:
    """" Compute: ..." the summed wall time of the trained runs in ``timing.csv`` (skipped runs
    have none), in hours, per task where ``runs`` names the tasks, and over ``lrd sweep``'s two
    workers on 2 cores (one thread each, so about half); "" if it is not there."""
    if "wall_time_s" not in timing:
        return ""
    wall = pd.to_numeric(timing["wall_time_s"], errors="coerce")
    keep = wall.notna()
    wall = wall[keep]
    if wall.empty:
        return ""
    per_task = ""
    if runs is not None and {"run_id", "task"} <= set(runs.columns):
        task = timing.loc[keep, "run_id"].map(runs.set_index("run_id")["task"])
        hours = (wall.groupby(task).sum() / 3600).sort_values(ascending=False)
        per_task = "".join(f"{t} {h:.1f} h, " for t, h in hours.items())
    return (f" Compute: the {len(wall)} trained runs took {wall.sum() / 3600:.1f} h of wall "
            f"time in all ({per_task}`wall_time_s` in `timing.csv`); with `lrd sweep`'s two "
            f"workers on 2 cores (its default there, one thread each), at least "
            f"{wall.sum() / 7200:.1f} h: the sum divided by the two workers, an estimate that "
            f"assumes the runs pack perfectly.")


def _cells(rows: pd.DataFrame):
    """(name, rows) per cell (task, model, init, regime, length) of ``rows``, in report order;
    the name as the header gives it: "copy, lstm at 10"."""
    keys = [*resultslib.HORIZON_KEYS, "length"]
    for key, g in ordered(rows, ("length",)).groupby(keys, sort=False):
        yield _name(dict(zip(keys, key))) + f" at {int(key[-1])}", g


def _name(r) -> str:
    extra = [v for v, d in ((r["init"], "default"), (r["regime"], "full")) if v != d]
    return f"{r['task']}, {r['model']}" + (f" ({', '.join(extra)})" if extra else "")


def sensitivity(runs: pd.DataFrame) -> list[str]:
    """The horizons' threshold sensitivity: the thresholds per task, then every horizon that
    moves at half or double the tolerance, and how many do not."""
    h = resultslib.horizon(runs) if not runs.empty else pd.DataFrame()
    if h.empty:
        return ["_No horizons yet._"]
    out = ["Thresholds: " + "; ".join(
        f"{t} ({cls.solved_metric}): solved {op} {cls.solved_threshold:g}, strict {op} "
        f"{resultslib.tolerance_threshold(cls, 0.5):g}, loose {op} "
        f"{resultslib.tolerance_threshold(cls, 2.0):g}"
        for t in style.ordered(h["task"].unique(), style.task_order())
        if (cls := TASKS.get(t)) is not None
        for op in [">=" if cls.solved_higher_is_better else "<"]) + ".", ""]
    h = ordered(h)
    still = 0
    for _, r in h.iterrows():
        text = {c: horizon_text(r[c], r["longest_run"])
                for c in ("horizon", "horizon_strict", "horizon_loose")}
        if text["horizon_strict"] == text["horizon"] == text["horizon_loose"]:
            still += 1
            continue
        out.append(f"- {_name(r)}: {text['horizon']}; strict {text['horizon_strict']}, "
                   f"loose {text['horizon_loose']}.")
    out += ["", f"{still} of {len(h)} horizons do not move at either threshold."
            if still < len(h) else f"None of the {len(h)} horizons moves at either threshold."]
    return out


REGIMES_TEXT = """\
- **Teacher forcing is scored free-running.** A run trained with teacher forcing is
  validated and tested closed-loop: at every fed-back step the model reads its own previous
  prediction (argmax), never the true target (`TeacherForcing.eval_outputs` in
  `lrd/training/regimes.py`), so its test numbers measure the same thing as every other
  regime's.
- **On prefix sum, teacher forcing makes the task one step.** The fed-back target is the
  previous prefix sum, so in training the next one is (that + the current digit) mod n: no
  memory of earlier inputs is needed. A teacher-forced prefix-sum run shows whether that step,
  run on the model's own outputs, holds over the whole sequence; it is no evidence of learning
  the long dependency through time.
- **Curriculum.** A curriculum run grows its training length each time validation is solved
  and is tested at its target length. The table gives each curriculum run's last training
  length (`final_train_length` in the record and `runs.csv`): one that never left its start
  length never saw the target length in training."""


def curriculum_table(runs: pd.DataFrame) -> str:
    """Every curriculum run: task, model, target length, seed, last training length, solved."""
    if runs.empty or "regime" not in runs:
        return "_No curriculum runs yet._\n"
    rows = runs[(runs["regime"] == "curriculum")
                & ~runs["status"].isin(["failed", resultslib.SKIPPED])]
    if rows.empty:
        return "_No curriculum runs yet._\n"
    last = rows["final_train_length"] if "final_train_length" in rows else pd.Series(
        float("nan"), index=rows.index)
    t = pd.DataFrame({"task": rows["task"], "model": rows["model"], "init": rows["init"],
                      "regime": rows["regime"], "length": rows["length"].astype(int),
                      "seed": rows["seed"].astype(int),
                      "final_train_length": [str(int(v)) if pd.notna(v) else "–" for v in last],
                      "solved": rows["solved"].astype(str).str.lower().eq("true")})
    t = ordered(t, ("length", "seed")).drop(columns=["regime"])
    return to_markdown(t)


def readme(done: list, tables: dict[str, pd.DataFrame], runs: pd.DataFrame,
           results_dir: Path) -> str:
    results_dir = Path(results_dir)
    made = [d for d in done if isinstance(d, Made)]
    skipped = [d for d in done if isinstance(d, Skipped)]
    n_runs = 0 if runs.empty else len(runs)
    groups = sweeps_of(runs)
    out = ["# Results", "",
           "Generated by `lrd figures` from this folder alone; do not edit by hand "
           "(rerun `lrd figures` instead).", "",
           f"{n_runs} run records"
           + (f" from {len(groups)} sweeps ({', '.join(f'`{g}`' for g in groups)})"
              if groups else "")
           + (f"; {int((runs['status'] == 'failed').sum())} failed, "
              f"{int(runs['diverged'].astype(str).str.lower().eq('true').sum())} diverged"
              + (f", {n_skip} not run by the horizon search (recorded as skipped)."
                 if (n_skip := int((runs['status'] == 'skipped').sum())) else ".")
              if n_runs else "."), ""]
    status = study_status(runs, Path(results_dir) / "runs")
    if status:
        out += ["Study status, records per sweep (a run shared by two sweeps counts in both):",
                ""] + [f"- {line}" for line in status] + [""]
    out += [provenance(results_dir, runs), "",
            "To regenerate everything: `make reproduce` (the study: every sweep on the "
            "`literature` profile, resumable; it ends by redrawing every table and figure). "
            "To redraw them from the records alone: `make figures` (or "
            "`lrd figures --results results`).", "", RULES]
    out += ["## How each training regime is scored", "", REGIMES_TEXT, "",
            curriculum_table(runs)]
    out += ["## Figures", ""]
    for d in made:
        png = next(p for p in d.files if p.suffix == ".png")
        pdf = next((p for p in d.files if p.suffix == ".pdf"), None)
        rel = Path(os.path.relpath(png, results_dir)).as_posix()
        out += [f"### {d.title}", "", f"![{d.title}]({rel})", "", d.caption, ""]
        if pooled := borrowed_text(runs, d.sweeps):
            out += [pooled, ""]
        if d.findings:
            out += ["From these results:", ""] + [f"- {f}" for f in d.findings] + [""]
        out += [f"Sweep{'s' if len(d.sweeps) > 1 else ''}: "
                + ", ".join(f"`configs/sweeps/{s}.yaml`" for s in d.sweeps)
                + (f". Vector version: [{Path(os.path.relpath(pdf, results_dir)).as_posix()}]"
                   f"({Path(os.path.relpath(pdf, results_dir)).as_posix()})." if pdf else "."),
                "", "```bash", command(d.sweeps), "```", ""]
    if skipped:
        out += ["### Not drawn", ""]
        out += [f"- **{d.title}** (`{d.name}`): {d.note}." for d in skipped]
        out += [""]
    out += ["## Tables", "",
            "Each table is also under `tables/` as CSV and LaTeX (booktabs).", ""]
    for name, table in TABLES.items():
        df = tables[name]
        out += [f"### {name.replace('_', ' ').capitalize()}", "", table.caption, ""]
        if table.sweeps and (pooled := borrowed_text(runs, table.sweeps)):
            out += [pooled, ""]
        out += [f"Files: [tables/{name}.csv](tables/{name}.csv), "
                f"[tables/{name}.md](tables/{name}.md), [tables/{name}.tex](tables/{name}.tex).",
                ""]
        if table.embed:
            out += [to_markdown(df) if len(df) else "_No runs for this table yet._", ""]
        else:
            out += [f"{len(df)} rows (in the files above, not repeated here).", ""]
        if table.sweeps:
            out += [f"Sweep{'s' if len(table.sweeps) > 1 else ''}: "
                    + ", ".join(f"`configs/sweeps/{s}.yaml`" for s in table.sweeps) + ".", "",
                    "```bash", command(list(table.sweeps)), "```", ""]
        else:
            out += ["Sweeps: every sweep (`make reproduce`), then `lrd figures`.", ""]
    out += ["## Memory horizon: threshold sensitivity", "",
            "Each horizon again with the solve tolerance halved (strict) and doubled (loose), "
            "from the same final test scores; a horizon that moves rests on scores near the "
            "threshold. Runs stop early once validation is solved (`train.early_stop`), so a "
            "solved run's final score often sits just past the nominal threshold, and the "
            "strict horizon can fall for that reason alone.", ""]
    out += sensitivity(runs) + [""]
    out += ["## Memory horizon: step budget", "",
            "A cell that most seeds failed may fail for want of steps. For each such cell, the "
            "budget table above gives how its failed seeds' training ended, from the training "
            "curves: still improving, no clear fall, or at the baseline; or that none used its "
            "budget (its seeds diverged or stopped early) (`lrd/results/budget.py`).", ""]
    out += budget.findings(tables["budget"]) + [""]
    longer = budget.compare_text(runs, tables["budget"])
    out += longer + [""] if longer else []
    out += [literature.section(runs, tables["budget"])]
    return "\n".join(out).rstrip() + "\n"


def write(results_dir="results", done: list | None = None) -> dict[str, Path]:
    """Tables and ``results_dir/README.md``; ``done`` is what ``lrd.figures.make_all`` returned
    (drawn here if not given). Returns the paths written. A folder without ``runs.csv`` is a
    ConfigError, before anything is written."""
    from lrd import figures

    results_dir = require_results(results_dir)
    runs = load_runs(results_dir)
    if done is None:
        done = figures.make_all(results_dir)
    tables = write_tables(results_dir, runs)
    path = results_dir / "README.md"
    write_atomic(path, readme(done, tables, runs, results_dir))
    paths = {"readme": path}
    paths.update({f"table {n}": results_dir / "tables" / f"{n}.csv" for n in tables})
    return paths
