"""Whole-sequence recurrent layers with a hand-written backward, for the CPU fast path.

One ``torch.autograd.Function`` per cell (RNN with φ = tanh, relu or identity; LSTM; GRU),
time-major inside ([L, B, ·]):

  forward    the input projection of all steps is one matmul, ``X W_ihᵀ + b`` over [L·B, I],
             written straight into the buffer the steps then fill in place; each step is one
             ``addmm_`` of [B, H] × [H, gH] plus a few in-place gate ops (2 ops a step for the
             RNN, 6 for the GRU, 8 for the LSTM), so a step allocates nothing;
  backward   every factor that does not depend on the carried gradient (φ'(·), the gate
             derivatives σ(1-σ), 1-tanh², ...) is computed once for all steps, vectorised,
             before the loop; the loop is then one ``addmm`` of [B, gH] × [gH, H] (the gradient
             carried to h_{t-1}, with the output's gradient as its bias) and 1 to 4 in-place
             multiplies a step; the weight gradients are each ONE large matmul over all steps,
             dW_hh = Σ_t δ_tᵀ h_{t-1} = Δᵀ H_prev over [L·B], dW_ih = Δᵀ X, db = Σ δ_t,
             where autograd through a step loop does one small matmul per step for each.

The maths is the one the explicit path (``layer_cell`` of each model) writes with torch ops, in
torch's own gate order and bias placement (the GRU's reset gate after W_hn h + b_hn), so the
two paths agree to round-off, and the gradients agree with autograd: tests/test_kernels.py
checks both, and ``torch.autograd.gradcheck`` in float64. The kernels are not twice
differentiable (nothing in lrd differentiates a training step twice; the analysis uses the
explicit path). Which path a model uses on which device is decided by measurement
(``cpu_path`` of each model; benchmarks/bench.py --only fast_path writes
results/bench/fast_path.csv).
"""

from __future__ import annotations

import torch

PHIS = ("tanh", "relu", "identity")


def _weight_grads(delta, inputs):
    """dW = Δᵀ·input over every (t, b) at once: [L, B, G] x [L, B, K] -> [G, K]."""
    return delta.flatten(0, 1).t().mm(inputs.flatten(0, 1))


def _hh_grads(delta, h0, hs):
    """dW_hh = Σ_t δ_tᵀ h_{t-1} with h_{-1} = h0, without concatenating h0 to hs."""
    d = delta[0].t().mm(h0)
    if hs.shape[0] > 1:
        d.addmm_(delta[1:].flatten(0, 1).t(), hs[:-1].flatten(0, 1))
    return d


def _input_grads(ctx, delta, w_ih, x):
    return delta.flatten(0, 1).mm(w_ih).view_as(x) if ctx.needs_input_grad[0] else None


class _RNNLayer(torch.autograd.Function):
    """h_t = φ(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, phi: str):
        L, B = x.shape[:2]
        hs = torch.addmm(b_ih + b_hh, x.flatten(0, 1), w_ih.t()).view(L, B, -1)
        h, w_t = h0, w_hh.t()
        for t in range(L):
            h = hs[t].addmm_(h, w_t)
            if phi == "tanh":
                h.tanh_()
            elif phi == "relu":
                h.relu_()
        ctx.phi = phi
        ctx.save_for_backward(x, h0, w_ih, w_hh, hs)
        return hs

    @staticmethod
    def backward(ctx, d_hs):
        x, h0, w_ih, w_hh, hs = ctx.saved_tensors
        d_hs = d_hs.contiguous()
        if ctx.phi == "tanh":
            dphi = 1 - hs * hs                      # φ'(·) of every step, vectorised
        elif ctx.phi == "relu":
            dphi = (hs > 0).to(hs.dtype)
        else:
            dphi = None
        L = hs.shape[0]
        # delta[t] = (d_hs[t] + δ_{t+1} W_hh) ⊙ φ'_t, the addmm written straight into delta[t]
        delta = d_hs.clone()                        # one vectorised copy, then in place
        for t in range(L - 1, -1, -1):
            if dphi is not None:
                delta[t].mul_(dphi[t])
            if t > 0:
                delta[t - 1].addmm_(delta[t], w_hh)
        d_h0 = delta[0].mm(w_hh)
        d_b = delta.sum((0, 1))
        return (_input_grads(ctx, delta, w_ih, x), d_h0, _weight_grads(delta, x),
                _hh_grads(delta, h0, hs), d_b, d_b, None)


class _LSTMLayer(torch.autograd.Function):
    """Gates i, f, g, o of W_ih x_t + b_ih + W_hh h_{t-1} + b_hh; c_t = f c_{t-1} + i g,
    h_t = o tanh(c_t)."""

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        L, B = x.shape[:2]
        H = h0.shape[-1]
        gates = torch.addmm(b_ih + b_hh, x.flatten(0, 1), w_ih.t()).view(L, B, 4 * H)
        hs, cs, tcs = (x.new_empty(L, B, H) for _ in range(3))
        h, c, w_t = h0, c0, w_hh.t()
        for t in range(L):
            a = gates[t].addmm_(h, w_t)
            a[:, :2 * H].sigmoid_()
            a[:, 2 * H:3 * H].tanh_()
            a[:, 3 * H:].sigmoid_()
            i, f, g, o = a.chunk(4, 1)
            c = torch.mul(f, c, out=cs[t]).addcmul_(i, g)
            h = torch.mul(o, torch.tanh(c, out=tcs[t]), out=hs[t])
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, gates, cs, tcs, hs)
        return hs, cs[L - 1].clone()

    @staticmethod
    def backward(ctx, d_hs, d_c_last):
        x, h0, c0, w_ih, w_hh, gates, cs, tcs, hs = ctx.saved_tensors
        L, B, H = hs.shape
        d_hs = d_hs.contiguous()
        i, f, g, o = gates.chunk(4, 2)
        # the factors that do not depend on the carried gradient, for every step at once:
        # δi = dc ⊙ g i(1-i), δf = dc ⊙ c_{t-1} f(1-f), δg = dc ⊙ i (1-g²), δo = dh ⊙ tanh(c) o(1-o)
        # and dc_t = dc_{t+1} ⊙ f_{t+1} + dh_t ⊙ o (1 - tanh²(c_t))
        fac = torch.empty_like(gates).view(L, B, 4, H)
        torch.mul(i * (1 - i), g, out=fac[:, :, 0])
        ff = f * (1 - f)
        torch.mul(ff[0], c0, out=fac[0, :, 1])
        torch.mul(ff[1:], cs[:-1], out=fac[1:, :, 1])
        torch.mul(1 - g * g, i, out=fac[:, :, 2])
        torch.mul(o * (1 - o), tcs, out=fac[:, :, 3])
        dc_fac = (1 - tcs * tcs).mul_(o)
        delta = torch.empty_like(gates)
        d4 = delta.view(L, B, 4, H)
        dhs = d_hs.clone()                 # the whole gradient reaching h_t, filled in place
        dc = d_c_last.clone()
        for t in range(L - 1, -1, -1):
            dh = dhs[t]
            if t < L - 1:
                dc.mul_(f[t + 1])
                dh.addmm_(delta[t + 1], w_hh)
            dc.addcmul_(dh, dc_fac[t])
            torch.mul(fac[t, :, :3], dc.unsqueeze(1), out=d4[t, :, :3])
            torch.mul(fac[t, :, 3], dh, out=d4[t, :, 3])
        d_h0 = delta[0].mm(w_hh)
        d_c0 = dc.mul_(f[0])
        d_b = delta.sum((0, 1))
        return (_input_grads(ctx, delta, w_ih, x), d_h0, d_c0, _weight_grads(delta, x),
                _hh_grads(delta, h0, hs), d_b, d_b)


class _GRULayer(torch.autograd.Function):
    """r, z = σ(x_r + h_r), σ(x_z + h_z); n = tanh(x_n + r ⊙ h_n) with x_· = W_i· x + b_i·,
    h_· = W_h· h + b_h·; h_t = (1 - z) n + z h_{t-1}."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh):
        L, B = x.shape[:2]
        H = h0.shape[-1]
        rzn = torch.addmm(b_ih, x.flatten(0, 1), w_ih.t()).view(L, B, 3 * H)  # x_· -> r, z, n
        hp = b_hh.expand(L, B, 3 * H).clone()  # W_hh h_{t-1} + b_hh, kept for the backward
        hs = x.new_empty(L, B, H)
        h, w_t = h0, w_hh.t()
        for t in range(L):
            hh = hp[t].addmm_(h, w_t)
            a = rzn[t]
            rz = a[:, :2 * H].add_(hh[:, :2 * H]).sigmoid_()
            n = a[:, 2 * H:].addcmul_(rz[:, :H], hh[:, 2 * H:]).tanh_()
            h = torch.lerp(n, h, rz[:, H:], out=hs[t])   # n + z (h - n)
        ctx.save_for_backward(x, h0, w_ih, w_hh, hp, rzn, hs)
        return hs

    @staticmethod
    def backward(ctx, d_hs):
        x, h0, w_ih, w_hh, hp, rzn, hs = ctx.saved_tensors
        L, B, H = hs.shape
        d_hs = d_hs.contiguous()
        r, z, n = rzn.chunk(3, 2)
        hn = hp[:, :, 2 * H:]
        # δn = dh ⊙ (1-z)(1-n²), δz = dh ⊙ (h_{t-1} - n) z(1-z), δr = δn ⊙ hn r(1-r): every
        # factor of dh for every step at once; the W_hh side sees (δr, δz, δn ⊙ r)
        fx = torch.empty_like(rzn).view(L, B, 3, H)
        pn = torch.mul(1 - z, 1 - n * n, out=fx[:, :, 2])
        zz = z * (1 - z)
        torch.mul(h0 - n[0], zz[0], out=fx[0, :, 1])
        torch.mul(hs[:-1] - n[1:], zz[1:], out=fx[1:, :, 1])
        torch.mul(pn * hn, r * (1 - r), out=fx[:, :, 0])
        fh = fx.clone()
        fh[:, :, 2].mul_(r)
        dh_all = torch.empty_like(hp)      # (δr, δz, δn ⊙ r) of every step
        d4 = dh_all.view(L, B, 3, H)
        dh = d_hs.clone()                  # the whole gradient reaching h_t, filled in place
        for t in range(L - 1, -1, -1):
            torch.mul(fh[t], dh[t].unsqueeze(1), out=d4[t])
            if t > 0:
                dh[t - 1].addcmul_(dh[t], z[t]).addmm_(dh_all[t], w_hh)
        d_h0 = torch.addmm(dh[0] * z[0], dh_all[0], w_hh)
        dx_all = fx.mul_(dh.unsqueeze(2)).view(L, B, 3 * H)
        return (_input_grads(ctx, dx_all, w_ih, x), d_h0, _weight_grads(dx_all, x),
                _hh_grads(dh_all, h0, hs), dx_all.sum((0, 1)), dh_all.sum((0, 1)))


def rnn_layer(x, h0, w_ih, w_hh, b_ih, b_hh, phi: str = "tanh") -> torch.Tensor:
    """One RNN layer over a time-major sequence x [L, B, I] from h0 [B, H]: hs [L, B, H].
    ``phi``: tanh, relu or identity (the linear RNN)."""
    if phi not in PHIS:
        raise ValueError(f"phi must be one of {PHIS}, got {phi!r}")
    return _RNNLayer.apply(x, h0, w_ih, w_hh, b_ih, b_hh, phi)


def lstm_layer(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """One LSTM layer over x [L, B, I] from (h0, c0): (hs [L, B, H], c_L [B, H])."""
    return _LSTMLayer.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh)


def gru_layer(x, h0, w_ih, w_hh, b_ih, b_hh) -> torch.Tensor:
    """One GRU layer over x [L, B, I] from h0 [B, H]: hs [L, B, H]."""
    return _GRULayer.apply(x, h0, w_ih, w_hh, b_ih, b_hh)
