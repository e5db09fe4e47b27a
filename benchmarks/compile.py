"""Does torch.compile pay for lrd's models on CPU? Compile time against the per-step saving.

For each model, times a training step (forward, loss, backward) of the eager model and of
``torch.compile(model)`` (inductor, default mode), interleaved after the compiled one has
warmed up, and reports the one-off compile time (first compiled step minus an eager step) and
the break-even number of steps (compile time / saving per step; inf when it does not save).

    .venv/bin/python benchmarks/compile.py [--models attention,lstm] [--threads 1]

Writes ``results/bench/compile.csv``. Not part of ``make bench`` (compiling takes minutes on
2 cores).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402

import lrd.models  # noqa: E402
import lrd.tasks  # noqa: E402
from lrd import data  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="attention,lstm,gru,rnn")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--length", type=int, default=100)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=7)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    task = lrd.tasks.make(bench.TASK)
    b = task.sample(a.batch, a.length, data.generator(0, "train"))
    rows = []
    for name in a.models.split(","):
        torch.manual_seed(0)
        model = lrd.models.make(name, task, hidden_size=a.hidden)
        compiled = torch.compile(model)

        def step(m):
            def f():
                m.zero_grad(set_to_none=True)
                task.loss(m(b.inputs), b).backward()
            return f
        eager_once = bench.median_time(step(model), 3, 1)
        t0 = time.perf_counter()
        step(compiled)()
        first = time.perf_counter() - t0
        ts = bench.interleaved({"eager": step(model), "compiled": step(compiled)}, a.repeats)
        saving = ts["eager"] - ts["compiled"]
        compile_s = first - eager_once
        rows.append({"model": name, "length": a.length, "hidden": a.hidden, "batch": a.batch,
                     "eager_ms": 1e3 * ts["eager"], "compiled_ms": 1e3 * ts["compiled"],
                     "speedup": ts["eager"] / ts["compiled"], "compile_s": compile_s,
                     "break_even_steps": compile_s / saving if saving > 0 else float("inf")})
        print(rows[-1], flush=True)
    bench.write_csv("compile.csv", rows)
    bench.table("torch.compile vs eager (training step: forward, loss, backward)", rows,
                ["model", "eager_ms", "compiled_ms", "speedup", "compile_s", "break_even_steps"],
                {"eager_ms": ".2f", "compiled_ms": ".2f", "speedup": ".2f", "compile_s": ".1f",
                 "break_even_steps": ".0f"})


if __name__ == "__main__":
    main()
