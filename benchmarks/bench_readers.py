"""Throughput of the event-file readers: events/s for each format on a synthetic file of
about 1M events written by the tests' writers (tests/writers.py; in a temporary directory).

    python benchmarks/bench_readers.py [--events N] [--repeat R]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from chipsim.data.aedat import read_aedat2, read_aedat3, read_aedat4
from chipsim.data.events import EVENT_DTYPE, EventStream
from chipsim.data.nmnist import read_nmnist
from chipsim.data.shd import read_shd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the repository root: tests/
from tests.writers import write_aedat2, write_aedat3, write_aedat4, write_nmnist, write_shd  # noqa: E402


def synthetic(n: int, W: int, H: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    ev["t"] = np.cumsum(rng.integers(0, 20, n))
    ev["x"] = rng.integers(0, W, n)
    ev["y"] = rng.integers(0, H, n)
    ev["p"] = rng.integers(0, 2, n)
    return ev


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    n = args.events
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        cases = []
        ev = synthetic(n, 128, 128)
        write_aedat2(d / "a2.aedat", EventStream(ev, (128, 128, 2)))
        cases.append(("AEDAT 2.0 (dvs128)", lambda: read_aedat2(d / "a2.aedat")))
        write_aedat3(d / "a3.aedat", EventStream(ev, (128, 128, 2)))
        cases.append(("AEDAT 3.1 (4096-event packets)", lambda: read_aedat3(d / "a3.aedat")))
        ev4 = synthetic(n, 320, 240)
        write_aedat4(d / "a4.aedat4", EventStream(ev4, (320, 240, 2)))
        cases.append(("AEDAT 4.0 (LZ4 frame)", lambda: read_aedat4(d / "a4.aedat4")))
        write_aedat4(d / "a4n.aedat4", EventStream(ev4, (320, 240, 2)), compression="none")
        cases.append(("AEDAT 4.0 (uncompressed)", lambda: read_aedat4(d / "a4n.aedat4")))
        evn = synthetic(n, 34, 34)
        evn["t"] = np.sort(evn["t"] % (2 ** 23))
        write_nmnist(d / "nm.bin", evn)
        cases.append(("N-MNIST .bin", lambda: read_nmnist(d / "nm.bin")))
        k = 1000    # SHD: 1000 samples of n/1000 spikes
        evs = synthetic(n, 700, 1)
        per = np.array_split(evs, k)
        write_shd(d / "shd.h5", [(e["t"] / 1e6, e["x"]) for e in per], np.arange(k) % 20)
        cases.append((f"SHD HDF5 ({k} samples)", lambda: read_shd(d / "shd.h5")))
        print(f"{'format':34s} {'events':>10s} {'best s':>8s} {'Mevents/s':>10s}")
        for name, fn in cases:
            best = float("inf")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                out = fn()
                best = min(best, time.perf_counter() - t0)
            count = sum(len(s) for s in out[0]) if isinstance(out, tuple) else len(out)
            print(f"{name:34s} {count:10d} {best:8.3f} {count / best / 1e6:10.1f}")


if __name__ == "__main__":
    main()
