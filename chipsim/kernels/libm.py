"""``expf`` and ``expd``: the C library's exp of a float32 and of a float64, bit for bit, in a
form LLVM can vectorise; ``exp(x)`` picks one by x's type.

Why: the sigmoid surrogate takes one exp per neuron per step. ``np.exp`` in Numba is a call to
the C library's ``expf`` or ``exp``, which no loop around it can vectorise (this LLVM has no
vector exp library), and on the reference conv net those calls took 0.8 of about 4 ms per
training sample. The same functions written out here have no call and no branch, so a loop of
them compiles to packed instructions, and they return the bits the C library returns:
``expf`` for every one of the 2^32 float32 inputs (``benchmarks/check_expf.py`` checks them
all), ``expd`` for every float64 checked (the same script with ``--double``: 4.1 x 10^8
inputs, random bit patterns, uniform draws, every binade and the 10^6 bit patterns around
each threshold; 2^64 inputs cannot all be checked). ``tests/test_libm.py`` checks a few
million of each. The surrogates' results do not change, and ``surrogates()`` runs 3.3x
(float32) and 2.3x (float64) faster for it.

Both are the algorithms of glibc (since 2.27 and 2.28; ``sysdeps/ieee754/flt-32/e_expf.c``
with ``e_exp2f_data.c``, ``sysdeps/ieee754/dbl-64/e_exp.c`` with ``e_exp_data.c``; by Szabolcs
Nagy, from Arm's optimized-routines), written anew from their description:

    x = k ln2 / N + r,  k an integer (x N / ln 2 rounded, ties to even),  |r| <= ln2 / 2N
    exp(x) = 2^(k/N) exp(r),  2^(k/N) = 2^(k div N) 2^((k mod N)/N) from a table of N entries

- k is rounded by the shift trick: adding 1.5 * 2^52 to x N / ln 2 leaves k in the low bits of
  the double, so its bits give both k mod N (the table index) and k div N (added to the table
  entry's exponent field: the table holds the bits of 2^(i/N) minus i << (52 - log2 N)).
- ``expf`` (N = 32) works in double: r is taken in units of ln2 / N, 2^(r/N) is a cubic, the
  product s * p is rounded once to float32 at the end.
- ``expd`` (N = 128) needs more: r = x - k ln2/N with ln2/N split in two parts, a degree-5
  polynomial for exp(r) - 1, and the table holds 2^(i/N) as a double plus its rounding error
  (``tail``); the result is scale + scale * (tail + r + ...). For 512 <= |x| < 1024 the scale's
  exponent field may overflow, so glibc rescales it (by 2^-1009 and 2^1009 towards overflow;
  towards underflow by 2^1022, rounds once in a way that avoids double rounding, then 2^-1022).
- The polynomial coefficients are glibc's minimax fits; the tables are computed here from
  their definition (2^(i/N) correctly rounded, and its error rounded), and equal glibc's.
- Outside the ranges: expf is +inf above log(2^128), +0 below log(2^-150), the smallest
  subnormal (glibc's ``__math_may_uflowf``) between log(2^-150) and log(2^-149); expd is +inf
  above 1024, +0 below -1024, 1 + x for |x| < 2^-54; NaN gives x + x (expf) or 1 + x (expd),
  the input NaN quietened. Each special case is a select on every lane, not a branch.

**Which glibc.** On x86-64, glibc compiles both functions more than once and picks one when it
loads (``sysdeps/x86_64/fpu/multiarch/e_expf.c``, ``e_exp.c``): ``__expf_fma``/``__exp_fma``
on CPUs with FMA and AVX2, where the compiler fused the multiply-adds it could (``objdump -d``
of glibc 2.36's libm: z + shift, z - k and the two polynomial steps of expf; x N/ln2 + shift,
both steps of r, the four polynomial steps and scale + scale * tmp of exp, but not the
scale * tmp that glibc's underflow branch uses twice). Otherwise it runs variants that round
every product. This module computes the FMA variants, which x86-64 CPUs with AVX2 and FMA run
(Intel since 2013, AMD since 2015): on this machine (glibc 2.36) it matches ``expf`` on all
2^32 inputs and ``exp`` on all inputs checked. Under another C library, or on a CPU without
FMA (where ``llvm.fma`` becomes a call to the C library's correctly rounded ``fma``), the C
library's exp may differ from these in the last bit of rare inputs; these do not change with
the machine.

Two tools that Numba's nopython mode lacks are LLVM intrinsics here: ``fma`` (a * b + c with
one rounding, ``llvm.fma.f64``) and the bit casts between floats and integers of one width.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

from chipsim.kernels.jit import kernel


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


def _bits(v: float) -> int:
    return int(np.float64(v).view(np.uint64))


def _tables(n: int, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """For i < n: the bits of 2^(i/n) rounded to double, minus i << shift, and the bits of
    that rounding's relative error (2^(i/n) - s) / s rounded to double."""
    hi, tail = [], []
    with localcontext() as ctx:
        ctx.prec = 50                       # 2^(i/n) to ~1e-47: no rounding is that close
        step = Decimal(2) ** (Decimal(1) / n)
        v = Decimal(1)
        for i in range(n):
            s = float(v)                    # correctly rounded
            hi.append((_bits(s) - (i << shift)) % (1 << 64))
            tail.append(_bits(float((v - Decimal(s)) / Decimal(s))))
            v *= step
    return np.array(hi, np.uint64), np.array(tail, np.uint64)


def _hex(s: str) -> float:
    return float.fromhex(s)


# --- expf: N = 32 -------------------------------------------------------------------------
F_N = 32
F_TAB = _tables(F_N, 47)[0]
F_INVLN2N = _hex("0x1.71547652b82fep+0") * F_N     # N / ln 2 (1/ln 2 rounded to double)
SHIFT = _hex("0x1.8p+52")                           # 1.5 * 2^52: rounds to an integer
F_C0 = _hex("0x1.c6af84b912394p-5") / F_N ** 3     # 2^(r/N) ~ 1 + C2 r + C1 r^2 + C0 r^3
F_C1 = _hex("0x1.ebfce50fac4f3p-3") / F_N ** 2
F_C2 = _hex("0x1.62e42ff0c52d6p-1") / F_N
F_OFLOW = np.float32(_hex("0x1.62e42ep+6"))         # above: exp(x) > FLT_MAX: +inf
F_UFLOW = np.float32(_hex("-0x1.9fe368p+6"))        # below: exp(x) < 2^-150: +0
F_MAY_UFLOW = np.float32(_hex("-0x1.9d1d9ep+6"))    # below: exp(x) < 2^-149
F_TINY = np.float32(_hex("0x1p-149"))               # what glibc returns between the two
F_MASK = np.uint64(F_N - 1)
F_SHIFT = np.uint64(47)                             # 52 - log2 N


@kernel(inline=True)
def expf(x):
    """exp of a float32, equal bit for bit to glibc's (FMA variant) ``expf``; no call, no branch."""
    xd = np.float64(x)
    kd = fma(F_INVLN2N, xd, SHIFT)               # k + 1.5 * 2^52: k in the low bits
    ki = f64_bits(kd)
    kd = kd - SHIFT
    r = fma(F_INVLN2N, xd, -kd)                  # z - k, z = x N / ln 2 unrounded
    s = bits_f64(F_TAB[ki & F_MASK] + (ki << F_SHIFT))     # 2^(k/N)
    p = fma(F_C0, r, F_C1)
    q = fma(F_C2, r, 1.0)
    y = np.float32(fma(p, r * r, q) * s)
    # the few inputs outside the polynomial's range, as selects (all have |x| >= 88)
    y = F_TINY if x < F_MAY_UFLOW else y
    y = np.float32(0.0) if x < F_UFLOW else y
    y = np.float32(np.inf) if x > F_OFLOW else y
    return x + x if x != x else y                # NaN: quietened, as glibc's x + x


# --- expd: N = 128 ------------------------------------------------------------------------
D_N = 128
D_HI, D_TAIL = _tables(D_N, 45)
D_INVLN2N = _hex("0x1.71547652b82fep+0") * D_N
D_NEGLN2HI = _hex("-0x1.62e42fefa0000p-8")          # -ln2 / N in two parts: kd * hi is exact
D_NEGLN2LO = _hex("-0x1.cf79abc9e3b3ap-47")
D_C2 = _hex("0x1.ffffffffffdbdp-2")                 # exp(r) - 1 ~ r + C2 r^2 + ... + C5 r^5
D_C3 = _hex("0x1.555555555543cp-3")
D_C4 = _hex("0x1.55555cf172b91p-5")
D_C5 = _hex("0x1.1111167a4d017p-7")
D_MASK = np.uint64(D_N - 1)
D_SHIFT = np.uint64(45)                             # 52 - log2 N
D_KNEG = np.uint64(0x80000000)                      # k < 0 (k's sign in ki's low 32 bits)
D_DOWN = np.uint64(1009 << 52)                      # towards overflow: scale / 2^1009
D_UP = np.uint64(1022 << 52)                        # towards underflow: scale * 2^1022
D_ABS = np.uint64(0x7FFFFFFFFFFFFFFF)
D_512 = np.uint64(0x4080000000000000)               # |x| >= 512: scale may leave the range
D_1024 = np.uint64(0x4090000000000000)              # |x| >= 1024: inf or 0
D_TINY = np.uint64(0x3C90000000000000)              # |x| < 2^-54: 1 + x
D_ONE = np.uint64(0x3FF0000000000000)
D_2P1009 = 2.0 ** 1009
D_2M1022 = 2.0 ** -1022


@kernel(inline=True)
def expd(x):
    """exp of a float64, equal bit for bit to glibc's (FMA variant) ``exp``; no call, no branch."""
    kd = fma(x, D_INVLN2N, SHIFT)
    ki = f64_bits(kd)
    kd = kd - SHIFT
    r = fma(kd, D_NEGLN2LO, fma(kd, D_NEGLN2HI, x))
    i = ki & D_MASK
    tail = bits_f64(D_TAIL[i])
    sbits = D_HI[i] + (ki << D_SHIFT)
    r2 = r * r
    tmp = fma(r2 * r2, fma(r, D_C5, D_C4), fma(fma(r, D_C3, D_C2), r2, tail + r))
    scale = bits_f64(sbits)
    y = fma(scale, tmp, scale)
    # 512 <= |x| < 1024 (glibc's specialcase), computed on every lane. The other lanes take
    # the scale 1, else their rescaled scales would be subnormal (FPU assists: the loop of
    # the surrogates ran 2.5x slower) for many x, as x = 4. The guard tests |x| as a float,
    # the choice below tests it as an integer: with one test for both, LLVM would drop the
    # guard inside the special branch.
    sbits = sbits if abs(x) >= 512.0 else D_ONE
    ax = f64_bits(x) & D_ABS
    big = ax >= D_512
    # towards overflow
    s = bits_f64(sbits - D_DOWN)
    y_over = fma(s, tmp, s) * D_2P1009
    # towards underflow, rounding once when the result is subnormal
    s = bits_f64(sbits + D_UP)
    st = s * tmp
    yu = s + st
    hi = 1.0 + yu
    lo = ((1.0 - hi) + yu) + ((s - yu) + st)
    yu = (lo + hi) - 1.0 if yu < 1.0 else yu
    y_under = yu * D_2M1022
    y = (y_under if ki & D_KNEG else y_over) if big else y
    y = (0.0 if x < 0.0 else np.inf) if ax >= D_1024 else y
    return 1.0 + x if (ax < D_TINY) | (x != x) | (x == np.inf) else y   # tiny, NaN, +inf


def exp(x):
    """``np.exp(x)`` through ``expf`` for a float32 and ``expd`` for a float64."""
    return np.exp(x)


@overload(exp, jit_options=dict(cache=True))
def _exp(x):
    if x == types.float32:
        return lambda x: expf(x)
    if x == types.float64:
        return lambda x: expd(x)
    return lambda x: np.exp(x)
