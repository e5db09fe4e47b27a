"""Initialisations of SPEC §3: exact identities where the scheme fixes the matrix, Monte-Carlo
bounds on the entry distribution where it draws it.

Bounds on a sample variance. For n i.i.d. draws w_1..w_n with variance σ² and fourth central
moment μ₄, the sample variance s² = Σ(w - w̄)²/(n-1) has mean σ² and

    Var(s²) = μ₄/n - σ⁴(n-3)/(n(n-1))  ≈ (μ₄ - σ⁴)/n.

  Normal:        μ₄ = 3σ⁴, so Var(s²) = 2σ⁴/(n-1) exactly: sd(s²) = σ²·√(2/(n-1)).
  Uniform(-b,b): σ² = b²/3, μ₄ = b⁴/5, so Var(s²) ≈ (1/5 - 1/9)·b⁴/n = 4b⁴/(45n):
                 sd(s²) ≈ √(4b⁴/(45n)) = (b²/3)·√(36/(45n)) = σ²·√(0.8/n).

We assert |s² - σ²| < 5·sd(s²) (for n ≳ 1000, s² is close to normal, so a correct scheme fails
with probability ~6e-7; the seeds are fixed anyway). With n = H² = 16384 entries per block
(H = 128) this is 5.5% for normal entries and 3.5% for uniform ones: a scheme off by the usual mistakes
(fan-in 4H instead of H for a gate block, std g/H, PyTorch's bound 1/√H instead of Xavier's
√(3/H): variance ×1/4, ×1/H, ×1/3) is far outside.
"""

import math
from types import SimpleNamespace

import pytest
import torch

import lrd.models
import lrd.models.init
from lrd.errors import ConfigError
from lrd.models.recurrent import Recurrent

TASK = SimpleNamespace(input_size=3, output_size=2)
# Every registered recurrent model: the schemes act on each of its W_hh gate blocks.
RECURRENT = [n for n, cls in lrd.models.MODELS.items() if issubclass(cls, Recurrent)]
H = 128


def build(name, seed=0, **params):
    torch.manual_seed(seed)
    return lrd.models.make(name, TASK, **params)


def blocks(model):
    """Every H×H gate block of every layer's W_hh."""
    return [b.detach() for w in model.recurrent_weights() for b in w.chunk(model.gates, 0)]


def biases(model):
    return [p.detach() for n, p in model.core.named_parameters() if n.startswith("bias")]


def check_variance(w, var, c):
    """|s² - var| < 5 sd(s²), sd(s²) = var·√(c/(n-1)), c = 2 (normal) or 0.8 (uniform)."""
    n = w.numel()
    s2 = w.double().var().item()
    sd = var * math.sqrt(c / (n - 1))
    assert abs(s2 - var) < 5 * sd, (s2, var, sd)
    assert abs(w.double().mean().item()) < 5 * math.sqrt(var / n)


@pytest.mark.parametrize("name", RECURRENT)
def test_orthogonal_every_block(name):
    model = build(name, hidden_size=32, num_layers=2, init="orthogonal")
    assert len(blocks(model)) == 2 * len(lrd.models.MODELS[name].gate_names)
    for w in blocks(model):
        torch.testing.assert_close(w @ w.T, torch.eye(32), rtol=0, atol=1e-5)
    scaled = build(name, hidden_size=32, init="orthogonal", init_gain=0.5)
    for w in blocks(scaled):
        torch.testing.assert_close(w @ w.T, 0.25 * torch.eye(32), rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", RECURRENT)
def test_identity_exact(name):
    model = build(name, hidden_size=16, num_layers=2, init="identity")
    for w in blocks(model):
        assert torch.equal(w, torch.eye(16))
    assert len(biases(model)) == 4 and all(not b.any() for b in biases(model))
    for w in blocks(build(name, hidden_size=16, init="identity", init_gain=0.01)):
        assert torch.equal(w, 0.01 * torch.eye(16))


@pytest.mark.parametrize("name", RECURRENT)
@pytest.mark.parametrize("g", [0.5, 1.0, 1.7])
def test_gaussian_entry_variance(name, g):
    for w in blocks(build(name, hidden_size=H, init="gaussian", init_gain=g)):
        check_variance(w, g * g / H, 2.0)


@pytest.mark.parametrize("name", RECURRENT)
def test_xavier_bound_and_variance(name):
    bound = math.sqrt(6 / (2 * H))
    for w in blocks(build(name, hidden_size=H, init="xavier")):
        assert w.abs().max() <= bound
        assert w.abs().max() > 0.95 * bound  # fills the interval (P(fail) = 0.95^16384)
        check_variance(w, bound ** 2 / 3, 0.8)


@pytest.mark.parametrize("name", RECURRENT)
def test_default_is_pytorch_uniform(name):
    model = build(name, hidden_size=H)
    bound = 1 / math.sqrt(H)
    for w in blocks(model):
        assert w.abs().max() <= bound
        check_variance(w, bound ** 2 / 3, 0.8)
    for b in biases(model):
        assert b.abs().max() <= bound and b.any()


@pytest.mark.parametrize("init,g,radius", [("default", 1.0, 1 / math.sqrt(3)),
                                           ("xavier", 1.0, 1.0), ("gaussian", 1.3, 1.3),
                                           ("orthogonal", 1.0, 1.0), ("identity", 1.0, 1.0)])
def test_spectral_radius_as_documented(init, g, radius):
    """The docstring's spectra: circular-law radius for the random schemes (finite-H
    fluctuations of the radius at H=256 are a few percent), exactly 1 for the others."""
    w = blocks(build("rnn", hidden_size=256, init=init, init_gain=g))[0].double()
    eig = torch.linalg.eigvals(w).abs()
    if init in ("orthogonal", "identity"):
        one = torch.ones(256, dtype=torch.float64)  # to float32 round-off of the weights
        torch.testing.assert_close(eig, one, rtol=0, atol=1e-5)
        torch.testing.assert_close(torch.linalg.svdvals(w), one, rtol=0, atol=1e-5)
    else:
        assert abs(eig.max().item() / radius - 1) < 0.1
        # uniform in the disk: the fraction inside radius r/2 is 1/4
        assert abs((eig < radius / 2).double().mean().item() - 0.25) < 0.05


def forget_and_input_bias(model, k):
    Hs = model.hidden_size
    b = (getattr(model.core, f"bias_ih_l{k}") + getattr(model.core, f"bias_hh_l{k}")).detach()
    return b[Hs:2 * Hs], b[:Hs]


@pytest.mark.parametrize("init", ["default", "identity", "orthogonal"])
def test_forget_bias_exact(init):
    model = build("lstm", hidden_size=16, num_layers=2, init=init, forget_bias=1.0)
    for k in range(2):
        forget, inp = forget_and_input_bias(model, k)
        assert torch.equal(forget, torch.ones(16))
        assert not torch.equal(inp, torch.ones(16))
    # through the explicit cell: zero input and state, the forget gate is σ(b) exactly, so
    # c_1 = σ(b)·c_0 + i·g with i·g = 0 at b_g = 0 under identity (zero biases)
    if init == "identity":
        c0 = torch.ones(2, 1, 16)
        _, c1 = model.cell(torch.zeros(1, 3), (torch.zeros(2, 1, 16), c0))
        torch.testing.assert_close(c1[0], torch.sigmoid(torch.tensor(1.0)).expand(1, 16))


def test_chrono():
    T = 100
    model = build("lstm", hidden_size=256, num_layers=2, chrono=T)
    for k in range(2):
        forget, inp = forget_and_input_bias(model, k)
        assert forget.min() >= 0 and forget.max() <= math.log(T - 1)
        assert torch.equal(inp, -forget)
        # exp(b_f) ~ U[1, T-1]: mean T/2, sd (T-2)/√12 per draw
        e = forget.exp()
        assert abs(e.mean().item() - T / 2) < 5 * (T - 2) / math.sqrt(12 * 256)
    assert not torch.equal(forget_and_input_bias(model, 0)[0], forget_and_input_bias(model, 1)[0])


def test_attention_inits():
    torch.manual_seed(0)
    model = lrd.models.make("attention", TASK, hidden_size=32, init="xavier")
    w = model.blocks[0].qkv.weight  # [96, 32]: bound √(6/(32+96))
    assert w.abs().max() <= math.sqrt(6 / 128) and not model.blocks[0].qkv.bias.any()
    for scheme in ("identity", "orthogonal", "gaussian"):
        with pytest.raises(ConfigError, match="attention allows: default, xavier"):
            lrd.models.make("attention", TASK, init=scheme)


@pytest.mark.parametrize("name", [n for n in lrd.models.available()
                                  if not lrd.models.MODELS[n].has_forget_gate])
@pytest.mark.parametrize("kw", [{"forget_bias": 1.0}, {"chrono": 10}])
def test_forget_bias_needs_a_forget_gate(name, kw):
    """The constructors of these models take no ``forget_bias``; ``apply`` refuses it too."""
    with pytest.raises(ConfigError) as err:
        lrd.models.init.apply(build(name, hidden_size=8), "default", **kw)
    assert str(err.value) == (f"{name}: forget_bias and chrono apply only to a model with a "
                              "forget gate (lstm)")


def test_forget_bias_goes_to_the_f_block_by_gate_name(monkeypatch):
    """``set_forget_bias`` finds the f and i blocks from ``gate_names``, not fixed offsets."""
    model = build("lstm", hidden_size=4)
    monkeypatch.setattr(model, "gate_names", ("f", "i", "g", "o"))
    lrd.models.init.set_forget_bias(model, lambda n: torch.full((n,), 2.0), input_gate=True)
    b = (model.core.bias_ih_l0 + model.core.bias_hh_l0).detach()
    assert torch.equal(b[:4], torch.full((4,), 2.0)) and torch.equal(b[4:8], -b[:4])


@pytest.mark.parametrize("name,kw,message", [
    ("lstm", {"forget_bias": 1.0, "chrono": 10}, "give forget_bias or chrono, not both"),
    ("lstm", {"forget_bias": float("nan")}, "forget_bias must be a finite number"),
    ("rnn", {"gain": -1.0}, "init_gain must be a finite number > 0"),
    ("rnn", {"scheme": "kaiming"}, "unknown init 'kaiming'; available: default, xavier"),
])
def test_apply_errors(name, kw, message):
    model = build(name, hidden_size=4)
    with pytest.raises(ConfigError) as err:
        lrd.models.init.apply(model, **{"scheme": "default", **kw})
    assert message in str(err.value)
