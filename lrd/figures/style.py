"""Shared look of every figure: one colour per model, sizes for a two-column paper, saving.

Colours are the Okabe–Ito palette (distinguishable with the common colour-vision deficiencies
and in greyscale print by marker). A model keeps its colour and marker in every figure.
Figures are sized in inches for a paper: ``COLUMN`` (one column, 3.3 in) and ``PAGE`` (full
width, 6.9 in), with 8 pt text, so they are readable when placed at that width without scaling.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)  # headless; figures are built on matplotlib.figure.Figure
from matplotlib.figure import Figure  # noqa: E402

COLUMN = 3.3   # inches, one column of a two-column paper
PAGE = 6.9     # inches, full text width

# Okabe–Ito. Fixed per model, in every figure.
MODEL_COLORS = {
    "rnn-tanh": "#0072B2",    # blue
    "rnn-relu": "#56B4E9",    # sky blue
    "rnn-linear": "#999999",  # grey
    "lstm": "#D55E00",        # vermilion
    "gru": "#009E73",         # green
    "attention": "#CC79A7",   # purple
}
MODEL_MARKERS = {"rnn-tanh": "o", "rnn-relu": "v", "rnn-linear": "x", "lstm": "s", "gru": "D",
                 "attention": "^"}
MODEL_ORDER = list(MODEL_COLORS)
MODEL_LABELS = {"rnn-tanh": "RNN (tanh)", "rnn-relu": "RNN (ReLU)", "rnn-linear": "RNN (linear)",
                "lstm": "LSTM", "gru": "GRU", "attention": "Attention"}

# Initialisations and regimes get their own fixed order, colours and line styles.
INIT_ORDER = ["default", "xavier", "orthogonal", "identity", "gaussian"]
# Kept apart from the model colours, so a colour never means both a model and an init.
INIT_COLORS = {"default": "#000000", "xavier": "#E69F00", "orthogonal": "#332288",
               "identity": "#882255", "gaussian": "#999933"}
REGIME_ORDER = ["full", "truncated", "teacher_forcing", "curriculum"]
REGIME_LABELS = {"full": "full BPTT", "truncated": "truncated BPTT",
                 "teacher_forcing": "teacher forcing", "curriculum": "curriculum"}
REGIME_STYLES = {"full": ("-", "o"), "truncated": ("--", "s"), "teacher_forcing": (":", "^"),
                 "curriculum": ("-.", "D")}
TASK_LABELS = {"copy": "Copy", "adding": "Adding", "delayed_recall": "Delayed recall",
               "prefix_sum": "Prefix sum mod n"}
TASK_ORDER = list(TASK_LABELS)
LENGTH_MEANS = {"copy": "delay T", "adding": "sequence length T",
                "delayed_recall": "delay D", "prefix_sum": "sequence length L"}
LENGTH_SYMBOL = {"copy": "T", "adding": "T", "delayed_recall": "D", "prefix_sum": "L"}

BASELINE = dict(color="0.35", ls="--", lw=0.9)      # memoryless baseline
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


def task_title(name: str, task=None) -> str:
    """The task as a panel title, with its modulus for prefix sum."""
    if name == "prefix_sum" and task is not None and hasattr(task, "n"):
        return f"Prefix sum mod {task.n}"
    return TASK_LABELS.get(name, name)


def model_label(model: str) -> str:
    return MODEL_LABELS.get(model, model)


def model_color(model: str) -> str:
    return MODEL_COLORS.get(model, "#444444")


def figure(width: float, height: float, nrows: int = 1, ncols: int = 1, **kw):
    """A Figure (not pyplot: no global state) with a grid of axes, constrained layout."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width, height), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def save(fig: Figure, out_dir: Path, name: str) -> list[Path]:
    """``name``.pdf and ``name``.png under ``out_dir``, without timestamps where matplotlib
    allows it (PDF CreationDate, PNG Software), so reruns change as little as possible."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.pdf", out_dir / f"{name}.png"]
    with matplotlib.rc_context(RC):
        fig.savefig(paths[0], metadata={"CreationDate": None, "Producer": None,
                                        "Creator": None})
        fig.savefig(paths[1], dpi=200, metadata={"Software": None})
    return paths


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
