"""Train one run from a config and write its record: ``lrd train --config FILE [key=value ...]``.

Steps: resolve and validate the whole config (nothing runs on a bad one); seed everything;
build task, regime and model; fit with Lightning; evaluate the final model on the fixed test set
at the training length and at every ``train.eval_lengths``; write ``record.json``.

The final model (not the best checkpoint) is the one evaluated. ``solved`` means the task's own
criterion holds on the test set at the target length. A run whose loss becomes non-finite stops
and is recorded as ``diverged``; one that raises is recorded as ``failed`` and the error re-raised.
With ``log.wandb`` the W&B run starts before the Trainer is built and ends with the run's status:
exit code 0 when complete, 1 when failed or diverged (W&B shows the run as failed), and
``status`` in its summary.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from lrd import config as cfglib
from lrd import data
from lrd.config import RunConfig
from lrd.training import record, threads

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS


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

    from lrd.training.module import LitRun, TaskData, evaluate
    from lrd.training.schedule import LengthSchedule
    from lrd.training.trainer import fit, loggers, make_trainer

    threads.apply(cfg.train.threads)   # null: the usable cores; inter-op 1 (lrd.training.threads)
    pl.seed_everything(cfg.seed, verbose=False)
    built = cfglib.build(cfg)  # validates everything; task, regime and model built once
    resolved, task, regime, model = built.resolved, built.task, built.regime, built.model
    cfg = cfglib.validate(resolved)   # what runs: e.g. max_steps as the number for this length
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
        run_loggers = loggers(cfg, staging, resolved, run_id)
        schedule = LengthSchedule(task, regime, length, cfg.train.solve_patience,
                                  cfg.train.early_stop)
        callbacks = [schedule]
        if cfg.analysis.enabled:  # spectra, gradient decay, Lyapunov at init and end
            from lrd.analysis.callback import AnalysisCallback
            callbacks.append(AnalysisCallback(task, length, staging, cfg.seed,
                                              cfg.analysis.batch_size, cfg.analysis.every,
                                              wandb=cfg.log.wandb, regime=regime))
        trainer = make_trainer(cfg, staging, run_loggers, callbacks)
        lit = LitRun(task, model, regime, cfg.optim, cfg.train.max_steps)
        tests: dict[int, list[int]] = {length: [cfg.train.test_size]}
        for n in cfg.train.eval_lengths:
            tests.setdefault(n, []).append(cfg.train.eval_size or cfg.train.test_size)
        task_data = TaskData(task, schedule, cfg.train.batch_size, cfg.seed,
                             cfg.train.val_size, test_sizes=tests)
        fit(trainer, lit, task_data)
        train_time = time.perf_counter() - start
        device = lit.device
        metrics = {"test": evaluate(model, task, regime, data.fixed_set(
            task, length, cfg.train.test_size, cfg.seed, "test", device))}
        metrics["lengths"] = {
            str(n): evaluate(model, task, regime, data.fixed_set(
                task, n, cfg.train.eval_size or cfg.train.test_size, cfg.seed, "test", device))
            for n in sorted(set(cfg.train.eval_lengths))}
        metrics["val"] = {k[4:]: float(v) for k, v in trainer.callback_metrics.items()
                          if k.startswith("val/")}
        rec.update(
            metrics=metrics, steps=int(trainer.global_step),
            solved=bool(task.solved(metrics["test"])) and not lit.diverged,
            diverged=lit.diverged, status="diverged" if lit.diverged else "complete",
            train_time_s=train_time, wall_time_s=time.perf_counter() - start,
            length_schedule=schedule.history, final_train_length=schedule.length,
            held_out_rows_replaced=task_data.replaced,
            held_out_saturated_lengths=task_data.saturated,
            env=record.environment(device_name(cfg.train.accelerator)))
        if cfg.analysis.enabled:
            rec["analysis"] = callbacks[1].summary
        if cfg.log.wandb:
            _wandb_summary(run_loggers[-1], rec)
    except BaseException as err:
        rec.update(status="failed", error=f"{type(err).__name__}: {err}", solved=False,
                   diverged=False, wall_time_s=time.perf_counter() - start,
                   env=record.environment(device_name(cfg.train.accelerator)))
        if not isinstance(err, KeyboardInterrupt):
            record.finish(staging, rec)
        raise
    finally:
        if cfg.log.wandb:
            _wandb_finish(rec["status"])
    rec["run_dir"] = str(record.finish(staging, rec))
    return rec


def _wandb_finish(status: str) -> None:
    """End the live W&B run with the run's status: exit code 0 for a complete run, 1 for a
    failed or diverged one (W&B then shows it as failed), and the status in its summary."""
    import wandb

    if wandb.run is not None:
        wandb.run.summary["status"] = status
        wandb.finish(exit_code=0 if status == "complete" else 1)


def _wandb_summary(logger, rec: dict) -> None:
    """Final numbers into the W&B run summary, where sweep dashboards read their metric."""
    summary = {f"test/{k}": v for k, v in rec["metrics"]["test"].items()}
    for n, m in rec["metrics"]["lengths"].items():
        summary.update({f"length_{n}/{k}": v for k, v in m.items()})
    summary.update(solved=int(rec["solved"]), diverged=int(rec["diverged"]),
                   steps=rec["steps"], wall_time_s=rec["wall_time_s"])
    logger.experiment.summary.update(record.clean(summary))
