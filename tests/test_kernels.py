"""The hand-written-backward layers of lrd/models/kernels.py: gradcheck in float64, the same
values and gradients as the torch modules and as the explicit path in float32, multi-layer with
a carried state, dropout between layers, and truncated BPTT windows."""

import pytest
import torch
import torch.nn as nn
from torch.autograd import gradcheck
from torch.testing import assert_close

import lrd.models
from lrd.models.kernels import gru_layer, lstm_layer, rnn_layer
from test_models import RECURRENT, IDS, STANDIN, build, gen, random_state

L, B, I, H = 5, 3, 4, 6


def params(*shapes, dtype=torch.float64, seed=0):
    g = gen(seed)
    return tuple((0.6 * torch.randn(s, generator=g, dtype=dtype)).requires_grad_()
                 for s in shapes)


@pytest.mark.parametrize("phi", ["tanh", "relu", "identity"])
def test_rnn_gradcheck(phi):
    args = params((L, B, I), (B, H), (H, I), (H, H), (H,), (H,))
    assert gradcheck(lambda *a: rnn_layer(*a, phi=phi), args)


def test_lstm_gradcheck_including_the_final_c():
    args = params((L, B, I), (B, H), (B, H), (4 * H, I), (4 * H, H), (4 * H,), (4 * H,))
    assert gradcheck(lstm_layer, args)
    # the final c alone: its gradient reaches every input through the cell-state chain
    assert gradcheck(lambda *a: lstm_layer(*a)[1], args)


def test_gru_gradcheck():
    args = params((L, B, I), (B, H), (3 * H, I), (3 * H, H), (3 * H,), (3 * H,))
    assert gradcheck(gru_layer, args)


def test_one_step_sequence():
    x, h0, *w = params((1, B, I), (B, H), (H, I), (H, H), (H,), (H,))
    assert gradcheck(lambda *a: rnn_layer(*a), (x, h0, *w))


@pytest.mark.parametrize("kind,module", [("rnn-tanh", nn.RNN), ("rnn-relu", nn.RNN),
                                         ("lstm", nn.LSTM), ("gru", nn.GRU)])
def test_layer_equals_torch_module_float32(kind, module):
    torch.manual_seed(0)
    kw = {"nonlinearity": kind[4:]} if kind.startswith("rnn") else {}
    m = module(I, H, **kw)
    x = torch.randn(L, B, I, generator=gen(1), requires_grad=True)
    h0, c0 = torch.randn(2, 1, B, H, generator=gen(2))
    w = (m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0)
    if kind == "lstm":
        ref_y, (_, ref_c) = m(x, (h0, c0))
        ref, got = (ref_y, ref_c[0]), lstm_layer(x, h0[0], c0[0], *w)
    else:
        ref = (m(x, h0)[0],)
        got = (rnn_layer(x, h0[0], *w, phi=kind[4:]) if kind.startswith("rnn")
               else gru_layer(x, h0[0], *w),)
    for r, g in zip(ref, got):
        assert_close(g, r)
    cot = [torch.randn(r.shape, generator=gen(3)) for r in ref]
    for a, b in zip(torch.autograd.grad(ref, (x, *w), cot), torch.autograd.grad(got, (x, *w), cot)):
        assert_close(b, a, rtol=1e-5, atol=1e-5)


def grads_of(model, x, state, path):
    """Outputs, final state and the gradients of one random scalar of them, on ``path``:
    run with cpu_path=kernel, run with cpu_path=module, or the explicit steps."""
    xx = x.clone().requires_grad_(True)
    ss = tuple(s.clone().requires_grad_(True) for s in state)
    model.zero_grad()
    if path == "steps":
        out, st = model.steps(xx, ss)
        final = tuple(s[:, -1].transpose(0, 1) for s in st)
    else:
        model.cpu_path = path
        out, final = model.run(xx, ss)
        del model.cpu_path
    g = gen(7)
    scalar = (out * torch.randn(out.shape, generator=g)).sum()
    scalar = scalar + sum((f * torch.randn(f.shape, generator=g)).sum() for f in final)
    scalar.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    grads.update(inputs=xx.grad, **{f"state{i}": s.grad for i, s in enumerate(ss)})
    return out.detach(), tuple(f.detach() for f in final), grads


@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("name,params", RECURRENT, ids=IDS)
def test_kernel_path_equals_module_and_explicit_paths(name, params, num_layers):
    """Multi-layer, from a carried (random) state: kernel == torch module == explicit steps,
    values and every gradient (weights, inputs, initial state), in float32."""
    model = build(name, hidden_size=7, num_layers=num_layers, **params).eval()
    x = torch.randn(3, 11, STANDIN.input_size, generator=gen(2))
    state = random_state(model, 3)
    paths = ["kernel", "steps"] + (["module"] if model.fused else [])
    res = {p: grads_of(model, x, state, p) for p in paths}
    o, f, g = res["kernel"]
    for p in paths[1:]:
        o2, f2, g2 = res[p]
        assert_close(o, o2, msg=p)
        assert_close(f, f2, msg=p)
        assert g.keys() == g2.keys()
        for k in g:
            assert_close(g[k], g2[k], msg=f"{p} {k}")


@pytest.mark.parametrize("name,params", RECURRENT, ids=IDS)
def test_kernel_path_float64_matches_explicit_steps(name, params):
    model = build(name, hidden_size=5, num_layers=2, **params).double().eval()
    model.cpu_path = "kernel"
    x = torch.randn(2, 8, STANDIN.input_size, generator=gen(3), dtype=torch.float64)
    state = tuple(s.double() for s in random_state(model, 2))
    out, final = model.run(x, state)
    out2, states = model.steps(x, state)
    assert_close(out, out2, rtol=1e-12, atol=1e-12)
    assert_close(final, tuple(s[:, -1].transpose(0, 1) for s in states), rtol=1e-12,
                 atol=1e-12)


@pytest.mark.parametrize("name,params", RECURRENT, ids=IDS)
def test_dropout_between_layers_like_nn_rnn(name, params):
    """Training mode, 2 layers, p=0.5: the kernel path drops layer 1's outputs (so the output
    differs from eval, and a second draw differs from the first), one layer is unaffected, and
    eval mode equals the module path; the same seed gives the same draw."""
    x = torch.randn(3, 6, STANDIN.input_size, generator=gen(8))
    one = build(name, hidden_size=6, dropout=0.5, **params)
    one.cpu_path = "kernel"
    assert_close(one.train().run(x)[0], one.eval().run(x)[0])
    two = build(name, hidden_size=6, num_layers=2, dropout=0.5, **params)
    two.cpu_path = "kernel"
    ref = two.eval().run(x)[0]
    two.train()
    torch.manual_seed(0)
    a = two.run(x)[0]
    b = two.run(x)[0]
    torch.manual_seed(0)
    assert_close(two.run(x)[0], a)
    assert not torch.allclose(a, ref) and not torch.allclose(a, b)
    if two.fused:
        two.eval()
        two.cpu_path = "module"
        assert_close(two.run(x)[0], ref)


def test_dropout_is_unbiased_on_the_kernel_path():
    """Linear RNN: the output is linear in the dropped outputs, so its mean over dropout masks
    equals the eval output (E[mask / (1 - p)] = 1), as on nn.RNN's path."""
    model = build("rnn", hidden_size=4, num_layers=2, dropout=0.3, nonlinearity="linear")
    model.cpu_path = "kernel"
    x = torch.randn(1, 3, STANDIN.input_size, generator=gen(9)).expand(4000, 3, -1)
    ref = model.eval().run(x[:1])[0][0]
    model.train()
    torch.manual_seed(0)
    with torch.no_grad():
        out = model.run(x)[0]
    sd = out.std(0) / 4000 ** 0.5
    assert ((out.mean(0) - ref).abs() < 5 * sd + 1e-6).all() and (sd > 0).all()


@pytest.mark.parametrize("name,params", [p for p in RECURRENT if p[0] != "rnn"
                                         or p[1].get("nonlinearity") != "linear"],
                         ids=[i for i, p in zip(IDS, RECURRENT) if p[0] != "rnn"
                              or p[1].get("nonlinearity") != "linear"])
def test_truncated_bptt_windows_same_gradients_as_module(name, params):
    """run(chunk, state) then detach, window after window: the kernel path accumulates the
    same gradients and carries the same state as the torch module path."""
    x = torch.randn(4, 21, STANDIN.input_size, generator=gen(4))
    grads, finals = {}, {}
    for path in ("kernel", "module"):
        model = build(name, hidden_size=8, num_layers=2, **params).train()
        model.cpu_path = path
        state = None
        for chunk in x.split(8, 1):
            out, state = model.run(chunk, state)
            out.pow(2).mean().backward()
            state = tuple(s.detach() for s in state)
        grads[path] = {n: p.grad for n, p in model.named_parameters()}
        finals[path] = state
    assert_close(finals["kernel"], finals["module"])
    for n in grads["kernel"]:
        assert_close(grads["kernel"][n], grads["module"][n], rtol=1e-5, atol=1e-6, msg=n)


def test_cpu_path_is_declared_and_cuda_keeps_the_module():
    for name in ("rnn", "lstm", "gru"):
        assert lrd.models.MODELS[name].cpu_path in ("kernel", "module")
    # a non-CPU tensor never reaches the kernels (cuDNN's module path); checked on the
    # dispatch itself since no GPU is at hand
    import inspect
    from lrd.models.recurrent import Recurrent
    assert 'inputs.device.type == "cpu"' in inspect.getsource(Recurrent.run)


def test_malloc_tuning_at_import_changes_no_numbers():
    """``import lrd`` tunes glibc's malloc (lrd/__init__.py); LRD_MALLOPT=0 turns it off. The
    same few training steps give bit-identical weights either way."""
    import os
    import subprocess
    import sys
    code = ("import torch, lrd.models, lrd.tasks\n"
            "torch.manual_seed(0)\n"
            "task = lrd.tasks.make('prefix_sum')\n"
            "for name in ('rnn', 'lstm', 'gru'):\n"
            "    m = lrd.models.make(name, task, hidden_size=16)\n"
            "    opt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
            "    for _ in range(3):\n"
            "        x = torch.randn(4, 12, task.input_size)\n"
            "        opt.zero_grad(); m(x).pow(2).mean().backward(); opt.step()\n"
            "    print(name, float(sum(p.double().sum() for p in m.parameters())).hex())\n")
    outs = []
    for flag in ("1", "0"):
        env = dict(os.environ, LRD_MALLOPT=flag)
        outs.append(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                   capture_output=True, text=True).stdout)
    assert outs[0] == outs[1] and outs[0].count("\n") == 3


@pytest.mark.parametrize("kind", ["rnn-tanh", "rnn-relu", "gru"])
def test_no_grad_forward_equals_the_training_forward(kind):
    """The GRU kernel skips its backward factors when no gradient is wanted (evaluation); the
    values must not depend on it. Nor may the RNN's (the same code path either way)."""
    x, h0, *w = params((L, B, I), (B, H), ((3 if kind == "gru" else 1) * H, I),
                       ((3 if kind == "gru" else 1) * H, H), ((3 if kind == "gru" else 1) * H,),
                       ((3 if kind == "gru" else 1) * H,), dtype=torch.float32)
    layer = gru_layer if kind == "gru" else (lambda *a: rnn_layer(*a, phi=kind[4:]))
    with torch.no_grad():
        quiet = layer(x, h0, *w)
    assert not quiet.requires_grad
    loud = layer(x, h0, *w)
    assert loud.requires_grad
    assert torch.equal(quiet, loud.detach())


def test_tanh_via_sigmoid_is_tanh_to_float32_round_off():
    """The kernels' tanh(a) = 2σ(2a) - 1 against float64 tanh over a wide range of a."""
    a = torch.linspace(-12, 12, 200001)
    x, h0 = a.view(1, -1, 1), torch.zeros(a.numel(), 1)
    one, zero = torch.ones(1, 1), torch.zeros(1)
    got = rnn_layer(x, h0, one, torch.zeros(1, 1), zero, zero, phi="tanh").flatten()
    assert (got.double() - torch.tanh(a.double())).abs().max() < 3e-7
