"""The only Numba code in chipsim: arrays in, integer counts out.

Split by what it computes (docs/DESIGN.md, "Kernels"):

- ``jit``: the one JIT policy (``@kernel``: nopython, ``cache=True``, no fastmath);
- ``records``: the records a kernel takes (the per-layer layout, parameters, state, neuron,
  loss, rule, optimiser, number format) and the codes of a rule's choices (NumPy only);
  ``views``: each layer's slices of them;
- ``neuron``: the LIF step and the surrogate derivatives; ``libm``: the C library's exp,
  bit for bit, without a call (so that the surrogates' loop vectorises);
- ``synapse``: input transforms (dropout, pooling) and the event scatter; ``conv``: taps,
  im2col and the tap sums of convolutions;
- ``error``: the error routes (spatial, temporal; into the layer below);
- ``wgrad``: the weight gradient (event by event, as a matrix product, from BPTT's history);
- ``update``: SGD, momentum, weight decay, fixed-point rounding, the apply sweep;
- ``loss``: the per-step loss and its gradient;
- ``loop``: the per-batch loop, ``run_batch``, in the schedule the rule chooses, and
  ``batch_work``, its work arrays.

Random numbers are drawn outside the kernels from a seeded ``numpy.random.Generator``.
``run_batch`` and ``batch_work`` are imported on first use, so the rules and the configuration
can read ``records`` without loading Numba.
"""


def __getattr__(name: str):
    if name in ("run_batch", "batch_work"):
        from chipsim.kernels import loop
        return getattr(loop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
