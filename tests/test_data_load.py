"""The engine's data stage (chipsim/data/load.py): the frames a workload gets have the side its
configuration was validated against; refusals before any work; the stand-in and its banner."""

from __future__ import annotations

import numpy as np
import pytest

from chipsim.config.workload import load_workload
from chipsim.data.load import check_dataset, load_splits, standin_banner, uses_standin
from chipsim.data.registry import input_side
from chipsim.model.network import build_network
from chipsim.errors import ChipsimError
from tests.test_data_eventsets import _cifar, _gesture

WORKLOAD = """\
name: t
dataset:
  name: {name}
  root: {root}
  time_steps: 3
  framing: binary
  downscale: {downscale}
  train_samples: 2
  test_samples: 1
network:
  hidden:
    - {{kind: avgpool, size: {pool}}}
    - {{kind: dense, units: 4}}
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


def _workload(tmp_path, name, root, downscale=1, pool=2):
    p = tmp_path / "w.yaml"
    p.write_text(WORKLOAD.format(name=name, root="null" if root is None else root,
                                 downscale=downscale, pool=pool))
    return load_workload(p)


@pytest.mark.parametrize("name,recordings", [("cifar10dvs", _cifar), ("dvsgesture", _gesture),
                                             ("cifar10dvs", None)],
                         ids=["cifar10dvs", "dvsgesture", "cifar10dvs-standin"])
def test_downscale_3_frames_have_the_side_the_configuration_validated(tmp_path, name, recordings):
    """128 / 3 is not an integer: the framing and the configuration round up to 43. The frames
    were 42x42 (128 // 3) while the configuration had checked the network against 43x43, so a
    network that fits 43x43 and not 42x42 passed validation and then failed to build."""
    root = None if recordings is None else recordings(tmp_path / name)
    with pytest.raises(ChipsimError) as ei:                 # the side config checks against
        _workload(tmp_path, name, root, downscale=3, pool=44)
    assert "avgpool 44 does not fit its 43x43 input map" in str(ei.value)
    w = _workload(tmp_path, name, root, downscale=3, pool=43)
    assert uses_standin(w.dataset) == (recordings is None)
    train, test = load_splits(w.dataset, w.path)
    assert train.input_shape == test.input_shape == (2, 43, 43)
    assert train.input_shape[1:] == input_side(name, None, 3)
    assert len(train) == 2 and len(test) == 1
    net = build_network(w, train.input_shape, train.n_classes, np.random.default_rng(0))
    assert net.layers[-1].n_out == train.n_classes


def test_nmnist_size_pools_by_the_integer_factor(tmp_path):
    w = load_workload(_workload(tmp_path, "nmnist", None).path, {"dataset.downscale": "1",
                                                                 "dataset.size": "17"})
    train, test = load_splits(w.dataset, w.path)
    assert train.input_shape == (2, 17, 17) and train.downscale == 2


def test_a_data_set_that_must_be_on_disk_is_refused_before_any_work(tmp_path):
    w = _workload(tmp_path, "dvsgesture", tmp_path / "nowhere")
    with pytest.raises(ChipsimError) as ei:
        check_dataset(w.dataset, w.path)
    msg = str(ei.value)
    assert str(w.path) in msg and "dataset.root" in msg and "must be on disk" in msg
    with pytest.raises(ChipsimError) as ei:
        load_splits(w.dataset, w.path)
    assert "must be on disk" in str(ei.value)


def test_the_banner_is_there_only_when_the_standin_replaces_the_data(tmp_path):
    w = _workload(tmp_path, "cifar10dvs", None)
    banner = standin_banner(w.dataset)
    assert uses_standin(w.dataset) and "STAND-IN" in banner and "no dataset.root was given" in banner
    missing = _workload(tmp_path, "cifar10dvs", tmp_path / "nowhere")
    assert f"{tmp_path / 'nowhere'} does not exist" in standin_banner(missing.dataset)
    real = _workload(tmp_path, "cifar10dvs", _cifar(tmp_path / "c10", per_class=2))
    assert not uses_standin(real.dataset) and standin_banner(real.dataset) is None
    nm = _workload(tmp_path, "nmnist", None)
    assert not uses_standin(nm.dataset) and standin_banner(nm.dataset) is None
