"""lrd's speed benchmark (``make bench``): prints every table and writes ``results/bench/``.

Sections (each a CSV in ``results/bench/``, all four panels in ``results/bench/bench.png``):

  throughput.csv   training-step throughput (tokens/s = batch x steps per sequence / step time)
                   of every model (rnn, lstm, gru, attention) at several (length, hidden, batch)
                   points. A training step: sample a fresh batch, forward, task.loss, backward,
                   clip_grad_norm_, Adam step (the work of one lrd training step, no Lightning).
  lightning.csv    lrd's real Lightning path (the Trainer of lrd.training.trainer.make_trainer
                   fitting LitRun with TaskData, logging as ``lrd train`` does) against a bare
                   loop doing the same work, same process, alternating rounds, this thread's
                   CPU time (benchmarks/lightning_vs_bare.py); ratio = t_bare / t_lit; log.every
                   10 (LIGHTNING_LOG_EVERY).
  fast_path.csv    each recurrent model's CPU paths, forward + backward, interleaved: the torch
                   module, the hand-written-backward kernels (lrd/models/kernels.py) and the
                   explicit path (``model.steps``); ``cpu_path`` = the one the model uses.
  scaling.csv      forward+backward time against length 10 .. 3000; fitted exponents (log-log
                   least squares of time vs length) over the whole range and over L >= 300.
  flops.csv        achieved GFLOP/s of each model's training step against torch.matmul at the
                   same shapes, timed the same way (the practical limit); FLOPs counted
                   analytically (see ``flops``).
  memory.csv       peak memory per (model, length) point: the growth of ru_maxrss of a fresh
                   subprocess over its state just before the first step (see benchmarks/memory.py).
  threads.csv      the oversubscription trap: {1, 2} processes x {1, 2} intra-op threads each
                   (fresh processes started with OMP_NUM_THREADS, as sweep workers are; the
                   processes of one cell timed together), RNN and LSTM at L=200 H=64 B=64.

Timing: every figure is a median over repeats; things that are compared are measured in the
same process, interleaved (A, B, A, B, ...), because the machine is shared with other jobs.
Threads: ``--threads`` (default 1; see threads.csv for why) via torch.set_num_threads.

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench.py [--quick] [--threads N]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import lightning_vs_bare  # noqa: E402

import lrd.models  # noqa: E402
import lrd.tasks  # noqa: E402
from lrd import data  # noqa: E402
from lrd.config import Optim  # noqa: E402

from measure import (GATES, OUT, TASK, fit_exponent, flops, fwd_bwd_fn,  # noqa: E402,F401
                     interleaved, make_model, matmul_fn, median_time, peak_matmul_rate,
                     read_csv, table, train_step_fn, write_csv)

MODELS = ("rnn", "lstm", "gru", "attention")
RECURRENT = ("rnn", "lstm", "gru")


# -- helpers --------------------------------------------------------------------------------
def throughput(points, repeats):
    rows = []
    for L, H, B in points:
        fns, steps = {}, {}
        for name in MODELS:
            fns[name], steps[name] = train_step_fn(name, H, B, L)
        ts = interleaved(fns, repeats)
        for name in MODELS:
            rows.append({"model": name, "length": L, "hidden": H, "batch": B,
                         "ms_per_step": 1e3 * ts[name],
                         "tokens_per_s": B * steps[name] / ts[name]})
    return rows


# log.every of the timed Trainer: 10, the default proposed for lrd/config.py (benchmarks/README.md,
# "Lightning vs the bare loop"); the CSV's log_every column says which rate each row ran at.
LIGHTNING_LOG_EVERY = 10


def lightning(points, rounds, log_every=LIGHTNING_LOG_EVERY):
    rows = []
    for model, task, length, hidden, batch, steps in points:
        rows.append(lightning_vs_bare.compare(model, task, length, hidden, batch, steps=steps,
                                              warmup=5, rounds=rounds, optim=Optim(),
                                              log_every=log_every, timer=time.thread_time))
    return rows


def fastpath(points, repeats):
    """Each recurrent model's CPU paths, forward + backward, interleaved: the torch module,
    the hand-written-backward kernels (lrd/models/kernels.py) and the explicit steps; the
    path each model uses on CPU (its ``cpu_path``) is recorded next to the fastest."""
    rows = []
    task = lrd.tasks.make(TASK)
    for name in RECURRENT:
        for L, H, B in points:
            model = make_model(name, task, H)
            x = task.sample(B, L, data.generator(0, "train")).inputs.requires_grad_()

            def run(path):
                def g():
                    model.zero_grad(set_to_none=True)
                    x.grad = None
                    if path == "explicit":
                        model.steps(x)[0].sum().backward()
                        return
                    model.cpu_path = path
                    model.run(x)[0].sum().backward()
                    del model.cpu_path
                return g
            fns = {p: run(p) for p in ("module", "kernel", "explicit")}
            ts = interleaved(fns, repeats)
            r = {"model": name, "hidden": H, "length": L, "batch": B}
            r.update({f"{k}_ms": 1e3 * v for k, v in ts.items()})
            r["module_over_kernel"] = ts["module"] / ts["kernel"]
            r["fastest"] = min(("module", "kernel"), key=ts.get)
            r["cpu_path"] = type(model).cpu_path
            rows.append(r)
    return rows


def scaling(lengths, hidden, batch, repeats, max_attention_length):
    rows, fits = [], []
    for name in MODELS:
        ls, ts = [], []
        for L in lengths:
            if name == "attention" and L > max_attention_length:
                continue
            t = median_time(fwd_bwd_fn(name, hidden, batch, L), repeats if L < 1000 else 3, 1)
            ls.append(L)
            ts.append(t)
            rows.append({"model": name, "length": L, "hidden": hidden, "batch": batch,
                         "ms": 1e3 * t, "us_per_step": 1e6 * t / L})
        big = [(l, t) for l, t in zip(ls, ts) if l >= 300]
        fl = [flops(name, hidden, batch, L, 3, 3) for L in ls]
        fits.append({"model": name, "exponent_all": fit_exponent(ls, ts),
                     "exponent_L>=300": fit_exponent(*zip(*big)) if len(big) >= 2 else math.nan,
                     "flop_exponent_L>=300": fit_exponent(*zip(*[(l, f) for l, f in zip(ls, fl)
                                                                 if l >= 300])),
                     "lengths": f"{ls[0]}-{ls[-1]}",
                     "asymptotic": 2 if name == "attention" else 1})
    return rows, fits


def flops_section(points, repeats):
    rows = []
    task = lrd.tasks.make(TASK)
    for L, H, B in points:
        for name in MODELS:
            mm, n_mm = matmul_fn(name, H, B, L)
            ts = interleaved({"model": fwd_bwd_fn(name, H, B, L), "matmul": mm}, repeats)
            n = flops(name, H, B, L, task.input_size, task.output_size)
            ref = n_mm / ts["matmul"]
            cls = lrd.models.MODELS[name]
            rows.append({"model": name, "path": getattr(cls, "cpu_path", "module"),
                         "length": L, "hidden": H, "batch": B,
                         "gflop": n / 1e9, "achieved_gflops": n / ts["model"] / 1e9,
                         "matmul_gflops": ref / 1e9, "fraction": (n / ts["model"]) / ref})
    return rows


def memory(points):
    rows = []
    for name, L, H, B in points:
        out = subprocess.run([sys.executable, str(HERE / "memory.py"), name, str(L), str(H),
                              str(B), "--threads", str(torch.get_num_threads())],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return rows


# One process of the threads section: torch started with OMP_NUM_THREADS threads (as a sweep
# worker is), forward+backward steps of one model; waits for GO (a file) so that the processes of
# one cell start their timed steps together; prints the median ms per step.
THREADS_PROBE = """
import os, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import torch
from measure import fwd_bwd_fn
name, L, H, B, steps, go = sys.argv[2], *map(int, sys.argv[3:7]), sys.argv[7]
torch.set_num_interop_threads(1)
f = fwd_bwd_fn(name, H, B, L)
for _ in range(2):
    f()
open(go + '.' + str(os.getpid()), 'w').close()
while not os.path.exists(go):
    time.sleep(0.005)
ts = []
for _ in range(steps):
    t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
print(torch.get_num_threads(), 1e3 * statistics.median(ts))
"""


def threads_cell(name, point, procs, threads, steps, tmp):
    """``procs`` fresh processes of ``threads`` intra-op threads each, timed together; returns
    the mean over processes of each one's median ms per step."""
    L, H, B = point
    go = os.path.join(tmp, f"go-{name}-{procs}-{threads}-{time.monotonic_ns()}")
    env = {**os.environ, **{k: str(threads) for k in
                            ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}
    ps = [subprocess.Popen([sys.executable, "-c", THREADS_PROBE, str(HERE), name, str(L), str(H),
                            str(B), str(steps), go], env=env, stdout=subprocess.PIPE, text=True)
          for _ in range(procs)]
    while sum(1 for f in os.listdir(tmp) if f.startswith(os.path.basename(go) + ".")) < procs:
        if any(p.poll() not in (None, 0) for p in ps):
            raise RuntimeError("a threads probe failed")
        time.sleep(0.01)
    open(go, "w").close()
    outs = [p.communicate()[0].split() for p in ps]
    assert all(int(o[0]) == threads for o in outs), outs   # torch took OMP_NUM_THREADS
    return sum(float(o[1]) for o in outs) / procs


def threads_section(point, rounds, models=("rnn", "lstm"), steps=15):
    """The oversubscription trap, measured: {1, 2} processes x {1, 2} threads each, every
    process a fresh interpreter started as a sweep worker is (OMP_NUM_THREADS), the processes
    of a cell timed together; cells interleaved over ``rounds`` rounds; medians."""
    import tempfile

    cells = [(1, 1), (1, 2), (2, 1), (2, 2)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            ts = {c: [] for c in cells}
            for _ in range(rounds):
                for c in cells:
                    ts[c].append(threads_cell(name, point, *c, steps, tmp))
            base = statistics.median(ts[(1, 1)])
            for procs, th in cells:
                ms = statistics.median(ts[(procs, th)])
                rows.append({"model": name, "length": point[0], "hidden": point[1],
                             "batch": point[2], "processes": procs, "threads_each": th,
                             "threads_total": procs * th, "cores": os.cpu_count(),
                             "ms_per_step": ms, "slowdown_vs_1x1": ms / base,
                             "rounds": rounds})
    return rows


def plot(thr, lit, scal, fl):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 2, figsize=(12, 9))
    a = ax[0, 0]
    labels = sorted({(r["length"], r["hidden"], r["batch"]) for r in thr})
    width = 0.2
    for i, name in enumerate(MODELS):
        ys = [next(r["tokens_per_s"] for r in thr if r["model"] == name
                   and (r["length"], r["hidden"], r["batch"]) == lab) for lab in labels]
        a.bar([j + i * width for j in range(len(labels))], ys, width, label=name)
    a.set_xticks([j + 1.5 * width for j in range(len(labels))],
                 [f"L{l} H{h} B{b}" for l, h, b in labels], fontsize=8)
    a.set_yscale("log")
    a.set_ylabel("tokens / s (training step)")
    a.set_title("Training-step throughput")
    a.legend()
    a = ax[0, 1]
    for name in MODELS:
        pts = [(r["length"], r["ms"]) for r in scal if r["model"] == name]
        a.loglog(*zip(*pts), "o-", label=name)
    a.set_xlabel("length")
    a.set_ylabel("forward+backward ms")
    a.set_title("Scaling with length")
    a.legend()
    a = ax[1, 0]
    xs = [f"{r['model']}\nL{r['length']} H{r['hidden']}" for r in fl]
    a.bar(range(len(fl)), [r["achieved_gflops"] for r in fl], label="achieved")
    a.plot(range(len(fl)), [r["matmul_gflops"] for r in fl], "k_", ms=20, mew=2,
           label="torch.matmul, same shapes")
    a.set_xticks(range(len(fl)), xs, fontsize=7)
    a.set_ylabel("GFLOP/s")
    a.set_title("Achieved vs matmul rate")
    a.legend()
    a = ax[1, 1]
    xs = [f"{r['model']} H{r['hidden']}\n{r['task']} L{r['steps_per_seq']}" for r in lit]
    a.bar(range(len(lit)), [r["ratio"] for r in lit])
    a.axhline(0.95, color="k", ls="--", label="goal 0.95")
    a.set_xticks(range(len(lit)), xs, fontsize=8)
    a.set_ylim(0, 1.1)
    a.set_ylabel("t_bare / t_lightning")
    a.set_title("Lightning vs bare loop")
    a.legend()
    fig.suptitle(f"lrd bench: torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
                 f"{platform.processor() or platform.machine()}")
    fig.tight_layout()
    fig.savefig(OUT / "bench.png", dpi=110)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="fewer repeats and points (a smoke run)")
    p.add_argument("--only", default="", help="comma-separated sections to run")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    q = args.quick
    rep = 3 if q else 7
    only = set(args.only.split(",")) if args.only else None
    t_start = time.perf_counter()
    print(f"lrd bench: torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")

    def want(s):
        return only is None or s in only

    thr = lit = scal = fl = None
    if want("throughput"):
        pts = [(50, 64, 64), (200, 64, 64)] if q else \
            [(50, 64, 64), (200, 64, 64), (200, 128, 32), (1000, 64, 16)]
        thr = throughput(pts, rep)
        write_csv("throughput.csv", thr)
        table("Training-step throughput (sample+forward+loss+backward+clip+Adam)", thr,
              ["model", "length", "hidden", "batch", "ms_per_step", "tokens_per_s"],
              {"tokens_per_s": ",.0f", "ms_per_step": ".2f"})
    if want("lightning"):
        # (model, task, length, hidden, batch, steps per round); longer steps, fewer of them
        pts = [("lstm", "copy", 30, 64, 64, 25)] if q else [
            ("rnn", "copy", 30, 64, 64, 45), ("lstm", "copy", 30, 64, 64, 45),
            ("gru", "prefix_sum", 100, 64, 64, 25), ("lstm", "adding", 200, 128, 64, 17),
            ("attention", "copy", 30, 64, 64, 20)]
        lit = lightning(pts, 3 if q else 7)
        write_csv("lightning.csv", lit)
        table("lrd Lightning step vs bare PyTorch loop (same work; ratio = t_bare/t_lightning)",
              lit, ["model", "task", "steps_per_seq", "hidden", "batch", "lightning_ms",
                    "bare_ms", "overhead_ms", "ratio"],
              {"lightning_ms": ".2f", "bare_ms": ".2f", "overhead_ms": ".2f", "ratio": ".3f"})
    if want("fast_path") or want("fastpath"):
        pts = [(100, 64, 64)] if q else [(100, 64, 64), (300, 128, 128)]
        fp = fastpath(pts, 3 if q else 5)
        write_csv("fast_path.csv", fp)
        table("CPU paths, forward+backward ms (module: torch's; kernel: lrd/models/kernels.py; "
              "cpu_path: the one each model uses)", fp,
              ["model", "hidden", "length", "batch", "module_ms", "kernel_ms", "explicit_ms",
               "module_over_kernel", "fastest", "cpu_path"],
              {k: ".2f" for k in ("module_ms", "kernel_ms", "explicit_ms",
                                  "module_over_kernel")})
    if want("scaling"):
        lengths = [10, 30, 100, 300, 1000] if q else [10, 30, 100, 300, 1000, 3000]
        scal, fits = scaling(lengths, 64, 8, 3 if q else 5, 3000)
        write_csv("scaling.csv", scal)
        write_csv("scaling_fit.csv", fits)
        table("Scaling with length (forward+backward, H=64, B=8)", scal,
              ["model", "length", "ms", "us_per_step"], {"ms": ".2f", "us_per_step": ".1f"})
        table("Fitted exponents: time ~ length^k (log-log least squares)", fits,
              ["model", "lengths", "exponent_all", "exponent_L>=300", "flop_exponent_L>=300",
               "asymptotic"],
              {"exponent_all": ".2f", "exponent_L>=300": ".2f", "flop_exponent_L>=300": ".2f"})
    if want("flops"):
        pts = [(100, 64, 64)] if q else [(100, 64, 64), (100, 256, 64), (300, 128, 128)]
        fl = flops_section(pts, rep)
        write_csv("flops.csv", fl)
        peak = peak_matmul_rate(rep)
        table(f"Achieved GFLOP/s vs torch.matmul at the same shapes (forward+backward; "
              f"a 1024^3 matmul reaches {peak / 1e9:.1f} GFLOP/s here)", fl,
              ["model", "length", "hidden", "batch", "achieved_gflops", "matmul_gflops",
               "fraction"], {"achieved_gflops": ".1f", "matmul_gflops": ".1f",
                             "fraction": ".2f"})
    if want("memory"):
        pts = [(m, L, 64, 32) for m in MODELS for L in ((100,) if q else (100, 1000))]
        mem = memory(pts)
        write_csv("memory.csv", mem)
        table("Peak memory of training steps (VmHWM growth in a fresh subprocess, MiB)", mem,
              ["model", "length", "hidden", "batch", "peak_mib", "method"],
              {"peak_mib": ".1f"})
    if want("threads"):
        th = threads_section((200, 64, 64), 2 if q else 5)
        write_csv("threads.csv", th)
        table("Processes x threads on this machine's cores (forward+backward, L=200 H=64 B=64; "
              "ms per step of each process)", th,
              ["model", "processes", "threads_each", "threads_total", "cores", "ms_per_step",
               "slowdown_vs_1x1"], {"ms_per_step": ".2f", "slowdown_vs_1x1": ".2f"})
    # the figure always shows the tables on disk: sections not run this time are read back
    thr, lit, scal, fl = (got if got else read_csv(name) for got, name in (
        (thr, "throughput.csv"), (lit, "lightning.csv"), (scal, "scaling.csv"),
        (fl, "flops.csv")))
    if thr and lit and scal and fl:
        plot(thr, lit, scal, fl)
        print(f"\nplot: {OUT / 'bench.png'}")
    print(f"\nCSVs in {OUT}; total {time.perf_counter() - t_start:.0f} s, "
          f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
