"""Which recurrent implementation is fastest for a training step on this machine's CPU?

For each of rnn (tanh), lstm and gru, times one forward + backward pass (loss = sum of the
outputs, gradients for every weight and the input) of three implementations sharing one
set of weights:

  fused    the torch module called directly: nn.RNN / nn.LSTM / nn.GRU (batch_first)
  cell     a Python loop over torch's fused cell functions (torch.rnn_tanh_cell,
           torch.lstm_cell, torch.gru_cell) with the module's weights
  proj     the input projection W_ih x_t + b_ih for all t in one matmul, then a Python loop
           of the recurrent part written out (F.linear + gate math)
  kernel   lrd's hand-written-backward layers (lrd/models/kernels.py), time-major inside

Prints one table of median milliseconds per step. Run with
``.venv/bin/python benchmarks/fast_path.py [--threads 2] [--repeats 10]``.
The lrd models choose their CPU path (``cpu_path``) from ``benchmarks/bench.py --only fast_path``
(results/bench/fast_path.csv), which times the models themselves on both paths.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
CELLS = {"rnn": torch.rnn_tanh_cell, "lstm": torch.lstm_cell, "gru": torch.gru_cell}


def fused(core, x, kind):
    return core(x)[0]


def cell(core, x, kind):
    B, L, _ = x.shape
    H = core.hidden_size
    w = (core.weight_ih_l0, core.weight_hh_l0, core.bias_ih_l0, core.bias_hh_l0)
    h = x.new_zeros(B, H)
    c = x.new_zeros(B, H)
    f = CELLS[kind]
    out = []
    for t in range(L):
        if kind == "lstm":
            h, c = f(x[:, t], (h, c), *w)
        else:
            h = f(x[:, t], h, *w)
        out.append(h)
    return torch.stack(out, 1)


def proj(core, x, kind):
    B, L, _ = x.shape
    H = core.hidden_size
    w_hh, b_hh = core.weight_hh_l0, core.bias_hh_l0
    xs = F.linear(x, core.weight_ih_l0, core.bias_ih_l0).unbind(1)
    h = x.new_zeros(B, H)
    c = x.new_zeros(B, H)
    out = []
    for t in range(L):
        g = F.linear(h, w_hh, b_hh)
        if kind == "rnn":
            h = torch.tanh(xs[t] + g)
        elif kind == "lstm":
            i, f, gg, o = (xs[t] + g).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
            h = torch.sigmoid(o) * torch.tanh(c)
        else:
            xr, xz, xn = xs[t].chunk(3, 1)
            hr, hz, hn = g.chunk(3, 1)
            r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            h = (1 - z) * n + z * h
        out.append(h)
    return torch.stack(out, 1)


def kernel(core, x, kind):
    from lrd.models import kernels
    B, L, _ = x.shape
    h0 = x.new_zeros(B, core.hidden_size)
    w = (core.weight_ih_l0, core.weight_hh_l0, core.bias_ih_l0, core.bias_hh_l0)
    xt = x.transpose(0, 1).contiguous()
    if kind == "lstm":
        hs = kernels.lstm_layer(xt, h0, h0, *w)[0]
    elif kind == "rnn":
        hs = kernels.rnn_layer(xt, h0, *w)
    else:
        hs = kernels.gru_layer(xt, h0, *w)
    return hs.transpose(0, 1)


IMPLS = {"fused": fused, "cell": cell, "proj": proj, "kernel": kernel}


def time_step(fn, core, x, kind, repeats):
    times = []
    for i in range(repeats + 2):  # two warm-up steps
        core.zero_grad(set_to_none=True)
        x.grad = None
        t0 = time.perf_counter()
        fn(core, x, kind).sum().backward()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--input-size", type=int, default=10)
    p.add_argument("--points", default="64x50,64x200,128x50,128x200",
                   help="comma-separated HIDDENxLENGTH points")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    points = [tuple(map(int, s.split("x"))) for s in args.points.split(",")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, B={args.batch}, "
          f"input {args.input_size}, 1 layer; forward+backward, median ms/step "
          f"of {args.repeats}")
    print(f"{'model':<6}{'H':>5}{'L':>6}" + "".join(f"{k:>9}" for k in IMPLS) + "  fastest")
    for kind, module in MODULES.items():
        for H, L in points:
            core = module(args.input_size, H, batch_first=True)
            x = torch.randn(args.batch, L, args.input_size, requires_grad=True)
            ms = {name: time_step(fn, core, x, kind, args.repeats) for name, fn in IMPLS.items()}
            best = min(ms, key=ms.get)
            print(f"{kind:<6}{H:>5}{L:>6}" + "".join(f"{v:>9.2f}" for v in ms.values())
                  + f"  {best}")


if __name__ == "__main__":
    main()
