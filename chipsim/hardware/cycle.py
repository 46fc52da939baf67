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
input population x hops per spike, chip messages likewise, spike messages = spikes x the cores
holding the layer (one message per destination core, as SANA-FE and Loihi send them; the network
input's events too) (chipsim/hardware/mapping.py). A profile may time a message at its sender
(``spike_message``) and at its receiver (``message_receive``), and may let a core take in
messages while it updates its neurons (``architecture.message_overlap``):

    t_core(c, t) = max(message side, neuron side)     (overlap)     or their sum They
are kept apart from the simulation's counts (chipsim/result.py, Costs), because they depend on
the chip.
"""

from __future__ import annotations

import numpy as np

from chipsim import counts as K
from chipsim.hardware.ledger import price_tables


def communication(step_counts: np.ndarray, in_events: np.ndarray, layers, mapping):
    """Router hops, chip messages and spike messages of every sample, step and layer, (N, T, L)
    int64 each, from the spikes of each layer's input population (``step_counts``
    (N, T, L, P, A)) and the input events (``in_events`` (N, T)): spikes x hops (chip
    messages, destination cores) per spike of the layer's placement. Counted on the layer that
    receives the spikes."""
    lif = [i for i, ls in enumerate(layers) if ls.spiking]
    N, T = in_events.shape
    hops = np.zeros((N, T, len(layers)), np.int64)
    msgs = np.zeros((N, T, len(layers)), np.int64)
    smsg = np.zeros((N, T, len(layers)), np.int64)
    for l, (ls, pl) in enumerate(zip(layers, mapping.layers)):
        if ls.src == 0:
            spikes = in_events
        else:
            spikes = step_counts[:, :, lif[ls.src - 1], K.Phase.INFERENCE, K.SPIKE]
        hops[:, :, l] = spikes * pl.hops_per_spike
        msgs[:, :, l] = spikes * pl.chip_msgs_per_spike
        smsg[:, :, l] = spikes * len({c for c, _ in pl.segments})
    return hops, msgs, smsg


def tiles_used(mapping, profile) -> int:
    """Tiles (routers) holding the mapping's neurons, over every chip."""
    cpr = profile.arch("cores_per_router")
    per_chip = profile.arch("cores")
    return len({(c // per_chip, (c % per_chip) // cpr) for c in mapping.core_ids})


#: the work a core does as messages arrive: taking the message in and its synaptic look-ups
#: (with their weight reads); everything else is the neuron side
MESSAGE_SIDE = (K.SYNOP, K.SYN_MAC, K.MEM_READ_WEIGHT)


def step_latency(step_counts: np.ndarray, hops: np.ndarray, mapping, profile,
                 smsg: np.ndarray | None = None, layers=None) -> np.ndarray:
    """(N, T) modelled latency of every sample's every time step, in seconds.

    A core's work is its share of each layer's actions at their times, plus the spike
    messages it sends (``spike_message`` time, on the cores of the layer that spiked) and
    receives (``message_receive`` time, once per message on each destination core). With
    ``architecture.message_overlap`` the core takes in messages while it updates neurons: its
    time is the longer of the message side (receives, synaptic look-ups and their weight
    reads in the inference phase) and the neuron side (everything else); otherwise the sum.
    The step's barrier is ``sync_time_by_tiles`` at the tiles the mapping uses, else
    ``sync_time``."""
    _, _, t_act, _, _ = price_tables(profile)
    t_hop = t_act[K.ROUTER_HOP]
    t_msg = t_act[K.CHIP_MESSAGE]
    t_send, t_recv = t_act[K.SPIKE_MESSAGE], t_act[K.MESSAGE_RECEIVE]
    no_comm = t_act.copy()
    no_comm[[K.ROUTER_HOP, K.CHIP_MESSAGE, K.SPIKE_MESSAGE, K.MESSAGE_RECEIVE]] = 0.0
    share = mapping.share()                               # (L, cores)
    overlap = "message_overlap" in profile.architecture and \
        int(profile.architecture["message_overlap"].value) == 1
    sends = recvs = None
    if smsg is not None and (t_send or t_recv) and layers is not None:
        lif = [i for i, ls in enumerate(layers) if ls.spiking]
        sends = np.zeros(smsg.shape[:2] + (share.shape[1],))
        for l, ls in enumerate(layers):
            if ls.src > 0:                                # the input's senders are off the cores
                sends += smsg[:, :, l, None] * share[lif[ls.src - 1]][None, None, :]
        holds = (share > 0).astype(np.float64)            # (L, cores): the layer's cores
        n_dest = np.maximum(1.0, holds.sum(axis=1))       # each of them takes one message per
        recvs = np.einsum("ntl,lc->ntc", smsg / n_dest[None, None, :], holds)   # source spike
    if not overlap:
        work = np.einsum("ntlpa,a->ntl", step_counts.astype(np.float64), no_comm)
        core = work @ share
        if sends is not None:
            core = core + sends * t_send + recvs * t_recv
    else:
        msg_side = np.zeros_like(no_comm)
        msg_side[list(MESSAGE_SIDE)] = no_comm[list(MESSAGE_SIDE)]
        sc = step_counts.astype(np.float64)
        m_work = np.einsum("ntla,a->ntl", sc[..., K.INFER, :], msg_side)
        n_work = np.einsum("ntlpa,a->ntl", sc, no_comm) - m_work
        m_core, n_core = m_work @ share, n_work @ share
        if sends is not None:
            m_core = m_core + recvs * t_recv
            n_core = n_core + sends * t_send
        core = np.maximum(m_core, n_core)
    core_time = core.max(axis=2)                          # (N, T): the slowest core
    route = np.array([pl.max_route * t_hop + (t_msg if pl.chip_msgs_per_spike else 0.0)
                      for pl in mapping.layers])
    active = hops > 0                                     # (N, T, L)
    route_time = np.where(active, route[None, None, :], 0.0).max(axis=2)
    if getattr(profile, "sync_by_tiles", ()):
        sync = profile.sync_for(tiles_used(mapping, profile))
    else:
        sync = profile.sync_time
        sync = float(sync.value) if sync is not None and sync.value is not None else 0.0
    t = core_time + route_time + sync
    timing = profile.timing
    if timing == "clocked" and profile.clock is not None:
        f = float(profile.clock.value)
        t = np.ceil(t * f - 1e-9) / f
    elif timing == "tick":
        tick = profile.tick
        if tick is not None and tick.value is not None:
            t = np.maximum(t, float(tick.value))
    return t
