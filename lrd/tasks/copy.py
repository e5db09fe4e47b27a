"""The copy task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016).

Remember ``n_copy`` symbols over a delay of ``length`` = T steps, then reproduce them in order.
Example with n_copy=3, T=3 (blank ``_`` = 0, delimiter ``:`` = n_symbols+1)::

    step     0 1 2 3 4 5 6 7 8
    input    4 1 7 _ _ : _ _ _      3 symbols, T-1 blanks, delimiter, 3 blanks: T+2·n_copy steps
    target   _ _ _ _ _ _ 4 1 7      blank for T+n_copy steps, then the symbols in order
    loss     x x x x x x x x x      every step
    accuracy             x x x      the last n_copy steps

With the defaults (n_symbols=8, n_copy=10) this is SPEC §1: T+20 steps, 10 input tokens.
Memoryless baseline: blanks predicted exactly, then uniform over the n_symbols symbols, so the
cross-entropy is n_copy·ln(n_symbols) / (T + 2·n_copy) and the accuracy 1/n_symbols.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lrd.tasks.base import Batch, SymbolTask, check_int


@dataclass(frozen=True)
class Copy(SymbolTask):
    n_symbols: int = 8   # symbols are drawn uniformly from 1..n_symbols
    n_copy: int = 10     # how many symbols to remember

    name = "copy"
    label = "Copy"
    length_means = "the delay T"
    length_symbol = "T"
    min_length = 1

    def __post_init__(self):
        check_int(self.name, "n_symbols", self.n_symbols, 2)
        check_int(self.name, "n_copy", self.n_copy, 1)

    @property
    def delimiter(self) -> int:
        return self.n_symbols + 1

    @property
    def input_size(self) -> int:   # blank, symbols, delimiter
        return self.n_symbols + 2

    @property
    def output_size(self) -> int:  # blank and symbols; the delimiter is never a target
        return self.n_symbols + 1

    def sequence_length(self, length: int) -> int:
        self.check_length(length)
        return length + 2 * self.n_copy

    def _sample(self, batch_size, length, generator):
        n, steps = self.n_copy, self.sequence_length(length)
        kw = dict(device=generator.device)
        symbols = torch.randint(1, self.n_symbols + 1, (batch_size, n), generator=generator, **kw)
        tokens = torch.zeros(batch_size, steps, dtype=torch.long, **kw)
        tokens[:, :n] = symbols
        tokens[:, n + length - 1] = self.delimiter
        targets = torch.zeros(batch_size, steps, dtype=torch.long, **kw)
        targets[:, length + n:] = symbols
        mask = torch.ones(batch_size, steps, dtype=torch.bool, **kw)
        metric_mask = torch.zeros_like(mask)
        metric_mask[:, length + n:] = True
        return Batch(self.one_hot(tokens), targets, mask, metric_mask)

    def baseline_loss(self, length):
        return self.n_copy * math.log(self.n_symbols) / self.sequence_length(length)

    def baseline_accuracy(self, length):
        self.check_length(length)
        return 1.0 / self.n_symbols
