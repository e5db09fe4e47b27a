"""Prefix sum mod n: at every step, output the running sum of the digits seen so far, mod n.

A digit drawn uniformly from 0..n-1 arrives at each of ``length`` = L steps; the target at step t
is (x_1 + ... + x_t) mod n, and every step is scored. Example with n=3, L=6::

    step     1 2 3 4 5 6
    input    2 1 1 0 2 2
    target   2 0 1 1 0 2

For n=2 this is running parity. The headline experiment (SPEC §1): train at L=20, 40 or 200 and
test up to L=5000, per model. The claim that training at L=200 fails (< 35% accuracy) without
teacher forcing is measured per model, never assumed: it held for the tanh RNN, and the LSTM
solved it under full BPTT (results/README.md, "Against the literature").
Memoryless baseline: at step 1 the target is the input itself; after that the running sum is
uniform and independent of the current digit, so the best guess is uniform. Per-step
cross-entropy (L-1)·ln(n)/L, per-step accuracy (1 + (L-1)/n)/L.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lrd.tasks.base import Batch, SymbolTask, check_int


@dataclass(frozen=True)
class PrefixSum(SymbolTask):
    n: int = 3   # the modulus; digits are drawn from 0..n-1

    name = "prefix_sum"
    label = "Prefix sum"
    length_means = "the sequence length L"
    length_symbol = "L"
    min_length = 1

    def __post_init__(self):
        check_int(self.name, "n", self.n, 2)

    def title(self) -> str:
        return f"{self.label} mod {self.n}"

    @property
    def input_size(self) -> int:
        return self.n

    @property
    def output_size(self) -> int:
        return self.n

    def _sample(self, batch_size, length, generator):
        kw = dict(device=generator.device)
        digits = torch.randint(0, self.n, (batch_size, length), generator=generator, **kw)
        targets = torch.remainder(torch.cumsum(digits, dim=1), self.n)
        mask = torch.ones(batch_size, length, dtype=torch.bool, **kw)
        return Batch(self.one_hot(digits), targets, mask, mask)

    def baseline_loss(self, length):
        self.check_length(length)
        return (length - 1) * math.log(self.n) / length

    def baseline_accuracy(self, length):
        self.check_length(length)
        return (1 + (length - 1) / self.n) / length
