"""The data-set registry (chipsim/data/registry.py): every entry is reachable through the
engine's loading path and gives what it declares; the configuration checks networks against
the registry's sensors; input_side is the one rule for the frames' side."""

from __future__ import annotations

import re

import pytest

from chipsim.config.workload import load_workload
from chipsim.data.framing import framed_shape
from chipsim.data.load import count_splits, load_splits
from chipsim.data.registry import (DATASETS, N_CLASSES, REGISTRY, RESIZE_KINDS, SENSORS, get,
                                   input_side)
from chipsim.errors import ChipsimError
from tests.test_data_eventsets import _cifar, _gesture, _shd

#: Recordings the tests write for each data set (None: they ship with chipsim). A new registry
#: entry needs one here, or test_every_entry_loads_through_the_engine_path fails for it.
RECORDINGS = {"nmnist": None, "cifar10dvs": _cifar, "dvsgesture": _gesture, "shd": _shd}

WORKLOAD = """\
name: t
dataset:
  name: {name}
  root: {root}
  time_steps: 3
  framing: count
  train_samples: 2
  test_samples: 1
network:
  hidden:
{layers}
neuron:
  preset: ottt
rule:
  name: ottt_a
training:
  epochs: 1
  optimizer: sgd
  lr: 0.1
  seed: 1
"""


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CHIPSIM_CACHE", str(tmp_path / "cache"))


def _workload(tmp_path, name, root=None, layers=("{kind: dense, units: 4}",)):
    p = tmp_path / "w.yaml"
    p.write_text(WORKLOAD.format(name=name, root="null" if root is None else root,
                                 layers="\n".join(f"    - {ls}" for ls in layers)))
    return load_workload(p)


def test_the_derived_tables_are_the_entries():
    assert DATASETS == tuple(REGISTRY) == ("nmnist", "cifar10dvs", "dvsgesture", "shd")
    for name, entry in REGISTRY.items():
        assert entry.name == name and get(name.upper()) is entry
        assert SENSORS[name] == entry.sensor and N_CLASSES[name] == entry.n_classes
        assert entry.resize in RESIZE_KINDS and callable(entry.loader)
        assert "\n" not in entry.title and re.search(r"\(.+(19|20)\d\d\)$", entry.title), entry.title
    assert [n for n, e in REGISTRY.items() if e.shipped] == ["nmnist"]
    assert [n for n, e in REGISTRY.items() if e.standin is not None] == ["cifar10dvs"]
    with pytest.raises(ChipsimError) as ei:
        get("mnist")
    assert "'mnist'" in str(ei.value) and all(n in str(ei.value) for n in DATASETS)


@pytest.mark.parametrize("name", DATASETS)
def test_every_entry_loads_through_the_engine_path(tmp_path, name):
    assert name in RECORDINGS, f"no test recordings for registry entry {name!r}"
    write = RECORDINGS[name]
    root = None if write is None else write(tmp_path / name)
    entry = REGISTRY[name]
    w = _workload(tmp_path, name, root)
    train, test = load_splits(w.dataset, w.path)
    P, H, W = entry.sensor
    for ds in (train, test):
        assert ds.name == name and ds.n_classes == entry.n_classes
        assert ds.sensor_size == (W, H, P)                 # the reader's sensor, (W, H, P)
        assert ds.input_shape == (P,) + input_side(name)
        assert ds.frames.shape[1] == 3 and ds.frames.sum() > 0
        assert ((ds.labels >= 0) & (ds.labels < entry.n_classes)).all()
    assert (len(train), len(test)) == (2, 1)
    # the memory check's count, made without reading a recording (a limit may apply after
    # framing: DVS128 Gesture frames the whole split)
    counted = count_splits(w.dataset, w.path)
    assert all(c >= n for c, n in zip(counted, (2, 1)))
    assert tuple(min(c, n) for c, n in zip(counted, (2, 1))) == (2, 1)


@pytest.mark.parametrize("name", DATASETS)
def test_every_entry_counts_its_samples_without_reading_them(tmp_path, name, monkeypatch):
    write = RECORDINGS[name]
    root = None if write is None else write(tmp_path / name)
    w = _workload(tmp_path, name, root)
    w = type(w).model_construct(**{**dict(w), "dataset": w.dataset.model_copy(
        update={"train_samples": None, "test_samples": None})})
    counted = count_splits(w.dataset, w.path)
    import chipsim.data.aedat as aedat_mod
    import chipsim.data.nmnist as nmnist_mod
    for mod, fn in ((aedat_mod, "_read_file"), (nmnist_mod, "read_nmnist")):
        monkeypatch.setattr(mod, fn, lambda *a, **k: pytest.fail("a recording was read"))
    count_splits(w.dataset, w.path)
    monkeypatch.undo()
    monkeypatch.setenv("CHIPSIM_CACHE", str(tmp_path / "cache"))
    train, test = load_splits(w.dataset, w.path)
    assert counted == (len(train), len(test))


@pytest.mark.parametrize("name", DATASETS)
def test_the_configuration_checks_networks_against_the_registry_sensor(tmp_path, name):
    P, _, _ = REGISTRY[name].sensor
    h, w = input_side(name)
    pool = min(h, w) + 1                              # one more than the input map's side
    root = None if RECORDINGS[name] is None else tmp_path
    with pytest.raises(ChipsimError) as ei:
        _workload(tmp_path, name, root, (f"{{kind: avgpool, size: {pool}}}",
                                         "{kind: dense, units: 4}"))
    msg = str(ei.value)
    assert ei.value.field == "network.hidden.0.size"
    assert f"avgpool {pool} does not fit its {h}x{w} input map" in msg
    assert f"from {name} frames of {P}x{h}x{w}" in msg


def test_input_side_pooled_scaled_and_kept():
    # pooled (N-MNIST 34x34): ceil(34 / k), and a size must be one some factor k reaches
    assert input_side("nmnist") == (34, 34)
    assert input_side("nmnist", None, 3) == (12, 12) == framed_shape((34, 34, 2), 1, 3)[2:]
    assert input_side("nmnist", 17) == (17, 17) and input_side("nmnist", 9) == (9, 9)
    with pytest.raises(ChipsimError) as ei:
        input_side("nmnist", 30)
    assert ei.value.field == "dataset.size" and "cannot be pooled" in str(ei.value)
    assert "[34, 17, 12, 9, 7, 6, 5, 4]" in str(ei.value)
    # scaled (DVS128): any size; downscale k rounds up like the framing
    for name in ("cifar10dvs", "dvsgesture"):
        assert input_side(name) == (128, 128)
        assert input_side(name, None, 3) == (43, 43) == framed_shape((128, 128, 2), 1, 3)[2:]
        assert input_side(name, 30) == (30, 30) and input_side(name, None, 5) == (26, 26)
    # kept (SHD): the sensor's 1x700, and neither field
    assert input_side("shd") == (1, 700)
    for kwargs, field in (({"size": 1}, "dataset.size"), ({"downscale": 2}, "dataset.downscale")):
        with pytest.raises(ChipsimError) as ei:
            input_side("shd", **kwargs)
        assert ei.value.field == field and "keeps its 1x700 sensor" in str(ei.value)


def test_the_standin_count_is_what_it_makes():
    from chipsim.data.standin import count_standin, load_cifar10dvs_standin
    for split in ("train", "test"):
        ds = load_cifar10dvs_standin(split, 2, size=8, per_class=3)
        assert count_standin(split, per_class=3) == len(ds)
        assert count_standin(split, 4, per_class=3) == min(4, len(ds))
    assert count_standin("train") == 180 and count_standin("test") == 20
