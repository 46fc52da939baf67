"""chipsim's vectorisable exp (chipsim/kernels/libm.py) returns the bits of the C library's
(``np.exp`` in Numba, the sigmoid surrogate's path before it), here on a few million inputs
each for ``expf`` and ``expd``: random bit patterns, every region with its own rule
(subnormals, +-0, the overflow and underflow thresholds, +-inf, NaNs), and the range the
surrogate meets. ``benchmarks/check_expf.py`` checks all 2^32 float32 inputs, and 4 * 10^8
float64 ones with ``--double`` (0 mismatches on the development machine, glibc 2.36).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from chipsim.kernels import libm


@njit
def _reference(x, out):
    for i in range(x.shape[0]):
        out[i] = np.exp(x[i])


@njit
def _ours(x, out):
    for i in range(x.shape[0]):
        out[i] = libm.exp(x[i])


def _around(x, n, ftype, itype):
    """The 2n bit patterns nearest x (n below, n from x up; wrapping at 0 and -0)."""
    b = np.array([x], ftype).view(itype)[0]
    return b + np.arange(-n, n, dtype=np.int64).astype(itype)


def _assert_same(bits, ftype, itype):
    x = bits.view(ftype)
    ref = np.empty_like(x)
    got = np.empty_like(x)
    _reference(x, ref)
    _ours(x, got)
    bad = np.flatnonzero(ref.view(itype) != got.view(itype))
    shown = [(float(x[i]).hex(), float(ref[i]).hex(), float(got[i]).hex()) for i in bad[:5]]
    assert bad.size == 0, f"{bad.size} of {x.size} differ, e.g. (x, C library, ours) {shown}"


def _common(rng, ftype, itype, width):
    """Random bit patterns, the range the surrogate meets, and the special values."""
    parts = [rng.integers(0, 1 << width, 2_000_000, dtype=np.uint64).astype(itype),
             rng.uniform(-40, 40, 500_000).astype(ftype).view(itype),      # -alpha (u - theta)
             rng.normal(0, 2, 500_000).astype(ftype).view(itype)]
    tiny = np.finfo(ftype).tiny
    for t in (0.0, -0.0, tiny, -tiny, np.finfo(ftype).max, -np.finfo(ftype).max):
        parts.append(_around(t, 50_000, ftype, itype))          # subnormals, the largest
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1.0, -1.0], ftype)
    parts.append(specials.view(itype))
    sign = itype(1) << itype(width - 1)
    exp_all = (itype(1) << itype(width - 1)) - (itype(1) << itype(width - (9 if width == 32 else 12)))
    for payload in (1, 2, 12345, (1 << 20) - 1):          # signalling and quiet NaNs, both signs
        for q in (0, itype(1) << itype(width - (10 if width == 32 else 13))):
            nan = exp_all | itype(payload) | itype(q)
            parts.append(np.array([nan, nan | sign], itype))
    return parts


def test_expf_bit_identical_to_the_c_library():
    rng = np.random.default_rng(12)
    parts = _common(rng, np.float32, np.uint32, 32)
    for t in (libm.F_OFLOW, libm.F_UFLOW, libm.F_MAY_UFLOW, 88.0, -88.0, -87.33654, -103.0,
              2.0 ** -24, -(2.0 ** -25), 2.0 ** -12):
        parts.append(_around(t, 100_000, np.float32, np.uint32))
    bits = np.concatenate(parts)
    assert bits.size > 3_000_000
    _assert_same(bits, np.float32, np.uint32)


def test_expd_bit_identical_to_the_c_library():
    rng = np.random.default_rng(13)
    parts = _common(rng, np.float64, np.uint64, 64)
    parts.append(rng.uniform(-746.0, 710.0, 1_000_000).view(np.uint64))
    ln2 = math.log(2)
    for t in (512.0, 1024.0, 2.0 ** -54, 709.782712893384, 1023 * ln2, -708.3964185322641,
              -745.1332191019411, -744.4400719213812, -1022 * ln2, -1074 * ln2):
        for v in (t, -t):
            parts.append(_around(v, 50_000, np.float64, np.uint64))
    bits = np.concatenate(parts)
    assert bits.size > 3_000_000
    _assert_same(bits, np.float64, np.uint64)


def test_special_values():
    for ftype in (np.float32, np.float64):
        x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e4, -1e4, 1.0], ftype)
        y = np.empty_like(x)
        _ours(x, y)
        assert list(y[[0, 1, 2, 3, 5, 6]]) == [1.0, 1.0, np.inf, 0.0, np.inf, 0.0]
        assert np.isnan(y[4]) and y[7] == ftype(np.e)
    y = np.empty(1, np.float32)
    _ours(np.array([-103.5], np.float32), y)
    assert y[0] == np.float32(2.0 ** -149)       # glibc's value between 2^-150 and 2^-149


def test_tables_are_two_to_the_i_over_n():
    s = (libm.F_TAB + (np.arange(32, dtype=np.uint64) << np.uint64(47))).view(np.float64)
    np.testing.assert_allclose(s, 2.0 ** (np.arange(32) / 32), rtol=2 ** -52, atol=0)
    hi = (libm.D_HI + (np.arange(128, dtype=np.uint64) << np.uint64(45))).view(np.float64)
    np.testing.assert_allclose(hi, 2.0 ** (np.arange(128) / 128), rtol=2 ** -52, atol=0)
    assert np.all(np.abs(libm.D_TAIL.view(np.float64)) <= 2.0 ** -53)   # half an ulp of 1
    assert np.array_equal(libm.F_TAB.view(np.int64) & 0x3FF, libm.D_HI[::4].view(np.int64) & 0x3FF)

