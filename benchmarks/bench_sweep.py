"""`chipsim sweep` against the same points run one after another: the issue's two speed targets.

1. An 8-point simulation sweep (N-MNIST 2312-256-10, batch 1, rule {ottt_o, ottt_a, sltt,
   bptt} x seed {1, 2}; every point its own simulation, ~3.5 s each on one core) run by
   ``run_plan`` on an embedded LocalCluster of 2 workers, against the same 8 points run
   serially in this process with ``engine.run`` at 1 thread and at the default threads (every
   core). The sweep is timed whole (cluster start, the points (each worker loads its kernels at its first point),
   cluster close) and without its start-up (from "point(s) to run" to the last point, read off
   the sweep's own progress lines). The serial runs warm their kernels first (one tiny run per
   rule, untimed), so no compile is in them. Target: serial / sweep >= 1.7x. The sweep writes
   a results file per point, engine.run none: the serial 1-thread run also writes each result's
   file (as ``chipsim run`` does), timed apart and shown as an extra row.
2. A 20-variant profile-only sweep (``profile.actions.weight_update_issued``, 20 energies on
   anp_i; one simulation shared by all 20 points, each re-priced), against one plain
   ``engine.run`` (simulation + cost) of the same workload, warm. Target: sweep / run < 2x; the
   sweep must run exactly 1 simulation. The index's per-point wall times (simulation, pricing
   + results file, in the workers) are printed beside both parts.

Each sweep runs in a fresh temporary directory (a sweep skips the points whose results file
exists). Figures are medians of --repeats runs (3; --quick: 1), the settings taking turns. It
asserts nothing; figures move with the machine and its load (a second process on a 2-core
machine slows the sweep's workers and the 2-thread runs most): compare ratios from one run.

    python benchmarks/bench_sweep.py [--quick] [--repeats 3] [--epochs 55] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import chipsim
from chipsim import engine, threads
from chipsim.config.sweep import load_sweep
from chipsim.config.workload import workload_from_text
from chipsim.report.h5 import write_result
from chipsim.report.sweep_index import read_index
from chipsim.sweep.execute import run_plan
from chipsim.sweep.plan import make_plan

from common import machine

ROOT = Path(__file__).resolve().parents[1]
NMNIST = ROOT / "workloads" / "nmnist.yaml"
RULES = ["ottt_o", "ottt_a", "sltt", "bptt"]
N_VARIANTS = 20


class Recorder:
    """A stream for run_plan's progress lines that keeps when each was written: the note
    "point(s) to run" marks the end of the start-up, the last "sweep: N/N done" line the end of
    the points."""

    def __init__(self):
        self.lines = []

    def write(self, text):
        if text.strip():
            self.lines.append((time.perf_counter(), text.strip()))

    def flush(self):
        pass

    def isatty(self):
        return False

    def at(self, needle, last=False):
        hits = [t for t, s in self.lines if needle in s]
        return (hits[-1] if last else hits[0]) if hits else None


def write_sweep(d: Path, name: str, sets: dict, axes: str, workload: Path = NMNIST) -> Path:
    p = d / f"{name}.yaml"
    body = "\n".join(f"  {k}: {v}" for k, v in sets.items())
    p.write_text(f"name: {name}\nworkload: {workload}\nprofile: anp_i\nset:\n{body}\naxes:\n{axes}",
                 encoding="utf-8")
    return p


def time_sweep(plan, workers: int) -> dict:
    """run_plan on a fresh directory and an embedded LocalCluster: the whole call, its start-up
    (the cluster's start), the points alone, and the outcome."""
    rec = Recorder()
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as d:
        t0 = time.perf_counter()
        out = run_plan(plan, Path(d) / "out", workers=workers, quiet=False, stream=rec)
        t1 = time.perf_counter()
        rows = read_index(Path(d) / "out")[1]
    up = ready = rec.at("point(s) to run")
    end = rec.at(f"{len(plan.points)}/{len(plan.points)} done", last=True)
    return dict(total=t1 - t0, cluster=(up - t0) if up else float("nan"),
                startup=(ready - t0) if ready else float("nan"),
                points=(end - ready) if ready and end else float("nan"), outcome=out,
                sim_wall=[r["simulation_wall_s"] for r in rows if r["simulation_wall_s"] is not None],
                price_wall=[r["pricing_wall_s"] for r in rows if r["pricing_wall_s"] is not None])


def warm_serial(plan) -> None:
    """Compile (or load from Numba's cache) every rule's kernels in this process: one tiny run
    of each distinct workload kind, untimed."""
    seen = set()
    for p in plan.points:
        w = p.point.workload
        if w.rule.name in seen:
            continue
        seen.add(w.rule.name)
        o = dict(w.overrides)
        o.update({"dataset.train_samples": "1", "dataset.test_samples": "1", "training.epochs": "1"})
        engine.run(workload_from_text(w.text, str(w.path), o), p.point.profile)


def time_serial(points, n_threads, files: bool = False) -> tuple[float, float, int]:
    """engine.run on each point, one after another, at ``n_threads`` (None: the default): the
    seconds, the seconds writing each result's file as ``chipsim run`` does (timed apart, 0
    unless ``files``; the sweep writes one per point), and the threads used."""
    n = threads.configure(n_threads)
    t_run = t_write = 0.0
    with tempfile.TemporaryDirectory(prefix="bench_sweep_serial_") as d:
        for i, p in enumerate(points):
            t0 = time.perf_counter()
            res = engine.run(p.point.workload, p.point.profile)
            t1 = time.perf_counter()
            if files:
                write_result(res, Path(d) / f"{i}.h5")
            t_run += t1 - t0
            t_write += time.perf_counter() - t1
            del res
    return t_run, t_write, n


def workers_line(sweeps) -> str:
    """The seconds the points' simulations and pricings took in the workers (the index's
    simulation_wall_s and pricing_wall_s; pricing includes writing the results file)."""
    sim = [x for r in sweeps for x in r["sim_wall"]]
    price = [x for r in sweeps for x in r["price_wall"]]
    if not sim or not price:
        return "no wall times in the index"
    return (f"simulation median {med(sim):.2f} s (max {max(sim):.2f}), pricing + results file "
            f"median {med(price):.2f} s (max {max(price):.2f}) a point")


def med(xs):
    return statistics.median(xs)


def runs(xs):
    return "[" + ", ".join(f"{x:.1f}" for x in xs) + "]"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per figure (default 3)")
    ap.add_argument("--quick", action="store_true", help="one run per figure (--repeats 1)")
    ap.add_argument("--workers", type=int, default=2, help="the sweep's worker processes")
    ap.add_argument("--epochs", type=int, default=55,
                    help="epochs of every point (100 + 100 samples each; ~3.5 s a point on one core)")
    ap.add_argument("--epochs-shared", type=int, default=None,
                    help="epochs of part 2's shared simulation (default: --epochs)")
    ap.add_argument("--train", type=int, default=100, help="training samples per epoch")
    ap.add_argument("--test", type=int, default=100, help="test samples per epoch")
    ap.add_argument("--parts", nargs="+", type=int, default=[1, 2], choices=[1, 2])
    ap.add_argument("--shared-workload", default=str(NMNIST),
                    help="part 2's workload (default workloads/nmnist.yaml; e.g. "
                         "workloads/nmnist_conv.yaml --epochs-shared 3 for the reference conv net)")
    a = ap.parse_args()
    repeats = a.repeats or (1 if a.quick else 3)
    ep2 = a.epochs_shared or a.epochs
    t_start = time.perf_counter()
    import dask
    import numba
    print(f"chipsim {chipsim.__version__}; Python {sys.version.split()[0]}, dask {dask.__version__}, "
          f"numba {numba.__version__}; cores usable {threads.cores()}; {machine()}")
    print(f"median of {repeats} run(s) per figure{' (--quick)' if repeats == 1 else ''}; "
          f"sweeps on an embedded LocalCluster of {a.workers} worker(s), 1 thread each")
    table = []
    with tempfile.TemporaryDirectory(prefix="bench_sweep_files_") as d:
        d = Path(d)
        sets = {"dataset.train_samples": a.train, "dataset.test_samples": a.test, "training.epochs": a.epochs}
        if 1 in a.parts:
            plan = make_plan(load_sweep(write_sweep(
                d, "eight", sets, f"  rule: [{', '.join(RULES)}]\n  seed: [1, 2]\n")))
            print(f"\n1. {len(plan.points)} points, {len(plan.groups)} simulations: N-MNIST 2312-256-10, "
                  f"batch 1, {a.train}+{a.test} samples x {a.epochs} epochs, rule x seed, priced on anp_i")
            warm_serial(plan)
            sw, s1, w1, sd, nd = [], [], [], [], None
            for i in range(repeats):
                r = time_sweep(plan, a.workers)
                sw.append(r)
                o = r["outcome"]
                print(f"   run {i + 1}: sweep {r['total']:.1f} s (start-up {r['startup']:.1f} s, "
                      f"points {r['points']:.1f} s; "
                      f"{o.done} done, {o.diverged} diverged, {o.failed} failed, "
                      f"{o.simulations} simulations)", flush=True)
                t, tw, _ = time_serial(plan.points, 1, files=True)
                s1.append(t)
                w1.append(tw)
                t, _, nd = time_serial(plan.points, None)
                sd.append(t)
                print(f"          serial 1 thread {s1[-1]:.1f} s (+ {w1[-1]:.1f} s writing {len(plan.points)} "
                      f"results files), serial {nd} threads {sd[-1]:.1f} s", flush=True)
            threads.configure(None)
            tot, pts = [r["total"] for r in sw], [r["points"] for r in sw]
            print(f"   sweep whole call      {med(tot):6.1f} s  {runs(tot)}")
            print(f"   sweep after start-up  {med(pts):6.1f} s  {runs(pts)}  "
                  f"(start-up: the cluster, {med([r['startup'] for r in sw]):.1f} s)")
            print(f"   serial, 1 thread      {med(s1):6.1f} s  {runs(s1)}  "
                  f"({med(s1) / len(plan.points):.2f} s a point)")
            print(f"   serial, {nd} threads     {med(sd):6.1f} s  {runs(sd)}")
            print(f"   results files         {med(w1):6.1f} s  {runs(w1)}  (writing the {len(plan.points)} "
                  f"results files in the serial 1-thread run, timed apart; not in the serial figures)")
            print(f"   in the sweep's workers (index, all runs): {workers_line(sw)}")
            sf = [a_ + b_ for a_, b_ in zip(s1, w1)]
            for label, s in (("1 thread", med(s1)), (f"{nd} threads", med(sd)),
                             ("1 thread + files", med(sf))):
                r_all, r_pts = s / med(tot), s / med(pts)
                table.append((f"8-point sweep vs serial, {label}", f"{s:.1f} s / {med(tot):.1f} s",
                              f"{r_all:.2f}x", f"{r_pts:.2f}x", ">= 1.7x", "met" if r_all >= 1.7 else "NOT met"))
        if 2 in a.parts:
            values = ", ".join(f"'{0.1 * (i + 1):.1f} pJ'" for i in range(N_VARIANTS))
            sets2 = dict(sets, **{"training.epochs": ep2})
            plan = make_plan(load_sweep(write_sweep(
                d, "twenty", sets2, f"  profile.actions.weight_update_issued: [{values}]\n",
                Path(a.shared_workload).resolve())))
            p0 = plan.points[0]
            print(f"\n2. {len(plan.points)} points, {len(plan.groups)} simulation(s) planned: "
                  f"weight_update_issued 0.1 .. {0.1 * N_VARIANTS:.1f} pJ on anp_i; the workload: "
                  f"{Path(a.shared_workload).name} ({p0.point.workload.rule.name}), {a.train}+{a.test} "
                  f"samples x {ep2} epochs")
            warm_serial(plan)
            sw, r1, f1, rd, nd = [], [], [], [], None
            for i in range(repeats):
                r = time_sweep(plan, a.workers)
                sw.append(r)
                o = r["outcome"]
                t, tw, _ = time_serial([p0], 1, files=True)
                r1.append(t)
                f1.append(tw)
                t, _, nd = time_serial([p0], None)
                rd.append(t)
                print(f"   run {i + 1}: sweep {r['total']:.1f} s (start-up {r['startup']:.1f} s, points "
                      f"{r['points']:.1f} s; {o.done} done, {o.failed} failed, {o.simulations} "
                      f"simulation(s)); engine.run 1 thread {r1[-1]:.1f} s, {nd} threads {rd[-1]:.1f} s",
                      flush=True)
            threads.configure(None)
            tot, pts = [r["total"] for r in sw], [r["points"] for r in sw]
            sims = sorted({r["outcome"].simulations for r in sw})
            print(f"   sweep whole call      {med(tot):6.1f} s  {runs(tot)}")
            print(f"   sweep after start-up  {med(pts):6.1f} s  {runs(pts)}")
            print(f"   engine.run, 1 thread  {med(r1):6.1f} s  {runs(r1)}")
            print(f"   engine.run, {nd} threads {med(rd):6.1f} s  {runs(rd)}")
            print(f"   its results file      {med(f1):6.1f} s  {runs(f1)}  (timed apart; the sweep writes 20)")
            print(f"   in the sweep's workers (index, all runs): {workers_line(sw)}")
            print(f"   simulations the sweep ran: {', '.join(map(str, sims))} (must be 1)")
            rf = [a_ + b_ for a_, b_ in zip(r1, f1)]
            for label, s in ((f"{nd} threads", med(rd)), ("1 thread", med(r1)),
                             ("1 thread + its file (chipsim run)", med(rf))):
                r_all, r_pts = med(tot) / s, med(pts) / s
                table.append((f"20-variant sweep vs 1 run, {label}", f"{med(tot):.1f} s / {s:.1f} s",
                              f"{r_all:.2f}x", f"{r_pts:.2f}x", "< 2x", "met" if r_all < 2 else "NOT met"))
            table.append(("20-variant sweep: simulations run", ", ".join(map(str, sims)), "", "", "1",
                          "met" if sims == [1] else "NOT met"))
    print(f"\nsummary (median of {repeats}; ratio: whole sweep call, incl. the cluster start; "
          "w/o start-up: from the cluster's start to the last point)")
    head = ("comparison", "seconds", "ratio", "w/o start-up", "target", "")
    w = [max(len(str(r[i])) for r in table + [head]) for i in range(len(head))]
    print("  ".join(h.ljust(n) for h, n in zip(head, w)).rstrip())
    for r in table:
        print("  ".join(str(c).ljust(n) for c, n in zip(r, w)).rstrip())
    print(f"(1: serial / sweep; 2: sweep / run)\nbenchmark took {time.perf_counter() - t_start:.0f} s; "
          f"machine at the end: {machine()}")


if __name__ == "__main__":
    main()
