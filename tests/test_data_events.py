"""EventStream / EVENT_DTYPE."""

import dataclasses

import numpy as np
import pytest

from chipsim.data.events import EVENT_DTYPE, EventStream
from chipsim.errors import ChipsimError


def _events(ts, xs=None, ys=None, ps=None):
    ev = np.zeros(len(ts), dtype=EVENT_DTYPE)
    ev["t"] = ts
    ev["x"] = xs if xs is not None else 0
    ev["y"] = ys if ys is not None else 0
    ev["p"] = ps if ps is not None else 1
    return ev


def test_dtype_fields_and_sizes():
    assert EVENT_DTYPE.names == ("t", "x", "y", "p")
    assert EVENT_DTYPE["t"] == np.dtype("<i8")
    assert EVENT_DTYPE["x"] == np.dtype("<i2")
    assert EVENT_DTYPE["y"] == np.dtype("<i2")
    assert EVENT_DTYPE["p"] == np.dtype("i1")
    assert EVENT_DTYPE.itemsize == 8 + 2 + 2 + 1


def test_len_and_duration():
    s = EventStream(_events([100, 150, 400]), (34, 34, 2))
    assert len(s) == 3
    assert s.duration_us == 300
    assert s.sensor_size == (34, 34, 2)


def test_duration_of_empty_and_single():
    assert EventStream(_events([]), (4, 4, 2)).duration_us == 0
    assert len(EventStream(_events([]), (4, 4, 2))) == 0
    assert EventStream(_events([7]), (4, 4, 2)).duration_us == 0


def test_frozen():
    s = EventStream(_events([1]), (4, 4, 2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.sensor_size = (1, 1, 1)


def test_sensor_size_normalised_to_int_tuple():
    s = EventStream(_events([1]), [np.int64(34), 34, 2])
    assert s.sensor_size == (34, 34, 2)
    assert all(type(v) is int for v in s.sensor_size)


@pytest.mark.parametrize("bad", [np.zeros(3, dtype=np.int64), [1, 2, 3],
                                 np.zeros((2, 2), dtype=EVENT_DTYPE)])
def test_bad_events_raise_chipsim_error(bad):
    with pytest.raises(ChipsimError, match="events"):
        EventStream(bad, (34, 34, 2))


@pytest.mark.parametrize("bad", [(34, 34), (34, 0, 2), "abc", None])
def test_bad_sensor_size_raises_chipsim_error(bad):
    with pytest.raises(ChipsimError, match="sensor_size"):
        EventStream(_events([1]), bad)
