"""Check chipsim's vectorisable exp (chipsim/kernels/libm.py) against the C library's, bit for
bit: ``np.exp`` in Numba, the path the sigmoid surrogate took before. NaN results are compared
by their bits too. Prints the mismatches (count, and the first few); exits 1 if there are any.

- float32 (``expf``, the default): every one of the 2^32 inputs. About a minute on one core.
- float64 (``expd``, ``--double``): 2^64 inputs cannot all be checked. Checks ``--samples``
  random bit patterns, as many uniform in [-746, 710] (where the result is neither 0 nor inf)
  and in [-40, 40], 20,000 random inputs in every binade of both signs, and the 10^6 bit
  patterns around each threshold of the algorithm. About a minute for 10^8 samples.

    taskset -c 1 python benchmarks/check_expf.py [--chunk-bits 24] [--start 0] [--stop 0x100000000]
    taskset -c 1 python benchmarks/check_expf.py --double [--samples 100000000]
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
from numba import njit

from chipsim.kernels.libm import expd, expf


# not cached: Numba's cache of this file would not see a change to chipsim/kernels/libm.py
@njit
def reference(x, out):
    for i in range(x.shape[0]):
        out[i] = np.exp(x[i])


@njit
def ours32(x, out):
    for i in range(x.shape[0]):
        out[i] = expf(x[i])


@njit
def ours64(x, out):
    for i in range(x.shape[0]):
        out[i] = expd(x[i])


class Tally:
    def __init__(self, ours, ftype, itype):
        self.ours, self.ftype, self.itype = ours, ftype, itype
        self.n = self.bad = 0
        self.t_ref = self.t_ours = 0.0
        self.shown = []
        x = np.zeros(1, ftype)
        reference(x, x.copy())                  # compile before timing
        ours(x, x.copy())

    def check(self, bits):
        x = bits.view(self.ftype)
        ref = np.empty_like(x)
        got = np.empty_like(x)
        t = time.perf_counter()
        reference(x, ref)
        self.t_ref += time.perf_counter() - t
        t = time.perf_counter()
        self.ours(x, got)
        self.t_ours += time.perf_counter() - t
        diff = np.flatnonzero(ref.view(self.itype) != got.view(self.itype))
        self.n += x.size
        self.bad += diff.size
        for i in diff[:max(0, 10 - len(self.shown))]:
            self.shown.append((x[i], ref[i], got[i]))

    def report(self, what):
        print(f"{what}: {self.n} inputs checked, mismatches: {self.bad}")
        for x, r, g in self.shown:
            print(f"  x = {float(x).hex()}: C library {float(r).hex()}, ours {float(g).hex()}")
        print(f"C library {self.t_ref / self.n * 1e9:.2f} ns/input, "
              f"ours {self.t_ours / self.n * 1e9:.2f} ns/input")
        return 1 if self.bad else 0


def float32(a):
    tally = Tally(ours32, np.float32, np.uint32)
    n = 1 << a.chunk_bits
    for lo in range(a.start, a.stop, n):
        tally.check(np.arange(lo, min(lo + n, a.stop), dtype=np.uint64).astype(np.uint32))
    return tally.report(f"float32 expf, {a.start:#x} .. {a.stop - 1:#x}")


def float64(a):
    tally = Tally(ours64, np.float64, np.uint64)
    rng = np.random.default_rng(a.seed)
    chunk = 1 << 22
    for lo in range(0, a.samples, chunk):
        m = min(chunk, a.samples - lo)
        tally.check(rng.integers(0, 1 << 64, m, dtype=np.uint64, endpoint=False))
        tally.check(rng.uniform(-746.0, 710.0, m).view(np.uint64))
        tally.check(rng.uniform(-40.0, 40.0, m).view(np.uint64))
    binades = np.arange(4096, dtype=np.uint64) << np.uint64(52)          # sign and exponent
    for part in np.array_split(binades, 64):
        mant = rng.integers(0, 1 << 52, (part.size, 20_000), dtype=np.uint64)
        tally.check((part[:, None] | mant).ravel())
    ln2 = math.log(2)
    thresholds = [512.0, 1024.0, 2.0 ** -54, 0.0, 709.782712893384, 1022 * ln2, 1023 * ln2,
                  -708.3964185322641, -745.1332191019411, -744.4400719213812, -1074 * ln2,
                  -1075 * ln2, -1022 * ln2, -1023 * ln2, np.finfo(np.float64).max, np.inf]
    near = np.arange(-500_000, 500_000, dtype=np.int64).astype(np.uint64)   # wraps around
    for t in thresholds:
        for v in (t, -t):
            tally.check(np.float64(v).view(np.uint64) + near)
    return tally.report(f"float64 exp, {a.samples} random bit patterns and uniform draws, seed "
                        f"{a.seed}, every binade, the thresholds")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--double", action="store_true", help="check expd (float64) instead")
    ap.add_argument("--chunk-bits", type=int, default=24)
    ap.add_argument("--start", type=lambda s: int(s, 0), default=0)
    ap.add_argument("--stop", type=lambda s: int(s, 0), default=1 << 32)
    ap.add_argument("--samples", type=int, default=100_000_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    t0 = time.perf_counter()
    rc = float64(a) if a.double else float32(a)
    print(f"{time.perf_counter() - t0:.0f} s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
