"""Gradient decay of the vanilla RNN after training, per initialisation, with its σ_max bound.

From the ``init_adding`` sweep, at its middle length, for every seed of each (model,
initialisation) with ``analysis_init.npz`` and ``analysis_end.npz``, diverged runs left out
(as the figures of lrd/figures/spectra.py, by the same rule, ``analysed``: the findings say how
many; skipped with a note when the runs carry no analysis).

‖∂s_T/∂s_t‖₂ (geometric mean over sequences) against the lag T − t, log scale, after training
(solid, with the 95% CI band) and at initialisation (faint): over seeds, the mean of log10 of
the norm at each lag (a geometric mean) and its ``mean_ci``. Dotted, the bound σ_max(W_hh)^lag
after training: for a model whose W_hh is its state-to-state map (``weights_are_dynamics``, the
vanilla RNN) with |φ'| ≤ 1, ‖∂s_T/∂s_t‖₂ ≤ σ_max(W_hh)^(T−t) for every seed, so the geometric
mean of the norms is at most exp(lag · mean ln σ_max), the line drawn. σ_max is the largest
singular value over the W_hh blocks of ``analysis_end.npz`` (the final weights). The legend
gives the seed-mean fitted decay rate per step (``rates`` with lag range 1..max,
``jacobian_norm``; ``fit``: norms that underflow to 0 are left out, so the fit ends at the last
lag with a finite nonzero norm, which the caption and findings give) beside the seed-mean
ln σ_max(W_hh), the bound's rate. The bound holds by construction, so the findings do not count
seeds under it; they compare the fitted rate with the largest Lyapunov exponent of the final
model (the record's ``analysis.end`` ``lyapunov_max``) where the records hold it. A bound line
wholly outside the plotted range gets no legend entry, and the caption says so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

from lrd.analysis.summary import weights_are_dynamics
from lrd.figures import style
from lrd.figures.data import (Made, Skipped, ci_text, diverged_caption, fmt, run_summary,
                              seeds_text)
from lrd.figures.spectra import SWEEP, analysis_pairs
from lrd.results.stats import mean_ci


def fit(z, quantity) -> tuple[float, int, int]:
    """``(rate, last, top)`` of an analysis npz: the rate fitted to ln ``curve.<quantity>``
    over lags 1..``top`` (the widest range from lag 1 in ``rates.*``), and ``last``, the last
    lag of that range with a finite nonzero norm: norms that underflow to 0 are left out of
    the fit (lrd/analysis/gradients.py ``decay_rates``), so the fit really ends there.
    ``(NaN, 0, 0)`` without a rate."""
    q, lo, hi, rate = (z.get(f"rates.{k}") for k in ("quantity", "lag_lo", "lag_hi", "rate"))
    if q is None or not len(q):
        return np.nan, 0, 0
    sel = (q.astype(str) == quantity) & (lo == 1) & (hi == hi.max())
    if not sel.any():
        return np.nan, 0, 0
    top = int(hi.max())
    lag, y = np.asarray(z["curve.lag"]), np.asarray(z[f"curve.{quantity}"], float)
    ok = (lag >= 1) & (lag <= top) & np.isfinite(y) & (y > 0)
    return float(rate[sel][-1]), int(lag[ok].max()) if ok.any() else 0, top


def fit_range(fits) -> str:
    """The fit range of the seeds' ``fit`` results in words: "lags 1–200" when every seed's fit
    reaches its top lag, else "lags 1 to the last lag with a finite nonzero norm: 60–120 of
    200" (the range over seeds)."""
    lasts = [f[1] for f in fits if f[2]]
    tops = sorted({f[2] for f in fits if f[2]})
    if not lasts:
        return "no fit"
    of = "/".join(map(str, tops))
    if all(f[1] == f[2] for f in fits if f[2]):
        return f"lags 1–{of}"
    span = f"{min(lasts)}" if min(lasts) == max(lasts) else f"{min(lasts)}–{max(lasts)}"
    return f"lags 1 to the last lag with a finite nonzero norm: {span} of {of}"


def lyapunov_max(results_dir, r) -> float:
    """The largest Lyapunov exponent (per step) of the run's final model, from the record's
    ``analysis.end`` summary; NaN where it has none."""
    v = run_summary(results_dir, r["run_id"], "end").get("lyapunov_max")
    return float(v) if isinstance(v, (int, float)) and np.isfinite(v) else np.nan


def make_gradient_decay(runs, results_dir: Path, out_dir: Path):
    name, title = "gradient_decay", "Gradient decay"
    pairs, mid, left = analysis_pairs(runs, results_dir)
    pairs = {k: [p for p in v if "curve.lag" in p[2] and "curve.lag" in p[1]]
             for k, v in pairs.items()}
    pairs = {k: v for k, v in pairs.items() if v}
    if not pairs:
        return Skipped(name, title, f"no {SWEEP} run has analysis_*.npz with gradient-decay "
                       "curves", [SWEEP])
    models = style.ordered({k[0] for k in pairs}, style.model_order())
    inits = style.ordered({k[1] for k in pairs}, style.INIT_ORDER)
    fig, axes = style.figure(style.PAGE if len(models) > 1 else style.COLUMN, 3.1, 1,
                             len(models), sharey=True)
    findings, lo_all, all_fits, bounds = [], [], [], []
    for ax, model in zip(axes.flat, models):
        for init in inits:
            if (model, init) not in pairs:
                continue
            seeds = pairs[(model, init)]
            c = style.INIT_COLORS.get(init, "0.3")
            b0 = seeds[0][2]
            qty = "jacobian_norm" if all(np.isfinite(b["curve.jacobian_norm"]).any()
                                         for _, _, b in seeds) else "grad_norm"
            for which, kw in ((1, dict(lw=0.8, alpha=0.35)), (2, dict(lw=1.3))):
                lag, mean, lo, hi = _log_mean_curve([p[which] for p in seeds], qty)
                ax.plot(lag, mean, color=c, **kw)
                if which == 2:
                    ax.fill_between(lag, lo, hi, color=c, alpha=0.15, lw=0, gid="ci")
                lo_all.extend(mean)
            fits = [fit(b, qty) for _, _, b in seeds]
            all_fits += fits
            rates = [f[0] for f in fits]
            sigmas = [sigma_max(b) if _dynamics(r) and qty == "jacobian_norm" else np.nan
                      for r, _, b in seeds]
            ln_s = [np.log(v) if v > 0 else np.nan for v in sigmas]
            rate, ln_sm = np.nanmean(rates) if np.isfinite(rates).any() else np.nan, \
                np.nanmean(ln_s) if np.isfinite(ln_s).any() else np.nan
            lags = b0["curve.lag"][b0["curve.lag"] > 0].astype(float)
            if np.isfinite(ln_sm) and len(lags):
                bounds.append((f"{style.model_label(model)}, {init}", ax.plot(
                    lags, bound(np.exp(ln_sm), lags), color=c, lw=0.8, ls=":",
                    gid=f"bound:{init}")[0]))
            ax.plot([], [], color=c, label=f"{init}: {_signed(rate)}, {_signed(ln_sm)}")
            lyap = [lyapunov_max(results_dir, r) for r, _, _ in seeds]
            findings.append(
                f"{style.model_label(model)}, {init} "
                f"({seeds_text(len(seeds), left.get((model, init), 0))}): fitted decay rate "
                f"{ci_text(rates)} per step after training ({fit_range(fits)})"
                + _lyapunov_text(rates, lyap)
                + f"; the bound's rate ln σ_max(W_hh) = {ci_text(ln_s)} (seed mean [95% CI]).")
        ax.set_yscale("log")
        ax.set_xlabel("lag T − t (steps)")
        ax.set_xlim(left=0)
        ax.set_title(f"{style.model_label(model)}, adding, T = {mid}",
                     color=style.model_color(model))
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2,
                  title="after training, per step: fitted rate, ln σ_max(W_hh)",
                  title_fontsize=6.5, fontsize=6.5, handlelength=1.5)
    if lo_all:
        lo = max(min(lo_all), 1e-12)
        axes[0, 0].set_ylim(lo / 2, max(2.0, max(lo_all) * 2))
    axes[0, 0].set_ylabel("‖∂s$_T$/∂s$_t$‖$_2$ (log)")
    hidden = outside(bounds, axes[0, 0].get_ylim())
    handles = [Line2D([], [], color="0.2", lw=1.3, label="after training"),
               Line2D([], [], color="0.2", lw=0.8, alpha=0.35, label="at init")]
    if len(hidden) < len(bounds):   # no legend entry for a line nowhere in sight
        handles.append(Line2D([], [], color="0.2", lw=0.8, ls=":",
                              label=r"bound $\sigma_{\max}(W_{hh})^{\mathrm{lag}}$ after "
                                    "training"))
    style.legend(fig, handles, most=3)
    files = style.save(fig, out_dir, name)
    caption = ("Norm of the Jacobian product ∂s_T/∂s_t (geometric mean over sequences) against "
               f"the lag T − t, vanilla RNN on adding at T = {mid}, per initialisation, log "
               "scale: over seeds, the geometric mean with the 95% bootstrap CI band of the mean "
               "log-norm, solid after training, faint at initialisation; dotted the bound "
               "exp(lag · mean ln σ_max(W_hh)) after training (each seed's ‖∂s_T/∂s_t‖₂ ≤ "
               "σ_max^lag, since |tanh'|, |ReLU'| ≤ 1, so the geometric mean is below the "
               "line). A straight line is exponential decay; the legend gives the seed-mean "
               f"least-squares rate (ln-norm per step, {fit_range(all_fits)}, as norms that "
               "underflow to 0 are left out of the fit) beside the seed-mean ln σ_max(W_hh), "
               "the bound's rate." + _hidden_text(hidden, len(bounds), axes[0, 0].get_ylim()[1])
               + diverged_caption(left, pairs))
    return Made(name, title, caption, [SWEEP], files, findings)


def outside(bounds, ylim) -> list[str]:
    """The names of the ``(name, line)`` bound lines with no point inside ``ylim``."""
    lo, hi = ylim
    return [name for name, line in bounds
            if not ((np.asarray(line.get_ydata(), float) >= lo)
                    & (np.asarray(line.get_ydata(), float) <= hi)).any()]


def _hidden_text(hidden: list[str], n: int, top: float) -> str:
    """A caption sentence for bound lines outside the plotted range (none: ""), so that a
    reader does not look for a line that is not in sight."""
    if not hidden:
        return ""
    who = "every initialisation" if len(hidden) == n else "; ".join(hidden)
    return (f" For {who} the dotted bound lies wholly outside the plotted range (top "
            f"{fmt(top)}), so it is not in sight"
            + (" and the legend has no entry for it." if len(hidden) == n else "."))


def _lyapunov_text(rates, lyap) -> str:
    """"; the largest Lyapunov exponent ... and the gap" where the records hold it: the growth
    rate of the Jacobian product along the trajectory, which the fitted rate estimates over
    finite lags (unlike ln σ_max, which bounds it, so their comparison is no finding)."""
    if not np.isfinite(lyap).any():
        return ""
    gap = [r - v for r, v in zip(rates, lyap)]
    return (f"; the largest Lyapunov exponent of the final model λ_max = {ci_text(lyap)}, "
            f"rate − λ_max = {ci_text(gap)}")


def sigma_max(z) -> float:
    """σ_max(W_hh): the largest singular value over the W_hh blocks of an analysis npz."""
    ks = [k for k in z if k.startswith("weights.") and k.endswith(".singular_values")]
    return max((float(np.max(z[k])) for k in ks), default=np.nan)


def bound(sigma: float, lags) -> np.ndarray:
    """The reference line: σ_max^lag."""
    return float(sigma) ** np.asarray(lags, dtype=float)


def _dynamics(r) -> bool:
    """Whether W_hh is the state-to-state map of the run's model (so σ_max^lag bounds it)."""
    name = r.get("config.model.name")
    return weights_are_dynamics(str(name if isinstance(name, str) else r["model"]).split("-")[0])


def _signed(v: float) -> str:
    """+0.12 / −0.12 with a true minus sign."""
    return "n/a" if not np.isfinite(v) else f"{v:+.2f}".replace("-", "−")


def _log_mean_curve(zs, quantity):
    """(lag, geometric mean, CI low, CI high) over the npz files ``zs`` (one per seed) of
    ``curve.<quantity>`` at the positive lags every seed has, with a finite positive norm:
    the mean of log10 of the norm over seeds and its ``mean_ci``, as norms."""
    per = []
    for z in zs:
        lag, y = np.asarray(z["curve.lag"]), np.asarray(z[f"curve.{quantity}"], float)
        ok = (lag > 0) & np.isfinite(y) & (y > 0)
        per.append(dict(zip(lag[ok].tolist(), np.log10(y[ok]).tolist())))
    common = sorted(set.intersection(*(set(p) for p in per))) if per else []
    cis = [mean_ci([p[k] for p in per]) for k in common]
    out = np.array([[c.mean, c.low, c.high] for c in cis]).reshape(-1, 3)
    return (np.asarray(common, float), *(10.0 ** out[:, i] for i in range(3)))
