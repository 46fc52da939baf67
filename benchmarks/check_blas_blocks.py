"""Does a BLAS product split into column blocks, or into blocks of rows, equal the whole
product, bit for bit?

chipsim splits a weight-gradient product of a dense layer (or a convolution at batch 1) over
threads by fixed column blocks of ``WGRAD_BLOCK`` (chipsim/kernels/records.py): fixed blocks
make the numbers independent of the thread count whatever BLAS does, and where the blocks'
products also equal the whole product's columns they equal the single-threaded chipsim of
earlier versions too. At batch > 1 a convolution's large stacked products are computed in
fixed blocks of output rows (loop._chunk_units, arrays.gemm_rows), the same blocks on any
number of threads, so again the numbers do not depend on the thread count whatever BLAS
does. Until 2026-12-06 those blocks were cut per thread (loop._chunk_rows), which kept the
numbers only if each block of rows equals those rows of the whole product
(arrays.rows_split_exact checked it at run time, on three shapes); the last table shows it
does not hold for every shape, which is why the blocks are now fixed. This prints, for the
shapes of chipsim's networks, whether each holds on this machine's BLAS (Numba's np.dot:
SciPy's OpenBLAS), for column widths 1 to 128 and row blocks of 16 to half the rows. It
asserts nothing.

Its third table asks the same of a convolution's error pass (error.conv_error_gemm): is the
product im2col @ WT the same, bit for bit, with the transposed kernel stored (k*k*Cout, Cin)
and read as it is ('n'), or stored (Cin, k*k*Cout) and read transposed ('t', as chipsim stores
it since 2026-12-07 where the product is larger than conv.SMALL_GEMM), and which is faster, on
the reference conv net's and VGG-11's error products and a small one, the golden conv variant's.
The one after it compares the direct product that replaced BLAS there for few input channels
(error.conv_error_direct, conv.error_direct): same bits as BLAS's 'n' and 't', and the speed.
The last asks it of the weight gradient's stacked product col^T g: col read 't' (as
chipsim stores it, one position per row), read 'n' (stored the other way), or the transposed
product g^T col.

    python benchmarks/check_blas_blocks.py
"""

from __future__ import annotations

import numpy as np
from numba import njit

import chipsim  # noqa: F401  (one BLAS thread, as chipsim runs it)
from chipsim.kernels.arrays import gemm_rows
from chipsim.kernels.records import WGRAD_BLOCK


@njit(cache=True)
def _dot(a, b, out):
    np.dot(a, b, out)


def main():
    rng = np.random.default_rng(0)
    shapes = [(576, 2304, 128), (4608, 36, 512), (27, 2304, 64), (1152, 576, 128), (144, 289, 32),
              (4608, 9, 512), (2304, 144, 256)]
    widths = (1, 7, 16, 32, WGRAD_BLOCK, 100, 128)
    print(f"{'dtype':8} {'(rows, K, cols)':20} " + " ".join(f"w={w:<4}" for w in widths))
    for dt in (np.float32, np.float64):
        for m, k, n in shapes:
            a = rng.standard_normal((k, m)).astype(dt).T        # F-order, as im2col^T
            b = rng.standard_normal((k, n)).astype(dt)
            whole = np.empty((m, n), dt)
            _dot(a, b, whole)
            res = []
            for w in widths:
                same = True
                for c0 in range(0, n, w):
                    c1 = min(n, c0 + w)
                    part = np.empty((m, c1 - c0), dt)
                    _dot(a, np.ascontiguousarray(b[:, c0:c1]), part)
                    same &= np.array_equal(part, whole[:, c0:c1])
                res.append("same " if same else "DIFF ")
            print(f"{dt.__name__:8} {str((m, k, n)):20} " + "  ".join(res))
    print(f"\nrows: blocks of output rows (arrays.gemm_rows) against the whole product")
    print(f"{'dtype':8} {'(rows, K, cols)':20} " + " ".join(f"h={h:<5}" for h in ("16", "48", "1/2", "1/3", "odd")))
    for dt in (np.float32, np.float64):
        for m, k, n in shapes:
            a = rng.standard_normal((k, m)).astype(dt)          # the stacked im2col, C-order
            b = rng.standard_normal((k, n)).astype(dt)
            whole = np.empty((m, n), dt)
            _dot(a.T, b, whole)
            one_zero = np.array([1.0, 0.0], dt)
            res = []
            for h in (16, 48, -(-m // 32) * 16, -(-m // 48) * 16, 7):
                part = np.empty((m, n), dt)
                for r0 in range(0, m, h):
                    r1 = min(m, r0 + h)
                    gemm_rows(a, b, r0, r1, part[r0:r1].reshape(-1), one_zero)
                res.append("same " if np.array_equal(part, whole) else "DIFF ")
            print(f"{dt.__name__:8} {str((m, k, n)):20} " + "  ".join(res))
    print("\nrows cut once, at every multiple of 16, with K = n stacked sample-steps of a layer's "
          "positions\n(as the old loop._chunk_rows cut a round's products; the reference conv net's two "
          "layers and VGG-11's first)")
    print(f"{'dtype':8} {'(rows, positions, cols)':26} " + " ".join(f"n={n:<3}" for n in STEPS))
    for dt in (np.float32, np.float64):
        one_zero = np.array([1.0, 0.0], dt)
        for m, pos, n_out in ((18, 1156, 16), (144, 289, 32), (18, 2304, 64)):
            res = []
            for steps in STEPS:
                k = steps * pos
                a = (rng.standard_normal((k, m)) * (rng.random((k, m)) < 0.5)).astype(dt)
                b = rng.standard_normal((k, n_out)).astype(dt)
                whole = np.empty((m, n_out), dt)
                _dot(a.T, b, whole)
                bad = 0
                for cut in range(16, m, 16):
                    part = np.empty((m, n_out), dt)
                    gemm_rows(a, b, 0, cut, part[:cut].reshape(-1), one_zero)
                    gemm_rows(a, b, cut, m, part[cut:].reshape(-1), one_zero)
                    bad += not np.array_equal(part, whole)
                res.append(f"{bad}/{len(range(16, m, 16))}".ljust(5))
            print(f"{dt.__name__:8} {str((m, pos, n_out)):26} " + " ".join(res) + "  (cuts that differ)")


def _rate(a, b, out, macs):
    """G multiply-adds a second of the product a @ b into ``out``: the best of 5 timings, each
    of as many products as make about ``macs`` multiply-adds (after one untimed)."""
    m, k = a.shape
    n = b.shape[1]
    best = _best_seconds(lambda: _dot(a, b, out), max(1, int(macs / (m * k * n))))
    return m * k * n / best / 1e9


def _best_seconds(fn, reps):
    """Seconds a call of ``fn()`` takes: the best of 5 timings of ``reps`` calls each (after one
    untimed)."""
    import time
    fn()
    best = np.inf
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best


def error_layouts():
    """The error pass's product with its kernel read 'n' or 't': same bits, and the speed."""
    print("\nthe error pass's product im2col (P, k*k*Cout) @ WT: kernel stored (k*k*Cout, Cin), "
          "read 'n', against\nstored (Cin, k*k*Cout), read 't' (error.transpose_kernel); "
          "G multiply-adds a second, best of 5")
    print(f"{'dtype':8} {'(P, k*k*Cout, Cin)':22} {'bits':5} {'n':>6} {'t':>6}")
    rng = np.random.default_rng(1)
    for dt in (np.float32, np.float64):
        for m, k, n in ERROR_SHAPES:
            a = rng.standard_normal((m, k)).astype(dt)
            b = rng.standard_normal((k, n)).astype(dt)
            bt = np.ascontiguousarray(b.T)
            o1, o2 = np.empty((m, n), dt), np.empty((m, n), dt)
            rate = [_rate(a, bb, o, 2e8) for bb, o in ((b, o1), (bt.T, o2))]
            same = "same" if np.array_equal(o1, o2) else "DIFF"
            print(f"{dt.__name__:8} {str((m, k, n)):22} {same:5} {rate[0]:6.1f} {rate[1]:6.1f}")


def error_direct():
    """The error pass's direct product (error.conv_error_direct: one chain of fused
    multiply-adds per entry, from the padded gradient map, no im2col) against BLAS on the
    im2col it replaces: same bits as 'n' and 't', and the speed (the direct figure includes
    the padded map; BLAS's only the product)."""
    from chipsim.kernels import conv as C
    from chipsim.kernels import error as E
    from chipsim.kernels.conv import im2col
    from chipsim.learning.trainer import layout
    from chipsim.model.network import Network
    print("\nthe error pass's direct product (conv.error_direct) against BLAS on its im2col, "
          "kernel read 'n' and 't';\nG multiply-adds a second, best of 5")
    print(f"{'dtype':8} {'(P, k*k*Cout, Cin)':22} {'n':5} {'t':5} {'direct':>7} {'n':>6} {'t':>6}")
    rng = np.random.default_rng(3)
    for dt, hw, cin, cout in DIRECT_SHAPES:
        f = np.dtype(dt)
        ops = [dict(kind="conv", channels=cin, kernel=3, padding=1),
               dict(kind="conv", channels=cout, kernel=3, padding=1)]
        net = Network.build((hw, hw, 2), True, ops, 3, True, np.random.default_rng(1), dtype=dt)
        Ly = layout(net)[1]
        if not C.error_direct(Ly, f.itemsize):
            continue
        P, K = hw * hw, 9 * cout
        WT = rng.standard_normal((K, cin)).astype(dt)
        g = rng.standard_normal(P * cout).astype(dt)
        scr = (np.zeros(P * K, dt), np.zeros(1, dt), np.zeros((hw + 2) * (hw + 2) * cout, dt))
        taps = np.zeros(36, np.int64)
        out = np.empty((P, cin), dt)
        best = _best_seconds(lambda: E.conv_error_gemm(WT, g, Ly, scr, out, taps), 200)
        col = np.empty((P, K), dt)
        im2col(col.reshape(-1), scr[2], hw, hw, 3, 1, hw + 2, cout, True)
        o_n, o_t = np.empty_like(out), np.empty_like(out)
        rate = [_rate(col, bb, o, 2e8) for bb, o in ((WT, o_n), (np.ascontiguousarray(WT.T).T, o_t))]
        same = ["same" if np.array_equal(o, out) else "DIFF" for o in (o_n, o_t)]
        print(f"{dt.__name__:8} {str((P, K, cin)):22} {same[0]:5} {same[1]:5} "
              f"{P * K * cin / best / 1e9:7.1f} {rate[0]:6.1f} {rate[1]:6.1f}")


#: (dtype, map side, Cin, Cout) of error products the direct product takes: the golden conv
#: variant's layer 1, the reference conv net's layer 1, and wider and deeper neighbours
DIRECT_SHAPES = ((np.float64, 8, 8, 16), (np.float32, 17, 16, 32), (np.float64, 17, 16, 32),
                 (np.float32, 17, 32, 32), (np.float32, 9, 16, 32), (np.float32, 34, 16, 16),
                 (np.float32, 17, 16, 64), (np.float32, 17, 32, 128))


def wgrad_layouts():
    """The weight gradient's stacked product, dW = col^T g, three ways: col stored one position
    per row (K, R) and read 't' (as chipsim stores it), col stored (R, K) and read 'n', and the
    transposed product g^T col (dW^T). Same bits, and the speed."""
    print("\nthe weight gradient's stacked product col^T g (K stacked positions, R = k*k*Cin "
          "rows, Cout): col read 't' (stored (K, R), as chipsim), read 'n' (stored (R, K)),\n"
          "and g^T col (dW transposed); G multiply-adds a second, best of 5, float32, "
          "col 30 % non-zero")
    print(f"{'(K, R, Cout)':20} {'bits':5} {'t':>6} {'n':>6} {'g^T col':>8}")
    rng = np.random.default_rng(2)
    dt = np.float32
    for m, r, n in WGRAD_SHAPES:
        col = (rng.standard_normal((m, r)) * (rng.random((m, r)) < 0.3)).astype(dt)
        colf = np.asfortranarray(col)
        g = rng.standard_normal((m, n)).astype(dt)
        outs = (np.empty((r, n), dt), np.empty((r, n), dt), np.empty((n, r), dt))
        ops = ((col.T, g), (colf.T, g), (g.T, col))
        rate = [_rate(a, b, o, 3e8) for (a, b), o in zip(ops, outs)]
        same = np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2].T)
        print(f"{str((m, r, n)):20} {'same' if same else 'DIFF':5} {rate[0]:6.1f} {rate[1]:6.1f} "
              f"{rate[2]:8.1f}")


#: (K, k*k*Cin, Cout) of stacked weight-gradient products: chunks of 7 sample-steps of the
#: conv net's two layers and VGG-11's layers 1, 3 and 5
WGRAD_SHAPES = ((1156 * 7, 18, 16), (289 * 7, 144, 32), (2304 * 7, 1152, 128),
                (576 * 7, 2304, 256), (144 * 7, 4608, 512))


#: (P, k*k*Cout, Cin) of the error products: the golden conv variant's layer 1 (small: under
#: conv.SMALL_GEMM), the reference conv net's layer 1, VGG-11's layers 1 to 7
ERROR_SHAPES = ((64, 144, 8), (289, 288, 16), (2304, 1152, 64), (576, 2304, 128), (576, 2304, 256),
                (144, 4608, 256), (144, 4608, 512), (36, 4608, 512))

#: sample-steps stacked in one chunk, for the last table
STEPS = (1, 2, 3, 5, 8, 13, 32)


if __name__ == "__main__":
    main()
    error_layouts()
    error_direct()
    wgrad_layouts()
