"""The models of SPEC §2: shapes on every task, fast path == explicit path, state carrying,
dropout, causality and length extrapolation of attention, and bad parameters."""

import math
from types import SimpleNamespace

import pytest
import torch
from torch.testing import assert_close

import lrd.models
import lrd.tasks
from lrd.errors import ConfigError
from lrd.models.attention import POSITIONS, alibi_slopes, rope
from lrd.models.base import Look, Model
from lrd.models.recurrent import Recurrent

# Every variant of every registered model: (name, the parameters that make the variant).
VARIANTS = [(name, params) for name, cls in lrd.models.MODELS.items()
            for params in (list(cls.variants.values()) or [{}])]
RECURRENT = [(n, p) for n, p in VARIANTS if issubclass(lrd.models.MODELS[n], Recurrent)]
IDS = [lrd.models.MODELS[n].variant(p) for n, p in RECURRENT]
STANDIN = SimpleNamespace(input_size=5, output_size=3)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def build(name, task=STANDIN, seed=0, **params):
    torch.manual_seed(seed)
    return lrd.models.make(name, task, **params)


def random_state(model, batch_size, seed=1):
    g = gen(seed)
    return tuple(torch.randn(model.num_layers, batch_size, model.hidden_size, generator=g)
                 for _ in model.state_names)


def test_available():
    assert lrd.models.available() == sorted(lrd.models.MODELS)
    assert {"attention", "gru", "lstm", "rnn"} <= set(lrd.models.available())


@pytest.mark.parametrize("name", lrd.models.available())
def test_every_model_declares_what_figures_and_analysis_read(name):
    """A Model subclass with a look for each variant; ``variant`` of the resolved parameters
    names a look; recurrent models name one gate block per H rows of W_hh."""
    cls = lrd.models.MODELS[name]
    assert issubclass(cls, Model) and cls.name == name
    assert cls.looks and all(isinstance(look, Look) for look in cls.looks.values())
    assert set(cls.variants) <= set(cls.looks)
    for made_by in (list(cls.variants.values()) or [{}]):
        params = lrd.models.MODELS.parameters(name, made_by)   # every default filled in
        assert cls.variant(params) in cls.looks
    assert cls.variant(lrd.models.MODELS.parameters(name, {})) in cls.looks
    if issubclass(cls, Recurrent):
        model = build(name, hidden_size=3)
        assert cls.gates == len(cls.gate_names) == len(set(cls.gate_names))
        assert [w.shape for w in model.recurrent_weights()] == [(3 * cls.gates, 3)]


def test_variants_of_the_rnn_and_torch_gate_order():
    rnn = lrd.models.RNN
    assert [rnn.variant({"nonlinearity": nl}) for nl in ("tanh", "relu", "linear")] == \
        ["rnn-tanh", "rnn-relu", "rnn-linear"]
    assert lrd.models.LSTM.variant({"chrono": 10}) == "lstm"
    # torch's stacking order of the W_hh blocks (nn.LSTM: i, f, g, o; nn.GRU: r, z, n)
    assert lrd.models.LSTM.gate_names == ("i", "f", "g", "o")
    assert lrd.models.GRU.gate_names == ("r", "z", "n") and rnn.gate_names == ("hh",)
    assert rnn.weights_are_dynamics and not lrd.models.LSTM.weights_are_dynamics
    assert [n for n, c in lrd.models.MODELS.items() if c.has_forget_gate] == ["lstm"]


# -- every model on every task -------------------------------------------------------------

@pytest.mark.parametrize("task_name", lrd.tasks.available())
@pytest.mark.parametrize("name,params", VARIANTS,
                         ids=[lrd.models.MODELS[n].variant(p) for n, p in VARIANTS])
def test_every_model_every_task(name, params, task_name):
    task = lrd.tasks.make(task_name)
    model = build(name, task, hidden_size=8, **params)
    batch = task.sample(4, 6, gen())
    out = model(batch.inputs)
    assert out.shape == (4, task.sequence_length(6), task.output_size)
    loss = task.loss(out, batch)
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0


def test_standin_task_with_larger_input():
    """Teacher forcing passes a stand-in task: only input_size and output_size matter."""
    model = build("lstm", SimpleNamespace(input_size=13, output_size=4), hidden_size=6)
    assert (model.input_size, model.output_size) == (13, 4)
    assert model(torch.randn(2, 3, 13)).shape == (2, 3, 4)


# -- fast path == explicit path --------------------------------------------------------------

def both_paths(model, x, state):
    """(outputs, final state) of run and steps, and the gradients of one scalar of each."""
    results = []
    for path in ("run", "steps"):
        xx = x.clone().requires_grad_(True)
        ss = tuple(s.clone().requires_grad_(True) for s in state)
        model.zero_grad()
        out, st = getattr(model, path)(xx, ss)
        final = st if path == "run" else tuple(s[:, -1].transpose(0, 1) for s in st)
        g = gen(7)  # the same random functional of the outputs and final state on both paths
        scalar = (out * torch.randn(out.shape, generator=g)).sum()
        scalar = scalar + sum((f * torch.randn(f.shape, generator=g)).sum() for f in final)
        scalar.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters()}
        grads.update(inputs=xx.grad, **{f"state{i}": s.grad for i, s in enumerate(ss)})
        results.append((out.detach(), tuple(f.detach() for f in final), grads, st))
    return results


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("name,params", RECURRENT, ids=IDS)
def test_fast_path_equals_explicit_path(name, params, num_layers):
    model = build(name, hidden_size=7, num_layers=num_layers, **params).eval()
    x = torch.randn(3, 11, STANDIN.input_size, generator=gen(2))
    for state in (model.initial_state(3), random_state(model, 3)):
        (o1, f1, g1, _), (o2, f2, g2, states) = both_paths(model, x, state)
        assert_close(o1, o2)
        assert_close(f1, f2)
        assert g1.keys() == g2.keys() and len(g1) == 4 * num_layers + 2 + 1 + len(state)
        for k in g1:
            assert_close(g1[k], g2[k], msg=k)
        assert g1["state0"].abs().sum() > 0  # the initial state matters
        # steps' states: each [B, L, layers, H]; the top h at every step feeds the head
        assert len(states) == len(model.state_names)
        assert all(s.shape == (3, 11, num_layers, 7) for s in states)
        assert_close(model.head(states[0][:, :, -1]).detach(), o1)


@pytest.mark.parametrize("name,params", RECURRENT, ids=IDS)
def test_step_by_step_and_float64(name, params):
    model = build(name, hidden_size=6, num_layers=2, **params).double().eval()
    x = torch.randn(2, 9, STANDIN.input_size, generator=gen(3), dtype=torch.float64)
    out, final = model.run(x)
    assert out.dtype == torch.float64
    state, outs = model.initial_state(2), []
    assert all(s.dtype == torch.float64 and not s.any() for s in state)
    for t in range(9):
        y, state = model.step(x[:, t], state)
        outs.append(y)
    assert_close(torch.stack(outs, 1), out, rtol=1e-12, atol=1e-12)
    assert_close(state, final, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,params", RECURRENT, ids=IDS)
def test_truncated_windows_carry_state(name, params):
    """run over [0, k) then [k, L) from the carried state == one run over [0, L)."""
    model = build(name, hidden_size=8, num_layers=2, **params).eval()
    x = torch.randn(4, 20, STANDIN.input_size, generator=gen(4))
    whole, final = model.run(x)
    first, mid = model.run(x[:, :7])
    second, final2 = model.run(x[:, 7:], tuple(s.detach() for s in mid))
    assert_close(torch.cat([first, second], 1), whole)
    assert_close(final2, final)


def test_state_names():
    assert lrd.models.LSTM.state_names == ("h", "c")
    assert lrd.models.RNN.state_names == lrd.models.GRU.state_names == ("h",)


@pytest.mark.parametrize("name,params", RECURRENT, ids=IDS)
def test_state_api(name, params):
    model = build(name, hidden_size=5, num_layers=3, **params)
    names = model.state_names
    state = model.initial_state(4)
    assert len(state) == len(names)
    assert all(s.shape == (3, 4, 5) and not s.any() for s in state)
    ws = model.recurrent_weights()
    assert [w is getattr(model.core, f"weight_hh_l{k}") for k, w in enumerate(ws)] == \
           [True] * 3
    assert all(w.shape == (model.gates * 5, 5) for w in ws)
    assert (model.hidden_size, model.num_layers, model.input_size, model.output_size) == \
           (5, 3, 5, 3)
    x_t = torch.randn(4, 5)
    new = model.cell(x_t, state)
    assert tuple(s.shape for s in new) == tuple(s.shape for s in state)
    y, new2 = model.step(x_t, state)
    assert y.shape == (4, 3)
    assert_close(new2, new)


def test_cell_jacobian_matches_theory():
    """∂h_t/∂h_{t-1} of the explicit cell: W_hh exactly for the linear RNN, and
    diag(1 - h_t²) W_hh for tanh (torch.func through the cell)."""
    x_t, h = torch.randn(1, 5, generator=gen(5)), torch.randn(1, 1, 6, generator=gen(6))
    for nl in ("linear", "tanh"):
        model = build("rnn", hidden_size=6, nonlinearity=nl).double()
        xd, hd = x_t.double(), h.double()
        jac = torch.func.jacrev(lambda s: model.cell(xd, (s,))[0])(hd).reshape(6, 6)
        w = model.recurrent_weights()[0].detach()
        if nl == "linear":
            assert torch.equal(jac, w)
        else:
            h1 = model.cell(xd, (hd,))[0].reshape(6).detach()
            assert_close(jac, torch.diag(1 - h1 ** 2) @ w, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name,params", RECURRENT, ids=IDS)
def test_dropout_between_layers_only_in_training(name, params):
    x = torch.randn(3, 6, STANDIN.input_size, generator=gen(8))
    # one layer: nothing between layers, so dropout changes nothing even in training
    one = build(name, hidden_size=6, dropout=0.5, **params).train()
    assert_close(one.run(x)[0], one.eval().run(x)[0])
    assert_close(one.train().steps(x)[0], one.eval().steps(x)[0])
    # two layers: active in training on both paths, off in eval
    two = build(name, hidden_size=6, num_layers=2, dropout=0.5, **params)
    ref = two.eval().run(x)[0]
    two.train()
    for path in (two.run, two.steps):
        torch.manual_seed(0)
        assert not torch.allclose(path(x)[0], ref)
    two.eval()
    assert_close(two.steps(x)[0], ref)


def test_dropout_explicit_path_matches_fast_path_in_expectation():
    """With the linear RNN the output is linear in the dropped layer-1 outputs, so the mean
    over dropout masks equals the eval output: E[mask/(1-p)] = 1, on both paths."""
    model = build("rnn", hidden_size=4, num_layers=2, dropout=0.3, nonlinearity="linear")
    x = torch.randn(1, 3, STANDIN.input_size, generator=gen(9)).expand(4000, 3, -1)
    ref = model.eval().run(x[:1])[0][0]
    model.train()
    torch.manual_seed(0)
    with torch.no_grad():
        for path in (model.run, model.steps):
            out = path(x)[0]
            sd = out.std(0) / math.sqrt(len(x))  # Monte-Carlo error of the mean
            assert ((out.mean(0) - ref).abs() < 5 * sd + 1e-6).all()
            assert (sd > 0).all()


# -- attention --------------------------------------------------------------------------------

def rotate_complex(x):
    """RoPE written another way: pairs (x_i, x_{i+d/2}) as complex numbers times e^{i·t·θ_i}."""
    L, d = x.shape[-2], x.shape[-1]
    theta = 10000.0 ** (-torch.arange(d // 2, dtype=torch.float64) * 2 / d)
    z = torch.complex(x[..., : d // 2].double(), x[..., d // 2:].double())
    z = z * torch.polar(torch.ones(L, d // 2, dtype=torch.float64),
                        torch.arange(L, dtype=torch.float64)[:, None] * theta)
    return torch.cat([z.real, z.imag], -1).to(x.dtype)


def reference_attention(model, x):
    """A direct transcription of the documented model, one [L, L] score matrix per head."""
    h = model.embed(x)
    B, L, d = h.shape
    i, j = torch.arange(L)[:, None], torch.arange(L)[None, :]
    for blk in model.blocks:
        nh = blk.heads
        q, k, v = blk.qkv(blk.ln1(h)).view(B, L, 3, nh, d // nh).permute(2, 0, 3, 1, 4)
        if model.position == "rope":
            q, k = rotate_complex(q), rotate_complex(k)
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // nh)
        if model.position == "alibi":
            scores = scores - alibi_slopes(nh)[:, None, None] * (i - j)
        scores = scores.masked_fill(j > i, float("-inf"))
        y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, L, d)
        h = h + blk.proj(y)
        h = h + blk.mlp(blk.ln2(h))
    return model.head(model.ln(h))


def test_alibi_slopes():
    assert alibi_slopes(8).tolist() == [2.0 ** -k for k in range(1, 9)]
    assert alibi_slopes(4).tolist() == [2.0 ** -k for k in (2, 4, 6, 8)]
    assert alibi_slopes(6).tolist() == [2.0 ** -k for k in (2, 4, 6, 8, 1, 3)]


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("chunk", [4, 128])
def test_attention_matches_reference(chunk, position):
    model = build("attention", hidden_size=12, num_heads=3, num_layers=2, chunk=chunk,
                  position=position).eval()
    x = torch.randn(2, 17, STANDIN.input_size, generator=gen(10))
    assert_close(model(x), reference_attention(model, x))


def test_rope_scores_depend_on_the_offset_only():
    """<R_i q, R_j k> = <R_{i+s} q, R_{j+s} k>: the same q and k placed at every position."""
    q, k = torch.randn(2, 8, dtype=torch.float64, generator=gen(12))
    L = 40
    rq = rope(q.expand(1, 1, L, 8).clone())[0, 0]
    rk = rope(k.expand(1, 1, L, 8).clone())[0, 0]
    scores = rq @ rk.T                       # scores[i, j] = <R_i q, R_j k>
    for offset in (0, 3, 17):
        diag = torch.diagonal(scores, -offset)
        assert torch.allclose(diag, diag[0].expand_as(diag), atol=1e-12)
    assert not torch.allclose(scores[5, 5], scores[5, 2])   # and it does depend on it


def test_nope_sees_no_order_beyond_causality():
    """Without positions, one block's last output is a function of the set of inputs so far:
    swapping two earlier steps leaves it unchanged (ALiBi and RoPE change it)."""
    x = torch.randn(2, 12, STANDIN.input_size, generator=gen(13))
    swapped = x.clone()
    swapped[:, [2, 7]] = x[:, [7, 2]]
    for position in POSITIONS:
        model = build("attention", hidden_size=16, num_layers=1, position=position).eval()
        same = torch.allclose(model(x)[:, -1], model(swapped)[:, -1], atol=1e-6)
        assert same == (position == "nope"), position


@pytest.mark.parametrize("position", POSITIONS)
def test_attention_is_causal(position):
    model = build("attention", hidden_size=16, num_layers=2, chunk=8, position=position).eval()
    x = torch.randn(2, 30, STANDIN.input_size, generator=gen(11))
    base = model(x)
    for t in (0, 5, 8, 29):
        x2 = x.clone()
        x2[:, t] += 1.0
        out = model(x2)
        assert_close(out[:, :t], base[:, :t], rtol=0, atol=1e-6)
        assert not torch.allclose(out[:, t:], base[:, t:])


def test_attention_runs_10x_longer():
    torch.set_num_threads(2)
    task = lrd.tasks.make("prefix_sum")
    model = build("attention", task)
    batch = task.sample(8, 500, gen())  # 10x the longest sequence used in this file
    with torch.no_grad():
        out = model(batch.inputs)
        assert out.shape == (8, 500, task.output_size) and torch.isfinite(out).all()
        # SPEC §1's longest test length; a narrower model (the [B, heads, chunk, L] score
        # blocks that bound memory do not depend on the width), to keep the suite fast
        long = build("attention", task, hidden_size=32)(task.sample(8, 5000, gen()).inputs)
    assert long.shape == (8, 5000, task.output_size) and torch.isfinite(long).all()


# -- bad parameters ---------------------------------------------------------------------------

@pytest.mark.parametrize("name,params,message", [
    ("rnnn", {}, "unknown model 'rnnn' (did you mean 'rnn'?); available: attention, gru, "
                 "lstm, rnn"),
    ("rnn", {"hiden_size": 4}, "model 'rnn': unknown parameter 'hiden_size' (did you mean "
                               "'hidden_size'?); allowed: dropout, hidden_size, init, "
                               "init_gain, nonlinearity, num_layers"),
    ("gru", {"forget_bias": 1.0}, "model 'gru': unknown parameter 'forget_bias'"),
    ("rnn", {"hidden_size": 0}, "rnn: hidden_size must be an integer >= 1, got 0"),
    ("lstm", {"num_layers": 0}, "lstm: num_layers must be an integer >= 1, got 0"),
    ("rnn", {"hidden_size": "big"}, "hidden_size"),
    ("rnn", {"nonlinearity": "sigmoid"},
     "rnn: nonlinearity must be one of tanh, relu, linear, got 'sigmoid'"),
    ("gru", {"dropout": 1.5}, "gru: dropout must be a number in [0, 1), got 1.5"),
    ("lstm", {"dropout": -0.1}, "lstm: dropout must be a number in [0, 1), got -0.1"),
    ("attention", {"hidden_size": 10, "num_heads": 4},
     "attention: hidden_size (10) must be divisible by num_heads (4)"),
    ("attention", {"position": "learned"},
     "attention: unknown position 'learned'; available: alibi, rope, nope"),
    ("attention", {"hidden_size": 12, "num_heads": 4},
     "attention: position 'rope' needs an even head width, got hidden_size/num_heads = 3"),
    ("attention", {"init": "identity"},
     "attention: init 'identity' does not apply to this model; attention allows: default, "
     "xavier"),
    ("rnn", {"init": "he"}, "rnn: unknown init 'he'; available: default, xavier, orthogonal, "
                            "identity, gaussian"),
    ("rnn", {"init_gain": 0.0}, "rnn: init_gain must be a finite number > 0, got 0.0"),
    ("lstm", {"chrono": 1}, "lstm: chrono (T_max) must be an integer >= 2, got 1"),
])
def test_bad_params(name, params, message):
    with pytest.raises(ConfigError) as err:
        build(name, **params)
    assert message in str(err.value)
