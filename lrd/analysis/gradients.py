"""Gradient decay: how much the loss at the end still sees of the state at lag T−t.

``gradient_decay(model, task, batch)`` runs the explicit path over the batch (eval mode, from
the zero state, full BPTT whatever the training regime) and returns one row per state index
t = 0..T (T = L, the number of steps; s_0 is the initial state) with ``lag = T − t``:

  grad_norm       ‖∂L/∂s_t‖, L the task's loss on the whole batch (its own mean over sequences
                  and scored steps) and s_t the full state [B, D] of the batch (Frobenius norm;
                  for the LSTM s = (h, c), for stacked layers all layers). For tasks scored at
                  every step this mixes the direct loss at t with the carried-back part.
  jacobian_norm   ‖∂s_T/∂s_t‖₂, the spectral norm of the Jacobian product J_T···J_{t+1} of the
                  full state, per sequence, pooled over the first ``jacobian_sequences``
                  sequences by the geometric mean (the mean of ln‖·‖, the quantity whose slope
                  is a decay rate); ``jacobian_norm_min`` / ``_max`` give the spread. Lag 0 is
                  the identity, norm 1.

The products are accumulated backwards with batched vector-Jacobian products (D cotangents at
once, torch.func), one step at a time, so no step Jacobian is ever stored.

The attention model has no recurrent state: its rows hold ``grad_norm`` = ‖∂L/∂x_t‖ (the input
at t = 1..L, lag L − t) and ``jacobian_norm`` NaN.

``decay_rates(curve)`` fits ln(norm) = a + rate·lag by least squares on lag ranges: the rate is
in natural log per step (negative: decay), to be read beside ln ρ and ln σ_max of the per-step
map. For a linear RNN with normal W_hh, the Jacobian-product rate is ln ρ(W_hh) exactly; for a
tanh RNN, ‖∂s_T/∂s_t‖ ≤ σ_max(W_hh)^(T−t) (|tanh'| ≤ 1), so the rate is ≤ ln σ_max; at long
lags the Jacobian-product rate tends to the top Lyapunov exponent of the driven trajectory.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from lrd.analysis.jacobians import (eval_mode, is_recurrent, model_inputs, state_size, step_fn,
                                    top_h, trajectory, vjps)


def gradient_decay(model, task, batch, jacobian_sequences: int = 8,
                   regime=None) -> pd.DataFrame:
    """One row per lag: ``lag``, ``t``, ``grad_norm``, ``jacobian_norm`` (and
    ``jacobian_norm_min``, ``jacobian_norm_max``); see the module docstring. ``regime``: the
    run's, for a model that reads more than the task's inputs (``model_inputs``)."""
    inputs = model_inputs(model, task, batch, regime)
    if not is_recurrent(model):
        return _input_gradients(model, task, batch, inputs)
    L = inputs.shape[1]
    grads = _state_gradients(model, task, batch, inputs)
    jac = _jacobian_norms(model, inputs[:jacobian_sequences])  # [L+1, n] by t
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(jac)
        geo = np.exp(np.where(np.isfinite(logs).all(1), logs.mean(1), np.nan))
    t = np.arange(L + 1)
    df = pd.DataFrame({"lag": L - t, "t": t, "grad_norm": grads, "jacobian_norm": geo,
                       "jacobian_norm_min": jac.min(1), "jacobian_norm_max": jac.max(1)})
    return df.sort_values("lag", ignore_index=True)


def _state_gradients(model, task, batch, inputs) -> np.ndarray:
    f = step_fn(model)
    B, L = inputs.shape[:2]
    with eval_mode(model), torch.enable_grad():
        s = inputs.new_zeros(B, state_size(model)).requires_grad_()  # s_0 = zeros [B, D]
        states = [s]
        for t in range(L):
            s = f(inputs[:, t], s)
            states.append(s)
        outputs = model.head(top_h(model, torch.stack(states[1:], 1)))
        loss = task.loss(outputs, batch)
        grads = torch.autograd.grad(loss, states)
    return np.array([float(torch.linalg.vector_norm(g)) for g in grads])


@torch.no_grad()
def _jacobian_norms(model, inputs) -> np.ndarray:
    """‖∂s_L/∂s_t‖₂ per sequence for t = 0..L: ``[L+1, n]``."""
    traj = trajectory(model, inputs)
    n, L = inputs.shape[:2]
    D = traj.shape[-1]
    G = torch.eye(D, dtype=traj.dtype, device=traj.device).expand(n, D, D)  # ∂s_L/∂s_L
    norms = [torch.ones(n, dtype=torch.float64)]
    for t in range(L, 0, -1):  # G ← G·J_t: rows of G are cotangents of the step into s_t
        G = vjps(model, inputs[:, t - 1], traj[:, t - 1], G.transpose(0, 1)).transpose(0, 1)
        norms.append(_spectral_norms(G))
    return torch.stack(norms[::-1]).numpy()


def _spectral_norms(G: torch.Tensor) -> torch.Tensor:
    """‖G[i]‖₂ in float64; NaN for a matrix with non-finite entries (an overflowed product)."""
    G = G.double()
    ok = torch.isfinite(G).all(-1).all(-1)
    out = torch.full(G.shape[:1], float("nan"), dtype=torch.float64, device=G.device)
    if ok.any():  # ‖G‖₂² = λ_max(G Gᵀ): eigvalsh is ~3x faster than an SVD, same top value
        g = G[ok]
        out[ok] = torch.linalg.eigvalsh(g @ g.mT)[..., -1].clamp(min=0).sqrt()
    return out.cpu()


def _input_gradients(model, task, batch, inputs) -> pd.DataFrame:
    with eval_mode(model), torch.enable_grad():
        x = inputs.detach().clone().requires_grad_()
        (g,) = torch.autograd.grad(task.loss(model(x), batch), x)
    L = inputs.shape[1]
    t = np.arange(1, L + 1)
    norms = torch.linalg.vector_norm(g, dim=(0, 2)).double().cpu().numpy()
    nan = np.full(L, np.nan)
    df = pd.DataFrame({"lag": L - t, "t": t, "grad_norm": norms, "jacobian_norm": nan,
                       "jacobian_norm_min": nan, "jacobian_norm_max": nan})
    return df.sort_values("lag", ignore_index=True)


def default_ranges(max_lag: int) -> list[tuple[int, int]]:
    """Lags 1..max_lag in three equal thirds (early, middle, late), then all of 1..max_lag."""
    if max_lag < 6:
        return [(1, max_lag)] if max_lag >= 2 else []
    edges = np.linspace(1, max_lag, 4).round().astype(int)
    return [(int(edges[i]), int(edges[i + 1])) for i in range(3)] + [(1, max_lag)]


def decay_rates(curve: pd.DataFrame, columns=("grad_norm", "jacobian_norm"), ranges=None):
    """Least-squares slope of ln(column) against lag on each inclusive lag range: a DataFrame
    with ``quantity``, ``lag_lo``, ``lag_hi``, ``rate`` (natural log per step), ``points``.
    Non-finite or non-positive values are left out; a range with fewer than 2 points gets NaN."""
    ranges = default_ranges(int(curve["lag"].max())) if ranges is None else ranges
    rows = []
    for col in columns:
        for lo, hi in ranges:
            part = curve[(curve["lag"] >= lo) & (curve["lag"] <= hi)]
            y = part[col].to_numpy(dtype=float)
            ok = np.isfinite(y) & (y > 0)
            x, y = part["lag"].to_numpy(dtype=float)[ok], np.log(y[ok])
            rate = float(np.polyfit(x, y, 1)[0]) if len(x) >= 2 and np.ptp(x) > 0 else math.nan
            rows.append({"quantity": col, "lag_lo": lo, "lag_hi": hi, "rate": rate,
                         "points": int(ok.sum())})
    return pd.DataFrame(rows, columns=["quantity", "lag_lo", "lag_hi", "rate", "points"])
