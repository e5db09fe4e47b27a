"""The step-budget table from hand-made curves with known numbers: the end ratio and the fall
over the last quarter are exact window means of the budget (not of the steps a run took), only
the seeds that used their whole budget without solving count, solved cells and diverged runs are
left out, a failed cell none of whose seeds used its budget is still a row, and each verdict comes
where its rule says."""

import math

import numpy as np
import pandas as pd
import pytest

from lrd.results import budget, literature
from lrd.results.stats import MeanCI

BUDGET = 4000


def curve(run_id, before, end, budget_steps=BUDGET, stop=None):
    """50-step bins (steps 49, 99, ...) of train/loss_ratio: 1.5 before 60% of the budget,
    ``before`` from 60% to 90%, ``end`` from 90%; cut at ``stop`` steps if given."""
    steps = np.arange(49, (stop or budget_steps), 50)
    ratio = np.where(steps < 0.6 * budget_steps, 1.5,
                     np.where(steps < 0.9 * budget_steps, before, end))
    return pd.DataFrame({"run_id": run_id, "step": steps, "train/loss_ratio": ratio,
                         "val/loss": np.nan})


def run(run_id, seed, length=100, model="lstm", steps=BUDGET, solved=False, diverged=False,
        task="copy", init="default", regime="full"):
    return {"run_id": run_id, "status": "complete", "task": task, "model": model,
            "init": init, "regime": regime, "length": length, "seed": seed, "solved": solved,
            "diverged": diverged, "steps": steps, "config.train.max_steps": BUDGET,
            "test.loss": 1.0, "baseline_loss": 1.0, "group": "g", "sweeps": "g"}


def test_end_and_fall_are_window_means_of_the_budget():
    c = curve("a", before=0.8, end=0.6)
    end, fall = budget.end_and_fall(c, BUDGET)
    assert end == pytest.approx(0.6)
    assert fall == pytest.approx(1 - 0.6 / 0.8)
    # the windows are fractions of the budget, not of the curve: a curve that stopped at 3000
    # steps has no last-10% window
    assert all(math.isnan(v) for v in budget.end_and_fall(curve("b", 0.8, 0.6, stop=3000),
                                                          BUDGET))
    # a rising loss is a negative fall
    assert budget.end_and_fall(curve("c", 0.5, 0.6), BUDGET)[1] == pytest.approx(1 - 0.6 / 0.5)


@pytest.mark.parametrize("end, fall, expected", [
    (MeanCI(0.7, 0.6, 0.8), MeanCI(0.1, 0.03, 0.2), "still improving"),
    (MeanCI(0.7, 0.6, 0.8), MeanCI(0.1, 0.01, 0.2), "no clear fall"),      # one seed levelled
    (MeanCI(1.0, 0.95, 1.02), MeanCI(0.0, -0.01, 0.01), "at the baseline"),
    (MeanCI(0.95, 0.85, 1.02), MeanCI(0.0, -0.01, 0.01), "no clear fall"),  # one seed below 0.9
    (MeanCI(0.7, math.nan, math.nan), MeanCI(0.05, math.nan, math.nan), "still improving"),
    (MeanCI(math.nan, math.nan, math.nan), MeanCI(math.nan, math.nan, math.nan), "–"),
])
def test_verdict_rules(end, fall, expected):
    assert budget.verdict(end, fall) == expected


@pytest.fixture
def results_dir(tmp_path):
    curves = pd.concat([
        # copy lstm 100: seeds 0-2 fail at budget, falling 20%, 25%, 50%: still improving
        curve("c0", 0.8, 0.64), curve("c1", 0.8, 0.6), curve("c2", 0.8, 0.4),
        # copy gru 100: seed 0 solved early, seeds 1-3 failed flat: the cell is failed by 3/4
        curve("g0", 0.5, 0.01, stop=2000), curve("g1", 0.7, 0.7), curve("g2", 0.6, 0.6),
        curve("g3", 0.65, 0.65),
        # copy rnn 100: at the baseline, one seed diverged (left out)
        curve("r0", 1.0, 1.0), curve("r1", 1.0, 1.0), curve("r2", 0.1, 0.01),
        curve("r3", 0.95, 0.95),
        # copy lstm 10: solved by 2 of 3 seeds: a solved cell, not in the table
        curve("s0", 0.5, 0.01, stop=1000), curve("s1", 0.5, 0.01, stop=1000),
        curve("s2", 0.9, 0.5),
    ], ignore_index=True)
    curves.to_csv(tmp_path / "curves.csv", index=False)
    return tmp_path


@pytest.fixture
def runs():
    return pd.DataFrame([
        run("c0", 0), run("c1", 1), run("c2", 2),
        run("g0", 0, model="gru", steps=2000, solved=True), run("g1", 1, model="gru"),
        run("g2", 2, model="gru"), run("g3", 3, model="gru"),
        run("r0", 0, model="rnn-tanh"), run("r1", 1, model="rnn-tanh"),
        run("r2", 2, model="rnn-tanh", diverged=True), run("r3", 3, model="rnn-tanh"),
        run("s0", 0, length=10, steps=1000, solved=True),
        run("s1", 1, length=10, steps=1000, solved=True), run("s2", 2, length=10),
    ])


def test_budget_table(runs, results_dir):
    t = budget.budget_table(runs, results_dir).set_index("model")
    assert list(t.columns) == budget.COLUMNS[:1] + budget.COLUMNS[2:]
    assert set(t.index) == {"lstm", "gru", "rnn-tanh"}           # copy lstm 10 is solved
    assert (t["length"] == 100).all() and (t["budget"] == str(BUDGET)).all()
    lstm = t.loc["lstm"]
    assert lstm["seeds"] == 3 and lstm["verdict"] == "still improving"
    assert lstm["end loss/baseline"] == "0.547 [0.400, 0.640]"    # mean of 0.64, 0.6, 0.4
    assert lstm["fall (last quarter)"] == "0.317 [0.200, 0.500]"  # mean of 0.2, 0.25, 0.5
    gru = t.loc["gru"]
    assert gru["seeds"] == 3 and gru["verdict"] == "no clear fall"
    assert gru["end loss/baseline"] == "0.650 [0.600, 0.700]"
    rnn = t.loc["rnn-tanh"]
    assert rnn["seeds"] == 3 and rnn["verdict"] == "at the baseline"   # the diverged seed: out
    assert rnn["end loss/baseline"] == "0.983 [0.950, 1.000]"

    assert t["diverged"].to_dict() == {"rnn-tanh": 1, "lstm": 0, "gru": 0}

    lines = budget.findings(budget.budget_table(runs, results_dir))
    assert lines[0] == ("3 cells failed by a majority of seeds. 3 used their whole step budget: "
                        "1 still improving, 1 no clear fall, 1 at the baseline, "
                        "0 too few seeds.")
    assert lines[1].startswith("Still improving when the budget ran out (their failure may be "
                               "set by the step budget: a longer one might solve them): ")
    assert "Copy, LSTM at T = 100 (fall 0.317 [0.200, 0.500], 3 seeds)" in lines[1]
    assert "GRU" not in lines[1]


def test_a_failed_cell_whose_seeds_did_not_use_their_budget_is_counted_and_named(
        runs, results_dir):
    """The IRNN on adding: at 200 one seed solved and two diverged; at 400 all three diverged.
    No seed used its budget, yet a majority failed: each cell is a row and is named."""
    irnn = dict(task="adding", model="rnn-relu", init="identity")
    more = [run(f"i{n}-{s}", s, length=n, steps=150, diverged=True, **irnn)
            for n, seeds in ((200, (1, 2)), (400, (0, 1, 2))) for s in seeds]
    more += [run("i200-0", 0, length=200, steps=900, solved=True, **irnn)]
    t = budget.budget_table(pd.concat([runs, pd.DataFrame(more)]), results_dir)
    irnn_rows = t[t["model"] == "rnn-relu"].set_index("length")
    assert list(irnn_rows.index) == [200, 400]
    assert (irnn_rows["verdict"] == budget.NOT_USED).all() and (irnn_rows["seeds"] == 0).all()
    assert list(irnn_rows["diverged"]) == [2, 3]
    assert (irnn_rows["budget"] == str(BUDGET)).all()
    assert budget.findings(t)[0] == (
        "5 cells failed by a majority of seeds. 3 used their whole step budget: "
        "1 still improving, 1 no clear fall, 1 at the baseline, 0 too few seeds. "
        "2 failed without using it (diverged or stopped early): "
        "Adding, RNN (ReLU) (identity) at T = 200 (2 seeds diverged); "
        "Adding, RNN (ReLU) (identity) at T = 400 (3 seeds diverged).")


def test_still_improving_attention_cells_are_named_by_positional_scheme():
    row = {"task": "prefix_sum", "init": "default", "regime": "full", "length": 20, "seeds": 3,
           "diverged": 0, "fall (last quarter)": "0.100 [0.050, 0.150]",
           "verdict": "still improving"}
    table = pd.DataFrame([{**row, "model": f"attention-{p}"} for p in ("rope", "alibi", "nope")])
    line = budget.findings(table)[1]
    for label in ("Attention (RoPE)", "Attention (ALiBi)", "Attention (NoPE)"):
        assert f"Prefix sum, {label} at L = 20 (fall" in line


def test_fewer_than_three_spent_seeds_are_shown_but_not_judged(runs, results_dir):
    two = runs[runs["run_id"] != "g3"]
    gru = budget.budget_table(two, results_dir).set_index("model").loc["gru"]
    assert gru["seeds"] == 2 and gru["verdict"] == "too few seeds"


def test_budget_table_without_curves_or_failures_is_empty(runs, tmp_path):
    assert budget.budget_table(runs, tmp_path).empty                  # no curves.csv
    solved = runs[runs["solved"]]
    assert budget.budget_table(solved, tmp_path).empty                # only solved runs
    assert budget.findings(budget.budget_table(solved, tmp_path))[0].startswith("_No")


def test_the_literature_section_names_a_findings_still_improving_cells():
    f = next(f for f in literature.FINDINGS if f.key == "urnn_copy")
    table = pd.DataFrame([
        {"task": "copy", "model": "lstm", "init": "default", "regime": "full", "length": 100,
         "fall (last quarter)": "0.100 [0.050, 0.150]", "verdict": "still improving"},
        {"task": "copy", "model": "gru", "init": "default", "regime": "full", "length": 100,
         "fall (last quarter)": "0.100 [0.050, 0.150]", "verdict": "still improving"},
        {"task": "copy", "model": "rnn-tanh", "init": "default", "regime": "full",
         "length": 200, "fall (last quarter)": "0.000 [0.000, 0.000]",
         "verdict": "at the baseline"}])
    found = [literature.Cell("LSTM", "lstm", 100, None, 3, 0, MeanCI(0.9, 0.8, 1.0), "above",
                             "unclear"),
             literature.Cell("tanh RNN", "rnn-tanh", 200, None, 3, 0, MeanCI(1, 1, 1),
                             "above", "agree")]
    note = literature.budget_note(f, found, table)
    assert "LSTM at training length 100 (fall 0.100 [0.050, 0.150])" in note
    assert "GRU" not in note and "tanh RNN" not in note    # not in the finding; not improving
    assert literature.budget_note(f, found, table.iloc[2:]) == ""


def test_records_without_a_diverged_column_still_count(runs, results_dir):
    t = budget.budget_table(runs.drop(columns=["diverged"]), results_dir).set_index("model")
    assert t.loc["rnn-tanh", "seeds"] == 4      # r2 no longer known to have diverged
    assert budget.budget_table(runs.drop(columns=["steps"]), results_dir).empty


def test_a_skip_whose_failure_was_still_improving_says_so(runs, results_dir):
    """The horizon search skipped 200 and 500 above the failed cells at 100: the LSTM's
    failure there was still improving (a skip that may be the budget's), the GRU's was not."""
    from lrd.results.tables import horizon_table

    assert budget.improving(budget.budget_table(runs, results_dir)) == {
        ("copy", "lstm", "default", "full", 100): "4000"}    # with the budget its verdict read
    skipped = [{**run(f"x{m}{n}{s}", s, length=n, model=m, steps=0), "status": "skipped",
                "failed_at": 100} for m in ("lstm", "gru") for n in (200, 500) for s in range(3)]
    both = pd.concat([runs, pd.DataFrame(skipped)], ignore_index=True)
    h = horizon_table(both, results_dir).set_index("model")["not_run"]
    assert h["lstm"] == ("200, 500 not run (failed at T=100, still improving there at the end "
                         "of 4000 steps)")
    assert h["gru"] == "200, 500 not run (failed at T=100)"
    assert horizon_table(both).set_index("model").loc["lstm", "not_run"] == \
        "200, 500 not run (failed at T=100)"      # without the curves: no verdict to add


def test_a_skip_names_the_failed_length_with_the_tasks_own_letter():
    from lrd.results.aggregate import not_run

    rows = pd.DataFrame([{**run(f"d{n}", 0, length=n, task="delayed_recall"), "failed_at": 10}
                         for n in (20, 50)])
    assert not_run(rows) == "20, 50 not run (failed at D=10)"
    limited = {("delayed_recall", "lstm", "default", "full", 10)}
    assert not_run(rows, limited) == ("20, 50 not run (failed at D=10, still improving there "
                                      "when their step budget ran out)")
    rows.loc[0, "failed_at"] = 5                    # two failures, one of them still improving
    assert not_run(rows, limited) == ("20, 50 not run (failed at D=5/10, still improving at "
                                      "D=10 when their step budget ran out)")


def budget_run(seed, steps, solved, acc, model="lstm", task="copy", lr=0.003, ratio=1.0):
    """A run of copy at T=10 (or ``task``) at ``steps`` steps with test accuracy ``acc``."""
    return {**run(f"{model}-{steps}-{lr}-s{seed}", seed, length=10, model=model, steps=steps,
                  solved=solved, task=task),
            "config.train.max_steps": steps, "config.optim.lr": lr, "test.accuracy": acc,
            "test.loss": ratio}


def test_longer_budgets_are_compared_cell_by_cell_and_a_solved_failure_is_named():
    """The LSTM fails at 4000 steps (accuracy 0.3, 0.4, 0.5) and 2 of 3 seeds solve at 8000:
    both budgets are listed with their own seeds (every run counted at its own budget), and the
    cell is named as solved by the longer one; a cell solved at both budgets is only counted."""
    rows = ([budget_run(s, 4000, False, 0.3 + 0.1 * s) for s in range(3)]
            + [budget_run(s, 8000, s < 2, (1.0, 0.995, 0.6)[s]) for s in range(3)]
            + [budget_run(s, b, True, 1.0, model="attention-rope") for s in range(3)
               for b in (4000, 8000)])
    cells = budget.compare(pd.DataFrame(rows))
    assert [(c["model"], [(b["budget"], b["seeds"], b["solved"]) for b in c["budgets"]])
            for c in cells] == [("lstm", [(4000, 3, 0), (8000, 3, 2)]),
                                ("attention-rope", [(4000, 3, 3), (8000, 3, 3)])]
    assert cells[0]["budgets"][0]["score"].mean == pytest.approx(0.4)
    text = budget.compare_text(pd.DataFrame(rows))
    assert text[2] == ("- Copy, LSTM at T = 10: 4000 steps: 0/3 solved, accuracy 0.400 [0.300, "
                       "0.500]; 8000 steps: 2/3 solved, accuracy 0.865 [0.600, 1.000].")
    assert text[-1] == ("Of the 1 cell above (failed by a majority of seeds at the shortest "
                        "budget), 1 is solved at the longest: Copy, LSTM at T = 10. 1 other cell was "
                        "solved at the shortest budget already.")
    still = [r if r["config.train.max_steps"] == 4000 else {**r, "solved": False}
             for r in rows]
    assert budget.compare_text(pd.DataFrame(still))[-1].startswith(
        "Of the 1 cell above (failed by a majority of seeds at the shortest budget), none is "
        "solved")


def test_only_cells_that_differ_in_the_budget_alone_are_compared():
    """A cell whose longer runs also used another learning rate compares two settings, not two
    budgets: left out. Adding has no accuracy: its loss/baseline is compared."""
    lr = [budget_run(s, 4000, False, 0.3) for s in range(3)] + [
        budget_run(s, 8000, False, 0.3, lr=0.001) for s in range(3)]
    assert budget.compare(pd.DataFrame(lr)) == [] and budget.compare_text(pd.DataFrame(lr)) == []
    adding = [{**budget_run(s, b, False, None, task="adding", ratio=r), "test.accuracy": None}
              for s in range(3) for b, r in ((4000, 1.0), (8000, 0.5))]
    (cell,) = budget.compare(pd.DataFrame(adding))
    assert cell["score"] == "loss/baseline"
    assert [b["score"].mean for b in cell["budgets"]] == pytest.approx([1.0, 0.5])


def test_compare_reads_records_as_runs_csv_has_them():
    """As in runs.csv: every run has its seed and optimiser in config columns, the baseline is
    not 1, the longer budget's rows come first, and the longer sweep recorded a skip and a
    crash at T=20. Budgets are listed shortest first, the skip and the crash are no runs, the
    adding score is loss/baseline, and the budget table's verdict of the cell is quoted."""
    def one(seed, steps, ratio, **kw):
        return {**run(f"a-{steps}-s{seed}", seed, length=10, steps=steps, task="adding"),
                "config.train.max_steps": steps, "config.seed": seed,
                "config.optim.lr": 0.003, "config.optim.name": "adam", "test.loss": 0.25 * ratio,
                "baseline_loss": 0.25, **kw}
    rows = ([one(s, 8000, 0.5) for s in range(3)] + [one(s, 4000, 1.0) for s in range(3)]
            + [{**one(0, 8000, 1.0), "run_id": "skip", "length": 20, "status": "skipped"},
               {**one(1, 8000, 1.0), "run_id": "crash", "length": 20, "status": "failed"}])
    (cell,) = budget.compare(pd.DataFrame(rows))
    assert [b["budget"] for b in cell["budgets"]] == [4000, 8000]
    assert [b["score"].mean for b in cell["budgets"]] == pytest.approx([1.0, 0.5])
    table = pd.DataFrame([{"task": "adding", "model": "lstm", "init": "default",
                           "regime": "full", "length": 10, "budget": "8000",
                           "verdict": "still improving"}])
    text = budget.compare_text(pd.DataFrame(rows), table)
    assert text[2] == ("- Adding, LSTM at T = 10: 4000 steps: 0/3 solved, loss/baseline 1.000 "
                       "[1.000, 1.000]; 8000 steps: 0/3 solved, loss/baseline 0.500 [0.500, "
                       "0.500]. Budget table: still improving (over 8000 steps).")
    solved = [{**r, "solved": True} for r in rows]
    assert budget.compare_text(pd.DataFrame(solved)) == [
        "Longer budgets: cells rerun with more steps and nothing else in their config changed "
        "(every run "
        "counted at its own budget; the tables keep one run per seed, the one with the best "
        "validation score). All 1 were solved at the shortest budget already."]


def test_half_the_seeds_solved_at_the_longer_budget_is_no_majority():
    rows = ([budget_run(s, 4000, False, 0.3) for s in range(4)]
            + [budget_run(s, 8000, s < 2, 0.99 if s < 2 else 0.5) for s in range(4)])
    assert budget.compare_text(pd.DataFrame(rows))[-1].endswith("none is solved at the longest.")
