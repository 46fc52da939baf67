"""The peak memory the hostile tests measure is the child's own, whatever pytest's size.

Linux carries a process's peak RSS across ``exec``; measured naively, a child of a 1 GB pytest
process reports 1 GB (CI failed this way). These tests grow this process past the 1 GiB limit
and check that a child doing nothing still measures small, and that a child allocating
300 MiB measures at least that, so the limit can both pass and fail.
"""

import sys

import pytest

from tests.hostile_cli import PEAK_LIMIT, run_measured

TOUCH_300_MIB = "b = bytearray(300 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1"


@pytest.fixture(scope="module")
def big_parent():
    ballast = bytearray(PEAK_LIMIT + (100 << 20))
    ballast[::4096] = b"\x01" * len(range(0, len(ballast), 4096))   # resident, not just mapped
    yield
    del ballast


def test_child_of_a_big_parent_measures_its_own_small_peak(tmp_path, big_parent):
    rc, _, err, peak = run_measured([sys.executable, "-c", "pass"], tmp_path, timeout=60)
    assert rc == 0, err
    assert peak < 100 << 20, f"{peak / 2**20:.0f} MiB"


def test_child_that_allocates_measures_what_it_allocated(tmp_path, big_parent):
    rc, _, err, peak = run_measured([sys.executable, "-c", TOUCH_300_MIB], tmp_path, timeout=60)
    assert rc == 0, err
    assert 300 << 20 <= peak < PEAK_LIMIT, f"{peak / 2**20:.0f} MiB"


def test_exit_status_and_streams_come_through(tmp_path):
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    rc, out, err, _ = run_measured([sys.executable, "-c", code], tmp_path, timeout=60)
    assert (rc, out, err) == (3, "out\n", "err\n")
