"""Recurrent-weight spectra of the vanilla RNN, per initialisation.

From the ``init_adding`` sweep, at its middle length, for every seed of each (model,
initialisation) that has the analysis files, diverged runs left out (``analysed``: a diverged
run's final weights are those of a blown-up model; the findings say how many were left out,
and these figures and the gradient decay count the same seeds). Two figures here, each
skipped with a note when the runs carry no analysis (runs with ``analysis.enabled: false``, or
older records):

``spectral``        spectral radius ρ(W_hh) (solid) and largest singular value σ_max(W_hh)
                    (dashed) over training, seed mean with its 95% CI band (``mean_ci`` over
                    the seeds logged at each step; ρ's band filled, σ_max's hatched, each with
                    its legend entry), from the ``analysis/weight_radius`` and
                    ``analysis/weight_sigma_max`` columns of ``metrics.csv`` (logged every
                    ``analysis.every`` steps), with the values at initialisation from the
                    record's ``analysis.init`` summary at step 0 and the final values from its
                    ``analysis.end`` summary (computed on the final weights, on_train_end),
                    marked at the record's last step. "Final" always means that summary; a
                    run without it says its last value is the last periodic log. The line at
                    1 (the edge of stability) is dash-dotted and in the legend.
``eigenspectra``    eigenvalues of W_hh in the complex plane after training (small filled
                    dots) and at initialisation (open dark rings, drawn above them and above
                    the unit circle), every seed's in one panel (a scatter of eigenvalues has
                    no mean; all seeds show the spread); panels square, symmetric, at least
                    ``MIN_SIDE`` inches, and when trained eigenvalues lie far out a second row
                    per model zoomed to |λ| ≤ ``ZOOM``; from ``analysis_init.npz`` and
                    ``analysis_end.npz`` (``weights.<block>.eigenvalues``); the findings give
                    ρ's seed mean and CI.

``gradient_decay`` (the gradient-decay figure of the same runs) is in lrd/figures/gradient.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

from lrd.figures import style
from lrd.results.stats import mean_ci
from lrd.figures.data import (Made, Skipped, analysed, analysis_npz, ci_text, diverged_caption,
                              fmt, metrics_csv, read_record, run_summary, seeds_text, study)

SWEEP = "init_adding"
RADIUS, SIGMA = "analysis/weight_radius", "analysis/weight_sigma_max"


def _runs(runs):
    """``(rows, mid, left)``: the rows at the middle length ``mid`` of the sweep, by (model,
    init), lowest seed first, without the diverged runs (``analysed``), and ``left``: (model,
    init) -> how many diverged runs were left out there."""
    rows = study(runs, SWEEP)
    if rows.empty:
        return rows, None, {}
    lengths = sorted(rows["length"].unique())
    mid = lengths[len(lengths) // 2]
    kept, out = analysed(rows[rows["length"] == mid])
    left = out.groupby(["model", "init"]).size().to_dict()
    return kept.sort_values(["model", "init", "seed"]), int(mid), left


def _grid(rows):
    models = style.ordered(rows["model"].unique(), style.model_order())
    inits = style.ordered(rows["init"].unique(), style.INIT_ORDER)
    return models, inits


def series(results_dir, r):
    """``(frame, final)`` of one run: ``step``, ``rho``, ``sigma`` from init (step 0) through
    every periodic log to the end (the record's last step); ``final`` says whether the last row
    is the ``analysis.end`` summary (True) or only the last periodic log (False). None if the
    run has no periodic columns."""
    import pandas as pd

    df = metrics_csv(results_dir, r["run_id"])
    if df is None or RADIUS not in df or SIGMA not in df:
        return None
    d = df[["step", RADIUS, SIGMA]].dropna().set_axis(["step", "rho", "sigma"], axis=1)
    extra = []
    init, end = run_summary(results_dir, r["run_id"], "init"), \
        run_summary(results_dir, r["run_id"], "end")
    if "weight_radius" in init and "weight_sigma_max" in init:
        extra.append([0, init["weight_radius"], init["weight_sigma_max"]])
    final = "weight_radius" in end and "weight_sigma_max" in end
    if final:
        steps = read_record(results_dir, r["run_id"]).get("steps")
        last = max(int(steps or 0), int(d["step"].max()) + 1 if len(d) else 0)
        extra.append([last, end["weight_radius"], end["weight_sigma_max"]])
    d = pd.concat([d, pd.DataFrame(extra, columns=d.columns)], ignore_index=True)
    return (d.sort_values("step", kind="stable").reset_index(drop=True), final) if len(d) \
        else None


def _mean_ci_by(frame, key: str, cols) -> "pd.DataFrame":
    """Per value of ``key``: for each of ``cols`` its mean over the rows (one a seed) and the
    95% CI (``mean_ci``) as ``<col>``, ``<col>_low``, ``<col>_high``."""
    import pandas as pd

    out = []
    for k, g in frame.groupby(key, sort=True):
        row = {key: k}
        for c in cols:
            ci = mean_ci(g[c])
            row.update({c: ci.mean, f"{c}_low": ci.low, f"{c}_high": ci.high})
        out.append(row)
    return pd.DataFrame(out)


# The line at 1 (the edge of stability), and the look of ρ and σ_max: line style, line width,
# and the band of the seed mean's CI (ρ: filled; σ_max: hatched, unfilled, so both read where
# they overlap).
EDGE = dict(color="0.5", lw=0.8, ls="-.")
LOOKS = {"rho": dict(ls="-", lw=1.2, label=r"$\rho$ (spectral radius)", fill=True),
         "sigma": dict(ls="--", lw=1.0, label=r"$\sigma_{\max}$ (largest singular value)",
                       fill=False)}
CI_LABEL = "95% bootstrap CI of the seed mean"


def _band_style(col: str, color) -> dict:
    """``fill_between`` keywords of the CI band of ``col``: ρ filled, σ_max hatched."""
    if LOOKS[col]["fill"]:
        return dict(facecolor=color, alpha=0.18, lw=0)
    return dict(facecolor="none", edgecolor=color, hatch="/////", alpha=0.35, lw=0)


def _line_with_band(ax, st, col: str, color) -> None:
    """The seed mean of ``col`` (``rho`` or ``sigma``) over the steps of ``st`` with its CI
    band, in the look of ``LOOKS[col]``; gids ``mean:<col>`` and ``ci:<col>``."""
    lk = LOOKS[col]
    ax.plot(st["step"], st[col], color=color, lw=lk["lw"], ls=lk["ls"], gid=f"mean:{col}")
    ax.fill_between(st["step"], st[f"{col}_low"], st[f"{col}_high"], gid=f"ci:{col}",
                    **_band_style(col, color))


def _spectral_handles(inits, finals: bool) -> list:
    """Legend of the spectral figure: a colour per initialisation, the line style of ρ and of
    σ_max, each one's CI band, the mean final values (if ``finals``) and the line at 1."""
    from matplotlib.patches import Patch

    handles = [Line2D([], [], color=style.INIT_COLORS.get(i, "0.3"), label=i) for i in inits]
    handles += [Line2D([], [], color="0.2", ls=LOOKS[c]["ls"], lw=LOOKS[c]["lw"],
                       label=LOOKS[c]["label"]) for c in LOOKS]
    handles += [Patch(**_band_style(c, "0.2"), label=f"{CI_LABEL} ({name})")
                for c, name in (("rho", r"$\rho$"), ("sigma", r"$\sigma_{\max}$"))]
    if finals:
        handles.append(Line2D([], [], ls="", marker="o", ms=3, color="0.2",
                              label="mean final values"))
    return handles + [Line2D([], [], **EDGE, label="1: edge of stability")]


def _height(width: float, entries: int) -> float:
    """Height of the spectral figure: 2 in for the panels, plus a line of legend per row of
    entries (long labels: about 2.4 in a column)."""
    rows = -(-entries // max(1, int(width // 2.4)))
    return 2.0 + 0.16 * rows


def make_spectral(runs, results_dir: Path, out_dir: Path):
    import pandas as pd

    name, title = "spectral", "Spectral radius and σ_max over training"
    rows, mid, left = _runs(runs)
    found = {}     # (model, init) -> [(row, frame, final), ...], one per seed
    for _, r in rows.iterrows():
        if (got := series(results_dir, r)) is not None:
            found.setdefault((r["model"], r["init"]), []).append((r, *got))
    if not found:
        return Skipped(name, title, f"no {SWEEP} run has the {RADIUS} / {SIGMA} columns in "
                       "metrics.csv (analysis off, or records from before the analysis)", [SWEEP])
    models, inits = _grid(rows[[(m, i) in found for m, i in zip(rows["model"], rows["init"])]])
    width = style.PAGE if len(models) > 1 else style.COLUMN
    fig, axes = style.figure(width, _height(width, len(inits) + 6), 1, len(models),
                             sharey=True)
    findings = []
    for ax, model in zip(axes.flat, models):
        for init in inits:
            if (model, init) not in found:
                continue
            seeds = found[(model, init)]
            c = style.INIT_COLORS.get(init, "0.3")
            # the last row of each seed (its final weights, or its last log) at one step, the
            # mean final step, so that seeds that stopped early still meet at the end
            ends = [d.iloc[-1] for _, d, _ in seeds]
            last = float(np.mean([e["step"] for e in ends]))
            body = pd.concat([d.iloc[:-1] for _, d, _ in seeds], ignore_index=True)
            tail = pd.DataFrame([{"step": last, "rho": e["rho"], "sigma": e["sigma"]}
                                 for e in ends])
            st = _mean_ci_by(pd.concat([body, tail], ignore_index=True), "step",
                             ["rho", "sigma"])
            for col in ("rho", "sigma"):
                _line_with_band(ax, st, col, c)
            final = all(f for _, _, f in seeds)
            rho_end, sig_end = [e["rho"] for e in ends], [e["sigma"] for e in ends]
            if final:
                ax.plot([last] * 2, [np.mean(rho_end), np.mean(sig_end)], ls="", marker="o",
                        ms=3, color=c, zorder=5, gid="final")
            what = ("final weights" if final else
                    "last periodic log of a seed without an end-of-run summary")
            rho0 = [d["rho"].iloc[0] for _, d, _ in seeds]
            sig0 = [d["sigma"].iloc[0] for _, d, _ in seeds]
            findings.append(
                f"{style.model_label(model)}, {init} (mean of "
                f"{seeds_text(len(seeds), left.get((model, init), 0))}): ρ(W_hh) "
                f"{fmt(np.mean(rho0))} → {fmt(np.mean(rho_end))}, σ_max {fmt(np.mean(sig0))} → "
                f"{fmt(np.mean(sig_end))} (at init → {what}; 95% CI of the end values: ρ "
                f"{ci_text(rho_end).split(' ', 1)[1]}, "
                f"σ_max {ci_text(sig_end).split(' ', 1)[1]}).")
        ax.axhline(1.0, **EDGE, zorder=1, gid="edge")
        ax.set_title(f"{style.model_label(model)}, adding, T = {mid}",
                     color=style.model_color(model))
        ax.set_xlabel("training step")
    axes[0, 0].set_ylabel(r"$\rho(W_{hh})$ and $\sigma_{\max}(W_{hh})$")
    handles = _spectral_handles(inits, any(a.get_gid() == "final" for ax in axes.flat
                                           for a in ax.lines))
    style.legend_fit(fig, handles, most=-(-len(handles) // 2))
    files = style.save(fig, out_dir, name)
    n = sorted({len(v) for v in found.values()})
    caption = ("Spectral radius ρ (solid) and largest singular value σ_max (dashed) of the "
               f"recurrent matrix W_hh over training, vanilla RNN on adding at T = {mid}, one "
               "line pair per initialisation (colour): the seed mean "
               f"({'/'.join(map(str, n))} seeds) with the 95% bootstrap CI of the seed mean as "
               "a band, filled for ρ and hatched for σ_max; each seed's "
               "last value (the final weights, from the end-of-training analysis) is drawn at "
               "the seeds' mean last step, so seeds that stopped early (solved) join the mean "
               "there; dots: the mean final values. Grey dash-dotted line: 1, the edge of "
               "stability; σ_max ≥ ρ always, with equality for normal matrices."
               + diverged_caption(left, found))
    return Made(name, title, caption, [SWEEP], files, findings)


def analysis_pairs(runs, results_dir):
    """``(pairs, mid, left)``: (model, init) -> [(row, analysis_init, analysis_end), ...],
    every seed with both files, lowest seed first; the sweep's middle length; the diverged
    runs left out (``_runs``)."""
    rows, mid, left = _runs(runs)
    out = {}
    for _, r in rows.iterrows():
        a, b = analysis_npz(results_dir, r["run_id"], "init"), \
            analysis_npz(results_dir, r["run_id"], "end")
        if a is not None and b is not None:
            out.setdefault((r["model"], r["init"]), []).append((r, a, b))
    return out, mid, left


def _eig(z) -> np.ndarray:
    ks = sorted(k for k in z if k.startswith("weights.") and k.endswith(".eigenvalues"))
    return np.concatenate([z[k].ravel() for k in ks]) if ks else np.array([], complex)


# Eigenspectra: each panel at least MIN_SIDE inches square (at most MAX_SIDE); with trained
# eigenvalues beyond 1.3·ZOOM a second row per model shows |λ| ≤ ZOOM, where the unit circle
# and the eigenvalues at initialisation are. Drawing order: trained dots (small),
# then the unit circle, then the open at-init markers on top.
MIN_SIDE, MAX_SIDE, ZOOM = 1.25, 2.4, 1.5
Z_TRAINED, Z_CIRCLE, Z_INIT = 2, 3, 4
INIT_MARK = dict(s=12, facecolors="none", edgecolors="0.1", linewidths=0.6)
CIRCLE = dict(color="0.1", lw=0.8, ls="--")


def _limit(pairs) -> float:
    """Half-width of the full view: 1.05 × the largest |λ| of any seed (at least 1.15)."""
    lim = 1.15
    for seeds in pairs.values():
        for _, a, b in seeds:
            lim = max(lim, 1.05 * float(np.nanmax(np.abs(np.r_[_eig(a), _eig(b)]))))
    return lim


def _views(lim: float) -> list[tuple[str, float]]:
    """(row label, half-width) of the rows of each model: the full view, and the zoom to
    |λ| ≤ ZOOM when the full view is much wider."""
    return [("", lim)] + ([(f"|λ| ≤ {ZOOM:g}", ZOOM)] if lim > 1.3 * ZOOM else [])


def _eig_axes(ax, lim: float) -> None:
    """Symmetric, equal-aspect limits ±``lim``, the axes through 0 and the unit circle (above
    the trained eigenvalues, below the at-init markers; gid "unit_circle")."""
    theta = np.linspace(0, 2 * np.pi, 256)
    ax.plot(np.cos(theta), np.sin(theta), **CIRCLE, zorder=Z_CIRCLE, gid="unit_circle")
    ax.axhline(0, color="0.85", lw=0.4, zorder=1)
    ax.axvline(0, color="0.85", lw=0.4, zorder=1)
    ax.set_aspect("equal")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)


def _eig_points(ax, seeds, color) -> None:
    """Every seed's eigenvalues: after training small dots in ``color`` (gid "after"), at
    initialisation open dark rings above them and the unit circle (gid "init")."""
    for _, a, b in seeds:
        e0, e1 = _eig(a), _eig(b)
        ax.scatter(e1.real, e1.imag, s=4, color=color, linewidths=0, zorder=Z_TRAINED,
                   gid="after")
        ax.scatter(e0.real, e0.imag, **INIT_MARK, zorder=Z_INIT, gid="init")


def _eig_finding(model, init, seeds, left: int) -> str:
    rho0 = [float(np.abs(_eig(a)).max()) for _, a, _ in seeds]
    rho1 = [float(np.abs(_eig(b)).max()) for _, _, b in seeds]
    return (f"{style.model_label(model)}, {init} ({seeds_text(len(seeds), left)}): ρ(W_hh) "
            f"{ci_text(rho0)} at init, {ci_text(rho1)} after training (seed mean [95% CI]).")


def _eig_figure(n_rows: int, n_cols: int):
    """A figure of ``n_rows`` × ``n_cols`` square panels, each MIN_SIDE..MAX_SIDE inches, as
    many as fit the page width."""
    side = min(MAX_SIDE, max(MIN_SIDE, (style.PAGE - 0.5) / n_cols))
    return style.figure(0.5 + side * n_cols, 0.45 + side * n_rows, n_rows, n_cols)


def make_eigenspectra(runs, results_dir: Path, out_dir: Path):
    name, title = "eigenspectra", "Eigenspectra of W_hh"
    pairs, mid, left = analysis_pairs(runs, results_dir)
    pairs = {k: [p for p in v if len(_eig(p[1])) and len(_eig(p[2]))]
             for k, v in pairs.items()}
    pairs = {k: v for k, v in pairs.items() if v}
    if not pairs:
        return Skipped(name, title, f"no {SWEEP} run has analysis_init.npz and "
                       "analysis_end.npz with W_hh eigenvalues", [SWEEP])
    models = style.ordered({k[0] for k in pairs}, style.model_order())
    inits = style.ordered({k[1] for k in pairs}, style.INIT_ORDER)
    views = _views(_limit(pairs))
    fig, axes = _eig_figure(len(models) * len(views), len(inits))
    findings = []
    for i, (model, (label, lim)) in enumerate((m, v) for m in models for v in views):
        for j, init in enumerate(inits):
            ax = axes[i, j]
            _eig_axes(ax, lim)
            if i == 0:
                ax.set_title(init)
            if j == 0:
                ax.set_ylabel(f"{style.model_label(model)}" + (f", {label}" if label else "")
                              + "\nIm λ")
            if i == axes.shape[0] - 1:
                ax.set_xlabel("Re λ")
            if (model, init) not in pairs:
                ax.text(0, 0, "no data", ha="center", va="center", color="0.5")
                continue
            _eig_points(ax, pairs[(model, init)], style.model_color(model))
            if not label:
                findings.append(_eig_finding(model, init, pairs[(model, init)],
                                             left.get((model, init), 0)))
    handles = [Line2D([], [], ls="", marker="o", mfc="none", mec=INIT_MARK["edgecolors"],
                      mew=0.6, ms=3.5, label="at init"),
               Line2D([], [], ls="", marker="o", color="0.2", ms=2.5,
                      label="after training"),
               Line2D([], [], **CIRCLE, label="unit circle")]
    style.legend_fit(fig, handles, most=3)
    files = style.save(fig, out_dir, name)
    caption = ("Eigenvalues of the recurrent matrix W_hh in the complex plane, vanilla RNN on "
               f"adding at T = {mid}, every seed's eigenvalues together: columns are "
               "initialisations, rows models"
               + (f", each model twice: all eigenvalues, then zoomed to |λ| ≤ {ZOOM:g} (the "
                  "eigenvalues outside are not shown there)" if len(views) > 1 else "")
               + "; small dots in the model's colour after training, open dark "
               "circles at initialisation drawn over them, dashed the unit circle (|λ| > 1: "
               "directions that grow without the nonlinearity)."
               + diverged_caption(left, pairs))
    return Made(name, title, caption, [SWEEP], files, findings)
