"""The peers of ../PERFORMANCE.md, PyTorch and SpikingJelly, timed on the reference networks.

Training throughput (samples/s) of each peer on the same frames chipsim trains on:
- ``mlp``: flatten 2312 -> dense 512 LIF (no bias) -> dense 10 readout (every step);
- ``conv``: conv 2->16 3x3 pad 1 LIF -> avgpool 2 -> conv 16->32 3x3 pad 1 LIF -> avgpool 2 ->
  flatten 2048 -> dense 10 readout (no conv bias, as chipsim's benchmark);
- ``vgg``: the OTTT paper's VGG-11 (SpikingJelly's ``OTTTSpikingVGG`` with cfg 'S', the model of
  its ``ottt_spiking_vggws``: 64, 128, A, 256, 256, A, 512, 512, A, 512, 512, neuron dropout 0.1,
  global average pooling, Linear 512 -> 10) on 2x48x48 count frames; its first conv reads 2
  channels instead of the model zoo's 3. Like chipsim's ``ws_folded`` it has plain convolutions
  (the weight standardisation folded into the weights); ``--ws`` times the standardisation at
  every call instead (WSConv2d and Scale(2.74), as the paper trains). SGD lr 0.1, momentum 0.9
  (the workload's settings).
LIF: u = 0.5 v + I, spike if u >= 1, soft reset (subtract 1, detached), sigmoid surrogate alpha 4.
Loss: cross-entropy of the readout at every step, averaged over T; plain SGD lr 0.05 (mlp, conv).

The peers (``PEERS``):
- ``torch_bptt``, ``torch_sltt``: the LIF written by hand in plain PyTorch, the whole sequence in
  one graph and one backward; SLTT detaches the membrane potential between steps (the temporal
  path), which gives SLTT's gradient;
- ``sj_bptt``: SpikingJelly's multi-step ``LIFNode`` (torch backend), one backward;
- ``sj_ottt_a``, ``sj_ottt_o``: ``OTTTLIFNode`` in an ``OTTTSequential``, trained with
  ``learning.ottt_online_training`` (online=False: one update per sample after the last step;
  online=True: an update every step);
- ``sj_sltt``: ``SLTTLIFNode`` in single-step mode, trained with the same per-step loop
  (online=False), as the SLTT authors' code trains.

Each peer runs in the interpreter given by ``--python`` (or $CHIPSIM_PEERS_PYTHON; default: this
one) in a subprocess of its own, so that torch's threads never share a process with chipsim's
kernels. It is timed ``--repeats`` times at each torch thread count of ``--threads``
(``torch.set_num_threads``), the counts taking turns; the faster median is the peer's figure. None of this is a chipsim dependency: install the peers as
benchmarks/README.md says. chipsim's package never imports torch.

    python benchmarks/peers.py --net mlp --batch 1 [--T 10] [--peers sj_ottt_a ...] [--python PY]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: peer -> (label, chipsim rule it runs)
PEERS = {
    "torch_bptt": ("PyTorch BPTT", "bptt"),
    "sj_bptt": ("SJ BPTT", "bptt"),
    "torch_sltt": ("PyTorch SLTT", "sltt"),
    "sj_sltt": ("SJ SLTT", "sltt"),
    "sj_ottt_a": ("SJ OTTT_A", "ottt_a"),
    "sj_ottt_o": ("SJ OTTT_O", "ottt_o"),
}
#: chipsim rule -> its peers (the plain-PyTorch ones have no VGG model here)
RULE_PEERS = {r: [k for k, (_, rr) in PEERS.items() if rr == r] for r in ("bptt", "sltt", "ottt_a", "ottt_o")}
NETS = ("mlp", "conv", "vgg")
WARM_UP = 1.0       # seconds of untimed training before a peer's first run at a thread setting
ABSENT = 3          # the child's exit code when torch or SpikingJelly cannot be imported


def peers_for(rules, net: str) -> list[str]:
    """The peers of chipsim rules ``rules`` that have a ``net`` model."""
    out = [p for r in rules for p in RULE_PEERS.get(r, [])]
    return [p for p in out if not (net == "vgg" and p.startswith("torch_"))]


# ====================================================================== parent side (no torch)

def interpreter(python: str | None = None) -> str:
    return python or os.environ.get("CHIPSIM_PEERS_PYTHON") or sys.executable


def measure(frames, labels, net: str, batch: int, peers, *, python: str | None = None,
            threads=(1, 2), repeats: int = 3, min_time: float = 2.0, min_samples: int = 0,
            ws: bool = False, probe: bool = True, retries: int = 2):
    """Time ``peers`` on ``frames`` (N, T, C, H, W) and ``labels`` (N,) in a subprocess.

    Returns (result, None), result = dict(versions={...}, peers={peer: dict(sps, threads,
    runs={threads: [samples/s, ...]}, cores=the slowest probe of the cores around the kept
    runs of that setting, again={threads: [[samples/s, cores], ...]})}), sps being the median of
    the faster thread setting; or (None, why) when the peers cannot be imported there. Progress
    goes to stderr. ``ws``: the VGG's weights standardised at every call (see ``_vgg``).
    ``probe``, ``retries``: each run's cores probed before, during (about once a second) and
    after it (cores.py), and the run taken again up to ``retries`` times when they were not
    whole.
    """
    import numpy as np
    py = interpreter(python)
    with tempfile.TemporaryDirectory(prefix="chipsim-peers-") as tmp:
        data = Path(tmp) / "data.npz"
        np.savez(data, frames=np.ascontiguousarray(frames), labels=np.asarray(labels, np.int64))
        cmd = [py, str(Path(__file__).resolve()), "--child", str(data), "--net", net,
               "--batch", str(batch), "--peers", *peers, "--threads", *map(str, threads),
               "--repeats", str(repeats), "--min-time", str(min_time), "--min-samples", str(min_samples),
               "--degraded-retries", str(retries if probe else -1)] + (["--ws"] if ws else [])
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        except OSError as e:
            return None, f"cannot run {py}: {e}"
    if r.returncode == ABSENT:
        return None, r.stdout.strip() or f"torch or spikingjelly missing in {py}"
    if r.returncode != 0:
        raise RuntimeError(f"the peers' run failed (exit {r.returncode}): {' '.join(cmd)}")
    res = json.loads(r.stdout.strip().splitlines()[-1])
    for d in res["peers"].values():
        med = {int(n): statistics.median(v) for n, v in d["runs"].items()}
        d["threads"] = max(med, key=med.get)
        d["sps"] = med[d["threads"]]
        probed = d.get("cores_runs", {}).get(str(d["threads"]))
        d["cores"] = min(probed) if probed else None
    return res, None


def describe(res) -> str:
    v = res["versions"]
    return (f"torch {v['torch']}, spikingjelly {v['spikingjelly']}, Python {v['python']}; "
            f"{v['cpus']} CPUs")


# ====================================================================== child side (torch)

def _import_peers():
    import logging
    import torch
    # torch warns that Triton (GPU kernels) is missing when SpikingJelly registers its kernels
    logging.getLogger("torch._library.triton").setLevel(logging.ERROR)
    try:
        import torch.utils.tensorboard  # noqa: F401  (SpikingJelly imports it; not needed here)
    except Exception:
        import types
        stub = types.ModuleType("torch.utils.tensorboard")
        stub.SummaryWriter = type("SummaryWriter", (), {"__init__": lambda self, *a, **k: None})
        sys.modules["torch.utils.tensorboard"] = stub
    import spikingjelly
    from spikingjelly.activation_based import functional, layer, neuron, surrogate  # noqa: F401
    from spikingjelly.activation_based.learning.online_learning import ottt_online_training  # noqa: F401
    from importlib.metadata import version
    return torch, dict(torch=torch.__version__, spikingjelly=version("spikingjelly"),
                       python=sys.version.split()[0], cpus=os.cpu_count())


def _lif_kwargs(surrogate):
    # u = v - v/tau + I with tau 2 and no input decay = 0.5 v + I; v_reset None = soft reset
    return dict(tau=2.0, decay_input=False, v_threshold=1.0, v_reset=None,
                surrogate_function=surrogate.Sigmoid(alpha=4.0), detach_reset=True)


def _ref_layers(net: str, lif):
    """The reference network (mlp or conv) as SpikingJelly layers, ``lif()`` for each LIF."""
    from spikingjelly.activation_based import layer
    if net == "mlp":
        return [layer.Flatten(), layer.Linear(2312, 512, bias=False), lif(), layer.Linear(512, 10)]
    return [layer.Conv2d(2, 16, 3, padding=1, bias=False), lif(), layer.AvgPool2d(2),
            layer.Conv2d(16, 32, 3, padding=1, bias=False), lif(), layer.AvgPool2d(2),
            layer.Flatten(), layer.Linear(2048, 10)]


def _vgg(lif_cls, ws: bool = False, **kw):
    """SpikingJelly's OTTT VGG (cfg 'S', the OTTT paper's CIFAR10-DVS network) on 2 channels.
    ``ws``: standardise the weights at every call, as the paper trains (WSConv2d, Scale(2.74));
    without it (default), plain convolutions: the form chipsim runs, the standardisation folded
    into the weights once (``ws_folded``), which spares the peer most of its time."""
    from spikingjelly.activation_based import layer
    from spikingjelly.activation_based.model.spiking_vggws_ottt import OTTTSpikingVGG, cfgs
    m = OTTTSpikingVGG(cfgs["S"], weight_standardization=ws, num_classes=10, spiking_neuron=lif_cls,
                       light_classifier=True, drop_rate=0.1, **kw)
    m.features[0] = (layer.WSConv2d if ws else layer.Conv2d)(2, 64, kernel_size=3, padding=1)
    return m


def _torch_net(torch, net: str, detach_v: bool):
    """The reference network with the LIF written by hand (plain PyTorch)."""
    nn, F = torch.nn, torch.nn.functional

    class SigmoidSpike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return (x >= 0).to(x.dtype)

        @staticmethod
        def backward(ctx, g):
            s = torch.sigmoid(4.0 * ctx.saved_tensors[0])
            return g * 4.0 * s * (1.0 - s)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            if net == "mlp":
                self.syn = nn.ModuleList([nn.Linear(2312, 512, bias=False)])
                self.pool = [None]
                self.readout = nn.Linear(512, 10)
            else:
                self.syn = nn.ModuleList([nn.Conv2d(2, 16, 3, padding=1, bias=False),
                                          nn.Conv2d(16, 32, 3, padding=1, bias=False)])
                self.pool = [2, 2]
                self.readout = nn.Linear(2048, 10)

        def forward(self, x_seq):             # (T, B, ...) -> per-step outputs
            v = [None] * len(self.syn)
            ys = []
            for x in x_seq:
                h = x.flatten(1) if net == "mlp" else x
                for i, (syn, pool) in enumerate(zip(self.syn, self.pool)):
                    cur = syn(h)
                    if v[i] is None:
                        u = cur
                    else:
                        u = 0.5 * (v[i].detach() if detach_v else v[i]) + cur
                    s = SigmoidSpike.apply(u - 1.0)
                    v[i] = u - s.detach()
                    h = F.avg_pool2d(s, pool) if pool else s
                ys.append(self.readout(h.flatten(1)))
            return ys

    return Net()


def make_step(torch, peer: str, net: str, T: int, ws: bool = False):
    """A function step(x (B, T, ...), y (B,)) that trains one batch, and its model."""
    import torch.nn.functional as F
    from spikingjelly.activation_based import functional, layer, neuron, surrogate
    from spikingjelly.activation_based.learning.online_learning import ottt_online_training
    nn = torch.nn
    lr, momentum = (0.1, 0.9) if net == "vgg" else (0.05, 0.0)
    kw = _lif_kwargs(surrogate)

    def f_loss(y, t):
        return F.cross_entropy(y, t) / T

    if peer.startswith("torch_"):
        model = _torch_net(torch, net, detach_v=peer == "torch_sltt")
    elif peer == "sj_bptt":
        model = (_vgg(neuron.LIFNode, ws, **kw) if net == "vgg" else
                 nn.Sequential(*_ref_layers(net, lambda: neuron.LIFNode(**kw))))
        functional.set_step_mode(model, "m")
    elif peer in ("sj_ottt_a", "sj_ottt_o"):
        model = (_vgg(neuron.OTTTLIFNode, ws, **kw) if net == "vgg" else
                 layer.OTTTSequential(*_ref_layers(net, lambda: neuron.OTTTLIFNode(**kw))))
    elif peer == "sj_sltt":
        model = (_vgg(neuron.SLTTLIFNode, ws, **kw) if net == "vgg" else
                 nn.Sequential(*_ref_layers(net, lambda: neuron.SLTTLIFNode(**kw))))
    else:
        raise ValueError(f"unknown peer {peer!r}")
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)

    if peer.startswith("torch_"):
        def step(x, y):
            opt.zero_grad(set_to_none=True)
            loss = sum(F.cross_entropy(o, y) for o in model(x.transpose(0, 1))) / T
            loss.backward()
            opt.step()
    elif peer == "sj_bptt":
        def step(x, y):
            opt.zero_grad(set_to_none=True)
            out = model(x.transpose(0, 1).contiguous())          # (T, B, 10)
            F.cross_entropy(out.flatten(0, 1), y.repeat(T)).backward()   # mean over t and b
            opt.step()
            functional.reset_net(model)
    else:
        online = peer == "sj_ottt_o"

        def step(x, y):
            ottt_online_training(model, opt, x, y[:, None].expand(-1, T), f_loss, online)
            functional.reset_net(model)
    return step


def time_peer(torch, peer, net, x, y, batch, threads, repeats, min_time, min_samples, ws=False,
              watch=None):
    """({threads: [samples/s, ...]}, {threads: [cores, ...]}, {threads: [[samples/s, cores],
    ...]}): ``repeats`` runs at each thread setting, the settings taking turns. A run trains for
    at least ``min_time`` s and ``min_samples``; each setting is warmed up first (``WARM_UP``
    s, at least one batch). With a ``watch`` (cores.Watch), each run's cores are probed before,
    during and after it, and it is run again while they say a core was not whole; the second and third
    dicts give the kept runs' probes and the runs taken again."""
    T = x.shape[1]
    torch.manual_seed(0)
    step = make_step(torch, peer, net, T, ws)
    gen = torch.Generator().manual_seed(0)
    n = len(y)

    def run():
        done, probing, t0 = 0, 0.0, time.perf_counter()
        while True:
            order = torch.randperm(n, generator=gen)
            for i in range(0, n - batch + 1, batch):
                ids = order[i:i + batch]
                step(x[ids], y[ids])
                done += batch
                el = time.perf_counter() - t0 - probing
                if el >= min_time and done >= min_samples:
                    return done / el
                if watch is not None:
                    probing += watch.tick()        # a probe of the cores, left out of the time

    def warm_up():
        # torch's first ~100 small steps run slower (a single warm-up step left the first run
        # 30 % slow): step for a second, at least one batch
        t0, i = time.perf_counter(), 0
        while True:
            ids = slice(i, i + batch) if i + batch <= n else slice(0, batch)
            step(x[ids], y[ids])
            i = ids.stop
            if time.perf_counter() - t0 >= WARM_UP:
                return

    from cores import kept
    for k in threads:
        torch.set_num_threads(k)
        warm_up()                                              # at this setting
    runs = {k: [] for k in threads}
    cores = {k: [] for k in threads}
    again = {k: [] for k in threads}
    for _ in range(repeats):               # the settings alternate: a busy spell hits them alike
        for k in threads:
            torch.set_num_threads(k)
            sps, c, a = kept(watch, run)
            runs[k].append(sps)
            cores[k] += [] if c is None else [c]
            again[k] += [list(x) for x in a]
            note = f" (cores {cores[k][-1]:.2f})" if cores[k] else ""
            print(f"  {PEERS[peer][0]:13s} {net} batch {batch}, {k} thread(s): {runs[k][-1]:9.2f} samples/s"
                  + note, file=sys.stderr, flush=True)
    return runs, cores, again


def child(a) -> int:
    import numpy as np
    try:
        torch, versions = _import_peers()
    except Exception as e:               # not installed, or broken: the parent uses stored figures
        print(f"{type(e).__name__}: {e}")
        return ABSENT
    d = np.load(a.child)
    x = torch.from_numpy(d["frames"].astype(np.float32))
    y = torch.from_numpy(d["labels"])
    out = dict(versions=versions, peers={})
    watch = None
    if a.degraded_retries >= 0:
        from cores import Watch
        watch = Watch(retries=a.degraded_retries)
    for p in a.peers:
        runs, cores, again = time_peer(torch, p, a.net, x, y, a.batch, a.threads, a.repeats,
                                       a.min_time, a.min_samples, a.ws, watch)
        out["peers"][p] = dict(label=PEERS[p][0], runs=runs, cores_runs=cores, again=again)
    print(json.dumps(out))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", default="mlp", choices=NETS)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--T", type=int, default=10)
    ap.add_argument("--peers", nargs="+", default=None, choices=list(PEERS),
                    help="default: every peer that has a model of --net")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts to try")
    ap.add_argument("--repeats", type=int, default=3, help="runs at each thread setting (median)")
    ap.add_argument("--min-time", type=float, default=2.0, help="seconds per run")
    ap.add_argument("--min-samples", type=int, default=0, help="samples per run, at least")
    ap.add_argument("--ws", action="store_true",
                    help="vgg: standardise the weights at every call as the paper trains (WSConv2d, "
                         "Scale 2.74) instead of the folded form chipsim runs (about 2x slower)")
    ap.add_argument("--degraded-retries", type=int, default=2,
                    help="each run's cores probed before, during and after it (cores.py), the "
                         "run taken again up to this many times while a core was not whole; "
                         "-1: no probes")
    ap.add_argument("--python", default=None,
                    help="the interpreter that has torch and spikingjelly (default: "
                         "$CHIPSIM_PEERS_PYTHON, else this one)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.peers is None:
        a.peers = peers_for(RULE_PEERS, a.net)
    if a.child:
        return child(a)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if a.net == "vgg":
        from bench_vgg import vgg_frames
        frames, labels = vgg_frames(a.T, max(a.batch, 16))
    else:
        from common import nmnist
        ds, _ = nmnist(a.T, "float32")
        frames, labels = ds.frames, ds.labels
    res, why = measure(frames, labels, a.net, a.batch, a.peers, python=a.python, threads=a.threads,
                       repeats=a.repeats, min_time=a.min_time, min_samples=a.min_samples, ws=a.ws,
                       probe=a.degraded_retries >= 0, retries=max(a.degraded_retries, 0))
    if res is None:
        print(f"peers not measured: {why}")
        return 1
    print(f"{a.net}, batch {a.batch}, T={a.T}: {describe(res)}; median of {a.repeats} at the faster "
          f"of {', '.join(map(str, a.threads))} thread(s)")
    for p, d in res["peers"].items():
        print(f"{d['label']:13s} {d['sps']:9.2f} samples/s ({d['threads']} thread(s); "
              + "; ".join(f"{k}: " + ", ".join(f"{v:.2f}" for v in r) for k, r in d["runs"].items()) + ")"
              + (f", cores {d['cores']:.2f}" if d.get("cores") is not None else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
