"""Every figure of the paper, from ``results/`` alone: ``lrd figures`` (``make_all``).

One module per figure or family: ``horizon`` (memory horizon per task), ``init``
(initialisation × length heatmaps), ``regime`` (score per training regime),
``generalisation`` (length generalisation), ``positions`` (attention's positional schemes),
``curves`` (training curves), ``spectra`` (spectral radius and σ_max over training,
eigenspectra), ``gradient`` (gradient decay with its σ_max bound), ``predicted`` (memory
horizon predicted from the gradient-decay rate against the measured one); ``seeds`` turns
seeds into the seed mean with its 95% bootstrap CI, ``style`` holds the shared colours and
sizes, ``data`` the loading. Each figure goes to ``results/figures/<name>.{pdf,png}``. A figure
whose study has no runs (or whose runs lack what it needs) is skipped with a one-line note,
never an error, and its files from an earlier call are deleted: no figure in the folder is
older than the results it claims to show.
"""

from __future__ import annotations

import traceback
import matplotlib

from lrd.figures import (curves, generalisation, gradient, horizon, init, positions, predicted,
                         regime, spectra, style)
from lrd.figures.data import Made, Skipped, load_runs, require_results

# In report order.
FIGURES = [
    horizon.make,
    curves.make,
    init.make,
    regime.make_regime,
    generalisation.make,
    positions.make,
    spectra.make_spectral,
    spectra.make_eigenspectra,
    gradient.make_gradient_decay,
    predicted.make,
]


def make_all(results_dir="results", verbose: bool = True) -> list[Made | Skipped]:
    """Draw every figure from ``results_dir`` into ``results_dir/figures``; return what was
    made and what was skipped (with why), in report order. A folder without ``runs.csv`` is a
    ConfigError, before anything is drawn or written."""
    results_dir = require_results(results_dir)
    out_dir = results_dir / "figures"
    runs = load_runs(results_dir)
    done = []
    for make in FIGURES:
        try:
            with matplotlib.rc_context(style.RC):
                item = make(runs, results_dir, out_dir)
        except Exception as err:  # one broken figure must not cost the others
            name = getattr(make, "__name__", "figure")
            traceback.print_exc()
            item = Skipped(f"{make.__module__.rsplit('.', 1)[-1]}.{name}", name,
                           f"error: {type(err).__name__}: {err}")
        done.append(item)
        if isinstance(item, Skipped):
            for stale in (out_dir / f"{item.name}.{ext}" for ext in ("pdf", "png")):
                stale.unlink(missing_ok=True)
        if verbose:
            if isinstance(item, Made):
                print(f"figure {item.name}: " + ", ".join(str(p) for p in item.files))
            else:
                print(f"figure {item.name}: skipped ({item.note})")
    return done
