"""The GRU (Cho et al. 2014), torch's form (the reset gate applied after W_hn)::

    r = σ(W_ir x + b_ir + W_hr h + b_hr),   z = σ(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),   h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

Fast path on CPU: lrd's GRU kernel (lrd/models/kernels.py), measured faster than the fused
``nn.GRU`` (results/bench/fast_path.csv, benchmarks/README.md); on CUDA the fused ``nn.GRU``.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from lrd.models.base import Look
from lrd.models.kernels import gru_layer
from lrd.models.recurrent import Recurrent


class GRU(Recurrent):
    name = "gru"
    looks = {"gru": Look("GRU", "#009E73", "D")}   # green
    cpu_path = "kernel"   # measured: results/bench/fast_path.csv
    state_names = ("h",)
    gate_names = ("r", "z", "n")

    def __init__(self, task, hidden_size: int = 128, num_layers: int = 1, dropout: float = 0.0,
                 init: str = "default", init_gain: float = 1.0):
        super().__init__(task, hidden_size, num_layers, dropout)
        self.core = self.make_core(nn.GRU)
        self.init_weights(init, init_gain)

    def layer_kernel(self, k, x, s):
        hs = gru_layer(x, s[0], *self.layer_weights(k))
        return hs, (hs[-1],)

    def layer_cell(self, k, x, s):
        w_ih, w_hh, b_ih, b_hh = self.layer_weights(k)
        h = s[0]
        xr, xz, xn = F.linear(x, w_ih, b_ih).chunk(3, -1)
        hr, hz, hn = F.linear(h, w_hh, b_hh).chunk(3, -1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return ((1 - z) * n + z * h,)
