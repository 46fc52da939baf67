"""The sigmoid surrogates of one layer: ``kernels.neuron.surrogates`` (exp from
``kernels/libm.py``, vectorised) against the former loop (``np.exp``, the C library's exp, one
call per neuron), on the reference conv net's first layer size (16 x 34 x 34 = 18,496
neurons), float32 and float64. The membrane potentials are N(0, 1) with 40 % exactly 0 (the
conv net has 35-47 %), either whole positions (all 16 channels of 40 % of the positions, as
in the conv net, whose neurons without input are those of the positions no event reaches),
scattered one neuron at a time, or none; OTTT's neuron (threshold 1, alpha 4). Both return
the same bits (checked here). Figures, not assertions: the median and minimum of --rounds
rounds, the two loops interleaved.

    taskset -c 1 python benchmarks/bench_surrogates.py [--n 18496] [--rounds 21]

``--conv-net``: instead, the conv net's own membrane potentials. It trains the reference conv
net (bptt, batch 32, float32) for three batches, takes steps 0, 5 and 9 of one sample from
each LIF layer's u history, and times surrogates() against the loop without the search for
blocks of zeros (``plain``) on them, in cache; then layer 0's last step again with its zeros
made -0.001, where no block is zero (what the search costs when it finds nothing). Both give
the same bits (checked here).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from numba import njit

from chipsim.kernels.neuron import ZERO_BLOCK, surrogate, surrogates
from chipsim.kernels.records import SURROGATE_SIGMOID


@njit
def former(u, theta, alpha, out):
    """The loop as it was (chipsim before libm.py): np.exp and Python's division."""
    one = np.float32(1.0)
    for j in range(out.shape[0]):
        x = u[j] - theta
        s = one / (one + np.exp(-alpha * x))
        out[j] = alpha * s * (one - s)


_THETA = {}


def current(u, theta, alpha, out):
    """chipsim's surrogates(), which takes a threshold per neuron (made once, outside the
    timing); one threshold for the layer, as the reference networks have."""
    key = (u.shape, u.dtype, float(theta))
    if key not in _THETA:
        _THETA.clear()
        _THETA[key] = np.full_like(u, theta)
    surrogates(u, _THETA[key], 1, SURROGATE_SIGMOID, alpha, out)


def timed(fns, rounds: int, calls: int) -> list[list[float]]:
    """us per call of each of ``fns`` (no arguments), ``rounds`` rounds of ``calls`` calls,
    the functions interleaved in each round."""
    times = [[] for _ in fns]
    for _ in range(rounds):
        for k, f in enumerate(fns):
            t = time.perf_counter()
            for _ in range(calls):
                f()
            times[k].append((time.perf_counter() - t) / calls * 1e6)
    return times


@njit
def plain(u, theta, alpha, out):
    """surrogates()'s loop with one threshold, without its blocks of zeros."""
    for j in range(out.shape[0]):
        out[j] = surrogate(u[j] - theta, SURROGATE_SIGMOID, alpha)


def conv_net(rounds: int, calls: int) -> None:
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import common
    from chipsim import threads
    threads.configure(1)
    ds, inp = common.nmnist(10, "float32")
    B, T = 32, 10
    tr = common.reference_trainer(common.CONV, "bptt", T, "float32", B, np.random.default_rng(0))
    for i in range(3):
        tr.train_batch(inp, inp.ptr[B * i:B * (i + 1)], ds.labels[B * i:B * (i + 1)])
    print(f"the conv net's potentials after three batches of bptt; us per call (median, min of "
          f"{rounds} rounds)")
    cases = []
    for l in range(2):
        Ly = tr.net_rec.layout[l]
        o, n = int(Ly["o_uh"]), int(Ly["n_out"])
        U = tr.state.u_h[o:o + T * B * n].reshape(T, B, n)
        cases += [(f"layer {l} ({n} neurons), step {t}", U[t, 3].copy()) for t in (0, 5, 9)]
    u = cases[2][1].copy()
    u[u == 0] = -0.001
    cases.append(("layer 0, step 9, no zeros", u))
    for name, u in cases:
        theta, alpha = np.ones_like(u), np.float32(4.0)
        o1, o2 = np.empty_like(u), np.empty_like(u)
        runs = (lambda: plain(u, theta[0], alpha, o1),
                lambda: surrogates(u, theta, 1, SURROGATE_SIGMOID, alpha, o2))
        for f in runs:
            f()
        assert o1.tobytes() == o2.tobytes(), "not bit-identical"
        times = timed(runs, rounds, calls)
        nb = u.shape[0] // ZERO_BLOCK
        z = float((u[:nb * ZERO_BLOCK].reshape(nb, ZERO_BLOCK) == 0).all(axis=1).mean())
        m = [float(np.median(v)) for v in times]
        print(f"{name:30s} blocks of zeros {z:.2f}   plain {m[0]:6.1f} ({min(times[0]):5.1f})   "
              f"surrogates {m[1]:6.1f} ({min(times[1]):5.1f})   {m[0] / m[1]:.2f}x")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=18_496)
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--calls", type=int, default=100, help="calls per round")
    ap.add_argument("--conv-net", action="store_true",
                    help="the conv net's own potentials, from three batches of training")
    a = ap.parse_args()
    if a.conv_net:
        conv_net(a.rounds, a.calls)
        return
    rng = np.random.default_rng(0)
    print(f"sigmoid surrogates of {a.n} neurons, us per call (median, min of {a.rounds} rounds)")
    for zeros in ("positions", "scattered", "none"):
        for dtype in (np.float32, np.float64):
            u = rng.normal(0.0, 1.0, a.n).astype(dtype)
            if zeros == "positions":
                u[np.repeat(rng.random(a.n // 16 + 1) < 0.4, 16)[:a.n]] = 0.0
            elif zeros == "scattered":
                u[rng.random(a.n) < 0.4] = 0.0
            theta, alpha = dtype(1.0), dtype(4.0)
            outs = {f: np.empty_like(u) for f in (former, current)}
            runs = [lambda f=f, o=o: f(u, theta, alpha, o) for f, o in outs.items()]
            for f in runs:
                f()
            assert outs[former].tobytes() == outs[current].tobytes(), "not bit-identical"
            times = dict(zip(outs, timed(runs, a.rounds, a.calls)))
            med = {f: float(np.median(v)) for f, v in times.items()}
            print(f"zeros {zeros:9s} {np.dtype(dtype).name:8s} "
                  f"former {med[former]:7.1f} ({min(times[former]):6.1f})   "
                  f"libm {med[current]:7.1f} ({min(times[current]):6.1f})   "
                  f"{med[former] / med[current]:.1f}x")


if __name__ == "__main__":
    main()
