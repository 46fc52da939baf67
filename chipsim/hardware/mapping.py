"""Mapping of a network's layers onto a chip's cores, and of cores onto chips.

Each weight layer (LIF layers, the readout, auxiliary classifiers) gets whole cores of its
own, as many as its neurons and its stored weights need:

    cores(l) = max(ceil(neurons(l) / neurons_per_core), ceil(stored_weights(l) / synapses_per_core))

A dense layer stores n_in x n_out weights; a convolution stores its kernel once per core when the
chip shares kernels (``shared_conv_kernels``), every connection otherwise. Cores are numbered
layer by layer and laid out row-major on the chip's ``mesh_width x mesh_height`` grid; chips
are laid side by side along x. A network needing more cores than one chip has is tiled over
several chips when the profile allows (``max_chips`` > 1), otherwise refused with the numbers.

Routing (a modelling choice, stated so it can be changed): every spike of a population leaves
through the router of the first core of the layer that produced it (the network input enters
at core 0's router) and is sent to every core of every layer that reads the population, along
X-Y paths: hops per spike = sum over destination cores of |dx| + |dy|. A spike whose
destinations are on other chips also costs one chip-to-chip message per such chip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chipsim.errors import ChipsimError

ARCH_REQUIRED = ("cores", "neurons_per_core", "synapses_per_core", "mesh_width", "mesh_height",
                 "max_chips", "shared_conv_kernels")


@dataclass(frozen=True)
class LayerPlacement:
    name: str
    cores: int
    first_core: int              # global core index (chip * cores_per_chip + index on chip)
    neurons: int
    stored_weights: int          # weight words this layer stores (over all its cores)
    hops_per_spike: int          # router hops of one spike of this layer's *input* population
    chip_msgs_per_spike: int     # chip-to-chip messages of one such spike
    max_route: int               # longest X-Y path (hops) of such a spike


@dataclass(frozen=True)
class Mapping:
    profile: str
    layers: tuple                # LayerPlacement per weight layer, network order
    cores_used: int
    chips_used: int
    cores_per_chip: int
    neuron_utilisation: float    # neurons placed / neuron capacity of the cores used
    synapse_utilisation: float   # stored weights / synapse capacity of the cores used

    def summary(self) -> dict:
        return {"mapping_cores": self.cores_used, "mapping_chips": self.chips_used,
                "mapping_neuron_utilisation": self.neuron_utilisation,
                "mapping_synapse_utilisation": self.synapse_utilisation,
                "mapping_cores_per_layer": " ".join(f"{p.name}:{p.cores}" for p in self.layers)}


def _arch(profile) -> dict:
    arch = getattr(profile, "architecture", {}) or {}
    missing = [k for k in ARCH_REQUIRED if k not in arch or arch[k].value is None]
    if missing:
        raise ChipsimError(f"profile '{profile.name}' lacks the architecture figures a mapping needs: "
                           + ", ".join(missing), file=getattr(profile, "path", None),
                           field="architecture", expected="; ".join(ARCH_REQUIRED))
    return {k: int(round(float(arch[k].value))) for k in arch if arch[k].value is not None}


def stored_weights(ls, shared: bool) -> int:
    if ls.kind == "conv" and not shared:
        return ls.dense_ops()            # every connection, padding excluded
    return ls.synapses


def map_network(net, profile) -> Mapping:
    """Place ``net`` (chipsim.model.network.Network) on ``profile``'s cores and chips."""
    a = _arch(profile)
    npc, spc = a["neurons_per_core"], a["synapses_per_core"]
    per_chip, mw, mh = a["cores"], a["mesh_width"], a["mesh_height"]
    shared = bool(a["shared_conv_kernels"])
    counts, stored = [], []
    for ls in net.layers:
        w = stored_weights(ls, shared)
        if shared and ls.kind == "conv" and ls.synapses > spc:
            raise ChipsimError(f"layer {ls.name}: its kernel of {ls.synapses:,} weights exceeds one core's "
                               f"{spc:,}", file=getattr(profile, "path", None), field="architecture.synapses_per_core",
                               expected="a network whose kernels fit a core")
        fan_in = a.get("fan_in_per_core")
        if fan_in is not None and ls.fan_in > fan_in:
            raise ChipsimError(f"layer {ls.name}: fan-in {ls.fan_in:,} exceeds a core's {fan_in:,} inputs",
                               file=getattr(profile, "path", None), field="architecture.fan_in_per_core",
                               expected="layers whose fan-in fits a core")
        per_core = w if (shared and ls.kind == "conv") else None
        n = max(-(-ls.n_out // npc), 1 if per_core else -(-w // spc))
        counts.append(n)
        stored.append(w * n if per_core else w)
    total = sum(counts)
    chips = -(-total // per_chip)
    if chips > a["max_chips"]:
        need = ", ".join(f"{ls.name} {c}" for ls, c in zip(net.layers, counts))
        raise ChipsimError(f"the network needs {total} cores ({need}) = {chips} chips of {per_chip} cores; "
                           f"the profile allows {a['max_chips']} chip(s)", file=getattr(profile, "path", None),
                           field="architecture.max_chips", expected="a network that fits")
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int)

    def xy(core):
        chip, idx = divmod(int(core), per_chip)
        return chip * mw + idx % mw, idx // mw

    def cores_of(i):
        return range(first[i], first[i] + counts[i])

    placements = []
    for i, ls in enumerate(net.layers):
        src_core = 0 if ls.src == 0 else first[[j for j, m in enumerate(net.layers) if m.spiking][ls.src - 1]]
        sx, sy = xy(src_core)
        dists = [abs(xy(d)[0] - sx) + abs(xy(d)[1] - sy) for d in cores_of(i)]
        src_chip = int(src_core) // per_chip
        dest_chips = {int(d) // per_chip for d in cores_of(i)} - {src_chip}
        placements.append(LayerPlacement(ls.name, counts[i], int(first[i]), ls.n_out, int(stored[i]),
                                         int(sum(dists)), len(dest_chips), int(max(dists))))
    assert mh > 0
    neurons = sum(ls.n_out for ls in net.layers)
    return Mapping(profile.name, tuple(placements), total, chips, per_chip,
                   neurons / (total * npc), sum(stored) / (total * spc))
