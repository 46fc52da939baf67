"""The ledger: hand-computed energies on toy profiles, and invariants on the shipped ones."""

import numpy as np
import pytest

from chipsim import counts as K
from chipsim.config.profile import PRICED_NAMES, load_profile
from chipsim.counts import Action, Phase
from chipsim.hardware.ledger import price

INF, LRN = int(Phase.INFERENCE), int(Phase.LEARNING)


# ----------------------------------------------------------------------------------------
# toy profiles (YAML written to tmp_path)
# ----------------------------------------------------------------------------------------
def toy(tmp_path, kind, energy, time, included=(), static="1 mW", static_prov="measured",
        assumed=()):
    """energy/time: action -> value text (others 0); included: name -> learning value text."""
    included = dict(included)
    lines = [
        "name: toy", "title: toy", "notes: n", "references: {t: tests}",
        "process: {value: 28 nm, source: t, provenance: measured}",
        "timing: asynchronous", f"sop_energy_kind: {kind}",
        f"static_power: {{value: {static}, source: t, provenance: {static_prov}"
        + (", reason: r}" if static_prov == "assumed" else "}"),
        "precision:",
        *[f"  {f}: {{value: 8, source: t, provenance: measured}}"
          for f in ("weight_bits", "state_bits", "trace_bits", "grad_bits")],
        "learning: {on_chip: true, source: t}",
        "actions:",
    ]
    for name in PRICED_NAMES:
        prov = "assumed, reason: r" if name in assumed else "measured"
        lines.append(f"  {name}:")
        if name in included:
            lines += ["    energy:", "      included_in_sop: true",
                      f"      learning: {{value: {included[name]}, source: t, provenance: {prov}}}"]
        else:
            lines.append(f"    energy: {{value: {energy.get(name, '0 pJ')}, source: t, provenance: {prov}}}")
        lines.append(f"    time: {{value: {time.get(name, '0 ns')}, source: t, provenance: measured}}")
    p = tmp_path / f"toy_{kind}.yaml"
    p.write_text("\n".join(lines) + "\n")
    return load_profile(str(p))


def hand_counts_incremental():
    c = K.zeros(2, 2)                       # (N=2, L=2, P, A)
    c[0, 0, INF, Action.SYNOP] = 10
    c[0, 1, INF, Action.NEURON_UPDATE_ACTIVE] = 4
    c[0, 0, LRN, Action.WEIGHT_UPDATE_ISSUED] = 3
    c[1, 1, LRN, Action.MEM_READ_WEIGHT] = 5
    c[1, 0, INF, Action.NB_EFF_OPS] = 1000  # counted, never priced
    c[1, 0, INF, Action.NB_DENSE_OPS] = 5000
    return c


def test_incremental_hand_computed(tmp_path):
    prof = toy(tmp_path, "incremental",
               energy={"synop": "2 pJ", "neuron_update_active": "10 pJ",
                       "weight_update_issued": "100 pJ", "mem_read_weight": "5 pJ"},
               time={"synop": "1 ns", "neuron_update_active": "4 ns",
                     "weight_update_issued": "10 ns", "mem_read_weight": "2 ns"},
               static="1 mW", assumed=("mem_read_weight",))
    p = price(hand_counts_incremental(), prof)
    # sample 0: 10*2 + 4*10 + 3*100 = 360 pJ; time 10*1 + 4*4 + 3*10 = 56 ns; static 1 mW*56 ns
    # sample 1: 5*5 = 25 pJ; time 5*2 = 10 ns; static 10 pJ
    np.testing.assert_allclose(p.sample_dynamic_energy, [360e-12, 25e-12], rtol=1e-12)
    np.testing.assert_allclose(p.sample_time, [56e-9, 10e-9], rtol=1e-12)
    np.testing.assert_allclose(p.sample_static_energy, [56e-12, 10e-12], rtol=1e-12)
    assert p.total_energy == pytest.approx(451e-12, rel=1e-12)
    assert p.static_power == 1e-3 and not p.static_assumed
    # breakdown (L, P, A)
    assert p.energy.shape == (2, 2, K.N_ACTIONS)
    assert p.energy[0, INF, Action.SYNOP] == pytest.approx(20e-12)
    assert p.energy[1, INF, Action.NEURON_UPDATE_ACTIVE] == pytest.approx(40e-12)
    assert p.energy[0, LRN, Action.WEIGHT_UPDATE_ISSUED] == pytest.approx(300e-12)
    assert p.energy[1, LRN, Action.MEM_READ_WEIGHT] == pytest.approx(25e-12)
    assert p.energy[:, :, Action.NB_EFF_OPS].sum() == 0 and p.energy_per_action[Action.NB_EFF_OPS] == 0
    # assumed share: only mem_read_weight (25 pJ) of 451 pJ
    assert p.assumed_energy_share == pytest.approx(25 / 451, rel=1e-12)
    assert p.assumed[Action.MEM_READ_WEIGHT] and p.assumed.sum() == 1
    assert not p.included_in_sop.any()
    assert p.sop_energy_kind == "incremental" and p.profile_name == "toy"
    assert p.energy_per_action[Action.SYNOP] == 2e-12 and p.time_per_action[Action.SYNOP] == 1e-9


def test_assumed_static_power_counts_in_share(tmp_path):
    prof = toy(tmp_path, "incremental",
               energy={"synop": "2 pJ", "neuron_update_active": "10 pJ",
                       "weight_update_issued": "100 pJ", "mem_read_weight": "5 pJ"},
               time={"synop": "1 ns", "neuron_update_active": "4 ns",
                     "weight_update_issued": "10 ns", "mem_read_weight": "2 ns"},
               static="1 mW", static_prov="assumed", assumed=("mem_read_weight",))
    p = price(hand_counts_incremental(), prof)
    assert p.static_assumed
    assert p.assumed_energy_share == pytest.approx((25 + 66) / 451, rel=1e-12)


def test_global_included_free_in_inference_priced_in_learning(tmp_path):
    prof = toy(tmp_path, "global_at_operating_point",
               energy={"synop": "1.5 pJ", "error_mac": "1 pJ"},
               time={"synop": "1 ns", "mem_read_weight": "0.5 ns",
                     "neuron_update_active": "2 ns", "error_mac": "1 ns"},
               included={"mem_read_weight": "2 pJ", "neuron_update_active": "0.5 pJ"},
               static="5 mW", assumed=("mem_read_weight",))
    c = K.zeros(1, 1)
    c[0, 0, INF, Action.SYNOP] = 100
    c[0, 0, INF, Action.MEM_READ_WEIGHT] = 100          # inside the all-in SOP: 0 J
    c[0, 0, INF, Action.NEURON_UPDATE_ACTIVE] = 10      # inside the all-in SOP: 0 J
    c[0, 0, LRN, Action.MEM_READ_WEIGHT] = 20           # learning: 20 x 2 pJ
    c[0, 0, LRN, Action.ERROR_MAC] = 20                 # learning: 20 x 1 pJ
    p = price(c, prof)
    # 100*1.5 + 20*2 + 20*1 = 210 pJ; static power given (5 mW) but never added
    assert p.sample_dynamic_energy[0] == pytest.approx(210e-12, rel=1e-12)
    assert p.energy[0, INF, Action.MEM_READ_WEIGHT] == 0.0
    assert p.energy[0, INF, Action.NEURON_UPDATE_ACTIVE] == 0.0
    assert p.energy[0, LRN, Action.MEM_READ_WEIGHT] == pytest.approx(40e-12)
    # times are never included: 100*1 + 120*0.5 + 10*2 + 20*1 = 200 ns
    assert p.sample_time[0] == pytest.approx(200e-9, rel=1e-12)
    assert p.static_power == 0.0 and p.sample_static_energy[0] == 0.0
    assert p.total_energy == pytest.approx(210e-12, rel=1e-12)
    assert p.included_in_sop[Action.MEM_READ_WEIGHT] and p.included_in_sop[Action.NEURON_UPDATE_ACTIVE]
    assert p.included_in_sop.sum() == 2
    assert p.energy_per_action[Action.MEM_READ_WEIGHT] == 2e-12     # the learning figure
    assert p.assumed_energy_share == pytest.approx(40 / 210, rel=1e-12)
    assert "inside the all-in SOP" in p.sources["mem_read_weight"]
    assert "0 W added" in p.sources["static_power"]


# ----------------------------------------------------------------------------------------
# invariants on the shipped profiles
# ----------------------------------------------------------------------------------------
def random_counts(seed=0, n=7, layers=3):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 10_000, size=(n, layers, K.N_PHASES, K.N_ACTIONS), dtype=np.int64)


@pytest.mark.parametrize("name", ["anp_i", "loihi", "generic_45nm"])
def test_invariants(name):
    prof = load_profile(name)
    c = random_counts()
    p = price(c, prof)
    # breakdown sums to the total
    assert p.energy.sum() == pytest.approx(p.sample_dynamic_energy.sum(), rel=1e-12)
    assert p.total_energy == pytest.approx(p.energy.sum() + p.sample_static_energy.sum(), rel=1e-12)
    # every entry of the breakdown is counts x the phase price
    run = c.sum(axis=0)
    for a in range(K.N_ACTIONS):
        for ph, phase in ((INF, "inference"), (LRN, "learning")):
            nm = K.ACTION_NAMES[a]
            per = prof.energy_of(nm, phase) if nm in prof.energy else 0.0
            np.testing.assert_allclose(p.energy[:, ph, a], run[:, ph, a] * per, rtol=1e-12)
    # linear in counts (doubling is exact in floating point)
    p2 = price(2 * c, prof)
    np.testing.assert_array_equal(p2.sample_dynamic_energy, 2 * p.sample_dynamic_energy)
    np.testing.assert_array_equal(p2.sample_time, 2 * p.sample_time)
    np.testing.assert_array_equal(p2.energy, 2 * p.energy)
    # additive over samples: pricing a subset gives the same per-sample numbers
    p_sub = price(c[2:4], prof)
    np.testing.assert_allclose(p_sub.sample_dynamic_energy, p.sample_dynamic_energy[2:4], rtol=1e-15)
    # zero counts -> zero energy and time
    z = price(np.zeros_like(c), prof)
    assert z.total_energy == 0.0 and not z.sample_time.any() and z.assumed_energy_share == 0.0
    # NeuroBench metrics are never priced
    nb = np.zeros_like(c)
    nb[..., Action.NB_EFF_OPS] = 123
    nb[..., Action.NB_DENSE_OPS] = 456
    assert price(nb, prof).total_energy == 0.0
    # shapes and ranges
    assert p.sample_dynamic_energy.shape == (7,) and p.energy_per_action.shape == (K.N_ACTIONS,)
    assert 0.0 <= p.assumed_energy_share <= 1.0
    assert (p.energy >= 0).all()
    for nm in K.ACTION_NAMES:
        assert nm in p.sources and "\n" not in p.sources[nm]


def test_global_profile_adds_no_static_energy():
    p = price(random_counts(), load_profile("anp_i"))
    assert p.static_power == 0.0 and not p.sample_static_energy.any() and p.sample_time.all()


def test_anp_i_included_actions_cost_nothing_in_inference_only():
    prof = load_profile("anp_i")
    c = K.zeros(1, 1)
    c[0, 0, INF, Action.NEURON_UPDATE_IDLE] = 1000
    c[0, 0, INF, Action.MEM_READ_STATE] = 1000
    assert price(c, prof).total_energy == 0.0
    c2 = K.zeros(1, 1)
    c2[0, 0, LRN, Action.MEM_READ_STATE] = 1000
    assert price(c2, prof).total_energy == pytest.approx(1000 * 2.88e-12)


def test_loihi_static_is_power_times_modelled_time():
    prof = load_profile("loihi")
    c = K.zeros(1, 1)
    c[0, 0, INF, Action.SYNOP] = 1000
    p = price(c, prof)
    assert p.sample_time[0] == pytest.approx(1000 * 3.5e-9)
    assert p.sample_static_energy[0] == pytest.approx(0.82e-3 * 3.5e-6)
    assert p.sample_dynamic_energy[0] == pytest.approx(1000 * 23.6e-12)


def test_bad_counts_are_refused():
    prof = load_profile("generic_45nm")
    with pytest.raises(ValueError):
        price(np.zeros((2, 3, K.N_ACTIONS), np.int64), prof)
    with pytest.raises(ValueError):
        price(np.zeros((1, 1, K.N_PHASES, K.N_ACTIONS), np.float64), prof)
    neg = K.zeros(1, 1)
    neg[0, 0, 0, 0] = -1
    with pytest.raises(ValueError):
        price(neg, prof)


def test_empty_run():
    p = price(K.zeros(2, 0), load_profile("loihi"))
    assert p.sample_dynamic_energy.shape == (0,) and p.total_energy == 0.0
