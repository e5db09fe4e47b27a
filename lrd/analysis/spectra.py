"""Eigenvalues and singular values: of the recurrent weights, and of the state Jacobians.

Weights (descriptive only). ``weight_spectra(model)``: each H×H block of ``weight_hh`` of every
layer, named by the model's ``gate_names`` (one block, W_hh itself, for the RNN; i, f, g, o for
the LSTM and r, z, n for the GRU). For the
tanh/linear RNN, W_hh is what the linearised dynamics multiply by (times diag φ'); for the
gated models no single block is the state-to-state map, so these spectra only describe the
weights (what an init produced, how training moved it). Dynamics are judged by the Jacobians.

Jacobians. ``jacobian_spectra(model, inputs)``: the spectrum of J_t = ∂s_t/∂s_{t-1} of the
full state (lrd/analysis/jacobians.py: every layer, h and c), along the trajectories of the
task's own inputs, at ``n_steps`` state indices t evenly spaced over 1..L (rounded, unique; the
first is t = 1, the step out of the zero state, the last t = L) and on the first
``n_sequences`` sequences. Every (t, sequence) pair gives one Jacobian; its spectral radius
and σ_max are kept per pair (``radius``, ``sigma_max`` [n_t, n_seq]), and the summaries pool
them by the mean over all pairs. The eigenvalues of all pairs are pooled into one empirical
distribution for the figures.

Time constants: τ = −1/ln|λ| steps, the e-folding time of a mode that is multiplied by |λ|
each step: finite and positive for |λ| < 1, +inf at |λ| = 1, negative for |λ| > 1 (then |τ| is
an e-folding growth time), 0 at λ = 0.

Everything is computed in float64 (LAPACK geev / gesdd through torch.linalg, so that NumPy's
BLAS threads never compete with torch's), and returned as NumPy arrays.
"""

from __future__ import annotations

import numpy as np
import torch

from lrd.analysis.jacobians import require_recurrent, state_jacobians

def _array(matrix) -> np.ndarray:
    if isinstance(matrix, torch.Tensor):
        matrix = matrix.detach().cpu().double().numpy()
    a = np.asarray(matrix, dtype=np.complex128 if np.iscomplexobj(matrix) else np.float64)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"spectrum needs square matrices [..., n, n], got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("spectrum of a matrix with non-finite entries")
    return a


def spectrum(matrix):
    """``(eigenvalues, singular_values)`` of a square matrix (or a stack [..., n, n]) as NumPy
    arrays in float64: eigenvalues complex, sorted by descending modulus; singular values
    sorted descending. Non-finite entries raise ValueError."""
    a = torch.from_numpy(_array(matrix))  # torch's LAPACK: no second BLAS thread pool
    eig = torch.linalg.eigvals(a).numpy()
    order = np.argsort(-np.abs(eig), axis=-1, kind="stable")
    eig = np.take_along_axis(eig, order, -1)
    return eig.astype(np.complex128), torch.linalg.svdvals(a).numpy()


def time_constants(eigenvalues) -> np.ndarray:
    """τ = −1/ln|λ| per eigenvalue (see the module docstring for the signs and limits)."""
    with np.errstate(divide="ignore"):
        log = np.log(np.abs(np.asarray(eigenvalues)))  # ln 0 = -inf gives τ = 0
        return np.where(log == 0, np.inf, -1.0 / np.where(log == 0, 1.0, log))


def weight_spectra(model) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{label: (eigenvalues, singular_values)}`` of every W_hh block (descriptive only):
    labels ``l{k}`` for a model with one block (the RNN), else ``l{k}.{gate}`` with the
    model's ``gate_names``."""
    require_recurrent(model, "weight spectra")
    gates = model.gate_names
    out = {}
    for k, w in enumerate(model.recurrent_weights()):
        for gate, block in zip(gates, w.detach().chunk(len(gates), 0)):
            out[f"l{k}" if len(gates) == 1 else f"l{k}.{gate}"] = spectrum(block)
    return out


def sample_steps(length: int, n_steps: int) -> np.ndarray:
    """``n_steps`` state indices evenly spaced over 1..length (rounded, unique)."""
    return np.unique(np.linspace(1, length, max(1, min(n_steps, length))).round().astype(int))


def jacobian_spectra(model, inputs: torch.Tensor, n_steps: int = 8, n_sequences: int = 8):
    """Spectra of the state Jacobians along ``inputs`` [B, L, in] (module docstring):
    a dict with ``steps`` [n_t], ``eigenvalues`` [n_t, n_seq, D] (complex, descending modulus),
    ``singular_values`` [n_t, n_seq, D], ``radius`` and ``sigma_max`` [n_t, n_seq], and
    ``finite`` [n_t, n_seq] (pairs whose Jacobian overflowed hold NaN)."""
    require_recurrent(model, "Jacobian spectra")
    inputs = inputs[:n_sequences]
    steps = sample_steps(inputs.shape[1], n_steps)
    J = state_jacobians(model, inputs, steps).detach().cpu().double().numpy()
    finite = np.isfinite(J).all(axis=(-1, -2))
    eig = np.full(J.shape[:-1], np.nan, dtype=np.complex128)
    sv = np.full(J.shape[:-1], np.nan)
    if finite.any():
        eig[finite], sv[finite] = spectrum(J[finite])
    return {"steps": steps, "eigenvalues": eig, "singular_values": sv,
            "radius": np.abs(eig[..., 0]), "sigma_max": sv[..., 0], "finite": finite}
