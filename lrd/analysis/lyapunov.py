"""Lyapunov exponents of a driven recurrent model, by repeated QR (Benettin et al. 1980).

Along the trajectory s_t of ``inputs`` from the zero state, a frame Q (D×k, orthonormal
columns, k = ``n_exponents``) is pushed through the full-state Jacobians and re-orthonormalised
every step: J_t Q_{t-1} = Q_t R_t. The exponents are

    λ_i = 1/(L − w) · Σ_{t=w+1..L} ln |R_t[i, i]|        (natural log per step)

Warm-up: for the first w = ``warmup`` steps (default L // 4) the state and the frame are both
evolved but nothing is accumulated, so the transient out of the zero state and the alignment of
the arbitrary initial frame (Q_0 = the first k unit vectors) are not counted. With a driven
system and finite L these are finite-time exponents of the task's input process; each sequence
gives one estimate and the returned exponents are their mean over the batch.

Exact identities (tested): for a constant linear map A with k = D, Σ_i ln|R_t[i, i]| =
ln|det(A Q_{t-1})| = ln|det A| every step, so Σ λ_i = ln|det A| to round-off; for A = a·Q
(orthogonal Q), every |R_t[i, i]| = a, so every λ_i = ln a exactly; and for general constant A
the λ_i converge to ln|μ_i| (μ the eigenvalues of A) at rate O(1/(L − w)).

The frame products are forward-mode JVPs (k tangents at once, torch.func); the QR runs in
float64 whatever the model's dtype.
"""

from __future__ import annotations

import numpy as np
import torch

from lrd.analysis.jacobians import jvps, require_recurrent, state_size, trajectory
from lrd.errors import ConfigError


@torch.no_grad()
def lyapunov(model, inputs: torch.Tensor, n_exponents: int | None = None,
             warmup: int | None = None) -> np.ndarray:
    """The top ``n_exponents`` (default all D) Lyapunov exponents of ``model`` driven by
    ``inputs`` ([B, L, input_size] or [L, input_size]), natural log per step, in descending
    order, as a float64 NumPy array (see the module docstring)."""
    require_recurrent(model, "Lyapunov exponents")
    if inputs.dim() == 2:
        inputs = inputs.unsqueeze(0)
    B, L = inputs.shape[:2]
    D = state_size(model)
    k = D if n_exponents is None else n_exponents
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= D:
        raise ConfigError(f"n_exponents must be an integer in 1..{D} (the state size), got {k!r}")
    w = L // 4 if warmup is None else warmup
    if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w < L:
        raise ConfigError(f"warmup must be an integer in 0..{L - 1} (L = {L} steps), got {w!r}")
    traj = trajectory(model, inputs)
    Q = torch.eye(D, k, dtype=torch.float64, device=inputs.device).expand(B, D, k)
    sums = torch.zeros(B, k, dtype=torch.float64, device=inputs.device)
    for t in range(L):  # the step into s_{t+1}, at (x = inputs[:, t], s_t)
        JQ = jvps(model, inputs[:, t], traj[:, t], Q.permute(2, 0, 1).to(traj.dtype))
        Q, R = torch.linalg.qr(JQ.permute(1, 2, 0).double())
        if t >= w:
            sums += torch.log(torch.diagonal(R, dim1=-2, dim2=-1).abs())
    exps = (sums / (L - w)).mean(0).cpu().numpy()
    return np.sort(exps)[::-1].copy()
