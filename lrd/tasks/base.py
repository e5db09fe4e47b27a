"""What every memory task is: a pure sampler plus its own loss, metrics and baseline.

A task is a frozen dataclass whose fields are its parameters (validated on construction).
``task.sample(batch_size, length, generator)`` is a pure function of the generator's state: it
draws every random number from ``generator`` and creates tensors on ``generator.device``, so
the same seed gives the same batch on the same device, and sampling on a GPU needs no copy.

``length`` is the sweep axis; each task says what it means (a delay for ``copy`` and
``delayed_recall``, the sequence length for ``adding`` and ``prefix_sum``), and
``task.sequence_length(length)`` gives the number of time steps that results.

Symbol tasks share one token convention: token 0 is the blank, symbols are 1..K, and inputs and
targets use these integer values directly (inputs one-hot encoded).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from lrd.errors import ConfigError


@dataclass(frozen=True)
class Batch:
    """One batch of a task.

    inputs:      float [B, L, input_size]
    targets:     [B, L], long (token ids) for symbol tasks, float for regression tasks;
                 positions outside ``mask`` hold 0 and are never scored.
    mask:        bool [B, L], the positions the loss is taken over.
    metric_mask: bool [B, L], the positions accuracy is taken over (a subset of ``mask``).
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor
    metric_mask: torch.Tensor

    def to(self, device) -> "Batch":
        return Batch(*(t.to(device, non_blocking=True) for t in
                       (self.inputs, self.targets, self.mask, self.metric_mask)))

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def split(self, size: int):
        """Consecutive chunks of at most ``size`` sequences."""
        for i in range(0, len(self), size):
            yield Batch(*(t[i:i + size] for t in
                          (self.inputs, self.targets, self.mask, self.metric_mask)))


def check_int(task: str, name: str, value, minimum: int) -> None:
    """Raise ConfigError unless ``value`` is an int >= minimum."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{task}: {name} must be an integer >= {minimum}, got {value!r}")


class Task:
    """Base class. Subclasses are frozen dataclasses and set the class attributes below.

    Figures, tables and messages read these attributes (through ``lrd.tasks.TASKS``), never
    the task's name: ``label`` names the task in titles and legends ("Prefix sum"), ``title()``
    adds the parameters that matter ("Prefix sum mod 3"), ``length_means`` says what
    ``length`` is ("the delay T") and ``length_symbol`` is its letter ("T")."""

    name: ClassVar[str]
    label: ClassVar[str]                 # display name, e.g. "Delayed recall"
    length_means: ClassVar[str]          # what the ``length`` argument is: "the delay T"
    length_symbol: ClassVar[str]         # its letter in titles: "T"
    min_length: ClassVar[int] = 1
    solved_metric: ClassVar[str]         # the metric that decides "solved" (the one place)
    solved_threshold: ClassVar[float]
    solved_higher_is_better: ClassVar[bool] = True
    feeds_back: ClassVar[bool] = False   # can the target be fed back as input (teacher forcing)?

    input_size: int
    output_size: int

    def title(self) -> str:
        """The task as a figure title: ``label``, plus any parameter that changes the task."""
        return self.label

    # -- length ---------------------------------------------------------------------------
    def check_length(self, length) -> None:
        if isinstance(length, bool) or not isinstance(length, int) or length < self.min_length:
            raise ConfigError(
                f"{self.name}: length ({self.length_means}) must be an integer "
                f">= {self.min_length}, got {length!r}")

    def sequence_length(self, length: int) -> int:
        """Number of time steps of a sample at this ``length``."""
        self.check_length(length)
        return length

    # -- sampling -------------------------------------------------------------------------
    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> Batch:
        """Draw a batch; a pure function of ``generator``'s state."""
        self.check_length(length)
        check_int(self.name, "batch_size", batch_size, 1)
        return self._sample(batch_size, length, generator)

    def _sample(self, batch_size: int, length: int, generator: torch.Generator) -> Batch:
        raise NotImplementedError

    # -- scoring --------------------------------------------------------------------------
    def baseline_loss(self, length: int) -> float:
        """Loss of the best predictor that remembers no input (knowing only the position)."""
        raise NotImplementedError

    def loss(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        raise NotImplementedError

    def metrics(self, outputs: torch.Tensor, batch: Batch,
                loss: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The task's metrics (0-d tensors, ``loss`` among them). ``loss``: this batch's
        ``self.loss(outputs, batch)`` if the caller already has it (it is then not recomputed)."""
        raise NotImplementedError

    def solved(self, metrics: dict) -> bool:
        """Whether ``metrics`` (as from ``self.metrics``) count as solving the task."""
        value = float(metrics[self.solved_metric])
        if self.solved_higher_is_better:
            return value >= self.solved_threshold
        return value < self.solved_threshold


class SymbolTask(Task):
    """A task whose targets are tokens: cross-entropy on ``mask``, accuracy on ``metric_mask``.

    Metrics: ``loss``; ``accuracy``, the fraction of scored tokens predicted right (argmax);
    ``sequence_accuracy``, the fraction of sequences with every scored token right.
    """

    solved_metric = "accuracy"
    solved_threshold = 0.99
    feeds_back = True

    def one_hot(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.one_hot(tokens, self.input_size).float()

    def loss(self, outputs, batch):
        return F.cross_entropy(outputs[batch.mask], batch.targets[batch.mask])

    def metrics(self, outputs, batch, loss=None):
        with torch.no_grad():
            right = outputs.argmax(-1) == batch.targets
            scored = batch.metric_mask
            per_seq = (right | ~scored).all(dim=1)
            loss = self.loss(outputs, batch) if loss is None else loss
            return {
                "loss": loss.detach(),
                "accuracy": (right & scored).sum() / scored.sum(),  # no boolean gather
                "sequence_accuracy": per_seq.float().mean(),
            }

    def baseline_accuracy(self, length: int) -> float:
        """Accuracy on ``metric_mask`` of the best predictor that remembers no input."""
        raise NotImplementedError


def uniform_ce(k: int) -> float:
    """Cross-entropy of a uniform guess over k equally likely symbols: ln k nats."""
    return math.log(k)
