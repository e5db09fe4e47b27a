"""Where batches come from: seed streams that cannot collide, fixed eval sets, fresh train batches.

Seeds. A run has one integer ``seed``. Each data split draws from its own ``torch.Generator``
seeded with ``stream_seed(seed, split) = 3·seed + k``, k = 0 (train), 1 (val), 2 (test). The map
(seed, split) -> stream seed is injective, so no two (run seed, split) pairs share a generator
seed: the training stream of any run can never be the validation or test stream of the same or
any other run. (Distinct seeds give distinct Mersenne-Twister states; two such streams never
coincide in practice, since the period is 2^19937 - 1.)

Train batches are drawn fresh every step from the train stream. Validation and test sets are
fixed: drawn once from their own stream at the start of the run, so every evaluation of a run,
and every run with the same seed, scores the same sequences.
"""

from __future__ import annotations

import torch

from lrd.tasks import Batch, Task

SPLITS = ("train", "val", "test")


def stream_seed(seed: int, split: str) -> int:
    """The generator seed of ``split`` for run ``seed``: injective in (seed, split)."""
    return len(SPLITS) * seed + SPLITS.index(split)


def generator(seed: int, split: str, device="cpu") -> torch.Generator:
    """A fresh generator for one split of one run."""
    return torch.Generator(device=device).manual_seed(stream_seed(seed, split))


def fixed_set(task: Task, length: int, size: int, seed: int, split: str, device="cpu") -> Batch:
    """The fixed validation or test set: ``size`` sequences, the same every call."""
    if split == "train":
        raise ValueError("the train split is drawn fresh every step, not fixed")
    return task.sample(size, length, generator(seed, split, device))
