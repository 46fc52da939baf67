"""The reference conv net: every rule's batch-1 throughput, memory held for learning and
backward work, side by side with BPTT, for T in {5, 10, 20, 40}.

Network (PERFORMANCE.md): conv 2->16 3x3 pad 1 LIF -> avgpool 2 -> conv 16->32 3x3 pad 1 LIF ->
avgpool 2 -> 2048 -> 10 readout; OTTT's LIF; real N-MNIST frames (the 100 shipped training
samples); plain SGD; float32. Figures, not assertions; they vary with the machine (+-20 %).

Targets from the papers, printed beside ours:
- SLTT (Meng et al. 2023): > 70 % less memory and > 50 % less time than BPTT (on GPUs, ImageNet;
  the paper's Figure 1 compares SLTT-1, i.e. K = 1, with BPTT); PERFORMANCE.md asks sltt <= 30 %
  of bptt's learning memory and <= 50 % of its time at T = 10.
- SLTT and OTTT memory flat in T (within 10 % from T = 5 to T = 40).
- tbptt_local (Guo et al. 2023, AlexNet, CIFAR10-DVS): 99.64 % fewer MACs and 89.94 % less GPU
  memory than end-to-end BPTT (the window and block behind those figures are not known).

At T=10, with the ottt neuron, chipsim / peer for each peer of bptt, sltt, ottt_a and ottt_o:
PyTorch and SpikingJelly timed in the same run (peers.py, in a subprocess, each peer at its faster
thread setting), or stored figures labelled "stored" when they are not installed; and
PERFORMANCE.md's targets: batch 1, 5x SpikingJelly's same rule (bptt: 3x PyTorch BPTT); a
minibatch, 1.5x the fastest peer of the same rule. samples/s are medians of --repeats runs.

    python benchmarks/bench_conv.py [--T 5 10 20 40] [--min-time 2] [--batch 1] [--neuron ottt]
                                    [--peers-python PY] [--peers auto|stored|off]
"""

from __future__ import annotations

import argparse

from common import (CONV, add_peer_args, bench, cores_note, machine, nmnist, peer_figures,
                    print_side_by_side, watch_of)

RULES = [  # (label, rule, extra)
    ("bptt", "bptt", {}),
    ("sltt", "sltt", {}),
    ("sltt-K1", "sltt", {"k": 1}),   # SLTT-1: the setting of the SLTT paper's Figure 1
    ("sltt-K2", "sltt", {"k": 2}),   # SLTT's README command for CIFAR10-DVS (T = 10)
    ("ottt_a", "ottt_a", {}),
    ("ottt_o", "ottt_o", {}),
    ("tbptt TL=2 BL=1", "tbptt_local", {"window": 2, "block": 1}),
    ("tbptt TL=1 BL=1", "tbptt_local", {"window": 1, "block": 1}),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--T", type=int, nargs="+", default=[5, 10, 20, 40])
    ap.add_argument("--min-time", type=float, default=2.0, help="seconds of training per figure")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--batch", type=int, default=1,
                    help="samples per update (PERFORMANCE.md's minibatch target uses 32)")
    ap.add_argument("--neuron", default="ottt", choices=["ottt", "sltt"],
                    help="the LIF of PERFORMANCE.md / OTTT (sigmoid surrogate), or SLTT's own "
                         "(lambda 0.09, triangle surrogate), the setting of SLTT's time claim")
    ap.add_argument("--rules", nargs="+", default=[r[0] for r in RULES], choices=[r[0] for r in RULES],
                    metavar="RULE", help="rules to time (labels of the table below; default: all)")
    add_peer_args(ap)
    a = ap.parse_args()
    rules = [r for r in RULES if r[0] in a.rules]
    watch = watch_of(a)
    print(f"conv 2-16-32 (avgpool 2) -> 10, batch {a.batch}, {a.dtype}, {a.neuron} neuron, "
          f"real N-MNIST frames (100 samples); median of {a.repeats} runs; {machine()}")
    print(f"{'rule':16s} {'T':>3s} {'samples/s':>10s} {'learn state B':>14s} {'x bptt':>7s} "
          f"{'time x bptt':>11s} {'bwd MACs/sample':>16s} {'x bptt':>7s}")
    res, data10 = {}, None
    for T in a.T:
        data = nmnist(T, a.dtype)
        data10 = data if T == 10 else data10
        for label, rule, extra in rules:
            w = extra.get("window")
            r = bench(CONV, rule, T, a.dtype, a.min_time, batch=a.batch,
                      window=min(w, T) if w else None,
                      block=extra.get("block"), k=extra.get("k"), data=data, neuron=a.neuron,
                      repeats=a.repeats, watch=watch)
            res[label, T] = r
            b = res.get(("bptt", T), r)
            print(f"{label:16s} {T:3d} {r['sps']:10.1f} {r['state']:14,d} {r['state'] / b['state']:7.2f} "
                  f"{b['sps'] / r['sps']:11.2f} {r['bwd']:16,.0f} {r['bwd'] / b['bwd']:7.3f}   "
                  f"{cores_note(r)}", flush=True)
    print()
    lo, hi = min(a.T), max(a.T)
    for label, _, _ in rules:
        if (label, lo) in res and (label, hi) in res:
            s0, s1 = res[label, lo]["state"], res[label, hi]["state"]
            print(f"{label:16s} learning state T={lo} -> T={hi}: {s0:,d} -> {s1:,d} B ({100 * (s1 - s0) / s0:+.1f} %)")
    if ("sltt", 10) in res and ("bptt", 10) in res:
        s, b = res["sltt", 10], res["bptt", 10]
        print(f"\nT=10  sltt / bptt: learning memory {100 * s['state'] / b['state']:.1f} % (target <= 30 %), "
              f"time {100 * b['sps'] / s['sps']:.1f} % (target <= 50 %)")
        for label in ("sltt-K1", "sltt-K2"):
            if (label, 10) in res:
                print(f"T=10  {label} / bptt: time {100 * b['sps'] / res[label, 10]['sps']:.1f} % "
                      f"(the SLTT paper's > 50 % saving: Figure 1 compares SLTT-1 with BPTT, ImageNet, GPU)")
        for label in ("tbptt TL=2 BL=1", "tbptt TL=1 BL=1"):
            if (label, 10) in res:
                t = res[label, 10]
                print(f"T=10  {label} vs bptt: backward MACs -{100 * (1 - t['bwd'] / b['bwd']):.2f} %, "
                      f"learning memory -{100 * (1 - t['state'] / b['state']):.2f} %   "
                      f"(Guo et al. 2023, AlexNet/CIFAR10-DVS: -99.64 % MACs, -89.94 % GPU memory)")
    # the peers: the plain rules, with the neuron the peers run (PERFORMANCE.md's LIF)
    at10 = {label: res[label, 10]["sps"] for label, rule, extra in rules
            if not extra and (label, 10) in res}
    if at10 and a.neuron == "ottt":
        ds = data10[0]
        peers = peer_figures(a, "conv", a.batch, list(at10), ds.frames, ds.labels)
        print_side_by_side("conv", a.batch, 10, at10, peers,
                           {label: min(res[label, 10]["cores"], default=None) for label in at10},
                           {label: res[label, 10]["rt"] for label in at10})
        print(f"\nmachine at the end: {machine()}")


if __name__ == "__main__":
    main()
