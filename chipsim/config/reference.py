"""The field reference of workloads and hardware profiles, generated from their typed models.

    python -m chipsim.config.reference            # print the page
    python -m chipsim.config.reference --write    # rewrite docs/configuration.md

Every table comes from the models (chipsim/config/workload.py, profile.py) and the registries
they are assembled from (the rules' Options, LOSSES, LAYER_KINDS, the neuron PRESETS, the data
sets, the actions of chipsim/counts.py): names, types and bounds, defaults and descriptions.
tests/test_config_reference.py fails when docs/configuration.md is not what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import BaseModel

from chipsim.config.schema import expected, field_node, fields_of, node
from chipsim.config.units import format_si

PAGE = Path("docs") / "configuration.md"


def _cell(text) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _value(v) -> str:
    """A default as it would be written in YAML."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, BaseModel):
        return "{" + ", ".join(f"{k}: {_value(x)}" for k, x in v) + "}"
    if isinstance(v, (tuple, list, dict)) and not v:
        return "none"
    if v == "":
        return "''"
    return str(v)


def _default(model: type[BaseModel], name: str) -> str:
    fi = model.model_fields[name]
    extra = fi.json_schema_extra if isinstance(fi.json_schema_extra, dict) else {}
    if extra.get("default_text"):
        return extra["default_text"]
    if fi.is_required():
        return "required"
    if fi.default_factory is not None:
        return f"`{_value(fi.default_factory())}`"
    v = fi.default
    if isinstance(v, type(None)) and node(fi.annotation, fi).kind in ("model", "union"):
        return "absent"
    return f"`{_value(v)}`"


def _type(model: type[BaseModel], name: str) -> str:
    n = field_node(model, name)
    if n.kind == "model":
        return f"section `{n.models[0].__name__}`" + (" or null" if n.nullable else "")
    if n.kind == "list" and node(n.item).kind == "union":
        return "a list of: " + _union_words(node(n.item))
    if n.kind == "union" and n.disc:
        return _union_words(n)
    return expected(n)


def _union_words(n) -> str:
    tags = [str(t) for ts in n.tags for t in ts]
    return f"a mapping; its fields depend on `{n.disc}`: " + ", ".join(f"`{t}`" for t in tags)


def _table(model: type[BaseModel], names=None, prefix: str = "") -> list[str]:
    names = list(model.model_fields) if names is None else list(names)
    out = ["| field | type | default | description |", "|---|---|---|---|"]
    for name in names:
        fi = model.model_fields[name]
        out.append(f"| `{prefix}{name}` | {_cell(_type(model, name))} | "
                   f"{_cell(_default(model, name))} | {_cell(fi.description or '')} |")
    return out


def _doc(model) -> str:
    return " ".join((model.__doc__ or "").split())


def _union_section(title: str, n, common: set, prefix: str) -> list[str]:
    out: list[str] = []
    for m, tags in zip(n.models, n.tags):
        own = [k for k in m.model_fields if k not in common]
        names = ", ".join(f"`{t}`" for t in tags)
        out += ["", f"#### {title} {names}", ""]
        doc = _doc(m)
        if doc and not doc.startswith(("Usage docs", "!!! abstract")):
            out += [doc, ""]
        out += _table(m, own, prefix) if own else ["No fields of its own."]
    return out


def workload_reference() -> list[str]:
    from chipsim.config import workload as W
    from chipsim.model.neuron import NEURON_FIELDS, PRESETS

    top = W.WorkloadFile
    out = ["## Workload (`workloads/*.yaml`)", "", _doc(top), ""]
    out += _table(top)
    for name in ("dataset", "network"):
        m = field_node(top, name).models[0]
        out += ["", f"### `{name}`", "", _doc(m), ""] + _table(m, prefix=f"{name}.")
    from chipsim.data.registry import REGISTRY
    out += ["", "The data sets (chipsim/data/registry.py):", "",
            "| `dataset.name` | data set | sensor (polarities x height x width) | classes | "
            "resize |", "|---|---|---|---|---|"]
    for d in REGISTRY.values():
        out.append(f"| `{d.name}` | {_cell(d.title)} | {'x'.join(map(str, d.sensor))} | "
                   f"{d.n_classes} | {d.resize} |")
    hidden = node(field_node(W.NetworkSpec, "hidden").item)
    out += ["", "### Layer kinds of `network.hidden` (chipsim/model/layers.py)", "",
            "Each item is a mapping with `kind` and that kind's fields."]
    out += _union_section("kind", hidden, {"kind"}, "")

    neuron = W.NeuronSpec
    out += ["", "### `neuron`", "", _doc(neuron), ""] + _table(neuron, prefix="neuron.")
    out += ["", "The presets (chipsim/model/neuron.py):", "",
            "| preset | " + " | ".join(NEURON_FIELDS) + " |",
            "|---|" + "---|" * len(NEURON_FIELDS)]
    for p, values in PRESETS.items():
        cells = [round(values[f], 6) if isinstance(values[f], float) else values[f]
                 for f in NEURON_FIELDS]
        out.append(f"| `{p}` | " + " | ".join(_value(v) for v in cells) + " |")

    rule = field_node(top, "rule")
    common = set(rule.models[0].model_fields)
    for m in rule.models[1:]:
        common &= set(m.model_fields)
    out += ["", "### `rule` (chipsim/learning/)", "",
            f"`rule.name` picks the rule; every rule takes the fields below, and its own fields "
            "after them. A field of another rule is refused.", ""]
    table = _table(rule.models[0], [k for k in rule.models[0].model_fields
                                    if k in common and k != rule.disc], "rule.")
    tags = ", ".join(str(t) for ts in rule.tags for t in ts)
    out += table[:2] + [f"| `rule.{rule.disc}` | one of {tags} | required | the rule (the "
                        "rule registry, chipsim/learning/__init__.py) |"] + table[2:]
    out += _union_section("rule", rule, common, "rule.")

    loss = field_node(top, "loss")
    out += ["", "### `loss` (chipsim/learning/losses.py)", "",
            f"`loss.kind` picks the loss (default `{W.DEFAULT_LOSS}`); a field of another kind "
            "is refused."]
    out += _union_section("kind", loss, {"kind"}, "loss.")
    m = field_node(top, "training").models[0]
    out += ["", "### `training`", "", _doc(m), ""] + _table(m, prefix="training.")
    return out


def profile_reference() -> list[str]:
    from chipsim.config import profile as P
    from chipsim.counts import ACTION_INFO, PRICED_ACTIONS

    top = P.ProfileFile
    out = ["## Hardware profile (`hardware_profiles/*.yaml`)", "",
           _doc(top) + " The rules (global and incremental SOP figures, inclusion, "
           "provenance) are explained in hardware_profiles/README.md.", ""]
    out += _table(top)
    out += ["", "### A figure", "", _doc(P.Figure) + " Every number of a profile is one.", ""]
    out += _table(P.Figure, ["source", "provenance", "reason"])
    out += ["", "Its `value`, by section:", "", "| figure | `value` | null allowed |",
            "|---|---|---|"]
    for cls in (P.EnergyFigure, P.PowerFigure, P.TimeFigure, P.FrequencyFigure, P.LengthFigure,
                P.AreaFigure, P.VoltageFigure, P.MemoryFigure, P.CountFigure, P.FlagFigure):
        value = expected(field_node(cls, "value"), with_null=False)
        out.append(f"| `{cls.__name__}` | {_cell(value)} | "
                   f"{'yes, with a reason' if cls.nullable else 'no'} |")
    for name in ("precision", "memory", "architecture", "learning"):
        m = field_node(top, name).models[0]
        out += ["", f"### `{name}`", "", _doc(m), ""] + _table(m, prefix=f"{name}.")
    out += ["", "### `actions`", "", _doc(P.Actions) + " Each entry is an action's price (below)."
            " An action with a default price may be left out: it is then priced at the "
            "default, an `assumed` figure that says it is chipsim's default; a profile's own "
            "figure overrides it. An action without one must be priced.", "",
            "| action | one count is | default price (assumed) |", "|---|---|---|"]
    for a in PRICED_ACTIONS:
        info = ACTION_INFO[a]
        d = info.default
        price = "none: required" if d is None else (
            f"{format_si(d.energy, 'J')}, {format_si(d.time, 's')}: {d.reason} ({d.source})")
        out.append(f"| `{a.name.lower()}` | {_cell(info.description)} | {_cell(price)} |")
    out += ["", "#### An action's price", "", _doc(P.ActionPrice), ""]
    out += _table(P.ActionPrice, prefix="actions.<action>.")
    out += ["", "#### An energy included in the SOP figure", "", _doc(P.IncludedEnergy), ""]
    out += _table(P.IncludedEnergy, prefix="actions.<action>.energy.")
    return out


def sweep_reference() -> list[str]:
    """The sweep file's fields (chipsim/config/sweep.py)."""
    from chipsim.config import sweep as S
    out = ["## Sweep (`workloads/sweeps/*.yaml`, `chipsim sweep`)", "", _doc(S.SweepFile), "",
           "An axis is `rule` (`rule.name`), `seed` (`training.seed`), `profile` (names or YAML "
           "paths), `profile.<field>` (a profile field: a figure's value is set and marked "
           "`assumed`, an action's energy for `actions.<action>`), or any other dotted workload "
           "field. Paths are relative to the sweep file.", ""]
    out += _table(S.SweepFile)
    out += ["", "### `sampling`", "", _doc(S.Sampling), ""]
    out += _table(S.Sampling, prefix="sampling.")
    return out


def reference() -> str:
    """The text of docs/configuration.md."""
    out = ["# Configuration reference", "",
           "<!-- generated by `python -m chipsim.config.reference --write` from the typed models "
           "of chipsim/config; do not edit by hand (tests/test_config_reference.py checks it) -->",
           "",
           "Every workload and profile section below is a typed model: what the loader accepts, "
           "the defaults it fills in, the `--set` keys it takes and this page all come from it. "
           "Values are strict: only `true`/`false` are booleans, `6.0` is not an integer, `'3'` "
           "is not a number; an unknown key is refused with the known ones. A mistake is one "
           "message naming the file, the dotted field, its line (or the `--set` override that "
           "gave it) and what was expected.", "",
           "`--set KEY=VALUE` (repeatable) changes a workload field without editing the file: a "
           "dotted key into any section (`training.epochs=1`), an index into "
           "`network.hidden` (`network.hidden.0.units=64`), a key of `mapping` "
           "(`mapping.dense1=[0, 1]`) or a whole section as a YAML mapping "
           "(`loss={kind: tet}`); VALUE is a YAML literal.", ""]
    out += workload_reference()
    out += [""] + profile_reference()
    out += [""] + sweep_reference()
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = reference()
    if "--write" in argv:
        root = Path(__file__).resolve().parents[2]
        (root / PAGE).write_text(text, encoding="utf-8")
        print(f"wrote {PAGE}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
