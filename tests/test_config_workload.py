"""Workloads: the shipped file, neuron presets, overrides, and one clear error per bad input."""

from pathlib import Path

import pytest

from chipsim.config.workload import (
    NEURON_PRESETS,
    LayerSpec,
    load_workload,
    workload_from_text,
)
from chipsim.errors import ChipsimError

NMNIST = Path(__file__).resolve().parent.parent / "workloads" / "nmnist.yaml"

BASE = """\
name: w
dataset:
  name: nmnist
  time_steps: 6
  framing: binary
network:
  hidden:
    - {kind: dense, units: 32}
neuron:
  preset: ottt
rule:
  name: ottt_a
training:
  epochs: 2
  optimizer: sgd
  lr: 0.1
  seed: 1
"""


def write(tmp_path, text, name="w.yaml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def bad(tmp_path, text, overrides=None):
    p = write(tmp_path, text)
    with pytest.raises(ChipsimError) as ei:
        load_workload(p, overrides)
    return str(p), str(ei.value), ei.value


def line_of(text, needle):
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


# ----------------------------------------------------------------------------------------
# the shipped workload
# ----------------------------------------------------------------------------------------
def test_nmnist_loads_with_documented_values():
    w = load_workload(NMNIST)
    assert w.name == "nmnist" and w.path == str(NMNIST) and "time_steps" in w.text
    d = w.dataset
    assert (d.name, d.root, d.time_steps, d.framing, d.downscale) == ("nmnist", None, 10, "binary", 1)
    assert d.train_samples is None and d.test_samples is None
    assert w.network.hidden == (LayerSpec(kind="dense", units=256, bias=False),)
    assert w.network.readout_bias is True
    assert w.neuron.preset == "ottt" and w.neuron.leak == 0.5
    assert (w.rule.name, w.rule.k, w.rule.trace_decay, w.rule.first_layer_input) == \
        ("ottt_o", None, None, "raw")
    assert (w.loss.kind, w.loss.mse_weight, w.loss.mse_target) == ("ce_mse", 0.05, "onehot")
    t = w.training
    assert (t.epochs, t.batch_size, t.optimizer, t.lr, t.momentum, t.weight_decay, t.seed,
            t.dtype, t.init, t.init_gain) == (10, 1, "sgd", 0.1, 0.0, 0.0, 2022, "float64",
                                              "uniform", 2.0)
    assert w.overrides == ()


# ----------------------------------------------------------------------------------------
# presets
# ----------------------------------------------------------------------------------------
PRESETS = {
    "ottt": (0.5, 1.0, "soft", True, 1.0, False, "sigmoid", 4.0),
    "sltt": (1 - 1 / 1.1, 1.0, "soft", False, 1.0, False, "triangle", 1.0),
    "tet": (0.5, 1.0, "hard", False, 0.0, False, "triangle", 1.0),
}


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_give_documented_values(tmp_path, preset):
    w = load_workload(write(tmp_path, BASE.replace("preset: ottt", f"preset: {preset}")))
    n = w.neuron
    got = (n.leak, n.threshold, n.reset, n.detach_reset, n.heaviside_at_zero, n.decay_input,
           n.surrogate, n.surrogate_alpha)
    assert got == PRESETS[preset]
    assert set(NEURON_PRESETS) == set(PRESETS)


def test_explicit_field_overrides_preset(tmp_path):
    w = load_workload(write(tmp_path, BASE.replace("preset: ottt", "preset: ottt\n  leak: 0.25\n  reset: hard")))
    assert (w.neuron.leak, w.neuron.reset, w.neuron.surrogate) == (0.25, "hard", "sigmoid")


def test_no_preset_all_fields(tmp_path):
    neuron = ("leak: 0.9\n  threshold: 0.5\n  reset: soft\n  detach_reset: false\n"
              "  heaviside_at_zero: 0\n  decay_input: true\n  surrogate: triangle\n"
              "  surrogate_alpha: 2")
    w = load_workload(write(tmp_path, BASE.replace("preset: ottt", neuron)))
    n = w.neuron
    assert n.preset is None and n.heaviside_at_zero == 0.0 and isinstance(n.heaviside_at_zero, float)
    assert (n.leak, n.threshold, n.decay_input, n.surrogate_alpha) == (0.9, 0.5, True, 2.0)


def test_no_preset_missing_field(tmp_path):
    path, msg, err = bad(tmp_path, BASE.replace("preset: ottt", "leak: 0.5"))
    assert path in msg and err.field == "neuron.threshold" and "preset" in msg


# ----------------------------------------------------------------------------------------
# overrides
# ----------------------------------------------------------------------------------------
def test_overrides_apply(tmp_path):
    p = write(tmp_path, BASE)
    w = load_workload(p, {"training.epochs": "1", "rule.name": "sltt", "rule.k": "2",
                          "neuron.preset": "sltt", "network.hidden.0.units": "64",
                          "dataset.train_samples": "20", "loss.mse_target": "0.5",
                          "training.lr": "1e-3"})
    assert w.training.epochs == 1 and w.rule.name == "sltt" and w.rule.k == 2
    assert w.neuron.surrogate == "triangle" and w.network.hidden[0].units == 64
    assert w.dataset.train_samples == 20 and w.loss.mse_target == 0.5
    assert w.training.lr == 1e-3          # '1e-3' is a float, not a string
    assert ("training.epochs", "1") in w.overrides
    assert w.text == p.read_text()        # the file text, overrides kept apart


def test_override_whole_list(tmp_path):
    w = load_workload(write(tmp_path, BASE),
                      {"network.hidden": "[{kind: dense, units: 8}, {kind: dense, units: 4, bias: true}]"})
    assert [ls.units for ls in w.network.hidden] == [8, 4] and w.network.hidden[1].bias


@pytest.mark.parametrize("key", ["training.epoch", "trainig.epochs", "rule.k.x",
                                 "network.hidden.3.units", "network.hidden.0.unit"])
def test_override_unknown_key(tmp_path, key):
    path, msg, err = bad(tmp_path, BASE, {key: "1"})
    assert path in msg and err.field == key and key in msg


def test_override_bad_yaml(tmp_path):
    path, msg, err = bad(tmp_path, BASE, {"training.lr": "[0.1"})
    assert err.field == "training.lr" and "not valid YAML" in msg


def test_override_error_points_at_override(tmp_path):
    path, msg, err = bad(tmp_path, BASE, {"training.lr": "-1"})
    assert err.field == "training.lr" and "override training.lr=-1" in msg


def test_workload_from_text():
    w = workload_from_text(BASE, "kept.yaml")
    assert w.path == "kept.yaml" and w.rule.name == "ottt_a"


# ----------------------------------------------------------------------------------------
# bad inputs: each names the file and the dotted field
# ----------------------------------------------------------------------------------------
CASES = [
    # (replace this, with this, field, words in the message)
    ("training:", "trainig:", "trainig", "unknown field 'trainig'; known fields: name,"),
    ("  lr: 0.1", "  lrr: 0.1", "training.lrr", "unknown field 'lrr'"),
    ("  lr: 0.1\n", "", "training.lr", "missing required field 'lr'"),
    ("time_steps: 6", "time_steps: ten", "dataset.time_steps", "expected an integer >= 1"),
    ("time_steps: 6", "time_steps: 0", "dataset.time_steps", "got 0"),
    ("time_steps: 6", "time_steps: 6.0", "dataset.time_steps", "an integer"),
    ("epochs: 2", "epochs: true", "training.epochs", "got true"),
    ("lr: 0.1", "lr: 0", "training.lr", "a number > 0"),
    ("seed: 1", "seed: 1\n  momentum: 1.0", "training.momentum", "[0, 1)"),
    ("preset: ottt", "preset: ottt\n  leak: 1.5", "neuron.leak", "[0, 1]"),
    ("preset: ottt", "preset: ottt\n  heaviside_at_zero: 0.5", "neuron.heaviside_at_zero", "0 (strict"),
    ("preset: ottt", "preset: ottt\n  detach_reset: yes", "neuron.detach_reset", "true or false"),
    ("preset: ottt", "preset: lif", "neuron.preset", "one of ottt, sltt, tet"),
    ("name: ottt_a", "name: ottt_a\n  k: 2", "rule.k", "only with rule sltt"),
    ("name: ottt_a", "name: sltt\n  trace_decay: 0.5", "rule.trace_decay", "only with rule ottt_a or ottt_o"),
    ("name: ottt_a", "name: bptt\n  first_layer_input: trace", "rule.first_layer_input", "ottt_a or ottt_o"),
    ("name: ottt_a", "name: sltt\n  k: 7", "rule.k", "dataset.time_steps is 6"),
    ("name: ottt_a", "name: ottt_a\n  first_layer_input: rawish", "rule.first_layer_input", "raw, trace"),
    ("name: ottt_a", "name: tbptt", "rule.name", "one of bptt, sltt, ottt_a, ottt_o"),
    ("framing: binary", "framing: dense", "dataset.framing", "binary, count"),
    ("name: nmnist", "name: cifar", "dataset.name", "one of nmnist"),
    ("units: 32}", "units: 0}", "network.hidden.0.units", "got 0"),
    ("units: 32}", "units: 32, width: 3}", "network.hidden.0.width", "unknown field 'width'"),
    ("- {kind: dense, units: 32}", "- {kind: conv, units: 32}", "network.hidden.0.kind", "dense"),
    ("  hidden:\n    - {kind: dense, units: 32}", "  hidden: []", "network.hidden", "at least 1"),
    ("seed: 1", "seed: 1\nloss: {mse_weight: 2}", "loss.mse_weight", "[0, 1]"),
    ("seed: 1", "seed: 1\nloss: {mse_target: zero}", "loss.mse_target", "'onehot' or a number"),
    ("seed: 1", "seed: -1", "training.seed", ">= 0"),
    ("optimizer: sgd", "optimizer: adam", "training.optimizer", "one of sgd"),
    ("seed: 1", "seed: 1\n  dtype: float16", "training.dtype", "float64, float32"),
    ("network:\n  hidden:\n    - {kind: dense, units: 32}\n", "network: 5\n", "network",
     "got 5 (expected a mapping"),
]


@pytest.mark.parametrize("old,new,field,words", CASES)
def test_bad_input_names_file_and_field(tmp_path, old, new, field, words):
    assert old in BASE
    path, msg, err = bad(tmp_path, BASE.replace(old, new, 1))
    assert err.file == path and path in msg
    assert err.field == field, msg
    assert f"field '{field}'" in msg
    assert words in msg, msg


def test_error_points_at_the_line(tmp_path):
    text = BASE.replace("lr: 0.1", "lr: -0.1")
    path, msg, err = bad(tmp_path, text)
    assert f"line {line_of(text, 'lr: -0.1')}:" in msg


def test_malformed_yaml_names_line(tmp_path):
    text = BASE.replace("  lr: 0.1", "  lr: [0.1")
    path, msg, err = bad(tmp_path, text)
    assert path in msg and "malformed YAML at line" in msg


def test_duplicate_key(tmp_path):
    text = BASE.replace("  lr: 0.1", "  lr: 0.1\n  lr: 0.2")
    path, msg, err = bad(tmp_path, text)
    assert "duplicate key 'lr'" in msg and f"line {line_of(text, 'lr: 0.2')}" in msg


def test_empty_and_missing_files(tmp_path):
    path, msg, err = bad(tmp_path, "# nothing\n")
    assert path in msg and "empty" in msg
    with pytest.raises(ChipsimError) as ei:
        load_workload(tmp_path / "missing.yaml")
    assert "missing.yaml" in str(ei.value) and "not found" in str(ei.value)


def test_top_level_not_a_mapping(tmp_path):
    path, msg, err = bad(tmp_path, "- a\n- b\n")
    assert path in msg and "mapping" in msg


def test_control_character_is_a_clear_error(tmp_path):
    path, msg, err = bad(tmp_path, BASE.replace("  lr: 0.1", "  lr: 0.1\x07"))
    assert path in msg and "line 16" in msg and "\n" not in msg
