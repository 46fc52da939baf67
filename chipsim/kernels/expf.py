"""``expf``: the C library's float32 exp, bit for bit, in a form LLVM can vectorise.

Why: the sigmoid surrogate takes one exp per neuron per step. ``np.exp`` on a float32 in Numba
is a call to the C library's ``expf``, which no loop around it can vectorise (this LLVM has no
vector exp library), and on the reference conv net those calls took 0.8 of about 4 ms per
training sample. The same function written out here has no call and no branch, so a loop of
them compiles to packed instructions, and it returns the bits ``expf`` returns for every one
of the 2^32 float32 inputs (``benchmarks/check_expf.py`` checks them all;
``tests/test_expf.py`` a few million).

The algorithm is the one of glibc's ``expf`` (since 2.27: ``sysdeps/ieee754/flt-32/e_expf.c``
and its table ``e_exp2f_data.c``, by Szabolcs Nagy, from Arm's optimized-routines), written
anew from its description. With N = 32 and x widened to double:

    z = x * N / ln 2,  k = z rounded to an integer (ties to even),  r = z - k  (|r| <= 1/2)
    exp(x) = 2^(k/N) * 2^(r/N)
           = s * (1 + C2 r + C1 r^2 + C0 r^3),   s = 2^(k/N) from a table of 2^(i/N)

- k is rounded by the shift trick: adding 1.5 * 2^52 leaves k in the low bits of the double,
  so its bits give both k mod 32 (the table index) and k / 32 (added to s's exponent field).
- The table holds the bits of 2^(i/32), rounded to double, minus i << 47, so that adding
  k << 47 to entry k mod 32 gives the bits of 2^(k/32) for the whole range of k.
- C0..C2 are glibc's minimax coefficients for 2^(r/N) on [-1/2, 1/2].
- The product is rounded once, to float32, at the end.
- Beyond the polynomial's range: above log(2^128) +inf, below log(2^-150) +0, between
  log(2^-150) and log(2^-149) glibc's ``__math_may_uflowf`` value (the smallest subnormal),
  NaN returns x + x. Inside |x| >= 88 the general path applies, as in glibc.

**Which glibc.** On x86-64, glibc compiles ``expf`` twice and picks one when it loads
(``sysdeps/x86_64/fpu/multiarch/e_expf.c``): ``__expf_fma`` on CPUs with FMA and AVX2, where
the compiler fused four multiply-adds (z + shift, z - k, and the two polynomial steps;
``objdump -d`` of glibc 2.36's libm shows ``vfmadd``/``vfmsub`` there), and ``__expf_sse2``
otherwise, which rounds each product separately. This module computes the FMA variant, which
every CPU of the last decade runs: on this machine it matches ``expf`` on all 2^32 inputs.
On a CPU without FMA, or another C library, the C library's ``expf`` may differ from it in
the last bit of rare inputs; this one does not change with the machine.

Two tools that Numba's nopython mode lacks are LLVM intrinsics here: ``fma`` (one rounding;
``llvm.fma.f64``) and the bit casts between floats and integers of the same width.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

from chipsim.kernels.jit import kernel

N = 32                                          # table entries (2^5)


def _table() -> np.ndarray:
    """Bits of 2^(i/N) correctly rounded to double, minus i << (52 - 5), for i < N."""
    G = 16                                      # guard bits: no tie is that close

    def root(n: int, k: int) -> int:            # floor(n ** (1/k)), exactly
        lo, hi = 0, 1 << (n.bit_length() // k + 1)
        while lo < hi:
            m = (lo + hi + 1) // 2
            lo, hi = (m, hi) if m ** k <= n else (lo, m - 1)
        return lo

    tab = []
    for i in range(N):
        m = (root(1 << (N * (52 + G) + i), N) + (1 << (G - 1))) >> G   # 2^(52 + i/N), rounded
        tab.append(((1023 << 52) + m - (1 << 52) - (i << 47)) % (1 << 64))
    return np.array(tab, dtype=np.uint64)


TAB = _table()
INVLN2N = float.fromhex("0x1.71547652b82fep+0") * N     # N / ln 2 (1/ln 2 rounded to double)
SHIFT = float.fromhex("0x1.8p+52")                     # 1.5 * 2^52: rounds to an integer
C0 = float.fromhex("0x1.c6af84b912394p-5") / N ** 3    # 2^(r/N) ~ 1 + C2 r + C1 r^2 + C0 r^3
C1 = float.fromhex("0x1.ebfce50fac4f3p-3") / N ** 2
C2 = float.fromhex("0x1.62e42ff0c52d6p-1") / N
X_OFLOW = np.float32(float.fromhex("0x1.62e42ep+6"))     # above: exp(x) > FLT_MAX: +inf
X_UFLOW = np.float32(float.fromhex("-0x1.9fe368p+6"))    # below: exp(x) < 2^-150: +0
X_MAY_UFLOW = np.float32(float.fromhex("-0x1.9d1d9ep+6"))  # below: exp(x) < 2^-149
TINY = np.float32(float.fromhex("0x1p-149"))           # what glibc returns between the two
INF = np.float32(np.inf)
MASK = np.uint64(N - 1)
EXP_SHIFT = np.uint64(52 - 5)


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c for float64, rounded once (``llvm.fma.f64``: one instruction with FMA)."""
    if a == b == c == types.float64:
        def codegen(context, builder, sig, args):
            return builder.fma(*args)
        return types.float64(types.float64, types.float64, types.float64), codegen
    return None


@intrinsic
def f64_bits(typingctx, x):
    """The bits of a float64 as a uint64."""
    if x == types.float64:
        def codegen(context, builder, sig, args):
            return builder.bitcast(args[0], ir.IntType(64))
        return types.uint64(types.float64), codegen
    return None


@intrinsic
def bits_f64(typingctx, b):
    """The float64 whose bits are the uint64 ``b``."""
    if b == types.uint64:
        def codegen(context, builder, sig, args):
            return builder.bitcast(args[0], ir.DoubleType())
        return types.float64(types.uint64), codegen
    return None


@kernel(inline=True)
def expf(x):
    """exp of a float32, equal bit for bit to glibc's (FMA variant) ``expf``; no call, no branch."""
    xd = np.float64(x)
    kd = fma(INVLN2N, xd, SHIFT)                 # k + 1.5 * 2^52: k in the low bits
    ki = f64_bits(kd)
    kd = kd - SHIFT
    r = fma(INVLN2N, xd, -kd)                    # z - k, z = x N / ln 2 unrounded
    s = bits_f64(TAB[ki & MASK] + (ki << EXP_SHIFT))   # 2^(k/N)
    p = fma(C0, r, C1)
    q = fma(C2, r, 1.0)
    y = np.float32(fma(p, r * r, q) * s)
    # the few inputs outside the polynomial's range, as selects (all need |x| >= 88)
    y = TINY if x < X_MAY_UFLOW else y
    y = np.float32(0.0) if x < X_UFLOW else y
    y = INF if x > X_OFLOW else y
    return x + x if x != x else y                # NaN: quieted, as glibc's x + x


def exp(x):
    """``np.exp(x)``, with a float32 ``x`` through ``expf`` above (same bits, vectorisable)."""
    return np.exp(x)


@overload(exp, jit_options=dict(cache=True))
def _exp(x):
    if x == types.float32:
        return lambda x: expf(x)
    return lambda x: np.exp(x)
