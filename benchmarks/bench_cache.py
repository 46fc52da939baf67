"""The frame cache: a cached epoch's data loading against a parsing one.

Writes a CIFAR10-DVS-shaped folder of AEDAT 2.0 files (10 classes x N recordings of ~100k
synthetic events each, in a temporary directory), then times loading and framing the training
split from the files (cold cache) and from the cache (warm). Also times the emulated CIFAR10-DVS
stand-in, whose "parsing" is the emulation. Prints seconds and the speed-up; asserts nothing.

    python benchmarks/bench_cache.py [--per-class 10] [--events 100000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from chipsim.data.load import load_dataset
from chipsim.data.events import EVENT_DTYPE, EventStream
from chipsim.data.eventsets import CIFAR10DVS_CLASSES

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the repository root: tests/
from tests.writers import write_aedat2  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-class", type=int, default=10)
    ap.add_argument("--events", type=int, default=100_000)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        os.environ["CHIPSIM_CACHE"] = str(Path(d) / "cache")
        root = Path(d) / "CIFAR10-DVS"
        for cls in CIFAR10DVS_CLASSES:
            (root / cls).mkdir(parents=True)
            for i in range(a.per_class):
                ev = np.zeros(a.events, EVENT_DTYPE)
                ev["t"] = np.sort(rng.integers(0, 1_300_000, a.events))
                ev["x"], ev["y"] = rng.integers(0, 128, a.events), rng.integers(0, 128, a.events)
                ev["p"] = rng.integers(0, 2, a.events)
                write_aedat2(root / cls / f"cifar10_{cls}_{i}.aedat", EventStream(ev, (128, 128, 2)))
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            ds = load_dataset("cifar10dvs", root, "train", 10, "binary", size=48)
            times.append(time.perf_counter() - t0)
        n_ev = len(ds) * a.events
        print(f"CIFAR10-DVS layout, {len(ds)} training recordings x {a.events:,} events (AEDAT 2.0), "
              f"10 steps at 48x48:")
        print(f"  parse + frame: {times[0]:.2f} s ({n_ev / times[0] / 1e6:.1f} M events/s); "
              f"cached: {times[1]:.3f} s; speed-up x{times[0] / times[1]:.0f}")
        from chipsim.data.cache import cached
        from chipsim.data.standin import load_cifar10dvs_standin
        st = []
        for _ in range(2):
            t0 = time.perf_counter()
            cached(dict(dataset="standin-bench", split="test"),
                   lambda: load_cifar10dvs_standin("test", 10, "binary", 32, None))
            st.append(time.perf_counter() - t0)
        print(f"CIFAR10-DVS stand-in, test split: emulate + frame {st[0]:.2f} s; cached {st[1]:.3f} s; "
              f"speed-up x{st[0] / st[1]:.0f}")


if __name__ == "__main__":
    main()
