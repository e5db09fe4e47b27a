"""What every recurrent model (rnn, lstm, gru) shares: one set of weights, two paths.

The weights live in ``self.core``, a torch nn.RNN / nn.LSTM / nn.GRU (batch_first), with its
standard ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``, and the
output head ``self.head = nn.Linear(hidden_size, output_size)`` reads the top layer's h.
A state is a tuple of tensors ``[num_layers, B, H]``: ``(h,)`` or ``(h, c)`` (``state_names``).

  fast path       ``forward(inputs)`` and ``run(inputs, state)``: on CPU, the path named by
                  the model's ``cpu_path``, chosen by measurement (results/bench/fast_path.csv,
                  benchmarks/README.md): ``"kernel"``, the hand-written-backward layers of
                  lrd/models/kernels.py (``run_kernel``), or ``"module"``, the fused torch
                  module ``core``; on any other device (CUDA: cuDNN), and under CPU autocast
                  (bf16-mixed: the kernels compute in one dtype), always the torch module.
                  Exact and differentiable in the inputs and the initial state.
  explicit path   ``cell(x_t, state)``: one step of every layer written out (F.linear + gate
                  math; ``layer_cell`` in each model), for Jacobians with autograd/torch.func;
                  ``step`` = cell + head; ``steps(inputs, state)`` loops over t and returns
                  every state h_t (and c_t).

Both paths give the same numbers to float32 round-off (tests/test_models.py). Dropout between
layers (``dropout``: on each layer's output except the last, training mode only, as nn.RNN
does) is applied on both paths; with one layer it has no effect.
"""

from __future__ import annotations

from typing import ClassVar, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

import lrd.models.init
from lrd.models.base import Model
from lrd.errors import ConfigError
from lrd.tasks.base import check_int

State = tuple  # tuple of tensors [num_layers, B, H]


def check_common(name: str, hidden_size, num_layers, dropout) -> None:
    """Validate the parameters every model shares; raise ConfigError naming the bad one."""
    check_int(name, "hidden_size", hidden_size, 1)
    check_int(name, "num_layers", num_layers, 1)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
            or not 0 <= dropout < 1:
        raise ConfigError(f"{name}: dropout must be a number in [0, 1), got {dropout!r}")


def check_choice(name: str, key: str, value, allowed) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}: {key} must be one of {', '.join(allowed)}, got {value!r}")


class Recurrent(Model):
    """Base class; subclasses set the class attributes (these and ``Model``'s), build ``core``
    and write ``layer_cell``. ``task`` is anything with ``input_size`` and ``output_size``."""

    state_names: ClassVar[tuple[str, ...]]
    gate_names: ClassVar[tuple[str, ...]]  # the H×H blocks stacked in weight_hh, in torch's order
    gates: ClassVar[int]          # len(gate_names), set for each subclass
    fused: ClassVar[bool] = True  # False: no torch kernel, ``run`` is the explicit loop
    # The fast path on CPU, chosen by measurement (benchmarks/fast_path.py, recorded in
    # results/bench/fast_path.csv): "kernel" = the hand-written-backward layers of
    # lrd/models/kernels.py, "module" = the torch module (``core``). On any other device
    # (CUDA: cuDNN) ``run`` always calls the torch module.
    cpu_path: ClassVar[str] = "module"

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "gate_names" in vars(cls):
            cls.gates = len(cls.gate_names)

    def __init__(self, task, hidden_size: int, num_layers: int, dropout: float):
        super().__init__()
        check_common(self.name, hidden_size, num_layers, dropout)
        self.input_size = task.input_size
        self.output_size = task.output_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = float(dropout)
        self.head = nn.Linear(hidden_size, self.output_size)

    def make_core(self, module: type, **kw) -> nn.Module:
        # nn.RNN warns about dropout with one layer, where it does nothing anyway
        return module(self.input_size, self.hidden_size, self.num_layers, batch_first=True,
                      dropout=self.dropout if self.num_layers > 1 else 0.0, **kw)

    def init_weights(self, init: str, init_gain: float, **kw) -> None:
        lrd.models.init.apply(self, init, init_gain, **kw)

    # -- state ------------------------------------------------------------------------------
    def initial_state(self, batch_size: int, device=None) -> State:
        """Zeros, a tuple of ``[num_layers, B, H]`` tensors (one per ``state_names``)."""
        p = self.head.weight
        return tuple(torch.zeros(self.num_layers, batch_size, self.hidden_size, dtype=p.dtype,
                                 device=p.device if device is None else device)
                     for _ in self.state_names)

    def recurrent_weights(self) -> list[torch.Tensor]:
        """W_hh of every layer (for LSTM/GRU the gate blocks stacked: [gates·H, H])."""
        return [getattr(self.core, f"weight_hh_l{k}") for k in range(self.num_layers)]

    def layer_weights(self, k: int) -> tuple[torch.Tensor, ...]:
        c = self.core
        return (getattr(c, f"weight_ih_l{k}"), getattr(c, f"weight_hh_l{k}"),
                getattr(c, f"bias_ih_l{k}"), getattr(c, f"bias_hh_l{k}"))

    # -- fast path --------------------------------------------------------------------------
    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """inputs [B, L, input_size] -> outputs [B, L, output_size], from the zero state."""
        return self.run(inputs)[0]

    def run(self, inputs: torch.Tensor, state: Optional[State] = None):
        """The fast path from ``state`` (zeros if None): ``(outputs [B,L,O], final_state)``."""
        if state is None:
            state = self.initial_state(inputs.shape[0], inputs.device)
        has_kernel = type(self).layer_kernel is not Recurrent.layer_kernel
        # under CPU autocast (bf16-mixed) the torch module or the loop, which autocast
        # handles; the kernels compute in their inputs' one dtype
        if inputs.device.type == "cpu" and has_kernel and (self.cpu_path == "kernel"
                                                           or not self.fused) \
                and not torch.is_autocast_enabled("cpu"):
            return self.run_kernel(inputs, state)
        if not self.fused:
            return self.run_loop(inputs, state)
        hx = state[0] if len(state) == 1 else state
        top, final = self.core(inputs, hx)
        return self.head(top), (final,) if len(state) == 1 else tuple(final)

    def run_kernel(self, inputs: torch.Tensor, state: State):
        """Layer by layer through ``layer_kernel`` (lrd/models/kernels.py), time-major inside;
        dropout on each layer's output but the last, in training mode, as nn.RNN does."""
        x, finals = inputs.transpose(0, 1).contiguous(), []
        for k in range(self.num_layers):
            if k > 0:
                x = F.dropout(x, self.dropout, self.training)
            hs, final = self.layer_kernel(k, x, tuple(t[k] for t in state))
            finals.append(final)
            x = hs
        return self.head(x).transpose(0, 1), tuple(torch.stack(f) for f in zip(*finals))

    def layer_kernel(self, k: int, x: torch.Tensor, s: tuple):
        """Layer ``k`` over a time-major x [L, B, in] from the state tuple s of [B, H]:
        ``(hs [L, B, H], final state tuple)``."""
        raise NotImplementedError

    def run_loop(self, inputs: torch.Tensor, state: State):
        """Layer by layer, the whole sequence at a time (as torch's kernels do)."""
        x, finals = inputs, []
        for k in range(self.num_layers):
            if k > 0:
                x = F.dropout(x, self.dropout, self.training)
            s, hs = tuple(t[k] for t in state), []
            for x_t in x.unbind(1):
                s = self.layer_cell(k, x_t, s)
                hs.append(s[0])
            x = torch.stack(hs, 1)
            finals.append(s)
        return self.head(x), tuple(torch.stack(f) for f in zip(*finals))

    # -- explicit path ----------------------------------------------------------------------
    def layer_cell(self, k: int, x: torch.Tensor, s: tuple) -> tuple:
        """One step of layer ``k``: input [B, in], state tuple of [B, H] -> new state tuple."""
        raise NotImplementedError

    def cell(self, x_t: torch.Tensor, state: State) -> State:
        """One explicit step of every layer: x_t [B, input_size] -> the new state (no head)."""
        new, x = [], x_t
        for k in range(self.num_layers):
            if k > 0:
                x = F.dropout(x, self.dropout, self.training)
            s = self.layer_cell(k, x, tuple(t[k] for t in state))
            new.append(s)
            x = s[0]
        return tuple(torch.stack(t) for t in zip(*new))

    def step(self, x_t: torch.Tensor, state: State):
        """``cell`` then the head on the top layer's h: ``(output_t [B, O], new_state)``."""
        state = self.cell(x_t, state)
        return self.head(state[0][-1]), state

    def steps(self, inputs: torch.Tensor, state: Optional[State] = None):
        """The explicit path: ``(outputs [B,L,O], states)``, ``states`` a tuple like the state
        with each tensor ``[B, L, num_layers, H]``: the state after each step t."""
        if state is None:
            state = self.initial_state(inputs.shape[0], inputs.device)
        seq = []
        for x_t in inputs.unbind(1):
            state = self.cell(x_t, state)
            seq.append(state)
        states = tuple(torch.stack(t, 0).permute(2, 0, 1, 3) for t in zip(*seq))
        return self.head(states[0][:, :, -1]), states

    def extra_repr(self) -> str:
        return f"hidden_size={self.hidden_size}, num_layers={self.num_layers}"

