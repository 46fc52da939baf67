"""Run the command line on a hostile input in a child process and measure its peak memory.

``run_cli(args, cwd)`` runs ``python -m chipsim ARGS`` and returns its exit status, stdout,
stderr and peak resident memory in bytes (the child's own ``ru_maxrss``, from ``os.wait4``:
no other process is counted). ``assert_refused`` checks what every refused input must give:
exit status 2, one line on stderr that names what it must name, no traceback, no results
file, and a peak under 1 GB.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).resolve().parent / "hostile"
PEAK_LIMIT = 1 << 30           # 1 GiB


def run_cli(args, cwd, env=None, timeout=300.0):
    """(exit status, stdout, stderr, peak RSS in bytes) of ``python -m chipsim *args``."""
    cwd = Path(cwd)
    e = dict(os.environ, PYTHONPATH=str(ROOT))
    e.setdefault("CHIPSIM_CACHE", str(cwd / "cache"))
    e.update(env or {})
    out_f, err_f = cwd / ".stdout", cwd / ".stderr"
    with open(out_f, "wb") as o, open(err_f, "wb") as er:
        p = subprocess.Popen([sys.executable, "-m", "chipsim", *map(str, args)], stdout=o,
                             stderr=er, stdin=subprocess.DEVNULL, env=e, cwd=cwd)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                os.wait4(p.pid, 0)
                p.returncode = -9          # reaped here: Popen must not wait again
                raise TimeoutError(f"chipsim {' '.join(map(str, args))} still ran after "
                                   f"{timeout:.0f} s")
            time.sleep(0.05)
    p.returncode = os.waitstatus_to_exitcode(status)
    return (p.returncode, out_f.read_text(errors="replace"), err_f.read_text(errors="replace"),
            usage.ru_maxrss * 1024)


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
