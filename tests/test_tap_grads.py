"""wgrad.conv_tap_grads, the event-by-event weight gradient of a convolution taken tap by tap
(loop._tail_share), against a plain-numpy loop written from its definition, event by event,
and against wgrad.conv_event_grads, bit for bit: every split of the rows, the trace as the
factor, graded and unit factors, strides, and factors decoded in blocks shorter than their
number."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from chipsim.kernels.records import LAYOUT
from chipsim.kernels.wgrad import conv_event_grads, conv_tap_grads


def _layer(cin, h, w, cout, k, stride, pad):
    Ly = np.zeros(1, dtype=LAYOUT).view(np.recarray)[0]
    hout = (h + 2 * pad - k) // stride + 1
    wout = (w + 2 * pad - k) // stride + 1
    for name, v in dict(hin=h, win=w, cin=cin, hout=hout, wout=wout, cout=cout, k=k,
                        stride=stride, pad=pad, rows=k * k * cin,
                        n_out=hout * wout * cout).items():
        Ly[name] = v
    return Ly


def _reference(Ly, g, factors, r0, r1, dtype):
    """Row r of the gradient, for r in r0..r1-1: per factor (j, p) in order, per kernel tap
    (ky, kx) it reaches at output position o whose gradient is not all zero, row
    (ky*k + kx)*Cin + j % Cin += p * g[o] (one float addition per entry, in the dtype).
    Returns the rows and the rows that received an addition."""
    cin, win, k, s, pad = int(Ly.cin), int(Ly.win), int(Ly.k), int(Ly.stride), int(Ly.pad)
    hout, wout, cout = int(Ly.hout), int(Ly.wout), int(Ly.cout)
    gm = g.reshape(hout * wout, cout)
    out = np.zeros((k * k * cin, cout), dtype=dtype)
    marked = np.zeros(k * k * cin, dtype=bool)
    for j, p in factors:
        ci = j % cin
        y, x = divmod(j // cin, win)
        for ky in range(k):
            for kx in range(k):
                ty, tx = y + pad - ky, x + pad - kx
                if ty < 0 or tx < 0 or ty % s or tx % s or ty // s >= hout or tx // s >= wout:
                    continue
                o = (ty // s) * wout + tx // s
                r = (ky * k + kx) * cin + ci
                if not (r0 <= r < r1) or not gm[o].any():
                    continue
                out[r] = out[r] + dtype(p) * gm[o]
                marked[r] = True
    return out, marked


CASES = [  # (Cin, H, W, Cout, k, stride, pad)
    (2, 9, 9, 16, 3, 1, 1),     # the conv net's first layer, small
    (3, 8, 7, 5, 3, 2, 1),      # a stride, an odd column count
    (1, 7, 7, 4, 5, 1, 2),      # one input channel, a wide kernel
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("mode", ["unit", "graded", "trace"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tap_grads_match_numpy_and_event_grads(case, mode, dtype):
    cin, h, w, cout, k, stride, pad = case
    Ly = _layer(*case)
    rng = np.random.default_rng(10 * CASES.index(case) + ["unit", "graded", "trace"].index(mode))
    n_in = h * w * cin
    npos = int(Ly.hout * Ly.wout)
    g = rng.standard_normal(npos * cout).astype(dtype)
    g[rng.random(g.size) < 0.3] = 0.0                       # zero entries
    g.reshape(npos, cout)[rng.random(npos) < 0.4] = 0.0     # whole positions zero
    idx = np.sort(rng.choice(n_in, size=n_in // 3, replace=False)).astype(np.int64)
    val = (np.ones(idx.size) if mode == "unit" else rng.random(idx.size)).astype(dtype)
    trace = np.zeros(n_in, dtype=dtype)
    use_trace = mode == "trace"
    if use_trace:
        trace[idx] = rng.random(idx.size)
        factors = [(j, trace[j]) for j in range(n_in) if trace[j] != 0.0]
    else:
        factors = list(zip(idx.tolist(), val))
    pos_nz = (g.reshape(npos, cout) != 0).sum(axis=1).astype(np.int64)
    R = k * k * cin
    taps = np.zeros(2 * k * k, dtype=np.int64)
    splits = [[(0, R)], [(0, R // 2), (R // 2, R)], [(i * R // 3, (i + 1) * R // 3) for i in range(3)]]
    for parts, cap, pnz in itertools.product(
            splits, (n_in, 5),                      # decoded whole, or in blocks of five
            (pos_nz, pos_nz[:0])):                  # zero positions skipped, or selected
        got = np.zeros((R, cout), dtype=dtype)
        tch = np.zeros(R, dtype=np.uint8)
        fac = np.zeros(cap, dtype=np.int64)
        fval = np.zeros(cap, dtype=dtype)
        for r0, r1 in parts:
            conv_tap_grads(got, g, Ly, idx, val, 0, idx.size, trace, use_trace, fac, fval,
                           pnz, mode == "unit", tch, r0, r1)
        ref, marked = _reference(Ly, g, factors, 0, R, dtype)
        old = np.zeros((R, cout), dtype=dtype)
        old_t = np.zeros(R, dtype=np.uint8)
        conv_event_grads(old, g, Ly, idx, val, 0, idx.size, trace, use_trace, pos_nz, taps,
                         mode == "unit", True, old_t, 0, cout, 0, R)
        assert got.tobytes() == ref.tobytes(), (parts, cap, pnz.size)
        assert got.tobytes() == old.tobytes(), (parts, cap, pnz.size)
        assert np.array_equal(tch.astype(bool), marked), (parts, cap, pnz.size)
        assert np.array_equal(tch, old_t)
        assert marked.any() and not np.all(got == 0)


def test_tap_grads_adds_only_its_rows():
    """Rows outside r0..r1-1 are left as they were, and so are their marks."""
    case = CASES[0]
    Ly = _layer(*case)
    cin, h, w, cout = case[0], case[1], case[2], case[3]
    rng = np.random.default_rng(5)
    g = rng.standard_normal(int(Ly.n_out)).astype(np.float32)
    idx = np.arange(0, h * w * cin, 3, dtype=np.int64)
    val = np.ones(idx.size, dtype=np.float32)
    R = int(Ly.rows)
    got = np.full((R, cout), 7.0, dtype=np.float32)
    tch = np.zeros(R, dtype=np.uint8)
    conv_tap_grads(got, g, Ly, idx, val, 0, idx.size, np.zeros(0, np.float32), False,
                   np.zeros(64, np.int64), np.zeros(64, np.float32), np.zeros(0, np.int64), True,
                   tch, 5, 11)
    assert np.all(got[:5] == 7.0) and np.all(got[11:] == 7.0)
    assert not tch[:5].any() and not tch[11:].any()
    assert np.any(got[5:11] != 7.0) and tch[5:11].all()
