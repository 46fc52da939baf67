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


def main(argv=None) -> int:
    out = Path((argv or sys.argv[1:] or ["."])[0])
    out.mkdir(parents=True, exist_ok=True)
    for f in (oversized_yaml,):
        print(f(out / f"{f.__name__}.yaml"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
