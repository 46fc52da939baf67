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
    assert p.energy_of("mem_read_weight", "learning") == pytest.approx(1.44e-12, abs=0)
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


# ----------------------------------------------------------------------------------------
# architecture and sync_time
# ----------------------------------------------------------------------------------------
ARCH = {"cores": 8, "neurons_per_core": 256, "synapses_per_core": 65536, "mesh_width": 2,
        "mesh_height": 2, "cores_per_router": 2, "max_chips": 4, "shared_conv_kernels": 1}


def arch_text(arch=None, drop=(), extra=()):
    """An architecture section for toy_text(top_extra=...)."""
    arch = dict(ARCH if arch is None else arch)
    lines = ["architecture:"]
    for k, v in arch.items():
        if k in drop:
            continue
        lines.append(f"  {k}: {{value: {v}, source: t, provenance: measured}}")
    lines += [f"  {ln}" for ln in extra]
    return "\n".join(lines)


def test_architecture_loads_with_helpers(tmp_path):
    p = load_profile(str(write(tmp_path, toy_text(top_extra=arch_text()))))
    assert p.has_architecture
    assert {k: p.arch(k) for k in ARCH} == ARCH
    assert all(isinstance(q.value, int) for q in p.architecture.values())
    # 2 cores per router, routers row by row on a 2 x 2 grid
    assert [p.router_xy(c) for c in range(8)] == [(0, 0), (0, 0), (1, 0), (1, 0),
                                                  (0, 1), (0, 1), (1, 1), (1, 1)]
    with pytest.raises(ValueError):
        p.router_xy(8)
    assert "architecture.mesh_width" in dict(p.quantities())


def test_cores_per_router_defaults_to_one(tmp_path):
    arch = {**ARCH, "mesh_width": 4}
    text = toy_text(top_extra=arch_text(arch, drop=("cores_per_router",)))
    p = load_profile(str(write(tmp_path, text)))
    assert p.arch("cores_per_router") == 1 and p.router_xy(5) == (1, 1)


def test_no_architecture_section_is_allowed_but_cannot_be_mapped(tmp_path):
    p = load_profile(str(write(tmp_path, toy_text())))
    assert not p.has_architecture and p.architecture == {}
    with pytest.raises(ChipsimError) as ei:
        p.arch("cores")
    assert ei.value.field == "architecture.cores" and "chip.yaml" in str(ei.value)


@pytest.mark.parametrize("missing", ["cores", "neurons_per_core", "synapses_per_core",
                                     "mesh_width", "mesh_height", "max_chips",
                                     "shared_conv_kernels"])
def test_missing_architecture_entry(tmp_path, missing):
    path, msg, err = load_error(tmp_path, toy_text(top_extra=arch_text(drop=(missing,))))
    assert path in msg and err.field == f"architecture.{missing}"
    assert f"missing architecture entry '{missing}'" in msg


def test_unknown_architecture_field(tmp_path):
    text = toy_text(top_extra=arch_text(extra=["mesh_depth: {value: 2, source: t, "
                                               "provenance: measured}"]))
    path, msg, err = load_error(tmp_path, text)
    assert path in msg and err.field == "architecture.mesh_depth"
    assert "unknown field 'mesh_depth'" in msg and "max_chips" in msg and "mesh_width" in msg


def test_mesh_too_small_for_the_cores(tmp_path):
    arch = {**ARCH, "cores": 9}          # 2 x 2 routers x 2 cores = 8 < 9
    path, msg, err = load_error(tmp_path, toy_text(top_extra=arch_text(arch)))
    assert err.field == "architecture.mesh_width" and "holds 8 cores" in msg


@pytest.mark.parametrize("entry,value,needle", [
    ("shared_conv_kernels", 2, "an integer in [0, 1]"),
    ("shared_conv_kernels", "yes", "an integer in [0, 1]"),
    ("max_chips", 0, "integer >= 1"),
    ("cores", "null", "null"),
    ("mesh_height", 2.5, "integer"),
])
def test_bad_architecture_values(tmp_path, entry, value, needle):
    arch = {**ARCH, entry: value}
    path, msg, err = load_error(tmp_path, toy_text(top_extra=arch_text(arch)))
    assert err.field == f"architecture.{entry}.value" and needle in msg


def test_shared_conv_kernels_zero_is_valid(tmp_path):
    p = load_profile(str(write(tmp_path, toy_text(
        top_extra=arch_text({**ARCH, "shared_conv_kernels": 0})))))
    assert p.arch("shared_conv_kernels") == 0


def test_architecture_entry_needs_source_and_reason(tmp_path):
    text = toy_text(top_extra="architecture:\n" + "\n".join(
        f"  {k}: {{value: {v}, source: t, provenance: "
        + ("assumed}" if k == "max_chips" else "measured}") for k, v in ARCH.items()))
    path, msg, err = load_error(tmp_path, text)
    assert err.field == "architecture.max_chips.reason"


def test_sync_time(tmp_path):
    sync = "sync_time: {value: 465 ns, source: t, provenance: simulated}"
    p = load_profile(str(write(tmp_path, toy_text(top_extra=sync))))
    assert p.sync_time.value == pytest.approx(465e-9, abs=0) and p.sync_time.unit == "s"
    assert ("sync_time", p.sync_time) in p.quantities()
    assert load_profile(str(write(tmp_path, toy_text(), "n.yaml"))).sync_time is None


@pytest.mark.parametrize("value,needle", [("465 pJ", "unit of energy"), ("465", "no unit"),
                                          ("2 MHz", "frequency")])
def test_sync_time_units(tmp_path, value, needle):
    text = toy_text(top_extra=f"sync_time: {{value: {value}, source: t, provenance: measured}}")
    path, msg, err = load_error(tmp_path, text)
    assert path in msg and err.field == "sync_time.value" and needle in msg


def test_sync_time_assumed_needs_reason(tmp_path):
    text = toy_text(top_extra="sync_time: {value: 1 us, source: t, provenance: assumed}")
    path, msg, err = load_error(tmp_path, text)
    assert err.field == "sync_time.reason"


def test_shipped_profiles_have_complete_architecture():
    from chipsim.config.profile import ARCHITECTURE_REQUIRED
    for name in list_profiles():
        p = load_profile(name)
        if name == "anp_i":      # NOT FOUND: left out on purpose, so nothing is refused on it
            assert not p.architecture
            continue
        assert set(ARCHITECTURE_REQUIRED) <= set(p.architecture), name


# ----------------------------------------------------------------------------------------
# actions with a documented default price (chipsim/counts.py ACTION_INFO)
# ----------------------------------------------------------------------------------------
def test_every_action_is_described_and_only_priced_ones_may_default():
    from chipsim.counts import ACTION_INFO, Action
    assert list(ACTION_INFO) == list(Action)
    for action, info in ACTION_INFO.items():
        assert info.description.strip(), action
        if info.default is not None:
            assert action in PRICED_ACTIONS, action
            d = info.default
            assert d.energy >= 0 and d.time >= 0 and d.source.strip()
            assert len(d.reason.split()) >= 2, action


def test_omitted_action_with_a_default_is_priced_at_the_default_marked_assumed(tmp_path):
    from chipsim.counts import ACTION_INFO, Action
    from chipsim.hardware.ledger import price
    import numpy as np
    from chipsim import counts as K
    d = ACTION_INFO[Action.CHIP_MESSAGE].default
    assert d is not None
    p = load_profile(str(write(tmp_path, toy_text(drop=("chip_message",), static="0 W"))))
    e, t = p.energy["chip_message"], p.time["chip_message"]
    assert (e.value, e.unit, t.value, t.unit) == (832e-12, "J", 1e-6, "s") == \
        (d.energy, "J", d.time, "s")
    assert e.provenance == t.provenance == "assumed" and e.reason == d.reason
    assert "default" in e.source and "chipsim/counts.py" in e.source
    assert p.defaulted == frozenset({"chip_message"})
    assert set(p.energy) == set(PRICED_NAMES) == set(p.time)
    # the ledger prices it, counts it as assumed and its sources say it is the default
    c = np.zeros((1, 1, K.N_PHASES, K.N_ACTIONS), dtype=np.int64)
    c[0, 0, K.INFER, K.CHIP_MESSAGE] = 10
    r = price(c, p)
    assert r.total_energy == pytest.approx(10 * 832e-12, rel=1e-12, abs=0)
    assert r.assumed_energy_share == 1.0
    assert "chipsim's default price of 'chip_message'" in r.sources["chip_message"]
    assert "chipsim's documented default" in describe_profile(p)


def test_a_profile_figure_overrides_the_default(tmp_path):
    p = load_profile(str(write(tmp_path, toy_text(energy={"chip_message": "5 pJ"}))))
    e = p.energy["chip_message"]
    assert (e.value, e.provenance) == (5e-12, "measured") and not p.defaulted
    assert "documented default" not in describe_profile(p)


def test_omitted_action_without_a_default_is_refused_as_before(tmp_path):
    from chipsim.counts import ACTION_INFO, Action
    assert ACTION_INFO[Action.SPIKE].default is None
    path, msg, err = load_error(tmp_path, toy_text(drop=("spike", "chip_message")))
    assert path in msg and err.field == "actions.spike"
    assert "missing price for action 'spike': every priced action needs an energy and a time" \
        in msg
    assert "spike: {energy: {value: ..., source: ..., provenance: ...}, time: {...}}" in msg


# ----------------------------------------------------------------------------------------
# null is not "absent": an optional figure or section written as null is refused
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("extra,field", [
    ("sync_time: null", "sync_time"), ("memory: null", "memory"),
    ("architecture: null", "architecture"), ("memory: {sram_total: null}", "memory.sram_total"),
])
def test_null_optional_figure_or_section_is_refused(tmp_path, extra, field):
    path, msg, err = load_error(tmp_path, toy_text(top_extra=extra))
    assert err.field == field and "got null" in msg


def test_null_action_with_a_default_is_refused_not_defaulted(tmp_path):
    text = toy_text(drop=("chip_message",)) + "  chip_message: null\n"
    path, msg, err = load_error(tmp_path, text)
    assert err.field == "actions.chip_message" and "got null" in msg


def test_null_static_power_in_incremental_profile_is_refused_before_its_reason(tmp_path):
    text = toy_text().replace("static_power: {value: 1 mW, source: t, provenance: measured}",
                              "static_power: {value: null, source: t, provenance: measured}")
    path, msg, err = load_error(tmp_path, text)
    assert err.field == "static_power.value" and "is null but this figure is used" in msg


def test_architecture_constants_are_the_models():
    from chipsim.config.profile import (ARCHITECTURE_FIELDS, ARCHITECTURE_FLAGS,
                                        ARCHITECTURE_REQUIRED, Architecture)
    fields = Architecture.model_fields
    assert ARCHITECTURE_REQUIRED == tuple(k for k, f in fields.items() if f.is_required())
    assert ARCHITECTURE_FIELDS == tuple(fields)
    assert ARCHITECTURE_FLAGS == ("message_overlap", "shared_conv_kernels")
