"""chipsim price: a finished run re-priced on another chip without simulating again."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chipsim import counts as K
import pytest

from chipsim.cli import main
from chipsim.config.profile import load_profile
from chipsim.hardware.ledger import price
from chipsim.hardware.cost import reprice
from chipsim.report.h5 import read_result

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--set", "training.epochs=1", "--set", "dataset.train_samples=6",
         "--set", "dataset.test_samples=4", "--quiet", "--no-plot"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("reprice")
    out = {}
    for prof in ("anp_i", "loihi"):
        p = d / f"{prof}.h5"
        assert main(["run", str(ROOT / "workloads" / "nmnist_conv.yaml"), "--profile", prof,
                     "--out", str(p), *SMALL]) == 0
        out[prof] = p
    return out


def test_step_counts_stored_and_sum_to_sample_counts(runs):
    r = read_result(runs["anp_i"])
    assert r.sim.step_counts.shape[:2] == (10, 10)
    np.testing.assert_array_equal(r.sim.step_counts.sum(axis=1), r.sim.sample_counts)
    assert r.sim.input_events.shape == (10, 10) and r.sim.input_events.sum() > 0


def test_repricing_on_the_same_chip_changes_nothing(runs):
    r = read_result(runs["loihi"])
    again = reprice(r, load_profile("loihi"))
    np.testing.assert_array_equal(again.counts_priced, r.counts_priced)
    np.testing.assert_allclose(again.pricing.sample_energy, r.pricing.sample_energy, rtol=1e-12)
    np.testing.assert_allclose(again.pricing.sample_time, r.pricing.sample_time, rtol=1e-12)
    assert again.cost.throughput_test == pytest.approx(r.cost.throughput_test, rel=1e-12)


def test_repriced_energy_equals_a_fresh_run_on_that_chip(runs, tmp_path):
    """anp_i -> loihi by re-pricing == running on loihi directly (same seed: same counts)."""
    moved = reprice(read_result(runs["anp_i"]), load_profile("loihi"))
    direct = read_result(runs["loihi"])
    np.testing.assert_array_equal(moved.counts_priced, direct.counts_priced)
    np.testing.assert_allclose(moved.pricing.sample_energy, direct.pricing.sample_energy, rtol=1e-12)
    np.testing.assert_allclose(moved.pricing.sample_time, direct.pricing.sample_time, rtol=1e-12)
    # the modelled throughput and real-time factor are the new chip's (they were the old one's)
    for k in ("throughput_train", "throughput_test", "real_time_factor_train", "real_time_factor_test"):
        assert getattr(moved.cost, k) == pytest.approx(getattr(direct.cost, k), rel=1e-12), k
    anp = read_result(runs["anp_i"])
    assert moved.cost.throughput_test != pytest.approx(anp.cost.throughput_test, rel=1e-3)
    # and energy is the ledger's price of the counts on that chip
    led = price(moved.counts_priced, load_profile("loihi"), sample_time=moved.pricing.sample_time,
                static_units=moved.cost.mapping.cores_used)
    np.testing.assert_allclose(moved.pricing.sample_dynamic_energy, led.sample_dynamic_energy, rtol=1e-12)


def test_price_command_writes_a_new_file(runs, capsys):
    src = runs["anp_i"]
    assert main(["price", str(src), "--profile", "generic_45nm", "--no-plot"]) == 0
    new = src.with_name("anp_i_generic_45nm.h5")
    r = read_result(new)
    assert r.cost.profile_name == "generic_45nm" and r.cost.repriced_from == "anp_i"
    assert "results:" in capsys.readouterr().out
    assert main(["price", str(src), "--profile", "generic_45nm", "--out", str(src)]) == 2


def test_repricing_uses_the_geometry_that_ran(tmp_path):
    """The results file stores the layers that ran: re-pricing maps them as they were (the
    command-line overrides changed the network), never rebuilding them from the sensor."""
    out = tmp_path / "edge.h5"
    assert main(["run", str(ROOT / "workloads" / "nmnist.yaml"), "--profile", "loihi", "--out", str(out),
                 "--set", "dataset.downscale=4", "--set", "network.hidden=[{kind: dense, units: 16}]",
                 *SMALL]) == 0
    r = read_result(out)
    again = reprice(r, load_profile("loihi"))
    assert again.cost.mapping == r.cost.mapping
    np.testing.assert_allclose(again.pricing.sample_time, r.pricing.sample_time, rtol=1e-12)


def test_repricing_a_run_at_its_dataset_size(tmp_path, monkeypatch):
    """cifar10dvs.yaml frames at dataset.size 32: re-pricing on the run's own chip maps the
    32x32 network that ran and reproduces the run. (chipsim 0.1 rebuilt a 128x128 one, whose
    readout's 16,384 inputs do not fit a Loihi core, and refused.)"""
    monkeypatch.setenv("CHIPSIM_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "c.h5"
    assert main(["run", str(ROOT / "workloads" / "cifar10dvs.yaml"), "--profile", "loihi",
                 "--out", str(out), "--set", "dataset.time_steps=3", "--set", "training.epochs=1",
                 "--set", "dataset.train_samples=2", "--set", "dataset.test_samples=1", "--quiet",
                 "--no-plot"]) == 0
    r = read_result(out)
    assert r.sim.layers[0].out[:2] == (16, 16)                # 32x32 input, stride 2
    again = reprice(r, load_profile("loihi"))
    assert again.cost.mapping == r.cost.mapping
    np.testing.assert_array_equal(again.step_counts_priced, r.step_counts_priced)
    np.testing.assert_allclose(again.pricing.sample_time, r.pricing.sample_time, rtol=1e-12)
    np.testing.assert_allclose(again.pricing.sample_energy, r.pricing.sample_energy, rtol=1e-12)


def test_step_counts_not_kept_beyond_the_memory_limit(tmp_path, monkeypatch):
    from chipsim import simulation
    monkeypatch.setattr(simulation, "STEP_COUNTS_MAX_BYTES", 1000)
    out = tmp_path / "big.h5"
    assert main(["run", str(ROOT / "workloads" / "nmnist.yaml"), "--profile", "loihi", "--out", str(out),
                 *SMALL]) == 0
    r = read_result(out)
    assert r.sim.step_counts is None and r.sim.step_counts_note.startswith("not kept")
    again = reprice(r, load_profile("generic_45nm"))        # energy still re-prices
    assert "no per-step counts" in again.cost.time_model and again.cost.mapping is None
    assert "not recounted" in again.cost.communication_note
    # the same counts and communication, without loihi's transposed copy of the readout's
    # weights (its updates counted twice there; generic_45nm reads W^T in place)
    want = r.counts_priced.copy()
    m = r.cost.transposed_copy
    assert m is not None and m.tolist() == [False, True]
    for a in (K.WEIGHT_UPDATE_ISSUED, K.MEM_WRITE_WEIGHT):
        want[:, m, K.LEARN, a] //= 2
    np.testing.assert_array_equal(again.counts_priced, want)
