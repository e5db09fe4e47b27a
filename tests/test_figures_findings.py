"""The words of the figure findings on hand-made data: a group alone is "only ... measured so
far", a group not clearly beyond the memoryless baseline is marked so (with its seeds on each
side of it), groups all at chance are not ranked, solved groups and groups within a practical
tolerance tie, "no horizon" is not read as "no memory", and "worse than the baseline" needs
the margin of a test set's own baseline.

With three seeds the 95% percentile-bootstrap CI of the mean is [min, max] (a resample of one
seed three times has probability 1/27 > 2.5 %), so the expected intervals below are exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lrd import results as resultslib
from test_figures import write_run

SEEDS = (0, 1, 2)


def _stats(rows):
    """``seed_stats``-like rows from ``(key, mean, low, high)`` or ``(key, mean, low, high,
    per_seed)`` tuples."""
    cols = ["k", "mean", "low", "high", "per_seed"]
    return pd.DataFrame([(*r, ()) if len(r) == 4 else r for r in rows], columns=cols)


def _seeded(key, *values):
    """A ``seed_stats``-like row of three seeds: mean, [min, max] (the CI of three seeds)."""
    return (key, float(np.mean(values)), min(values), max(values), tuple(values))


def _results(root, runs):
    """A results folder of the runs ``[(write_run keyword arguments), ...]``; its runs table."""
    from lrd.figures.data import load_runs

    for kw in runs:
        write_run(root / "runs", **kw)
    resultslib.write(root / "runs", root)
    return load_runs(root)


# 1. one group compared with nothing; a group at the memoryless baseline

def test_a_group_alone_is_only_measured_not_best():
    """LSTM on copy at 100 (baseline 1/8): seeds 0.124, 0.2129, 0.2. Its CI touches the
    baseline, but two of its three seeds are clearly beyond it: not "at the baseline"."""
    from lrd.figures.seeds import best_text

    s = _stats([_seeded("full", 0.124, 0.2129, 0.2), ("truncated", np.nan, np.nan, np.nan)])
    assert best_text(s, "k", str) == "only full measured so far (seed mean 0.179, 95% CI " \
                                      "[0.124, 0.2129])"
    assert best_text(s, "k", str, baseline=0.125) == (
        "only full measured so far (seed mean 0.179, 95% CI [0.124, 0.2129]) (not clearly "
        "beyond the memoryless baseline: 1 of 3 seeds at it, 2 clearly beyond it)")
    # without the seeds' values only the rule is said
    assert best_text(s.assign(per_seed=[()] * 2), "k", str, baseline=0.125).endswith(
        "(not clearly beyond the memoryless baseline)")
    # every seed at it
    at = _stats([_seeded("full", 0.124, 0.126, 0.13)])
    assert best_text(at, "k", str, baseline=0.125).endswith("(at the memoryless baseline)")


@pytest.mark.parametrize("lo, hi, base, higher, want", [
    (0.136, 0.2, 0.125, True, "beyond"),      # worse end past the baseline by > 0.01
    (0.134, 0.2, 0.125, True, "at"),          # within 0.01: not clearly
    (0.09, 0.104, 0.125, True, "worse"),      # better end below it by > 0.02
    (0.09, 0.106, 0.125, True, "at"),
    (0.5, 0.98, 1.0, False, "beyond"),        # loss / baseline: high below 0.99
    (1.031, 1.045, 1.0, False, "worse"),      # low above 1.02
    (1.008, 1.084, 1.0, False, "at"),         # low 1.008: within the test-set margin
    (1.3, 1.3, 1.0, False, "worse"),          # one value
    (np.nan, np.nan, 1.0, False, "at")])
def test_side_of_the_baseline(lo, hi, base, higher, want):
    from lrd.figures.seeds import side

    assert side(lo, hi, base, higher) == want


def test_the_baseline_note_counts_the_seeds_on_each_side():
    from lrd.figures.seeds import baseline_note

    def note(*values, base=1.0, higher=False):
        return baseline_note(pd.Series(dict(zip(["k", "mean", "low", "high", "per_seed"],
                                                _seeded("x", *values)))), base, higher)

    assert note(0.5, 0.6, 0.7) == ""
    assert note(0.995, 1.0, 1.01) == "at the memoryless baseline"
    assert note(0.5, 1.0, 1.05) == ("not clearly beyond the memoryless baseline: 1 of 3 seeds "
                                    "at it, 1 worse than it, 1 clearly beyond it")
    assert note(1.03, 1.04, 1.05) == ("not clearly beyond the memoryless baseline: 3 of 3 "
                                      "seeds worse than it")


@pytest.mark.parametrize("row, base, higher, want", [
    ((0.3353, 0.334, 0.3364), 0.3335, True, True),      # at chance: CI high within 0.01
    ((0.3, 0.1, 0.5), 0.125, True, True),               # CI contains the baseline
    ((0.12, 0.11, 0.124), 0.125, True, True),           # wholly below it
    ((0.5, 0.4, 0.6), 0.3335, True, False),
    ((0.139, 0.136, 0.14), 0.125, True, False),         # low 0.136 > 0.125 + 0.01
    ((1.04, 1.008, 1.084), 1.0, False, True),           # loss / baseline above 1
    ((0.995, 0.992, 0.998), 1.0, False, True),          # within 0.01 of it
    ((0.5, 0.3, 0.7), 1.0, False, False),
    ((0.5, np.nan, np.nan), 1.0, False, False),         # one seed: the mean decides
    ((0.995, np.nan, np.nan), 1.0, False, True)])
def test_at_baseline_is_a_ci_not_clearly_beyond_the_baseline(row, base, higher, want):
    from lrd.figures.seeds import at_baseline

    r = pd.Series(dict(zip(["mean", "low", "high"], row)))
    assert at_baseline(r, base, higher) is want


def test_groups_all_at_chance_are_not_ranked_and_without_a_baseline_nothing_is_said():
    """Positions, trained at 20, at test length 5000 (baseline 0.33347): every scheme at
    chance; the best ALiBi is not named."""
    from lrd.figures.seeds import best_text

    s = _stats([_seeded("ALiBi", 0.337504, 0.336534, 0.336320),
                _seeded("NoPE", 0.336297, 0.335753, 0.336161),
                _seeded("RoPE", 0.333976, 0.336390, 0.335464)])
    assert best_text(s, "k", str, baseline=0.33347) == (
        "none clearly beyond the memoryless baseline (seed means: ALiBi 0.3368, NoPE 0.3361, "
        "RoPE 0.3353; baseline 0.3335)")
    assert best_text(s, "k", str) == "best: ALiBi (seed mean 0.3368, 95% CI [0.3363, 0.3375])"


def test_a_tie_marks_the_tied_groups_not_clearly_beyond_the_baseline():
    """Copy (baseline 1/8): a wide CI touches the baseline, the other group lies in it and is
    clearly beyond; they tie, and the first is marked."""
    from lrd.figures.seeds import best_text

    s = _stats([_seeded("a", 0.13, 0.5, 0.57), _seeded("b", 0.35, 0.36, 0.37)])
    assert best_text(s, "k", str, baseline=0.125) == (
        "tied: a, b (seed means 0.4, 0.36, each within the best's 95% CI [0.13, 0.57]); a not "
        "clearly beyond the memoryless baseline: 1 of 3 seeds at it, 2 clearly beyond it")


def test_the_regime_finding_counts_the_seeds_clearly_beyond_the_baseline(tmp_path):
    """Copy at length 100 (baseline 1/8), only full BPTT: accuracies 0.124, 0.213, 0.200, as
    the committed LSTM runs; the CI [0.124, 0.213] touches the baseline, two seeds do not."""
    from lrd.figures import regime

    runs = _results(tmp_path, [dict(task="copy", model="lstm", length=100, seed=s,
                                    group="regime_copy", test={"accuracy": acc, "loss": 2.0})
                               for s, acc in zip(SEEDS, (0.124, 0.213, 0.200))])
    made = regime.make_regime(runs, tmp_path, tmp_path / "figures")
    assert made.findings == [
        "LSTM on Copy at length 100, test accuracy over seeds by regime, only full BPTT measured "
        "so far (seed mean 0.179, 95% CI [0.124, 0.213]) (not clearly beyond the memoryless "
        "baseline: 1 of 3 seeds at it, 2 clearly beyond it)."]


def test_the_regime_finding_of_a_lone_regime_at_chance(tmp_path):
    """Copy at length 10: only full BPTT has runs, at accuracies 0.125, 0.126, 0.127 (the
    baseline is 1/8)."""
    from lrd.figures import regime

    runs = _results(tmp_path, [dict(task="copy", model="lstm", length=10, seed=s,
                                    group="regime_copy", test={"accuracy": 0.125 + 0.001 * s,
                                                               "loss": 2.0}) for s in SEEDS])
    made = regime.make_regime(runs, tmp_path, tmp_path / "figures")
    assert made.findings == [
        "LSTM on Copy at length 10, test accuracy over seeds by regime, only full BPTT measured "
        "so far (seed mean 0.126, 95% CI [0.125, 0.127]) (at the memoryless baseline)."]


def test_the_init_finding_names_the_initialisations_measured(tmp_path):
    from lrd.figures import init

    runs = _results(tmp_path, [dict(task="adding", model="rnn-tanh", length=L, seed=s,
                                    group="init_adding", test={"mse": 0.16, "loss": 0.16})
                               for L in (10, 25) for s in SEEDS])
    made = init.make(runs, tmp_path, tmp_path / "figures")
    assert made.findings == [
        "RNN (tanh): of the measured initialisations (default), none has a memory horizon (as "
        "in the horizon table) at the lengths tested."]


# 2. ties: a degenerate CI, and solved groups

def test_a_mean_within_a_tenth_of_a_percent_ties_with_a_degenerate_ci():
    from lrd.figures.seeds import best, best_text

    s = _stats([("LSTM", 1.0, 1.0, 1.0), ("GRU", 0.9999993, 0.999998, 1.0)])
    assert best(s, "k") == (["LSTM", "GRU"], True)
    assert best_text(s, "k", str) == (
        "tied: LSTM, GRU (seed means 1, 1, each within the best's 95% CI [1, 1] or 0.1 % of "
        "its mean)")
    apart = _stats([("LSTM", 1.0, 1.0, 1.0), ("GRU", 0.998, 0.997, 0.999)])
    assert best(apart, "k") == (["LSTM"], False)


def test_solved_groups_tie_when_the_best_is_solved():
    from lrd.figures.seeds import best, best_text

    s = _stats([("LSTM", 1.0, 1.0, 1.0), ("GRU", 0.997, 0.995, 0.999),
                ("RNN", 0.98, 0.97, 0.99)])
    assert best(s, "k") == (["LSTM"], False)
    assert best(s, "k", solved=0.99) == (["LSTM", "GRU"], True)
    assert best_text(s, "k", str, solved=0.99) == (
        "tied: LSTM, GRU, all solved (seed means 1, 0.997, each ≥ 0.99)")
    # a loss: solved below the threshold
    loss = _stats([("a", 0.001, 0.0009, 0.0011), ("b", 0.004, 0.003, 0.005),
                   ("c", 0.5, 0.4, 0.6)])
    assert best_text(loss, "k", str, higher_is_better=False, solved=0.06) == (
        "tied: a, b, all solved (seed means 0.001, 0.004, each < 0.06)")
    # an unsolved best ties with nothing by the threshold
    low = _stats([("a", 0.5, 0.45, 0.55), ("b", 0.3, 0.25, 0.35)])
    assert best(low, "k", solved=0.99) == (["a"], False)


def test_the_generalisation_finding_ties_solved_models(tmp_path):
    """Prefix sum trained at 20, at test length 5000: the LSTM at 1.0 in every seed, the GRU
    at 0.996, 0.997, 0.998; both solved, so tied (the LSTM's CI is [1, 1])."""
    from lrd.figures import generalisation

    runs = []
    for model, acc in (("lstm", lambda s: 1.0), ("gru", lambda s: 0.996 + 0.001 * s)):
        for s in SEEDS:
            lengths = {"5000": {"accuracy": acc(s), "loss": 0.1}}
            runs.append(dict(task="prefix_sum", model=model, length=20, seed=s,
                             group="prefix_sum_study", lengths=lengths,
                             test={"accuracy": 1.0, "loss": 0.1}))
    made = generalisation.make(_results(tmp_path, runs), tmp_path, tmp_path / "figures")
    assert made.findings == [
        "Trained at length 20, accuracy at test length 5000 over seeds (baseline 0.333), tied: "
        "GRU (full BPTT), LSTM (full BPTT), all solved (seed means 0.997, 1, each ≥ 0.99)."]


# 3. no horizon is not no memory

def test_a_model_without_a_horizon_says_where_it_beats_or_loses_to_the_baseline(tmp_path):
    """Copy (baseline 1/8): the tanh RNN at 0.125-0.127 (at the baseline), the LSTM at
    0.175-0.179 (clearly above it), neither solves. Adding (baseline MSE 1/6): the tanh RNN at
    MSE 0.175-0.177 (1.05-1.062 of the baseline: worse), the LSTM solves 10, not 25."""
    from lrd.figures import horizon
    from lrd.figures.data import study

    runs = []
    for L in (5, 10):
        for s in SEEDS:
            for model, acc in (("rnn-tanh", 0.125 + 0.001 * s), ("lstm", 0.175 + 0.002 * s)):
                runs.append(dict(task="copy", model=model, length=L, seed=s,
                                 group="horizon_copy", test={"accuracy": acc, "loss": 2.0}))
    for L in (10, 25):
        for s in SEEDS:
            mse = {"rnn-tanh": 0.175 + 0.001 * s, "lstm": 0.004 if L == 10 else 0.16}
            for model, v in mse.items():
                runs.append(dict(task="adding", model=model, length=L, seed=s,
                                 group="horizon_adding", test={"mse": v, "loss": v}))
    runs = _results(tmp_path, runs)
    copy = horizon._finding("copy", study(runs, "horizon_copy"))
    assert copy == ("Copy: memory horizon (as in the horizon table, lengths up to 10): RNN "
                    "(tanh) solves no length, LSTM solves no length (above the baseline at "
                    "T = 5, 10).")
    adding = horizon._finding("adding", study(runs, "horizon_adding"))
    assert adding == ("Adding: memory horizon (as in the horizon table, lengths up to 25): RNN "
                      "(tanh) solves no length (worse than the memoryless baseline at T = 10, "
                      "25: an optimisation failure, not only missing memory), LSTM 10.")


def test_worse_than_the_baseline_needs_the_margin_of_a_test_sets_own_baseline(tmp_path):
    """Adding, the tanh RNN's committed test MSE / (1/6) per seed: T = 50 1.002, 1.056, 1.005;
    T = 200 1.031, 1.039, 1.045; T = 400 1.008, 1.084, 1.028. Only at 200 is the CI's low end
    above 1.02 (a test set's own memoryless MSE is within 2 % of 1/6)."""
    from lrd.figures import horizon
    from lrd.figures.data import study

    ratios = {50: (1.002, 1.056, 1.005), 200: (1.031, 1.039, 1.045),
              400: (1.008, 1.084, 1.028)}
    runs = _results(tmp_path, [dict(task="adding", model="rnn-tanh", length=L, seed=s,
                                    group="horizon_adding", test={"mse": r / 6, "loss": r / 6})
                               for L, rs in ratios.items() for s, r in zip(SEEDS, rs)])
    assert horizon.beyond_baseline("adding", study(runs, "horizon_adding"), "rnn-tanh") == \
        ([], [200])
    assert horizon._finding("adding", study(runs, "horizon_adding")) == (
        "Adding: memory horizon (as in the horizon table, lengths up to 400): RNN (tanh) solves "
        "no length (worse than the memoryless baseline at T = 200: an optimisation failure, "
        "not only missing memory).")


# 4. positional schemes: where a scheme not measured at the finding's length was

def _skip(root, run_id, failed_at):
    """Make a written record one the horizon search did not run (``runner.skipped_record``)."""
    import json

    path = root / "runs" / run_id / "record.json"
    rec = json.loads(path.read_text())
    rec.update(reason=f"not run: every seed failed at T={failed_at}", failed_at=failed_at,
               metrics={})
    path.write_text(json.dumps(rec))


def test_the_positions_copy_finding_says_where_the_other_schemes_were_measured(tmp_path):
    """Copy: RoPE solves 10 and 20; ALiBi fails at 10 (0.82, 0.92, 0.77) and is not run at 20
    (horizon search); NoPE fails at 10 and has no record at 20."""
    from lrd.figures import positions
    from test_figures import write_run

    acc = {("rope", 10): (1.0,) * 3, ("rope", 20): (1.0,) * 3,
           ("alibi", 10): (0.82, 0.92, 0.77), ("nope", 10): (0.75, 0.85, 0.66)}
    for (pos, L), values in acc.items():
        for s, a in zip(SEEDS, values):
            write_run(tmp_path / "runs", task="copy", model="attention", length=L, seed=s,
                      group=positions.COPY, position=pos, test={"accuracy": a, "loss": 0.1})
    for s in SEEDS:
        _skip(tmp_path, write_run(tmp_path / "runs", task="copy", model="attention", length=20,
                                  seed=s, group=positions.COPY, position="alibi",
                                  status="skipped"), 10)
    resultslib.write(tmp_path / "runs", tmp_path)
    from lrd.figures.data import load_runs

    made = positions.make(load_runs(tmp_path), tmp_path, tmp_path / "figures")
    label = {p: positions.looks(pd.DataFrame({"scheme": [p], "model": [f"attention-{p}"]}))[p]
             .label for p in ("alibi", "nope", "rope")}
    assert made.findings == [
        f"Copy at T = 20, test accuracy over seeds by positional scheme, only {label['rope']} "
        "measured so far (seed mean 1, 95% CI [1, 1]). Not measured at T = 20: "
        f"{label['alibi']} last measured at T = 10 (seed mean 0.8367, 95% CI [0.77, 0.92], 0/3 "
        f"seeds solved), 20 not run (failed at T=10); {label['nope']} last measured at T = 10 "
        "(seed mean 0.7533, 95% CI [0.66, 0.85], 0/3 seeds solved), no record at T = 20."]


# 5. training curves: the final value is the mean of the last logged curve points

def test_the_final_train_loss_is_the_mean_of_the_last_logged_points_unsmoothed():
    from lrd.figures.curves import final_value, smooth

    x = np.arange(100.0)
    y = np.r_[np.ones(95), np.full(5, 0.1)]
    assert final_value((x, y)) == pytest.approx(0.1)        # 5 of 100 points, not smoothed
    assert smooth((x, y))[1][95] > 0.1                       # the plotted curve is
    assert final_value((x[:10], y[-10:])) == pytest.approx(0.1)   # 10 points: the last one


def test_the_curves_finding_says_what_the_final_value_is(tmp_path):
    from lrd.figures import curves

    runs = _results(tmp_path, [dict(task="copy", model=m, length=10, seed=s, steps=500,
                                    group="horizon_copy", test={"accuracy": 0.5, "loss": 1.0})
                               for m in ("lstm", "gru") for s in SEEDS])
    made = curves.make(runs, tmp_path, tmp_path / "figures")
    assert made.findings[0].startswith(
        "Copy at length 10, final train loss / baseline (each seed: the mean of its last 5 % of "
        "logged curve points, 50-step means, rounded down, at least one; lower is better), ")


# 5. gradient decay: the real fit range; the Lyapunov exponent instead of the bound's count

def _npz(norms, top):
    """An analysis npz dict: ``curve.jacobian_norm`` at lags 0.. and a rate fitted on 1..top."""
    return {"curve.lag": np.arange(len(norms)), "curve.jacobian_norm": np.asarray(norms, float),
            "rates.quantity": np.array(["jacobian_norm"]), "rates.lag_lo": np.array([1]),
            "rates.lag_hi": np.array([top]), "rates.rate": np.array([-0.7])}


def test_the_fit_ends_at_the_last_lag_with_a_finite_nonzero_norm():
    from lrd.figures.gradient import fit, fit_range

    z = _npz([1, .5, .25, .125, 1e-300, 0.0, 0.0, np.nan, 0.0, 0.0, 0.0], 10)
    assert fit(z, "jacobian_norm") == (-0.7, 4, 10)
    full = _npz(0.5 ** np.arange(11), 10)
    assert fit(full, "jacobian_norm") == (-0.7, 10, 10)
    assert fit_range([fit(z, "jacobian_norm"), fit(full, "jacobian_norm")]) == \
        "lags 1 to the last lag with a finite nonzero norm: 4–10 of 10"
    assert fit_range([fit(full, "jacobian_norm")] * 2) == "lags 1–10"


def _gradient_results(root, sigma):
    """init_adding at 10, 25, 50 (middle: 25), tanh RNN, default init, 3 seeds with analysis;
    the end records hold λ_max = ln 0.8 + 0.01·seed, the end W_hh has σ_max = ``sigma``."""
    import json

    runs = _results(root, [dict(task="adding", model="rnn-tanh", length=L, seed=s,
                                group="init_adding", analysis=True,
                                test={"mse": 0.16, "loss": 0.16})
                           for L in (10, 25, 50) for s in SEEDS])
    for d in (root / "runs").iterdir():
        rec = json.loads((d / "record.json").read_text())
        rec["analysis"]["end"]["lyapunov_max"] = np.log(0.8) + 0.01 * rec["config"]["seed"]
        (d / "record.json").write_text(json.dumps(rec))
        z = dict(np.load(d / "analysis_end.npz"))
        z["weights.l0.singular_values"] = np.linspace(sigma, 0.1, 8)
        np.savez(d / "analysis_end.npz", **z)
    return runs


def _made_with_figure(module_make, runs, root, monkeypatch):
    from lrd.figures import style

    figs, save = {}, style.save

    def keep(fig, out_dir, name):
        figs[name] = fig
        return save(fig, out_dir, name)

    monkeypatch.setattr(style, "save", keep)
    made = module_make(runs, root, root / "figures")
    return made, next(iter(figs.values()))


def test_gradient_decay_finding_compares_the_rate_with_the_lyapunov_exponent(tmp_path,
                                                                            monkeypatch):
    """Every seed's fitted rate is ln 0.8 (the synthetic npz), λ_max = ln 0.8 + 0.01·seed, so
    rate − λ_max = 0, −0.01, −0.02; the norms never underflow, so the fit is on lags 1–25."""
    from lrd.figures.gradient import make_gradient_decay

    runs = _gradient_results(tmp_path, sigma=1.5)
    made, fig = _made_with_figure(make_gradient_decay, runs, tmp_path, monkeypatch)
    assert made.findings == [
        "RNN (tanh), default (3 seeds): fitted decay rate -0.223 [-0.223, -0.223] per step "
        "after training (lags 1–25); the largest Lyapunov exponent of the final model "
        "λ_max = -0.213 [-0.223, -0.203], rate − λ_max = -0.01 [-0.02, 0]; the bound's rate "
        "ln σ_max(W_hh) = 0.405 [0.405, 0.405] (seed mean [95% CI])."]
    assert "lags 1–25, as norms that underflow to 0 are left out" in made.caption
    assert "not in sight" not in made.caption
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("sigma_{\\max}" in t for t in labels)


def test_a_bound_outside_the_plotted_range_has_no_legend_entry(tmp_path, monkeypatch):
    """σ_max = 10: the bound 10^lag is above the top of the y axis (2) at every lag."""
    from lrd.figures.gradient import make_gradient_decay

    runs = _gradient_results(tmp_path, sigma=10.0)
    made, fig = _made_with_figure(make_gradient_decay, runs, tmp_path, monkeypatch)
    assert made.caption.endswith(
        "For every initialisation the dotted bound lies wholly outside the plotted range (top "
        "2), so it is not in sight and the legend has no entry for it.")
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["after training", "at init"]


# 6. predicted horizon: a longer prediction is named, attention is counted apart

def _predicted_results(root):
    """Copy at 10 and 20, 3 seeds: the LSTM fails everywhere with a rate of 0 (lag* = ∞), the
    tanh RNN fails with rate −1 (lag* 4.6), attention solves both with only ‖∂L/∂x_t‖'s rate,
    0.05 (as the attention records have)."""
    import json

    spec = {"rnn-tanh": (0.125, -1.0), "lstm": (0.3, 0.0), "attention": (1.0, 0.05)}
    runs = [dict(task="copy", model=model, length=L, seed=s, group="horizon_copy",
                 test={"accuracy": acc, "loss": 1.0}, rate=rate)
            for model, (acc, rate) in spec.items() for L in (10, 20) for s in SEEDS]
    out = _results(root, runs)
    for d in (root / "runs").iterdir():
        rec = json.loads((d / "record.json").read_text())
        if rec["config"]["model"]["name"] == "attention":
            del rec["analysis"]["end"]["jacobian_decay_rate"]
            (d / "record.json").write_text(json.dumps(rec))
    return out


def test_predicted_findings_name_a_longer_prediction_and_count_attention_apart(tmp_path):
    from lrd.figures import predicted

    runs = _predicted_results(tmp_path)
    made = predicted.make(runs, tmp_path, tmp_path / "figures")
    label = runs.loc[runs["config.model.name"] == "attention", "model"].iloc[0]
    from lrd.figures import style

    att = style.model_label(label)
    assert made.findings == [
        "Copy (horizon_copy), memory horizon predicted from the decay rate (ε = 0.01): RNN "
        "(tanh) none (measured none); LSTM: non-decaying gradients (above ε at every length "
        "run) were not enough: predicted ≥ 20, measured none; "
        f"{att} ≥ 20 (measured ≥ 20). Equal to the measured horizon in 1 of 2 models with a "
        f"state (rate of ‖∂s_T/∂s_t‖). From the rate of ‖∂L/∂x_t‖ ({att}): equal in 1 of 1."]
    assert "A rate r ≥ 0 (no decay) predicts every length." in made.caption
    assert made.caption.endswith(
        f"For {att} (no recurrent state) r is the decay rate of ‖∂L/∂x_t‖ over t, a different "
        "quantity from the recurrent models' ‖∂s_T/∂s_t‖.")


def test_a_finite_longer_prediction_is_slowly_decaying_gradients():
    from lrd.figures.predicted import _row_text

    r = pd.Series({"predicted": 20.0, "predicted_censored": False, "measured": 10.0,
                   "measured_censored": False})
    assert _row_text("LSTM", r) == ("LSTM: slowly decaying gradients (above ε up to 20) were "
                                    "not enough: predicted 20, measured 10")
    assert _row_text("LSTM", pd.Series({**r, "measured": 20.0})) == "LSTM 20 (measured 20)"
