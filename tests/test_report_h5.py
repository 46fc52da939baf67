"""HDF5 result file: round trip, atomic writes, bad files, vocabulary mapping."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import h5py
import numpy as np

from chipsim import counts as K
import pytest

from chipsim.counts import ACTION_NAMES, N_ACTIONS, Action
from chipsim.errors import ChipsimError
from chipsim.report import h5
from chipsim.report.h5 import SCHEMA_VERSION, read_result, write_result
from report_fixtures import assert_results_equal, make_result


@pytest.fixture(scope="module")
def result():
    return make_result(seed=7)


def _leftovers(directory, name):
    return [p for p in os.listdir(directory) if p != name]


# ---------------------------------------------------------------- round trip

def test_round_trip_every_field(tmp_path, result):
    path = tmp_path / "run.h5"
    write_result(result, path)
    back = read_result(path)
    assert_results_equal(result, back)
    # derived views agree too
    assert np.array_equal(back.counts_priced, result.counts_priced)
    assert back.pricing.total_energy == result.pricing.total_energy
    assert _leftovers(tmp_path, "run.h5") == []


def test_packed_chunks_write_the_same_file_contents(tmp_path, result):
    """A file written from chunks compressed once (pack_simulation, for the points of a sweep
    that share a simulation) holds the same arrays, stored the same way, as a plain write;
    chunks are whole-chunk padded (the sample count is not a multiple of the chunk rows)."""
    sim = dataclasses.replace(result.sim, step_counts=np.random.default_rng(3).integers(
        0, 5, size=(result.sim.sample_counts.shape[0], result.sim.time_steps,
                    *result.sim.sample_counts.shape[1:])).astype(np.int64))
    sim = dataclasses.replace(sim, sample_counts=sim.step_counts.sum(axis=1))
    r = dataclasses.replace(result, sim=sim)
    plain, packed = tmp_path / "plain.h5", tmp_path / "packed.h5"
    write_result(r, plain)
    old = h5._CHUNK_BYTES
    try:        # small chunks: several per array, the last one partial
        h5._CHUNK_BYTES = 3 * sim.step_counts[0].nbytes
        write_result(r, plain)
        write_result(r, packed, packed=h5.pack_simulation(sim))
        n_chunks = -(-sim.step_counts.shape[0] // 3)
        assert len(h5.pack_simulation(sim)["steps"][2]) == n_chunks >= 2
    finally:
        h5._CHUNK_BYTES = old
    assert_results_equal(read_result(plain), read_result(packed))
    with h5py.File(plain) as a, h5py.File(packed) as b:
        for name in ("samples", "steps", "input_events"):
            da, db = a["simulation/counts"][name], b["simulation/counts"][name]
            assert np.array_equal(da[...], db[...]), name
            assert (da.chunks, da.compression, da.shuffle) == (db.chunks, db.compression, db.shuffle)
            assert dict(da.attrs) .keys() == dict(db.attrs).keys()
    # packed chunks of another simulation are not used: the array is written as it is
    other = dataclasses.replace(sim, step_counts=sim.step_counts[:-1], sample_counts=sim.sample_counts[:-1])
    assert h5.pack_simulation(other)["steps"][0] != sim.step_counts.shape


def test_round_trip_detects_a_difference(tmp_path, result):
    """The equality helper itself can fail: a changed float in one sample is caught."""
    path = tmp_path / "run.h5"
    write_result(result, path)
    back = read_result(path)
    back.pricing.sample_time[3] = np.nextafter(back.pricing.sample_time[3], 1.0)
    with pytest.raises(AssertionError, match="sample_time"):
        assert_results_equal(result, back)


def test_round_trip_global_sop_profile_and_no_samples(tmp_path):
    r = make_result(seed=3, kind="global_at_operating_point")
    write_result(r, tmp_path / "a.h5")
    assert_results_equal(r, read_result(tmp_path / "a.h5"))
    empty = make_result(seed=4, n_epochs=0)
    assert empty.sim.sample_counts.shape[0] == 0
    write_result(empty, tmp_path / "b.h5")
    assert_results_equal(empty, read_result(tmp_path / "b.h5"))


def test_file_layout_units_and_compression(tmp_path, result):
    path = tmp_path / "run.h5"
    write_result(result, path)
    with h5py.File(path, "r") as f:
        assert f.attrs["schema_version"] == SCHEMA_VERSION
        assert f.attrs["format"] == "chipsim-result"
        ds = f["simulation/counts/samples"]
        assert ds.dtype == np.int64 and ds.shape == result.sim.sample_counts.shape
        assert ds.compression == "gzip"
        assert list(ds.attrs["actions"]) == list(ACTION_NAMES)
        assert list(ds.attrs["axes"]) == ["sample", "layer", "phase", "action"]
        assert np.array_equal(f["simulation/counts/total"][()], result.sim.sample_counts.sum(axis=0))
        assert f["cost/energy/energy_per_action"].attrs["unit"] == "J"
        assert f["cost/energy/time_per_action"].attrs["unit"] == "s"
        assert f["cost/energy/static_power"].attrs["unit"] == "W"
        assert f["cost/energy/energy"].attrs["unit"] == "J"
        assert f["simulation/workload_yaml"].attrs["path"] == result.sim.workload_path
        assert f["simulation/workload_yaml"].asstr()[()] == result.sim.workload_text
        assert f["cost/profile_yaml"].asstr()[()] == result.cost.profile_text
        # the layer geometry that ran, so re-pricing never rebuilds the network
        assert [str(k) for k in f["simulation/layers/kind"].asstr()[()]] == \
            [ls.kind for ls in result.sim.layers]
        assert f["simulation/layers/out"].shape == (len(result.sim.layers), 3)
        assert f["cost/communication/router_hops"].shape == result.cost.router_hops.shape


# ---------------------------------------------------------------- atomicity

def _boom(*args, **kwargs):
    raise RuntimeError("disk on fire")


def test_failed_write_leaves_nothing(tmp_path, result, monkeypatch):
    monkeypatch.setattr(h5, "_write_energy", _boom)   # after counts were written
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_result(result, tmp_path / "run.h5")
    assert os.listdir(tmp_path) == []


def test_interrupted_write_leaves_nothing(tmp_path, result, monkeypatch):
    def interrupt(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(h5, "_write_cost", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_result(result, tmp_path / "run.h5")
    assert os.listdir(tmp_path) == []


def test_failed_write_keeps_older_file(tmp_path, result, monkeypatch):
    path = tmp_path / "run.h5"
    older = make_result(seed=99)
    write_result(older, path)
    before = path.read_bytes()
    monkeypatch.setattr(h5, "_write_mapping", _boom)
    monkeypatch.setattr(h5, "_write_cost", _boom)
    with pytest.raises(RuntimeError):
        write_result(result, path)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path, "run.h5") == []
    assert_results_equal(older, read_result(path))


def test_inconsistent_result_refused_before_writing(tmp_path, result):
    bad = dataclasses.replace(result, sim=dataclasses.replace(result.sim,
                                                              sample_loss=result.sim.sample_loss[:-1]))
    with pytest.raises(ChipsimError, match="sample_loss"):
        write_result(bad, tmp_path / "run.h5")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- bad files

def test_missing_file(tmp_path):
    p = tmp_path / "nope.h5"
    with pytest.raises(ChipsimError, match="no such file") as ei:
        read_result(p)
    assert str(p) in str(ei.value)


def test_text_file_named_h5(tmp_path):
    p = tmp_path / "fake.h5"
    p.write_text("this is not HDF5\n")
    with pytest.raises(ChipsimError, match="not an HDF5 file") as ei:
        read_result(p)
    assert str(p) in str(ei.value)


def test_newer_schema_version(tmp_path, result):
    p = tmp_path / "future.h5"
    write_result(result, p)
    with h5py.File(p, "r+") as f:
        f.attrs["schema_version"] = np.int64(99)
    with pytest.raises(ChipsimError, match="schema_version") as ei:
        read_result(p)
    msg = str(ei.value)
    assert str(p) in msg and "99" in msg and f"{SCHEMA_VERSION}" in msg


def test_hdf5_but_not_a_result(tmp_path):
    p = tmp_path / "other.h5"
    with h5py.File(p, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(ChipsimError, match="not a chipsim result") as ei:
        read_result(p)
    assert str(p) in str(ei.value)


def test_missing_dataset_named(tmp_path, result):
    p = tmp_path / "cut.h5"
    write_result(result, p)
    with h5py.File(p, "r+") as f:
        del f["simulation/epochs/test_acc"]
    with pytest.raises(ChipsimError, match="simulation/epochs/test_acc") as ei:
        read_result(p)
    assert str(p) in str(ei.value)


# ---------------------------------------------------------------- vocabulary mapping

def _rewrite_actions(path, keep: list[str], add: list[str] = ()):
    """Rewrite the file as if written by a chipsim whose vocabulary is ``keep + add``."""
    cur = list(ACTION_NAMES)
    idx = [cur.index(a) for a in keep]
    names = np.array(keep + list(add), dtype=object)
    str_t = h5py.string_dtype()

    def remap(a):
        extra = np.full((*a.shape[:-1], len(add)), 7, dtype=a.dtype)
        return np.concatenate([a[..., idx], extra], axis=-1)

    with h5py.File(path, "r+") as f:
        for name in ("simulation/counts/samples", "simulation/counts/total"):
            attrs = dict(f[name].attrs)
            data = remap(f[name][()])
            del f[name]
            ds = f.create_dataset(name, data=data)
            for k, v in attrs.items():
                ds.attrs[k] = v
            ds.attrs.create("actions", data=names, dtype=str_t)
        g = f["cost/energy"]
        g.attrs.create("actions", data=names, dtype=str_t)
        for name in ("energy_per_action", "time_per_action", "included_in_sop", "assumed",
                     "energy"):
            data = remap(g[name][()])
            attrs = dict(g[name].attrs)
            del g[name]
            g[name] = data
            for k, v in attrs.items():
                g[name].attrs[k] = v


def test_file_lacking_an_action_reads_zeros(tmp_path, result):
    p = tmp_path / "old.h5"
    write_result(result, p)
    gone = int(Action.TEMPORAL_MAC)
    keep = [a for a in ACTION_NAMES if a != ACTION_NAMES[gone]]
    _rewrite_actions(p, keep)
    back = read_result(p)
    c, c0 = back.sim.sample_counts, result.sim.sample_counts
    assert c.shape == c0.shape
    assert c[..., gone].sum() == 0
    assert c0[..., gone].sum() > 0          # the test can fail
    others = np.arange(N_ACTIONS) != gone
    assert np.array_equal(c[..., others], c0[..., others])
    assert back.pricing.energy_per_action[gone] == 0.0
    assert back.pricing.time_per_action[gone] == 0.0
    assert not back.pricing.assumed[gone]
    assert np.all(back.pricing.energy[..., gone] == 0.0)
    assert np.array_equal(back.pricing.energy[..., others], result.pricing.energy[..., others])
    assert back.missing_actions == ("temporal_mac",)


def test_file_with_unknown_action_drops_it_and_says_so(tmp_path, result):
    p = tmp_path / "newer_vocab.h5"
    write_result(result, p)
    _rewrite_actions(p, list(ACTION_NAMES), add=["photon_emitted"])
    back = read_result(p)
    assert np.array_equal(back.sim.sample_counts, result.sim.sample_counts)
    assert np.array_equal(back.pricing.energy, result.pricing.energy)
    assert back.dropped_actions == ("photon_emitted",)
    assert back.missing_actions == ()


# ---------------------------------------------------------------- schema version 1

V1 = Path(__file__).parent / "data" / "fixtures" / "result_v1_nmnist_loihi.h5"


def test_reads_a_version_1_file_as_the_same_run_made_today(tmp_path):
    """chipsim 0.1 wrote tests/data/fixtures/result_v1_nmnist_loihi.h5 (README there); today's
    reader rebuilds the geometry and moves the communication out of the counts, and the
    numbers equal the same run made today."""
    from chipsim import engine
    from chipsim.config.profile import load_profile
    from chipsim.config.workload import load_workload
    old = read_result(V1)
    with h5py.File(V1, "r") as f:
        assert int(f.attrs["schema_version"]) == 1
    assert old.notes and "schema-version-1" in old.notes[0]
    root = Path(__file__).parents[1]
    # chipsim 0.1 priced loihi as reading W^T in place; today's loihi keeps a transposed copy
    # (hardware_profiles/README.md): the same chip without the copy gives 0.1's numbers
    in_place = dataclasses.replace(load_profile("loihi"), error_route="transposable")
    now = engine.run(load_workload(root / "workloads" / "nmnist.yaml", dict(old.sim.overrides)),
                     in_place)
    assert [ls.name for ls in old.sim.layers] == [ls.name for ls in now.sim.layers]
    assert old.sim.layers == now.sim.layers
    # the reads of W^T for the error were weight reads in 0.1 (an action of their own since)
    assert "mem_read_weight_transposed" in old.missing_actions
    assert now.sim.sample_counts[..., K.MEM_READ_WEIGHT_TRANSPOSED].sum() > 0

    def folded(c):
        c = c.copy()
        c[..., K.MEM_READ_WEIGHT] += c[..., K.MEM_READ_WEIGHT_TRANSPOSED]
        c[..., K.MEM_READ_WEIGHT_TRANSPOSED] = 0
        return c

    assert np.array_equal(old.sim.sample_counts, folded(now.sim.sample_counts))
    assert np.array_equal(old.sim.step_counts, folded(now.sim.step_counts))
    assert np.array_equal(old.cost.router_hops, now.cost.router_hops)
    # chipsim 0.1 did not count spike messages (an action added since): the rest is equal
    assert old.cost.spike_messages is None and now.cost.spike_messages is not None
    assert set(old.missing_actions) >= {"spike_message", "message_receive"}
    cut = K.SPIKE_MESSAGE
    assert np.array_equal(old.counts_priced[..., :cut], folded(now.counts_priced)[..., :cut])
    assert not old.counts_priced[..., cut:].any()
    assert np.array_equal(old.pricing.sample_dynamic_energy, now.pricing.sample_dynamic_energy)
    assert np.array_equal(old.pricing.sample_time, now.pricing.sample_time)
    assert old.cost.mapping == now.cost.mapping
    # and it is written back as today's version
    write_result(old, tmp_path / "v2.h5")
    # (the actions it lacked are written as the zeros they were read as)
    assert_results_equal(dataclasses.replace(old, missing_actions=()), read_result(tmp_path / "v2.h5"))


# ---------------------------------------------------------------- the final weights

@pytest.fixture(scope="module")
def trained():
    from chipsim import engine
    from chipsim.config.profile import load_profile
    from chipsim.config.workload import load_workload
    root = Path(__file__).resolve().parents[1]
    w = load_workload(root / "workloads" / "nmnist_conv.yaml",
                      {"training.epochs": "1", "dataset.train_samples": "3",
                       "dataset.test_samples": "2", "training.dtype": "float32"})
    return engine.run(w, load_profile("anp_i"))


def test_final_weights_round_trip_bit_for_bit(tmp_path, trained):
    path = tmp_path / "run.h5"
    write_result(trained, path)
    back = read_result(path)
    assert back.sim.weights is not None and len(back.sim.weights) == len(trained.sim.layers)
    for ls, (W, b), (W0, b0) in zip(trained.sim.layers, back.sim.weights, trained.sim.weights):
        assert W.dtype == np.float32 and W.shape == tuple(ls.weight_shape)
        assert np.array_equal(W, W0) and np.array_equal(b, b0)
    assert back.sim.neurons is not None and len(back.sim.neurons) == len(
        [ls for ls in trained.sim.layers if ls.spiking])
    for ls, n in zip([ls for ls in trained.sim.layers if ls.spiking], back.sim.neurons):
        assert n["lam"].shape == (ls.n_out,) and n["lam"].dtype == np.float64
    assert_results_equal(trained, back)         # neurons included, bit for bit
    with h5py.File(path) as f:
        assert f["simulation"].attrs["weights_note"].startswith("kept: ")


def test_weights_over_the_limit_are_left_out_and_the_file_says_so(tmp_path, trained, monkeypatch):
    monkeypatch.setattr(h5, "WEIGHTS_MAX_BYTES", 1000)
    path = tmp_path / "run.h5"
    write_result(trained, path)
    back = read_result(path)
    assert back.sim.weights is None
    with h5py.File(path) as f:
        assert "would exceed" in f["simulation"].attrs["weights_note"]
        assert "weights" not in f["simulation"]


def test_weights_of_the_wrong_shape_are_refused_naming_the_field(tmp_path, trained):
    path = tmp_path / "run.h5"
    write_result(trained, path)
    name = trained.sim.layers[0].name
    with h5py.File(path, "r+") as f:
        del f[f"simulation/weights/{name}/b"]
        f[f"simulation/weights/{name}/b"] = np.zeros(3, np.float32)
    with pytest.raises(ChipsimError) as e:
        read_result(path)
    assert f"simulation/weights/{name}/b" in str(e.value) and "shape" in str(e.value)
