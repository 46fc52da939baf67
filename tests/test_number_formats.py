"""On-chip fixed-point formats: weights, membrane state and traces stay on their grids, weight
updates are rounded stochastically (unbiased), and the run is deterministic for a seed."""

from __future__ import annotations

import numpy as np
import pytest

from chipsim.kernels.update import on_grid, round_sr
from tests.helpers import neuron, small_problem, trainer

BITS = dict(weight_bits=8, state_bits=16, trace_bits=12)


def _on_grid(a, q):
    k = a / q
    return np.allclose(k, np.round(k), rtol=0, atol=1e-6)


@pytest.mark.parametrize("rule", ["sltt", "ottt_o", "ottt_a", "bptt"])
def test_values_stay_on_their_grids(rule):
    frames, labels, net, inp = small_problem(seed=3, bias=True)
    nrn, _ = neuron("ottt")
    tr = trainer(rule, net, nrn, T=6, lr=0.2)
    tr.set_number_format(BITS)
    for W, q, lim in zip(net.weights, tr.fmt.qw, tr.fmt.limw):
        assert _on_grid(W, q)                       # the initial weights are rounded too
    for i in range(3):
        tr.train_batch(inp, inp.ptr[i:i + 1], labels[i:i + 1])
    for W, b, q, lim in zip(net.weights, net.biases, tr.fmt.qw, tr.fmt.limw):
        assert q == lim / 2 ** 7
        assert _on_grid(W, q) and _on_grid(b, q)
        assert W.min() >= -lim and W.max() <= lim - q
    qv = tr.fmt.qv
    assert qv == 4.0 / 2 ** 15
    assert all(_on_grid(v, qv) for v in tr.v)
    if rule.startswith("ottt"):
        qt = tr.fmt.qtr
        assert qt == (1 / (1 - 0.5)) / 2 ** 12
        assert all(_on_grid(t, qt) for t in tr.traces if t.size)


def test_fixed_point_changes_learning_but_float_does_not():
    out = []
    for fmt in (None, BITS, BITS):
        frames, labels, net, inp = small_problem(seed=5)
        nrn, _ = neuron("ottt")
        tr = trainer("sltt", net, nrn, T=6, lr=0.2, seed=11)
        tr.set_number_format(fmt)
        for i in range(3):
            tr.train_batch(inp, inp.ptr[i:i + 1], labels[i:i + 1])
        out.append(net.weights[0].copy())
    assert not np.array_equal(out[0], out[1])          # the format is in effect
    np.testing.assert_array_equal(out[1], out[2])      # and deterministic for the seed


def test_stochastic_rounding_is_unbiased_and_rounding_is_to_nearest():
    q, lim = 0.25, 8.0
    state = np.array([12345], dtype=np.uint64)
    x = 1.0 + 0.3 * q                                   # 30 % of the way to the next step
    ys = np.array([round_sr(x, q, lim, state) for _ in range(20000)])
    assert set(np.unique(ys)) == {1.0, 1.25}
    # the mean is x: 30 % of the draws round up (binomial sd 0.0032)
    assert abs(np.mean(ys == 1.25) - 0.3) < 0.015
    assert on_grid(1.0 + 0.6 * q, q, lim, 0.5) == 1.25 and on_grid(1.0 + 0.4 * q, q, lim, 0.5) == 1.0
    assert on_grid(100.0, q, lim, 0.5) == lim - q and on_grid(-100.0, q, lim, 0.5) == -lim   # saturation
    assert round_sr(x, 0.0, lim, state) == x          # q = 0: floating point, nothing drawn


def test_footprint_follows_the_chip_widths():
    from pathlib import Path
    from chipsim import engine
    from chipsim.config.profile import load_profile
    from chipsim.config.workload import load_workload
    wl = Path(__file__).resolve().parents[1] / "workloads" / "nmnist.yaml"
    small = {"training.epochs": "1", "dataset.train_samples": "2", "dataset.test_samples": "2",
             "training.number_format": "chip"}
    r = engine.run(load_workload(wl, small), load_profile("anp_i"))
    params = 2312 * 256 + 256 * 10 + 10            # weights and the readout bias
    assert r.sim.footprint_bytes == (params * 8 + 256 * 16) // 8    # 8-bit weights, 16-bit state
    assert "fixed point" in r.sim.number_format
