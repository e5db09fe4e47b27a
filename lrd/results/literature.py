"""Against the literature: published findings that lrd can test, as data, each compared with
lrd's runs by one stated rule. ``report`` puts ``section(runs)`` into ``results/README.md``.

A ``Finding`` holds the citation, the published statement and setup (as precisely as we could
source them), the task, the sweeps whose runs test it, the score it is judged on with a cut,
and its subjects: a model as ``runs.csv`` names it (a glob: ``attention*`` is every positional
scheme measured, one row each), its init and regime, and the side of the cut the paper reports.

**The rule** (``judge``, ``verdict``). A cell is one subject at one training length (and, for
length generalisation, one test length). Its number is the seed mean of the score with its
95% bootstrap CI (``lrd.results.scores``: one value per seed; normalised loss = test loss /
memoryless baseline loss, or accuracy).

- no measured run in the cell: "not measured yet" (no verdict);
- no seed with a finite score (e.g. every run diverged): "no finite score" (no verdict);
- fewer than ``MIN_SEEDS`` seeds with a finite score (3, SPEC §7): "too few seeds" (no
  verdict);
- else the CI is on one side of the cut: "below" if its upper end is below the cut, "above" if
  its lower end is at or above it, "either" if it contains the cut; the cell **agrees** when
  that side is the published one, **disagrees** when it is the other, and is **unclear** when
  the CI contains the cut.

A finding agrees when every cell with a verdict agrees, disagrees when every one disagrees, is
"partly" otherwise; while no cell has a verdict it is "not measured yet", or "not judged yet
(too few seeds)" (or the other reason) when some cell has runs. The section says how
many cells have one. The setup differences are read from the configs of the runs used
(``setup``): optimiser and learning rate, hidden width, batch size, step budget and seeds.

Sources. The statements below were written from our reading of the papers, checked where we
could against their abstracts (Delétang et al. 2023's abstract: "LSTMs can solve regular and
counter-language tasks"; Le et al. 2015's: the IRNN is "comparable to ... LSTMs" on their toy
problems); figure readings (which curve stays at the baseline) are ours and hedged as such in
each statement. The prefix-sum claim is the one SPEC §1 asks lrd to test, not a paper's.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass

import pandas as pd

from lrd.figures.data import study
from lrd.results import scores as sc

MIN_SEEDS = 3
LOSS_CUT = 0.9   # normalised loss below 0.9: clearly below the memoryless baseline
NOT_MEASURED = "not measured yet"
TOO_FEW = "too few seeds"
NO_SCORE = "no finite score"


@dataclass(frozen=True)
class Subject:
    name: str                 # as the section shows it, e.g. "IRNN"
    model: str                # runs.csv ``model``, a glob ("attention*": every scheme)
    side: str                 # the published side of the cut: "below" or "above"
    init: str = "default"
    regime: str = "full"
    lengths: tuple[int, ...] | None = ()   # (): the finding's; None: every one measured up
    #                                        to the finding's longest


@dataclass(frozen=True)
class Finding:
    key: str
    citation: str
    task: str
    sweeps: tuple[str, ...]
    statement: str            # what the paper reports, as precisely as we can source it
    setup: str                # the paper's setup
    score: str                # sc.LOSS_RATIO or "accuracy"
    cut: float
    subjects: tuple[Subject, ...]
    lengths: tuple[int, ...]              # training lengths
    test_lengths: tuple[int, ...] = ()    # () : scored at the training length


@dataclass(frozen=True)
class Cell:
    subject: str
    model: str                # the runs.csv label (a subject's glob resolved)
    length: int | None        # None: a glob subject with no measured length
    test_length: int | None
    seeds: int
    solved: int
    ci: sc.MeanCI
    expected: str             # "below" / "above"
    verdict: str              # agree / disagree / unclear / too few seeds / not measured yet


# What the statements rest on: the abstracts of Delétang et al. 2023 (arXiv 2207.02098: "RNNs
# and Transformers fail to generalize on non-regular tasks, LSTMs can solve regular and
# counter-language tasks"), Le et al. 2015 (arXiv 1504.00941: IRNN "comparable to a standard
# implementation of LSTMs on our four benchmarks", two of them toy long-range problems) and
# Arjovsky et al. 2016 (arXiv 1511.06464), read in public copies; everything finer (which
# lengths, which curve stays at the baseline, optimisers, widths) is our reading of the papers'
# sections and figures, not re-checked against the PDFs here, and each statement says so.
_ATTENTION = "attention*"
FINDINGS = [
    Finding(
        "urnn_copy", "Arjovsky, Shah & Bengio 2016 (uRNN), §4.1 and Fig. 1", "copy",
        ("horizon_copy",),
        "On the copying memory problem (T = 100, 200, 300, 500) the LSTM and the tanh RNN made "
        "little or no progress below the memoryless baseline 10·ln 8/(T+20) within the "
        "training shown, while the uRNN went far below it (our reading of Fig. 1).",
        "RMSProp; models of roughly equal parameter count (the uRNN with 128 hidden units); "
        "curves of one training run per model, no seed statistics (as we read the paper).",
        sc.LOSS_RATIO, LOSS_CUT,
        (Subject("LSTM", "lstm", "above"), Subject("tanh RNN", "rnn-tanh", "above")),
        (100, 200, 500)),
    Finding(
        "urnn_adding", "Arjovsky, Shah & Bengio 2016 (uRNN), §4.2 and Fig. 2", "adding",
        ("horizon_adding",),
        "On the adding problem (T = 100, 200, 400, 750) the LSTM went below the baseline MSE "
        "at every T, while the tanh RNN stayed at the baseline at the longer T (our reading "
        "of Fig. 2; we test the tanh RNN at 400 and 750 only).",
        "RMSProp; parameter-matched models; one training curve per model (as we read it).",
        sc.LOSS_RATIO, LOSS_CUT,
        (Subject("LSTM", "lstm", "below"),
         Subject("tanh RNN", "rnn-tanh", "above", lengths=(400, 750))),
        (200, 400, 750)),
    Finding(
        "irnn_adding", "Le, Jaitly & Hinton 2015 (IRNN), §4.1", "adding", ("init_adding",
                                                                          "horizon_adding"),
        "On the adding problem (T = 150, 200, 300, 400) the IRNN (ReLU RNN, identity "
        "recurrent init) converged to a low test MSE, as the LSTM did (abstract: IRNN "
        "results comparable to LSTMs); we test T = 200 and 400.",
        "SGD with gradient clipping, 100 hidden units, their own adding-problem variant; "
        "test-MSE curves of the best hyperparameters (as we read it).",
        sc.LOSS_RATIO, LOSS_CUT,
        (Subject("IRNN", "rnn-relu", "below", init="identity"), Subject("LSTM", "lstm",
                                                                         "below")),
        (200, 400)),
    Finding(
        "chomsky_modular", "Delétang et al. 2023, Neural networks and the Chomsky hierarchy "
        "(ICLR), Table 2", "prefix_sum", ("prefix_sum_study", "positions_prefix_sum"),
        "Trained on lengths up to 40 and tested on longer ones (41–500), the LSTM "
        "generalised on the regular tasks, including the modular-counting ones (parity "
        "check, cycle navigation, modular arithmetic), at accuracy near 100%; the "
        "Transformer did not generalise on several of them (e.g. parity check, near chance) "
        "with the positional encodings they report (our reading of their Table 2).",
        "Final-answer (not per-step) tasks; accuracy averaged over the test lengths; the "
        "best of several seeds and learning rates reported; far longer training than lrd's "
        "(as we read it).",
        "accuracy", 0.9,
        (Subject("LSTM", "lstm", "above"), Subject("Transformer", _ATTENTION, "below",
                                                    lengths=None)),
        (20, 40), (200, 1000, 5000)),
    Finding(
        "prefix_sum_200", "lrd SPEC §1 (the claim under test; not a paper)", "prefix_sum",
        ("prefix_sum_study", "regime_prefix_sum"),
        "Prefix sum mod 3 trained at L = 200 without teacher forcing (full BPTT) fails: test "
        "accuracy below 35%. SPEC §1 says it holds for the tanh RNN and not for the LSTM; "
        "every model is judged separately here.",
        "None given.",
        "accuracy", 0.35,
        (Subject("tanh RNN", "rnn-tanh", "below"), Subject("LSTM", "lstm", "below"),
         Subject("GRU", "gru", "below"), Subject("Transformer", _ATTENTION, "below")),
        (200,)),
]


def _rows(runs: pd.DataFrame, f: Finding) -> pd.DataFrame:
    """The measured runs of the finding's sweeps and task (each run once)."""
    rows = pd.concat([study(runs, s) for s in f.sweeps], ignore_index=True)
    if rows.empty:
        return pd.DataFrame(columns=["run_id", *sc.KEYS, "seed", "solved", sc.LOSS_RATIO])
    rows = rows.drop_duplicates("run_id") if "run_id" in rows else rows
    return sc.measured(rows[rows["task"] == f.task])


def judge(values: list[float], cut: float, side: str) -> tuple[sc.MeanCI, str]:
    """The CI and verdict of one cell from its per-seed values (NaN: a seed with no finite
    score, e.g. diverged), by the module's rule."""
    ci = sc.mean_ci(values)
    finite = [v for v in values if not math.isnan(v)]
    if not values:
        return ci, NOT_MEASURED
    if not finite:
        return ci, NO_SCORE
    if len(finite) < MIN_SEEDS:
        return ci, TOO_FEW
    got = "below" if ci.high < cut else "above" if ci.low >= cut else "either"
    if got == "either":
        return ci, "unclear"
    return ci, "agree" if got == side else "disagree"


def cells(f: Finding, runs: pd.DataFrame) -> list[Cell]:
    """Every cell of ``f`` on ``runs``: measured or not (see the module docstring)."""
    rows = _rows(runs, f)
    out = []
    for sub in f.subjects:
        mine = rows[(rows["init"] == sub.init) & (rows["regime"] == sub.regime)]
        labels = sorted({m for m in mine["model"] if fnmatch.fnmatch(m, sub.model)})
        for label in labels or [sub.model]:
            of = mine[mine["model"] == label]
            if sub.lengths is None:
                lengths = sorted(int(n) for n in of["length"].unique() if n <= max(f.lengths))
            else:
                lengths = list(sub.lengths or f.lengths)
            for n in lengths or [None]:
                at = of[of["length"] == n]
                for t in f.test_lengths or [None]:
                    values = sc.seed_values(at, _column(f.score, t)) if len(at) else []
                    ci, v = judge(values, f.cut, sub.side)
                    out.append(Cell(sub.name, label, n, t, len(values), sc.solved_seeds(at),
                                    ci, sub.side, v))
    return out


def _column(score: str, test_length: int | None) -> str:
    """The runs.csv column of ``score`` at ``test_length`` (None: the training length); the
    normalised loss exists at the training length only."""
    if score == sc.LOSS_RATIO:
        return score
    return f"test.{score}" if test_length is None else f"length.{test_length}.{score}"


def verdict(found: list[Cell]) -> str:
    """The finding's verdict from its cells (module docstring)."""
    judged = [c.verdict for c in found if c.verdict in ("agree", "disagree", "unclear")]
    if not judged:
        why = sorted({c.verdict for c in found} - {NOT_MEASURED})
        return f"not judged yet ({', '.join(why)})" if why else NOT_MEASURED
    if all(v == "agree" for v in judged):
        return "agree"
    if all(v == "disagree" for v in judged):
        return "disagree"
    return "partly"


def setup(f: Finding, runs: pd.DataFrame) -> str:
    """lrd's setup for ``f``, read from the configs of the runs used: every distinct value."""
    rows = _rows(runs, f)
    if rows.empty:
        return "no runs yet"

    def vals(col, fmt=str):
        if col not in rows:
            return "?"
        v = sorted({x for x in rows[col].dropna()}, key=lambda x: (str(type(x)), x))
        return "/".join(fmt(x) for x in v) if v else "?"

    num = lambda x: f"{x:g}" if isinstance(x, float) else str(x)  # noqa: E731
    per_cell = rows.groupby(["model", "init", "regime", "length"])["seed"].nunique()
    seeds = sorted(set(int(s) for s in per_cell))
    return (f"{vals('config.optim.name')}, lr {vals('config.optim.lr', num)}; hidden "
            f"{vals('config.model.hidden_size', num)}; batch "
            f"{vals('config.train.batch_size', num)}; at most "
            f"{vals('config.train.max_steps', num)} steps; "
            f"{'/'.join(map(str, seeds))} seeds per cell")


def _side_text(f: Finding, side: str) -> str:
    what = "loss/baseline" if f.score == sc.LOSS_RATIO else f.score
    return f"{what} {'<' if side == 'below' else '≥'} {f.cut:g}"


def section(runs: pd.DataFrame) -> str:
    """The "Against the literature" section of results/README.md (markdown)."""
    out = ["## Against the literature", "",
           "Each published finding lrd can test, with lrd's numbers (seed mean and 95% "
           "bootstrap CI) and a verdict by one rule (`lrd/results/literature.py`): a cell "
           f"needs at least {MIN_SEEDS} seeds; it **agrees** when the CI lies wholly on the "
           "published side of the cut, **disagrees** when it lies wholly on the other side, "
           "and is **unclear** when it contains the cut. A finding agrees (disagrees) when "
           "every judged cell does, and is *partly* otherwise. Cells without runs say "
           f"\"{NOT_MEASURED}\" and are never judged. Normalised loss is test loss / the "
           f"memoryless baseline loss; below {LOSS_CUT:g} counts as clearly below the "
           "baseline.", ""]
    for f in FINDINGS:
        found = cells(f, runs)
        judged = sum(c.verdict in ("agree", "disagree", "unclear") for c in found)
        out += [f"### {f.citation}: {f.task}", "",
                f"**Verdict: {verdict(found)}** ({judged} of {len(found)} cells judged).", "",
                f"- Published: {f.statement}", f"- Their setup: {f.setup}",
                f"- lrd's setup: {setup(f, runs)}; sweeps "
                + ", ".join(f"`{s}`" for s in f.sweeps) + ".", ""]
        score = "loss/baseline" if f.score == sc.LOSS_RATIO else f.score
        head = ["model", "train length"] + (["test length"] if f.test_lengths else []) + [
            "seeds", "solved" + (" (at train)" if f.test_lengths else ""),
            f"{score} [95% CI]", "published", "verdict"]
        out += ["| " + " | ".join(head) + " |", "|" + "|".join(":---" for _ in head) + "|"]
        for c in found:
            glob = any(s.name == c.subject and "*" in s.model for s in f.subjects)
            label = f"{c.subject} ({c.model})" if glob and "*" not in c.model else c.subject
            row = [label, "any" if c.length is None else str(c.length)]
            row += [str(c.test_length)] if f.test_lengths else []
            measured = c.seeds > 0
            row += [str(c.seeds) if measured else "–",
                    f"{c.solved}/{c.seeds}" if measured else "–",
                    sc.ci_text(c.ci) if measured else NOT_MEASURED,
                    _side_text(f, c.expected), c.verdict]
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
