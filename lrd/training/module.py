"""The one LightningDataModule and the one LightningModule that serve every task × model pair.

``TaskData`` draws a fresh training batch every step from the run's train stream at the current
training length (the curriculum may grow it), and serves the fixed validation set at that length.
``LitRun`` trains ``model`` on ``task`` under a regime: it logs, every ``log.every`` steps (the
Trainer's ``log_every_n_steps``), the loss, the task's metrics, loss / baseline_loss, the length
and the global gradient norm (before clipping); it validates every ``val_every`` steps, stops when
the task is solved (``train.early_stop``) or the loss diverges, and asks the regime whether to
grow the length.

Training metrics go to the Trainer's loggers directly, one ``log_metrics`` call per logged step,
with the step number and ``epoch`` column Lightning itself would use, not through ``self.log``:
Lightning's ``self.log`` costs about 0.7 ms per key per call on this project's CPUs (it moves
its metadata dataclasses through ``apply_to_collection`` every call), so six keys cost ~4 ms a
step, ~40% of an LSTM H=64 copy step (measured, benchmarks/lightning_vs_bare.py). The task's
metrics are computed only on steps that are logged. Validation still uses ``self.log`` (it
needs epoch reduction and ``callback_metrics``). The last logged training metrics are kept,
as floats, in ``LitRun.train_metrics``.
"""

from __future__ import annotations

import math

import pytorch_lightning as pl
from pytorch_lightning.loggers import WandbLogger
import torch

from lrd import data
from lrd.config import Optim
from lrd.training.regimes import Regime
from lrd.tasks import Batch, Task


class FreshBatches(torch.utils.data.IterableDataset):
    """An endless stream of new batches from one generator, at ``source.length`` each time.

    The generator lives on the training device, so on a GPU batches are sampled there with no
    copy (the CPU and CUDA generators give different streams for the same seed)."""

    def __init__(self, source: "TaskData"):
        self.source = source

    def __iter__(self):
        s = self.source
        trainer = getattr(s, "trainer", None)
        device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
        gen = data.generator(s.seed, "train", device)
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


# Attributes Lightning (or LitRun) sets on the module every step that are never parameters,
# buffers or submodules: set them directly, skipping nn.Module.__setattr__'s registry checks.
# Lightning sets ``_current_fx_name`` around every hook call, ~44 times a step (~0.1-0.2 ms).
_PLAIN_ATTRS = frozenset({"_current_fx_name", "_pending", "train_metrics", "diverged", "solved",
                          "_fill_uninitialized"})


class LitRun(pl.LightningModule):
    def __setattr__(self, name, value):
        if name in _PLAIN_ATTRS:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def __init__(self, task: Task, model: torch.nn.Module, regime: Regime, optim: Optim,
                 target_length: int, max_steps: int, early_stop: bool = True,
                 solve_patience: int = 1, wandb_every: int = 1):
        super().__init__()
        self.task, self.model, self.regime, self.optim = task, model, regime, optim
        self.target_length, self.max_steps, self.early_stop = target_length, max_steps, early_stop
        self.solve_patience = solve_patience
        self.wandb_every = wandb_every
        self.streak = 0                            # consecutive solved validations
        self.diverged = False
        self.solved = False
        self.lengths: list[tuple[int, int]] = []   # (step, new training length) after growths
        self.train_metrics: dict[str, float] = {}  # the last logged training metrics
        self._pending: dict[str, torch.Tensor] = {}

    # -- fit --------------------------------------------------------------------------------
    def on_fit_start(self):
        """Under ``deterministic`` (torch.use_deterministic_algorithms), torch by default also
        fills every uninitialised tensor (torch.empty, kernel workspaces) with NaN, a bug
        detector that changes no correct result and costs, measured, 17% of an LSTM H=64
        forward+backward step (3.84 vs 3.27 ms; GRU and attention ~1%). Off during fit,
        restored after; the deterministic algorithms themselves stay on."""
        self._fill_uninitialized = torch.utils.deterministic.fill_uninitialized_memory
        torch.utils.deterministic.fill_uninitialized_memory = False

    def on_fit_end(self):
        torch.utils.deterministic.fill_uninitialized_memory = self._fill_uninitialized

    # -- steps ----------------------------------------------------------------------------
    def _logs_this_step(self) -> bool:
        """Whether Lightning would send this step's metrics to the loggers (its own rule:
        every ``log_every_n_steps`` optimiser steps, counting from 1, and at a stop)."""
        every = self.trainer.log_every_n_steps
        return bool(every) and ((self.global_step + 1) % every == 0 or self.trainer.should_stop)

    def training_step(self, batch: Batch, batch_idx: int):
        self._pending = {}
        outputs = self.regime.train_outputs(self.model, self.task, batch)
        loss = self.task.loss(outputs, batch)
        if not torch.isfinite(loss):
            self.diverged = True
            self.trainer.should_stop = True
            return None
        if self._logs_this_step():
            metrics = self.task.metrics(outputs, batch, loss)
            logged = {f"train/{k}": v for k, v in metrics.items()}
            logged["train/loss_ratio"] = loss.detach() / self._baseline(batch)
            logged["train/length"] = float(self.trainer.datamodule.length)
            self._pending = logged
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
        if self._pending:
            self._pending["train/grad_norm"] = norm

    def on_train_batch_end(self, outputs, batch, batch_idx):
        """Send the step's training metrics to every logger in one call (see module doc)."""
        if not self._pending:
            return
        scalars = {k: float(v) for k, v in self._pending.items()}
        self._pending = {}
        self.train_metrics = scalars
        # the step and epoch Lightning's own logger connector would write for this step
        step = self.global_step - 1
        row = {**scalars, "epoch": self.current_epoch}
        for logger in self.loggers:
            if isinstance(logger, WandbLogger) and (step + 1) % self.wandb_every:
                continue  # W&B gets every wandb_every-th step; metrics.csv every step
            logger.log_metrics(row, step=step)

    def configure_optimizers(self):
        o = self.optim
        cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[o.name]
        opt = cls(self.parameters(), lr=o.lr, weight_decay=o.weight_decay,
                  fused=fused_optimizer(self.parameters()))
        total, warm = self.max_steps, o.warmup_steps
        if o.schedule == "constant" and warm == 0:
            return opt   # the LR never changes: no scheduler to step every step

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


def fused_optimizer(params) -> bool | None:
    """True (torch's fused Adam/AdamW kernel) when every parameter is a float tensor on CPU or
    CUDA, else None (torch's default). The fused kernel updates all parameters in one call:
    measured 46 vs 121 us per step (H=64 LSTM) and 139 vs 359 us (H=256) against the default
    per-parameter loop on this project's CPUs (torch 2.13, 1 thread), the same numbers to
    float32 round-off (1e-7 after 20 steps)."""
    params = list(params)
    ok = params and all(p.device.type in ("cpu", "cuda") and p.dtype in
                        (torch.float32, torch.float64, torch.float16, torch.bfloat16)
                        for p in params)
    return True if ok else None


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
