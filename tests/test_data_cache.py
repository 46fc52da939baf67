"""The frame cache: a hit returns the same data without rebuilding; a stale key or a corrupt
file is rebuilt; nothing half-written is left."""

from __future__ import annotations

import numpy as np
import pytest

from chipsim.data.cache import cache_dir, cached
from chipsim.data.framed import FramedDataset


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CHIPSIM_CACHE", str(tmp_path / "cache"))


def _builder(calls, seed=0):
    def build():
        calls.append(1)
        rng = np.random.default_rng(seed)
        return FramedDataset("toy", "a toy set", (rng.random((4, 3, 2, 5, 5)) < 0.3).astype(np.uint8),
                             np.arange(4, dtype=np.int64), ("a", "b", "c", "d"), 4, (5, 5, 2),
                             durations_s=np.array([0.1, 0.2, 0.3, 0.4]), skipped=("bad.aedat",))
    return build


def test_hit_returns_the_same_data_without_rebuilding():
    calls = []
    a, s1 = cached({"dataset": "toy", "T": 3}, _builder(calls))
    b, s2 = cached({"dataset": "toy", "T": 3}, _builder(calls))
    assert (s1, s2) == ("built", "hit") and len(calls) == 1
    np.testing.assert_array_equal(a.frames, b.frames)
    assert b.sample_ids == a.sample_ids and b.skipped == ("bad.aedat",)
    np.testing.assert_array_equal(b.durations_s, a.durations_s)
    assert not list(cache_dir().glob("*.partial"))


def test_a_different_key_or_a_corrupt_file_rebuilds():
    calls = []
    cached({"dataset": "toy", "T": 3}, _builder(calls))
    _, s = cached({"dataset": "toy", "T": 4}, _builder(calls))        # other framing: new entry
    assert s == "built" and len(calls) == 2
    for f in cache_dir().glob("toy-*.h5"):
        f.write_bytes(b"not an hdf5 file")                             # corrupt every entry
    ds, s = cached({"dataset": "toy", "T": 3}, _builder(calls))
    assert s == "built" and len(calls) == 3 and ds.frames.shape == (4, 3, 2, 5, 5)
    _, s = cached({"dataset": "toy", "T": 3}, _builder(calls))
    assert s == "hit"


def test_cache_off():
    calls = []
    _, s = cached({"dataset": "toy"}, _builder(calls), enabled=False)
    assert s == "off" and not cache_dir().exists()


def _warnings(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.strip()]


def test_cache_path_is_a_regular_file_warns_once_and_runs_without(tmp_path, monkeypatch, capsys):
    spot = tmp_path / "not_a_dir"
    spot.write_text("a user's file where the cache should be\n")
    monkeypatch.setenv("CHIPSIM_CACHE", str(spot))
    calls = []
    for T in (3, 4, 3):
        ds, s = cached({"dataset": "toy", "T": T}, _builder(calls))
        assert s == "off" and ds.frames.shape == (4, 3, 2, 5, 5)
    assert len(calls) == 3
    lines = _warnings(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith("chipsim: warning:"), lines
    assert "CHIPSIM_CACHE" in lines[0] and str(spot) in lines[0]
    assert spot.read_text() == "a user's file where the cache should be\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_dir"]


def test_cache_under_a_regular_file_warns_once(tmp_path, monkeypatch, capsys):
    spot = tmp_path / "file"
    spot.write_text("x")
    monkeypatch.setenv("CHIPSIM_CACHE", str(spot / "cache"))
    calls = []
    assert cached({"dataset": "toy"}, _builder(calls))[1] == "off"
    assert cached({"dataset": "toy"}, _builder(calls))[1] == "off"
    lines = _warnings(capsys.readouterr().err)
    assert len(lines) == 1 and "CHIPSIM_CACHE" in lines[0]
