"""Tables and the report, from ``results/`` alone: ``lrd figures`` writes them after the figures.

``results/tables/`` gets each table as CSV, Markdown and LaTeX (booktabs):

- ``horizon``: the memory horizon per (task, model, init, regime) (``lrd.results.horizon``:
  the largest training length solved by a majority of unique seeds; 0: none), shown "≥ T"
  when censored (T is the longest length measured), and the same at half and double the solve
  tolerance (``horizon_strict``, ``horizon_loose``); the largest length of the grid and the
  seed count; where the horizon search left lengths not run, a ``not_run`` column names them
  and the length where every seed failed ("50, 100 not run (failed at T=20)").
- ``prefix_sum``: the ``prefix_sum_study`` sweep: per (train length, regime, model), the seed
  mean test accuracy with its 95% bootstrap CI at the training length and each test length.
- ``scores``: per (task, model, init, regime, length): seeds, seeds solved (k/n), and the
  seed mean with its 95% bootstrap CI of the normalised loss (test loss / memoryless baseline)
  and of the accuracy (``lrd.results.scores``).

Every cell is formatted to a fixed number of decimals (a CI as "mean [low, high]") and the rows
are sorted, so the same ``results/`` always gives byte-identical tables. ``results/README.md``
shows every figure with what it plots, how to read it, numbers computed from the results, the
sweep and the command that produced it, the tables, the study's status, how each training
regime is scored, the horizons' threshold sensitivity, and the comparison with published
findings (``lrd.results.literature``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from lrd import results as resultslib
from lrd.figures import style
from lrd.results import literature
from lrd.results import scores as sc
from lrd.figures.data import Made, Skipped, load_runs, require_results, study
from lrd.tasks import TASKS
from lrd.tasks.prefix_sum import PrefixSum
from lrd.training.record import write_atomic

PREFIX_SWEEP = "prefix_sum_study"


# -- tables --------------------------------------------------------------------------------
def _ordered(df: pd.DataFrame, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Rows in report order: task, model, init, regime as registered, then ``extra``."""
    d = df.copy()
    tasks, models = style.task_order(), style.model_order()
    d["_t"] = d["task"].map(lambda t: style.rank(t, tasks))
    d["_m"] = d["model"].map(lambda m: style.rank(m, models))
    d["_i"] = d["init"].map(lambda i: style.rank(i, style.INIT_ORDER))
    d["_r"] = d["regime"].map(lambda r: style.rank(r, style.REGIME_ORDER))
    d = d.sort_values(["_t", "task", "_m", "model", "_i", "init", "_r", "regime", *extra],
                      kind="stable")
    return d.drop(columns=["_t", "_m", "_i", "_r"]).reset_index(drop=True)


def horizon_text(value, longest) -> str:
    """A horizon as the tables show it: "≥ T" when it is the longest length measured
    (censored), "–" when unknown, else the length."""
    if value is None or pd.isna(value):
        return "–"
    value = int(value)
    return f"≥ {value}" if value > 0 and value == int(longest) else str(value)


def horizon_table(runs: pd.DataFrame) -> pd.DataFrame:
    h = resultslib.horizon(runs) if not runs.empty else resultslib.horizon(pd.DataFrame())
    if h.empty:
        return pd.DataFrame(columns=["task", "model", "init", "regime", "horizon",
                                     "max_length", "seeds"])
    h = _ordered(h)
    for c in ("horizon", "horizon_strict", "horizon_loose"):
        h[c] = [horizon_text(v, n) for v, n in zip(h[c], h["longest_run"])]
    for c in ("max_length", "seeds"):
        h[c] = h[c].astype(int)
    cols = ["task", "model", "init", "regime", "horizon", "horizon_strict", "horizon_loose",
            "max_length", "seeds"]
    return h[cols + (["not_run"] if "not_run" in h else [])]


def prefix_sum_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (train_length, regime, model): seeds, and the seed mean accuracy with its 95%
    bootstrap CI at the training length (acc@train) and at each test length (acc@N)."""
    rows = study(runs, PREFIX_SWEEP)
    if rows.empty:
        return pd.DataFrame(columns=["train_length", "regime", "model", "seeds"])
    tests = sorted(int(m.group(1)) for c in rows.columns
                   if (m := re.match(r"^length\.(\d+)\.accuracy$", c)) and rows[c].notna().any())
    out = []
    for (L, regime, model), g in rows.groupby(["length", "regime", "model"]):
        row = {"train_length": int(L), "regime": regime, "model": model,
               "seeds": int(g["seed"].nunique())}
        row["acc@train"] = sc.ci_text(sc.seed_ci(g, "test.accuracy"))
        for n in tests:
            row[f"acc@{n}"] = sc.ci_text(sc.seed_ci(g, f"length.{n}.accuracy"))
        out.append(row)
    t = pd.DataFrame(out)
    models = style.model_order()
    t["_r"] = t["regime"].map(lambda r: style.rank(r, style.REGIME_ORDER))
    t["_m"] = t["model"].map(lambda m: style.rank(m, models))
    t = t.sort_values(["train_length", "_r", "regime", "_m", "model"], kind="stable")
    return t.drop(columns=["_r", "_m"]).reset_index(drop=True)


def scores_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (task, model, init, regime, length): seeds, solved k/n, and the normalised loss and
    accuracy as "mean [low, high]" (``lrd.results.scores``)."""
    cols = ["task", "model", "init", "regime", "length", "seeds", "solved", "loss/baseline",
            "accuracy"]
    s = sc.scores(runs)
    if s.empty:
        return pd.DataFrame(columns=cols)
    s = _ordered(s, ("length",))
    s["solved"] = [f"{k}/{n}" for k, n in zip(s["solved"], s["seeds"])]
    s["loss/baseline"] = [sc.ci_text(sc.MeanCI(*v)) for v in
                          zip(s["loss"], s["loss_lo"], s["loss_hi"])]
    s["accuracy"] = [sc.ci_text(sc.MeanCI(*v)) for v in zip(s["acc"], s["acc_lo"], s["acc_hi"])]
    s["length"] = s["length"].astype(int)
    s["seeds"] = s["seeds"].astype(int)
    return s[cols]


def _cells(df: pd.DataFrame, decimals: int = 3) -> list[list[str]]:
    """Every cell as a fixed-format string: ints plain, floats ``decimals`` places, NaN '–'."""
    out = []
    for rec in df.itertuples(index=False):
        row = []
        for v in rec:
            if isinstance(v, bool):
                row.append(str(v))
            elif isinstance(v, int) or (hasattr(v, "dtype") and "int" in str(v.dtype)):
                row.append(str(int(v)))
            elif isinstance(v, float):
                row.append("–" if v != v else f"{v:.{decimals}f}")
            else:
                row.append(str(v))
        out.append(row)
    return out


def to_csv(df: pd.DataFrame) -> str:
    cells = _cells(df)
    esc = lambda s: f'"{s}"' if ("," in s or '"' in s) else s  # noqa: E731
    lines = [",".join(map(esc, df.columns))]
    lines += [",".join(esc("" if c == "–" else c) for c in row) for row in cells]
    return "\n".join(lines) + "\n"


def to_markdown(df: pd.DataFrame) -> str:
    cells = _cells(df)
    num = [all(_is_num(r[j]) for r in cells) and bool(cells) for j in range(len(df.columns))]
    head = "| " + " | ".join(df.columns) + " |"
    rule = "|" + "|".join("---:" if n else ":---" for n in num) + "|"
    body = ["| " + " | ".join(r) + " |" for r in cells]
    return "\n".join([head, rule, *body]) + "\n"


def to_latex(df: pd.DataFrame, caption: str, label: str) -> str:
    cells = _cells(df)
    num = [all(_is_num(r[j]) for r in cells) and bool(cells) for j in range(len(df.columns))]
    tex = lambda s: (s.replace("\\", r"\textbackslash{}").replace("_", r"\_")  # noqa: E731
                     .replace("&", r"\&").replace("%", r"\%").replace("@", "@")
                     .replace("–", "--").replace("≥", r"$\geq$"))
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             rf"\caption{{{tex(caption)}}}", rf"\label{{{label}}}",
             r"\begin{tabular}{" + "".join("r" if n else "l" for n in num) + "}",
             r"\toprule", " & ".join(tex(c) for c in df.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(tex(c) for c in r) + r" \\" for r in cells]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def _is_num(s: str) -> bool:
    """A number, "≥ T", "k/n", "mean [low, high]" or "–": right-aligned."""
    num = r"-?\d+(\.\d+)?"
    return s == "–" or re.fullmatch(rf"(≥ )?{num}|\d+/\d+|{num} \[(–|{num}, {num})\]",
                                    s) is not None


@dataclass(frozen=True)
class Table:
    caption: str
    build: Callable[[pd.DataFrame], pd.DataFrame]
    sweeps: tuple[str, ...] = ()   # the sweeps it comes from; () for every sweep
    embed: bool = True             # shown in README.md (else linked: a long table)


# name -> table, in report order; each is written to tables/<name>.{csv,md,tex}.
TABLES = {
    "horizon": Table("Memory horizon: the largest training length solved by a majority of the "
                     "unique seeds, per task, model, initialisation and regime (0: none "
                     "solved; ≥ T: solved at the longest length measured, so censored), and "
                     "the same with the solve tolerance halved (horizon_strict) and doubled "
                     "(horizon_loose); the largest length of the grid and the fewest seeds "
                     "measured at a length; not_run (if any): the lengths the horizon search "
                     "did not run, because every seed failed at a shorter length T.",
                     horizon_table),
    PrefixSum.name: Table(f"{PrefixSum.label} mod n: test accuracy of the final model, seed "
                          "mean [95% bootstrap CI], at the training length (acc@train) and at "
                          "each test length (acc@N), per training length, regime and model.",
                          prefix_sum_table, (PREFIX_SWEEP,)),
    "scores": Table("Final scores per task, model, initialisation, regime and training length: "
                    "unique seeds measured, seeds solved (k/n), and the seed mean [95% "
                    "bootstrap CI] of the normalised loss (test loss / memoryless baseline "
                    "loss; 1 = no memory) and of the accuracy (– where the task has none).",
                    scores_table, embed=False),
}


def write_tables(results_dir, runs: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Every table under ``results_dir/tables`` as .csv, .md and .tex; returns the tables."""
    results_dir = Path(results_dir)
    runs = load_runs(results_dir) if runs is None else runs
    out_dir = results_dir / "tables"
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {}
    for name, table in TABLES.items():
        df = table.build(runs)
        tables[name] = df
        write_atomic(out_dir / f"{name}.csv", to_csv(df))
        write_atomic(out_dir / f"{name}.md", to_markdown(df))
        label = f"tab:{name.replace('_', '-')}"
        write_atomic(out_dir / f"{name}.tex", to_latex(df, table.caption, label))
    return tables


# -- the report ----------------------------------------------------------------------------
def command(sweeps: list[str]) -> str:
    lines = [f"lrd sweep configs/sweeps/{s}.yaml --profile cpu" for s in sweeps]
    return "\n".join([*lines, "lrd figures"])


RULES = """\
## How the numbers are made

- **Source.** Every figure, table and number here is computed by `lrd figures` from `results/`
  alone: `results/runs.csv` (built by `lrd results` from the run records), and per run
  `results/runs/<run_id>/record.json`, the thinned training curves `results/curves.csv` (50-step
  means of the per-step logs, which stay out of git) and, where present, `analysis_*.npz`.
  Nothing comes from the W&B API and nothing is edited by hand.
- **Which model is evaluated.** The final model of each run (not the best checkpoint), on the
  run's fixed test set (its own seeded generator stream, never used in training), at the training
  length and at every `train.eval_lengths`.
- **Solved.** Each task's own criterion, `Task.solved`: accuracy ≥ 0.99 on the scored positions
  (copy, delayed recall, prefix sum), test MSE < 0.01 on adding. A diverged run counts as not
  solved.
- **Seeds.** Curves and cells show the mean over seeds; bands span the worst to the best seed,
  and dots are individual seeds. Heatmaps give the fraction of seeds solved. Failed runs (no
  metrics) are left out; the seed count is shown with every aggregate. Tables give a score
  over seeds as the seed mean [95% bootstrap CI] (`lrd.results.stats.mean_ci`: percentile
  bootstrap of the mean, 2000 resamples, fixed seed; one value per seed) of a normalised
  score: loss / memoryless baseline loss, or accuracy (`lrd.results.scores`).
- **Memory horizon.** For each (task, model, initialisation, regime): the largest training
  length solved by a majority of unique seeds (more than half of the seeds measured there;
  a seed run at several settings solves if any of its runs does); 0 when none is
  (`lrd.results.horizon`). When it is the longest length measured it is censored, shown
  "≥ T": the true horizon may be longer. It is also given with the solve tolerance halved
  and doubled (accuracy error 1 − 0.99 = 0.01 → accuracy ≥ 0.995 / ≥ 0.98; MSE 0.01 →
  < 0.005 / < 0.02), read from each task class.
- **Not run.** A sweep in horizon-search mode does not train a model at the lengths above the
  first one where every seed failed (`lrd sweep --full-grid` trains them). Such a cell is
  recorded as skipped, with the reason: the horizon table names it "not run (failed at T)", the
  horizon figure marks it with a hollow marker at the bottom of its panel, and no mean, band or
  seed count includes it.
- **Baselines.** The memoryless baseline is analytic (`lrd.tasks`): accuracy 1/8 on copy and
  delayed recall (8 symbols), (1 + (L−1)/n)/L on prefix sum, MSE 1/6 on adding; loss ratios
  divide by the task's baseline loss at the current training length.
"""


def _members(runs: pd.DataFrame, group: str) -> pd.Series:
    member = runs["group"] == group
    if "sweeps" in runs:
        member |= runs["sweeps"].fillna("").astype(str).str.split(";").apply(
            lambda names: group in names)
    return member


def study_status(runs: pd.DataFrame) -> list[str]:
    """One line per sweep group: its records by status (complete, diverged, skipped, failed)."""
    if runs.empty or "group" not in runs:
        return []
    names = set(runs["group"].dropna().astype(str))
    if "sweeps" in runs:
        names |= {n for v in runs["sweeps"].dropna().astype(str) for n in v.split(";") if n}
    out = []
    for name in sorted(names):
        st = runs.loc[_members(runs, name), "status"].value_counts()
        out.append(f"`{name}`: {int(st.sum())} records: " + ", ".join(
            f"{int(st.get(k, 0))} {k}" for k in ("complete", "diverged", resultslib.SKIPPED,
                                                  "failed")) + ".")
    return out


def provenance(results_dir: Path, n_runs: int) -> str:
    """How many records were made from a tree with uncommitted changes (timing.csv's
    ``env.git_dirty``)."""
    path = Path(results_dir) / "timing.csv"
    timing = pd.read_csv(path) if path.exists() and path.stat().st_size > 1 else pd.DataFrame()
    if "env.git_dirty" not in timing:
        return "Whether the records were made from a committed tree is not recorded here."
    dirty = timing["env.git_dirty"].astype(str).str.lower().eq("true")
    known = timing["env.git_dirty"].notna()
    return (f"{int(dirty.sum())} of {n_runs} records were made from a tree with uncommitted "
            f"changes (`env.git_dirty` in `timing.csv`)"
            + (f"; {int((~known).sum())} do not say" if (~known).any() else "") + ".")


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
    h = _ordered(h)
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
    t = _ordered(t, ("length", "seed")).drop(columns=["regime"])
    return to_markdown(t)


def readme(done: list, tables: dict[str, pd.DataFrame], runs: pd.DataFrame,
           results_dir: Path) -> str:
    results_dir = Path(results_dir)
    made = [d for d in done if isinstance(d, Made)]
    skipped = [d for d in done if isinstance(d, Skipped)]
    n_runs = 0 if runs.empty else len(runs)
    groups = sorted(runs["group"].dropna().unique()) if n_runs and "group" in runs else []
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
    status = study_status(runs)
    if status:
        out += ["Study status, records per sweep (a run shared by two sweeps counts in both):",
                ""] + [f"- {line}" for line in status] + [""]
    out += [provenance(results_dir, n_runs), "",
            "To regenerate everything: `make reproduce` (every sweep on the `cpu` profile), then "
            "`make figures` (or `lrd figures --results results`).", "", RULES]
    out += ["## How each training regime is scored", "", REGIMES_TEXT, "",
            curriculum_table(runs)]
    out += ["## Figures", ""]
    for d in made:
        png = next(p for p in d.files if p.suffix == ".png")
        pdf = next((p for p in d.files if p.suffix == ".pdf"), None)
        rel = Path(os.path.relpath(png, results_dir)).as_posix()
        out += [f"### {d.title}", "", f"![{d.title}]({rel})", "", d.caption, ""]
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
        out += [f"### {name.replace('_', ' ').capitalize()}", "", table.caption, "",
                f"Files: [tables/{name}.csv](tables/{name}.csv), "
                f"[tables/{name}.md](tables/{name}.md), [tables/{name}.tex](tables/{name}.tex)."
                , ""]
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
    out += [literature.section(runs)]
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
