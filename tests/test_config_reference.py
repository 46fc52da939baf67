"""docs/configuration.md is the field reference generated from the typed models of
chipsim/config (python -m chipsim.config.reference --write); it must be what they say now."""

from pathlib import Path

from chipsim.config.reference import PAGE, reference
from chipsim.config.workload import NeuronSpec, TrainingSpec, WorkloadFile
from chipsim.counts import ACTION_INFO, PRICED_ACTIONS
from chipsim.learning import RULES
from chipsim.learning.losses import LOSSES
from chipsim.model.layers import LAYER_KINDS

ROOT = Path(__file__).resolve().parents[1]


def test_the_page_is_up_to_date():
    page = (ROOT / PAGE).read_text(encoding="utf-8")
    assert page == reference(), ("docs/configuration.md is out of date: run "
                                 "python -m chipsim.config.reference --write")


def test_the_page_covers_every_section_and_registry_entry():
    text = reference()
    for model, prefix in ((WorkloadFile, ""), (TrainingSpec, "training."),
                          (NeuronSpec, "neuron.")):
        for name in model.model_fields:
            assert f"| `{prefix}{name}` |" in text, name
    for rule in RULES.values():
        for name in rule.Options.model_fields:
            assert f"`rule.{name}`" in text, (rule.name, name)
        assert f"`{rule.name}`" in text
    for kind, model in LOSSES.items():
        assert f"#### kind `{kind}`" in text
        for name in model.model_fields:
            assert name == "kind" or f"`loss.{name}`" in text
    for kind in LAYER_KINDS:
        assert f"#### kind `{kind}`" in text
    for action in PRICED_ACTIONS:
        assert f"| `{action.name.lower()}` | {ACTION_INFO[action].description}" in text


def test_descriptions_change_the_page(monkeypatch):
    """The page is written from the models, not kept by hand: a changed description shows."""
    fi = TrainingSpec.model_fields["lr"]
    monkeypatch.setattr(fi, "description", "a description only this test gives")
    assert "a description only this test gives" in reference()
