"""Temporary files of killed writers (chipsim/atomic.py): the next write of the same target
removes those of dead processes of this host, and only those."""

from __future__ import annotations

import os
import subprocess
import sys

from chipsim.atomic import _host, make_temp, remove_stale_temps
from chipsim.report.h5 import read_result, write_result
from tests.report_fixtures import assert_results_equal, make_result


def _dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_temp_names_carry_host_and_pid(tmp_path):
    t = make_temp(tmp_path / "run.h5")
    assert t.parent == tmp_path and t.exists()
    assert t.name.startswith(f".run.h5.{_host()}.{os.getpid()}.") and t.name.endswith(".tmp")


def test_write_removes_temp_files_of_dead_writers_only(tmp_path):
    host = _host()
    dead = tmp_path / f".run.h5.{host}.{_dead_pid()}.abc_123.tmp"      # a killed writer's
    live = tmp_path / f".run.h5.{host}.{os.getppid()}.def456.tmp"      # a running process's
    other_host = tmp_path / f".run.h5.elsewhere-{host}.{_dead_pid()}.ghi789.tmp"
    old_style = tmp_path / ".run.h5.k2j3h4g5.tmp"                       # chipsim <= 0.2's name
    other_target = tmp_path / f".other.h5.{host}.{_dead_pid()}.jkl012.tmp"
    for f in (dead, live, other_host, old_style, other_target):
        f.write_bytes(b"\0" * 1000)
    result = make_result(seed=3)
    write_result(result, tmp_path / "run.h5")
    assert not dead.exists()
    assert live.exists() and other_host.exists() and old_style.exists() and other_target.exists()
    assert_results_equal(result, read_result(tmp_path / "run.h5"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["run.h5", live.name, other_host.name, old_style.name, other_target.name])


def test_remove_stale_temps_never_raises(tmp_path):
    assert remove_stale_temps(tmp_path / "missing_dir" / "run.h5") == []
    f = tmp_path / f".run.h5.{_host()}.{_dead_pid()}.x.tmp"
    f.write_bytes(b"")
    assert remove_stale_temps(tmp_path / "run.h5") == [f]
