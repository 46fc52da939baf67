"""The one JIT policy of chipsim's kernels, declared once.

Every kernel is compiled by Numba in nopython mode with ``cache=True`` (compiled once per
machine and loaded from ``__pycache__`` afterwards). No ``fastmath``: the dynamics and the
gradients must be bitwise reproducible and equal to their numpy references. Small helpers
that run inside hot loops are inlined at Numba's IR level (``inline=True``).

Kernels run without Numba's reference counting (NRT) unless they allocate. With it, every
array argument is incremented on entry and decremented on exit, an atomic operation each: a
call that takes the State record (21 arrays) costs 42 of them, and on the reference MLP they
took a fifth of the training time (90 us of 430 us per sample, measured with perf). So a
kernel borrows its arrays from its caller, which keeps them alive for the call; it never
allocates an array or returns a new one (a kernel that tries fails to compile). The few
marked ``allocates=True`` keep reference counting: the batch entry point ``loop.run_batch``
and its ``loop._scratch``, which make the batch's work arrays, and ``arrays.gemm``, because
Numba's ``np.dot`` needs it. Everything ``run_batch`` calls borrows.

    from chipsim.kernels.jit import kernel

    @kernel
    def f(...): ...

    @kernel(inline=True)
    def g(...): ...

    @kernel(allocates=True)
    def entry(...): ...
"""

from __future__ import annotations

from numba import njit

POLICY = dict(cache=True, _nrt=False)


def kernel(fn=None, *, inline: bool = False, allocates: bool = False):
    """Compile ``fn`` with chipsim's JIT policy (``@kernel``, ``@kernel(inline=True)`` or
    ``@kernel(allocates=True)``)."""
    opts = dict(POLICY)
    if inline:
        opts["inline"] = "always"
    if allocates:
        opts["_nrt"] = True

    def wrap(f):
        return njit(**opts)(f)

    return wrap if fn is None else wrap(fn)
