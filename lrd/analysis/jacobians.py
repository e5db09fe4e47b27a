"""The full state of a recurrent model and its step-to-step Jacobians, with torch.func.

Full state. A model's state is a tuple (``state_names``: ("h",) or ("h", "c")) of
``[num_layers, B, H]`` tensors. Analysis works on its flat form ``s`` [B, D],
D = len(state_names)·num_layers·H, ordered (name, layer, unit): for a 2-layer LSTM
s = (h_l0, h_l1, c_l0, c_l1). Every Jacobian here is of the full state, J_t = ∂s_t/∂s_{t-1}
[D, D]: the map that carries a perturbation of the whole state (every layer, h and c) one step.

Time. s_0 is the initial state (zeros), s_t the state after reading ``inputs[:, t-1]``
(t = 1..L); so J_t is taken at (x_t = inputs[:, t-1], s_{t-1}).

Everything runs in eval mode (no dropout) and in the model's dtype (the tests use float64).
Jacobians are built column by column with forward-mode AD (``torch.func.jvp``, vmapped over
the D unit tangents and batched over sequences and steps), so one call costs about D batched
forward steps and never loops in Python over sequences.
"""

from __future__ import annotations

import contextlib

import torch
from torch.func import jvp, vjp, vmap

from lrd.errors import ConfigError


def is_recurrent(model) -> bool:
    return hasattr(model, "cell") and hasattr(model, "state_names")


def require_recurrent(model, what: str) -> None:
    if not is_recurrent(model):
        raise ConfigError(f"{what} needs a recurrent model (one with a state); "
                          f"'{getattr(model, 'name', type(model).__name__)}' has none")


@contextlib.contextmanager
def eval_mode(model):
    """Eval mode (no dropout) inside, the previous mode restored after."""
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)


def state_size(model) -> int:
    return len(model.state_names) * model.num_layers * model.hidden_size


def flatten(state) -> torch.Tensor:
    """A state tuple of ``[num_layers, B, H]`` tensors -> ``[B, D]``, ordered (name, layer,
    unit)."""
    return torch.cat([s.permute(1, 0, 2).reshape(s.shape[1], -1) for s in state], -1)


def unflatten(model, flat: torch.Tensor) -> tuple:
    """``[B, D]`` -> the state tuple of ``[num_layers, B, H]`` tensors (inverse of flatten)."""
    parts = flat.reshape(flat.shape[0], len(model.state_names), model.num_layers,
                         model.hidden_size)
    return tuple(parts[:, i].permute(1, 0, 2) for i in range(len(model.state_names)))


def top_h(model, flat: torch.Tensor) -> torch.Tensor:
    """The top layer's h (what the head reads) from a flat state ``[..., D]``."""
    H, k = model.hidden_size, model.num_layers - 1
    return flat[..., k * H:(k + 1) * H]


def step_fn(model):
    """f(x [N, in], s [N, D]) -> s' [N, D]: one explicit step of every layer on flat states."""
    def f(x, s):
        return flatten(model.cell(x, unflatten(model, s)))
    return f


def model_inputs(model, task, batch, regime=None) -> torch.Tensor:
    """What the model reads on ``batch`` under the run's ``regime`` (``Regime.model_batch``:
    the task's inputs, or under ``teacher_forcing`` the inputs with the true previous targets
    beside them); without a regime, ``batch.inputs`` as given. ConfigError if that is not the
    width the model reads (a teacher-forcing model analysed without its regime)."""
    x = batch.inputs if regime is None else regime.model_batch(task, batch).inputs
    width = getattr(model, "input_size", x.shape[-1])
    if width != x.shape[-1]:
        raise ConfigError(f"model reads inputs of size {width}; task '{task.name}' gives "
                          f"{x.shape[-1]}" + ("" if regime is not None else
                                             " (pass the run's regime=)"))
    return x


@torch.no_grad()
def trajectory(model, inputs: torch.Tensor) -> torch.Tensor:
    """The flat states s_0..s_L along ``inputs`` [B, L, in], from zeros: ``[B, L+1, D]``."""
    require_recurrent(model, "a state trajectory")
    with eval_mode(model):
        _, states = model.steps(inputs)
    B, L = inputs.shape[:2]
    flat = torch.cat([s.reshape(B, L, -1) for s in states], -1)  # (name, layer, unit)
    return torch.cat([flat.new_zeros(B, 1, flat.shape[-1]), flat], 1)


def jvps(model, x: torch.Tensor, s: torch.Tensor, tangents: torch.Tensor) -> torch.Tensor:
    """J·v for k tangents at once: x [N, in], s [N, D], tangents [k, N, D] -> [k, N, D],
    with J the Jacobian ∂f(x, s)/∂s of each of the N (input, state) pairs."""
    f = step_fn(model)
    with eval_mode(model):
        return vmap(lambda v: jvp(lambda s_: f(x, s_), (s,), (v,))[1])(tangents)


def vjps(model, x: torch.Tensor, s: torch.Tensor, cotangents: torch.Tensor) -> torch.Tensor:
    """u·J for k cotangents at once: [k, N, D] -> [k, N, D] (rows of products, reverse mode)."""
    f = step_fn(model)
    with eval_mode(model):
        _, pullback = vjp(lambda s_: f(x, s_), s)
        return vmap(lambda u: pullback(u)[0])(cotangents)


def step_jacobians(model, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """J = ∂f(x, s)/∂s for N pairs: x [N, in], s [N, D] -> [N, D, D] (J[n, i, j] = ∂s'_i/∂s_j)."""
    N, D = s.shape
    eye = torch.eye(D, dtype=s.dtype, device=s.device)
    cols = jvps(model, x, s.detach(), eye[:, None, :].expand(D, N, D).contiguous())
    return cols.permute(1, 2, 0)


def state_jacobians(model, inputs: torch.Tensor, steps=None) -> torch.Tensor:
    """J_t = ∂s_t/∂s_{t-1} along the trajectory of ``inputs`` [B, L, in] from zeros, at the
    state indices ``steps`` (1..L; default all): ``[len(steps), B, D, D]``."""
    traj = trajectory(model, inputs)
    B, L = inputs.shape[:2]
    steps = list(range(1, L + 1)) if steps is None else [int(t) for t in steps]
    if not steps or min(steps) < 1 or max(steps) > L:
        raise ConfigError(f"steps must lie in 1..{L}, got {steps}")
    idx = torch.tensor(steps, device=inputs.device)
    x = inputs[:, idx - 1].transpose(0, 1).reshape(len(steps) * B, -1)
    s = traj[:, idx - 1].transpose(0, 1).reshape(len(steps) * B, -1)
    D = s.shape[-1]
    return step_jacobians(model, x, s).reshape(len(steps), B, D, D)
