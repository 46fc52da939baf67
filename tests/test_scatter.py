"""A convolution's event-by-event forward step (synapse.scatter) equals a direct convolution in
plain numpy, for spikes and graded inputs, strides 1 and 2, kernels 2, 3 and 5, with and
without padding, 2 to 6 input channels (from synapse.RUN_CIN = 4, a position's events are
added in runs), and its counts equal closed forms: synapses reached = sum over input events of
their valid taps x Cout (ACs for spikes, MACs for graded values, one weight read each), the non-
zero weights among them (NeuroBench effective ops, from the kernel rows' counts), active neurons
= the positions some event reaches, one state read and write per neuron."""

from __future__ import annotations

import numpy as np
import pytest

from chipsim import counts as K
from chipsim.kernels.synapse import row_nonzeros, scatter
from chipsim.learning.trainer import layout
from chipsim.model.network import Network


def _layer(shape, cout, k, s, pad, binary, seed):
    net = Network.build(shape, binary, [dict(kind="conv", channels=cout, kernel=k, stride=s,
                                              padding=pad, bias=True)], 3, True,
                        np.random.default_rng(seed), gain=1.0)
    W = net.weights[0].copy()
    W[np.random.default_rng(seed).random(W.shape) < 0.2] = 0.0      # some zero weights
    return W, net.biases[0].copy(), layout(net)[0]


def _direct(X, W, b, k, s, pad, Hout, Wout):
    """out[y, x, co] = b[co] + sum over ky, kx, ci of X[y s + ky - pad, x s + kx - pad, ci]
    W[(ky k + kx) Cin + ci, co]; plus the closed-form counts."""
    H, Wd, Cin = X.shape
    out = np.tile(b, (Hout, Wout, 1))
    syn = nz = 0
    hit = np.zeros((Hout, Wout), bool)
    for y in range(Hout):
        for x in range(Wout):
            for ky in range(k):
                for kx in range(k):
                    iy, ix = y * s + ky - pad, x * s + kx - pad
                    if 0 <= iy < H and 0 <= ix < Wd:
                        rows = W[(ky * k + kx) * Cin:(ky * k + kx + 1) * Cin]
                        out[y, x] += X[iy, ix] @ rows
                        on = X[iy, ix] != 0
                        syn += on.sum() * W.shape[1]
                        nz += (rows[on] != 0).sum()
                        hit[y, x] |= on.any()
    return out.reshape(-1), syn, nz, hit.sum()


@pytest.mark.parametrize("shape,cout,k,s,pad", [((7, 6, 3), 5, 3, 1, 1), ((9, 8, 2), 4, 3, 2, 1),
                                                ((8, 8, 2), 3, 5, 1, 2), ((6, 7, 2), 4, 2, 1, 0),
                                                ((7, 6, 6), 5, 3, 1, 1), ((8, 7, 5), 4, 5, 1, 2)])
@pytest.mark.parametrize("binary", [True, False])
def test_scatter_equals_the_direct_convolution(shape, cout, k, s, pad, binary):
    W, b, Ly = _layer(shape, cout, k, s, pad, binary, seed=k + s)
    rng = np.random.default_rng(3)
    n_in = int(np.prod(shape))
    idx = np.flatnonzero(rng.random(n_in) < 0.4).astype(np.int64)
    val = np.ones(idx.size) if binary else rng.integers(1, 5, idx.size).astype(np.float64)
    X = np.zeros(n_in)
    X[idx] = val
    Hout, Wout = Ly["hout"], Ly["wout"]
    want, syn, nz, active = _direct(X.reshape(shape), W, b, k, s, pad, Hout, Wout)
    npos = Hout * Wout
    out = np.full(npos * cout, np.nan)
    hit = np.zeros(npos, np.int64)
    c = np.zeros(K.N_ACTIONS, np.int64)
    wnz = np.full(W.shape[0], -1, np.int64)
    row_nonzeros(W, wnz)
    np.testing.assert_array_equal(wnz, np.count_nonzero(W, axis=1))
    scatter(W, b, idx, val, 0, idx.size, Ly, out, hit, wnz, np.zeros(2 * k * k, np.int64), c)
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-12)
    assert syn > 0 and nz < syn         # the test reaches synapses, some of zero weight
    assert c[K.SYNOP if binary else K.SYN_MAC] == syn
    assert c[K.SYN_MAC if binary else K.SYNOP] == 0
    assert c[K.MEM_READ_WEIGHT] == syn and c[K.NB_EFF_OPS] == nz
    assert c[K.NEURON_UPDATE_ACTIVE] == active * cout
    assert c[K.NEURON_UPDATE_IDLE] == (npos - active) * cout
    assert c[K.MEM_READ_STATE] == c[K.MEM_WRITE_STATE] == npos * cout
    counted = [K.SYNOP, K.SYN_MAC, K.MEM_READ_WEIGHT, K.NB_EFF_OPS, K.NEURON_UPDATE_ACTIVE,
               K.NEURON_UPDATE_IDLE, K.MEM_READ_STATE, K.MEM_WRITE_STATE]
    assert not np.delete(c, counted).any()        # nothing else is counted


@pytest.mark.parametrize("shape,cout,k,s,pad", [((7, 6, 3), 5, 3, 1, 1), ((9, 8, 2), 4, 3, 2, 1),
                                                ((8, 8, 2), 3, 5, 1, 2), ((6, 7, 2), 4, 2, 1, 0),
                                                ((7, 6, 6), 5, 3, 1, 1)])
@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("nb", [2, 3])
def test_blocks_of_rows_tile_the_whole_scatter(shape, cout, k, s, pad, binary, nb):
    """scatter_rows over blocks of output rows that tile the map (as the workers sharing a
    batch-1 sample's forward run them, in any order) gives the whole scatter's outputs bit for
    bit and its counts summed; each block writes only its own rows (6 input channels: by runs
    of events, synapse.RUN_CIN; fewer: event by event). It fails when a block
    drops the inputs of the rows just above or below it, which reach its rows through the
    kernel's taps (checked by narrowing the rows an input may come from by one)."""
    from chipsim.kernels.synapse import scatter_rows
    W, b, Ly = _layer(shape, cout, k, s, pad, binary, seed=k + s + nb)
    rng = np.random.default_rng(5)
    n_in = int(np.prod(shape))
    idx = np.flatnonzero(rng.random(n_in) < 0.4).astype(np.int64)
    val = np.ones(idx.size) if binary else rng.integers(1, 5, idx.size).astype(np.float64)
    Hout, Wout = Ly["hout"], Ly["wout"]
    npos = Hout * Wout
    wnz = np.zeros(W.shape[0], np.int64)
    row_nonzeros(W, wnz)
    taps = np.zeros(2 * k * k, np.int64)
    want = np.full(npos * cout, np.nan)
    hit_w = np.zeros(npos, np.int64)
    c_w = np.zeros(K.N_ACTIONS, np.int64)
    scatter(W, b, idx, val, 0, idx.size, Ly, want, hit_w, wnz, taps, c_w)
    out = np.full(npos * cout, np.nan)
    hit = np.full(npos, -1, np.int64)
    c = np.zeros(K.N_ACTIONS, np.int64)
    cuts = [i * Hout // nb for i in range(nb + 1)]
    for i in reversed(range(nb)):          # any order: the blocks are independent
        y0, y1 = cuts[i], cuts[i + 1]
        before = out.copy()
        scatter_rows(W, b, idx, val, 0, idx.size, Ly, out, hit, wnz, taps, c, y0, y1, i % 2 == 0)
        mine = np.zeros(npos * cout, bool)
        mine[y0 * Wout * cout:y1 * Wout * cout] = True
        np.testing.assert_array_equal(out[~mine], before[~mine])   # others' rows untouched
    assert out.tobytes() == want.tobytes()
    np.testing.assert_array_equal(hit, hit_w)
    np.testing.assert_array_equal(c, c_w)


@pytest.mark.parametrize("shape,k,s,pad", [((7, 6, 3), 3, 1, 1), ((9, 8, 2), 3, 2, 1),
                                           ((6, 9, 2), 5, 1, 2), ((8, 5, 1), 2, 1, 0),
                                           ((5, 7, 2), 3, 1, 0), ((6, 6, 2), 1, 1, 0),
                                           ((4, 6, 2), 3, 1, 2)])
def test_tap_sums_is_the_sum_over_the_outputs_an_input_reaches(shape, k, s, pad):
    """conv.tap_sums: tsum[y, x] = sum of pos_nz over the output positions input (y, x)
    reaches (oy = (y + pad - ky) / s, ox likewise, whole and in range), straight from that
    definition in numpy; stride 1 (its run-by-run box sum) and 2 (the tap table), pads 0-2,
    kernels 1-5, maps not square."""
    from chipsim.kernels.conv import tap_sums
    _, _, Ly = _layer(shape, 4, k, s, pad, True, seed=k + 3 * pad)
    H, Wd, _ = shape
    Hout, Wout = Ly["hout"], Ly["wout"]
    pos_nz = np.random.default_rng(k + pad).integers(0, 5, Hout * Wout).astype(np.int64)
    want = np.zeros(H * Wd, np.int64)
    for y in range(H):
        for x in range(Wd):
            for ky in range(k):
                for kx in range(k):
                    oy, ox = y + pad - ky, x + pad - kx
                    if oy % s or ox % s:
                        continue
                    oy, ox = oy // s, ox // s
                    if 0 <= oy < Hout and 0 <= ox < Wout:
                        want[y * Wd + x] += pos_nz[oy * Wout + ox]
    tsum = np.full(H * Wd, -7, np.int64)                      # (every entry must be written)
    rows = np.full(max(Hout * Wd, 1), -7, np.int64)
    tap_sums(Ly, pos_nz, tsum, rows, np.zeros(2 * k * k, np.int64))
    np.testing.assert_array_equal(tsum, want)


def _event_by_event(W, b, idx, val, Win, Cin, k, pad, Hout, Wout, unit):
    """The forward step as the chip runs it, in plain numpy: each input event in order, each of
    its valid taps, out[opos] += v * W[row] (out[opos] += W[row] for spikes), one rounding per
    addition, in the arrays' own float type."""
    out = np.tile(b, Hout * Wout).reshape(Hout * Wout, -1)
    for j, v in zip(idx, val):
        ci, pos = j % Cin, j // Cin
        y, x = divmod(pos, Win)
        for ky in range(k):
            for kx in range(k):
                oy, ox = y + pad - ky, x + pad - kx
                if 0 <= oy < Hout and 0 <= ox < Wout:
                    row = W[(ky * k + kx) * Cin + ci]
                    if unit:
                        out[oy * Wout + ox] += row
                    else:
                        out[oy * Wout + ox] += v * row
    return out.reshape(-1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("binary,pool", [(True, False), (False, False), (False, True)])
def test_runs_at_one_position_keep_the_event_order_bits(dtype, binary, pool):
    """scatter adds a run of events at one input position four rows a pass (synapse._tap_run);
    each output must still receive the events' additions in event order, one rounding each:
    bit for bit the plain event-by-event loop above, in float32 and float64, for spikes (rows
    added), graded values (rows scaled) and average pooling's values of 1/4, with runs of 0
    to 12 events at the map's 30 positions, so that every group size (4, 2, 1) and their
    mixes are met. It fails if a group's rows were
    summed before they meet the output (a different rounding) or out of order."""
    from chipsim.kernels.synapse import RUN_CIN
    Cin, cout, k, pad = 12, 7, 3, 1
    assert Cin >= RUN_CIN                    # the runs' loop, not the event-by-event one
    shape = (6, 5, Cin)
    W, b, Ly = _layer(shape, cout, k, 1, pad, binary, seed=11)
    W, b = W.astype(dtype), b.astype(dtype)
    rng = np.random.default_rng(12)
    # position p holds a run of p % 13 events (0 to 12 channels, sorted, as events come)
    idx = np.concatenate([p * Cin + np.sort(rng.choice(Cin, p % 13, replace=False))
                          for p in range(shape[0] * shape[1])]).astype(np.int64)
    assert set(np.bincount(idx // Cin).tolist()) == set(range(13))
    if binary:
        val = np.ones(idx.size, dtype)
    elif pool:
        val = np.full(idx.size, 0.25, dtype)
    else:
        val = rng.standard_normal(idx.size).astype(dtype)
    Hout, Wout = Ly["hout"], Ly["wout"]
    want = _event_by_event(W, b, idx, val, shape[1], Cin, k, pad, Hout, Wout, binary)
    out = np.full(Hout * Wout * cout, np.nan, dtype)
    wnz = np.zeros(W.shape[0], np.int64)
    row_nonzeros(W, wnz)
    scatter(W, b, idx, val, 0, idx.size, Ly, out, np.zeros(Hout * Wout, np.int64), wnz,
            np.zeros(2 * k * k, np.int64), np.zeros(K.N_ACTIONS, np.int64))
    assert out.dtype == want.dtype
    assert out.tobytes() == want.tobytes()
