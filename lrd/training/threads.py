"""CPU thread settings of a training process, so that no lrd process oversubscribes the cores.

The trap (benchmarks/README.md, results/bench/threads.csv): torch runs each op of a recurrent
step on its intra-op OpenMP threads, which meet at a barrier after every small per-time-step
op. Alone on 2 cores, 2 threads are about as fast as 1. But when the threads of all processes
outnumber the cores (two processes of 2 threads each on 2 cores, or any other job holding a
core), a thread that reaches the barrier waits for one that is descheduled, for a whole
scheduler slice, after every op: each step becomes several times slower.

Rules, applied by ``apply`` (``lrd train``, through ``lrd.training.run.train``) and by the sweep
runner (``lrd.sweeps.runner``):

- intra-op threads: ``train.threads`` if set, else the cores this process may use
  (``usable_cores``: its CPU affinity, not the machine's count, which torch's own default reads);
- inter-op threads: 1 (lrd runs no ``torch.jit.fork`` work; torch's default pool has one
  thread per core on top of the intra-op ones);
- a sweep of N workers gives each ``worker_threads(N)`` = cores // N threads (at least 1), so
  workers × threads <= cores whenever N <= cores, and sets ``OMP_NUM_THREADS`` /
  ``MKL_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` to it in the environment the spawned workers
  inherit (``worker_env``), so that their OpenMP pools are that size from the moment torch is
  imported, before any lrd code runs in them.
"""

from __future__ import annotations

import contextlib
import os

ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def worker_threads(workers: int, cores: int | None = None) -> int:
    """Intra-op threads of each of ``workers`` processes sharing ``cores`` (default: usable):
    cores // workers, at least 1."""
    cores = usable_cores() if cores is None else cores
    return max(1, cores // max(1, workers))


def apply(threads: int | None = None) -> tuple[int, int]:
    """Set torch's intra-op threads to ``threads`` (None: ``usable_cores()``) and its inter-op
    threads to 1. Returns torch's (intra-op, inter-op) thread counts afterwards.

    torch accepts the inter-op count only before its inter-op pool has started; in a process
    where it already has (a second run in the same process), that count stays as it is."""
    import torch

    torch.set_num_threads(threads or usable_cores())
    if torch.get_num_interop_threads() != 1:
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)
    return torch.get_num_threads(), torch.get_num_interop_threads()


@contextlib.contextmanager
def worker_env(threads: int):
    """While open, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` and ``OPENBLAS_NUM_THREADS`` are
    ``threads`` in this process's environment, which processes spawned meanwhile inherit;
    restored on exit."""
    saved = {k: os.environ.get(k) for k in ENV_VARS}
    os.environ.update({k: str(threads) for k in ENV_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
