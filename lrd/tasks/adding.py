"""The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015).

Two input channels over ``length`` = T steps: a value drawn from U[0, 1] at every step, and a
marker that is 1 at exactly two steps, one drawn uniformly from the first half [0, T//2) and one
from the second half [T//2, T) (for odd T the second half is the longer one). The target, read at
the last step only, is the sum of the two marked values. Example with T=6::

    step     0    1    2    3    4    5
    value   .31  .72  .05  .90  .46  .18
    marker   0    1    0    0    1    0
    target                           1.18   (.72 + .46), scored at the last step only

Loss and metric: mean squared error; the task counts as solved below MSE 0.01.
Memoryless baseline: always predict 1, the mean of the sum; its MSE is Var(U1 + U2) = 2/12 = 1/6.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lrd.tasks.base import Batch, Task


@dataclass(frozen=True)
class Adding(Task):
    name = "adding"
    label = "Adding"
    length_means = "the sequence length T"
    length_symbol = "T"
    min_length = 2
    solved_metric = "mse"
    solved_threshold = 0.01
    solved_higher_is_better = False

    input_size = 2
    output_size = 1

    def _sample(self, batch_size, length, generator):
        kw = dict(device=generator.device)
        values = torch.rand(batch_size, length, generator=generator, **kw)
        half = length // 2
        first = torch.randint(0, half, (batch_size,), generator=generator, **kw)
        second = torch.randint(half, length, (batch_size,), generator=generator, **kw)
        rows = torch.arange(batch_size, **kw)
        markers = torch.zeros(batch_size, length, **kw)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        targets = torch.zeros(batch_size, length, **kw)
        targets[:, -1] = values[rows, first] + values[rows, second]
        mask = torch.zeros(batch_size, length, dtype=torch.bool, **kw)
        mask[:, -1] = True
        return Batch(torch.stack([values, markers], dim=-1), targets, mask, mask)

    def loss(self, outputs, batch):
        return F.mse_loss(outputs[..., 0][batch.mask], batch.targets[batch.mask])

    def metrics(self, outputs, batch, loss=None):
        with torch.no_grad():
            mse = (self.loss(outputs, batch) if loss is None else loss).detach()
            return {"loss": mse, "mse": mse}

    def baseline_loss(self, length):
        self.check_length(length)
        return 1.0 / 6.0
