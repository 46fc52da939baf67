"""Cycle-approximate timing per time step (docs/reference/hardware.md §10).

For one sample and one time step t, a core does, of every layer it holds, the share of that
layer's work its neurons are of the layer; its time is the sum of the work at the profile's
per-action times:

    t_core(c, t) = sum_l share(l, c) * sum_a counts[t, l, :, a] * time[a]

(events in, synaptic ops, neuron updates active and idle, traces, surrogates, error and gradient
work, weight updates issued, and skipped ones at their own, possibly zero, time; routing and
chip messages are below). The step ends when the slowest core is done, its spikes have been
routed, and the chip has synchronised:

    t_step = max_c t_core(c, t) + max over routed populations of (longest path x hop time
             + chip message time if the path leaves the chip) + sync_time

Timing disciplines (``profile.timing``): ``asynchronous`` (ANP-I, Loihi): the step lasts
t_step; ``clocked``: t_step rounded up to whole clock cycles; ``tick`` (TrueNorth): the tick is
the floor, max(tick, t_step).

Communication counts belong to the layer that receives the spikes: router hops = spikes of its
input population x hops per spike, chip messages likewise (chipsim/hardware/mapping.py). They
are kept apart from the simulation's counts (chipsim/result.py, Costs), because they depend on
the chip.
"""

from __future__ import annotations

import numpy as np

from chipsim import counts as K
from chipsim.hardware.ledger import price_tables


def communication(step_counts: np.ndarray, in_events: np.ndarray, layers, mapping):
    """Router hops and chip messages of every sample, step and layer, (N, T, L) int64 each,
    from the spikes of each layer's input population (``step_counts`` (N, T, L, P, A)) and
    the input events (``in_events`` (N, T)): spikes x hops (messages) per spike of the
    layer's placement. Counted on the layer that receives the spikes."""
    lif = [i for i, ls in enumerate(layers) if ls.spiking]
    N, T = in_events.shape
    hops = np.zeros((N, T, len(layers)), np.int64)
    msgs = np.zeros((N, T, len(layers)), np.int64)
    for l, (ls, pl) in enumerate(zip(layers, mapping.layers)):
        if ls.src == 0:
            spikes = in_events
        else:
            spikes = step_counts[:, :, lif[ls.src - 1], K.Phase.INFERENCE, K.SPIKE]
        hops[:, :, l] = spikes * pl.hops_per_spike
        msgs[:, :, l] = spikes * pl.chip_msgs_per_spike
    return hops, msgs


def step_latency(step_counts: np.ndarray, hops: np.ndarray, mapping, profile) -> np.ndarray:
    """(N, T) modelled latency of every sample's every time step, in seconds."""
    _, _, t_act, _, _ = price_tables(profile)
    t_hop = t_act[K.ROUTER_HOP]
    t_msg = t_act[K.CHIP_MESSAGE]
    no_comm = t_act.copy()
    no_comm[[K.ROUTER_HOP, K.CHIP_MESSAGE]] = 0.0        # routing is on the path, not in a core
    work = np.einsum("ntlpa,a->ntl", step_counts.astype(np.float64), no_comm)
    core_time = (work @ mapping.share()).max(axis=2)      # (N, T): the slowest core
    route = np.array([pl.max_route * t_hop + (t_msg if pl.chip_msgs_per_spike else 0.0)
                      for pl in mapping.layers])
    active = hops > 0                                     # (N, T, L)
    route_time = np.where(active, route[None, None, :], 0.0).max(axis=2)
    sync = profile.sync_time
    t = core_time + route_time + (float(sync.value) if sync is not None and sync.value is not None else 0.0)
    timing = profile.timing
    if timing == "clocked" and profile.clock is not None:
        f = float(profile.clock.value)
        t = np.ceil(t * f - 1e-9) / f
    elif timing == "tick":
        tick = profile.tick
        if tick is not None and tick.value is not None:
            t = np.maximum(t, float(tick.value))
    return t
