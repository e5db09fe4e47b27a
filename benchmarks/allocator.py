"""Memory allocators against the training step of each recurrent model: results/bench/allocator.csv.

Configurations (each a fresh subprocess, since an allocator is chosen at process start):

  glibc            glibc's malloc with its defaults (lrd's own tuning off: LRD_MALLOPT=0)
  lrd              what ``import lrd`` sets (lrd/__init__.py): mallopt M_TRIM_THRESHOLD=1 GiB,
                   M_MMAP_MAX=0 (freed memory stays in the heap and is reused)
  mmap_threshold   glibc tunables MALLOC_MMAP_THRESHOLD_=32 MiB (glibc's maximum) and
                   MALLOC_TRIM_THRESHOLD_=1 GiB (blocks above 32 MiB are still mmap()ed)
  arena_max_1      MALLOC_ARENA_MAX=1 (one malloc arena), glibc defaults otherwise
  jemalloc         LD_PRELOAD of Debian's libjemalloc.so.2 (package libjemalloc2)
  tcmalloc         LD_PRELOAD of Debian's libtcmalloc_minimal.so.4 (libtcmalloc-minimal4)

(jemalloc and tcmalloc are the allocators PyTorch's CPU performance tuning guide names; a
configuration whose library is missing is skipped.) Each subprocess times one full training
step (benchmarks/measure.py ``train_step_fn``: sample, forward, loss, backward, clip, Adam) of
each recurrent model on each CPU path (``kernel``: lrd/models/kernels.py, ``module``: the torch
module), interleaved, and reports medians; the configurations run in alternating rounds
(A, B, C, ..., A, B, C, ...), and the figure is the median over rounds. ``ratio`` = the
glibc-default time / this configuration's time (> 1: faster). The same subprocess checks that
the numbers do not depend on the allocator: the loss after a few steps is printed bit for bit.

Run: ``.venv/bin/python benchmarks/allocator.py [--rounds 3] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIB = Path("/usr/lib/x86_64-linux-gnu")
CONFIGS = {
    "glibc": {"LRD_MALLOPT": "0"},
    "lrd": {},
    "mmap_threshold": {"LRD_MALLOPT": "0", "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
                       "MALLOC_TRIM_THRESHOLD_": str(1 << 30)},
    "arena_max_1": {"LRD_MALLOPT": "0", "MALLOC_ARENA_MAX": "1"},
    "jemalloc": {"LRD_MALLOPT": "0", "LD_PRELOAD": str(LIB / "libjemalloc.so.2")},
    "tcmalloc": {"LRD_MALLOPT": "0", "LD_PRELOAD": str(LIB / "libtcmalloc_minimal.so.4")},
}
MODELS = ("rnn", "gru", "lstm")
PATHS = ("kernel", "module")


def child(point, repeats):
    """In the subprocess: time every (model, path); print one JSON line."""
    import torch
    sys.path.insert(0, str(HERE))
    from measure import interleaved, train_step_fn
    torch.set_num_threads(1)
    L, H, B = point
    fns, checks = {}, {}
    for name in MODELS:
        for path in PATHS:
            torch.manual_seed(0)
            step, _ = train_step_fn(name, H, B, L)
            model = [c.cell_contents for c in step.__closure__
                     if isinstance(c.cell_contents, torch.nn.Module)][0]
            model.cpu_path = path
            fns[f"{name}/{path}"] = step
    ts = interleaved(fns, repeats, warmup=1)
    # numbers do not depend on the allocator: a tiny model's weights after 3 steps, exactly
    torch.manual_seed(0)
    step, _ = train_step_fn("lstm", 8, 4, 10)
    for _ in range(3):
        step()
    model = [c.cell_contents for c in step.__closure__
             if isinstance(c.cell_contents, torch.nn.Module)][0]
    checks = float(sum(p.double().sum() for p in model.parameters()))
    print(json.dumps({"ms": {k: 1e3 * v for k, v in ts.items()}, "check": checks.hex()}))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--point", default="200,128,64", help="LENGTH,HIDDEN,BATCH")
    p.add_argument("--quick", action="store_true", help="one round, a small point")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    point = tuple(int(v) for v in args.point.split(","))
    if args.quick:
        args.rounds, args.repeats, point = 1, 2, (50, 64, 32)
    if args.child:
        return child(point, args.repeats)
    configs = {k: v for k, v in CONFIGS.items()
               if "LD_PRELOAD" not in v or Path(v["LD_PRELOAD"]).exists()}
    runs = {k: [] for k in configs}
    checks = {}
    root = str(HERE.parent)
    for r in range(args.rounds):
        for name, env in configs.items():
            e = {k: v for k, v in os.environ.items()
                 if not k.startswith("MALLOC_") and k not in ("LD_PRELOAD", "LRD_MALLOPT")}
            e.update(env)
            e["PYTHONPATH"] = root + os.pathsep + e.get("PYTHONPATH", "")
            out = subprocess.run([sys.executable, __file__, "--child", "--point", args.point,
                                  "--repeats", str(args.repeats)] + (["--quick"] if args.quick
                                                                     else []),
                                 env=e, capture_output=True, text=True, check=True, cwd=root)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            runs[name].append(res["ms"])
            checks[name] = res["check"]
            print(f"round {r + 1}, {name}: " + ", ".join(f"{k} {v:.1f}"
                                                       for k, v in res["ms"].items()),
                  flush=True)
    sys.path.insert(0, str(HERE))
    from measure import table, write_csv
    rows = []
    base = {k: statistics.median(r[k] for r in runs["glibc"]) for k in runs["glibc"][0]}
    for name in configs:
        for key in base:
            ms = statistics.median(r[key] for r in runs[name])
            model, path = key.split("/")
            rows.append({"allocator": name, "model": model, "path": path,
                         "length": point[0], "hidden": point[1], "batch": point[2],
                         "ms": ms, "ratio": base[key] / ms,
                         "same_numbers": checks[name] == checks["glibc"]})
    write_csv("allocator.csv", rows)
    table(f"Allocators: training step ms (L, H, B = {point}), ratio = glibc default / this",
          rows, ["allocator", "model", "path", "ms", "ratio", "same_numbers"],
          {"ms": ".1f", "ratio": ".2f"})


if __name__ == "__main__":
    main()
