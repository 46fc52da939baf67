"""Event-driven SNN forward pass and the learning rules' backward passes, with exact counts.

One call of :func:`run_batch` processes a whole batch (B samples, T time steps, every layer),
so Python pays its call overhead once per batch, not once per step or layer.

Network: weight layers described by rows of an int64 geometry table (``G_*`` columns). Main
layers ``0 .. n_lif-1`` are LIF layers (dense or convolution), layer ``n_lif`` is the
non-spiking linear readout ``o[t] = b + W^T x[t]`` (summed over time for the prediction), and
any further layers are auxiliary classifiers of temporally-truncated local BPTT. Each layer
reads a population (0 = the network input, p = LIF layer p-1), through that population's
dropout mask (one per sample, constant in time) and the layer's own pooling. Activations are
channel-last: position (y, x, c) of an (H, W, C) map is index (y*W + x)*C + c. A dense layer
is the 1x1 case of a convolution. Weights are stored with one row per (kernel offset, input
channel), ``row = (ky*k + kx)*Cin + ci``, so an input event reads contiguous rows.

Neuron (DESIGN.md "Neurons"), per step, charge -> fire -> reset::

    u[t] = lam * v[t-1] + cin * I[t]         (cin = 1 - lam with decay_input, else 1)
    s[t] = H(u[t] - theta)                   (H(0) = h0)
    v[t] = u[t] - theta * s[t]   (soft)   or   (1 - s[t]) * u[t]   (hard)

Loss per step and classifier: ``L[t] = ((1 - a) CE(o[t], y) + a MSE(o[t], target)) / T``,
averaged over the batch (TET's loss is this form with target phi and a = lambda).

Modes:
- ``MODE_INFER``: forward only.
- ``MODE_SPATIAL``: per-step spatial backward (SLTT; OTTT when ``use_trace`` marks the layers
  whose presynaptic factor is the trace of their input). ``step_mask`` selects the steps that
  run a backward pass (SLTT-K). ``online`` applies the update every step (OTTT_O).
- ``MODE_BPTT``: forward over a window of steps keeping history, then backward through it (leak
  path, and the reset path unless ``detach``), update, next window (``window`` = T is BPTT).

Counting conventions (per sample ``b``, layer ``l``, phase; vocabulary in chipsim/counts.py):
an input event reads one weight word and performs one AC (spike input; pooling and dropout
scales fold into the weights) or MAC (graded input) per synapse it reaches (convolution borders
included). A neuron update reads and writes one state word. Backward work is counted only where
it is executed: error MACs for (input position with non-zero surrogate) x (non-zero output
gradient it connects to), weight-gradient contributions for (non-zero presynaptic factor) x
(non-zero output gradient). Work shared by a batch (applying the update) is attributed to the
batch's last sample. Counts are kept per time step (for the cycle model). Pooling and dropout in the backward pass are routing (no arithmetic counted
beyond the error MACs they select).
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
        one = np.float32(1.0)          # keeps float32 arithmetic float32 (exact in float64)
        s = one / (one + np.exp(-alpha * x))
        return alpha * s * (one - s)
    y = alpha - alpha * alpha * abs(x)
    return y if y > 0.0 else 0.0


@njit(cache=True, inline="always")
def _uniform(state):
    """A uniform [0, 1) number from a counter-based generator (splitmix64). The generator is
    seeded per batch from the trainer's seeded numpy Generator, so results are deterministic
    for a workload seed (DESIGN.md: random numbers come from a seeded Generator)."""
    state[0] += np.uint64(0x9E3779B97F4A7C15)
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def _fix(x, q, lim):
    """x on the fixed-point grid of step q, range [-lim, lim - q], round to nearest (q = 0: x)."""
    if q == 0.0:
        return x
    y = np.floor(x / q + 0.5) * q
    if y > lim - q:
        return lim - q
    if y < -lim:
        return -lim
    return y


@njit(cache=True, inline="always")
def _fix_sr(x, q, lim, state):
    """x on the grid of step q with stochastic rounding (unbiased), range [-lim, lim - q]."""
    if q == 0.0:
        return x
    y = np.floor(x / q + _uniform(state)) * q
    if y > lim - q:
        return lim - q
    if y < -lim:
        return -lim
    return y


@njit(cache=True)
def _lif(I, v, u, spk_idx, lam, theta, cin, soft, h0, qv, lim_v, fired):
    """Charge, fire, reset one LIF layer of one sample; returns the number of spikes.
    ``qv`` > 0: the stored state v is held on a fixed-point grid (step qv, range +-lim_v).

    Branch-free, so that it vectorises and does not mispredict on spikes: the update marks the
    neurons that fire in ``fired`` (uint8 scratch), then their indices are compacted into
    ``spk_idx`` by always writing and advancing only on a spike (7x faster than branching)."""
    nn = I.shape[0]
    hz = np.uint8(1) if h0 else np.uint8(0)
    a = I.dtype.type(1.0) if soft else I.dtype.type(0.0)     # soft: v = u - theta; hard: 0
    fl = fired[:nn]
    for i in range(nn):
        ui = lam * v[i] + cin * I[i]
        x = ui - theta
        s = np.uint8(x > 0.0) | (hz & np.uint8(x == 0.0))     # H(x), H(0) = h0
        u[i] = ui
        fl[i] = s
        v[i] = a * x if s else ui
    if qv != 0.0:
        for i in range(nn):
            v[i] = _fix(v[i], qv, lim_v)
    n = 0
    for i in range(nn):
        spk_idx[n] = i
        n += fl[i]
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


# ---------------------------------------------------------------------------------------------
# layer geometry: one row of ``geo`` per weight layer (main layers, then auxiliary classifiers)
# ---------------------------------------------------------------------------------------------
G_HIN = 0      # input map after the input transform (pool), channel-last (H, W, C)
G_WIN = 1
G_CIN = 2
G_HOUT = 3     # output map (dense: 1 x 1 x units)
G_WOUT = 4
G_COUT = 5
G_K = 6        # square kernel size (dense: 1)
G_S = 7        # stride
G_PAD = 8      # zero padding
G_POOL = 9     # input transform: POOL_NONE / POOL_AVG / POOL_MAX (kernel = stride = POOLK)
G_POOLK = 10
G_SRC = 11     # population read: 0 = the network input, p = output of LIF layer p - 1
G_HPRE = 12    # that population's map before pooling
G_WPRE = 13
G_ROLE = 14    # ROLE_LIF / ROLE_READOUT / ROLE_AUX
G_DETACH = 15  # 1: no error flows from this layer into its source population (block boundary)
G_UNIT = 16    # 1: every input event has value 1 (binary input, no dropout scale, no pooling)
G_AC = 17      # 1: the input is spikes (work counted as ACs), 0: graded values (MACs)
G_HASB = 18    # 1: the layer has a bias
G_EVK = 19     # where its input events are: EV_INPUT, EV_SPIKES (the source's spikes), EV_BUF
G_PH = 20      # the pooled map the input transform produces (H, W, C); for a convolution the
G_PW = 21      #   same as (G_HIN, G_WIN, G_CIN), for a dense layer the map its flat input
G_PC = 22      #   index runs over
G_NOMASK = 23  # 1: read the source population without its dropout mask (auxiliary classifiers)
NG = 24

EV_INPUT = 0   # the network input itself (no pooling)
EV_SPIKES = 1  # the source population's spikes (no dropout, no pooling)
EV_BUF = 2     # transformed events, written to the layer's event buffer

POOL_NONE = 0
POOL_AVG = 1
POOL_MAX = 2

ROLE_LIF = 0
ROLE_READOUT = 1
ROLE_AUX = 2


@njit(cache=True)
def _transform(src_idx, src_val, start, stop, unit_src, mask, geo_l, pmax, ptouch, ev_idx, ev_val):
    """Input events of one layer at one step: the source population's events (spikes, or the
    network input), times the population's dropout mask, through the layer's pooling.

    Average pooling keeps every event (value / k^2, foldable into the weights); max pooling
    emits one event per window holding the window's maximum. Returns the number of events.
    """
    pool, k, C, Wpre, Hin, Win = _pool_geometry(geo_l)
    has_mask = mask.shape[0] > 0
    n = 0
    nt = 0
    for e in range(start, stop):
        j = src_idx[e]
        v = 1.0 if unit_src else src_val[e]
        if has_mask:
            m = mask[j]
            if m == 0.0:
                continue
            v = v * m
        if pool == POOL_NONE:
            ev_idx[n] = j
            ev_val[n] = v
            n += 1
            continue
        c_ = j % C
        pos = j // C
        py = (pos // Wpre) // k
        px = (pos % Wpre) // k
        if py >= Hin or px >= Win:
            continue
        jp = (py * Win + px) * C + c_
        if pool == POOL_AVG:
            ev_idx[n] = jp
            ev_val[n] = v / (k * k)
            n += 1
        else:
            if pmax[jp] == 0.0:
                ptouch[nt] = jp
                nt += 1
            if v > pmax[jp]:
                pmax[jp] = v
    for q in range(nt):
        jp = ptouch[q]
        ev_idx[n] = jp
        ev_val[n] = pmax[jp]
        pmax[jp] = 0.0
        n += 1
    return n


@njit(cache=True, inline="always")
def _addrow(o, row):
    """o += row; returns the number of non-zero weights (NeuroBench effective ops)."""
    nz = 0
    for i in range(row.shape[0]):
        o[i] += row[i]
        nz += row[i] != 0.0
    return nz


@njit(cache=True, inline="always")
def _addrow_scaled(o, row, v):
    """o += v * row; returns the number of non-zero weights."""
    nz = 0
    for i in range(row.shape[0]):
        o[i] += v * row[i]
        nz += row[i] != 0.0
    return nz


@njit(cache=True, inline="always")
def _axpy(o, g, p):
    """o += p * g."""
    for i in range(g.shape[0]):
        o[i] += p * g[i]


@njit(cache=True, inline="always")
def _add(o, g):
    """o += g."""
    for i in range(g.shape[0]):
        o[i] += g[i]


@njit(cache=True, inline="always")
def _dot(a, b):
    e = 0.0
    for i in range(a.shape[0]):
        e += a[i] * b[i]
    return e


@njit(cache=True, inline="always")
def _pool_geometry(geo_l):
    """(pool kind, pool size, channels, source width, pooled height, pooled width) of a layer's
    input transform."""
    return (geo_l[G_POOL], geo_l[G_POOLK], geo_l[G_PC], geo_l[G_WPRE], geo_l[G_PH], geo_l[G_PW])


@njit(cache=True, inline="always")
def _conv_geometry(geo_l):
    """(Cin, Win, Hout, Wout, Cout, k, stride, pad) of a layer's geometry row."""
    return (geo_l[G_CIN], geo_l[G_WIN], geo_l[G_HOUT], geo_l[G_WOUT], geo_l[G_COUT], geo_l[G_K],
            geo_l[G_S], geo_l[G_PAD])


@njit(cache=True)
def _taps(y, x, k, s, pad, Hout, Wout, tap_k, tap_o):
    """The kernel offsets (ky*k + kx) and output positions a convolution input at (y, x)
    reaches, borders and stride accounted for; returns how many."""
    n = 0
    if s == 1:      # no integer divisions (this runs for every input event)
        for ky in range(k):
            ty = y + pad - ky
            if ty < 0 or ty >= Hout:
                continue
            for kx in range(k):
                tx = x + pad - kx
                if tx < 0 or tx >= Wout:
                    continue
                tap_k[n] = ky * k + kx
                tap_o[n] = ty * Wout + tx
                n += 1
        return n
    for ky in range(k):
        ty = y + pad - ky
        if ty < 0 or ty % s != 0 or ty // s >= Hout:
            continue
        for kx in range(k):
            tx = x + pad - kx
            if tx < 0 or tx % s != 0 or tx // s >= Wout:
                continue
            tap_k[n] = ky * k + kx
            tap_o[n] = (ty // s) * Wout + tx // s
            n += 1
    return n


@njit(cache=True, inline="always")
def _copy(dst, src):
    """dst[:] = src[:]. (An explicit loop over views: indices that start at 0 let LLVM drop
    numba's negative-index wraparound and vectorise; ``a[i:j] = b[k:l]`` or ``a[d + i]`` in a
    loop stay scalar and run ~10x slower.)"""
    for i in range(dst.shape[0]):
        dst[i] = src[i]


@njit(cache=True, inline="always")
def _zero(a):
    for i in range(a.shape[0]):
        a[i] = 0.0


@njit(cache=True)
def _im2col(cf, mp, H, W, k, s, Wp, C, flip):
    """Rows of an im2col matrix (flat ``cf``, H*W rows of k*k*C) from a zero-padded channel-last
    map ``mp`` of width Wp: row (y, x) holds, for each kernel row ky, the k adjacent positions
    starting at map row y*s + ky (``flip``: y*s + k-1-ky) and column x*s, i.e. k*C contiguous
    values."""
    seg = k * C
    for y in range(H):
        for x in range(W):
            d = (y * W + x) * k * seg
            for ky in range(k):
                r = y * s + (k - 1 - ky if flip else ky)
                src = (r * Wp + x * s) * C
                _copy(cf[d:d + seg], mp[src:src + seg])
                d += seg


@njit(cache=True)
def _tap_sums(geo_l, pos_nz, tsum):
    """tsum[p] = the non-zero output gradients input position p of a convolution (after its
    pooling) meets: the sum of ``pos_nz`` over the output positions p reaches. Per input
    channel, that is the chip's error MACs for the position and its weight-gradient pairs per
    input event there. Stride 1: a k x k box sum, done separably."""
    Cin, Win, Hout, Wout, Cout, k, s, pad = _conv_geometry(geo_l)
    Hin = geo_l[G_HIN]
    if s == 1:
        # rows: h[oy, x] = sum of pos_nz[oy, x + pad - kx] over kx with the column in range
        h = np.zeros(Hout * Win, dtype=np.int64)
        for oy in range(Hout):
            for x in range(Win):
                t = 0
                for kx in range(k):
                    ox = x + pad - kx
                    if 0 <= ox < Wout:
                        t += pos_nz[oy * Wout + ox]
                h[oy * Win + x] = t
        for y in range(Hin):
            for x in range(Win):
                tsum[y * Win + x] = 0
            for ky in range(k):
                oy = y + pad - ky
                if 0 <= oy < Hout:
                    for x in range(Win):
                        tsum[y * Win + x] += h[oy * Win + x]
        return
    tap_k = np.empty(k * k, dtype=np.int64)
    tap_o = np.empty(k * k, dtype=np.int64)
    for y in range(Hin):
        for x in range(Win):
            nt = _taps(y, x, k, s, pad, Hout, Wout, tap_k, tap_o)
            t = 0
            for q in range(nt):
                t += pos_nz[tap_o[q]]
            tsum[y * Win + x] = t


@njit(cache=True)
def _conv_error_gemm(W, g, geo_l, scr, out):
    """out (Hin*Win, Cin) = the error of every input of a convolution,
    out[p, ci] = sum over kernel offsets and output channels of W[tap*Cin+ci, co] * g[opos, co],
    as one matrix product: the gradient's im2col (Hin*Win, k*k*Cout), zero where an offset
    falls outside the output map, times the transposed kernel (k*k*Cout, Cin). ``scr`` holds
    three separate scratch arrays (im2col, kernel, padded map: separate, so that the copies
    between them vectorise). The simulator computes every entry (a BLAS product is far faster
    than skipping the zeros); what the chip executes is counted separately (_tap_sums).

    Stride 1 (with pad < k): the gradient map is copied once into a zero-bordered map, in which
    the k offsets of one kernel row are k adjacent positions, so each im2col row is k contiguous
    copies; the kernel's columns are ordered to match (ky, k-1-kx, co).
    """
    Cin, Win, Hout, Wout, Cout, k, s, pad = _conv_geometry(geo_l)
    Hin = geo_l[G_HIN]
    nt = k * k
    nw = nt * Cout * Cin
    P = Hin * Win
    WT = scr[1][:nw].reshape((nt * Cout, Cin))
    col = scr[0][:P * nt * Cout].reshape((P, nt * Cout))
    if s == 1 and pad < k:
        for ky in range(k):
            for kx in range(k):
                r0 = (ky * k + (k - 1 - kx)) * Cout
                for ci in range(Cin):
                    row = W[(ky * k + kx) * Cin + ci]
                    for co in range(Cout):
                        WT[r0 + co, ci] = row[co]
        # gp[a, bb] = g[a - (k-1-pad), bb - (k-1-pad)] (zero outside the output map)
        off = k - 1 - pad
        Hp = Hin + k - 1
        Wp = Win + k - 1
        gp = scr[2][:Hp * Wp * Cout]
        _zero(gp)
        for oy in range(Hout):
            a = oy + off
            if a >= Hp:
                break
            for ox in range(Wout):
                bb = ox + off
                if bb >= Wp:
                    break
                d = (a * Wp + bb) * Cout
                e = (oy * Wout + ox) * Cout
                _copy(gp[d:d + Cout], g[e:e + Cout])
        _im2col(scr[0][:P * nt * Cout], gp, Hin, Win, k, 1, Wp, Cout, True)
    else:
        for tp in range(nt):
            for ci in range(Cin):
                row = W[tp * Cin + ci]
                for co in range(Cout):
                    WT[tp * Cout + co, ci] = row[co]
        tap_k = np.empty(nt, dtype=np.int64)
        tap_o = np.empty(nt, dtype=np.int64)
        for y in range(Hin):
            for x in range(Win):
                r = col[y * Win + x]
                r[:] = 0.0
                n = _taps(y, x, k, s, pad, Hout, Wout, tap_k, tap_o)
                for q in range(n):
                    rb = tap_k[q] * Cout
                    ob = tap_o[q] * Cout
                    for co in range(Cout):
                        r[rb + co] = g[ob + co]
    np.dot(col, WT, out)


@njit(cache=True)
def _conv_wgrad_gemm(X, g, geo_l, scr):
    """The weight gradient of a convolution at one step from its dense input map X (pooled,
    channel-last) and output gradient g: dW (k*k*Cin, Cout) = im2col(X)^T g, with im2col(X)
    (Hout*Wout, k*k*Cin) zero where an offset falls in the padding. The input map is copied
    once into a zero-padded map, in which one kernel row's k offsets are k adjacent positions
    (any stride), so each im2col row is k contiguous copies. Returns dW (in ``scr[1]``; X may
    be there too: it is read before dW is written)."""
    Cin, Win, Hout, Wout, Cout, k, s, pad = _conv_geometry(geo_l)
    Hin = geo_l[G_HIN]
    nt = k * k
    P = Hout * Wout
    col = scr[0][:P * nt * Cin].reshape((P, nt * Cin))
    dW = scr[1][:nt * Cin * Cout].reshape((nt * Cin, Cout))
    Hp = max(Hin + 2 * pad, (Hout - 1) * s + k)
    Wp = max(Win + 2 * pad, (Wout - 1) * s + k)
    xp = scr[2][:Hp * Wp * Cin]
    _zero(xp)
    for y in range(Hin):
        d = ((y + pad) * Wp + pad) * Cin
        e = y * Win * Cin
        _copy(xp[d:d + Win * Cin], X[e:e + Win * Cin])
    _im2col(scr[0][:P * nt * Cin], xp, Hout, Wout, k, s, Wp, Cin, False)
    np.dot(col.T, g[:P * Cout].reshape((P, Cout)), dW)
    return dW


@njit(cache=True)
def _scatter(W, bias, has_bias, ev_idx, ev_val, start, stop, geo_l, out, hit, c):
    """out = bias + the input events scattered through the weights (dense or convolution).

    A dense layer is the 1 x 1 case (an event's fan-out is one weight row). Counts one weight
    read and one AC (spike input) or MAC (graded input) per synapse reached, and neuron updates
    active (received an event) or idle.
    """
    Cin, Win, Hout, Wout, Cout, k, s, pad = _conv_geometry(geo_l)
    unit = geo_l[G_UNIT] == 1
    n_out = Hout * Wout * Cout
    npos = Hout * Wout
    for q in range(npos):
        hit[q] = 0
        for co in range(Cout):
            out[q * Cout + co] = bias[co] if has_bias else 0.0
    syn = 0
    nz = 0
    if npos == 1 and k == 1:          # dense: an event reads one weight row
        for e in range(start, stop):
            if unit:
                nz += _addrow(out, W[ev_idx[e]])
            else:
                nz += _addrow_scaled(out, W[ev_idx[e]], ev_val[e])
        syn = (stop - start) * Cout
        if stop > start:
            hit[0] = 1
        start = stop
    tap_k = np.empty(k * k, dtype=np.int64)
    tap_o = np.empty(k * k, dtype=np.int64)
    for e in range(start, stop):
        j = ev_idx[e]
        v = ev_val[e]
        ci = j % Cin
        pos = j // Cin
        nt = _taps(pos // Win, pos % Win, k, s, pad, Hout, Wout, tap_k, tap_o)
        for q in range(nt):
            row = W[tap_k[q] * Cin + ci]
            opos = tap_o[q]
            base = opos * Cout
            hit[opos] = 1
            if unit:
                nz += _addrow(out[base:base + Cout], row)
            else:
                nz += _addrow_scaled(out[base:base + Cout], row, v)
        syn += nt * Cout
    if geo_l[G_AC] == 1:
        c[SYNOP] += syn
    else:
        c[SYN_MAC] += syn
    c[MEM_READ_WEIGHT] += syn
    c[NB_EFF_OPS] += nz
    active = 0
    for q in range(npos):
        active += hit[q]
    c[NEURON_UPDATE_ACTIVE] += active * Cout
    c[NEURON_UPDATE_IDLE] += (npos - active) * Cout
    c[MEM_READ_STATE] += n_out
    c[MEM_WRITE_STATE] += n_out


@njit(cache=True)
def _pos_nnz(g, Cout, pos_nz):
    """Non-zero count of g per output position; returns the total."""
    tot = 0
    for q in range(pos_nz.shape[0]):
        n = 0
        base = q * Cout
        for co in range(Cout):
            n += g[base + co] != 0.0
        pos_nz[q] = n
        tot += n
    return tot


@njit(cache=True)
def _error_to_source(W, g, gnz, ng, geo_l, sg, mask, pre_spk, E, epost, edone, tsum, scr, c):
    """E[j] += d(sum of losses)/d(spike j) of the source population through this layer, its
    pooling and the population's dropout mask; only where the surrogate sg[j] != 0.

    ``pre_spk``: the source population's spikes at this step as a dense 0/1 map (max pooling
    routes the error to the first maximal element of each window, torch's rule). ``tsum``: a
    convolution's non-zero output gradients per input position (_tap_sums); ``scr``: scratch.
    """
    pool, k, C, Wpre, Hin, Win = _pool_geometry(geo_l)
    has_mask = mask.shape[0] > 0
    n_pre = sg.shape[0]
    work = 0
    if pool == POOL_NONE and geo_l[G_HOUT] * geo_l[G_WOUT] == 1 and geo_l[G_K] == 1:
        # dense layer, no pooling: E[j] += m * W[j] . g on the non-zeros of g
        for j in range(n_pre):
            if sg[j] == 0.0:
                continue
            m = 1.0
            if has_mask:
                m = mask[j]
                if m == 0.0:
                    continue
            row = W[j]
            if ng == row.shape[0]:
                e = _dot(row, g)
            else:
                e = 0.0
                for q in range(ng):
                    e += row[gnz[q]] * g[gnz[q]]
            E[j] += m * e
            work += ng
        c[ERROR_MAC] += work
        c[MEM_READ_WEIGHT] += work
        return
    # spatial path (convolution, or pooling in front of any layer). First the error of every
    # (pooled) input the layer reads, into epost: a convolution's from one matrix product
    # (_conv_error_gemm), a dense layer's as W[jp] . g. Then each source neuron with a non-zero
    # surrogate (and mask) takes its pooled input's error. The counts keep only what the chip
    # computes: a pooled input's error once, if some neuron of its window needs it, at the cost
    # of the non-zero output gradients it meets (tsum for a convolution, ng for a dense layer).
    if ng == 0:            # no output gradient: nothing reaches the source
        return
    Hpre = geo_l[G_HPRE]
    kk = k if pool != POOL_NONE else 1
    conv = not (geo_l[G_HOUT] * geo_l[G_WOUT] == 1 and geo_l[G_K] == 1)
    P = Hin * Win
    ep = epost[:P * C]
    if conv:
        _conv_error_gemm(W, g, geo_l, scr, ep.reshape((P, C)))
    else:
        for jp in range(P * C):
            ep[jp] = _dot(W[jp], g)
    flag = edone[:P * C]
    for q in range(P * C):
        flag[q] = 0
    inv = 1.0 / (kk * kk) if pool == POOL_AVG else 1.0
    for yy in range(Hpre):
        py = yy // kk
        if py >= Hin:
            break
        for xx in range(Wpre):
            px = xx // kk
            if px >= Win:
                break
            jb = (yy * Wpre + xx) * C
            pb = (py * Win + px) * C
            Ev = E[jb:jb + C]
            sv = sg[jb:jb + C]
            ev = ep[pb:pb + C]
            fv = flag[pb:pb + C]
            if not has_mask and pool != POOL_MAX:      # the common case, vectorisable
                for c_ in range(C):
                    if sv[c_] != 0.0:
                        Ev[c_] += ev[c_] * inv
                        fv[c_] = 1
                continue
            for c_ in range(C):
                j = jb + c_
                if sv[c_] == 0.0:
                    continue
                m = 1.0
                if has_mask:
                    m = mask[j]
                    if m == 0.0:
                        continue
                if pool == POOL_MAX:
                    # first maximal element of the window (scan order dy, dx) of the masked spikes
                    best = -1
                    bv = -1.0
                    for dy in range(kk):
                        for dx in range(kk):
                            jj = ((py * kk + dy) * Wpre + (px * kk + dx)) * C + c_
                            vv = pre_spk[jj] * (mask[jj] if has_mask else 1.0)
                            if vv > bv:
                                bv = vv
                                best = jj
                    if best != j:
                        continue
                Ev[c_] += m * ev[c_] * inv
                fv[c_] = 1
    for ppos in range(P):
        n = 0
        fv = flag[ppos * C:(ppos + 1) * C]
        for c_ in range(C):
            n += fv[c_]
        work += n * (tsum[ppos] if conv else ng)
    c[ERROR_MAC] += work
    c[MEM_READ_WEIGHT] += work


@njit(cache=True)
def _grad_row(M, r, g, base, gnz, ng, Cout, p, unit):
    """Row r of M += p * g[base:base+Cout] (unit: += g), over g's non-zeros when sparse."""
    row = M[r]
    if ng == Cout:
        if unit:
            _add(row, g[base:base + Cout])
        else:
            _axpy(row, g[base:base + Cout], p)
    else:
        if unit:
            for q in range(ng):
                co = gnz[q]
                row[co] += g[base + co]
        else:
            for q in range(ng):
                co = gnz[q]
                row[co] += p * g[base + co]


@njit(cache=True)
def _weight_grad(W, bias, has_bias, gW, gb, g, gnz, ng, geo_l, pre_idx, pre_val, start, stop,
                 trace, use_trace, direct, lr, touched, scratch, pos_nz, tsum, scr, c, wq, wlim, rs):
    """Weight-gradient contributions (presynaptic factor) x g for one sample and step.

    The presynaptic factor is the layer's input events (spikes, or graded values) or, OTTT,
    the non-zero entries of the presynaptic trace. Accumulates into gW, or, ``direct`` (OTTT_O,
    batch 1, plain SGD), writes -lr * factor * g straight into W. ``touched[r]`` marks
    accumulator rows that received a contribution, so applying the update can skip rows that
    are certainly zero (counts still describe the chip's full sweep). Counted: one gradient
    AC/MAC and one accumulator read-modify-write (or weight RMW, direct) per (non-zero factor,
    non-zero g) pair.

    A convolution whose factors are dense enough (OTTT's traces; busy spike maps) computes its
    gradient as one matrix product over the dense input map (_conv_wgrad_gemm) instead of
    event by event; the sums are the same up to float rounding order, and the counts are those
    of the event-by-event work (``tsum``: non-zero gradients met per input position).
    """
    Cin, Win, Hout, Wout, Cout, k, s, pad = _conv_geometry(geo_l)
    n_out = Hout * Wout * Cout
    dense = Hout * Wout == 1 and k == 1
    if direct:
        target = W
        gg = scratch[:n_out]
        for i in range(n_out):
            gg[i] = -lr * g[i]
    else:
        target = gW
        gg = g
    unit = geo_l[G_UNIT] == 1 and not use_trace
    n_pairs = 0
    nt = k * k
    gemm = False
    if not dense:
        # the chip's work: per non-zero presynaptic factor, the non-zero gradients it meets
        nf = 0
        if use_trace:
            for j in range(trace.shape[0]):
                if trace[j] != 0.0:
                    n_pairs += tsum[j // Cin]
                    nf += 1
        else:
            for q in range(start, stop):
                n_pairs += tsum[pre_idx[q] // Cin]
            nf = stop - start
        # one matrix product over the dense input map when cheaper than nf * k*k * Cout axpys
        gemm = n_pairs > 0 and not direct and nf * Cout > 2 * Hout * Wout * Cin
    if gemm:
        Hin = geo_l[G_HIN]
        if use_trace:
            X = trace
        else:
            X = scr[1][:Hin * Win * Cin]
            _zero(X)
            for q in range(start, stop):
                X[pre_idx[q]] += 1.0 if unit else pre_val[q]
        dW = _conv_wgrad_gemm(X, gg, geo_l, scr)
        for r in range(nt * Cin):
            rw = target[r]
            dr = dW[r]
            hit_ = False
            for co in range(Cout):
                if dr[co] != 0.0:
                    rw[co] += dr[co]
                    hit_ = True
            if hit_:
                touched[r] = 1
    elif ng > 0:
        # event by event: a dense layer's factor reads one row, a convolution's its valid taps
        tap_k = np.empty(nt, dtype=np.int64)
        tap_o = np.empty(nt, dtype=np.int64)
        q0 = 0 if use_trace else start
        q1 = trace.shape[0] if use_trace else stop
        for q in range(q0, q1):
            if use_trace:
                j = q
                p = trace[q]
                if p == 0.0:
                    continue
            else:
                j = pre_idx[q]
                p = pre_val[q]
            if dense:
                _grad_row(target, j, gg, 0, gnz, ng, Cout, p, unit)
                n_pairs += ng
                if not direct:
                    touched[j] = 1
                continue
            ci = j % Cin
            pos = j // Cin
            n = _taps(pos // Win, pos % Win, k, s, pad, Hout, Wout, tap_k, tap_o)
            for qq in range(n):
                opos = tap_o[qq]
                if pos_nz[opos] == 0:
                    continue
                r = tap_k[qq] * Cin + ci
                _grad_row(target, r, gg, opos * Cout, gnz, Cout, Cout, p, unit)
                if not direct:
                    touched[r] = 1
    if geo_l[G_AC] == 1 and not use_trace:
        c[GRAD_AC] += n_pairs
    else:
        c[GRAD_MAC] += n_pairs
    nW = W.shape[0] * W.shape[1]
    nnz_g = ng     # non-zero entries of g (dense or convolution)
    if direct and wq != 0.0 and ng > 0:   # fixed-point weights: round every updated word
        q0 = 0 if use_trace else start
        q1 = trace.shape[0] if use_trace else stop
        for qq in range(q0, q1):
            j = qq if use_trace else pre_idx[qq]
            if use_trace and trace[qq] == 0.0:
                continue
            row = W[j]
            for r_ in range(ng):
                row[gnz[r_]] = _fix_sr(row[gnz[r_]], wq, wlim, rs)
    if direct:
        c[WEIGHT_UPDATE_ISSUED] += n_pairs
        c[WEIGHT_UPDATE_SKIPPED] += nW - n_pairs
        c[MEM_READ_WEIGHT] += n_pairs
        c[MEM_WRITE_WEIGHT] += n_pairs
        if has_bias:
            nb = 0
            for co in range(Cout):
                acc = 0.0
                for q in range(Hout * Wout):
                    acc += gg[q * Cout + co]
                if acc != 0.0:
                    bias[co] += acc
                    if wq != 0.0:
                        bias[co] = _fix_sr(bias[co], wq, wlim, rs)
                    nb += 1
            c[WEIGHT_UPDATE_ISSUED] += nb
            c[WEIGHT_UPDATE_SKIPPED] += Cout - nb
            c[MEM_READ_WEIGHT] += nb
            c[MEM_WRITE_WEIGHT] += nb
    else:
        c[MEM_READ_GRAD] += n_pairs
        c[MEM_WRITE_GRAD] += n_pairs
        if has_bias:
            for q in range(Hout * Wout):
                for co in range(Cout):
                    if g[q * Cout + co] != 0.0:
                        gb[co] += g[q * Cout + co]
            c[MEM_READ_GRAD] += nnz_g
            c[MEM_WRITE_GRAD] += nnz_g


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
def _apply_one(P, G, M, lr, momentum, wd, c, wq, wlim, rs):
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
            if wq != 0.0:
                P[i] = _fix_sr(P[i], wq, wlim, rs)
            issued += 1
        G[i] = 0.0
    _count_sweep(c, n, issued)
    if momentum != 0.0:   # the momentum buffer is read and written too
        c[MEM_READ_GRAD] += n
        c[MEM_WRITE_GRAD] += n
    if wd != 0.0:         # weight decay reads every weight, not only the updated ones
        c[MEM_READ_WEIGHT] += n - issued


@njit(cache=True, inline="always")
def _sgd_row(w, d, lr):
    """w -= lr * d where d != 0; returns how many changed. (The fixed-point variant, which draws
    random numbers, is a separate loop so that this one vectorises.)"""
    n = 0
    for k in range(w.shape[0]):
        dk = d[k]
        if dk != 0.0:
            w[k] -= lr * dk
            n += 1
    return n


@njit(cache=True)
def _apply_rows(W, G, touched, lr, c, wq, wlim, rs):
    """Plain SGD on the touched rows only; untouched rows hold a zero gradient (skipped)."""
    n_in, n_out = W.shape
    issued = 0
    for j in range(n_in):
        if not touched[j]:
            continue
        touched[j] = 0
        rw = W[j]
        rg = G[j]
        if wq == 0.0:
            issued += _sgd_row(rw, rg, lr)
        else:
            for k in range(n_out):
                d = rg[k]
                if d != 0.0:
                    rw[k] = _fix_sr(rw[k] - lr * d, wq, wlim, rs)
                    issued += 1
        for k in range(n_out):
            rg[k] = 0.0
    _count_sweep(c, n_in * n_out, issued)


@njit(cache=True)
def apply_updates(Ws, bs, geo, gW, gb, mW, mb, touched, inline, lr, momentum, wd, cnt, qw, limw, rs):
    """Apply the accumulated gradients of every layer; counts into cnt (L, P, A).

    Counts describe a sweep over every weight's accumulator (read, clear) with a weight
    read-modify-write where the update is non-zero. Plain SGD only visits the rows that received
    a contribution (the others are exactly zero); momentum or weight decay visit every weight.
    """
    for l in range(len(Ws)):
        if not inline[l]:      # applied already (fused BPTT rows)
            continue
        c = cnt[l, LEARN]
        W = Ws[l]
        if momentum == 0.0 and wd == 0.0:
            _apply_rows(W, gW[l], touched[l], lr, c, qw[l], limw[l], rs)
        else:
            _apply_one(W.reshape(-1), gW[l].reshape(-1), mW[l].reshape(-1), lr, momentum, wd, c,
                       qw[l], limw[l], rs)
            touched[l][:] = 0
        if geo[l, G_HASB] == 1:
            _apply_one(bs[l], gb[l], mb[l], lr, momentum, wd, c, qw[l], limw[l], rs)


@njit(cache=True)
def _wgrad_from_history(W, bias, has_bias, G, t0, t1, ev_idx, ev_val, ev_ptr, binary, ac, gW, gb,
                        touched, fused, lr, inv_cnt, inv_cur, inv_t, inv_e, gnz2, ngt, rowsum, c,
                        wq, wlim, rs):
    """BPTT weight gradient of one layer and sample from the stored history.

    ``G`` (T, n_out) holds the postsynaptic gradient of every step; steps ``t0 .. t1-1`` (a
    window) are used; the presynaptic events of step t are
    ``ev_idx[ev_ptr[t-t0]:ev_ptr[t-t0+1]]``. The chip accumulates ``g[t]`` into row j of a
    gradient memory for every presynaptic event (counted so); the simulator sorts the events by
    row first and sums each row's contributions (in the same t-descending order) in a scratch
    row, so the accumulator or, ``fused`` (batch 1, plain SGD), the weights are written once per
    row. Results are bitwise those of event-by-event accumulation.
    """
    T = t1 - t0
    n_in, n_out = W.shape
    for t in range(T):
        ngt[t] = _nonzero(G[t0 + t], gnz2[t])
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
            g = G[t0 + t]
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
            if wq == 0.0:
                issued += _sgd_row(rw, rowsum[:n_out], lr)
            else:
                for k in range(n_out):
                    if rowsum[k] != 0.0:
                        rw[k] = _fix_sr(rw[k] - lr * rowsum[k], wq, wlim, rs)
                        issued += 1
        else:
            rg = gW[j]
            for k in range(n_out):
                rg[k] += rowsum[k]
            touched[j] = 1
    if ac:
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
                rowsum[k] += G[t0 + t, k]
            c[MEM_READ_GRAD] += ngt[t]
            c[MEM_WRITE_GRAD] += ngt[t]
        if fused:
            bi = 0
            for k in range(n_out):
                if rowsum[k] != 0.0:
                    bias[k] -= lr * rowsum[k]
                    if wq != 0.0:
                        bias[k] = _fix_sr(bias[k], wq, wlim, rs)
                    bi += 1
            _count_sweep(c, n_out, bi)
        else:
            for k in range(n_out):
                gb[k] += rowsum[k]
    if fused:
        # the apply sweep the chip performs after the sample (as _apply_rows counts it)
        _count_sweep(c, n_in * n_out, issued)


@njit(cache=True)
def _layer_events(l, b, th, t, geo, x_idx, x_val, x_ptr, spk_h, spk_n, ev_idx, ev_val, ev_n, ones_f):
    """(indices, values, start, stop) of layer l's input events at step t (history slot th)."""
    k = geo[l, G_EVK]
    if k == EV_INPUT:
        return x_idx, x_val, x_ptr[b, t], x_ptr[b, t + 1]
    src = geo[l, G_SRC]
    if k == EV_SPIKES:
        return spk_h[src - 1][th, b], ones_f, 0, spk_n[src - 1, th, b]
    return ev_idx[l][th, b], ev_val[l][th, b], 0, ev_n[l, th, b]


@njit(cache=True)
def _backward_layer(l, b, th, tg, Ws, bs, geo, gW, gb, touched, g_bufs, E, SG, u_h, masks,
                    ev_idx, ev_val, ev_n, traces, use_trace, spk_maps, x_idx, x_val, x_ptr, t,
                    cin, direct, lr, gnz, scratch, pos_nz, epost, edone, cnt, delta, lam, theta,
                    soft, detach, h0, first_back, want_wgrad, spk_h, spk_n, ones_f, bptt, scratch_wt,
                    tsum, qw, limw, rs):
    """Backward pass of one layer for one sample at step t (th/tg: history slots)."""
    geo_l = geo[l]
    c = cnt[b, t, l, LEARN]
    g = g_bufs[l][b, tg]
    if geo_l[G_ROLE] == ROLE_LIF:
        e_in = E[l]
        sgl = SG[l]
        n = g.shape[0]
        if bptt:   # temporal route through the leak (and the reset)
            dn = delta[l][b]
            ul = u_h[l][th, b]
            for j in range(n):
                d = sgl[j] * e_in[j]
                if not first_back:
                    if soft:
                        k = 1.0
                        if not detach:
                            k -= theta * sgl[j]
                    else:
                        k = 1.0 - heaviside(ul[j] - theta, h0)
                        if not detach:
                            k -= ul[j] * sgl[j]
                    d += lam * dn[j] * k
                dn[j] = d
                g[j] = cin * d
            if not first_back:
                c[TEMPORAL_MAC] += n
        else:
            for j in range(n):
                g[j] = cin * sgl[j] * e_in[j]
    Cout = geo_l[G_COUT]
    npos = geo_l[G_HOUT] * geo_l[G_WOUT]
    if npos == 1:
        ng = _nonzero(g, gnz)
        pos_nz[0] = ng
    else:
        ng = _pos_nnz(g, Cout, pos_nz[:npos])
    if npos > 1 or geo_l[G_K] > 1:      # a convolution: non-zero gradients per input position
        _tap_sums(geo_l, pos_nz, tsum)
    src = geo_l[G_SRC]
    if src > 0 and geo_l[G_DETACH] == 0:   # error into the source population, pre-update W
        mask_l = masks[src][b] if geo_l[G_NOMASK] == 0 else epost[:0]
        _error_to_source(Ws[l], g, gnz, ng, geo_l, SG[src - 1], mask_l, spk_maps[src - 1],
                         E[src - 1], epost, edone, tsum, scratch_wt, c)
    if want_wgrad:
        idx, val, e0, e1 = _layer_events(l, b, th, t, geo, x_idx, x_val, x_ptr, spk_h, spk_n,
                                         ev_idx, ev_val, ev_n, ones_f)
        _weight_grad(Ws[l], bs[l], geo_l[G_HASB] == 1, gW[l], gb[l], g, gnz, ng, geo_l, idx, val,
                     e0, e1, traces[l][b], use_trace[l], direct, lr, touched[l], scratch, pos_nz,
                     tsum, scratch_wt, c, qw[l], limw[l], rs)


@njit(cache=True)
def _backward_step(b, th, tg, t, Ws, bs, geo, gW, gb, touched, g_bufs, E, SG, u_h, spk_h, spk_n,
                   needs_map, masks, ev_idx, ev_val, ev_n, traces, use_trace, spk_maps, x_idx,
                   x_val, x_ptr, theta, sg_kind, alpha, cin, direct, lr, gnz, scratch, pos_nz,
                   epost, edone, cnt, delta, lam, soft, detach, h0, first_back, wgrad, ones_f, bptt,
                   scratch_wt, tsum, qw, limw, rs):
    """One sample, one step: surrogates, then auxiliary classifiers, then readout -> input."""
    L = len(Ws)
    n_lif = len(SG)
    prm = np.empty(2, dtype=SG[0].dtype)   # threshold and alpha in the network's dtype
    prm[0] = theta
    prm[1] = alpha
    th_ = prm[0]
    al_ = prm[1]
    for l in range(n_lif):
        ul = u_h[l][th, b]
        sgl = SG[l]
        n = sgl.shape[0]
        for j in range(n):
            sgl[j] = surrogate(ul[j] - th_, sg_kind, al_)
        cl = cnt[b, t, l, LEARN]
        cl[SURROGATE_EVAL] += n
        if not bptt:     # u of this step from the neuron state (BPTT: from history)
            cl[MEM_READ_STATE] += n
        E[l][:] = 0.0
        if needs_map[l]:
            _spike_map(spk_h[l][th, b], spk_n[l, th, b], spk_maps[l])
    order = np.empty(L, dtype=np.int64)
    q = 0
    for l in range(n_lif + 1, L):        # auxiliary classifiers first
        order[q] = l
        q += 1
    for l in range(n_lif, -1, -1):       # then readout, LIF layers top-down
        order[q] = l
        q += 1
    for q in range(L):
        l = order[q]
        _backward_layer(l, b, th, tg, Ws, bs, geo, gW, gb, touched, g_bufs, E, SG, u_h, masks,
                        ev_idx, ev_val, ev_n, traces, use_trace, spk_maps, x_idx, x_val, x_ptr, t,
                        cin, direct, lr, gnz, scratch, pos_nz, epost, edone, cnt, delta, lam,
                        theta, soft, detach, h0, first_back, wgrad[l] == 1, spk_h, spk_n, ones_f,
                        bptt, scratch_wt, tsum, qw, limw, rs)


@njit(cache=True)
def _spike_map(idx, n, out):
    for i in range(out.shape[0]):
        out[i] = 0.0
    for q in range(n):
        out[idx[q]] = 1.0


@njit(cache=True)
def run_batch(Ws, bs, geo, dense_ops, x_idx, x_val, x_ptr, labels,
              v, u_h, spk_h, spk_n, out_buf, hit, masks, needs_map,
              ev_idx, ev_val, ev_n, pmax, ptouch, traces, use_trace, osum, g_bufs, E, SG,
              spk_maps, epost, edone, delta, gW, gb, mW, mb, touched, fused,
              lam, theta, cin, soft, detach, h0, sg_kind, alpha, mse_w, onehot, tgt_const,
              mode, trace_decay, step_mask, online, direct, window, lr, momentum, wd,
              loss_out, cnt, qfmt, qw, limw, rs):
    """Run one batch (B samples, T steps) through every layer with the configured rule.

    Layers ``0 .. n_lif-1`` are LIF layers, ``n_lif`` is the readout, the rest are auxiliary
    classifiers (tbptt_local). Population 0 is the network input, population p the output of
    LIF layer p-1. History slots: ``u_h[l]``, ``spk_h[l]`` (TH, B, n), ``ev_idx[l]``,
    ``ev_val[l]`` (TH, B, max events), ``spk_n`` (n_lif, TH, B), ``ev_n`` (L, TH, B) with
    TH = the BPTT window (T for BPTT) and 1 otherwise; ``g_bufs[l]`` (B, TH, n_out).
    ``fused[l]`` (BPTT, dense layers): 0 = weight gradient step by step; otherwise summed per
    weight row from the history after the window (see _wgrad_from_history) and written, 1, into
    the weights once (batch 1, plain SGD) or, 2, into the gradient accumulator.
    State (v, traces, delta, osum) is reset here; ``loss_out[b]`` receives the readout's loss.
    ``qfmt`` = (state step, state range, trace step, trace range), ``qw``/``limw`` (L,) weight
    step and range per layer: on-chip fixed-point formats (0 = floating point); weight updates
    are rounded stochastically with the counter-based generator in ``rs`` (uint64[1]).
    ``cnt`` (B, T, L, P, A): counts per sample and time step; the work of applying an update is
    counted at the step where it happens (the last step of the sample or window; every step
    for OTTT_O), BPTT's history-summed weight gradients at the last step of their window.
    """
    L = len(Ws)
    n_lif = len(v)
    B = x_ptr.shape[0]
    T = x_ptr.shape[1] - 1
    bptt = mode == MODE_BPTT
    learning = mode != MODE_INFER
    maxn = 1
    maxpos = 1
    for l in range(L):
        if Ws[l].shape[1] * geo[l, G_HOUT] * geo[l, G_WOUT] > maxn:
            maxn = Ws[l].shape[1] * geo[l, G_HOUT] * geo[l, G_WOUT]
        if Ws[l].shape[0] > maxn:
            maxn = Ws[l].shape[0]
        if geo[l, G_HOUT] * geo[l, G_WOUT] > maxpos:
            maxpos = geo[l, G_HOUT] * geo[l, G_WOUT]
    gnz = np.empty(maxn, dtype=np.int64)
    fired = np.empty(maxn, dtype=np.uint8)      # _lif's spike flags
    scratch = np.empty(maxn, dtype=Ws[0].dtype)
    ones_f = np.ones(maxn, dtype=Ws[0].dtype)
    # convolution scratch (three separate arrays, so copies between them vectorise): im2col
    # matrices; the transposed kernel, weight-gradient product or dense input map; padded maps.
    # tsum: non-zero gradients per input position.
    ncol = 1
    nmat = 1
    nmap = 1
    npin = 1
    for l in range(L):
        if geo[l, G_HOUT] * geo[l, G_WOUT] > 1 or geo[l, G_K] > 1:
            k_ = geo[l, G_K]
            nt = k_ * k_
            pin = geo[l, G_HIN] * geo[l, G_WIN]
            pout = geo[l, G_HOUT] * geo[l, G_WOUT]
            ci = geo[l, G_CIN]
            co = geo[l, G_COUT]
            hp = max(geo[l, G_HIN] + 2 * geo[l, G_PAD], (geo[l, G_HOUT] - 1) * geo[l, G_S] + k_)
            wp = max(geo[l, G_WIN] + 2 * geo[l, G_PAD], (geo[l, G_WOUT] - 1) * geo[l, G_S] + k_)
            gpad = (geo[l, G_HIN] + k_ - 1) * (geo[l, G_WIN] + k_ - 1) * co
            ncol = max(ncol, pin * nt * co, pout * nt * ci)
            nmat = max(nmat, nt * ci * co, pin * ci)
            nmap = max(nmap, gpad, hp * wp * ci)
            npin = max(npin, pin)
    scratch_wt = (np.empty(ncol, dtype=Ws[0].dtype), np.empty(nmat, dtype=Ws[0].dtype),
                  np.empty(nmap, dtype=Ws[0].dtype))
    tsum = np.empty(npin, dtype=np.int64)
    pos_nz = np.empty(maxpos, dtype=np.int64)
    wg_inline = np.ones(L, dtype=np.uint8)     # weight gradient computed step by step
    wg_apply = np.ones(L, dtype=np.uint8)      # update applied from the accumulator
    any_fused = False
    for l in range(L):
        if bptt and fused[l] != 0:
            wg_inline[l] = 0
            any_fused = True
            if fused[l] == 1:
                wg_apply[l] = 0
    if any_fused:
        inv_cnt = np.empty(maxn + 1, dtype=np.int64)
        inv_cur = np.empty(maxn, dtype=np.int64)
        inv_t = np.empty(T * maxn, dtype=np.int64)
        inv_e = np.empty(T * maxn, dtype=np.int64)
        evf_idx = np.empty(T * maxn, dtype=np.int64)
        evf_val = np.empty(T * maxn, dtype=Ws[0].dtype)
        ev_ptr = np.empty(T + 1, dtype=np.int64)
        gnz2 = np.empty((T, maxn), dtype=np.int64)
        ngt = np.empty(T, dtype=np.int64)
        rowsum = np.empty(maxn, dtype=Ws[0].dtype)
    else:
        inv_cnt = np.empty(0, dtype=np.int64)
        inv_cur = np.empty(0, dtype=np.int64)
        inv_t = np.empty(0, dtype=np.int64)
        inv_e = np.empty(0, dtype=np.int64)
        evf_idx = np.empty(0, dtype=np.int64)
        evf_val = np.empty(0, dtype=Ws[0].dtype)
        ev_ptr = np.empty(0, dtype=np.int64)
        gnz2 = np.empty((0, 0), dtype=np.int64)
        ngt = np.empty(0, dtype=np.int64)
        rowsum = np.empty(0, dtype=Ws[0].dtype)

    for b in range(B):
        loss_out[b] = 0.0
        osum[b, :] = 0.0
        for l in range(n_lif):
            v[l][b, :] = 0.0
            if bptt:
                delta[l][b, :] = 0.0
        for l in range(L):
            if use_trace[l]:
                traces[l][b, :] = 0.0

    t0 = 0
    while t0 < T:
        t1 = min(T, t0 + window) if bptt else T
        for t in range(t0, t1):
            th = t - t0 if bptt else 0   # history slot within the window
            backward_now = mode == MODE_SPATIAL and step_mask[t]
            for b in range(B):
                # ---------------- forward through every layer ----------------
                for l in range(L):
                    geo_l = geo[l]
                    c = cnt[b, t, l, INFER]
                    src = geo_l[G_SRC]
                    role = geo_l[G_ROLE]
                    out = out_buf[l]
                    if geo_l[G_EVK] == EV_BUF:
                        if src == 0:
                            n_ev = _transform(x_idx, x_val, x_ptr[b, t], x_ptr[b, t + 1], False,
                                              masks[0][b], geo_l, pmax, ptouch, ev_idx[l][th, b],
                                              ev_val[l][th, b])
                        else:
                            mask_l = masks[src][b] if geo_l[G_NOMASK] == 0 else pmax[:0]
                            n_ev = _transform(spk_h[src - 1][th, b], ones_f, 0, spk_n[src - 1, th, b],
                                              True, mask_l, geo_l, pmax, ptouch,
                                              ev_idx[l][th, b], ev_val[l][th, b])
                        ev_n[l, th, b] = n_ev
                        if learning and bptt:
                            cnt[b, t, l, LEARN][MEM_WRITE_HIST] += n_ev
                    idx, val, e0, e1 = _layer_events(l, b, th, t, geo, x_idx, x_val, x_ptr, spk_h,
                                                     spk_n, ev_idx, ev_val, ev_n, ones_f)
                    _scatter(Ws[l], bs[l], geo_l[G_HASB] == 1, idx, val, e0, e1, geo_l, out, hit, c)
                    c[NB_DENSE_OPS] += dense_ops[l]
                    if role == ROLE_LIF:
                        ns = _lif(out, v[l][b], u_h[l][th, b], spk_h[l][th, b], lam, theta, cin, soft, h0,
                                  qfmt[0], qfmt[1], fired)
                        spk_n[l, th, b] = ns
                        c[SPIKE] += ns
                        if learning and bptt:
                            cnt[b, t, l, LEARN][MEM_WRITE_HIST] += out.shape[0] + ns
                    else:
                        tg = th
                        lv = _loss_grad(out, labels[b], T, B, mse_w, onehot, tgt_const, g_bufs[l][b, tg])
                        if role == ROLE_READOUT:
                            for c_ in range(out.shape[0]):
                                osum[b, c_] += out[c_]
                            loss_out[b] += lv
                        if learning and (bptt or backward_now):
                            cl = cnt[b, t, l, LEARN]
                            cl[OUTPUT_ERROR] += out.shape[0]
                            if bptt:
                                cl[MEM_WRITE_HIST] += out.shape[0]
                if not learning:
                    continue
                # ---------------- presynaptic traces (OTTT) ----------------
                for l in range(L):
                    if not use_trace[l]:
                        continue
                    tr = traces[l][b]
                    for j in range(tr.shape[0]):
                        tr[j] *= trace_decay
                    idx, val, e0, e1 = _layer_events(l, b, th, t, geo, x_idx, x_val, x_ptr, spk_h,
                                                     spk_n, ev_idx, ev_val, ev_n, ones_f)
                    for e in range(e0, e1):
                        tr[idx[e]] += val[e]
                    if qfmt[2] != 0.0:
                        for j in range(tr.shape[0]):
                            tr[j] = _fix(tr[j], qfmt[2], qfmt[3])
                    cl = cnt[b, t, l, LEARN]
                    cl[TRACE_UPDATE] += tr.shape[0]
                    cl[MEM_READ_TRACE] += tr.shape[0]
                    cl[MEM_WRITE_TRACE] += tr.shape[0]
                if backward_now:
                    _backward_step(b, 0, 0, t, Ws, bs, geo, gW, gb, touched, g_bufs, E, SG, u_h,
                                   spk_h, spk_n, needs_map, masks, ev_idx, ev_val, ev_n, traces,
                                   use_trace, spk_maps, x_idx, x_val, x_ptr, theta, sg_kind, alpha,
                                   cin, direct, lr, gnz, scratch, pos_nz, epost, edone, cnt, delta,
                                   lam, soft, detach, h0, True, wg_inline, ones_f, False, scratch_wt,
                                   tsum, qw, limw, rs)
            if backward_now and online and not direct:
                apply_updates(Ws, bs, geo, gW, gb, mW, mb, touched, wg_apply, lr, momentum, wd,
                              cnt[B - 1, t], qw, limw, rs)
        if bptt:
            # ---------------- backward through the window ----------------
            for b in range(B):
                for t in range(t1 - 1, t0 - 1, -1):
                    for l in range(L):
                        cl = cnt[b, t, l, LEARN]
                        if geo[l, G_ROLE] != ROLE_LIF:
                            cl[MEM_READ_HIST] += out_buf[l].shape[0]
                        else:
                            cl[MEM_READ_HIST] += u_h[l].shape[2] + spk_n[l, t - t0, b]
                        if geo[l, G_EVK] == EV_BUF:
                            cl[MEM_READ_HIST] += ev_n[l, t - t0, b]
                    _backward_step(b, t - t0, t - t0, t, Ws, bs, geo, gW, gb, touched, g_bufs, E, SG, u_h,
                                   spk_h, spk_n, needs_map, masks, ev_idx, ev_val, ev_n, traces,
                                   use_trace, spk_maps, x_idx, x_val, x_ptr, theta, sg_kind, alpha,
                                   cin, direct, lr, gnz, scratch, pos_nz, epost, edone, cnt, delta,
                                   lam, soft, detach, h0, t == t1 - 1, wg_inline, ones_f, True,
                                   scratch_wt, tsum, qw, limw, rs)
                # weight gradients of dense layers summed per row from the history
                for l in range(L):
                    if wg_inline[l]:
                        continue
                    geo_l = geo[l]
                    c = cnt[b, t1 - 1, l, LEARN]
                    ev_ptr[0] = 0
                    for t in range(t0, t1):
                        idx, val, e0, e1 = _layer_events(l, b, t - t0, t, geo, x_idx, x_val, x_ptr,
                                                         spk_h, spk_n, ev_idx, ev_val, ev_n, ones_f)
                        p0 = ev_ptr[t - t0]
                        evf_idx[p0:p0 + e1 - e0] = idx[e0:e1]
                        evf_val[p0:p0 + e1 - e0] = val[e0:e1]
                        ev_ptr[t - t0 + 1] = p0 + e1 - e0
                    _wgrad_from_history(Ws[l], bs[l], geo_l[G_HASB] == 1, g_bufs[l][b], 0, t1 - t0,
                                        evf_idx, evf_val, ev_ptr, geo_l[G_UNIT] == 1,
                                        geo_l[G_AC] == 1, gW[l], gb[l], touched[l], fused[l] == 1, lr,
                                        inv_cnt, inv_cur, inv_t, inv_e, gnz2, ngt, rowsum, c,
                                        qw[l], limw[l], rs)
            apply_updates(Ws, bs, geo, gW, gb, mW, mb, touched, wg_apply, lr, momentum, wd,
                          cnt[B - 1, t1 - 1], qw, limw, rs)
        t0 = t1
    if mode == MODE_SPATIAL and not online:
        apply_updates(Ws, bs, geo, gW, gb, mW, mb, touched, wg_apply, lr, momentum, wd, cnt[B - 1, T - 1],
                      qw, limw, rs)
