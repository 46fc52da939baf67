"""Would a convolution's forward step be faster output by output than event by event, with the
same bits?

``synapse.scatter`` walks the input events in order and adds each event's weight rows into the
output positions it reaches (runs of events at one position four rows a pass). Each output
element then receives its additions in event order, one rounding each. ``gather`` below
computes the same sums output by output: it cuts the events into segments in which the input
position does not decrease, tabulates per segment where each position's events start, and for
each output position lists the events of its receptive field segment by segment and row by
row (which is their event order), then adds their rows four at a pass into the output, which
stays in the first level of cache, loaded and stored once per four rows. The same additions
in the same order: the same bits, checked here with the counts (synapses, non-zero weights,
neurons reached).

Timed on the reference conv net's second convolution (16 -> 32 channels, 17 x 17, average
pooled spikes of the first) with the events it receives in training: the reference trainer
(sltt, batch 32) trained for a few batches, then its last step's events of each sample. Also
on uniformly random spikes at the same rate, where runs are short. One thread, float32; the
median of --rounds rounds, the two kernels interleaved. Figures, not assertions.

Measured (benchmarks/results/2026-12-07_gather_eve.txt): the same bits and counts, and slower:
0.59-0.62x scatter's speed on the training's events, 0.64-0.66x on random spikes. (A prototype
with the geometry as constants matched scatter on the training's events and was 1.8x faster on
random spikes; with it read from the layer at run time, as chipsim must, it is not.) Each
output's additions are a chain in event order, and scatter's runs already add four rows a
pass. So chipsim keeps the scatter.

    python benchmarks/bench_gather.py [--rounds 7] [--batches 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from numba import njit

from common import CONV, nmnist, reference_trainer
from chipsim import threads
from chipsim.counts import MEM_READ_WEIGHT, N_ACTIONS, NB_EFF_OPS, NEURON_UPDATE_ACTIVE
from chipsim.kernels.conv import conv_geometry
from chipsim.kernels.synapse import scatter


@njit(cache=True)
def gather(W, idx, val, n, Ly, out, hit, wnz, tbl, segs, rows, vals, evb, ev_pos, sl):
    """out = the events' weight rows summed output by output, in event order (stride 1, no
    bias); returns (synapses reached, their non-zero weights, output positions reached), or
    (-1, 0, 0) when the events need more segments or table than given (chipsim would then
    scatter; here it shows as a difference from the scatter's counts)."""
    Cin, Win, Hout, Wout, Cout, k, s, pad = conv_geometry(Ly)
    Hin = Ly.hin
    unit = Ly.unit == 1
    for q in range(n):          # each event's position, and its weight row less the output's
        j = idx[q]              # offset (below): one division each
        pos = j // Cin
        py = pos // Win
        ev_pos[q] = pos
        evb[q] = (py * k + pos - py * Win) * Cin + j - pos * Cin
    # segments: maximal runs of events whose position does not decrease; segment g spans input
    # rows segs[g, 0]..segs[g, 1]-1, and tbl[segs[g, 2] + p] is its first event at position >= p
    ng = 0
    m_tbl = 0
    e = 0
    while e < n:
        e0 = e
        e += 1
        while e < n and ev_pos[e] >= ev_pos[e - 1]:
            e += 1
        r0 = ev_pos[e0] // Win
        r1 = ev_pos[e - 1] // Win + 1
        if ng == segs.shape[0] or m_tbl + (r1 - r0) * Win + 1 > tbl.shape[0]:
            return -1, 0, 0
        segs[ng, 0] = r0
        segs[ng, 1] = r1
        segs[ng, 2] = m_tbl - r0 * Win
        q = e0
        for p in range(r0 * Win, r1 * Win + 1):
            while q < e and ev_pos[q] < p:
                q += 1
            tbl[m_tbl] = q
            m_tbl += 1
        ng += 1
    syn = 0
    nz = 0
    active = 0
    for oy in range(Hout):
        py0 = max(0, oy - pad)
        py1 = min(Hin, oy - pad + k)
        nso = 0
        for g in range(ng):
            if segs[g, 1] > py0 and segs[g, 0] < py1:
                sl[nso] = g
                nso += 1
        for ox in range(Wout):
            px0 = max(0, ox - pad)
            px1 = min(Win, ox - pad + k)
            off = ((oy - pad) * k + ox - pad) * Cin
            m = 0
            for gi in range(nso):
                g = sl[gi]
                b = segs[g, 2]
                for py in range(max(py0, segs[g, 0]), min(py1, segs[g, 1])):
                    for q in range(tbl[b + py * Win + px0], tbl[b + py * Win + px1]):
                        rows[m] = evb[q] - off
                        vals[m] = 1.0 if unit else val[q]
                        m += 1
            o = out[(oy * Wout + ox) * Cout:(oy * Wout + ox + 1) * Cout]
            for i in range(o.shape[0]):
                o[i] = 0.0
            hit[oy * Wout + ox] = 1 if m > 0 else 0
            active += 1 if m > 0 else 0
            syn += m * Cout
            i = 0
            while i + 4 <= m:
                a0, a1, a2, a3 = W[rows[i]], W[rows[i + 1]], W[rows[i + 2]], W[rows[i + 3]]
                v0, v1, v2, v3 = vals[i], vals[i + 1], vals[i + 2], vals[i + 3]
                nz += wnz[rows[i]] + wnz[rows[i + 1]] + wnz[rows[i + 2]] + wnz[rows[i + 3]]
                if unit:
                    for z in range(o.shape[0]):
                        o[z] = (((o[z] + a0[z]) + a1[z]) + a2[z]) + a3[z]
                else:
                    for z in range(o.shape[0]):
                        o[z] = (((o[z] + v0 * a0[z]) + v1 * a1[z]) + v2 * a2[z]) + v3 * a3[z]
                i += 4
            while i < m:
                a0 = W[rows[i]]
                v0 = vals[i]
                nz += wnz[rows[i]]
                if unit:
                    for z in range(o.shape[0]):
                        o[z] += a0[z]
                else:
                    for z in range(o.shape[0]):
                        o[z] += v0 * a0[z]
                i += 1
    return syn, nz, active


def training_events(batches: int):
    """The reference conv net's second convolution (weights, layout record) and its input
    events (indices, values) at the last step of each sample of a batch, after ``batches``
    batches of sltt training at batch 32 on one thread."""
    threads.configure(1)
    ds, inp = nmnist(10, "float32")
    B = 32
    tr = reference_trainer(CONV, "sltt", 10, "float32", B, np.random.default_rng(0))
    for i in range(batches):
        ids = np.arange(i * B, (i + 1) * B) % len(ds.labels)
        tr.train_batch(inp, inp.ptr[ids], ds.labels[ids])
    S, lay = tr.state, tr.layout
    Ly = lay[1]
    n_ev = Ly["ev_m"]
    # views.ev_idx's and ev_val's slices, written out: a Numba kernel cannot hand Python a
    # view of a field of the State it was given
    base = S.ev_idx[Ly["o_ev"]:Ly["o_ev"] + S.TH * S.B * n_ev].reshape(S.TH, S.B, n_ev)
    vbase = S.ev_val[Ly["o_ev"]:Ly["o_ev"] + S.TH * S.B * n_ev].reshape(S.TH, S.B, n_ev)
    th = S.TH - 1
    evs = [(base[th, b, :S.ev_n[1, th, b]].astype(np.int64).copy(),
            vbase[th, b, :S.ev_n[1, th, b]].copy()) for b in range(S.B)]
    W = tr.net.weights[1]
    return np.ascontiguousarray(W), np.array([Ly])[0], evs


def random_events(Ly, rate: float, n_sets: int, rng):
    """Spikes of the 34 x 34 x 16 first layer at ``rate``, through the 2 x 2 average pooling, in
    the order the pooling passes them on (the source's)."""
    out = []
    for _ in range(n_sets):
        ys, xs, cs = np.nonzero(rng.random((2 * Ly["hin"], 2 * Ly["win"], Ly["cin"])) < rate)
        keep = (ys // 2 < Ly["hin"]) & (xs // 2 < Ly["win"])
        ys, xs, cs = ys[keep], xs[keep], cs[keep]
        j = ((ys // 2) * Ly["win"] + xs // 2) * Ly["cin"] + cs
        out.append((j.astype(np.int64), np.full(j.size, 0.25, np.float32)))
    return out


def compare(W, Ly, evs, rounds: int):
    """(scatter's and gather's median µs per event set, same bits and counts on every set)."""
    npos = Ly["hout"] * Ly["wout"]
    Cout = Ly["cout"]
    wnz = np.count_nonzero(W, axis=1).astype(np.int64)
    bias = np.zeros(Cout, W.dtype)
    taps = np.zeros(2 * Ly["k"] ** 2, np.int64)
    big = 1 << 16
    tbl, segs, sl = np.zeros(big, np.int64), np.zeros((256, 3), np.int64), np.zeros(256, np.int64)
    rows, vals, evb = np.zeros(big, np.int64), np.zeros(big, W.dtype), np.zeros(big, np.int64)
    ev_pos = np.zeros(big, np.int64)
    same = True
    ts = {"scatter": [], "gather": []}
    for r in range(rounds + 1):
        tot = {"scatter": 0.0, "gather": 0.0}
        for idx, val in evs:
            o1, h1 = np.zeros(npos * Cout, W.dtype), np.zeros(npos, np.int64)
            c = np.zeros(N_ACTIONS, np.int64)
            t0 = time.perf_counter()
            scatter(W, bias, idx, val, 0, idx.size, Ly, o1, h1, wnz, taps, c)
            t1 = time.perf_counter()
            o2, h2 = np.zeros(npos * Cout, W.dtype), np.zeros(npos, np.int64)
            syn, nz, active = gather(W, idx, val, idx.size, Ly, o2, h2, wnz, tbl, segs, rows,
                                     vals, evb, ev_pos, sl)
            t2 = time.perf_counter()
            tot["scatter"] += t1 - t0
            tot["gather"] += t2 - t1
            same &= (np.array_equal(o1.view(np.int32), o2.view(np.int32)) and np.array_equal(h1, h2)
                     and syn == c[MEM_READ_WEIGHT] and nz == c[NB_EFF_OPS]
                     and active * Cout == c[NEURON_UPDATE_ACTIVE])
        if r > 0:               # the first round compiles
            for kk in ts:
                ts[kk].append(1e6 * tot[kk] / len(evs))
    return statistics.median(ts["scatter"]), statistics.median(ts["gather"]), same


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--batches", type=int, default=3, help="batches trained before the events are taken")
    a = ap.parse_args()
    W, Ly, evs = training_events(a.batches)
    n = np.mean([e[0].size for e in evs])
    rate = n / (4 * Ly["hin"] * Ly["win"] * Ly["cin"])
    print(f"conv net 16->32 @17, one thread, float32; median of {a.rounds} rounds, us per step")
    print(f"{'events':38s} {'scatter':>8s} {'gather':>8s} {'scatter/gather':>14s} {'same bits, counts':>18s}")
    for name, sets in ((f"training's ({len(evs)} steps, {n:.0f} events)", evs),
                       (f"random spikes at its rate ({rate:.3f})",
                        random_events(Ly, rate, len(evs), np.random.default_rng(1)))):
        s, g, same = compare(W, Ly, sets, a.rounds)
        print(f"{name:38s} {s:8.1f} {g:8.1f} {s / g:14.2f} {str(same):>18s}", flush=True)


if __name__ == "__main__":
    main()
