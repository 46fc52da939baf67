"""trainer_bytes: the trainer's memory computed from the network's shape, without allocating,
equals what Trainer(...) and run_batch actually allocate (issue 11, part 1)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from chipsim.learning.trainer import trainer_bytes
from chipsim.model.network import Network, Topology
from tests.helpers import neuron, trainer

CONV_OPS = [{"kind": "conv", "channels": 4, "kernel": 3, "padding": 1},
            {"kind": "dropout", "p": 0.2}, {"kind": "maxpool", "size": 2},
            {"kind": "conv", "channels": 6, "kernel": 3, "stride": 2},
            {"kind": "avgpool", "size": 2}, {"kind": "dense", "units": 12}]
DENSE_OPS = [{"kind": "dense", "units": 40}, {"kind": "dropout", "p": 0.1},
             {"kind": "dense", "units": 24}]

CASES = [  # rule, ops, T, B, momentum, extra trainer arguments
    ("ottt_o", DENSE_OPS[:1], 6, 1, 0.0, {}),
    ("ottt_o", DENSE_OPS, 6, 3, 0.9, {}),
    ("ottt_a", CONV_OPS, 5, 2, 0.0, {"first_layer_input": "trace"}),
    ("sltt", CONV_OPS, 7, 1, 0.5, {"k": 2}),
    ("bptt", DENSE_OPS, 8, 1, 0.0, {}),
    ("bptt", CONV_OPS, 5, 3, 0.9, {}),
    ("tbptt_local", CONV_OPS, 8, 2, 0.0, {"window": 4, "block": 1}),
]


def _arrays(tr):
    """Every array the trainer owns (not the network's weight arenas, not views)."""
    out = [a for a in tr.state if isinstance(a, np.ndarray)]
    out += list(tr.grads) + [tr.layout, tr.net_rec.pops, tr.net_infer.pops]
    out += [tr.fmt.qw, tr.fmt.limw, tr.fmt.rs]
    out += [a for a in tr.neurons if isinstance(a, np.ndarray)]     # the neuron record
    out += [tr.params.fb]                                           # DFA's feedback (or empty)
    # each owns its memory: no view into another array; the state and accumulators are
    # cache-line aligned views (arrays.zeros_aligned) of a buffer of their own, at most a
    # line longer
    for a in out:
        assert a.base is None or (a.base.base is None and a.base.dtype == np.uint8
                                  and a.base.ndim == 1 and a.nbytes <= a.base.nbytes
                                  <= a.nbytes + 64), a.base
    return out


def _build(rule, ops, T, B, momentum, extra, dtype=np.float64):
    block = extra.get("block")
    args = ((12, 12, 2), True, ops, 5, True)
    net = Network.build(*args, np.random.default_rng(0), dtype=dtype, block=block)
    topo = Network.plan(*args, block=block)
    nrn, _ = neuron()
    # once before measuring: the first trainer of a process starts Numba's threading layer
    # (imports whose allocations are not the trainer's)
    trainer(rule, net.copy(), nrn, T=T, B=B, momentum=momentum, **extra)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tr = trainer(rule, net, nrn, T=T, B=B, momentum=momentum, **extra)
        allocated = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return net, topo, tr, allocated


@pytest.mark.parametrize("rule,ops,T,B,momentum,extra", CASES)
def test_trainer_bytes_equal_what_the_trainer_allocates(rule, ops, T, B, momentum, extra):
    net, topo, tr, allocated = _build(rule, ops, T, B, momentum, extra)
    assert isinstance(topo, Topology) and topo.layers == tuple(net.layers)
    need = trainer_bytes(topo, tr.rule, tr.optimizer, T, B, np.float64, workers=tr.workers)
    assert need["buffers"] == sum(a.nbytes for a in _arrays(tr))
    # and what tracemalloc saw the constructor allocate: the arrays plus small Python objects
    assert need["buffers"] <= allocated <= need["buffers"] + 64 * 1024
    assert need["counts"] == 2 * B * T * len(net.layers) * 2 * 33 * 8      # 33 actions


@pytest.mark.parametrize("rule,ops,T,B,momentum,extra", CASES)
def test_scratch_bytes_equal_what_run_batch_allocates(rule, ops, T, B, momentum, extra):
    from chipsim.kernels.loop import _scratch
    from chipsim.kernels.records import ROUTE_TEMPORAL
    net, topo, tr, _ = _build(rule, ops, T, B, momentum, extra)
    for workers in (1, 3):
        temporal = tr.rule.route == ROUTE_TEMPORAL
        scr, stk = _scratch(tr.layout, tr.params, T, tr.fused, temporal, workers, B,
                                min(T, tr.window) if temporal else 1)
        arrays = list(scr) + list(stk)
        assert all(isinstance(a, np.ndarray) for a in arrays)
        assert all(a.shape[0] == workers for a in scr)          # a row per worker
        need = trainer_bytes(topo, tr.rule, tr.optimizer, T, B, np.float64, workers=workers)
        assert need["scratch"] == sum(a.nbytes for a in arrays)


def test_float32_and_a_large_network_are_sized_without_allocating():
    ops = [{"kind": "dense", "units": 1_000_000}]
    topo = Network.plan((34, 34, 2), True, ops, 10, True)
    net, _, tr, _ = _build("ottt_a", DENSE_OPS, 4, 1, 0.0, {}, dtype=np.float32)
    tracemalloc.start()
    try:
        need = trainer_bytes(topo, tr.rule, tr.optimizer, 10, 4, np.float32)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20
    # ottt_a at batch 4: a gradient accumulator as large as the weights (2312 x 10**6 float32)
    assert need["buffers"] > 2312 * 10**6 * 4
