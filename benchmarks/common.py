"""Shared pieces of the benchmark scripts: the reference networks of PERFORMANCE.md on the real
N-MNIST samples shipped with chipsim, and a timed batch-1 training loop."""

from __future__ import annotations

import time
from types import SimpleNamespace as NS

import numpy as np

from chipsim import counts as K
from chipsim.data.load import load_dataset
from chipsim.model.inputs import channels_last
from chipsim.learning import make_trainer
from chipsim.model.inputs import encode_frames
from chipsim.model.network import Network
from chipsim.model.neuron import NeuronParams

# PERFORMANCE.md: u = 0.5 v + I, threshold 1, soft reset detached, sigmoid surrogate alpha 4
OTTT_NEURON = NS(leak=0.5, threshold=1.0, decay_input=False, reset="soft", detach_reset=True,
                 heaviside_at_zero=1.0, surrogate="sigmoid", surrogate_alpha=4.0)

MLP = [dict(kind="dense", units=512, bias=False)]
CONV = [dict(kind="conv", channels=16, kernel=3, padding=1), dict(kind="avgpool", size=2),
        dict(kind="conv", channels=32, kernel=3, padding=1), dict(kind="avgpool", size=2)]

# SLTT's own neuron (algorithms.md §1): tau 1.1 (lambda = 1 - 1/1.1), soft reset, triangle surrogate
SLTT_NEURON = NS(leak=1.0 - 1.0 / 1.1, threshold=1.0, decay_input=False, reset="soft",
                 detach_reset=False, heaviside_at_zero=1.0, surrogate="triangle", surrogate_alpha=1.0)
NEURONS = {"ottt": OTTT_NEURON, "sltt": SLTT_NEURON}

BACKWARD_MACS = (K.ERROR_MAC, K.TEMPORAL_MAC, K.GRAD_AC, K.GRAD_MAC)

# docs/PERFORMANCE.md: the peers' training throughput at T=10 (samples/s; 2 cores, no GPU):
# (net, batch) -> PyTorch BPTT, snnTorch BPTT, SpikingJelly BPTT, SJ OTTT_A, SJ OTTT_O, SJ SLTT
PEERS = {
    ("mlp", 1): (92, 45, 214, 45, 63, 35),
    ("mlp", 32): (1142, 1090, 2126, 934, 936, 688),
    ("conv", 1): (130, 73, 134, 56, 42, 37),
    ("conv", 32): (275, 202, 351, 227, 235, 223),
}
_SJ = {"bptt": 2, "ottt_a": 3, "ottt_o": 4, "sltt": 5}


def target(net: str, batch: int, rule: str):
    """PERFORMANCE.md's target at T=10, or None: batch 1, 10x SpikingJelly's same rule (the mlp
    figures as PERFORMANCE.md states them); batch 32, 1.5x the fastest PyTorch peer of the same
    rule. Returns (samples/s, what it is)."""
    if rule not in _SJ or (net, batch) not in PEERS:
        return None
    p = PEERS[net, batch]
    if batch == 1:
        if net == "mlp":
            return {"ottt_o": 630, "ottt_a": 450, "sltt": 350, "bptt": 2100}[rule], "10x SJ"
        return 10 * p[_SJ[rule]], "10x SJ"
    best = max(p[:3]) if rule == "bptt" else p[_SJ[rule]]
    return 1.5 * best, "1.5x best peer"


def nmnist(T: int, dtype: str):
    ds = load_dataset("nmnist", None, "train", T, "binary", 1, None)
    return ds, encode_frames(channels_last(ds.frames), True, np.dtype(dtype))


def bench(ops, rule: str, T: int, dtype: str, min_time: float, batch: int = 1, window=None,
          block=None, k=None, data=None, neuron: str = "ottt"):
    """Train on the 100 real N-MNIST training samples for at least ``min_time`` seconds.

    Returns dict(sps (samples/s), state (learning state bytes), grad (gradient buffer bytes),
    bwd (backward MACs per sample), counts (per-sample counts, mean)).
    """
    ds, inp = data if data is not None else nmnist(T, dtype)
    rng = np.random.default_rng(0)
    net = Network.build((34, 34, 2), True, ops, 10, True, rng, gain=2.0, dtype=np.dtype(dtype),
                        block=block)
    spec = NS(k=k, trace_decay=None, first_layer_input="raw", window=window, block=block,
              target_window=None, update_skip=True)
    tr = make_trainer(rule, net, NeuronParams.from_spec(NEURONS[neuron]),
                      NS(kind="ce_mse", mse_weight=0.05, mse_target="onehot"),
                      NS(lr=0.05, momentum=0.0, weight_decay=0.0), spec, T, batch, rng)
    n = len(ds.labels)
    tr.train_batch(inp, inp.ptr[:batch], ds.labels[:batch])        # compile / warm the cache
    done, total = 0, None
    order = rng.permutation(n)
    t0 = time.perf_counter()
    while True:
        for i in range(0, n - batch + 1, batch):
            ids = order[i:i + batch]
            c = tr.train_batch(inp, inp.ptr[ids], ds.labels[ids])[2].sum(axis=0)
            total = c if total is None else total + c
            done += batch
        el = time.perf_counter() - t0
        if el >= min_time:
            break
    per = total / done
    bwd = sum(per[:, K.Phase.LEARNING, a].sum() for a in BACKWARD_MACS)
    return dict(sps=done / el, state=tr.learning_state_bytes, grad=tr.gradient_buffer_bytes,
                bwd=float(bwd), counts=per)
