"""Mapping onto cores and chips, and the cycle-approximate step latency, against hand-worked
examples on a toy chip (round numbers, every figure chosen so the arithmetic is checkable)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

from chipsim import counts as K
from chipsim.errors import ChipsimError
from chipsim.hardware.cycle import communication, step_latency
from chipsim.hardware.ledger import price
from chipsim.hardware.mapping import map_layers
from chipsim.model.inputs import encode_frames
from chipsim.model.network import Network
from tests.helpers import neuron, trainer


def _q(v):
    return NS(value=v, assumed=False, describe=lambda: f"{v}")


def toy_chip(timing="asynchronous", npc=3, spc=12, cores=4, max_chips=1, clock=None, tick=None):
    """Times: synop 1 ns, active/idle neuron update 2/1 ns, hop 10 ns, chip message 100 ns,
    sync 5 ns, all else 0. Energies: synop 1 pJ, updates 2/1 pJ, hop 3 pJ, message 50 pJ.
    Static 1 mW per core."""
    e = {name: 0.0 for name in K.ACTION_NAMES}
    t = {name: 0.0 for name in K.ACTION_NAMES}
    e.update(synop=1e-12, neuron_update_active=2e-12, neuron_update_idle=1e-12, router_hop=3e-12,
             chip_message=50e-12)
    t.update(synop=1e-9, neuron_update_active=2e-9, neuron_update_idle=1e-9, router_hop=10e-9,
             chip_message=100e-9)
    arch = dict(cores=cores, neurons_per_core=npc, synapses_per_core=spc, mesh_width=2,
                mesh_height=cores // 2, max_chips=max_chips, shared_conv_kernels=0)
    return NS(name="toy", path="toy.yaml", text="name: toy", timing=timing, clock=None if clock is None else _q(clock),
              tick=None if tick is None else _q(tick), sync_time=_q(5e-9),
              architecture={k: _q(v) for k, v in arch.items()},
              energy={k: _q(v) for k, v in e.items()}, time={k: _q(v) for k, v in t.items()},
              included_in_sop=frozenset(), is_global=False, sop_energy_kind="incremental",
              static_power=_q(1e-3), static_power_scope="core")


def toy_net(hidden=3):
    """4 inputs -> `hidden` LIF (all weights 1: any input event makes every neuron spike) ->
    2 readout units."""
    net = Network.build_dense(4, True, [(hidden, False)], 2, False, np.random.default_rng(0))
    net.weights[0][:] = 1.0
    net.weights[1][:] = 1.0
    return net


# input events per step: 2, 0, 1  -> hidden spikes 3, 0, 3 (u = 2, 0 + 0.5 * 0 ... see below)
FRAMES = np.array([[[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]]], np.uint8)


def _run(net, chip):
    inp = encode_frames(FRAMES, True)
    nrn, _ = neuron("ottt")
    tr = trainer("sltt", net, nrn, T=3)
    tr.infer_batch(inp, inp.ptr, np.array([0]))
    steps = tr.last_step_counts.copy()
    m = map_network(net, chip)
    hops, msgs, smsg = communication(steps, np.diff(inp.ptr, axis=1), net.layers, m)
    lat = step_latency(steps, hops, m, chip, smsg, net.layers)
    steps[..., K.Phase.INFERENCE, K.ROUTER_HOP] = hops     # the counts the ledger prices
    steps[..., K.Phase.INFERENCE, K.CHIP_MESSAGE] = msgs
    return steps, m, lat


def map_network(net, chip, explicit=None, source=None):
    return map_layers(net.layers, chip, explicit, source=source)


def test_mapping_and_latency_by_hand_asynchronous():
    net, chip = toy_net(), toy_chip()
    steps, m, lat = _run(net, chip)
    # mapping: dense1 (3 neurons, 12 weights) fills core 0; readout (2 neurons, 6 weights) core 1
    assert [p.cores for p in m.layers] == [1, 1] and m.cores_used == 2 and m.chips_used == 1
    assert [p.first_core for p in m.layers] == [0, 1]
    # routing: input enters at core 0 (0 hops to core 0); dense1's spikes go core 0 -> core 1
    assert [p.hops_per_spike for p in m.layers] == [0, 1]
    # spikes: step 0: I = 2 -> u = 2 -> 3 spikes (v = 1); step 1: u = 0.5 -> none (v = .5);
    # step 2: u = 0.25 + 1 = 1.25 -> 3 spikes
    np.testing.assert_array_equal(steps[0, :, 0, K.Phase.INFERENCE, K.SPIKE], [3, 0, 3])
    np.testing.assert_array_equal(steps[0, :, 1, K.Phase.INFERENCE, K.ROUTER_HOP], [3, 0, 3])
    # per core: dense1 = 3 * events ns (synops) + 3 x 2 ns (active) or 3 x 1 ns (idle)
    #           readout = 2 * spikes ns + 2 x 2 ns (active) or 2 x 1 ns (idle)
    core0 = np.array([3 * 2 + 6, 0 + 3, 3 * 1 + 6]) * 1e-9       # 12, 3, 9 ns
    core1 = np.array([2 * 3 + 4, 0 + 2, 2 * 3 + 4]) * 1e-9       # 10, 2, 10 ns
    route = np.array([10, 0, 10]) * 1e-9                           # 1 hop when spikes flow
    expect = np.maximum(core0, core1) + route + 5e-9
    np.testing.assert_allclose(lat[0], expect, rtol=0, atol=1e-18)   # 27, 8, 25 ns
    # energy: synops (6+0+3 + 6+0+6) pJ, updates, hops 6 x 3 pJ; static 1 mW x 2 cores x time
    p = price(steps.sum(axis=1), chip, sample_time=lat.sum(axis=1), static_units=m.cores_used)
    dyn = (9 + 12) * 1e-12 + (3 * 2 + 3 * 1 + 3 * 2) * 1e-12 + (2 * 2 + 2 * 1 + 2 * 2) * 1e-12 + 6 * 3e-12
    assert p.sample_dynamic_energy[0] == pytest.approx(dyn, rel=1e-12)
    assert p.sample_static_energy[0] == pytest.approx(1e-3 * 2 * expect.sum(), rel=1e-12)


def test_clocked_and_tick_disciplines():
    net = toy_net()
    _, _, lat_c = _run(net, toy_chip(timing="clocked", clock=1e8))       # 10 ns cycles
    np.testing.assert_allclose(lat_c[0], np.array([30, 10, 30]) * 1e-9, atol=1e-18)
    _, _, lat_t = _run(net, toy_chip(timing="tick", tick=1e-6))          # the 1 us tick is the floor
    np.testing.assert_allclose(lat_t[0], [1e-6, 1e-6, 1e-6], atol=1e-18)


def test_one_neuron_too_many_spills_onto_a_second_core():
    net, chip = toy_net(hidden=4), toy_chip()       # 4 neurons, 3 per core, 12 weights per core
    steps, m, lat = _run(net, chip)
    # dense1: 3 neurons (12 weights) fill core 0, the 4th spills onto core 1; the readout
    # (2 neurons x 4 weights) shares core 1 (1 + 2 neurons, 4 + 8 weights: exactly full)
    assert [p.segments for p in m.layers] == [((0, 3), (1, 1)), ((1, 2),)]
    assert m.cores_used == 2 and m.neuron_utilisation == 1.0 and m.synapse_utilisation == 1.0
    assert m.layers[1].hops_per_spike == 1          # dense1's router (core 0) -> core 1
    # step 0: 2 input events, all 4 neurons spike. dense1's work = 2 x 4 synops x 1 ns +
    # 4 active updates x 2 ns = 16 ns, 3/4 on core 0 (12 ns) and 1/4 on core 1 (4 ns); the
    # readout's = 4 x 2 synops + 2 x 2 ns = 12 ns on core 1. Slowest core: 16 ns; + 1 hop x 10 ns
    # + sync 5 ns = 31 ns
    assert lat[0, 0] == pytest.approx(31e-9, abs=1e-18)


def test_too_large_for_the_chip_is_refused_or_tiled():
    net = toy_net(hidden=12)                      # 12 neurons -> 4 cores of 3 (48 weights: 4 cores)
    with pytest.raises(ChipsimError) as e:
        map_network(net, toy_chip())              # 4 + 2 readout (24 weights) = 6 cores > 4
    msg = str(e.value)
    assert "6 cores" in msg and "dense1 4" in msg and "readout 2" in msg and "1 chip" in msg
    m = map_network(net, toy_chip(max_chips=2))
    assert m.chips_used == 2 and m.cores_used == 6
    # the readout (cores 4, 5) is on chip 1: each spike of dense1 costs one chip message
    assert m.layers[1].chip_msgs_per_spike == 1
    # chips side by side along x: core 4 = chip 1 (2, 0), core 5 = (3, 0); from core 0: 2 + 3 hops
    assert m.layers[1].hops_per_spike == 5 and m.layers[1].max_route == 3


def test_an_explicit_mapping_overrides_the_automatic_one():
    net, chip = toy_net(hidden=4), toy_chip()
    m = map_network(net, chip, {"dense1": [2, 3], "readout": [1]})
    assert [p.segments for p in m.layers] == [((2, 2), (3, 2)), ((1, 2),)]
    assert m.cores_used == 3 and m.core_ids == (1, 2, 3)     # core 0 holds nothing
    # the readout's input comes from dense1's first core, 2 = (0, 1); core 1 is (1, 0): 2 hops
    assert m.layers[1].hops_per_spike == 2
    with pytest.raises(ChipsimError) as e:       # 4 + 2 neurons on one core of 3
        map_network(net, chip, {"dense1": [0], "readout": [0]}, source="w.yaml")
    assert "core 0: 6 neurons (capacity 3)" in str(e.value) and "w.yaml" in str(e.value)
    with pytest.raises(ChipsimError) as e:
        map_network(net, chip, {"dense1": [0]}, source="w.yaml")
    assert "no cores for readout" in str(e.value)


def test_explicit_mapping_from_the_workload(tmp_path):
    from chipsim.cli import main
    from chipsim.report.h5 import read_result
    out = tmp_path / "m.h5"
    wl = str(__import__("pathlib").Path(__file__).resolve().parents[1] / "workloads" / "nmnist.yaml")
    assert main(["run", wl, "--profile", "loihi", "--out", str(out), "--quiet", "--no-plot",
                 "--set", "training.epochs=1", "--set", "dataset.train_samples=2",
                 "--set", "dataset.test_samples=2",
                 "--set", "mapping={dense1: [0, 1, 2, 3, 4, 5], readout: [7]}"]) == 0
    m = read_result(out).cost.mapping
    assert m.cores_per_layer() == "dense1:6 readout:1"
    assert m.cores_used == 7 and m.core_ids == (0, 1, 2, 3, 4, 5, 7)    # core 6 holds nothing


def test_static_power_is_charged_for_the_cores_that_hold_neurons():
    """An explicit mapping on cores 1 and 3 of the toy chip (1 mW per core) powers two cores:
    static energy = 1 mW x 2 x the modelled time (not cores 0..3, which was charged before)."""
    from chipsim.hardware.cost import Coster
    from chipsim.result import SPLIT_TEST
    net, chip = toy_net(), toy_chip()
    inp = encode_frames(FRAMES, True)
    nrn, _ = neuron("ottt")
    tr = trainer("sltt", net, nrn, T=3)
    tr.infer_batch(inp, inp.ptr, np.array([0]))
    coster = Coster(chip, net.layers, 3, {"dense1": [1], "readout": [3]}, "w.yaml")
    assert coster.mapping.cores_used == 2 and coster.mapping.core_ids == (1, 3)
    coster.observe(tr.last_step_counts, np.diff(inp.ptr, axis=1), SPLIT_TEST)
    sim = NS(sample_counts=tr.last_step_counts.sum(axis=1), sample_split=np.array([SPLIT_TEST]),
             sample_duration=np.array([np.nan]), time_steps=3)
    c = coster.finish(sim)
    assert c.pricing.static_power == pytest.approx(2e-3)
    assert c.pricing.sample_static_energy[0] == pytest.approx(2e-3 * c.pricing.sample_time[0],
                                                                rel=1e-12)


# ------------------------------------------------------------------ spike messages, overlap, sync
def message_chip(overlap: bool, tiles_table=()):
    """The toy chip with message figures: a message costs 7 pJ and 4 ns to send, 0 pJ and
    3 ns to receive; optionally a core overlaps messages with neuron updates, and a barrier
    by tiles in use."""
    chip = toy_chip(npc=2, spc=12, cores=4)
    chip.energy["spike_message"] = _q(7e-12)
    chip.time["spike_message"] = _q(4e-9)
    chip.time["message_receive"] = _q(3e-9)
    if overlap:
        chip.architecture["message_overlap"] = _q(1)
    chip.sync_by_tiles = tiles_table
    chip.sync_for = lambda tiles: [t for k, t in tiles_table if k <= tiles][-1]
    chip.arch = lambda name: {"cores_per_router": 1, "cores": 4}[name]
    return chip


def test_spike_messages_one_per_destination_core_and_their_times():
    """4 inputs -> 3 LIF (cores 0 and 1: 2 + 1 neurons) -> 2 readout (core 2). A spike of the
    input goes to dense1's 2 cores (2 messages), a dense1 spike to the readout's core (1)."""
    net = toy_net()
    for overlap in (False, True):
        chip = message_chip(overlap)
        steps, _, _ = _run(net, chip)
        m = map_network(net, chip, {"dense1": [0, 1], "readout": [2]})
        assert [p.segments for p in m.layers] == [((0, 2), (1, 1)), ((2, 2),)]
        inp = encode_frames(FRAMES, True)
        hops, msgs, smsg = communication(steps, np.diff(inp.ptr, axis=1), net.layers, m)
        np.testing.assert_array_equal(smsg[0, :, 0], [2 * 2, 0, 1 * 2])    # input events x 2
        np.testing.assert_array_equal(smsg[0, :, 1], [3, 0, 3])            # dense1 spikes x 1
        lat = step_latency(steps, hops, m, chip, smsg, net.layers)
        # per step and core (ns): message side = synops + receives, neuron side = updates +
        # sends (dense1's messages are sent by its cores, 2/3 and 1/3 of them)
        ev, sp = np.array([2, 0, 1]), np.array([3, 0, 3])
        act = ev > 0
        upd0 = np.where(act, 2 * 2, 2 * 1)          # core 0: 2 dense1 neurons
        upd1 = np.where(act, 1 * 2, 1 * 1)          # core 1: 1 dense1 neuron
        upd2 = np.where(sp > 0, 2 * 2, 2 * 1)       # core 2: the 2 readout units
        msg0 = ev * 2 * 1 + ev * 3                  # 2 neurons' synops + one receive per event
        msg1 = ev * 1 * 1 + ev * 3
        msg2 = sp * 2 * 1 + sp * 3
        send0, send1 = sp * 4 * 2 / 3, sp * 4 * 1 / 3
        n0, n1, n2 = upd0 + send0, upd1 + send1, upd2
        comb = np.maximum if overlap else np.add
        core = np.max([comb(msg0, n0), comb(msg1, n1), comb(msg2, n2)], axis=0) * 1e-9
        hop = m.layers[1].max_route * 10e-9
        expect = core + np.where(sp > 0, hop, 0.0) + 5e-9
        np.testing.assert_allclose(lat[0], expect, rtol=1e-12, atol=1e-18)


def test_sync_by_tiles_follows_the_tiles_in_use():
    net = toy_net()
    table = ((1, 100e-9), (2, 200e-9), (3, 300e-9))
    chip = message_chip(False, table)
    steps, _, _ = _run(net, chip)
    m = map_network(net, chip, {"dense1": [0, 1], "readout": [2]})
    assert len(set(m.core_ids)) == 3                 # 3 cores, one router each: 3 tiles
    hops = communication(steps, np.array([[2, 0, 1]]), net.layers, m)[0]
    lat = step_latency(steps, hops, m, chip)
    chip2 = message_chip(False, ((1, 100e-9), (4, 400e-9)))
    lat2 = step_latency(steps, hops, m, chip2)
    np.testing.assert_allclose(lat2[0] - lat[0], (100e-9 - 300e-9) * np.ones(3), atol=1e-18)
