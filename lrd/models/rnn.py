"""The vanilla RNN (Elman): h_t = φ(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), y_t = W_o h_t + b_o.

``nonlinearity``: ``tanh`` (default), ``relu`` (with ``init="identity"`` this is the IRNN of
Le et al. 2015), or ``linear`` (φ = identity, for analysis: its Jacobian is W_hh exactly).

Fast path on CPU: lrd's RNN kernel (lrd/models/kernels.py, φ = tanh, relu or identity), measured
faster than the fused ``nn.RNN`` (results/bench/fast_path.csv); on CUDA the fused ``nn.RNN``
for tanh and relu. ``linear`` has no torch kernel: on CUDA its fast path is the explicit loop
(the weights still live in an nn.RNN so the names are the same).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from lrd.models.base import Look
from lrd.models.kernels import rnn_layer
from lrd.models.recurrent import Recurrent, check_choice

NONLINEARITIES = ("tanh", "relu", "linear")


class RNN(Recurrent):
    name = "rnn"
    looks = {"rnn-tanh": Look("RNN (tanh)", "#0072B2", "o"),        # blue
             "rnn-relu": Look("RNN (ReLU)", "#56B4E9", "v"),        # sky blue
             "rnn-linear": Look("RNN (linear)", "#999999", "x")}    # grey
    variants = {f"rnn-{nl}": {"nonlinearity": nl} for nl in NONLINEARITIES}
    weights_are_dynamics = True   # J_t = diag φ'(·) W_hh
    cpu_path = "kernel"   # measured: results/bench/fast_path.csv
    state_names = ("h",)
    gate_names = ("hh",)

    def __init__(self, task, hidden_size: int = 128, num_layers: int = 1, dropout: float = 0.0,
                 init: str = "default", init_gain: float = 1.0, nonlinearity: str = "tanh"):
        super().__init__(task, hidden_size, num_layers, dropout)
        check_choice(self.name, "nonlinearity", nonlinearity, NONLINEARITIES)
        self.nonlinearity = nonlinearity
        self.fused = nonlinearity != "linear"
        self.core = self.make_core(nn.RNN, nonlinearity="tanh" if nonlinearity == "linear"
                                   else nonlinearity)
        self.init_weights(init, init_gain)

    def layer_kernel(self, k, x, s):
        phi = "identity" if self.nonlinearity == "linear" else self.nonlinearity
        hs = rnn_layer(x, s[0], *self.layer_weights(k), phi=phi)
        return hs, (hs[-1],)

    def layer_cell(self, k, x, s):
        w_ih, w_hh, b_ih, b_hh = self.layer_weights(k)
        pre = F.linear(x, w_ih, b_ih) + F.linear(s[0], w_hh, b_hh)
        if self.nonlinearity == "tanh":
            return (torch.tanh(pre),)
        if self.nonlinearity == "relu":
            return (torch.relu(pre),)
        return (pre,)

    def extra_repr(self):
        return f"{super().extra_repr()}, nonlinearity={self.nonlinearity}"
