"""How much of two cores the machine gives right now: a probe run beside every timed run.

On this kind of machine (a 2-vCPU KVM guest) the second core is not always a whole core. An
embarrassingly parallel Numba loop (no memory traffic, no synchronisation) ran 1.9-2.1x faster
on two threads than on one for most of a minute, then 1.06-1.09x for 4 s and 1.46-1.57x for 7 s,
while one thread's time stayed within 13 +- 0.5 ms (benchmarks/results/2026-12-07_cores.txt).
The kernel reports no steal time in those spells (vmstat ``st`` 0), so nothing passive shows
them. A two-thread figure taken in such a spell says more about the host than about the code.

``probe()`` measures it: a fixed loop of NumPy's vectorised exp over 16 Ki float32 (in the
first level of cache, as the kernels' and torch's arithmetic is; about 15 ms) timed in a forked
child pinned to each CPU alone, then in two children at once, one per CPU. ``speed`` is the
probe's slowest core as a fraction of a whole one: the fastest time this process has seen over
the slowest of the four (1.0 whole; a child that reported nothing counts as 0.0). A run whose
probes read below ``HEALTHY`` (0.8) is taken again. The standard library and NumPy only, so
that peers.py's child (a separate venv with torch) runs the same probe as chipsim's side. A
benchmark probes before and after each timed run and about once a second during it, between
training steps, leaving the probes' time out of the run's (``Watch``); probes only around a
run missed spells inside it (sltt at batch 32 ran 545 samples/s between probes of 0.94).

    python benchmarks/cores.py [--seconds 30]      # about two probes a second, then their speeds
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import struct
import sys
import time

import numpy as np

#: a run is "degraded" when a probe before, during or after it found a core slower than this
#: fraction of a whole one (``speed``)
HEALTHY = 0.8

#: passes of the loop a child times (about 15 ms on this machine)
LOOP = 2_000


def _spin(n: int) -> float:
    """Vector arithmetic in the first level of cache, as the kernels and torch's are: n
    passes of exp over 16 Ki float32 (NumPy's SIMD loop), about 15 ms at n = LOOP."""
    a = np.linspace(-1.0, 1.0, 1 << 14, dtype=np.float32)
    b = np.empty_like(a)
    for _ in range(n):
        np.exp(a, out=b)
    return float(b[0])


def _timed_children(cpus, n: int) -> list[float]:
    """Fork one child per CPU of ``cpus``, each pinned to its CPU; once all exist they start
    together, each times ``_spin(n)`` and writes its seconds to a pipe. Their times, in the
    order of ``cpus`` (nan for a child that reported nothing)."""
    go_r, go_w = os.pipe()
    pipes, pids = [], []
    for c in cpus:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:                                   # the child: pin, wait, spin, report
            try:
                os.close(r)
                os.close(go_w)
                os.sched_setaffinity(0, {c})
                os.read(go_r, 1)
                t0 = time.perf_counter()
                _spin(n)
                os.write(w, struct.pack("d", time.perf_counter() - t0))
            finally:
                os._exit(0)
        os.close(w)
        pipes.append(r)
        pids.append(pid)
    os.close(go_r)
    os.write(go_w, b"g" * len(cpus))
    os.close(go_w)
    out = []
    for r, pid in zip(pipes, pids):
        data = b""
        while len(data) < 8:
            chunk = os.read(r, 8 - len(data))
            if not chunk:
                break
            data += chunk
        os.close(r)
        os.waitpid(pid, 0)
        out.append(struct.unpack("d", data)[0] if len(data) == 8 else float("nan"))
    return out


def probe(n: int = LOOP) -> dict:
    """The two first CPUs this process may use: each alone, then both at once.

    Returns dict(alone=[s, s], both=[s, s]) in seconds; empty lists with fewer than two CPUs
    or no fork (then every run counts as healthy)."""
    cpus = sorted(os.sched_getaffinity(0))[:2]
    if len(cpus) < 2 or not hasattr(os, "fork"):
        return dict(alone=[], both=[])
    return dict(alone=[_timed_children([c], n)[0] for c in cpus], both=_timed_children(cpus, n))


def speed(p: dict, ref: float) -> float:
    """A probe's slowest core as a fraction of a whole one: min over its four times of
    ref / time, ref being the fastest time seen (1.0: both cores whole, alone and together;
    about 0.5 when the two share one core). 1.0 for an empty probe; a child that reported
    nothing (nan) counts as a core not whole (0.0)."""
    ts = p["alone"] + p["both"]
    return min(ref / t if math.isfinite(t) else 0.0 for t in ts) if ts else 1.0


class Watch:
    """The probes of one process. ``around_all(fn)`` runs fn between two probes; fn's loop calls
    ``tick()`` between its steps, which probes again every ``every`` seconds (and returns the
    seconds that took, for fn to leave out of its time). When any probe of the run says a
    core was not whole (``speed`` below HEALTHY), the run is taken again, up to ``retries``
    times. ``ref``, the fastest time any probe saw, grows more exact as probes accumulate; the
    speeds printed at the end use the final one (``speeds``)."""

    def __init__(self, retries: int = 2, calibrate: int = 3, enabled: bool = True,
                 every: float = 1.0):
        self.retries = retries
        self.enabled = enabled
        self.every = every
        self.probes: list[dict] = []
        self._run: list[dict] | None = None        # the probes of the run in progress
        self._last = 0.0
        for _ in range(calibrate if enabled else 0):
            self.take()

    def take(self) -> dict:
        p = probe() if self.enabled else dict(alone=[], both=[])
        self.probes.append(p)
        return p

    @property
    def ref(self) -> float:
        ts = [t for p in self.probes for t in p["alone"] + p["both"] if math.isfinite(t)]
        return min(ts) if ts else 1.0

    def tick(self) -> float:
        """Between two steps of a run under ``around_all``: a probe, when ``every`` seconds have
        passed since the last; the seconds it took (0.0 when none was taken)."""
        if not self.enabled or self._run is None:
            return 0.0
        now = time.perf_counter()
        if now - self._last < self.every:
            return 0.0
        self._run.append(self.take())
        self._last = time.perf_counter()
        return self._last - now

    def around_all(self, fn):
        """fn run between two probes (and its ticks' probes), again, up to ``retries`` times,
        while they say a core was not whole: ([fn's result of each attempt], [the probes of
        each]); the last attempt is the one to keep."""
        results, attempts = [], []
        for i in range(self.retries + 1):
            self._run = [self.take()]
            self._last = time.perf_counter()
            try:
                results.append(fn())
            finally:
                self._run.append(self.take())
                attempts.append(self._run)
                self._run = None
            s = min(speed(p, self.ref) for p in attempts[-1])
            if s >= HEALTHY:
                break
            if i < self.retries:
                print(f"  (a core was at {s:.2f} of a whole one during that run: again)",
                      file=sys.stderr, flush=True)
        return results, attempts

    def speeds(self, attempts) -> list[float]:
        """Each attempt's slowest probe, against the final ``ref``."""
        return [min(speed(p, self.ref) for p in att) for att in attempts]


def kept(watch: Watch | None, fn):
    """fn's result to keep: (the last attempt's result, its cores or None, [(result, cores)]
    of the attempts taken again); with no ``watch``, fn once."""
    if watch is None:
        return fn(), None, []
    results, attempts = watch.around_all(fn)
    speeds = watch.speeds(attempts)
    return results[-1], speeds[-1], list(zip(results[:-1], speeds[:-1]))


def repeat(watch: Watch | None, fn, repeats: int):
    """``repeats`` kept results of fn (``kept``): ([each result], [its cores, with a watch],
    [(result, cores)] of the attempts taken again)."""
    runs, cores, again = [], [], []
    for _ in range(repeats):
        r, c, a = kept(watch, fn)
        runs.append(r)
        cores += [] if c is None else [c]
        again += a
    return runs, cores, again


def label(s: float) -> str:
    """A run's cores as printed: '0.97', or '0.55 DEGRADED' below HEALTHY."""
    return f"{s:.2f}" + ("" if s >= HEALTHY else " DEGRADED")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0)
    a = ap.parse_args()
    w = Watch(calibrate=0)
    end = time.time() + a.seconds
    while time.time() < end:
        p = w.take()
        print(f"{time.strftime('%H:%M:%S')} alone {p['alone'][0] * 1e3:6.1f} / "
              f"{p['alone'][1] * 1e3:6.1f} ms, both {p['both'][0] * 1e3:6.1f} / "
              f"{p['both'][1] * 1e3:6.1f} ms", flush=True)
        time.sleep(0.4)
    ss = [speed(p, w.ref) for p in w.probes]
    print(f"{len(ss)} probes; the fastest time {w.ref * 1e3:.1f} ms; the slowest core as a "
          f"fraction of a whole one: median {statistics.median(ss):.2f}, min {min(ss):.2f}; "
          f"below {HEALTHY}: {sum(x < HEALTHY for x in ss)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
