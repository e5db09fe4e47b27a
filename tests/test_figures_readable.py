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
