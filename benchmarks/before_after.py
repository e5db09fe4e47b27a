"""Before/after of the Lightning-path changes: lrd/training/module.py at a commit against now.

Loads ``LitRun`` from ``git show REV:lrd/training/module.py`` (default: 9cd063f, the last
revision that logged training metrics straight to the loggers, past ``self.log``, with the
``__setattr__`` bypass; 3ec4a63: the last one under Lightning's automatic optimisation) and from
the working tree, and times, in one process, alternating rounds: old Lightning, new Lightning,
bare loop (benchmarks/lightning_vs_bare.py). Both LitRuns are fitted by today's Trainer
(``make_trainer``) with today's TaskData, so the columns differ only by the module. The ratios
are medians of the per-round ratios (each round's three timings are adjacent). Writes
``results/bench/before_after.csv``.

    .venv/bin/python benchmarks/before_after.py [--rev 9cd063f] [--threads 1] [--all]
"""

from __future__ import annotations

import argparse
import copy
import inspect
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402
import lightning_vs_bare as lvb  # noqa: E402

import lrd.models  # noqa: E402
import lrd.tasks  # noqa: E402
from lrd.config import Optim  # noqa: E402
from lrd.training.module import LitRun  # noqa: E402


def old_litrun(rev: str):
    src = subprocess.run(["git", "show", f"{rev}:lrd/training/module.py"], capture_output=True,
                         text=True, check=True, cwd=HERE.parent).stdout
    mod = types.ModuleType("lrd_module_before")
    mod.__file__ = f"<{rev}:lrd/training/module.py>"
    exec(compile(src, mod.__file__, "exec"), mod.__dict__)
    return mod.LitRun


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rev", default="9cd063f")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=45)
    p.add_argument("--quick", action="store_true", help="one point (LSTM H=64 copy 30)")
    p.add_argument("--all", action="store_true",
                   help="the five points of lightning.csv (bench.py --only lightning)")
    p.add_argument("--log-every", type=int, default=1, help="log.every of both runs")
    p.add_argument("--csv", default="before_after.csv", help="file name in results/bench/")
    p.add_argument("--cpu-time", action="store_true",
                   help="time this thread's CPU time (steadier under load) instead of wall time")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    timer = time.thread_time if args.cpu_time else time.perf_counter
    Old = old_litrun(args.rev)

    old_takes_length = "target_length" in inspect.signature(Old).parameters

    def make_old(task, model, regime, optim, length, steps):
        if old_takes_length:    # 9cd063f: LitRun(task, model, regime, optim, length, steps)
            return Old(task, model, regime, optim, length, steps)
        return Old(task, model, regime, optim, steps)

    def make_new(task, model, regime, optim, length, steps):
        return LitRun(task, model, regime, optim, steps)

    rows = []
    points = [("rnn", "copy", 30, 64, 64), ("lstm", "copy", 30, 64, 64),
              ("lstm", "adding", 200, 128, 64)]
    if args.quick:
        points = points[1:2]
    elif args.all:
        points = [("rnn", "copy", 30, 64, 64), ("lstm", "copy", 30, 64, 64),
                  ("gru", "prefix_sum", 100, 64, 64), ("lstm", "adding", 200, 128, 64),
                  ("attention", "copy", 30, 64, 64)]
    for model_name, task_name, length, hidden, batch in points:
        task = lrd.tasks.make(task_name)
        torch.manual_seed(0)
        base = lrd.models.make(model_name, task, hidden_size=hidden)
        ts = {"before": [], "after": [], "bare": []}
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.rounds):
                for key, make in (("before", make_old), ("after", make_new)):
                    ts[key].append(lvb.lightning_round(
                        task, copy.deepcopy(base), length, batch, args.steps, 5, 0, Optim(),
                        f"{tmp}/{key}{r}", log_every=args.log_every, make_lit=make,
                        timer=timer))
                ts["bare"].append(lvb.bare_round(task, copy.deepcopy(base), length, batch,
                                                 args.steps, 5, 0, Optim(), timer))
        med = {k: statistics.median(v) for k, v in ts.items()}

        def ratio(key):   # median of the per-round bare / Lightning ratios
            return statistics.median(b / t for t, b in zip(ts[key], ts["bare"]))
        rows.append({"model": model_name, "task": task_name, "length": length,
                     "hidden": hidden, "batch": batch, "log_every": args.log_every,
                     "clock": "cpu" if args.cpu_time else "wall",
                     "before_ms": 1e3 * med["before"],
                     "after_ms": 1e3 * med["after"], "bare_ms": 1e3 * med["bare"],
                     "speedup": med["before"] / med["after"],
                     "ratio_before": ratio("before"), "ratio_after": ratio("after"),
                     "rev": args.rev, "rounds": args.rounds, "steps": args.steps - 5})
    bench.write_csv(args.csv, rows)
    bench.table(f"Lightning step before ({args.rev}) and after, vs bare loop (ms per step)",
                rows, ["model", "task", "length", "hidden", "before_ms", "after_ms", "bare_ms",
                       "speedup", "ratio_before", "ratio_after"],
                {k: ".2f" for k in ("before_ms", "after_ms", "bare_ms")} |
                {k: ".3f" for k in ("speedup", "ratio_before", "ratio_after")})


if __name__ == "__main__":
    main()
