"""How many threads chipsim trains on: every core unless told otherwise.

``chipsim run --threads N`` or the environment variable ``CHIPSIM_THREADS=N`` sets it; the
default is the cores this process may use. A trainer made afterwards splits each batch over
that many *workers* (chipsim/kernels/loop.py): whole samples in the forward and error passes,
fixed column blocks in the weight gradients, and at batch > 1 the stacked weight-gradient
products of a convolution, whole or, a large one, in fixed blocks of output rows. A worker's
arithmetic is the same whichever thread runs it and however many there are, so counts,
weights and losses are bit-identical for every thread count (tests/test_threads.py checks 1,
2 and 3).

Numba's thread pool is sized once, when Numba loads: chipsim/__init__.py makes it hold at
least the cores and ``CHIPSIM_THREADS``. More workers than the pool has threads still give
the same numbers, on fewer threads.
"""

from __future__ import annotations

import os

ENV = "CHIPSIM_THREADS"


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:          # not on Linux
        return os.cpu_count() or 1


def parse(value, where: str) -> int:
    """A thread count (a whole number, at least 1), or ValueError naming ``where``."""
    try:
        n = int(str(value).strip())
    except ValueError:
        n = 0
    if n < 1 or str(value).strip() != str(n):
        raise ValueError(f"{where}: expected a whole number of threads, at least 1; got {value!r}")
    return n


def from_env() -> int | None:
    v = os.environ.get(ENV)
    return None if v is None or v.strip() == "" else parse(v, ENV)


_count: int | None = None


def configure(n: int | None = None) -> int:
    """Use ``n`` threads from now on (None: ``CHIPSIM_THREADS``, else every core); returns
    the count. Sets Numba's threads to it (at most its pool's size)."""
    global _count
    if n is None:
        n = from_env() or cores()
    n = parse(n, "threads")
    _count = n
    _numba_threads(n)
    return n


def count() -> int:
    """The thread count a trainer made now uses (configure() if nothing set it yet)."""
    return _count if _count is not None else configure()


def use(n: int) -> None:
    """Run the next kernel call on ``n`` threads (at most the pool's size)."""
    _numba_threads(n)


def _numba_threads(n: int) -> None:
    import numba
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))

