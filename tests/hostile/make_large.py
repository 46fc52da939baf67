"""Generators of the hostile inputs too large to keep in the repository (tests/hostile/README.md).

Each function writes one file at the path it is given and returns that path. Run as a script
(``python -m tests.hostile.make_large DIR``) to write them all into DIR.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def oversized_yaml(path, size: int = 3 * 2**20, source: str = "workloads/nmnist.yaml") -> Path:
    """A valid workload (workloads/nmnist.yaml; or the profile ``source``, e.g.
    hardware_profiles/loihi.yaml) padded with comments to ``size`` bytes (3 MiB): larger than
    any workload or profile should be."""
    path = Path(path)
    text = (ROOT / source).read_text()
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


def aedat4_bomb(path, decompressed: int = 2_300_000_000, content_size: bool = True) -> Path:
    """An AEDAT 4.0 file of one LZ4 packet of about 9 MB that decompresses to ``decompressed``
    bytes (2.3 GB): a valid EventPacket FlatBuffer whose size prefix and event vector declare
    143,750,000 events (all zero). ``content_size``: the LZ4 frame header declares the size too
    (DV may or may not write it). Written in 64 MiB pieces: making it needs little memory."""
    import struct

    import lz4.frame
    import numpy as np

    from chipsim.data.events import EVENT_DTYPE, EventStream
    from tests.writers import encode_aedat4

    path = Path(path)
    n = (decompressed - 32) // 16
    body = struct.pack("<I4s", 16, b"EVTS") + struct.pack("<3H", 6, 8, 4) + b"\0\0"
    body += struct.pack("<iII", 8, 4, n)
    head = struct.pack("<I", len(body) + 16 * n) + body
    total = len(head) + 16 * n
    comp = lz4.frame.LZ4FrameCompressor(block_size=lz4.frame.BLOCKSIZE_MAX4MB)
    parts = [comp.begin(source_size=total if content_size else 0), comp.compress(head)]
    piece = bytes(64 * 2**20)
    left = 16 * n
    while left:
        k = min(left, len(piece))
        parts.append(comp.compress(piece[:k] if k < len(piece) else piece))
        left -= k
    parts.append(comp.flush())
    payload = b"".join(parts)
    header = encode_aedat4(EventStream(np.zeros(0, EVENT_DTYPE), (128, 128, 2)))
    path.write_bytes(header + struct.pack("<ii", 0, len(payload)) + payload)
    return path


GENERATORS = {"oversized_yaml": (oversized_yaml, ".yaml"),
              "huge_declared_results": (huge_declared_results, ".h5"),
              "aedat4_bomb": (aedat4_bomb, ".aedat4")}


def main(argv=None) -> int:
    out = Path((argv or sys.argv[1:] or ["."])[0])
    out.mkdir(parents=True, exist_ok=True)
    for name, (f, suffix) in GENERATORS.items():
        print(f(out / f"{name}{suffix}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
