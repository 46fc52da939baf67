"""CIFAR10-DVS, DVS128 Gesture and SHD loaders on files the tests write in each format."""

from __future__ import annotations

import numpy as np
import pytest

from chipsim.data.load import load_dataset
from chipsim.data.events import EVENT_DTYPE, EventStream
from chipsim.data.eventsets import CIFAR10DVS_CLASSES
from chipsim.errors import ChipsimError
from tests.writers import write_aedat2, write_aedat3, write_shd


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CHIPSIM_CACHE", str(tmp_path / "cache"))


def _stream(rng, n=400, W=128, H=128, span=300_000):
    ev = np.zeros(n, EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, span, n))
    ev["x"] = rng.integers(0, W, n)
    ev["y"] = rng.integers(0, H, n)
    ev["p"] = rng.integers(0, 2, n)
    return EventStream(ev, (W, H, 2))


def _cifar(root, per_class=10):
    rng = np.random.default_rng(0)
    for cls in CIFAR10DVS_CLASSES:
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            write_aedat2(root / cls / f"cifar10_{cls}_{i}.aedat", _stream(rng))
    return root


def _gesture(root):
    """Users 1 (train) and 24 (test), each a recording of two labelled gestures (classes 1, 11)."""
    rng = np.random.default_rng(1)
    root.mkdir(parents=True)
    for user in (1, 24):
        s = _stream(rng, n=600, span=3_000_000)
        write_aedat3(root / f"user{user:02d}_fluorescent.aedat", s)
        (root / f"user{user:02d}_fluorescent_labels.csv").write_text(
            "class,startTime_usec,endTime_usec\n1,0,1000000\n11,1000000,2500000\n")
    return root


def _shd(root):
    """shd_train.h5 with three samples (labels 3, 7, 19) and shd_test.h5 with two (0, 12)."""
    rng = np.random.default_rng(2)
    root.mkdir(parents=True)
    samples = [(np.sort(rng.random(50)), rng.integers(0, 700, 50)) for _ in range(3)]
    write_shd(root / "shd_train.h5", samples, [3, 7, 19])
    samples = [(np.sort(rng.random(50)), rng.integers(0, 700, 50)) for _ in range(2)]
    write_shd(root / "shd_test.h5", samples, [0, 12])
    return root


def test_cifar10dvs_split_scaling_and_cache(tmp_path):
    root = _cifar(tmp_path / "c10")
    tr = load_dataset("cifar10dvs", root, "train", 5, "count", size=48)
    te = load_dataset("cifar10dvs", root, "test", 5, "count", size=48)
    assert len(tr) == 90 and len(te) == 10                      # 9:1 per class
    np.testing.assert_array_equal(np.bincount(tr.labels), [9] * 10)
    assert te.sample_ids[0] == "airplane/cifar10_airplane_9.aedat"   # the last 10 % per class
    assert tr.frames.shape == (90, 5, 2, 48, 48)
    assert tr.frames.reshape(90, -1).sum(axis=1).tolist() == [400] * 90   # every event framed
    again = load_dataset("cifar10dvs", root, "train", 5, "count", size=48)
    np.testing.assert_array_equal(again.frames, tr.frames)


def test_bad_file_named_or_skipped(tmp_path):
    root = _cifar(tmp_path / "c10", per_class=2)
    bad = root / "cat" / "cifar10_cat_0.aedat"
    bad.write_bytes(bad.read_bytes()[:-3])                        # truncated event
    with pytest.raises(ChipsimError) as e:
        load_dataset("cifar10dvs", root, "train", 5, size=32)
    assert "cifar10_cat_0.aedat" in str(e.value) and "offset" in str(e.value)
    ds = load_dataset("cifar10dvs", root, "train", 5, size=32, skip_bad=True)
    # listed with the reason (the byte offset of the truncated event)
    assert len(ds.skipped) == 1 and len(ds) == 9
    assert ds.skipped[0].startswith("cat/cifar10_cat_0.aedat: ") and "offset" in ds.skipped[0]


def test_dvsgesture_gestures_become_samples(tmp_path):
    root = _gesture(tmp_path / "gesture")
    tr = load_dataset("dvsgesture", root, "train", 4, size=32)
    te = load_dataset("dvsgesture", root, "test", 4, size=32)
    assert len(tr) == len(te) == 2 and tr.labels.tolist() == [0, 10]
    assert tr.n_classes == 11 and tr.frames.shape == (2, 4, 2, 32, 32)


def test_shd(tmp_path):
    root = _shd(tmp_path / "shd")
    ds = load_dataset("shd", root, "train", 6, "count")
    assert ds.frames.shape == (3, 6, 1, 1, 700) and ds.labels.tolist() == [3, 7, 19]
    assert ds.frames.reshape(3, -1).sum(axis=1).tolist() == [50, 50, 50]
