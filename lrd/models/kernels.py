"""Whole-sequence recurrent layers with a hand-written backward, for the CPU fast path.

One ``torch.autograd.Function`` per cell (RNN with φ = tanh, relu or identity; LSTM; GRU),
time-major inside ([L, B, ·]):

  forward    the input projection of all steps is one matmul, ``X W_ihᵀ + b`` over [L·B, I],
             written straight into the buffer the steps then fill in place; each step is one
             ``addmm_`` of [B, H] × [H, gH] plus a few in-place gate ops on [B, H] slices, so a
             step allocates nothing;
  backward   the loop is one ``addmm`` of [B, gH] × [gH, H] a step (the gradient carried to
             h_{t-1}, with the output's gradient as its bias) and a few multiplies by the
             factors that do not depend on the carried gradient (φ'(·), the gate derivatives
             σ(1-σ), 1-tanh², ...). Those factors are computed on each step's data while it is
             in cache (the RNN's φ' in the backward loop, the GRU's in the forward loop when a
             gradient is wanted): computed vectorised over all steps they were passes over
             [L, B, H] arrays in main memory, most of the GRU's time. The weight gradients are
             each ONE large matmul over all steps, dW_hh = Σ_t δ_tᵀ h_{t-1} = Δᵀ H_prev over
             [L·B], dW_ih = Δᵀ X, db = Σ δ_t, where autograd through a step loop does one small
             matmul per step for each.

TANH_VIA_SIGMOID: torch's CPU tanh takes ~39 µs on a [128, 128] float32 block here where sigmoid
takes ~6 (torch 2.13, AVX-512, one thread), so the RNN and GRU kernels compute tanh(a) as
2σ(2a) - 1: the same function, within ~2e-7 of float64 tanh in float32 (3e-8 for torch's
own), with the factor 2 folded into the matmuls (exact: a power of two). That bound is absolute:
2σ(2a) - 1 subtracts two numbers near 1 when |a| is small, so its relative error grows as |a|
shrinks (measured: 1e-4 for |a| ≤ 1e-2, 1e-2 for |a| ≤ 1e-4), where torch's tanh stays near
float32 round-off. A state component that small carries as little signal either way (it adds
at most ~2e-7 to a preactivation of order 1); the analysis, which computes Jacobians on the
explicit path with torch's tanh, sees the same trained weights. The backward uses 1 - h² as
before. The LSTM kernel keeps tanh (its CPU path is the fused module, fast_path.csv).

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


def _ih_grads(delta, inputs):
    """(dW_ih, db) = (Σ δᵀ x, Σ δ) over every (t, b) at once: delta [L, B, G], inputs
    [L, B, K] -> ([G, K], [G]). One matmul (x|1)ᵀ Δ over [L·B] gives both (a ones column
    appended to the inputs), read as its transpose: for a few input columns (K = 3) MKL does
    xᵀ Δ ~4x faster than Δᵀ x (measured 2.5 vs 10.6 ms at L·B = 38400, G = 128), and the bias
    sum is then no extra pass over Δ."""
    xf = inputs.flatten(0, 1)
    g = torch.cat([xf, xf.new_ones(xf.shape[0], 1)], 1).t().mm(delta.flatten(0, 1))
    return g[:-1].t(), g[-1]


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
        # tanh(a) = 2σ(2a) - 1, the 2 folded into the matmuls (TANH_VIA_SIGMOID)
        k = 2.0 if phi == "tanh" else 1.0
        hs = torch.addmm(b_ih + b_hh, x.flatten(0, 1), w_ih.t(), beta=k, alpha=k).view(L, B, -1)
        h, w_t = h0, w_hh.t()
        for a in hs.unbind(0):
            h = a.addmm_(h, w_t, alpha=k)
            if phi == "tanh":
                h.sigmoid_().mul_(2).sub_(1)
            elif phi == "relu":
                h.relu_()
        ctx.phi = phi
        ctx.save_for_backward(x, h0, w_ih, w_hh, hs)
        return hs

    @staticmethod
    def backward(ctx, d_hs):
        x, h0, w_ih, w_hh, hs = ctx.saved_tensors
        L = hs.shape[0]
        # delta[t] = (d_hs[t] + δ_{t+1} W_hh) ⊙ φ'_t, the addmm written straight into delta[t]
        # and φ' applied there, on the step's data while it is in cache (a vectorised φ' over
        # all steps is two more passes over [L, B, H] in memory)
        delta = torch.empty_like(hs)
        dv, hv, gv = delta.unbind(0), hs.unbind(0), d_hs.unbind(0)
        tmp = torch.empty_like(hv[0])
        for t in range(L - 1, -1, -1):
            d = dv[t]
            if t == L - 1:
                d.copy_(gv[t])
            else:
                torch.addmm(gv[t], dv[t + 1], w_hh, out=d)
            if ctx.phi == "tanh":
                torch.mul(hv[t], hv[t], out=tmp)
                d.addcmul_(d, tmp, value=-1)          # d (1 - h²)
            elif ctx.phi == "relu":
                d.mul_(hv[t] > 0)                     # relu' = [h > 0]
        d_h0 = delta[0].mm(w_hh)
        d_w_ih, d_b = _ih_grads(delta, x)
        return (_input_grads(ctx, delta, w_ih, x), d_h0, d_w_ih, _hh_grads(delta, h0, hs),
                d_b, d_b, None)


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
        d_w_ih, d_b = _ih_grads(delta, x)
        return (_input_grads(ctx, delta, w_ih, x), d_h0, d_c0, d_w_ih,
                _hh_grads(delta, h0, hs), d_b, d_b)


class _GRULayer(torch.autograd.Function):
    """r, z = σ(x_r + h_r), σ(x_z + h_z); n = tanh(x_n + r ⊙ h_n) with x_· = W_i· x + b_i·,
    h_· = W_h· h + b_h·; h_t = (1 - z) n + z h_{t-1}."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, grad: bool):
        L, B = x.shape[:2]
        H = h0.shape[-1]
        # x_· of every step -> r, z, n in place; the n rows doubled (exact), for
        # tanh(a) = 2σ(2a) - 1 (TANH_VIA_SIGMOID)
        scale = x.new_ones(3 * H)
        scale[2 * H:] = 2
        rzn = torch.addmm(b_ih * scale, x.flatten(0, 1),
                          (w_ih * scale[:, None]).t()).view(L, B, 3 * H)
        hs = x.new_empty(L, B, H)
        hh = x.new_empty(B, 3 * H)           # W_hh h_{t-1} + b_hh of the current step
        if grad:
            # the factors of dh_t in every gate's gradient, computed here while the step's
            # data is in cache (vectorised over all steps in the backward they were ~15 more
            # passes over [L, B, H] arrays in memory), in four slots a step:
            # (fr, fz, fn ⊙ r) the W_hh side, and fn = (1 - z)(1 - n²) the n gate's W_ih side
            fac = x.new_empty(L, B, 4, H)
            tmp, one = x.new_empty(B, H), x.new_ones(B, H)
        h, w_t = h0, w_hh.t()
        for t in range(L):
            torch.addmm(b_hh, h, w_t, out=hh)
            a = rzn[t]
            rz = a[:, :2 * H].add_(hh[:, :2 * H]).sigmoid_()
            r, z = rz[:, :H], rz[:, H:]
            hn = hh[:, 2 * H:]
            n = a[:, 2 * H:].addcmul_(r, hn, value=2).sigmoid_().mul_(2).sub_(1)
            h_prev, h = h, torch.lerp(n, h, z, out=hs[t])
            if grad:
                fr, fz, fnr, fn = fac[t].unbind(1)
                torch.addcmul(one, n, n, value=-1, out=tmp)       # 1 - n²
                torch.addcmul(tmp, tmp, z, value=-1, out=fn)      # (1 - z)(1 - n²)
                torch.addcmul(z, z, z, value=-1, out=fz)          # z(1 - z)
                fz.mul_(torch.sub(h_prev, n, out=tmp))            # (h_{t-1} - n) z(1 - z)
                torch.addcmul(r, r, r, value=-1, out=fr)          # r(1 - r)
                fr.mul_(hn).mul_(fn)                              # h_n r(1 - r) fn
                torch.mul(fn, r, out=fnr)                         # fn r
        if grad:
            ctx.save_for_backward(x, h0, w_ih, w_hh, rzn, hs, fac)
        return hs

    @staticmethod
    def backward(ctx, d_hs):
        x, h0, w_ih, w_hh, rzn, hs, fac = ctx.saved_tensors
        L, B, H = hs.shape
        z = rzn[:, :, H:2 * H]
        # one multiply a step fills the four slots of delta: (δr, δz, δn ⊙ r) = dh_all, the
        # W_hh side, and δn; dh_all is a strided [L, B, 3H] view (rows 4H apart), a valid
        # matrix operand for every matmul below
        delta = x.new_empty(L, B, 4, H)
        dh_all = delta.view(L, B, 4 * H)[:, :, :3 * H]
        gv = d_hs.unbind(0)
        # cur: the whole gradient reaching h_t; dh_{t-1} = d_hs[t-1] + dh_t ⊙ z_t + dh_all[t] W_hh
        cur, nxt = gv[L - 1].clone(), x.new_empty(B, H)
        for t in range(L - 1, -1, -1):
            torch.mul(fac[t], cur.unsqueeze(1), out=delta[t])
            if t > 0:
                torch.addmm(gv[t - 1], dh_all[t], w_hh, out=nxt).addcmul_(cur, z[t])
                cur, nxt = nxt, cur
        d_h0 = torch.addmm(cur * z[0], dh_all[0], w_hh)
        # W_ih side: (δr, δz, δn), slots 0, 1 and 3; the slot-2 column sums are db_hh's n part
        g_w, g_b = _ih_grads(delta.view(L, B, 4 * H), x)
        keep = torch.cat([torch.arange(2 * H), torch.arange(3 * H, 4 * H)])
        d_x = None
        if ctx.needs_input_grad[0]:
            d4 = delta.view(L * B, 4 * H)
            d_x = torch.addmm(d4[:, 3 * H:].mm(w_ih[2 * H:]), d4[:, :2 * H],
                              w_ih[:2 * H]).view_as(x)
        return (d_x, d_h0, g_w[keep], _hh_grads(dh_all, h0, hs), g_b[keep], g_b[:3 * H],
                None)


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
    grad = torch.is_grad_enabled() and any(t.requires_grad
                                           for t in (x, h0, w_ih, w_hh, b_ih, b_hh))
    return _GRULayer.apply(x, h0, w_ih, w_hh, b_ih, b_hh, grad)
