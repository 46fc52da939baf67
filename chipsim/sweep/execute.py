"""Running a sweep's plan on ``dask.distributed``.

The client submits one task per simulation still needed and, depending on it, one pricing task
per point that shares it (sweep/tasks.py); Dask places them on its workers, moves the
simulation to where its pricings run, and, when a worker dies, runs its tasks again on another
(a point's results file is written whole or not at all, report/h5.py). The client collects the
points as they finish and rewrites the index (report/sweep_index.py) at most once a second and
at the end, so the index can be read, or the sweep stopped, at any moment.

The cluster is, by default, an embedded ``LocalCluster``: one worker process per core, one
thread each, Numba and BLAS at one thread inside it (``CHIPSIM_THREADS=1``,
``OPENBLAS_NUM_THREADS=1``). ``scheduler`` (or ``DASK_SCHEDULER_ADDRESS``) names an existing
Dask cluster instead; its workers need only chipsim installed. With ``shared`` (the default
for the embedded cluster) the workers write the results files into the sweep directory
themselves; without it (the default for a remote cluster) the results come back to the
client, which writes them.

The kernels are compiled once per worker process, not once per point: a worker keeps them in
memory for every later point, and loads them from Numba's on-disk cache (written by the first
process that compiled them) when it meets a new kind of simulation. There is no separate
warm-up phase: on a fresh install, compiling in every worker up front would compile each kind
of simulation once per worker, where the first points compile each kind once in all (measured:
a blocking warm-up cost 0.5-1.5 s of every sweep's start even with the cache warm).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from chipsim.config.sweep import show
from chipsim.errors import ChipsimError
from chipsim.report import sweep_index as idx
from chipsim.sweep import tasks
from chipsim.sweep.plan import Plan

POINTS_DIR = "points"
SWEEP_COPY = "sweep.yaml"
INDEX_EVERY_S = 1.0
POLL_S = 0.05


class _StopRequested(Exception):
    """``stop()`` asked the sweep to stop (a signal the command received)."""


@dataclass
class Outcome:
    """What a sweep did."""

    directory: Path
    done: int = 0
    failed: int = 0
    diverged: int = 0
    pending: int = 0
    skipped: int = 0              # finished in an earlier run of the sweep
    ran: list = field(default_factory=list)     # the keys of the points this run finished
    simulations: int = 0          # simulations this run ran
    interrupted: bool = False
    wall_s: float = 0.0


def point_file(directory: Path, key: str) -> Path:
    return Path(directory) / POINTS_DIR / f"{key}.h5"


def finished_keys(plan: Plan, directory: Path) -> set:
    """The keys of the plan's points whose results file exists (an earlier run finished them)."""
    return {p.key for p in plan.points if point_file(directory, p.key).is_file()}


def _row(p, cols, status="pending", message="", summary=None, sim_wall=None, price_wall=None):
    r = {c: None for c in cols}
    r.update(point=p.key, status=status, message=message, simulation=p.sim or "",
             rule_name=p.point.workload.rule.name if p.point.workload is not None else "",
             profile_name=p.point.profile.name if p.point.profile is not None else str(p.point.profile_ref),
             results=f"{POINTS_DIR}/{p.key}.h5" if status in ("done", "diverged") else "")
    for a, v in p.values.items():
        r[a] = show(v)
    if summary:
        r.update(idx.metrics_of(summary))
    r["simulation_wall_s"], r["pricing_wall_s"] = sim_wall, price_wall
    if sim_wall is not None and price_wall is not None:
        r["wall_time_s"] = sim_wall + price_wall
    return r


def _previous_rows(directory: Path) -> dict:
    """key -> the row an earlier run of the sweep wrote for a finished point (none if there is
    no readable index): resuming takes a finished point's figures from there rather than
    reading its whole results file again."""
    try:
        _, rows = idx.read_index(directory)
    except ChipsimError:
        return {}
    return {r["point"]: r for r in rows if r.get("status") in ("done", "diverged")}


def _row_from_index(p, cols, old: dict) -> dict:
    """A finished point's row from the earlier index (its axis columns from this plan)."""
    r = _row(p, cols, old["status"], old.get("message") or "")
    for c in (*idx.METRICS, "simulation_wall_s", "pricing_wall_s", "wall_time_s"):
        r[c] = old.get(c)
    if r["learning_memory_bytes"] is not None:
        r["learning_memory_bytes"] = int(r["learning_memory_bytes"])
    return r


def _row_from_file(p, cols, path: Path) -> dict | None:
    """The index row of a point finished by an earlier run, from its results file (None if
    the file cannot be read: the point runs again)."""
    from chipsim.report.h5 import read_result
    from chipsim.report.summary import summary_dict
    try:
        s = summary_dict(read_result(path))
    except ChipsimError:
        return None
    return _row(p, cols, "diverged" if s["diverged"] else "done", s["diverged"] or "", s,
                s["wall_time_s"], None)


def sim_spec(group, threads: int = 1, points: int = 1) -> tasks.SimSpec:
    """The simulation ``group`` needs; ``points``: how many points will be priced from it
    (more than one: its counts are compressed once for all their files)."""
    pt = group.first.point
    from chipsim.simulation import number_format_bits
    w = pt.workload
    return tasks.SimSpec(w.text, str(w.path), tuple(w.overrides), number_format_bits(w, pt.profile),
                         pt.profile.name, threads, points > 1)


class Progress:
    """One status line on stderr: points done, failed and running, and an ETA."""

    def __init__(self, total: int, stream=sys.stderr, quiet: bool = False):
        self.total, self.stream, self.quiet = total, stream, quiet
        self.tty = stream.isatty()
        self.t0 = time.monotonic()
        self.t_first = None       # when the first point of this run finished
        self.last = 0.0
        self.running = 0

    def note(self, text: str) -> None:
        if not self.quiet:
            self.stream.write(text + "\n")
            self.stream.flush()

    def __call__(self, done, failed, running, finished_here, todo_here, force=False):
        """``running``: None keeps the last count (the scheduler is asked only when points
        finish)."""
        if self.quiet:
            return
        now = time.monotonic()
        if finished_here and self.t_first is None:
            self.t_first = now
        if not force and now - self.last < (0.2 if self.tty else 10.0):
            return
        self.last = now
        el = now - self.t0
        if running is not None:
            self.running = running
        eta = "?"
        # the rate of the points since the first finished: the first points also compiled
        # (or loaded) the kernels
        if finished_here >= 2 and self.t_first is not None:
            rate = (now - self.t_first) / (finished_here - 1)
            eta = f"{rate * max(todo_here - finished_here, 0):.0f} s"
        line = (f"sweep: {done}/{self.total} done, {failed} failed, {self.running} running, "
                f"{el:.0f} s elapsed, ETA {eta}")
        self.stream.write(("\r" + line + " ") if self.tty else line + "\n")
        self.stream.flush()

    def end(self):
        if not self.quiet and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _cluster(scheduler: str | None, workers: int | None):
    """A connected Client and the cluster it owns (None for an external one)."""
    import dask
    from distributed import Client, LocalCluster

    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        try:
            return Client(address, timeout="10s"), None
        except (OSError, TimeoutError, ValueError) as e:
            raise ChipsimError(f"cannot reach the Dask scheduler {address}: {e}",
                               field="--scheduler", expected="the address of a running Dask "
                               "scheduler, e.g. tcp://host:8786") from None
    n = workers or os.cpu_count() or 1
    # Dask's nanny sets OMP_NUM_THREADS=1 and MALLOC_TRIM_THRESHOLD_=65536 in its workers by
    # default: with them a simulation ran 8 % and 10 % slower than in a plain process (the
    # trim threshold turns off glibc's dynamic mmap threshold, so every large array is a fresh
    # mmap; measured side by side, /tmp scripts in the issue-13 note). BLAS stays at one
    # thread (chipsim sets it too); Numba's threads are CHIPSIM_THREADS=1 (one worker per core).
    config = {"distributed.logging.distributed": "error",
              "distributed.nanny.pre-spawn-environ": {"OPENBLAS_NUM_THREADS": 1,
                                                      "MKL_NUM_THREADS": 1},
              # the workers' statistical profiler samples the running task's stack every
              # 10 ms (for the dashboard); a sweep does not use it
              "distributed.worker.profile.enabled": False}
    with dask.config.set(config):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=":0", env={"CHIPSIM_THREADS": "1"},
                               silence_logs=40, preload=["chipsim.sweep.worker"])
    return Client(cluster), cluster


def run_plan(plan: Plan, directory, *, scheduler: str | None = None, workers: int | None = None,
             shared: bool | None = None, command: str = "", quiet: bool = False,
             client=None, stream=sys.stderr, started=None, stop=None) -> Outcome:
    """Run the points of ``plan`` that have no results file in ``directory`` (see the module
    docstring); write the index as they finish. ``client``: an existing dask Client to use
    (tests); ``started()``: called once the cluster is reached, before anything is written.
    ``stop()``: asked between polls of the finished points; True cancels what runs, writes
    the index and returns an Outcome marked interrupted (a KeyboardInterrupt does the same,
    then propagates)."""
    directory = Path(directory)
    t0 = time.perf_counter()
    cols = idx.columns(plan.sweep.axes)
    attrs = {"sweep": plan.sweep.name, "sweep_text": plan.sweep.text, "command": command}
    out = Outcome(directory)
    rows: dict[str, dict] = {}
    for p in plan.points:
        if p.point.error:
            rows[p.key] = _row(p, cols, "failed", p.point.error)
    done = finished_keys(plan, directory)
    before = _previous_rows(directory)
    for p in plan.points:
        if p.key in done:
            r = (_row_from_index(p, cols, before[p.key]) if p.key in before else
                 _row_from_file(p, cols, point_file(directory, p.key)))
            if r is None:
                done.discard(p.key)
            else:
                rows[p.key] = r
                out.skipped += 1
    todo_groups = []
    for g in plan.groups:
        todo = [p for p in g.points if p.key not in done]
        for p in todo:
            rows[p.key] = _row(p, cols)
        if todo:
            todo_groups.append((g, todo))

    def write_index():
        (directory / POINTS_DIR).mkdir(parents=True, exist_ok=True)
        idx.write_index(directory, cols, [rows[p.key] for p in plan.points], attrs)

    n_todo = sum(len(t) for _, t in todo_groups)
    progress = Progress(len(plan.points), stream, quiet)

    def counts():
        st = [r["status"] for r in rows.values()]
        return st.count("done") + st.count("diverged"), st.count("failed")

    own = client is None and bool(todo_groups)
    cluster = None
    if own:      # before the index is written: an unreachable scheduler leaves nothing new
        client, cluster = _cluster(scheduler, workers)
    if started is not None:
        started()
    write_index()
    if not todo_groups:
        out.wall_s = time.perf_counter() - t0
        return _tally(out, rows)
    if shared is None:
        # workers of the embedded cluster (or of a client the caller made here) see the
        # directory; those of an external scheduler may not: their results come back
        shared = not (own and cluster is None)
    futures = {}
    finished_here = 0
    try:
        from distributed import as_completed
        n_workers = len(client.scheduler_info().get("workers", {}))
        progress.note(f"sweep: {n_workers} worker(s); {n_todo} point(s) to run (each worker compiles "
                      "or loads the kernels at its first point: about 3 minutes on a fresh install)")
        for g, todo in todo_groups:
            spec = sim_spec(g, points=len(todo))
            fs = client.submit(tasks.simulate, spec, key=f"simulate-{g.sim}", pure=False)
            for p in todo:
                dest = str(point_file(directory, p.key)) if shared else None
                f = client.submit(tasks.price_point, fs, p.point.profile, p.key, dest, command,
                                  key=f"price-{p.key}", pure=False)
                futures[f] = p
            out.simulations += 1
        d, fl = counts()
        progress(d, fl, _running(client), 0, n_todo, force=True)
        last = 0.0
        pending = as_completed(list(futures))
        while not pending.is_empty():
            if stop is not None and stop():
                raise _StopRequested
            batch = pending.next_batch(block=False)
            if not batch:
                d, fl = counts()
                progress(d, fl, None, finished_here, n_todo)     # the clock ticks
                time.sleep(POLL_S)
                continue
            for f in batch:
                p = futures[f]
                try:
                    res = f.result()
                except Exception as e:   # a bug, or a worker killed too often (KilledWorker)
                    res = tasks.Priced(p.key, "failed",
                                       f"{type(e).__name__}: {e}".splitlines()[0], {}, None, None)
                if res.result is not None:   # the client writes what came back
                    from chipsim.report.h5 import write_result
                    write_result(res.result, point_file(directory, p.key))
                rows[p.key] = _row(p, cols, res.status, res.message, res.summary,
                                   res.sim_wall_s, res.price_wall_s)
                if res.status in ("done", "diverged"):
                    out.ran.append(p.key)
                finished_here += 1
                f.release()
            now = time.monotonic()
            if now - last >= INDEX_EVERY_S:
                write_index()
                last = now
            d, fl = counts()
            progress(d, fl, _running(client), finished_here, n_todo)
        d, fl = counts()
        progress(d, fl, 0, finished_here, n_todo, force=True)
        progress.end()
    except (_StopRequested, KeyboardInterrupt) as e:
        out.interrupted = True
        progress.end()
        for f in futures:
            f.cancel()
        if isinstance(e, KeyboardInterrupt):
            raise
    finally:
        write_index()
        out.wall_s = time.perf_counter() - t0
        if own:
            try:
                client.close(timeout=10)
            finally:
                if cluster is not None:
                    cluster.close(timeout=10)
    return _tally(out, rows)


def _running(client) -> int:
    """Tasks the workers are running now (0 if the scheduler cannot say)."""
    try:
        return sum(min(len(v), 1) for v in client.processing().values())
    except Exception:
        return 0


def _tally(out: Outcome, rows: dict) -> Outcome:
    st = [r["status"] for r in rows.values()]
    out.done, out.failed = st.count("done"), st.count("failed")
    out.diverged, out.pending = st.count("diverged"), st.count("pending")
    return out
