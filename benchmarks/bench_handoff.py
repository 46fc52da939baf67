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
import statistics
import threading
import time

import numpy as np
from numba import njit

from chipsim.kernels.sync import fetch_add, load

LINE = 8            # the shared counter's index: 64 bytes into the array, a line of its own


@njit(nogil=True, cache=True)
def _player(arr, me, n):
    """Player ``me`` (0 or 1): n times, wait for its turn (the counter at 2 i + me), then pass
    the turn on (add 1)."""
    for i in range(n):
        want = 2 * i + me
        while load(arr, LINE) != want:
            pass
        fetch_add(arr, LINE, 1)
    return 0


def round_trip_ns(n: int) -> float:
    """The mean round trip of n exchanges between this thread and a second one, in ns."""
    arr = np.zeros(3 * LINE, np.int64)
    other = threading.Thread(target=_player, args=(arr, 1, n))
    t0 = time.perf_counter()
    other.start()
    _player(arr, 0, n)
    other.join()
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
