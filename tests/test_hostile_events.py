"""Event files that lie (issue 11, parts 1 and 2), at the readers: a packet that decompresses
to gigabytes, a negative timestamp, streams posing as files, a file too large to decode. Each is
refused with the file (and byte offset) named, before it can take the machine's memory.

The inputs are in tests/hostile/events/ (tests/hostile/make_small.py wrote them) and, for the
LZ4 bomb, tests/hostile/make_large.py. The data sets' side: tests/test_hostile_datasets.py;
each input in a data set run through the command line: tests/test_hostile_corpus.py.
"""

from __future__ import annotations

import os
import tracemalloc

import pytest

from chipsim.data.aedat import MAX_AEDAT4_PACKET_BYTES, read_aedat2, read_aedat4
from chipsim.data.nmnist import read_nmnist
from chipsim.errors import ChipsimError
from tests.hostile.make_large import aedat4_bomb
from tests.hostile_cli import HOSTILE
from tests.writers import random_stream, write_aedat2, write_aedat4, write_nmnist

EVENTS = HOSTILE / "events"




def _refused(fn, *needles):
    with pytest.raises(ChipsimError) as ei:
        fn()
    msg = str(ei.value)
    assert "\n" not in msg
    for n in needles:
        assert str(n) in msg, msg
    return ei.value


# ------------------------------------------------------------------ an LZ4 packet bomb

@pytest.fixture(scope="module", params=["declared in the frame", "only in the FlatBuffer"])
def bomb(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("bomb") / "bomb.aedat4"
    return aedat4_bomb(path, content_size=request.param == "declared in the frame")


def test_lz4_bomb_is_refused_by_its_declared_size(bomb):
    assert bomb.stat().st_size < 20 * 2**20
    tracemalloc.start()
    try:
        e = _refused(lambda: read_aedat4(bomb), bomb, "packet at byte offset", "decompress",
                     "2.3 GB")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, peak                      # the file (a few MB), not 2.3 GB
    assert f"at most {MAX_AEDAT4_PACKET_BYTES // 2**20} MiB" in str(e)


def test_the_packets_of_a_file_may_not_decompress_beyond_memory(tmp_path, monkeypatch):
    p = tmp_path / "ok.aedat4"
    write_aedat4(p, random_stream(n=20_000), packet_events=1000)
    assert len(read_aedat4(p)) == 20_000
    assert 3 * p.stat().st_size < 700_000 < 3 * 20_000 * 16      # the file fits, its events not
    monkeypatch.setenv("CHIPSIM_MAX_MEMORY", "700kB")
    _refused(lambda: read_aedat4(p), p, "packet at byte offset", "of memory left for it")


# ---------------------------------------------------------------- timestamps out of range

def test_negative_timestamp_is_refused_with_file_and_offset():
    p = EVENTS / "negative_timestamp.aedat4"
    _refused(lambda: read_aedat4(p), p, "packet at byte offset", "event 5",
             str(-2**63 + 10), "timestamps >= 0")


# ------------------------------------------------------------- streams posing as recordings

@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "/dev/urandom"])
@pytest.mark.parametrize("reader", [read_nmnist, read_aedat2, read_aedat4])
def test_a_reader_refuses_a_stream_posing_as_a_file(tmp_path, kind, reader):
    p = tmp_path / "rec.bin"
    if kind == "fifo":
        os.mkfifo(p)
    else:
        if not os.path.exists(kind):
            pytest.skip(f"no {kind}")
        p.symlink_to(kind)
    _refused(lambda: reader(p), p, "not a regular file")


def test_a_recording_larger_than_memory_is_refused_before_reading(tmp_path, monkeypatch):
    p = tmp_path / "big.aedat"
    write_aedat2(p, random_stream(n=50_000))
    monkeypatch.setenv("CHIPSIM_MAX_MEMORY", "1MB")
    _refused(lambda: read_aedat2(p), p, "would need", "1.0 MB is available")
    q = tmp_path / "big.bin"
    write_nmnist(q, random_stream(n=50_000, W=34, H=34).events)
    _refused(lambda: read_nmnist(q), q, "would need", "1.0 MB is available")


