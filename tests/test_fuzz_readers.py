"""Fuzz every reader of external input chipsim has (issue 11, part 7).

The readers: the YAML parser, the workload and profile loaders (and ``--set`` overrides), the
event readers (N-MNIST ``.bin``, AEDAT 2.0, 3.1 and 4.0), the data sets' lists (N-MNIST's
labels.csv, DVS128 Gesture's labels CSVs and trials lists), the SHD reader, the results-file
reader (schema 2 and 1) and the frame cache. The property is the same for each: it returns a
valid value or raises :class:`~chipsim.errors.ChipsimError` (one line, naming the file), never
another exception, never runs longer than :data:`HANG_S` seconds, and never allocates more
than :data:`PEAK_BYTES` (tracemalloc: NumPy's arrays and Python's objects) for inputs of a
few kilobytes.

The inputs are mostly structured, not only random bytes: a valid file with its fields, header
lines, packet headers, FlatBuffer offsets or HDF5 datasets and attributes changed to
interesting values; a valid file with bytes flipped; YAML made of YAML's own tokens; shipped
workloads and profiles with lines replaced, removed or repeated. Bytes flipped in the middle of
an HDF5 file are not fed (libhdf5 is not hardened against corrupt metadata and can crash the
process; tests/test_data_shd.py says more): the HDF5 files are changed through h5py.

Budget: ``CHIPSIM_FUZZ`` unset (CI) runs each test's small ``max_examples`` with a fixed seed
(a few seconds for the module); ``CHIPSIM_FUZZ=long`` runs ``CHIPSIM_FUZZ_SCALE`` (default 100)
times as many with random seeds, for a benchmark run (benchmarks/fuzz_readers.py runs it and
prints examples/s). Bugs found are fixed in the reader and kept here as ``@example``s.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import struct
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

import h5py
import lz4.frame
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chipsim.config.profile import HardwareProfile, load_profile, profile_from_text
from chipsim.config.workload import Workload, load_workload
from chipsim.config.yamlio import parse_yaml_text
from chipsim.data import cache as frame_cache
from chipsim.data.aedat import read_aedat2, read_aedat2_header, read_aedat3, read_aedat4
from chipsim.data.datasets import load_nmnist
from chipsim.data.events import EVENT_DTYPE, EventStream
from chipsim.data.eventsets import count_dvsgesture, load_dvsgesture
from chipsim.data.framed import FramedDataset
from chipsim.data.nmnist import read_nmnist
from chipsim.data.shd import read_shd
from chipsim.errors import ChipsimError
from chipsim.report.h5 import read_result, stored_workload_text, write_result
from chipsim.report.summary import format_summary
from tests.report_fixtures import make_result
from tests.writers import (_event_packet, _io_header, encode_aedat2, encode_aedat3, encode_aedat4,
                           write_aedat3, write_nmnist, write_shd)

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ROOT / "tests" / "hostile"
FIXTURES = ROOT / "tests" / "data" / "fixtures"

#: a reader given a few kB that runs longer than this hangs
HANG_S = 20.0
#: a reader given a few kB that allocates more than this is not bounded
PEAK_BYTES = 64 * 2**20

# ------------------------------------------------------------------------------- budget

MODE = os.environ.get("CHIPSIM_FUZZ", "ci").strip().lower() or "ci"
if MODE not in ("ci", "long"):
    raise RuntimeError(f"CHIPSIM_FUZZ={MODE!r}: expected unset, 'ci' or 'long'")
SCALE = int(os.environ.get("CHIPSIM_FUZZ_SCALE", "100")) if MODE == "long" else 1

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
           HealthCheck.large_base_example]
settings.register_profile("chipsim-fuzz-ci", deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=_HEALTH)
settings.register_profile("chipsim-fuzz-long", deadline=None, print_blob=True,
                          suppress_health_check=_HEALTH)


def fuzz(examples: int):
    """The settings of one fuzz test: ``examples`` in CI, SCALE times as many in long mode."""
    return settings(settings.get_profile(f"chipsim-fuzz-{MODE}"),
                    max_examples=max(1, examples * SCALE))


# ------------------------------------------------------------------------- the property

class Hang(BaseException):
    """A reader ran longer than HANG_S (a BaseException: no reader's ``except Exception``
    may swallow it)."""


def _alarm(signum, frame):
    raise Hang(f"still running after {HANG_S:.0f} s")


def _maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024      # KiB on Linux


def outcome(fn, *args, names=None, traced: bool = True, **kw):
    """``fn(*args, **kw)``: its value, or the ChipsimError it raised. Any other exception, a
    call longer than HANG_S or one allocating more than PEAK_BYTES fails the test. A
    ChipsimError must be one line and name the file ``names`` when one is given.

    ``traced``: the allocations are measured with tracemalloc (every NumPy array and Python
    object, even one whose allocation failed: a reader must not try to allocate what a file
    declares); without it (the YAML readers, which allocate only Python objects and which
    tracemalloc slows 5x), by the growth of this process's peak resident memory."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_S)
    trace = traced and not tracemalloc.is_tracing()
    if trace:
        tracemalloc.start()
    rss = _maxrss()
    try:
        try:
            value = fn(*args, **kw)
        except ChipsimError as e:
            value = e
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        peak = tracemalloc.get_traced_memory()[1] if trace else _maxrss() - rss
        if trace:
            tracemalloc.stop()
    assert peak < PEAK_BYTES, f"{fn.__name__} allocated {peak / 2**20:.0f} MiB"
    if isinstance(value, ChipsimError):
        msg = str(value)
        assert "\n" not in msg, msg
        if names is not None:
            assert str(names) in msg, msg
    return value


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --------------------------------------------------------------- event streams, checked

def check_stream(s) -> None:
    """A valid value of an event reader: an EventStream whose events lie on its sensor."""
    if isinstance(s, ChipsimError):
        return
    assert isinstance(s, EventStream) and s.events.dtype == EVENT_DTYPE
    W, H, P = s.sensor_size
    ev = s.events
    if len(ev):
        assert 0 <= ev["x"].min() and ev["x"].max() < W, (W, ev["x"].min(), ev["x"].max())
        assert 0 <= ev["y"].min() and ev["y"].max() < H, (H, ev["y"].min(), ev["y"].max())
        assert 0 <= ev["p"].min() and ev["p"].max() <= max(P - 1, 1)
        assert ev["t"].min() >= 0, ev["t"].min()


#: 32-bit values that find the edges of offsets, sizes and counts
_I32 = st.sampled_from([0, 1, 2, 3, 4, 7, 8, 12, 16, 20, 28, 32, 255, 2**15, 2**16 - 1,
                        2**31 - 1, -1, -2, -8, -2**31]) | st.integers(-2**31, 2**31 - 1)
_U32 = _I32.map(lambda v: v & 0xFFFFFFFF)


def _flip(data: bytes, draw, max_flips: int = 6) -> bytes:
    """``data`` with a few bytes set to drawn values."""
    if not data:
        return data
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, max_flips))):
        i = draw(st.integers(0, len(buf) - 1))
        buf[i] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF]) | st.integers(0, 255))
    return bytes(buf)


def _random_events(draw, n_max: int, W: int, H: int) -> np.ndarray:
    """Events mostly on a W x H sensor, some off it, timestamps of every edge."""
    n = draw(st.integers(0, n_max))
    ev = np.zeros(n, EVENT_DTYPE)
    coord = st.integers(0, 2 * max(W, H)) | st.sampled_from([0, W - 1, W, H - 1, H, -1, 32767])
    for i in range(n):
        ev[i] = (draw(st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**32, 2**62, 2**63 - 1, -1,
                                       -2**63]) | st.integers(0, 10**7)),
                 draw(coord), draw(coord), draw(st.sampled_from([0, 1, 2, -1])))
    return ev


def _valid_events(draw, n_max: int, W: int, H: int) -> np.ndarray:
    """Events on a W x H sensor, sorted by time: what a writer encodes."""
    n = draw(st.integers(0, n_max))
    ev = np.zeros(n, EVENT_DTYPE)
    ev["t"] = np.sort(draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n)))
    ev["x"] = draw(st.lists(st.integers(0, W - 1), min_size=n, max_size=n))
    ev["y"] = draw(st.lists(st.integers(0, H - 1), min_size=n, max_size=n))
    ev["p"] = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    return ev


# ------------------------------------------------------------------------------ N-MNIST

_NM_RECORD = st.tuples(st.sampled_from([0, 1, 33, 34, 240, 255]) | st.integers(0, 255),
                       st.sampled_from([0, 33, 34, 240, 255]) | st.integers(0, 255),
                       st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)).map(bytes)
_NM_SAMPLE = (FIXTURES / "sample_nmnist.bin").read_bytes()[:2000]


@fuzz(40)
@given(st.data())
def test_fuzz_nmnist(work, data):
    kind = data.draw(st.sampled_from(["records", "flipped", "bytes"]))
    if kind == "records":
        body = b"".join(data.draw(st.lists(_NM_RECORD, max_size=30)))
        body += data.draw(st.binary(max_size=4))
    elif kind == "flipped":
        body = _flip(_NM_SAMPLE[:data.draw(st.integers(0, len(_NM_SAMPLE)))], data.draw)
    else:
        body = data.draw(st.binary(max_size=200))
    p = _write(work / "f.bin", body)
    check_stream(outcome(read_nmnist, p, names=p))


# ---------------------------------------------------------------------------- AEDAT 2.0

_A2_MAGIC = b"#!AER-DAT2.0"
_HEADER_LINE = st.binary(max_size=16).map(lambda b: b"#" + b.replace(b"\n", b" "))


@fuzz(40)
@given(st.data())
def test_fuzz_aedat2(work, data):
    eol = data.draw(st.sampled_from([b"\r\n", b"\n", b"\r", b""]))
    magic = data.draw(st.sampled_from([_A2_MAGIC, _A2_MAGIC[:-1], b"#!AER-DAT3.1", b""]))
    lines = [magic] + data.draw(st.lists(_HEADER_LINE, max_size=3))
    if data.draw(st.booleans()):
        lines.append(b"#End Of ASCII Header")
    head = b"".join(ln + eol for ln in lines)
    kind = data.draw(st.sampled_from(["words", "bytes", "flipped"]))
    if kind == "words":
        words = data.draw(st.lists(st.tuples(_U32, _U32), max_size=20))
        body = b"".join(struct.pack(">II", a, t) for a, t in words)
        body += data.draw(st.binary(max_size=7))
    elif kind == "bytes":
        body = data.draw(st.binary(max_size=120))
    else:
        good = encode_aedat2(EventStream(_valid_events(data.draw, 8, 128, 128), (128, 128, 2)))
        body = _flip(good, data.draw)
        head = b""
    layout = data.draw(st.sampled_from(["dvs128", "davis346"]))
    p = _write(work / "f.aedat", head + body)
    check_stream(outcome(read_aedat2, p, layout, names=p))
    info = outcome(read_aedat2_header, p, names=p)
    assert isinstance(info, (dict, ChipsimError))


# ---------------------------------------------------------------------------- AEDAT 3.1

_PKT3 = struct.Struct("<hhiiiiii")


@st.composite
def _aedat3_packet(draw):
    etype = draw(st.sampled_from([1, 1, 1, 0, 2, -1, 32767]))
    esize = draw(st.sampled_from([8, 8, 8, 4, 12, 0, -8, 2**30]))
    tsoff = draw(st.sampled_from([4, 4, 0, 8, -4]))
    tsovf = draw(st.sampled_from([0, 0, 1, 2**31 - 1, -1]))
    number = draw(st.sampled_from([0, 1, 2, 3, 5, -1, 2**31 - 1]))
    real = draw(st.integers(0, 6))
    if draw(st.booleans()):       # events whose fields are drawn: address and timestamp
        words = draw(st.lists(st.tuples(_U32, _I32), min_size=real, max_size=real))
        body = b"".join(struct.pack("<Ii", d, t) + b"\0" * max(min(esize, 16) - 8, 0)
                        for d, t in words)
    else:
        body = draw(st.binary(max_size=8 * real))
    return _PKT3.pack(etype, 0, esize, tsoff, tsovf, number, number, number) + body


@fuzz(40)
@given(st.data())
def test_fuzz_aedat3(work, data):
    source = data.draw(st.sampled_from([b"#Source 1: DVS128\r\n", b"#Source 1: DAVIS346B\r\n",
                                        b"#Source 1: Unknown\r\n", b""]))
    head = b"#!AER-DAT3.1\r\n" + source + data.draw(st.sampled_from([b"#!END-HEADER\r\n", b""]))
    kind = data.draw(st.sampled_from(["packets", "flipped"]))
    if kind == "packets":
        body = b"".join(data.draw(st.lists(_aedat3_packet(), max_size=4)))
        body += data.draw(st.binary(max_size=data.draw(st.sampled_from([0, 0, 27]))))
        raw = head + body
    else:
        good = encode_aedat3(EventStream(_valid_events(data.draw, 10, 128, 128), (128, 128, 2)),
                             packet_events=data.draw(st.integers(1, 4)))
        raw = _flip(good, data.draw)
    p = _write(work / "f.aedat", raw)
    check_stream(outcome(read_aedat3, p, names=p))


# ---------------------------------------------------------------------------- AEDAT 4.0

_A4_MAGIC = b"#!AER-DAT4.0\r\n"
_XML = ('<dv version="2.0"><node name="outInfo" path="/o/"><node name="{sid}" path="/o/0/">'
        '<attr key="typeIdentifier" type="string">{type}</attr><node name="info" path="/o/0/i/">'
        '<attr key="sizeX" type="int">{W}</attr><attr key="sizeY" type="int">{H}</attr>'
        '</node></node></node></dv>')
_SIZE = st.sampled_from(["16", "16", "128", "1", "0", "-1", "32768", "x", "", "1e3", "99999999999"])


@st.composite
def _aedat4_packet(draw, W: int, H: int):
    """(stream id, payload) of one packet: an EventPacket FlatBuffer, some of its fields
    changed, then LZ4-framed or not."""
    ev = _random_events(draw, 6, W, H)
    raw = np.zeros(len(ev), dtype=[("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("on", "u1"),
                                   ("pad", "V3")])
    raw["t"], raw["x"], raw["y"] = ev["t"], ev["x"], ev["y"]
    raw["on"] = ev["p"].astype(np.int64) & 0xFF
    buf = bytearray(_event_packet(raw))
    for _ in range(draw(st.integers(0, 2))):     # size prefix, root offset, vtable, count ...
        at = draw(st.sampled_from([0, 4, 12, 14, 16, 20, 24, 28]))
        if at in (12, 14, 16):
            struct.pack_into("<H", buf, at, draw(_U32) & 0xFFFF)
        else:
            struct.pack_into("<I", buf, at, draw(_U32))
    payload = bytes(buf[:draw(st.integers(0, len(buf)))] if draw(st.integers(0, 9)) == 0 else buf)
    how = draw(st.sampled_from(["lz4", "lz4", "none", "lz4-size", "garbage"]))
    if how.startswith("lz4"):
        payload = lz4.frame.compress(payload, store_size=how == "lz4-size")
        if draw(st.integers(0, 4)) == 0:
            payload = _flip(payload, draw, 3)
    elif how == "garbage":
        payload = draw(st.binary(max_size=40))
    sid = draw(st.sampled_from([0, 0, 0, 1, -1]))
    return sid, payload


@fuzz(50)
@given(st.data())
def test_fuzz_aedat4(work, data):
    kind = data.draw(st.sampled_from(["structured", "structured", "flipped"]))
    if kind == "structured":
        W, H = 16, 16
        xml = _XML.format(sid=data.draw(st.sampled_from(["0", "0", "1", "x"])),
                          type=data.draw(st.sampled_from(["EVTS", "EVTS", "FRME"])),
                          W=data.draw(_SIZE), H=data.draw(_SIZE))
        if data.draw(st.integers(0, 5)) == 0:
            xml = data.draw(st.text(max_size=40))
        compression = data.draw(st.sampled_from([0, 1, 1, 2, 3, 5, -1]))
        header = bytearray(_io_header(compression, xml.encode("utf-8", "surrogatepass")))
        if data.draw(st.integers(0, 4)) == 0:      # the IOHeader's offsets and its data table
            at = data.draw(st.sampled_from([0, 8, 10, 12, 20, 24, 28, 32, 36, 40]))
            struct.pack_into("<I", header, at, data.draw(_U32))
        hsize = len(header) + data.draw(st.sampled_from([0, 0, 0, -1, 1, -len(header) - 1, 10**6]))
        parts = [_A4_MAGIC, struct.pack("<i", hsize), bytes(header)]
        for sid, payload in data.draw(st.lists(_aedat4_packet(W, H), max_size=3)):
            size = len(payload) + data.draw(st.sampled_from([0, 0, 0, 0, 1, -1, 2**31 - 1 - len(payload)]))
            parts.append(struct.pack("<ii", sid, size) + payload)
        parts.append(data.draw(st.binary(max_size=data.draw(st.sampled_from([0, 0, 7])))))
        raw = b"".join(parts)
    else:
        good = encode_aedat4(EventStream(_valid_events(data.draw, 8, 16, 16), (16, 16, 2)),
                             compression=data.draw(st.sampled_from(["lz4", "none"])),
                             packet_events=data.draw(st.integers(1, 4)))
        raw = _flip(good, data.draw)
    p = _write(work / "f.aedat4", raw)
    check_stream(outcome(read_aedat4, p, names=p))


# ------------------------------------------------------------------ the data sets' lists

_CSV_CELL = (st.sampled_from(["0", "9", "10", "-1", "1e3", "", " ", "x", "train", "test", "Train",
                              "../outside.bin", "/etc/passwd", "a/../../b", '"', "\x00", "é"])
             | st.text(max_size=6))


def _csv_text(draw, header: str, cols: int) -> str:
    rows = draw(st.lists(st.lists(_CSV_CELL, min_size=0, max_size=cols + 1), max_size=5))
    text = header + "".join(",".join(r) + draw(st.sampled_from(["\n", "\r\n", "\r"])) for r in rows)
    return text


@pytest.fixture(scope="module")
def nmnist_csv_root(work):
    """An N-MNIST root with a labels.csv (rewritten by the test) and two recordings."""
    root = work / "nmcsv"
    (root / "train").mkdir(parents=True)
    ev = np.zeros(5, EVENT_DTYPE)
    ev["t"] = np.arange(5) * 1000
    ev["x"] = np.arange(5)
    for name in ("1.bin", "2.bin"):
        write_nmnist(root / "train" / name, ev)
    return root


@st.composite
def _labels_csv(draw) -> bytes:
    header = draw(st.sampled_from(["file,split,label\n", "file,split,label,extra\n",
                                   "split,label\n", "", "\ufefffile,split,label\n"]))
    text = _csv_text(draw, header, 3)
    if draw(st.integers(0, 3)) == 0:
        text = "file,split,label\ntrain/1.bin,train,1\n" + text
    raw = text.encode("utf-8", "surrogatepass")
    return _flip(raw, draw, 2) if draw(st.integers(0, 5)) == 0 else raw


@fuzz(30)
@given(_labels_csv())
# found by this fuzz: a labels.csv that is not UTF-8 escaped as UnicodeDecodeError
@example(raw=b"\x80")
@example(raw=b"file,split,label\ntrain/1.bin,train,1\n\xff")
# found by this fuzz: a file name with a NUL byte escaped as ValueError (os.stat)
@example(raw=b"file,split,label\n\x00rain/1.bin,train,1\n")
def test_fuzz_nmnist_labels_csv(nmnist_csv_root, raw):
    _write(nmnist_csv_root / "labels.csv", raw)
    ds = outcome(load_nmnist, nmnist_csv_root, "train", 3)
    if not isinstance(ds, ChipsimError):
        assert len(ds) >= 1 and ds.frames.shape[1:] == (3, 2, 34, 34)


@pytest.fixture(scope="module")
def gesture_root(work):
    root = work / "gesture"
    root.mkdir()
    ev = np.zeros(40, EVENT_DTYPE)
    ev["t"] = np.arange(40) * 50_000
    ev["x"] = np.arange(40) % 128
    ev["y"] = np.arange(40) % 7
    write_aedat3(root / "user01_fluorescent.aedat", EventStream(ev, (128, 128, 2)))
    return root


@fuzz(30)
@given(st.data())
def test_fuzz_gesture_labels_and_trials(gesture_root, data):
    labels = _csv_text(data.draw, data.draw(st.sampled_from(
        ["class,startTime_usec,endTime_usec\n", ""])), 3)
    if data.draw(st.booleans()):
        labels += data.draw(st.sampled_from(["1,0,1000000\n", "11,0,2000000\n",
                                             "3,5,5\n", "2,9223372036854775807,-1\n",
                                             "12,0,1\n", "1,99999999999999999999,1\n"]))
    (gesture_root / "user01_fluorescent_labels.csv").write_bytes(
        labels.encode("utf-8", "surrogatepass"))
    trials = gesture_root / "trials_to_train.txt"
    if data.draw(st.booleans()):
        names = data.draw(st.lists(st.sampled_from(
            ["user01_fluorescent.aedat", "./user01_fluorescent.aedat", "missing.aedat", "",
             "../x.aedat", "/etc/passwd", "C:\\x.aedat", "user01_fluorescent_labels.csv",
             "."]) | st.text(max_size=8), max_size=4))
        trials.write_bytes("\n".join(names).encode("utf-8", "surrogatepass"))
    elif trials.exists():
        trials.unlink()
    n = outcome(count_dvsgesture, gesture_root, "train")
    assert isinstance(n, (int, ChipsimError))
    ds = outcome(load_dvsgesture, gesture_root, "train", 4, size=16, cache=False)
    if not isinstance(ds, ChipsimError):
        assert ds.frames.shape[1:] == (4, 2, 16, 16) and len(ds) >= 1
        assert ((0 <= ds.labels) & (ds.labels < 11)).all()


# ------------------------------------------------------------------------------- HDF5

#: interesting values to write into a dataset or an attribute
_VALUES = st.sampled_from([0, 1, -1, 2, 7, 255, 2**31 - 1, -2**31, 2**62, -2**63, 0.5, -0.0,
                           1e300, float("nan"), float("inf"), float("-inf")])
_DTYPES = st.sampled_from(["i1", "i4", "i8", "u1", "u8", "f4", "f8", "?", "S8", "str"])
_ATTR_VALUES = (_VALUES | st.sampled_from(["", "x", "[", "{}", "[]", "null", '[["a"]]', '[1, "b"]',
                                            "chipsim-result", "per_sample", "none", "é"])
                | st.sampled_from([b"\xff\xfe", b"", np.arange(3), np.zeros(0), np.array([b"a", b"b"]),
                                   np.int64(2), np.int64(1), np.int64(3), np.float64(2.0)]))


def nodes(path: Path) -> tuple[list[str], list[str]]:
    """(datasets, groups) of an HDF5 file, by name."""
    ds, groups = [], ["/"]
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: (ds if isinstance(o, h5py.Dataset) else groups).append(n))
    return sorted(ds), sorted(groups)


def _array(dtype: str, shape: tuple, value) -> np.ndarray:
    if dtype in ("S8", "str"):
        a = np.full(shape, str(value))
        return a.astype("S8") if dtype == "S8" else a.astype(object)
    with np.errstate(all="ignore"):
        try:
            return np.full(shape, value).astype(dtype)
        except (OverflowError, ValueError):
            return np.zeros(shape, dtype)


@st.composite
def h5_mutations(draw, datasets: list[str], groups: list[str]):
    """1 to 3 changes to an HDF5 file: a dataset deleted, made a group, replaced by another
    dtype and shape, one value set, its declared size inflated; an attribute set or deleted."""
    ops = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["poke", "poke", "replace", "attr", "attr", "attr_del",
                                     "delete", "group", "inflate"]))
        if kind in ("attr", "attr_del"):
            node = draw(st.sampled_from(groups + datasets))
            key = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                          min_size=1, max_size=3)             # a name HDF5 can store
            ops.append((kind, node, draw(key) if draw(st.integers(0, 6)) == 0
                        else None, draw(_ATTR_VALUES)))
        else:
            node = draw(st.sampled_from(datasets))
            ops.append((kind, node, draw(_DTYPES), draw(_VALUES),
                        draw(st.sampled_from(["same", "same", "scalar", "empty", "longer",
                                              "shorter", "extra", "fewer"])),
                        draw(st.floats(0, 1))))
    return ops


def _reshape(shape: tuple, how: str) -> tuple:
    if how == "scalar":
        return ()
    if how == "empty":
        return (0,) + shape[1:]
    if not shape:
        return (2,) if how in ("longer", "extra") else ()
    if how == "longer":
        return (shape[0] + 1,) + shape[1:]
    if how == "shorter":
        return (max(shape[0] - 1, 0),) + shape[1:]
    if how == "extra":
        return shape + (2,)
    if how == "fewer":
        return shape[1:]
    return shape


def apply_mutations(path: Path, ops) -> None:
    with h5py.File(path, "r+") as f:
        for op in ops:
            kind, node = op[0], op[1]
            if node != "/" and node not in f:
                continue                                  # deleted by an earlier change
            obj = f[node]
            if kind in ("attr", "attr_del"):
                keys = sorted(obj.attrs)
                if op[2] is None and not keys:
                    continue
                key = op[2] if op[2] is not None else keys[len(str(op[3])) % len(keys)]
                if kind == "attr_del":
                    if key in obj.attrs:
                        del obj.attrs[key]
                else:
                    try:
                        obj.attrs[key] = op[3]
                    except (TypeError, ValueError):
                        pass
                continue
            _, _, dtype, value, how, where = op
            if kind == "poke":
                if (not isinstance(obj, h5py.Dataset) or not 0 < obj.size < 10**6
                        or obj.dtype.kind in "OSUV"):
                    continue
                a = obj[()]
                if a.dtype.names is not None:
                    continue
                flat = np.array(a).reshape(-1)
                with np.errstate(all="ignore"):
                    try:
                        flat[min(int(where * flat.size), flat.size - 1)] = value
                    except (OverflowError, ValueError, TypeError):
                        continue
                obj[...] = flat.reshape(np.shape(a))
                continue
            attrs = dict(obj.attrs)
            shape = obj.shape if isinstance(obj, h5py.Dataset) and obj.shape is not None else ()
            if np.prod(shape, dtype=float) > 1e6:
                shape = (2,)                          # inflated by an earlier change
            del f[node]
            if kind == "delete":
                continue
            if kind == "group":
                new = f.create_group(node)
            elif kind == "inflate":
                big = (2**40,) + tuple(shape[1:]) if shape else (2**40,)
                new = f.create_dataset(node, shape=big, dtype="i8", chunks=(1,) + tuple(shape[1:]))
            else:
                a = _array(dtype, _reshape(tuple(shape), how), value)
                kw = {"dtype": h5py.string_dtype()} if dtype == "str" else {}
                new = f.create_dataset(node, data=a, **kw)
            for k, v in attrs.items():
                try:
                    new.attrs[k] = v
                except (TypeError, ValueError):     # read back as text HDF5 cannot store
                    pass


# ------------------------------------------------------------------------ results files


def _results_base(dst: Path) -> Path:
    """A valid results file of a real run with a mapping and per-step counts: a copy of
    tests/hostile/results/zero_time_steps.h5 with its defect (T = 0) undone (T = 4)."""
    shutil.copyfile(HOSTILE / "results" / "zero_time_steps.h5", dst)
    with h5py.File(dst, "r+") as f:
        f["simulation"].attrs["time_steps"] = np.int64(4)
    return dst


#: the valid results files changed: a real run (with a mapping and per-step counts), the
#: tests' synthetic run (tests/report_fixtures.py; other_workload.h5 is one) and schema 1
_RESULTS = {"run": HOSTILE / "results" / "zero_time_steps.h5",
            "synthetic": HOSTILE / "outputs" / "other_workload.h5",
            "v1": FIXTURES / "result_v1_nmnist_loihi.h5"}
_RESULT_NODES = {k: nodes(p) for k, p in _RESULTS.items()}


def _results_case(which: str):
    return st.tuples(st.just(which), h5_mutations(*_RESULT_NODES[which]))


@pytest.fixture(scope="module")
def results_bases(work):
    write_result(make_result(seed=2), work / "base_synthetic.h5")
    bases = {"run": _results_base(work / "base_run.h5"), "synthetic": work / "base_synthetic.h5",
             "v1": shutil.copyfile(_RESULTS["v1"], work / "base_v1.h5")}
    for which, p in bases.items():
        read_result(p)                                   # valid, before they are changed
        assert nodes(p) == _RESULT_NODES[which]
    return bases


def _fuzz_results(work, results_bases, which, ops):
    p = work / f"mut_{which}.h5"
    shutil.copyfile(results_bases[which], p)
    apply_mutations(p, ops)
    r = outcome(read_result, p, names=p)
    if not isinstance(r, ChipsimError):
        format_summary(r)                     # what read_result accepts, the report can print
    t = outcome(stored_workload_text, p, names=p)
    assert isinstance(t, (str, ChipsimError))


@fuzz(25)
@given(_results_case("run") | _results_case("synthetic"))
# found by this fuzz: a workload text stored as an array was returned as the text
@example(case=("run", [("replace", "simulation/workload_yaml", "S8", 0, "empty", 0.0)]))
# ... and a layer's text column (pool) of one value for two layers escaped as IndexError
@example(case=("run", [("replace", "simulation/layers/pool", "S8", 0, "scalar", 0.0)]))
def test_fuzz_results_file(work, results_bases, case):
    _fuzz_results(work, results_bases, *case)


@fuzz(10)
@given(h5_mutations(*_RESULT_NODES["v1"]))
# found by this fuzz: a profile text that cannot be read was refused naming the profile's
# original path, not the results file
@example(ops=[("replace", "config/profile_yaml", "S8", 0, "same", 0.0)])
# ... and a readout of 0 neurons escaped as ZeroDivisionError (placing the mapping)
@example(ops=[("poke", "layers/neurons", "i1", 0, "same", 1.0)])
def test_fuzz_results_file_schema_1(work, results_bases, ops):
    _fuzz_results(work, results_bases, "v1", ops)


@fuzz(15)
@given(st.data())
def test_fuzz_results_file_truncated(work, results_bases, data):
    base = results_bases["synthetic"].read_bytes()
    cut = data.draw(st.integers(0, len(base)))
    p = _write(work / "cut.h5", base[:cut] + data.draw(st.binary(max_size=64)))
    outcome(read_result, p, names=p)


# ---------------------------------------------------------------------------------- SHD


def _write_shd_base(p: Path) -> Path:
    rng = np.random.default_rng(0)
    samples = [(np.sort(rng.uniform(0, 1, 5)), rng.integers(0, 700, 5)) for _ in range(3)]
    write_shd(p, samples, np.array([0, 5, 19]))
    return p


_SHD_NODES = (["extra/speaker", "labels", "spikes/times", "spikes/units"], ["/", "extra", "spikes"])


@pytest.fixture(scope="module")
def shd_base(work):
    p = _write_shd_base(work / "shd_base.h5")
    assert nodes(p) == _SHD_NODES
    return p


@fuzz(30)
@given(h5_mutations(*_SHD_NODES))
# found by this fuzz: a labels dataset declaring 2**40 values was allocated (8 TiB)
@example(ops=[("inflate", "labels", "i1", 0, "same", 0.0)])
def test_fuzz_shd(work, shd_base, ops):
    p = work / "shd.h5"
    shutil.copyfile(shd_base, p)
    apply_mutations(p, ops)
    got = outcome(read_shd, p, names=p)
    if not isinstance(got, ChipsimError):
        streams, labels = got
        assert len(streams) == len(labels)
        assert ((0 <= labels) & (labels < 20)).all()
        for s in streams:
            check_stream(s)


# -------------------------------------------------------------------------- frame cache

_CACHE_KEY = {"dataset": "fuzz", "T": 3, "mode": "binary", "size": 8}


def _framed() -> FramedDataset:
    rng = np.random.default_rng(1)
    return FramedDataset("fuzz", "a fuzzed cache entry", rng.integers(0, 2, (4, 3, 2, 8, 8)).astype(np.uint8),
                         np.array([0, 1, 2, 1]), ("a", "b", "c", "d"), 3, (8, 8, 2), "binary", 1,
                         np.ones(4), ("e: holds no events",))


@contextmanager
def _cache_in(d: Path):
    old = os.environ.get("CHIPSIM_CACHE")
    os.environ["CHIPSIM_CACHE"] = str(d)
    try:
        yield
    finally:
        if old is None:
            del os.environ["CHIPSIM_CACHE"]
        else:
            os.environ["CHIPSIM_CACHE"] = old


_CACHE_NODES = (["dataset/durations_s", "dataset/frames", "dataset/labels", "dataset/sample_ids",
                 "dataset/skipped"], ["/", "dataset"])


@pytest.fixture(scope="module")
def cache_entry(work):
    """(the cache's entry of _CACHE_KEY, a copy of it as written)."""
    d = work / "cache"
    with _cache_in(d):
        ds, status = frame_cache.cached(_CACHE_KEY, _framed)
    assert status == "built"
    (entry,) = d.glob("*.h5")
    assert nodes(entry) == _CACHE_NODES
    return entry, shutil.copyfile(entry, work / "cache_base.h5")


@fuzz(25)
@given(h5_mutations(*_CACHE_NODES))
# found by this fuzz: an entry declaring 2**40 durations was allocated (8 TiB) before it was
# found corrupt; one whose frames were int8, of another T or whose labels were beyond the
# classes was returned as a hit (the run failed later)
@example(ops=[("inflate", "dataset/durations_s", "i1", 0, "same", 0.0)])
@example(ops=[("replace", "dataset/frames", "i1", 0, "same", 0.0)])
@example(ops=[("replace", "dataset/frames", "u1", 0, "extra", 0.0)])
@example(ops=[("poke", "dataset/labels", "i8", 7, "same", 0.5)])
def test_fuzz_frame_cache(cache_entry, ops):
    entry, base = cache_entry
    shutil.copyfile(base, entry)
    apply_mutations(entry, ops)
    built = []

    def build():
        built.append(1)
        return _framed()

    with _cache_in(entry.parent):
        got = outcome(frame_cache.cached, _CACHE_KEY, build)
    assert not isinstance(got, ChipsimError), got        # a bad entry is rebuilt, not an error
    ds, status = got
    assert status == ("built" if built else "hit")
    # what the cache gives is a data set of this key: T steps, binary frames, labels of classes
    good = _framed()
    assert ds.frames.shape[1:] == good.frames.shape[1:] and ds.frames.dtype == good.frames.dtype
    assert ((0 <= ds.labels) & (ds.labels < ds.n_classes)).all()
    assert ds.durations_s is None or ds.durations_s.shape == (len(ds),)


# ----------------------------------------------------------------------------- YAML text

_TOKENS = st.sampled_from(["{", "}", "[", "]", ": ", ":", "- ", ", ", "\n", "\n  ", "  ", "&a ", "*a",
                           "&b ", "*b", "<<: ", "? ", "| ", "> ", "'", '"', "# c", "!!str ", "!!int ",
                           "!!python/object:os.system ", "!!binary ", "!x ", "%YAML 1.1\n", "---\n",
                           "...\n", "a", "b", "1", "-1", "1e3", "1e400", ".nan", "true", "yes", "null",
                           "~", "0x1F", "\t", "\\", "\x00", "\ufeff", "é", "\x85", "\ud800"])
_YAML_TEXT = st.lists(_TOKENS, max_size=40).map("".join) | st.text(max_size=60)


@fuzz(60)
@given(_YAML_TEXT)
# found by this fuzz: a scalar PyYAML's constructors cannot convert escaped as IndexError,
# ValueError, KeyError or AttributeError (an explicit tag, or a date-like plain scalar)
@example("!!int ")
@example("a: !!float ''")
@example("b: !!bool x")
@example("!!timestamp x")
@example("seed: 2001-13-45")
def test_fuzz_yaml_parser(text):
    doc = outcome(parse_yaml_text, text, file="fuzz.yaml", names="fuzz.yaml", traced=False)
    if not isinstance(doc, ChipsimError):
        json.dumps(doc.lines)


_SCALARS = (st.sampled_from(["0", "-1", "1", "2", "1e9", "1e400", ".nan", ".inf", "-.inf", "null", "~",
                             "true", "false", "yes", "''", '"x"', "[]", "{}", "[1, 2]", "{a: 1}", "*a",
                             "&a 1", "!!binary aGk=", "!!python/object:os.system", "2001-01-01",
                             "0x10", "1_000", "3.5", "abc", "ottt_o", "bptt", "sltt", "dense", "conv",
                             "avgpool", "count", "binary", "float32", "9999999999999999999999",
                             "[{kind: dense, units: 8}]", "[{kind: conv}]", "0.0", "-0.5", "100 %",
                             "1 pJ", "5 nJ", "-1 pJ", "1 kg", "NaN pJ", "1e400 pJ", "8 bit", "'8'"])
            | st.text(max_size=6))
_LINE = re.compile(r"^(\s*(?:- )?[\w.]+:)(.*)$")


@st.composite
def edited_yaml(draw, text: str):
    """``text`` with 1 to 4 lines edited: a value replaced, a line removed, repeated,
    indented, or a random line inserted; or the text cut short."""
    lines = text.split("\n")
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["value", "value", "value", "drop", "repeat", "indent",
                                   "insert", "cut"]))
        if op == "value":
            m = _LINE.match(lines[i])
            if m:
                lines[i] = f"{m.group(1)} {draw(_SCALARS)}"
        elif op == "drop":
            del lines[i]
        elif op == "repeat":
            lines.insert(i, lines[i])
        elif op == "indent":
            lines[i] = draw(st.sampled_from([" ", "  ", "    ", "\t"])) + lines[i]
        elif op == "insert":
            lines.insert(i, draw(st.sampled_from(["x: 1", "  y: 2", "- 3", "dataset:", "rule: {}"]))
                         + draw(_SCALARS))
        else:
            lines = lines[:i]
        if not lines:
            lines = [""]
    return "\n".join(lines)


_WORKLOADS = {p.name: p.read_text() for p in sorted((ROOT / "workloads").glob("*.yaml"))}
_PROFILES = {p.name: p.read_text() for p in sorted((ROOT / "hardware_profiles").glob("*.yaml"))}


@fuzz(25)
@given(st.data())
def test_fuzz_workload_file(work, data):
    name = data.draw(st.sampled_from(sorted(_WORKLOADS)))
    text = data.draw(edited_yaml(_WORKLOADS[name]))
    p = work / name
    p.write_text(text)
    w = outcome(load_workload, p, names=p, traced=False)
    assert isinstance(w, (Workload, ChipsimError))


def _dotted(data, prefix="") -> list[str]:
    out = []
    if isinstance(data, dict):
        for k, v in data.items():
            out.append(f"{prefix}{k}")
            out += _dotted(v, f"{prefix}{k}.")
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out.append(f"{prefix}{i}")
            out += _dotted(v, f"{prefix}{i}.")
    return out


_KEYS = sorted({k for text in _WORKLOADS.values() for k in _dotted(parse_yaml_text(text, file="w").data)})


@fuzz(25)
@given(st.dictionaries(st.sampled_from(_KEYS) | st.sampled_from(["", ".", "a..b", "network.hidden.9",
                                                                 "network.hidden.-1.units",
                                                                 "rule.x", "dataset.root.x"])
                       | st.text(max_size=8), _SCALARS, max_size=3))
# found by this fuzz: a key with a line break made a refusal of two lines
@example({"\n": "0"})
@example({"training.epochs": "!!int x"})
def test_fuzz_workload_overrides(overrides):
    p = ROOT / "workloads" / "nmnist.yaml"
    w = outcome(load_workload, p, overrides, names=p, traced=False)
    assert isinstance(w, (Workload, ChipsimError))


@fuzz(10)
@given(st.data())
def test_fuzz_profile_file(work, data):
    name = data.draw(st.sampled_from(sorted(_PROFILES)))
    text = data.draw(edited_yaml(_PROFILES[name]))
    p = work / name
    p.write_text(text)
    prof = outcome(load_profile, str(p), names=p, traced=False)
    assert isinstance(prof, (HardwareProfile, ChipsimError))
    prof = outcome(profile_from_text, text, str(p), names=p, traced=False)
    assert isinstance(prof, (HardwareProfile, ChipsimError))
