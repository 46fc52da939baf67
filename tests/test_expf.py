"""chipsim's vectorisable ``expf`` (chipsim/kernels/expf.py) returns the bits of the C library's
``expf`` (``np.exp`` on a float32 in Numba, the sigmoid surrogate's path before it), here on a
few million inputs: random bit patterns, every region with its own rule (subnormals, +-0, the
overflow and underflow thresholds, +-inf, NaNs), and the range the surrogate meets.
``benchmarks/check_expf.py`` checks all 2^32 (0 mismatches on the development machine).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from chipsim.kernels import expf as E


@njit
def _reference(x, out):
    for i in range(x.shape[0]):
        out[i] = np.exp(x[i])


@njit
def _ours(x, out):
    for i in range(x.shape[0]):
        out[i] = E.expf(x[i])


def _bits_around(x, n):
    """The 2n float32 bit patterns nearest x (n below, n from x up)."""
    b = int(np.float32(x).view(np.uint32))
    return np.arange(b - n, b + n, dtype=np.int64).astype(np.uint32)


def _inputs():
    rng = np.random.default_rng(12)
    parts = [rng.integers(0, 1 << 32, 2_000_000, dtype=np.uint64).astype(np.uint32)]
    # subnormals and the smallest normals, both signs (exp is 1 or just below/above it)
    for sign in (0, 0x80000000):
        parts.append(np.arange(0, 100_000, dtype=np.uint32) | np.uint32(sign))
        parts.append(_bits_around(np.float32(2.0 ** -126), 50_000) | np.uint32(sign))
    # every threshold of the special cases and of the subnormal results, and |x| = 88
    for t in (E.X_OFLOW, E.X_UFLOW, E.X_MAY_UFLOW, 88.0, -88.0, -87.33654, -103.0):
        parts.append(_bits_around(t, 100_000))
    # where exp(x) rounds to 1: |x| < 2^-24 and around it
    for t in (2.0 ** -24, -(2.0 ** -25), 2.0 ** -12, -(2.0 ** -12)):
        parts.append(_bits_around(t, 20_000))
    # what the surrogate meets: -alpha * (u - theta) for alpha 4, u within a few thresholds
    parts.append(rng.uniform(-40, 40, 500_000).astype(np.float32).view(np.uint32))
    parts.append(rng.normal(0, 2, 500_000).astype(np.float32).view(np.uint32))
    specials = [0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000,
                0x7f800001, 0xff800001, 0x7fbfffff, 0x7fffffff, 0xffffffff, 0x7fc12345,
                0x7f7fffff, 0xff7fffff, 0x00000001, 0x80000001]
    parts.append(np.array(specials, dtype=np.uint32))
    return np.concatenate(parts)


def test_expf_bit_identical_to_the_c_library():
    bits = _inputs()
    assert bits.size > 3_000_000
    x = bits.view(np.float32)
    ref = np.empty_like(x)
    got = np.empty_like(x)
    _reference(x, ref)
    _ours(x, got)
    bad = np.flatnonzero(ref.view(np.uint32) != got.view(np.uint32))
    shown = [(float(x[i]).hex(), float(ref[i]).hex(), float(got[i]).hex()) for i in bad[:5]]
    assert bad.size == 0, f"{bad.size} of {x.size} differ, e.g. (x, expf, ours) {shown}"


def test_expf_special_values():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 89.0, -104.0, -103.5, 1.0], np.float32)
    y = np.empty_like(x)
    _ours(x, y)
    assert y[0] == 1.0 and y[1] == 1.0
    assert y[2] == np.inf and y[3] == 0.0 and np.isnan(y[4])
    assert y[5] == np.inf and y[6] == 0.0
    assert y[7] == np.float32(2.0 ** -149)           # glibc's value between 2^-150 and 2^-149
    assert y[8] == np.float32(np.e)


def test_table_is_two_to_the_i_over_32():
    s = (E.TAB + (np.arange(32, dtype=np.uint64) << np.uint64(47))).view(np.float64)
    np.testing.assert_allclose(s, 2.0 ** (np.arange(32) / 32), rtol=2 ** -52, atol=0)

