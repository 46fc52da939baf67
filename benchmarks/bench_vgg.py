"""The papers' network: VGG-11 at 48x48, T = 10 (workloads/cifar10dvs_vgg11.yaml, the OTTT
paper's CIFAR10-DVS setup), seconds per training sample per rule and batch size, side by side
with SpikingJelly's same network (the model of its ``ottt_spiking_vggws`` on 2 input channels, in
the folded form chipsim runs, see peers.py) timed in the same run.

chipsim trains the workload as it stands (float32, ws_folded, neuron dropout 0.1, SGD lr 0.1
momentum 0.9) with ``rule.name`` and ``training.batch_size`` set per figure. The data: the
CIFAR10-DVS stand-in chipsim emulates when no data set root is given (count frames at 48x48), or
the real recordings with ``--root``; the peers train on the same frames. A chipsim sample takes
over a second, so each run is a few samples (``--samples`` at batch 1, one batch at larger
batches), after one untimed sample that compiles and warms the caches (and, at a batch > 1,
four untimed batches, the last two of which the thread chooser runs on one thread); the figure
is the median of ``--repeats`` runs. Each peer is timed at its faster thread setting
(``--peer-threads``).

The target (PERFORMANCE.md): ottt_a's seconds per sample at or below SpikingJelly OTTT_A's best
CPU setting (any batch and thread count measured here). The default run (ottt_a at batches 1
and 16, peers included) takes about 4-5 minutes on a 2-core machine; every rule at both batches
about 25 (bptt at batch 16 holds ~4 GB for learning, SpikingJelly's BPTT about as much).

    python benchmarks/bench_vgg.py [--rules ottt_a ottt_o sltt bptt] [--batch 1 16] [--samples 2]
                                   [--repeats 3] [--root DIR] [--peers-python PY]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from cores import label as cores_label, repeat
from common import add_peer_args, machine, peer_figures, watch_of

WORKLOAD = Path(__file__).resolve().parents[1] / "workloads" / "cifar10dvs_vgg11.yaml"
RULES = ("bptt", "sltt", "ottt_a", "ottt_o")


def prepare(rule: str, batch: int, n: int, root: str | None = None):
    """chipsim's VGG-11 workload with ``rule`` at ``batch``, on ``n`` training samples."""
    from chipsim import simulation
    from chipsim.config.workload import load_workload
    over = {"rule.name": rule, "training.batch_size": str(batch), "dataset.train_samples": str(n),
            "dataset.test_samples": "1"}
    if root:
        over["dataset.root"] = root
    return simulation.prepare(load_workload(WORKLOAD, over))


def vgg_frames(T: int, n: int, root: str | None = None):
    """(frames (n, T, 2, 48, 48), labels) of the workload's training split (peers.py uses it)."""
    from chipsim.config.workload import load_workload
    from chipsim.data.load import load_splits
    over = {"dataset.time_steps": str(T), "dataset.train_samples": str(n), "dataset.test_samples": "1"}
    if root:
        over["dataset.root"] = root
    w = load_workload(WORKLOAD, over)
    train, _ = load_splits(w.dataset, w.path)
    return train.frames, train.labels


def time_chipsim(p, batch: int, per_run: int, repeats: int, watch=None):
    """Seconds per training sample of each of ``repeats`` runs of ``per_run`` samples, as
    ([each kept run's], [its cores], [(s/sample, cores) of the runs taken again]): with a
    ``watch`` (cores.py), each run's cores probed before, between batches and after it, and
    the run taken again while they say a core was not whole."""
    tr, inp, labels = p.trainer, p.inp_train, p.train.labels
    n = len(labels)
    tr.train_batch(inp, inp.ptr[:1], labels[:1])                 # compile / warm the caches
    # and, at a batch > 1, the thread chooser's look at one thread (threads.Chooser): the
    # third batch runs on one thread, making that setting's work arrays, so it is not
    # counted, and the fourth, counted, runs on one thread again. Timed, they were one run in
    # three (0.88-0.91 s a sample against 0.47-0.53 for VGG-11's OTTT_A at batch 16,
    # results/2026-12-07_vgg_rows_apart_ab_night.txt), or, after three untimed batches, the
    # first timed run (results/2026-12-07_vgg_peers_night.txt).
    for _ in range(4 if batch > 1 else 0):
        tr.train_batch(inp, inp.ptr[:batch], labels[:batch])
    rng = np.random.default_rng(0)

    def run():
        done, probing, t0 = 0, 0.0, time.perf_counter()
        while done < per_run:
            ids = rng.permutation(n)[:batch]
            tr.train_batch(inp, inp.ptr[ids], labels[ids])
            done += batch
            if watch is not None and done < per_run:
                probing += watch.tick()            # a probe of the cores, left out of the time
        return (time.perf_counter() - t0 - probing) / done

    return repeat(watch, run, repeats)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rules", nargs="+", default=["ottt_a"], choices=RULES)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--samples", type=int, default=2,
                    help="training samples per timed run at batch 1 (at a larger batch: one batch, "
                         "or as many batches as this many samples need)")
    ap.add_argument("--root", default=None, help="the CIFAR10-DVS folder (default: the stand-in)")
    ap.add_argument("--peer-ws", action="store_true",
                    help="the peers standardise the weights at every call, as the paper trains, "
                         "instead of the folded form chipsim runs (peers.py --ws; ~2x slower)")
    add_peer_args(ap)
    a = ap.parse_args()
    a.min_time = 0.0                                             # runs are counted in samples
    per_run = {b: -(-max(a.samples, b) // b) * b for b in a.batch}
    n = max(max(per_run.values()), 16)
    print(f"VGG-11 48x48 T=10 ({WORKLOAD.name}), float32; "
          f"{'CIFAR10-DVS at ' + a.root if a.root else 'the emulated CIFAR10-DVS stand-in'}, "
          f"{n} training samples; median of {a.repeats} runs; {machine()}", flush=True)
    print(f"{'rule':8s} {'batch':>5s} {'s/sample':>9s} {'samples/run':>11s}   runs (s/sample)", flush=True)
    res, frames, cores = {}, None, {}
    watch = watch_of(a)
    for rule in a.rules:
        for b in a.batch:
            p = prepare(rule, b, n, a.root)
            if frames is None:
                frames, labels = p.train.frames, p.train.labels
                ev = np.count_nonzero(frames) / len(labels)
                print(f"  (input: {ev:,.0f} non-zero pixels per sample over T, "
                      f"{100 * ev / frames[0].size:.1f} % of {frames[0].size:,d})", flush=True)
            runs, cs, again = time_chipsim(p, b, per_run[b], a.repeats, watch)
            res[rule, b] = statistics.median(runs)
            cores[rule, b] = min(cs, default=None)
            note = ""
            if cs:
                note = "   cores " + cores_label(min(cs)) + (
                    "; again: " + ", ".join(f"{v:.3f} at {c:.2f}" for v, c in again) if again else "")
            print(f"{rule:8s} {b:5d} {res[rule, b]:9.3f} {per_run[b]:11d}   "
                  + ", ".join(f"{r:.3f}" for r in runs) + note, flush=True)
            del p
    if a.peers == "off":
        return
    peers = {b: peer_figures(a, "vgg", b, a.rules, frames, labels, min_samples=per_run[b],
                             ws=a.peer_ws) for b in a.batch}
    from common import target
    from peers import PEERS, peers_for
    src = next(iter(peers.values()))
    form = "weights standardised at every call" if a.peer_ws else "folded weights, as chipsim"
    print(f"\nVGG-11, T=10: seconds per training sample, chipsim and SpikingJelly ({form}); "
          f"peers {src[1]}")
    print(f"{'rule':8s} {'batch':>5s} {'chipsim s':>9s}   {'peer':20s} {'peer s':>7s} {'threads':>7s} "
          f"{'peer s / chipsim s':>18s}   cores (chipsim, peer)")
    for rule in a.rules:
        for b in a.batch:
            figs, _, stored = peers[b]
            for pp in peers_for([rule], "vgg"):
                if pp in figs:
                    sps, k, pc = figs[pp]
                    label = PEERS[pp][0] + (" (stored)" if stored else "")
                    cc = ", ".join(cores_label(c) if c is not None else "-"
                                   for c in (cores.get((rule, b)), pc))
                    print(f"{rule:8s} {b:5d} {res[rule, b]:9.3f}   {label:20s} {1 / sps:7.3f} {k or '-':>7} "
                          f"{1 / sps / res[rule, b]:17.2f}x   {cc}")
        tt = target("vgg", 0, rule)
        best_peer = [(1 / peers[b][0][pp][0], b, peers[b][0][pp][1]) for b in a.batch
                     for pp in (tt[1] if tt else []) if pp in peers[b][0]]
        if best_peer:
            mine = min((res[rule, b], b) for b in a.batch)
            theirs = min(best_peer)
            r = theirs[0] / mine[0]
            print(f"{'':8s} target: chipsim's best {mine[0]:.3f} s (batch {mine[1]}) <= {tt[2]} "
                  f"{theirs[0]:.3f} s (batch {theirs[1]}, {theirs[2] or '-'} thread(s)): {r:.2f}x, "
                  f"{'met' if r >= tt[0] else 'NOT met'}")
    print(f"\nmachine at the end: {machine()}")


if __name__ == "__main__":
    sys.exit(main())
