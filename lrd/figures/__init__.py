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

# In report order: (the figure's file name, the function that draws it).
FIGURES = [
    ("horizon", horizon.make),
    ("curves", curves.make),
    ("init", init.make),
    ("regime", regime.make_regime),
    ("generalisation", generalisation.make),
    ("positions", positions.make),
    ("spectral", spectra.make_spectral),
    ("eigenspectra", spectra.make_eigenspectra),
    ("gradient_decay", gradient.make_gradient_decay),
    ("predicted_horizon", predicted.make),
]


def make_all(results_dir="results", verbose: bool = True) -> list[Made | Skipped]:
    """Draw every figure from ``results_dir`` into ``results_dir/figures``; return what was
    made and what was skipped (with why), in report order. A folder without ``runs.csv`` is a
    ConfigError, before anything is drawn or written."""
    results_dir = require_results(results_dir)
    out_dir = results_dir / "figures"
    runs = load_runs(results_dir)
    done = []
    for name, make in FIGURES:
        try:
            with matplotlib.rc_context(style.RC):
                item = make(runs, results_dir, out_dir)
        except Exception as err:  # one broken figure must not cost the others
            traceback.print_exc()
            item = Skipped(name, name, f"error: {type(err).__name__}: {err}")
        done.append(item)
        if isinstance(item, Skipped):   # its files from earlier results go
            for stale in (out_dir / f"{name}.{ext}" for ext in ("pdf", "png")):
                stale.unlink(missing_ok=True)
        if verbose:
            if isinstance(item, Made):
                print(f"figure {item.name}: " + ", ".join(str(p) for p in item.files))
            else:
                print(f"figure {item.name}: skipped ({item.note})")
    return done
