"""The report's tables and the literature section from hand-made runs with known numbers: the
prefix-sum study table holds the seed mean [95% CI] of the study's completed runs, records ->
runs.csv -> tables keeps the numbers exact, and the literature rule gives agree, disagree,
unclear, too few seeds and "not measured yet" where each is due."""

import math

import pandas as pd
import pytest

from lrd import results
from lrd.results import literature, report
from lrd.results import scores as sc
from lrd.results import tables as tb
from lrd.results.scores import ci_text
from lrd.results.stats import mean_ci

from test_aggregate import put

SWEEP = "prefix_sum_study"


def run(seed, length, regime, model, acc, at100, at5000, group=SWEEP, sweeps=None,
        status="complete", lr=0.003):
    return {"run_id": f"prefix_sum-{model}-{regime}-{length}-s{seed}-{group}-{lr}",
            "group": group,
            "sweeps": sweeps if sweeps is not None else group, "status": status,
            "task": "prefix_sum", "init": "default", "length": length, "regime": regime,
            "model": model, "seed": seed, "solved": acc >= 0.99, "test.accuracy": acc,
            "val.accuracy": acc, "length.100.accuracy": at100, "length.5000.accuracy": at5000}


@pytest.fixture
def study_runs():
    nan = float("nan")
    return pd.DataFrame([
        run(0, 20, "full", "lstm", 0.5, 0.2, 0.1),
        run(1, 20, "full", "lstm", 0.8, 0.4, 0.1),
        # in the study through the sweep lists only (it ran first under another sweep's group)
        run(2, 20, "full", "lstm", 1.0, 0.9, 0.4, group="horizon_prefix_sum",
            sweeps=f"horizon_prefix_sum;{SWEEP}"),
        run(0, 20, "full", "rnn-tanh", 0.25, 0.3, 0.05),
        run(1, 20, "full", "rnn-tanh", 0.75, 0.1, 0.15),
        # the same two seeds at a second learning rate: still two seeds, each counted by its
        # run with the better validation accuracy (seed 0: lr 0.01, seed 1: lr 0.003)
        run(0, 20, "full", "rnn-tanh", 0.75, 0.1, 0.15, lr=0.01),
        run(1, 20, "full", "rnn-tanh", 0.25, 0.3, 0.05, lr=0.01),
        run(0, 200, "teacher_forcing", "lstm", 0.9, 0.85, 0.6),
        run(1, 200, "teacher_forcing", "lstm", nan, nan, nan, status="failed"),  # no metrics
        run(3, 20, "full", "lstm", 0.0, 0.0, 0.0, group="other"),               # not the study
        run(4, 20, "full", "lstm", 0.0, 0.0, 0.0, group="other", sweeps="other"),
    ])


def test_prefix_sum_table_is_the_mean_over_the_study_seeds(study_runs):
    t = report.prefix_sum_table(study_runs)
    assert list(t.columns) == ["train_length", "regime", "model", "seeds", "acc@train",
                               "acc@100", "acc@5000"]
    got = {(r["train_length"], r["regime"], r["model"]): r for r in t.to_dict("records")}
    assert set(got) == {(20, "full", "lstm"), (20, "full", "rnn-tanh"),
                        (200, "teacher_forcing", "lstm")}
    # per-seed values (rnn-tanh: each seed's best-validation run: 0.75 and 0.75)
    want = {(20, "full", "lstm"): (3, [0.5, 0.8, 1.0], [0.2, 0.4, 0.9], [0.1, 0.1, 0.4]),
            (20, "full", "rnn-tanh"): (2, [0.75, 0.75], [0.1, 0.1], [0.15, 0.15]),
            (200, "teacher_forcing", "lstm"): (1, [0.9], [0.85], [0.6])}
    for key, (seeds, acc, at100, at5000) in want.items():
        r = got[key]
        assert r["seeds"] == seeds, key
        assert r["acc@train"] == ci_text(mean_ci(acc)), key
        assert r["acc@100"] == ci_text(mean_ci(at100)), key
        assert r["acc@5000"] == ci_text(mean_ci(at5000)), key
    assert got[(20, "full", "rnn-tanh")]["acc@train"] == "0.750 [0.750, 0.750]"
    assert got[(200, "teacher_forcing", "lstm")]["acc@100"] == "0.850 [–]"   # one seed
    assert list(t["train_length"]) == sorted(t["train_length"])


def test_prefix_sum_table_without_the_study_is_empty(study_runs):
    t = report.prefix_sum_table(study_runs[study_runs["group"] == "other"]
                                .assign(sweeps="other"))
    assert t.empty and list(t.columns[:4]) == ["train_length", "regime", "model", "seeds"]


def test_records_to_tables_keep_the_numbers(tmp_path):
    """The whole path: records -> ``lrd.results.write`` (runs.csv) -> ``write_tables``."""
    runs = tmp_path / "runs"
    for seed, acc, at100 in ((0, 0.5, 0.25), (1, 0.75, 0.5), (2, 1.0, 0.0)):
        put(runs, task="prefix_sum", length=20, seed=seed, group=SWEEP, solved=acc >= 0.99,
            accuracy=acc, lengths={100: at100})
    put(runs, task="prefix_sum", length=40, seed=0, group=SWEEP, accuracy=0.125,
        lengths={100: 0.06})
    put(runs, task="prefix_sum", length=40, seed=1, group=SWEEP, status="failed")
    put(runs, task="prefix_sum", length=20, seed=5, group="other", accuracy=0.0,
        lengths={100: 0.0})
    res = tmp_path / "res"
    results.write(runs, res)
    tables = report.write_tables(res)
    assert (res / "tables" / "prefix_sum.csv").read_text() == (
        "train_length,regime,model,seeds,acc@train,acc@100\n"
        '20,full,lstm,3,"0.750 [0.500, 1.000]","0.250 [0.000, 0.500]"\n'
        "40,full,lstm,1,0.125 [–],0.060 [–]\n")
    md = (res / "tables" / "prefix_sum.md").read_text().splitlines()
    assert md[2] == "| 20 | full | lstm | 3 | 0.750 [0.500, 1.000] | 0.250 [0.000, 0.500] |"
    h = tables["horizon"]
    # length 20 solved by 1 of 4 seeds (the "other" run is a fourth seed, unsolved): horizon 0
    assert h[["task", "model", "horizon", "max_length"]].to_dict("records") == [
        {"task": "prefix_sum", "model": "lstm", "horizon": "0", "max_length": 40}]
    scores = tables["scores"].set_index("length")
    assert scores.loc[20, "solved"] == "1/4" and scores.loc[40, "solved"] == "0/1"
    # loss = 1 - accuracy, baseline 0.25 (put): normalised 2, 1, 0 and, for seed 5, 4
    assert scores.loc[20, "loss/baseline"] == ci_text(mean_ci([2.0, 1.0, 0.0, 4.0]))
    for name in ("horizon", "prefix_sum", "scores"):
        assert {p.name for p in (res / "tables").glob(f"{name}.*")} == \
            {f"{name}.csv", f"{name}.md", f"{name}.tex"}


# -- against the literature ----------------------------------------------------------------------

def lit_run(model, length, seed, ratio, group="horizon_copy", task="copy", init="default",
            lr=0.003, accuracy=None, **extra):
    """A measured run whose normalised loss is ``ratio`` (baseline loss 0.5)."""
    return {"run_id": f"{task}-{model}-{init}-{length}-s{seed}-{lr}", "group": group,
            "sweeps": group, "status": "complete", "task": task, "model": model,
            "init": init, "regime": "full", "length": length, "seed": seed,
            "solved": False, "test.loss": 0.5 * ratio, "baseline_loss": 0.5,
            "test.accuracy": accuracy, "config.optim.name": "adam", "config.optim.lr": lr,
            "config.model.hidden_size": 64, "config.train.batch_size": 32,
            "config.train.max_steps": 5000, **extra}


COPY = next(f for f in literature.FINDINGS if f.key == "urnn_copy")


def copy_runs(lstm_ratio, tanh_ratio, seeds=(0, 1, 2), lengths=(100, 200, 500)):
    return pd.DataFrame([lit_run(m, n, s, r + 0.01 * s) for m, r in
                         (("lstm", lstm_ratio), ("rnn-tanh", tanh_ratio))
                         for n in lengths for s in seeds])


def test_a_finding_agrees_when_every_ci_is_on_the_published_side():
    """uRNN copy: LSTM and tanh RNN at the baseline (normalised loss >= 0.9) at every T."""
    found = literature.cells(COPY, copy_runs(1.0, 0.95))
    assert [(c.model, c.length) for c in found] == [
        ("lstm", 100), ("lstm", 200), ("lstm", 500),
        ("rnn-tanh", 100), ("rnn-tanh", 200), ("rnn-tanh", 500)]
    # T = 100 is shown but not judged: the published claim excepts it
    assert [c.verdict for c in found if c.length == 100] == \
        ["not judged: the claim excepts the simplest case, T = 100"] * 2
    assert {c.verdict for c in found if c.length != 100} == {"agree"}
    assert literature.verdict(found) == "agree"
    # the cell's number is mean_ci of the seeds' normalised losses
    assert found[0].ci == mean_ci([1.0, 1.01, 1.02]) and found[0].seeds == 3


def test_a_finding_disagrees_when_every_ci_is_on_the_other_side():
    found = literature.cells(COPY, copy_runs(0.1, 0.5))
    assert {c.verdict for c in found if c.length != 100} == {"disagree"}
    assert literature.verdict(found) == "disagree"
    text = literature.section(copy_runs(0.1, 0.5))
    assert "**Verdict: disagree** (4 of 6 cells judged). Per model: LSTM: disagree (2 of 3 " \
        "cells judged); tanh RNN: disagree (2 of 3 cells judged)." in text
    assert "| LSTM | 200 | 3 | 0/3 | 0.110 [0.100, 0.120] | loss/baseline ≥ 0.9 | disagree |" \
        in text
    # the setup is read from the records' configs, the task's parameters first
    assert "- lrd's setup: copy; adam, lr 0.003 (no learning-rate search), clipping not " \
        "recorded; hidden 64; batch 32; at most 5000 steps; 3 seeds per cell" in text
    assert "- lrd's setup: copy, n_symbols 8; adam" in literature.section(
        copy_runs(0.1, 0.5).assign(**{"config.task.n_symbols": 8}))


def test_mixed_and_straddling_cells_make_partly():
    runs = copy_runs(1.0, 0.5)                       # LSTM agrees, tanh RNN disagrees
    assert literature.verdict(literature.cells(COPY, runs)) == "partly"
    straddle = pd.DataFrame([lit_run("lstm", 200, s, r) for s, r in enumerate((0.8, 0.9, 1.0))])
    found = literature.cells(COPY, straddle)
    cell = next(c for c in found if c.length == 200)
    assert cell.verdict == "unclear" and cell.ci.low < 0.9 <= cell.ci.high
    # every judged cell unclear: the finding is unclear, not "partly" (tanh RNN has none
    # judged: the finding is not judged yet)
    assert literature.verdict([c for c in found if c.subject == "LSTM"]) == "unclear"
    assert literature.verdict(found) == "not judged yet (no judged cell for tanh RNN)"


def test_missing_rows_are_not_measured_yet_and_never_judged():
    assert {c.verdict for c in literature.cells(COPY, pd.DataFrame())} == {"not measured yet"}
    assert literature.verdict(literature.cells(COPY, pd.DataFrame())) == "not measured yet"
    # only T = 200 measured: the other cells say so, the verdict rests on T = 200 alone
    runs = copy_runs(1.0, 1.0, lengths=(200,))
    found = literature.cells(COPY, runs)
    assert [c.verdict for c in found] == ["not measured yet", "agree", "not measured yet"] * 2
    assert literature.verdict(found) == "agree"
    text = literature.section(runs)
    assert "**Verdict: agree** (2 of 6 cells judged)" in text
    assert "| LSTM | 500 | – | – | not measured yet | loss/baseline ≥ 0.9 | " \
        "not measured yet |" in text
    # runs of another sweep or task never stand in for the finding's
    other = copy_runs(1.0, 1.0).assign(group="regime_copy", sweeps="regime_copy")
    assert literature.verdict(literature.cells(COPY, other)) == "not measured yet"
    # every finding is "not measured yet" on no runs at all
    empty = literature.section(pd.DataFrame())
    assert empty.count("**Verdict: not measured yet**") == \
        sum(f.overall for f in literature.FINDINGS)
    assert "tanh RNN: not measured yet; LSTM: not measured yet; GRU: not measured yet; " \
        "Transformer: not measured yet." in empty


def test_two_seeds_are_too_few_for_a_verdict():
    found = literature.cells(COPY, copy_runs(1.0, 1.0, seeds=(0, 1)))
    assert {c.verdict for c in found} == {"too few seeds"}
    assert literature.verdict(found) == "not judged yet (too few seeds)"
    assert found[0].ci == mean_ci([1.0, 1.01])           # the numbers are still shown


def test_length_generalisation_cells_read_the_test_length_per_positional_scheme():
    """Delétang et al.: LSTM trained at 20 generalises (>= 0.9 at 200, 1000, 5000); every
    attention variant is its own row, over the training lengths it was run at (<= 40)."""
    f = next(f for f in literature.FINDINGS if f.key == "chomsky_modular")
    rows = []
    for s in (0, 1, 2):
        acc = {f"length.{n}.accuracy": 1.0 - 0.001 * s for n in (200, 1000, 5000)}
        rows.append(lit_run("lstm", 20, s, 0.0, group="prefix_sum_study", task="prefix_sum",
                            accuracy=1.0, **acc))
        for pos, a in (("attention-rope", 0.4), ("attention-alibi", 0.95)):
            acc = {f"length.{n}.accuracy": a + 0.001 * s for n in (200, 1000, 5000)}
            rows.append({**lit_run(pos, 40, s, 0.0, group="positions_prefix_sum",
                                   task="prefix_sum", accuracy=1.0, **acc), "solved": True})
    found = literature.cells(f, pd.DataFrame(rows))
    got = {(c.model, c.length, c.test_length): c.verdict for c in found}
    assert got[("lstm", 20, 5000)] == "agree" and got[("lstm", 40, 5000)] == "not measured yet"
    assert got[("attention-rope", 40, 1000)] == "agree"          # < 0.9, as published
    assert got[("attention-alibi", 40, 1000)] == "disagree"      # generalises: reported
    assert literature.verdict(found) == "partly"
    cell = next(c for c in found if (c.model, c.test_length) == ("lstm", 1000))
    assert cell.ci == mean_ci([1.0, 0.999, 0.998])
    assert "| Transformer (attention-alibi) | 40 | 200 | 3 |" in literature.section(
        pd.DataFrame(rows))


def test_every_finding_names_its_source_setup_and_cells():
    for f in literature.FINDINGS:
        assert f.citation and f.statement and f.setup and f.sweeps and f.subjects
        assert all(s.side in ("below", "above", None) for s in f.subjects)
        assert any(s.side is not None for s in f.subjects)   # a claim to test
        assert not math.isnan(f.cut)
    keys = [f.key for f in literature.FINDINGS]
    assert len(set(keys)) == len(keys)
    assert {"urnn_copy", "urnn_adding", "irnn_adding", "chomsky_modular",
            "prefix_sum_200"} <= set(keys)


def irnn(n, s, ratio, diverged, **extra):
    """An IRNN run on adding; a diverged one has status "diverged" and, as given, ``ratio``."""
    return {**lit_run("rnn-relu", n, s, ratio, group="irnn_adding", task="adding",
                      init="identity", status="diverged" if diverged else "complete", **extra),
            "diverged": diverged}


def irnn_rows():
    """Le et al.'s IRNN on adding as measured: every seed diverged at 400; at 200 seed 0
    finite (0.03), seeds 1 and 2 diverged."""
    rows = [irnn(400, s, float("nan"), True) for s in range(3)]
    return rows + [irnn(200, 0, 0.03, False)] + [irnn(200, s, float("nan"), True)
                                                   for s in (1, 2)]


def test_the_scores_table_counts_diverged_seeds():
    """A diverged seed is in the seed count but not in the mean: the table says how many
    diverged, and a score no seed has because every seed diverged says so instead of "–". A
    seed with one finite run (another learning rate) has a score and did not diverge."""
    nan = float("nan")
    rows = irnn_rows() + [irnn(100, 0, 0.2, False), irnn(100, 0, nan, True, lr=0.01)]
    rows += [lit_run("lstm", 100, s, nan, status="diverged", diverged=True) for s in (0, 1)]
    s = sc.scores(pd.DataFrame(rows)).set_index(["model", "length"])
    assert s["diverged"].to_dict() == {("lstm", 100): 2, ("rnn-relu", 100): 0,
                                       ("rnn-relu", 200): 2, ("rnn-relu", 400): 3}
    t = tb.scores_table(pd.DataFrame(rows)).set_index(["model", "length"])
    assert list(t.loc[("rnn-relu", 200), ["seeds", "solved", "diverged", "loss/baseline"]]) \
        == [3, "0/3", 2, "0.030 [–]"]
    assert list(t.loc[("rnn-relu", 400), ["seeds", "diverged", "loss/baseline", "accuracy"]]) \
        == [3, 3, tb.ALL_DIVERGED, "–"]      # adding has no accuracy: no claim on one
    assert t.loc[("rnn-relu", 100), "loss/baseline"] == "0.200 [–]"
    # copy has an accuracy (seed 0 at length 100 below): every seed diverged at 200
    rows = [lit_run("lstm", 100, 0, 0.5, accuracy=0.5)]
    rows += [lit_run("lstm", 200, s, nan, status="diverged", diverged=True) for s in (0, 1)]
    t = tb.scores_table(pd.DataFrame(rows)).set_index("length")
    assert list(t.loc[200, ["loss/baseline", "accuracy"]]) == [tb.ALL_DIVERGED] * 2
    csv = tb.to_csv(t.reset_index()).splitlines()
    assert csv[0].split(",")[5:8] == ["seeds", "solved", "diverged"]
    assert csv[2].endswith(",2,0/2,2,– (all diverged),– (all diverged)")
    assert tb.to_markdown(t.reset_index()).splitlines()[1].endswith("|---:|---:|---:|")


def test_a_diverged_seed_has_no_score_but_counts_as_a_failure():
    """A seed whose runs diverged (NaN loss) failed: on a loss score it lies above the cut.
    Le et al.: the IRNN published below the baseline; every seed diverged at 400 (disagree),
    one of three solved at 200 (unclear: finite and diverged seeds on both sides)."""
    f = next(f for f in literature.FINDINGS if f.key == "irnn_adding")
    rows = irnn_rows()
    found = {c.length: c for c in literature.cells(f, pd.DataFrame(rows)) if c.model == "rnn-relu"}
    assert (found[400].seeds, found[400].diverged, found[400].verdict) == (3, 3, "disagree")
    assert (found[200].diverged, found[200].verdict) == (2, "unclear")
    text = literature.section(pd.DataFrame(rows))
    assert "| IRNN | 400 | 3 | 0/3 | 3 of 3 seeds diverged | loss/baseline < 0.9 | disagree |" \
        in text
    assert "| IRNN | 200 | 3 | 0/3 | 0.030 [–]; 2 of 3 seeds diverged |" in text
    # on an accuracy score a diverged seed lies below the cut; without the count, no score
    assert literature.judge([float("nan")] * 3, 0.9, "below", 3, "below")[1] == "agree"
    assert literature.judge([float("nan")] * 3, 0.9, "below")[1] == "no finite score"
    assert literature.judge([1.0, float("nan")], 0.9, "above", 1, "below")[1] == "too few seeds"


def test_a_cell_with_no_finite_score_and_no_divergence_is_shown_but_not_judged():
    """Three complete seeds with a NaN loss (no score recorded): no finite score."""
    runs = pd.DataFrame([lit_run("lstm", 200, s, float("nan")) for s in (0, 1, 2)])
    found = literature.cells(COPY, runs)
    cell = next(c for c in found if c.length == 200)
    assert (cell.seeds, cell.diverged, cell.verdict) == (3, 0, "no finite score")
    assert literature.verdict(found) == "not judged yet (no finite score)"


ADDING = next(f for f in literature.FINDINGS if f.key == "urnn_adding")


def test_a_cell_the_search_did_not_run_is_named_and_stops_an_agree():
    """uRNN adding: the LSTM (published: below the baseline) agrees at 200 and 400, but at 750
    the horizon search did not run it (every seed failed at 400 in this made-up table): the
    cell says so, is not judged, and the finding cannot read "agree"."""
    rows = [lit_run("lstm", n, s, 0.1 + 0.01 * s, group="horizon_adding", task="adding")
            for n in (200, 400) for s in range(3)]
    rows += [lit_run("rnn-tanh", n, s, 1.0, group="horizon_adding", task="adding")
             for n in (400, 750) for s in range(3)]
    rows += [{**lit_run("lstm", 750, s, float("nan"), group="horizon_adding", task="adding"),
              "status": "skipped", "failed_at": 400, "test.loss": None} for s in range(3)]
    found = literature.cells(ADDING, pd.DataFrame(rows))
    cell = next(c for c in found if c.model == "lstm" and c.length == 750)
    assert cell.verdict == "not run: every seed failed at T=400" and cell.seeds == 0
    assert {c.verdict for c in found if c is not cell} == {"agree"}
    assert literature.verdict(found) == "partly"
    assert "| LSTM | 750 | – | – | not run | loss/baseline < 0.9 | not run: every seed failed " \
        "at T=400 |" in literature.section(pd.DataFrame(rows))
    # where that failure was still improving when its budget ran out, the cell says so
    limited = {("adding", "lstm", "default", "full", 400)}
    found = literature.cells(ADDING, pd.DataFrame(rows), limited)
    cell = next(c for c in found if c.model == "lstm" and c.length == 750)
    assert cell.verdict == ("not run: every seed failed at T=400, still improving when their "
                            "step budget ran out")
    assert literature.verdict(found) == "partly"
    # the section reads it from the budget table it is given
    budget = pd.DataFrame([{"task": "adding", "model": "lstm", "init": "default",
                            "regime": "full", "length": 400, "verdict": "still improving",
                            "fall (last quarter)": "0.100 [0.050, 0.150]"}])
    assert "not run: every seed failed at T=400, still improving when their step budget ran " \
        "out |" in literature.section(pd.DataFrame(rows), budget)
    # with the budget its verdict read (the run each seed keeps), the cell names it
    assert "not run: every seed failed at T=400, still improving at the end of 12000 steps |" \
        in literature.section(pd.DataFrame(rows), budget.assign(budget="12000"))
    # of two failed lengths, one still improving: the cell names which
    two = rows + [{**rows[-1], "run_id": "x", "failed_at": 200}]
    cell = next(c for c in literature.cells(ADDING, pd.DataFrame(two), limited)
                if c.model == "lstm" and c.length == 750)
    assert cell.verdict == ("not run: every seed failed at T=200/400, still improving at T=400 "
                            "when their step budget ran out")


def test_a_subject_without_a_claim_is_reported_and_the_spec_claim_has_no_overall_verdict():
    """SPEC §1: prefix sum at 200 fails (< 0.35) for the tanh RNN, the LSTM solves it, no claim
    for the GRU: each model gets its own verdict and the finding none for all."""
    f = next(f for f in literature.FINDINGS if f.key == "prefix_sum_200")
    rows = [lit_run(m, 200, s, 0.0, group="prefix_sum_study", task="prefix_sum", accuracy=a)
            for m, a in (("rnn-tanh", 0.34), ("lstm", 1.0), ("gru", 1.0)) for s in range(3)]
    found = literature.cells(f, pd.DataFrame(rows))
    got = {c.model: c.verdict for c in found}
    assert got == {"rnn-tanh": "agree", "lstm": "agree", "gru": "reported (no claim)",
                   "attention*": "not measured yet"}
    text = literature.section(pd.DataFrame(rows))
    assert "**Verdict per model** (no verdict for all; 2 of 4 cells judged): tanh RNN: agree " \
        "(1 of 1 cell judged); LSTM: agree (1 of 1 cell judged); GRU: reported (no claim); " \
        "Transformer: not measured yet." in text
    assert "| GRU | 200 | 3 | 0/3 | 1.000 [1.000, 1.000] | no claim | reported (no claim) |" in text


def test_a_finding_is_not_judged_while_its_main_model_is_unmeasured_and_says_when_recalled():
    """Le et al.: the LSTM agrees, the IRNN has no run: no verdict for the finding yet; once the
    IRNN agrees, the verdict says the outcome is recalled, not confirmed."""
    f = next(f for f in literature.FINDINGS if f.key == "irnn_adding")
    lstm = [lit_run("lstm", n, s, 0.02, group="horizon_adding", task="adding")
            for n in (200, 400) for s in range(3)]
    found = literature.cells(f, pd.DataFrame(lstm))
    assert literature.verdict(found) == "not judged yet (no judged cell for IRNN)"
    irnn = [lit_run("rnn-relu", n, s, 0.05, group="irnn_adding", task="adding",
                    init="identity") for n in (200, 400) for s in range(3)]
    text = literature.section(pd.DataFrame(lstm + irnn))
    assert "**Verdict: agree** with the outcome as we recall it (unconfirmed: see Published) " \
        "(4 of 4 cells judged). Per model: IRNN: agree (2 of 2 cells judged); LSTM: agree " \
        "(2 of 2 cells judged)." in text
