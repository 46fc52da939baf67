"""Would a convolution's forward step be faster as one matrix product than event by event?
chipsim's ``synapse.scatter`` against ``product`` below: out = im2col(X) W + bias over the
dense map X of the input events (chipsim's own im2col and BLAS call), with the counting the
chip's event-by-event work would still need (each weight row's non-zeros, every event's valid
taps), on VGG-11's layer shapes (48x48, OTTT's CIFAR10-DVS setup; the first layer with graded
counts, as count frames give it) and the reference conv net's, at input densities from 2 % to
40 %. Binary inputs otherwise, float32, one thread. The values agree up to the order of the
additions (the largest difference is printed). Figures, not assertions: the median of
--rounds rounds, the two interleaved.

Issue 12 asked for graded inputs to be handled as products in the forward pass. Measured here
(benchmarks/results/2026-12-05_forward_product.txt), the product is the faster only above about
20-35 % input density, and in place in chipsim (VGG-11, ottt_a, batch 16, one thread, the
product taken from 1/3 density) a training sample took 1.5-5 % less time, while the forward's
last bits changed and with them, through spikes at the threshold, the golden counts of BPTT. So
chipsim keeps the scatter.

    python benchmarks/bench_forward.py [--rounds 7] [--densities 0.02 0.05 0.1 0.2 0.25 0.3 0.4]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import chipsim  # noqa: F401  (one BLAS thread, as chipsim runs it)
from numba import njit

from chipsim.counts import N_ACTIONS
from chipsim.kernels.arrays import gemm
from chipsim.kernels.conv import conv_geometry, taps
from chipsim.kernels.synapse import scatter
from chipsim.kernels.wgrad import conv_wgrad_cols, input_map
from chipsim.learning.trainer import layout
from chipsim.model.network import Network


@njit(cache=True)
def product(W, bias, ev_i, ev_v, start, stop, Ly, out, hit, nzrow, scr, taps_):
    """The forward step as one product, with the counting work it would still need; returns
    (synapses reached, non-zero weights among them) as scatter counts them."""
    Cin, Win, Hout, Wout, Cout, k, s, pad = conv_geometry(Ly)
    npos = Hout * Wout
    nt = k * k
    for r in range(nt * Cin):
        n = 0
        for co in range(Cout):
            n += W[r, co] != 0.0
        nzrow[r] = n
    for q in range(npos):
        hit[q] = 0
    syn = 0
    nz = 0
    for e in range(start, stop):
        j = ev_i[e]
        ci = j % Cin
        pos = j // Cin
        n = taps(pos // Win, pos % Win, k, s, pad, Hout, Wout, taps_[:nt], taps_[nt:])
        for q in range(n):
            hit[taps_[nt + q]] = 1
            nz += nzrow[taps_[q] * Cin + ci]
        syn += n * Cout
    X = input_map(Ly, ev_i, ev_v, start, stop, ev_v, False, scr[1])
    O = out[:npos * Cout].reshape((npos, Cout))
    gemm(conv_wgrad_cols(X, Ly, scr), W, O)
    for q in range(npos):
        for co in range(Cout):
            O[q, co] += bias[co]
    return syn, nz

SHAPES = [  # (name, input (H, W, Cin), Cout, graded input)
    ("vgg conv 2->64 @48 graded", (48, 48, 2), 64),
    ("vgg conv 64->128 @48", (48, 48, 64), 128),
    ("vgg conv 128->256 @24", (24, 24, 128), 256),
    ("vgg conv 256->512 @12", (12, 12, 256), 512),
    ("vgg conv 512->512 @6", (6, 6, 512), 512),
    ("conv net 16->32 @17", (17, 17, 16), 32),
]


def one_layer(shape, cout, binary):
    net = Network.build(shape, binary, [dict(kind="conv", channels=cout, kernel=3, stride=1,
                                           padding=1, bias=True)], 10, True,
                        np.random.default_rng(0), gain=1.0)
    return net.weights[0].astype(np.float32), net.biases[0].astype(np.float32), layout(net)[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--densities", type=float, nargs="+",
                    default=[0.02, 0.05, 0.1, 0.2, 0.25, 0.3, 0.4])
    a = ap.parse_args()
    rng = np.random.default_rng(1)
    print(f"{'layer':24s} {'density':>7s} {'scatter ms':>10s} {'product ms':>10s} "
          f"{'scatter/product':>15s} {'max |diff|':>10s}")
    for name, shape, cout in SHAPES:
        W, b, Ly = one_layer(shape, cout, "graded" not in name)
        H, Wd, Cin = shape
        npos = Ly["hout"] * Ly["wout"]
        rows = W.shape[0]
        Lrec = np.array([Ly])[0]
        wnz = np.count_nonzero(W, axis=1).astype(np.int64)
        for d in a.densities:
            idx = np.flatnonzero(rng.random(H * Wd * Cin) < d).astype(np.int64)
            # spikes, or (the first layer of count frames) counts of 1 to 4 events
            ones = (rng.integers(1, 5, idx.size) if "graded" in name else np.ones(idx.size)).astype(np.float32)
            outs, cnts, times = [], [], {"s": [], "p": []}
            for r in range(a.rounds + 1):
                for kind in ("s", "p"):
                    out = np.zeros(npos * cout, np.float32)
                    hit = np.zeros(npos, np.int64)
                    c = np.zeros(N_ACTIONS, np.int64)
                    taps = np.zeros(18, np.int64)
                    t0 = time.perf_counter()
                    if kind == "s":
                        scatter(W, b, idx, ones, 0, idx.size, Lrec, out, hit, wnz, taps, c)
                        syn = c[0] + c[1]
                        nz = c[24]
                    else:
                        scr = (np.empty(npos * rows, np.float32), np.empty(H * Wd * Cin, np.float32),
                               np.empty((H + 2) * (Wd + 2) * Cin, np.float32))
                        syn, nz = product(W, b, idx, ones, 0, idx.size, Lrec, out, hit,
                                          np.empty(rows, np.int64), scr, taps)
                    if r > 0:           # the first round compiles
                        times[kind].append(time.perf_counter() - t0)
                    if r == 0:
                        outs.append(out.copy())
                        cnts.append((syn, nz, hit.sum()))
            assert cnts[0] == cnts[1], "the counts must not depend on the route"
            ts, tp = statistics.median(times["s"]), statistics.median(times["p"])
            print(f"{name:24s} {d:7.3f} {1e3 * ts:10.3f} {1e3 * tp:10.3f} {ts / tp:15.2f} "
                  f"{np.abs(outs[0] - outs[1]).max():10.2e}", flush=True)


if __name__ == "__main__":
    main()
