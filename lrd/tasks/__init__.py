"""The memory tasks of SPEC §1. Public API::

    task = lrd.tasks.make("copy", n_symbols=8)
    batch = task.sample(batch_size, length, generator)   # Batch(inputs, targets, mask, metric_mask)
    task.loss(outputs, batch); task.metrics(outputs, batch); task.baseline_loss(length)
    lrd.tasks.available()
"""

from __future__ import annotations

from lrd.tasks.base import Batch, SymbolTask, Task

__all__ = ["Batch", "SymbolTask", "Task", "available", "make"]


def make(name: str, **params) -> Task:
    """Build the task registered as ``name``; unknown names and bad parameters raise ConfigError."""
    from lrd.registry import TASKS, build
    return build("task", TASKS, name, params)


def available() -> list[str]:
    """Names of every registered task."""
    from lrd.registry import TASKS
    return sorted(TASKS)
