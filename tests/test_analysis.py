"""Theory checks of lrd.analysis: every expected value is derived in the test's docstring.

Everything that is exact is run in float64 with round-off tolerances; random-matrix statistics
use tolerances that cover the known finite-size corrections (quoted in each test).
"""

import math

import numpy as np
import pandas as pd
import pytest
import torch

import lrd.models
import lrd.tasks
from lrd.analysis import (analyze, decay_rates, gradient_decay, lyapunov, spectrum,
                          state_jacobians, summarize, time_constants, weight_spectra)
from lrd.analysis.jacobians import trajectory
from lrd.errors import ConfigError
from lrd.models.recurrent import Recurrent

TASK = lrd.tasks.make("adding")


def linear_rnn(W: torch.Tensor) -> torch.nn.Module:
    """A one-layer linear RNN in float64 whose W_hh is exactly W."""
    model = lrd.models.make("rnn", TASK, hidden_size=W.shape[0], nonlinearity="linear").double()
    with torch.no_grad():
        model.core.weight_hh_l0.copy_(W)
    return model


def orthogonal(n: int, seed: int = 0) -> torch.Tensor:
    """An orthogonal matrix in float64 (QR of a Gaussian); built in float64 because a float32
    orthogonal matrix is orthogonal only to ~1e-7, which products of 30 steps would show."""
    q, _ = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64,
                                       generator=torch.Generator().manual_seed(seed)))
    return q


def batch(n=4, length=30, seed=0):
    b = TASK.sample(n, length, torch.Generator().manual_seed(seed))
    return type(b)(b.inputs.double(), b.targets.double(), b.mask, b.metric_mask)


def test_jacobian_product_of_scaled_orthogonal_linear_rnn_is_a_power():
    """Linear RNN, W_hh = a·Q (Q orthogonal): s_t = W_ih x_t + b + a·Q s_{t-1}, so every step
    Jacobian is aQ and ∂s_T/∂s_t = a^(T−t) Q^(T−t), whose singular values are all a^(T−t):
    ‖∂s_T/∂s_t‖₂ = a^(T−t) exactly at every lag. The adding loss is read at the last step only,
    so ∂L/∂s_t = ∂L/∂s_T·(aQ)^(T−t): each sequence's row is scaled by a^(T−t) and rotated,
    and ‖∂L/∂s_t‖_F = a^(T−t)·‖∂L/∂s_T‖_F. Both fitted decay rates are ln a on every lag range.
    Tolerance 1e-10 relative: float64 round-off over 30 products of 16×16 matrices."""
    a = 0.9
    model = linear_rnn(a * orthogonal(16))
    b = batch()
    curve = gradient_decay(model, TASK, b)
    assert list(curve.columns[:3]) == ["lag", "t", "grad_norm"] and "jacobian_norm" in curve
    assert curve["lag"].tolist() == list(range(31))
    want = a ** curve["lag"].to_numpy(dtype=float)
    np.testing.assert_allclose(curve["jacobian_norm"], want, rtol=1e-10)
    np.testing.assert_allclose(curve["jacobian_norm_max"], want, rtol=1e-10)
    np.testing.assert_allclose(curve["grad_norm"], want * curve["grad_norm"][0], rtol=1e-10)
    rates = decay_rates(curve)
    assert len(rates) == 8 and (rates["points"] >= 2).all()
    np.testing.assert_allclose(rates["rate"], math.log(a), atol=1e-10)


def test_lyapunov_exponents_of_scaled_orthogonal_map_are_all_ln_a():
    """Constant Jacobian aQ: J Q_{t-1} = a·(Q Q_{t-1}) has orthonormal columns times a, so its
    QR has |R[i, i]| = a for every i and step, and every exponent is ln a, exactly (1e-12)."""
    a = 0.7
    model = linear_rnn(a * orthogonal(12, seed=1))
    exps = lyapunov(model, batch(n=2, length=40).inputs)
    assert exps.shape == (12,)
    np.testing.assert_allclose(exps, math.log(a), atol=1e-12)


def test_lyapunov_of_constant_symmetric_map_are_log_moduli_of_eigenvalues():
    """For a constant symmetric A = U diag(μ) Uᵀ (|μ| distinct), the k-volume of A^n Q_w is
    Π_{i≤k}|μ_i|^n·|det(U_kᵀ Q_w)|·(1 + O((|μ_{k+1}|/|μ_k|)^n)). The warm-up of w = 300 steps
    aligns the frame: |det(U_kᵀ Q_w)| = 1 − O(e^{−2w·gap}), smallest gap ln(0.95/0.9) = 0.054,
    so e^{-32} at w = 300. Every exponent equals ln|μ_i| up to round-off; tolerance 1e-9."""
    mu = torch.tensor([0.95, -0.9, 0.8, 0.7, -0.5, 0.3], dtype=torch.float64)
    U = orthogonal(6, seed=2)
    model = linear_rnn(U @ torch.diag(mu) @ U.T)
    inputs = torch.zeros(1, 800, TASK.input_size, dtype=torch.float64)
    exps = lyapunov(model, inputs, warmup=300)
    np.testing.assert_allclose(exps, np.sort(np.log(mu.abs().numpy()))[::-1], atol=1e-9)
    np.testing.assert_allclose(lyapunov(model, inputs, n_exponents=2, warmup=300),
                               exps[:2], atol=1e-12)


def test_lyapunov_of_constant_nonnormal_map():
    """A constant non-normal A = V diag(μ) V⁻¹. (1) Every step |det R_t| = |det(A Q_{t-1})| =
    |det A|, so Σλ_i = ln|det A| = Σ ln|μ_i| exactly (tolerance 1e-10: round-off of ~600
    logs).
    (2) λ_i → ln|μ_i|: the partial volumes of A^n differ from those of diag(μ)^n by at
    most a factor κ(V)^k either way, so |error of the top-k sum| ≤ 2k·ln κ(V)/(n − w); each
    exponent, a difference of two partial sums, is within 4D·ln κ(V)/(n − w)."""
    g = torch.Generator().manual_seed(3)
    V = torch.eye(5, dtype=torch.float64) + 0.3 * torch.randn(5, 5, dtype=torch.float64,
                                                             generator=g)
    mu = torch.tensor([0.9, 0.75, -0.6, 0.4, 0.2], dtype=torch.float64)
    A = V @ torch.diag(mu) @ torch.linalg.inv(V)
    model = linear_rnn(A)
    n, w = 600, 100
    exps = lyapunov(model, torch.zeros(2, n, TASK.input_size, dtype=torch.float64), warmup=w)
    assert exps.sum() == pytest.approx(math.log(abs(torch.linalg.det(A).item())), abs=1e-10)
    kappa = torch.linalg.cond(V).item()
    tol = 4 * 5 * math.log(kappa) / (n - w)
    assert tol < 0.05  # the check separates neighbouring exponents (gaps ≥ ln(0.9/0.75) = 0.18)
    np.testing.assert_allclose(exps, np.log(mu.abs().numpy()), atol=tol)


def test_tanh_rnn_jacobians_equal_analytic_product():
    """h_t = tanh(W_ih x_t + b + W_hh h_{t-1}) gives ∂h_t/∂h_{t-1} = diag(1 − h_t²)·W_hh.
    The autograd (forward-mode) Jacobians must match the analytic ones built from the
    trajectory to float64 round-off (1e-12), at every requested step and sequence."""
    torch.manual_seed(0)
    model = lrd.models.make("rnn", TASK, hidden_size=10, init="gaussian", init_gain=1.5).double()
    inputs = batch(n=3, length=12).inputs
    steps = [1, 5, 12]
    J = state_jacobians(model, inputs, steps)
    traj = trajectory(model, inputs)
    W = model.core.weight_hh_l0.detach()
    for i, t in enumerate(steps):
        want = torch.diag_embed(1 - traj[:, t] ** 2) @ W
        torch.testing.assert_close(J[i], want, rtol=0, atol=1e-12)


def test_lstm_full_state_jacobian_matches_the_fused_kernel():
    """The LSTM's Jacobian of the full state (h, c) of two layers, from the explicit cell with
    torch.func, must equal the Jacobian of one step of torch's fused nn.LSTM (a separate
    implementation), taken with torch.autograd.functional on the flat (name, layer, unit)
    ordering. Float64, tolerance 1e-10."""
    torch.manual_seed(0)
    model = lrd.models.make("lstm", TASK, hidden_size=4, num_layers=2).double()
    inputs = batch(n=2, length=6).inputs
    J = state_jacobians(model, inputs, [4])[0]
    traj = trajectory(model, inputs)
    nl, H = 2, 4

    def fused_step(flat):  # flat [D] -> [D] for sequence 0 at step 4
        h, c = flat.reshape(2, nl, 1, H)
        _, (h1, c1) = model.run(inputs[:1, 3:4], (h, c))
        return torch.cat([h1.reshape(-1), c1.reshape(-1)])

    want = torch.autograd.functional.jacobian(fused_step, traj[0, 3])
    torch.testing.assert_close(J[0], want, rtol=0, atol=1e-10)
    assert J.shape == (2, 16, 16)


@pytest.mark.parametrize("g", [0.5, 1.5])
def test_gaussian_init_circular_law(g):
    """W_hh entries N(0, g²/N) (init=gaussian): circular law, eigenvalues uniform in the disk of
    radius g, so ρ → g; σ_max → 2g (Marchenko–Pastur edge of WᵀW at 4g²). Finite N = 200: the
    spectral radius of a real Ginibre matrix exceeds g by ≈ g·√(γ_N/4N) with
    γ_N = ln(N/2π) − 2 ln ln N (Rider 2003), with Gumbel fluctuations of a similar size, and
    σ_max sits within O(N^{-2/3}) of 2g; all are well inside the O(N^{-1/2}) band. We average
    10 draws and require |mean/target − 1| < 1/√N = 0.071: a variance convention off by any
    constant factor (e.g. √3 for uniform vs Gaussian, or std g/N) fails by far."""
    N, draws = 200, 10
    torch.manual_seed(0)
    radius, smax = [], []
    for _ in range(draws):
        m = lrd.models.make("rnn", TASK, hidden_size=N, init="gaussian", init_gain=g)
        eig, sv = spectrum(m.core.weight_hh_l0)
        radius.append(abs(eig[0]))
        smax.append(sv[0])
    tol = 1 / math.sqrt(N)
    assert np.mean(radius) / g == pytest.approx(1, abs=tol)
    assert np.mean(smax) / (2 * g) == pytest.approx(1, abs=tol)


def test_pytorch_default_rnn_init_radius_is_one_over_sqrt3():
    """PyTorch's default draws W_hh entries from U(−1/√H, 1/√H): variance (2/√H)²/12 = 1/(3H),
    so by the circular law ρ → 1/√3 ≈ 0.577 and σ_max → 2/√3 ≈ 1.155. Same finite-size
    tolerance as the Gaussian test (1/√H relative on a 10-draw mean, H = 200); i.i.d. entries
    of any distribution with this variance obey the same law (universality)."""
    H = 200
    torch.manual_seed(1)
    radius, smax = [], []
    for _ in range(10):
        m = lrd.models.make("rnn", TASK, hidden_size=H)
        eig, sv = spectrum(m.core.weight_hh_l0)
        radius.append(abs(eig[0]))
        smax.append(sv[0])
    assert np.mean(radius) * math.sqrt(3) == pytest.approx(1, abs=1 / math.sqrt(H))
    assert np.mean(smax) * math.sqrt(3) / 2 == pytest.approx(1, abs=1 / math.sqrt(H))


def test_spectrum_and_time_constants_contract():
    """A diagonal matrix's eigenvalues and singular values are its entries' values and
    moduli; τ = −1/ln|λ|: ln 0.5 → 1/ln 2, |λ| = 1 → inf, λ = 0 → 0, |λ| = e → −1."""
    eig, sv = spectrum(np.diag([0.5, -2.0, 1.0, 0.0]))
    assert isinstance(eig, np.ndarray) and isinstance(sv, np.ndarray)
    np.testing.assert_allclose(eig, [-2.0, 1.0, 0.5, 0.0])
    np.testing.assert_allclose(sv, [2.0, 1.0, 0.5, 0.0])
    np.testing.assert_allclose(time_constants([0.5, 1.0, 0.0, math.e]),
                               [1 / math.log(2), math.inf, 0.0, -1.0])
    with pytest.raises(ValueError):
        spectrum(np.ones((2, 3)))


def test_attention_gives_input_gradients_and_no_lyapunov():
    """The attention model has no state: rows of ‖∂L/∂x_t‖ for t = 1..L (lag L − t) with NaN
    Jacobian norms. The adding loss reads the last output only, and with causal attention
    output L sees every input, so every input gets a gradient; a Lyapunov spectrum is a
    ConfigError."""
    torch.manual_seed(0)
    model = lrd.models.make("attention", TASK, hidden_size=16, num_heads=2).double()
    curve = gradient_decay(model, TASK, batch(n=3, length=10))
    assert curve["lag"].tolist() == list(range(10))
    assert (curve["grad_norm"] > 0).all() and curve["jacobian_norm"].isna().all()
    with pytest.raises(ConfigError):
        lyapunov(model, batch().inputs)


def test_decay_rates_fit_known_slopes():
    """ln y = 1 − 0.2·lag on lags ≤ 20 and 1 − 0.2·20 − 0.05·(lag − 20) beyond: the least
    squares slopes on [1, 20] and [20, 40] are −0.2 and −0.05 exactly (1e-12)."""
    lag = np.arange(41)
    y = np.exp(np.where(lag <= 20, 1 - 0.2 * lag, 1 - 4 - 0.05 * (lag - 20)))
    df = pd.DataFrame({"lag": lag, "jacobian_norm": y})
    r = decay_rates(df, ["jacobian_norm"], [(1, 20), (20, 40)])
    np.testing.assert_allclose(r["rate"], [-0.2, -0.05], atol=1e-12)


# -- what analysis reads from the model classes ------------------------------------------------

RECURRENT = [n for n, cls in lrd.models.MODELS.items() if issubclass(cls, Recurrent)]


@pytest.mark.parametrize("name", RECURRENT)
def test_weight_spectra_has_one_entry_per_gate_block(name):
    """``weight_spectra`` labels come from the class's ``gate_names`` (``l{k}`` for a single
    block); each is the spectrum of those H rows of W_hh, exactly."""
    gates = lrd.models.MODELS[name].gate_names
    torch.manual_seed(0)
    model = lrd.models.make(name, TASK, hidden_size=5, num_layers=2).double()
    spectra = weight_spectra(model)
    labels = [f"l{k}" if len(gates) == 1 else f"l{k}.{g}" for k in range(2) for g in gates]
    assert list(spectra) == labels
    for k, w in enumerate(model.recurrent_weights()):
        for i, label in enumerate(labels[k * len(gates):(k + 1) * len(gates)]):
            eig, sv = spectrum(w[5 * i:5 * (i + 1)])
            np.testing.assert_array_equal(spectra[label][0], eig)
            np.testing.assert_array_equal(spectra[label][1], sv)


@pytest.mark.parametrize("name", lrd.models.available())
def test_summary_has_ln_weight_spectra_only_where_weights_are_dynamics(name):
    """ln ρ(W_hh) and ln σ_max(W_hh) are reported for a class with ``weights_are_dynamics``
    (the RNN), not for gated models; a model without a state has only the input-gradient
    decay rate."""
    cls = lrd.models.MODELS[name]
    torch.manual_seed(0)
    model = lrd.models.make(name, TASK, hidden_size=8).double()
    s = summarize(analyze(model, TASK, batch(n=2, length=6), n_steps=2, n_sequences=2,
                          jacobian_sequences=2, lyapunov_sequences=2))
    if not issubclass(cls, Recurrent):
        assert set(s) == {"grad_decay_rate", "time_s"}
        return
    assert ("ln_weight_radius" in s) == ("ln_weight_sigma_max" in s) == cls.weights_are_dynamics
    if cls.weights_are_dynamics:
        assert s["ln_weight_radius"] == math.log(s["weight_radius"])
        assert s["ln_weight_sigma_max"] == math.log(s["weight_sigma_max"])
