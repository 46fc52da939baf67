"""Kernel details checked by hand-worked examples: H(0), resets, leak, surrogates."""

from __future__ import annotations

import numpy as np
import pytest

from chipsim import counts as K
from chipsim.kernels.neuron import lif, surrogate
from chipsim.model.inputs import encode_frames
from chipsim.model.network import Network
from tests.helpers import neuron, trainer


def _one_neuron(w_in, frames, preset="ottt", **over):
    """1 input -> 1 LIF neuron (weight w_in) -> 1 readout unit (weight 1): spikes per step."""
    net = Network.build_dense(1, True, [(1, False)], 2, False, np.random.default_rng(0))
    net.weights[0][:] = [[w_in]]
    net.weights[1][:] = [[1.0, 0.0]]
    nrn, _ = neuron(preset, **over)
    out = []
    for t in range(1, len(frames) + 1):    # spikes by step: run prefixes of the input
        sub = encode_frames(np.asarray(frames[:t], np.uint8).reshape(1, -1, 1), True)
        _, osum, _ = trainer("sltt", net, nrn, T=t).infer_batch(sub, sub.ptr, np.array([0]))
        out.append(osum[0, 0])
    spikes = np.diff([0.0] + out)
    return spikes


def test_heaviside_at_zero_convention():
    # u = 1.0 exactly at the threshold: OTTT/SLTT fire (x >= 0), TET does not (x > 0)
    assert _one_neuron(1.0, [1])[0] == 1.0
    assert _one_neuron(1.0, [1], preset="tet")[0] == 0.0


def test_soft_and_hard_reset_and_leak_by_hand():
    # w = 0.75, input every step, lam = 0.5, theta = 1
    # soft: u = .75 (no), 1.125 (spike, v = .125), .8125 (no), 1.15625 (spike) ...
    np.testing.assert_array_equal(_one_neuron(0.75, [1, 1, 1, 1]), [0, 1, 0, 1])
    # hard: u = .75, 1.125 (spike, v = 0), .75, 1.125 (spike)
    np.testing.assert_array_equal(_one_neuron(0.75, [1, 1, 1, 1], reset="hard"), [0, 1, 0, 1])
    # w = 0.6 soft: .6, .9, 1.05 (spike, v=.05), .625, .9125, 1.05625 (spike)
    np.testing.assert_array_equal(_one_neuron(0.6, [1] * 6), [0, 0, 1, 0, 0, 1])
    # w = 0.6 with input decay (u = lam v + (1-lam) I): .3, .45, .525, ... never reaches 1
    assert _one_neuron(0.6, [1] * 6, decay_input=True).sum() == 0
    # with leak 1 (no leak): .6, 1.2 -> spike, soft v = .2, .8, 1.4 -> spike
    np.testing.assert_array_equal(_one_neuron(0.6, [1] * 4, leak=1.0), [0, 1, 0, 1])


@pytest.mark.parametrize("x", [-2.0, -0.5, -0.25, 0.0, 0.1, 0.6, 3.0])
def test_surrogates_closed_form(x):
    s = 1 / (1 + np.exp(-4 * x))
    assert surrogate(x, 0, 4.0) == pytest.approx(4 * s * (1 - s), abs=1e-15)
    assert surrogate(x, 1, 1.0) == pytest.approx(max(0.0, 1 - abs(x)), abs=1e-15)
    assert surrogate(x, 1, 2.0) == pytest.approx(max(0.0, 2 - 4 * abs(x)), abs=1e-15)
    assert surrogate(0.0, 0, 4.0) == 1.0     # the sigmoid surrogate peaks at alpha / 4


def test_idle_neuron_updates_when_no_input():
    net = Network.build_dense(1, True, [(3, False)], 2, False, np.random.default_rng(0))
    net.weights[0][:] = 1.0
    net.weights[1][:] = 1.0
    frames = np.array([1, 0, 0, 1], np.uint8).reshape(1, 4, 1)
    inp = encode_frames(frames, True)
    nrn, _ = neuron("ottt")
    _, _, cnt = trainer("sltt", net, nrn, T=4).infer_batch(inp, inp.ptr, np.array([0]))
    c = cnt[0, 0, K.Phase.INFERENCE]
    assert c[K.NEURON_UPDATE_ACTIVE] == 2 * 3 and c[K.NEURON_UPDATE_IDLE] == 2 * 3
    assert c[K.SYNOP] == 2 * 3 and c[K.SPIKE] == 2 * 3


def _lif_numpy(I, v, lam, theta, cin, vr, soft, h0):
    """The LIF update in plain NumPy (neuron.py's equations, float64 arithmetic, stored in
    the state's dtype): (u, v after reset, spike indices)."""
    u = lam * v.astype(np.float64) + cin * I.astype(np.float64)
    x = u - theta
    s = (x > 0.0) | ((x == 0.0) & h0)
    v_new = np.where(s, x if soft else vr, u)
    return u.astype(v.dtype), v_new.astype(v.dtype), np.flatnonzero(s)


@pytest.mark.parametrize("n", [1, 7, 8, 9, 64, 1003])
@pytest.mark.parametrize("rate", [0.0, 0.03, 0.5, 1.0])
def test_lif_matches_numpy(n, rate):
    """kernels.neuron.lif against _lif_numpy bit for bit: spike indices in order (compacted
    eight flags at a time, with a tail when n is not a multiple of 8), potentials, soft and
    hard reset, and a neuron exactly at threshold with H(0) = 1 and 0."""
    rng = np.random.default_rng(int(n * 100 + rate * 10))
    for f in (np.float32, np.float64):
        for soft in (True, False):
            for h0 in (True, False):
                v = rng.uniform(-0.5, 0.5, n).astype(f)
                I = np.where(rng.random(n) < rate, 2.0, 0.0).astype(f)
                lam = np.full(n, 0.5)     # four different values: the scalar path (uni)
                theta = np.full(n, 1.5)   # cannot swap two of them unseen
                cin = np.full(n, 0.75)
                vr = np.full(n, -0.25)
                if n > 2:                 # exactly at threshold: u = 0.5 * 0 + 0.75 * 2
                    v[2], I[2] = 0.0, 2.0
                u_ref, v_ref, idx_ref = _lif_numpy(I, v, lam, theta, cin, vr, soft, h0)
                for uni in (0, 1):     # the parameters read per neuron, or once as scalars
                    u = np.zeros(n, f)
                    spk = np.full(n, -1, np.int64)
                    fired = np.zeros(n + 8, np.uint8)
                    vv = v.copy()
                    ns = lif(I, vv, u, spk, lam, theta, cin, vr, np.uint8(uni), np.uint8(soft),
                             np.uint8(h0), 0.0, 0.0, fired)
                    assert ns == len(idx_ref)
                    assert np.array_equal(spk[:ns], idx_ref)
                    assert u.tobytes() == u_ref.tobytes() and vv.tobytes() == v_ref.tobytes()


def _bias_grads_numpy(gb, g, npos, Cout, c0, c1):
    """The bias gradient one addition at a time: position by position, column by column,
    skipping zeros (numpy scalars: the array's own float arithmetic)."""
    for q in range(npos):
        for co in range(c0, c1):
            v = g[q * Cout + co]
            if v != 0:
                gb[co] = gb[co] + v


@pytest.mark.parametrize("npos, Cout", [(1, 10), (3, 16), (5, 13), (289, 32), (1156, 16)])
def test_bias_grads_matches_one_addition_at_a_time(npos, Cout):
    """wgrad.bias_grads against _bias_grads_numpy bit for bit: each column's additions in
    position order, zeros (and -0.0) skipped, a NaN carried, partial
    column ranges (a worker's share) and position counts not a multiple of four. Values of
    very different sizes make a different order of additions show in the last bits."""
    from chipsim.kernels.wgrad import bias_grads
    rng = np.random.default_rng(npos * 100 + Cout)
    for f in (np.float32, np.float64):
        g = (rng.standard_normal(npos * Cout) * 10.0 ** rng.integers(-6, 6, npos * Cout)).astype(f)
        g[rng.random(g.size) < 0.3] = 0.0
        g[rng.random(g.size) < 0.05] = -0.0
        start = rng.standard_normal(Cout).astype(f)
        start[::4] = -0.0              # -0.0 + 0.0 would be +0.0: a zero must be skipped
        for c0, c1 in ((0, Cout), (1, Cout - 1), (Cout // 2, Cout)):
            ref, got = start.copy(), start.copy()
            _bias_grads_numpy(ref, g, npos, Cout, c0, c1)
            bias_grads(got, g, npos, Cout, c0, c1)
            assert got.tobytes() == ref.tobytes()
    g = np.ones(npos * Cout)
    g[Cout - 1] = np.nan
    got = np.zeros(Cout)
    bias_grads(got, g, npos, Cout, 0, Cout)
    assert np.isnan(got[Cout - 1]) and np.all(got[:Cout - 1] == npos)


def test_gradient_additions_skip_zeros_as_one_addition_at_a_time():
    """wgrad.add_rows, add_block and add_nonzero (selects since 2026-12-07, branches
    before) against numpy, element by element: an entry adds where it is not zero and leaves
    its target alone where it is, so a -0.0 target stays -0.0 (adding +0.0 would make it
    +0.0); a NaN is carried; only the rows or the block's columns asked for change, and a row
    is marked touched when something was added to it."""
    from chipsim.kernels.wgrad import add_block, add_nonzero, add_rows
    rng = np.random.default_rng(7)
    k2, Cin, Cout = 9, 4, 19            # 19: not a multiple of any vector width
    for f in (np.float32, np.float64):
        d = (rng.standard_normal((k2 * Cin, Cout)) * 10.0 ** rng.integers(-6, 6, (k2 * Cin, Cout))).astype(f)
        d[rng.random(d.shape) < 0.3] = 0.0
        d[rng.random(d.shape) < 0.05] = -0.0
        d[5] = 0.0                      # a row with nothing to add: not touched
        d[6, 3] = np.nan
        start = rng.standard_normal((k2 * Cin, Cout)).astype(f)
        start[:, ::3] = -0.0

        def ref_add(t, dd):
            return np.where(dd != 0.0, t + dd, t)

        for r0, r1 in ((0, k2 * Cin), (5, 7), (17, k2 * Cin)):
            got, touched = start.copy(), np.zeros(k2 * Cin, np.uint8)
            add_rows(got, d, r0, r1, touched)
            rows = np.arange(r0, r1)
            ref = start.copy()
            ref[rows] = ref_add(start[rows], d[rows])
            assert got.tobytes() == ref.tobytes()
            assert np.array_equal(touched[rows], np.any(d[rows] != 0.0, axis=1))   # (NaN != 0)
            assert not touched[[r for r in range(k2 * Cin) if r not in set(rows)]].any()
        for s0, s1 in ((0, Cout), (3, 11)):
            got, touched = start.copy(), np.zeros(k2 * Cin, np.uint8)
            add_block(got, np.ascontiguousarray(d[:, :s1 - s0]), s0, s1, touched)
            ref = start.copy()
            ref[:, s0:s1] = ref_add(start[:, s0:s1], d[:, :s1 - s0])
            assert got.tobytes() == ref.tobytes()
            blk = d[:, :s1 - s0]
            assert np.array_equal(touched.astype(bool), np.any(blk != 0.0, axis=1))
        p = f(0.37)
        for unit in (True, False):
            row, g = start[0].copy(), d[1].copy()
            add_nonzero(row, g, p, unit)
            ref = np.where(g != 0.0, start[0] + (g if unit else p * g), start[0])
            assert row.tobytes() == ref.tobytes()


def test_row_apart_keeps_two_workers_rows_out_of_one_cache_line():
    """arrays.row_apart: wherever a (workers, length) array starts, no 64-byte line holds
    items of two workers' first n entries (checked byte by byte at every start offset
    in a line), and the row is no longer than that needs plus a line."""
    from chipsim.kernels.arrays import row_apart
    for itemsize in (1, 4, 8):
        for n in (1, 2, 3, 9, 16, 18, 63, 64, 65):
            L = row_apart(n, itemsize)
            assert L >= n and (L - n) * itemsize <= 2 * 64
            for start in range(64):
                lines = [{(start + (w * L + i) * itemsize + k) // 64
                          for i in range(n) for k in range(itemsize)} for w in range(3)]
                assert not lines[0] & lines[1] and not lines[1] & lines[2], (itemsize, n, start)
