"""The causal-attention baseline: a small decoder-only transformer, positional scheme a parameter.

    x = W_in inputs                                    input projection, no position table
    x = x + Drop(Attn(LN(x)))   x = x + Drop(MLP(LN(x)))   per block (pre-LayerNorm)
    outputs = head(LN(x))

Attention is causal, through ``F.scaled_dot_product_attention``. ``position`` chooses how a
query learns where a key is; every scheme is computed on the fly for the actual length, with no
table that can run out, so a model trained at one length runs at any other (SPEC §1, prefix_sum
tested up to 5000):

- ``alibi`` (Press et al. 2022): head h adds -m_h·(i - j) to the score of query i on key j ≤ i,
  slopes m_h = 2^(-8h/n) for n heads (the paper's recipe for n not a power of 2). A bias by
  distance only: to read the symbol exactly k steps back (copy) it must infer the offset.
- ``rope`` (Su et al. 2021, rotary): queries and keys of each head are rotated by angle
  t·θ_i at position t, θ_i = base^(-2i/d_head), base 10000, over pairs (x_i, x_{i+d_head/2});
  the score of (i, j) then depends on i - j exactly, so a fixed offset is one direction.
- ``nope``: no positional information; the causal mask alone (Kazemnejad et al. 2023).

Delétang et al. (2023) report each task with the best of five schemes; lrd reports each scheme
(configs/sweeps/positions_*.yaml). The default is ``rope``: measured at copy T=10 (H=64, 2
blocks, seed 0), RoPE solved it in 200-300 steps at lr 3e-3, 1e-3 and 3e-4, where ALiBi at 3e-3
reached accuracy 0.51 in 2000 steps (the positions_copy sweep measures it with 3 seeds).

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


POSITIONS = ("alibi", "rope", "nope")
ROPE_BASE = 10000.0


def alibi_bias(slopes: torch.Tensor, q0: int, q1: int, k1: int, dtype, device) -> torch.Tensor:
    """Causal ALiBi bias [heads, q1-q0, k1] for queries q0..q1-1 against keys 0..k1-1."""
    i = torch.arange(q0, q1, device=device)[:, None]
    j = torch.arange(k1, device=device)[None, :]
    dist = (j - i).to(dtype)                       # <= 0 where allowed
    bias = slopes.to(device, dtype)[:, None, None] * dist
    return bias.masked_fill(j > i, float("-inf"))


def causal_bias(q0: int, q1: int, k1: int, dtype, device) -> torch.Tensor:
    """The causal mask alone as a bias [1, q1-q0, k1]: 0 where j <= i, -inf above."""
    i = torch.arange(q0, q1, device=device)[:, None]
    j = torch.arange(k1, device=device)[None, :]
    zero = torch.zeros((), dtype=dtype, device=device)
    return zero.masked_fill(j > i, float("-inf")).expand(q1 - q0, k1)[None]


def rope(x: torch.Tensor, base: float = ROPE_BASE) -> torch.Tensor:
    """Rotary positions: x [B, heads, L, d] (d even) with the pair (x_i, x_{i+d/2}) at position t
    rotated by the angle t·base^(-2i/d)."""
    L, d = x.shape[-2], x.shape[-1]
    half = d // 2
    theta = base ** (-torch.arange(half, device=x.device, dtype=torch.float64) * 2 / d)
    angle = torch.arange(L, device=x.device, dtype=torch.float64)[:, None] * theta
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)


class Block(nn.Module):
    def __init__(self, d: int, heads: int, mlp_ratio: int, dropout: float, position: str):
        super().__init__()
        self.heads, self.dropout, self.position = heads, dropout, position
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, mlp_ratio * d), nn.GELU(),
                                 nn.Linear(mlp_ratio * d, d))
        self.register_buffer("slopes", alibi_slopes(heads), persistent=False)

    def attend(self, x: torch.Tensor, chunk: int) -> torch.Tensor:
        B, L, d = x.shape
        q, k, v = self.qkv(x).view(B, L, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if self.position == "rope":
            q, k = rope(q), rope(k)
        p = self.dropout if self.training else 0.0
        out = []
        for q0 in range(0, L, chunk):  # each query chunk sees keys 0..q1-1 only
            q1 = min(q0 + chunk, L)
            if self.position == "alibi":
                bias = alibi_bias(self.slopes, q0, q1, q1, q.dtype, q.device)
            else:
                bias = causal_bias(q0, q1, q1, q.dtype, q.device)
            bias = bias.expand(B, self.heads, -1, -1)  # 4-D: lets torch pick its fused kernel
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
    looks = {"attention-rope": Look("Attention (RoPE)", "#CC79A7", "^"),     # purple
             "attention-alibi": Look("Attention (ALiBi)", "#882255", "P"),   # wine
             "attention-nope": Look("Attention (NoPE)", "#AA4499", "<")}     # magenta
    variants = {f"attention-{p}": {"position": p} for p in POSITIONS}
    inits = ("default", "xavier")

    def __init__(self, task, hidden_size: int = 128, num_layers: int = 2, dropout: float = 0.0,
                 init: str = "default", init_gain: float = 1.0, num_heads: int = 4,
                 mlp_ratio: int = 4, chunk: int = 512, position: str = "rope"):
        """``hidden_size``: model width d (divisible by ``num_heads``); ``num_layers``: blocks;
        ``position``: the positional scheme, one of ``POSITIONS`` (module docstring);
        ``mlp_ratio``: MLP width / d; ``dropout``: on attention weights and both residual
        branches (training only); ``chunk``: query rows per attention call (memory only,
        the outputs do not depend on it)."""
        super().__init__()
        check_common(self.name, hidden_size, num_layers, dropout)
        check_int(self.name, "num_heads", num_heads, 1)
        check_int(self.name, "mlp_ratio", mlp_ratio, 1)
        check_int(self.name, "chunk", chunk, 1)
        if position not in POSITIONS:
            raise ConfigError(f"{self.name}: unknown position '{position}'; "
                              f"available: {', '.join(POSITIONS)}")
        if hidden_size % num_heads:
            raise ConfigError(f"{self.name}: hidden_size ({hidden_size}) must be divisible by "
                              f"num_heads ({num_heads})")
        self.input_size, self.output_size = task.input_size, task.output_size
        self.hidden_size, self.num_layers, self.num_heads = hidden_size, num_layers, num_heads
        self.dropout, self.chunk = float(dropout), chunk
        self.embed = nn.Linear(self.input_size, hidden_size)
        if position == "rope" and (hidden_size // num_heads) % 2:
            raise ConfigError(f"{self.name}: position 'rope' needs an even head width, got "
                              f"hidden_size/num_heads = {hidden_size // num_heads}")
        self.position = position
        self.blocks = nn.ModuleList(Block(hidden_size, num_heads, mlp_ratio, self.dropout,
                                          position) for _ in range(num_layers))
        self.ln = nn.LayerNorm(hidden_size)
        self.head = nn.Linear(hidden_size, self.output_size)
        lrd.models.init.apply(self, init, init_gain)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """inputs [B, L, input_size] -> outputs [B, L, output_size]; output t sees inputs ≤ t."""
        x = self.embed(inputs)
        for block in self.blocks:
            x = block(x, self.chunk)
        return self.head(self.ln(x))
