"""Train one run from a config and write its record: ``lrd train --config FILE [key=value ...]``.

Steps: resolve and validate the whole config (nothing runs on a bad one); seed everything;
build task, regime and model; fit with Lightning; evaluate the final model on the fixed test set
at the training length and at every ``train.eval_lengths``; write ``record.json``.

The final model (not the best checkpoint) is the one evaluated. ``solved`` means the task's own
criterion holds on the test set at the target length. A run whose loss becomes non-finite stops
and is recorded as ``diverged``; one that raises is recorded as ``failed`` and the error re-raised.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timezone
import warnings
from pathlib import Path

import torch

from lrd import config as cfglib
from lrd import data
from lrd.training import record
from lrd.config import RunConfig

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS


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


def device_name(accelerator: str) -> str:
    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return "cpu: " + line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu"


def train(cfg: RunConfig) -> dict:
    """Run ``cfg`` to the end and return its record (also written to disk)."""
    import pytorch_lightning as pl
    from pytorch_lightning.loggers import CSVLogger

    from lrd.training.module import LitRun, TaskData, evaluate

    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)  # no GPU/TPU/tip banners
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    pl.seed_everything(cfg.seed, verbose=False)
    built = cfglib.build(cfg)  # validates everything; task, regime and model built once
    resolved, task, regime, model = built.resolved, built.task, built.regime, built.model
    run_id = built.run_id
    length = cfg.task["length"]
    staging = record.staging_dir(cfglib.out_dir(cfg), run_id)
    rec = {
        "run_id": run_id,
        "config": resolved,
        "config_hash": cfglib.config_hash(resolved),
        "seeds": {"seed": cfg.seed, "model_init": cfg.seed,
                  **{f"{s}_stream": data.stream_seed(cfg.seed, s) for s in data.SPLITS}},
        "baseline_loss": task.baseline_loss(length),
        "status": "running",
        "started_at": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
    }
    start = time.perf_counter()
    try:
        dm = TaskData(task, regime.start_length(length), cfg.train.batch_size, cfg.seed,
                      cfg.train.val_size)
        lit = LitRun(task, model, regime, cfg.optim, length, cfg.train.max_steps,
                     cfg.train.early_stop, cfg.train.solve_patience, cfg.log.wandb_every)
        loggers = [CSVLogger(staging, name="", version="")]
        if cfg.log.wandb:
            loggers.append(_wandb_logger(cfg, resolved, run_id))
        callbacks = []
        if cfg.analysis.enabled:  # spectra, gradient decay, Lyapunov at init and end
            from lrd.analysis.callback import AnalysisCallback
            callbacks.append(AnalysisCallback(task, length, staging, cfg.seed,
                                              cfg.analysis.batch_size, cfg.analysis.every,
                                              wandb=cfg.log.wandb))
        trainer = pl.Trainer(
            max_steps=cfg.train.max_steps, accelerator=cfg.train.accelerator,
            devices=cfg.train.devices, precision=cfg.train.precision,
            deterministic=cfg.train.deterministic, logger=loggers,
            val_check_interval=cfg.train.val_every, check_val_every_n_epoch=None,
            num_sanity_val_steps=0, log_every_n_steps=cfg.log.every,
            enable_checkpointing=False, enable_model_summary=False,
            enable_progress_bar=cfg.train.progress_bar, default_root_dir=staging,
            callbacks=callbacks)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".*does not have many workers.*")
            warnings.filterwarnings("ignore", ".*IterableDataset.*__len__.*")
            warnings.filterwarnings("ignore", ".*LeafSpec.*")
            trainer.fit(lit, datamodule=dm)
        train_time = time.perf_counter() - start
        device = lit.device
        metrics = {"test": evaluate(model, task, regime, data.fixed_set(
            task, length, cfg.train.test_size, cfg.seed, "test", device))}
        metrics["lengths"] = {
            str(n): evaluate(model, task, regime, data.fixed_set(
                task, n, cfg.train.test_size, cfg.seed, "test", device))
            for n in sorted(set(cfg.train.eval_lengths))}
        metrics["val"] = {k[4:]: float(v) for k, v in trainer.callback_metrics.items()
                          if k.startswith("val/")}
        rec.update(
            metrics=metrics, steps=int(trainer.global_step),
            solved=bool(task.solved(metrics["test"])) and not lit.diverged,
            diverged=lit.diverged, status="diverged" if lit.diverged else "complete",
            train_time_s=train_time, wall_time_s=time.perf_counter() - start,
            length_schedule=lit.lengths, final_train_length=dm.length,
            env=record.environment(device_name(cfg.train.accelerator)))
        if callbacks:
            rec["analysis"] = callbacks[0].summary
        if cfg.log.wandb:
            _wandb_summary(loggers[-1], rec)
    except BaseException as err:
        rec.update(status="failed", error=f"{type(err).__name__}: {err}", solved=False,
                   diverged=False, wall_time_s=time.perf_counter() - start,
                   env=record.environment(device_name(cfg.train.accelerator)))
        if not isinstance(err, KeyboardInterrupt):
            record.finish(staging, rec)
        raise
    finally:
        if cfg.log.wandb:
            import wandb
            if wandb.run is not None:
                wandb.finish()
    rec["run_dir"] = str(record.finish(staging, rec))
    return rec


def _wandb_logger(cfg: RunConfig, resolved: dict, run_id: str):
    from pytorch_lightning.loggers import WandbLogger

    return WandbLogger(project=cfg.log.project, group=cfg.log.group, name=run_id,
                       config=resolved, save_dir=".", mode=wandb_mode(),
                       tags=[resolved["task"]["name"], resolved["model"]["name"],
                             resolved["regime"]["name"]])


def _wandb_summary(logger, rec: dict) -> None:
    """Final numbers into the W&B run summary, where sweep dashboards read their metric."""
    summary = {f"test/{k}": v for k, v in rec["metrics"]["test"].items()}
    for n, m in rec["metrics"]["lengths"].items():
        summary.update({f"length_{n}/{k}": v for k, v in m.items()})
    summary.update(solved=int(rec["solved"]), diverged=int(rec["diverged"]),
                   steps=rec["steps"], wall_time_s=rec["wall_time_s"])
    logger.experiment.summary.update(record.clean(summary))
