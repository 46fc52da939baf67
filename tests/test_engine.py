"""engine.run on the shipped workload: learning well above chance, interruption, bookkeeping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chipsim import counts as K
from chipsim import engine
from chipsim.config.profile import load_profile
from chipsim.config.workload import load_workload
from chipsim.result import SPLIT_TEST, SPLIT_TRAIN

WORKLOAD = Path(__file__).resolve().parents[1] / "workloads" / "nmnist.yaml"


@pytest.fixture(scope="module")
def full_run():
    """The README's main job (nmnist.yaml on anp_i), run once for the module."""
    return engine.run(load_workload(WORKLOAD), load_profile("anp_i"))


def test_learns_far_above_chance(full_run):
    r = full_run
    last = (r.sim.sample_split == SPLIT_TEST) & (r.sim.sample_epoch == r.sim.sample_epoch.max())
    acc = np.mean(r.sim.sample_pred[last] == r.sim.sample_label[last])
    assert last.sum() == 100
    assert acc >= 0.5, f"test accuracy {acc:.2f} on the 100 real test recordings (chance 0.10)"
    assert r.sim.epoch_test_acc[-1] == pytest.approx(acc)
    assert r.sim.epoch_train_acc[-1] > r.sim.epoch_train_acc[0]


def test_bookkeeping_is_consistent(full_run):
    r = full_run
    E = r.sim.epoch_test_acc.shape[0]
    assert (r.sim.sample_split == SPLIT_TRAIN).sum() == 100 * E
    for e in range(E):      # every training sample seen exactly once per epoch
        ids = r.sim.sample_index[(r.sim.sample_split == SPLIT_TRAIN) & (r.sim.sample_epoch == e)]
        assert sorted(ids) == list(range(100))
    # priced energy covers exactly the counted samples, and the breakdown sums to the total
    p = r.pricing
    assert p.sample_dynamic_energy.shape == (r.counts_priced.shape[0],)
    assert p.energy.sum() == pytest.approx(p.sample_dynamic_energy.sum(), rel=1e-12)
    # SOPs of a test sample == spikes into each layer x fan-out (a closed form on the counts)
    c = r.counts_priced[r.sim.sample_split == SPLIT_TEST]
    spikes_hidden = c[:, 0, K.Phase.INFERENCE, K.SPIKE]
    np.testing.assert_array_equal(c[:, 1, K.Phase.INFERENCE, K.SYNOP], spikes_hidden * r.sim.layer_neurons[1])


def test_interrupt_keeps_finished_samples():
    w = load_workload(WORKLOAD, {"training.epochs": "2", "dataset.train_samples": "20",
                                 "dataset.test_samples": "10"})
    seen = []

    def stop_after_25(p):
        seen.append(p)
        if len(seen) == 25:
            raise KeyboardInterrupt

    r = engine.run(w, load_profile("loihi"), progress=stop_after_25)
    assert r.sim.interrupted
    assert r.counts_priced.shape[0] == 25        # 20 train + 5 test batches of one sample
    assert np.isnan(r.sim.epoch_test_acc[1])
    assert r.pricing.sample_energy.shape == (25,)


def test_ws_folded_standardises_conv_kernels_and_scales_spiking_inputs():
    from chipsim.model.network import WS_SCALE, build_network
    w = load_workload(WORKLOAD.parent / "nmnist_conv.yaml", {"network.normalization": "ws_folded"})
    net = build_network(w, (2, 34, 34), 10, np.random.default_rng(0))
    raw = build_network(load_workload(WORKLOAD.parent / "nmnist_conv.yaml"), (2, 34, 34), 10,
                        np.random.default_rng(0))
    W0, W1 = net.weights[0], net.weights[1] / WS_SCALE
    for W, ls in ((W0, net.layers[0]), (W1, net.layers[1])):
        np.testing.assert_allclose(W.mean(axis=0), 0, atol=1e-12)
        # (W - mean) / sqrt(var * fan_in + eps): per-channel variance * fan_in ~ 1
        np.testing.assert_allclose(W.var(axis=0) * ls.fan_in, 1, rtol=1e-3)
    # the readout reads spikes: scaled by 2.74, not standardised
    np.testing.assert_allclose(net.weights[-1], raw.weights[-1] * WS_SCALE)


def test_conv_workload_at_least_as_good_as_dense(full_run):
    """nmnist_conv.yaml (25k shared weights) vs nmnist.yaml (592k): same 100 real test recordings."""
    conv = engine.run(load_workload(WORKLOAD.parent / "nmnist_conv.yaml"), load_profile("anp_i"))

    def last_test_acc(r):
        m = (r.sim.sample_split == SPLIT_TEST) & (r.sim.sample_epoch == r.sim.sample_epoch.max())
        return np.mean(r.sim.sample_pred[m] == r.sim.sample_label[m])

    assert last_test_acc(conv) >= last_test_acc(full_run) > 0.5
    assert conv.sim.layer_names[:2] == ("conv1", "conv2")


def test_throughput_and_real_time_factor(full_run):
    from chipsim.data.datasets import load_nmnist
    r = full_run
    test = r.sim.sample_split == SPLIT_TEST
    dur = load_nmnist(None, "test", 10).durations_s[r.sim.sample_index[test]]
    assert np.all((dur > 0.29) & (dur < 0.32))          # N-MNIST recordings span ~300 ms
    t = r.pricing.sample_time[test]
    assert r.cost.throughput_test == pytest.approx(1 / t.mean(), rel=1e-12)
    assert r.cost.real_time_factor_test == pytest.approx(np.mean(t / dur), rel=1e-12)


def test_a_pooling_layer_without_room_is_refused_clearly():
    """11x9 -> conv k3 s2 p1 (6x5) -> avgpool 2 (3x2) -> conv k2 (2x1) -> maxpool 2: no room.
    A ValueError naming the pool and the map (it was numpy's OverflowError from a fan-in of 0)."""
    from chipsim.model.network import Network
    ops = [dict(kind="conv", channels=4, kernel=3, stride=2, padding=1), dict(kind="avgpool", size=2),
           dict(kind="conv", channels=4, kernel=2), dict(kind="maxpool", size=2)]
    with pytest.raises(ValueError, match="maxpool 2 does not fit the 2x1 map of conv2"):
        Network.build((11, 9, 3), True, ops, 10, True, np.random.default_rng(0))
