"""Where a training batch's time goes: the batch loop's phases on the reference networks, for
each rule and thread count, from the cycle counter the loop reads around its phases
(records.Stack.clock, ``Trainer.phase_cycles``).

For each rule and thread count the script trains on the 100 shipped N-MNIST samples for
``--min-time`` seconds (after one untimed batch) and prints, per batch, the milliseconds spent in:

- ``samples``: phase 1, each step's forward and traces and, on the spatial route (SLTT, OTTT),
  the error pass, the samples shared by the workers;
- ``window``: BPTT's error pass through a window (at batch 1 on two workers with the weight
  gradients beside it, loop._wave);
- ``wgrads``: the weight gradients (loop._wgrads), and of them the batch-level products'
  ``stack``, ``products`` and ``tail`` (loop._stacked_wgrad) and each layer's share; then each
  worker's own time inside its shares of those three (without the waits at the end of each
  parallel job: a worker whose time is well below its phase's waited for the others, and the
  workers' sum above one thread's phase is work that runs slower beside the other thread);
- ``history``: the dense layers' gradients summed from a window's history (BPTT);
- ``apply``: the updates.

The figures are as the calling thread sees them (a parallel phase's wall time), converted at the
counter's rate measured against the wall clock at the start. Where the counter reads 0 (a
target without one) the script says so. A pipelined sample (SLTT and OTTT_A at batch 1 on two
workers) is timed whole only. With the cores' probe on (the default), each figure also gives
the cache line's round trip between two threads just before and after it (common.handoff_ns;
FAR APART above 200 ns). Figures, not assertions; they vary with the machine (+-20 %).

    python benchmarks/bench_phases.py [--net conv] [--batch 32] [--rules sltt bptt]
                                      [--threads 1 2] [--min-time 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
from bench_handoff import counter_rate  # noqa: E402
from cores import Watch, kept, label as cores_label  # noqa: E402
from chipsim import threads  # noqa: E402


def profile(net_name: str, rule: str, B: int, n_threads: int, min_time: float, data, watch=None):
    """(samples/s, batches, the trainer's phase_cycles()) of ``min_time`` seconds of training;
    ``watch`` (cores.Watch): its probes between batches, left out of the time."""
    threads.configure(n_threads)
    ds, inp = data
    rng = np.random.default_rng(0)
    ops = common.CONV if net_name == "conv" else common.MLP
    tr = common.reference_trainer(ops, rule, 10, "float32", B, rng)
    tr.train_batch(inp, inp.ptr[:B], ds.labels[:B])      # compile / warm the caches
    tr.phase_cycles(reset=True)
    order = rng.permutation(len(ds.labels))
    done = nb = 0
    probing = 0.0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 - probing < min_time:
        for i in range(0, len(order) - B + 1, B):
            ids = order[i:i + B]
            tr.train_batch(inp, inp.ptr[ids], ds.labels[ids])
            done += B
            nb += 1
            if watch is not None:
                probing += watch.tick()            # a probe of the cores, left out of the time
    el = time.perf_counter() - t0 - probing
    return done / el, nb, tr.phase_cycles()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--net", choices=("conv", "mlp"), default="conv")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rules", nargs="+", default=["bptt", "sltt", "ottt_a", "ottt_o"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, threads.cores()])
    ap.add_argument("--min-time", type=float, default=3.0)
    ap.add_argument("--cores-probe", choices=["on", "off"], default="on",
                    help="probe the cores before, during and after every figure (cores.py); a figure "
                         "taken while the machine's second core was not whole is taken again")
    ap.add_argument("--degraded-retries", type=int, default=2,
                    help="times such a figure is taken again (the last is kept and labelled)")
    a = ap.parse_args(argv)
    watch = Watch(retries=a.degraded_retries, enabled=a.cores_probe == "on")
    rate = counter_rate()
    if rate <= 0:
        print("this machine's target has no cycle counter (sync.cycles reads 0): no phases")
        return 0
    data = common.nmnist(10, "float32")
    print(f"{a.net}, batch {a.batch}, T=10, float32; cycle counter {rate / 1e9:.3f} GHz; "
          f"ms per batch (% of the batch), as the calling thread sees them")
    names = ("samples", "window", "wgrads", "stack", "products", "tail", "history", "apply")
    for rule in a.rules:
        for n in a.threads:
            ((sps, nb, cyc), rts), c, again = kept(watch, lambda: common.around_handoff(
                lambda: profile(a.net, rule, a.batch, n, a.min_time, data, watch), watch.enabled))
            total = max(cyc["batch"], 1)
            ms = {k: 1e3 * v / rate / nb for k, v in cyc.items()}
            parts = [f"{k} {ms[k]:.2f} ({100 * cyc[k] / total:.0f} %)" for k in names if cyc[k]]
            layers = [f"{k[len('wgrad_layer'):]}: {ms[k]:.2f}" for k in cyc
                      if k.startswith("wgrad_layer") and cyc[k]]
            what = ", ".join(parts) if parts else "(a pipelined sample: timed whole only)"
            note = ""
            if c is not None:
                note = (f"   cores {cores_label(c)}"
                        + (", " + common.handoff_label(rts) if rts else "")
                        + ("; again: " + ", ".join(f"{o[0][0]:.1f} at {s:.2f}" for o, s in again)
                           if again else ""))
            print(f"{rule:7s} threads {n}: {sps:7.1f} samples/s, batch {ms['batch']:.2f} ms = "
                  + what + note)
            if layers:
                print(f"{'':7s}            weight gradient by layer (ms): " + ", ".join(layers))
            nw = sum(1 for k in cyc if k.startswith("stack_w"))
            own = [f"{p} " + " / ".join(f"{ms[f'{p}_w{w}']:.2f}" for w in range(nw))
                   for p in ("stack", "products", "tail") if cyc[p]]
            if own:
                print(f"{'':7s}            each worker's own time in them (ms, worker 0 / 1 ...): "
                      + ", ".join(own))
    return 0


if __name__ == "__main__":
    sys.exit(main())
