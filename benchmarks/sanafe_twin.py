"""SANA-FE twin: run a small feed-forward LIF network on SANA-FE's bundled Loihi architecture.

This script reports what SANA-FE (Boyle et al., IEEE TCAD 44(8), 2025; ``pip install sanafe``
2.2.9, GPL-3.0) charges on Loihi, so that chipsim's cycle model and energy ledger can be
compared with it on the very same network and input spikes. SANA-FE is NOT a chipsim
dependency: it is installed only in a separate venv, and this file never imports chipsim.

    /work/peers-venv/bin/python benchmarks/sanafe_twin.py --save /tmp/sanafe_twin.npz

References are ``file:line``. Every ``*.cpp`` / ``*.hpp`` named here is in ``src/`` of
github.com/SLAM-Lab/SANA-FE at commit 8951ab0 (the installed 2.2.9 wheel ships a compiled
kernel, ``sanafecpp*.so``, and no C++ sources). ``loihi.yaml`` refers to
``site-packages/sanafe/examples/loihi.yaml``, which is byte-identical to that commit's
``sanafe/examples/loihi.yaml``. At that commit the Python sources differ from the wheel only by
copyright headers and type hints. The installed kernel's behaviour was checked numerically
against this reading (see VERIFICATION).

WHAT SANA-FE CHARGES ON LOIHI (values from loihi.yaml)
-------------------------------------------------------
Each core has a fixed pipeline: axon_in -> synapse -> dendrite -> soma -> axon_out. On Loihi
the time-step buffer sits before the soma (``buffer_position: soma``, loihi.yaml:31). So a
received message runs synapse+dendrite (mapped.cpp:27-58), and the neuron update runs the soma
only (mapped.cpp:168-188). Energy is summed per time step. There is no static or idle power:
total = synapse + dendrite + soma + network (chip.cpp:1171-1261).

  action                                   energy    latency   charged
  synaptic look-up (dense synapse unit)    35.5 pJ   3.8 ns    per (received message x synapse
                                                               in that axon's list); dense
                                                               => n_post_on_that_core per msg,
                                                               zero weights included
                                                               (chip.cpp:738-764,
                                                               pipeline.hpp:511-572)
  dendrite update (accumulator)            0         0         per look-up (pipeline.hpp:574-629)
  soma access (LIF "loihi_lif")            51.2 pJ   6.0 ns    EVERY mapped LIF neuron EVERY
                                                               step (pipeline.hpp:647-667)
  soma update                              +21.6 pJ  +3.7 ns   if status is updated or fired
                                                               (pipeline.hpp:669-683)
  soma spike out                           +69.3 pJ  +30.0 ns  if fired (pipeline.hpp:684-696)
  input neurons (soma "loihi_inputs[k]")   0         0         access/update/spike all 0
                                                               (loihi.yaml:49-57)
  axon_out, per spike MESSAGE              111.0 pJ  5.1 ns    a neuron sends ONE message per
                                                               distinct destination core
                                                               (chip.cpp:802-834, 1263-1309,
                                                               1361-1391); in "network"
  axon_in, per message received            0.0 pJ    16.0 ns   (chip.cpp:791-800, 1212-1222);
                                                               in "network"
  NoC hop east/west (x)                    3.0 pJ    4.1 ns    |dx| per message; in "network"
  NoC hop north/south (y)                  4.2 pJ    6.5 ns    |dy| per message (chip.cpp:
                                                               1127-1169, 1189-1210)
  sync per time step                       0 J       table     see TIME

  * "network" energy = axon_out + axon_in + hops. Tile t sits at (x, y) = (t // 4, t % 4) on the
    8 x 4 mesh (arch.cpp:84-85, loihi.yaml:8-9), and core c is on tile c // 4. So tile 1 is one
    N/S hop from tile 0, and tile 4 is one E/W hop. Messages between cores of the same tile cost
    the 111 pJ axon_out, but no hop.
  * "updated" (the LIF model, models.cpp:517-525): a neuron is updated if |v| > 0 before the
    leak, or any input message reached it this step (even if the weights sum to 0), or its bias
    is non-zero, or it is forced. A leak-only neuron whose v has decayed to exactly 0 (the 1/64
    truncation gets there) is charged the access only.
  * Counter names in SANA-FE's results: "spikes" counts SYNAPTIC LOOK-UPS, not spikes
    (pipeline.hpp:479, chip.cpp:1028-1051); "packets_sent" counts messages. "neurons_updated"
    also counts input neurons that fired, because fired counts as updated (pipeline.hpp:716-731).
  * Per time step, for a dense layer l whose pre-neurons emitted s_{l-1} spikes in the PREVIOUS
    step and whose neurons are spread over C_l cores:
      E_syn  = 35.5 pJ * s_{l-1} * n_l ;  messages = s_{l-1} * C_l ;
      E_soma = 51.2 pJ * N_lif + 21.6 pJ * N_updated + 69.3 pJ * N_fired ;
      E_net  = 111 pJ * messages + 0 * messages + 3.0 pJ * x_hops + 4.2 pJ * y_hops.

TIME PER STEP (schedule.cpp; the timing model is an argument of ``SpikingChip.sim``)
-------------------------------------------------------------------------------------
  * Neuron processing, on each core, is serial over its mapped neurons. It costs the soma
    latencies (6.0 [+3.7 if updated] [+30.0 if fired] ns), plus 5.1 ns for every message the
    core sends. A message's generation delay is the neuron time accumulated since the core's
    previous message, plus 5.1 ns. A trailing "placeholder" message carries the work after the
    last message (chip.cpp:624-654, 710-736, 802-834).
  * Message processing runs on the receiving core: 16.0 ns (axon_in) + 3.8 ns x synapses in the
    axon (+ 0 ns dendrite) per message (chip.cpp:738-764).
  * Network latency of a message: |dx| x 4.1 ns + |dy| x 6.5 ns (chip.cpp:1127-1169).
  * timing_model="simple" (schedule.cpp:61-102):
        t_step = max over cores of max(neuron_time(core), message_time(core)) + t_sync,
    so a core's neuron updates and its message processing are fully overlapped, and network
    latency is ignored.
  * timing_model="detailed" (the default, schedule.cpp:208-358, 422-447) is a discrete-event
    schedule. Core c sends its k-th message at the sum of its first k generation delays (plus
    any blocking delay of the earlier ones; schedule.cpp:360-378). Each
    receiving core processes messages serially, in order of send time. A message is received at
    max(core free, sent + network_delay), where
        network_delay = max(hop latency, msgs_on_route x mean_in_flight_processing / (hops + 1)).
    A blocking delay is added when the route holds more than (hops + 1) x 16 messages. The
    receive queue of every core starts empty at t = 0 of each step, so message processing
    overlaps the receiving core's own neuron updates, as in "simple". Then
        t_step = max(last send time incl. placeholders, last processed time) + t_sync.
    With one sender per receiver the result is close to "simple". It differs when messages
    arrive over time (it adds the head latency of the pipeline and the hop latency).
  * t_sync comes from the ``latency_sync`` table (loihi.yaml:16), keyed by the number of tiles
    holding at least one mapped neuron (input neurons included). The key used is the largest
    one <= that number (utils.hpp:19-45, chip.cpp:283-306, 562-574):
        1 tile: 0.6 us, 2-3: 1.0 us, 4-28: 1.4 us, >= 29: 1.8 us.
    For small networks the sync term dominates, e.g. about 1.0 us of about 1.1 us per step.

SEMANTICS THAT MATTER WHEN COMPARING RASTERS
---------------------------------------------
  * One step of delay per layer. Each step, SpikingChip first updates every neuron, reading the
    time-step buffer that the PREVIOUS step's messages filled. Then it processes the messages
    this step emitted, and their currents are used in the next step (chip.cpp:1053-1108,
    710-764; dendrite accumulator models.cpp:71-94). Input neuron i fires in step t (1-based) if
    raster[t-1, i]. LIF layer l (1-based) sees them at step t+l. So after T steps, the last l
    raster rows have not reached layer l yet. ``extra_steps`` drains them with zero input rows.
  * Loihi LIF (models.cpp:441-567), per step:
        v <- trunc(64 * leak_decay * v) / 64     (the leak is skipped on the very first update;
                                                  the 1/64 truncation toward 0 models Loihi's
                                                  6-bit fixed point)
        u <- input_decay * u + I                 (input_decay defaults to 0, so u = I)
        v <- v + bias + u
        fire if v > threshold                    (STRICT >, models.cpp:461)
        soft reset: v -= threshold ; hard: v = reset (default 0) ; "none": no reset
    There is no lower bound on v (the reverse threshold is 0 with no reset mode by default).
  * Every Python float attribute (weights, threshold, leak_decay) becomes a C++ float, i.e. it
    is rounded to float32 (pymodule.cpp:160-163). Currents accumulate in double.
  * Inputs: the built-in "input" soma model holds ONE spike list per hardware unit, not per
    neuron (models.hpp:344-378, models.cpp:832-903). Hence loihi.yaml declares 1024 units
    loihi_inputs[0..1023] per core (as in SANA-FE's example_snn.yaml mapping
    ``soma: "demo_input[i]"``). Here every input neuron gets its own unit (index = its slot on
    its core) and a ``spikes`` list (one bool per step).
  * Quirks noted, none of which affect the totals here: pipeline.cpp:98-99 adds energy to a
    unit's ``latency`` (only the optional per-unit latency traces are affected, not
    sim_time). chip.cpp:1217/1250 assign instead of accumulate (only the last axon unit of a
    core counts; Loihi has one of each). Forced updates' latency is ignored (chip.cpp:975-1026).

VERIFICATION (what running this script checks, printed at the end)
-------------------------------------------------------------------
  1. Raster, exact: a numpy LIF with SANA-FE's semantics (1 step of delay per layer, 1/64
     truncation after the leak, strict >, float32 parameters, sequential accumulation) must give
     SANA-FE's spike trace bit for bit. Its potentials must match SANA-FE's potential trace.
  2. Raster, chipsim-style: numpy LIF u = leak*v + I, spike if u >= threshold, soft reset, no
     quantisation, no delay, float64, compared with SANA-FE's raster shifted back by l steps
     for layer l. Mismatches come only from the 1/64 truncation (and from > versus >=).
  3. Energy ledger: the energy per class and per step, recomputed from the spike counts with the
     loihi.yaml numbers (formulas above), must equal SANA-FE's perf trace (relative error ~1e-12).
  4. Time: the "simple" model recomputed per core from the same counts must equal SANA-FE's
     sim_time per step under timing_model="simple". The "detailed" times are reported alongside.
  5. Per-core energies (SANA-FE's own per-core/per-tile traces, enabled by log_energy flags in
     a temporary copy of loihi.yaml whose costs are untouched) must sum to the total.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

CORES_PER_TILE = 4
N_CORES = 128
MAX_NEURONS_PER_CORE = 1024
GROUP_INPUT = "input"


def _group_name(layer: int) -> str:
    """LIF layer ``layer`` (1-based). SANA-FE keeps its groups in a sorted std::map, so the
    numbers are zero-padded to keep the layers in order."""
    return f"lif{layer:02d}"


def _import_sanafe():
    try:
        import sanafe  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the interpreter
        raise SystemExit(
            "sanafe is not importable; run this script with the peers venv, e.g. "
            "/work/peers-venv/bin/python benchmarks/sanafe_twin.py") from exc
    return sanafe


@contextlib.contextmanager
def _quiet_stdout(enabled: bool = True):
    """Silence the SANA-FE kernel's printf output (file descriptor 1) while it runs."""
    if not enabled:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            try:
                yield
            finally:
                sys.stdout.flush()
                os.dup2(saved, 1)
    finally:
        os.close(saved)


# --------------------------------------------------------------------------------------------
# architecture: the bundled loihi.yaml, read for its numbers and loaded with log flags
# --------------------------------------------------------------------------------------------

def loihi_costs() -> dict:
    """The per-action costs of SANA-FE's bundled loihi.yaml, read from the installed package."""
    import yaml  # PyYAML; present in the peers venv  # noqa: PLC0415
    from importlib.resources import files  # noqa: PLC0415

    d = yaml.safe_load(files("sanafe.examples").joinpath("loihi.yaml").read_text())
    a = d["architecture"]
    tile = a["tile"][0]["attributes"]
    core = a["tile"][0]["core"][0]
    unit = {kind: {u["name"]: u["attributes"] for u in core[kind]}
            for kind in ("axon_in", "synapse", "dendrite", "soma", "axon_out")}
    lif = unit["soma"]["loihi_lif"]
    syn = unit["synapse"]["loihi_dense_synapse"]
    den = unit["dendrite"]["loihi_dendrites"]
    ain = unit["axon_in"]["loihi_in"]
    aout = unit["axon_out"]["loihi_out"]
    sync = {int(k): float(v) for k, v in a["attributes"]["latency_sync"].items()}
    return {
        "e_syn": float(syn["energy_process_spike"]), "t_syn": float(syn["latency_process_spike"]),
        "e_den": float(den["energy_update"]), "t_den": float(den["latency_update"]),
        "e_access": float(lif["energy_access_neuron"]), "t_access": float(lif["latency_access_neuron"]),
        "e_update": float(lif["energy_update_neuron"]), "t_update": float(lif["latency_update_neuron"]),
        "e_spike": float(lif["energy_spike_out"]), "t_spike": float(lif["latency_spike_out"]),
        "e_msg_in": float(ain["energy_message_in"]), "t_msg_in": float(ain["latency_message_in"]),
        "e_msg_out": float(aout["energy_message_out"]), "t_msg_out": float(aout["latency_message_out"]),
        "e_hop_ew": float(tile["energy_east_hop"]), "t_hop_ew": float(tile["latency_east_hop"]),
        "e_hop_ns": float(tile["energy_north_hop"]), "t_hop_ns": float(tile["latency_north_hop"]),
        "sync_table": sync, "mesh": (int(a["attributes"]["width"]), int(a["attributes"]["height"])),
    }


def sync_delay(costs: dict, mapped_tiles: int) -> float:
    """SANA-FE's LookupTable::get: the value of the largest key <= mapped_tiles (utils.hpp:28-44)."""
    table = costs["sync_table"]
    keys = sorted(table)
    chosen = keys[0]
    for k in keys:
        if k <= mapped_tiles:
            chosen = k
    return table[chosen]


def _load_loihi_arch(sanafe, log_energy: bool):
    """The bundled Loihi arch. With ``log_energy``, a temporary copy whose tiles and cores have
    ``log_energy: true`` (yaml_arch.cpp:330-375): only extra per-tile/per-core energy columns
    appear in the perf trace; no cost changes."""
    if not log_energy:
        return sanafe.load_loihi(), None
    import yaml  # noqa: PLC0415
    from importlib.resources import files  # noqa: PLC0415

    d = yaml.safe_load(files("sanafe.examples").joinpath("loihi.yaml").read_text())
    for tile in d["architecture"]["tile"]:
        tile.setdefault("attributes", {})["log_energy"] = True
        for core in tile["core"]:
            core.setdefault("attributes", {})["log_energy"] = True
    with tempfile.TemporaryDirectory(prefix="sanafe_twin_") as tmp:
        path = Path(tmp) / "loihi_log_energy.yaml"
        path.write_text(yaml.safe_dump(d, sort_keys=False))
        return sanafe.load_arch(str(path)), path.name


# --------------------------------------------------------------------------------------------
# placement helpers
# --------------------------------------------------------------------------------------------

def core_of_neurons(n: int, cores: list[int]) -> np.ndarray:
    """Core of each of n neurons: contiguous, (nearly) equal blocks over ``cores`` in order
    (np.array_split: the first n % len(cores) blocks hold one neuron more)."""
    out = np.empty(n, dtype=np.int64)
    for c, block in zip(cores, np.array_split(np.arange(n), len(cores))):
        out[block] = c
    return out


def tile_xy(core: int, mesh_height: int = 4) -> tuple[int, int]:
    tile = core // CORES_PER_TILE
    return tile // mesh_height, tile % mesh_height  # arch.cpp:84-85


def _check_inputs(layers, raster, placement):
    layers = [np.asarray(W, dtype=np.float64) for W in layers]
    raster = np.asarray(raster)
    if raster.ndim != 2:
        raise ValueError("raster must be (T, n_in)")
    sizes = [raster.shape[1]] + [W.shape[1] for W in layers]
    for l, W in enumerate(layers):
        if W.ndim != 2 or W.shape[0] != sizes[l]:
            raise ValueError(f"layer {l}: weight shape {W.shape}, expected ({sizes[l]}, n_out)")
    if len(placement) != len(sizes):
        raise ValueError(f"placement needs {len(sizes)} entries (input + {len(layers)} layers)")
    per_core = {}
    for pop, (n, cores) in enumerate(zip(sizes, placement)):
        cores = list(cores)
        if not cores or len(cores) > n:
            raise ValueError(f"population {pop}: needs 1..{n} cores, got {cores}")
        for c in cores:
            if not 0 <= c < N_CORES:
                raise ValueError(f"core {c} is not in 0..{N_CORES - 1}")
        for c in core_of_neurons(n, cores):
            per_core[int(c)] = per_core.get(int(c), 0) + 1
    full = {c: k for c, k in per_core.items() if k > MAX_NEURONS_PER_CORE}
    if full:
        raise ValueError(f"more than {MAX_NEURONS_PER_CORE} neurons on cores {full}")
    return layers, (raster != 0).astype(np.uint8), sizes


# --------------------------------------------------------------------------------------------
# the SANA-FE run
# --------------------------------------------------------------------------------------------

def run_sanafe(layers, raster, placement, *, leak=0.5, threshold=1.0, reset="soft",
               timing_model="detailed", extra_steps=0, per_core=True, quiet=True) -> dict:
    """Run the feed-forward LIF network on SANA-FE's bundled Loihi and return what it charges.

    layers: weight matrices W_l, shape (n_in_l, n_out_l); layer 0 reads the input raster.
    raster: (T, n_in) 0/1 input spikes, one row per step.
    placement: per population (input first, then each LIF layer), the cores (0..127) that its
      neurons are spread over, in contiguous equal blocks.
    LIF: SANA-FE's Loihi LIF ("leaky_integrate_fire"), v <- trunc64(leak*v) + I, fire if
      v > threshold (strict), reset "soft" (v -= threshold), "hard" (v = 0) or "none".
    timing_model: "simple", "detailed" (SANA-FE's default) or "cycle" (Booksim, slow).
    extra_steps: zero input rows appended, so that the last inputs reach the last layer (one
      step of delay per layer: use extra_steps = len(layers) to drain the network).

    Returns a dict (arrays are numpy; per-step arrays have one entry per simulated step):
      steps, timing_model, energy_J {total, synapse, dendrite, soma, network}, energy_total_J,
      energy_split_J {synapse, dendrite, soma_access, soma_update, soma_spike_out, axon_out,
        axon_in, hops} (the soma and network classes split by counts x loihi.yaml prices;
        these sum to SANA-FE's classes), per_step {sim_time, synapse_energy, dendrite_energy,
        soma_energy, network_energy, total_energy, fired, updated, packets, hops, spikes,
        sync_time}, latency_s (per step), total_time_s, sync_s, mapped_tiles, mapped_cores,
      spike_counts (steps, n_populations), rasters [input, lif1, ...], potentials [per LIF
        layer: (steps, n) after reset],
      messages_sent, messages_received, synaptic_lookups, hops, neurons_updated,
        neurons_fired,
      per_core {core: {tile, xy, neurons, energy_J, energy_per_step_J, messages_out,
        messages_in, synaptic_lookups_in, hops_out, neuron_time_s (per step),
        message_time_s (per step)}}, per_tile_energy_J, neuron_core (per population),
      raw (SANA-FE's result dict without the traces).
    """
    sanafe = _import_sanafe()
    layers, raster, sizes = _check_inputs(layers, raster, placement)
    if reset not in ("soft", "hard", "none"):
        raise ValueError("reset must be 'soft', 'hard' or 'none'")
    T0 = raster.shape[0]
    raster = np.vstack([raster, np.zeros((extra_steps, raster.shape[1]), np.uint8)])
    T = raster.shape[0]
    costs = loihi_costs()

    arch, _tmp = _load_loihi_arch(sanafe, per_core)
    hw_cores = arch.cores()
    net = sanafe.Network()
    neuron_core = [core_of_neurons(n, list(cores)) for n, cores in zip(sizes, placement)]

    # input population: model "input", one soma unit loihi_inputs[k] per neuron on its core
    inp = net.create_neuron_group(GROUP_INPUT, sizes[0], log_spikes=True)
    slot = {}
    for i, neuron in enumerate(inp.neurons):
        c = int(neuron_core[0][i])
        k = slot.get(c, 0)
        slot[c] = k + 1
        neuron.set_attributes(soma_hw_name=f"loihi_inputs[{k}]",
                              model_attributes={"spikes": [bool(x) for x in raster[:, i]]})
        neuron.map_to_core(hw_cores[c])

    # LIF layers: soma "loihi_lif", dense synapse, accumulator dendrite (the first of each kind)
    lif_attrs = {"threshold": float(threshold), "leak_decay": float(leak),
                 "reset_mode": reset, "reset": 0.0}
    groups = [inp]
    for l, W in enumerate(layers, start=1):
        g = net.create_neuron_group(_group_name(l), sizes[l], model_attributes=lif_attrs,
                                    soma_hw_name="loihi_lif",
                                    default_synapse_hw_name="loihi_dense_synapse",
                                    log_spikes=True, log_potential=True)
        for i, neuron in enumerate(g.neurons):
            neuron.map_to_core(hw_cores[int(neuron_core[l][i])])
        groups[-1].connect_neurons_dense(g, {"weight": W.ravel()})  # row-major (src, dst)
        groups.append(g)

    chip = sanafe.SpikingChip(arch)
    with _quiet_stdout(quiet):
        chip.load(net)
        res = chip.sim(T, timing_model=timing_model, spike_trace=True, potential_trace=True,
                       perf_trace=True, message_trace=True)

    # ---- rasters and potentials
    index = {GROUP_INPUT: 0, **{_group_name(l): l for l in range(1, len(sizes))}}
    rasters = [np.zeros((T, n), np.uint8) for n in sizes]
    for t, spikes in enumerate(res["spike_trace"]):
        for addr in spikes:
            rasters[index[addr.group_name]][t, addr.neuron_offset] = 1
    pot = np.asarray(res["potential_trace"], dtype=np.float64).reshape(T, -1)
    potentials, col = [], 0
    for n in sizes[1:]:  # groups in sorted-name order: input (not logged), lif01, lif02, ...
        potentials.append(pot[:, col:col + n])
        col += n

    # ---- per-step performance trace
    pt = res["perf_trace"]
    keys = ("sim_time", "synapse_energy", "dendrite_energy", "soma_energy", "network_energy",
            "total_energy", "fired", "updated", "hops", "spikes")  # the Python perf trace
    # has no "packets" column (pytrace.cpp:56-74); it is counted from the message trace below
    per_step = {k: np.asarray(pt[k]) for k in keys}
    used = sorted({int(c) for nc in neuron_core for c in nc})
    mapped_tiles = len({c // CORES_PER_TILE for c in used})
    t_sync = sync_delay(costs, mapped_tiles)
    per_step["sync_time"] = np.full(T, t_sync)

    # ---- per-core: energy from SANA-FE's per-core trace, messages/time from its message trace
    counts = {c: int(sum((nc == c).sum() for nc in neuron_core)) for c in used}
    per_core = {}
    for c in used:
        per_core[c] = {"tile": c // CORES_PER_TILE, "xy": tile_xy(c, costs["mesh"][1]),
                       "neurons": counts[c], "messages_out": 0, "messages_in": 0,
                       "synaptic_lookups_in": 0, "hops_out": 0,
                       "neuron_time_s": np.zeros(T), "message_time_s": np.zeros(T)}
    n_recv = 0
    per_step["packets"] = np.zeros(T, dtype=np.int64)
    for t, msgs in enumerate(res["message_trace"]):
        for m in msgs:
            src = int(m["src_core_id"])
            per_core.setdefault(src, {"neurons": 0, "messages_out": 0, "messages_in": 0,
                                      "synaptic_lookups_in": 0, "hops_out": 0,
                                      "neuron_time_s": np.zeros(T),
                                      "message_time_s": np.zeros(T)})
            per_core[src]["neuron_time_s"][t] += m["generation_delay"]
            if m["placeholder"]:
                continue
            dst = int(m["dest_core_id"])
            per_core[src]["messages_out"] += 1
            per_core[src]["hops_out"] += int(m["hops"])
            per_core[dst]["messages_in"] += 1
            per_core[dst]["synaptic_lookups_in"] += int(m["spikes"])
            per_core[dst]["message_time_s"][t] += m["processing_delay"]
            per_step["packets"][t] += 1
            n_recv += 1
    per_tile_energy = {}
    if per_core:
        for key, series in pt.items():
            if not key.endswith(".energy") or key.count(".") not in (1, 2):
                continue
            parts = key[:-len(".energy")].split(".")
            tile = int(parts[0].split("[")[1].rstrip("]"))
            if len(parts) == 1:
                per_tile_energy[tile] = float(np.sum(series))
            else:
                c = tile * CORES_PER_TILE + int(parts[1].split("[")[1].rstrip("]"))
                if c in per_core:
                    per_core[c]["energy_per_step_J"] = np.asarray(series, dtype=np.float64)
                    per_core[c]["energy_J"] = float(np.sum(series))
        per_tile_energy = {k: v for k, v in per_tile_energy.items() if v != 0.0}

    # ---- split SANA-FE's soma and network classes by counts x prices (they sum to its classes)
    lif_sizes = sizes[1:]
    n_fired_lif = int(sum(r.sum() for r in rasters[1:]))
    n_fired_in = int(rasters[0].sum())
    n_updated_lif = int(per_step["updated"].sum()) - n_fired_in  # fired inputs count as updated
    n_msgs = int(per_step["packets"].sum())
    x_hops = y_hops = 0
    for msgs in res["message_trace"]:
        for m in msgs:
            if not m["placeholder"]:
                x_hops += abs(int(m["src_x"]) - int(m["dest_x"]))
                y_hops += abs(int(m["src_y"]) - int(m["dest_y"]))
    split = {
        "synapse": float(res["energy"]["synapse"]),
        "dendrite": float(res["energy"]["dendrite"]),
        "soma_access": costs["e_access"] * sum(lif_sizes) * T,
        "soma_update": costs["e_update"] * n_updated_lif,
        "soma_spike_out": costs["e_spike"] * n_fired_lif,
        "axon_out": costs["e_msg_out"] * n_msgs,
        "axon_in": costs["e_msg_in"] * n_recv,
        "hops": costs["e_hop_ew"] * x_hops + costs["e_hop_ns"] * y_hops,
    }

    raw = {k: v for k, v in res.items() if not k.endswith("_trace")}
    return {
        "steps": T, "input_steps": T0, "extra_steps": extra_steps, "timing_model": timing_model,
        "energy_J": dict(res["energy"]), "energy_total_J": float(res["energy"]["total"]),
        "energy_split_J": split,
        "per_step": per_step, "latency_s": per_step["sim_time"],
        "total_time_s": float(res["sim_time"]), "sync_s": t_sync,
        "mapped_tiles": mapped_tiles, "mapped_cores": len(used),
        "spike_counts": np.stack([r.sum(axis=1) for r in rasters], axis=1),
        "rasters": rasters, "potentials": potentials,
        "messages_sent": int(res["packets_sent"]), "messages_received": n_recv,
        "synaptic_lookups": int(res["spikes"]), "hops": int(per_step["hops"].sum()),
        "x_hops": x_hops, "y_hops": y_hops,
        "neurons_updated": int(res["neurons_updated"]), "neurons_fired": int(res["neurons_fired"]),
        "per_core": per_core, "per_tile_energy_J": per_tile_energy,
        "neuron_core": neuron_core, "raw": raw,
    }


# --------------------------------------------------------------------------------------------
# numpy references
# --------------------------------------------------------------------------------------------

def numpy_lif(layers, raster, *, leak=0.5, threshold=1.0, reset="soft", sanafe=True,
              quantize=None):
    """Feed-forward LIF in numpy. ``sanafe=True``: SANA-FE's semantics (1 step of delay per
    layer, v <- trunc(64*leak*v)/64 + I, fire if v > thr, float32 parameters, inputs summed in
    pre-neuron order). ``sanafe=False``: chipsim's (no delay, u = leak*v + I, fire if
    u >= thr, float64). Returns (rasters [input, l1, ...], potentials after reset, updated
    flags: |v|>0 before the leak or an input arrived, i.e. SANA-FE's soma "update" condition).
    ``quantize`` overrides the 1/64 truncation alone (default: on iff ``sanafe``)."""
    quantize = sanafe if quantize is None else quantize
    f = (lambda x: np.float64(np.float32(x))) if sanafe else np.float64
    lk, th = f(leak), f(threshold)
    rasters, pots, upds = [np.asarray(raster, np.uint8)], [], []
    for W in layers:
        Wd = np.asarray(W, np.float32).astype(np.float64) if sanafe else np.asarray(W, np.float64)
        prev, (T, n) = rasters[-1], (raster.shape[0], Wd.shape[1])
        v, out, vt, up = np.zeros(n), np.zeros((T, n), np.uint8), np.zeros((T, n)), np.zeros((T, n), bool)
        for t in range(T):
            src = prev[t - 1] if sanafe else prev[t]
            if sanafe and t == 0:
                src = np.zeros_like(prev[0])
            idx = np.flatnonzero(src)
            up[t] = (v != 0) | (idx.size > 0)
            v = np.trunc(v * lk * 64.0) / 64.0 if quantize else v * lk
            v = v + (np.add.accumulate(Wd[idx], axis=0)[-1] if idx.size else 0.0)
            s = v > th if sanafe else v >= th
            if reset == "soft":
                v = np.where(s, v - th, v)
            elif reset == "hard":
                v = np.where(s, 0.0, v)
            out[t], vt[t] = s, v
        rasters.append(out)
        pots.append(vt)
        upds.append(up)
    return rasters, pots, upds


def hand_ledger(layers, placement, rasters, updated, costs, *, sizes=None) -> dict:
    """Energy per class and 'simple' time per step, recomputed from spike rasters (SANA-FE's
    timing: a spike of population l-1 at step t is processed in step t, into layer l) with the
    loihi.yaml prices. ``updated``: per LIF layer, (T, n) soma-update flags."""
    sizes = sizes or [r.shape[1] for r in rasters]
    T = rasters[0].shape[0]
    ncore = [core_of_neurons(n, list(c)) for n, c in zip(sizes, placement)]
    used = sorted({int(c) for nc in ncore for c in nc})
    tiles = {c // CORES_PER_TILE for c in used}
    t_sync = sync_delay(costs, len(tiles))
    mesh_h = costs["mesh"][1]
    e = {k: np.zeros(T) for k in ("synapse", "dendrite", "soma", "network")}
    gen = {c: np.zeros(T) for c in used}   # neuron processing time per core
    proc = {c: np.zeros(T) for c in used}  # message processing time per core
    for pop in range(len(sizes)):
        r = rasters[pop]
        nc = ncore[pop]
        if pop >= 1:  # LIF somas
            up = updated[pop - 1]
            e_n = costs["e_access"] + costs["e_update"] * up + costs["e_spike"] * r
            t_n = costs["t_access"] + costs["t_update"] * up + costs["t_spike"] * r
            e["soma"] += e_n.sum(axis=1)
            for c in set(nc.tolist()):
                gen[c] += t_n[:, nc == c].sum(axis=1)
        if pop + 1 < len(sizes):  # outgoing messages to population pop+1
            dst = ncore[pop + 1]
            dst_cores = sorted(set(dst.tolist()))
            for i in range(sizes[pop]):
                s = r[:, i].astype(float)
                if not s.any():
                    continue
                x0, y0 = tile_xy(int(nc[i]), mesh_h)
                for c in dst_cores:
                    x1, y1 = tile_xy(c, mesh_h)
                    nsyn = int((dst == c).sum())
                    e["network"] += s * (costs["e_msg_out"] + costs["e_msg_in"]
                                         + abs(x1 - x0) * costs["e_hop_ew"]
                                         + abs(y1 - y0) * costs["e_hop_ns"])
                    e["synapse"] += s * nsyn * costs["e_syn"]
                    e["dendrite"] += s * nsyn * costs["e_den"]
                    gen[int(nc[i])] += s * costs["t_msg_out"]
                    proc[c] += s * (costs["t_msg_in"] + nsyn * (costs["t_syn"] + costs["t_den"]))
    e["total"] = e["synapse"] + e["dendrite"] + e["soma"] + e["network"]
    busy = np.max([np.maximum(gen[c], proc[c]) for c in used], axis=0)
    return {"energy": e, "simple_time": busy + t_sync, "busy_time": busy, "sync": t_sync,
            "neuron_time": gen, "message_time": proc}


# --------------------------------------------------------------------------------------------
# example
# --------------------------------------------------------------------------------------------

def example_network(seed=0, n_in=64, hidden=(48, 10), T=20, density=0.2, leak=0.5,
                    threshold=1.0, gain=0.6, grid=0):
    """Seeded example: weights U(-0.2, 0.8), each layer scaled so that its mean input current
    per step is ``gain * threshold`` at the firing rate the (chipsim-style) numpy LIF gives the
    layer before. ``grid`` > 0: weights rounded to multiples of 1/grid (with leak 1 and grid 64
    SANA-FE's 1/64 truncation of the potential is then exact, and its rasters are chipsim's)."""
    rng = np.random.default_rng(seed)
    raster = (rng.random((T, n_in)) < density).astype(np.uint8)
    layers, prev = [], raster
    for n_out in hidden:
        W = rng.uniform(-0.2, 0.8, size=(prev.shape[1], n_out))
        rate = max(prev.mean(), 1.0 / prev.size)
        W *= gain * threshold / (prev.shape[1] * rate * W.mean())
        if grid:
            W = np.round(W * grid) / grid
        layers.append(W)
        prev = numpy_lif([W], prev, leak=leak, threshold=threshold, sanafe=False)[0][-1]
    return layers, raster


def _fmt(x, unit=""):
    return f"{x:.4g}{unit}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--T", type=int, default=20)
    ap.add_argument("--density", type=float, default=0.2)
    ap.add_argument("--leak", type=float, default=0.5)
    ap.add_argument("--threshold", type=float, default=1.0)
    ap.add_argument("--gain", type=float, default=0.6,
                    help="mean input current per step / threshold, per layer (sets the rates)")
    ap.add_argument("--reset", default="soft", choices=("soft", "hard", "none"))
    ap.add_argument("--grid", type=int, default=0,
                    help="round the weights to multiples of 1/GRID (64 with --leak 1: exact)")
    ap.add_argument("--timing-model", default="detailed", choices=("simple", "detailed", "cycle"))
    ap.add_argument("--extra-steps", type=int, default=None,
                    help="zero input rows appended (default: the number of LIF layers, which "
                         "drains SANA-FE's one-step-per-layer pipeline)")
    ap.add_argument("--save", type=Path, default=None,
                    help=".npz with raster, weights, placement and SANA-FE's results")
    ap.add_argument("--verbose", action="store_true", help="show SANA-FE's own console output")
    args = ap.parse_args(argv)

    layers, raster = example_network(args.seed, T=args.T, density=args.density, leak=args.leak,
                                     threshold=args.threshold, gain=args.gain, grid=args.grid)
    placement = [[0], [1, 2], [5]]
    extra = len(layers) if args.extra_steps is None else args.extra_steps
    kw = dict(leak=args.leak, threshold=args.threshold, reset=args.reset, extra_steps=extra,
              quiet=not args.verbose)
    res = run_sanafe(layers, raster, placement, timing_model=args.timing_model, **kw)
    simple = run_sanafe(layers, raster, placement, timing_model="simple", per_core=False, **kw)
    costs = loihi_costs()
    T = res["steps"]
    sizes = [raster.shape[1]] + [W.shape[1] for W in layers]

    print(f"SANA-FE Loihi twin: {' -> '.join(map(str, sizes))}, T = {args.T} input steps "
          f"+ {extra} drain steps, leak {args.leak}, threshold {args.threshold}, "
          f"reset {args.reset}, seed {args.seed}")
    print(f"placement (cores): {placement}; mapped cores {res['mapped_cores']}, "
          f"mapped tiles {res['mapped_tiles']} -> sync {res['sync_s'] * 1e6:.2f} us/step")
    print()
    ps = res["per_step"]
    hdr = (f"{'t':>3} " + " ".join(f"{'s_' + str(i):>5}" for i in range(len(sizes)))
           + f" {'msgs':>5} {'hops':>5} {'lookups':>7} {'upd':>4} {'E_syn':>9} {'E_soma':>9} "
             f"{'E_net':>9} {'E_tot':>9} {'t_det':>9} {'t_simple':>9}")
    print(hdr)
    print("-" * len(hdr))
    for t in range(T):
        sc = " ".join(f"{int(v):>5}" for v in res["spike_counts"][t])
        print(f"{t + 1:>3} {sc} {int(ps['packets'][t]):>5} {int(ps['hops'][t]):>5} "
              f"{int(ps['spikes'][t]):>7} {int(ps['updated'][t]):>4} "
              f"{ps['synapse_energy'][t] * 1e9:>7.3f}nJ {ps['soma_energy'][t] * 1e9:>7.3f}nJ "
              f"{ps['network_energy'][t] * 1e9:>7.3f}nJ {ps['total_energy'][t] * 1e9:>7.3f}nJ "
              f"{res['latency_s'][t] * 1e6:>7.4f}us {simple['latency_s'][t] * 1e6:>7.4f}us")
    print()
    print("totals (SANA-FE)")
    for k in ("synapse", "dendrite", "soma", "network", "total"):
        print(f"  energy {k:<9} {res['energy_J'][k] * 1e9:10.4f} nJ")
    print("  split by counts x loihi.yaml prices:")
    for k, v in res["energy_split_J"].items():
        print(f"    {k:<15} {v * 1e9:10.4f} nJ")
    print(f"  time ({args.timing_model}) {res['total_time_s'] * 1e6:.4f} us, "
          f"(simple) {simple['total_time_s'] * 1e6:.4f} us, of which sync "
          f"{T * res['sync_s'] * 1e6:.4f} us")
    print(f"  messages sent {res['messages_sent']}, received {res['messages_received']}, "
          f"synaptic look-ups {res['synaptic_lookups']}, hops {res['hops']} "
          f"(E/W {res['x_hops']}, N/S {res['y_hops']}), neurons updated "
          f"{res['neurons_updated']} (incl. fired inputs), fired {res['neurons_fired']}")
    print()
    print("per core   tile (x,y)  neurons  msgs_out  msgs_in  lookups_in  hops_out  "
          "energy      neuron_t    msg_t (sums over steps)")
    for c, d in sorted(res["per_core"].items()):
        print(f"  core {c:>3}  {d.get('tile', c // 4):>4} {str(d.get('xy', '')):>6}  "
              f"{d['neurons']:>7}  {d['messages_out']:>8}  {d['messages_in']:>7}  "
              f"{d['synaptic_lookups_in']:>10}  {d['hops_out']:>8}  "
              f"{d.get('energy_J', float('nan')) * 1e9:8.4f} nJ "
              f"{d['neuron_time_s'].sum() * 1e9:8.1f} ns {d['message_time_s'].sum() * 1e9:8.1f} ns")
    print(f"  per-tile energy (incl. hops into the tile): "
          + ", ".join(f"tile {k}: {v * 1e9:.4f} nJ" for k, v in sorted(res['per_tile_energy_J'].items())))

    # ---------------- verification
    print()
    print("verification")
    padded = np.vstack([raster, np.zeros((extra, raster.shape[1]), np.uint8)])
    ex_r, ex_v, ex_up = numpy_lif(layers, padded, leak=args.leak, threshold=args.threshold,
                                  reset=args.reset, sanafe=True)
    ok_exact = all(np.array_equal(a, b) for a, b in zip(ex_r, res["rasters"]))
    dv = max(float(np.max(np.abs(a - b))) for a, b in zip(ex_v, res["potentials"]))
    print(f"  1. numpy LIF with SANA-FE semantics (1-step delay/layer, trunc 1/64, v > thr, f32): "
          f"rasters {'AGREE' if ok_exact else 'DIFFER'} "
          f"({[int(a.sum()) for a in ex_r]} vs {[int(b.sum()) for b in res['rasters']]} spikes), "
          f"max |dv| = {dv:.2e}")
    cs_r, _, _ = numpy_lif(layers, padded, leak=args.leak, threshold=args.threshold,
                           reset=args.reset, sanafe=False)
    cq_r, _, _ = numpy_lif(layers, padded, leak=args.leak, threshold=args.threshold,
                           reset=args.reset, sanafe=False, quantize=True)
    for l in range(1, len(sizes)):
        a, aq = cs_r[l][:T - l], cq_r[l][:T - l]
        b = res["rasters"][l][l:]
        b0 = res["rasters"][l][:T - l]
        print(f"  2. layer {l}: chipsim-style numpy (no delay, u >= thr, no quantisation, f64) vs "
              f"SANA-FE shifted back {l} step(s): {int((a != b).sum())} of {a.size} entries "
              f"differ ({int(a.sum())} vs {int(b.sum())} spikes); unshifted: "
              f"{int((a != b0).sum())} differ; chipsim-style + 1/64 truncation, shifted: "
              f"{int((aq != b).sum())} differ")
    led = hand_ledger(layers, placement, res["rasters"], ex_up, costs)
    worst = 0.0
    for k, sk in (("synapse", "synapse_energy"), ("dendrite", "dendrite_energy"),
                  ("soma", "soma_energy"), ("network", "network_energy"), ("total", "total_energy")):
        ref = ps[sk]
        worst = max(worst, float(np.max(np.abs(led["energy"][k] - ref) / np.maximum(np.abs(ref), 1e-30))))
    print(f"  3. hand energy ledger (counts x loihi.yaml) vs SANA-FE per step and class: "
          f"max rel. error {worst:.1e}")
    terr = float(np.max(np.abs(led["simple_time"] - simple["latency_s"]) / simple["latency_s"]))
    print(f"  4. hand 'simple' time max_core(max(neuron_t, msg_t)) + sync vs SANA-FE simple: "
          f"max rel. error {terr:.1e}; detailed - simple per step: "
          f"{np.round((res['latency_s'] - simple['latency_s']) * 1e9, 1).tolist()} ns")
    if any("energy_J" in d for d in res["per_core"].values()):
        s = sum(d.get("energy_J", 0.0) for d in res["per_core"].values()) + \
            res["energy_split_J"]["hops"]
        print(f"  5. per-core energies + hop energy = {s * 1e9:.4f} nJ vs total "
              f"{res['energy_total_J'] * 1e9:.4f} nJ")

    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        payload = {"raster": raster, "leak": args.leak, "threshold": args.threshold,
                   "reset": args.reset, "extra_steps": extra,
                   "placement": np.array([",".join(map(str, p)) for p in placement]),
                   "sanafe_energy_total_J": res["energy_total_J"],
                   "sanafe_latency_s": res["latency_s"],
                   "sanafe_latency_simple_s": simple["latency_s"],
                   "sanafe_spike_counts": res["spike_counts"],
                   "sanafe_sync_s": res["sync_s"]}
        for l, W in enumerate(layers):
            payload[f"W{l}"] = W
        for l, r in enumerate(res["rasters"]):
            payload[f"sanafe_raster{l}"] = r
        for k, v in res["per_step"].items():
            payload[f"sanafe_{k}"] = v
        for k, v in res["energy_split_J"].items():
            payload[f"sanafe_E_{k}_J"] = v
        np.savez(args.save, **payload)
        print(f"\nsaved raster, weights W0..W{len(layers) - 1} and SANA-FE results to {args.save}")
    return res


if __name__ == "__main__":
    main()
