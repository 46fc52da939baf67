"""Does a BLAS product split into column blocks equal the whole product, bit for bit?

chipsim splits a convolution's weight-gradient product over threads by fixed column blocks of
``WGRAD_BLOCK`` (chipsim/kernels/records.py). Fixed blocks make the numbers independent of the
thread count whatever BLAS does; when the blocks' products also equal the whole product's
columns, they equal the single-threaded chipsim of earlier versions too. This prints, for the
shapes of chipsim's networks and for block widths 1 to 128, whether they do, on this machine's
BLAS (Numba's np.dot: SciPy's OpenBLAS). It asserts nothing.

    python benchmarks/check_blas_blocks.py
"""

from __future__ import annotations

import numpy as np
from numba import njit

import chipsim  # noqa: F401  (one BLAS thread, as chipsim runs it)
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


if __name__ == "__main__":
    main()
