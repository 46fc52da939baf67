"""Containers the kernels take (Numba typed lists), built outside the hot path."""

from __future__ import annotations

from numba.typed import List


def typed_list(arrays):
    """A Numba typed list holding (not copying) the given arrays, all of one dtype and ndim."""
    out = List()
    for a in arrays:
        out.append(a)
    return out
