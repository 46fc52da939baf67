"""Numba's one-time compilation, on both cores at once.

The batch loop (chipsim/kernels/loop.py ``run_batch``) is compiled once per number type, and
the suite trains with two: float64 and float32 (the ``-f32`` golden cases). Each compiles
the whole loop, about three minutes on this project's 2-core reference machine, one core
each, one after the other, inside whichever tests first train with that type.

When a session collects the golden cases (the whole suite does), this hook first runs two
short trainings side by side, one per number type, in two processes: Numba compiles the two
loops on the two cores at the same time and writes them to its on-disk cache
(``cache=True``), and the tests then load them from there. The tests run the same code; only
the compiling moves, and each loop is compiled once either way. A session that collects no
golden case (one test file, say) skips this and compiles what it uses as it goes.
``CHIPSIM_NO_PRECOMPILE=1`` turns it off. A warm cache makes it a few seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: the number types the suite trains with: each is a separate compilation of the batch loop
DTYPES = ("float64", "float32")


def _training(dtype: str, out: Path) -> list[str]:
    """A 2-sample run of the shipped dense workload in ``dtype``: it compiles every kernel of
    the batch loop for that type (Numba compiles a kernel whole, every branch)."""
    return [sys.executable, "-m", "chipsim", "run", str(ROOT / "workloads" / "nmnist.yaml"),
            "--profile", "anp_i", "--rule", "bptt", "--quiet", "--no-plot",
            "--out", str(out / f"{dtype}.h5"),
            "--set", f"training.dtype={dtype}", "--set", "training.epochs=1",
            "--set", "dataset.train_samples=2", "--set", "dataset.test_samples=1"]


def precompile(reporter=None) -> None:
    """Run the two trainings side by side and wait for both. A training that fails is
    reported and otherwise ignored: the tests then compile, and fail, on their own."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="chipsim-precompile-") as tmp:
        env = dict(os.environ, CHIPSIM_CACHE=str(Path(tmp) / "cache"))
        procs = [(d, subprocess.Popen(_training(d, Path(tmp)), cwd=ROOT, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
                 for d in DTYPES]
        failed = []
        for d, p in procs:
            _, err = p.communicate()
            if p.returncode != 0:
                failed.append(f"{d}: exit {p.returncode}: {err.decode(errors='replace')[-400:]}")
    if reporter is not None:
        msg = (f"chipsim: kernels compiled for {', '.join(DTYPES)} side by side in "
               f"{time.perf_counter() - t0:.0f} s")
        reporter.write_line(msg + ("; failed: " + "; ".join(failed) if failed else ""))


def pytest_collection_finish(session):
    if os.environ.get("CHIPSIM_NO_PRECOMPILE") == "1" or session.config.option.collectonly:
        return
    if not any(item.path.name == "test_golden.py" for item in session.items):
        return
    precompile(session.config.pluginmanager.get_plugin("terminalreporter"))
