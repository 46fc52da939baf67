"""Event-file writers the tests use to make recordings: AEDAT 2.0 / 3.1 / 4.0, N-MNIST and SHD.

Each writer is the inverse of a reader in ``chipsim.data`` (``encode_*`` returns the bytes,
``write_*`` writes the file). chipsim itself never writes event files, so the writers live with
the tests; they import the format constants from the readers so both sides share one layout.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from chipsim.data.aedat import (_AEDAT2_DTYPE, _AEDAT2_MAGIC, _AEDAT4_MAGIC, _EVT4, _HALF, _PKT3,
                                _WRAP, AEDAT2_LAYOUTS, DAVIS346_SENSOR_SIZE, DVS128_SENSOR_SIZE,
                                POLARITY_EVENT)
from chipsim.data.events import EVENT_DTYPE, EventStream
from chipsim.data.nmnist import _COORD_MAX, _T_MAX, OVERFLOW_INCREMENT_US, OVERFLOW_Y, RECORD_BYTES
from chipsim.data.shd import SHD_SENSOR_SIZE
from chipsim.errors import ChipsimError


# ----------------------------------------------------------------------------- helpers

def random_stream(seed=0, n=300, span=300_000, W=128, H=128) -> EventStream:
    """n events with sorted timestamps in [0, span) µs at uniform pixels and polarities of a
    W x H sensor (seeded): a valid recording for the writers."""
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, span, n))
    ev["x"] = rng.integers(0, W, n)
    ev["y"] = rng.integers(0, H, n)
    ev["p"] = rng.integers(0, 2, n)
    return EventStream(ev, (W, H, 2))


def nmnist_root(root, n: int = 2):
    """An N-MNIST folder of random recordings (Train/ and Test/, n per label, 34 x 34)."""
    root = Path(root)
    for split in ("Train", "Test"):
        for label in range(10):
            d = root / split / str(label)
            d.mkdir(parents=True)
            for i in range(n):
                write_nmnist(d / f"{i + 1:05d}.bin", random_stream(label * 10 + i, W=34, H=34).events)
    return root


def _write_file(path: str | os.PathLike, data: bytes) -> None:
    p = Path(path)
    try:
        p.write_bytes(data)
    except OSError as exc:
        raise ChipsimError(f"cannot write file: {exc.strerror or exc}", file=str(p),
                           expected="a writable path") from None


def _event_array(events, file) -> np.ndarray:
    ev = events.events if isinstance(events, EventStream) else np.asarray(events)
    if ev.dtype.names is None or not {"t", "x", "y", "p"} <= set(ev.dtype.names):
        raise ChipsimError(f"events have dtype {ev.dtype}", file=str(file), field="events",
                           expected=f"a structured array with fields t, x, y, p ({EVENT_DTYPE})")
    return ev.reshape(-1)


def _check_range(file, name, arr, lo, hi):
    bad = (arr < lo) | (arr > hi)
    if bad.any():
        i = int(np.argmax(bad))
        raise ChipsimError(f"event {i} has {name}={int(arr[i])}", file=str(file), field=name,
                           expected=f"{name} in {lo}..{hi}")


# ----------------------------------------------------------------------------- AEDAT 2.0

_DEFAULT_AEDAT2_HEADER = (
    "#!AER-DAT2.0",
    "# This is a raw AE data file created by chipsim",
    "# Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event",
    "# Timestamps tick: 1 us",
    "# AEChip: ch.unizh.ini.jaer.chip.retina.DVS128",
)


def encode_aedat2(stream: EventStream | np.ndarray, header_lines=None, layout: str = "dvs128",
                  *, file: str | os.PathLike = "<bytes>") -> bytes:
    """Inverse of :func:`chipsim.data.aedat.decode_aedat2_bytes`. ``header_lines`` (without
    line endings; a missing leading '#' is added, and so is a missing ``#!AER-DAT2.0`` first line) default to
    a minimal jAER header. Timestamps are stored modulo 2**32; they must be >= 0,
    non-decreasing, and consecutive events less than 2**31 µs apart so that the reader's
    unwrapping restores them."""
    if layout not in AEDAT2_LAYOUTS:
        raise ChipsimError(f"unknown AEDAT 2.0 layout {layout!r}", field="layout",
                           expected=f"one of {', '.join(AEDAT2_LAYOUTS)}")
    ev = _event_array(stream, file)
    t = ev["t"].astype(np.int64)
    x = ev["x"].astype(np.int64)
    y = ev["y"].astype(np.int64)
    p = ev["p"].astype(np.int64)
    W, H, _ = DVS128_SENSOR_SIZE if layout == "dvs128" else DAVIS346_SENSOR_SIZE
    _check_range(file, "x", x, 0, W - 1)
    _check_range(file, "y", y, 0, H - 1)
    _check_range(file, "p", p, 0, 1)
    if len(t):
        _check_range(file, "t", t[:1], 0, _WRAP - 1)
        d = np.diff(t)
        bad = (d < 0) | (d >= _HALF)
        if bad.any():
            i = int(np.argmax(bad)) + 1
            raise ChipsimError(f"event {i} has t={int(t[i])} after t={int(t[i - 1])}",
                               file=str(file), field="t",
                               expected="non-decreasing timestamps less than 2**31 µs apart")
    if layout == "dvs128":
        addr = ((127 - x) << 8) | ((127 - y) << 1) | (1 - p)
    else:
        addr = (((H - 1) - y) << 22) | (((W - 1) - x) << 12) | (p << 11)
    out = np.empty(len(t), dtype=_AEDAT2_DTYPE)
    out["a"] = addr
    out["t"] = t % _WRAP
    lines = list(_DEFAULT_AEDAT2_HEADER if header_lines is None else header_lines)
    lines = [s if s.startswith("#") else "#" + s for s in lines]
    if not lines or lines[0] != _AEDAT2_MAGIC.decode():
        lines.insert(0, _AEDAT2_MAGIC.decode())
    if any("\n" in s or "\r" in s for s in lines):
        raise ChipsimError("a header line contains a line break", field="header_lines",
                           expected="single-line strings")
    head = "".join(s + "\r\n" for s in lines).encode("latin-1")
    return head + out.tobytes()


def write_aedat2(path: str | os.PathLike, stream: EventStream | np.ndarray, header_lines=None,
                 layout: str = "dvs128") -> None:
    """Write a jAER AEDAT 2.0 file, the inverse of :func:`chipsim.data.aedat.read_aedat2` (see
    :func:`encode_aedat2`)."""
    _write_file(path, encode_aedat2(stream, header_lines, layout, file=path))


# ----------------------------------------------------------------------------- AEDAT 3.1

def encode_aedat3(stream: EventStream | np.ndarray, *, packet_events: int = 4096,
                  source: str = "DVS128", file: str | os.PathLike = "<bytes>") -> bytes:
    """Inverse of :func:`chipsim.data.aedat.decode_aedat3_bytes`: polarity packets of at most ``packet_events``
    events; a new packet starts wherever ``t >> 31`` (the overflow counter) changes."""
    ev = _event_array(stream, file)
    t = ev["t"].astype(np.int64)
    x = ev["x"].astype(np.int64)
    y = ev["y"].astype(np.int64)
    p = ev["p"].astype(np.int64)
    _check_range(file, "x", x, 0, 0x1FFF)
    _check_range(file, "y", y, 0, 0x1FFF)
    _check_range(file, "p", p, 0, 1)
    _check_range(file, "t", t, 0, 2 ** 62)
    if packet_events < 1:
        raise ChipsimError(f"packet_events={packet_events}", field="packet_events",
                           expected="at least 1")
    words = np.empty(len(t), dtype=[("d", "<u4"), ("t", "<i4")])
    words["d"] = (x << 17) | (y << 2) | (p << 1) | 1
    words["t"] = t & (_HALF - 1)
    ovf = t >> 31
    cuts = set(range(0, len(t), packet_events))
    cuts.update((np.flatnonzero(np.diff(ovf)) + 1).tolist())
    bounds = sorted(cuts) + [len(t)]
    head = (f"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: {source}\r\n"
            f"#Start-Time: 1970-01-01 00:00:00 (TZ+0000)\r\n#!END-HEADER\r\n").encode()
    chunks = [head]
    for a, b in zip(bounds[:-1], bounds[1:]):
        k = b - a
        chunks.append(_PKT3.pack(POLARITY_EVENT, 1, 8, 4, int(ovf[a]), k, k, k))
        chunks.append(words[a:b].tobytes())
    return b"".join(chunks)


def write_aedat3(path: str | os.PathLike, stream: EventStream | np.ndarray, *,
                 packet_events: int = 4096, source: str = "DVS128") -> None:
    """Write a cAER AEDAT 3.1 file of polarity packets (inverse of :func:`chipsim.data.aedat.read_aedat3`)."""
    _write_file(path, encode_aedat3(stream, packet_events=packet_events, source=source,
                                    file=path))


# ----------------------------------------------------------------------------- AEDAT 4.0

def _io_header(compression: int, xml: bytes) -> bytes:
    """A hand-built IOHeader FlatBuffer (identifier IOHE): compression, dataTablePosition -1,
    infoNode string. Layout as the DV software writes it (vtable [10, 20, 4, 12, 8])."""
    head = struct.pack("<I4s", 20, b"IOHE")                         # root table at 20
    vtable = struct.pack("<5H", 10, 20, 4, 12, 8) + b"\0\0"         # at 8..20
    table = struct.pack("<iiIq", 12, compression, 40 - 28, -1)      # at 20..40
    string = struct.pack("<I", len(xml)) + xml + b"\0"
    string += b"\0" * (-len(string) % 4)
    return head + vtable + table + string


def _event_packet(chunk: np.ndarray) -> bytes:
    """A size-prefixed EventPacket FlatBuffer (identifier EVTS) holding ``chunk``."""
    n = len(chunk)
    body = struct.pack("<I4s", 20 - 4, b"EVTS")      # root uoffset at 4 -> table at 20
    body += struct.pack("<3H", 6, 8, 4) + b"\0\0"    # vtable at 12
    body += struct.pack("<iII", 20 - 12, 4, n)       # table at 20, vector at 28, elements at 32
    return struct.pack("<I", len(body) + 16 * n) + body + chunk.tobytes()


def encode_aedat4(stream: EventStream | np.ndarray, *, sensor_size=None,
                  compression: str = "lz4", packet_events: int = 4096,
                  file: str | os.PathLike = "<bytes>") -> bytes:
    """Inverse of :func:`chipsim.data.aedat.read_aedat4`: one EVTS stream (id 0) in packets of at most
    ``packet_events`` events, compressed with ``'lz4'`` (LZ4 frame, as DV writes) or
    ``'none'``; no file data table (dataTablePosition -1)."""
    ev = _event_array(stream, file)
    if sensor_size is None:
        sensor_size = stream.sensor_size if isinstance(stream, EventStream) else None
    if sensor_size is None:
        raise ChipsimError("no sensor size", field="sensor_size",
                           expected="an EventStream or sensor_size=(W, H, P)")
    W, H = int(sensor_size[0]), int(sensor_size[1])
    if compression not in ("lz4", "none"):
        raise ChipsimError(f"compression {compression!r}", field="compression",
                           expected="'lz4' or 'none'")
    if packet_events < 1:
        raise ChipsimError(f"packet_events={packet_events}", field="packet_events",
                           expected="at least 1")
    _check_range(file, "x", ev["x"].astype(np.int64), 0, W - 1)
    _check_range(file, "y", ev["y"].astype(np.int64), 0, H - 1)
    _check_range(file, "p", ev["p"].astype(np.int64), 0, 1)
    _check_range(file, "t", ev["t"].astype(np.int64), 0, 2 ** 63 - 1)
    raw = np.zeros(len(ev), dtype=_EVT4)
    raw["t"] = ev["t"]
    raw["x"] = ev["x"]
    raw["y"] = ev["y"]
    raw["on"] = ev["p"]
    comp_name = "LZ4" if compression == "lz4" else "NONE"
    xml = (
        '<dv version="2.0">\n'
        '    <node name="outInfo" path="/mainloop/Recorder/outInfo/">\n'
        '        <node name="0" path="/mainloop/Recorder/outInfo/0/">\n'
        f'            <attr key="compression" type="string">{comp_name}</attr>\n'
        '            <attr key="originalModuleName" type="string">chipsim</attr>\n'
        '            <attr key="originalOutputName" type="string">events</attr>\n'
        '            <attr key="typeDescription" type="string">Array of events (polarity ON/OFF).'
        '</attr>\n'
        '            <attr key="typeIdentifier" type="string">EVTS</attr>\n'
        '            <node name="info" path="/mainloop/Recorder/outInfo/0/info/">\n'
        f'                <attr key="sizeX" type="int">{W}</attr>\n'
        f'                <attr key="sizeY" type="int">{H}</attr>\n'
        '                <attr key="source" type="string">chipsim</attr>\n'
        '                <attr key="tsOffset" type="long">0</attr>\n'
        '            </node>\n'
        '        </node>\n'
        '    </node>\n'
        '</dv>\n').encode()
    header = _io_header(1 if compression == "lz4" else 0, xml)
    chunks = [_AEDAT4_MAGIC, struct.pack("<i", len(header)), header]
    if compression == "lz4":
        import lz4.frame  # LZ4 frame packets, as DV writes them; see pyproject.toml
    for a in range(0, len(raw), packet_events):
        payload = _event_packet(raw[a:a + packet_events])
        if compression == "lz4":
            payload = lz4.frame.compress(payload)
        chunks.append(struct.pack("<ii", 0, len(payload)))
        chunks.append(payload)
    return b"".join(chunks)


def write_aedat4(path: str | os.PathLike, stream: EventStream | np.ndarray, *,
                 sensor_size=None, compression: str = "lz4", packet_events: int = 4096) -> None:
    """Write an AEDAT 4.0 file with one event stream (inverse of :func:`chipsim.data.aedat.read_aedat4`)."""
    _write_file(path, encode_aedat4(stream, sensor_size=sensor_size, compression=compression,
                                    packet_events=packet_events, file=path))


# ----------------------------------------------------------------------------- N-MNIST

def encode_nmnist(events: EventStream | np.ndarray, *, file: str | os.PathLike = "<bytes>"
                  ) -> bytes:
    """Inverse of :func:`chipsim.data.nmnist.decode_nmnist_bytes`. Timestamps beyond 23 bits are encoded with the
    fewest overflow markers (``x=0, y=240``, zero timestamp) needed; this needs timestamps that
    never fall by more than what the markers already inserted allow (sorted streams always
    work)."""
    ev = events.events if isinstance(events, EventStream) else np.asarray(events)
    if ev.dtype.names is None or not {"t", "x", "y", "p"} <= set(ev.dtype.names):
        raise ChipsimError(f"events have dtype {ev.dtype}", file=str(file), field="events",
                           expected=f"a structured array with fields t, x, y, p ({EVENT_DTYPE})")
    ev = ev.reshape(-1)
    t = ev["t"].astype(np.int64)
    x = ev["x"].astype(np.int64)
    y = ev["y"].astype(np.int64)
    p = ev["p"].astype(np.int64)
    for name, arr, lo, hi in (("x", x, 0, _COORD_MAX), ("y", y, 0, _COORD_MAX), ("p", p, 0, 1)):
        bad = (arr < lo) | (arr > hi)
        if bad.any():
            i = int(np.argmax(bad))
            raise ChipsimError(f"event {i} has {name}={int(arr[i])}", file=str(file), field=name,
                               expected=f"{name} in {lo}..{hi}")
    if (t < 0).any():
        i = int(np.argmax(t < 0))
        raise ChipsimError(f"event {i} has t={int(t[i])}", file=str(file), field="t",
                           expected="t >= 0 µs")
    # Fewest markers before each event so that its stored 23-bit time fits; markers only ever
    # add, so the count must be non-decreasing along the stream.
    need = np.maximum(0, -((_T_MAX - t) // OVERFLOW_INCREMENT_US))  # ceil((t - T_MAX) / inc)
    k = np.maximum.accumulate(need) if len(need) else need
    stored = t - k * OVERFLOW_INCREMENT_US
    if (stored < 0).any():
        i = int(np.argmax(stored < 0))
        raise ChipsimError(
            f"event {i} (t={int(t[i])} µs) comes too long after a later-timed event to be "
            f"encoded with overflow markers", file=str(file), field="t",
            expected="timestamps sorted (non-decreasing)")
    n = len(t)
    n_markers = int(k[-1]) if n else 0
    out = np.zeros((n + n_markers, RECORD_BYTES), dtype=np.uint8)
    out[:, 1] = OVERFLOW_Y                      # every row a marker unless overwritten below
    rows = np.arange(n, dtype=np.int64) + k     # event i sits after its k[i] markers
    out[rows, 0] = x
    out[rows, 1] = y
    out[rows, 2] = (p << 7) | ((stored >> 16) & 0x7F)
    out[rows, 3] = (stored >> 8) & 0xFF
    out[rows, 4] = stored & 0xFF
    return out.tobytes()


def write_nmnist(path: str | os.PathLike, events: EventStream | np.ndarray) -> None:
    """Write events in the N-MNIST 5-byte format (the inverse of :func:`chipsim.data.nmnist.read_nmnist`),
    inserting overflow markers where ``t >= 2**23``."""
    p = Path(path)
    data = encode_nmnist(events, file=p)
    try:
        p.write_bytes(data)
    except OSError as exc:
        raise ChipsimError(f"cannot write file: {exc.strerror or exc}", file=str(p),
                           expected="a writable path") from None


# ----------------------------------------------------------------------------- SHD

def write_shd(path: str | os.PathLike, samples, labels, speakers=None) -> None:
    """Write an SHD-layout HDF5 file (the inverse of :func:`chipsim.data.shd.read_shd`). ``samples`` is a list
    of ``(times_s, units)`` pairs or of :class:`EventStream` (``t`` in µs, ``x`` = unit);
    times are stored as float64 seconds and units as uint16, as variable-length arrays."""
    import h5py

    p = Path(path)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(labels) != len(samples):
        raise ChipsimError(f"{len(samples)} samples but {len(labels)} labels", field="labels",
                           expected="one label per sample")
    pairs = []
    for s in samples:
        if isinstance(s, EventStream):
            pairs.append((s.events["t"].astype(np.float64) / 1e6, s.events["x"]))
        else:
            ts, un = s
            pairs.append((np.asarray(ts, dtype=np.float64), np.asarray(un)))
    for i, (ts, un) in enumerate(pairs):
        if len(ts) != len(un) or ((un < 0) | (un >= SHD_SENSOR_SIZE[0])).any():
            raise ChipsimError(f"sample {i} has {len(ts)} times, {len(un)} units "
                               f"(range {un.min() if len(un) else '-'}..{un.max() if len(un) else '-'})",
                               file=str(p), field="samples",
                               expected="as many times as units, units 0..699")
    try:
        with h5py.File(p, "w") as f:
            tt = f.create_dataset("spikes/times", (len(pairs),),
                                  dtype=h5py.vlen_dtype(np.dtype("float64")))
            uu = f.create_dataset("spikes/units", (len(pairs),),
                                  dtype=h5py.vlen_dtype(np.dtype("uint16")))
            for i, (ts, un) in enumerate(pairs):
                tt[i] = ts
                uu[i] = un.astype(np.uint16)
            f.create_dataset("labels", data=labels.astype(np.uint16))
            spk = np.zeros(len(labels), np.uint16) if speakers is None else np.asarray(speakers)
            f.create_dataset("extra/speaker", data=spk)
    except OSError as exc:
        raise ChipsimError(f"cannot write file: {exc}", file=str(p),
                           expected="a writable path") from None
