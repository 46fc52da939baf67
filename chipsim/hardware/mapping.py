"""Mapping of a network's layers onto a chip's cores, and of cores onto chips.

Layers are packed onto cores in network order, first fit: a core takes neurons of the current
layer while it has room for their neurons and their stored weights; a layer larger than the room
left spills onto the next core, and small layers share a core (single-core chips such as ODIN,
ReckOn or ANP-I hold a whole network on one core). A dense layer stores n_in weights per neuron;
a convolution stores its kernel once per core that holds part of it when the chip shares
kernels (``shared_conv_kernels``), every connection otherwise. Cores are numbered in order and
laid out row-major on the chip's ``mesh_width x mesh_height`` grid of routers (``cores_per_router``
cores share a router, e.g. Loihi's 4 per tile); chips are laid side by side along x. A network needing more cores than one chip has is tiled over several chips when the
profile allows (``max_chips`` > 1), otherwise refused with the numbers.

Routing (a modelling choice, stated so it can be changed): every spike of a population leaves
through the router of the first core of the layer that produced it (the network input enters
at core 0's router) and is sent to every core holding neurons of a layer that reads the
population, along X-Y paths: hops per spike = sum over destination cores of |dx| + |dy|. A
spike whose destinations are on other chips also costs one chip-to-chip message per such chip.
"""

from __future__ import annotations

from chipsim.errors import ChipsimError
from chipsim.result import LayerPlacement, Mapping

ARCH_REQUIRED = ("cores", "neurons_per_core", "synapses_per_core", "mesh_width", "mesh_height",
                 "max_chips", "shared_conv_kernels")


def can_map(profile) -> bool:
    """Whether ``profile`` gives every architecture figure a mapping needs."""
    arch = profile.architecture
    return all(k in arch and arch[k].value is not None for k in ARCH_REQUIRED)


def _arch(profile) -> dict:
    arch = profile.architecture
    missing = [k for k in ARCH_REQUIRED if k not in arch or arch[k].value is None]
    if missing:
        raise ChipsimError(f"profile '{profile.name}' lacks the architecture figures a mapping needs: "
                           + ", ".join(missing), file=profile.path,
                           field="architecture", expected="; ".join(ARCH_REQUIRED))
    return {k: int(round(float(arch[k].value))) for k in arch if arch[k].value is not None}


def stored_weights(ls, shared: bool) -> int:
    if ls.kind == "conv" and not shared:
        return ls.dense_ops()            # every connection, padding excluded
    return ls.synapses


def _explicit(layers, a, explicit: dict, shared: bool, path, source) -> tuple[list, list]:
    """Segments from a user's mapping {layer name: [core, ...]}: each layer's neurons split in
    order and as evenly as possible over its cores; capacities checked per core."""
    names = [ls.name for ls in layers if ls.kind != "recurrent"]   # W_rec follows its layer
    unknown = sorted(set(explicit) - set(names))
    missing = [n for n in names if n not in explicit]
    if unknown or missing:
        raise ChipsimError(("unknown layer(s) " + ", ".join(unknown) + "; " if unknown else "")
                           + ("no cores for " + ", ".join(missing) if missing else ""),
                           file=source, field="mapping", expected="every layer of " + ", ".join(names))
    npc, spc = a["neurons_per_core"], a["synapses_per_core"]
    used_n, used_w = {}, {}
    segs_all, stored = [], []
    for ls in layers:
        if ls.kind == "recurrent":       # on its layer's cores, one row of W_rec per neuron
            segs = segs_all[ls.src - 1]
            wpn = -(-stored_weights(ls, shared) // ls.n_out)
            for c, k in segs:
                used_w[c] += k * wpn
            segs_all.append(segs)
            stored.append(sum(k for _, k in segs) * wpn)
            continue
        cores = [int(c) for c in explicit[ls.name]]
        if not cores or min(cores) < 0 or len(set(cores)) != len(cores):
            raise ChipsimError(f"{ls.name}: {cores}", file=source, field=f"mapping.{ls.name}",
                               expected="a list of distinct core indices >= 0")
        base, extra = divmod(ls.n_out, len(cores))
        kernel = ls.synapses if (shared and ls.kind == "conv") else 0
        wpn = 0 if kernel else -(-stored_weights(ls, shared) // ls.n_out)
        segs, total_w = [], 0
        for i, c in enumerate(cores):
            k = base + (1 if i < extra else 0)
            if k == 0:
                continue
            segs.append((c, k))
            used_n[c] = used_n.get(c, 0) + k
            used_w[c] = used_w.get(c, 0) + kernel + k * wpn
            total_w += kernel + k * wpn
        segs_all.append(tuple(segs))
        stored.append(total_w)
    over = [f"core {c}: {used_n[c]:,} neurons (capacity {npc:,}), {used_w[c]:,} weights (capacity {spc:,})"
            for c in sorted(used_n) if used_n[c] > npc or used_w[c] > spc]
    if over:
        raise ChipsimError("the given mapping overfills " + "; ".join(over), file=source,
                           field="mapping", expected="cores within the profile's capacities")
    return segs_all, stored


def map_layers(layers, profile, explicit: dict | None = None, source: str | None = None) -> Mapping:
    """Place ``layers`` (chipsim.model.network.LayerShape, network order) on ``profile``'s
    cores and chips; an ``explicit`` mapping {layer name: [core, ...]} (from the workload,
    ``source``) overrides the automatic placement."""
    a = _arch(profile)
    npc, spc = a["neurons_per_core"], a["synapses_per_core"]
    per_chip, mw = a["cores"], a["mesh_width"]
    shared = bool(a["shared_conv_kernels"])
    path = profile.path
    fan_in = a.get("fan_in_per_core")
    core, free_n, free_w = 0, npc, spc
    segs_all, stored = [], []
    # a recurrent layer's W_rec sits with the layer: each neuron's row of W_in and of W_rec on
    # the neuron's core, so its spikes come back to its own cores
    rec = {ls.src - 1: r for r, ls in enumerate(layers) if ls.kind == "recurrent"}
    for i, ls in enumerate([] if explicit else layers):
        if ls.kind == "recurrent":
            wr = -(-stored_weights(ls, shared) // ls.n_out)
            segs_all.append(segs_all[ls.src - 1])
            stored.append(ls.n_out * wr)
            continue
        r = layers[rec[i]] if i in rec else None
        # (recurrent inputs are checked on their own: ReckOn, whose figure this is, takes 256
        # inputs and 256 recurrent neurons, in separate weight memories)
        for what, fi in ((ls.name, ls.fan_in), (r and r.name, r and r.fan_in)):
            if fan_in is not None and fi is not None and fi > fan_in:
                raise ChipsimError(f"layer {what}: fan-in {fi:,} exceeds a core's {fan_in:,} "
                                   "inputs", file=path, field="architecture.fan_in_per_core",
                                   expected="layers whose fan-in fits a core")
        kernel = ls.synapses if (shared and ls.kind == "conv") else 0
        wpn = 0 if kernel else -(-stored_weights(ls, shared) // ls.n_out)
        wr = -(-stored_weights(r, shared) // r.n_out) if r is not None else 0   # W_rec's
        wpn += wr
        if kernel > spc or wpn > spc:
            raise ChipsimError(f"layer {ls.name}: {max(kernel, wpn):,} weights must sit on one core, which "
                               f"holds {spc:,}", file=path, field="architecture.synapses_per_core",
                               expected="layers whose kernel (or one neuron's fan-in) fits a core")
        rem, segs, total_w = ls.n_out, [], 0
        while rem > 0:
            k_cost = kernel if not (segs and segs[-1][0] == core) else 0
            room_w = free_w - k_cost
            k = min(rem, free_n, room_w // wpn if wpn else rem) if room_w >= 0 else 0
            if k <= 0:
                core, free_n, free_w = core + 1, npc, spc
                continue
            segs.append((core, k))
            free_n -= k
            free_w -= k_cost + k * wpn
            total_w += k_cost + k * wpn
            rem -= k
        segs_all.append(tuple(segs))
        stored.append(total_w - ls.n_out * wr)
    if explicit:
        segs_all, stored = _explicit(layers, a, explicit, shared, path, source)
    # the cores that hold neurons (an explicit mapping may leave some out), and the chips
    # they sit on; the highest core decides how many chips the mesh spans
    used = sorted({c for segs in segs_all for c, _ in segs})
    span = used[-1] + 1
    chips = -(-span // per_chip)
    if chips > a["max_chips"]:
        need = ", ".join(f"{ls.name} {len(sg)}" for ls, sg in zip(layers, segs_all))
        raise ChipsimError(f"the network needs {span} cores ({need}) = {chips} chips of {per_chip} cores; "
                           f"the profile allows {a['max_chips']} chip(s)", file=path,
                           field="architecture.max_chips", expected="a network that fits")

    cpr = a.get("cores_per_router", 1)

    def xy(c):
        """Router position of core c: cores fill routers in order (``cores_per_router`` per
        router, e.g. Loihi's 4 cores per tile), routers row by row; chips side by side in x."""
        chip, idx = divmod(int(c), per_chip)
        router = idx // cpr
        return chip * mw + router % mw, router // mw

    lif = [i for i, m in enumerate(layers) if m.spiking]
    placements = []
    for i, ls in enumerate(layers):
        src_core = 0 if ls.src == 0 else segs_all[lif[ls.src - 1]][0][0]
        sx, sy = xy(src_core)
        dests = [c for c, _ in segs_all[i]]
        dists = [abs(xy(d)[0] - sx) + abs(xy(d)[1] - sy) for d in dests]
        dest_chips = {d // per_chip for d in dests} - {src_core // per_chip}
        placements.append(LayerPlacement(ls.name, segs_all[i], ls.n_out, int(stored[i]),
                                         int(sum(dists)), len(dest_chips), int(max(dists))))
    neurons = sum(ls.n_out for ls in layers if ls.kind != "recurrent")
    chips_used = len({c // per_chip for c in used})
    return Mapping(profile.name, tuple(placements), len(used), chips_used, per_chip,
                   neurons / (len(used) * npc), sum(stored) / (len(used) * spc), tuple(used))
