"""The only @njit code in chipsim: arrays in, integer counts out.

All kernels use ``cache=True`` (compiled once, then loaded from ``__pycache__``). Random
numbers are drawn outside the kernels from a seeded ``numpy.random.Generator``.
"""

from chipsim.kernels.train import (  # noqa: F401
    MODE_BPTT,
    MODE_INFER,
    MODE_SPATIAL,
    SURROGATE_SIGMOID,
    SURROGATE_TRIANGLE,
    apply_updates,
    run_batch,
)
