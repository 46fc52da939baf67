"""Reader for the N-MNIST 5-byte event format (``.bin``; slayerPytorch ``.bs2``).

Layout (no header; one 40-bit big-endian record per event)::

    byte 0        x address, 0..33
    byte 1        y address, 0..33   (y == 240 marks a timestamp overflow, see below)
    byte 2 bit 7  polarity, 1 = ON, 0 = OFF
    byte 2 bits 6..0, byte 3, byte 4   timestamp in µs, 23 bits

Timestamp overflow: as in Orchard's reference reader (``Read_Ndataset.m``) and
``tonic.io.read_mnist_file``, a record with ``y == 240`` adds ``2**13`` µs to the timestamps
of all later records and is itself dropped.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from chipsim.data.events import EVENT_DTYPE, EventStream, read_event_file
from chipsim.errors import ChipsimError

NMNIST_SENSOR_SIZE: tuple[int, int, int] = (34, 34, 2)
RECORD_BYTES = 5
OVERFLOW_Y = 240
OVERFLOW_INCREMENT_US = 2 ** 13
_T_BITS = 23
_T_MAX = 2 ** _T_BITS - 1
_COORD_MAX = 33


def decode_nmnist_bytes(data: bytes | np.ndarray, *, file: str | os.PathLike = "<bytes>"
                        ) -> EventStream:
    """Decode an in-memory N-MNIST byte string (see module docstring). ``file`` names the source
    in error messages."""
    raw = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    raw = np.asarray(raw, dtype=np.uint8).reshape(-1)
    size = raw.shape[0]
    if size % RECORD_BYTES:
        start = size - size % RECORD_BYTES
        raise ChipsimError(
            f"file size {size} bytes is not a multiple of {RECORD_BYTES}; the truncated trailing "
            f"event starts at byte offset {start} ({size - start} byte(s) left over)",
            file=str(file), expected="an N-MNIST file of whole 5-byte events")
    rec = raw.reshape(-1, RECORD_BYTES)
    x = rec[:, 0]
    y = rec[:, 1]
    marker = y == OVERFLOW_Y
    bad = ~marker & ((x > _COORD_MAX) | (y > _COORD_MAX))
    if bad.any():
        i = int(np.argmax(bad))
        raise ChipsimError(
            f"event record {i} at byte offset {i * RECORD_BYTES} has x={int(x[i])}, y={int(y[i])}, "
            f"outside the 34x34 sensor",
            file=str(file), expected=f"x and y in 0..{_COORD_MAX} (y={OVERFLOW_Y} only as a "
                                     "timestamp-overflow marker)")
    b2 = rec[:, 2]
    t = (((b2 & 0x7F).astype(np.int64) << 16) | (rec[:, 3].astype(np.int64) << 8)
         | rec[:, 4].astype(np.int64))
    keep = ~marker
    n_markers = int(marker.sum())
    ev = np.empty(rec.shape[0] - n_markers, dtype=EVENT_DTYPE)
    if n_markers:
        # A marker adds 2**13 µs to itself and every later record (Orchard's "index:end");
        # the markers are dropped, so only later events see the offsets.
        t = t + np.cumsum(marker, dtype=np.int64) * OVERFLOW_INCREMENT_US
        ev["t"] = t[keep]
        ev["x"] = x[keep]
        ev["y"] = y[keep]
        ev["p"] = b2[keep] >> 7
    else:
        ev["t"] = t
        ev["x"] = x
        ev["y"] = y
        ev["p"] = b2 >> 7
    return EventStream(ev, NMNIST_SENSOR_SIZE)


def read_nmnist(path: str | os.PathLike) -> EventStream:
    """Read one N-MNIST sample (``.bin`` or ``.bs2``) into an :class:`EventStream` of sensor
    size (34, 34, 2). Raises :class:`ChipsimError` naming the file (and the byte offset) for a
    missing or unreadable file, a size that is not a multiple of 5, or coordinates outside
    0..33."""
    p = Path(path)
    # 5 bytes per event decode to ~50 (the fields as int64, the timestamps, the events)
    data = read_event_file(p, "N-MNIST event (.bin or .bs2)", 10.0)
    return decode_nmnist_bytes(data, file=p)
