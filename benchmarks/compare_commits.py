"""Old code against new, interleaved in one run on one machine: throughput of every rule from
bench_rules.py (the reference MLP) and bench_conv.py (the reference conv net), new / old.

    python benchmarks/compare_commits.py OLD_TREE NEW_TREE [--batch 1 32] [--repeats 3]

OLD_TREE and NEW_TREE are checkouts of chipsim (e.g. ``git worktree add /tmp/old <commit>``);
each benchmark script runs from its own tree with that tree first on PYTHONPATH, the two trees
alternating, so drifts of the machine affect both alike. Each tree's Numba cache is warmed
first. Prints samples/s per (script, batch, rule) for each run, and the median of new / old.
It asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

SCRIPTS = {"mlp": "bench_rules.py", "conv": "bench_conv.py"}


def run(tree: Path, script: str, batch: int, min_time: float, T: int) -> dict:
    # chipsim against chipsim only: no peers, one timed run per figure (this script repeats the
    # runs itself); bench scripts that time peers or repeat runs read these, older ones ignore them
    env = dict(os.environ, PYTHONPATH=str(tree), CHIPSIM_BENCH_PEERS="off", CHIPSIM_BENCH_REPEATS="1")
    cmd = [sys.executable, str(tree / "benchmarks" / script), "--T", str(T), "--batch", str(batch),
           "--min-time", str(min_time)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    res = {}
    for line in out.splitlines():
        m = re.match(r"^(.+?)\s+(\d+)\s+([\d.]+)\s+", line)
        if m and m.group(2) == str(T):
            res[m.group(1).strip()] = float(m.group(3))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--nets", nargs="+", default=["mlp", "conv"], choices=list(SCRIPTS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=2.0)
    ap.add_argument("--T", type=int, default=10)
    a = ap.parse_args()
    trees = {"old": a.old.resolve(), "new": a.new.resolve()}
    for name, tree in trees.items():          # warm each tree's Numba cache
        for net in a.nets:
            run(tree, SCRIPTS[net], 1, 0.1, a.T)
    sps = {}
    for rep in range(a.repeats):
        for net in a.nets:
            for batch in a.batch:
                for name in (("old", "new") if rep % 2 == 0 else ("new", "old")):
                    r = run(trees[name], SCRIPTS[net], batch, a.min_time, a.T)
                    for rule, v in r.items():
                        sps.setdefault((net, batch, rule), {}).setdefault(name, []).append(v)
                    print(f"run {rep + 1} {net} batch {batch} {name}: "
                          + ", ".join(f"{k} {v:.0f}" for k, v in r.items()), flush=True)
    print(f"\nT={a.T}, samples/s (median of {a.repeats}), new / old (median of the per-run ratios)")
    print(f"{'net':5s} {'batch':>5s} {'rule':18s} {'old':>8s} {'new':>8s} {'new/old':>8s}")
    worst = None
    for (net, batch, rule), d in sps.items():
        if len(d.get("old", [])) != len(d.get("new", [])):
            continue
        ratio = statistics.median(n / o for n, o in zip(d["new"], d["old"]))
        worst = ratio if worst is None else min(worst, ratio)
        print(f"{net:5s} {batch:5d} {rule:18s} {statistics.median(d['old']):8.0f} "
              f"{statistics.median(d['new']):8.0f} {ratio:8.3f}")
    print(f"lowest new/old: {worst:.3f}")


if __name__ == "__main__":
    main()
