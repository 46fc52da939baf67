"""Hostile results files (issue 11, part 1): what `chipsim report`, `price` and `compare` read.

A results file has no fixed size cap (a long run's counts make files of gigabytes), but it is
read whole, so the arrays it declares must fit in the memory available: a small file that
declares a 100 TB dataset is refused by its declared size before anything is read; devices and
FIFOs are refused before they are opened.
"""

from __future__ import annotations

import os

import pytest

from chipsim.errors import ChipsimError
from chipsim.report.h5 import read_result, write_result
from tests.hostile.make_large import HUGE_DATASET, huge_declared_results
from tests.hostile_cli import assert_refused, run_cli
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


@pytest.mark.parametrize("command", ["report", "price", "compare"])
def test_cli_refuses_a_huge_declared_result_in_one_line_under_1_gb(tmp_path, command):
    bad = huge_declared_results(tmp_path / "huge.h5")
    args = {"report": ["report", bad, "--out", tmp_path / "rep.png"],
            "price": ["price", bad, "--profile", "loihi", "--out", tmp_path / "p.h5", "--no-plot"],
            "compare": ["compare", bad, bad, "--out", tmp_path / "c.png"]}[command]
    r = run_cli(args, tmp_path, timeout=120)
    assert_refused(r, str(bad), HUGE_DATASET)
    assert not (tmp_path / "p.h5").exists() and not list(tmp_path.glob("*.png"))


@pytest.mark.parametrize("dev", ["/dev/zero", "fifo"])
def test_cli_refuses_results_that_are_not_files(tmp_path, dev):
    if dev == "fifo":
        dev = tmp_path / "r.h5"
        os.mkfifo(dev)
    r = run_cli(["report", dev], tmp_path, timeout=60)
    assert_refused(r, str(dev), "not a regular file")
