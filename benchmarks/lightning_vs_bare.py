"""lrd's Lightning training step against a bare PyTorch loop doing the same work, same process.

Lightning path: the Trainer ``lrd train`` fits with, built by the same function
(``lrd.training.trainer.make_trainer`` with its loggers: metrics.csv every ``log_every`` steps,
no W&B), fitting ``LitRun`` with ``TaskData`` and the run's ``LengthSchedule``, deterministic,
32-true. Validation is disabled (``limit_val_batches=0``, the one Trainer argument added here)
and the progress bar is off (its cost is measured separately with ``--progress-bar``).

Bare loop: the same model (a copy with the same initial weights), the same optimiser
(``LitRun.configure_optimizers``, so the same kernels), the same batches: lrd's own train stream
(``FreshBatches`` over a ``TaskData`` like the Lightning fit's: a fresh batch from the train
generator each step, rows of the fixed validation set replaced), then forward, ``task.loss``,
zero the gradients, backward, ``clip_grad_norm_``, optimiser step (and the LR scheduler when lrd
steps one), under the same torch determinism settings the Lightning fit ran under
(``deterministic=True`` and ``fill_uninitialized_memory=False``, both set by ``make_trainer``).
Both paths take the same steps on the same batches, so they end with the same weights, bit for
bit (tests/test_speed_paths.py); what differs is Lightning's loop, its hooks, the divergence
check's one scalar read and the logging.

Timing: rounds alternate Lightning, bare, Lightning, bare, ...; each round runs ``steps`` steps
and is timed from the start of step ``warmup`` to the end of the last step (a Lightning callback
records the clock at batch start/end, so Trainer construction and fit set-up are excluded; the
batch fetch, every hook, logging and the CSV writes in between are included). The figure per
path is the median over rounds of the mean time per step; ratio = bare / Lightning throughput
ratio, i.e. t_bare / t_lightning (1.0 = no overhead). ``timer``: the clock, ``time.perf_counter``
(wall) by default; ``time.thread_time`` (this thread's CPU time, which torch's one intra-op
thread runs in) is steadier on a machine shared with other jobs (before_after.py --cpu-time).

Run alone: ``.venv/bin/python benchmarks/lightning_vs_bare.py``.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
import warnings

import torch

import lrd.models
import lrd.tasks
from lrd.training import regimes
from lrd.config import Optim, RunConfig


class Clock:
    """A Lightning callback: the clock at the start of step ``warmup`` and the end of each step."""

    def __init__(self, warmup: int, timer=time.perf_counter):
        import pytorch_lightning as pl

        clock = self

        class _CB(pl.Callback):
            def on_train_start(self, trainer, module):
                clock.settings = (torch.are_deterministic_algorithms_enabled(),
                                  torch.utils.deterministic.fill_uninitialized_memory)

            def on_train_batch_start(self, trainer, module, batch, batch_idx):
                if batch_idx == clock.warmup:
                    clock.t0 = timer()

            def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
                clock.t1 = timer()
                clock.n = batch_idx + 1

        self.warmup, self.callback = warmup, _CB()
        self.t0 = self.t1 = None
        self.n = 0

    def per_step(self) -> float:
        return (self.t1 - self.t0) / (self.n - self.warmup)


SETTINGS = {}   # torch's determinism settings during the last Lightning fit, for the bare loop


def run_config(steps, batch, progress_bar=False, log_every=1) -> RunConfig:
    """The config whose Trainer is timed: ``steps`` steps, CSV logging every ``log_every``."""
    return RunConfig.model_validate({
        "train": {"max_steps": steps, "batch_size": batch, "val_every": steps,
                  "accelerator": "cpu", "devices": 1, "precision": "32-true",
                  "deterministic": True, "progress_bar": progress_bar},
        "log": {"wandb": False, "every": log_every}})


def lightning_round(task, model, length, batch, steps, warmup, seed, optim, out_dir,
                    progress_bar=False, log_every=1, make_lit=None, timer=time.perf_counter):
    """One ``trainer.fit`` of ``steps`` steps as ``lrd train`` runs it; seconds per step.
    ``make_lit(task, model, regime, optim, length, steps)``: another LightningModule to fit
    instead of ``LitRun`` (benchmarks/before_after.py)."""
    from lrd.training.module import LitRun, TaskData
    from lrd.training.schedule import LengthSchedule
    from lrd.training.trainer import fit, loggers, make_trainer

    cfg = run_config(steps, batch, progress_bar, log_every)
    regime = regimes.make("full")
    schedule = LengthSchedule(task, regime, length)
    dm = TaskData(task, schedule, batch, seed, val_size=8)
    lit = (make_lit(task, model, regime, optim, length, steps) if make_lit
           else LitRun(task, model, regime, optim, steps))
    clock = Clock(warmup, timer)
    trainer = make_trainer(cfg, out_dir, loggers(cfg, out_dir), [schedule, clock.callback],
                           limit_val_batches=0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*limit_val_batches.*")
        fit(trainer, lit, dm)
    SETTINGS["deterministic"], SETTINGS["fill"] = clock.settings
    return clock.per_step()


def bare_round(task, model, length, batch, steps, warmup, seed, optim, timer=time.perf_counter,
               val_size=8):
    """The same work in a plain loop; seconds per step. ``val_size``: the Lightning fit's
    validation set, whose sequences the train stream replaces (``lightning_round``'s)."""
    from lrd.training.module import FreshBatches, LitRun, TaskData
    from lrd.training.schedule import LengthSchedule

    regime = regimes.make("full")
    lit = LitRun(task, model, regime, optim, steps)
    conf = lit.configure_optimizers()      # the very optimiser (and schedule) lrd uses
    if isinstance(conf, dict):
        opt, sched = conf["optimizer"], conf["lr_scheduler"]
    else:
        opt, sched = conf, None
    clip = optim.grad_clip if optim.grad_clip is not None else float("inf")
    stream = iter(FreshBatches(TaskData(task, LengthSchedule(task, regime, length), batch, seed,
                                        val_size=val_size)))
    params = list(model.parameters())
    model.train()
    saved = (torch.are_deterministic_algorithms_enabled(),
             torch.utils.deterministic.fill_uninitialized_memory)
    if SETTINGS:   # the very settings the Lightning fit ran under (deterministic=True, ...)
        torch.use_deterministic_algorithms(SETTINGS["deterministic"])
        torch.utils.deterministic.fill_uninitialized_memory = SETTINGS["fill"]
    t0 = None
    for i in range(steps):
        if i == warmup:
            t0 = timer()
        b = next(stream)
        loss = task.loss(regime.train_outputs(model, task, b), b)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        if sched is not None:
            sched.step()
    elapsed = (timer() - t0) / (steps - warmup)
    torch.use_deterministic_algorithms(saved[0])
    torch.utils.deterministic.fill_uninitialized_memory = saved[1]
    return elapsed


def compare(model_name="lstm", task_name="copy", length=30, hidden=64, batch=64, steps=60,
            warmup=10, rounds=5, seed=0, progress_bar=False, optim=None, verbose=False,
            log_every=1, timer=time.perf_counter):
    """Alternating rounds; returns a dict with both medians and the ratio. ``timer``: the
    clock of both paths (module docstring)."""
    task = lrd.tasks.make(task_name)
    torch.manual_seed(seed)
    base = lrd.models.make(model_name, task, hidden_size=hidden)
    optim = optim or Optim()
    lt, bt = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            lt.append(lightning_round(task, copy.deepcopy(base), length, batch, steps, warmup,
                                      seed, optim, f"{tmp}/{r}", progress_bar, log_every,
                                      timer=timer))
            bt.append(bare_round(task, copy.deepcopy(base), length, batch, steps, warmup,
                                 seed, optim, timer))
            if verbose:
                print(f"  round {r}: lightning {1e3 * lt[-1]:.3f} ms  bare {1e3 * bt[-1]:.3f} ms")
    L, Bm = statistics.median(lt), statistics.median(bt)
    # per-round ratios, adjacent pairs: robust to drifting machine load
    ratios = [b / l for l, b in zip(lt, bt)]
    return {"model": model_name, "task": task_name, "length": length,
            "steps_per_seq": task.sequence_length(length), "hidden": hidden, "batch": batch,
            "lightning_ms": 1e3 * L, "bare_ms": 1e3 * Bm, "ratio": statistics.median(ratios),
            "overhead_ms": 1e3 * (L - Bm), "log_every": log_every, "rounds": rounds,
            "clock": "cpu" if timer is time.thread_time else "wall",
            "steps": steps - warmup}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--model", default="lstm")
    p.add_argument("--task", default="copy")
    p.add_argument("--length", type=int, default=30)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--progress-bar", action="store_true")
    p.add_argument("--log-every", type=int, default=1)
    p.add_argument("--cpu-time", action="store_true",
                   help="time this thread's CPU time (steadier under load) instead of wall time")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    r = compare(args.model, args.task, args.length, args.hidden, args.batch, args.steps,
                rounds=args.rounds, progress_bar=args.progress_bar, verbose=True,
                log_every=args.log_every,
                timer=time.thread_time if args.cpu_time else time.perf_counter)
    print(r)


if __name__ == "__main__":
    main()
