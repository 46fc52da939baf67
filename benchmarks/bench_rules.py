"""Training throughput (batch 1, online) and memory held for learning, per rule and T.

The reference MLP of ../PERFORMANCE.md: flatten 2312 -> dense 512 LIF (no bias) -> dense 10
readout, LIF u = 0.5 v + I, threshold 1, soft reset detached, sigmoid surrogate alpha 4, per-step
CE/MSE loss, plain SGD. Input: the real N-MNIST samples shipped with chipsim, binary frames.

Prints a table: samples/s, the target (10x SpikingJelly's same rule at T=10), the ratio, and the
bytes each rule keeps for learning (state across time) and in weight-sized gradient buffers.
It asserts nothing; figures vary with the machine (+-20 %).

    python benchmarks/bench_rules.py [--T 5 10 20 40] [--rules bptt sltt ottt_a ottt_o] [--dtype float32]
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace as NS

import numpy as np

from chipsim.data.datasets import load_dataset
from chipsim.engine import channels_last
from chipsim.learning import make_trainer
from chipsim.model.inputs import encode_frames
from chipsim.model.network import Network
from chipsim.model.neuron import NeuronParams

# PERFORMANCE.md target 1: 10x SpikingJelly's batch-1 figure for the mlp at T=10 (samples/s)
TARGET_T10 = {"ottt_o": 630, "ottt_a": 450, "sltt": 350, "bptt": 2100}
OTTT_NEURON = NS(leak=0.5, threshold=1.0, decay_input=False, reset="soft", detach_reset=True,
                 heaviside_at_zero=1.0, surrogate="sigmoid", surrogate_alpha=4.0)


def bench(rule: str, T: int, dtype: str, hidden: int, min_time: float, batch: int):
    ds = load_dataset("nmnist", None, "train", T, "binary", 1, None)
    inp = encode_frames(channels_last(ds.frames), True, np.dtype(dtype))
    rng = np.random.default_rng(0)
    net = Network.build_dense(ds.n_inputs, True, [(hidden, False)], 10, True, rng, dtype=np.dtype(dtype))
    tr = make_trainer(rule, net, NeuronParams.from_spec(OTTT_NEURON), NS(mse_weight=0.05, mse_target="onehot"),
                      NS(lr=0.05, momentum=0.0, weight_decay=0.0),
                      NS(k=None, trace_decay=None, first_layer_input="raw"), T, batch, rng)
    n = len(ds.labels)
    tr.train_batch(inp, inp.ptr[:batch], ds.labels[:batch])        # compile / warm the cache
    done, t0 = 0, time.perf_counter()
    order = rng.permutation(n)
    while True:
        for i in range(0, n - batch + 1, batch):
            ids = order[i:i + batch]
            tr.train_batch(inp, inp.ptr[ids], ds.labels[ids])
            done += batch
        el = time.perf_counter() - t0
        if el >= min_time:
            break
    return done / el, tr.learning_state_bytes, tr.gradient_buffer_bytes


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
    for rule in a.rules:
        for T in a.T:
            sps, state, grad = bench(rule, T, a.dtype, a.hidden, a.min_time, a.batch)
            mem[rule, T] = state
            tgt = TARGET_T10.get(rule) if (T == 10 and a.batch == 1) else None
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
