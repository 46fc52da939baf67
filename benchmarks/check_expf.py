"""Exhaustive check of chipsim's vectorisable ``expf`` (chipsim/kernels/expf.py): all 2^32
float32 inputs, each compared bit for bit with ``np.exp`` on a float32 in Numba (the C
library's ``expf``, the path the sigmoid surrogate took before). NaN inputs are compared by
their bits too. Prints the mismatches (count, and the first few) and exits 1 if there are any.

    taskset -c 1 python benchmarks/check_expf.py [--chunk-bits 24] [--start 0] [--stop 4294967296]

About a minute on one core of the development machine.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from numba import njit

from chipsim.kernels.expf import expf


# not cached: Numba's cache of this file would not see a change to chipsim/kernels/expf.py
@njit
def reference(x, out):
    for i in range(x.shape[0]):
        out[i] = np.exp(x[i])


@njit
def ours(x, out):
    for i in range(x.shape[0]):
        out[i] = expf(x[i])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunk-bits", type=int, default=24)
    ap.add_argument("--start", type=lambda s: int(s, 0), default=0)
    ap.add_argument("--stop", type=lambda s: int(s, 0), default=1 << 32)
    a = ap.parse_args()
    n = 1 << a.chunk_bits
    bits = np.empty(n, np.uint32)
    ref = np.empty(n, np.float32)
    got = np.empty(n, np.float32)
    reference(bits[:1].view(np.float32), ref[:1])      # compile or load before timing
    ours(bits[:1].view(np.float32), got[:1])
    bad = 0
    shown = []
    t0 = time.perf_counter()
    t_ref = t_ours = 0.0
    for lo in range(a.start, a.stop, n):
        m = min(n, a.stop - lo)
        b = bits[:m]
        b[:] = np.arange(lo, lo + m, dtype=np.uint64).astype(np.uint32)
        x = b.view(np.float32)
        t = time.perf_counter()
        reference(x, ref[:m])
        t_ref += time.perf_counter() - t
        t = time.perf_counter()
        ours(x, got[:m])
        t_ours += time.perf_counter() - t
        diff = np.flatnonzero(ref[:m].view(np.uint32) != got[:m].view(np.uint32))
        bad += diff.size
        for i in diff[:max(0, 10 - len(shown))]:
            shown.append((x[i], ref[i], got[i]))
    total = a.stop - a.start
    print(f"inputs checked: {total} ({a.start:#x} .. {a.stop - 1:#x}), mismatches: {bad}")
    for x, r, g in shown:
        print(f"  x = {float(x).hex()} ({x.view(np.uint32):#010x}): expf {float(r).hex()} "
              f"({r.view(np.uint32):#010x}), ours {float(g).hex()} ({g.view(np.uint32):#010x})")
    print(f"{time.perf_counter() - t0:.1f} s; expf {t_ref / total * 1e9:.2f} ns/input, "
          f"ours {t_ours / total * 1e9:.2f} ns/input")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
