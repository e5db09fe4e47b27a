"""Peak memory of lrd training steps at one point, measured in this (fresh) process.

    python benchmarks/memory.py MODEL LENGTH HIDDEN BATCH [--threads N] [--steps 3]

Method: tracemalloc cannot see torch's allocations (and this CPU build keeps no allocator
statistics), so this reads the kernel's high-water mark of the process's resident set. Imports,
model, optimiser and the first batch are set up first; then the peak is reset (writing 5 to
/proc/self/clear_refs resets VmHWM, Linux >= 4.0), ``--steps`` training steps run (forward,
loss, backward, clip, Adam), and the figure is VmHWM after them minus VmRSS just before them:
the extra resident memory the steps needed at their peak (activations kept for backward,
gradients, optimiser state, workspaces, allocator caching). One point per process, so earlier
points cannot hide a later one's peak. Where clear_refs cannot be written it falls back to
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` growth (``method`` says which), which
underestimates when the import-time peak was higher.
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
from lrd.training.module import fused_optimizer


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def status_mib(key: str) -> float:
    """VmRSS / VmHWM of this process from /proc/self/status, MiB (NaN if unavailable)."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


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
    rss_before, maxrss_before = status_mib("VmRSS"), maxrss_mib()
    hwm = reset_peak() and status_mib("VmHWM") <= rss_before + 1
    for _ in range(a.steps):
        loss = task.loss(model(b.inputs), b)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        b = task.sample(a.batch, a.length, gen)
    if hwm:
        peak, method = status_mib("VmHWM") - rss_before, "VmHWM-reset"
    else:
        peak, method = maxrss_mib() - maxrss_before, "ru_maxrss"
    print(json.dumps({"model": a.model, "length": a.length, "hidden": a.hidden,
                      "batch": a.batch, "peak_mib": peak, "method": method,
                      "rss_before_mib": rss_before}))


if __name__ == "__main__":
    main()
