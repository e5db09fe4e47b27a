"""Training regimes (SPEC §4): how a model's outputs are produced in training and evaluation.

A regime maps (model, task, batch) to outputs [B, L, output_size]; the task's own loss is then
taken over the whole sequence. Gradient clipping and early stopping belong to every regime and
live in the training loop (``optim.grad_clip``, ``train.early_stop``).

- ``full``: backpropagation through the whole sequence.
- ``truncated``: BPTT in windows of ``window`` steps (k1 = k2 = window): the state is carried
  from window to window, detached, so no gradient crosses a window boundary. The loss is the
  task's loss over the whole sequence, so with window >= length it equals ``full`` exactly.
- ``teacher_forcing``: the model also reads the previous target, one-hot, beside the input, on
  scored steps whose previous step was scored too (the recall phase of ``copy``; elsewhere zeros).
  In training it reads the true previous target with probability ``p`` at each step, otherwise its
  own previous prediction (argmax); in evaluation always its own prediction.
- ``curriculum``: train at ``start`` steps of ``length``, and multiply the length by ``factor``
  (capped at the target length) each time validation at the current length is solved.

A regime states its lengths (``start_length``, ``next_length``); the run's ``LengthSchedule``
(lrd/training/schedule.py) applies them. ``model_batch`` is a batch as the regime's model reads
it open loop, what analysis of the model's state runs on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from lrd.errors import ConfigError
from lrd.registry import Registry
from lrd.tasks import Batch, Task


@dataclass(frozen=True)
class Sizes:
    """What a model needs to know of a task: its input and output sizes."""
    input_size: int
    output_size: int


class Regime:
    name: ClassVar[str]

    def check(self, task: Task, model: torch.nn.Module) -> None:
        """Raise ConfigError if this regime cannot train ``model`` on ``task``."""

    def model_sizes(self, task: Task) -> Sizes:
        return Sizes(task.input_size, task.output_size)

    def train_outputs(self, model, task: Task, batch: Batch) -> torch.Tensor:
        return model(batch.inputs)

    def eval_outputs(self, model, task: Task, batch: Batch) -> torch.Tensor:
        return model(batch.inputs)

    def model_batch(self, task: Task, batch: Batch) -> Batch:
        """``batch`` as the model reads it open loop (what analysis of its state runs on):
        ``batch`` itself, but for a regime whose model reads more than the task's inputs."""
        return batch

    def start_length(self, length: int) -> int:
        """The training length at step 0, for a run whose target length is ``length``."""
        return length

    def next_length(self, current: int, target: int) -> int:
        """The training length after validation at ``current`` counted as solved."""
        return current


@dataclass(frozen=True)
class Full(Regime):
    name = "full"


def _needs_state(model, regime: str) -> None:
    if not hasattr(model, "run"):
        raise ConfigError(f"regime '{regime}' needs a recurrent model (one with a state); "
                          f"'{type(model).__name__}' has none")


@dataclass(frozen=True)
class Truncated(Regime):
    window: int = 20   # k: steps per window; gradients are cut at window boundaries

    name = "truncated"

    def __post_init__(self):
        if self.window < 1:
            raise ConfigError(f"regime 'truncated': window must be >= 1, got {self.window}")

    def check(self, task, model):
        _needs_state(model, self.name)

    def train_outputs(self, model, task, batch):
        outputs, state = [], None
        for chunk in batch.inputs.split(self.window, dim=1):
            out, state = model.run(chunk, state)
            state = tuple(s.detach() for s in state)
            outputs.append(out)
        return torch.cat(outputs, dim=1)


@dataclass(frozen=True)
class TeacherForcing(Regime):
    p: float = 1.0   # probability of reading the true previous target (vs. the model's own)

    name = "teacher_forcing"

    def __post_init__(self):
        if not 0.0 <= self.p <= 1.0:
            raise ConfigError(f"regime 'teacher_forcing': p must be in [0, 1], got {self.p}")

    def check(self, task, model):
        if not getattr(task, "feeds_back", False):
            raise ConfigError(f"regime 'teacher_forcing' needs a task whose output feeds back "
                              f"(a symbol task); '{task.name}' has none")
        _needs_state(model, self.name)

    def model_sizes(self, task):
        return Sizes(task.input_size + task.output_size, task.output_size)

    @staticmethod
    def feedback_mask(batch: Batch) -> torch.Tensor:
        """bool [B, L]: step t reads a fed-back target iff steps t-1 and t are both scored."""
        scored = batch.metric_mask
        prev = torch.zeros_like(scored)
        prev[:, 1:] = scored[:, :-1]
        return prev & scored

    def true_feedback(self, task, batch) -> torch.Tensor:
        prev = torch.zeros_like(batch.targets)
        prev[:, 1:] = batch.targets[:, :-1]
        fb = F.one_hot(prev, task.output_size).to(batch.inputs.dtype)
        return fb * self.feedback_mask(batch).unsqueeze(-1)

    def model_batch(self, task, batch):
        """The inputs with the true previous targets beside them (teacher forcing at p = 1,
        the open-loop input of training)."""
        inputs = torch.cat([batch.inputs, self.true_feedback(task, batch)], dim=-1)
        return Batch(inputs, batch.targets, batch.mask, batch.metric_mask)

    def train_outputs(self, model, task, batch):
        if self.p == 1.0:
            return model(torch.cat([batch.inputs, self.true_feedback(task, batch)], dim=-1))
        return self.closed_loop(model, task, batch, self.p)

    def eval_outputs(self, model, task, batch):
        return self.closed_loop(model, task, batch, 0.0)

    def closed_loop(self, model, task, batch, p: float) -> torch.Tensor:
        """Step by step: at each fed-back step read the true previous target with
        probability p (one coin per sequence and step), else the model's own argmax."""
        true_fb = self.true_feedback(task, batch)
        fed = self.feedback_mask(batch)
        B, L, _ = batch.inputs.shape
        coins = torch.rand(B, L, device=batch.inputs.device) < p if p > 0 else None
        state, outputs = model.initial_state(B, batch.inputs.device), []
        own = torch.zeros_like(true_fb[:, 0])
        for t in range(L):
            fb = own * fed[:, t, None]
            if coins is not None:
                fb = torch.where(coins[:, t, None], true_fb[:, t], fb)
            out, state = model.step(torch.cat([batch.inputs[:, t], fb], dim=-1), state)
            outputs.append(out)
            own = F.one_hot(out.argmax(-1), task.output_size).to(out.dtype)
        return torch.stack(outputs, dim=1)


@dataclass(frozen=True)
class Curriculum(Regime):
    start: int = 10       # the first training length (capped at the target length)
    factor: float = 2.0   # length multiplier after each solve

    name = "curriculum"

    def __post_init__(self):
        if self.start < 1:
            raise ConfigError(f"regime 'curriculum': start must be >= 1, got {self.start}")
        if not self.factor > 1.0:
            raise ConfigError(f"regime 'curriculum': factor must be > 1, got {self.factor}")

    def check(self, task, model):
        if self.start < task.min_length:
            raise ConfigError(f"regime 'curriculum': start must be >= {task.min_length} for "
                              f"task '{task.name}', got {self.start}")

    def start_length(self, length):
        return min(self.start, length)

    def next_length(self, current, target):
        return min(target, max(current + 1, math.ceil(current * self.factor)))


REGIMES = Registry("regime", [Full, Truncated, TeacherForcing, Curriculum])


def make(name: str, **params) -> Regime:
    return REGIMES.make(name, **params)
