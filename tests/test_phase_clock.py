"""The batch loop's phase clock (records.Stack.clock, Trainer.phase_cycles): the cycle counter
advances, and each phase is timed inside the one that holds it, on the routes and schedules
that time them (a conv net at batch 2: samples, BPTT's window, the weight gradients and their
batch-level products, the update), and each worker's own time in the products' phases inside
those phases."""

from __future__ import annotations

import platform

import numpy as np
import pytest

from chipsim.kernels.jit import kernel
from chipsim.kernels.sync import cycles
from chipsim.learning.trainer import layout
from tests.helpers import neuron, trainer
from tests.test_threads import T, _problem

X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


@kernel
def _spin(n):
    """(counter before, counter after, a sum) around n additions."""
    c0 = cycles()
    s = 0.0
    for i in range(n):
        s += i * 0.5
    return c0, cycles(), s


@pytest.mark.skipif(not X86, reason="the counter is rdtsc on x86; other targets may have none")
def test_cycles_advance_with_work():
    a0, a1, _ = _spin(10)
    b0, b1, _ = _spin(2_000_000)
    assert 0 < a0 <= a1 <= b0 < b1
    assert b1 - b0 > a1 - a0        # two million additions take longer than ten


@pytest.mark.skipif(not X86, reason="the counter is rdtsc on x86; other targets may have none")
@pytest.mark.parametrize("rule, workers", [("bptt", 1), ("sltt", 2), ("ottt_o", 1)])
def test_phases_nest_in_the_batch(rule, workers):
    net, labels, inp = _problem("conv", 4)
    nrn, _ = neuron("ottt")
    tr = trainer(rule, net, nrn, T=T, B=2, lr=0.3, workers=workers)
    assert tr.phase_cycles() == {}                  # no batch run, no work arrays
    tr.train_batch(inp, inp.ptr[:2], labels[:2])
    c = tr.phase_cycles(reset=True)
    layers = {k: v for k, v in c.items() if k.startswith("wgrad_layer")}
    assert list(layers) == [f"wgrad_layer{l}" for l in range(layout(net).shape[0])]
    assert c["batch"] > 0 and c["samples"] > 0 and c["wgrads"] > 0 and c["apply"] > 0
    top = c["samples"] + c["window"] + c["wgrads"] + c["history"] + c["apply"]
    assert top <= c["batch"]
    # the batch-level products (a convolution at batch > 1) inside the weight gradients, and
    # every layer's weight gradient inside them too
    assert c["stack"] > 0 and c["products"] > 0 and c["tail"] > 0
    assert c["stack"] + c["products"] + c["tail"] <= c["wgrads"]
    assert 0 < sum(layers.values()) <= c["wgrads"]
    assert (c["window"] > 0) == (rule == "bptt")    # only BPTT has a window's error pass
    # each worker's own time in the batch-level products' phases: inside the phase, which
    # the calling thread times around the whole parallel job; some of it in every phase
    per_worker = {k: v for k, v in c.items() if "_w" in k}
    assert sorted(per_worker) == sorted(f"{p}_w{w}" for p in ("stack", "products", "tail")
                                        for w in range(workers))
    for p in ("stack", "products", "tail"):
        mine = [c[f"{p}_w{w}"] for w in range(workers)]
        assert sum(mine) > 0 and all(0 <= v <= c[p] for v in mine), (p, mine, c[p])
    assert all(v == 0 for v in tr.phase_cycles().values())     # reset
    tr.train_batch(inp, inp.ptr[2:4], labels[2:4])
    again = tr.phase_cycles()
    assert again["batch"] > 0 and np.all([again[k] >= 0 for k in again])
