"""AEDAT 2.0 / 3.1 / 4.0 readers (chipsim.data.aedat) and the tests' writers (tests/writers.py).

Expected numbers for the real fixtures come from tests/data/fixtures/README.md (statistics an
independent parser produced, cross-checked upstream against `aedat` 2.3.0 and tonic 1.7.0).
"""

import hashlib
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chipsim.data.aedat import (decode_aedat2_bytes, read_aedat2, read_aedat2_header, read_aedat3,
                                read_aedat4, read_gesture_labels, split_by_labels)
from chipsim.data.events import EVENT_DTYPE, EventStream
from chipsim.errors import ChipsimError
from tests.writers import (encode_aedat2, encode_aedat3, encode_aedat4, write_aedat2, write_aedat3,
                           write_aedat4)

FIX = Path(__file__).parent / "data" / "fixtures"
AEDAT4 = FIX / "sample.aedat4"
AEDAT2_HEADER = FIX / "sample_aedat_header.aedat"


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _events(rows):
    ev = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, r in enumerate(rows):
        ev[i] = r
    return ev


def _rows(stream):
    e = stream.events
    return list(zip(e["t"].tolist(), e["x"].tolist(), e["y"].tolist(), e["p"].tolist()))


def _random(seed, n, W, H, t_max, sort=True):
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    t = rng.integers(0, t_max, n)
    ev["t"] = np.sort(t) if sort else t
    ev["x"] = rng.integers(0, W, n)
    ev["y"] = rng.integers(0, H, n)
    ev["p"] = rng.integers(0, 2, n)
    return ev


# ============================================================================ AEDAT 4.0

def test_aedat4_fixture_copied_byte_for_byte():
    assert AEDAT4.stat().st_size == 949_253
    assert _sha256(AEDAT4) == "b42f119af2548d4328e6c0f249e369a4b755d82eeb6ddceb14441492d979444c"


def test_aedat4_fixture_statistics():
    s = read_aedat4(AEDAT4)
    e = s.events
    assert s.sensor_size == (320, 240, 2) and e.dtype == EVENT_DTYPE
    assert len(s) == 111_954
    assert int((e["p"] == 1).sum()) == 55_023 and int((e["p"] == 0).sum()) == 56_931
    assert (int(e["x"].min()), int(e["x"].max())) == (0, 319)
    assert (int(e["y"].min()), int(e["y"].max())) == (0, 239)
    assert int(e["t"][0]) == 1605537493718345 and int(e["t"][-1]) == 1605537494308262
    assert round(s.duration_us / 1000, 1) == 589.9
    assert (np.diff(e["t"]) >= 0).all()


def test_aedat4_fixture_matches_the_aedat_package():
    """Independent cross-check against the `aedat` Rust decoder (what tonic uses), if present."""
    aedat = pytest.importorskip("aedat")
    parts = [p["events"] for p in aedat.Decoder(str(AEDAT4)) if p["stream_id"] == 0
             and "events" in p]
    ref = np.concatenate(parts)
    e = read_aedat4(AEDAT4).events
    np.testing.assert_array_equal(e["t"], ref["t"].astype(np.int64))
    np.testing.assert_array_equal(e["x"], ref["x"])
    np.testing.assert_array_equal(e["y"], ref["y"])
    np.testing.assert_array_equal(e["p"], ref[ref.dtype.names[3]].astype(np.int8))


def test_aedat4_non_utf8_info_node_is_a_chipsim_error(tmp_path):
    # this exact corruption makes the `aedat` package abort the Python process
    data = bytearray(AEDAT4.read_bytes())
    i = data.index(b'<dv version="2.0">') + 11
    data[i] = 0xEB
    f = tmp_path / "x.aedat4"
    f.write_bytes(bytes(data))
    with pytest.raises(ChipsimError, match="not UTF-8") as ei:
        read_aedat4(f)
    assert str(f) in str(ei.value) and "byte offset 18" in str(ei.value)
    data[i] = ord("<")
    f.write_bytes(bytes(data))
    with pytest.raises(ChipsimError, match="well-formed XML"):
        read_aedat4(f)


def test_aedat4_lowest_events_stream_and_skipped_streams(tmp_path):
    """Packets of another stream id (an IMU stream, say) are skipped."""
    ev = _random(11, 30, 16, 16, 1000)
    data = bytearray(encode_aedat4(EventStream(ev, (16, 16, 2)), packet_events=10,
                                   compression="none"))
    hsize = struct.unpack_from("<i", data, 14)[0]
    pos = 18 + hsize
    size = struct.unpack_from("<i", data, pos + 4)[0]
    struct.pack_into("<i", data, pos, 2)            # first packet now belongs to stream 2
    f = tmp_path / "s.aedat4"
    f.write_bytes(bytes(data))
    np.testing.assert_array_equal(read_aedat4(f).events, ev[10:])
    assert size > 0


@pytest.mark.parametrize("compression", ["lz4", "none"])
def test_aedat4_round_trip_several_packets(tmp_path, compression):
    ev = _random(1, 5000, 346, 260, 2 ** 45)
    f = tmp_path / "rt.aedat4"
    write_aedat4(f, EventStream(ev, (346, 260, 2)), compression=compression, packet_events=777)
    data = f.read_bytes()
    assert data.startswith(b"#!AER-DAT4.0\r\n")
    back = read_aedat4(f)
    assert back.sensor_size == (346, 260, 2)
    np.testing.assert_array_equal(back.events, ev)
    # 5000 / 777 -> 7 packets: count the packet headers by walking the container
    hsize = struct.unpack_from("<i", data, 14)[0]
    pos, n_packets = 18 + hsize, 0
    while pos < len(data):
        sid, size = struct.unpack_from("<ii", data, pos)
        assert sid == 0
        pos += 8 + size
        n_packets += 1
    assert pos == len(data) and n_packets == 7


def test_aedat4_packet_payload_is_the_documented_flatbuffer(tmp_path):
    ev = _events([(123456789012, 5, 7, 1), (123456789013, 300, 2, 0)])
    data = encode_aedat4(EventStream(ev, (320, 240, 2)), compression="none")
    hsize = struct.unpack_from("<i", data, 14)[0]
    pos = 18 + hsize
    sid, size = struct.unpack_from("<ii", data, pos)
    fb = data[pos + 8:pos + 8 + size]
    assert struct.unpack_from("<I", fb, 0)[0] == size - 4            # size prefix
    assert fb[8:12] == b"EVTS"
    root = 4 + struct.unpack_from("<I", fb, 4)[0]
    vt = root - struct.unpack_from("<i", fb, root)[0]
    field0 = root + struct.unpack_from("<H", fb, vt + 4)[0]
    vec = field0 + struct.unpack_from("<I", fb, field0)[0]
    assert struct.unpack_from("<I", fb, vec)[0] == 2
    assert (vec + 4) % 8 == 0
    assert struct.unpack_from("<qhh?", fb, vec + 4) == (123456789012, 5, 7, True)
    assert struct.unpack_from("<qhh?", fb, vec + 20) == (123456789013, 300, 2, False)


def test_aedat4_empty_stream(tmp_path):
    f = tmp_path / "e.aedat4"
    write_aedat4(f, EventStream(np.zeros(0, EVENT_DTYPE), (32, 24, 2)))
    s = read_aedat4(f)
    assert len(s) == 0 and s.sensor_size == (32, 24, 2)


def test_aedat4_truncated_fixture_names_offset(tmp_path):
    data = AEDAT4.read_bytes()
    f = tmp_path / "cut.aedat4"
    f.write_bytes(data[:500_000])
    with pytest.raises(ChipsimError) as ei:
        read_aedat4(f)
    msg = str(ei.value)
    assert str(f) in msg and "byte offset" in msg and "past" in msg


def test_aedat4_header_errors(tmp_path):
    f = tmp_path / "bad.aedat4"
    f.write_bytes(b"#!AER-DAT3.1\r\n")
    with pytest.raises(ChipsimError, match="magic"):
        read_aedat4(f)
    f.write_bytes(b"#!AER-DAT4.0\r\n" + struct.pack("<i", 10_000) + b"\0" * 20)
    with pytest.raises(ChipsimError, match="byte offset 14") as ei:
        read_aedat4(f)
    assert str(f) in str(ei.value)


def test_aedat4_packet_size_past_end(tmp_path):
    data = bytearray(encode_aedat4(EventStream(_random(2, 50, 10, 10, 1000), (10, 10, 2)),
                                   packet_events=20))
    hsize = struct.unpack_from("<i", data, 14)[0]
    first = 18 + hsize
    size = struct.unpack_from("<i", data, first + 4)[0]
    second = first + 8 + size
    struct.pack_into("<i", data, second + 4, 2 ** 30)
    f = tmp_path / "big.aedat4"
    f.write_bytes(bytes(data))
    with pytest.raises(ChipsimError, match=f"byte offset {second}"):
        read_aedat4(f)


def test_aedat4_corrupt_payload_names_packet(tmp_path):
    data = bytearray(encode_aedat4(EventStream(_random(3, 50, 10, 10, 1000), (10, 10, 2)),
                                   packet_events=20))
    hsize = struct.unpack_from("<i", data, 14)[0]
    first = 18 + hsize
    data[first + 8:first + 12] = b"\xff\xff\xff\xff"      # destroy the LZ4 frame magic
    f = tmp_path / "corrupt.aedat4"
    f.write_bytes(bytes(data))
    with pytest.raises(ChipsimError) as ei:
        read_aedat4(f)
    assert str(f) in str(ei.value) and f"byte offset {first}" in str(ei.value)


def test_aedat4_writer_rejects_out_of_range():
    with pytest.raises(ChipsimError, match="x=10"):
        encode_aedat4(EventStream(_events([(0, 10, 0, 0)]), (16, 16, 2)), sensor_size=(10, 10, 2))


# ============================================================================ AEDAT 2.0

def test_aedat2_header_fixture():
    assert _sha256(AEDAT2_HEADER) == \
        "91481480838a901503239605f4a57164b69407b8b469d11c5e62b5c91d243203"
    h = read_aedat2_header(AEDAT2_HEADER)
    assert h["version"] == "2.0" and len(h["lines"]) == 12
    assert h["lines"][0] == "#!AER-DAT2.0"
    assert h["creation_time_ms"] == 1695355587880
    assert h["chip"] == "eu.seebetter.ini.chips.davis.Davis346red"
    assert h["data_offset"] == 599 and h["n_events"] == 0
    for layout, size in (("dvs128", (128, 128, 2)), ("davis346", (346, 260, 2))):
        s = read_aedat2(AEDAT2_HEADER, layout)
        assert len(s) == 0 and s.sensor_size == size


def test_aedat2_hand_made_addresses_spikingjelly_mapping(tmp_path):
    # address = yfield << 8 | xfield << 1 | bit0 (jAER DVS128); SpikingJelly:
    # x = 127 - yfield, y = 127 - xfield, p = 1 - bit0
    head = b"#!AER-DAT2.0\r\n# Timestamps tick: 1 us\r\n"
    words = [(0x0000, 10),            # yf 0, xf 0, bit0 0 -> x 127, y 127, ON
             (0x0001, 20),            # bit0 1 -> OFF
             (0x0102, 30),            # yf 1, xf 1 -> x 126, y 126
             (0x7F00, 40),            # yf 127, xf 0 -> x 0, y 127
             (0x00FE, 50),            # yf 0, xf 127 -> x 127, y 0
             (0x8A15, 60)]            # bit 15 ignored; yf 0x0A, xf 0x0A, OFF -> x 117, y 117
    body = b"".join(struct.pack(">Ii", a, t) for a, t in words)
    f = tmp_path / "hand.aedat"
    f.write_bytes(head + body)
    s = read_aedat2(f)
    assert s.sensor_size == (128, 128, 2)
    assert _rows(s) == [(10, 127, 127, 1), (20, 127, 127, 0), (30, 126, 126, 1),
                        (40, 0, 127, 1), (50, 127, 0, 1), (60, 117, 117, 0)]


def test_aedat2_l_shape_renders_upright(tmp_path):
    """An upright 'L' (vertical stroke in column 2, rows 1..5; foot in row 5, columns 2..5)
    encoded as CIFAR10-DVS addresses. With SpikingJelly's mapping and the image indexed
    [y, x] (row 0 at the top) it comes out as the same upright L: not transposed, not
    mirrored. The raw addresses are written by hand from jAER's bit fields."""
    want = np.array(["......",
                     "..#...",
                     "..#...",
                     "..#...",
                     "..#...",
                     "..####"])
    # pixel (row r, column c) of the upright image is xfield = 127 - r, yfield = 127 - c
    pix = [(r, c) for r in range(6) for c in range(6) if want[r][c] == "#"]
    addrs = [((127 - c) << 8) | ((127 - r) << 1) for r, c in pix]
    assert addrs[0] == (125 << 8) | (126 << 1)          # row 1, column 2
    body = b"".join(struct.pack(">Ii", a, 100 + i) for i, a in enumerate(addrs))
    f = tmp_path / "L.aedat"
    f.write_bytes(b"#!AER-DAT2.0\n" + body)
    s = read_aedat2(f)
    img = np.zeros((128, 128), dtype=int)
    np.add.at(img, (s.events["y"], s.events["x"]), 1)
    got = np.array(["".join("#" if v else "." for v in row[:6]) for row in img[:6]])
    np.testing.assert_array_equal(got, want)
    assert img.sum() == len(pix) and (s.events["p"] == 1).all()
    # tonic's unflipped reading (x = yfield, y = xfield) puts it in the far corner instead
    tonic_x = (np.array(addrs) >> 8) & 0x7F
    assert tonic_x.min() >= 122


def test_aedat2_timestamp_unwrap_hand_checked(tmp_path):
    body = b"".join(struct.pack(">II", 0, t) for t in
                    (2 ** 32 - 10, 2 ** 32 - 5, 3, 2 ** 31 + 20, 2 ** 31 + 17, 7, 8))
    f = tmp_path / "wrap.aedat"
    f.write_bytes(b"#!AER-DAT2.0\r\n" + body)
    t = read_aedat2(f).events["t"].tolist()
    W = 2 ** 32
    # 2**31+17 down to 7 is a jump larger than 2**31 -> wrap; 2**31+20 -> 2**31+17 is not
    assert t == [W - 10, W - 5, W + 3, W + 2 ** 31 + 20, W + 2 ** 31 + 17, 2 * W + 7, 2 * W + 8]
    # a backwards jump of exactly 2**31 - 5 is kept as a backwards jump
    body = struct.pack(">II", 0, 2 ** 31) + struct.pack(">II", 0, 5)
    f.write_bytes(b"#!AER-DAT2.0\r\n" + body)
    assert read_aedat2(f).events["t"].tolist() == [2 ** 31, 5]


@pytest.mark.parametrize("seed", [0, 1])
def test_aedat2_round_trip_dvs128_with_wrap(tmp_path, seed):
    rng = np.random.default_rng(seed)
    n = 4000
    ev = _random(seed, n, 128, 128, 1)
    ev["t"] = 2 ** 32 - 2 ** 23 + np.cumsum(rng.integers(0, 2 ** 22, n))  # crosses 2**32 and more
    assert ev["t"][-1] > 2 ** 33
    f = tmp_path / "rt.aedat"
    write_aedat2(f, EventStream(ev, (128, 128, 2)))
    np.testing.assert_array_equal(read_aedat2(f).events, ev)
    raw = np.frombuffer(f.read_bytes()[read_aedat2_header(f)["data_offset"]:], ">u4")
    assert raw[1::2].max() < 2 ** 32 and (np.diff(raw[1::2].astype(np.int64)) < 0).any()


def test_aedat2_round_trip_davis346_and_header_lines(tmp_path):
    ev = _random(5, 3000, 346, 260, 10 ** 6)
    f = tmp_path / "davis.aedat"
    write_aedat2(f, ev, header_lines=["# AEChip: eu.seebetter.ini.chips.davis.Davis346red",
                                      "Creation time: System.currentTimeMillis() 42"],
                 layout="davis346")
    h = read_aedat2_header(f)
    assert h["lines"][0] == "#!AER-DAT2.0" and h["creation_time_ms"] == 42
    assert h["chip"].endswith("Davis346red") and h["n_events"] == 3000
    s = read_aedat2(f, "davis346")
    assert s.sensor_size == (346, 260, 2)
    np.testing.assert_array_equal(s.events, ev)


def test_aedat2_davis346_drops_aps_and_flips(tmp_path):
    words = [((3 << 22) | (10 << 12) | (1 << 11), 5),     # polarity: x 335, y 256, ON
             ((1 << 31) | (3 << 22) | (10 << 12), 6),     # APS sample: dropped
             ((259 << 22) | (345 << 12), 7)]              # x 0, y 0, OFF
    f = tmp_path / "d.aedat"
    f.write_bytes(b"#!AER-DAT2.0\n" + b"".join(struct.pack(">II", a, t) for a, t in words))
    assert _rows(read_aedat2(f, "davis346")) == [(5, 335, 256, 1), (7, 0, 0, 0)]
    f.write_bytes(b"#!AER-DAT2.0\n" + struct.pack(">Ii", 300 << 22, 1))
    with pytest.raises(ChipsimError, match="byte offset 13"):
        read_aedat2(f, "davis346")


def test_aedat2_errors(tmp_path):
    f = tmp_path / "x.aedat"
    f.write_bytes(b"#!AER-DAT2.0\r\n# c\r\n" + b"\0" * 8 * 3 + b"\0" * 5)
    with pytest.raises(ChipsimError) as ei:
        read_aedat2(f)
    assert str(f) in str(ei.value) and "byte offset 43" in str(ei.value)
    f.write_bytes(b"#!AER-DAT3.1\r\n")
    with pytest.raises(ChipsimError, match="magic"):
        read_aedat2(f)
    f.write_bytes(b"#!AER-DAT2.0\r\n# no end")
    with pytest.raises(ChipsimError, match="byte offset 14"):
        read_aedat2(f)
    with pytest.raises(ChipsimError, match="layout"):
        read_aedat2(f, "atis")
    with pytest.raises(ChipsimError, match="not found"):
        read_aedat2(tmp_path / "missing.aedat")
    with pytest.raises(ChipsimError, match="sorted|non-decreasing"):
        encode_aedat2(_events([(10, 0, 0, 0), (5, 0, 0, 0)]))
    with pytest.raises(ChipsimError, match="x=128"):
        encode_aedat2(_events([(10, 128, 0, 0)]))


def test_aedat2_end_of_ascii_header_line_stops_scan():
    # a first event whose address starts with '#' (0x23) after the explicit end line
    data = (b"#!AER-DAT2.0\r\n#End Of ASCII Header\r\n" + struct.pack(">Ii", 0x23000000, 1))
    s = decode_aedat2_bytes(data, "davis346")
    assert len(s) == 1


# ============================================================================ AEDAT 3.1

def _pkt(etype, size, tsovf, body, number):
    return struct.pack("<hhiiiiii", etype, 1, size, 4, tsovf, number, number, number) + body


def test_aedat3_hand_made_file(tmp_path):
    head = (b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n"
            b"#Start-Time: 2017-01-01\r\n#!END-HEADER\r\n")
    d = lambda x, y, p, v=1: (x << 17) | (y << 2) | (p << 1) | v  # noqa: E731
    pol = b"".join(struct.pack("<Ii", *w) for w in
                   [(d(5, 7, 1), 100), (d(127, 0, 0), 200), (d(9, 9, 1, v=0), 250)])
    special = struct.pack("<Ii", 0xFFFFFFFF, 0) * 2
    pol2 = struct.pack("<Ii", d(1, 2, 0), 3)
    data = head + _pkt(1, 8, 0, pol, 3) + _pkt(0, 8, 0, special, 2) + _pkt(1, 8, 2, pol2, 1)
    f = tmp_path / "user01_led.aedat"
    f.write_bytes(data)
    s = read_aedat3(f)
    assert s.sensor_size == (128, 128, 2)
    assert _rows(s) == [(100, 5, 7, 1), (200, 127, 0, 0), ((2 << 31) | 3, 1, 2, 0)]


@pytest.mark.parametrize("seed", [0, 1])
def test_aedat3_round_trip_with_overflow(tmp_path, seed):
    ev = _random(seed, 6000, 128, 128, 1)
    rng = np.random.default_rng(seed)
    ev["t"] = 2 ** 31 - 1000 + np.cumsum(rng.integers(0, 2 ** 21, 6000))
    f = tmp_path / "rt.aedat"
    write_aedat3(f, EventStream(ev, (128, 128, 2)), packet_events=1000)
    s = read_aedat3(f)
    np.testing.assert_array_equal(s.events, ev)
    assert (ev["t"] >> 31).max() >= 3   # several overflow values were exercised


def test_aedat3_errors(tmp_path):
    good = encode_aedat3(_random(4, 30, 128, 128, 10 ** 6), packet_events=10)
    hlen = good.index(b"#!END-HEADER\r\n") + 14
    f = tmp_path / "t.aedat"
    f.write_bytes(good[:hlen + 28 + 80 + 10])       # second packet header truncated
    with pytest.raises(ChipsimError, match=f"byte offset {hlen + 108}"):
        read_aedat3(f)
    f.write_bytes(good[:-3])                         # last packet body short
    with pytest.raises(ChipsimError, match=f"byte offset {hlen + 2 * 108}.*past the end"):
        read_aedat3(f)
    f.write_bytes(b"#!AER-DAT3.1\r\n#Format: RAW\r\n")
    with pytest.raises(ChipsimError, match="END-HEADER"):
        read_aedat3(f)
    f.write_bytes(b"#!AER-DAT2.0\r\n")
    with pytest.raises(ChipsimError, match="magic"):
        read_aedat3(f)
    bad = bytearray(good)
    struct.pack_into("<I", bad, hlen + 28, (200 << 17) | 1)   # x = 200 on a DVS128
    f.write_bytes(bytes(bad))
    with pytest.raises(ChipsimError, match=f"byte offset {hlen + 28}.*x=200"):
        read_aedat3(f)


def test_gesture_labels_and_split(tmp_path):
    csv = tmp_path / "user01_fluorescent_labels.csv"
    csv.write_text("class,startTime_usec,endTime_usec\n1,100,200\n11,200,400\n\n")
    labels = read_gesture_labels(csv)
    assert labels == [(0, 100, 200), (10, 200, 400)]
    ev = _events([(t, t % 128, 0, 1) for t in (50, 100, 150, 199, 200, 399, 400, 500)])
    parts = split_by_labels(EventStream(ev, (128, 128, 2)), labels)
    assert [c for _, c in parts] == [0, 10]
    assert parts[0][0].events["t"].tolist() == [100, 150, 199]
    assert parts[1][0].events["t"].tolist() == [200, 399]
    assert parts[1][0].sensor_size == (128, 128, 2)
    # unsorted streams are split by mask
    parts = split_by_labels(EventStream(ev[::-1].copy(), (128, 128, 2)), labels)
    assert sorted(parts[0][0].events["t"].tolist()) == [100, 150, 199]
    csv.write_text("class,startTime_usec,endTime_usec\n12,1,2\n")
    with pytest.raises(ChipsimError, match="class 12") as ei:
        read_gesture_labels(csv)
    assert str(csv) in str(ei.value)
    csv.write_text("class,startTime_usec,endTime_usec\n1,x,2\n")
    with pytest.raises(ChipsimError, match="line 2"):
        read_gesture_labels(csv)


# ============================================================================ fuzzing

def _check(reader, data, suffix):
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / f"r{suffix}"
        f.write_bytes(data)
        try:
            s = reader(f)
        except ChipsimError as exc:
            assert str(f) in str(exc)
            return None
        assert isinstance(s, EventStream) and s.events.dtype == EVENT_DTYPE
        return s


_A2 = encode_aedat2(_random(7, 6, 128, 128, 10 ** 6))
_A3 = encode_aedat3(_random(8, 6, 128, 128, 10 ** 6), packet_events=4)
_A4 = encode_aedat4(EventStream(_random(9, 6, 16, 16, 10 ** 6), (16, 16, 2)), packet_events=4)
_A4N = encode_aedat4(EventStream(_random(9, 6, 16, 16, 10 ** 6), (16, 16, 2)), packet_events=4,
                     compression="none")
_READERS = {"2": (read_aedat2, _A2, b"#!AER-DAT2.0\r\n"),
            "2d": (lambda f: read_aedat2(f, "davis346"), _A2, b"#!AER-DAT2.0\n"),
            "3": (read_aedat3, _A3, b"#!AER-DAT3.1\r\n#!END-HEADER\r\n"),
            "4": (read_aedat4, _A4, b"#!AER-DAT4.0\r\n"),
            "4n": (read_aedat4, _A4N, b"#!AER-DAT4.0\r\n")}


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(_READERS)), st.binary(max_size=80))
def test_random_bytes_only_chipsim_error(kind, data):
    reader, _, magic = _READERS[kind]
    _check(reader, data, ".aedat")
    _check(reader, magic + data, ".aedat")


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(_READERS)), st.data())
def test_truncated_and_mutated_files_only_chipsim_error(kind, draw):
    reader, good, _ = _READERS[kind]
    cut = draw.draw(st.integers(0, len(good)))
    _check(reader, good[:cut], ".aedat")
    buf = bytearray(good)
    for _ in range(draw.draw(st.integers(1, 4))):
        i = draw.draw(st.integers(0, len(buf) - 1))
        buf[i] = draw.draw(st.integers(0, 255))
    _check(reader, bytes(buf), ".aedat")


def test_valid_small_files_decode():
    for kind, (reader, good, _) in _READERS.items():
        s = _check(reader, good, ".aedat")
        assert s is not None and len(s) == 6, kind
