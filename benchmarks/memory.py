"""Peak memory of lrd training steps at one point, measured in this (fresh) process.

    python benchmarks/memory.py MODEL LENGTH HIDDEN BATCH [--threads N] [--steps 3]

Method: tracemalloc cannot see torch's allocations, so this uses the kernel's high-water mark
of the process's resident set, ``resource.getrusage(RUSAGE_SELF).ru_maxrss``. Imports, model,
optimiser and the first batch are set up first; the figure is ru_maxrss after ``--steps``
training steps (forward, loss, backward, clip, Adam) minus ru_maxrss just before them, i.e. the
extra peak that the steps themselves need (activations kept for backward, gradients, optimiser
state, workspace). One point per process, so earlier points cannot hide a later one's peak.
Also printed: torch's CPU allocator statistics if this build exposes them
(``torch.cpu.memory_stats`` is not available for the default CPU allocator; then NaN).
Prints one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import resource

import torch

import lrd.models
import lrd.tasks
from lrd import data
from lrd.module import fused_optimizer


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("length", type=int)
    p.add_argument("hidden", type=int)
    p.add_argument("batch", type=int)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--task", default="prefix_sum")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    task = lrd.tasks.make(a.task)
    torch.manual_seed(0)
    model = lrd.models.make(a.model, task, hidden_size=a.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3,
                           fused=fused_optimizer(model.parameters()))  # as LitRun does
    gen = data.generator(0, "train")
    b = task.sample(a.batch, a.length, gen)
    before = maxrss_mib()
    for _ in range(a.steps):
        loss = task.loss(model(b.inputs), b)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        b = task.sample(a.batch, a.length, gen)
    peak = maxrss_mib() - before
    alloc = float("nan")
    try:  # only some builds/allocators keep CPU statistics
        stats = torch.cpu.memory_stats()  # type: ignore[attr-defined]
        alloc = stats.get("allocated_bytes.all.peak", float("nan")) / 2 ** 20
    except Exception:
        pass
    print(json.dumps({"model": a.model, "length": a.length, "hidden": a.hidden,
                      "batch": a.batch, "peak_mib": peak, "torch_alloc_mib": alloc,
                      "maxrss_total_mib": maxrss_mib()}))


if __name__ == "__main__":
    main()
