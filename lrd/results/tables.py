"""The report's tables, from ``results/`` alone (``lrd figures`` writes them; ``report``
embeds them in ``results/README.md``).

``results/tables/`` gets each table as CSV, Markdown and LaTeX (booktabs):

- ``horizon``: the memory horizon per (task, model, init, regime) (``lrd.results.horizon``:
  the largest training length solved by a majority of unique seeds; 0: none), shown "≥ T"
  when censored (T is the longest length measured), and the same at half and double the solve
  tolerance (``horizon_strict``, ``horizon_loose``); the largest length of the grid and the
  seed count; where the horizon search left lengths not run, a ``not_run`` column names them
  and the length where every seed failed, with the budget of the runs that failed there
  ("50, 100 not run (failed at T=20 with 4000 steps)").
- ``prefix_sum``: the ``prefix_sum_study`` sweep: per (train length, regime, model), the seed
  mean test accuracy with its 95% bootstrap CI at the training length and each test length.
- ``scores``: per (task, model, init, regime, length): seeds, seeds solved (k/n), seeds
  diverged (every run of the seed diverged: no finite score), and the seed mean with its 95%
  bootstrap CI over the finite seeds of the normalised loss (test loss / memoryless baseline)
  and of the accuracy (``lrd.results.scores``); "– (all diverged)" where every seed diverged.
- ``budget``: per cell a majority of seeds failed, whether its failed seeds were still
  improving when their step budget ran out, or failed without using it (diverged)
  (``lrd.results.budget``; it reads the curves).

Every cell is formatted to a fixed number of decimals (a CI as "mean [low, high]") and the rows
are sorted, so the same ``results/`` always gives byte-identical tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from lrd import results as resultslib
from lrd.figures import style
from lrd.figures.data import load_runs
from lrd.results import scores as sc
from lrd.results.budget import budget_table, improving
from lrd.results.select import study
from lrd.tasks.prefix_sum import PrefixSum
from lrd.training.record import write_atomic

PREFIX_SWEEP = "prefix_sum_study"


def ordered(df: pd.DataFrame, extra: tuple[str, ...] = ()) -> pd.DataFrame:
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


def horizon_table(runs: pd.DataFrame, results_dir=None) -> pd.DataFrame:
    """``lrd.results.horizon`` as the report shows it; with ``results_dir`` (its training
    curves), a skip whose failure was still improving when its budget ran out says so."""
    limited = (improving(budget_table(runs, results_dir))
               if results_dir is not None and not runs.empty else frozenset())
    h = resultslib.horizon(runs, limited) if not runs.empty else resultslib.horizon(pd.DataFrame())
    if h.empty:
        return pd.DataFrame(columns=["task", "model", "init", "regime", "horizon",
                                     "max_length", "seeds"])
    h = ordered(h)
    for c in ("horizon", "horizon_strict", "horizon_loose"):   # no seed measured: "–"
        h[c] = [horizon_text(v if k > 0 else None, n)
                for v, n, k in zip(h[c], h["longest_run"], h["seeds"])]
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


ALL_DIVERGED = "– (all diverged)"   # a score no seed has, because every seed diverged


def scores_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (task, model, init, regime, length): seeds, solved k/n, diverged seeds, and the
    normalised loss and accuracy as "mean [low, high]" over the finite seeds
    (``lrd.results.scores``); a score is ``ALL_DIVERGED`` where every seed diverged (the
    accuracy only for a task some cell of which has one)."""
    cols = ["task", "model", "init", "regime", "length", "seeds", "solved", "diverged",
            "loss/baseline", "accuracy"]
    s = sc.scores(runs)
    if s.empty:
        return pd.DataFrame(columns=cols)
    s = ordered(s, ("length",))
    s["solved"] = [f"{k}/{n}" for k, n in zip(s["solved"], s["seeds"])]
    all_div = s["diverged"] == s["seeds"]
    has_acc = s.groupby("task")["acc"].transform("count") > 0
    s["loss/baseline"] = _score_texts(s, "loss", all_div)
    s["accuracy"] = _score_texts(s, "acc", all_div & has_acc)
    for c in ("length", "seeds", "diverged"):
        s[c] = s[c].astype(int)
    return s[cols]


def _score_texts(s: pd.DataFrame, col: str, all_diverged: pd.Series) -> list[str]:
    """``col`` ("loss" or "acc") of ``sc.scores`` rows as "mean [low, high]"; ``ALL_DIVERGED``
    where it has no value and ``all_diverged`` is set."""
    texts = [sc.ci_text(sc.MeanCI(*v)) for v in zip(s[col], s[f"{col}_lo"], s[f"{col}_hi"])]
    return [ALL_DIVERGED if t == "–" and d else t for t, d in zip(texts, all_diverged)]


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
    """A number, "≥ T", "k/n", "mean [low, high]", "–" or ``ALL_DIVERGED``: right-aligned."""
    num = r"-?\d+(\.\d+)?"
    return s in ("–", ALL_DIVERGED) or re.fullmatch(
        rf"(≥ )?{num}|\d+/\d+|{num} \[(–|{num}, {num})\]", s) is not None


@dataclass(frozen=True)
class Table:
    caption: str
    build: Callable[..., pd.DataFrame]   # build(runs), or build(runs, results_dir) if curves
    sweeps: tuple[str, ...] = ()   # the sweeps it comes from; () for every sweep
    embed: bool = True             # shown in README.md (else linked: a long table)
    curves: bool = False           # reads the training curves too (results/curves.csv)


# name -> table, in report order; each is written to tables/<name>.{csv,md,tex}.
TABLES = {
    "horizon": Table("Memory horizon: the largest training length solved by a majority of the "
                     "unique seeds, per task, model, initialisation and regime (0: none "
                     "solved; ≥ T: solved at the longest length measured, so censored), and "
                     "the same with the solve tolerance halved (horizon_strict) and doubled "
                     "(horizon_loose); the largest length of the grid and the fewest seeds "
                     "measured at a length; not_run (if any): the lengths the horizon search "
                     "did not run, because every seed failed at a shorter length (and "
                     "whether those seeds were still improving when their step budget ran "
                     "out: the search may then have stopped for want of steps).",
                     horizon_table, curves=True),
    PrefixSum.name: Table(f"{PrefixSum.label} mod n: test accuracy of the final model, seed "
                          "mean [95% bootstrap CI], at the training length (acc@train) and at "
                          "each test length (acc@N), per training length, regime and model.",
                          prefix_sum_table, (PREFIX_SWEEP,)),
    "scores": Table("Final scores per task, model, initialisation, regime and training length: "
                    "unique seeds measured, seeds solved (k/n), seeds diverged (every run "
                    "diverged: no finite score, left out of the mean), and the seed mean [95% "
                    "bootstrap CI] over the other seeds of the normalised loss (test loss / "
                    "memoryless baseline loss; 1 = no memory) and of the accuracy (– where the "
                    "task has none; – (all diverged) where every seed diverged).",
                    scores_table, embed=False),
    "budget": Table("Step budget: every cell (task, model, initialisation, regime, training "
                    "length) that a majority of seeds failed: its seeds that used their whole "
                    "step budget without solving (seeds), its seeds every run of which diverged "
                    "(diverged), the budget (steps), and over the seeds counted the seed mean "
                    "[95% bootstrap CI] of the train loss / memoryless baseline over the last "
                    "10% of the budget, and of its relative fall over the last quarter "
                    "(1 − that end value / the mean over 65–75% of the budget); verdict: still "
                    "improving (the fall's CI above 2%), at the baseline (end CI ≥ 0.9) or no "
                    "clear fall; too few seeds: fewer than 3 used their budget; budget not "
                    "used: no failed seed used it (they diverged or stopped early) "
                    "(lrd/results/budget.py).",
                    budget_table, curves=True),
}


def write_tables(results_dir, runs: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Every table under ``results_dir/tables`` as .csv, .md and .tex; returns the tables."""
    results_dir = Path(results_dir)
    runs = load_runs(results_dir) if runs is None else runs
    out_dir = results_dir / "tables"
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {}
    for name, table in TABLES.items():
        df = table.build(runs, results_dir) if table.curves else table.build(runs)
        tables[name] = df
        write_atomic(out_dir / f"{name}.csv", to_csv(df))
        write_atomic(out_dir / f"{name}.md", to_markdown(df))
        label = f"tab:{name.replace('_', '-')}"
        write_atomic(out_dir / f"{name}.tex", to_latex(df, table.caption, label))
    return tables
