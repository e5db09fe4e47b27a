"""lrd: a reproducible benchmark for long-range dependency in recurrent networks."""

__version__ = "0.1.0"


def _tune_malloc() -> None:
    """Keep freed memory in the process for reuse (glibc only; ``LRD_MALLOPT=0`` turns it off).

    A training step allocates and frees the same large buffers (tens of MB) every step. With
    glibc's defaults those come from fresh mmap()s, or from a heap trimmed back to the OS, so
    every step pays page faults on memory it had a step ago. Measured in
    results/bench/allocator.csv (benchmarks/allocator.py, benchmarks/README.md). Done here, at
    ``import lrd``, so ``make test``, ``make reproduce``, notebooks and spawned sweep workers
    all get it with nothing to install and no restart; numbers are unchanged (an allocator
    moves no arithmetic). Costs: resident memory stays at the process's peak.
    """
    import os
    import sys
    if os.environ.get("LRD_MALLOPT", "1") == "0" or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # glibc, not musl
    except (OSError, AttributeError):
        return
    libc.mallopt(-1, 1 << 30)   # M_TRIM_THRESHOLD: never give the top of the heap back
    libc.mallopt(-4, 0)         # M_MMAP_MAX = 0: large blocks from the (reused) heap too


_tune_malloc()
