"""Convolution geometry: which kernel taps an input reaches, im2col matrices, and the
non-zero output gradients each input position meets.

Activations are channel-last: position (y, x, c) of an (H, W, C) map is index (y*W + x)*C + c.
Weights have one row per (kernel offset, input channel), ``row = (ky*k + kx)*Cin + ci``, so an
input event reads contiguous rows. A dense layer is the 1 x 1 case of a convolution.
"""

from __future__ import annotations

from chipsim.kernels.arrays import copy
from chipsim.kernels.jit import kernel
from chipsim.kernels.simd import VEC_BYTES


@kernel(inline=True)
def conv_geometry(Ly):
    """(Cin, Win, Hout, Wout, Cout, k, stride, pad) of a layer."""
    return (Ly.cin, Ly.win, Ly.hout, Ly.wout, Ly.cout, Ly.k, Ly.stride, Ly.pad)


#: BLAS products of at most this many multiply-adds (rows x inner x columns) are "small":
#: SciPy's OpenBLAS then takes its small-matrix kernels (SMALL_MATRIX_OPT, M*N*K <= 100^3), whose
#: results differ in the last bits between an operand read as stored ('n') and read transposed
#: ('t'), as (64, 144, 8) in float64 shows; above it both reads give the same bits
#: (benchmarks/check_blas_blocks.py, its last table).
SMALL_GEMM = 1_000_000


@kernel(inline=True)
def error_direct(Ly, itemsize):
    """Whether a convolution's error product is computed without BLAS (error.conv_error_direct:
    chains of fused multiply-adds, eight positions at a time, on vectors of input channels):
    stride 1 with pad < k (the padded map's layout), and Cin one or two vectors (simd.VEC_BYTES)
    of ``itemsize`` floats. There the im2col that BLAS needs (Hin*Win x k*k*Cout values,
    written and read again) costs about what the product does: the conv net's error product
    (289 x 288 x 16) took 47-55 us a step through im2col and BLAS, 29.5-29.8 direct in float32
    (89-101 against 59-63 in float64), with the same bits as BLAS on this machine
    (benchmarks/results/2026-12-08_error_direct.txt; tests/test_simd.py checks the chain)."""
    w = Ly.cin * itemsize
    return Ly.stride == 1 and Ly.pad < Ly.k and w % VEC_BYTES == 0 and w <= 2 * VEC_BYTES


@kernel(inline=True)
def kernel_read_t(Ly, itemsize):
    """Whether a convolution's error product (error.conv_error_gemm: Hin*Win x k*k*Cout x Cin)
    reads its transposed kernel as BLAS's 't' operand, stored (Cin, k*k*Cout): above SMALL_GEMM,
    where it gives the same bits and, in float32, VGG-11's products ran 1.0-1.6x faster alone;
    otherwise (and for the direct product, error_direct) stored (k*k*Cout, Cin), read 'n'."""
    return (Ly.hin * Ly.win * Ly.k * Ly.k * Ly.cout * Ly.cin > SMALL_GEMM
            and not error_direct(Ly, itemsize))


@kernel(inline=True)
def pool_geometry(Ly):
    """(pool kind, pool size, channels, source width, pooled height, pooled width) of a layer's
    input transform."""
    return (Ly.pool, Ly.pool_k, Ly.pc, Ly.wpre, Ly.ph, Ly.pw)


@kernel(inline=True)
def is_dense(Ly):
    return Ly.hout * Ly.wout == 1 and Ly.k == 1


@kernel(inline=True)
def taps(y, x, k, s, pad, Hout, Wout, tap_k, tap_o):
    """The kernel offsets (ky*k + kx) and output positions a convolution input at (y, x)
    reaches, borders and stride accounted for; returns how many."""
    n = 0
    if s == 1:      # no integer divisions (this runs for every input event)
        for ky in range(k):
            ty = y + pad - ky
            if ty < 0 or ty >= Hout:
                continue
            for kx in range(k):
                tx = x + pad - kx
                if tx < 0 or tx >= Wout:
                    continue
                tap_k[n] = ky * k + kx
                tap_o[n] = ty * Wout + tx
                n += 1
        return n
    for ky in range(k):
        ty = y + pad - ky
        if ty < 0 or ty % s != 0 or ty // s >= Hout:
            continue
        for kx in range(k):
            tx = x + pad - kx
            if tx < 0 or tx % s != 0 or tx // s >= Wout:
                continue
            tap_k[n] = ky * k + kx
            tap_o[n] = (ty // s) * Wout + tx // s
            n += 1
    return n


@kernel
def im2col(cf, mp, H, W, k, s, Wp, C, flip):
    """Rows of an im2col matrix (flat ``cf``, H*W rows of k*k*C) from a zero-padded channel-last
    map ``mp`` of width Wp: row (y, x) holds, for each kernel row ky, the k adjacent positions
    starting at map row y*s + ky (``flip``: y*s + k-1-ky) and column x*s, i.e. k*C contiguous
    values."""
    seg = k * C
    for y in range(H):
        for x in range(W):
            d = (y * W + x) * k * seg
            for ky in range(k):
                r = y * s + (k - 1 - ky if flip else ky)
                src = (r * Wp + x * s) * C
                copy(cf[d:d + seg], mp[src:src + seg])
                d += seg


@kernel
def pos_nnz(g, Cout, pos_nz):
    """Non-zero count of g per output position; returns the total."""
    tot = 0
    for q in range(pos_nz.shape[0]):
        n = 0
        base = q * Cout
        for co in range(Cout):
            n += g[base + co] != 0.0
        pos_nz[q] = n
        tot += n
    return tot


@kernel
def tap_sums(Ly, pos_nz, tsum, rows, taps_):
    """tsum[p] = the non-zero output gradients input position p of a convolution (after its
    pooling) meets: the sum of ``pos_nz`` over the output positions p reaches. Per input
    channel, that is the chip's error MACs for the position and its weight-gradient pairs per
    input event there. Stride 1: a k x k box sum, done separably."""
    Cin, Win, Hout, Wout, Cout, k, s, pad = conv_geometry(Ly)
    Hin = Ly.hin
    if s == 1:
        # rows: h[oy, x] = sum of pos_nz[oy, x + pad - kx] over kx with the column in range,
        # i.e. x in kx - pad .. Wout + kx - pad - 1: for each kx one run of x without a
        # branch (integer sums: the same in any order; 1.26-1.43x faster on the conv net's
        # layers than testing the column in the innermost loop)
        h = rows[:Hout * Win]
        for i in range(Hout * Win):
            h[i] = 0
        for oy in range(Hout):
            hr = h[oy * Win:(oy + 1) * Win]
            pr = pos_nz[oy * Wout:(oy + 1) * Wout]
            for kx in range(k):
                d = pad - kx
                for x in range(max(0, -d), min(Win, Wout - d)):
                    hr[x] += pr[x + d]
        for i in range(Hin * Win):
            tsum[i] = 0
        for y in range(Hin):
            tr = tsum[y * Win:(y + 1) * Win]
            for ky in range(k):
                oy = y + pad - ky
                if 0 <= oy < Hout:
                    hr = h[oy * Win:(oy + 1) * Win]
                    for x in range(Win):
                        tr[x] += hr[x]
        return
    tap_k = taps_[:k * k]
    tap_o = taps_[k * k:2 * k * k]
    for y in range(Hin):
        for x in range(Win):
            nt = taps(y, x, k, s, pad, Hout, Wout, tap_k, tap_o)
            t = 0
            for q in range(nt):
                t += pos_nz[tap_o[q]]
            tsum[y * Win + x] = t
