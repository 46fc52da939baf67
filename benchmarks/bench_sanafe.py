"""chipsim against SANA-FE 2.2.9 on Loihi: the same network, input raster and placement.

SANA-FE (Boyle et al., IEEE TCAD 2025; GPL, so never a chipsim dependency) is run by
benchmarks/sanafe_twin.py in the environment that has it (``pip install sanafe==2.2.9``; here
/work/peers-venv, or --peers-python); its results are stored in --twin (.npz). chipsim then runs
the very same network on the very same spikes and prices it with ``loihi_sanafe``:

* network: 64 inputs -> 48 IF neurons -> 10 IF neurons (leak 1, threshold 1, soft reset,
  strict >), weights on SANA-FE's 1/64 grid, so SANA-FE's truncation of the potential is exact
  and both simulators give the same spikes (SANA-FE one step later per layer: it delivers a
  layer's spikes at the next step; the input is followed by 2 empty steps that drain it, and
  chipsim runs those steps too);
* placement: the input on core 0 (SANA-FE's input neurons; chipsim's input enters there),
  layer 1 on cores 1 and 2, layer 2 on core 5 (tile 1);
* chipsim needs a readout after its last LIF layer; it is placed on core 5 and left out of
  the comparison (its counts, messages and time are zeroed), since SANA-FE's network has none.

Prints the spikes per layer, the energy by class (SANA-FE's split by counts x prices, and
chipsim's by action) and the total time, and the ratios. docs/sanafe.md explains each remaining
difference. Never asserts timings or energies (the tests do not run it).

    python benchmarks/bench_sanafe.py                       # runs the twin if SANA-FE is there
    python benchmarks/bench_sanafe.py --twin results/sanafe_twin.npz   # a stored twin run
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
STORED = HERE / "results" / "sanafe_twin_if64.npz"


def _twin(args) -> Path:
    out = Path(args.twin) if args.twin else STORED
    if args.twin is None and args.peers_python and Path(args.peers_python).exists():
        cmd = [args.peers_python, str(HERE / "sanafe_twin.py"), "--leak", "1", "--grid", "64",
               "--seed", str(args.seed), "--save", str(out)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode == 0:
            print(f"SANA-FE run now: {' '.join(cmd[1:])}")
            return out
        print(f"SANA-FE not run ({r.stderr.strip().splitlines()[-1] if r.stderr else r.returncode}); "
              f"using the stored run {out}")
    else:
        print(f"SANA-FE results: stored run {out} (made by benchmarks/sanafe_twin.py --leak 1 "
              "--grid 64)")
    return out


def run_chipsim(z):
    """chipsim's counts of the twin's network and raster, costed on loihi_sanafe with the
    twin's placement; the readout's share zeroed."""
    from chipsim import counts as K
    from chipsim.config.profile import load_profile
    from chipsim.hardware.cycle import communication, step_latency
    from chipsim.hardware.ledger import price
    from chipsim.hardware.mapping import map_layers
    from chipsim.learning import make_trainer
    from chipsim.model.inputs import encode_frames
    from chipsim.model.network import Network
    from chipsim.model.neuron import NeuronParams
    from types import SimpleNamespace as NS

    W0, W1 = z["W0"], z["W1"]
    raster = z["raster"]
    extra = int(z["extra_steps"])
    frames = np.vstack([raster, np.zeros((extra, raster.shape[1]), raster.dtype)])
    T = frames.shape[0]
    net = Network.build_dense(W0.shape[0], True, [(W0.shape[1], False), (W1.shape[1], False)], 1,
                              False, np.random.default_rng(0))
    net.weights[0][...] = W0
    net.weights[1][...] = W1
    net.weights[2][...] = 0.0
    leak, theta = float(z["leak"]), float(z["threshold"])
    nrn = NeuronParams(lam=leak, theta=theta, cin=1.0, soft=str(z["reset"]) == "soft",
                       detach=True, h0=False, sg_kind=0, alpha=4.0)
    tr = make_trainer("sltt", net, nrn, NS(kind="ce_mse", mse_weight=0.0, mse_target="onehot"),
                      NS(lr=0.0, momentum=0.0, weight_decay=0.0),
                      NS(k=None, target_window=None, update_skip=True), T, 1,
                      np.random.default_rng(0))
    inp = encode_frames(frames.reshape(1, T, -1), True)
    spikes = [np.zeros((T, W0.shape[1]), bool), np.zeros((T, W1.shape[1]), bool)]
    for t in range(T):                 # the rasters (one run per prefix, as the Brian2 twin)
        tr.infer_batch(inp, inp.ptr[:, :t + 2], np.array([0]))
        for l in range(2):
            spikes[l][t, tr.spk_h[l][0, 0, :tr.spk_n[l, 0, 0]]] = True
    steps = tr.last_step_counts.copy()                     # (1, T, L, P, A) of the whole run
    profile = load_profile("loihi_sanafe")
    placement = [[int(c) for c in str(p).split(",")] for p in z["placement"]]
    m = map_layers(net.layers, profile, {"dense1": placement[1], "dense2": placement[2],
                                         "readout": placement[2]})
    hops, msgs, smsg = communication(steps, np.diff(inp.ptr, axis=1), net.layers, m)
    steps[:, :, 2] = 0                                     # the readout SANA-FE does not have
    hops[:, :, 2] = msgs[:, :, 2] = smsg[:, :, 2] = 0
    lat = step_latency(steps, hops, m, profile, smsg, net.layers)
    # the same work on SANA-FE's schedule (layer l's work l steps later): what the per-step
    # maximum over cores gives when the layers' work falls on SANA-FE's steps
    shifted = [np.zeros_like(a) for a in (steps, hops, smsg)]
    for l in range(2):
        for a, b in zip(shifted, (steps, hops, smsg)):
            a[:, l + 1:, l] = b[:, :T - l - 1, l]
    lat_shifted = step_latency(shifted[0], shifted[1], m, profile, shifted[2], net.layers)
    steps[..., K.INFER, K.ROUTER_HOP] += hops
    steps[..., K.INFER, K.CHIP_MESSAGE] += msgs
    steps[..., K.INFER, K.SPIKE_MESSAGE] += smsg
    steps[..., K.INFER, K.MESSAGE_RECEIVE] += smsg
    p = price(steps.sum(axis=1), profile, sample_time=lat.sum(axis=1), static_units=m.cores_used)
    return dict(spikes=spikes, steps=steps[0], latency=lat[0], pricing=p, mapping=m,
                latency_shifted=lat_shifted[0])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--twin", help="a .npz written by sanafe_twin.py --save (default: run it "
                                   "now if SANA-FE is installed, else the stored one)")
    ap.add_argument("--peers-python", default="/work/peers-venv/bin/python",
                    help="a Python that has sanafe 2.2.9 installed")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from chipsim import counts as K

    z = dict(np.load(_twin(args)))
    c = run_chipsim(z)
    e = c["pricing"].energy.sum(axis=(0, 1))               # (A,) J over the run
    by = lambda *names: float(sum(e[int(K.Action[n.upper()])] for n in names))  # noqa: E731
    # SANA-FE's soma classes from chipsim's: an idle update is a soma access, an active one an
    # access and an update (loihi_sanafe prices them so)
    n = c["steps"][:, :, K.INFER, :].sum(axis=(0, 1))
    e_idle = float(c["pricing"].energy_per_action[K.NEURON_UPDATE_IDLE])
    e_act = float(c["pricing"].energy_per_action[K.NEURON_UPDATE_ACTIVE])
    ours = {"synapse": by("synop"),
            "soma_access": e_idle * float(n[K.NEURON_UPDATE_IDLE] + n[K.NEURON_UPDATE_ACTIVE]),
            "soma_update": (e_act - e_idle) * float(n[K.NEURON_UPDATE_ACTIVE]),
            "soma_spike_out": by("spike"), "axon_out": by("spike_message"),
            "axon_in": by("message_receive"), "hops": by("router_hop")}
    theirs = {k: float(z[f"sanafe_E_{k}_J"]) for k in ours}
    T = len(c["latency"])
    print(f"network {z['W0'].shape[0]} -> {z['W0'].shape[1]} -> {z['W1'].shape[1]} IF (leak "
          f"{float(z['leak']):g}, threshold {float(z['threshold']):g}, {z['reset']} reset), "
          f"{T} steps ({T - int(z['extra_steps'])} of input), placement {[str(p) for p in z['placement']]}")
    sf = [int(z[f"sanafe_raster{l}"].sum()) for l in (1, 2)]
    cs = [int(s.sum()) for s in c["spikes"]]
    same = all(np.array_equal(c["spikes"][l - 1][:T - l], z[f"sanafe_raster{l}"][l:])
               for l in (1, 2))
    print(f"spikes per layer: chipsim {cs}, SANA-FE {sf}; rasters "
          f"{'identical' if same else 'DIFFER'} (SANA-FE one step later per layer)")
    print()
    print(f"{'energy (nJ)':<16} {'SANA-FE':>10} {'chipsim':>10} {'ratio':>7}")
    for k in ours:
        r = ours[k] / theirs[k] if theirs[k] else float("nan")
        print(f"  {k:<14} {theirs[k] * 1e9:10.3f} {ours[k] * 1e9:10.3f} {r:7.4f}")
    ts, tc = sum(theirs.values()), float(c["pricing"].sample_dynamic_energy.sum())
    print(f"  {'total dynamic':<14} {ts * 1e9:10.3f} {tc * 1e9:10.3f} {tc / ts:7.4f}  "
          f"({(tc / ts - 1) * 100:+.2f} %)")
    t_det, t_simple = float(z["sanafe_latency_s"].sum()), float(z["sanafe_latency_simple_s"].sum())
    t_c = float(c["latency"].sum())
    print()
    print(f"time over the run: SANA-FE {t_det * 1e6:.3f} us (detailed), {t_simple * 1e6:.3f} us "
          f"(simple); chipsim {t_c * 1e6:.3f} us: {(t_c / t_det - 1) * 100:+.2f} % of detailed, "
          f"{(t_c / t_simple - 1) * 100:+.2f} % of simple")
    t_sh = float(c["latency_shifted"].sum())
    print(f"  chipsim with each layer's work on SANA-FE's step (layer l, l steps later): "
          f"{t_sh * 1e6:.3f} us: {(t_sh / t_simple - 1) * 100:+.2f} % of simple")
    print(f"  sync per step: SANA-FE {float(z['sanafe_sync_s']) * 1e6:.2f} us, chipsim "
          f"{load_sync(c) * 1e6:.2f} us; static energy left out of both (SANA-FE models none)")
    return 0


def load_sync(c) -> float:
    from chipsim.config.profile import load_profile
    from chipsim.hardware.cycle import tiles_used
    p = load_profile("loihi_sanafe")
    return p.sync_for(tiles_used(c["mapping"], p))


if __name__ == "__main__":
    sys.exit(main())
