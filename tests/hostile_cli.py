"""Run the command line on a hostile input in a child process and measure its peak memory.

``run_cli(args, cwd)`` runs ``python -m chipsim ARGS`` and returns its exit status, stdout,
stderr and peak resident memory in bytes. ``assert_refused`` checks what every refused input
must give: exit status 2, one line on stderr that names what it must name, no traceback, no
results file, and a peak under 1 GB.

The peak is the child's ``ru_maxrss`` from ``os.wait4``, but the child is started by a small
launcher process, not by pytest itself: Linux carries a process's peak RSS across ``exec``
from the memory image it replaced, so a child forked straight from a pytest process that has
grown to 1 GB reports 1 GB however little it used. Forked from a 13 MB launcher, it reports
its own peak.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).resolve().parent / "hostile"
PEAK_LIMIT = 1 << 30           # 1 GiB


# Runs argv[3:] with stdout to argv[1] and stderr to argv[2]; prints "<wait status> <maxrss KiB>".
_LAUNCHER = r"""
import os, sys
out, err, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
pid = os.fork()
if pid == 0:
    try:
        fd_in = os.open(os.devnull, os.O_RDONLY)
        fd_out = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        fd_err = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd_in, 0); os.dup2(fd_out, 1); os.dup2(fd_err, 2)
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
print(status, usage.ru_maxrss)
"""


def run_cli(args, cwd, env=None, timeout=300.0):
    """(exit status, stdout, stderr, peak RSS in bytes) of ``python -m chipsim *args``."""
    return run_measured([sys.executable, "-m", "chipsim", *map(str, args)], cwd, env, timeout)


def run_measured(argv, cwd, env=None, timeout=300.0):
    """(exit status, stdout, stderr, peak RSS in bytes) of the program ``argv``."""
    cwd = Path(cwd)
    e = dict(os.environ, PYTHONPATH=str(ROOT))
    e.setdefault("CHIPSIM_CACHE", str(cwd / "cache"))
    e.update(env or {})
    out_f, err_f = cwd / ".stdout", cwd / ".stderr"
    cmd = [sys.executable, "-c", _LAUNCHER, str(out_f), str(err_f), *map(str, argv)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=e, cwd=cwd,
                         start_new_session=True)
    try:
        report, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)     # the launcher and chipsim under it
        p.communicate()
        raise TimeoutError(f"{' '.join(map(str, argv))} still ran after "
                           f"{timeout:.0f} s") from None
    status, maxrss_kib = map(int, report.split())
    return (os.waitstatus_to_exitcode(status), out_f.read_text(errors="replace"),
            err_f.read_text(errors="replace"), maxrss_kib * 1024)


def assert_refused(result, *needles, results_dir=None):
    """Exit 2, one stderr line naming every needle, no traceback, no .h5 in ``results_dir``,
    peak memory under 1 GiB."""
    rc, out, err, peak = result
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, (rc, err[-3000:])
    assert "Traceback" not in err, err[-3000:]
    assert len(lines) == 1 and lines[0].startswith("chipsim: error:"), err[-3000:]
    for n in needles:
        assert str(n) in lines[0], (n, lines[0])
    if results_dir is not None:
        assert not list(Path(results_dir).rglob("*.h5")), list(Path(results_dir).rglob("*.h5"))
    assert peak < PEAK_LIMIT, f"peak memory {peak / 2**20:.0f} MiB"
    return lines[0]
