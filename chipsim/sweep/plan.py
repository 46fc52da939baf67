"""A sweep's plan: every point keyed, the points that share one simulation grouped.

A point's key is the SHA-256 of what it runs: the resolved workload (its text and overrides),
the chip number format's widths when the workload trains in the chip's format, and the
resolved profile's text. Editing the sweep file changes only the keys of the points it
changes, so a resumed sweep runs only the points it has no results file for.

Points whose simulation does not depend on the profile (every point, unless the workload asks
for ``training.number_format: chip``, in which case the profile's widths enter the
simulation) share one simulation when their workloads are the same: the simulation runs once
and each point re-prices its counts (hardware/cost.py, as ``chipsim price``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from chipsim.config.sweep import Point, Sweep, expand, show
from chipsim.errors import ChipsimError

#: the reference throughput of the time estimate: synapse-steps (one sample, one time step,
#: one weight) a worker simulates per second. Measured with benchmarks/bench_sweep.py on the
#: 2-core reference machine: the N-MNIST MLP (594,432 synapses, T = 10, batch 1, 200 samples x
#: 55 epochs) takes 3.4 s per simulation, 1.9e10 synapse-steps/s. Convolutions (a kernel's
#: weights reused at every position) and other rules run at other rates: a rough estimate.
REFERENCE_SYNAPSE_STEPS_PER_S = 1.9e10
#: seconds to price one point and write its results file, per sample it holds, plus a fixed
#: part (same benchmark: 0.08 s for 11,000 samples; 0.044 s for 1,000)
REFERENCE_PRICE_S_PER_SAMPLE = 6e-6
REFERENCE_PRICE_S = 0.04
#: seconds a simulation costs beyond its samples (loading the data, building the network)
REFERENCE_SIM_OVERHEAD_S = 0.3


def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode("utf-8")).hexdigest()


@dataclass
class PlannedPoint:
    """One point of the plan."""

    index: int                    # its place in the sweep (0-based)
    point: Point
    key: str                      # 16 hex digits: what it runs (workload, format, profile)
    sim: str                      # 16 hex digits: the simulation it needs ('' if it failed)

    @property
    def values(self) -> dict:
        return self.point.values


@dataclass
class SimGroup:
    """Points that share one simulation."""

    sim: str
    points: list = field(default_factory=list)    # PlannedPoint, in sweep order

    @property
    def first(self) -> PlannedPoint:
        return self.points[0]


@dataclass
class Plan:
    sweep: Sweep
    points: list                  # PlannedPoint
    dropped: int                  # points the exclusions removed

    @property
    def groups(self) -> list[SimGroup]:
        out: dict[str, SimGroup] = {}
        for p in self.points:
            if p.sim:
                out.setdefault(p.sim, SimGroup(p.sim)).points.append(p)
        return list(out.values())

    @property
    def failed(self) -> list[PlannedPoint]:
        return [p for p in self.points if p.point.error]


def sim_identity(workload, bits: dict | None) -> dict:
    """What a simulation depends on: the workload's text and overrides, the widths of the chip
    number format (if it trains in one) and, for a network read from a NIR graph, the graph
    file's bytes (a graph retrained under the same name is a new simulation)."""
    out = {"workload": workload.text, "overrides": sorted([list(o) for o in workload.overrides]),
           "bits": bits}
    if workload.network.nir is not None:
        from chipsim.model.network import nir_file
        path = nir_file(workload)
        try:
            with open(path, "rb") as f:
                out["nir"] = hashlib.file_digest(f, "sha256").hexdigest()
        except OSError:
            out["nir"] = f"unreadable: {path}"      # the simulation will say why
    return out


def make_plan(sweep: Sweep) -> Plan:
    """Expand ``sweep`` and key its points (see the module docstring)."""
    from chipsim.simulation import number_format_bits
    points, dropped = expand(sweep)
    planned = []
    for i, pt in enumerate(points):
        sim = ""
        if not pt.error:
            try:
                bits = number_format_bits(pt.workload, pt.profile)
            except ChipsimError as e:
                pt.error = str(e)
        if not pt.error:
            ident = sim_identity(pt.workload, bits)
            sim = _sha(ident)[:16]
            key = _sha({"simulation": ident, "profile": pt.profile.text})[:16]
        else:
            key = _sha({"values": {k: repr(v) for k, v in pt.values.items()},
                        "overrides": pt.overrides, "profile": pt.profile_ref,
                        "fields": {k: repr(v) for k, v in pt.profile_fields.items()},
                        "error": pt.error})[:16]
        planned.append(PlannedPoint(i, pt, key, sim))
    seen = {}
    for p in planned:
        if p.key in seen:
            other = seen[p.key]
            raise ChipsimError(
                f"points {other.index + 1} ({_describe(other.values)}) and {p.index + 1} "
                f"({_describe(p.values)}) run the same workload on the same profile",
                file=sweep.path, field="axes",
                expected="axes whose values change what runs (remove the duplicate value)")
        seen[p.key] = p
    return Plan(sweep, planned, dropped)


def _describe(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "the base point"


def _kept(workload) -> tuple[int, int]:
    """The (train, test) samples a run of ``workload`` uses (0, 0 if they cannot be listed)."""
    from chipsim.data.load import count_splits
    d = workload.dataset
    try:
        n = count_splits(d, workload.path)
    except ChipsimError:
        return 0, 0
    return tuple(n_ if lim is None else min(n_, int(lim))
                 for n_, lim in zip(n, (d.train_samples, d.test_samples)))


def sim_cost(workload) -> float:
    """The estimated seconds of one simulation of ``workload`` on one worker."""
    from chipsim.data.registry import N_CLASSES, SENSORS, input_side
    from chipsim.model.network import plan_network
    d, t = workload.dataset, workload.training
    try:
        shape = (SENSORS[d.name][0],) + tuple(input_side(d.name, d.size, d.downscale))
        syn = sum(int(ls.synapses) for ls in plan_network(workload, shape, N_CLASSES[d.name]).layers)
    except ChipsimError:
        return REFERENCE_SIM_OVERHEAD_S
    work = t.epochs * sum(_kept(workload)) * d.time_steps * syn
    return REFERENCE_SIM_OVERHEAD_S + work / REFERENCE_SYNAPSE_STEPS_PER_S


def estimate(plan: Plan, done: set, workers: int) -> tuple[float, int, int]:
    """(seconds, simulations, re-pricings) still to run, ``done`` being the keys already
    finished, on ``workers`` workers."""
    sims = pricings = 0
    seconds = 0.0
    for g in plan.groups:
        todo = [p for p in g.points if p.key not in done]
        if not todo:
            continue
        sims += 1
        pricings += len(todo)
        w = g.first.point.workload
        samples = w.training.epochs * sum(_kept(w))
        seconds += sim_cost(w) + (REFERENCE_PRICE_S + REFERENCE_PRICE_S_PER_SAMPLE * samples) * len(todo)
    return seconds / max(workers, 1), sims, pricings


def dry_run_text(plan: Plan, out_dir: Path, done: set, workers: int) -> str:
    """What ``chipsim sweep --dry-run`` prints."""
    axes = list(plan.sweep.axes)
    sim_no = {g.sim: i + 1 for i, g in enumerate(plan.groups)}
    head = ["#", "point"] + axes + ["simulation", "status"]
    rows = []
    for p in plan.points:
        status = ("failed: " + p.point.error if p.point.error else
                  "done" if p.key in done else "to run")
        rows.append([str(p.index + 1), p.key] + [show(p.values.get(a)) for a in axes]
                    + [str(sim_no.get(p.sim, "-")), status])
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(head)]
    widths[-1] = 0
    lines = [f"sweep {plan.sweep.name} ({plan.sweep.path}): base workload "
             f"{plan.sweep.workload_path}, results in {out_dir}",
             "  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    seconds, sims, pricings = estimate(plan, done, workers)
    n_sims = len(plan.groups)
    n_done = sum(1 for p in plan.points if p.key in done)
    lines.append(
        f"{len(plan.points)} points ({plan.dropped} excluded, {len(plan.failed)} invalid, "
        f"{n_done} already done): {n_sims} simulation(s) and {len(plan.points) - len(plan.failed)} "
        f"pricing(s) in all; to run: {sims} simulation(s), {pricings} pricing(s)")
    lines.append(f"estimated time on {workers} worker(s): {_duration(seconds)} "
                 "(rough: from chipsim's reference throughput, synapses x steps x samples; "
                 "plus the kernels' first compile, about 3 min on a fresh install)")
    return "\n".join(lines)


def _duration(s: float) -> str:
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
