"""Hostile results files (issue 11, part 1): what `chipsim report`, `price` and `compare` read.

A results file has no fixed size cap (a long run's counts make files of gigabytes), but it is
read whole, so the arrays it declares must fit in the memory available: a small file that
declares a 100 TB dataset is refused by its declared size before anything is read. These tests
are the reader's; tests/test_hostile_corpus.py runs the file, /dev/zero and a FIFO through
report, price and compare (refused before they are opened, nothing written).
"""

from __future__ import annotations

import pytest

from chipsim.errors import ChipsimError
from chipsim.report.h5 import read_result, write_result
from tests.hostile.make_large import HUGE_DATASET, huge_declared_results
from tests.report_fixtures import make_result


def test_declared_size_is_checked_before_reading(tmp_path):
    bad = huge_declared_results(tmp_path / "huge.h5")
    assert bad.stat().st_size < 2**20
    with pytest.raises(ChipsimError) as ei:
        read_result(bad)
    msg = str(ei.value)
    assert str(bad) in msg and HUGE_DATASET in msg and "TB" in msg and "available" in msg


def test_a_real_result_is_read_under_a_small_budget(tmp_path, monkeypatch):
    path = tmp_path / "ok.h5"
    write_result(make_result(seed=3), path)
    monkeypatch.setenv("CHIPSIM_MAX_MEMORY", "50MB")
    read_result(path)
