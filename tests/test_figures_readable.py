"""Readability of the spectral, eigenspectra and length-generalisation figures, read back from
the drawn artists: what is drawn above what, the legend entries, and the score at each panel's
own training length."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from lrd import results as resultslib
from test_figures import build, write_run

SEEDS = (0, 1, 2)


def _draw(make, root, monkeypatch):
    """``(made, figure)`` of one figure module's ``make`` on the results folder ``root``, in
    the figures' rc settings (as ``make_all`` draws it)."""
    from lrd.figures import style
    from lrd.figures.data import load_runs

    figs, save = [], style.save

    def keep(fig, out_dir, name):
        figs.append(fig)
        return save(fig, out_dir, name)

    monkeypatch.setattr(style, "save", keep)
    with matplotlib.rc_context(style.RC):
        made = make(load_runs(root), root, root / "figures")
    return made, figs[0]


@pytest.fixture(scope="module")
def inits(tmp_path_factory):
    """A results folder of the init study: 2 nonlinearities x 5 initialisations x 3 seeds."""
    return build(tmp_path_factory.mktemp("results"), seeds=SEEDS, studies=("init",))


# 1. eigenspectra -------------------------------------------------------------------------

def _eigen_artists(ax):
    """(open markers: at init, filled dots: after training, lines on the unit circle)."""
    open_, filled = [], []
    for c in ax.collections:
        face = c.get_facecolor()
        (filled if len(face) and face[:, 3].max() > 0 else open_).append(c)
    circle = [ln for ln in ax.lines if len(ln.get_xdata()) > 10
              and np.allclose(np.hypot(*np.asarray(ln.get_data(), float)), 1.0)]
    return open_, filled, circle


def test_init_markers_and_unit_circle_are_drawn_above_the_trained_eigenvalues(inits,
                                                                               monkeypatch):
    from lrd.figures import spectra

    made, fig = _draw(spectra.make_eigenspectra, inits, monkeypatch)
    panels = [ax for ax in fig.axes if ax.collections]
    assert len(panels) == 10                       # 2 models x 5 initialisations
    for ax in panels:
        init, after, circle = _eigen_artists(ax)
        assert len(init) == len(after) == len(SEEDS) and len(circle) == 1
        top = max(a.get_zorder() for a in after)
        assert min(a.get_zorder() for a in init) > circle[0].get_zorder() > top
        lo, hi = ax.get_xlim()
        assert lo == -hi and ax.get_ylim() == (lo, hi) and ax.get_aspect() == 1.0
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["at init", "after training", "unit circle"]


def test_one_panel_is_readable_and_far_eigenvalues_get_a_zoomed_row(tmp_path, monkeypatch):
    """One initialisation, trained eigenvalues out to |λ| = 6: panels of at least MIN_SIDE
    inches, and a second row at |λ| <= 1.5 where the at-init eigenvalues (|λ| < 1) are."""
    from lrd.figures import spectra

    for s in SEEDS:
        rid = write_run(tmp_path / "runs", task="adding", model="rnn-tanh", length=25, seed=s,
                        group="init_adding", analysis=True, test={"mse": 0.1, "loss": 0.1})
        end = tmp_path / "runs" / rid / "analysis_end.npz"
        z = dict(np.load(end))
        z["weights.l0.eigenvalues"] = z["weights.l0.eigenvalues"] * 6
        np.savez(end, **z)
    resultslib.write(tmp_path / "runs", tmp_path)
    made, fig = _draw(spectra.make_eigenspectra, tmp_path, monkeypatch)
    assert len(fig.axes) == 2
    full, zoom = fig.axes
    assert full.get_xlim()[1] > 6 and zoom.get_xlim() == (-1.5, 1.5)
    fig.canvas.draw()   # the layout
    for ax in fig.axes:
        box = ax.get_window_extent()
        assert min(box.width, box.height) / fig.dpi >= spectra.MIN_SIDE - 0.4
    assert "|λ| ≤ 1.5" in made.caption


# 2. spectral -------------------------------------------------------------------------------

def test_spectral_legend_names_rho_sigma_their_ci_bands_and_the_line_at_one(inits,
                                                                            monkeypatch):
    from lrd.figures import spectra

    made, fig = _draw(spectra.make_spectral, inits, monkeypatch)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {"default", "xavier", "orthogonal", "identity", "gaussian"} <= set(labels)
    assert any(lb.startswith(r"$\rho$") for lb in labels)
    assert any(lb.startswith(r"$\sigma_{\max}$") for lb in labels)
    ci = [lb for lb in labels if lb.startswith("95% bootstrap CI of the seed mean")]
    assert len(ci) == 2
    assert "1: edge of stability" in labels
    # the line styles in the legend are those of the drawn lines; the bands differ in style
    handles = dict(zip(labels, fig.legends[0].legend_handles))
    for ax in fig.axes:
        for col, lead in (("rho", r"$\rho$"), ("sigma", r"$\sigma_{\max}$")):
            h = next(h for lb, h in handles.items() if lb.startswith(lead))
            lines = [ln for ln in ax.lines if ln.get_gid() == f"mean:{col}"]
            assert len(lines) == 5 and all(ln.get_linestyle() == h.get_linestyle()
                                           for ln in lines)
        rho = [c for c in ax.collections if c.get_gid() == "ci:rho"]
        sigma = [c for c in ax.collections if c.get_gid() == "ci:sigma"]
        assert rho and sigma
        assert all(not c.get_hatch() for c in rho) and all(c.get_hatch() for c in sigma)
        edge = [ln for ln in ax.lines if ln.get_gid() == "edge"]
        assert len(edge) == 1 and tuple(edge[0].get_ydata()) == (1, 1)
    assert "hatched for σ_max" in made.caption


# 3. generalisation -------------------------------------------------------------------------

ACC_AT_TRAIN = {0: 0.91, 1: 0.93, 2: 0.98}   # test.accuracy per seed
AT_EVAL = 0.5                                # every length.<n>.accuracy


def _prefix(root, train_lengths=(20, 40), tests=(20, 200), models=("rnn-tanh",),
            acc=None):
    """Prefix-sum runs trained at ``train_lengths``, evaluated at ``tests`` (each at AT_EVAL, or
    ``acc``), with ``test.accuracy`` = ACC_AT_TRAIN[seed]."""
    for model in models:
        for L in train_lengths:
            for s in SEEDS:
                v = AT_EVAL if acc is None else acc
                lengths = {str(n): {"accuracy": v, "loss": 0.5} for n in tests}
                write_run(root / "runs", task="prefix_sum", model=model, length=L, seed=s,
                          group="prefix_sum_study", lengths=lengths,
                          test={"accuracy": ACC_AT_TRAIN[s] if acc is None else acc,
                                "loss": 0.5})
    resultslib.write(root / "runs", root)
    return root


def _panel(fig, L):
    return next(a for a in fig.axes if a.get_title() == f"trained at length {L}")


def _means(ax):
    return [ln for ln in ax.lines if (ln.get_gid() or "").startswith("mean:")]


def test_every_panel_has_the_seed_mean_of_test_accuracy_at_its_training_length(tmp_path,
                                                                                monkeypatch):
    """Trained at 40 (not a test length): a point at 40; trained at 20 (also a test length):
    one point at 20, the test.accuracy one, not the length.20 one as well."""
    from lrd.figures import generalisation

    made, fig = _draw(generalisation.make, _prefix(tmp_path), monkeypatch)
    want = np.mean(list(ACC_AT_TRAIN.values()))
    for L, tests in ((40, [20, 40, 200]), (20, [20, 200])):
        line, = _means(_panel(fig, L))
        x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        assert len(x) == len(tests)                           # nothing drawn twice
        assert np.allclose(x / x[0], np.asarray(tests) / tests[0])   # one offset for all
        at = tests.index(L)
        assert y[at] == pytest.approx(want)
        assert np.allclose(np.delete(y, at), AT_EVAL)
    assert "test.accuracy" in made.caption


def test_the_training_length_is_a_marked_tick_not_text_over_the_data(tmp_path, monkeypatch):
    from lrd.figures import generalisation

    _, fig = _draw(generalisation.make, _prefix(tmp_path), monkeypatch)
    fig.canvas.draw()
    for L in (20, 40):
        ax = _panel(fig, L)
        assert not [t for t in ax.texts if "train" in t.get_text()]
        ticks = {round(t.get_position()[0]): t.get_text() for t in ax.get_xticklabels()}
        assert ticks[L] == f"{L}\ntrain"
        assert [v for k, v in ticks.items() if k != L and "train" in v] == []


def test_series_on_the_same_value_have_markers_a_marker_apart(tmp_path, monkeypatch):
    """RNN, LSTM and GRU all at 1.0 everywhere: at every test length their markers are at
    least a marker width apart along x (values unmoved)."""
    from lrd.figures import generalisation

    root = _prefix(tmp_path, train_lengths=(20,), tests=(20, 200, 1000, 5000),
                   models=("rnn-tanh", "lstm", "gru"), acc=1.0)
    _, fig = _draw(generalisation.make, root, monkeypatch)
    fig.canvas.draw()
    ax = _panel(fig, 20)
    lines = _means(ax)
    assert len(lines) == 3
    px = np.array([ax.transData.transform(np.c_[ln.get_xdata(), ln.get_ydata()])[:, 0]
                   for ln in lines])
    assert all(np.allclose(ln.get_ydata(), 1.0) for ln in lines)
    gap = np.diff(np.sort(px, axis=0), axis=0).min() * 72 / fig.dpi     # points
    assert gap >= max(ln.get_markersize() for ln in lines)


def test_the_positions_prefix_panels_have_the_score_at_the_training_length(tmp_path,
                                                                          monkeypatch):
    """As in the generalisation figure: trained at 40, evaluated at 20 and 200 only, the panel
    still has a point at 40, the seed mean of test.accuracy."""
    from lrd.figures import positions

    for s in SEEDS:
        write_run(tmp_path / "runs", task="prefix_sum", model="attention", length=40, seed=s,
                  group=positions.PREFIX, position="rope",
                  lengths={str(n): {"accuracy": AT_EVAL, "loss": 0.5} for n in (20, 200)},
                  test={"accuracy": ACC_AT_TRAIN[s], "loss": 0.5})
    resultslib.write(tmp_path / "runs", tmp_path)
    made, fig = _draw(positions.make, tmp_path, monkeypatch)
    ax = next(a for a in fig.axes if a.get_title().endswith("trained at 40"))
    line, = _means(ax)
    x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
    assert np.allclose(x / x[0], [1, 2, 10])                  # 20, 40, 200
    assert y[1] == pytest.approx(np.mean(list(ACC_AT_TRAIN.values())))
    assert np.allclose(y[[0, 2]], AT_EVAL)
    assert "accuracy at the training length" in made.caption


def test_the_regime_figures_solved_counts_never_overlap(tmp_path, monkeypatch):
    """Two models per regime on prefix sum: each model's "solved/seeds" label at each regime,
    and no two labels (nor a label and the title) share a pixel."""
    from lrd.figures import regime

    for regime_name in ("full", "truncated", "teacher_forcing", "curriculum"):
        for model in ("rnn-tanh", "lstm"):
            for s in SEEDS:
                write_run(tmp_path / "runs", task="prefix_sum", model=model, length=200, seed=s,
                          group="regime_prefix_sum", regime=regime_name,
                          test={"accuracy": 0.34 if model == "rnn-tanh" else 1.0, "loss": 0.5})
    resultslib.write(tmp_path / "runs", tmp_path)
    _, fig = _draw(regime.make_regime, tmp_path, monkeypatch)
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = [t for t in ax.texts if "/" in t.get_text()]
    assert len(labels) == 8
    boxes = [t.get_window_extent() for t in labels] + [ax.title.get_window_extent()]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)


def test_the_predicted_horizon_tick_labels_never_overlap(tmp_path, monkeypatch):
    """Lengths 5 to 100 on a log axis with "none" below: no two tick labels share a pixel."""
    from lrd.figures import predicted

    root = build(tmp_path, seeds=SEEDS, studies=("horizon",))
    _, fig = _draw(predicted.make, root, monkeypatch)
    fig.canvas.draw()
    for ax in fig.axes:
        for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
            boxes = [t.get_window_extent() for t in labels if t.get_text()]
            assert len(boxes) > 3
            for i, a in enumerate(boxes):
                for b in boxes[i + 1:]:
                    assert not a.overlaps(b), (ax.get_title(), a, b)
