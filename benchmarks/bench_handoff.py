"""How long a hand-off between two threads takes on this machine, second by second.

Two threads pass one cache line back and forth (each waits for the other's atomic add, with
the same ``sync.load`` and ``sync.fetch_add`` the workers of ``loop._par`` use for their
tickets) and the script prints the round trip: two transfers of the line between the cores.
On a machine whose two cores share a cache that is tens of nanoseconds and steady. A
virtual machine whose host moves its virtual cores about gives more, and it changes from one
second to the next; every piece of work that one thread hands to the other (a barrier at the
end of a parallel job, a sample's output gradients read by the thread that stacks them) then
costs more, which is why chipsim's two-thread figures on such a machine move between runs
(docs/PERFORMANCE.md, "the slow mode").

``--train RULE`` alternates the measurement with two seconds of training the reference conv
net (benchmarks/common.py, ``bench``) at ``--batch`` on every thread, and prints both, so the two can be
read side by side. After training the script waits 0.2 s before measuring: the OpenMP
threads spin for a while after a parallel job, and a round trip measured while they spin
reads their interference, not the machine's.

    python benchmarks/bench_handoff.py --seconds 30
    python benchmarks/bench_handoff.py --train sltt --batch 32 --seconds 60
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

import numpy as np
from numba import njit

from chipsim.kernels.sync import cycles, fetch_add, load

LINE = 8            # the shared counter's index: 64 bytes into the array, a line of its own
READY = 2 * LINE    # the players' meeting point before they start, a line of its own


# Not cached: tests/test_sync.py loads this file by its path, and Numba's cache written then
# names the module '<dynamic>', which an ordinary import cannot load again (a few tenths of a
# second to compile instead).
@njit(nogil=True)
def _player(arr, me, n):
    """Player ``me`` (0 or 1): first both meet (each adds 1 at READY and waits for 2), so
    that neither thread's start is timed; then n times, wait for its turn (the counter at
    2 i + me), then pass the turn on (add 1). Returns the cycles (sync.cycles) its n turns
    took."""
    fetch_add(arr, READY, 1)
    while load(arr, READY) < 2:
        pass
    c0 = cycles()
    for i in range(n):
        want = 2 * i + me
        while load(arr, LINE) != want:
            pass
        fetch_add(arr, LINE, 1)
    return cycles() - c0


@njit
def _cycles_now(x):
    """The cycle counter (x: unused, a typed argument)."""
    return cycles() + x - x


def counter_rate(seconds: float = 0.3) -> float:
    """Cycles per second of sync.cycles, against time.perf_counter."""
    _cycles_now(0)
    t0, c0 = time.perf_counter(), _cycles_now(0)
    time.sleep(seconds)
    t1, c1 = time.perf_counter(), _cycles_now(0)
    return (c1 - c0) / (t1 - t0)


_RATE: list = []


def round_trip_ns(n: int) -> float:
    """The mean round trip of n exchanges between this thread and a second one, in ns, from
    the moment both are running (the second thread's start, which took up to about 16 ms
    here, is not timed: when it was, 20,000 exchanges read 800-1,060 ns now and then among
    340-390). Where the cycle counter reads 0, the wall clock around the whole, start
    included."""
    if not _RATE:
        _RATE.append(counter_rate())
    arr = np.zeros(3 * LINE, np.int64)
    # each player pinned to one of the first two CPUs (Linux: the calling thread's own
    # affinity): a new thread left to the scheduler sometimes started on the first one's CPU
    # and stayed there for a tick or two, and 4,000 exchanges then read 2,000-8,000 ns
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_setaffinity") else []

    def second():
        if len(cpus) >= 2:
            os.sched_setaffinity(0, {cpus[1]})
        _player(arr, 1, n)

    other = threading.Thread(target=second)
    saved = set(cpus)
    t0 = time.perf_counter()
    other.start()
    try:
        if len(cpus) >= 2:
            os.sched_setaffinity(0, {cpus[0]})
        c = _player(arr, 0, n)
    finally:
        if len(cpus) >= 2:
            os.sched_setaffinity(0, saved)
    other.join()
    if c > 0 and _RATE[0] > 0:
        return c / _RATE[0] / n * 1e9
    return (time.perf_counter() - t0) / n * 1e9


def _trainer(rule: str, batch: int):
    """A function that trains the reference conv net for some seconds and returns samples/s
    (common.bench: a fresh trainer each time, after one untimed batch)."""
    from common import CONV, bench, nmnist
    data = nmnist(10, "float32")

    def train(seconds: float) -> float:
        return bench(CONV, rule, 10, "float32", seconds, batch=batch, data=data)["sps"]
    train(0.0)                                                     # compiles
    return train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="how long to keep measuring")
    ap.add_argument("--exchanges", type=int, default=50_000, help="round trips per figure")
    ap.add_argument("--train", choices=["bptt", "sltt", "ottt_a", "ottt_o"], default=None,
                    help="alternate with 2 s of training the reference conv net")
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args()
    train = _trainer(a.train, a.batch) if a.train else None
    round_trip_ns(1000)                                            # compiles
    rtts, rates = [], []
    t_end = time.time() + a.seconds
    while time.time() < t_end:
        r = round_trip_ns(a.exchanges)
        rtts.append(r)
        line = f"{time.strftime('%H:%M:%S')}  round trip {r:6.0f} ns"
        if train is not None:
            rate = train(2.0)
            rates.append(rate)
            line += f"   then {a.train} at batch {a.batch}: {rate:7.1f} samples/s"
            time.sleep(0.2)               # (the OpenMP threads' spin after the last job)
        else:
            time.sleep(1.0)
        print(line, flush=True)
    print(f"round trip over {len(rtts)} figures: min {min(rtts):.0f} ns, median "
          f"{statistics.median(rtts):.0f} ns, max {max(rtts):.0f} ns")
    if rates:
        print(f"training: min {min(rates):.1f}, median {statistics.median(rates):.1f}, "
              f"max {max(rates):.1f} samples/s")


if __name__ == "__main__":
    main()
