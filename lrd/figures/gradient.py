"""Gradient decay of the vanilla RNN after training, per initialisation, with its σ_max bound.

From the ``init_adding`` sweep, at its middle length, for every seed of each (model,
initialisation) with ``analysis_init.npz`` and ``analysis_end.npz`` (as the figures of
lrd/figures/spectra.py; skipped with a note when the runs carry no analysis).

‖∂s_T/∂s_t‖₂ (geometric mean over sequences) against the lag T − t, log scale, after training
(solid, with the 95% CI band) and at initialisation (faint): over seeds, the mean of log10 of
the norm at each lag (a geometric mean) and its ``mean_ci``. Dotted, the bound σ_max(W_hh)^lag
after training: for a model whose W_hh is its state-to-state map (``weights_are_dynamics``, the
vanilla RNN) with |φ'| ≤ 1, ‖∂s_T/∂s_t‖₂ ≤ σ_max(W_hh)^(T−t) for every seed, so the geometric
mean of the norms is at most exp(lag · mean ln σ_max), the line drawn. σ_max is the largest
singular value over the W_hh blocks of ``analysis_end.npz`` (the final weights). The legend
gives the seed-mean fitted decay rate per step (``rates`` with lag range 1..max,
``jacobian_norm``) beside the seed-mean ln σ_max(W_hh), the bound's rate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

from lrd.analysis.summary import weights_are_dynamics
from lrd.figures import style
from lrd.figures.data import Made, Skipped, fmt
from lrd.figures.spectra import SWEEP, _ci_text, _pairs
from lrd.results.stats import mean_ci


def _rate(z, quantity):
    q, lo, hi, rate = (z.get(f"rates.{k}") for k in ("quantity", "lag_lo", "lag_hi", "rate"))
    if q is None or not len(q):
        return np.nan
    sel = (q.astype(str) == quantity) & (lo == 1) & (hi == hi.max())
    return float(rate[sel][-1]) if sel.any() else np.nan


def make_gradient_decay(runs, results_dir: Path, out_dir: Path):
    name, title = "gradient_decay", "Gradient decay"
    pairs, mid = _pairs(runs, results_dir)
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
    findings = []
    lo_all = []
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
            rates = [_rate(b, qty) for _, _, b in seeds]
            sigmas = [sigma_max(b) if _dynamics(r) and qty == "jacobian_norm" else np.nan
                      for r, _, b in seeds]
            ln_s = [np.log(v) if v > 0 else np.nan for v in sigmas]
            rate, ln_sm = np.nanmean(rates) if np.isfinite(rates).any() else np.nan, \
                np.nanmean(ln_s) if np.isfinite(ln_s).any() else np.nan
            lags = b0["curve.lag"][b0["curve.lag"] > 0].astype(float)
            if np.isfinite(ln_sm) and len(lags):
                ax.plot(lags, bound(np.exp(ln_sm), lags), color=c, lw=0.8, ls=":",
                        gid=f"bound:{init}")
            ax.plot([], [], color=c, label=f"{init}: {_signed(rate)}, {_signed(ln_sm)}")
            held = [r_ <= s_ for r_, s_ in zip(rates, ln_s) if np.isfinite(r_) and np.isfinite(s_)]
            findings.append(
                f"{style.model_label(model)}, {init} ({len(seeds)} seeds): fitted decay rate "
                f"{_ci_text(rates)} per step after training; the bound's rate ln σ_max(W_hh) = "
                f"{_ci_text(ln_s)} (seed mean [95% CI])"
                + (f"; rate ≤ ln σ_max in {sum(held)} of {len(held)} seeds" if held else "")
                + ".")
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
    handles = [Line2D([], [], color="0.2", lw=1.3, label="after training"),
               Line2D([], [], color="0.2", lw=0.8, alpha=0.35, label="at init"),
               Line2D([], [], color="0.2", lw=0.8, ls=":",
                      label=r"bound $\sigma_{\max}(W_{hh})^{\mathrm{lag}}$ after training")]
    style.legend(fig, handles, most=3)
    files = style.save(fig, out_dir, name)
    caption = ("Norm of the Jacobian product ∂s_T/∂s_t (geometric mean over sequences) against "
               f"the lag T − t, vanilla RNN on adding at T = {mid}, per initialisation, log "
               "scale: over seeds, the geometric mean with the 95% bootstrap CI band of the mean "
               "log-norm, solid after training, faint at initialisation; dotted the bound "
               "exp(lag · mean ln σ_max(W_hh)) after training (each seed's ‖∂s_T/∂s_t‖₂ ≤ "
               "σ_max^lag, since |tanh'|, |ReLU'| ≤ 1, so the geometric mean is below the "
               "line). A straight line is exponential decay; the legend gives the seed-mean "
               "least-squares rate (ln-norm per step, lags 1..T) beside the seed-mean "
               "ln σ_max(W_hh), the bound's rate.")
    return Made(name, title, caption, [SWEEP], files, findings)


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
