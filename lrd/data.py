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

Held out. Distinct streams can still draw the same sequence where a task has few of them
(prefix sum at L=10 has 3^10 = 59049; a run draws hundreds of thousands), so a test sequence
would be scored after training on it. ``exclude`` removes from every training batch the rows
that equal a sequence of the run's fixed validation or test sets at that length (``HeldOut``),
drawing replacements from the same train stream, so no evaluated sequence is ever trained on.
Where the evaluation sets hold nearly every sequence of a length (prefix sum at L=1 has 3), no
replacement can be found; that length is then trained on as drawn and reported (``saturated``).
Equality is tested on ``keys``: each sequence's input bits times fixed random int64 weights,
summed (equal inputs, equal keys, on any device and in any batch; distinct inputs collide
with probability ~2^-64). Where the
space is large no row is ever a hit and the stream is exactly the plain one.
"""

from __future__ import annotations

from functools import lru_cache

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


@lru_cache(maxsize=64)
def _key_weights(width: int, device: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(20240601)
    return torch.randint(-2 ** 62, 2 ** 62, (width,), generator=g, dtype=torch.int64).to(device)


def keys(inputs: torch.Tensor) -> torch.Tensor:
    """int64 [B]: one key per sequence of ``inputs`` [B, L, C] (module docstring): the bit
    patterns of its values times fixed random int64 weights, summed. Integer arithmetic (which
    wraps) is exact and associative, so a row's key never depends on the batch it is in, its
    position there, or the device (a float64 projection did: matrix-vector rounding follows
    the batch shape)."""
    flat = inputs.reshape(len(inputs), -1).contiguous()
    bits = flat.view(torch.int32 if flat.element_size() == 4 else torch.int64).to(torch.int64)
    return (bits * _key_weights(bits.shape[1], str(inputs.device))).sum(1)


def take(batch: Batch, rows: torch.Tensor) -> Batch:
    return Batch(*(t[rows] for t in (batch.inputs, batch.targets, batch.mask, batch.metric_mask)))


def cat(parts: list[Batch]) -> Batch:
    return Batch(*(torch.cat([getattr(b, f) for b in parts]) for f in
                   ("inputs", "targets", "mask", "metric_mask")))


def member(k: torch.Tensor, held: torch.Tensor) -> torch.Tensor:
    """bool [B]: which keys ``k`` are in ``held`` (sorted, as ``HeldOut.at`` gives them); a
    binary search per key (``torch.isin`` sorts ``held`` again on every call: 7 ms a step
    for 33 792 held keys, measured)."""
    if held.numel() == 0:
        return torch.zeros(len(k), dtype=torch.bool, device=k.device)
    i = torch.searchsorted(held, k).clamp_(max=held.numel() - 1)
    return held[i] == k


class HeldOut:
    """The keys of a run's fixed evaluation sets, by length, sorted: ``sizes(length)`` lists
    the (split, size) pairs evaluated at that length; keys are computed once per length, in
    chunks (a 32768-sequence test set is never converted whole). Each set is drawn where it is
    evaluated: the validation set on the CPU (``lrd.training.module.FixedSet``), a test set on
    ``device`` (``lrd.training.run``); the CPU and CUDA generators give different streams."""

    CHUNK = 4096

    def __init__(self, task: Task, seed: int, sizes, device="cpu"):
        self.task, self.seed, self.sizes, self.device = task, seed, sizes, device
        self.cache: dict[int, torch.Tensor] = {}

    def at(self, length: int) -> torch.Tensor:
        if length not in self.cache:
            parts = []
            for split, n in self.sizes(length):
                where = "cpu" if split == "val" else self.device
                full = fixed_set(self.task, length, n, self.seed, split, where)
                parts += [keys(b.inputs).to(self.device) for b in full.split(self.CHUNK)]
            held = torch.cat(parts) if parts else torch.empty(0, dtype=torch.int64)
            self.cache[length] = held.sort().values
        return self.cache[length]


def exclude(batch: Batch, held: torch.Tensor, draw, max_draws: int = 100
            ) -> tuple[Batch, int] | None:
    """``batch`` with every row whose key is in ``held`` (sorted keys) replaced by rows of
    ``draw()`` (fresh batches from the same stream) that are not, and the number of rows
    replaced; None if ``max_draws`` fresh batches could not fill it (the evaluation sets hold
    nearly every sequence of this length, e.g. prefix sum at L=1: then nothing can be held
    out, and the caller trains on ``batch`` as drawn)."""
    if held.numel() == 0:
        return batch, 0
    hit = member(keys(batch.inputs), held)
    n_hit = int(hit.sum())
    if n_hit == 0:
        return batch, 0
    parts, need = [take(batch, ~hit)], n_hit
    for _ in range(max_draws):
        extra = draw()
        fresh = take(extra, ~member(keys(extra.inputs), held))
        parts.append(take(fresh, torch.arange(min(need, len(fresh)))))
        need -= len(parts[-1])
        if need == 0:
            return cat(parts), n_hit
    return None
