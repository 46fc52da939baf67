"""Run the hostile corpus (tests/test_hostile_corpus.py's table) against another checkout of
chipsim, e.g. the code before issue 11, and say which cases it fails and how.

    git worktree add --detach /tmp/chipsim-pre11 b379aa4
    python -m tests.hostile.corpus_baseline /tmp/chipsim-pre11 [--timeout 180] [-k TEXT]

The inputs and the checks are this checkout's; the command line, its workloads/ and its
package are the other checkout's (``python -m chipsim`` with PYTHONPATH set to it). Each child
runs under an address-space limit (``--memory``, 4 GiB by default), so a case that would take
the machine's memory fails with a MemoryError instead, and under ``--timeout``, so one that
hangs (a FIFO) or trains for ever fails as a hang. Prints one line per case, with how it
failed (the first of: hang, memory over 1 GB, traceback, accepted with exit status 0, files
created or changed, refused but the line does not name the file and field), and the counts by
category and by how; exit status 0 whatever failed (this is a report, not a test).
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from tests import hostile_cli
from tests.test_hostile_corpus import CASES, Ctx, run_case


def failure_kind(problems: list[str], result) -> str:
    """How a case failed, the worst first."""
    text = "; ".join(problems)
    if result is None:
        return "hang"
    if "peak memory" in text:
        return "memory"
    if "a traceback" in text:
        return "traceback"
    if result[0] == 0:
        return "accepted"
    if "files created" in text:
        return "files written"
    return "refused, other message"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkout", type=Path, help="the chipsim checkout to run the corpus against")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per case (60)")
    ap.add_argument("--memory", type=float, default=4.0, help="GiB of address space per child (4)")
    ap.add_argument("-k", default="", help="only the cases whose id contains this text")
    args = ap.parse_args(argv)
    repo = args.checkout.resolve()
    if not (repo / "chipsim" / "__init__.py").is_file():
        ap.error(f"{repo} is not a chipsim checkout")
    hostile_cli.ROOT = repo                    # PYTHONPATH of every child: the other checkout
    limit = int(args.memory * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))   # inherited by the children
    failed, total, how = Counter(), Counter(), Counter()
    with tempfile.TemporaryDirectory(prefix="corpus-baseline-") as work:
        big = Path(work) / "large"
        big.mkdir()
        for i, case in enumerate(c for c in CASES if args.k in c.id):
            tmp = Path(work) / f"case{i}"
            tmp.mkdir()
            t0 = time.monotonic()
            try:
                problems, result, _ = run_case(dataclasses.replace(case, timeout=args.timeout),
                                               Ctx(tmp, repo, big))
            except pytest.skip.Exception as e:
                print(f"SKIP  {case.id}: {e}", flush=True)
                continue
            total[case.category] += 1
            took = time.monotonic() - t0
            peak = "" if result is None else f", peak {result[3] / 2**20:.0f} MiB"
            if problems:
                failed[case.category] += 1
                kind = failure_kind(problems, result)
                how[kind] += 1
                last = "" if result is None else (result[2].strip().splitlines() or [""])[-1][:160]
                print(f"FAIL  {case.id} [{kind}] ({took:.1f} s{peak}): {'; '.join(problems)[:400]}"
                      + (f"\n      last stderr line: {last}" if last else ""), flush=True)
            else:
                print(f"pass  {case.id} ({took:.1f} s{peak})", flush=True)
    print()
    for cat in total:
        print(f"{cat:8s} {failed[cat]:3d} of {total[cat]:3d} failed")
    print(f"{'all':8s} {sum(failed.values()):3d} of {sum(total.values()):3d} failed at {repo}")
    print("how: " + ", ".join(f"{k} {n}" for k, n in how.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
