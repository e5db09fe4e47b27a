"""The one LightningDataModule and the one LightningModule that serve every task × model pair.

``TaskData`` draws a fresh training batch every step from the run's train stream at the current
training length (the curriculum may grow it), and serves the fixed validation set at that length.
``LitRun`` trains ``model`` on ``task`` under a regime: it logs, every step, the loss, the task's
metrics, loss / baseline_loss and the global gradient norm (before clipping); it validates every
``val_every`` steps, stops when the task is solved (``train.early_stop``) or the loss diverges,
and asks the regime whether to grow the length.
"""

from __future__ import annotations

import math

import pytorch_lightning as pl
import torch

from lrd import data
from lrd.config import Optim
from lrd.regimes import Regime
from lrd.tasks import Batch, Task


class FreshBatches(torch.utils.data.IterableDataset):
    """An endless stream of new batches from one generator, at ``source.length`` each time."""

    def __init__(self, source: "TaskData"):
        self.source = source

    def __iter__(self):
        s = self.source
        gen = data.generator(s.seed, "train")
        while True:
            yield s.task.sample(s.batch_size, s.length, gen)


class FixedSet:
    """The fixed validation set at the source's current length, in chunks of ``chunk``."""

    def __init__(self, source: "TaskData", chunk: int):
        self.source, self.chunk, self.cache = source, chunk, {}

    def __iter__(self):
        s = self.source
        if s.length not in self.cache:
            full = data.fixed_set(s.task, s.length, s.val_size, s.seed, "val")
            self.cache = {s.length: full}
        yield from self.cache[s.length].split(self.chunk)


class TaskData(pl.LightningDataModule):
    def __init__(self, task: Task, length: int, batch_size: int, seed: int, val_size: int,
                 val_chunk: int = 512):
        super().__init__()
        self.task, self.length, self.batch_size = task, length, batch_size
        self.seed, self.val_size, self.val_chunk = seed, val_size, val_chunk

    def train_dataloader(self):
        return torch.utils.data.DataLoader(FreshBatches(self), batch_size=None)

    def val_dataloader(self):
        return FixedSet(self, self.val_chunk)

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        return batch.to(device)


class LitRun(pl.LightningModule):
    def __init__(self, task: Task, model: torch.nn.Module, regime: Regime, optim: Optim,
                 target_length: int, max_steps: int, early_stop: bool = True,
                 solve_patience: int = 1):
        super().__init__()
        self.task, self.model, self.regime, self.optim = task, model, regime, optim
        self.target_length, self.max_steps, self.early_stop = target_length, max_steps, early_stop
        self.solve_patience = solve_patience
        self.streak = 0                            # consecutive solved validations
        self.diverged = False
        self.solved = False
        self.lengths: list[tuple[int, int]] = []   # (step, new training length) after growths

    # -- steps ----------------------------------------------------------------------------
    def training_step(self, batch: Batch, batch_idx: int):
        outputs = self.regime.train_outputs(self.model, self.task, batch)
        loss = self.task.loss(outputs, batch)
        if not torch.isfinite(loss):
            self.diverged = True
            self.trainer.should_stop = True
            return None
        metrics = self.task.metrics(outputs, batch)
        logged = {f"train/{k}": v for k, v in metrics.items()}
        logged["train/loss_ratio"] = loss.detach() / self._baseline(batch)
        logged["train/length"] = float(self.trainer.datamodule.length)
        self.log_dict(logged, on_step=True, on_epoch=False, batch_size=len(batch))
        return loss

    def validation_step(self, batch: Batch, batch_idx: int):
        outputs = self.regime.eval_outputs(self.model, self.task, batch)
        metrics = self.task.metrics(outputs, batch)
        metrics["loss_ratio"] = metrics["loss"] / self._baseline(batch)
        self.log_dict({f"val/{k}": v for k, v in metrics.items()}, on_epoch=True,
                      batch_size=len(batch))

    def on_validation_epoch_end(self):
        if self.trainer.sanity_checking:
            return
        metrics = {k[4:]: v for k, v in self.trainer.callback_metrics.items()
                   if k.startswith("val/")}
        if not metrics or not self.task.solved(metrics):
            self.streak = 0
            return
        self.streak += 1
        if self.streak < self.solve_patience:
            return
        self.streak = 0
        dm = self.trainer.datamodule
        if dm.length < self.target_length:
            dm.length = self.regime.next_length(dm.length, self.target_length)
            self.lengths.append((self.global_step, dm.length))
        else:
            self.solved = True
            if self.early_stop:
                self.trainer.should_stop = True

    def _baseline(self, batch: Batch) -> float:
        return self.task.baseline_loss(self.trainer.datamodule.length)

    # -- optimisation ---------------------------------------------------------------------
    def on_before_optimizer_step(self, optimizer):
        clip = self.optim.grad_clip if self.optim.grad_clip is not None else math.inf
        norm = torch.nn.utils.clip_grad_norm_(self.parameters(), clip)
        self.log("train/grad_norm", norm, on_step=True, on_epoch=False)

    def configure_optimizers(self):
        o = self.optim
        cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[o.name]
        opt = cls(self.parameters(), lr=o.lr, weight_decay=o.weight_decay)
        total, warm = self.max_steps, o.warmup_steps

        def factor(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            frac = min(1.0, (step - warm) / max(1, total - warm))
            if o.schedule == "cosine":
                return 0.5 * (1 + math.cos(math.pi * frac))
            if o.schedule == "linear":
                return 1.0 - frac
            return 1.0

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


@torch.no_grad()
def evaluate(model, task: Task, regime: Regime, batch: Batch, chunk: int = 256) -> dict:
    """The task's metrics of ``model`` on a fixed batch, in eval mode, as floats."""
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    n = len(batch)
    for part in batch.split(chunk):
        out = regime.eval_outputs(model, task, part)
        for k, v in task.metrics(out, part).items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(part)
    model.train(was_training)
    return {k: v / n for k, v in sums.items()}
