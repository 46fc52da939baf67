"""The event container every reader returns and every framer consumes.

An event stream is a numpy structured array with :data:`EVENT_DTYPE` plus the size of the
sensor that produced it, ``(W, H, P)`` (width, height, number of polarities), in the same
order as tonic's ``sensor_size``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chipsim.errors import ChipsimError
from chipsim.memory import Need, check, regular_file_size

#: One event: time in µs, pixel column ``x``, pixel row ``y``, polarity ``p`` (1 = ON, 0 = OFF).
EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "i1")])


@dataclass(frozen=True)
class EventStream:
    """Events of one recording.

    Attributes
    ----------
    events:
        1-D structured array of :data:`EVENT_DTYPE`, normally sorted by ``t``.
    sensor_size:
        ``(W, H, P)``: sensor width, height and number of polarity channels.
        Valid coordinates are ``0 <= x < W``, ``0 <= y < H``, ``0 <= p < P`` (a one-channel
        sensor, ``P == 1``, may still carry ``p`` in {0, 1}; framing merges them).
    """

    events: np.ndarray
    sensor_size: tuple[int, int, int]

    def __post_init__(self) -> None:
        ev = self.events
        if not isinstance(ev, np.ndarray) or ev.dtype != EVENT_DTYPE or ev.ndim != 1:
            got = (f"{type(ev).__name__}" if not isinstance(ev, np.ndarray)
                   else f"array of dtype {ev.dtype} and {ev.ndim} dimension(s)")
            raise ChipsimError(f"EventStream.events is a {got}", field="events",
                               expected=f"a 1-D numpy array of dtype {EVENT_DTYPE}")
        try:
            size = tuple(int(s) for s in self.sensor_size)
        except (TypeError, ValueError):
            size = ()
        if len(size) != 3 or min(size) < 1:
            raise ChipsimError(f"EventStream.sensor_size is {self.sensor_size!r}",
                               field="sensor_size",
                               expected="three positive integers (W, H, P)")
        object.__setattr__(self, "sensor_size", size)

    def __len__(self) -> int:
        return int(self.events.shape[0])

    @property
    def duration_us(self) -> int:
        """Time from the first to the last event in µs (``max(t) - min(t)``; 0 if < 2 events)."""
        if len(self) == 0:
            return 0
        t = self.events["t"]
        return int(t.max() - t.min())


def read_event_file(path, what: str, expansion: float) -> bytes:
    """The bytes of event file ``path`` (a ``what`` file), read whole. Refused before it is
    opened when it is not a regular file (a FIFO would block, /dev/zero never end) or when
    decoding it, ``expansion`` x its size in memory (the reader's arrays per byte of file),
    would need more memory than is available (chipsim/memory.py)."""
    size = regular_file_size(path, f"a regular file ({what})")
    check([Need(f"reading and decoding this {size}-byte {what} file", "", int(size * expansion))],
          file=str(path), expected=f"a file that fits in memory ({what})")
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise ChipsimError(f"cannot read file: {exc.strerror or exc}", file=str(path),
                           expected=f"a readable file ({what})") from None
