"""Hardware profiles: the shipped ones load and are fully sourced; bad profiles are refused with
a message naming the file and the field."""

import pytest

from chipsim.config.profile import (
    INCLUDABLE,
    PRICED_NAMES,
    PROVENANCES,
    describe_profile,
    list_profiles,
    load_profile,
)
from chipsim.counts import PRICED_ACTIONS
from chipsim.errors import ChipsimError

SHIPPED = ("anp_i", "loihi", "generic_45nm")


# ----------------------------------------------------------------------------------------
# a toy profile written as YAML text (round numbers; every action priced)
# ----------------------------------------------------------------------------------------
def toy_text(kind="incremental", energy=None, time=None, included=None, static="1 mW",
             static_prov="measured", drop=(), extra_action_lines=None, top_extra="",
             timing="asynchronous"):
    """YAML of a complete profile. ``energy``/``time``: name -> value text (default 0 pJ/0 ns);
    ``included``: name -> learning value text; ``drop``: actions left out."""
    energy, time, included = dict(energy or {}), dict(time or {}), dict(included or {})
    lines = [
        "name: toy",
        "title: a toy chip",
        "notes: round numbers for tests",
        "references: {t: 'the test suite'}",
        "process: {value: 28 nm, source: t, provenance: measured}",
        f"timing: {timing}",
        f"sop_energy_kind: {kind}",
        f"static_power: {{value: {static}, source: t, provenance: {static_prov}"
        + (", reason: r" if static_prov == "assumed" else "") + "}",
        "precision:",
    ]
    for f in ("weight_bits", "state_bits", "trace_bits", "grad_bits"):
        lines.append(f"  {f}: {{value: 8, source: t, provenance: measured}}")
    lines += ["learning: {on_chip: true, source: t}", top_extra, "actions:"]
    for name in PRICED_NAMES:
        if name in drop:
            continue
        lines.append(f"  {name}:")
        if extra_action_lines and name in extra_action_lines:
            lines += [f"    {ln}" for ln in extra_action_lines[name]]
            continue
        if name in included:
            lines.append("    energy:")
            lines.append("      included_in_sop: true")
            lines.append(f"      learning: {{value: {included[name]}, source: t, "
                         "provenance: assumed, reason: r}")
        else:
            prov = "assumed, reason: r" if name.startswith("mem_") else "measured"
            lines.append(f"    energy: {{value: {energy.get(name, '0 pJ')}, source: t, "
                         f"provenance: {prov}}}")
        lines.append(f"    time: {{value: {time.get(name, '0 ns')}, source: t, "
                     "provenance: measured}")
    return "\n".join(lines) + "\n"


def write(tmp_path, text, name="chip.yaml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def load_error(tmp_path, text) -> tuple:
    p = write(tmp_path, text)
    with pytest.raises(ChipsimError) as ei:
        load_profile(str(p))
    return str(p), str(ei.value), ei.value


# ----------------------------------------------------------------------------------------
# shipped profiles
# ----------------------------------------------------------------------------------------
def test_list_profiles_has_the_three():
    assert set(SHIPPED) <= set(list_profiles())


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profile_loads_and_every_figure_is_sourced(name):
    p = load_profile(name)
    assert p.name == name
    assert p.title and p.notes and p.references
    assert set(p.energy) == set(PRICED_NAMES) == set(p.time)
    assert len(PRICED_NAMES) == len(PRICED_ACTIONS)
    for field, q in p.quantities():
        assert q.source.strip(), field
        assert q.provenance in PROVENANCES, field
        if q.provenance == "assumed":
            assert q.reason and q.reason.strip(), f"{name}: {field} assumed without reason"
    for action in PRICED_NAMES:
        assert p.energy[action].value is not None and p.energy[action].value >= 0
        assert p.time[action].value is not None and p.time[action].value >= 0
    for k in ("weight_bits", "state_bits", "trace_bits", "grad_bits"):
        assert isinstance(p.precision[k].value, int) and p.precision[k].value >= 1
    assert p.learning["on_chip"] is True
    assert describe_profile(p).startswith(f"{name}: ")


def test_anp_i_is_global_with_inference_work_included():
    p = load_profile("anp_i")
    assert p.sop_energy_kind == "global_at_operating_point"
    assert p.timing == "asynchronous"
    assert p.clock.value == 40e6 and p.process.value == 28e-9 and p.voltage.value == 0.56
    assert p.energy["synop"].value == 1.5e-12 and p.energy["synop"].provenance == "measured"
    assert p.included_in_sop == frozenset(INCLUDABLE)
    assert "synop" not in p.included_in_sop
    # included actions still carry a learning-phase figure, and inference costs 0
    assert p.energy_of("mem_read_weight", "inference") == 0.0
    assert p.energy_of("mem_read_weight", "learning") == pytest.approx(1.44e-12)
    assert p.static_power.value is None     # unknown, and never added (all-in average)
    assert "global" in p.notes.lower() or "GLOBAL" in p.notes


def test_loihi_is_incremental_table2_simulated():
    p = load_profile("loihi")
    assert p.sop_energy_kind == "incremental" and not p.included_in_sop
    e, t = p.energy, p.time
    assert (e["synop"].value, t["synop"].value) == (23.6e-12, 3.5e-9)
    assert (e["neuron_update_active"].value, t["neuron_update_active"].value) == (81e-12, 8.4e-9)
    assert (e["neuron_update_idle"].value, t["neuron_update_idle"].value) == (52e-12, 5.3e-9)
    assert (e["weight_update_issued"].value, t["weight_update_issued"].value) == (120e-12, 6.1e-9)
    assert e["spike"].value == 1.7e-12
    for a in ("synop", "neuron_update_active", "neuron_update_idle", "weight_update_issued",
              "spike"):
        assert e[a].provenance == "simulated"
    assert p.static_power.value == 0.82e-3 and p.static_power.provenance == "derived"
    assert p.static_power_scope == "core"
    assert p.precision["weight_bits"].value == 8
    assert p.precision["trace_bits"].value == 7 and p.precision["state_bits"].value == 24
    assert p.memory["synapse_memory_per_core"].value == 128 * 1024 * 8


def test_generic_45nm_horowitz_rows():
    p = load_profile("generic_45nm")
    e = p.energy
    assert p.sop_energy_kind == "incremental"
    assert e["synop"].value == 0.9e-12
    for a in ("syn_mac", "error_mac", "grad_mac"):
        assert e[a].value == 4.6e-12
    assert e["mem_read_weight"].value == 10e-12       # 32 KB row: 20 pJ x 32/64
    assert e["mem_read_state"].value == 5e-12         # 8 KB row: 10 pJ x 32/64
    assert p.static_power.value == 0.0
    assert p.clock.value == 1e9 and p.clock.provenance == "assumed"
    assert all(q.provenance == "assumed" for q in p.time.values())


def test_load_by_path(tmp_path):
    p = load_profile(str(write(tmp_path, toy_text())))
    assert p.name == "toy" and p.path.endswith("chip.yaml")


def test_unknown_name_lists_available():
    with pytest.raises(ChipsimError) as ei:
        load_profile("loihi3")
    msg = str(ei.value)
    assert "loihi3" in msg
    for n in SHIPPED:
        assert n in msg


def test_names_are_found_in_the_profile_directories(tmp_path, monkeypatch):
    # the lookup by name goes through _profile_dirs (source tree first, then the installed
    # package's _profiles); point it at a directory of our own
    import chipsim.config.profile as prof_mod
    write(tmp_path, toy_text(), "mychip.yaml")
    (tmp_path / "notes.txt").write_text("not a profile")
    monkeypatch.setattr(prof_mod, "_profile_dirs", lambda: [tmp_path])
    assert list_profiles() == ["mychip"]
    assert load_profile("mychip").name == "toy"
    with pytest.raises(ChipsimError) as ei:
        load_profile("anp_i")
    assert "available: mychip" in str(ei.value)


def test_describe_marks_included_actions():
    text = describe_profile(load_profile("anp_i"))
    assert "[in SOP]" in text and "global_at_operating_point" in text
    assert "1.5 pJ" in text and "not added" in text


def test_missing_path_is_an_error(tmp_path):
    with pytest.raises(ChipsimError) as ei:
        load_profile(str(tmp_path / "nope.yaml"))
    assert "nope.yaml" in str(ei.value) and "not found" in str(ei.value)


# ----------------------------------------------------------------------------------------
# bad profiles: each names the file and the field
# ----------------------------------------------------------------------------------------
def test_toy_is_valid(tmp_path):
    p = load_profile(str(write(tmp_path, toy_text(energy={"synop": "2 pJ"}))))
    assert p.energy["synop"].value == 2e-12


def test_missing_price(tmp_path):
    path, msg, err = load_error(tmp_path, toy_text(drop=("spike",)))
    assert path in msg and err.field == "actions.spike"
    assert "missing price for action 'spike'" in msg


def test_missing_time(tmp_path):
    text = toy_text(extra_action_lines={"spike": ["energy: {value: 1 pJ, source: t, provenance: measured}"]})
    path, msg, err = load_error(tmp_path, text)
    assert path in msg and err.field == "actions.spike.time" and "missing" in msg


def test_unknown_field_lists_known(tmp_path):
    text = toy_text(extra_action_lines={"synop": [
        "energi: {value: 1 pJ, source: t, provenance: measured}",
        "time: {value: 1 ns, source: t, provenance: measured}"]})
    path, msg, err = load_error(tmp_path, text)
    assert path in msg and err.field == "actions.synop.energi"
    assert "unknown field 'energi'; known fields: energy, time" in msg
    assert "line" in msg


def test_unknown_top_level_field(tmp_path):
    path, msg, err = load_error(tmp_path, toy_text(top_extra="clok: 5"))
    assert path in msg and err.field == "clok" and "known fields" in msg


def test_bare_number(tmp_path):
    path, msg, err = load_error(tmp_path, toy_text(energy={"synop": "1.5"}))
    assert path in msg and err.field == "actions.synop.energy.value"
    assert "no unit" in msg and "energy" in msg


def test_wrong_unit_kind(tmp_path):
    path, msg, err = load_error(tmp_path, toy_text(time={"synop": "3 pJ"}))
    assert path in msg and err.field == "actions.synop.time.value" and "unit of energy" in msg


def test_included_in_incremental_profile(tmp_path):
    text = toy_text(kind="incremental", included={"mem_read_weight": "2 pJ"})
    path, msg, err = load_error(tmp_path, text)
    assert path in msg and err.field == "actions.mem_read_weight.energy.included_in_sop"
    assert "incremental" in msg


def test_assumed_without_reason(tmp_path):
    text = toy_text(extra_action_lines={"synop": [
        "energy: {value: 1 pJ, source: t, provenance: assumed}",
        "time: {value: 1 ns, source: t, provenance: measured}"]})
    path, msg, err = load_error(tmp_path, text)
    assert path in msg and err.field == "actions.synop.energy.reason"
    assert "assumed figure needs a reason" in msg


def test_unknown_provenance(tmp_path):
    text = toy_text(extra_action_lines={"synop": [
        "energy: {value: 1 pJ, source: t, provenance: guessed}",
        "time: {value: 1 ns, source: t, provenance: measured}"]})
    path, msg, err = load_error(tmp_path, text)
    assert err.field == "actions.synop.energy.provenance" and "measured" in msg


def test_included_needs_learning_figure(tmp_path):
    text = toy_text(kind="global_at_operating_point", extra_action_lines={"mem_read_weight": [
        "energy: {included_in_sop: true}",
        "time: {value: 1 ns, source: t, provenance: measured}"]})
    path, msg, err = load_error(tmp_path, text)
    assert path in msg and err.field == "actions.mem_read_weight.energy.learning"


def test_learning_work_cannot_be_included(tmp_path):
    text = toy_text(kind="global_at_operating_point", included={"trace_update": "1 pJ"})
    path, msg, err = load_error(tmp_path, text)
    assert path in msg and err.field == "actions.trace_update.energy.included_in_sop"


def test_synop_cannot_be_included(tmp_path):
    text = toy_text(kind="global_at_operating_point", included={"synop": "1 pJ"})
    path, msg, err = load_error(tmp_path, text)
    assert err.field == "actions.synop.energy.included_in_sop"


def test_time_cannot_be_included(tmp_path):
    text = toy_text(kind="global_at_operating_point", extra_action_lines={"spike": [
        "energy: {value: 1 pJ, source: t, provenance: measured}",
        "time: {included_in_sop: true}"]})
    path, msg, err = load_error(tmp_path, text)
    assert err.field == "actions.spike.time" and "never included" in msg


def test_null_price_refused(tmp_path):
    path, msg, err = load_error(tmp_path, toy_text(energy={"synop": "null"}))
    assert err.field == "actions.synop.energy.value" and "null" in msg


def test_null_static_power_only_in_global_profile(tmp_path):
    # incremental: static power is added, so it must be known
    path, msg, err = load_error(tmp_path, toy_text(static="null", static_prov="assumed"))
    assert err.field == "static_power.value"
    # global: allowed (never added) when it says why
    p = load_profile(str(write(tmp_path, toy_text(kind="global_at_operating_point",
                                                  static="null", static_prov="assumed"),
                               "g.yaml")))
    assert p.static_power.value is None


def test_neurobench_metric_cannot_be_priced(tmp_path):
    text = toy_text() + "  nb_eff_ops: {energy: {value: 1 pJ, source: t, provenance: measured}}\n"
    path, msg, err = load_error(tmp_path, text)
    assert err.field == "actions.nb_eff_ops" and "never priced" in msg


def test_clocked_needs_clock(tmp_path):
    path, msg, err = load_error(tmp_path, toy_text(timing="clocked"))
    assert path in msg and err.field == "clock"


def test_duplicate_key(tmp_path):
    text = toy_text().replace("name: toy\n", "name: toy\nname: toy2\n")
    path, msg, err = load_error(tmp_path, text)
    assert path in msg and "duplicate key 'name'" in msg and "line 2" in msg


def test_malformed_yaml_reports_line(tmp_path):
    text = toy_text().replace("title: a toy chip", "title: [a toy chip")
    path, msg, err = load_error(tmp_path, text)
    assert path in msg and "malformed YAML at line" in msg


def test_strict_booleans(tmp_path):
    text = toy_text().replace("learning: {on_chip: true", "learning: {on_chip: yes")
    path, msg, err = load_error(tmp_path, text)
    assert err.field == "learning.on_chip" and "true or false" in msg
