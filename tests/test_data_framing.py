"""frame_events: hand-worked examples, invariants, and a per-event reference."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chipsim.data.events import EVENT_DTYPE, EventStream
from chipsim.data.framing import frame_events
from chipsim.data.nmnist import read_nmnist
from chipsim.errors import ChipsimError

FIXTURE = Path(__file__).parent / "data" / "fixtures" / "sample_nmnist.bin"


def _stream(rows, sensor=(4, 3, 2)):
    """rows: (t, x, y, p)"""
    ev = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, (t, x, y, p) in enumerate(rows):
        ev[i] = (t, x, y, p)
    return EventStream(ev, sensor)


# Sensor W=4, H=3, P=2. Default window [10, 30), span 20.
HAND = _stream([
    (10, 0, 0, 1),
    (12, 3, 2, 0),
    (15, 3, 2, 0),
    (19, 1, 1, 1),
    (20, 2, 0, 0),
    (29, 0, 2, 1),
])


def test_hand_worked_two_bins_count():
    # bins: (t-10)*2//20 -> 0, 0, 0, 0, 1, 1
    expected = np.array([
        [  # bin 0
            [[0, 0, 0, 0],   # p=0 (OFF), rows y=0..2, columns x=0..3
             [0, 0, 0, 0],
             [0, 0, 0, 2]],
            [[1, 0, 0, 0],   # p=1 (ON)
             [0, 1, 0, 0],
             [0, 0, 0, 0]],
        ],
        [  # bin 1
            [[0, 0, 1, 0],
             [0, 0, 0, 0],
             [0, 0, 0, 0]],
            [[0, 0, 0, 0],
             [0, 0, 0, 0],
             [1, 0, 0, 0]],
        ],
    ])
    got = frame_events(HAND, 2, mode="count")
    assert got.dtype == np.int32
    assert got.shape == (2, 2, 3, 4)
    np.testing.assert_array_equal(got, expected)
    binary = frame_events(HAND, 2, mode="binary")
    assert binary.dtype == np.uint8
    np.testing.assert_array_equal(binary, (expected > 0).astype(np.uint8))
    assert binary[0, 0, 2, 3] == 1   # two events, presence only


def test_hand_worked_three_bins_time_assignment():
    # bins: (t-10)*3//20 -> 0*3//20=0, 2*3//20=0, 5*3//20=0, 9*3//20=1, 10*3//20=1, 19*3//20=2
    got = frame_events(HAND, 3, mode="count")
    per_bin = got.sum(axis=(1, 2, 3))
    np.testing.assert_array_equal(per_bin, [3, 2, 1])
    assert got[1, 1, 1, 1] == 1 and got[1, 0, 0, 2] == 1
    assert got[2, 1, 2, 0] == 1


def test_hand_worked_downscale_2_ceil():
    # W=4 -> 2 columns, H=3 -> ceil(3/2)=2 rows; pixel (x, y) -> (x//2, y//2)
    expected = np.array([
        [[[0, 0], [0, 2]],      # bin 0, OFF: (3,2),(3,2) -> (1,1)
         [[2, 0], [0, 0]]],     # bin 0, ON : (0,0),(1,1) -> (0,0)
        [[[0, 1], [0, 0]],      # bin 1, OFF: (2,0) -> (1,0)
         [[0, 0], [1, 0]]],     # bin 1, ON : (0,2) -> (0,1)
    ])
    got = frame_events(HAND, 2, mode="count", downscale=2)
    assert got.shape == (2, 2, 2, 2)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(frame_events(HAND, 2, "binary", downscale=2), expected > 0)


def test_explicit_window_selects_events():
    # window [12, 20): events at 12, 15, 19 only; span 8, T=2 -> bins 0, 0, 1
    got = frame_events(HAND, 2, mode="count", t_start=12, t_end=20)
    assert got.sum() == 3
    np.testing.assert_array_equal(got.sum(axis=(1, 2, 3)), [2, 1])
    with pytest.raises(ChipsimError, match="t_end"):
        frame_events(HAND, 2, t_start=20, t_end=20)


def test_single_event_and_empty_stream():
    one = frame_events(_stream([(5, 1, 2, 0)]), 4, mode="count")
    assert one.sum() == 1 and one[0, 0, 2, 1] == 1
    empty = frame_events(_stream([]), 3, mode="count")
    assert empty.shape == (3, 2, 3, 4) and empty.sum() == 0


def test_one_channel_sensor_merges_polarities():
    s = _stream([(0, 0, 0, 0), (1, 0, 0, 1)], sensor=(2, 2, 1))
    got = frame_events(s, 1, mode="count")
    assert got.shape == (1, 1, 2, 2) and got[0, 0, 0, 0] == 2


def test_real_sample_every_event_lands():
    s = read_nmnist(FIXTURE)
    c = frame_events(s, 10, mode="count")
    assert c.shape == (10, 2, 34, 34)
    # tonic's ToFrame(n_time_bins=10) counts 4324 here (drops the last event); we keep all 4325.
    assert c.sum() == len(s) == 4325
    np.testing.assert_array_equal(c.sum(axis=(0, 2, 3)), [2180, 2145])  # OFF, ON
    np.testing.assert_array_equal(frame_events(s, 10, "binary"), (c > 0).astype(np.uint8))
    # last event goes to the last bin
    last = s.events[-1]
    assert c[9, last["p"], last["y"], last["x"]] >= 1
    # pooling preserves the total, per bin and channel
    for k in (2, 3, 5):
        ck = frame_events(s, 10, "count", downscale=k)
        assert ck.shape == (10, 2, -(-34 // k), -(-34 // k))
        np.testing.assert_array_equal(ck.sum(axis=(2, 3)), c.sum(axis=(2, 3)))


def test_downscale_sums_blocks_when_divisible():
    s = read_nmnist(FIXTURE)
    c = frame_events(s, 5, "count")
    c2 = frame_events(s, 5, "count", downscale=2)
    blocks = c.reshape(5, 2, 17, 2, 17, 2).sum(axis=(3, 5))
    np.testing.assert_array_equal(c2, blocks)


@pytest.mark.parametrize("kwargs, field", [
    ({"time_steps": 0}, "time_steps"),
    ({"time_steps": 2.5}, "time_steps"),
    ({"time_steps": 2, "mode": "spikes"}, "mode"),
    ({"time_steps": 2, "downscale": 0}, "downscale"),
])
def test_bad_arguments(kwargs, field):
    with pytest.raises(ChipsimError, match=field):
        frame_events(HAND, **kwargs)


def test_event_outside_sensor_raises():
    s = _stream([(0, 4, 0, 0)])  # x == W
    with pytest.raises(ChipsimError, match="outside the sensor"):
        frame_events(s, 1)


def _reference_frames(rows, w, h, p, T, k):
    """Per-event loop, written from the docstring."""
    hd, wd = -(-h // k), -(-w // k)
    out = np.zeros((T, p, hd, wd), dtype=np.int64)
    if not rows:
        return out
    t0 = min(r[0] for r in rows)
    t1 = max(r[0] for r in rows) + 1
    for t, x, y, pol in rows:
        b = (t - t0) * T // (t1 - t0)
        out[b, pol, y // k, x // k] += 1
    return out


@settings(max_examples=60, deadline=None)
@given(data=st.data(), w=st.integers(1, 9), h=st.integers(1, 9), T=st.integers(1, 7),
       k=st.integers(1, 4))
def test_matches_per_event_reference(data, w, h, T, k):
    rows = data.draw(st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, w - 1),
                                        st.integers(0, h - 1), st.integers(0, 1)), max_size=40))
    s = _stream(rows, sensor=(w, h, 2))
    c = frame_events(s, T, "count", downscale=k)
    np.testing.assert_array_equal(c, _reference_frames(rows, w, h, 2, T, k))
    assert c.sum() == len(rows)
    np.testing.assert_array_equal(frame_events(s, T, "binary", downscale=k), c > 0)
