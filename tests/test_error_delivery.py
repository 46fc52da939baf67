"""How each chip delivers the error (chipsim/hardware/delivery.py): every shipped profile states
its route with a source; a rule that needs a W^T the chip cannot read is refused (run and
re-pricing); a transposed copy doubles the copied layers' update writes (and their time) and
its bytes are reported; the HDF5 file keeps which layers are copied."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chipsim import counts as K
from chipsim import engine
from chipsim.config.profile import ERROR_ROUTES, load_profile
from chipsim.config.workload import load_workload
from chipsim.errors import ChipsimError
from chipsim.hardware.cost import reprice
from chipsim.hardware.ledger import price_tables

ROOT = Path(__file__).resolve().parents[1]
WORKLOAD = ROOT / "workloads" / "nmnist.yaml"
TWO = "[{kind: dense, units: 24}, {kind: dense, units: 12}]"
ONE = "[{kind: dense, units: 24}]"


def _run(rule, profile, hidden=TWO, **extra):
    over = {"rule.name": rule, "training.epochs": "1", "dataset.train_samples": "4",
            "dataset.test_samples": "2", "dataset.downscale": "4", "network.hidden": hidden,
            **extra}
    return engine.run(load_workload(WORKLOAD, over), load_profile(profile))


@pytest.fixture(scope="module")
def sltt_loihi():
    return _run("sltt", "loihi")


@pytest.fixture(scope="module")
def sltt_anp():
    return _run("sltt", "anp_i")


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "hardware_profiles").glob("*.yaml")))
def test_every_shipped_profile_states_its_error_route(name):
    p = load_profile(name)
    assert p.error_route in ERROR_ROUTES
    assert "does not say" not in p.error_route_source            # stated, not the default
    assert "(measured" in p.error_route_source or "(derived" in p.error_route_source or \
        "(assumed: " in p.error_route_source                    # assumed carries its reason


def test_reckon_refuses_a_transposed_read_of_a_hidden_matrix():
    with pytest.raises(ChipsimError) as e:
        _run("sltt", "reckon")
    msg = str(e.value)
    assert "rule.name" in msg and "dense2" in msg and "readout_only" in msg
    assert "dense1" not in msg.split("weights of")[1].split(",")[0]


@pytest.mark.parametrize("rule", ["ottt_o", "dfa", "eprop"])
def test_reckon_runs_what_it_can_deliver(rule):
    """One hidden layer: OTTT's error crosses the readout only (ReckOn's learning signal); DFA
    and e-prop cross no weight matrix, at any depth."""
    r = _run(rule, "reckon", hidden=ONE if rule == "ottt_o" else TWO)
    c = r.sim.sample_counts.sum(axis=0)[:, K.LEARN]
    if rule == "ottt_o":
        assert c[:-1, K.MEM_READ_WEIGHT_TRANSPOSED].sum() == 0 and c[-1, K.MEM_READ_WEIGHT_TRANSPOSED] > 0
    else:
        assert c[:, K.MEM_READ_WEIGHT_TRANSPOSED].sum() == 0
    assert not np.any(r.cost.transposed_copy) and r.cost.copy_bytes == 0


def test_repricing_onto_a_chip_that_cannot_read_wt_is_refused(sltt_anp):
    with pytest.raises(ChipsimError, match="readout_only"):
        reprice(sltt_anp, load_profile("reckon"))


def test_a_transposed_copy_doubles_the_copied_layers_updates(sltt_loihi):
    """loihi keeps a transposed copy of every matrix the error crosses (dense2 and the readout,
    not dense1): those layers' issued updates and weight writes are counted twice in what is
    priced, the simulation's own counts are untouched, and the copy's bytes are the copied
    synapses at Loihi's weight width."""
    r = sltt_loihi
    np.testing.assert_array_equal(r.cost.transposed_copy, [False, True, True])
    sim = r.sim.sample_counts[:, :, K.LEARN]
    priced = r.counts_priced[:, :, K.LEARN]
    for a in (K.WEIGHT_UPDATE_ISSUED, K.MEM_WRITE_WEIGHT):
        np.testing.assert_array_equal(priced[:, 0, a], sim[:, 0, a])
        np.testing.assert_array_equal(priced[:, 1:, a], 2 * sim[:, 1:, a])
    other = [a for a in range(K.N_ACTIONS) if a not in (K.WEIGHT_UPDATE_ISSUED, K.MEM_WRITE_WEIGHT,
                                                      K.ROUTER_HOP, K.CHIP_MESSAGE,
                                                      K.SPIKE_MESSAGE, K.MESSAGE_RECEIVE)]
    np.testing.assert_array_equal(priced[..., other], sim[..., other])
    assert sim[:, 1:, K.WEIGHT_UPDATE_ISSUED].sum() > 0
    bits = int(load_profile("loihi").precision["weight_bits"].value)
    syn = sum(l.synapses for l in r.sim.layers[1:])
    assert r.cost.copy_bytes == (syn * bits + 7) // 8
    # the energy the copy adds: its extra updates at the profile's learning-phase prices
    e, phase_e = price_tables(load_profile("loihi"))[:2]
    extra = sum(sim[:, 1:, a].sum() * phase_e[K.LEARN, a] for a in (K.WEIGHT_UPDATE_ISSUED,
                                                                   K.MEM_WRITE_WEIGHT))
    assert extra > 0
    assert r.pricing.energy.sum() == pytest.approx(
        (r.sim.sample_counts.sum(axis=0) * phase_e[None]).sum() + extra
        + (r.counts_priced.sum(axis=0) - r.sim.sample_counts.sum(axis=0))[:, K.INFER].astype(float)
        @ phase_e[K.INFER], rel=1e-12)


def test_transposable_chips_add_nothing(sltt_anp):
    assert not np.any(sltt_anp.cost.transposed_copy) and sltt_anp.cost.copy_bytes == 0
    sim = sltt_anp.sim.sample_counts[:, :, K.LEARN]
    np.testing.assert_array_equal(sltt_anp.counts_priced[:, :, K.LEARN], sim)


def test_the_copy_survives_the_results_file(sltt_loihi, tmp_path):
    from chipsim.report.h5 import read_result, write_result
    path = tmp_path / "r.h5"
    write_result(sltt_loihi, path)
    back = read_result(path)
    np.testing.assert_array_equal(back.cost.transposed_copy, sltt_loihi.cost.transposed_copy)
    assert back.cost.copy_bytes == sltt_loihi.cost.copy_bytes
    np.testing.assert_array_equal(back.counts_priced, sltt_loihi.counts_priced)


def test_feedback_rules_need_no_copy():
    r = _run("dfa", "loihi")
    assert not np.any(r.cost.transposed_copy) and r.cost.copy_bytes == 0


REC = "[{kind: recurrent, units: 16}]"


def test_a_recurrent_layer_crosses_w_rec_backwards_only_under_bptt():
    """BPTT carries the error back through W_rec^T (to the step before): ReckOn refuses it;
    SLTT detaches the recurrence, so its error crosses only the readout, which ReckOn reads;
    loihi copies W_rec under BPTT and not under SLTT."""
    with pytest.raises(ChipsimError, match="rec1_rec"):
        _run("bptt", "reckon", hidden=REC)
    r = _run("sltt", "reckon", hidden=REC)
    c = r.sim.sample_counts.sum(axis=0)[:, K.LEARN, K.MEM_READ_WEIGHT_TRANSPOSED]
    assert [ls.name for ls in r.sim.layers] == ["rec1", "readout", "rec1_rec"]
    assert c.tolist()[0] == 0 and c[1] > 0 and c[2] == 0
    b = _run("bptt", "loihi", hidden=REC)
    assert b.cost.transposed_copy.tolist() == [False, True, True]
    assert b.sim.sample_counts.sum(axis=0)[2, K.LEARN, K.MEM_READ_WEIGHT_TRANSPOSED] > 0
    s = _run("sltt", "loihi", hidden=REC)
    assert s.cost.transposed_copy.tolist() == [False, True, False]


def test_a_chip_that_delivers_no_error_refuses_every_wt_rule():
    """route none: no error crosses any weight matrix, the readout's included: SLTT is refused
    even on one hidden layer; DFA and e-prop run; inference (rule none) runs."""
    import dataclasses
    chip = dataclasses.replace(load_profile("anp_i"), error_route="none")
    w = load_workload(WORKLOAD, {"rule.name": "sltt", "training.epochs": "1",
                                 "dataset.train_samples": "2", "dataset.test_samples": "1",
                                 "dataset.downscale": "4", "network.hidden": ONE})
    with pytest.raises(ChipsimError, match="no weight matrix") as e:
        engine.run(w, chip)
    assert "readout" in str(e.value)
    for rule in ("dfa", "eprop", "none"):
        w = load_workload(WORKLOAD, {"rule": f"{{name: {rule}}}", "training.epochs": "1",
                                     "dataset.train_samples": "2", "dataset.test_samples": "1",
                                     "dataset.downscale": "4", "network.hidden": ONE})
        r = engine.run(w, chip)
        assert r.sim.sample_counts[..., K.MEM_READ_WEIGHT_TRANSPOSED].sum() == 0
