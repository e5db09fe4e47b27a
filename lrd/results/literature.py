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
- a seed whose every run diverged has no score but failed: it lies on the side of the cut a
  failed model lies on (loss/baseline at or above it, accuracy below it), and the table says
  how many seeds diverged;
- no seed with a finite score and none diverged: "no finite score" (no verdict);
- fewer than ``MIN_SEEDS`` seeds with a finite score or diverged (3, SPEC §7): "too few seeds"
  (no verdict);
- else the CI of the finite seeds is on one side of the cut: "below" if its upper end is below
  the cut, "above" if its lower end is at or above it, "either" if it contains the cut; the
  cell **agrees** when that side (and the diverged seeds' side) is the published one,
  **disagrees** when it is the other, and is **unclear** when the CI contains the cut or the
  finite and the diverged seeds lie on different sides.

A subject the source makes no claim about is reported ("reported (no claim)"), never judged; a
training length the source's claim excepts is shown and "not judged" with the reason.

A finding agrees when every cell with a verdict agrees, disagrees when every one disagrees, is
"unclear" when every one is unclear, "partly" otherwise; while no cell has a verdict it is "not
measured yet", or "not judged yet (too few seeds)" (or the other reason) when some cell has
runs, and while a subject with a claim has no judged cell it is "not judged yet" too (a paper's
main model unmeasured). Each subject's own verdict is listed beside it; a finding marked
``overall=False`` (SPEC §1's prefix-sum claim: "never one verdict for all") has only those. A
verdict on an outcome we recall but could not confirm says so. For length generalisation, the
cells of a subject published to fail at longer lengths are "not judged" while a majority of its
seeds did not learn its own training length: its low scores there are no failure to generalise
a solution it never found. "Learned" reads the finding's cut at the training length (for
Delétang et al., per-token accuracy >= 0.9 there). This is lrd's reading, chosen after the runs
were in: the paper applies its 90% to its own score (one answer per sequence, averaged over
unseen lengths), and the rule before was lrd's solved (>= 0.99). ``gate_note`` prints the verdict
under that stricter gate and the whole-sequence accuracy of the seeds counted as learned, so
the report shows how much the verdict rests on the choice. The section says how many cells
have a verdict, and names the cells whose seeds diverged (a failure of optimisation at lrd's
one setting, not a measured failure to remember). The setup differences are read from the configs of the runs in the measured cells
(``setup``): the task's parameters, optimiser, learning rate and clipping, hidden width (and
attention's layers and heads), batch size, step budget, early stopping and seeds.

Sources. Each statement and setup says what it rests on, at the precision that source allows;
the comment above ``FINDINGS`` lists the texts read and what stays unconfirmed. Delétang et
al. 2023 was read in full text (methods, results, appendices A and B; its Table 2 itself was not
in the converted copy). For Arjovsky et al. 2016 we read the authors' own repository: an early
LaTeX draft of the paper (copying-memory section only; its adding-problem section is empty) and
the training code; the published figures were not read. For Le et al. 2015 only the abstract
could be read. The prefix-sum claim is the one SPEC §1 asks lrd to test, not a paper's.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass

import pandas as pd

from lrd.results.select import not_run, study
from lrd.results import scores as sc
from lrd.results.aggregate import budget_text, failed_text, length_symbol
from lrd.results.budget import improving

MIN_SEEDS = sc.MIN_SEEDS
LOSS_CUT = sc.LOSS_CUT
NOT_MEASURED = "not measured yet"
NOT_RUN = "not run"   # the horizon search skipped the cell
TOO_FEW = "too few seeds"
NO_SCORE = "no finite score"
NO_CLAIM = "reported (no claim)"   # a subject the source makes no claim about
NOT_JUDGED = "not judged"          # a cell the finding shows but does not judge (with why)
NOT_LEARNED = "not learned at its training length"   # why a generalisation cell is not judged
JUDGED = ("agree", "disagree", "unclear")


@dataclass(frozen=True)
class Subject:
    name: str                 # as the section shows it, e.g. "IRNN"
    model: str                # runs.csv ``model``, a glob ("attention*": every scheme)
    side: str | None          # the published side of the cut: "below" or "above"; None:
    #                           the source makes no claim (reported, never judged)
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
    not_judged: tuple[tuple[int, str], ...] = ()   # (training length, why): shown, not judged
    overall: bool = True      # False: a verdict per subject only, never one for all (SPEC §1)
    recalled: bool = False    # the outcome tested is our recollection (unconfirmed)
    source: str = "Published"   # what the statement is: a paper's ("Published") or a claim


@dataclass(frozen=True)
class Cell:
    subject: str
    model: str                # the runs.csv label (a subject's glob resolved)
    length: int | None        # None: a glob subject with no measured length
    test_length: int | None
    seeds: int
    solved: int
    ci: sc.MeanCI
    expected: str | None      # "below" / "above" / None (no claim)
    verdict: str              # agree / disagree / unclear / too few seeds / not measured yet /
    #                           reported (no claim) / not judged: why / not run: why
    diverged: int = 0         # seeds every run of which diverged (no score; a failure)
    learned: int = 0          # seeds on the success side of the cut at the training length


# What the statements rest on (checked for each finding; nothing here is cited that was not read):
# - Delétang et al. 2023 (ICLR; arXiv 2207.02098): full text of the arXiv HTML version, §4
#   (N = 40, test lengths U(41, 500), score = accuracy averaged over unseen lengths, max over 10
#   seeds), §5.4 (five positional encodings, best reported; Transformers fail on Parity Check and
#   every task but Even Pairs, Cycle Navigation and Bucket Sort "regardless of their positional
#   encodings"), App. A.2/A.4 (LSTM 256 units; Transformer encoder 5 blocks, d_model 64; batch
#   128; Adam, 1e6 steps; learning rates 1e-4, 3e-4, 5e-4), App. B.1 (all networks but the
#   Transformer solve all regular tasks for all seeds; "solved" = score >= 90%), App. B.3.2
#   (Transformer 61.9% on Cycle Navigation, chance 20%). Also the repository
#   google-deepmind/neural_networks_chomsky_hierarchy (task list, the five encodings in
#   models/positional_encodings.py, sequence_length 40 and lr 1e-3 in experiments/example.py).
#   Unconfirmed: Table 2's own numbers (the converted text omits the table). A later paper's
#   table that copies its columns gives Transformer 24.2 (Modular Arithmetic (Simple)) and 52.0
#   (Parity Check), LSTM 100.0 on both, but we did not see Table 2 itself.
# - Arjovsky, Shah & Bengio 2016 (ICML; arXiv 1511.06464): the authors' repository
#   amarshah/complex_RNN. paper/uRNN/uRNN.tex is an early draft (ICLR 2016 template), not the
#   published text. Its copying section says that "except in the simplest case" both the tanh RNN
#   and the LSTM "get almost exactly the same cost as the memoryless strategy", and that at the
#   first T the LSTM "stays on the baseline for a while, before starting to improve very slowly";
#   it gives the baseline 10 log 8 / (T + 20). Its adding-problem section is an empty stub. The
#   figure files in the repository (memory_100/200/300/500, adding_100/200/400/750) confirm the
#   lengths; the figures themselves (images) were not read. memory_problem.py, adding_problem.py
#   and optimizations.py give RMSProp (decay 0.9), default lr 1e-3, default batch 20, default
#   20,000 iterations, element-wise gradient clipping at 1 for the LSTM and tanh RNN (none for the
#   uRNN), 1e5 training and 1e4 test sequences. These are the code's defaults, not necessarily
#   the published runs. The hidden sizes (copying: LSTM 40, tanh RNN 80, uRNN 128; adding: 128,
#   128, 512) and the adding batch sizes (20 and 50) come only from a third-party reproduction
#   script that says it took them from the paper: unconfirmed.
#   Unconfirmed: the published wording, section and figure numbers, every adding-problem outcome,
#   and how far the T = 100 copying curves fell by the end of training.
# - Le, Jaitly & Hinton 2015 (arXiv 1504.00941): only the abstract could be read (IRNN
#   "comparable to a standard implementation of LSTMs on our four benchmarks: two toy problems
#   involving long-range temporal structures, a large language modeling problem and a benchmark
#   speech recognition problem"). Unconfirmed: the adding-problem lengths (we recall T = 150,
#   200, 300, 400), which models reached a low MSE at which T, the hidden size, the optimiser,
#   the learning rates and the clipping values.
_ATTENTION = "attention*"
FINDINGS = [
    Finding(
        "urnn_copy", "Arjovsky, Shah & Bengio 2016 (uRNN), copying memory problem", "copy",
        ("horizon_copy",),
        "On the copying memory problem (T = 100, 200, 300, 500; memoryless baseline "
        "10·ln 8/(T+20)), except in the simplest case (T = 100, the first plot) the tanh RNN "
        "and the LSTM got almost exactly the baseline cost, while the uRNN went to near "
        "zero. At T = 100 the LSTM stayed at the baseline for a while and then improved very "
        "slowly. This is from the authors' early draft, not the published text. How far the "
        "T = 100 curves fell by the end of training is unconfirmed, so the T = 100 cells are "
        "the weakest test of the claim.",
        "From the authors' code defaults, not confirmed as the published runs: RMSProp (decay "
        "0.9), lr 1e-3, batch 20, 20,000 iterations, element-wise gradient clipping at 1 for "
        "the LSTM and tanh RNN. The hidden sizes (LSTM 40, tanh RNN 80, uRNN 128, about equal "
        "parameter counts) are unconfirmed. No seed statistics in the text we read.",
        sc.LOSS_RATIO, LOSS_CUT,
        (Subject("LSTM", "lstm", "above"), Subject("tanh RNN", "rnn-tanh", "above")),
        (100, 200, 500),
        not_judged=((100, "the claim excepts the simplest case, T = 100"),)),
    Finding(
        "urnn_adding", "Arjovsky, Shah & Bengio 2016 (uRNN), adding problem", "adding",
        ("horizon_adding",),
        "Adding problem at T = 100, 200, 400, 750 (the lengths of the authors' figure files). "
        "The outcome tested here is unconfirmed: the LSTM below the baseline MSE at every T, "
        "and the tanh RNN at the baseline at the longer T. It is our recollection of the "
        "published figure, because the only text we could read (the authors' early draft) has "
        "no adding-problem results. We test the tanh RNN at 400 and 750 only.",
        "From the authors' code defaults, not confirmed as the published runs: RMSProp (decay "
        "0.9), lr 1e-3, batch 20, element-wise clipping at 1 for the LSTM and tanh RNN, MSE "
        "loss. The two markers fall one in each half of the sequence, and predicting 1 gives "
        "MSE ≈ 0.167. The hidden sizes (LSTM and tanh RNN 128, uRNN 512) and a batch of 50 are "
        "unconfirmed.",
        sc.LOSS_RATIO, LOSS_CUT,
        (Subject("LSTM", "lstm", "below"),
         Subject("tanh RNN", "rnn-tanh", "above", lengths=(400, 750))),
        (200, 400, 750), recalled=True),
    Finding(
        "irnn_adding", "Le, Jaitly & Hinton 2015 (IRNN), adding problem", "adding",
        ("irnn_adding", "irnn_sgd_adding", "init_adding", "horizon_adding"),
        "The abstract (the only part we could read) says the IRNN (ReLU RNN, identity-"
        "initialised recurrent matrix) is comparable to a standard LSTM on four benchmarks, "
        "two of them toy long-range problems. The details tested here are unconfirmed: that on "
        "the adding problem (T = 150, 200, 300, 400, as we recall) both the IRNN and the LSTM "
        "reached a low test MSE. We test T = 200 and 400.",
        "Unconfirmed, from memory of the paper: SGD with gradient clipping, sweeps over "
        "learning rates and clipping thresholds with the best run's test-MSE curve shown, and "
        "100 hidden units.",
        sc.LOSS_RATIO, LOSS_CUT,
        (Subject("IRNN", "rnn-relu", "below", init="identity"), Subject("LSTM", "lstm",
                                                                         "below")),
        (200, 400), recalled=True),
    Finding(
        "chomsky_modular", "Delétang et al. 2023, Neural networks and the Chomsky hierarchy "
        "(ICLR), §4–5 and App. A–B", "prefix_sum",
        ("prefix_sum_study", "positions_prefix_sum", "lr_positions_prefix_sum"),
        "Trained on lengths 1–40 and scored on unseen lengths 41–500, the LSTM solved all "
        "four regular tasks for every seed (App. B.1). These are Even Pairs, Modular "
        "Arithmetic (Simple) (mod 5), Parity Check and Cycle Navigation (mod 5), and "
        "'solved' means a score of at least 90%. The Transformer encoder was reported with "
        "the best of five positional encodings: none, sin/cos, RoPE, ALiBi and "
        "Transformer-XL relative. It failed on Parity Check and Modular Arithmetic (Simple) "
        "whatever the encoding (§5.4). It reached 61.9% on Cycle Navigation, above the 20% "
        "chance level but not solved (App. B.3.2). Of the regular tasks it solved only Even "
        "Pairs. The paper trains only with N = 40 and tests no length beyond 500, so lrd's "
        "cells at training length 20, and at test lengths 1000 and 5000, extrapolate the "
        "claim.",
        "Lengths drawn uniformly from 1–40 per batch of 128. Adam with default settings for "
        "1,000,000 steps. LSTM: one layer, 256 units; Transformer: encoder of 5 blocks, "
        "d_model 64. Each model was run with 10 seeds × 3 learning rates (1e-4, 3e-4, 5e-4), "
        "times 5 encodings for the Transformer, and the maximum score is reported. The score "
        "is the accuracy averaged over the test lengths. Their regular tasks give one answer "
        "after the whole input, not an output at each step (§4, App. A.2–A.4).",
        "accuracy", 0.9,
        (Subject("LSTM", "lstm", "above"), Subject("Transformer", _ATTENTION, "below",
                                                    lengths=None)),
        (20, 40), (200, 1000, 5000)),
    Finding(
        "prefix_sum_200", "lrd SPEC §1 (the claim under test; not a paper)", "prefix_sum",
        ("prefix_sum_study", "regime_prefix_sum"),
        "Prefix sum mod 3 trained at L = 200 without teacher forcing (full BPTT) fails: test "
        "accuracy below 35%. SPEC §1 says it holds for the tanh RNN and that the LSTM solves "
        "it; it makes no claim for the GRU and the Transformer, whose results are reported. "
        "Each model gets its own verdict, never one for all (SPEC §1).",
        "None given.",
        "accuracy", 0.35,
        (Subject("tanh RNN", "rnn-tanh", "below"), Subject("LSTM", "lstm", "above"),
         Subject("GRU", "gru", None), Subject("Transformer", _ATTENTION, None)),
        (200,), overall=False, source="Claimed"),
]


def _rows(runs: pd.DataFrame, f: Finding, tune: bool = True) -> pd.DataFrame:
    """The measured runs of the finding's sweeps and task (each run once), one per seed of
    each cell (``lrd.results.tuned``), or every run tried (``tune=False``)."""
    rows = pd.concat([study(runs, s, tune) for s in f.sweeps], ignore_index=True)
    if rows.empty:
        return pd.DataFrame(columns=["run_id", *sc.KEYS, "seed", "solved", sc.LOSS_RATIO])
    rows = rows.drop_duplicates("run_id") if "run_id" in rows else rows
    return sc.measured(rows[rows["task"] == f.task], tune)


def judge(values: list[float], cut: float, side: str, diverged: int = 0,
          fail: str | None = None) -> tuple[sc.MeanCI, str]:
    """The CI and verdict of one cell from its per-seed values (NaN: a seed with no finite
    score), by the module's rule. ``diverged`` of the NaN seeds diverged: no score, but a
    failure, which lies on the ``fail`` side of the cut (loss/baseline: "above"; accuracy:
    "below"); a cell whose finite seeds lie on the other side is then unclear."""
    ci = sc.mean_ci(values)
    finite = [v for v in values if not math.isnan(v)]
    diverged = diverged if fail else 0
    if not values:
        return ci, NOT_MEASURED
    if not finite and not diverged:
        return ci, NO_SCORE
    if len(finite) + diverged < MIN_SEEDS:
        return ci, TOO_FEW
    sides = {fail} if diverged else set()
    if finite:
        sides.add("below" if ci.high < cut else "above" if ci.low >= cut else "either")
    if len(sides) > 1 or "either" in sides:
        return ci, "unclear"
    return ci, "agree" if sides == {side} else "disagree"


def cells(f: Finding, runs: pd.DataFrame, limited=frozenset(),
          strict: bool = False) -> list[Cell]:
    """Every cell of ``f`` on ``runs``: measured or not (see the module docstring).
    ``strict``: a seed learned its training length only if lrd solved it there (``gate_note``
    shows the verdict under that reading beside the report's)."""
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
                fail = "above" if f.score == sc.LOSS_RATIO else "below"
                reached = sc.solved_seeds(at) if strict else _learned_seeds(f, at)
                learned = 2 * reached > at["seed"].nunique() if len(at) else True
                for t in f.test_lengths or [None]:
                    values = sc.seed_values(at, _column(f.score, t)) if len(at) else []
                    ci, v = judge(values, f.cut, sub.side, sc.diverged_seeds(at), fail)
                    if not values and (why := _not_run(runs, f, sub, label, n, limited)):
                        v = why
                    elif v in JUDGED and sub.side is None:
                        v = NO_CLAIM
                    elif v in JUDGED and n in dict(f.not_judged):
                        v = f"{NOT_JUDGED}: {dict(f.not_judged)[n]}"
                    elif v in JUDGED and t is not None and sub.side == fail and not learned:
                        v = f"{NOT_JUDGED}: {NOT_LEARNED}"
                    out.append(Cell(sub.name, label, n, t, len(values), sc.solved_seeds(at),
                                    ci, sub.side, v, sc.diverged_seeds(at), reached))
    return out


def _learned_seeds(f: Finding, at: pd.DataFrame) -> int:
    """Seeds of ``at`` whose score at the training length lies on the success side of the
    finding's cut (accuracy at or above it, loss/baseline below it): learned by the finding's
    own criterion. A diverged seed has no score and did not learn."""
    values = sc.seed_values(at, _column(f.score, None)) if len(at) else []
    if f.score == sc.LOSS_RATIO:
        return sum(v < f.cut for v in values if not math.isnan(v))
    return sum(v >= f.cut for v in values if not math.isnan(v))


def _not_run(runs: pd.DataFrame, f: Finding, sub: Subject, label: str, n,
             limited=frozenset()) -> str:
    """"not run: every seed failed at T=..." (the task's length letter) when the horizon search
    skipped this cell, else
    "", adding where that failure was still improving when their step budget ran out (a cell of
    ``limited``, ``lrd.results.budget.improving``). Never judged, but it stops a finding from
    reading "agree" where the published side is "below" (a model said to have memory there
    failed at a shorter length)."""
    skipped = pd.concat([not_run(runs, s) for s in f.sweeps], ignore_index=True)
    if skipped.empty:
        return ""
    mine = skipped[(skipped["task"] == f.task) & (skipped["model"] == label)
                   & (skipped["init"] == sub.init) & (skipped["regime"] == sub.regime)
                   & (skipped["length"] == n)]
    if mine.empty:
        return ""
    at = sorted({int(x) for x in pd.to_numeric(mine["failed_at"], errors="coerce").dropna()})
    sym = length_symbol(f.task)
    still = [t for t in at if (f.task, label, sub.init, sub.regime, t) in limited]
    where = "" if still == at else f" at {sym}={'/'.join(map(str, still))}"
    return (f"{NOT_RUN}: every seed failed at {failed_text(mine, at, sym)}"
            + (f", still improving{where} "
               f"{budget_text(limited, (f.task, label, sub.init, sub.regime), still)}"
               if still else ""))


def _column(score: str, test_length: int | None) -> str:
    """The runs.csv column of ``score`` at ``test_length`` (None: the training length); the
    normalised loss exists at the training length only."""
    if score == sc.LOSS_RATIO:
        return score
    return f"test.{score}" if test_length is None else f"length.{test_length}.{score}"


def verdict(found: list[Cell]) -> str:
    """The finding's verdict from its cells (module docstring); a cell the horizon search did
    not run where the published side is "below" keeps it from "agree", and so does a subject
    with a published claim but no judged cell yet (the finding is then "not judged yet")."""
    judged = [c.verdict for c in found if c.verdict in JUDGED]
    if judged and any(c.verdict.startswith(NOT_RUN) and c.expected == "below" for c in found):
        judged.append("unclear")
    if not judged:
        why = sorted({_reason(c.verdict) for c in found} - {NOT_MEASURED, NO_CLAIM})
        return f"not judged yet ({', '.join(why)})" if why else NOT_MEASURED
    claimed = dict.fromkeys(c.subject for c in found if c.expected is not None)
    missing = [s for s in claimed if not any(c.verdict in JUDGED for c in found
                                             if c.subject == s)]
    if missing:
        return f"not judged yet (no judged cell for {', '.join(missing)})"
    if all(v == "agree" for v in judged):
        return "agree"
    if all(v == "disagree" for v in judged):
        return "disagree"
    if all(v == "unclear" for v in judged):
        return "unclear"
    return "partly"


def _reason(v: str) -> str:
    """Why a cell has no verdict, as a finding's "not judged yet (...)" names it: the reason of
    a "not judged: why" cell, else the verdict up to its colon ("not run")."""
    return v.split(": ", 1)[1] if v.startswith(f"{NOT_JUDGED}: ") else v.split(":")[0]


def _cells_text(judged: int, total: int) -> str:
    return f"{judged} of {total} cell{'' if total == 1 else 's'} judged"


def per_subject(found: list[Cell]) -> str:
    """Each subject's own verdict with its judged cells: "LSTM: agree (2 of 3 cells judged);
    GRU: reported (no claim)"."""
    out = []
    for s in dict.fromkeys(c.subject for c in found):
        mine = [c for c in found if c.subject == s]
        if mine[0].expected is None:
            measured = any(c.seeds > 0 for c in mine)
            out.append(f"{s}: {NO_CLAIM if measured else NOT_MEASURED}")
            continue
        judged = sum(c.verdict in JUDGED for c in mine)
        out.append(f"{s}: {verdict(mine)}" + (f" ({_cells_text(judged, len(mine))})"
                                              if judged else ""))
    return "; ".join(out)


def divergence_note(f: Finding, found: list[Cell], runs: pd.DataFrame) -> str:
    """"- Diverged seeds: ..." naming the cells with diverged seeds and the one optimiser setting
    they diverged at: a failure of optimisation stability there, not a measured failure to
    remember. "" if no seed diverged."""
    hit = list({(c.subject, c.model, c.length): c for c in found if c.diverged}.values())
    if not hit:
        return ""
    rows = _cell_rows(f, runs, hit, tune=False)
    rows = rows[sc.is_diverged(rows)]
    return ("- Diverged seeds: " + ", ".join(
        f"{_who(f, c)} at {c.length} ({c.diverged} of {c.seeds})" for c in hit)
        + f"; all at {_vals(rows, 'config.optim.name')} {_lr(rows)} with {_clip(rows)}. "
        "A diverged seed counts as a failure (above), but it is a failure of optimisation at "
        "this one setting, not a measured failure to remember; a cell judged on diverged seeds "
        "alone says nothing about memory.")


def _who(f: Finding, c: Cell) -> str:
    """A cell's subject as the table names it: "Transformer (attention-rope)" for a glob."""
    glob = any(s.name == c.subject and "*" in s.model for s in f.subjects)
    return f"{c.subject} ({c.model})" if glob and "*" not in c.model else c.subject


def _cell_rows(f: Finding, runs: pd.DataFrame, found: list[Cell],
               tune: bool = True) -> pd.DataFrame:
    """The measured runs in the cells ``found`` of ``f`` (each run once; ``_rows``)."""
    rows = _rows(runs, f, tune)
    subject = {s.name: s for s in f.subjects}
    keep = pd.Series(False, index=rows.index)
    for c in found:
        if c.seeds and c.length is not None:
            sub = subject[c.subject]
            keep |= ((rows["model"] == c.model) & (rows["init"] == sub.init)
                     & (rows["regime"] == sub.regime) & (rows["length"] == c.length))
    return rows[keep]


def _num(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _vals(rows: pd.DataFrame, col: str, fmt=str) -> str:
    """Every distinct value of ``col`` in ``rows``, "/"-joined; "?" if none."""
    if col not in rows:
        return "?"
    v = sorted({x for x in rows[col].dropna()}, key=lambda x: (str(type(x)), x))
    return "/".join(fmt(x) for x in v) if v else "?"


def _lr(rows: pd.DataFrame) -> str:
    """"lr 0.003 (no learning-rate search)" for one learning rate, else "lr 0.001/0.003"."""
    lrs = _vals(rows, "config.optim.lr", _num)
    return f"lr {lrs}" + (" (no learning-rate search)" if "/" not in lrs else "")


def _optim(rows: pd.DataFrame) -> str:
    """The optimiser and its learning rates: "adam, lr 0.003 (no learning-rate search)"; with
    several optimisers, each with its own: "adam at lr 0.003, sgd at lr 0.01 (a seed run with
    more than one counts by ...)"."""
    col = "config.optim.name"
    names = sorted(rows[col].dropna().astype(str).unique()) if col in rows else []
    if len(names) < 2:
        return f"{_vals(rows, col)}, {_lr(rows)}"
    plain = " (no learning-rate search)"
    return (", ".join(f"{n} at {_lr(rows[rows[col] == n]).removesuffix(plain)}" for n in names)
            + " (a seed run with more than one counts by its run with the best validation "
            "score)")


def _clip(rows: pd.DataFrame) -> str:
    """"global-norm clipping at 1" (``optim.grad_clip``), "no clipping" (null), or "clipping
    not recorded" (no such column)."""
    if "config.optim.grad_clip" not in rows:
        return "clipping not recorded"
    clip = _vals(rows, "config.optim.grad_clip", _num)
    return "no clipping" if clip == "?" else f"global-norm clipping at {clip}"


def setup(f: Finding, runs: pd.DataFrame, found: list[Cell] | None = None) -> str:
    """lrd's setup for ``f``, read from the configs of the runs in its measured cells (all its
    runs without ``found``): every distinct value."""
    rows = _rows(runs, f, False) if found is None else _cell_rows(f, runs, found, tune=False)
    if rows.empty:
        return "no runs yet"
    per_cell = rows.groupby(["model", "init", "regime", "length"])["seed"].nunique()
    seeds = sorted(set(int(s) for s in per_cell))
    params = [c for c in sorted(rows.columns) if c.startswith("config.task.")
              and c not in ("config.task.name", "config.task.length") and rows[c].notna().any()]
    task = f"{f.task}" + "".join(f", {c.removeprefix('config.task.')} {_vals(rows, c, _num)}"
                                 for c in params)
    attn = rows[rows["model"].astype(str).str.startswith("attention")]
    layers = (f"; attention {_vals(attn, 'config.model.num_layers', _num)} layers × "
              f"{_vals(attn, 'config.model.num_heads', _num)} heads" if len(attn) else "")
    stop = {"True": ", early stop once solved", "False": ", no early stop"}.get(
        _vals(rows, "config.train.early_stop"), "")
    return (f"{task}; {_optim(rows)}, {_clip(rows)}; "
            f"hidden {_vals(rows, 'config.model.hidden_size', _num)}{layers}; "
            f"batch {_vals(rows, 'config.train.batch_size', _num)}; at most "
            f"{_vals(rows, 'config.train.max_steps', _num)} steps{stop}; "
            f"{'/'.join(map(str, seeds))} seeds per cell")


def _score_text(c: Cell) -> str:
    """The cell's "mean [low, high]" over its finite seeds, and how many seeds diverged."""
    text = sc.ci_text(c.ci)
    if not c.diverged:
        return text
    return (("" if text == "–" else f"{text}; ") + f"{c.diverged} of {c.seeds} seed"
            f"{'' if c.seeds == 1 else 's'} diverged")


def _side_text(f: Finding, side: str) -> str:
    what = "loss/baseline" if f.score == sc.LOSS_RATIO else f.score
    if side is None:
        return "no claim"
    return f"{what} {'<' if side == 'below' else '≥'} {f.cut:g}"


def gate_note(f: Finding, runs: pd.DataFrame, found: list[Cell], limited=frozenset()) -> str:
    """"- Learned at the training length: ..." for a generalisation finding with a subject
    published to fail at longer lengths: the reading of "learned" (module docstring), the
    verdict under lrd's solved as the gate instead, and the whole-sequence accuracy at the
    training length of the seeds counted as learned. "" otherwise."""
    fail = "above" if f.score == sc.LOSS_RATIO else "below"
    gated = [s for s in f.subjects if s.side == fail]
    if not f.test_lengths or not gated:
        return ""
    strict = cells(f, runs, limited, strict=True)
    names = {s.name for s in gated}

    def judged(cs):
        return sum(c.verdict in JUDGED for c in cs if c.subject in names)
    of = sum(c.subject in names for c in found)
    seq = _learned_sequence_accuracy(f, runs, gated)
    return ("- Learned at the training length: the cells of a model published to fail at "
            "longer lengths (" + ", ".join(s.name for s in gated) + ") are judged only where "
            f"most of its seeds learned its training length, read here as {f.score} "
            f"{'<' if fail == 'above' else '≥'} {f.cut:g} there (the \"at train\" column). "
            "That reading is lrd's, chosen after the runs were in; the source applies its cut "
            "to its own score (Their setup). With lrd's solved criterion as the gate instead "
            f"(the \"solved (at train)\" column), the verdict would be: {verdict(strict)} "
            f"({judged(strict)} of {of} such cells judged, against {judged(found)})."
            + (f" Whole-sequence accuracy at the training length of the seeds counted as "
               f"learned: {seq}." if seq else ""))


def _learned_sequence_accuracy(f: Finding, runs: pd.DataFrame, gated) -> str:
    """"0.42–0.77" : the range of ``test.sequence_accuracy`` over the seeds of ``gated``
    subjects that learned their training length by the finding's cut; "" if none."""
    rows = _rows(runs, f)
    if "test.sequence_accuracy" not in rows:
        return ""
    values = []
    for sub in gated:
        mine = rows[(rows["init"] == sub.init) & (rows["regime"] == sub.regime)
                    & rows["model"].map(lambda m: fnmatch.fnmatch(str(m), sub.model))]
        for _, at in mine.groupby(["model", "length"]):
            for seed, one in at.groupby("seed"):
                if _learned_seeds(f, one):
                    values += [v for v in sc.seed_values(one, "test.sequence_accuracy")
                               if not math.isnan(v)]
    return f"{min(values):.2f}–{max(values):.2f}" if values else ""


def _success(f: Finding) -> str:
    """The side of the cut a model that learned the task lies on."""
    return "below" if f.score == sc.LOSS_RATIO else "above"


def budget_note(f: Finding, found: list[Cell], budget: pd.DataFrame | None) -> str:
    """"- Step budget: ..." naming the finding's measured cells that were still improving when
    their step budget ran out (``lrd.results.budget``), or "" if none."""
    if budget is None or budget.empty:
        return ""
    ours = {(c.model, c.length) for c in found if c.seeds > 0}
    subs = {(s.name, s.init, s.regime, s.model) for s in f.subjects}
    glob = {s.name for s in f.subjects if "*" in s.model}
    hits = []
    for _, r in budget[(budget["task"] == f.task)
                       & (budget["verdict"] == "still improving")].iterrows():
        for name, init, regime, model in sorted(subs):
            if (r["init"], r["regime"]) == (init, regime) and fnmatch.fnmatch(r["model"], model) \
                    and (r["model"], int(r["length"])) in ours:
                who = f"{name} ({r['model']})" if name in glob else name
                hits.append(f"{who} at training length {r['length']} "
                            f"(fall {r['fall (last quarter)']})")
    if not hits:
        return ""
    return ("- Step budget: still improving when the budget ran out, so a longer one might "
            "change these cells: " + "; ".join(hits) + " (train loss fall over the last "
            "quarter of the budget; the budget table).")


def section(runs: pd.DataFrame, budget: pd.DataFrame | None = None) -> str:
    """The "Against the literature" section of results/README.md (markdown); ``budget``, the
    budget table (``lrd.results.budget``), adds each finding's still-improving cells."""
    out = ["## Against the literature", "",
           "Each published finding lrd can test, with lrd's numbers (seed mean and 95% "
           "bootstrap CI) and a verdict by one rule (`lrd/results/literature.py`): a cell "
           f"needs at least {MIN_SEEDS} seeds; it **agrees** when the CI lies wholly on the "
           "published side of the cut, **disagrees** when it lies wholly on the other side, "
           "and is **unclear** when it contains the cut. A finding agrees (disagrees) when "
           "every judged cell does, is unclear when every one is, and is *partly* otherwise; "
           "it is not judged while a model it makes a claim about has no judged cell. Each "
           "model's own verdict is listed beside it. A model the source makes no claim about "
           "is reported, not judged, and so is a length the claim excepts; at a longer test "
           "length, so is a model published to fail there while most of its seeds did not "
           "learn its own training length (the finding's cut read at the training length: "
           "the \"at train\" column; each such finding says how its verdict would read with "
           "lrd's solved criterion as that gate instead). Cells without runs say "
           f"\"{NOT_MEASURED}\" and are never judged. Normalised loss is test loss / the "
           f"memoryless baseline loss; below {LOSS_CUT:g} counts as clearly below the "
           "baseline. With 3 seeds the percentile bootstrap CI is the range of the seeds "
           "(every resample of 3 values has a 1/27 chance of being all the lowest one), so "
           "a cell agrees when every seed lies on the published side; such an interval "
           "covers the true mean about 75% of the time, not 95%.", ""]
    limited = improving(budget) if budget is not None else frozenset()
    for f in FINDINGS:
        found = cells(f, runs, limited)
        judged = sum(c.verdict in JUDGED for c in found)
        head = (f"**Verdict: {verdict(found)}**"
                + (" with the outcome as we recall it (unconfirmed: see Published)"
                   if f.recalled and verdict(found) in (*JUDGED, "partly") else "")
                + f" ({_cells_text(judged, len(found))}). Per model: {per_subject(found)}."
                if f.overall else
                f"**Verdict per model** (no verdict for all; {_cells_text(judged, len(found))}"
                f"): {per_subject(found)}.")
        out += [f"### {f.citation}: {f.task}", "", head, "",
                f"- {f.source}: {f.statement}", f"- Their setup: {f.setup}",
                f"- lrd's setup: {setup(f, runs, found)}; sweeps "
                + ", ".join(f"`{s}`" for s in f.sweeps) + "."]
        out += [line for line in [divergence_note(f, found, runs),
                                  gate_note(f, runs, found, limited),
                                  budget_note(f, found, budget)] if line] + [""]
        score = "loss/baseline" if f.score == sc.LOSS_RATIO else f.score
        at_train = [f"{_side_text(f, _success(f))} at train"] if f.test_lengths else []
        head = ["model", "train length"] + (["test length"] if f.test_lengths else []) + [
            "seeds", "solved" + (" (at train)" if f.test_lengths else ""), *at_train,
            f"{score} [95% CI]", f.source.lower(), "verdict"]
        out += ["| " + " | ".join(head) + " |", "|" + "|".join(":---" for _ in head) + "|"]
        for c in found:
            row = [_who(f, c), "any" if c.length is None else str(c.length)]
            row += [str(c.test_length)] if f.test_lengths else []
            if c.seeds:
                row += [str(c.seeds), f"{c.solved}/{c.seeds}"]
                row += [f"{c.learned}/{c.seeds}"] if at_train else []
                row += [_score_text(c)]
            else:
                row += ["–", "–"] + ["–"] * len(at_train)
                row += [NOT_RUN if c.verdict.startswith(NOT_RUN) else NOT_MEASURED]
            row += [_side_text(f, c.expected), c.verdict]
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
