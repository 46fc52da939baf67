"""Workloads: the shipped file, neuron presets, overrides, and one clear error per bad input."""

from pathlib import Path

import pytest

from chipsim.config.workload import load_workload, workload_from_text
from chipsim.errors import ChipsimError
from chipsim.learning import RULES
from chipsim.learning.losses import LOSSES
from chipsim.model.layers import LAYER_KINDS, AvgPool, Conv, Dense, Dropout, Flatten, MaxPool
from chipsim.model.neuron import PRESETS as NEURON_PRESETS

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
    assert w.network.hidden == (Dense(units=256, bias=False),)
    assert w.network.readout_bias is True
    assert w.neuron.preset == "ottt" and w.neuron.leak == 0.5
    assert isinstance(w.rule, RULES["ottt_o"].Options) and not hasattr(w.rule, "k")
    assert (w.rule.name, w.rule.trace_decay, w.rule.first_layer_input) == ("ottt_o", None, "raw")
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


# ----------------------------------------------------------------------------------------
# layer ops: conv, pools, flatten, dropout
# ----------------------------------------------------------------------------------------
CONV = """\
name: c
dataset:
  name: nmnist
  time_steps: 6
  framing: binary
network:
  hidden:
    - {kind: conv, channels: 4, kernel: 3, padding: 1}
    - {kind: dropout, p: 0.1}
    - {kind: avgpool, size: 2}
    - {kind: flatten}
    - {kind: dense, units: 16}
neuron:
  preset: ottt
rule:
  name: ottt_o
training:
  epochs: 1
  optimizer: sgd
  lr: 0.1
  seed: 1
"""


def test_layers_are_the_registry_ops():
    w = load_workload(NMNIST)
    (ls,) = w.network.hidden
    assert type(ls) is LAYER_KINDS["dense"] and ls.is_lif and ls.bias is False
    assert not hasattr(ls, "kernel")              # a dense op carries no field of another kind
    assert Conv(channels=1, kernel=3).is_lif and not AvgPool(size=2).is_lif


def test_conv_network_parsed_with_defaults(tmp_path):
    w = load_workload(write(tmp_path, CONV))
    h = w.network.hidden
    assert h == (Conv(channels=4, kernel=3, stride=1, padding=1, bias=False),
                 Dropout(p=0.1),
                 AvgPool(size=2),
                 Flatten(),
                 Dense(units=16, bias=False))
    assert w.network.lif_layers == 2
    assert w.network.normalization == "none" and w.network.readout_bias is True
    assert isinstance(h[1].p, float)


def test_every_layer_field_parsed(tmp_path):
    hidden = ("    - {kind: conv, channels: 6, kernel: 5, stride: 2, padding: 2, bias: true}\n"
              "    - {kind: maxpool, size: 3}\n"
              "    - {kind: conv, channels: 8, kernel: 1}\n"
              "    - {kind: dropout, p: 0}\n"
              "    - {kind: dense, units: 7, bias: true}\n"
              "    - {kind: dropout, p: 0.5}\n")
    text = CONV.replace(CONV[CONV.index("    - {kind: conv"):CONV.index("neuron:")], hidden)
    h = load_workload(write(tmp_path, text)).network.hidden
    assert (h[0].channels, h[0].kernel, h[0].stride, h[0].padding, h[0].bias) == (6, 5, 2, 2, True)
    assert (h[1].kind, h[1].size) == ("maxpool", 3) and isinstance(h[1], MaxPool)
    assert (h[2].kernel, h[2].stride, h[2].padding, h[2].bias) == (1, 1, 0, False)
    assert h[3].p == 0.0 and h[5].p == 0.5
    assert (h[4].units, h[4].bias) == (7, True)


@pytest.mark.parametrize("norm", ["none", "ws_folded", "bn_folded"])
def test_normalization(tmp_path, norm):
    text = CONV.replace("neuron:", f"  normalization: {norm}\nneuron:")
    assert load_workload(write(tmp_path, text)).network.normalization == norm


# ----------------------------------------------------------------------------------------
# data sets and dataset.size
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["nmnist", "cifar10dvs", "dvsgesture"])
def test_dataset_names(tmp_path, name):
    w = load_workload(write(tmp_path, BASE.replace("name: nmnist", f"name: {name}")))
    assert w.dataset.name == name and w.dataset.size is None


def test_dataset_size(tmp_path):
    text = BASE.replace("name: nmnist", "name: cifar10dvs\n  size: 48")
    d = load_workload(write(tmp_path, text)).dataset
    assert (d.size, d.downscale) == (48, 1)
    text = BASE.replace("name: nmnist", "name: cifar10dvs\n  size: 48\n  downscale: 1")
    assert load_workload(write(tmp_path, text)).dataset.size == 48
    assert load_workload(write(tmp_path, BASE.replace("framing", "size: null\n  framing"))
                         ).dataset.size is None


# ----------------------------------------------------------------------------------------
# loss 'tet'
# ----------------------------------------------------------------------------------------
def test_tet_loss_defaults(tmp_path):
    w = load_workload(write(tmp_path, BASE + "loss:\n  kind: tet\n"))
    assert (w.loss.kind, w.loss.tet_lambda, w.loss.tet_phi) == ("tet", 1e-3, 1.0)
    assert isinstance(w.loss, LOSSES["tet"]) and not hasattr(w.loss, "mse_weight")


def test_tet_loss_fields(tmp_path):
    w = load_workload(write(tmp_path, BASE + "loss: {kind: tet, tet_lambda: 0.01, tet_phi: 0.5}\n"))
    assert (w.loss.tet_lambda, w.loss.tet_phi) == (0.01, 0.5)


def test_ce_mse_has_no_tet_fields(tmp_path):
    w = load_workload(write(tmp_path, BASE))
    assert isinstance(w.loss, LOSSES["ce_mse"]) and not hasattr(w.loss, "tet_lambda")
    assert (w.loss.kind, w.loss.mse_weight, w.loss.mse_target) == ("ce_mse", 0.05, "onehot")


# ----------------------------------------------------------------------------------------
# rule 'tbptt_local'
# ----------------------------------------------------------------------------------------
def test_tbptt_local_defaults_resolve(tmp_path):
    # null window and block are kept as written; the rule resolves them (window: the sample's
    # T; block: None is one block of every LIF layer, as Network.build reads it)
    w = load_workload(write(tmp_path, CONV.replace("name: ottt_o", "name: tbptt_local")))
    assert (w.rule.name, w.rule.window, w.rule.block) == ("tbptt_local", None, None)
    assert RULES["tbptt_local"](w.rule, None, w.dataset.time_steps).window() == 6


def test_tbptt_local_fields(tmp_path):
    text = CONV.replace("name: ottt_o", "name: tbptt_local\n  window: 1\n  block: 1")
    w = load_workload(write(tmp_path, text))
    assert (w.rule.window, w.rule.block) == (1, 1)


def test_other_rules_have_no_window_or_block(tmp_path):
    w = load_workload(write(tmp_path, CONV))
    assert not hasattr(w.rule, "window") and not hasattr(w.rule, "block")


# ----------------------------------------------------------------------------------------
# overrides of the new fields
# ----------------------------------------------------------------------------------------
def test_overrides_of_new_fields(tmp_path):
    w = load_workload(write(tmp_path, CONV), {
        "network.hidden.2.size": "3", "network.hidden.1.p": "0.25",
        "network.hidden.0.stride": "2", "network.hidden.0.channels": "5",
        "network.normalization": "ws_folded", "dataset.size": "17",
        "rule.name": "tbptt_local", "rule.window": "3", "rule.block": "1"})
    h = w.network.hidden
    assert (h[0].stride, h[0].channels, h[1].p, h[2].size) == (2, 5, 0.25, 3)
    assert w.network.normalization == "ws_folded" and w.dataset.size == 17
    assert (w.rule.name, w.rule.window, w.rule.block) == ("tbptt_local", 3, 1)


def test_override_loss_section_to_tet(tmp_path):
    text = BASE + "loss:\n  kind: ce_mse\n  mse_weight: 0.1\n"
    w = load_workload(write(tmp_path, text), {"loss": "{kind: tet, tet_phi: 2}"})
    assert (w.loss.kind, w.loss.tet_lambda, w.loss.tet_phi) == ("tet", 1e-3, 2.0)
    w = load_workload(write(tmp_path, BASE + "loss: {kind: tet}\n"), {"loss.tet_lambda": "0.2"})
    assert w.loss.tet_lambda == 0.2


def test_override_whole_hidden_list_with_conv(tmp_path):
    w = load_workload(write(tmp_path, BASE), {
        "network.hidden": "[{kind: conv, channels: 2, kernel: 3}, {kind: maxpool, size: 2}]"})
    assert [ls.kind for ls in w.network.hidden] == ["conv", "maxpool"]


def test_override_foreign_layer_field_points_at_override(tmp_path):
    path, msg, err = bad(tmp_path, BASE, {"network.hidden.0.kernel": "3"})
    assert err.field == "network.hidden.0.kernel" and "not a field of a dense layer" in msg
    assert "override network.hidden.0.kernel=3" in msg


def test_override_tet_field_on_ce_mse_says_how(tmp_path):
    path, msg, err = bad(tmp_path, BASE + "loss: {kind: ce_mse, mse_weight: 0.1}\n",
                         {"loss.kind": "tet"})
    assert err.field == "loss.mse_weight" and "only with loss kind ce_mse" in msg
    assert "loss={kind: tet}" in msg


# ----------------------------------------------------------------------------------------
# bad new fields: each names the file, the dotted field and what was expected
# ----------------------------------------------------------------------------------------
L0 = "    - {kind: conv, channels: 4, kernel: 3, padding: 1}"
L1 = "    - {kind: dropout, p: 0.1}"
L2 = "    - {kind: avgpool, size: 2}"
L3 = "    - {kind: flatten}"
L4 = "    - {kind: dense, units: 16}"

NEW_CASES = [
    # layers: kind, required fields, fields of another kind, ranges
    (L0, "    - {kind: lstm, units: 4}", "network.hidden.0.kind",
     "one of dense, conv, recurrent, avgpool, maxpool, dropout, flatten"),
    (L0, "    - {kind: conv, kernel: 3}", "network.hidden.0.channels",
     "missing required field 'channels'"),
    (L0, "    - {kind: conv, channels: 4}", "network.hidden.0.kernel",
     "missing required field 'kernel'"),
    (L0, "    - {kind: conv, channels: 0, kernel: 3}", "network.hidden.0.channels", ">= 1"),
    (L0, "    - {kind: conv, channels: 4, kernel: 0}", "network.hidden.0.kernel", ">= 1"),
    (L0, "    - {kind: conv, channels: 4, kernel: 3, stride: 0}", "network.hidden.0.stride", ">= 1"),
    (L0, "    - {kind: conv, channels: 4, kernel: 3, padding: -1}", "network.hidden.0.padding", ">= 0"),
    (L0, "    - {kind: conv, channels: 4, kernel: 3, padding: 2}", None, None),   # as PyTorch: any
    (L0, "    - {kind: conv, channels: 4, kernel: 3, bias: 1}", "network.hidden.0.bias", "true or false"),
    (L0, "    - {kind: conv, channels: 4, kernel: 3, units: 8}", "network.hidden.0.units",
     "not a field of a conv layer (it belongs to kind dense or recurrent)"),
    (L0, "    - {kind: conv, channels: 4, kernel: 3, size: 2}", "network.hidden.0.size",
     "a conv layer with channels, kernel (optional: stride, padding, bias, neuron); remove 'size'"),
    (L0, "    - {kind: conv, channels: 4, kernel: 3, p: 0.1}", "network.hidden.0.p",
     "belongs to kind dropout"),
    (L0, "    - {kind: conv, channels: 4, kernel: 3, width: 2}", "network.hidden.0.width",
     "unknown field 'width'"),
    (L2, "    - {kind: avgpool}", "network.hidden.2.size", "missing required field 'size'"),
    (L2, "    - {kind: maxpool, size: 0}", "network.hidden.2.size", ">= 1"),
    (L2, "    - {kind: avgpool, size: 2, stride: 2}", "network.hidden.2.stride",
     "not a field of an avgpool layer"),
    (L2, "    - {kind: avgpool, units: 2}", "network.hidden.2.kind",
     "got 'avgpool' but the layer gives units, field(s) of kind dense or recurrent (expected kind dense or recurrent, or an avgpool layer with size)"),
    (L3, "    - {kind: flatten, size: 2}", "network.hidden.3.size",
     "a flatten layer with no other field; remove 'size'"),
    (L1, "    - {kind: dropout}", "network.hidden.1.p", "missing required field 'p'"),
    (L1, "    - {kind: dropout, p: 1.0}", "network.hidden.1.p", "a number in [0, 1)"),
    (L1, "    - {kind: dropout, p: -0.1}", "network.hidden.1.p", "a number in [0, 1)"),
    (L1, "    - {kind: dropout, p: 0.1, units: 3}", "network.hidden.1.units", "not a field of a dropout"),
    (L4, "    - {kind: dense, units: 16, kernel: 3}", "network.hidden.4.kernel",
     "not a field of a dense layer (it belongs to kind conv)"),
    # order
    (L4, L4 + "\n    - {kind: conv, channels: 2, kernel: 1}", "network.hidden.5.kind",
     "needs a spatial input; put conv/pool layers before dense ones"),
    (L4, L4 + "\n    - {kind: maxpool, size: 1}", "network.hidden.5.kind",
     "a maxpool layer after the flatten layer network.hidden.3 needs a spatial input"),
    (L3 + "\n" + L4, L4 + "\n" + L2, "network.hidden.4.kind",
     "an avgpool layer after the dense layer network.hidden.3 needs a spatial input"),
    (L0 + "\n" + L1, L1 + "\n" + L0, "network.hidden.0.kind",
     "dropout is the first layer (expected dropout directly after a conv or dense layer"),
    (L3, L1, "network.hidden.3.kind", "dropout follows an avgpool layer (network.hidden.2)"),
    (L2, L1, "network.hidden.2.kind", "dropout follows a dropout layer (network.hidden.1)"),
    (L4, L4 + "\n" + L1, None, None),                 # dropout after dense: fine
    (L0 + "\n" + L1 + "\n" + L2 + "\n" + L3 + "\n" + L4, L3, "network.hidden",
     "has no conv or dense layer (expected at least one conv or dense (LIF) layer)"),
    # sizes against the input map (N-MNIST 34x34)
    (L2, "    - {kind: avgpool, size: 35}", "network.hidden.2.size",
     "avgpool 35 does not fit its 34x34 input map (expected size <= 34"),
    (L0, "    - {kind: conv, channels: 4, kernel: 37, padding: 1}", "network.hidden.0.kernel",
     "a 37x37 kernel does not fit its 34x34 input (padding 1) (expected kernel <= 36"),
    (L2, L2 + "\n    - {kind: avgpool, size: 17}\n    - {kind: avgpool, size: 2}",
     "network.hidden.4.size", "avgpool 2 does not fit its 1x1 input map"),
    ("framing: binary", "framing: binary\n  downscale: 34", "network.hidden.2.size",
     "avgpool 2 does not fit its 1x1 input map (expected size <= 1 for the input map at this layer, from nmnist frames of 2x1x1 (dataset.downscale 34))"),
    # normalization
    ("neuron:", "  normalization: batchnorm\nneuron:", "network.normalization",
     "one of none, ws_folded, bn_folded"),
    # dataset
    ("name: nmnist", "name: cifar10", "dataset.name", "one of nmnist, cifar10dvs, dvsgesture"),
    ("framing: binary", "framing: binary\n  size: 0", "dataset.size", "got 0"),
    ("framing: binary", "framing: binary\n  size: 40", "dataset.size",
     "got 40 but the nmnist sensor is 34x34 (expected an integer in [1, 34]"),
    ("framing: binary", "framing: binary\n  size: 4.5", "dataset.size", "an integer"),
    ("framing: binary", "framing: binary\n  size: 16\n  downscale: 2", "dataset.size",
     "either size (the side to downscale to) or downscale"),
    ("name: nmnist", "name: cifar10dvs\n  size: 129", "dataset.size", "[1, 128]"),
    # the side the data set's frames can have (chipsim.data.registry.input_side)
    ("framing: binary", "framing: binary\n  size: 30", "dataset.size",
     "a 34x34 sensor cannot be pooled by an integer factor to 30x30 (expected one of "
     "[34, 17, 12, 9, 7, 6, 5, 4])"),
    ("name: nmnist", "name: shd\n  downscale: 2", "dataset.downscale",
     "is 2 but SHD, Spiking Heidelberg Digits (Cramer et al., IEEE TNNLS, 2020) keeps its "
     "1x700 sensor (expected 1 for shd)"),
    ("name: nmnist", "name: shd\n  size: 1", "dataset.size",
     "keeps its 1x700 sensor (expected no size (null) for shd)"),
    # rule tbptt_local
    ("name: ottt_o", "name: tbptt", "rule.name", "one of bptt, sltt, ottt_a, ottt_o, tbptt_local"),
    ("name: ottt_o", "name: tbptt_local\n  window: 7", "rule.window",
     "got 7 but dataset.time_steps is 6 (expected an integer in [1, 6]"),
    ("name: ottt_o", "name: tbptt_local\n  window: 0", "rule.window", "an integer >= 1"),
    ("name: ottt_o", "name: tbptt_local\n  block: 3", "rule.block",
     "got 3 but the network has 2 conv/dense layer(s) (expected an integer in [1, 2]"),
    ("name: ottt_o", "name: tbptt_local\n  block: 0", "rule.block", "an integer >= 1"),
    ("name: ottt_o", "name: tbptt_local\n  window: 2.5", "rule.window", "an integer"),
    ("name: ottt_o", "name: ottt_o\n  window: 2", "rule.window", "only with rule tbptt_local"),
    ("name: ottt_o", "name: bptt\n  block: 1", "rule.block", "only with rule tbptt_local"),
    ("name: ottt_o", "name: tbptt_local\n  k: 2", "rule.k", "only with rule sltt"),
    ("name: ottt_o", "name: tbptt_local\n  trace_decay: 0.5", "rule.trace_decay", "ottt_a or ottt_o"),
    # loss tet
    ("seed: 1", "seed: 1\nloss: {kind: tet, mse_weight: 0.1}", "loss.mse_weight",
     "only with loss kind ce_mse"),
    ("seed: 1", "seed: 1\nloss: {kind: tet, mse_target: onehot}", "loss.mse_target",
     "only with loss kind ce_mse"),
    ("seed: 1", "seed: 1\nloss: {tet_lambda: 0.1}", "loss.tet_lambda", "only with loss kind tet"),
    ("seed: 1", "seed: 1\nloss: {kind: ce_mse, tet_phi: 1}", "loss.tet_phi", "only with loss kind tet"),
    ("seed: 1", "seed: 1\nloss: {kind: tet, tet_lambda: 1.5}", "loss.tet_lambda", "a number in [0, 1]"),
    ("seed: 1", "seed: 1\nloss: {kind: tet, tet_phi: one}", "loss.tet_phi", "a number"),
    ("seed: 1", "seed: 1\nloss: {kind: ce_mean}", "loss.kind", "one of ce_mse, tet"),
]


@pytest.mark.parametrize("old,new,field,words", NEW_CASES)
def test_bad_new_fields_name_file_and_field(tmp_path, old, new, field, words):
    assert old in CONV
    text = CONV.replace(old, new, 1)
    if field is None:
        load_workload(write(tmp_path, text))
        return
    path, msg, err = bad(tmp_path, text)
    assert err.file == path and path in msg
    assert err.field == field, msg
    assert f"field '{field}'" in msg
    assert words in msg, msg
    assert "\n" not in msg


def test_layer_error_points_at_the_line(tmp_path):
    text = CONV.replace(L2, "    - {kind: avgpool, size: 0}")
    path, msg, err = bad(tmp_path, text)
    assert f"line {line_of(text, 'size: 0')}:" in msg
