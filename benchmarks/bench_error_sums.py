"""The error of a dense layer's pooled input, ep[j] = W[j] . g for every input j: row by row
(``arrays.dot``, as chipsim made it until 2026-12-07) against ``error.pooled_dense_error``
(the same sums from W^T, vectorised over j), on the conv net's readout (2,048 pooled inputs,
10 outputs) and VGG-11's. Both give the same bits (checked here). Figures, not assertions:
the median and minimum of --rounds rounds of --calls calls, the two interleaved.

    python benchmarks/bench_error_sums.py [--rounds 21] [--calls 2000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from numba import njit

from chipsim.kernels.arrays import dot
from chipsim.kernels.error import pooled_dense_error, transpose_dense


@njit
def rows(W, g, ep, calls):
    for _ in range(calls):
        for j in range(W.shape[0]):
            ep[j] = dot(W[j], g)


@njit
def transposed(WT, g, ep, acc, calls):
    for _ in range(calls):
        pooled_dense_error(WT, g, ep, acc)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--calls", type=int, default=2000)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"us per call (median, min of {a.rounds} rounds)")
    for name, n, C in (("conv net readout", 2048, 10), ("VGG-11 classifier", 512, 10)):
        for dtype in (np.float32, np.float64):
            W = rng.standard_normal((n, C)).astype(dtype)
            g = rng.standard_normal(C).astype(dtype)
            WT = np.empty((C, n), dtype)
            transpose_dense(W, WT)
            acc = np.empty(n, np.float64)
            e1, e2 = np.empty(n, dtype), np.empty(n, dtype)
            rows(W, g, e1, 1)
            transposed(WT, g, e2, acc, 1)
            assert e1.tobytes() == e2.tobytes(), "not bit-identical"
            t1, t2 = [], []
            for _ in range(a.rounds):
                t = time.perf_counter()
                rows(W, g, e1, a.calls)
                t1.append((time.perf_counter() - t) / a.calls * 1e6)
                t = time.perf_counter()
                transposed(WT, g, e2, acc, a.calls)
                t2.append((time.perf_counter() - t) / a.calls * 1e6)
            m1, m2 = float(np.median(t1)), float(np.median(t2))
            print(f"{name:18s} ({n} x {C}) {np.dtype(dtype).name:8s} rows {m1:6.2f} ({min(t1):5.2f})"
                  f"   W^T {m2:6.2f} ({min(t2):5.2f})   {m1 / m2:.1f}x")


if __name__ == "__main__":
    main()
