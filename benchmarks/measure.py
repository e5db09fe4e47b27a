"""Shared pieces of the benchmarks: interleaved timing, the training step being timed, FLOP
counts, power-law fits, and the CSV and table output (``results/bench/``)."""

from __future__ import annotations

import csv
import inspect
import math
import statistics
import time
from pathlib import Path

import torch

import lrd.models
import lrd.tasks
from lrd import data
from lrd.training.module import fused_optimizer

OUT = Path(__file__).resolve().parents[1] / "results" / "bench"
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
TASK = "prefix_sum"   # length = steps per sequence, every step scored, input size 3


def median_time(fn, repeats: int, warmup: int = 2) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def interleaved(fns: dict, repeats: int, warmup: int = 2) -> dict:
    """Median seconds of each of several callables, timed A, B, C, A, B, C, ..."""
    for _ in range(warmup):
        for f in fns.values():
            f()
    ts = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            ts[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in ts.items()}


def make_model(name: str, task, hidden: int):
    torch.manual_seed(0)
    return lrd.models.make(name, task, hidden_size=hidden)


def train_step_fn(name, hidden, batch, length, task=None):
    """A closure doing one full training step (sample, forward, loss, backward, clip, Adam)."""
    task = task or lrd.tasks.make(TASK)
    model = make_model(name, task, hidden)
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=1e-3, fused=fused_optimizer(params))  # as LitRun does
    gen = data.generator(0, "train")

    def step():
        b = task.sample(batch, length, gen)
        loss = task.loss(model(b.inputs), b)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    return step, task.sequence_length(length)


def fwd_bwd_fn(name, hidden, batch, length):
    """A closure: forward + backward of the model alone (sum of outputs), fixed inputs."""
    task = lrd.tasks.make(TASK)
    model = make_model(name, task, hidden)
    x = task.sample(batch, length, data.generator(0, "train")).inputs

    def step():
        model.zero_grad(set_to_none=True)
        model(x).sum().backward()
    return step


def flops(name: str, hidden: int, batch: int, length: int, input_size: int, out: int,
          layers: int | None = None) -> float:
    """Analytic FLOPs of one forward + backward (backward = 2 x forward: the gradients of both
    the inputs and the weights of every matmul), counting matmuls only (2 per multiply-add).
    ``layers``: the model's ``num_layers`` (default: the model class's default, as
    ``make_model`` builds it: 1 for the recurrent models, 2 blocks for attention).

    recurrent (one layer): per step 2·B·(gH)·(I+H) for the gate matmuls (g = 1, 4, 3 gates),
    plus the head 2·B·H·O. attention (width d=H, MLP 4d), per block and token 2·12·d² for qkv,
    proj and the MLP, plus QKᵀ and AV: 2·2·L·d per query (the masked half is computed too:
    SDPA with an explicit mask does not skip it); embed and head once. Positional schemes
    (RoPE's rotations, ALiBi's bias) are elementwise and not counted.
    """
    B, L, H, I, O = batch, length, hidden, input_size, out
    if layers is None:
        layers = inspect.signature(lrd.models.MODELS[name]).parameters["num_layers"].default
    if name in GATES:
        per_layer = [2 * B * GATES[name] * H * ((I if k == 0 else H) + H) for k in range(layers)]
        fwd = L * (sum(per_layer) + 2 * B * H * O)
    else:
        fwd = B * L * (layers * (2 * 12 * H * H + 2 * 2 * L * H) + 2 * H * (I + O))
    return 3.0 * fwd


def matmul_fn(name: str, hidden: int, batch: int, length: int):
    """(closure, FLOPs it does): torch.matmul at this model's shapes, called as the model
    calls them.

    recurrent: L sequential matmuls [B, H] x [H, gH] (one per time step: each needs the last
    h, so this is the rate a perfect recurrent kernel could reach on its serial part).
    attention: [B·L, d] x [d, 4d] (its largest matmul) once.
    """
    if name in GATES:
        a = torch.randn(batch, hidden)
        w = torch.randn(hidden, GATES[name] * hidden)
        n = 2 * batch * hidden * GATES[name] * hidden * length

        def f():
            for _ in range(length):
                torch.matmul(a, w)
    else:
        a = torch.randn(batch * length, hidden)
        w = torch.randn(hidden, 4 * hidden)
        n = 2 * batch * length * hidden * 4 * hidden

        def f():
            torch.matmul(a, w)
    return f, n


def peak_matmul_rate(repeats: int) -> float:
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    return 2 * 1024 ** 3 / median_time(lambda: torch.matmul(a, b), repeats)


def read_csv(name: str) -> list[dict] | None:
    """The rows of ``results/bench/<name>`` as ``write_csv`` wrote them (numbers as int or
    float), or None if there is no such file."""
    if not (OUT / name).exists():
        return None

    def num(v: str):
        for cast in (int, float):
            try:
                return cast(v)
            except ValueError:
                pass
        return v
    with open(OUT / name, newline="") as f:
        return [{k: num(v) for k, v in r.items()} for r in csv.DictReader(f)]


def write_csv(name: str, rows: list[dict]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / name, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


def table(title: str, rows: list[dict], cols: list[str], fmt: dict | None = None) -> None:
    fmt = fmt or {}
    print(f"\n== {title}")
    widths = {c: max(len(c), 9) for c in cols}
    print("  ".join(f"{c:>{widths[c]}}" for c in cols))
    for r in rows:
        cells = []
        for c in cols:
            v = r[c]
            s = format(v, fmt.get(c, ".3g")) if isinstance(v, float) else str(v)
            cells.append(f"{s:>{widths[c]}}")
        print("  ".join(cells))


def fit_exponent(lengths, times) -> float:
    """Least-squares slope of log(time) against log(length)."""
    xs = [math.log(x) for x in lengths]
    ys = [math.log(y) for y in times]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


# -- sections ---------------------------------------------------------------------------------
