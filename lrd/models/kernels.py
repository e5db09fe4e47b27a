"""Whole-sequence recurrent layers with a hand-written backward, for the CPU fast path.

One ``torch.autograd.Function`` per cell (tanh/ReLU RNN, LSTM, GRU), time-major inside:

  forward    the input projection of all steps is one matmul, ``X W_ihᵀ`` over [L·B, I]; then
             one ``addmm`` of [B, H] × [H, gH] per step plus the gate math, written into
             preallocated [L, B, ·] buffers that the backward reuses;
  backward   BPTT, one [B, gH] × [gH, H] matmul per step for the gradient carried to h_{t-1};
             the weight gradients are each ONE large matmul over all steps,
             dW_hh = Σ_t δ_tᵀ h_{t-1} = Δᵀ H_prev over [L·B], dW_ih = Δᵀ X, db = Σ δ_t,
             where autograd through torch's step loop does one small matmul per step for each.

The maths is the one the explicit path (``layer_cell`` of each model) writes with torch ops, in
torch's own gate order and bias placement (the GRU's reset gate after W_hn h + b_hn), so the
two paths agree to float32 round-off and the gradients agree with autograd (tests/test_kernels.py
checks both, and ``torch.autograd.gradcheck`` in float64). Which path a model uses on which
device is decided by measurement (benchmarks/kernels.py, results/bench/kernels.csv).
"""

from __future__ import annotations

import torch


def _weight_grads(delta: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """dW = Δᵀ·input over every (t, b) at once: [L, B, G] x [L, B, K] -> [G, K]."""
    return delta.flatten(0, 1).t().mm(inputs.flatten(0, 1))


class _RNNLayer(torch.autograd.Function):
    """h_t = φ(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), φ = tanh or relu."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, relu: bool):
        L = x.shape[0]
        pre = torch.addmm(b_ih + b_hh, x.flatten(0, 1), w_ih.t()).view(L, x.shape[1], -1)
        hs = torch.empty_like(pre)
        h, w_t = h0, w_hh.t()
        for t in range(L):
            out = torch.addmm(pre[t], h, w_t, out=hs[t])
            h = out.relu_() if relu else out.tanh_()
        ctx.relu = relu
        ctx.save_for_backward(x, h0, w_ih, w_hh, hs)
        return hs

    @staticmethod
    def backward(ctx, d_hs):
        x, h0, w_ih, w_hh, hs = ctx.saved_tensors
        delta = torch.empty_like(hs)
        carry = torch.zeros_like(h0)
        for t in range(hs.shape[0] - 1, -1, -1):
            g = d_hs[t] + carry
            if ctx.relu:
                g = g.mul_(hs[t] > 0)
            else:
                g = g.mul_(1 - hs[t] * hs[t])
            delta[t] = g
            carry = g.mm(w_hh)
        h_prev = torch.cat([h0.unsqueeze(0), hs[:-1]])
        d_b = delta.sum((0, 1))
        d_x = delta.flatten(0, 1).mm(w_ih).view_as(x) if ctx.needs_input_grad[0] else None
        return (d_x, carry, _weight_grads(delta, x), _weight_grads(delta, h_prev),
                d_b, d_b, None)


class _LSTMLayer(torch.autograd.Function):
    """Gates i, f, g, o of W_ih x_t + b_ih + W_hh h_{t-1} + b_hh; c_t = f c_{t-1} + i g,
    h_t = o tanh(c_t)."""

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        L, B = x.shape[:2]
        H = h0.shape[-1]
        gates = torch.addmm(b_ih + b_hh, x.flatten(0, 1), w_ih.t()).view(L, B, 4 * H)
        hs, cs = x.new_empty(L, B, H), x.new_empty(L, B, H)
        h, c, w_t = h0, c0, w_hh.t()
        for t in range(L):
            a = gates[t].addmm_(h, w_t)
            a[:, :2 * H].sigmoid_()
            a[:, 2 * H:3 * H].tanh_()
            a[:, 3 * H:].sigmoid_()
            i, f, g, o = a.chunk(4, 1)
            c = torch.addcmul(f * c, i, g, out=cs[t])
            h = torch.mul(o, c.tanh(), out=hs[t])
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, gates, hs, cs)
        return hs, cs[-1]

    @staticmethod
    def backward(ctx, d_hs, d_c_last):
        x, h0, c0, w_ih, w_hh, gates, hs, cs = ctx.saved_tensors
        L = hs.shape[0]
        delta = torch.empty_like(gates)
        d_h = torch.zeros_like(h0)
        d_c = d_c_last.clone() if d_c_last is not None else torch.zeros_like(c0)
        for t in range(L - 1, -1, -1):
            i, f, g, o = gates[t].chunk(4, 1)
            c_prev = cs[t - 1] if t > 0 else c0
            tc = cs[t].tanh()
            dh = d_hs[t] + d_h
            d_c = d_c.addcmul_(dh * o, 1 - tc * tc)
            di, df, dg, do = delta[t].chunk(4, 1)
            torch.mul(d_c * g, i * (1 - i), out=di)
            torch.mul(d_c * c_prev, f * (1 - f), out=df)
            torch.mul(d_c * i, 1 - g * g, out=dg)
            torch.mul(dh * tc, o * (1 - o), out=do)
            d_c = d_c * f
            d_h = delta[t].mm(w_hh)
        h_prev = torch.cat([h0.unsqueeze(0), hs[:-1]])
        d_b = delta.sum((0, 1))
        d_x = delta.flatten(0, 1).mm(w_ih).view_as(x) if ctx.needs_input_grad[0] else None
        return (d_x, d_h, d_c, _weight_grads(delta, x), _weight_grads(delta, h_prev),
                d_b, d_b)


class _GRULayer(torch.autograd.Function):
    """r, z = σ(x_r + h_r), σ(x_z + h_z); n = tanh(x_n + r ⊙ h_n) with x_· = W_i· x + b_i·,
    h_· = W_h· h + b_h·; h_t = (1 - z) n + z h_{t-1}."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh):
        L, B = x.shape[:2]
        H = h0.shape[-1]
        xp = torch.addmm(b_ih, x.flatten(0, 1), w_ih.t()).view(L, B, 3 * H)
        hp = x.new_empty(L, B, 3 * H)      # W_hh h_{t-1} + b_hh, kept for the backward
        rzn = x.new_empty(L, B, 3 * H)     # r, z, n
        hs = x.new_empty(L, B, H)
        h, w_t = h0, w_hh.t()
        for t in range(L):
            hh = torch.addmm(b_hh, h, w_t, out=hp[t])
            a = rzn[t]
            torch.add(xp[t, :, :2 * H], hh[:, :2 * H], out=a[:, :2 * H]).sigmoid_()
            r, z = a[:, :H], a[:, H:2 * H]
            n = torch.addcmul(xp[t, :, 2 * H:], r, hh[:, 2 * H:], out=a[:, 2 * H:]).tanh_()
            h = torch.addcmul(n, z, h - n, out=hs[t])
        ctx.save_for_backward(x, h0, w_ih, w_hh, hp, rzn, hs)
        return hs

    @staticmethod
    def backward(ctx, d_hs):
        x, h0, w_ih, w_hh, hp, rzn, hs = ctx.saved_tensors
        L, H = hs.shape[0], hs.shape[-1]
        dx_all, dh_all = torch.empty_like(rzn), torch.empty_like(hp)
        carry = torch.zeros_like(h0)
        for t in range(L - 1, -1, -1):
            r, z, n = rzn[t].chunk(3, 1)
            h_prev = hs[t - 1] if t > 0 else h0
            dh = d_hs[t] + carry
            dn = dh * (1 - z) * (1 - n * n)
            dz = dh * (h_prev - n) * z * (1 - z)
            dr = dn * hp[t, :, 2 * H:] * r * (1 - r)
            dxt, dht = dx_all[t], dh_all[t]
            dxt[:, :H], dxt[:, H:2 * H], dxt[:, 2 * H:] = dr, dz, dn
            dht[:, :H], dht[:, H:2 * H] = dr, dz
            torch.mul(dn, r, out=dht[:, 2 * H:])
            carry = torch.addmm(dh * z, dht, w_hh)
        h_prev = torch.cat([h0.unsqueeze(0), hs[:-1]])
        d_x = dx_all.flatten(0, 1).mm(w_ih).view_as(x) if ctx.needs_input_grad[0] else None
        return (d_x, carry, _weight_grads(dx_all, x), _weight_grads(dh_all, h_prev),
                dx_all.sum((0, 1)), dh_all.sum((0, 1)))


def rnn_layer(x, h0, w_ih, w_hh, b_ih, b_hh, relu: bool = False) -> torch.Tensor:
    """One RNN layer over a time-major sequence x [L, B, I] from h0 [B, H]: hs [L, B, H]."""
    return _RNNLayer.apply(x, h0, w_ih, w_hh, b_ih, b_hh, relu)


def lstm_layer(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """One LSTM layer over x [L, B, I] from (h0, c0): (hs [L, B, H], c_L [B, H])."""
    return _LSTMLayer.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh)


def gru_layer(x, h0, w_ih, w_hh, b_ih, b_hh) -> torch.Tensor:
    """One GRU layer over x [L, B, I] from h0 [B, H]: hs [L, B, H]."""
    return _GRULayer.apply(x, h0, w_ih, w_hh, b_ih, b_hh)
