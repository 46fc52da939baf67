"""chipsim: simulate edge neuromorphic chips that learn on-chip, and count what they do."""

import os as _os
import sys as _sys

# The convolution kernels call BLAS (through numba's np.dot, backed by SciPy's OpenBLAS) on
# small matrices once per layer and time step. A multi-threaded BLAS wakes its worker threads
# for every call and is slower there than one thread; one thread also keeps several chipsim
# processes from oversubscribing the cores. Set before SciPy's BLAS loads; a user's own setting
# wins.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _pool_size() -> str:
    """Numba's thread pool, sized when Numba loads: the cores, or CHIPSIM_THREADS if more, and
    at least 4, so that a run asked for more threads than the machine's cores gets them (the
    idle ones sleep). chipsim.threads chooses how many a run uses."""
    try:
        cores = len(_os.sched_getaffinity(0))
    except AttributeError:
        cores = _os.cpu_count() or 1
    try:
        asked = int(_os.environ.get("CHIPSIM_THREADS", "0"))
    except ValueError:
        asked = 0          # reported by chipsim.threads when a run reads it
    return str(max(cores, asked, 4))


# chipsim's kernels split a batch over threads in Numba's pool (chipsim/threads.py); BLAS
# stays at one thread inside each of them. Only before Numba loads: Numba re-reads the
# environment at every compile and refuses a pool size other than the one its threads were
# started with, so a program that loaded Numba (and started its threads) first keeps its pool.
if "numba" not in _sys.modules:
    _os.environ.setdefault("NUMBA_NUM_THREADS", _pool_size())

__version__ = "0.2.2"
