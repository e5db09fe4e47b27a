"""The LSTM (Hochreiter & Schmidhuber 1997, with forget gate, Gers et al. 2000), torch's form::

    i, f, g, o = σ(·), σ(·), tanh(·), σ(·) of  W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    c_t = f ⊙ c_{t-1} + i ⊙ g,   h_t = o ⊙ tanh(c_t),   y_t = W_o h_t + b_o

State ``(h, c)``. ``forget_bias=b`` sets the forget-gate bias to b (Gers et al. 2000;
Jozefowicz et al. 2015 recommend 1); ``chrono=T_max`` is the chrono initialisation (Tallec &
Ollivier 2018): b_f ~ log U[1, T_max-1], b_i = -b_f. Both act after ``init`` (lrd/models/init.py).

Fast path: the fused ``nn.LSTM`` on every device: on CPU its oneDNN kernel measured about 2x
faster than lrd's LSTM kernel (results/bench/fast_path.csv, benchmarks/README.md), which the
tests keep equal to it (``cpu_path = "kernel"`` selects it).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from lrd.models.base import Look
from lrd.models.kernels import lstm_layer
from lrd.models.recurrent import Recurrent


class LSTM(Recurrent):
    name = "lstm"
    looks = {"lstm": Look("LSTM", "#D55E00", "s")}   # vermilion
    has_forget_gate = True
    cpu_path = "module"   # measured: results/bench/fast_path.csv
    state_names = ("h", "c")
    gate_names = ("i", "f", "g", "o")

    def __init__(self, task, hidden_size: int = 128, num_layers: int = 1, dropout: float = 0.0,
                 init: str = "default", init_gain: float = 1.0,
                 forget_bias: Optional[float] = None, chrono: Optional[int] = None):
        super().__init__(task, hidden_size, num_layers, dropout)
        self.core = self.make_core(nn.LSTM)
        self.init_weights(init, init_gain, forget_bias=forget_bias, chrono=chrono)

    def layer_kernel(self, k, x, s):
        hs, c = lstm_layer(x, *s, *self.layer_weights(k))
        return hs, (hs[-1], c)

    def layer_cell(self, k, x, s):
        w_ih, w_hh, b_ih, b_hh = self.layer_weights(k)
        h, c = s
        i, f, g, o = (F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)).chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
