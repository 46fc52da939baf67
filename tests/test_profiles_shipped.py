"""Every shipped hardware profile: loads, is complete and sourced, and carries the published
figures of docs/reference/hardware.md (the spot values below are written from that note, not
read back from the YAML files)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from chipsim import counts as K
from chipsim.cli import main
from chipsim.config.profile import (
    ARCHITECTURE_REQUIRED,
    INCLUDABLE,
    PRICED_NAMES,
    PROVENANCES,
    describe_profile,
    list_profiles,
    load_profile,
    profiles_table,
)
from chipsim.hardware.ledger import price

ROOT = Path(__file__).resolve().parents[1]


def approx(expected, rel=1e-6):
    """pytest.approx without its default 1e-12 absolute tolerance (a picojoule!)."""
    return pytest.approx(expected, rel=rel, abs=0)


PROFILE_DIR = ROOT / "hardware_profiles"
FILES = sorted(PROFILE_DIR.glob("*.yaml"))
EXPECTED = {"anp_i", "loihi", "loihi_sanafe", "generic_45nm", "truenorth", "odin", "reckon",
            "spinnaker2"}


def test_the_expected_profiles_are_shipped():
    assert EXPECTED <= set(list_profiles())
    assert {f.stem for f in FILES} == set(list_profiles())


@pytest.fixture(scope="module", params=[f.name for f in FILES])
def prof(request):
    # by path: every YAML file in hardware_profiles/ must load
    return load_profile(str(PROFILE_DIR / request.param))


def test_name_matches_file(prof):
    assert Path(prof.path).stem == prof.name
    assert prof.title.strip() and prof.notes.strip() and prof.references


def test_every_priced_action_has_energy_and_time(prof):
    assert set(prof.energy) == set(PRICED_NAMES) == set(prof.time)
    assert "router_hop" in PRICED_NAMES and "chip_message" in PRICED_NAMES
    for a in PRICED_NAMES:
        e, t = prof.energy[a], prof.time[a]
        assert e.value is not None and 0 <= e.value < 1e-6, (prof.name, a)    # below 1 uJ
        assert t.value is not None and 0 <= t.value < 1e-3, (prof.name, a)    # below 1 ms
        assert e.unit == "J" and t.unit == "s"


def test_every_quantity_has_source_and_provenance(prof):
    qs = prof.quantities()
    n_arch = len(ARCHITECTURE_REQUIRED) if prof.has_architecture else 0
    assert len(qs) >= 2 * len(PRICED_NAMES) + n_arch + 4
    for field, q in qs:
        assert q.source and q.source.strip(), (prof.name, field)
        assert q.provenance in PROVENANCES, (prof.name, field)
        if q.provenance == "assumed" or q.value is None:
            assert q.reason and len(q.reason.split()) >= 2, (prof.name, field)


def test_every_cited_reference_exists(prof):
    texts = [q.source for _, q in prof.quantities()] + [str(prof.learning.get("source"))]
    for text in texts:
        for key in re.findall(r"\[([a-z][a-z0-9_]*)\]", text):    # [davies2018], not [Q]
            assert key in prof.references, f"{prof.name}: [{key}] cited but not in references"


def test_architecture_complete(prof):
    if prof.name == "anp_i":          # NOT FOUND: no architecture, so no mapping (see its notes)
        assert not prof.architecture
        return
    assert set(ARCHITECTURE_REQUIRED) <= set(prof.architecture)
    cores = prof.arch("cores")
    assert cores >= 1 and prof.arch("neurons_per_core") >= 1
    assert prof.arch("synapses_per_core") >= prof.arch("neurons_per_core")
    assert prof.arch("max_chips") >= 1 and prof.arch("shared_conv_kernels") in (0, 1)
    routers = prof.arch("mesh_width") * prof.arch("mesh_height")
    assert routers * prof.arch("cores_per_router") >= cores
    xs, ys = zip(*(prof.router_xy(c) for c in range(cores)))
    assert max(xs) < prof.arch("mesh_width") and max(ys) < prof.arch("mesh_height")


def test_pricing_rule(prof):
    if prof.is_global:
        assert prof.included_in_sop <= set(INCLUDABLE) and prof.included_in_sop
        assert "synop" not in prof.included_in_sop
    else:
        assert not prof.included_in_sop
        assert prof.static_power.value is not None and prof.static_power.value >= 0
    if prof.timing == "tick":
        assert prof.tick is not None and prof.tick.value > 0
    if prof.timing == "clocked":
        assert prof.clock is not None and prof.clock.value > 0
    if prof.sync_time is not None:
        assert prof.sync_time.unit == "s" and prof.sync_time.value >= 0


def test_the_ledger_prices_it(prof):
    rng = np.random.default_rng(1)
    c = rng.integers(0, 1000, size=(3, 2, K.N_PHASES, K.N_ACTIONS), dtype=np.int64)
    p = price(c, prof)
    assert np.isfinite(p.total_energy) and p.total_energy > 0
    assert (p.sample_time > 0).all() and 0.0 <= p.assumed_energy_share <= 1.0
    if prof.is_global:
        assert p.static_power == 0.0 and not p.sample_static_energy.any()


def test_describe_shows_every_figure_with_its_source(prof):
    text = describe_profile(prof)
    flat = " ".join(text.split())
    assert text.startswith(f"{prof.name}: ")
    for field, q in prof.quantities():
        assert " ".join(q.source.split()) in flat, (prof.name, field)
    for a in PRICED_NAMES:
        assert a in text
    for key in ARCHITECTURE_REQUIRED if prof.has_architecture else ():
        assert key in text


# ----------------------------------------------------------------------------------------
# spot values, written from docs/reference/hardware.md
# ----------------------------------------------------------------------------------------
def test_odin_affine_power_model():
    p = load_profile("odin")
    assert p.sop_energy_kind == "incremental"
    assert p.energy["synop"].value == approx(8.43e-12)                # Fig. 8b
    assert p.clock.value == approx(75e6) and p.timing == "clocked"
    # static = P_leak + P_idle x f = 27.3 uW + 1.78 uW/MHz x 75 MHz = 160.8 uW
    assert p.static_power.value == approx(27.3e-6 + 1.78e-6 * 75, rel=1e-9)
    assert p.static_power.value == approx(160.8e-6, rel=1e-9)
    assert p.static_power.provenance == "derived" and p.static_power_scope == "chip"
    # 2 cycles per SOP at 75 MHz
    assert p.time["synop"].value == approx(2 / 75e6, rel=1e-3)
    # the model reproduces the published global 12.7 pJ/SOP at 37.5 MSOP/s (477 uW)
    r_sop = 75e6 / 2
    power = p.static_power.value + p.energy["synop"].value * r_sop
    assert power == approx(477e-6, rel=2e-3)
    assert power / r_sop == approx(12.7e-12, rel=2e-3)
    assert (p.arch("cores"), p.arch("neurons_per_core"), p.arch("synapses_per_core")) == \
        (1, 256, 65536)
    assert p.arch("max_chips") == 1 and p.arch("shared_conv_kernels") == 0
    assert p.precision["weight_bits"].value == 3 and p.precision["state_bits"].value == 8


def test_truenorth():
    p = load_profile("truenorth")
    assert p.timing == "tick" and p.tick.value == approx(1e-3)      # 1 kHz tick
    assert p.sop_energy_kind == "incremental"
    assert p.learning["on_chip"] is False
    assert "learn" in p.learning["notes"].lower()
    assert (p.arch("cores"), p.arch("mesh_width"), p.arch("mesh_height")) == (4096, 64, 64)
    assert (p.arch("neurons_per_core"), p.arch("synapses_per_core")) == (256, 256 * 256)
    assert p.arch("shared_conv_kernels") == 0 and p.arch("max_chips") > 1
    # affine fit: 64.4 mW static per chip, i.e. 15.7 uW per core
    assert p.static_power_scope == "core"
    assert p.static_power.value * 4096 == approx(64.4e-3, rel=2e-3)
    # marginal 2.30 pJ/event minus routing (21 hops x 2.3 pJ over 128 events per spike)
    assert p.energy["synop"].value == approx(2.30e-12 - 21 * 2.3e-12 / 128, rel=3e-3)
    assert p.energy["router_hop"].value == approx(2.3e-12)
    assert p.energy["router_hop"].provenance == "measured"
    assert p.energy["chip_message"].value == approx(26e-12 * 32)   # 26 pJ/bit x 32
    # the learning actions are priced although TrueNorth cannot learn, and all assumed
    for a in ("trace_update", "surrogate_eval", "error_mac", "grad_mac", "weight_update_issued"):
        assert p.energy[a].value > 0 and p.energy[a].provenance == "assumed"
    # neither the 26 pJ global figure nor a neuron energy is added on top of the affine model
    assert p.energy["neuron_update_idle"].value == 0.0
    assert p.energy["synop"].value < 26e-12


def test_loihi_table2_and_architecture():
    p = load_profile("loihi")
    # Table 2: 3.0 pJ E-W / 4.0 pJ N-S per tile hop, 4.1 / 6.5 ns
    assert p.energy["router_hop"].value == approx((3.0e-12 + 4.0e-12) / 2)
    assert p.time["router_hop"].value == approx((4.1e-9 + 6.5e-9) / 2)
    assert p.sync_time.value == approx(465e-9)      # mesh-wide barrier, 32 tiles
    assert p.sync_time.provenance == "simulated"
    assert (p.arch("cores"), p.arch("neurons_per_core")) == (128, 1024)
    assert p.arch("mesh_width") * p.arch("mesh_height") == 32          # 32 tiles
    assert p.arch("cores_per_router") == 4 and p.arch("max_chips") == 768
    assert p.router_xy(0) == p.router_xy(3) != p.router_xy(4)            # 4 cores per tile


def test_loihi_sanafe_calibration():
    p = load_profile("loihi_sanafe")
    e, t = p.energy, p.time
    assert (e["synop"].value, t["synop"].value) == approx((35.5e-12, 3.8e-9))
    assert e["synop"].provenance == "measured"
    # SANA-FE's worked check: 896 look-ups x 35.5 pJ = 31.81 nJ of synapse energy
    assert 896 * e["synop"].value == approx(31.81e-9, rel=1e-3)
    assert e["neuron_update_idle"].value == approx(51.2e-12)      # soma access
    assert e["neuron_update_active"].value == approx((51.2 + 21.6) * 1e-12)
    # a spike (soma spike out), and one message per destination core (axon out; axon in timed)
    assert (e["spike"].value, t["spike"].value) == approx((69.3e-12, 30e-9))
    assert (e["spike_message"].value, t["spike_message"].value) == approx((111.0e-12, 5.1e-9))
    assert (e["message_receive"].value, t["message_receive"].value) == approx((0.0, 16e-9))
    assert p.arch("message_overlap") == 1
    assert e["router_hop"].value == approx((3.0e-12 + 4.2e-12) / 2)
    assert p.sync_time.value == approx(1.8e-6)
    # the barrier by tiles in use, SANA-FE's table
    assert [p.sync_for(n) for n in (1, 2, 3, 4, 28, 29, 32)] == approx(
        [0.6e-6, 1.0e-6, 1.0e-6, 1.4e-6, 1.4e-6, 1.8e-6, 1.8e-6])
    # SANA-FE's tiles (t // 4, t % 4) on its 8 x 4 grid, transposed: the same hop distances
    for a, b in ((0, 1), (0, 4), (3, 17), (5, 30)):
        (xa, ya), (xb, yb) = p.router_xy(4 * a), p.router_xy(4 * b)
        assert abs(xa - xb) + abs(ya - yb) == abs(a // 4 - b // 4) + abs(a % 4 - b % 4)
    # no plasticity in SANA-FE: the weight update is Davies Table 2's
    assert e["weight_update_issued"].value == approx(120e-12)
    assert e["weight_update_issued"].provenance == "simulated"
    loihi = load_profile("loihi")
    # loihi.yaml's architecture, SANA-FE's grid written transposed, and its message overlap
    mine = {k: q.value for k, q in p.architecture.items()}
    assert (mine.pop("mesh_width"), mine.pop("mesh_height"), mine.pop("message_overlap")) == (4, 8, 1)
    theirs = {k: q.value for k, q in loihi.architecture.items()}
    assert (theirs.pop("mesh_width"), theirs.pop("mesh_height")) == (8, 4)
    assert mine == theirs
    assert p.static_power.value == loihi.static_power.value


def test_reckon():
    p = load_profile("reckon")
    assert p.is_global and p.energy["synop"].value == approx(5.3e-12)
    assert p.voltage.value == approx(0.5)
    assert p.arch("synapses_per_core") == 2 * 256 * 256 + 256 * 16
    assert p.arch("cores") == 1 and p.arch("max_chips") == 1
    assert (p.precision["weight_bits"].value, p.precision["state_bits"].value,
            p.precision["trace_bits"].value) == (8, 16, 12)
    # learning-phase figures anchored to the all-in SOP: k = 5.3 / 1.30
    k = 5.3 / 1.30
    assert p.energy_of("mem_read_weight", "learning") == approx(1.25e-12 * k, rel=1e-3)
    assert p.energy_of("mem_read_weight", "inference") == 0.0


def test_spinnaker2():
    p = load_profile("spinnaker2")
    assert p.arch("cores") == 152 and p.architecture["cores"].provenance == "measured"
    assert p.energy["synop"].value == approx(450e-12)
    assert p.energy["neuron_update_active"].value == approx(2.19e-9)
    # second-hand [S] figures are assumed, never measured
    assert all(p.energy[a].provenance == "assumed" for a in PRICED_NAMES)
    assert p.process.value == approx(22e-9)


def test_anp_i_and_generic_architecture():
    a = load_profile("anp_i")
    assert not a.has_architecture          # its cores and memories are not published
    assert "NOT FOUND" in a.text and "no mapping is made" in a.text
    g = load_profile("generic_45nm")
    assert all(q.provenance == "assumed" for q in g.architecture.values())
    assert g.arch("mesh_width") * g.arch("mesh_height") == g.arch("cores")


# ----------------------------------------------------------------------------------------
# the README and the command line
# ----------------------------------------------------------------------------------------
def test_readme_lists_every_profile_and_explains_darwin3():
    text = (PROFILE_DIR / "README.md").read_text(encoding="utf-8")
    for name in list_profiles():
        assert f"`{name}`" in text, name
    for section in ("## Loihi: which figures", "### `architecture`", "`sync_time`",
                    "`max_chips`", "`shared_conv_kernels`", "`mesh_width`"):
        assert section in text
    if "darwin3" not in list_profiles():
        assert "Darwin3" in text and "Not shipped" in text


def test_cli_profiles_lists_every_profile(capsys):
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = lines[0]
    for col in ("name", "process", "SOP energy", "static power", "timing", "cores x neurons",
                "assumed prices"):
        assert col in header
    starts = [header.index(c) for c in ("process", "SOP energy", "static power", "timing")]
    for name in list_profiles():
        row = next(ln for ln in lines if ln.startswith(name + " "))
        for s in starts:                        # aligned: every column starts where its header does
            assert row[s - 2:s] == "  " and row[s] != " ", (name, s)
    assert "global" in out and "incremental" in out
    assert "odin" in out and "160.8 uW/chip" in out and "4096 x 256" in out


def test_cli_profiles_name_shows_sources(capsys):
    assert main(["profiles", "truenorth"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("truenorth: ") and "tick" in out and "[merolla2014]" in out
    assert "architecture:" in out and "mesh_width" in out and "assumed" in out


def test_profiles_table_reports_a_broken_profile(tmp_path, monkeypatch):
    import chipsim.config.profile as prof_mod
    (tmp_path / "good.yaml").write_text((PROFILE_DIR / "odin.yaml").read_text())
    (tmp_path / "bad.yaml").write_text("name: bad\n")
    monkeypatch.setattr(prof_mod, "_profile_dirs", lambda: [tmp_path])
    text, errors = profiles_table()
    assert [n for n, _ in errors] == ["bad"]
    assert "odin" in text and "ERROR" in text
