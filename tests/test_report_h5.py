"""HDF5 result file: round trip, atomic writes, bad files, vocabulary mapping."""

from __future__ import annotations

import dataclasses
import os

import h5py
import numpy as np
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
    assert np.array_equal(back.counts, result.counts)
    assert back.pricing.total_energy == result.pricing.total_energy
    assert _leftovers(tmp_path, "run.h5") == []


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
    assert empty.sample_counts.shape[0] == 0
    write_result(empty, tmp_path / "b.h5")
    assert_results_equal(empty, read_result(tmp_path / "b.h5"))


def test_file_layout_units_and_compression(tmp_path, result):
    path = tmp_path / "run.h5"
    write_result(result, path)
    with h5py.File(path, "r") as f:
        assert f.attrs["schema_version"] == SCHEMA_VERSION
        assert f.attrs["format"] == "chipsim-result"
        ds = f["counts/samples"]
        assert ds.dtype == np.int64 and ds.shape == result.sample_counts.shape
        assert ds.compression == "gzip"
        assert list(ds.attrs["actions"]) == list(ACTION_NAMES)
        assert list(ds.attrs["axes"]) == ["sample", "layer", "phase", "action"]
        assert np.array_equal(f["counts/total"][()], result.counts)
        assert f["energy/energy_per_action"].attrs["unit"] == "J"
        assert f["energy/time_per_action"].attrs["unit"] == "s"
        assert f["energy/static_power"].attrs["unit"] == "W"
        assert f["energy/energy"].attrs["unit"] == "J"
        assert f["config/workload_yaml"].attrs["path"] == result.workload_path
        assert f["config/workload_yaml"].asstr()[()] == result.workload_text


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
    monkeypatch.setattr(h5, "_write_samples", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_result(result, tmp_path / "run.h5")
    assert os.listdir(tmp_path) == []


def test_failed_write_keeps_older_file(tmp_path, result, monkeypatch):
    path = tmp_path / "run.h5"
    older = make_result(seed=99)
    write_result(older, path)
    before = path.read_bytes()
    monkeypatch.setattr(h5, "_write_epochs", _boom)
    with pytest.raises(RuntimeError):
        write_result(result, path)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path, "run.h5") == []
    assert_results_equal(older, read_result(path))


def test_inconsistent_result_refused_before_writing(tmp_path, result):
    bad = dataclasses.replace(result, sample_loss=result.sample_loss[:-1])
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
        del f["epochs/test_acc"]
    with pytest.raises(ChipsimError, match="epochs/test_acc") as ei:
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
        for name in ("counts/samples", "counts/total"):
            attrs = dict(f[name].attrs)
            data = remap(f[name][()])
            del f[name]
            ds = f.create_dataset(name, data=data)
            for k, v in attrs.items():
                ds.attrs[k] = v
            ds.attrs.create("actions", data=names, dtype=str_t)
        g = f["energy"]
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
    assert back.sample_counts.shape == result.sample_counts.shape
    assert back.sample_counts[..., gone].sum() == 0
    assert result.sample_counts[..., gone].sum() > 0          # the test can fail
    others = np.arange(N_ACTIONS) != gone
    assert np.array_equal(back.sample_counts[..., others], result.sample_counts[..., others])
    assert back.pricing.energy_per_action[gone] == 0.0
    assert back.pricing.time_per_action[gone] == 0.0
    assert not back.pricing.assumed[gone]
    assert np.all(back.pricing.energy[..., gone] == 0.0)
    assert np.array_equal(back.pricing.energy[..., others], result.pricing.energy[..., others])
    assert back.extra["report.missing_actions"] == "temporal_mac"


def test_file_with_unknown_action_drops_it_and_says_so(tmp_path, result):
    p = tmp_path / "newer_vocab.h5"
    write_result(result, p)
    _rewrite_actions(p, list(ACTION_NAMES), add=["photon_emitted"])
    back = read_result(p)
    assert np.array_equal(back.sample_counts, result.sample_counts)
    assert np.array_equal(back.pricing.energy, result.pricing.energy)
    assert back.extra["report.dropped_actions"] == "photon_emitted"
    assert "report.missing_actions" not in back.extra
