"""Small array helpers the other kernels inline.

Each loops over views from index 0: indices that start at 0 let LLVM drop Numba's
negative-index wraparound and vectorise, where ``a[i:j] = b[k:l]`` or ``a[d + i]`` in a loop
stay scalar and run about ten times slower.
"""

from __future__ import annotations

import numpy as np

from chipsim.kernels.jit import kernel


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
