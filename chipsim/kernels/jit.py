"""The one JIT policy of chipsim's kernels, declared once.

Every kernel is compiled by Numba in nopython mode with ``cache=True`` (compiled once per
machine and loaded from ``__pycache__`` afterwards). No ``fastmath``: the dynamics and the
gradients must be bitwise reproducible and equal to their numpy references. Small helpers
that run inside hot loops are inlined at Numba's IR level (``inline=True``).

    from chipsim.kernels.jit import kernel

    @kernel
    def f(...): ...

    @kernel(inline=True)
    def g(...): ...
"""

from __future__ import annotations

from numba import njit

POLICY = dict(cache=True)


def kernel(fn=None, *, inline: bool = False):
    """Compile ``fn`` with chipsim's JIT policy (``@kernel`` or ``@kernel(inline=True)``)."""
    opts = dict(POLICY, inline="always") if inline else POLICY

    def wrap(f):
        return njit(**opts)(f)

    return wrap if fn is None else wrap(fn)
