"""The only @njit code in chipsim: arrays in, integer counts out.

All kernels use ``cache=True`` (compiled once, then loaded from ``__pycache__``). Random
numbers are drawn outside the kernels from a seeded ``numpy.random.Generator``.
"""

from chipsim.kernels.train import (  # noqa: F401
    EV_BUF,
    EV_INPUT,
    EV_SPIKES,
    MODE_BPTT,
    MODE_INFER,
    MODE_SPATIAL,
    NG,
    POOL_AVG,
    POOL_MAX,
    POOL_NONE,
    ROLE_AUX,
    ROLE_LIF,
    ROLE_READOUT,
    SURROGATE_SIGMOID,
    SURROGATE_TRIANGLE,
    run_batch,
)
from chipsim.kernels import train as _t  # noqa: E402

#: geometry column indices, for the trainer that fills the table
GEO = {name: getattr(_t, name) for name in dir(_t) if name.startswith("G_")}
