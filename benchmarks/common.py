"""Shared pieces of the benchmark scripts: the reference networks of PERFORMANCE.md on the real
N-MNIST samples shipped with chipsim, a timed training loop, and the peers (PyTorch and
SpikingJelly, timed by peers.py in the same run, or stored figures when they are absent) with
PERFORMANCE.md's targets."""

from __future__ import annotations

import os
import statistics
import time
from types import SimpleNamespace as NS

import numpy as np

from cores import Watch, label as cores_label, repeat
from chipsim import counts as K
from chipsim.data.load import load_dataset
from chipsim.model.inputs import channels_last
from chipsim.learning import make_trainer
from chipsim.model.inputs import encode_frames
from chipsim.model.network import Network
from chipsim.model.neuron import NeuronParams

# PERFORMANCE.md: u = 0.5 v + I, threshold 1, soft reset detached, sigmoid surrogate alpha 4
OTTT_NEURON = NS(leak=0.5, threshold=1.0, decay_input=False, reset="soft", detach_reset=True,
                 heaviside_at_zero=1.0, surrogate="sigmoid", surrogate_alpha=4.0)

MLP = [dict(kind="dense", units=512, bias=False)]
CONV = [dict(kind="conv", channels=16, kernel=3, padding=1), dict(kind="avgpool", size=2),
        dict(kind="conv", channels=32, kernel=3, padding=1), dict(kind="avgpool", size=2)]

# SLTT's own neuron (algorithms.md §1): tau 1.1 (lambda = 1 - 1/1.1), soft reset, triangle surrogate
SLTT_NEURON = NS(leak=1.0 - 1.0 / 1.1, threshold=1.0, decay_input=False, reset="soft",
                 detach_reset=False, heaviside_at_zero=1.0, surrogate="triangle", surrogate_alpha=1.0)
NEURONS = {"ottt": OTTT_NEURON, "sltt": SLTT_NEURON}

BACKWARD_MACS = (K.ERROR_MAC, K.TEMPORAL_MAC, K.GRAD_AC, K.GRAD_MAC)

# The peers' training throughput (samples/s, T=10; see peers.py for the peers), used only when the
# peers are not installed, and then labelled "stored". Measured 2026-12-05 side by side with
# chipsim (benchmarks/results/2026-12-05_peers.txt): a quiet 2-core AMD EPYC VM, no GPU, Python
# 3.11.7, torch 2.13.0+cpu, SpikingJelly 2.0.0; medians of 3 at the faster of 1 and 2 threads.
# Figures move between machines: compare ratios from one run, never these.
STORED_PEERS = {
    ("mlp", 1): dict(torch_bptt=93.3, sj_bptt=430.8, torch_sltt=166.2, sj_sltt=96.1,
                     sj_ottt_a=96.6, sj_ottt_o=108.9),
    ("mlp", 32): dict(torch_bptt=1832.7, sj_bptt=2534.1, torch_sltt=1192.1, sj_sltt=1016.3,
                      sj_ottt_a=1069.1, sj_ottt_o=1025.8),
    ("conv", 1): dict(torch_bptt=139.9, sj_bptt=163.7, torch_sltt=138.5, sj_sltt=86.1,
                      sj_ottt_a=66.4, sj_ottt_o=63.9),
    ("conv", 32): dict(torch_bptt=383.5, sj_bptt=357.7, torch_sltt=476.7, sj_sltt=380.1,
                       sj_ottt_a=297.6, sj_ottt_o=309.5),
    # VGG-11 48x48 (folded weights), seconds per training sample
    ("vgg", 1): dict(sj_ottt_a=1 / 0.909, sj_ottt_o=1 / 0.842, sj_sltt=1 / 0.675, sj_bptt=1 / 0.495),
    ("vgg", 16): dict(sj_ottt_a=1 / 0.575, sj_ottt_o=1 / 0.572, sj_sltt=1 / 0.429, sj_bptt=1 / 0.579),
}
STORED_NOTE = ("benchmarks/results/2026-12-05_peers.txt (torch 2.13.0+cpu, SpikingJelly 2.0.0, "
               "2-core machine)")


def target(net: str, batch: int, rule: str):
    """PERFORMANCE.md's target at T=10 as (factor, peers, text): chipsim's samples/s must be at
    least ``factor`` times the fastest of ``peers`` (peers.py's names), or None. Batch 1: mlp 10x,
    conv 5x SpikingJelly's same rule (bptt: mlp 10x, conv 3x PyTorch BPTT); a minibatch: 1.5x
    the fastest peer of the same rule; vgg (ottt_a): at or below SpikingJelly's best seconds per
    sample at any batch and thread setting (that comparison is bench_vgg.py's)."""
    from peers import RULE_PEERS, peers_for
    if rule not in RULE_PEERS:
        return None
    if net == "vgg":
        return (1.0, ["sj_ottt_a"], "SJ OTTT_A's best s/sample") if rule == "ottt_a" else None
    if batch == 1:
        if rule == "bptt":
            f = 10.0 if net == "mlp" else 3.0
            return f, ["torch_bptt"], f"{f:g}x PyTorch BPTT"
        f = 10.0 if net == "mlp" else 5.0
        return f, [f"sj_{rule}"], f"{f:g}x SJ {rule.upper()}"
    return 1.5, peers_for([rule], net), "1.5x the fastest peer"


def nmnist(T: int, dtype: str):
    ds = load_dataset("nmnist", None, "train", T, "binary", 1, None)
    return ds, encode_frames(channels_last(ds.frames), True, np.dtype(dtype))


def reference_trainer(ops, rule: str, T: int, dtype: str, batch: int, rng, window=None,
                      block=None, k=None, neuron: str = "ottt"):
    """A trainer of ``rule`` for the reference network ``ops`` (MLP or CONV) on 2x34x34 N-MNIST
    frames: PERFORMANCE.md's neuron, CE + 0.05 MSE loss, plain SGD at 0.05; the network's
    weights drawn from ``rng``, then the trainer's."""
    net = Network.build((34, 34, 2), True, ops, 10, True, rng, gain=2.0, dtype=np.dtype(dtype),
                        block=block)
    spec = NS(k=k, trace_decay=None, first_layer_input="raw", window=window, block=block,
              target_window=None, update_skip=True)
    return make_trainer(rule, net, NeuronParams.from_spec(NEURONS[neuron]),
                        NS(kind="ce_mse", mse_weight=0.05, mse_target="onehot"),
                        NS(lr=0.05, momentum=0.0, weight_decay=0.0), spec, T, batch, rng)


#: a cache line's round trip between two threads above which the two cores are "far apart"
#: (bench_handoff.round_trip_ns, pinned: 51-88 ns, and 312-327 ns in the far-apart spells, on this machine)
FAR_NS = 200.0


def handoff_ns(exchanges: int = 4_000, times: int = 5) -> float:
    """The round trip of a cache line between two Numba threads now, in ns: the median of
    ``times`` measurements of ``exchanges`` each (bench_handoff.round_trip_ns, which times
    the exchanges from the moment both threads run), after 0.2 s in which the OpenMP
    threads of a run just ended stop spinning (their spin would be measured instead). The
    probe of the cores (cores.py) does not see this: two whole cores can be near (one cache)
    or far apart."""
    from bench_handoff import round_trip_ns
    time.sleep(0.2)
    return statistics.median(round_trip_ns(exchanges) for _ in range(times))


def around_handoff(fn, enabled: bool):
    """(fn(), [the round trips just before and just after it]) (``handoff_ns``, outside
    whatever fn times); ([] when not ``enabled``)."""
    rt = [handoff_ns()] if enabled else []
    out = fn()
    if enabled:
        rt.append(handoff_ns())
    return out, rt


def bench(ops, rule: str, T: int, dtype: str, min_time: float, batch: int = 1, window=None,
          block=None, k=None, data=None, neuron: str = "ottt", repeats: int = 1,
          watch: Watch | None = None):
    """Train on the 100 real N-MNIST training samples for at least ``min_time`` seconds,
    ``repeats`` times (after one untimed batch that compiles and warms the caches); with a
    ``watch`` (cores.py), each run's cores probed before, during (between batches, about once
    a second, left out of its time) and after it, and the run taken again when they were not
    whole; and, with the watch enabled, the cache line's round trip between two threads
    measured just before and just after each run (``handoff_ns``, outside its time).

    Returns dict(sps (samples/s, the median of the runs), runs (each run's samples/s), state
    (learning state bytes), grad (gradient buffer bytes), bwd (backward MACs per sample), counts
    (per-sample counts, mean), cores (each kept run's probes, cores.speed: 1.0 whole), again
    ([(samples/s, cores)] of the runs taken again), rt (the kept runs' round trips before and
    after them, ns; empty without an enabled watch)).
    """
    ds, inp = data if data is not None else nmnist(T, dtype)
    rng = np.random.default_rng(0)
    tr = reference_trainer(ops, rule, T, dtype, batch, rng, window=window, block=block, k=k,
                           neuron=neuron)
    n = len(ds.labels)
    tr.train_batch(inp, inp.ptr[:batch], ds.labels[:batch])        # compile / warm the cache
    acc = dict(total=None, n=0)
    order = rng.permutation(n)

    def train():
        done, probing = 0, 0.0
        t0 = time.perf_counter()
        while True:
            for i in range(0, n - batch + 1, batch):
                ids = order[i:i + batch]
                c = tr.train_batch(inp, inp.ptr[ids], ds.labels[ids])[2].sum(axis=0)
                acc["total"] = c if acc["total"] is None else acc["total"] + c
                done += batch
                if watch is not None:
                    probing += watch.tick()        # a probe of the cores, left out of the time
            el = time.perf_counter() - t0 - probing
            if el >= min_time:
                break
        acc["n"] += done
        return done / el

    hand = watch is not None and watch.enabled
    kept_runs, cores, again = repeat(watch, lambda: around_handoff(train, hand), repeats)
    runs = [v for v, _ in kept_runs]
    per = acc["total"] / acc["n"]
    bwd = sum(per[:, K.Phase.LEARNING, a].sum() for a in BACKWARD_MACS)
    return dict(sps=statistics.median(runs), runs=runs, state=tr.learning_state_bytes,
                grad=tr.gradient_buffer_bytes, bwd=float(bwd), counts=per, cores=cores,
                again=[(v, c) for (v, _), c in again], rt=[x for _, rt in kept_runs for x in rt])


def handoff_label(rts) -> str:
    """Round trips as printed: 'round trip 68-75 ns', with ' FAR APART' when one exceeds
    FAR_NS; '' for none."""
    if not rts:
        return ""
    lo, hi = min(rts), max(rts)
    return (f"round trip {lo:.0f}" + (f"-{hi:.0f}" if round(hi) != round(lo) else "") + " ns"
            + (" FAR APART" if hi > FAR_NS else ""))


def cores_note(r) -> str:
    """The cores around a figure's kept runs (the slowest), the round trips before and after
    them, and the runs taken again, as printed after it: 'cores 0.97, round trip 68-75 ns',
    'cores 0.96, round trip 331-350 ns FAR APART; again: 553.2 at 0.55'."""
    if not r.get("cores"):
        return ""
    out = "cores " + cores_label(min(r["cores"]))
    if r.get("rt"):
        out += ", " + handoff_label(r["rt"])
    if r.get("again"):
        out += "; again: " + ", ".join(f"{v:.1f} at {c:.2f}" for v, c in r["again"])
    return out


# ------------------------------------------------------------------ the peers, side by side

def add_peer_args(ap) -> None:
    """The options every benchmark script shares for timing the peers (peers.py)."""
    ap.add_argument("--repeats", type=int, default=int(os.environ.get("CHIPSIM_BENCH_REPEATS", 3)),
                    help="timed runs per figure, chipsim's and each peer's; the median is printed "
                         "(default: $CHIPSIM_BENCH_REPEATS, else 3)")
    ap.add_argument("--peers", default=os.environ.get("CHIPSIM_BENCH_PEERS", "auto"),
                    choices=["auto", "stored", "off"],
                    help="auto: time PyTorch and SpikingJelly in this run when --peers-python has "
                         "them, else print stored figures, labelled so; stored: the stored "
                         "figures only; off: no peers (default: $CHIPSIM_BENCH_PEERS, else auto)")
    ap.add_argument("--peers-python", default=None,
                    help="the Python that has torch and spikingjelly installed, e.g. a separate "
                         "venv's bin/python (default: $CHIPSIM_PEERS_PYTHON, else this one)")
    ap.add_argument("--peer-threads", type=int, nargs="+", default=[1, 2],
                    help="torch thread counts to try; each peer is reported at its faster one")
    ap.add_argument("--cores-probe", default=os.environ.get("CHIPSIM_BENCH_CORES", "on"),
                    choices=["on", "off"],
                    help="probe the cores before, during and after every timed run, chipsim's "
                         "and the peers' (cores.py): a run in a spell when the machine's second core is "
                         "not whole is run again and printed as such (default: "
                         "$CHIPSIM_BENCH_CORES, else on)")
    ap.add_argument("--degraded-retries", type=int,
                    default=int(os.environ.get("CHIPSIM_BENCH_DEGRADED_RETRIES", 2)),
                    help="times a run whose cores were not whole is run again; the last is "
                         "kept, and labelled DEGRADED if its cores were still not whole "
                         "(default: $CHIPSIM_BENCH_DEGRADED_RETRIES, else 2)")


def watch_of(a) -> Watch:
    """The probe of the cores for a benchmark's runs (--cores-probe, --degraded-retries)."""
    return Watch(retries=a.degraded_retries, enabled=a.cores_probe == "on")


def peer_figures(a, net: str, batch: int, rules, frames, labels, min_samples: int = 0, ws: bool = False):
    """The peers of ``rules`` on ``net``: (figures {peer: (samples/s, threads or None)}, where
    they come from, stored?), measured now in a subprocess or stored; None with --peers off."""
    from peers import describe, measure, peers_for
    want = peers_for(rules, net)
    if a.peers == "off" or not want:
        return None
    why = "--peers stored"
    if a.peers == "auto":
        print(f"timing the peers ({', '.join(want)}) on {net}, batch {batch} ...", flush=True)
        res, why = measure(frames, labels, net, batch, want, python=a.peers_python,
                           threads=a.peer_threads, repeats=a.repeats, min_time=a.min_time,
                           min_samples=min_samples, ws=ws, probe=a.cores_probe == "on",
                           retries=a.degraded_retries)
        if res is not None:
            figs = {p: (d["sps"], d["threads"], d.get("cores")) for p, d in res["peers"].items()}
            return figs, (f"measured in this run ({describe(res)}; median of {a.repeats} runs at "
                          f"the faster of {' and '.join(map(str, a.peer_threads))} thread(s))"), False
    stored = STORED_PEERS.get((net, batch), {})
    figs = {p: (stored[p], None, None) for p in want if p in stored}
    return figs, f"STORED, not measured ({why}): {STORED_NOTE}", True


def print_side_by_side(net: str, batch: int, T: int, chipsim: dict, peers,
                       cores: dict | None = None, rts: dict | None = None) -> None:
    """chipsim's samples/s per rule (``chipsim``) against each peer of the rule, and the target;
    ``cores``: per rule, the slowest probe of the cores around chipsim's kept runs, printed
    beside the peer's (cores.py; 1.0: whole); ``rts``: per rule, the round trips measured
    around chipsim's kept runs (handoff_ns; the peers' child, without Numba, measures none)."""
    from peers import PEERS, peers_for
    if peers is None:
        return
    figs, source, stored = peers
    cores = cores or {}
    rts = rts or {}
    print(f"\n{net}, batch {batch}, T={T}: chipsim / peers; peers {source}")
    print(f"{'rule':8s} {'chipsim/s':>10s}   {'peer':22s} {'peer/s':>8s} {'threads':>7s} {'ratio':>7s}"
          f"   cores (chipsim, peer)")
    for rule, sps in chipsim.items():
        for p in peers_for([rule], net):
            if p in figs:
                v, k, pc = figs[p]
                label = PEERS[p][0] + (" (stored)" if stored else "")
                cc = "   " + ", ".join(cores_label(c) if c is not None else "-"
                                       for c in (cores.get(rule), pc))
                rt = handoff_label(rts.get(rule))
                print(f"{rule:8s} {sps:10.1f}   {label:22s} {v:8.1f} {k or '-':>7} {sps / v:6.2f}x"
                      + (cc if cores.get(rule) is not None or pc is not None else "")
                      + (f"   (chipsim's {rt})" if rt else ""))
        tt = target(net, batch, rule)
        have = [figs[p][0] for p in (tt[1] if tt else []) if p in figs]
        if have:
            r = sps / max(have)
            print(f"{'':8s} {'':10s}   target >= {tt[2]}: {r:.2f}x, "
                  f"{'met' if r >= tt[0] else 'NOT met'}{' (stored peer figure)' if stored else ''}")


def machine() -> str:
    """The machine and how busy it is (a busy machine slows the 2-thread settings most)."""
    la = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"{os.cpu_count()} CPUs, load average {la} (1, 5, 15 min)"
