"""Event-driven LIF forward pass and the learning rules' backward passes, with exact counts.

One call of :func:`run_batch` processes a whole batch (B samples, T time steps, every layer),
so Python pays its call overhead once per batch, not once per step or layer.

Network: ``L`` dense layers. Layers ``0 .. L-2`` are LIF layers; layer ``L-1`` is the
non-spiking linear readout, ``o[t] = b + W^T s^{L-1}[t]``, whose outputs are summed over time
for the prediction. Weights are stored input-major, ``W[l]`` has shape ``(n_in, n_out)``, so an
input event ``j`` reads one contiguous row (its fan-out).

Neuron (DESIGN.md "Neurons"), per step, charge -> fire -> reset::

    u[t] = lam * v[t-1] + cin * I[t]         (cin = 1 - lam with decay_input, else 1)
    s[t] = H(u[t] - theta)                   (H(0) = h0)
    v[t] = u[t] - theta * s[t]   (soft)   or   (1 - s[t]) * u[t]   (hard)

Loss per step (OTTT / SLTT): ``L[t] = ((1 - a) CE(o[t], y) + a MSE(o[t], target)) / T``,
averaged over the batch (MSE is a mean over classes, as torch ``nn.MSELoss``).

Modes:
- ``MODE_INFER``: forward only.
- ``MODE_SPATIAL``: per-step spatial backward (SLTT; OTTT when ``use_trace`` marks which layers
  take the presynaptic trace instead of the spike as presynaptic factor). ``step_mask`` selects
  the steps that run a backward pass (SLTT-K). ``online`` applies the update every step (OTTT_O).
- ``MODE_BPTT``: forward over all T keeping history, then backward through time (leak path, and
  the reset path unless ``detach``).

Counting conventions (all per sample ``b``, layer ``l``, phase): see chipsim/counts.py for the
vocabulary. A synaptic event reads one weight word and performs one AC (binary input) or MAC
(graded input) per fan-out synapse. A neuron update reads and writes one state word. Backward
work is counted only where it is executed: error MACs only for (neuron with non-zero surrogate)
x (non-zero upstream gradient) pairs, weight-gradient contributions only for (non-zero
presynaptic factor) x (non-zero postsynaptic gradient) pairs. Work shared by a batch (applying
the accumulated update) is attributed to the batch's last sample.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from chipsim.counts import (
    ERROR_MAC,
    GRAD_AC,
    GRAD_MAC,
    MEM_READ_GRAD,
    MEM_READ_HIST,
    MEM_READ_STATE,
    MEM_READ_TRACE,
    MEM_READ_WEIGHT,
    MEM_WRITE_GRAD,
    MEM_WRITE_HIST,
    MEM_WRITE_STATE,
    MEM_WRITE_TRACE,
    MEM_WRITE_WEIGHT,
    NB_DENSE_OPS,
    NB_EFF_OPS,
    NEURON_UPDATE_ACTIVE,
    NEURON_UPDATE_IDLE,
    OUTPUT_ERROR,
    SPIKE,
    SURROGATE_EVAL,
    SYN_MAC,
    SYNOP,
    TEMPORAL_MAC,
    TRACE_UPDATE,
    WEIGHT_UPDATE_ISSUED,
    WEIGHT_UPDATE_SKIPPED,
)

MODE_INFER = 0
MODE_SPATIAL = 1
MODE_BPTT = 2

SURROGATE_SIGMOID = 0
SURROGATE_TRIANGLE = 1

INFER = 0   # Phase.INFERENCE
LEARN = 1   # Phase.LEARNING


@njit(cache=True)
def heaviside(x, h0):
    """Spike function H(x) with H(0) = h0 (True: fire on equality, as OTTT/SLTT; False: TET)."""
    if x > 0.0:
        return 1
    if x == 0.0 and h0:
        return 1
    return 0


@njit(cache=True)
def surrogate(x, kind, alpha):
    """sigma'(x): sigmoid alpha*sig(alpha x)(1-sig(alpha x)), or triangle max(0, alpha - alpha^2 |x|)."""
    if kind == SURROGATE_SIGMOID:
        s = 1.0 / (1.0 + np.exp(-alpha * x))
        return alpha * s * (1.0 - s)
    y = alpha - alpha * alpha * abs(x)
    return y if y > 0.0 else 0.0


@njit(cache=True)
def _accumulate_events(W, bias, has_bias, idx, val, start, stop, binary, out, c):
    """out = bias + sum over input events of (value x) the event's weight row. Counts into c."""
    n_out = W.shape[1]
    if has_bias:
        for i in range(n_out):
            out[i] = bias[i]
    else:
        for i in range(n_out):
            out[i] = 0.0
    nz = 0
    for e in range(start, stop):
        row = W[idx[e]]
        if binary:
            for i in range(n_out):
                out[i] += row[i]
                nz += row[i] != 0.0
        else:
            x = val[e]
            for i in range(n_out):
                out[i] += x * row[i]
                nz += row[i] != 0.0
    nev = stop - start
    if binary:
        c[SYNOP] += nev * n_out
    else:
        c[SYN_MAC] += nev * n_out
    c[MEM_READ_WEIGHT] += nev * n_out
    c[NB_EFF_OPS] += nz
    c[NB_DENSE_OPS] += W.shape[0] * n_out
    if nev > 0:
        c[NEURON_UPDATE_ACTIVE] += n_out
    else:
        c[NEURON_UPDATE_IDLE] += n_out
    c[MEM_READ_STATE] += n_out
    c[MEM_WRITE_STATE] += n_out


@njit(cache=True)
def _lif(I, v, u, spk_idx, lam, theta, cin, soft, h0):
    """Charge, fire, reset one LIF layer of one sample; returns the number of spikes."""
    n = 0
    for i in range(I.shape[0]):
        ui = lam * v[i] + cin * I[i]
        s = heaviside(ui - theta, h0)
        u[i] = ui
        if s:
            spk_idx[n] = i
            n += 1
            if soft:
                v[i] = ui - theta
            else:
                v[i] = 0.0
        else:
            v[i] = ui
    return n


@njit(cache=True)
def _loss_grad(o, y, T, B, mse_w, onehot, tgt_const, g):
    """Per-step loss of one sample and its gradient dL/do, written to g (batch mean, /T)."""
    C = o.shape[0]
    m = o[0]
    for c_ in range(1, C):
        if o[c_] > m:
            m = o[c_]
    se = 0.0
    for c_ in range(C):
        se += np.exp(o[c_] - m)
    lse = m + np.log(se)
    ce = lse - o[y]
    mse = 0.0
    for c_ in range(C):
        if onehot:
            tgt = 1.0 if c_ == y else 0.0
        else:
            tgt = tgt_const
        d = o[c_] - tgt
        mse += d * d
        p = np.exp(o[c_] - lse)
        gce = p - (1.0 if c_ == y else 0.0)
        g[c_] = ((1.0 - mse_w) * gce + mse_w * 2.0 * d / C) / (T * B)
    mse /= C
    return ((1.0 - mse_w) * ce + mse_w * mse) / T


@njit(cache=True)
def _nonzero(g, out):
    n = 0
    for i in range(g.shape[0]):
        if g[i] != 0.0:
            out[n] = i
            n += 1
    return n


@njit(cache=True)
def _error_below(W, g, gnz, ng, sg, cin_below, g_below, c):
    """g_below[j] = cin * sg[j] * sum_k W[j,k] g[k], computed only where sg[j] != 0."""
    n_in = W.shape[0]
    n_out = W.shape[1]
    work = 0
    for j in range(n_in):
        if sg[j] == 0.0:
            g_below[j] = 0.0
            continue
        row = W[j]
        e = 0.0
        if ng == n_out:
            for k in range(n_out):
                e += row[k] * g[k]
        else:
            for q in range(ng):
                k = gnz[q]
                e += row[k] * g[k]
        work += ng
        g_below[j] = cin_below * sg[j] * e
    c[ERROR_MAC] += work
    c[MEM_READ_WEIGHT] += work


@njit(cache=True)
def _grad_rows(M, g, gnz, ng, j, p, binary):
    """Row j of M += p * g (binary presynaptic factor: += g), on g's non-zero entries only."""
    n_out = g.shape[0]
    row = M[j]
    if binary:
        if ng == n_out:
            for k in range(n_out):
                row[k] += g[k]
        else:
            for q in range(ng):
                k = gnz[q]
                row[k] += g[k]
    else:
        if ng == n_out:
            for k in range(n_out):
                row[k] += p * g[k]
        else:
            for q in range(ng):
                k = gnz[q]
                row[k] += p * g[k]


@njit(cache=True)
def _weight_grad(W, bias, has_bias, gW, gb, g, gnz, ng,
                 pre_idx, pre_val, pre_start, pre_stop, pre_binary,
                 trace, use_trace, direct, lr, touched, scratch, c):
    """Weight-gradient contributions g (x) pre for one sample and step (spatial rules).

    Accumulates into gW, or, ``direct`` (OTTT_O, batch 1, plain SGD), writes -lr * pre * g
    straight into W. ``touched[j]`` marks accumulator rows that received a contribution, so
    applying the update can skip rows that are certainly zero (counts still describe a sweep).
    ``scratch`` (>= n_out, weight dtype) holds -lr * g in direct mode.
    """
    n_out = g.shape[0]
    if direct:
        target = W
        gg = scratch[:n_out]
        for q in range(ng):
            k = gnz[q]
            gg[k] = -lr * g[k]
    else:
        target = gW
        gg = g
    n_pairs = 0
    if ng > 0 and use_trace:
        for j in range(trace.shape[0]):
            p = trace[j]
            if p != 0.0:
                _grad_rows(target, gg, gnz, ng, j, p, False)
                n_pairs += ng
                if not direct:
                    touched[j] = 1
    elif ng > 0:
        for e in range(pre_start, pre_stop):
            j = pre_idx[e]
            if pre_binary:
                _grad_rows(target, gg, gnz, ng, j, gg[0], True)
            else:
                _grad_rows(target, gg, gnz, ng, j, pre_val[e], False)
            n_pairs += ng
            if not direct:
                touched[j] = 1
    if pre_binary and not use_trace:
        c[GRAD_AC] += n_pairs
    else:
        c[GRAD_MAC] += n_pairs
    if direct:
        c[WEIGHT_UPDATE_ISSUED] += n_pairs
        c[WEIGHT_UPDATE_SKIPPED] += W.shape[0] * W.shape[1] - n_pairs
        c[MEM_READ_WEIGHT] += n_pairs
        c[MEM_WRITE_WEIGHT] += n_pairs
        if has_bias:
            for q in range(ng):
                bias[gnz[q]] += gg[gnz[q]]
            c[WEIGHT_UPDATE_ISSUED] += ng
            c[WEIGHT_UPDATE_SKIPPED] += W.shape[1] - ng
            c[MEM_READ_WEIGHT] += ng
            c[MEM_WRITE_WEIGHT] += ng
    else:
        c[MEM_READ_GRAD] += n_pairs
        c[MEM_WRITE_GRAD] += n_pairs
        if has_bias:
            for q in range(ng):
                gb[gnz[q]] += g[gnz[q]]
            c[MEM_READ_GRAD] += ng
            c[MEM_WRITE_GRAD] += ng


@njit(cache=True)
def _count_sweep(c, n, issued):
    """Counts of one plain-SGD apply sweep over n parameters of which ``issued`` changed:
    every accumulator word read and cleared, a weight read-modify-write where the update is
    non-zero, the rest skipped."""
    c[WEIGHT_UPDATE_ISSUED] += issued
    c[WEIGHT_UPDATE_SKIPPED] += n - issued
    c[MEM_READ_GRAD] += n
    c[MEM_WRITE_GRAD] += n
    c[MEM_READ_WEIGHT] += issued
    c[MEM_WRITE_WEIGHT] += issued


@njit(cache=True)
def _apply_one(P, G, M, lr, momentum, wd, c):
    """SGD (torch semantics) on one flattened parameter; clears the accumulator."""
    issued = 0
    n = P.shape[0]
    for i in range(n):
        d = G[i]
        if wd != 0.0:
            d += wd * P[i]
        if momentum != 0.0:
            M[i] = momentum * M[i] + d
            d = M[i]
        if d != 0.0:
            P[i] -= lr * d
            issued += 1
        G[i] = 0.0
    _count_sweep(c, n, issued)
    if momentum != 0.0:   # the momentum buffer is read and written too
        c[MEM_READ_GRAD] += n
        c[MEM_WRITE_GRAD] += n
    if wd != 0.0:         # weight decay reads every weight, not only the updated ones
        c[MEM_READ_WEIGHT] += n - issued


@njit(cache=True)
def _apply_rows(W, G, touched, lr, c):
    """Plain SGD on the touched rows only; untouched rows hold a zero gradient (skipped)."""
    n_in, n_out = W.shape
    issued = 0
    for j in range(n_in):
        if not touched[j]:
            continue
        touched[j] = 0
        rw = W[j]
        rg = G[j]
        for k in range(n_out):
            d = rg[k]
            if d != 0.0:
                rw[k] -= lr * d
                issued += 1
            rg[k] = 0.0
    _count_sweep(c, n_in * n_out, issued)


@njit(cache=True)
def apply_updates(Ws, bs, has_bias, gW, gb, mW, mb, touched, lr, momentum, wd, cnt):
    """Apply the accumulated gradients of every layer; counts into cnt (L, P, A).

    Counts describe a sweep over every weight's accumulator (read, clear) with a weight
    read-modify-write where the update is non-zero. Plain SGD only visits the rows that received
    a contribution (the others are exactly zero); momentum or weight decay visit every weight.
    """
    for l in range(len(Ws)):
        c = cnt[l, LEARN]
        W = Ws[l]
        if momentum == 0.0 and wd == 0.0:
            _apply_rows(W, gW[l], touched[l], lr, c)
        else:
            _apply_one(W.reshape(-1), gW[l].reshape(-1), mW[l].reshape(-1), lr, momentum, wd, c)
            touched[l][:] = 0
        if has_bias[l]:
            _apply_one(bs[l], gb[l], mb[l], lr, momentum, wd, c)


@njit(cache=True)
def _wgrad_from_history(W, bias, has_bias, G, ev_idx, ev_val, ev_ptr, binary, gW, gb, touched,
                        fused, lr, inv_cnt, inv_cur, inv_t, inv_e, gnz2, ngt, rowsum, c):
    """BPTT weight gradient of one layer and sample from the stored history.

    ``G`` (T, n_out) holds the postsynaptic gradient of every step; the presynaptic events of
    step t are ``ev_idx[ev_ptr[t]:ev_ptr[t+1]]``. The chip accumulates ``g[t]`` into row j of a
    gradient memory for every presynaptic event (counted so); the simulator sorts the events by
    row first and sums each row's contributions (in the same t-descending order) in a scratch
    row, so the accumulator or, ``fused`` (batch 1, plain SGD), the weights are written once per
    row. Results are bitwise those of event-by-event accumulation.
    """
    T = G.shape[0]
    n_in, n_out = W.shape
    for t in range(T):
        ngt[t] = _nonzero(G[t], gnz2[t])
    for j in range(n_in + 1):
        inv_cnt[j] = 0
    pairs = 0
    for t in range(T):
        for e in range(ev_ptr[t], ev_ptr[t + 1]):
            inv_cnt[ev_idx[e] + 1] += 1
            pairs += ngt[t]
    for j in range(n_in):
        inv_cnt[j + 1] += inv_cnt[j]
        inv_cur[j] = inv_cnt[j]
    for t in range(T - 1, -1, -1):
        for e in range(ev_ptr[t], ev_ptr[t + 1]):
            j = ev_idx[e]
            inv_t[inv_cur[j]] = t
            inv_e[inv_cur[j]] = e
            inv_cur[j] += 1
    issued = 0
    for j in range(n_in):
        if inv_cnt[j + 1] == inv_cnt[j]:
            continue
        for k in range(n_out):
            rowsum[k] = 0.0
        for q in range(inv_cnt[j], inv_cnt[j + 1]):
            t = inv_t[q]
            g = G[t]
            nz = ngt[t]
            if binary:
                if nz == n_out:
                    for k in range(n_out):
                        rowsum[k] += g[k]
                else:
                    for r in range(nz):
                        k = gnz2[t, r]
                        rowsum[k] += g[k]
            else:
                p = ev_val[inv_e[q]]
                if nz == n_out:
                    for k in range(n_out):
                        rowsum[k] += p * g[k]
                else:
                    for r in range(nz):
                        k = gnz2[t, r]
                        rowsum[k] += p * g[k]
        if fused:
            rw = W[j]
            for k in range(n_out):
                if rowsum[k] != 0.0:
                    rw[k] -= lr * rowsum[k]
                    issued += 1
        else:
            rg = gW[j]
            for k in range(n_out):
                rg[k] += rowsum[k]
            touched[j] = 1
    if binary:
        c[GRAD_AC] += pairs
    else:
        c[GRAD_MAC] += pairs
    c[MEM_READ_GRAD] += pairs
    c[MEM_WRITE_GRAD] += pairs
    if has_bias:
        for k in range(n_out):
            rowsum[k] = 0.0
        for t in range(T - 1, -1, -1):
            for r in range(ngt[t]):
                k = gnz2[t, r]
                rowsum[k] += G[t, k]
            c[MEM_READ_GRAD] += ngt[t]
            c[MEM_WRITE_GRAD] += ngt[t]
        if fused:
            bi = 0
            for k in range(n_out):
                if rowsum[k] != 0.0:
                    bias[k] -= lr * rowsum[k]
                    bi += 1
            _count_sweep(c, n_out, bi)
        else:
            for k in range(n_out):
                gb[k] += rowsum[k]
    if fused:
        # the apply sweep the chip performs after the sample (as _apply_rows counts it)
        _count_sweep(c, n_in * n_out, issued)


@njit(cache=True)
def run_batch(Ws, bs, has_bias, x_idx, x_val, x_ptr, x_binary, labels,
              v, u, spk_idx, spk_n, I_buf, traces, use_trace, o, osum, g_bufs,
              delta_next, u_hist, s_idx_hist, s_n_hist, go_hist, g_hist,
              gW, gb, mW, mb, touched,
              lam, theta, cin, soft, detach, h0, sg_kind, alpha,
              mse_w, onehot, tgt_const,
              mode, trace_decay, step_mask, online, direct, lr, momentum, wd,
              loss_out, cnt):
    """Run one batch through T steps with the configured rule. See the module docstring.

    Shapes: ``x_ptr`` (B, T+1) offsets into ``x_idx``/``x_val`` (input events of sample b at
    step t are ``x_ptr[b,t]:x_ptr[b,t+1]``); ``v[l]``, ``u[l]``, ``spk_idx[l]`` (B, n_l) per LIF
    layer; ``spk_n`` (L-1, B); ``traces[l]`` (B, n_in_l) where ``use_trace[l]``;
    ``g_bufs[l]`` (B, n_out_l); ``o``/``osum`` (B, C); BPTT history ``u_hist[l]`` (T, B, n_l),
    ``s_idx_hist[l]`` (T, B, n_l), ``s_n_hist`` (L-1, T, B), ``go_hist`` (T, B, C), ``g_hist[l]``
    (B, T, n_out_l) every layer's gradient per step; ``direct``: OTTT_O writes each update into
    the weights; BPTT applies its accumulated update itself (batch 1, plain SGD);
    ``loss_out`` (B,); ``cnt`` (B, L, P, A) int64. State (v, osum, traces) is reset here.
    """
    L = len(Ws)
    Ls = L - 1
    B = x_ptr.shape[0]
    T = x_ptr.shape[1] - 1
    C = o.shape[1]
    maxn = C
    for l in range(L):
        if Ws[l].shape[1] > maxn:
            maxn = Ws[l].shape[1]
        if Ws[l].shape[0] > maxn:
            maxn = Ws[l].shape[0]
    gnz = np.empty(maxn, dtype=np.int64)
    sg_buf = np.empty(maxn, dtype=Ws[0].dtype)
    ones = np.ones(maxn, dtype=Ws[0].dtype)
    learning = mode != MODE_INFER
    if mode == MODE_BPTT:   # scratch for the history-sorted weight gradients
        inv_cnt = np.empty(maxn + 1, dtype=np.int64)
        inv_cur = np.empty(maxn, dtype=np.int64)
        inv_t = np.empty(T * maxn, dtype=np.int64)
        inv_e = np.empty(T * maxn, dtype=np.int64)
        ev_idx = np.empty(T * maxn, dtype=np.int64)
        ev_ptr = np.empty(T + 1, dtype=np.int64)
        gnz2 = np.empty((T, maxn), dtype=np.int64)
        ngt = np.empty(T, dtype=np.int64)
        rowsum = np.empty(maxn, dtype=Ws[0].dtype)
    else:
        inv_cnt = np.empty(0, dtype=np.int64)
        inv_cur = np.empty(0, dtype=np.int64)
        inv_t = np.empty(0, dtype=np.int64)
        inv_e = np.empty(0, dtype=np.int64)
        ev_idx = np.empty(0, dtype=np.int64)
        ev_ptr = np.empty(0, dtype=np.int64)
        gnz2 = np.empty((0, 0), dtype=np.int64)
        ngt = np.empty(0, dtype=np.int64)
        rowsum = np.empty(0, dtype=Ws[0].dtype)

    for b in range(B):
        loss_out[b] = 0.0
        for c_ in range(C):
            osum[b, c_] = 0.0
        for l in range(Ls):
            v[l][b, :] = 0.0
        for l in range(L):
            if use_trace[l]:
                traces[l][b, :] = 0.0
        if mode == MODE_BPTT:
            for l in range(Ls):
                delta_next[l][b, :] = 0.0

    for t in range(T):
        backward_now = mode == MODE_SPATIAL and step_mask[t]
        for b in range(B):
            # ---------------- forward ----------------
            for l in range(Ls):
                c = cnt[b, l, INFER]
                if l == 0:
                    _accumulate_events(Ws[0], bs[0], has_bias[0], x_idx, x_val,
                                       x_ptr[b, t], x_ptr[b, t + 1], x_binary, I_buf[0], c)
                else:
                    _accumulate_events(Ws[l], bs[l], has_bias[l], spk_idx[l - 1][b], x_val,
                                       0, spk_n[l - 1, b], True, I_buf[l], c)
                ns = _lif(I_buf[l], v[l][b], u[l][b], spk_idx[l][b], lam, theta, cin, soft, h0)
                spk_n[l, b] = ns
                c[SPIKE] += ns
            c = cnt[b, Ls, INFER]
            if Ls == 0:
                _accumulate_events(Ws[Ls], bs[Ls], has_bias[Ls], x_idx, x_val,
                                   x_ptr[b, t], x_ptr[b, t + 1], x_binary, o[b], c)
            else:
                _accumulate_events(Ws[Ls], bs[Ls], has_bias[Ls], spk_idx[Ls - 1][b], x_val,
                                   0, spk_n[Ls - 1, b], True, o[b], c)
            for c_ in range(C):
                osum[b, c_] += o[b, c_]
            loss_out[b] += _loss_grad(o[b], labels[b], T, B, mse_w, onehot, tgt_const, g_bufs[Ls][b])

            if not learning:
                continue

            # ---------------- presynaptic traces (OTTT) ----------------
            for l in range(L):
                if not use_trace[l]:
                    continue
                tr = traces[l][b]
                for j in range(tr.shape[0]):
                    tr[j] *= trace_decay
                if l == 0:
                    for e in range(x_ptr[b, t], x_ptr[b, t + 1]):
                        tr[x_idx[e]] += 1.0 if x_binary else x_val[e]
                else:
                    for q in range(spk_n[l - 1, b]):
                        tr[spk_idx[l - 1][b, q]] += 1.0
                cl = cnt[b, l, LEARN]
                cl[TRACE_UPDATE] += tr.shape[0]
                cl[MEM_READ_TRACE] += tr.shape[0]
                cl[MEM_WRITE_TRACE] += tr.shape[0]

            if mode == MODE_BPTT:
                for l in range(Ls):
                    n = u[l].shape[1]
                    u_hist[l][t, b, :] = u[l][b]
                    ns = spk_n[l, b]
                    s_idx_hist[l][t, b, :ns] = spk_idx[l][b, :ns]
                    s_n_hist[l, t, b] = ns
                    cl = cnt[b, l, LEARN]
                    cl[MEM_WRITE_HIST] += n + ns
                go_hist[t, b, :] = g_bufs[Ls][b]
                cnt[b, Ls, LEARN][MEM_WRITE_HIST] += C
                cnt[b, Ls, LEARN][OUTPUT_ERROR] += C
                continue

            if not backward_now:
                continue

            # ---------------- spatial backward at step t (SLTT / OTTT) ----------------
            cnt[b, Ls, LEARN][OUTPUT_ERROR] += C
            for l in range(L - 1, -1, -1):
                c = cnt[b, l, LEARN]
                g = g_bufs[l][b]
                ng = _nonzero(g, gnz)
                if l > 0:
                    # surrogate of the layer below, then its error through W[l] (pre-update W)
                    lb = l - 1
                    nb_ = u[lb].shape[1]
                    cb = cnt[b, lb, LEARN]
                    for j in range(nb_):
                        sg_buf[j] = surrogate(u[lb][b, j] - theta, sg_kind, alpha)
                    cb[SURROGATE_EVAL] += nb_
                    cb[MEM_READ_STATE] += nb_
                    _error_below(Ws[l], g, gnz, ng, sg_buf[:nb_], cin, g_bufs[lb][b], c)
                if l == 0:
                    _weight_grad(Ws[l], bs[l], has_bias[l], gW[l], gb[l], g, gnz, ng,
                                 x_idx, x_val, x_ptr[b, t], x_ptr[b, t + 1], x_binary,
                                 traces[l][b] if use_trace[l] else ones[:0], use_trace[l],
                                 direct, lr, touched[l], sg_buf, c)
                else:
                    _weight_grad(Ws[l], bs[l], has_bias[l], gW[l], gb[l], g, gnz, ng,
                                 spk_idx[l - 1][b], x_val, 0, spk_n[l - 1, b], True,
                                 traces[l][b] if use_trace[l] else ones[:0], use_trace[l],
                                 direct, lr, touched[l], sg_buf, c)

        if backward_now and online and not direct:
            apply_updates(Ws, bs, has_bias, gW, gb, mW, mb, touched, lr, momentum, wd, cnt[B - 1])

    if mode != MODE_BPTT:
        return

    # ---------------- BPTT: backward through time ----------------
    for b in range(B):
        for t in range(T - 1, -1, -1):
            for l in range(L - 1, -1, -1):
                c = cnt[b, l, LEARN]
                if l == L - 1:
                    g = go_hist[t, b]
                    c[MEM_READ_HIST] += C
                else:
                    g = g_bufs[l][b]
                ng = _nonzero(g, gnz)
                if l > 0:
                    lb = l - 1
                    nb_ = u_hist[lb].shape[2]
                    cb = cnt[b, lb, LEARN]
                    uh = u_hist[lb][t, b]
                    for j in range(nb_):
                        sg_buf[j] = surrogate(uh[j] - theta, sg_kind, alpha)
                    cb[SURROGATE_EVAL] += nb_
                    cb[MEM_READ_HIST] += nb_
                    # e = W g on neurons with sg != 0; g_bufs[lb] receives cin * sg * e
                    _error_below(Ws[l], g, gnz, ng, sg_buf[:nb_], 1.0, g_bufs[lb][b], c)
                    # temporal route: delta[t] = sg*(e + r) + lam*delta[t+1]*k
                    dn = delta_next[lb][b]
                    gl = g_bufs[lb][b]
                    for j in range(nb_):
                        # gl[j] holds sg*e here
                        dnext = dn[j]
                        x = uh[j] - theta
                        if soft:
                            d = gl[j] + lam * dnext
                            if not detach:
                                d -= sg_buf[j] * theta * lam * dnext
                        else:
                            s = heaviside(x, h0)
                            k = 1.0 - s
                            if not detach:
                                k -= uh[j] * sg_buf[j]
                            d = gl[j] + lam * dnext * k
                        dn[j] = d
                        gl[j] = cin * d
                    if t < T - 1:
                        cb[TEMPORAL_MAC] += nb_
                g_hist[l][b, t, :] = g
        # weight gradients from the history, one layer at a time
        for l in range(L):
            c = cnt[b, l, LEARN]
            if l == 0:
                _wgrad_from_history(Ws[0], bs[0], has_bias[0], g_hist[0][b], x_idx, x_val, x_ptr[b],
                                    x_binary, gW[0], gb[0], touched[0], direct, lr, inv_cnt, inv_cur,
                                    inv_t, inv_e, gnz2, ngt, rowsum, c)
            else:
                ev_ptr[0] = 0
                for t in range(T):
                    ns = s_n_hist[l - 1, t, b]
                    ev_idx[ev_ptr[t]:ev_ptr[t] + ns] = s_idx_hist[l - 1][t, b, :ns]
                    ev_ptr[t + 1] = ev_ptr[t] + ns
                c[MEM_READ_HIST] += ev_ptr[T]
                _wgrad_from_history(Ws[l], bs[l], has_bias[l], g_hist[l][b], ev_idx, x_val, ev_ptr,
                                    True, gW[l], gb[l], touched[l], direct, lr, inv_cnt, inv_cur,
                                    inv_t, inv_e, gnz2, ngt, rowsum, c)
