"""The one LightningDataModule and the one LightningModule that serve every task × model pair.

``TaskData`` draws a fresh training batch every step from the run's train stream at the current
training length (the stream itself is the train loader: no DataLoader around it), and serves
the fixed validation set at that length; the length is the run's ``LengthSchedule``'s
(lrd/training/schedule.py), which alone grows it (curriculum) and stops the run when it is
solved. ``LitRun`` trains ``model`` on ``task`` under a regime and stops the run
when the loss becomes non-finite (``diverged``). It takes each optimiser step itself (Lightning's
manual optimisation): the same step, in the same order, as Lightning's automatic loop took it,
without that loop's per-step closure and hook machinery (~0.2-0.5 ms a step on this project's
CPUs; benchmarks/README.md); metrics.csv and the record are the same, byte for byte
(tests/test_speed_paths.py).

Logging, all through ``self.log``: on the steps Lightning sends to the loggers (every
``log.every`` steps, the Trainer's ``log_every_n_steps``, and at a stop) the training step logs
the loss, the task's metrics, loss / baseline_loss and the training length, and the step's
global gradient norm (before clipping) is logged beside them. On other steps nothing is computed
or logged: ``self.log`` costs ~0.4 ms per key on this project's CPUs (Lightning moves each
key's result object to the value's device through ``apply_to_collection`` on every call), so
six keys cost ~2.3 ms a step, ~30% of an LSTM H=64 copy-30 step and ~4% of an LSTM H=128
adding-200 one (benchmarks/README.md). Validation logs the task's metrics and loss /
baseline_loss, reduced over the validation set (``on_epoch``).
"""

from __future__ import annotations

import math

import pytorch_lightning as pl
import torch

from lrd import data
from lrd.config import Optim
from lrd.training.regimes import Regime
from lrd.tasks import Batch, Task


class FreshBatches(torch.utils.data.IterableDataset):
    """An endless stream of new batches from one generator, at ``source.length`` each time,
    with every row that is one of the run's evaluation sequences replaced (``data.exclude``;
    ``source.replaced`` counts them).

    The generator lives on the training device, so on a GPU batches are sampled there with no
    copy (the CPU and CUDA generators give different streams for the same seed)."""

    def __init__(self, source: "TaskData"):
        self.source = source

    def __iter__(self):
        s = self.source
        trainer = getattr(s, "trainer", None)
        device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
        gen = data.generator(s.seed, "train", device)
        held = data.HeldOut(s.task, s.seed, s.held_sizes, device)
        while True:
            length = s.length

            def draw():
                return s.task.sample(s.batch_size, length, gen)
            batch = draw()
            if length not in s.saturated:
                kept = data.exclude(batch, held.at(length), draw)
                if kept is None:          # nothing can be held out at this length
                    s.saturated.append(length)
                else:
                    batch, n = kept
                    s.replaced += n
            yield batch


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
    """Batches of ``task`` at ``schedule.length`` (anything with a ``length``: the run's
    ``LengthSchedule``): fresh ones for training, the fixed validation set for validation.
    ``test_sizes``: {length: [sizes of the run's fixed test sets at that length]}; training
    never draws a sequence of those sets or of the validation set (``replaced`` counts the
    rows it drew and replaced), except at the lengths in ``saturated``, where those sets hold
    nearly every sequence (``data.exclude``)."""

    def __init__(self, task: Task, schedule, batch_size: int, seed: int, val_size: int,
                 val_chunk: int = 512, test_sizes: dict[int, list[int]] | None = None):
        super().__init__()
        self.task, self.schedule, self.batch_size = task, schedule, batch_size
        self.seed, self.val_size, self.val_chunk = seed, val_size, val_chunk
        self.test_sizes = test_sizes or {}
        self.replaced = 0
        self.saturated: list[int] = []

    def held_sizes(self, length: int) -> list[tuple[str, int]]:
        """The (split, size) of every fixed set evaluated at ``length``."""
        return [("val", self.val_size), *(("test", n) for n in self.test_sizes.get(length, []))]

    @property
    def length(self) -> int:
        """The current training length (read-only here: the schedule owns it)."""
        return self.schedule.length

    def train_dataloader(self):
        # The stream itself, not a DataLoader over it: Lightning iterates any iterable, and a
        # DataLoader with batch_size=None and no workers only adds its per-step machinery
        # (its iterator, default_convert of every batch, a profiler record_function) to the
        # same batches, in the same order.
        return FreshBatches(self)

    def val_dataloader(self):
        return FixedSet(self, self.val_chunk)

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        return batch.to(device)


class LitRun(pl.LightningModule):
    def __init__(self, task: Task, model: torch.nn.Module, regime: Regime, optim: Optim,
                 max_steps: int):
        super().__init__()
        self.task, self.model, self.regime, self.optim = task, model, regime, optim
        self.max_steps = max_steps     # the LR schedule's horizon
        self.diverged = False          # the training loss became non-finite
        self.logging_step = False      # this step's training metrics go to the loggers
        self.automatic_optimization = False   # training_step steps the optimiser (below)

    # -- steps ----------------------------------------------------------------------------
    def _logs_this_step(self) -> bool:
        """Whether Lightning sends this step's metrics to the loggers (its own rule: every
        ``log_every_n_steps`` optimiser steps, counting from 1, and at a stop)."""
        every = self.trainer.log_every_n_steps
        return bool(every) and ((self.global_step + 1) % every == 0 or self.trainer.should_stop)

    def training_step(self, batch: Batch, batch_idx: int):
        # Manual optimisation (``automatic_optimization = False``): the step as a plain loop
        # writes it, in the order Lightning's automatic loop runs it (forward and loss, zero
        # the gradients, backward, clip in ``on_before_optimizer_step``, optimiser step, LR
        # schedule step), without that loop's closure, progress and hook machinery around it.
        opt = self.optimizers()
        outputs = self.regime.train_outputs(self.model, self.task, batch)
        loss = self.task.loss(outputs, batch)
        self.logging_step = False
        opt.zero_grad()   # set_to_none, as Lightning's automatic loop does before backward
        if not math.isfinite(loss.item()):   # one scalar read; no extra kernel a step
            self.diverged = True
            self.trainer.should_stop = True
            # The optimiser step is still taken, as Lightning's automatic loop took it after a
            # training_step returning None: no parameter moves, and the step counts
            # (global_step, the record's ``steps``). Without a GradScaler: no backward, so no
            # parameter has a gradient. A GradScaler (16-mixed) refuses a step without
            # gradients, so there the non-finite loss is backed up: the scaler finds
            # non-finite gradients and skips the update itself.
            if _scaler(self) is not None:
                self.manual_backward(loss)
            opt.step()
            return None
        self._log_training(outputs, batch, loss)
        self.manual_backward(loss)
        opt.step()        # runs on_before_optimizer_step (clipping, grad_norm) before the update
        sched = self.lr_schedulers()
        if sched is not None:
            sched.step()
        return loss

    def _log_training(self, outputs, batch: Batch, loss) -> None:
        """On the steps Lightning writes (``logging_step``), the task's metrics, the loss
        ratio and the training length, through ``self.log``."""
        self.logging_step = self._logs_this_step()
        if self.logging_step:
            logged = {f"train/{k}": v for k, v in self.task.metrics(outputs, batch, loss).items()}
            logged["train/loss_ratio"] = loss.detach() / self._baseline()
            logged["train/length"] = float(self.trainer.datamodule.length)
            self.log_dict(logged, on_step=True, on_epoch=False, batch_size=len(batch))

    def validation_step(self, batch: Batch, batch_idx: int):
        outputs = self.regime.eval_outputs(self.model, self.task, batch)
        metrics = self.task.metrics(outputs, batch)
        metrics["loss_ratio"] = metrics["loss"] / self._baseline()
        self.log_dict({f"val/{k}": v for k, v in metrics.items()}, on_epoch=True,
                      batch_size=len(batch))

    def _baseline(self) -> float:
        return self.task.baseline_loss(self.trainer.datamodule.length)

    # -- optimisation ---------------------------------------------------------------------
    def on_before_optimizer_step(self, optimizer):
        clip = self.optim.grad_clip if self.optim.grad_clip is not None else math.inf
        norm = torch.nn.utils.clip_grad_norm_(self.parameters(), clip)
        if self.logging_step:
            self.log("train/grad_norm", norm, on_step=True, on_epoch=False, batch_size=1)

    def configure_optimizers(self):
        o = self.optim
        cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
               "sgd": torch.optim.SGD}[o.name]
        # Not fused under a GradScaler (16-mixed): Lightning unscales the gradients before
        # on_before_optimizer_step only for optimisers that do not unscale themselves, and the
        # fused ones do; the clipping and the logged grad_norm there need unscaled gradients.
        fused = None if _scaler(self) is not None else fused_optimizer(self.parameters())
        opt = cls(self.parameters(), lr=o.lr, weight_decay=o.weight_decay, fused=fused)
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
        return {"optimizer": opt, "lr_scheduler": sched}   # stepped every step by training_step


def _scaler(module: pl.LightningModule):
    """The GradScaler of the module's Trainer's precision plugin (16-mixed), or None (also when
    no Trainer is attached, as when ``configure_optimizers`` is called by hand)."""
    try:
        trainer = module.trainer
    except RuntimeError:
        return None
    return getattr(getattr(trainer, "precision_plugin", None), "scaler", None)


def fused_optimizer(params) -> bool | None:
    """True (torch's fused Adam/AdamW/SGD kernel) when every parameter is a float tensor on CPU
    or CUDA, else None (torch's default). The fused kernel updates all parameters in one call:
    for Adam, measured 46 vs 121 us per step (H=64 LSTM) and 139 vs 359 us (H=256) against the default
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
