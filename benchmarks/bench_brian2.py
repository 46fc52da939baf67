"""Forward simulation time: chipsim's Numba kernel against Brian2 (runtime mode) on the same LIF
network and input, and a check that both produce the same spikes.

Network: N_in Poisson-ish binary inputs -> dense weights -> N LIF neurons (u = 0.5 v + I,
threshold 1, soft reset, H(0) = 1), T steps of dt = 1 ms; chipsim in float64. The Brian2 twin is
the one of chipsim.interop.brian2_validate (exact integration, input added after the decay and
before the threshold). Brian2 is timed per run() call: the first includes code generation (and,
for Cython, compilation unless cached), the second is the same network restored and run again.
chipsim is timed on infer_batch after a warm-up call (the median of --repeat calls).

Spike check: chipsim's full raster from the BPTT trainer's history (train_batch with lr = 0,
so the weights stay as they are; its forward pass is the one infer_batch runs) against Brian2's
SpikeMonitor, and chipsim's per-step spike counts from infer_batch itself. Times are printed,
not asserted (they vary with the machine).

    python benchmarks/bench_brian2.py [--n-in 1000] [--n 1000] [--T 1000] [--targets numpy cython]
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace as NS

import numpy as np

from chipsim import counts as K
from chipsim.interop.brian2_validate import Variant, cython_available, run_brian2
from chipsim.learning import make_trainer
from chipsim.model.inputs import encode_frames
from chipsim.model.network import Network


def trainer(rule, net, nrn, T):
    return make_trainer(rule, net, nrn, NS(mse_weight=0.0, mse_target="onehot"),
                        NS(lr=0.0, momentum=0.0, weight_decay=0.0),
                        NS(k=None, trace_decay=None, first_layer_input="raw", window=None),
                        T, 1, np.random.default_rng(0))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-in", type=int, default=1000)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--T", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=0.02, help="input spike probability per step")
    ap.add_argument("--gain", type=float, default=6.0, help="weights ~ U(-k, k), k = gain/sqrt(n_in)")
    ap.add_argument("--targets", nargs="+", default=["numpy", "cython"])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    variant = Variant(leak=0.5, reset="soft", h0=1)
    rng = np.random.default_rng(a.seed)
    frames = (rng.random((a.T, a.n_in)) < a.rate).astype(np.uint8)
    net = Network.build_dense(a.n_in, True, [(a.n, False)], 2, False,
                              np.random.default_rng(a.seed + 1), gain=a.gain)
    nrn = variant.neuron()
    inp = encode_frames(frames.reshape(1, a.T, -1), True)
    print(f"{a.n_in} inputs -> {a.n} LIF (lam 0.5, soft reset), T = {a.T} steps, "
          f"{len(inp.idx)} input spikes, {a.n_in * a.n} synapses, float64")

    # chipsim: forward (infer) timing
    tr = trainer("sltt", net, nrn, a.T)
    labels = np.array([0])
    tr.infer_batch(inp, inp.ptr, labels)                       # compile / warm the cache
    ts = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        tr.infer_batch(inp, inp.ptr, labels)
        ts.append(time.perf_counter() - t0)
    t_chip = float(np.median(ts))
    per_step = tr.last_step_counts[0, :, 0, K.Phase.INFERENCE, K.SPIKE]   # (T,) layer-0 spikes

    # chipsim: full raster from the BPTT history (lr = 0, weights unchanged)
    w0 = net.weights[0].copy()
    bp = trainer("bptt", net, nrn, a.T)
    bp.train_batch(inp, inp.ptr, labels)
    assert np.array_equal(w0, net.weights[0]), "lr = 0 changed the weights"
    raster = np.zeros((a.T, a.n), bool)
    for t in range(a.T):
        raster[t, bp.spk_h[0][t, 0, :bp.spk_n[0, t, 0]]] = True
    print(f"chipsim: {raster.sum()} spikes; infer_batch {t_chip * 1e3:8.1f} ms "
          f"(median of {a.repeat}), {t_chip / a.T * 1e6:.2f} us/step")
    print(f"  self-check: BPTT-history raster per-step counts == infer_batch per-step counts: "
          f"{np.array_equal(raster.sum(1), per_step)}")

    print(f"\n{'Brian2 target':14s} {'1st run() s':>11s} {'2nd run() s':>11s} {'ratio 2nd/chipsim':>18s} "
          f"{'spikes':>8s}  same spikes as chipsim?")
    for target in a.targets:
        if target == "cython":
            ok, why = cython_available()
            if not ok:
                print(f"{target:14s} not run: {why}")
                continue
        S, _, secs = run_brian2(net, variant, frames, target=target, record=False, runs=2)
        same = np.array_equal(S[0], raster)
        detail = "yes (raster identical)" if same else \
            f"NO: {int((S[0] != raster).sum())} raster entries differ"
        print(f"{target:14s} {secs[0]:11.3f} {secs[1]:11.3f} {secs[1] / t_chip:17.0f}x "
              f"{int(S[0].sum()):8d}  {detail}")


if __name__ == "__main__":
    main()
