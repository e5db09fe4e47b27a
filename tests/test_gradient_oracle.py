"""Autograd's gradients on the lrd ``rnn`` model against hand-derived BPTT in NumPy (float64).

Single-layer tanh RNN, linear head, softmax cross-entropy averaged over the N scored
positions (mask m_t ∈ {0, 1}, N = Σ m), for one sequence (sums over the batch implied):

    forward    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh,   h_t = tanh(a_t),   t = 1..T
               z_t = W_o h_t + b_o,   p_t = softmax(z_t)
               L   = (1/N) Σ_t m_t · (-log p_t[y_t])

    backward   δz_t = m_t (p_t - e_{y_t}) / N                        (softmax + CE)
               ∂L/∂W_o = Σ_t δz_t h_tᵀ,   ∂L/∂b_o = Σ_t δz_t
               g_t  = W_oᵀ δz_t + W_hhᵀ δa_{t+1},   δa_{T+1} = 0     (through time)
               δa_t = g_t ⊙ (1 - h_t²)                                (tanh' = 1 - tanh²)
               ∂L/∂W_ih = Σ_t δa_t x_tᵀ,   ∂L/∂W_hh = Σ_t δa_t h_{t-1}ᵀ
               ∂L/∂b_ih = ∂L/∂b_hh = Σ_t δa_t,   ∂L/∂h_0 = W_hhᵀ δa_1
"""

import numpy as np
import pytest
import torch

import lrd.models
import lrd.tasks


def bptt(x, y, m, h0, W_ih, W_hh, b_ih, b_hh, W_o, b_o):
    """The equations of the module docstring. x [B,T,I], y [B,T] ints, m [B,T] 0/1."""
    B, T, _ = x.shape
    N = m.sum()
    hs = [h0]
    loss, dz = 0.0, []
    for t in range(T):
        hs.append(np.tanh(x[:, t] @ W_ih.T + b_ih + hs[-1] @ W_hh.T + b_hh))
        z = hs[-1] @ W_o.T + b_o
        z = z - z.max(1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        rows = np.arange(B)
        loss += -(m[:, t] * np.log(p[rows, y[:, t]])).sum() / N
        onehot = np.zeros_like(p)
        onehot[rows, y[:, t]] = 1.0
        dz.append(m[:, t, None] * (p - onehot) / N)
    g = {k: np.zeros_like(v) for k, v in
         dict(W_ih=W_ih, W_hh=W_hh, b_ih=b_ih, b_hh=b_hh, W_o=W_o, b_o=b_o).items()}
    da_next = np.zeros_like(h0)
    for t in reversed(range(T)):
        h, h_prev = hs[t + 1], hs[t]
        g["W_o"] += dz[t].T @ h
        g["b_o"] += dz[t].sum(0)
        da = (dz[t] @ W_o + da_next @ W_hh) * (1 - h ** 2)
        g["W_ih"] += da.T @ x[:, t]
        g["W_hh"] += da.T @ h_prev
        g["b_ih"] += da.sum(0)
        g["b_hh"] += da.sum(0)
        da_next = da
    g["h0"] = da_next @ W_hh
    return loss, g


@pytest.mark.parametrize("path", ["run", "steps"])
@pytest.mark.parametrize("init", ["default", "orthogonal"])
def test_autograd_equals_hand_derived_bptt(path, init):
    task = lrd.tasks.make("delayed_recall", n_symbols=4, n_recall=3)  # scores 3 of 9 steps
    torch.manual_seed(0)
    model = lrd.models.make("rnn", task, hidden_size=7, init=init).double()
    batch = task.sample(5, 6, torch.Generator().manual_seed(1))
    x = batch.inputs.double()
    h0 = torch.randn(1, 5, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    h0.requires_grad_(True)
    out, _ = getattr(model, path)(x, (h0,))
    loss = task.loss(out, batch)
    loss.backward()

    c = model.core
    params = dict(W_ih=c.weight_ih_l0, W_hh=c.weight_hh_l0, b_ih=c.bias_ih_l0,
                  b_hh=c.bias_hh_l0, W_o=model.head.weight, b_o=model.head.bias)
    ref_loss, ref = bptt(x.numpy(), batch.targets.numpy(), batch.mask.double().numpy(),
                         h0.detach()[0].numpy(), *(p.detach().numpy() for p in params.values()))
    assert batch.mask.sum() == 5 * 3
    np.testing.assert_allclose(loss.item(), ref_loss, rtol=1e-12)
    grads = {k: p.grad.numpy() for k, p in params.items()} | {"h0": h0.grad[0].numpy()}
    for k, g in ref.items():
        assert np.abs(g).max() > 1e-6, k  # every gradient is non-trivial
        np.testing.assert_allclose(grads[k], g, rtol=1e-8, atol=1e-14, err_msg=k)
        assert np.linalg.norm(grads[k] - g) <= 1e-8 * np.linalg.norm(g), k
