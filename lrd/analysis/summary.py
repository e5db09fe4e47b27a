"""One analysis of one model state, its summary numbers, its files and its figures.

``analyze(model, task, batch)`` computes, on the task's own batch (for training runs: the first
``analysis.batch_size`` sequences of the run's fixed validation stream at the target length,
the same batch at init and at the end, never trained on):

  weights     spectra of every W_hh block (lrd/analysis/spectra.py; descriptive only)
  jacobians   spectra of the full-state Jacobians J_t at ``n_steps`` steps × ``n_sequences``
  decay       the per-lag curves of lrd/analysis/gradients.py and their fitted rates
  lyapunov    the top ``n_exponents`` Lyapunov exponents along the first
              ``lyapunov_sequences`` sequences (warm-up L // 4)

``summarize`` reduces it to a dict of floats (the record's ``analysis`` entry):
``weight_radius`` / ``weight_sigma_max`` (largest over every W_hh block: for gated models only
descriptive), ``jacobian_radius`` / ``jacobian_sigma_max`` (mean over the sampled (t, sequence)
pairs), ``jacobian_tau`` = −1/ln(jacobian_radius), ``ln_jacobian_radius``,
``ln_jacobian_sigma_max`` (and ``ln_weight_radius`` / ``ln_weight_sigma_max`` for a model
whose class has ``weights_are_dynamics``, the RNN: there W_hh is the state-to-state map),
``grad_decay_rate`` and ``jacobian_decay_rate`` (slope of ln-norm vs lag over all lags ≥ 1)
and ``lyapunov_max``. The attention model has only ``grad_decay_rate`` (of ‖∂L/∂x_t‖).

``save`` writes one small npz (spectra and per-lag curves, float32/complex64); ``figures``
draws PNG + PDF figures; ``text`` prints a one-screen table.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lrd.analysis.gradients import decay_rates, gradient_decay
from lrd.analysis.jacobians import is_recurrent, model_inputs
from lrd.analysis.lyapunov import lyapunov
from lrd.analysis.spectra import jacobian_spectra, time_constants, weight_spectra
from lrd.models import MODELS
from lrd.training import record

CURVE_COLUMNS = ("lag", "t", "grad_norm", "jacobian_norm", "jacobian_norm_min",
                 "jacobian_norm_max")


def _finite_weights(model) -> bool:
    return all(torch.isfinite(p).all() for p in model.parameters())


def analyze(model, task, batch, n_steps: int = 8, n_sequences: int = 8,
            jacobian_sequences: int = 8, lyapunov_sequences: int = 8,
            n_exponents: int | None = None) -> dict:
    """Everything above for ``model`` on ``batch``; a dict of NumPy arrays and DataFrames.
    A model with non-finite weights (a diverged run) gets ``{"skipped": reason}``."""
    if not _finite_weights(model):
        return {"skipped": "non-finite weights"}
    start = time.perf_counter()
    out: dict = {"model": getattr(model, "name", type(model).__name__)}
    curve = gradient_decay(model, task, batch, jacobian_sequences)
    out["curve"] = curve
    out["rates"] = decay_rates(curve)
    if is_recurrent(model):
        inputs = model_inputs(model, task, batch)
        out["weights"] = weight_spectra(model)
        out["jacobians"] = jacobian_spectra(model, inputs, n_steps, n_sequences)
        D = out["jacobians"]["eigenvalues"].shape[-1]
        k = D if n_exponents is None else min(n_exponents, D)
        traj = inputs[:lyapunov_sequences]
        out["lyapunov"] = lyapunov(model, traj, k) if traj.shape[1] >= 2 else np.full(k, np.nan)
    out["time_s"] = time.perf_counter() - start
    return out


def _nanmean(a) -> float:
    a = np.asarray(a, dtype=float)
    return float(np.nanmean(a)) if np.isfinite(a).any() else math.nan


def _ln(x: float) -> float:
    return math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)


def _rate(rates: pd.DataFrame, quantity: str) -> float:
    lag_max = rates["lag_hi"].max() if len(rates) else 0
    row = rates[(rates["quantity"] == quantity) & (rates["lag_lo"] == 1)
                & (rates["lag_hi"] == lag_max)]
    return float(row["rate"].iloc[-1]) if len(row) else math.nan


def weights_are_dynamics(name: str) -> bool:
    """``weights_are_dynamics`` of the model class registered as ``name`` (lrd/models/base.py)."""
    return bool(getattr(MODELS.get(name), "weights_are_dynamics", False))


def summarize(result: dict) -> dict:
    """The summary floats of one ``analyze`` result (module docstring)."""
    if "skipped" in result:
        return {"skipped": result["skipped"]}
    s = {"grad_decay_rate": _rate(result["rates"], "grad_norm")}
    if "weights" in result:
        radius = max(float(np.abs(e[0])) for e, _ in result["weights"].values())
        sigma = max(float(sv[0]) for _, sv in result["weights"].values())
        s.update(weight_radius=radius, weight_sigma_max=sigma)
        if weights_are_dynamics(result["model"]):
            s.update(ln_weight_radius=_ln(radius), ln_weight_sigma_max=_ln(sigma))
        j = result["jacobians"]
        jr, js = _nanmean(j["radius"]), _nanmean(j["sigma_max"])
        s.update(jacobian_radius=jr, jacobian_sigma_max=js, ln_jacobian_radius=_ln(jr),
                 ln_jacobian_sigma_max=_ln(js), jacobian_tau=float(time_constants(jr)),
                 jacobian_decay_rate=_rate(result["rates"], "jacobian_norm"),
                 lyapunov_max=float(result["lyapunov"][0]))
    s["time_s"] = result["time_s"]
    return s


def save(result: dict, path, sequences: int | None = None) -> Path:
    """One npz: the spectra, the per-lag curves, the rates and the exponents (small).

    ``sequences`` keeps the Jacobian eigen- and singular values of only the first few
    sequences (training runs keep 1, so the files stay small enough to commit); the
    per-step radius and sigma_max always keep every sequence."""
    path = Path(path)
    if "skipped" in result:
        np.savez_compressed(path, skipped=np.array(result["skipped"]))
        return path
    arrays = {f"curve.{c}": result["curve"][c].to_numpy() for c in CURVE_COLUMNS}
    r = result["rates"]
    arrays.update({"rates.quantity": r["quantity"].to_numpy(dtype=str),
                   "rates.lag_lo": r["lag_lo"].to_numpy(), "rates.lag_hi": r["lag_hi"].to_numpy(),
                   "rates.rate": r["rate"].to_numpy()})
    for label, (eig, sv) in result.get("weights", {}).items():
        arrays[f"weights.{label}.eigenvalues"] = eig.astype(np.complex64)
        arrays[f"weights.{label}.singular_values"] = sv.astype(np.float32)
    if "jacobians" in result:
        j = result["jacobians"]
        arrays.update({"jacobians.steps": j["steps"],
                       "jacobians.eigenvalues":
                           j["eigenvalues"][:, :sequences].astype(np.complex64),
                       "jacobians.singular_values":
                           j["singular_values"][:, :sequences].astype(np.float32),
                       "jacobians.radius": j["radius"], "jacobians.sigma_max": j["sigma_max"],
                       "lyapunov": result["lyapunov"]})
    arrays["model"] = np.array(result["model"])
    np.savez_compressed(path, **arrays)
    return path


def load(path) -> dict:
    """An ``analyze``-shaped dict back from a file written by ``save``."""
    with np.load(path) as z:
        d = {k: z[k] for k in z.files}
    if "skipped" in d:
        return {"skipped": str(d["skipped"])}
    out = {"model": str(d["model"]), "time_s": math.nan,
           "curve": pd.DataFrame({c: d[f"curve.{c}"] for c in CURVE_COLUMNS}),
           "rates": pd.DataFrame({k: d[f"rates.{k}"] for k in
                                  ("quantity", "lag_lo", "lag_hi", "rate")})}
    labels = list(dict.fromkeys(k[len("weights."):].rsplit(".", 1)[0]
                                for k in d if k.startswith("weights.")))
    if labels:
        out["weights"] = {lb: (d[f"weights.{lb}.eigenvalues"], d[f"weights.{lb}.singular_values"])
                          for lb in labels}
        out["jacobians"] = {k[len("jacobians."):]: v for k, v in d.items()
                            if k.startswith("jacobians.")}
        out["lyapunov"] = d["lyapunov"]
    return out


# -- figures -------------------------------------------------------------------------------
def _figure(ncols: int = 1, width: float = 4.2):
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width * ncols, 3.6), layout="constrained")
    return fig, [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]


def figures(results: dict[str, dict]) -> dict:
    """Matplotlib figures comparing ``{"init": result, "end": result}`` (any labels):
    ``weight_spectrum``, ``jacobian_spectrum``, ``singular_values``, ``gradient_decay`` and
    ``lyapunov`` (only those the model has). Returns ``{name: Figure}``."""
    results = {k: v for k, v in results.items() if "skipped" not in v}
    figs = {}
    theta = np.linspace(0, 2 * np.pi, 200)
    rec = [k for k, v in results.items() if "weights" in v]
    if rec:
        fig, axes = _figure(len(rec))
        for ax, label in zip(axes, rec):
            for block, (eig, _) in results[label]["weights"].items():
                ax.scatter(eig.real, eig.imag, s=6, alpha=0.6, label=block)
            ax.plot(np.cos(theta), np.sin(theta), "k--", lw=0.8)
            ax.set(title=f"W_hh eigenvalues ({label}; descriptive)", xlabel="Re λ",
                   ylabel="Im λ", aspect="equal")
            ax.legend(fontsize=6, markerscale=2)
        figs["weight_spectrum"] = fig
        fig, axes = _figure(len(rec))
        for ax, label in zip(axes, rec):
            eig = results[label]["jacobians"]["eigenvalues"].ravel()
            eig = eig[np.isfinite(eig)]
            ax.scatter(eig.real, eig.imag, s=3, alpha=0.3, color="C3")
            ax.plot(np.cos(theta), np.sin(theta), "k--", lw=0.8)
            ax.set(title=f"Jacobian ∂s_t/∂s_t-1 eigenvalues ({label}, pooled)",
                   xlabel="Re λ", ylabel="Im λ", aspect="equal")
        figs["jacobian_spectrum"] = fig
        fig, (ax,) = _figure(1, 5.5)
        for i, label in enumerate(rec):
            sv = results[label]["jacobians"]["singular_values"]
            ax.plot(np.nanmean(sv.reshape(-1, sv.shape[-1]), 0), color=f"C{i}",
                    label=f"Jacobian, {label} (mean over t, seq)")
            for j, (block, (_, wsv)) in enumerate(results[label]["weights"].items()):
                ax.plot(wsv, color=f"C{i}", ls=":", lw=0.8,
                        label=f"W_hh {label}" if j == 0 else None)
        ax.axhline(1, color="k", lw=0.5)
        ax.set(title="singular values, descending", xlabel="index", ylabel="σ", yscale="log")
        ax.legend(fontsize=7)
        figs["singular_values"] = fig
        fig, (ax,) = _figure(1, 5.5)
        for i, label in enumerate(rec):
            ly = results[label]["lyapunov"]
            ax.plot(np.arange(1, len(ly) + 1), ly, "o-", ms=3, color=f"C{i}", label=label)
        ax.axhline(0, color="k", lw=0.5)
        ax.set(title="Lyapunov exponents (driven, per step)", xlabel="i", ylabel="λ_i (ln)")
        ax.legend(fontsize=7)
        figs["lyapunov"] = fig
    if results:
        fig, (ax,) = _figure(1, 5.5)
        for i, (label, r) in enumerate(results.items()):
            c = r["curve"][r["curve"]["lag"] > 0]
            what = "‖∂L/∂s_t‖" if "weights" in r else "‖∂L/∂x_t‖"
            ax.plot(c["lag"], c["grad_norm"], color=f"C{i}", label=f"{what}, {label}")
            if np.isfinite(c["jacobian_norm"]).any():
                ax.plot(c["lag"], c["jacobian_norm"], color=f"C{i}", ls="--",
                        label=f"‖∂s_T/∂s_t‖₂, {label}")
        ax.set(title="gradient decay", xlabel="lag T − t", ylabel="norm", yscale="log")
        ax.legend(fontsize=7)
        figs["gradient_decay"] = fig
    return figs


def write_figures(results: dict[str, dict], out_dir) -> list[Path]:
    """``figures`` saved as PNG and PDF under ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures(results).items():
        for ext in ("png", "pdf"):
            paths.append(record.replace_atomic(
                out_dir / f"{name}.{ext}",
                lambda tmp, ext=ext: fig.savefig(tmp, format=ext, dpi=150)))
    return paths


def text(summaries: dict[str, dict]) -> str:
    """A one-screen table: one column per label (e.g. init, end), one row per number."""
    keys = []
    for s in summaries.values():
        keys += [k for k in s if k not in keys]
    head = f"{'':<24}" + "".join(f"{label:>14}" for label in summaries)
    rows = [head]
    for k in keys:
        cells = []
        for s in summaries.values():
            v = s.get(k)
            cells.append(f"{v:>14.4g}" if isinstance(v, (int, float)) else f"{str(v or '-'):>14}")
        rows.append(f"{k:<24}" + "".join(cells))
    return "\n".join(rows)
