"""Initialisations of the recurrent weights (SPEC §3). Public API::

    lrd.models.init.apply(model, scheme, gain=1.0, forget_bias=None, chrono=None)
    lrd.models.init.SCHEMES

Every model calls ``apply`` at the end of its constructor with its ``init``, ``init_gain`` (and,
for the LSTM, ``forget_bias`` and ``chrono``) parameters; bad values raise ConfigError.

Recurrent models (rnn, lstm, gru). A scheme acts on the recurrent matrix W_hh of every layer;
for the LSTM (4 gates i, f, g, o) and GRU (3 gates r, z, n) each H×H gate block of
``weight_hh_l{k}`` is initialised separately, so every block has the spectrum stated below.
The input weights W_ih and the biases keep PyTorch's default U(-1/√H, 1/√H), except under
``identity``, which zeroes every bias. ``gain`` g multiplies W_hh for every scheme, so the
spectrum scales by g; ``gaussian`` is parametrised by g directly (std g/√H). Spectra below are
for g = 1 and large H (circular law: an H×H matrix of i.i.d. entries of variance s²/H has its
eigenvalues uniform in the disk of radius s, and its largest singular value → 2s).

The attention model accepts only ``default`` and ``xavier`` (on all its linear weights; the
recurrent schemes have no meaning there), with ``gain`` multiplying those weights.

Randomness comes from torch's global generator, so ``torch.manual_seed(s)`` before building a
model fixes its initial weights.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn as nn

from lrd.errors import ConfigError


@torch.no_grad()
def default(w: torch.Tensor, gain: float) -> None:
    """PyTorch's own: U(-1/√H, 1/√H) (already drawn by the module), times g.

    Spectrum: entry variance 1/(3H), so eigenvalues ~ uniform in the disk of radius
    1/√3 ≈ 0.577 (circular law), σ_max → 2/√3 ≈ 1.155. Gradients vanish: |λ| < 1.
    """
    w.mul_(gain)


@torch.no_grad()
def xavier(w: torch.Tensor, gain: float) -> None:
    """Glorot uniform on an H×H block: U(-b, b), b = g·√(6/(H+H)) = g·√(3/H).

    Spectrum: entry variance b²/3 = g²/H, so eigenvalues ~ uniform in the disk of radius g
    (radius 1 at g = 1: the edge of stability), σ_max → 2g.
    """
    nn.init.xavier_uniform_(w, gain=gain)


@torch.no_grad()
def orthogonal(w: torch.Tensor, gain: float) -> None:
    """A uniformly random orthogonal matrix (QR of a Gaussian), times g.

    Spectrum: all |λ| = g (eigenvalues on the circle of radius g) and all σ = g; at g = 1 the
    linear map preserves norms exactly, so W_hh alone neither explodes nor vanishes.
    """
    nn.init.orthogonal_(w, gain=gain)


@torch.no_grad()
def identity(w: torch.Tensor, gain: float) -> None:
    """The IRNN of Le et al. (2015): W_hh = g·I (and ``apply`` zeroes every bias).

    Spectrum: every λ = g and every σ = g (at g = 1 a ReLU RNN starts by copying its state).
    """
    w.copy_(gain * torch.eye(w.shape[0], dtype=w.dtype, device=w.device))


@torch.no_grad()
def gaussian(w: torch.Tensor, gain: float) -> None:
    """Entries N(0, g²/H).

    Spectrum: eigenvalues ~ uniform in the disk of radius g (circular law), σ_max → 2g;
    g < 1 vanishing, g > 1 exploding (for a linear RNN), g = 1 critical.
    """
    nn.init.normal_(w, mean=0.0, std=gain / math.sqrt(w.shape[1]))


SCHEMES = {"default": default, "xavier": xavier, "orthogonal": orthogonal,
           "identity": identity, "gaussian": gaussian}


def apply(model: nn.Module, scheme: str = "default", gain: float = 1.0,
          forget_bias: Optional[float] = None, chrono: Optional[int] = None) -> None:
    """Initialise ``model`` in place with ``scheme`` (see the module docstring).

    ``model.name`` names it in messages; ``model.inits`` (if set) lists the schemes it accepts.
    A recurrent model has ``core`` (an nn.RNN / nn.LSTM / nn.GRU) and ``gate_names`` (the
    blocks of W_hh). ``forget_bias`` and ``chrono`` apply to a model whose class has
    ``has_forget_gate`` (the LSTM), after the scheme.
    """
    name = getattr(model, "name", type(model).__name__)
    if scheme not in SCHEMES:
        raise ConfigError(f"{name}: unknown init '{scheme}'; available: {', '.join(SCHEMES)}")
    allowed = getattr(model, "inits", None) or tuple(SCHEMES)
    if scheme not in allowed:
        raise ConfigError(f"{name}: init '{scheme}' does not apply to this model; "
                          f"{name} allows: {', '.join(allowed)}")
    if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not gain > 0 \
            or not math.isfinite(gain):
        raise ConfigError(f"{name}: init_gain must be a finite number > 0, got {gain!r}")
    if (forget_bias is not None or chrono is not None) \
            and not getattr(model, "has_forget_gate", False):
        raise ConfigError(f"{name}: forget_bias and chrono apply only to a model with a forget "
                          f"gate ({', '.join(forget_gated())})")
    if forget_bias is not None and chrono is not None:
        raise ConfigError(f"{name}: give forget_bias or chrono, not both "
                          "(chrono sets the forget-gate bias itself)")
    if forget_bias is not None and (isinstance(forget_bias, bool) or
                                    not isinstance(forget_bias, (int, float)) or
                                    not math.isfinite(forget_bias)):
        raise ConfigError(f"{name}: forget_bias must be a finite number, got {forget_bias!r}")
    if chrono is not None and (isinstance(chrono, bool) or not isinstance(chrono, int)
                               or chrono < 2):
        raise ConfigError(f"{name}: chrono (T_max) must be an integer >= 2, got {chrono!r}")

    if not hasattr(model, "core"):  # the attention model: every linear weight
        for m in model.modules():
            if isinstance(m, nn.Linear):
                SCHEMES[scheme](m.weight, gain)
                if scheme == "xavier" and m.bias is not None:
                    nn.init.zeros_(m.bias)
        return

    for w_hh in model.recurrent_weights():
        for block in w_hh.data.chunk(len(model.gate_names), 0):  # views: written in place
            SCHEMES[scheme](block, gain)
    biases = [p for n, p in model.core.named_parameters() if n.startswith("bias")]
    if scheme == "identity":
        for b in biases:
            nn.init.zeros_(b)
    if forget_bias is not None:
        set_forget_bias(model, lambda H: torch.full((H,), float(forget_bias)))
    if chrono is not None:
        set_forget_bias(model, lambda H: torch.log(torch.empty(H).uniform_(1, chrono - 1)),
                        input_gate=True)


def forget_gated() -> list[str]:
    """Names of the registered models with a forget gate."""
    from lrd.models import MODELS  # lrd.models imports this module
    return [n for n, cls in MODELS.items() if getattr(cls, "has_forget_gate", False)]


@torch.no_grad()
def set_forget_bias(model: nn.Module, draw, input_gate: bool = False) -> None:
    """Set every LSTM layer's effective forget-gate bias b_ih + b_hh to ``draw(H)``.

    The value goes in ``bias_ih``'s forget slice and 0 in ``bias_hh``'s, so the sum is exact.
    ``input_gate``: also set the input-gate bias to minus it (chrono, Tallec & Ollivier 2018:
    b_f = log U[1, T_max - 1], b_i = -b_f, giving forget-gate time constants up to ~T_max).
    """
    H = model.hidden_size
    f, i = (model.gate_names.index(g) for g in ("f", "i"))  # blocks of W_hh and of the biases
    f, i = slice(f * H, (f + 1) * H), slice(i * H, (i + 1) * H)
    for k in range(model.num_layers):
        b_ih, b_hh = getattr(model.core, f"bias_ih_l{k}"), getattr(model.core, f"bias_hh_l{k}")
        b = draw(H).to(b_ih)
        b_ih[f], b_hh[f] = b, 0.0
        if input_gate:
            b_ih[i], b_hh[i] = -b, 0.0
