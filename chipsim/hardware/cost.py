"""The cost stage: a simulation on one chip. ``chipsim run`` and ``chipsim price`` both use it.

Given the layers that ran and the simulation's counts per sample and time step, :class:`Coster`

1. maps the layers onto the chip's cores and chips (mapping.py; a workload's explicit
   ``mapping`` overrides the automatic placement), or records that the profile publishes no
   core architecture;
2. counts the communication that mapping implies, per sample, step and layer: router hops and
   chip-to-chip messages of every spike (cycle.communication), kept apart from the
   simulation's counts;
3. models each step's latency on the cores (cycle.step_latency), or, without a mapping, the
   serial sum of per-action times;
4. prices everything on the profile (ledger.price): dynamic energy per action, static power x
   modelled time x the cores or chips the mapping powers.

It works batch by batch (``observe``), so the engine can cost a run while it simulates without
keeping every step's counts in memory, and re-pricing feeds it the stored step counts of a
finished run. Latency needs per-step counts: a run too large to keep them is re-priced for
energy only, with the original chip's communication and the serial time model, and says so.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from chipsim import counts as K
from chipsim.errors import ChipsimError
from chipsim.hardware import delivery
from chipsim.hardware.cycle import communication, step_latency
from chipsim.hardware.ledger import price
from chipsim.hardware.mapping import can_map, map_layers
from chipsim.result import SPLIT_TEST, SPLIT_TRAIN, Costs, RunResult, Simulation

_SPLITS = (SPLIT_TRAIN, SPLIT_TEST)


class Coster:
    """Costs one simulation on one profile, fed batch by batch (see the module docstring)."""

    def __init__(self, profile, layers, time_steps: int, mapping: dict | None = None,
                 source: str | None = None, place: bool = True, transposed=None,
                 rule: str = ""):
        """``transposed``: (L,) bool, the layers whose error the run carries back through W^T
        (None: none); a chip that cannot read one of them refuses the run (delivery.py)."""
        self.profile = profile
        self.layers = tuple(layers)
        t = np.zeros(len(self.layers), bool) if transposed is None else np.asarray(transposed, bool)
        delivery.refuse(profile, self.layers, t, rule, source)
        self.copies = delivery.copy_layers(profile, self.layers, t)
        explicit = dict(mapping or {})
        if place and can_map(profile):
            self.mapping = map_layers(self.layers, profile, explicit or None, source=source)
            self.time_model = "cycle-approximate (hardware/cycle.py) on the mapping"
        else:
            if explicit:
                raise ChipsimError(f"profile '{profile.name}' has no architecture to map onto",
                                   file=source, field="mapping",
                                   expected="a profile with an architecture section, or no mapping")
            self.mapping = None
            self.time_model = (f"serial sum of per-action times; no mapping: profile "
                               f"'{profile.name}' lacks architecture figures")
            if not place:
                self.time_model = "serial sum of per-action times (the run kept no per-step counts)"
        self._hops, self._msgs, self._smsg, self._time = [], [], [], []
        self._step_sum = np.zeros((2, int(time_steps)), np.float64)

    def observe(self, step_counts: np.ndarray, input_events: np.ndarray, split: int,
                batch: int | None = None) -> None:
        """Cost one batch: ``step_counts`` (B, T, L, P, A) of samples of one ``split``,
        ``input_events`` (B, T). ``batch``: the samples are several batches of this size, in
        order (re-pricing): every sample is costed on its own as before, and the per-step
        latency sums add up batch by batch, as they did when the run observed them."""
        B, T, L = step_counts.shape[:3]
        if self.mapping is None:
            self._hops.append(np.zeros((B, T, L), np.int64))
            self._msgs.append(np.zeros((B, T, L), np.int64))
            self._smsg.append(np.zeros((B, T, L), np.int64))
            return
        if self.copies.any():               # a transposed copy's writes take their time too
            step_counts = K.add_copy_updates(step_counts.copy(), self.copies)
        hops, msgs, smsg = communication(step_counts, input_events, self.layers, self.mapping)
        lat = step_latency(step_counts, hops, self.mapping, self.profile, smsg, self.layers)
        self._hops.append(hops)
        self._msgs.append(msgs)
        self._smsg.append(smsg)
        self._time.append(lat.sum(axis=1))
        size = B if batch is None else int(batch)
        for i in range(0, B, size):
            self._step_sum[split] += lat[i:i + size].sum(axis=0)

    def state(self) -> dict[str, np.ndarray]:
        """What the batches observed so far left (a checkpoint of a run): the communication
        per sample, step and layer, the modelled time per sample and the per-step latency sums."""
        T, L = self._step_sum.shape[1], len(self.layers)
        return {"hops": np.concatenate(self._hops) if self._hops else np.zeros((0, T, L), np.int64),
                "msgs": np.concatenate(self._msgs) if self._msgs else np.zeros((0, T, L), np.int64),
                "smsg": np.concatenate(self._smsg) if self._smsg else np.zeros((0, T, L), np.int64),
                "time": np.concatenate(self._time) if self._time else np.zeros(0, np.float64),
                "step_sum": self._step_sum.copy()}

    def restore(self, state: dict) -> None:
        """Continue from a :meth:`state` of the same profile and layers: later batches are
        costed as if this Coster had observed the earlier ones. Raises ValueError if it does
        not fit."""
        T, L = self._step_sum.shape[1], len(self.layers)
        hops, msgs = state["hops"], state["msgs"]
        smsg = state.get("smsg", np.zeros_like(hops))     # checkpoints of chipsim 0.2.0
        time, step_sum = state["time"], state["step_sum"]
        n = hops.shape[0]
        if (hops.shape != (n, T, L) or msgs.shape != (n, T, L) or smsg.shape != (n, T, L)
                or step_sum.shape != (2, T)
                or time.shape != ((n,) if self.mapping is not None else (0,))):
            raise ValueError(f"cost state of shapes {hops.shape}, {msgs.shape}, {time.shape}, "
                             f"{step_sum.shape} does not fit {L} layers and {T} steps")
        self._hops = [hops.astype(np.int64)]
        self._msgs = [msgs.astype(np.int64)]
        self._smsg = [smsg.astype(np.int64)]
        self._time = [time.astype(np.float64)] if self.mapping is not None else []
        self._step_sum[...] = step_sum

    def finish(self, sim: Simulation, repriced_from: str = "",
               communication_note: str = "counted on this chip's mapping") -> Costs:
        """The Costs of ``sim``, whose samples (in order) are those observed."""
        shape = (0, sim.time_steps, len(self.layers))
        hops = np.concatenate(self._hops) if self._hops else np.zeros(shape, np.int64)
        msgs = np.concatenate(self._msgs) if self._msgs else np.zeros(shape, np.int64)
        smsg = np.concatenate(self._smsg) if self._smsg else np.zeros(shape, np.int64)
        return self._costs(sim, hops, msgs, communication_note, repriced_from, smsg)

    def _costs(self, sim, hops, msgs, communication_note, repriced_from, smsg=None) -> Costs:
        """Price ``sim``'s counts with the communication ``hops``, ``msgs``, ``smsg``
        (N, T, L; ``smsg`` None: spike messages not counted)."""
        p = self.profile
        counts = sim.sample_counts.copy()
        counts[:, :, K.INFER, K.ROUTER_HOP] += hops.sum(axis=1)
        counts[:, :, K.INFER, K.CHIP_MESSAGE] += msgs.sum(axis=1)
        if smsg is not None:
            m = smsg.sum(axis=1)
            counts[:, :, K.INFER, K.SPIKE_MESSAGE] += m
            counts[:, :, K.INFER, K.MESSAGE_RECEIVE] += m
        K.add_copy_updates(counts, self.copies)
        split = sim.sample_split
        n_split = np.array([(split == s).sum() for s in _SPLITS])
        if self.mapping is not None:
            units = self.mapping.cores_used if p.static_power_scope == "core" else self.mapping.chips_used
            time = np.concatenate(self._time) if self._time else np.zeros(0)   # none: stopped at once
            pricing = price(counts, p, sample_time=time, static_units=units)
            step = self._step_sum / np.maximum(n_split, 1)[:, None]
            step_lat = (step[0], step[1])
        else:
            pricing = price(counts, p)
            step_lat = (np.zeros(0), np.zeros(0))
        through, rtf = [None, None], [None, None]
        for i, s in enumerate(_SPLITS):
            m = split == s
            if m.any():
                t_model = pricing.sample_time[m]
                through[i] = float(1.0 / t_model.mean())
                span = sim.sample_duration[m]
                if np.isfinite(span).any():            # recordings whose span is known
                    rtf[i] = float(np.nanmean(t_model / span))
        return Costs(profile_name=p.name, profile_path=str(p.path), profile_text=p.text,
                     mapping=self.mapping, time_model=self.time_model, router_hops=hops,
                     chip_messages=msgs, pricing=pricing, step_latency_train=step_lat[0],
                     step_latency_test=step_lat[1], throughput_train=through[0],
                     throughput_test=through[1], real_time_factor_train=rtf[0],
                     real_time_factor_test=rtf[1], communication_note=communication_note,
                     repriced_from=repriced_from, spike_messages=smsg,
                     transposed_copy=self.copies.copy() if self.copies.any() else None,
                     copy_bytes=(delivery.copy_bytes(self.layers, self.copies,
                                                     _weight_bits(p, sim))
                                 if self.copies.any() else 0))


def _weight_bits(profile, sim) -> int:
    """The width of a weight word: the profile's, or (no width given) the simulation's float."""
    q = getattr(profile, "precision", {}).get("weight_bits")
    return int(q.value) if q is not None else 8 * int(np.dtype(sim.dtype).itemsize)


def reprice(result: RunResult, profile) -> RunResult:
    """``result``'s simulation on another chip (``chipsim price``), with the placement its
    workload asked for."""
    s = result.sim
    return dataclasses.replace(result, cost=cost(s, profile, dict(s.requested_mapping),
                                                 s.workload_path, original=result.cost))


def cost(sim: Simulation, profile, mapping: dict | None = None, source: str | None = None,
         original=None) -> Costs:
    """``sim`` on ``profile`` (``chipsim price``): the stored per-step counts fed through a
    Coster. Without per-step counts (a run too large to keep them) only energy is re-priced,
    with the communication of ``original`` (the Costs the run was written with) and the serial
    time model."""
    repriced_from = original.profile_name if original is not None else ""
    # the layers the run read through W^T (files of chipsim 0.2 did not count these reads apart)
    tr = sim.sample_counts[:, :, K.LEARN, K.MEM_READ_WEIGHT_TRANSPOSED].sum(axis=0) > 0
    coster = Coster(profile, sim.layers, sim.time_steps, mapping, source,
                    place=sim.step_counts is not None, transposed=tr, rule=sim.rule)
    if coster.mapping is None:
        # no mapping on this chip (or no per-step counts to route): the communication is the
        # original run's, if it had any
        N, L = sim.sample_counts.shape[:2]
        hops = original.router_hops if original is not None else np.zeros((N, sim.time_steps, L), np.int64)
        msgs = original.chip_messages if original is not None else np.zeros_like(hops)
        smsg = original.spike_messages if original is not None else np.zeros_like(hops)
        note = ("router hops, chip and spike messages are the original run's (mapping on "
                f"'{repriced_from}'); not recounted" if repriced_from else "none counted")
        return coster._costs(sim, hops, msgs, note, repriced_from, smsg)
    # fed in the run's own batches (each phase of each epoch cut into batch_size samples from
    # its start), as the engine fed them: the per-step latency sums then add up in the same
    # order, and the costs equal those of a run on this profile bit for bit
    split, epoch = sim.sample_split, sim.sample_epoch
    edges = np.flatnonzero((np.diff(split) != 0) | (np.diff(epoch) != 0)) + 1
    # (a sample's latency does not depend on the others costed with it: chunks of whole
    # batches are costed at once, and their sums taken batch by batch)
    B = max(int(sim.batch_size), 1)
    chunk = B * max(1, 256 // B)
    for a, b in zip(np.r_[0, edges], np.r_[edges, len(split)]):
        for i in range(a, b, chunk):
            sl = slice(i, min(i + chunk, b))
            coster.observe(sim.step_counts[sl], sim.input_events[sl], int(split[a]), batch=B)
    return coster.finish(sim, repriced_from=repriced_from)
