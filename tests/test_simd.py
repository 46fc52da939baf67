"""The vector kernel (kernels/simd.py) and the direct error product built on it
(error.conv_error_direct), against references written from their definitions: each lane's
chain of fused multiply-adds rounded once per step from its exact rational value
(simd.fma_exact, plain Python), and the error product's sums in float64 numpy."""

from __future__ import annotations

import numpy as np
import pytest

from chipsim.kernels import conv as C
from chipsim.kernels import error as E
from chipsim.kernels.simd import VEC_BYTES, fma_exact, fma_rows_reference
from chipsim.learning.trainer import layout
from chipsim.model.network import Network


def test_fma_exact_rounds_once():
    """The reference's one rounding: (1 + 2^-12)^2 - 1 is 2^-11 + 2^-24 in float32 with one
    rounding (an fma), but 2^-11 when the product is rounded first (a tie, to even)."""
    a = np.float32(1 + 2.0 ** -12)
    assert fma_exact(a, a, np.float32(-1), np.float32) == np.float32(2.0 ** -11 + 2.0 ** -24)
    assert np.float32(a * a) - np.float32(1) == np.float32(2.0 ** -11)
    assert np.signbit(fma_exact(-0.0, 1.0, -0.0, np.float64))
    assert not np.signbit(fma_exact(1.0, 1.0, -1.0, np.float64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 9])
def test_fma_rows_matches_the_exact_chain(dtype, n):
    """Eight rows (one repeated), a vector of lanes starting at column c0 of a two-vector row,
    n steps from offsets into src: every lane equals the reference's chain, bit for bit."""
    from numba import njit

    from chipsim.kernels.simd import fma_rows

    @njit
    def run(out, src, W, k0, c0, n):
        fma_rows(out, (0, 3, 1, 5, 2, 4, 6, 6), src, (4, 0, 7, 2, 11, 3, 5, 5), W, k0, c0, n)

    rng = np.random.default_rng(n)
    L = VEC_BYTES // np.dtype(dtype).itemsize
    out = rng.standard_normal((7, 2 * L)).astype(dtype)
    src = rng.standard_normal(24).astype(dtype)
    W = rng.standard_normal((n + 3, 2 * L)).astype(dtype)
    want = out.copy()
    fma_rows_reference(want, (0, 3, 1, 5, 2, 4, 6, 6), src, (4, 0, 7, 2, 11, 3, 5, 5), W, 2, L, n)
    run(out, src, W, 2, L, n)
    assert np.array_equal(out.view(np.uint8), want.view(np.uint8))


def _layer(hw, cin, cout, k, pad, stride, dtype):
    """The layout record of a convolution of ``cin`` input channels on an hw x hw map (the
    second layer of a small network), its weights and a gradient of its output."""
    ops = [dict(kind="conv", channels=cin, kernel=3, padding=1),
           dict(kind="conv", channels=cout, kernel=k, padding=pad, stride=stride)]
    net = Network.build((hw, hw, 2), True, ops, 3, True, np.random.default_rng(1), dtype=dtype)
    Ly = layout(net)[1]
    rng = np.random.default_rng(2)
    W = rng.standard_normal((k * k * cin, cout)).astype(dtype)
    g = rng.standard_normal(int(Ly["hout"] * Ly["wout"]) * cout).astype(dtype)
    g[rng.random(g.shape) < 0.3] = 0.0
    return Ly, W, g


def _error_product(Ly, W, g, f):
    """conv_error_gemm's output (Hin*Win, Cin), with its work arrays made here."""
    k, cin, cout = int(Ly["k"]), int(Ly["cin"]), int(Ly["cout"])
    P = int(Ly["hin"] * Ly["win"])
    K = k * k * cout
    WT = np.zeros((cin, K) if C.kernel_read_t(Ly, f.itemsize) else (K, cin), f)
    E.transpose_kernel(W, Ly, WT)
    big = int((Ly["hin"] + 2 * k) * (Ly["win"] + 2 * k) * max(cout, cin))
    scr = (np.zeros(P * K + big, f), np.zeros(K * cin + big, f), np.zeros(big, f))
    out = np.full((P, cin), np.nan, f)
    E.conv_error_gemm(WT, g, Ly, scr, out, np.zeros(4 * k * k, np.int64))
    return out


def _chain_reference(Ly, W, g, f):
    """out[(y, x), ci]: from 0, for ky, then j = 0..k-1, then co, one exactly rounded step
    onto it of g at output (y - ky + pad, x - (k-1-j) + pad) (0 outside the map) times
    W[(ky*k + k-1-j)*Cin + ci, co]: the order conv_error_direct documents."""
    k, cin, cout, pad = int(Ly["k"]), int(Ly["cin"]), int(Ly["cout"]), int(Ly["pad"])
    H, Wd, Ho, Wo = int(Ly["hin"]), int(Ly["win"]), int(Ly["hout"]), int(Ly["wout"])
    gm = g.reshape(Ho, Wo, cout)
    out = np.zeros((H * Wd, cin), f)
    for y in range(H):
        for x in range(Wd):
            for ci in range(cin):
                acc = f.type(0)
                for ky in range(k):
                    for j in range(k):
                        oy, ox = y - ky + pad, x - (k - 1 - j) + pad
                        for co in range(cout):
                            v = gm[oy, ox, co] if 0 <= oy < Ho and 0 <= ox < Wo else f.type(0)
                            acc = fma_exact(v, W[(ky * k + k - 1 - j) * cin + ci, co], acc, f)
                out[y * Wd + x, ci] = acc
    return out


@pytest.mark.parametrize("dtype,cin,k,pad", [(np.float32, 16, 3, 1), (np.float32, 32, 3, 1),
                                             (np.float64, 8, 3, 1), (np.float64, 16, 5, 2),
                                             (np.float32, 16, 3, 0)])
def test_direct_error_product_is_the_exact_chain(dtype, cin, k, pad):
    """The direct product (one or two vectors of channels, kernels 3 and 5, 'same' and 'valid'
    padding, a map whose positions are not a multiple of eight) equals the exactly rounded
    chain, bit for bit."""
    f = np.dtype(dtype)
    Ly, W, g = _layer(5, cin, 3, k, pad, 1, dtype)
    assert C.error_direct(Ly, f.itemsize)
    got = _error_product(Ly, W, g, f)
    assert np.array_equal(got.view(np.uint8), _chain_reference(Ly, W, g, f).view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_direct_error_product_on_the_conv_net_matches_float64_sums(dtype):
    """The reference conv net's layer 1 (17 x 17, 16 -> 32 channels): the direct product against
    the sums in float64 from the definition, out[p, ci] = sum W[tap*Cin+ci, co] g[opos, co]."""
    f = np.dtype(dtype)
    ops = [dict(kind="conv", channels=16, kernel=3, padding=1), dict(kind="avgpool", size=2),
           dict(kind="conv", channels=32, kernel=3, padding=1)]
    net = Network.build((34, 34, 2), True, ops, 10, True, np.random.default_rng(1), dtype=dtype)
    Ly = layout(net)[1]
    assert (int(Ly["hin"]), int(Ly["cin"]), int(Ly["cout"])) == (17, 16, 32)
    assert C.error_direct(Ly, f.itemsize) and not C.kernel_read_t(Ly, f.itemsize)
    rng = np.random.default_rng(3)
    W = rng.standard_normal((9 * 16, 32)).astype(dtype)
    g = rng.standard_normal(17 * 17 * 32).astype(dtype)
    got = _error_product(Ly, W, g, f)
    gm = np.pad(g.reshape(17, 17, 32).astype(np.float64), ((1, 1), (1, 1), (0, 0)))
    want = np.zeros((17, 17, 16))
    for dy in range(3):
        for dx in range(3):
            # input (y, x) gets output (y - dy + 1, x - dx + 1) through tap (dy, dx)
            Wt = W[(dy * 3 + dx) * 16:(dy * 3 + dx + 1) * 16].astype(np.float64)   # (ci, co)
            want += gm[2 - dy:19 - dy, 2 - dx:19 - dx] @ Wt.T
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got.reshape(17, 17, 16), want, rtol=0, atol=tol * np.abs(want).max())


def test_which_products_are_direct():
    """Stride 1 with pad < k and one or two vectors of input channels; else BLAS."""
    f32, f64 = 4, 8
    assert C.error_direct(_layer(5, 16, 3, 3, 1, 1, np.float32)[0], f32)
    assert C.error_direct(_layer(5, 8, 3, 3, 1, 1, np.float64)[0], f64)
    assert not C.error_direct(_layer(5, 8, 3, 3, 1, 1, np.float32)[0], f32)     # half a vector
    assert not C.error_direct(_layer(5, 48, 3, 3, 1, 1, np.float32)[0], f32)    # three
    assert not C.error_direct(_layer(6, 16, 3, 3, 1, 2, np.float32)[0], f32)    # stride 2
