"""The memory tasks of SPEC §1. Public API::

    task = lrd.tasks.make("copy", n_symbols=8)
    batch = task.sample(batch_size, length, generator)   # Batch(inputs, targets, mask, metric_mask)
    task.loss(outputs, batch); task.metrics(outputs, batch); task.baseline_loss(length)
    lrd.tasks.available()
"""

from __future__ import annotations

from lrd.registry import Registry
from lrd.tasks.adding import Adding
from lrd.tasks.base import Batch, SymbolTask, Task
from lrd.tasks.copy import Copy
from lrd.tasks.delayed_recall import DelayedRecall
from lrd.tasks.prefix_sum import PrefixSum

__all__ = ["TASKS", "Batch", "SymbolTask", "Task", "available", "make"]

# Every task, by its ``name``, in figure order. A new task: one file here (a ``Task`` subclass
# with ``label``, ``length_means`` and ``length_symbol``), one entry in this list (or
# ``TASKS.register(MyTask)``), one config.
TASKS = Registry("task", [Copy, Adding, DelayedRecall, PrefixSum])


def make(name: str, **params) -> Task:
    """Build the task registered as ``name``; unknown names and bad parameters raise ConfigError."""
    return TASKS.make(name, **params)


def available() -> list[str]:
    """Names of every registered task."""
    return TASKS.available()
