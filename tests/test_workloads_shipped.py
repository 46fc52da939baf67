"""Every workload shipped in workloads/ loads, is described, and says what it costs truthfully."""

import re
from pathlib import Path

import pytest

from chipsim.config.workload import load_workload
from chipsim.data.registry import N_CLASSES, SENSORS

WORKLOADS = Path(__file__).resolve().parent.parent / "workloads"
FILES = sorted(WORKLOADS.glob("*.yaml"))
NEW = ["nmnist_conv.yaml", "cifar10dvs_vgg11.yaml", "cifar10dvs.yaml", "dvsgesture.yaml"]


def test_the_workloads_are_there():
    names = {p.name for p in FILES}
    assert {"nmnist.yaml", *NEW} <= names


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_workload_loads_and_is_described(path):
    w = load_workload(path)
    assert w.description.strip()
    assert w.name == path.stem
    assert w.network.lif_layers >= 1


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_field_is_commented(path):
    """Each line that gives a field a value carries a comment (the files are the manual)."""
    key_value = re.compile(r"^\s*(- )?[a-z_]+:\s*[^\s#]")
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if key_value.match(line):
            assert "#" in line, f"{path.name}:{n} has no comment: {line!r}"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_listed_in_the_readme(path):
    readme = (WORKLOADS / "README.md").read_text(encoding="utf-8")
    assert f"`{path.name}`" in readme


def weights(w):
    """Stored weights (conv kernels shared) of the hidden layers and the readout."""
    c, h, wd = SENSORS[w.dataset.name]
    if w.dataset.size is not None:
        h = wd = w.dataset.size
    else:
        h, wd = -(-h // w.dataset.downscale), -(-wd // w.dataset.downscale)
    n = 0
    flat = None
    for ls in w.network.hidden:
        if ls.kind == "conv":
            n += c * ls.channels * ls.kernel ** 2
            h = (h + 2 * ls.padding - ls.kernel) // ls.stride + 1
            wd = (wd + 2 * ls.padding - ls.kernel) // ls.stride + 1
            c = ls.channels
        elif ls.kind in ("avgpool", "maxpool"):
            h, wd = h // ls.size, wd // ls.size
        elif ls.kind == "dense":
            n += (flat if flat is not None else c * h * wd) * ls.units
            flat = ls.units
    return n + (flat if flat is not None else c * h * wd) * N_CLASSES[w.dataset.name]


@pytest.mark.parametrize("name,count", [("nmnist_conv.yaml", 25376), ("cifar10dvs.yaml", 11536),
                                        ("dvsgesture.yaml", 12560),
                                        ("cifar10dvs_vgg11.yaml", 9222272)])
def test_weight_counts_in_the_comments_are_right(name, count):
    w = load_workload(WORKLOADS / name)
    assert weights(w) == count
    text = (WORKLOADS / name).read_text(encoding="utf-8")
    if count < 100_000:                       # edge-sized: the exact count is in the file
        assert f"{count:,}" in text
    else:
        assert f"~{count / 1e6:.1f} million weights" in text


def test_vgg11_is_the_papers_cfg_a():
    w = load_workload(WORKLOADS / "cifar10dvs_vgg11.yaml")
    convs = [ls.channels for ls in w.network.hidden if ls.kind == "conv"]
    assert convs == [64, 128, 256, 256, 512, 512, 512, 512]
    assert all(ls.kernel == 3 and ls.padding == 1 and ls.stride == 1
               for ls in w.network.hidden if ls.kind == "conv")
    pools = [ls.size for ls in w.network.hidden if ls.kind == "avgpool"]
    assert pools == [2, 2, 2, 6]                  # three M, then global pooling of 48 / 8
    drops = [i for i, ls in enumerate(w.network.hidden) if ls.kind == "dropout"]
    assert len(drops) == 8 and all(w.network.hidden[i - 1].kind == "conv" for i in drops)
    assert {w.network.hidden[i].p for i in drops} == {0.1}
    assert (w.dataset.size, w.dataset.time_steps, w.dataset.framing) == (48, 10, "count")
    assert (w.network.normalization, w.neuron.preset, w.rule.name) == ("ws_folded", "ottt", "ottt_a")
    assert (w.loss.kind, w.loss.mse_weight) == ("ce_mse", 0.001)
    t = w.training
    assert (t.optimizer, t.lr, t.momentum, t.weight_decay, t.batch_size) == ("sgd", 0.1, 0.9, 0.0, 1)


def test_edge_workloads_fit_a_small_chip():
    for name in ("cifar10dvs.yaml", "dvsgesture.yaml"):
        w = load_workload(WORKLOADS / name)
        assert weights(w) < 100_000
        assert w.neuron.preset == "ottt" and w.rule.name.startswith("ottt")
    assert load_workload(WORKLOADS / "dvsgesture.yaml").dataset.time_steps == 20


@pytest.mark.parametrize("name", ["nmnist_dfa.yaml", "nmnist_eprop.yaml"])
def test_feedback_rules_learn_on_the_real_recordings(name):
    """DFA and e-prop reach at least 20 points above chance (10 classes) on the 100 real test
    recordings, with the shipped settings (about 1.5 s each)."""
    import numpy as np

    from chipsim import counts as K
    from chipsim import engine
    from chipsim.config.profile import load_profile
    from chipsim.result import SPLIT_TEST
    r = engine.run(load_workload(WORKLOADS / name), load_profile("reckon"))
    last = (r.sim.sample_split == SPLIT_TEST) & (r.sim.sample_epoch == r.sim.sample_epoch.max())
    acc = float(np.mean(r.sim.sample_pred[last] == r.sim.sample_label[last]))
    assert last.sum() == 100 and acc >= 0.30, f"{name}: {acc:.2f} on the 100 test recordings"
    assert r.sim.sample_counts[..., K.LEARN, K.MEM_READ_WEIGHT_TRANSPOSED].sum() == 0


def test_recurrent_workload_learns_on_the_real_recordings():
    """nmnist_recurrent.yaml: a recurrent LIF layer with e-prop on ReckOn, at least 20 points
    above chance on the 100 real test recordings; its W_rec is a weight layer of its own,
    placed on the layer's core, and e-prop reads no W^T."""
    import numpy as np

    from chipsim import counts as K
    from chipsim import engine
    from chipsim.config.profile import load_profile
    from chipsim.result import SPLIT_TEST
    r = engine.run(load_workload(WORKLOADS / "nmnist_recurrent.yaml"), load_profile("reckon"))
    last = (r.sim.sample_split == SPLIT_TEST) & (r.sim.sample_epoch == r.sim.sample_epoch.max())
    acc = float(np.mean(r.sim.sample_pred[last] == r.sim.sample_label[last]))
    assert acc >= 0.30, f"{acc:.2f} on the 100 test recordings"
    names = [ls.name for ls in r.sim.layers]
    assert names == ["rec1", "readout", "rec1_rec"]
    c = r.sim.sample_counts
    assert c[:, 2, K.INFER, K.SYNOP].sum() > 0
    assert c[..., K.LEARN, K.MEM_READ_WEIGHT_TRANSPOSED].sum() == 0
    place = {p.name: p for p in r.cost.mapping.layers}
    assert place["rec1_rec"].segments == place["rec1"].segments


def test_shd_recurrent_names_where_it_looked(tmp_path):
    """Without SHD on disk: one line naming the folder, exit 2, nothing written."""
    from chipsim.cli import main
    out = tmp_path / "r.h5"
    missing = tmp_path / "nowhere" / "SHD"
    assert main(["run", str(WORKLOADS / "shd_recurrent.yaml"), "--profile", "anp_i",
                 "--set", f"dataset.root={missing}", "--out", str(out), "--quiet"]) == 2
    assert not out.exists()
    w = load_workload(WORKLOADS / "shd_recurrent.yaml")
    assert str(w.dataset.root).startswith("~") and w.network.hidden[0].kind == "recurrent"


def test_shd_recurrent_runs_on_an_shd_folder(tmp_path):
    """The same workload on a small SHD folder in the data set's own format (two training and
    two test recordings): it runs, 700 inputs -> 256 recurrent LIF -> 20."""
    import numpy as np

    from chipsim import engine
    from chipsim.config.profile import load_profile
    from tests.writers import write_shd
    root = tmp_path / "SHD"
    root.mkdir()
    rng = np.random.default_rng(0)
    for split, labels in (("train", [3, 11]), ("test", [0, 19])):
        samples = [(np.sort(rng.random(300)), rng.integers(0, 700, 300)) for _ in labels]
        write_shd(root / f"shd_{split}.h5", samples, labels)
    w = load_workload(WORKLOADS / "shd_recurrent.yaml",
                      {"dataset.root": str(root), "training.epochs": "1", "dataset.time_steps": "8"})
    r = engine.run(w, load_profile("anp_i"))
    assert [ls.name for ls in r.sim.layers] == ["rec1", "readout", "rec1_rec"]
    assert r.sim.layers[0].n_in == 700 and r.sim.layers[1].n_out == 20
    assert r.sim.test_samples == 2 and r.sim.train_samples == 2
