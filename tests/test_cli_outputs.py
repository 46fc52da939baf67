"""Outputs never clobber and never lose a run (issue 11, parts 3 and 6).

Every command that writes a file checks its path before any long work (a suffix it cannot
write, a directory, a parent that is a regular file, a directory it cannot write in) and
refuses to replace an existing file that is not a chipsim output of the same workload unless
--force is given. Two runs writing the same --out: the second is refused (a lock file beside
the output). A refusal is one line on stderr naming the file and the field, exit status 2, no
traceback, and nothing is created or changed.

The malformed files these tests put in the way of an output live in tests/hostile/outputs/.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chipsim.cli import _parser, main
from chipsim.report.h5 import read_result

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ROOT / "tests" / "hostile" / "outputs"
WORKLOAD = str(ROOT / "workloads" / "nmnist.yaml")
SMALL = ["--set", "training.epochs=1", "--set", "dataset.train_samples=6",
         "--set", "dataset.test_samples=4", "--quiet"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------- helpers

def snapshot(root: Path) -> dict:
    """Every file under root with its bytes and modification time; directories by name (the
    mtime of a directory is not a file's content)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink() or not p.is_dir():
            out[rel] = (p.read_bytes() if p.is_file() else "special", p.lstat().st_mtime_ns)
        else:
            out[rel] = "dir"
    return out


def refused(capsys, rc: int, path, *needles: str, field: str = "--out") -> str:
    """Exit 2, one line on stderr that names the file and the field, nothing on stdout."""
    cap = capsys.readouterr()
    lines = [ln for ln in cap.err.splitlines() if ln.strip()]
    assert rc == 2, cap.err
    assert "Traceback" not in cap.err
    assert len(lines) == 1 and lines[0].startswith("chipsim: error:"), cap.err
    line = lines[0]
    assert str(path) in line, line
    assert f"field '{field}'" in line, line
    for n in needles:
        assert n in line, line
    assert cap.out == "", cap.out
    return line


@pytest.fixture
def no_work(monkeypatch):
    """Training, re-pricing and the Brian2 validation fail the test if they start: the output
    checks must come first."""
    import chipsim.engine
    import chipsim.hardware.cost
    import chipsim.interop.brian2_validate

    def boom(*a, **k):
        raise AssertionError("long work started before the output path was checked")

    monkeypatch.setattr(chipsim.engine, "run", boom)
    monkeypatch.setattr(chipsim.hardware.cost, "reprice", boom)
    monkeypatch.setattr(chipsim.interop.brian2_validate, "validate", boom)


@pytest.fixture(scope="module")
def nm_run(tmp_path_factory) -> Path:
    """One small N-MNIST run's results file (with its energy plot), copied by the tests."""
    d = tmp_path_factory.mktemp("nm")
    out = d / "nm.h5"
    assert main(["run", WORKLOAD, "--out", str(out), *SMALL]) == 0
    return out


def _copy_run(nm_run: Path, where: Path, name: str = "nm.h5") -> Path:
    where.mkdir(parents=True, exist_ok=True)
    dst = where / name
    shutil.copy2(nm_run, dst)
    return dst


def _hostile(name: str, dst: Path) -> Path:
    shutil.copy2(HOSTILE / name, dst)
    return dst


def _cli(args, *, cwd, env=None, preexec_fn=None, timeout=300):
    env = dict(os.environ if env is None else env, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "chipsim", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=timeout, preexec_fn=preexec_fn)


def _one_error_line(p, *needles):
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("chipsim: error:"), p.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def _drop_dac_override():     # runs in the child between fork and exec
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in (1, 2):    # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH: out of the bounding set
            if libc.prctl(24, cap, 0, 0, 0) != 0:      # PR_CAPBSET_DROP
                os._exit(97)


@pytest.fixture
def read_only_dir(tmp_path):
    """A directory this test's child processes cannot write in (as root too: the child runs
    without CAP_DAC_OVERRIDE), or a skip if this machine cannot make one."""
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o555)
    probe = subprocess.run([sys.executable, "-c", f"open({str(d / 'x')!r}, 'w')"],
                           capture_output=True, preexec_fn=_drop_dac_override)
    if probe.returncode == 0:
        (d / "x").unlink()
        d.chmod(0o755)
        pytest.skip("cannot make a directory read-only for a child process here")
    yield d
    d.chmod(0o755)


# ------------------------------------------------------------- chipsim run: the path itself

def test_run_out_is_a_directory_is_refused_before_training(tmp_path, capsys, no_work):
    (tmp_path / "d.h5").mkdir()
    before = snapshot(tmp_path)
    rc = main(["run", WORKLOAD, "--out", str(tmp_path / "d.h5"), *SMALL])
    refused(capsys, rc, tmp_path / "d.h5", "directory")
    assert snapshot(tmp_path) == before


def test_run_parent_is_a_regular_file_is_refused_before_training(tmp_path, capsys, no_work):
    _hostile("notes.txt", tmp_path / "notes.txt")
    before = snapshot(tmp_path)
    out = tmp_path / "notes.txt" / "r.h5"
    rc = main(["run", WORKLOAD, "--out", str(out), *SMALL])
    refused(capsys, rc, out, "notes.txt", "not a directory")
    assert snapshot(tmp_path) == before


def test_run_ancestor_is_a_regular_file_is_refused_before_training(tmp_path, capsys, no_work):
    _hostile("notes.txt", tmp_path / "notes.txt")
    before = snapshot(tmp_path)
    out = tmp_path / "notes.txt" / "sub" / "deeper" / "r.h5"
    rc = main(["run", WORKLOAD, "--out", str(out), *SMALL])
    refused(capsys, rc, out, "not a directory")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", ["r.txt", "r", "r.h5.png"])
def test_run_suffix_is_refused_before_training(tmp_path, capsys, no_work, name):
    rc = main(["run", WORKLOAD, "--out", str(tmp_path / name), *SMALL])
    refused(capsys, rc, tmp_path / name, ".h5")
    assert snapshot(tmp_path) == {}


@pytest.mark.parametrize("cmd", ["run", "price"])
@pytest.mark.parametrize("out", [".", "..", "", "/", ".h5"])
def test_a_directory_like_out_is_refused(tmp_path, capsys, no_work, monkeypatch, cmd, out):
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    src = _hostile("other_workload.h5", tmp_path / "src.h5")
    before = snapshot(tmp_path)
    args = ["run", WORKLOAD, *SMALL] if cmd == "run" else ["price", str(src), "--profile", "loihi"]
    rc = main([*args, "--out", out])
    refused(capsys, rc, "", ".h5")
    assert snapshot(tmp_path) == before


def test_run_energy_plot_path_is_a_directory_is_refused_before_training(tmp_path, capsys, no_work):
    (tmp_path / "r_energy.png").mkdir()
    before = snapshot(tmp_path)
    rc = main(["run", WORKLOAD, "--out", str(tmp_path / "r.h5"), *SMALL])
    refused(capsys, rc, tmp_path / "r_energy.png", "directory")
    assert snapshot(tmp_path) == before


def test_run_into_a_read_only_directory_is_refused_before_training(tmp_path, read_only_dir):
    out = read_only_dir / "sub" / "r.h5"
    before = snapshot(tmp_path)
    # without --quiet a run prints its header and a line per epoch: the output being the one
    # error line shows that the refusal came before any of the 50 epochs
    p = _cli(["run", WORKLOAD, "--out", str(out), "--set", "training.epochs=50"], cwd=tmp_path,
             preexec_fn=_drop_dac_override)
    line = _one_error_line(p, str(out), "field '--out'", str(read_only_dir))
    assert "writable" in line
    assert p.stdout == ""
    assert snapshot(tmp_path) == before


# --------------------------------------------------- chipsim run: what is already there

@pytest.mark.parametrize("name", ["not_hdf5.h5", "not_chipsim.h5", "other_workload.h5"])
def test_run_refuses_to_replace_a_file_that_is_not_this_workloads_result(tmp_path, capsys,
                                                                        no_work, name):
    out = _hostile(name, tmp_path / "r.h5")
    before = snapshot(tmp_path)
    rc = main(["run", WORKLOAD, "--out", str(out), *SMALL])
    refused(capsys, rc, out, "--force")
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "r.h5.lock").exists()


def test_run_refuses_a_foreign_energy_plot_beside_the_output(tmp_path, capsys, no_work):
    png = _hostile("foreign.png", tmp_path / "r_energy.png")
    before = snapshot(tmp_path)
    rc = main(["run", WORKLOAD, "--out", str(tmp_path / "r.h5"), *SMALL])
    refused(capsys, rc, png, "--force")
    assert snapshot(tmp_path) == before


def test_run_force_replaces_a_foreign_file_and_plot(tmp_path, capsys):
    out = _hostile("other_workload.h5", tmp_path / "r.h5")
    png = _hostile("foreign.png", tmp_path / "r_energy.png")
    assert main(["run", WORKLOAD, "--out", str(out), "--force", *SMALL]) == 0
    assert read_result(out).sim.workload_name == "nmnist"
    assert png.read_bytes() != (HOSTILE / "foreign.png").read_bytes()
    assert not (tmp_path / "r.h5.lock").exists()


def test_run_replaces_its_own_workloads_result_and_plot_without_force(tmp_path, capsys, nm_run):
    out = _copy_run(nm_run, tmp_path, "r.h5")
    shutil.copy2(nm_run.with_name("nm_energy.png"), tmp_path / "r_energy.png")
    old = out.read_bytes()
    # another rule and other overrides: the same workload file
    assert main(["run", WORKLOAD, "--out", str(out), "--rule", "sltt", *SMALL]) == 0
    assert out.read_bytes() != old and read_result(out).sim.rule == "sltt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.h5", "r_energy.png"]


def test_run_refuses_a_chipsim_result_of_another_workload_text(tmp_path, capsys, nm_run, no_work):
    out = _copy_run(nm_run, tmp_path, "r.h5")
    edited = tmp_path / "w.yaml"
    edited.write_text(Path(WORKLOAD).read_text().replace("seed: 2022", "seed: 7"))
    before = snapshot(tmp_path)
    rc = main(["run", str(edited), "--out", str(out), *SMALL])
    refused(capsys, rc, out, "another workload")
    assert snapshot(tmp_path) == before


def test_run_no_plot_ignores_the_plot_path(tmp_path, capsys):
    png = _hostile("foreign.png", tmp_path / "r_energy.png")
    assert main(["run", WORKLOAD, "--out", str(tmp_path / "r.h5"), "--no-plot", *SMALL]) == 0
    assert png.read_bytes() == (HOSTILE / "foreign.png").read_bytes()


def test_a_failed_run_leaves_no_directory_and_no_lock(tmp_path, capsys, monkeypatch):
    import chipsim.engine
    from chipsim.errors import ChipsimError

    def bad(*a, **k):
        raise ChipsimError("a corrupt event file", file="x.bin")

    monkeypatch.setattr(chipsim.engine, "run", bad)
    out = tmp_path / "new" / "deeper" / "r.h5"
    assert main(["run", WORKLOAD, "--out", str(out), *SMALL]) == 2
    assert "x.bin" in capsys.readouterr().err
    assert snapshot(tmp_path) == {}


# ------------------------------------------------------------------------------ the lock

def _lock(out: Path, pid: int, host: str | None = None) -> Path:
    lock = out.with_name(out.name + ".lock")
    lock.write_text(f"{pid} {host or socket.gethostname()}\n")
    return lock


def test_run_refuses_an_output_locked_by_a_live_process(tmp_path, capsys, no_work):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = _lock(tmp_path / "r.h5", sleeper.pid)
        before = snapshot(tmp_path)
        rc = main(["run", WORKLOAD, "--out", str(tmp_path / "r.h5"), *SMALL])
        line = refused(capsys, rc, tmp_path / "r.h5", str(sleeper.pid), str(lock))
        assert "another chipsim run" in line
        assert snapshot(tmp_path) == before
    finally:
        sleeper.kill()
        sleeper.wait()


def test_run_refuses_a_lock_from_another_host(tmp_path, capsys, no_work):
    lock = _lock(tmp_path / "r.h5", 1, host="elsewhere.example")
    before = snapshot(tmp_path)
    rc = main(["run", WORKLOAD, "--out", str(tmp_path / "r.h5"), *SMALL])
    refused(capsys, rc, tmp_path / "r.h5", "elsewhere.example", str(lock))
    assert snapshot(tmp_path) == before


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = _lock(tmp_path / "r.h5", dead.pid)
    assert main(["run", WORKLOAD, "--out", str(tmp_path / "r.h5"), "--no-plot", *SMALL]) == 0
    assert read_result(tmp_path / "r.h5").sim.workload_name == "nmnist"
    assert not lock.exists()


def test_two_runs_on_one_output_the_second_is_refused(tmp_path, capsys):
    """A real concurrent run: while the first holds the lock, the second is refused at once
    and the first finishes and writes its result."""
    out = tmp_path / "r.h5"
    lock = tmp_path / "r.h5.lock"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    first = subprocess.Popen([sys.executable, "-m", "chipsim", "run", WORKLOAD, "--out", str(out),
                              "--no-plot", "--quiet", "--set", "training.epochs=4",
                              "--set", "dataset.train_samples=100", "--set", "dataset.test_samples=50"],
                             env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        t0 = time.monotonic()
        while not lock.exists() and first.poll() is None and time.monotonic() - t0 < 120:
            time.sleep(0.05)
        assert lock.exists(), "the first run never took its lock"
        assert (lock.read_text().split() or [""])[0] in (str(first.pid), "")
        rc = main(["run", WORKLOAD, "--out", str(out), "--no-plot", *SMALL])
        refused(capsys, rc, out, "another chipsim run")
        stdout, stderr = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, stderr
    r = read_result(out)
    assert r.sim.epochs == 4 and r.sim.train_samples == 100
    assert not lock.exists()


# ------------------------------------------------------------------------- chipsim price

def test_price_suffix_is_refused_before_repricing(tmp_path, capsys, nm_run, no_work):
    src = _copy_run(nm_run, tmp_path)
    before = snapshot(tmp_path)
    rc = main(["price", str(src), "--profile", "loihi", "--out", str(tmp_path / "p.txt")])
    refused(capsys, rc, tmp_path / "p.txt", ".h5")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", ["not_hdf5.h5", "not_chipsim.h5", "other_workload.h5"])
def test_price_refuses_to_replace_a_foreign_file(tmp_path, capsys, nm_run, no_work, name):
    src = _copy_run(nm_run, tmp_path)
    out = _hostile(name, tmp_path / "p.h5")
    before = snapshot(tmp_path)
    rc = main(["price", str(src), "--profile", "loihi", "--out", str(out)])
    refused(capsys, rc, out, "--force")
    assert snapshot(tmp_path) == before


def test_price_out_is_a_directory_is_refused(tmp_path, capsys, nm_run, no_work):
    src = _copy_run(nm_run, tmp_path)
    (tmp_path / "p.h5").mkdir()
    before = snapshot(tmp_path)
    rc = main(["price", str(src), "--profile", "loihi", "--out", str(tmp_path / "p.h5")])
    refused(capsys, rc, tmp_path / "p.h5", "directory")
    assert snapshot(tmp_path) == before


def test_price_twice_replaces_its_own_output(tmp_path, capsys, nm_run):
    src = _copy_run(nm_run, tmp_path)
    for _ in range(2):
        assert main(["price", str(src), "--profile", "loihi", "--out", str(tmp_path / "p.h5")]) == 0
    assert read_result(tmp_path / "p.h5").cost.profile_name == "loihi"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nm.h5", "p.h5", "p_energy.png"]


# ------------------------------------------------------------------------ chipsim report

def test_report_suffix_is_refused_before_anything_is_drawn_or_printed(tmp_path, capsys, nm_run):
    src = _copy_run(nm_run, tmp_path)
    before = snapshot(tmp_path)
    rc = main(["report", str(src), "--out", str(tmp_path / "rep.txt")])
    refused(capsys, rc, tmp_path / "rep.txt", ".png")
    assert snapshot(tmp_path) == before


def test_report_refuses_to_replace_a_foreign_figure(tmp_path, capsys, nm_run):
    src = _copy_run(nm_run, tmp_path)
    out = _hostile("foreign.png", tmp_path / "rep.png")
    before = snapshot(tmp_path)
    rc = main(["report", str(src), "--out", str(out)])
    refused(capsys, rc, out, "--force")
    assert snapshot(tmp_path) == before


def test_report_pdf_refuses_when_its_png_sibling_is_foreign(tmp_path, capsys, nm_run):
    src = _copy_run(nm_run, tmp_path)
    png = _hostile("foreign.png", tmp_path / "rep.png")
    before = snapshot(tmp_path)
    rc = main(["report", str(src), "--out", str(tmp_path / "rep.pdf")])
    refused(capsys, rc, png, "--force")
    assert snapshot(tmp_path) == before


def test_report_refuses_a_foreign_energy_plot_beside_the_results(tmp_path, capsys, nm_run):
    src = _copy_run(nm_run, tmp_path)
    png = _hostile("foreign.png", tmp_path / "nm_energy.png")
    before = snapshot(tmp_path)
    rc = main(["report", str(src)])
    refused(capsys, rc, png, "--force")
    assert snapshot(tmp_path) == before


def test_report_redraws_its_own_figures_and_force_replaces_a_foreign_one(tmp_path, capsys, nm_run):
    src = _copy_run(nm_run, tmp_path)
    assert main(["report", str(src)]) == 0
    assert main(["report", str(src)]) == 0              # its own figures: redrawn
    assert main(["report", str(src), "--out", str(tmp_path / "rep.pdf")]) == 0
    assert main(["report", str(src), "--out", str(tmp_path / "rep.pdf")]) == 0
    out = _hostile("foreign.png", tmp_path / "mine.png")
    assert main(["report", str(src), "--out", str(out), "--force"]) == 0
    assert out.read_bytes()[:8] == PNG_SIGNATURE and out.stat().st_size > 10_000
    capsys.readouterr()
    # a chipsim report of another workload is not replaced without --force
    other = _hostile("other_workload.h5", tmp_path / "other.h5")
    rc = main(["report", str(other), "--out", str(tmp_path / "rep.png")])
    refused(capsys, rc, tmp_path / "rep.png", "another workload")


# ----------------------------------------------------------------------- chipsim compare

def test_compare_refuses_a_foreign_figure_and_a_directory(tmp_path, capsys, nm_run):
    a = _copy_run(nm_run, tmp_path, "a.h5")
    out = _hostile("foreign.png", tmp_path / "cmp.png")
    (tmp_path / "dir.png").mkdir()
    before = snapshot(tmp_path)
    rc = main(["compare", str(a), "--out", str(out)])
    refused(capsys, rc, out, "--force")
    rc = main(["compare", str(a), "--out", str(tmp_path / "dir.png")])
    refused(capsys, rc, tmp_path / "dir.png", "directory")
    rc = main(["compare", str(a), "--out", str(tmp_path / "cmp.h5")])
    refused(capsys, rc, tmp_path / "cmp.h5", ".png")
    assert snapshot(tmp_path) == before


def test_compare_redraws_its_own_figure(tmp_path, capsys, nm_run):
    a = _copy_run(nm_run, tmp_path, "a.h5")
    b = _copy_run(nm_run, tmp_path, "b.h5")
    assert main(["compare", str(a), str(b)]) == 0
    assert main(["compare", str(b), str(a)]) == 0     # same workloads: its own figure
    assert (tmp_path / "compare.png").exists()
    capsys.readouterr()
    other = _hostile("other_workload.h5", tmp_path / "o.h5")
    rc = main(["compare", str(a), str(other)])       # other workloads: not replaced
    refused(capsys, rc, tmp_path / "compare.png", "another workload")


# ---------------------------------------------------------------------- validate brian2

@pytest.mark.parametrize("T", ["0", "-5"])
def test_validate_non_positive_T_is_a_clear_error(tmp_path, capsys, no_work, T, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc = main(["validate", "brian2", "--T", T, "--out", str(tmp_path / "v.png")])
    refused(capsys, rc, "--T", T, field="--T")
    assert snapshot(tmp_path) == {}


def test_validate_out_suffix_is_refused_before_the_validation_runs(tmp_path, capsys, no_work):
    rc = main(["validate", "brian2", "--out", str(tmp_path / "v.txt")])
    refused(capsys, rc, tmp_path / "v.txt", ".png")
    assert snapshot(tmp_path) == {}


def test_validate_refuses_to_replace_a_foreign_figure(tmp_path, capsys, no_work):
    out = _hostile("foreign.png", tmp_path / "v.png")
    before = snapshot(tmp_path)
    rc = main(["validate", "brian2", "--out", str(out)])
    refused(capsys, rc, out, "--force")
    assert snapshot(tmp_path) == before


def test_validate_writes_its_figure_under_results_by_default(tmp_path, capsys, monkeypatch):
    pytest.importorskip("brian2")
    assert _parser().parse_args(["validate", "brian2"]).out == str(Path("results") / "brian2_overlay.png")
    monkeypatch.chdir(tmp_path)
    args = ["validate", "brian2", "--only", "soft lam=0.5 H(0)=1 decay_in=off", "--T", "10"]
    assert main(args) == 0
    assert main(args) == 0                             # its own figure: redrawn
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == \
        ["results", str(Path("results") / "brian2_overlay.png")]


# ---------------------------------------------------------------------- printing, pipes

def test_report_into_a_closed_pipe_exits_quietly(tmp_path, nm_run):
    """`chipsim report X | head -1`: the reader is gone before chipsim writes."""
    src = _copy_run(nm_run, tmp_path)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen([sys.executable, "-m", "chipsim", "report", str(src)], env=env,
                         cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()
    err = p.stderr.read().decode()
    rc = p.wait(timeout=300)
    assert "Traceback" not in err and "BrokenPipeError" not in err and err == "", err
    assert rc == 141
    assert (tmp_path / "nm_report.png").exists() and (tmp_path / "nm_energy.png").exists()


def test_report_summary_through_head(tmp_path, nm_run):
    src = _copy_run(nm_run, tmp_path)
    if shutil.which("head") is None or shutil.which("sh") is None:
        pytest.skip("no sh/head")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run(["sh", "-c", f'"{sys.executable}" -m chipsim report "{src}" | head -1'],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr, p.stderr
    assert len(p.stdout.splitlines()) == 1


# --------------------------------------------------------------------- defaults, ignores

def test_default_outputs_are_under_results_and_ignored_by_git(tmp_path, capsys, monkeypatch):
    patterns = {ln.strip() for ln in (ROOT / ".gitignore").read_text().splitlines()}
    assert patterns & {"results/", "/results/"} and patterns & {".venv/", "/.venv/"}
    monkeypatch.chdir(tmp_path)
    assert main(["run", WORKLOAD, *SMALL]) == 0
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == [str(Path("results") / "nmnist_ottt_o_anp_i.h5"),
                       str(Path("results") / "nmnist_ottt_o_anp_i_energy.png")]


def test_force_is_documented_in_the_help():
    p = _parser()
    for cmd in ("run", "price", "report", "compare", "validate"):
        sub = p._subparsers._group_actions[0].choices[cmd]
        assert "--force" in sub.format_help(), cmd


# ------------------------------------------------------------------- the frame cache (CLI)

STANDIN = ["run", str(ROOT / "workloads" / "cifar10dvs.yaml"), "--no-plot", "--quiet",
           "--set", "training.epochs=1", "--set", "dataset.train_samples=2",
           "--set", "dataset.test_samples=2"]


def _cache_warnings(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if "warning" in ln]


def test_cache_that_is_a_regular_file_warns_once_and_the_run_completes(tmp_path):
    spot = _hostile("notes.txt", tmp_path / "cache")
    env = dict(os.environ, CHIPSIM_CACHE=str(spot))
    p = _cli([*STANDIN, "--out", str(tmp_path / "c.h5")], cwd=tmp_path, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    warns = _cache_warnings(p.stderr)
    assert len(warns) == 1 and "CHIPSIM_CACHE" in warns[0] and str(spot) in warns[0], p.stderr
    assert read_result(tmp_path / "c.h5").sim.dataset_standin
    assert spot.read_bytes() == (HOSTILE / "notes.txt").read_bytes()


def test_cache_in_a_read_only_directory_warns_once_and_the_run_completes(tmp_path, read_only_dir):
    env = dict(os.environ, CHIPSIM_CACHE=str(read_only_dir / "cache"))
    p = _cli([*STANDIN, "--out", str(tmp_path / "c.h5")], cwd=tmp_path, env=env, timeout=600,
             preexec_fn=_drop_dac_override)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    warns = _cache_warnings(p.stderr)
    assert len(warns) == 1 and "CHIPSIM_CACHE" in warns[0], p.stderr
    assert list(read_only_dir.iterdir()) == []


def test_cache_in_a_directory_that_cannot_be_entered_warns_once(tmp_path, read_only_dir):
    shut = tmp_path / "shut"
    shut.mkdir()
    shut.chmod(0o000)
    try:
        env = dict(os.environ, CHIPSIM_CACHE=str(shut / "cache"))
        p = _cli([*STANDIN, "--out", str(tmp_path / "c.h5")], cwd=tmp_path, env=env, timeout=600,
                 preexec_fn=_drop_dac_override)
    finally:
        shut.chmod(0o755)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    warns = _cache_warnings(p.stderr)
    assert len(warns) == 1 and "CHIPSIM_CACHE" in warns[0], p.stderr
    assert list(shut.iterdir()) == []
