"""How many threads chipsim trains on: every core unless told otherwise.

``chipsim run --threads N`` or the environment variable ``CHIPSIM_THREADS=N`` sets it; the
default is the cores this process may use. A trainer made afterwards splits each batch over
that many *workers* (chipsim/kernels/loop.py): whole samples in the forward and error passes,
fixed column blocks in the weight gradients, and at batch > 1 the stacked weight-gradient
products of a convolution, whole or, a large one, in fixed blocks of output rows. A worker's
arithmetic is the same whichever thread runs it and however many there are, so counts,
weights and losses are bit-identical for every thread count (tests/test_threads.py checks 1,
2 and 3).

When nobody chose the count, a trainer may run a batch of more than one sample on one thread
while that is faster (``Chooser``): on some machines, in some spells, two threads are slower
than one.

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
_chosen = False         # whether the count was asked for (configure(n), CHIPSIM_THREADS)


def configure(n: int | None = None) -> int:
    """Use ``n`` threads from now on (None: ``CHIPSIM_THREADS``, else every core); returns
    the count. Sets Numba's threads to it (at most its pool's size)."""
    global _count, _chosen
    _chosen = n is not None or from_env() is not None
    if n is None:
        n = from_env() or cores()
    n = parse(n, "threads")
    _count = n
    _numba_threads(n)
    return n


def chosen() -> bool:
    """Whether the thread count was asked for (``--threads``, ``CHIPSIM_THREADS``,
    configure(n)) rather than taken from the cores: only then does a trainer keep to it at
    every batch (else it may run a batch on one thread when that has been faster, Chooser)."""
    if _count is None:
        configure()
    return _chosen


def may_choose(workers: int | None, batch_size: int) -> bool:
    """Whether a trainer made with ``workers`` (None: the default) at this batch size gets a
    Chooser: nobody chose the count, it is more than one, and a batch has several samples."""
    return workers is None and int(batch_size) > 1 and count() > 1 and not chosen()


class Chooser:
    """A trainer's thread count for each batch when nobody chose one: all ``n`` workers, or one
    thread when one has been faster. On some machines two threads are at times slower than
    one (in the slow spells of a 2-vCPU cloud guest, whose cause is the host's: the reference
    MLP at batch 32 then trains at about 2,200 samples/s on two threads and 3,000-3,500 on
    one, docs/PERFORMANCE.md). The numbers are the same bits at any thread count, so the choice
    changes only the time.

    Each batch's seconds per sample update an average for its setting (``note``). On all
    workers, a batch runs on one thread once, at the third batch (the machine may be slow
    already), and after that only when their average has risen ``SLOW`` above the lowest it
    has been (the machine slowed; on a steady machine this never happens); it switches to one
    thread if that was faster. On one thread, every ``gap`` batches a batch runs on all
    workers again, to see whether the machine recovered. A look that finds the other setting
    slower doubles ``gap`` (up to MAX_GAP); a switch resets it."""

    MIN_GAP = 8
    MAX_GAP = 256
    SLOW = 0.25
    ALPHA = 0.3

    def __init__(self, n: int):
        self.n = n
        self.use = n                  # the setting in use
        self.avg: dict[int, float] = {}
        self.low: dict[int, float] = {}
        self.batches = 0
        self.gap = self.MIN_GAP
        self.last_look = 0
        self.looked = False           # the first look at one thread taken
        self.looking = False

    def _other(self) -> int:
        return 1 if self.use == self.n else self.n

    def pick(self) -> int:
        """The thread count of the next batch."""
        self.batches += 1
        due = self.batches - self.last_look >= self.gap
        if self.use == self.n:
            a, lo = self.avg.get(self.n), self.low.get(self.n)
            if not self.looked:
                self.looking = self.batches >= 3 and a is not None
            else:
                self.looking = due and a is not None and a > (1 + self.SLOW) * lo
        else:
            self.looking = due
        return self._other() if self.looking else self.use

    def note(self, k: int, seconds_per_sample: float) -> None:
        """The batch just run on ``k`` threads took this long a sample."""
        if self.looking and k == self._other():       # a look: its figure replaces the old
            self.avg[k] = seconds_per_sample
            self.last_look = self.batches
            self.looked = True
            if seconds_per_sample < self.avg.get(self.use, float("inf")):
                self.use = k                          # faster: switch
                self.gap = self.MIN_GAP
            else:
                self.gap = min(2 * self.gap, self.MAX_GAP)
        else:
            old = self.avg.get(k)
            self.avg[k] = seconds_per_sample if old is None else (
                (1 - self.ALPHA) * old + self.ALPHA * seconds_per_sample)
        self.low[k] = min(self.low.get(k, float("inf")), self.avg[k])
        self.looking = False


def count() -> int:
    """The thread count a trainer made now uses (configure() if nothing set it yet)."""
    return _count if _count is not None else configure()


def use(n: int) -> None:
    """Run the next kernel call on ``n`` threads (at most the pool's size)."""
    _numba_threads(n)


def _numba_threads(n: int) -> None:
    import numba
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))

