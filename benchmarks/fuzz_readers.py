"""The readers' fuzz (tests/test_fuzz_readers.py) in its long mode, for a benchmark run: each
test runs CHIPSIM_FUZZ_SCALE (100 by default) times its CI examples with random seeds. Prints,
per reader, the examples run, the seconds spent generating and running them and examples/s.

    python benchmarks/fuzz_readers.py [--scale N] [-k EXPR]

CI runs the same tests with a fixed seed and a few examples each (a few seconds in all). A
failure prints hypothesis' minimal example and its @reproduce_failure line; fix the reader and
keep the example as an @example of the test.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=100, help="examples x the CI number (100)")
    ap.add_argument("-k", default=None, help="only the tests pytest's -k selects")
    args = ap.parse_args(argv)
    env = dict(os.environ, CHIPSIM_FUZZ="long", CHIPSIM_FUZZ_SCALE=str(args.scale))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "--hypothesis-show-statistics", str(ROOT / "tests" / "test_fuzz_readers.py")]
    if args.k:
        cmd += ["-k", args.k]
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    stats, test = {}, None        # test -> [examples, failing, seconds], over every phase
    for line in p.stdout.splitlines():
        m = re.match(r"tests/test_fuzz_readers.py::(\w+):", line)
        if m:
            test = m.group(1)
            stats[test] = [0, 0, 0.0]
            continue
        m = re.search(r"during \w+ phase \(([\d.]+) seconds\)", line)
        if m and test:
            stats[test][2] += float(m.group(1))
        m = re.search(r"(\d+) passing, (\d+) failing, and (\d+) invalid", line)
        if m and test:
            passing, failing, _ = map(int, m.groups())
            stats[test][0] += passing + failing
            stats[test][1] += failing
    rows = [(test, n, failing, secs) for test, (n, failing, secs) in stats.items()]
    print(f"{'reader test':40s} {'examples':>9s} {'failing':>8s} {'seconds':>8s} {'examples/s':>11s}")
    for test, n, failing, secs in rows:
        print(f"{test:40s} {n:9d} {failing:8d} {secs:8.1f} {n / secs if secs else 0:11.0f}")
    total = sum(r[1] for r in rows)
    spent = sum(r[3] for r in rows)
    print(f"{'all':40s} {total:9d} {sum(r[2] for r in rows):8d} {spent:8.1f} "
          f"{total / spent if spent else 0:11.0f}")
    print(f"pytest: {(p.stdout.strip().splitlines() or ['?'])[-1]} ({wall:.0f} s wall)")
    if p.returncode:
        print(p.stdout[-200000:])
        print(p.stderr[-5000:], file=sys.stderr)
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
