"""The typed sections: --set overrides derived from the models, strict values, and the workload
assembled from the registries (rules, losses, layer kinds, presets, data sets)."""

import pytest

from chipsim.config.workload import Workload, load_workload
from chipsim.errors import ChipsimError
from chipsim.learning import RULES
from chipsim.learning.losses import LOSSES
from tests.test_config_workload import BASE, CONV, bad, write


# ----------------------------------------------------------------------------------------
# overrides derived from the models
# ----------------------------------------------------------------------------------------
def test_override_a_key_of_the_mapping(tmp_path):
    w = load_workload(write(tmp_path, BASE), {"mapping.dense1": "[4, 5]", "mapping.readout": "6"})
    assert w.mapping == (("dense1", (4, 5)), ("readout", (6,)))


def test_a_null_mapping_is_the_automatic_one(tmp_path):
    assert load_workload(write(tmp_path, BASE + "mapping: null\n")).mapping == ()
    assert load_workload(write(tmp_path, BASE)).mapping == ()


def test_override_into_a_section_the_file_leaves_out(tmp_path):
    assert "loss" not in BASE
    w = load_workload(write(tmp_path, BASE), {"loss.mse_weight": "0.2"})
    assert (w.loss.kind, w.loss.mse_weight) == ("ce_mse", 0.2)


def test_an_unknown_rule_key_lists_every_rules_fields(tmp_path):
    path, msg, err = bad(tmp_path, BASE, {"rule.kk": "1"})
    assert err.field == "rule.kk" and "unknown field 'kk' in override 'rule.kk'" in msg
    for rule in RULES.values():               # from the registry, not a hand-kept list
        for name in rule.Options.model_fields:
            assert name in msg.split("known fields of rule: ")[1], name


def test_an_unknown_top_level_key_lists_the_sections(tmp_path):
    path, msg, err = bad(tmp_path, BASE, {"trainer.epochs": "1"})
    assert "known fields: name, description, dataset, network, neuron, rule, loss, training, " \
           "mapping" in msg


def test_a_key_below_a_value_is_refused(tmp_path):
    path, msg, err = bad(tmp_path, BASE, {"training.epochs.max": "1"})
    assert err.field == "training.epochs.max" and "'training.epochs' has no sub-fields" in msg


def test_override_of_a_list_the_file_does_not_give(tmp_path):
    text = BASE.replace("network:\n  hidden:\n    - {kind: dense, units: 32}\n", "network: {}\n")
    path, msg, err = bad(tmp_path, text, {"network.hidden.0.units": "3"})
    assert err.field == "network.hidden.0.units"
    assert "'network.hidden' is not given in the file" in msg
    assert "an override of the whole 'network.hidden'" in msg


# ----------------------------------------------------------------------------------------
# strict values: no silent conversion
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("key,value,field,words", [
    ("rule.update_skip", "1", "rule.update_skip", "got 1 (expected true or false)"),
    ("training.lr", "'0.1'", "training.lr", "got '0.1' (expected a number > 0)"),
    ("dataset.time_steps", "true", "dataset.time_steps", "got true (expected an integer >= 1)"),
    ("training.lr", ".nan", "training.lr", "got nan (expected a finite number > 0)"),
    ("neuron.leak", "-.inf", "neuron.leak", "got -inf (expected a finite number in [0, 1])"),
    ("network.hidden.0.units", "1.0", "network.hidden.0.units", "got 1.0 (expected an integer"),
    ("loss.mse_target", "[1]", "loss.mse_target", "got a list (expected 'onehot' or a number)"),
    ("mapping", "{dense1: [-1]}", "mapping.dense1.0", "got -1 (expected an integer >= 0)"),
    ("mapping", "{dense1: []}", "mapping.dense1",
     "has 0 item(s) (expected a non-empty list of core indices >= 0)"),
    ("rule", "{k: 2}", "rule.name", "missing required field 'name' in section 'rule'"),
    ("loss", "5", "loss", "got 5 (expected a mapping of field: value with kind ce_mse or tet)"),
])
def test_values_are_strict(tmp_path, key, value, field, words):
    path, msg, err = bad(tmp_path, BASE, {key: value})
    assert err.field == field, msg
    assert words in msg, msg
    assert f"set by override {key}={value}" in msg


# ----------------------------------------------------------------------------------------
# assembled from the registries
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(RULES))
def test_rule_is_the_registrys_options(tmp_path, name):
    w = load_workload(write(tmp_path, CONV), {"rule.name": name})
    assert type(w.rule) is RULES[name].Options and w.rule.name == name


@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_loss_is_the_registrys_model(tmp_path, kind):
    w = load_workload(write(tmp_path, BASE), {"loss": f"{{kind: {kind}}}"})
    assert type(w.loss) is LOSSES[kind]


def test_a_rules_problems_become_errors_on_its_fields(tmp_path):
    # SLTTOptions.problems: k and target_window together
    path, msg, err = bad(tmp_path, BASE, {"rule.name": "sltt", "rule.k": "2",
                                          "rule.target_window": "2"})
    assert err.field == "rule.target_window" and "cannot be combined with k" in msg
    assert "set by override rule.target_window=2" in msg
    # SpatialOptions.problems: a window longer than the sample
    path, msg, err = bad(tmp_path, BASE, {"rule.target_window": "7"})
    assert err.field == "rule.target_window"
    assert "got 7 but dataset.time_steps is 6 (expected an integer in [1, 6])" in msg


def test_the_workload_is_frozen_and_hashable(tmp_path):
    w = load_workload(write(tmp_path, CONV))
    assert isinstance(w, Workload) and hash(w) == hash(load_workload(write(tmp_path, CONV)))
    with pytest.raises(Exception):
        w.name = "other"
    with pytest.raises(Exception):
        w.training.epochs = 3


def test_path_and_text_are_not_fields_of_the_file(tmp_path):
    path, msg, err = bad(tmp_path, BASE + "path: elsewhere.yaml\n")
    assert err.field == "path" and "unknown field 'path'" in msg


def test_no_traceback_text_in_any_message(tmp_path):
    for over in ({"rule": "[1]"}, {"network.hidden": "{}"}, {"neuron": "null"},
                 {"dataset.size": "1e400"}, {"mapping": "[1, 2]"}):
        with pytest.raises(ChipsimError) as ei:
            load_workload(write(tmp_path, BASE), over)
        msg = str(ei.value)
        assert "\n" not in msg and "pydantic" not in msg.lower() and "Traceback" not in msg, msg


@pytest.mark.parametrize("key,value,field", [
    ("network.hidden.0", "{a: 1}", "network.hidden.0.a"),
    ("network.hidden.0", "{kind: lstm, width: 1}", "network.hidden.0.width"),
    ("rule", "{a: 1}", "rule.a"),
    ("neuron", "{a: 1}", "neuron.a"),
])
def test_an_unknown_key_is_named_before_what_it_leaves_missing(tmp_path, key, value, field):
    path, msg, err = bad(tmp_path, BASE, {key: value})
    assert err.field == field and "unknown field" in msg and "known fields: " in msg
