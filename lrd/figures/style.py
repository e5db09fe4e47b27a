"""Shared look of every figure: one colour per model, sizes for a two-column paper, saving.

A model's label, colour and marker come from its class (``looks`` in ``lrd.models.MODELS``, see
lrd/models/base.py), a task's title and length symbol from its class in ``lrd.tasks.TASKS``;
models and tasks are ordered as registered. The built-in models use the Okabe–Ito palette
(distinguishable with the common colour-vision deficiencies, and in greyscale print by marker).
A model keeps its colour and marker in every figure.
Figures are sized in inches for a paper: ``COLUMN`` (one column, 3.3 in) and ``PAGE`` (full
width, 6.9 in), with 8 pt text, so they are readable when placed at that width without scaling.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)  # headless; figures are built on matplotlib.figure.Figure
from matplotlib.figure import Figure  # noqa: E402

from lrd.models import MODELS  # noqa: E402
from lrd.models.base import UNKNOWN_COLOR, UNKNOWN_MARKER, Look  # noqa: E402
from lrd.models.init import SCHEMES  # noqa: E402
from lrd.results import aggregate  # noqa: E402
from lrd.tasks import TASKS  # noqa: E402
from lrd.training.record import replace_atomic  # noqa: E402

COLUMN = 3.3   # inches, one column of a two-column paper
PAGE = 6.9     # inches, full text width
LEGEND_COLUMN = 1.65   # inches a legend column needs at the figures' font size

# Initialisations and regimes get their own fixed order, colours and line styles.
INIT_ORDER = list(SCHEMES)   # as lrd/models/init.py lists them
# Kept apart from the model colours, so a colour never means both a model and an init.
INIT_COLORS = {"default": "#000000", "xavier": "#E69F00", "orthogonal": "#332288",
               "identity": "#661100", "gaussian": "#999933"}
REGIME_ORDER = ["full", "truncated", "teacher_forcing", "curriculum"]
REGIME_LABELS = {"full": "full BPTT", "truncated": "truncated BPTT",
                 "teacher_forcing": "teacher forcing", "curriculum": "curriculum"}
REGIME_STYLES = {"full": ("-", "o"), "truncated": ("--", "s"), "teacher_forcing": (":", "^"),
                 "curriculum": ("-.", "D")}

# The memoryless baseline is drawn above every data line and band (data: zorder <= 5).
BASELINE_Z = 6
BASELINE = dict(color="0.2", ls="--", lw=0.9)       # memoryless baseline
THRESHOLD = dict(color="0.35", ls=":", lw=0.9)      # the "solved" threshold
SEED_DOT = dict(s=7, alpha=0.55, linewidths=0, zorder=3)

RC = {
    "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7,
    "xtick.labelsize": 7, "ytick.labelsize": 7, "axes.spines.top": False,
    "axes.spines.right": False, "axes.linewidth": 0.6, "lines.linewidth": 1.3,
    "lines.markersize": 3.5, "legend.frameon": False, "savefig.dpi": 300,
    "pdf.fonttype": 42, "ps.fonttype": 42, "svg.hashsalt": "lrd", "figure.dpi": 100,
    "axes.titleweight": "bold", "xtick.major.width": 0.6, "ytick.major.width": 0.6,
}


def ordered(values, order) -> list:
    """``values`` (unique) in ``order`` first, then any others sorted."""
    values = list(dict.fromkeys(values))
    return [v for v in order if v in values] + sorted(v for v in values if v not in order)


def rank(value, order) -> int:
    """Position of ``value`` in ``order``; anything else after all of it."""
    return order.index(value) if value in order else len(order)


# -- models: from their classes in lrd.models.MODELS -----------------------------------------
def model_order() -> list[str]:
    """Every variant (``runs.csv``'s ``model``) of every registered model, as registered."""
    return [v for cls in MODELS.values() for v in getattr(cls, "looks", {})]


def model_look(model: str) -> Look:
    """The ``Look`` of variant ``model`` from its class; grey circles if no class has it."""
    for cls in MODELS.values():
        looks = getattr(cls, "looks", {})
        if model in looks:
            return looks[model]
    return Look(model, UNKNOWN_COLOR, UNKNOWN_MARKER)


def model_label(model: str) -> str:
    return model_look(model).label


def model_color(model: str) -> str:
    return model_look(model).color


def model_marker(model: str) -> str:
    return model_look(model).marker


# -- tasks: from their classes in lrd.tasks.TASKS --------------------------------------------
def task_order() -> list[str]:
    """Every registered task, as registered."""
    return list(TASKS)


def task_label(name: str) -> str:
    """The task's display name (``Task.label``), or ``name`` for an unregistered task."""
    return getattr(TASKS.get(name), "label", name)


def task_title(name: str, task=None) -> str:
    """The task as a panel title: ``task.title()`` (with its parameters, e.g. the modulus of
    prefix sum) if the task object is given, else its label."""
    return task.title() if task is not None else task_label(name)


def length_symbol(name: str) -> str:
    """The letter of the task's length (``Task.length_symbol``: T, D, L; "length" if the task
    is not registered)."""
    return aggregate.length_symbol(name, "length")


def length_axis(name: str) -> str:
    """An axis label for the task's length: ``Task.length_means`` without its article."""
    means = getattr(TASKS.get(name), "length_means", "length")
    return means.removeprefix("the ")


def figure(width: float, height: float, nrows: int = 1, ncols: int = 1, **kw):
    """A Figure (not pyplot: no global state) with a grid of axes, constrained layout."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width, height), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def save(fig: Figure, out_dir: Path, name: str) -> list[Path]:
    """``name``.pdf and ``name``.png under ``out_dir``, without timestamps where matplotlib
    allows it (PDF CreationDate, PNG Software), so reruns change as little as possible; each
    written whole or not at all (``replace_atomic``), also when two processes draw at once."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pdf, png = out_dir / f"{name}.pdf", out_dir / f"{name}.png"
    with matplotlib.rc_context(RC):
        replace_atomic(pdf, lambda tmp: fig.savefig(tmp, format="pdf", metadata={
            "CreationDate": None, "Producer": None, "Creator": None}))
        replace_atomic(png, lambda tmp: fig.savefig(tmp, format="png", dpi=200,
                                                    metadata={"Software": None}))
    return [pdf, png]


def draw_baseline(ax, x, y, text: str = "memoryless baseline"):
    """The memoryless baseline ``y`` at ``x`` (a scalar ``y``: a horizontal line), above the
    data (``BASELINE_Z``), labelled in the panel at its right end; the artist has gid
    "baseline"."""
    import numpy as np

    if np.ndim(y) == 1 and len(set(np.asarray(x).tolist())) < 2:   # one length: a level line
        y = float(y[0])
    if np.ndim(y) == 0:
        line = ax.axhline(float(y), **BASELINE, zorder=BASELINE_Z, gid="baseline")
        xy, coords = (0.99, float(y)), ("axes fraction", "data")
    else:
        line, = ax.plot(x, y, **BASELINE, zorder=BASELINE_Z, gid="baseline")
        xy, coords = (x[-1], y[-1]), ("data", "data")
    ax.annotate(text, xy, xycoords=coords, xytext=(0, 2), textcoords="offset points",
                ha="right", va="bottom", fontsize=5.5, color=BASELINE["color"],
                zorder=BASELINE_Z, annotation_clip=False)
    return line


def log_length_axis(ax, lengths) -> None:
    """Log-scale x axis with a tick at exactly each length of the sweep."""
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    lengths = sorted({int(v) for v in lengths})
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(lengths))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_locator(NullLocator())
    if lengths:
        lo, hi = lengths[0], lengths[-1]
        pad = max((hi / lo) ** 0.08, 1.1) if hi > lo else 1.3
        ax.set_xlim(lo / pad, hi * pad)


def heatmap(ax, values, labels, row_names, col_names, vmin=0.0, vmax=1.0, cmap="Blues"):
    """``values`` [rows, cols] as coloured cells with ``labels`` written in them (NaN: grey
    hatched, "no runs"). Returns the image for a colour bar."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    masked = np.ma.masked_invalid(values)
    cm = matplotlib.colormaps[cmap].with_extremes(bad="0.92")
    im = ax.imshow(masked, cmap=cm, vmin=vmin, vmax=vmax, aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        light = np.isfinite(v) and (v - vmin) / (vmax - vmin or 1) > 0.55
        ax.text(j, i, labels[i][j] if np.isfinite(v) else "–", ha="center", va="center",
                fontsize=6.5, color="white" if light else "black", linespacing=1.1)
    ax.set_xticks(range(len(col_names)), [str(c) for c in col_names])
    ax.set_yticks(range(len(row_names)), row_names)
    ax.tick_params(length=0)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    return im


def legend(fig: Figure, handles: list, most: int = 5):
    """The figure's legend above its panels, in as many columns (at most ``most``) as fit the
    figure's width at ``LEGEND_COLUMN`` inches a column, so no entry is cut off."""
    ncol = max(1, min(len(handles), most, int(fig.get_figwidth() // LEGEND_COLUMN)))
    return fig.legend(handles=handles, loc="outside upper center", ncol=ncol)


def log_y(ax) -> None:
    """Log-scale y axis labelled in plain numbers (0.5, 1, 2), minor ticks too when the range
    spans less than a decade (where there would be no major tick to read)."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.set_yscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    lo, hi = ax.get_ylim()
    if hi / lo < 30:
        ax.yaxis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0), numticks=12))
        ax.yaxis.set_minor_formatter(plain)
    else:
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))


def legend_fit(fig: Figure, handles: list, most: int = 5):
    """As ``legend``, then with one column fewer at a time while the legend is wider than the
    figure (entries with long labels), so that no entry is cut off at the figure's edge."""
    ncol = max(1, min(len(handles), most, int(fig.get_figwidth() // LEGEND_COLUMN)))
    while True:
        leg = fig.legend(handles=handles, loc="outside upper center", ncol=ncol)
        if ncol == 1 or leg.get_window_extent().width <= fig.bbox.width:
            return leg
        leg.remove()
        ncol -= 1
