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
marked ``allocates=True`` keep reference counting: ``loop._scratch``, which makes the batch's
work arrays (called from Python, ``loop.batch_work``), and ``arrays.gemm``, because Numba's
``np.dot`` needs it. ``loop._batch``, which ``loop.run_batch`` calls from Python, and
everything it calls borrow.

Each kernel's cached machine code is stamped with a digest of every module in this directory,
not only its own file (``_stamped``): a kernel edited in one module is recompiled into every
caller that inlined or linked it.

    from chipsim.kernels.jit import kernel

    @kernel
    def f(...): ...

    @kernel(inline=True)
    def g(...): ...

    @kernel(allocates=True)
    def entry(...): ...

Threads: the only parallel kernels are the ``prange`` loops over workers in ``loop.py``; each
worker runs whole samples (or fixed column blocks of a weight gradient, or blocks of output
rows of a batch-1 forward) with the same arithmetic as one thread, so results do not depend
on the thread count (chipsim/threads.py). Workers share work through ``sync.py``'s atomics.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

try:
    import fcntl
except ImportError:         # (Windows)
    fcntl = None

from numba import njit
from numba.core import caching

POLICY = dict(cache=True, _nrt=False)

KERNELS_DIR = Path(__file__).resolve().parent


def sources_digest(directory: Path = KERNELS_DIR) -> str:
    """SHA-256 of every kernel module's name and text: the freshness stamp of each kernel's
    cached machine code."""
    h = hashlib.sha256()
    for f in sorted(Path(directory).glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


KERNELS_DIGEST = sources_digest()


def _stamped(base):
    """Numba's cache locator ``base``, stamping a kernel's cache with every kernel module's
    text. Numba stamps a cached function with its own file only, so a kernel changed in one
    module left its callers in other modules running the former code from the cache (after an
    edit or an upgrade installed in place). With this stamp, a change to any kernel module
    recompiles every kernel. Functions outside chipsim/kernels keep Numba's own locators."""

    class Locator(base):
        def get_source_stamp(self):
            return ("chipsim-kernels", KERNELS_DIGEST)

        @classmethod
        def from_function(cls, py_func, py_file):
            if Path(py_file).resolve().parent != KERNELS_DIR:
                return None
            return super().from_function(py_func, py_file)

    Locator.__name__ = Locator.__qualname__ = "Kernels" + base.__name__
    return Locator


if not any(c.__name__.startswith("Kernels") for c in caching.CacheImpl._locator_classes):
    caching.CacheImpl._locator_classes[:0] = [
        _stamped(b) for b in (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator,
                              caching.UserWideCacheLocator)]


def _tolerant(load):
    """Numba's cache-index reader ``load``, reading an index of chipsim's kernels that cannot be
    unpickled as a stale one (empty: the kernel compiles again and the index is rewritten).
    Numba unpickles an index before it compares the stamp, and an index written by an
    earlier version of the kernels names the record types of its signatures: once one is
    renamed or removed (``HistoryScratch``, merged into ``Scratch``), unpickling fails with an
    AttributeError and every run stopped there, in a tree upgraded in place. Indexes of other
    functions keep Numba's behaviour."""

    def _load_index(self):
        try:
            return load(self)
        except (AttributeError, ImportError, pickle.UnpicklingError, EOFError):
            stamp = getattr(self, "_source_stamp", None)
            if isinstance(stamp, tuple) and stamp[:1] == ("chipsim-kernels",):
                return {}
            raise

    _load_index.chipsim_tolerant = True
    return _load_index


if not getattr(caching.IndexDataCacheFile._load_index, "chipsim_tolerant", False):
    caching.IndexDataCacheFile._load_index = _tolerant(caching.IndexDataCacheFile._load_index)


def _locked(save):
    """Numba's cache writer ``save``, holding an exclusive lock on the cache directory (a
    ``.chipsim-cache.lock`` file there) while it reads the index, picks a data file's name and
    writes both, for chipsim's kernels. Numba does this unlocked: two processes compiling
    different signatures of one kernel at once (the test suite compiles float64 and float32
    side by side, tests/conftest.py; so do sweep workers) could both read the same index,
    both pick data file 1, and leave an index that names the other's machine code, which
    the next run then loaded for the wrong types ("can't unbox array"). Other functions'
    caches keep Numba's behaviour; without fcntl (Windows) there is no lock."""

    def _save(self, key, data):
        stamp = getattr(self, "_source_stamp", None)
        if fcntl is None or not (isinstance(stamp, tuple) and stamp[:1] == ("chipsim-kernels",)):
            return save(self, key, data)
        os.makedirs(self._cache_path, exist_ok=True)
        with open(os.path.join(self._cache_path, ".chipsim-cache.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return save(self, key, data)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    _save.chipsim_locked = True
    return _save


if not getattr(caching.IndexDataCacheFile.save, "chipsim_locked", False):
    caching.IndexDataCacheFile.save = _locked(caching.IndexDataCacheFile.save)


def kernel(fn=None, *, inline: bool = False, allocates: bool = False, parallel: bool = False):
    """Compile ``fn`` with chipsim's JIT policy (``@kernel``, ``@kernel(inline=True)``,
    ``@kernel(allocates=True)`` or ``@kernel(parallel=True)``: a ``prange`` over workers, with
    reference counting, which Numba's parallel launcher needs)."""
    opts = dict(POLICY)
    if inline:
        opts["inline"] = "always"
    if allocates or parallel:
        opts["_nrt"] = True
    if parallel:
        opts["parallel"] = True

    def wrap(f):
        return njit(**opts)(f)

    return wrap if fn is None else wrap(fn)
