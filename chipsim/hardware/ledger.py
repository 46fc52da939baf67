"""The ledger: price integer action counts against a hardware profile.

Energy is linear in the counts::

    E_dyn[n]  = sum_{l,p,a} counts[n,l,p,a] * e[p,a]
    T[n]      = the cycle model's latency of sample n (hardware/cycle.py), or without one
                sum_{l,p,a} counts[n,l,p,a] * t[a]            (serial time)
    E_stat[n] = P_static * units * T[n]  (incremental profiles only; 0 for an all-in average;
                units = the cores or chips the mapping powers, per the profile's scope)

with ``e[p,a]`` the profile's energy of action ``a`` in phase ``p``: for a
``global_at_operating_point`` profile the actions marked ``included_in_sop`` cost 0 in the
INFERENCE phase (their energy is inside the all-in SOP average) and their ``learning`` figure in
the LEARNING phase. The NeuroBench metrics (``nb_*``) are counted, never priced.

Counts are summed over layers in int64 first and converted to float once, so the result does not
depend on the layer order and stays exact for counts below 2**53.
"""

from __future__ import annotations

import numpy as np

from chipsim.config.profile import HardwareProfile
from chipsim.counts import ACTION_NAMES, N_ACTIONS, N_PHASES, PRICED_ACTIONS, Action, Phase
from chipsim.result import Pricing

#: the vocabulary in blocks, summed one after the other: the actions up to chip_message, then
#: the message actions added in chipsim 0.2.1. A sum over a longer vector is rounded
#: differently, so each block keeps the order of its sums and adding actions changed no earlier
#: figure (tests/test_golden.py); a block priced at zero adds exactly 0.
_BLOCKS = (slice(0, int(Action.SPIKE_MESSAGE)), slice(int(Action.SPIKE_MESSAGE), N_ACTIONS))

_PRICED = np.zeros(N_ACTIONS, dtype=bool)
_PRICED[[int(a) for a in PRICED_ACTIONS]] = True


def price_tables(profile: HardwareProfile):
    """Per-action tables of ``profile``.

    Returns ``(energy_per_action (A,), phase_energy (P, A), time_per_action (A,),
    included (A,) bool, assumed (A,) bool)``. ``energy_per_action`` is the figure used where the
    action is priced (for an included action: its learning-phase figure); ``phase_energy`` is
    what one count costs in each phase.
    """
    e = np.zeros(N_ACTIONS, dtype=np.float64)
    t = np.zeros(N_ACTIONS, dtype=np.float64)
    included = np.zeros(N_ACTIONS, dtype=bool)
    assumed = np.zeros(N_ACTIONS, dtype=bool)
    for a, name in enumerate(ACTION_NAMES):
        if not _PRICED[a]:
            continue
        qe, qt = profile.energy[name], profile.time[name]
        e[a] = float(qe.value)
        t[a] = float(qt.value)
        assumed[a] = qe.assumed
        included[a] = name in profile.included_in_sop
    phase_e = np.tile(e, (N_PHASES, 1))
    if profile.is_global:
        phase_e[int(Phase.INFERENCE), included] = 0.0
    else:
        included[:] = False   # an incremental profile cannot include anything (checked at load)
    return e, phase_e, t, included, assumed


def _sources(profile: HardwareProfile, included: np.ndarray) -> dict:
    out = {}
    for a, name in enumerate(ACTION_NAMES):
        if not _PRICED[a]:
            out[name] = "not priced; NeuroBench metric (counted only)"
            continue
        q = profile.energy[name]
        if included[a]:
            out[name] = ("inference: 0 J, inside the all-in SOP figure; learning: "
                         + q.describe())
        else:
            out[name] = q.describe()
        out[f"{name}.time"] = profile.time[name].describe()
    sp = profile.static_power
    if profile.is_global:
        out["static_power"] = ("0 W added: the SOP figure is an all-in average that already "
                               "contains static power; profile value: " + sp.describe())
    else:
        out["static_power"] = f"per {profile.static_power_scope}: " + sp.describe()
    return out


def price(sample_counts: np.ndarray, profile: HardwareProfile, sample_time: np.ndarray | None = None,
          static_units: float = 1.0) -> Pricing:
    """Price ``sample_counts`` (N, L, P, A) int64 on ``profile``; see the module docstring.

    ``sample_time`` (N,): modelled time of each sample from the cycle model (hardware/cycle.py);
    without it, the serial sum of per-action times. ``static_units``: how many of the units the
    profile's static power is quoted for are powered (cores or chips used by the mapping).
    """
    c = np.asarray(sample_counts)
    if c.ndim != 4 or c.shape[2:] != (N_PHASES, N_ACTIONS):
        raise ValueError(f"sample_counts must have shape (N, L, {N_PHASES}, {N_ACTIONS}), "
                         f"got {c.shape}")
    if not np.issubdtype(c.dtype, np.integer):
        raise ValueError(f"sample_counts must be integers, got {c.dtype}")
    if c.size and c.min() < 0:
        raise ValueError("sample_counts has negative entries")
    e, phase_e, t, included, assumed = price_tables(profile)

    per_sample = c.sum(axis=1, dtype=np.int64)              # (N, P, A), exact
    ps = per_sample.astype(np.float64)
    sample_dyn = sum(np.tensordot(ps[..., b], phase_e[:, b], axes=([1, 2], [0, 1]))
                     for b in _BLOCKS)
    if sample_time is None:
        pa = per_sample.sum(axis=1, dtype=np.int64).astype(np.float64)
        sample_time = sum(pa[:, b] @ t[b] for b in _BLOCKS)             # (N,)
    else:
        sample_time = np.asarray(sample_time, dtype=np.float64)
    run_counts = c.sum(axis=0, dtype=np.int64).astype(np.float64)                 # (L, P, A)
    energy = run_counts * phase_e[None, :, :]

    if profile.is_global:
        p_static, static_assumed = 0.0, False
    else:
        p_static = float(profile.static_power.value) * float(static_units)
        static_assumed = profile.static_power.assumed
    sample_static = p_static * sample_time

    dyn_total = sum(float(energy[..., b].sum()) for b in _BLOCKS)
    static_total = float(sample_static.sum())
    total = dyn_total + static_total
    assumed_total = sum(float(energy[..., b][..., assumed[b]].sum()) for b in _BLOCKS) + (
        static_total if static_assumed else 0.0)
    share = assumed_total / total if total > 0 else 0.0

    return Pricing(
        profile_name=profile.name,
        sop_energy_kind=profile.sop_energy_kind,
        energy_per_action=e,
        time_per_action=t,
        included_in_sop=included,
        assumed=assumed,
        static_power=p_static,
        static_assumed=bool(static_assumed),
        sources=_sources(profile, included),
        energy=energy,
        sample_dynamic_energy=np.asarray(sample_dyn, dtype=np.float64).reshape(c.shape[0]),
        sample_static_energy=np.asarray(sample_static, dtype=np.float64).reshape(c.shape[0]),
        sample_time=np.asarray(sample_time, dtype=np.float64).reshape(c.shape[0]),
        assumed_energy_share=float(share),
    )
