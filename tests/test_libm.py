"""chipsim's vectorisable exp (chipsim/kernels/libm.py) returns the bits of the C library's
(``np.exp`` in Numba, the sigmoid surrogate's path before it), here on a few million inputs
each for ``expf`` and ``expd``: random bit patterns, every region with its own rule
(subnormals, +-0, the overflow and underflow thresholds, +-inf, NaNs), and the range the
surrogate meets. ``benchmarks/check_expf.py`` checks all 2^32 float32 inputs, and 4 * 10^8
float64 ones with ``--double`` (0 mismatches on the development machine, glibc 2.36).

The sigmoid surrogates built on it are bit-identical to the former formula, in float32 and
float64, and their loop compiles without a call to exp (so that LLVM can vectorise it).
"""

from __future__ import annotations

import math

import llvmlite.binding as llvm
import numpy as np
import pytest
from numba import njit

from chipsim.kernels import libm
from chipsim.kernels.neuron import ZERO_BLOCK, surrogates
from chipsim.kernels.records import SURROGATE_SIGMOID, SURROGATE_TRIANGLE


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
    inf, quiet, sign = ((0x7F800000, 0x400000, 1 << 31) if width == 32 else
                        (0x7FF0000000000000, 1 << 51, 1 << 63))
    for payload in (1, 2, 12345, (1 << 20) - 1):          # signalling and quiet NaNs, both signs
        for q in (0, quiet):
            nan = inf | payload | q
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


@njit
def _old_surrogates(u, theta, alpha, out):
    """The sigmoid surrogate as it was: np.exp (the C library) and Python's division."""
    one = np.float32(1.0)
    for j in range(out.shape[0]):
        x = u[j] - theta
        s = one / (one + np.exp(-alpha * x))
        out[j] = alpha * s * (one - s)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_surrogates_bit_identical_to_the_former_formula(dtype):
    rng = np.random.default_rng(4)
    u = np.concatenate([rng.normal(0, 1, 200_000), rng.uniform(-60, 60, 200_000), np.zeros(1000),
                        np.ones(1000), [np.inf, -np.inf, np.nan, 1e30, -1e30]]).astype(dtype)
    for theta, alpha in ((1.0, 4.0), (0.5, 2.0), (0.3, 25.0)):
        old = np.empty_like(u)
        new = np.empty_like(u)
        _old_surrogates(u, dtype(theta), dtype(alpha), old)
        for uni in (0, 1):     # theta read per neuron, or once
            new[:] = 0
            surrogates(u, np.full_like(u, theta), uni, SURROGATE_SIGMOID, dtype(alpha), new)
            assert old.tobytes() == new.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_surrogates_fill_blocks_of_zero_potentials_with_the_same_bits(dtype):
    """surrogates() fills blocks of ZERO_BLOCK neurons whose u is exactly 0 with sigma'(0 -
    theta) computed once: the same bits as the neuron-by-neuron formula, for blocks of +0.0
    and -0.0, a block with one non-zero (or NaN) among zeros, stretches of zero blocks at the
    start and end, and a tail shorter than a block; thresholds 1, 0.5, 0 and inf."""
    rng = np.random.default_rng(11)
    zb = ZERO_BLOCK
    for trial in range(60):
        n = int(rng.integers(1, 40)) * zb + int(rng.integers(0, zb))
        u = rng.normal(0, 1, n).astype(dtype)
        blocks = rng.random(n // zb + 1) < 0.6
        u[np.repeat(blocks, zb)[:n]] = 0.0
        u[(rng.random(n) < 0.1) & (u == 0)] = -0.0
        if trial % 3 == 0 and n > 2 * zb:            # a lone non-zero in a block of zeros
            u[zb:2 * zb] = 0.0
            u[zb + int(rng.integers(0, zb))] = rng.choice([1e-30, np.nan, -2.0])
        theta = dtype([1.0, 0.5, 0.0, np.inf][trial % 4])
        alpha = dtype(4.0)
        got = np.empty_like(u)
        surrogates(u, np.full_like(u, theta), 1, SURROGATE_SIGMOID, alpha, got)
        want = np.empty_like(u)
        _old_surrogates(u, theta, alpha, want)
        assert got.tobytes() == want.tobytes()
        surrogates(u, np.full_like(u, theta), 1, SURROGATE_TRIANGLE, alpha, got)
        y = alpha - alpha * alpha * np.abs(u - theta)
        assert got.tobytes() == np.where(y > 0, y, dtype(0.0)).astype(dtype).tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_surrogates_compile_without_a_call_to_exp(dtype):
    f = njit(surrogates.py_func)          # a fresh compile: the cached one cannot be inspected
    u = np.zeros(4, dtype)
    f(u, np.ones(4, dtype), 0, SURROGATE_SIGMOID, dtype(4.0), u.copy())
    ir = f.inspect_llvm(f.signatures[0])
    assert "@llvm.exp.f" not in ir and "@exp" not in ir and "@numba_exp" not in ir
    features = llvm.get_host_cpu_features()
    if features.get("avx2") and features.get("fma"):   # the machines the loop is made for
        assert "fdiv <" in ir, "the sigmoid loop of surrogates() no longer vectorises"
