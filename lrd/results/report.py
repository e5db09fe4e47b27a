"""Tables and the report, from ``results/`` alone: ``lrd figures`` writes them after the figures.

``results/tables/`` gets each table as CSV, Markdown and LaTeX (booktabs):

- ``horizon``: the memory horizon per (task, model, init, regime): the largest training length
  solved in at least half of the seeds (``lrd.results.horizon``; 0: no length solved), the
  largest length of the grid, and the seed count; where the horizon search left lengths not run,
  a ``not_run`` column names them and the length where every seed failed ("50, 100 not run
  (failed at T=20)"): never missing data, never a measured failure.
- ``prefix_sum``: the ``prefix_sum_study`` sweep: per (train length, regime, model), the mean
  test accuracy over seeds at each test length, with the seed count.

Every cell is formatted to a fixed number of decimals and the rows are sorted, so the same
``results/`` always gives byte-identical tables. ``results/README.md`` shows every figure with
what it plots, how to read it, numbers computed from the results, the sweep and the command that
produced it, the tables, and the aggregation rules.
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
from lrd.figures.data import Made, Skipped, load_runs, require_results, study
from lrd.tasks.prefix_sum import PrefixSum
from lrd.training.record import write_atomic

PREFIX_SWEEP = "prefix_sum_study"


# -- tables --------------------------------------------------------------------------------
def horizon_table(runs: pd.DataFrame) -> pd.DataFrame:
    h = resultslib.horizon(runs) if not runs.empty else resultslib.horizon(pd.DataFrame())
    if h.empty:
        return pd.DataFrame(columns=["task", "model", "init", "regime", "horizon",
                                     "max_length", "seeds"])
    h = h.copy()
    tasks, models = style.task_order(), style.model_order()
    h["_t"] = h["task"].map(lambda t: style.rank(t, tasks))
    h["_m"] = h["model"].map(lambda m: style.rank(m, models))
    h["_i"] = h["init"].map(lambda i: style.rank(i, style.INIT_ORDER))
    h["_r"] = h["regime"].map(lambda r: style.rank(r, style.REGIME_ORDER))
    h = h.sort_values(["_t", "task", "_m", "model", "_i", "init", "_r", "regime"], kind="stable")
    h = h.drop(columns=["_t", "_m", "_i", "_r"]).reset_index(drop=True)
    for c in ("horizon", "max_length", "seeds"):
        h[c] = h[c].astype(int)
    return h


def prefix_sum_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (train_length, regime, model): seeds, and the mean accuracy at each test length."""
    rows = study(runs, PREFIX_SWEEP)
    if rows.empty:
        return pd.DataFrame(columns=["train_length", "regime", "model", "seeds"])
    tests = sorted(int(m.group(1)) for c in rows.columns
                   if (m := re.match(r"^length\.(\d+)\.accuracy$", c)) and rows[c].notna().any())
    out = []
    for (L, regime, model), g in rows.groupby(["length", "regime", "model"]):
        row = {"train_length": int(L), "regime": regime, "model": model,
               "seeds": int(g["seed"].nunique())}
        row["acc@train"] = float(pd.to_numeric(g["test.accuracy"], errors="coerce").mean())
        for n in tests:
            row[f"acc@{n}"] = float(pd.to_numeric(g[f"length.{n}.accuracy"],
                                                  errors="coerce").mean())
        out.append(row)
    t = pd.DataFrame(out)
    models = style.model_order()
    t["_r"] = t["regime"].map(lambda r: style.rank(r, style.REGIME_ORDER))
    t["_m"] = t["model"].map(lambda m: style.rank(m, models))
    t = t.sort_values(["train_length", "_r", "regime", "_m", "model"], kind="stable")
    return t.drop(columns=["_r", "_m"]).reset_index(drop=True)


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
                     .replace("–", "--"))
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             rf"\caption{{{tex(caption)}}}", rf"\label{{{label}}}",
             r"\begin{tabular}{" + "".join("r" if n else "l" for n in num) + "}",
             r"\toprule", " & ".join(tex(c) for c in df.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(tex(c) for c in r) + r" \\" for r in cells]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def _is_num(s: str) -> bool:
    return s == "–" or re.fullmatch(r"-?\d+(\.\d+)?", s) is not None


@dataclass(frozen=True)
class Table:
    caption: str
    build: Callable[[pd.DataFrame], pd.DataFrame]
    sweeps: tuple[str, ...] = ()   # the sweeps it comes from; () for every sweep


# name -> table, in report order; each is written to tables/<name>.{csv,md,tex}.
TABLES = {
    "horizon": Table("Memory horizon: the largest training length solved in at least half of "
                     "the seeds per task, model, initialisation and regime (0: none solved), "
                     "the largest length of the grid, and the number of seeds; not_run (if "
                     "any): the lengths the horizon search did not run, because every seed "
                     "failed at a shorter length T.", horizon_table),
    PrefixSum.name: Table(f"{PrefixSum.label} mod n: mean test accuracy over seeds of the final "
                          "model at the training length (acc@train) and at each test length "
                          "(acc@N), per training length, regime and model.", prefix_sum_table,
                          (PREFIX_SWEEP,)),
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
  metrics) are left out; the seed count is shown with every aggregate.
- **Memory horizon.** For each (task, model, initialisation, regime): the largest training
  length solved in at least half of its seeds; 0 when none is (`lrd.results.horizon`).
- **Not run.** A sweep in horizon-search mode does not train a model at the lengths above the
  first one where every seed failed (`lrd sweep --full-grid` trains them). Such a cell is
  recorded as skipped, with the reason: the horizon table names it "not run (failed at T)", the
  horizon figure marks it with a hollow marker at the bottom of its panel, and no mean, band or
  seed count includes it.
- **Baselines.** The memoryless baseline is analytic (`lrd.tasks`): accuracy 1/8 on copy and
  delayed recall (8 symbols), (1 + (L−1)/n)/L on prefix sum, MSE 1/6 on adding; loss ratios
  divide by the task's baseline loss at the current training length.
"""


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
              if n_runs else "."), "",
           "To regenerate everything: `make reproduce` (every sweep on the `cpu` profile), then "
           "`make figures` (or `lrd figures --results results`).", "", RULES]
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
        out += [to_markdown(df) if len(df) else "_No runs for this table yet._", ""]
        if table.sweeps:
            out += [f"Sweep{'s' if len(table.sweeps) > 1 else ''}: "
                    + ", ".join(f"`configs/sweeps/{s}.yaml`" for s in table.sweeps) + ".", "",
                    "```bash", command(list(table.sweeps)), "```", ""]
        else:
            out += ["Sweeps: every sweep (`make reproduce`), then `lrd figures`.", ""]
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
