"""N-MNIST reader, the tests' writer (tests/writers.py) and the N-MNIST dataset loader.

Expected numbers are copied from the per-file statistics that an independent parser produced
for the shared data README (event counts, ON/OFF, x/y ranges, span, sha256) and from the tonic
fixture's README.
"""

import hashlib
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chipsim.data import (EVENT_DTYPE, EventStream, frame_events, load_dataset, load_nmnist,
                          read_nmnist)
from chipsim.data.datasets import EMBEDDED_NMNIST_DIR
from chipsim.errors import ChipsimError
from tests.writers import write_nmnist

FIXTURE = Path(__file__).parent / "data" / "fixtures" / "sample_nmnist.bin"
SMALL = EMBEDDED_NMNIST_DIR

# file: (label, bytes, events, span_ms, x range, y range, ON, OFF, sha256)
FILE_STATS = {
    "train/1.bs2": (5, 23405, 4681, 305.0, (0, 33), (0, 33), 2328, 2353,
                    "731734ed162f7f53036edcb67127e0e3c10660d87af639599ab3503ed462d0d6"),
    "train/2.bs2": (0, 25140, 5028, 304.4, (0, 33), (0, 33), 2509, 2519,
                    "55d0a4a621a4541fd60aaac6f88434aa35c1ad790b90756076e07a9e31459d93"),
    "train/9.bs2": (1, 10480, 2096, 309.4, (0, 33), (0, 32), 1096, 1000,
                    "7f99d26a5c68518814e989f3d94dc5a2a9c73f99b2a80360d38091a7d9300cb2"),
    "train/43.bs2": (7, 10790, 2158, 300.8, (0, 32), (0, 33), 1099, 1059,
                     "645a927f996d1c2f53c63e5dac48281a39a6fdede8736dbf671b22c905ebad04"),
    "train/69.bs2": (0, 23540, 4708, 309.9, (1, 33), (0, 33), 2337, 2371,
                     "e8b38b7184dd2d9aa531ed65b4f5c1aa5326ff82f35159f0755a6caf1d42570a"),
    "test/60001.bs2": (7, 16650, 3330, 302.7, (0, 33), (0, 33), 1718, 1612,
                       "92f8f43989b915051839c56b2fa7275132eae8fb1be7066593c74ff19177cc1f"),
    "test/60002.bs2": (2, 24200, 4840, 305.1, (0, 33), (0, 32), 2383, 2457,
                       "95d7ff1d758f3ecb8d8f56bd53599b2dbee8ed7356005caa50b5adf5a3f63d56"),
    "test/60041.bs2": (1, 5345, 1069, 304.2, (2, 33), (0, 33), 564, 505,
                       "a26b4c98eb87eb91a4de3dd91f25875ddd70c3bd2566e9dee1a50c9ea0611132"),
    "test/60073.bs2": (2, 24835, 4967, 305.3, (0, 32), (0, 31), 2457, 2510,
                       "d0119b30776380ed49ff0ccc472f8df590baa021bb454296382f8c1ef7907b5a"),
    "test/60075.bs2": (1, 11715, 2343, 303.3, (0, 33), (2, 33), 1182, 1161,
                       "69295b8bbfe32dd1a7babcda7cc419dd5287d597bbc150d4aa9fe5904aabe2ef"),
}
LABELS_SHA256 = "6cd220249e5e27b5ea65711eec0e7ee12a26aa783ea0358d1df08c1e676fff49"
FIXTURE_SHA256 = "3c9159329633efbb6879bba1b430598b78cc06a779a55d1259ec13e203ad00ee"
TEST_CLASS_COUNTS = [8, 14, 8, 11, 14, 7, 10, 15, 2, 11]


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def py_decode(data: bytes):
    """Independent per-event decoder: the 40-bit big-endian word, bit fields by shifts, and
    Orchard's overflow loop (a y == 240 record adds 2**13 to itself and all later records)."""
    assert len(data) % 5 == 0
    offset = 0
    out = []
    for i in range(0, len(data), 5):
        (hi, lo) = struct.unpack(">BI", data[i:i + 5])
        word = (hi << 32) | lo
        x = word >> 32
        y = (word >> 24) & 0xFF
        p = (word >> 23) & 0x1
        t = word & 0x7FFFFF
        if y == 240:
            offset += 8192
            continue
        out.append((t + offset, x, y, p))
    return out


def _as_rows(stream):
    e = stream.events
    return list(zip(e["t"].tolist(), e["x"].tolist(), e["y"].tolist(), e["p"].tolist()))


def _events(rows):
    ev = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, r in enumerate(rows):
        ev[i] = r
    return ev


# ----------------------------------------------------------------------------- reader

def test_fixture_copied_byte_for_byte():
    assert _sha256(FIXTURE) == FIXTURE_SHA256


def test_tonic_fixture_statistics():
    s = read_nmnist(FIXTURE)
    assert isinstance(s, EventStream)
    assert s.sensor_size == (34, 34, 2)
    e = s.events
    assert e.dtype == EVENT_DTYPE
    assert len(s) == 4325
    assert int((e["p"] == 1).sum()) == 2145 and int((e["p"] == 0).sum()) == 2180
    assert int(e["t"][0]) == 654 and int(e["t"][-1]) == 311175
    assert s.duration_us == 311175 - 654
    assert (e["x"].min(), e["x"].max(), e["y"].min(), e["y"].max()) == (0, 33, 0, 33)
    assert np.all(np.diff(e["t"]) >= 0)


@pytest.mark.parametrize("name", sorted(FILE_STATS))
def test_embedded_file_statistics(name):
    label, nbytes, n, span_ms, xr, yr, on, off, sha = FILE_STATS[name]
    path = SMALL / name
    assert path.stat().st_size == nbytes
    assert _sha256(path) == sha
    s = read_nmnist(path)
    e = s.events
    assert len(s) == n == on + off
    assert int((e["p"] == 1).sum()) == on
    assert int((e["p"] == 0).sum()) == off
    assert (int(e["x"].min()), int(e["x"].max())) == xr
    assert (int(e["y"].min()), int(e["y"].max())) == yr
    assert round(s.duration_us / 1000, 1) == span_ms
    assert np.all(np.diff(e["t"]) >= 0)


def test_embedded_totals_and_labels_file():
    assert _sha256(SMALL / "labels.csv") == LABELS_SHA256
    files = sorted((SMALL / "train").glob("*.bs2")) + sorted((SMALL / "test").glob("*.bs2"))
    assert len(files) == 200
    n = on = nbytes = 0
    for f in files:
        e = read_nmnist(f).events
        n += len(e)
        on += int((e["p"] == 1).sum())
        nbytes += f.stat().st_size
    assert nbytes == 3_954_855
    assert n == 790_971
    assert on == 392_893 and n - on == 398_078


@pytest.mark.parametrize("path", [FIXTURE, SMALL / "train" / "1.bs2", SMALL / "test" / "60073.bs2"])
def test_vectorised_matches_pure_python_decoder(path):
    expected = py_decode(Path(path).read_bytes())
    assert _as_rows(read_nmnist(path)) == expected


def test_overflow_marker_semantics_hand_made(tmp_path):
    # event (x=1,y=2,ON,t=100); marker; event (x=3,y=4,OFF,t=50); marker; marker; event t=7
    data = bytes([1, 2, 0x80, 0, 100,
                  0, 240, 0, 0, 0,
                  3, 4, 0x00, 0, 50,
                  9, 240, 0x12, 0x34, 0x56,
                  0, 240, 0, 0, 0,
                  33, 33, 0x80, 0, 7])
    f = tmp_path / "ovf.bin"
    f.write_bytes(data)
    assert _as_rows(read_nmnist(f)) == [(100, 1, 2, 1), (50 + 8192, 3, 4, 0),
                                        (7 + 3 * 8192, 33, 33, 1)]
    assert _as_rows(read_nmnist(f)) == py_decode(data)


# ----------------------------------------------------------------------------- writer

def test_write_hand_checked_bytes(tmp_path):
    f = tmp_path / "w.bin"
    write_nmnist(f, _events([(0x012345, 1, 2, 1), (2**23, 5, 6, 0)]))
    # t = 2**23 needs one marker: stored 2**23 - 8192 = 0x7FE000
    assert f.read_bytes() == bytes([1, 2, 0x81, 0x23, 0x45,
                                    0, 240, 0, 0, 0,
                                    5, 6, 0x7F, 0xE0, 0x00])
    assert _as_rows(read_nmnist(f)) == [(0x012345, 1, 2, 1), (2**23, 5, 6, 0)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_write_read_round_trip_with_overflow(tmp_path, seed):
    rng = np.random.default_rng(seed)
    n = 3000
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, 3 * 2**23 + 12345, n))
    ev["x"] = rng.integers(0, 34, n)
    ev["y"] = rng.integers(0, 34, n)
    ev["p"] = rng.integers(0, 2, n)
    f = tmp_path / "rt.bin"
    write_nmnist(f, EventStream(ev, (34, 34, 2)))
    back = read_nmnist(f)
    np.testing.assert_array_equal(back.events, ev)
    data = f.read_bytes()
    t_max = int(ev["t"].max())
    n_markers = len(data) // 5 - n
    assert n_markers == -(-(t_max - (2**23 - 1)) // 8192)  # the fewest that fit t_max
    assert n_markers > 0
    assert _as_rows(back) == py_decode(data)


def test_write_rejects_bad_events(tmp_path):
    f = tmp_path / "bad.bin"
    with pytest.raises(ChipsimError, match=r"x=34") as ei:
        write_nmnist(f, _events([(0, 34, 0, 0)]))
    assert str(f) in str(ei.value)
    with pytest.raises(ChipsimError, match="t=-1"):
        write_nmnist(f, _events([(-1, 0, 0, 0)]))
    with pytest.raises(ChipsimError, match="sorted"):
        write_nmnist(f, _events([(2**24, 0, 0, 0), (0, 0, 0, 0)]))


# ----------------------------------------------------------------------------- bad files

def test_missing_file(tmp_path):
    f = tmp_path / "nope.bin"
    with pytest.raises(ChipsimError) as ei:
        read_nmnist(f)
    assert str(f) in str(ei.value) and "not found" in str(ei.value)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(ChipsimError) as ei:
        read_nmnist(tmp_path)
    assert str(tmp_path) in str(ei.value)


def test_truncated_file(tmp_path):
    f = tmp_path / "trunc.bin"
    f.write_bytes(FIXTURE.read_bytes()[:23])
    with pytest.raises(ChipsimError) as ei:
        read_nmnist(f)
    msg = str(ei.value)
    assert str(f) in msg and "23 bytes" in msg and "byte offset 20" in msg


@pytest.mark.parametrize("byte, value, what", [(0, 34, "x=34"), (1, 200, "y=200"),
                                               (1, 241, "y=241")])
def test_out_of_range_coordinates(tmp_path, byte, value, what):
    data = bytearray(FIXTURE.read_bytes())
    data[7 * 5 + byte] = value
    data[9 * 5 + byte] = value   # a later bad one must not be the one named
    f = tmp_path / "range.bin"
    f.write_bytes(bytes(data))
    with pytest.raises(ChipsimError) as ei:
        read_nmnist(f)
    msg = str(ei.value)
    assert str(f) in msg and "record 7" in msg and "byte offset 35" in msg and what in msg


def _check_bytes(data):
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "r.bin"
        f.write_bytes(data)
        try:
            s = read_nmnist(f)
        except ChipsimError as exc:
            assert str(f) in str(exc)
            return None
        assert isinstance(s, EventStream) and s.events.dtype == EVENT_DTYPE
        assert _as_rows(s) == py_decode(data)
        return s


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_give_stream_or_chipsim_error(data):
    _check_bytes(data)


_record = st.tuples(st.integers(0, 33), st.sampled_from(list(range(34)) + [240, 240, 99]),
                    st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)).map(bytes)


@settings(max_examples=150, deadline=None)
@given(st.lists(_record, max_size=20).map(b"".join), st.binary(max_size=3))
def test_mostly_valid_records_give_stream_or_chipsim_error(body, tail):
    _check_bytes(body)
    _check_bytes(body + tail)


# ----------------------------------------------------------------------------- datasets

def test_load_embedded_train():
    ds = load_nmnist(None, "train", 10)
    assert ds.name == "nmnist" and len(ds) == 100
    assert "CC BY-SA 4.0" in ds.description and "embedded" in ds.description
    assert ds.frames.shape == (100, 10, 2, 34, 34) and ds.frames.dtype == np.uint8
    assert ds.labels.dtype == np.int64 and ds.labels.shape == (100,)
    np.testing.assert_array_equal(np.bincount(ds.labels, minlength=10), [10] * 10)
    assert ds.n_classes == 10 and ds.sensor_size == (34, 34, 2)
    assert ds.input_shape == (2, 34, 34) and ds.n_inputs == 2 * 34 * 34
    ids = list(ds.sample_ids)
    assert len(set(ids)) == 100
    assert ds.labels[ids.index("train/1.bs2")] == 5
    assert ds.labels[ids.index("train/2.bs2")] == 0
    # round-robin over classes
    np.testing.assert_array_equal(ds.labels[:20], list(range(10)) * 2)
    # each sample is its file framed on its own
    i = ids.index("train/1.bs2")
    np.testing.assert_array_equal(ds.frames[i], frame_events(read_nmnist(SMALL / "train/1.bs2"), 10))


def test_load_embedded_test_split_labels():
    ds = load_nmnist(None, "test", 4)
    assert len(ds) == 100
    np.testing.assert_array_equal(np.bincount(ds.labels, minlength=10), TEST_CLASS_COUNTS)
    ids = list(ds.sample_ids)
    assert ds.labels[ids.index("test/60001.bs2")] == 7
    assert ds.labels[ids.index("test/60002.bs2")] == 2
    for name, stats in FILE_STATS.items():
        if name.startswith("test/"):
            assert ds.labels[ids.index(name)] == stats[0]


def test_count_mode_totals_over_all_200():
    tr = load_nmnist(None, "train", 7, mode="count")
    te = load_nmnist(None, "test", 7, mode="count")
    assert tr.frames.dtype == np.int32
    total = int(tr.frames.sum()) + int(te.frames.sum())
    on = int(tr.frames[:, :, 1].sum()) + int(te.frames[:, :, 1].sum())
    assert total == 790_971 and on == 392_893 and total - on == 398_078
    # per-sample counts match the file table
    ids = list(tr.sample_ids)
    assert int(tr.frames[ids.index("train/1.bs2")].sum()) == 4681


def test_limit_is_class_balanced_and_a_prefix():
    full = load_nmnist(None, "test", 3)
    for limit in (1, 10, 23, 100, 1000):
        ds = load_nmnist(None, "test", 3, limit=limit)
        k = min(limit, 100)
        assert len(ds) == k
        assert ds.sample_ids == full.sample_ids[:k]
        np.testing.assert_array_equal(ds.frames, full.frames[:k])
    ds = load_nmnist(None, "test", 3, limit=10)
    assert sorted(ds.labels.tolist()) == list(range(10))
    # class 8 has only 2 test samples: once exhausted the round-robin skips it
    # (3 rounds = 29 samples, the 30th starts round 4 with class 0)
    ds = load_nmnist(None, "test", 3, limit=30)
    np.testing.assert_array_equal(np.bincount(ds.labels, minlength=10),
                                  [4, 3, 3, 3, 3, 3, 3, 3, 2, 3])
    np.testing.assert_array_equal(ds.labels[20:], [0, 1, 2, 3, 4, 5, 6, 7, 9, 0])


def test_downscale_in_dataset():
    ds = load_nmnist(None, "train", 5, mode="count", downscale=2, limit=10)
    assert ds.frames.shape == (10, 5, 2, 17, 17) and ds.input_shape == (2, 17, 17)
    assert ds.n_inputs == 2 * 17 * 17 and ds.sensor_size == (34, 34, 2)
    full = load_nmnist(None, "train", 5, mode="count", limit=10)
    np.testing.assert_array_equal(ds.frames.sum(axis=(3, 4)), full.frames.sum(axis=(3, 4)))


@pytest.mark.parametrize("kwargs, field", [
    ({"split": "val"}, "split"),
    ({"time_steps": 0}, "time_steps"),
    ({"mode": "rate"}, "mode"),
    ({"downscale": -1}, "downscale"),
    ({"limit": 0}, "limit"),
])
def test_load_bad_arguments(kwargs, field):
    args = {"root": None, "split": "train", "time_steps": 4} | kwargs
    with pytest.raises(ChipsimError, match=field):
        load_nmnist(**args)


def _fake_archive(root: Path, lower=False, ext=".bin"):
    """Train/<label>/NNNNN.bin and Test/<label>/NNNNN.bin written with write_nmnist; the event
    x coordinate encodes the label and the count encodes the index, so both are checkable."""
    rng = np.random.default_rng(5)
    spec = {"Train": {3: [1, 2, 10], 7: [4]}, "Test": {0: [1], 9: [2, 3]}}
    for split, classes in spec.items():
        for label, idxs in classes.items():
            d = root / (split.lower() if lower else split) / str(label)
            d.mkdir(parents=True)
            for idx in idxs:
                n = 5 + idx
                ev = np.zeros(n, dtype=EVENT_DTYPE)
                ev["t"] = np.sort(rng.integers(0, 300_000, n))
                ev["x"] = label
                ev["y"] = rng.integers(0, 34, n)
                ev["p"] = rng.integers(0, 2, n)
                write_nmnist(d / f"{idx:05d}{ext}", ev)
    (root / "Train" / "3" if not lower else root / "train" / "3").joinpath("notes.txt").write_text("x")
    return spec


def test_fake_archive_layout(tmp_path):
    root = tmp_path / "NMNIST"
    _fake_archive(root)
    ds = load_nmnist(str(root), "train", 4, mode="count")
    # round-robin: class 3 file 1, class 7 file 4, class 3 file 2, class 3 file 10
    assert ds.sample_ids == ("Train/3/00001.bin", "Train/7/00004.bin", "Train/3/00002.bin",
                             "Train/3/00010.bin")
    np.testing.assert_array_equal(ds.labels, [3, 7, 3, 3])
    np.testing.assert_array_equal(ds.frames.sum(axis=(1, 2, 3, 4)), [6, 9, 7, 15])
    # the x coordinate written equals the label
    for i, lab in enumerate(ds.labels):
        assert ds.frames[i].sum(axis=(0, 1, 2))[lab] == ds.frames[i].sum()
    te = load_nmnist(root, "test", 4, limit=2)
    assert te.sample_ids == ("Test/0/00001.bin", "Test/9/00002.bin")
    assert str(root) in te.description


def test_fake_archive_lower_case_and_bs2(tmp_path):
    root = tmp_path / "nm"
    _fake_archive(root, lower=True, ext=".bs2")
    ds = load_nmnist(root, "test", 2)
    assert ds.sample_ids == ("test/0/00001.bs2", "test/9/00002.bs2", "test/9/00003.bs2")
    np.testing.assert_array_equal(ds.labels, [0, 9, 9])


def test_root_expands_home_and_env_vars(tmp_path, monkeypatch):
    _fake_archive(tmp_path / "data" / "NMNIST")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CHIPSIM_TEST_NMNIST", str(tmp_path / "data"))
    a = load_nmnist("~/data/NMNIST", "train", 3)
    b = load_nmnist("$CHIPSIM_TEST_NMNIST/NMNIST", "train", 3)
    c = load_dataset("nmnist", "${CHIPSIM_TEST_NMNIST}/NMNIST", "train", 3)
    assert len(a) == 4 and a.sample_ids == b.sample_ids == c.sample_ids
    np.testing.assert_array_equal(a.frames, b.frames)


def test_bad_roots(tmp_path):
    missing = tmp_path / "does_not_exist"
    with pytest.raises(ChipsimError) as ei:
        load_nmnist(missing, "train", 3)
    assert str(missing) in str(ei.value) and "Train/<label 0-9>" in str(ei.value)

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ChipsimError) as ei:
        load_nmnist(empty, "train", 3)
    assert str(empty) in str(ei.value) and "Train" in str(ei.value)

    (empty / "Train" / "junk").mkdir(parents=True)
    with pytest.raises(ChipsimError) as ei:
        load_nmnist(empty, "train", 3)
    assert "no N-MNIST samples" in str(ei.value) and str(empty) in str(ei.value)

    a_file = tmp_path / "file.bin"
    a_file.write_bytes(b"")
    with pytest.raises(ChipsimError) as ei:
        load_nmnist(a_file, "train", 3)
    assert str(a_file) in str(ei.value)


def test_corrupt_file_in_archive_is_named(tmp_path):
    root = tmp_path / "NMNIST"
    _fake_archive(root)
    bad = root / "Train" / "7" / "00004.bin"
    bad.write_bytes(bad.read_bytes()[:-2])
    with pytest.raises(ChipsimError) as ei:
        load_nmnist(root, "train", 3)
    assert str(bad) in str(ei.value) and "not a multiple of 5" in str(ei.value)
    # a limit that skips the bad file does not read it
    assert len(load_nmnist(root, "train", 3, limit=1)) == 1


def test_load_dataset_dispatch():
    ds = load_dataset("NMNIST", None, "train", 2, "binary", 1, 10)
    assert ds.name == "nmnist" and len(ds) == 10
    with pytest.raises(ChipsimError) as ei:
        load_dataset("no_such_set", None, "train", 2)
    assert "no_such_set" in str(ei.value) and "nmnist" in str(ei.value) and "cifar10dvs" in str(ei.value)
    with pytest.raises(ChipsimError) as ei:            # event data sets need their files on disk
        load_dataset("cifar10dvs", None, "train", 2)
    assert "root" in str(ei.value)


def test_embedded_dir_is_complete():
    assert (SMALL / "LICENSE").is_file() and (SMALL / "README.md").is_file()
    assert len(os.listdir(SMALL / "train")) == 100 and len(os.listdir(SMALL / "test")) == 100
