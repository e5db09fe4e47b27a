"""Delayed recall: output, at every step, the symbol seen ``length`` = D steps earlier.

A symbol drawn uniformly from 1..n_symbols arrives at every one of D + n_recall steps; the
target at step t >= D is the input of step t - D, and steps D .. D+n_recall-1 are scored. Example
with D=3, n_recall=4::

    step     0 1 2 3 4 5 6
    input    2 7 7 1 5 3 8
    target   _ _ _ 2 7 7 1      blank (0, unscored) before step D
    scored         x x x x

Memoryless baseline: the current input carries no information about the target, so the best
guess is uniform over the symbols: cross-entropy ln(n_symbols), accuracy 1/n_symbols.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lrd.tasks.base import Batch, SymbolTask, check_int


@dataclass(frozen=True)
class DelayedRecall(SymbolTask):
    n_symbols: int = 8   # K: symbols are drawn uniformly from 1..K
    n_recall: int = 10   # M: how many steps are scored after the delay

    name = "delayed_recall"
    label = "Delayed recall"
    length_means = "the delay D"
    length_symbol = "D"
    min_length = 1

    def __post_init__(self):
        check_int(self.name, "n_symbols", self.n_symbols, 2)
        check_int(self.name, "n_recall", self.n_recall, 1)

    @property
    def input_size(self) -> int:   # blank (never an input, kept so tokens match targets) + K
        return self.n_symbols + 1

    @property
    def output_size(self) -> int:
        return self.n_symbols + 1

    def sequence_length(self, length):
        self.check_length(length)
        return length + self.n_recall

    def _sample(self, batch_size, length, generator):
        steps = self.sequence_length(length)
        kw = dict(device=generator.device)
        tokens = torch.randint(1, self.n_symbols + 1, (batch_size, steps), generator=generator, **kw)
        targets = torch.zeros_like(tokens)
        targets[:, length:] = tokens[:, :self.n_recall]
        mask = torch.zeros(batch_size, steps, dtype=torch.bool, **kw)
        mask[:, length:] = True
        return Batch(self.one_hot(tokens), targets, mask, mask)

    def baseline_loss(self, length):
        self.check_length(length)
        return math.log(self.n_symbols)

    def baseline_accuracy(self, length):
        self.check_length(length)
        return 1.0 / self.n_symbols
