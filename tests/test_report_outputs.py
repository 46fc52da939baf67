"""What an output may replace (chipsim/report/outputs.py) and the results file's lock
(chipsim/report/h5.py output_lock), below the command line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chipsim.errors import ChipsimError
from chipsim.report.h5 import lock_path, output_lock, stored_workload_text, write_result
from chipsim.report.outputs import (VALIDATE_SOURCE, check_path, check_replace, compare_source,
                                    figure_source, output_source, workload_source)
from chipsim.report.plots import plot_energy, plot_report
from tests.report_fixtures import WORKLOAD_TEXT, make_result

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ROOT / "tests" / "hostile" / "outputs"
V1 = ROOT / "tests" / "data" / "fixtures" / "result_v1_nmnist_loihi.h5"


def test_a_results_file_is_known_by_its_workload_text(tmp_path):
    write_result(make_result(0), tmp_path / "r.h5")
    assert stored_workload_text(tmp_path / "r.h5") == WORKLOAD_TEXT
    assert output_source(tmp_path / "r.h5") == workload_source(WORKLOAD_TEXT)
    assert "name: nmnist" in stored_workload_text(V1)          # schema 1 is read too
    assert output_source(V1) == workload_source(stored_workload_text(V1))
    for name in ("not_hdf5.h5", "not_chipsim.h5", "foreign.png", "notes.txt"):
        assert output_source(HOSTILE / name) is None, name
    with pytest.raises(ChipsimError, match="not a chipsim result"):
        stored_workload_text(HOSTILE / "not_chipsim.h5")


@pytest.mark.parametrize("suffix", [".png", ".pdf"])
def test_chipsim_figures_carry_their_source(tmp_path, suffix):
    r = make_result(0)
    written = plot_report(r, tmp_path / f"rep{suffix}")
    for f in written:
        assert figure_source(f) == workload_source(WORKLOAD_TEXT), f
    plot_energy(r, tmp_path / "e.png")
    assert figure_source(tmp_path / "e.png") == workload_source(WORKLOAD_TEXT)
    assert figure_source(HOSTILE / "foreign.png") is None
    assert VALIDATE_SOURCE != workload_source(WORKLOAD_TEXT)


def test_a_png_that_only_claims_a_source_is_not_chipsims(tmp_path):
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo
    info = PngInfo()
    info.add_text("chipsim-source", workload_source(WORKLOAD_TEXT))    # but Software is not chipsim
    Image.new("RGB", (2, 2)).save(tmp_path / "x.png", pnginfo=info)
    assert figure_source(tmp_path / "x.png") is None
    with pytest.raises(ChipsimError, match="--force"):
        check_replace(tmp_path / "x.png", workload_source(WORKLOAD_TEXT), force=False, what="figure")


def test_compare_source_is_the_set_of_workloads():
    assert compare_source(["a", "b", "a"]) == compare_source(["b", "a"])
    assert compare_source(["a"]) != compare_source(["a", "b"])


def test_check_replace(tmp_path):
    src = workload_source(WORKLOAD_TEXT)
    check_replace(tmp_path / "absent.h5", src, force=False, what="results file")
    write_result(make_result(0), tmp_path / "r.h5")
    check_replace(tmp_path / "r.h5", src, force=False, what="results file")
    with pytest.raises(ChipsimError, match="another workload") as e:
        check_replace(tmp_path / "r.h5", workload_source("other"), force=False, what="results file")
    assert e.value.file == str(tmp_path / "r.h5") and e.value.field == "--out"
    check_replace(tmp_path / "r.h5", workload_source("other"), force=True, what="results file")


def test_check_path_never_replaces_a_special_file(tmp_path):
    os.mkfifo(tmp_path / "pipe.h5")
    with pytest.raises(ChipsimError, match="not a regular file"):
        check_path(tmp_path / "pipe.h5", (".h5",), what="results file")
    assert list(tmp_path.iterdir()) == [tmp_path / "pipe.h5"]


# ---------------------------------------------------------------------------------- lock

def test_the_lock_is_held_inside_and_released_after(tmp_path):
    out = tmp_path / "new" / "r.h5"
    with output_lock(out) as lock:
        assert lock == lock_path(out) and lock.exists()
        assert lock.read_text() == f"{os.getpid()} {socket.gethostname()}\n"
        with pytest.raises(ChipsimError, match=f"process {os.getpid()}"):
            with output_lock(out):                      # a second writer: refused
                pass
        assert lock.exists()                            # the refusal left the lock alone
        out.write_bytes(b"result")
    assert not lock.exists() and out.exists()


def test_the_lock_is_released_on_an_exception_and_new_directories_removed(tmp_path):
    out = tmp_path / "a" / "b" / "r.h5"
    with pytest.raises(KeyboardInterrupt):
        with output_lock(out):
            assert (tmp_path / "a" / "b").is_dir()
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_stale_lock_is_taken_over_and_an_odd_one_respected(tmp_path):
    out = tmp_path / "r.h5"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock_path(out).write_text(f"{dead.pid} {socket.gethostname()}\n")
    with output_lock(out):
        assert lock_path(out).read_text().split()[0] == str(os.getpid())
    assert not lock_path(out).exists()
    lock_path(out).write_text("something that is not a pid\n")      # not ours to delete
    with pytest.raises(ChipsimError, match="delete"):
        with output_lock(out):
            pass
    assert lock_path(out).read_text() == "something that is not a pid\n"
