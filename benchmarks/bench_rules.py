"""Training throughput (batch 1, online) and memory held for learning, per rule and T.

The reference MLP of ../PERFORMANCE.md: flatten 2312 -> dense 512 LIF (no bias) -> dense 10
readout, LIF u = 0.5 v + I, threshold 1, soft reset detached, sigmoid surrogate alpha 4, per-step
CE/MSE loss, plain SGD. Input: the real N-MNIST samples shipped with chipsim, binary frames.

Prints a table: samples/s, the target at T=10 (PERFORMANCE.md: batch 1, 10x SpikingJelly's same
rule; batch 32, 1.5x the fastest PyTorch peer of the same rule), the ratio, and the
bytes each rule keeps for learning (state across time) and in weight-sized gradient buffers.
It asserts nothing; figures vary with the machine (+-20 %).

    python benchmarks/bench_rules.py [--T 5 10 20 40] [--rules bptt sltt ottt_a ottt_o] [--dtype float32]
"""

from __future__ import annotations

import argparse

from common import MLP, bench, nmnist, target


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--T", type=int, nargs="+", default=[5, 10, 20, 40])
    ap.add_argument("--rules", nargs="+", default=["bptt", "sltt", "ottt_a", "ottt_o"])
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--min-time", type=float, default=2.0, help="seconds of training per figure")
    a = ap.parse_args()
    print(f"mlp 2312-{a.hidden}-10, batch {a.batch}, {a.dtype}, real N-MNIST frames (100 samples)")
    print(f"{'rule':8s} {'T':>3s} {'samples/s':>10s} {'target':>7s} {'ratio':>6s} "
          f"{'learn state B':>14s} {'grad buffers B':>15s}")
    mem = {}
    ops = [dict(MLP[0], units=a.hidden)]
    for T in a.T:
        data = nmnist(T, a.dtype)
        for rule in a.rules:
            r = bench(ops, rule, T, a.dtype, a.min_time, batch=a.batch, data=data)
            sps, state, grad = r["sps"], r["state"], r["grad"]
            mem[rule, T] = state
            tt = target("mlp", a.batch, rule) if T == 10 else None
            tgt = round(tt[0]) if tt else None
            ratio = f"{sps / tgt:6.2f}" if tgt else "     -"
            print(f"{rule:8s} {T:3d} {sps:10.0f} {tgt or '-':>7} {ratio} {state:14,d} {grad:15,d}", flush=True)
    print()
    for rule in a.rules:
        if (rule, min(a.T)) in mem and (rule, max(a.T)) in mem:
            lo, hi = mem[rule, min(a.T)], mem[rule, max(a.T)]
            print(f"{rule:8s} learning state T={min(a.T)} -> T={max(a.T)}: {lo:,d} -> {hi:,d} B "
                  f"({100 * (hi - lo) / lo:+.1f} %)")
    if ("sltt", 10) in mem and ("bptt", 10) in mem:
        print(f"sltt / bptt learning state at T=10: {100 * mem['sltt', 10] / mem['bptt', 10]:.1f} %")


if __name__ == "__main__":
    main()
