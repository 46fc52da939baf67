"""One vector kernel that Numba will not write by itself: eight rows of a product advanced
together, one vector of lanes each, by fused multiply-adds (``fma_rows``), for a convolution's
error pass where its input channels are few (error.conv_error_direct).

Numba vectorises a loop whose iterations are independent, but not this one: each output is a
chain of multiply-adds over the inner dimension, and written as a loop over the lanes inside
the loop over that dimension, its accumulators live in memory (Numba cannot tell LLVM that
the output does not overlap the operands), one load and store per step; written as scalars,
Numba's pipeline leaves them scalar (it runs LLVM without its SLP vectorizer). So this is
an LLVM intrinsic: the eight accumulators are vectors in registers for the whole chain, each
step one broadcast and one ``llvm.fma`` per row, which rounds each lane's a * b + c once, as
the scalar chain does. A lane's value is therefore exactly that of

    acc = out[row, lane]
    for e in range(n):
        acc = fma(src[off + e], W[k0 + e, lane], acc)
    out[row, lane] = acc

in order (``fma_rows_reference``), whatever the vector width the machine has (LLVM splits a
vector wider than its registers, and calls the C library's correctly rounded fma where there
is no FMA instruction).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic

#: bytes of one vector of lanes (AVX-512's width; two AVX2 registers elsewhere)
VEC_BYTES = 64
#: rows advanced together: eight independent chains keep two FMA units busy through their
#: four-cycle latency (four rows took 31 us for the conv net's error product, eight 22 us)
FMA_ROWS = 8


@intrinsic
def fma_rows(typingctx, out, rows, src, offs, W, k0, c0, n):
    """For each i < FMA_ROWS and each lane c of c0..c0+L-1 (L = VEC_BYTES of floats):
    out[rows[i], c] = the chain of fused multiply-adds of src[offs[i] + e] * W[k0 + e, c] over
    e = 0..n-1, in order, onto out[rows[i], c]. out, W: 2-d, C-contiguous; src: 1-d, contiguous;
    rows, offs: tuples of FMA_ROWS int64 (rows may repeat: a repeated row gets the same value
    each time). No bounds are checked: the caller keeps c0 + L within the rows."""
    fl = out.dtype if isinstance(out, types.Array) else None
    if not (fl in (types.float32, types.float64) and out.ndim == 2 and out.layout == "C"
            and isinstance(W, types.Array) and W.ndim == 2 and W.dtype == fl
            and W.layout == "C" and isinstance(src, types.Array) and src.ndim == 1
            and src.dtype == fl and src.layout == "C"
            and isinstance(rows, types.UniTuple) and rows.count == FMA_ROWS
            and isinstance(offs, types.UniTuple) and offs.count == FMA_ROWS
            and all(isinstance(t, types.Integer) for t in (rows.dtype, offs.dtype, k0, c0, n))):
        return None

    def codegen(context, builder, sig, args):
        out_v, rows_v, src_v, offs_v, W_v, k0_v, c0_v, n_v = args
        size = 4 if fl == types.float32 else 8
        L = VEC_BYTES // size
        fty = context.get_value_type(fl)
        vty = ir.VectorType(fty, L)
        i64 = ir.IntType(64)
        vfma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3),
                                              f"llvm.fma.v{L}f{8 * size}")
        oa = context.make_array(sig.args[0])(context, builder, out_v)
        sa = context.make_array(sig.args[2])(context, builder, src_v)
        wa = context.make_array(sig.args[4])(context, builder, W_v)

        def as_i64(v, ty):
            return context.cast(builder, v, ty, types.int64)

        def vec_at(base, byte_off):
            p = builder.gep(builder.bitcast(base, ir.IntType(8).as_pointer()), [byte_off])
            return builder.bitcast(p, vty.as_pointer())

        item = ir.Constant(i64, size)
        col = builder.mul(as_i64(c0_v, sig.args[6]), item)
        ld_o = builder.extract_value(oa.strides, 0)
        ld_w = builder.extract_value(wa.strides, 0)
        dst = []            # each row's vector in out
        accs = []           # its accumulator (an alloca: in registers after mem2reg)
        at = []             # its first element in src
        for i in range(FMA_ROWS):
            r = as_i64(builder.extract_value(rows_v, i), rows.dtype)
            p = vec_at(oa.data, builder.add(builder.mul(r, ld_o), col))
            a = cgutils.alloca_once(builder, vty)
            builder.store(builder.load(p, align=size), a)
            dst.append(p)
            accs.append(a)
            at.append(as_i64(builder.extract_value(offs_v, i), offs.dtype))
        w0 = builder.add(builder.mul(as_i64(k0_v, sig.args[5]), ld_w), col)
        zeros = ir.Constant(ir.VectorType(ir.IntType(32), L), [0] * L)
        undef = ir.Constant(vty, ir.Undefined)
        with cgutils.for_range(builder, as_i64(n_v, sig.args[7])) as loop:
            e = loop.index
            w = builder.load(vec_at(wa.data, builder.add(w0, builder.mul(e, ld_w))), align=size)
            for i in range(FMA_ROWS):
                a = builder.load(builder.gep(sa.data, [builder.add(at[i], e)]))
                b = builder.shuffle_vector(
                    builder.insert_element(undef, a, ir.Constant(ir.IntType(32), 0)), undef, zeros)
                builder.store(builder.call(vfma, [b, w, builder.load(accs[i])]), accs[i])
        for i in range(FMA_ROWS):
            builder.store(builder.load(accs[i]), dst[i], align=size)
        return context.get_dummy_value()

    return types.none(out, rows, src, offs, W, k0, c0, n), codegen


def fma_exact(a, b, c, dtype):
    """a * b + c rounded once to ``dtype`` (float32 or float64), to nearest, ties to even, from
    the exact rational value of finite operands: the plain reference of one lane's step (no
    LLVM, no libm)."""
    f = np.dtype(dtype).type
    bits = np.uint32 if np.dtype(dtype).itemsize == 4 else np.uint64
    a, b, c = f(a), f(b), f(c)
    x = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    if x == 0:      # an exact zero: -0 only as the sum of two negative zeros (IEEE 754, 6.3)
        neg = (a == 0 or b == 0) and c == 0 and np.signbit(f(a * b)) and np.signbit(c)
        return f(-0.0) if neg else f(0.0)
    y = f(float(x))                     # within an ulp of the nearest: compare its neighbours
    best = y
    for z in (np.nextafter(y, f(-np.inf)), np.nextafter(y, f(np.inf))):
        dz, db = abs(Fraction(float(z)) - x), abs(Fraction(float(best)) - x)
        if dz < db or (dz == db and int(np.array(z).view(bits)) % 2 == 0):
            best = z
    return best


def fma_rows_reference(out, rows, src, offs, W, k0, c0, n):
    """``fma_rows`` in plain Python, lane by lane and step by step, with each step rounded
    once from its exact value (fma_exact); every row starts from out as it was (so a repeated
    row gets the same value each time). Slow: for tests."""
    L = VEC_BYTES // out.itemsize
    start = [out[r, c0:c0 + L].copy() for r in rows]
    for r, o, s in zip(rows, offs, start):
        for c in range(c0, c0 + L):
            acc = s[c - c0]
            for e in range(n):
                acc = fma_exact(src[o + e], W[k0 + e, c], acc, out.dtype)
            out[r, c] = acc
