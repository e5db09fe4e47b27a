"""The length schedule of a run: one Lightning Callback owns the training length and the rule
that grows it or stops the run (SPEC §4: curriculum on length; stop early when solved).

``LengthSchedule`` starts at ``regime.start_length(target)`` (the target itself for every regime
but ``curriculum``). After each validation it asks the task whether the validation metrics count
as solved (``Task.solved``). After ``patience`` consecutive solved validations (a validation that
is not solved resets the count to zero):

- below the target, the length grows to ``regime.next_length(length, target)`` (for
  ``curriculum``: times ``factor``, capped at the target) and the count starts again;
- at the target, the run is ``solved`` and, with ``early_stop``, the Trainer stops.

``TaskData`` reads ``schedule.length`` for every batch it draws and for its validation set; no
other object changes it. ``history`` lists ``(global step, new length)`` for every growth: the
record's ``length_schedule``; ``length`` at the end is its ``final_train_length``.
"""

from __future__ import annotations

import pytorch_lightning as pl

from lrd.tasks import Task
from lrd.training.regimes import Regime


class LengthSchedule(pl.Callback):
    def __init__(self, task: Task, regime: Regime, target: int, patience: int = 1,
                 early_stop: bool = True):
        self.task, self.regime, self.target = task, regime, target
        self.patience = patience        # consecutive solved validations needed to act
        self.early_stop = early_stop    # stop the Trainer once solved at the target
        self.length = regime.start_length(target)   # the current training length
        self.history: list[tuple[int, int]] = []    # (step, new length) after each growth
        self.streak = 0                 # consecutive solved validations so far
        self.solved = False             # solved ``patience`` times in a row at the target

    def observe(self, metrics: dict, step: int) -> bool:
        """Take one validation's metrics (task metric names, no ``val/`` prefix) at global
        ``step``; grow the length or mark the run solved. True when the run should stop."""
        if not metrics or not self.task.solved(metrics):
            self.streak = 0
            return False
        self.streak += 1
        if self.streak < self.patience:
            return False
        self.streak = 0
        if self.length < self.target:
            self.length = self.regime.next_length(self.length, self.target)
            self.history.append((step, self.length))
            return False
        self.solved = True
        return self.early_stop

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        metrics = {k[4:]: v for k, v in trainer.callback_metrics.items()
                   if k.startswith("val/")}
        if self.observe(metrics, trainer.global_step):
            trainer.should_stop = True
