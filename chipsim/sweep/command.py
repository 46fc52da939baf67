"""``chipsim sweep``: plan, check the directory, run (or list) the points, say what happened."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from chipsim.atomic import make_temp
from chipsim.config.sweep import load_sweep
from chipsim.errors import ChipsimError
from chipsim.report.h5 import output_lock
from chipsim.report.sweep_index import CSV_NAME
from chipsim.sweep.execute import POINTS_DIR, SWEEP_COPY, finished_keys, run_plan
from chipsim.sweep.plan import dry_run_text, make_plan


def default_directory(name: str) -> Path:
    return Path("results") / "sweeps" / name


def check_directory(directory: Path, force: bool) -> None:
    """Refuse a --out that is a file, or a non-empty directory that holds no sweep (unless
    ``force``): a sweep writes an index and a points/ folder into it."""
    if directory.exists() and not directory.is_dir():
        raise ChipsimError("is not a directory", file=str(directory), field="--out",
                           expected="a directory for the sweep (created if missing)")
    if directory.is_dir() and not force:
        names = {p.name for p in directory.iterdir()}
        if names and not names & {CSV_NAME, SWEEP_COPY, POINTS_DIR}:
            raise ChipsimError("holds files but no sweep", file=str(directory), field="--out",
                               expected="an empty or new directory, or one written by "
                                        "'chipsim sweep' (or --force)")


def _copy_sweep(directory: Path, text: str) -> None:
    import os
    directory.mkdir(parents=True, exist_ok=True)
    tmp = make_temp(directory / SWEEP_COPY)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, directory / SWEEP_COPY)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class _Stop:
    """The first signal asks the sweep to stop between polls; a second raises
    KeyboardInterrupt (stop at once)."""

    def __init__(self):
        self.signum = None

    def handle(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def requested(self) -> bool:
        return self.signum is not None


def sweep(path, out=None, *, dry_run=False, scheduler=None, workers=None, shared=None,
          force=False, quiet=False, command="", client=None) -> int:
    """Run (or with ``dry_run`` list) the sweep file ``path``; the exit status."""
    import os
    sw = load_sweep(path)
    directory = Path(out) if out is not None else default_directory(sw.name)
    plan = make_plan(sw)
    n_workers = workers or os.cpu_count() or 1
    if dry_run:
        done = finished_keys(plan, directory) if directory.is_dir() else set()
        print(dry_run_text(plan, directory, done, n_workers))
        return 0
    check_directory(directory, force)
    if not quiet:
        print(f"chipsim sweep {sw.name}: {len(plan.points)} points, {len(plan.groups)} "
              f"simulation(s), results in {directory}", file=sys.stderr)
    # SIGINT (also when it was ignored at start, as in a script's background job) and SIGTERM
    # stop the sweep alike: the first asks it to stop (what runs is cancelled, the index is
    # written, the status is 130); a second stops at once
    stop = _Stop()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGINT, signal.SIGTERM):
            previous[s] = signal.signal(s, stop.handle)
    try:
        # one sweep at a time writes a directory: a second one is refused at once
        with output_lock(directory / CSV_NAME):
            outcome = run_plan(plan, directory, scheduler=scheduler, workers=workers,
                               shared=shared, command=command, quiet=quiet, client=client,
                               started=lambda: _copy_sweep(directory, sw.text), stop=stop.requested)
    except KeyboardInterrupt:
        outcome = None
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
    if outcome is None or outcome.interrupted:
        print(f"\nchipsim: sweep stopped; the index ({directory / CSV_NAME}) holds the points "
              "that finished; the same command resumes it.", file=sys.stderr)
        return 130
    print(f"sweep {sw.name}: {outcome.done} done, {outcome.diverged} diverged, {outcome.failed} "
          f"failed, {outcome.pending} pending ({outcome.skipped} from an earlier run; "
          f"{outcome.simulations} simulation(s) in {outcome.wall_s:.1f} s)")
    print(f"index: {directory / CSV_NAME}")
    if outcome.failed:
        print(f"chipsim: {outcome.failed} point(s) failed; their messages are in the index",
              file=sys.stderr)
    return 1 if outcome.failed else 0
