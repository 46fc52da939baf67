"""benchmarks/cores.py, the probe of the cores every benchmark takes before and after a timed
run: its arithmetic on hand-made probes, the retry rule with a scripted probe, and one real
probe's shape (no timing is asserted)."""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def cores():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "cores.py"
    spec = importlib.util.spec_from_file_location("bench_cores", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _p(alone, both):
    return dict(alone=list(alone), both=list(both))


def test_speed_is_the_slowest_core_against_the_fastest_time(cores):
    # whole cores: every time equals the reference
    assert cores.speed(_p([10, 10], [10, 10]), 10.0) == 1.0
    # the two share one core: together each takes twice as long
    assert cores.speed(_p([10, 10], [20, 20]), 10.0) == 0.5
    # one core slow even alone (a neighbour on it): 10 / 16
    assert cores.speed(_p([10, 16], [10, 16]), 10.0) == 10 / 16
    # a child that reported nothing: not whole, and no reference for the others
    assert cores.speed(_p([10, float("nan")], [10, 10]), 10.0) == 0.0
    # no probe (one CPU, or no fork): counts as whole
    assert cores.speed(_p([], []), 10.0) == 1.0
    assert cores.label(0.97) == "0.97"
    assert cores.label(0.55) == "0.55 DEGRADED"
    assert cores.label(cores.HEALTHY) == f"{cores.HEALTHY:.2f}"


def test_a_run_is_taken_again_while_its_probes_say_degraded(cores, monkeypatch):
    """Probes are scripted: calibration whole (10 ms), then around the first attempt one
    shared core (20 ms together), around the second one slow CPU, around the third whole. With
    retries=2 the run is taken three times and the third is kept; with retries=1 twice, the
    second kept though degraded; a whole first attempt is taken once."""
    whole, shared, slow = _p([10, 10], [10, 10]), _p([10, 10], [20, 20]), _p([10, 14], [10, 14])

    def scripted(seq):
        it = iter(seq)
        monkeypatch.setattr(cores, "probe", lambda n=cores.LOOP: next(it))

    calls = []

    def run():
        calls.append(len(calls))
        return 100 + len(calls)

    scripted([whole] * 3 + [shared, whole, whole, slow, whole, whole])
    w = cores.Watch(retries=2, calibrate=3)
    res, att = w.around_all(run)
    assert res == [101, 102, 103] and len(att) == 3
    assert w.speeds(att) == [0.5, 10 / 14, 1.0]
    assert w.ref == 10

    calls.clear()
    scripted([whole] * 3 + [shared, whole, slow, whole])
    w = cores.Watch(retries=1, calibrate=3)
    res, att = w.around_all(run)
    assert res == [101, 102] and w.speeds(att)[-1] < cores.HEALTHY

    calls.clear()
    scripted([whole] * 3 + [whole, whole])
    w = cores.Watch(retries=2, calibrate=3)
    res, att = w.around_all(run)
    assert res == [101] and w.speeds(att) == [1.0]


def test_a_probe_during_the_run_counts_and_its_time_is_returned(cores, monkeypatch):
    """tick() between a run's steps probes (every=0: at every tick) into that run's probes: a
    degraded probe in the middle of a run with whole probes at its ends takes it again; a
    tick outside a run probes nothing; the seconds a tick returns are its probe's."""
    whole, shared = _p([10, 10], [10, 10]), _p([10, 10], [20, 20])
    seq = iter([whole] * 3 + [whole, shared, whole] + [whole, whole, whole])
    monkeypatch.setattr(cores, "probe", lambda n=cores.LOOP: next(seq))
    w = cores.Watch(retries=2, calibrate=3, every=0.0)
    assert w.tick() == 0.0 and len(w.probes) == 3          # no run in progress
    spent = []
    res, att = w.around_all(lambda: spent.append(w.tick()) or len(spent))
    assert res == [1, 2] and [len(a) for a in att] == [3, 3]
    assert w.speeds(att) == [0.5, 1.0]
    assert all(t >= 0.0 for t in spent)


def test_a_disabled_watch_probes_nothing(cores, monkeypatch):
    monkeypatch.setattr(cores, "probe", lambda n=0: pytest.fail("probed"))
    w = cores.Watch(retries=2, enabled=False)
    res, att = w.around_all(lambda: w.tick() + 7)
    assert res == [7.0] and w.speeds(att) == [1.0]


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2 or not hasattr(os, "fork"),
                    reason="the probe needs two CPUs and fork")
def test_a_real_probe_times_each_cpu_alone_and_both_together(cores):
    p = cores.probe(n=20)
    assert len(p["alone"]) == 2 and len(p["both"]) == 2
    assert all(t > 0 and math.isfinite(t) for t in p["alone"] + p["both"])
    assert 0 < cores.speed(p, min(p["alone"] + p["both"])) <= 1.0


def test_kept_is_the_last_attempt_with_the_ones_taken_again(cores, monkeypatch):
    """cores.kept, the one place the timing scripts take a run's result: with no watch, fn
    once; with one, the last attempt's result and cores, and (result, cores) of the others."""
    n = []
    assert cores.kept(None, lambda: n.append(1) or len(n)) == (1, None, [])
    whole, shared = _p([10, 10], [10, 10]), _p([10, 10], [20, 20])
    seq = iter([whole] * 3 + [shared, whole, whole, whole])
    monkeypatch.setattr(cores, "probe", lambda n=cores.LOOP: next(seq))
    w = cores.Watch(retries=2, calibrate=3)
    got = cores.kept(w, lambda: n.append(1) or len(n))
    assert got == (3, 1.0, [(2, 0.5)])


def test_repeat_keeps_one_result_a_repeat(cores, monkeypatch):
    """cores.repeat: ``repeats`` kept results, their cores, and the attempts taken again; the
    reference time ignores a probe's nan."""
    n = []
    assert cores.repeat(None, lambda: n.append(1) or len(n), 3) == ([1, 2, 3], [], [])
    whole, shared = _p([10, 10], [10, 10]), _p([10, 10], [20, 20])
    lost = _p([float("nan"), 10], [10, 10])
    seq = iter([whole] * 3 + [lost, whole, whole, whole] + [whole, shared, whole, whole])
    monkeypatch.setattr(cores, "probe", lambda n=cores.LOOP: next(seq))
    w = cores.Watch(retries=2, calibrate=3)
    n.clear()
    runs, cs, again = cores.repeat(w, lambda: n.append(1) or len(n), 2)
    assert w.ref == 10
    assert runs == [2, 4] and cs == [1.0, 1.0] and again == [(1, 0.0), (3, 0.5)]
