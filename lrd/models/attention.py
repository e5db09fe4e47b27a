"""The causal-attention baseline: a small decoder-only transformer with ALiBi positions.

    x = W_in inputs                                    input projection, no position table
    x = x + Drop(Attn(LN(x)))   x = x + Drop(MLP(LN(x)))   per block (pre-LayerNorm)
    outputs = head(LN(x))

Attention is causal, through ``F.scaled_dot_product_attention(attn_mask=bias)``, with the ALiBi
bias of Press et al. (2022): head h adds -m_h·(i - j) to the score of query i on key j ≤ i
(-inf for j > i), slopes m_h = 2^(-8h/n) for n heads (the paper's recipe for n not a power of 2).

Why ALiBi: the headline experiment trains at short lengths and tests at lengths never seen in
training (SPEC §1, prefix_sum up to 5000). ALiBi has no learned or fixed position table that
can run out, its bias is computed on the fly for the actual length, and it was shown to
extrapolate beyond the training length; learned absolute positions cannot run past their table,
and sinusoidal and rotary (RoPE) encodings degrade beyond the trained length.

Memory: queries are processed in chunks of ``chunk`` (default 512) rows against the keys they
may see, so the bias is at most [heads, chunk, L] (expanded, not copied, over the batch), never
[L, L]. The 4-D mask lets torch use its fused (flash) CPU kernel, which never holds the
[B, heads, chunk, L] scores; with a 3-D mask, or dropout in training, it falls back to the math
kernel, which does, and then the chunking is what bounds memory. Peak memory and time per
``chunk``: benchmarks/README.md.

``init``: ``default`` (PyTorch's) or ``xavier`` (Glorot uniform on every linear weight, zero
biases); ``init_gain`` multiplies those weights. The recurrent schemes do not apply.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

import lrd.models.init
from lrd.models.base import Look, Model
from lrd.errors import ConfigError
from lrd.models.recurrent import check_common
from lrd.tasks.base import check_int


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """Press et al. (2022): 2^(-8/n)·(1..n) geometric for n a power of 2; otherwise the slopes
    for the nearest lower power of 2 plus every other slope of the next one."""
    def powers(n):
        return [2 ** (-8 * (i + 1) / n) for i in range(n)]
    p = 2 ** math.floor(math.log2(n_heads))
    slopes = powers(p) + powers(2 * p)[0::2][: n_heads - p]
    return torch.tensor(slopes)


def alibi_bias(slopes: torch.Tensor, q0: int, q1: int, k1: int, dtype, device) -> torch.Tensor:
    """Causal ALiBi bias [heads, q1-q0, k1] for queries q0..q1-1 against keys 0..k1-1."""
    i = torch.arange(q0, q1, device=device)[:, None]
    j = torch.arange(k1, device=device)[None, :]
    dist = (j - i).to(dtype)                       # <= 0 where allowed
    bias = slopes.to(device, dtype)[:, None, None] * dist
    return bias.masked_fill(j > i, float("-inf"))


class Block(nn.Module):
    def __init__(self, d: int, heads: int, mlp_ratio: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, mlp_ratio * d), nn.GELU(),
                                 nn.Linear(mlp_ratio * d, d))
        self.register_buffer("slopes", alibi_slopes(heads), persistent=False)

    def attend(self, x: torch.Tensor, chunk: int) -> torch.Tensor:
        B, L, d = x.shape
        q, k, v = self.qkv(x).view(B, L, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        p = self.dropout if self.training else 0.0
        out = []
        for q0 in range(0, L, chunk):  # each query chunk sees keys 0..q1-1 only
            q1 = min(q0 + chunk, L)
            bias = alibi_bias(self.slopes, q0, q1, q1, q.dtype, q.device)
            bias = bias.expand(B, -1, -1, -1)  # 4-D: lets torch pick its fused CPU kernel
            out.append(F.scaled_dot_product_attention(q[:, :, q0:q1], k[:, :, :q1],
                                                      v[:, :, :q1], attn_mask=bias,
                                                      dropout_p=p))
        y = torch.cat(out, 2).transpose(1, 2).reshape(B, L, d)
        return self.proj(y)

    def forward(self, x: torch.Tensor, chunk: int) -> torch.Tensor:
        x = x + F.dropout(self.attend(self.ln1(x), chunk), self.dropout, self.training)
        return x + F.dropout(self.mlp(self.ln2(x)), self.dropout, self.training)


class Attention(Model):
    name = "attention"
    looks = {"attention": Look("Attention", "#CC79A7", "^")}   # purple
    inits = ("default", "xavier")

    def __init__(self, task, hidden_size: int = 128, num_layers: int = 1, dropout: float = 0.0,
                 init: str = "default", init_gain: float = 1.0, num_heads: int = 4,
                 mlp_ratio: int = 4, chunk: int = 512):
        """``hidden_size``: model width d (divisible by ``num_heads``); ``num_layers``: blocks;
        ``mlp_ratio``: MLP width / d; ``dropout``: on attention weights and both residual
        branches (training only); ``chunk``: query rows per attention call (memory only,
        the outputs do not depend on it)."""
        super().__init__()
        check_common(self.name, hidden_size, num_layers, dropout)
        check_int(self.name, "num_heads", num_heads, 1)
        check_int(self.name, "mlp_ratio", mlp_ratio, 1)
        check_int(self.name, "chunk", chunk, 1)
        if hidden_size % num_heads:
            raise ConfigError(f"{self.name}: hidden_size ({hidden_size}) must be divisible by "
                              f"num_heads ({num_heads})")
        self.input_size, self.output_size = task.input_size, task.output_size
        self.hidden_size, self.num_layers, self.num_heads = hidden_size, num_layers, num_heads
        self.dropout, self.chunk = float(dropout), chunk
        self.embed = nn.Linear(self.input_size, hidden_size)
        self.blocks = nn.ModuleList(Block(hidden_size, num_heads, mlp_ratio, self.dropout)
                                    for _ in range(num_layers))
        self.ln = nn.LayerNorm(hidden_size)
        self.head = nn.Linear(hidden_size, self.output_size)
        lrd.models.init.apply(self, init, init_gain)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """inputs [B, L, input_size] -> outputs [B, L, output_size]; output t sees inputs ≤ t."""
        x = self.embed(inputs)
        for block in self.blocks:
            x = block(x, self.chunk)
        return self.head(self.ln(x))
