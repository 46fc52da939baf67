"""How the small hostile event files in tests/hostile/events/ were made (they are committed;
``python -m tests.hostile.make_small`` writes them again, byte for byte). See README.md.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np

from chipsim.data.events import EVENT_DTYPE, EventStream
from tests.writers import encode_aedat2, encode_aedat3, encode_aedat4, random_stream

HERE = Path(__file__).resolve().parent / "events"
DVS128 = (128, 128, 2)


def _events(n: int, span: int = 300_000, seed: int = 0, W: int = 128, H: int = 128):
    return random_stream(seed, n, span, W, H).events


def negative_timestamp_aedat4() -> bytes:
    """AEDAT 4.0, one uncompressed packet of 8 events; event 5's timestamp is -2**63 + 10."""
    ev = _events(8, seed=1)
    data = bytearray(encode_aedat4(EventStream(ev, DVS128), compression="none"))
    # the 16-byte event structs are the last 8 x 16 bytes of the file; t is their first field
    at = len(data) - 16 * 8 + 16 * 5
    assert struct.unpack_from("<q", data, at)[0] == ev["t"][5]
    struct.pack_into("<q", data, at, -2**63 + 10)
    return bytes(data)


def huge_span_aedat4() -> bytes:
    """AEDAT 4.0 whose events (all timestamps >= 0) span 2**62 us: binning them into T steps
    overflows 64-bit arithmetic (and wrapped silently into wrong frames)."""
    ev = _events(8, seed=2)
    ev["t"][-1] = 2**62
    return encode_aedat4(EventStream(ev, DVS128), compression="lz4")


def header_only_aedat4() -> bytes:
    """AEDAT 4.0 with its header and an event stream, but no packets (no events)."""
    return encode_aedat4(EventStream(np.zeros(0, EVENT_DTYPE), DVS128), compression="lz4")


def header_only_aedat2() -> bytes:
    """AEDAT 2.0 (CIFAR10-DVS's format): the ASCII header and no events."""
    return encode_aedat2(np.zeros(0, EVENT_DTYPE))


def header_only_aedat3() -> bytes:
    """AEDAT 3.1 (DVS128 Gesture's format): the header and no packets."""
    return encode_aedat3(EventStream(np.zeros(0, EVENT_DTYPE), DVS128))


def empty_nmnist() -> bytes:
    """A zero-length N-MNIST .bin file."""
    return b""


def markers_only_nmnist() -> bytes:
    """An N-MNIST .bin of three timestamp-overflow markers (y = 240) and no event."""
    return bytes([0, 240, 0, 0, 0]) * 3


FILES = {
    "negative_timestamp.aedat4": negative_timestamp_aedat4,
    "huge_span.aedat4": huge_span_aedat4,
    "header_only.aedat4": header_only_aedat4,
    "header_only.aedat": header_only_aedat2,
    "header_only_gesture.aedat": header_only_aedat3,
    "empty.bin": empty_nmnist,
    "markers_only.bin": markers_only_nmnist,
}
#: folders of files that are fine one by one but lie as a DVS128 Gesture root
GESTURE_ROOTS = {
    # a recording whose name is not userNN_<lighting>.aedat
    "gesture_odd_name": {"user01_fluorescent": "ok", "userX_led": "ok"},
    # trials lists naming files outside the root
    "gesture_trials_parent": {"user01_fluorescent": "ok",
                              "trials_to_train.txt": "user01_fluorescent.aedat\n../outside.aedat\n"},
    "gesture_trials_absolute": {"user01_fluorescent": "ok",
                                "trials_to_train.txt": "/etc/passwd\n"},
}


def _gesture_root(folder: Path, spec: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, what in spec.items():
        if name.endswith(".txt"):
            (folder / name).write_text(what)
            continue
        ev = _events(200, span=2_000_000, seed=3)
        (folder / f"{name}.aedat").write_bytes(encode_aedat3(EventStream(ev, DVS128)))
        (folder / f"{name}_labels.csv").write_text(
            "class,startTime_usec,endTime_usec\n1,0,1000000\n2,1000000,2000000\n")


def main(argv=None) -> int:
    out = Path((argv or sys.argv[1:] or [HERE])[0])
    out.mkdir(parents=True, exist_ok=True)
    for name, make in FILES.items():
        (out / name).write_bytes(make())
        print(out / name)
    for name, spec in GESTURE_ROOTS.items():
        _gesture_root(out / name, spec)
        print(out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
