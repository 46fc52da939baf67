"""Small array helpers the other kernels inline.

Each loops over views from index 0: indices that start at 0 let LLVM drop Numba's
negative-index wraparound and vectorise, where ``a[i:j] = b[k:l]`` or ``a[d + i]`` in a loop
stay scalar and run about ten times slower.
"""

from __future__ import annotations

import numpy as np
from numba import types

from chipsim.kernels.jit import kernel

# BLAS's ?gemm as Numba's np.dot calls it (numba/np/linalg.py, call_xxgemm): Numba's helper
# library resolves it to SciPy's cython_blas at the first call. Called directly only where a
# product's operand is a block of a larger matrix (gemm_rows), which np.dot would copy.
# The pointers are passed as addresses (intp; the same register in the C calling convention),
# so that an operand can start inside an array.
_xxgemm = types.ExternalFunction("numba_xxgemm", types.intc(
    types.char, types.char, types.char, types.intp, types.intp, types.intp, types.intp,
    types.intp, types.intp, types.intp, types.intp, types.intp, types.intp, types.intp))


@kernel(inline=True)
def copy(dst, src):
    """dst[:] = src[:]."""
    for i in range(dst.shape[0]):
        dst[i] = src[i]


@kernel(inline=True)
def zero(a):
    for i in range(a.shape[0]):
        a[i] = 0.0


@kernel(inline=True)
def dot(a, b):
    e = 0.0
    for i in range(a.shape[0]):
        e += a[i] * b[i]
    return e


@kernel(inline=True)
def axpy(o, g, p):
    """o += p * g."""
    for i in range(g.shape[0]):
        o[i] += p * g[i]


@kernel(inline=True)
def add(o, g):
    """o += g."""
    for i in range(g.shape[0]):
        o[i] += g[i]


@kernel(inline=True)
def add2(o, a, b):
    """o += a, then o += b: each element's two additions in that order (the bits of two
    ``add`` calls), with one load and store of o."""
    for i in range(o.shape[0]):
        o[i] = (o[i] + a[i]) + b[i]


@kernel(inline=True)
def add4(o, a, b, c, d):
    """o += a, b, c, d in that order (the bits of four ``add`` calls)."""
    for i in range(o.shape[0]):
        o[i] = (((o[i] + a[i]) + b[i]) + c[i]) + d[i]


@kernel(inline=True)
def axpy2(o, a, pa, b, pb):
    """o += pa * a, then o += pb * b (the bits of two ``axpy`` calls)."""
    for i in range(o.shape[0]):
        o[i] = (o[i] + pa * a[i]) + pb * b[i]


@kernel(inline=True)
def axpy4(o, a, pa, b, pb, c, pc, d, pd):
    """o += pa * a, pb * b, pc * c, pd * d in that order (the bits of four ``axpy`` calls)."""
    for i in range(o.shape[0]):
        o[i] = (((o[i] + pa * a[i]) + pb * b[i]) + pc * c[i]) + pd * d[i]


@kernel
def nonzero(g, out):
    """The indices of g's non-zero entries, into out; returns how many."""
    n = 0
    for i in range(g.shape[0]):
        if g[i] != 0.0:
            out[n] = i
            n += 1
    return n


@kernel(allocates=True)
def gemm(a, b, out):
    """out = a @ b through BLAS (np.dot into out). Keeps reference counting (jit.py): Numba's
    np.dot will not compile without it, as it may copy an operand that is not contiguous."""
    np.dot(a, b, out)


@kernel
def gemm_rows(a, b, r0, r1, out, one_zero):
    """out = (a^T b)[r0:r1], rows r0..r1-1 of the product of a (k, m) and b (k, n), both
    C-contiguous, into out ((r1 - r0) * n values, row-major), through BLAS without copying:
    the BLAS call np.dot(a.T, b, out) makes for the whole product (transa 'n', transb 't',
    lda n, ldb m), with its m rows cut to r1 - r0 and b's operand starting at column r0.
    ``one_zero``: (1, 0) in the dtype (alpha and beta). A block of rows need not equal those
    rows of the whole product (OpenBLAS picks its kernel by the shape; for some shapes they
    differ in the last bits, benchmarks/check_blas_blocks.py), so a product shared over
    workers is cut into blocks that do not depend on the workers (loop._chunk_units)."""
    k = a.shape[0]
    m = a.shape[1]
    n = b.shape[1]
    kind = np.int8(115) if a.itemsize == 4 else np.int8(100)       # 's' or 'd'
    if r1 > r0 and k > 0:
        one = one_zero.ctypes.data
        _xxgemm(kind, np.int8(110), np.int8(116), n, r1 - r0, k, one, b.ctypes.data, n,
                a.ctypes.data + r0 * a.itemsize, m, one + one_zero.itemsize, out.ctypes.data, n)


def zeros_aligned(shape, dtype, align: int = 64) -> np.ndarray:
    """np.zeros(shape, dtype) starting at a multiple of ``align`` bytes (a cache line). NumPy
    starts a large array 16 bytes into a page, so a row of 64 bytes (16 float32) straddles two
    lines, and workers that write neighbouring rows (the weight-gradient accumulator shared by
    input channels) would write the same line."""
    dt = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    buf = np.zeros(n + align, np.uint8)
    off = -buf.ctypes.data % align
    return buf[off:off + n].view(dt).reshape(shape)


@kernel(inline=True)
def row_apart(n, itemsize):
    """A row length of at least n items such that the rows of a (workers, length) array keep
    their first n items at least a cache line (64 bytes) apart, wherever the array starts, so
    that two workers never write the same line. For the small rows every worker writes all
    the time: an input's taps, written at every event, were 2 x 9 of 8 bytes a row, which put
    worker 0's last taps and worker 1's first in one line, and the conv net's event-by-event
    weight gradient on two workers took 4.5 and 5.2 ms a batch instead of 3.5 and 3.6 (sltt
    at batch 32, benchmarks/results/2026-12-07_rows_apart_night.txt)."""
    return ((n * itemsize + 63) // 64 + 1) * 64 // itemsize
