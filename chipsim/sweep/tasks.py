"""What a sweep's workers run: one simulation, and the pricing of one point on its profile.

These functions run in Dask worker processes (or in the client, for a serial reference run).
They take plain records (text, dicts, the Simulation) so that they travel between processes;
a worker needs only chipsim installed. Together they produce what ``chipsim run WORKLOAD
--profile P`` produces, bit for bit: :func:`simulate` is the simulation stage (simulation.prepare
+ simulation.simulate),
:func:`price_point` is the cost stage ``chipsim run`` and ``chipsim price`` share
(hardware/cost.py), fed the run's batches in the run's order.

Bad input (a workload that does not validate on the worker, data that cannot be read, a
network that does not fit the chip) is returned as a :class:`Failed` record with its one-line
message, so the sweep records the point failed and goes on; anything else is a bug and
propagates (Dask reports it, the sweep records it).
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass
from pathlib import Path

from chipsim import __version__
from chipsim.errors import ChipsimError


@dataclass(frozen=True)
class SimSpec:
    """One simulation: the resolved workload, as text, and the chip format's widths."""

    workload_text: str
    workload_path: str
    overrides: tuple              # ((dotted key, YAML literal), ...)
    bits: dict | None
    profile_name: str             # for the number format's note
    threads: int = 1
    pack: bool = False            # compress the counts once for the points that share it


@dataclass(frozen=True)
class Failed:
    """A simulation or a point that could not run, and why (one line)."""

    message: str
    wall_s: float = 0.0


@dataclass
class Simulated:
    """A finished simulation and the seconds it took."""

    sim: object                   # chipsim.result.Simulation
    notes: tuple
    wall_s: float
    packed: dict | None = None    # report.h5.pack_simulation(sim), when shared


def _workload(spec: SimSpec):
    from chipsim.config.workload import workload_from_text
    return workload_from_text(spec.workload_text, spec.workload_path, dict(spec.overrides))


def simulate(spec: SimSpec) -> Simulated | Failed:
    """Train and test the workload (chipsim/simulation.py): its counts, no prices."""
    from chipsim import simulation, threads
    t0 = time.perf_counter()
    threads.configure(spec.threads)
    try:
        prep = simulation.prepare(_workload(spec), spec.bits, spec.profile_name)
        sim = simulation.simulate(prep)
    except ChipsimError as e:
        return Failed(str(e), time.perf_counter() - t0)
    wall = time.perf_counter() - t0
    packed = None
    if spec.pack:
        from chipsim.report.h5 import pack_simulation
        packed = pack_simulation(sim)
    return Simulated(sim, (prep.stopped,) if prep.stopped else (), wall, packed)


@dataclass
class Priced:
    """One point's outcome, small enough to send back: its summary row, and the result itself
    when the client writes the file."""

    key: str
    status: str                   # 'done', 'diverged' (its file is kept) or 'failed'
    message: str
    summary: dict
    sim_wall_s: float
    price_wall_s: float
    result: object = None         # RunResult, when the client writes it


def price_point(simulated, profile, key: str, out: str | None, command: str) -> Priced:
    """Cost the simulation on ``profile`` and write the point's results file ``out``
    atomically (or, ``out`` None, return the result for the client to write)."""
    from chipsim.hardware.cost import cost
    from chipsim.report.h5 import write_result
    from chipsim.report.summary import summary_dict
    from chipsim.result import RunResult

    t0 = time.perf_counter()
    if isinstance(simulated, Failed):
        return Priced(key, "failed", simulated.message, {}, simulated.wall_s, 0.0)
    sim = simulated.sim
    try:
        costs = cost(sim, profile, dict(sim.requested_mapping), sim.workload_path)
    except ChipsimError as e:
        return Priced(key, "failed", str(e), {}, simulated.wall_s, time.perf_counter() - t0)
    result = RunResult(version=__version__,
                       created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                       command=command, sim=sim, cost=costs, notes=simulated.notes)
    summary = summary_dict(result)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        write_result(result, out, packed=simulated.packed)
        result = None
    status = "diverged" if summary["diverged"] else "done"
    return Priced(key, status, summary["diverged"] or "", summary, simulated.wall_s,
                  time.perf_counter() - t0, result)
