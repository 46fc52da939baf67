"""Readers for the AEDAT event-camera containers (docs/data_formats.md).

* **AEDAT 2.0** (jAER; original CIFAR10-DVS, MNIST-DVS, older DVS128 recordings):
  :func:`read_aedat2`, :func:`read_aedat2_header`.
* **AEDAT 3.1** (cAER; DVS128 Gesture): :func:`read_aedat3`, :func:`read_gesture_labels`,
  :func:`split_by_labels`.
* **AEDAT 4.0** (DV; tonic's CIFAR10-DVS, the DVXplorer fixture): :func:`read_aedat4`.

The writers (the inverse of each reader) are used only by the tests and live in
``tests/writers.py``.

Every reader decodes with vectorised numpy (Python loops run over header lines and packets,
never over events), never reads past the end of the file, and turns every problem with a file
into a :class:`~chipsim.errors.ChipsimError` that names the file and the byte offset.

Conventions chosen (see docs/data_formats.md for why the libraries differ):

* AEDAT 2.0, layout ``'dvs128'``: SpikingJelly's ``x = 127 - yfield, y = 127 - xfield,
  p = 1 - bit0`` (the de-facto reference for published CIFAR10-DVS accuracies; images come out
  upright with row ``y`` counted downwards). Layout ``'davis346'``: tonic's
  ``x = 345 - xfield, y = 259 - yfield, p = bit 11``; APS/IMU words (bit 31 set) are dropped.
  Timestamps are read as unsigned 32-bit µs and unwrapped: every backwards jump larger than
  2**31 adds 2**32 to all later events (smaller backwards jumps are kept as they are).
* AEDAT 3.1: polarity packets only (type 1); events whose valid bit (bit 0) is clear are dropped;
  ``t = (eventTSOverflow << 31) | timestamp``.
* AEDAT 4.0: decoded here with the ``lz4`` package (LZ4-frame packets) and a small,
  bounds-checked FlatBuffer parser (IOHeader, size-prefixed ``EVTS`` EventPackets, 16-byte
  event structs read with one ``np.frombuffer`` per packet); the info-node XML is parsed with
  ``xml.etree``. The ``aedat`` package (Rust, what tonic uses) reads the real fixture
  identically but aborts the whole Python process (a Rust panic across the FFI boundary,
  SIGABRT) on some corrupt files, e.g. an info node that is not UTF-8, so it cannot be the
  reader of untrusted files; the tests use it only as an independent cross-check.
"""

from __future__ import annotations

import csv
import os
import struct
from pathlib import Path

import numpy as np

from chipsim.data.events import EVENT_DTYPE, EventStream, read_event_file
from chipsim.errors import ChipsimError
from chipsim.memory import available, human

DVS128_SENSOR_SIZE: tuple[int, int, int] = (128, 128, 2)
DAVIS346_SENSOR_SIZE: tuple[int, int, int] = (346, 260, 2)
AEDAT2_LAYOUTS = ("dvs128", "davis346")

_AEDAT2_MAGIC = b"#!AER-DAT2.0"
_AEDAT3_MAGIC = b"#!AER-DAT3"
_AEDAT4_MAGIC = b"#!AER-DAT4.0\r\n"
_AEDAT2_DTYPE = np.dtype([("a", ">u4"), ("t", ">u4")])
MAX_AEDAT4_PACKET_BYTES = 256 * 2**20
_WRAP = 2 ** 32
_HALF = 2 ** 31


# ----------------------------------------------------------------------------- helpers

#: memory a reader uses per byte of file while decoding it (the bytes, the decoded fields as
#: int64, the events): what read_event_file checks against the memory available
_EXPANSION = {"AEDAT 2.0": 8.0, "AEDAT 3.1": 8.0, "AEDAT 4.0": 3.0}


def _read_file(path: str | os.PathLike, what: str) -> tuple[Path, bytes]:
    p = Path(path)
    return p, read_event_file(p, what, _EXPANSION.get(what, 8.0))


def _header_lines(data: bytes, file: Path, magic: bytes, end_line: bytes | None,
                  fmt: str) -> tuple[list[str], int]:
    """Split the '#' header lines off ``data``. Stops before the first byte that is not '#'
    or after the line ``end_line`` (compared without its line ending). Returns the lines
    (without line endings) and the offset of the first body byte."""
    if not data.startswith(magic):
        got = data[:len(magic)]
        raise ChipsimError(f"the file starts with {got!r}, not the {fmt} magic line",
                           file=str(file), expected=f"a first line {magic.decode().strip()!r} "
                                                    f"(an {fmt} file)")
    lines: list[str] = []
    pos = 0
    n = len(data)
    while pos < n and data[pos:pos + 1] == b"#":
        nl = data.find(b"\n", pos)
        if nl < 0:
            raise ChipsimError(f"header line at byte offset {pos} has no end of line "
                               f"(file ends at byte {n})", file=str(file),
                               expected=f"{fmt} header lines ending in '\\n'")
        line = data[pos:nl].rstrip(b"\r")
        lines.append(line.decode("latin-1"))
        pos = nl + 1
        if end_line is not None and line == end_line:
            return lines, pos
        if end_line is None and line.startswith(b"#End Of ASCII Header"):
            return lines, pos
    if end_line is not None:
        raise ChipsimError(f"no {end_line.decode()!r} line: the header stops at byte offset "
                           f"{pos}", file=str(file), expected=f"an {fmt} header ending in "
                                                            f"{end_line.decode()!r}")
    return lines, pos


# ----------------------------------------------------------------------------- AEDAT 2.0

def read_aedat2_header(path: str | os.PathLike) -> dict:
    """Parse only the ASCII header of a jAER AEDAT 2.0 file.

    Returns ``{'version': '2.0', 'lines': [...], 'data_offset': int, 'n_events': int,
    'creation_time_ms': int | None, 'chip': str | None}``."""
    p, data = _read_file(path, "AEDAT 2.0")
    lines, offset = _header_lines(data, p, _AEDAT2_MAGIC, None, "AEDAT 2.0")
    info = {"version": "2.0", "lines": lines, "data_offset": offset,
            "n_events": (len(data) - offset) // 8, "creation_time_ms": None, "chip": None}
    for line in lines:
        body = line.lstrip("#").strip()
        if body.startswith("Creation time:"):
            digits = body.rsplit(None, 1)[-1]
            if digits.isdigit():
                info["creation_time_ms"] = int(digits)
        elif body.startswith("AEChip:"):
            info["chip"] = body.split(":", 1)[1].strip()
    return info


def decode_aedat2_bytes(data: bytes, layout: str = "dvs128", *,
                        file: str | os.PathLike = "<bytes>") -> EventStream:
    """Decode an in-memory AEDAT 2.0 file (see :func:`read_aedat2`)."""
    file = Path(file)
    if layout not in AEDAT2_LAYOUTS:
        raise ChipsimError(f"unknown AEDAT 2.0 layout {layout!r}", field="layout",
                           expected=f"one of {', '.join(AEDAT2_LAYOUTS)}")
    _, start = _header_lines(data, file, _AEDAT2_MAGIC, None, "AEDAT 2.0")
    body = len(data) - start
    if body % 8:
        bad = start + body - body % 8
        raise ChipsimError(
            f"the event data ({body} bytes from byte offset {start}) is not a whole number of "
            f"8-byte events; the truncated last event starts at byte offset {bad}",
            file=str(file), expected="big-endian (uint32 address, int32 timestamp) pairs")
    raw = np.frombuffer(data, dtype=_AEDAT2_DTYPE, offset=start, count=body // 8)
    addr = raw["a"].astype(np.int64)
    t = raw["t"].astype(np.int64)
    if len(t) > 1:
        wraps = np.diff(t) < -_HALF
        if wraps.any():
            t[1:] += np.cumsum(wraps, dtype=np.int64) * _WRAP
    if layout == "dvs128":
        xfield = (addr & 0xFE) >> 1
        yfield = (addr & 0x7F00) >> 8
        ev = np.empty(len(addr), dtype=EVENT_DTYPE)
        ev["t"] = t
        ev["x"] = 127 - yfield
        ev["y"] = 127 - xfield
        ev["p"] = 1 - (addr & 1)
        return EventStream(ev, DVS128_SENSOR_SIZE)
    # davis346
    keep = (addr >> 31) == 0
    addr = addr[keep]
    xfield = (addr >> 12) & 0x3FF
    yfield = (addr >> 22) & 0x1FF
    W, H, _ = DAVIS346_SENSOR_SIZE
    bad = (xfield >= W) | (yfield >= H)
    if bad.any():
        i = int(np.flatnonzero(keep)[int(np.argmax(bad))])
        raise ChipsimError(
            f"event {i} at byte offset {start + 8 * i} has x={int(xfield[np.argmax(bad)])}, "
            f"y={int(yfield[np.argmax(bad)])}, outside the DAVIS346 sensor", file=str(file),
            expected=f"x in 0..{W - 1} and y in 0..{H - 1}")
    ev = np.empty(len(addr), dtype=EVENT_DTYPE)
    ev["t"] = t[keep]
    ev["x"] = (W - 1) - xfield
    ev["y"] = (H - 1) - yfield
    ev["p"] = (addr >> 11) & 1
    return EventStream(ev, DAVIS346_SENSOR_SIZE)


def read_aedat2(path: str | os.PathLike, layout: str = "dvs128") -> EventStream:
    """Read a jAER AEDAT 2.0 file.

    ``layout='dvs128'`` (CIFAR10-DVS, MNIST-DVS): sensor (128, 128, 2), SpikingJelly's
    orientation ``x = 127 - yfield, y = 127 - xfield, p = 1 - bit0``.
    ``layout='davis346'``: sensor (346, 260, 2), polarity events only, tonic's flips.
    Timestamps are unwrapped past 32 bits (module docstring)."""
    p, data = _read_file(path, "AEDAT 2.0")
    return decode_aedat2_bytes(data, layout, file=p)


# ----------------------------------------------------------------------------- AEDAT 3.1

_AEDAT3_END = b"#!END-HEADER"
_PKT3 = struct.Struct("<hhiiiiii")   # type, source, size, tsOffset, tsOverflow, capacity, number, valid
POLARITY_EVENT = 1
_AEDAT3_SENSORS = {"DVS128": (128, 128, 2), "DAVIS240": (240, 180, 2), "DAVIS346": (346, 260, 2),
                   "DVXPLORER": (640, 480, 2)}


def _aedat3_sensor(lines: list[str]) -> tuple[int, int, int] | None:
    for line in lines:
        body = line.lstrip("#").strip()
        if body.lower().startswith("source") and ":" in body:
            name = body.split(":", 1)[1].strip().upper()
            for key, size in _AEDAT3_SENSORS.items():
                if name.startswith(key):
                    return size
    return None


def decode_aedat3_bytes(data: bytes, *, file: str | os.PathLike = "<bytes>") -> EventStream:
    """Decode an in-memory AEDAT 3.1 file (see :func:`read_aedat3`)."""
    file = Path(file)
    lines, pos = _header_lines(data, file, _AEDAT3_MAGIC, _AEDAT3_END, "AEDAT 3.1")
    n = len(data)
    parts = []
    while pos < n:
        if n - pos < _PKT3.size:
            raise ChipsimError(f"truncated packet header at byte offset {pos} ({n - pos} of "
                               f"{_PKT3.size} bytes)", file=str(file),
                               expected="whole AEDAT 3.1 packets")
        etype, _src, esize, tsoff, tsovf, _cap, number, _valid = _PKT3.unpack_from(data, pos)
        if esize <= 0 or number < 0 or tsovf < 0:
            raise ChipsimError(f"packet at byte offset {pos} has eventSize={esize}, "
                               f"eventNumber={number}, eventTSOverflow={tsovf}", file=str(file),
                               expected="eventSize > 0, eventNumber >= 0, eventTSOverflow >= 0")
        body = pos + _PKT3.size
        end = body + esize * number
        if end > n:
            raise ChipsimError(f"packet at byte offset {pos} holds {number} events of {esize} "
                               f"bytes, running to byte {end} past the end of the file "
                               f"({n} bytes)", file=str(file), expected="whole AEDAT 3.1 packets")
        if etype == POLARITY_EVENT and number:
            if esize < 8 or tsoff != 4:
                raise ChipsimError(f"polarity packet at byte offset {pos} has eventSize={esize}, "
                                   f"eventTSOffset={tsoff}", file=str(file),
                                   expected="eventSize >= 8 and eventTSOffset 4")
            dt = np.dtype({"names": ["d", "t"], "formats": ["<u4", "<i4"], "offsets": [0, 4],
                           "itemsize": esize})
            raw = np.frombuffer(data, dtype=dt, count=number, offset=body)
            valid = (raw["d"] & 1).astype(bool)
            d = raw["d"][valid]
            ts = raw["t"][valid]
            if (ts < 0).any():
                i = int(np.flatnonzero(valid)[int(np.argmax(ts < 0))])
                raise ChipsimError(f"event at byte offset {body + i * esize} has a negative "
                                   f"timestamp {int(raw['t'][i])}", file=str(file),
                                   expected="31-bit timestamps (0..2**31-1)")
            ev = np.empty(len(d), dtype=EVENT_DTYPE)
            ev["t"] = (np.int64(tsovf) << 31) | ts.astype(np.int64)
            ev["x"] = (d >> 17) & 0x1FFF
            ev["y"] = (d >> 2) & 0x1FFF
            ev["p"] = (d >> 1) & 1
            parts.append((body, esize, np.flatnonzero(valid), ev))
        pos = end
    ev = np.concatenate([e for *_, e in parts]) if parts else np.empty(0, dtype=EVENT_DTYPE)
    size = _aedat3_sensor(lines)
    if size is None:
        size = (int(ev["x"].max()) + 1 if len(ev) else 1, int(ev["y"].max()) + 1 if len(ev) else 1,
                2)
    W, H, _ = size
    for body, esize, idx, e in parts:
        bad = (e["x"] >= W) | (e["y"] >= H)
        if bad.any():
            k = int(np.argmax(bad))
            raise ChipsimError(f"event at byte offset {body + int(idx[k]) * esize} has "
                               f"x={int(e['x'][k])}, y={int(e['y'][k])}, outside the "
                               f"{W}x{H} sensor", file=str(file),
                               expected=f"x in 0..{W - 1}, y in 0..{H - 1}")
    return EventStream(ev, size)


def read_aedat3(path: str | os.PathLike) -> EventStream:
    """Read the polarity events of a cAER AEDAT 3.1 file (DVS128 Gesture). The sensor size
    comes from the ``#Source N: NAME`` header line (DVS128 -> (128, 128, 2)); an unknown
    source gives ``(max x + 1, max y + 1, 2)``."""
    p, data = _read_file(path, "AEDAT 3.1")
    return decode_aedat3_bytes(data, file=p)


def read_gesture_labels(csv_path: str | os.PathLike) -> list[tuple[int, int, int]]:
    """Read a DVS128 Gesture ``userNN_<light>_labels.csv`` (``class,startTime_usec,
    endTime_usec``). Returns ``[(class 0..10, start_us, end_us), ...]`` (the CSV's 1..11
    shifted down by one)."""
    p = Path(csv_path)
    if not p.is_file():
        raise ChipsimError("file not found", file=str(p), expected="a DVS128 Gesture labels CSV")
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ChipsimError(f"cannot read file: {exc.strerror or exc}", file=str(p),
                           expected="a readable labels CSV") from None
    out = []
    for lineno, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not "".join(row).strip():
            continue
        if lineno == 1 and not row[0].strip().lstrip("-").isdigit():
            continue   # the header row
        try:
            c, s, e = (int(v) for v in row[:3])
            if len(row) != 3:
                raise ValueError
        except ValueError:
            raise ChipsimError(f"line {lineno} is {','.join(row)!r}", file=str(p),
                               expected="three integers class,startTime_usec,endTime_usec"
                               ) from None
        if not 1 <= c <= 11 or e < s:
            raise ChipsimError(f"line {lineno} has class {c}, start {s}, end {e}", file=str(p),
                               expected="class 1..11 and endTime_usec >= startTime_usec")
        out.append((c - 1, s, e))
    return out


def split_by_labels(stream: EventStream, labels) -> list[tuple[EventStream, int]]:
    """Cut a recording into labelled trials: for each ``(class, start_us, end_us)`` the events
    with ``start_us <= t < end_us`` (as SpikingJelly's DVS128 Gesture preprocessing does).
    Timestamps are kept absolute."""
    t = stream.events["t"]
    ordered = bool(len(t) < 2 or (np.diff(t) >= 0).all())
    out = []
    for c, s, e in labels:
        if ordered:
            a, b = np.searchsorted(t, [s, e], side="left")
            sl = stream.events[a:b].copy()
        else:
            sl = stream.events[(t >= s) & (t < e)]
        out.append((EventStream(sl, stream.sensor_size), int(c)))
    return out


# ----------------------------------------------------------------------------- AEDAT 4.0

COMPRESSION = {0: "none", 1: "lz4", 2: "lz4-high", 3: "zstd", 4: "zstd-high"}
_EVT4 = np.dtype({"names": ["t", "x", "y", "on"], "formats": ["<i8", "<i2", "<i2", "u1"],
                  "offsets": [0, 8, 10, 12], "itemsize": 16})
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U16 = struct.Struct("<H")


def _fb_need(buf: bytes, off: int, k: int, what: str, file, where: str) -> None:
    if off < 0 or off + k > len(buf):
        raise ChipsimError(f"{where}: FlatBuffer {what} at offset {off} lies outside the "
                           f"{len(buf)}-byte buffer", file=str(file),
                           expected="a valid AEDAT 4.0 FlatBuffer")


def _fb_root(buf: bytes, base: int, file, where: str) -> int:
    """Offset of the root table of the FlatBuffer starting at ``base`` in ``buf``."""
    _fb_need(buf, base, 4, "root offset", file, where)
    return base + _U32.unpack_from(buf, base)[0]


def _fb_table_field(buf: bytes, table: int, field: int, size: int, file, where: str):
    """Offset in ``buf`` of field ``field`` (``size`` bytes) of the FlatBuffer table at
    ``table``, or None if the field is absent. Every read is bounds-checked."""
    _fb_need(buf, table, 4, "table", file, where)
    vt = table - _I32.unpack_from(buf, table)[0]
    _fb_need(buf, vt, 4, "vtable", file, where)
    vsize = _U16.unpack_from(buf, vt)[0]
    if 4 + 2 * field + 2 > vsize:
        return None
    _fb_need(buf, vt, 4 + 2 * field + 2, "vtable", file, where)
    off = _U16.unpack_from(buf, vt + 4 + 2 * field)[0]
    if off == 0:
        return None
    _fb_need(buf, table + off, size, f"field {field}", file, where)
    return table + off


def _fb_indirect(buf: bytes, pos: int, file, where: str) -> int:
    """Follow the uoffset stored at ``pos`` (to a vector or string); returns its position."""
    target = pos + _U32.unpack_from(buf, pos)[0]
    _fb_need(buf, target, 4, "vector length", file, where)
    return target


def _scan_aedat4(data: bytes, file: Path):
    """Walk the AEDAT 4.0 container. Returns (compression, info-node XML text, packets) with
    packets as (file offset, stream id, payload size). Raises ChipsimError with a byte offset."""
    n = len(data)
    if not data.startswith(_AEDAT4_MAGIC):
        raise ChipsimError(f"the file starts with {data[:len(_AEDAT4_MAGIC)]!r}, not the "
                           "AEDAT 4.0 magic line", file=str(file),
                           expected="a first line '#!AER-DAT4.0' (an AEDAT 4.0 file)")
    pos = len(_AEDAT4_MAGIC)
    if n < pos + 4:
        raise ChipsimError(f"the file ends at byte {n}, inside the IOHeader size at byte offset "
                           f"{pos}", file=str(file), expected="an int32 IOHeader size")
    hsize = _I32.unpack_from(data, pos)[0]
    hstart = pos + 4
    if hsize < 8 or hstart + hsize > n:
        raise ChipsimError(f"IOHeader size {hsize} at byte offset {pos} runs past the end of the "
                           f"file ({n} bytes)" if hsize >= 8 else
                           f"IOHeader size {hsize} at byte offset {pos} is too small",
                           file=str(file), expected="an IOHeader inside the file")
    buf = data[hstart:hstart + hsize]
    where = f"IOHeader at byte offset {hstart}"
    root = _fb_root(buf, 0, file, where)
    f_comp = _fb_table_field(buf, root, 0, 4, file, where)
    f_dtp = _fb_table_field(buf, root, 1, 8, file, where)
    f_xml = _fb_table_field(buf, root, 2, 4, file, where)
    compression = 0 if f_comp is None else _I32.unpack_from(buf, f_comp)[0]
    dtp = -1 if f_dtp is None else struct.unpack_from("<q", buf, f_dtp)[0]
    if compression not in COMPRESSION:
        raise ChipsimError(f"{where}: compression {compression}", file=str(file),
                           expected="0..4 (none, LZ4, LZ4-high, zstd, zstd-high)")
    xml = ""
    if f_xml is not None:
        s = _fb_indirect(buf, f_xml, file, where)
        k = _U32.unpack_from(buf, s)[0]
        _fb_need(buf, s + 4, k, "info-node string", file, where)
        try:
            xml = buf[s + 4:s + 4 + k].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ChipsimError(f"{where}: the info-node string is not UTF-8 ({exc.reason} at "
                               f"string byte {exc.start})", file=str(file),
                               expected="a UTF-8 XML info node") from None
    pos = hstart + hsize
    if 0 <= dtp < pos:
        raise ChipsimError(f"IOHeader dataTablePosition {dtp} lies inside the header (packets "
                           f"start at byte offset {pos})", file=str(file),
                           expected="a data table position after the packets")
    limit = n if dtp < 0 else min(dtp, n)
    packets = []
    while pos < limit:
        if limit - pos < 8:
            raise ChipsimError(f"truncated packet header at byte offset {pos} ({limit - pos} of "
                               "8 bytes)", file=str(file), expected="whole AEDAT 4.0 packets")
        sid, size = struct.unpack_from("<ii", data, pos)
        if sid < 0 or size < 0 or pos + 8 + size > limit:
            raise ChipsimError(f"packet at byte offset {pos} (stream {sid}) has size {size}, "
                               f"running past byte {limit}" if size >= 0 and sid >= 0 else
                               f"packet at byte offset {pos} has stream id {sid}, size {size}",
                               file=str(file), expected="whole AEDAT 4.0 packets")
        packets.append((pos, sid, size))
        pos += 8 + size
    if dtp > n:
        raise ChipsimError(f"the file ends at byte {n}, before the data table at byte offset "
                           f"{dtp} that the IOHeader names (truncated file?)", file=str(file),
                           expected="a complete AEDAT 4.0 file")
    return compression, xml, packets


def _aedat4_streams(xml: str, file: Path) -> dict[int, dict]:
    """Streams listed in the info-node XML: ``{id: {'type': 'EVTS', 'sizeX': .., 'sizeY': ..}}``."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ChipsimError(f"the IOHeader info node is not well-formed XML ({exc})",
                           file=str(file), expected="a DV info node (<dv version=\"2.0\">)"
                           ) from None
    out: dict[int, dict] = {}
    for node in root.iter("node"):
        name = node.get("name", "")
        if not name.isdigit():
            continue
        attrs = {a.get("key"): (a.text or "").strip() for a in node.iter("attr")}
        if "typeIdentifier" in attrs:
            out[int(name)] = {"type": attrs["typeIdentifier"], "sizeX": attrs.get("sizeX"),
                              "sizeY": attrs.get("sizeY")}
    return out


def _too_big(where: str, declared: int, how: str, file) -> ChipsimError:
    return ChipsimError(f"{where}: {how} declares that it decompresses to {human(declared)} "
                        f"({declared} bytes)", file=str(file),
                        expected=f"event packets of at most {MAX_AEDAT4_PACKET_BYTES // 2**20} "
                                 f"MiB decompressed (DV writes packets of kilobytes)")


def _lz4_packet(payload: bytes, file: Path, where: str, room: int | None) -> bytes:
    """Decompress an LZ4-frame packet, refusing it by its declared size before decompressing:
    the frame header's content size when it gives one, then the FlatBuffer's size prefix (the
    first 4 bytes). At most that many bytes are decompressed. ``room``: bytes the file may
    still decompress to (the memory available), None: no limit."""
    import lz4.frame  # LZ4-frame packets (DV's default); see pyproject.toml
    try:
        declared = int(lz4.frame.get_frame_info(payload).get("content_size") or 0)
        if declared > MAX_AEDAT4_PACKET_BYTES:
            raise _too_big(where, declared, "its LZ4 frame header", file)
        d = lz4.frame.LZ4FrameDecompressor()
        head = d.decompress(payload, max_length=12)
        need = _U32.unpack_from(head, 0)[0] + 4 if len(head) >= 4 else len(head)
        if need > MAX_AEDAT4_PACKET_BYTES:
            raise _too_big(where, need, "its FlatBuffer size prefix", file)
        if room is not None and need > room:
            raise ChipsimError(f"{where}: decompresses to {human(need)}; with the packets "
                               f"before it the file needs more than the {human(room)} of "
                               "memory left for it", file=str(file),
                               expected="an AEDAT 4.0 file whose events fit in memory")
        rest = d.decompress(b"", max_length=need - len(head)) if need > len(head) else b""
        return head + rest
    except ChipsimError:
        raise
    except Exception as exc:  # lz4 raises RuntimeError for a corrupt frame
        raise ChipsimError(f"{where}: cannot decompress the LZ4 frame ({exc})",
                           file=str(file), expected="a valid LZ4 frame") from None


def _decode_event_packet(payload: bytes, compression: int, file: Path, off: int,
                         room: int | None = None) -> np.ndarray:
    where = f"packet at byte offset {off}"
    if compression in (1, 2):
        buf = _lz4_packet(payload, file, where, room)
    elif compression == 0:
        buf = payload
    else:
        raise ChipsimError(f"{where}: {COMPRESSION[compression]} compression is not supported",
                           file=str(file), expected="an uncompressed or LZ4 AEDAT 4.0 file")
    _fb_need(buf, 0, 12, "size prefix and identifier", file, where)
    size = _U32.unpack_from(buf, 0)[0]
    if size + 4 > len(buf):
        raise ChipsimError(f"{where}: FlatBuffer size prefix {size} exceeds the "
                           f"{len(buf) - 4} bytes that follow", file=str(file),
                           expected="a size-prefixed EventPacket FlatBuffer")
    if buf[8:12] != b"EVTS":
        raise ChipsimError(f"{where}: FlatBuffer identifier {bytes(buf[8:12])!r}",
                           file=str(file), expected="an EventPacket (identifier 'EVTS')")
    root = _fb_root(buf, 4, file, where)
    f0 = _fb_table_field(buf, root, 0, 4, file, where)
    if f0 is None:
        return np.empty(0, dtype=_EVT4)
    vec = _fb_indirect(buf, f0, file, where)
    count = _U32.unpack_from(buf, vec)[0]
    _fb_need(buf, vec + 4, 16 * count, f"vector of {count} events", file, where)
    ev = np.frombuffer(buf, dtype=_EVT4, count=count, offset=vec + 4)
    if count and (ev["t"] < 0).any():
        i = int(np.argmax(ev["t"] < 0))
        raise ChipsimError(f"{where}: event {i} has timestamp {int(ev['t'][i])}", file=str(file),
                           expected="timestamps >= 0 (microseconds)")
    return ev


def decode_aedat4_bytes(data: bytes, *, file: str | os.PathLike = "<bytes>") -> EventStream:
    """Decode an in-memory AEDAT 4.0 file (see :func:`read_aedat4`)."""
    file = Path(file)
    compression, xml, packets = _scan_aedat4(data, file)
    streams = _aedat4_streams(xml, file)
    ids = sorted(k for k, v in streams.items() if v["type"] == "EVTS")
    if not ids:
        raise ChipsimError("the info node lists no event (EVTS) stream", file=str(file),
                           expected="an AEDAT 4.0 file with an events stream")
    sid = ids[0]
    try:
        W = int(streams[sid]["sizeX"])
        H = int(streams[sid]["sizeY"])
    except (TypeError, ValueError):
        W = H = 0
    if not (1 <= W <= 32767 and 1 <= H <= 32767):
        raise ChipsimError(f"event stream {sid} has sizeX={streams[sid]['sizeX']}, "
                           f"sizeY={streams[sid]['sizeY']}", file=str(file),
                           expected="sizeX and sizeY in 1..32767 in the info node")
    parts = []
    # the decompressed packets, their concatenation and the events: about 3x the packets
    budget = available()[0]
    used = 0
    for off, s, size in packets:
        if s != sid:
            continue
        room = None if budget is None else max(budget // 3 - used, 0)
        raw = _decode_event_packet(data[off + 8:off + 8 + size], compression, file, off, room)
        used += raw.nbytes
        bad = (raw["x"] < 0) | (raw["x"] >= W) | (raw["y"] < 0) | (raw["y"] >= H) | (raw["on"] > 1)
        if bad.any():
            i = int(np.argmax(bad))
            raise ChipsimError(f"packet at byte offset {off}: event {i} has x={int(raw['x'][i])}, "
                               f"y={int(raw['y'][i])}, on={int(raw['on'][i])}, outside the "
                               f"{W}x{H} sensor", file=str(file),
                               expected=f"x in 0..{W - 1}, y in 0..{H - 1}, on 0 or 1")
        parts.append(raw)
    raw = np.concatenate(parts) if parts else np.empty(0, dtype=_EVT4)
    ev = np.empty(len(raw), dtype=EVENT_DTYPE)
    ev["t"] = raw["t"]
    ev["x"] = raw["x"]
    ev["y"] = raw["y"]
    ev["p"] = raw["on"]
    return EventStream(ev, (W, H, 2))


def read_aedat4(path: str | os.PathLike) -> EventStream:
    """Read the events of the lowest-numbered event (``EVTS``) stream of an AEDAT 4.0 file,
    with sensor size ``(sizeX, sizeY, 2)`` from the info-node XML. Uncompressed and LZ4
    (frame) packets are supported; zstd packets raise :class:`ChipsimError`."""
    p, data = _read_file(path, "AEDAT 4.0")
    return decode_aedat4_bytes(data, file=p)
