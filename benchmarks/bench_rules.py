"""Training throughput and memory held for learning, per rule and T, on the reference MLP, side
by side with PyTorch and SpikingJelly timed in the same run.

The reference MLP of ../PERFORMANCE.md: flatten 2312 -> dense 512 LIF (no bias) -> dense 10
readout, LIF u = 0.5 v + I, threshold 1, soft reset detached, sigmoid surrogate alpha 4, per-step
CE/MSE loss, plain SGD. Input: the real N-MNIST samples shipped with chipsim, binary frames.

Prints a table: samples/s (median of --repeats runs), the bytes each rule keeps for learning
(state across time) and in weight-sized gradient buffers; then, at T=10, chipsim / peer for each
peer of each rule (peers.py; the peers run in a subprocess, each at its faster thread setting)
and PERFORMANCE.md's target: batch 1, 10x SpikingJelly's same rule (bptt: 10x PyTorch BPTT);
a minibatch, 1.5x the fastest peer of the same rule. Without the peers installed (see
benchmarks/README.md), stored peer figures are printed instead, labelled "stored".
It asserts nothing; figures vary with the machine (+-20 %), ratios from one run much less.

    python benchmarks/bench_rules.py [--T 5 10 20 40] [--batch 1] [--rules bptt sltt ottt_a ottt_o]
                                     [--peers-python PY] [--peers auto|stored|off]
"""

from __future__ import annotations

import argparse

from common import (MLP, add_peer_args, bench, cores_note, machine, nmnist, peer_figures,
                    print_side_by_side, watch_of)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--T", type=int, nargs="+", default=[5, 10, 20, 40])
    ap.add_argument("--rules", nargs="+", default=["bptt", "sltt", "ottt_a", "ottt_o"])
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--min-time", type=float, default=2.0, help="seconds of training per run")
    add_peer_args(ap)
    a = ap.parse_args()
    print(f"mlp 2312-{a.hidden}-10, batch {a.batch}, {a.dtype}, real N-MNIST frames (100 samples); "
          f"median of {a.repeats} runs; {machine()}")
    print(f"{'rule':8s} {'T':>3s} {'samples/s':>10s} {'learn state B':>14s} {'grad buffers B':>15s}")
    mem, at10, data10, cores, rts = {}, {}, None, {}, {}
    watch = watch_of(a)
    ops = [dict(MLP[0], units=a.hidden)]
    for T in a.T:
        data = nmnist(T, a.dtype)
        for rule in a.rules:
            r = bench(ops, rule, T, a.dtype, a.min_time, batch=a.batch, data=data, repeats=a.repeats,
                      watch=watch)
            sps, state, grad = r["sps"], r["state"], r["grad"]
            mem[rule, T] = state
            if T == 10:
                at10[rule], data10 = sps, data
                cores[rule] = min(r["cores"], default=None)
                rts[rule] = r["rt"]
            print(f"{rule:8s} {T:3d} {sps:10.0f} {state:14,d} {grad:15,d}   {cores_note(r)}",
                  flush=True)
    print()
    for rule in a.rules:
        if (rule, min(a.T)) in mem and (rule, max(a.T)) in mem:
            lo, hi = mem[rule, min(a.T)], mem[rule, max(a.T)]
            print(f"{rule:8s} learning state T={min(a.T)} -> T={max(a.T)}: {lo:,d} -> {hi:,d} B "
                  f"({100 * (hi - lo) / lo:+.1f} %)")
    if ("sltt", 10) in mem and ("bptt", 10) in mem:
        print(f"sltt / bptt learning state at T=10: {100 * mem['sltt', 10] / mem['bptt', 10]:.1f} %")
    if at10 and a.hidden == 512:
        ds = data10[0]
        peers = peer_figures(a, "mlp", a.batch, list(at10), ds.frames, ds.labels)
        print_side_by_side("mlp", a.batch, 10, at10, peers, cores, rts)
        print(f"\nmachine at the end: {machine()}")


if __name__ == "__main__":
    main()
