"""chipsim: simulate edge neuromorphic chips that learn on-chip, and count what they do."""

import os as _os

# The convolution kernels call BLAS (through numba's np.dot, backed by SciPy's OpenBLAS) on
# small matrices once per layer and time step. A multi-threaded BLAS wakes its worker threads
# for every call and is slower there than one thread; one thread also keeps several chipsim
# processes from oversubscribing the cores. Set before SciPy's BLAS loads; a user's own setting
# wins.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.2.0"
