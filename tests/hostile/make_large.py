"""Generators of the hostile inputs too large to keep in the repository (tests/hostile/README.md).

Each function writes one file at the path it is given and returns that path. Run as a script
(``python -m tests.hostile.make_large DIR``) to write them all into DIR.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def oversized_yaml(path, size: int = 3 * 2**20) -> Path:
    """A valid workload (workloads/nmnist.yaml) padded with comments to ``size`` bytes (3 MiB):
    larger than any workload or profile should be."""
    path = Path(path)
    text = (ROOT / "workloads" / "nmnist.yaml").read_text()
    pad = ("# " + "x" * 97 + "\n") * (max(size - len(text), 0) // 100 + 1)
    path.write_text(text + pad)
    return path


#: the dataset huge_declared_results() inflates
HUGE_DATASET = "simulation/counts/input_events"


def huge_declared_results(path, columns: int = 2**40) -> Path:
    """A valid results file (tests/report_fixtures.py's run) whose per-step input-event counts
    declare ``samples x 2**40`` int64 values (over 100 TB) in a chunked dataset of a few kB: the file
    is small, reading it allocates what it declares."""
    import h5py

    from chipsim.report.h5 import write_result
    from tests.report_fixtures import make_result

    path = Path(path)
    write_result(make_result(seed=3), path)
    with h5py.File(path, "a") as f:
        n = f[HUGE_DATASET].shape[0]
        del f[HUGE_DATASET]
        f.create_dataset(HUGE_DATASET, shape=(n, columns), dtype="i8", chunks=(1, 1024))
    return path


GENERATORS = {"oversized_yaml": (oversized_yaml, ".yaml"),
              "huge_declared_results": (huge_declared_results, ".h5")}


def main(argv=None) -> int:
    out = Path((argv or sys.argv[1:] or ["."])[0])
    out.mkdir(parents=True, exist_ok=True)
    for name, (f, suffix) in GENERATORS.items():
        print(f(out / f"{name}{suffix}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
