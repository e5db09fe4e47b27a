"""The one place lrd builds a ``pl.Trainer``: ``make_trainer``, used by ``train`` (and so by
every sweep, which runs ``train``) and by the benchmarks, which time exactly this Trainer.

    trainer = make_trainer(cfg, out_dir, loggers(cfg, out_dir), callbacks=[schedule])
    fit(trainer, LitRun(...), TaskData(...))

What it sets, from ``cfg.train`` and ``cfg.log``: ``max_steps``; validation every
``train.val_every`` optimiser steps (the training stream is endless, so there are no epochs to
count), no sanity validation; metrics to the loggers every ``log.every`` steps; accelerator,
devices, precision; torch deterministic algorithms (``train.deterministic``); no checkpoints
(the final model, not the best one, is evaluated) and no model summary; the progress bar if
``train.progress_bar``. ``extra`` keyword arguments override or add Trainer arguments (the
benchmarks switch validation off with them).

Determinism, set once per process here, where torch's global flags are set anyway: Lightning's
``deterministic=True`` calls ``torch.use_deterministic_algorithms(True)`` when the Trainer is
built and never restores it. Under it torch by default also fills every uninitialised tensor
(``torch.empty``, kernel workspaces) with NaN, a bug detector that changes no correct result and
costs, measured, 10-17% of an LSTM H=64 training step on the CPU (GRU, RNN and attention within
noise; benchmarks/README.md). ``make_trainer`` turns that filling off
(``torch.utils.deterministic.fill_uninitialized_memory = False``) beside Lightning's flag and
leaves both set, as Lightning does: nothing is toggled around a fit, and a process that has
built a deterministic Trainer keeps torch in one documented state.

Loggers: ``metrics.csv`` (``CSVLogger``) gets every logged row; W&B (``WandbEvery``) gets the
training rows of every ``log.wandb_every``-th step only (each ``wandb.log`` costs ~3 ms) and every
row that holds anything else (validation, analysis). Lightning sends every row to every logger
(``log_every_n_steps`` is one rate for all), so the rate of one logger is that logger's own
business: a ``WandbLogger`` whose ``log_metrics`` drops the training rows off its grid.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import TQDMProgressBar
from pytorch_lightning.loggers import CSVLogger, WandbLogger
from pytorch_lightning.utilities import rank_zero_only

from lrd.config import RunConfig

# Lightning's advice that does not apply to lrd: batches are drawn in-process from a generator
# (no workers), the training stream is an endless IterableDataset (no __len__).
QUIET = (".*does not have many workers.*", ".*IterableDataset.*__len__.*", ".*LeafSpec.*")


def make_trainer(cfg: RunConfig, out_dir, loggers=(), callbacks=(), **extra) -> pl.Trainer:
    """The Trainer of one run of ``cfg`` writing into ``out_dir`` (module docstring)."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)  # no GPU/TPU/tip banners
    t = cfg.train
    args = dict(
        max_steps=t.max_steps, accelerator=t.accelerator, devices=t.devices,
        precision=t.precision, deterministic=t.deterministic, logger=list(loggers) or False,
        val_check_interval=t.val_every, check_val_every_n_epoch=None, num_sanity_val_steps=0,
        log_every_n_steps=cfg.log.every, enable_checkpointing=False,
        enable_model_summary=False, enable_progress_bar=t.progress_bar,
        default_root_dir=Path(out_dir),
        callbacks=[*callbacks, *([Bar()] if t.progress_bar else [])])
    trainer = pl.Trainer(**{**args, **extra})
    if t.deterministic:
        torch.utils.deterministic.fill_uninitialized_memory = False
    return trainer


class Bar(TQDMProgressBar):
    """Lightning's progress bar without its ``v_num`` entry (a logger version, meaningless
    here), redrawn every step on a terminal and every 100 steps into a file or pipe, so that a
    log of a long run is not thousands of bar lines."""

    def __init__(self):
        super().__init__(refresh_rate=1 if sys.stderr.isatty() else 100)

    def get_metrics(self, trainer, pl_module):
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return metrics


def fit(trainer: pl.Trainer, module: pl.LightningModule, datamodule) -> None:
    """``trainer.fit`` without the warnings listed in ``QUIET``."""
    with warnings.catch_warnings():
        for pattern in QUIET:
            warnings.filterwarnings("ignore", pattern)
        trainer.fit(module, datamodule=datamodule)


class WandbEvery(WandbLogger):
    """A WandbLogger that keeps a row of training metrics only at every ``every``-th step
    (steps as Lightning numbers its rows: 0-based, so steps every-1, 2·every-1, ...)."""

    def __init__(self, every: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.every = every

    @rank_zero_only
    def log_metrics(self, metrics, step=None) -> None:
        training_only = all(k.startswith("train/") or k == "epoch" for k in metrics)
        if training_only and step is not None and (step + 1) % self.every:
            return
        super().log_metrics(metrics, step)


def wandb_mode() -> str:
    """WANDB_MODE if set; else online when the user has logged in, offline otherwise."""
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    try:
        import netrc
        if netrc.netrc().authenticators("api.wandb.ai"):
            return "online"
    except (OSError, netrc.NetrcParseError):
        pass
    return "offline"


def wandb_dir() -> str:
    """Where W&B writes its ``wandb/`` folder: ``WANDB_DIR`` if set, else the working
    directory, as an absolute path (W&B's service resolves a relative one against the working
    directory of the process that first started it, not the current one)."""
    return os.path.abspath(os.environ.get("WANDB_DIR") or os.getcwd())


def loggers(cfg: RunConfig, out_dir, resolved: dict | None = None,
            run_id: str | None = None) -> list:
    """``metrics.csv`` in ``out_dir``, and with ``log.wandb`` a W&B run named ``run_id`` holding
    the ``resolved`` config. The W&B run starts here, so a run that fails at any later point is
    still a W&B run, ended as failed (``lrd.training.run``)."""
    out = [CSVLogger(out_dir, name="", version="")]
    if cfg.log.wandb:
        resolved = resolved or cfg.model_dump()
        wb = WandbEvery(cfg.log.wandb_every, project=cfg.log.project, group=cfg.log.group,
                        name=run_id, config=resolved, save_dir=wandb_dir(), mode=wandb_mode(),
                        tags=[resolved["task"]["name"], resolved["model"]["name"],
                              resolved["regime"]["name"]])
        wb.experiment  # noqa: B018 -- starts the W&B run now
        out.append(wb)
    return out
