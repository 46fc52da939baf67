"""benchmarks/cores.py, the probe of the cores every benchmark takes before and after a timed
run: its arithmetic on hand-made probes, the retry rule with a scripted probe, and one real
probe's shape; and benchmarks/common.py's round trip around chipsim's kept runs, with scripted
round trips and a stand-in trainer (no timing is asserted)."""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

import numpy as np
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


@pytest.fixture(scope="module")
def common():
    """benchmarks/common.py as the scripts import it (benchmarks/ on the path: it imports
    cores and, for the round trip, bench_handoff by their names)."""
    import sys
    bench_dir = str(Path(__file__).resolve().parents[1] / "benchmarks")
    if bench_dir not in sys.path:
        sys.path.insert(0, bench_dir)
    import common as mod
    return mod


def test_a_round_trip_is_printed_with_far_apart_above_the_line(common):
    """The round trip's label: none, one value, a range, and FAR APART as soon as one value
    exceeds FAR_NS; cores_note puts it after the cores and before the runs taken again."""
    assert common.handoff_label([]) == ""
    assert common.handoff_label([70.2, 69.8]) == "round trip 70 ns"
    assert common.handoff_label([68.4, 75.1]) == "round trip 68-75 ns"
    assert common.handoff_label([70.0, 340.0]) == "round trip 70-340 ns FAR APART"
    assert common.handoff_label([common.FAR_NS]) == f"round trip {common.FAR_NS:.0f} ns"
    r = dict(cores=[0.97, 0.91], rt=[331.0, 350.0], again=[(553.2, 0.55)])
    assert common.cores_note(r) == "cores 0.91, round trip 331-350 ns FAR APART; again: 553.2 at 0.55"
    assert common.cores_note(dict(cores=[0.9], rt=[], again=[])) == "cores 0.90"


def test_bench_measures_the_round_trip_around_each_kept_run(common, monkeypatch, capsys):
    """common.bench with a scripted probe, scripted round trips and a stand-in trainer (no
    training is timed): the first attempt is degraded and taken again, so the round trips
    kept are those of the second attempt and of the second run, in order; a run taken again
    keeps its samples/s and cores only. Without an enabled watch no round trip is measured.
    The side-by-side table prints chipsim's round trips beside its rule."""
    import sys
    from chipsim import counts as K
    cores_mod = sys.modules["cores"]            # the module common.py imported
    whole, shared = _p([10, 10], [10, 10]), _p([10, 10], [20, 20])
    probes = iter([whole] * 3 + [shared, whole] + [whole, whole] + [whole, whole])
    monkeypatch.setattr(cores_mod, "probe", lambda n=cores_mod.LOOP: next(probes))
    trips = iter([70.0, 75.0, 340.0, 350.0, 60.0, 61.0])
    monkeypatch.setattr(common, "handoff_ns", lambda exchanges=0: next(trips))

    class Trainer:
        learning_state_bytes = 1
        gradient_buffer_bytes = 2

        def train_batch(self, inp, ptr, labels):
            return None, None, K.zeros(1, len(ptr), 1).sum(axis=1)

    monkeypatch.setattr(common, "reference_trainer", lambda *a, **k: Trainer())
    data = (type("DS", (), {"labels": np.zeros(4, np.int64)})(),
            type("In", (), {"ptr": np.zeros((4, 2), np.int64)})())
    w = cores_mod.Watch(retries=2, calibrate=3)
    r = common.bench(common.MLP, "sltt", 1, "float32", 0.0, batch=2, data=data, repeats=2,
                     watch=w)
    assert r["rt"] == [340.0, 350.0, 60.0, 61.0]
    assert len(r["runs"]) == 2 and r["cores"] == [1.0, 1.0]
    assert len(r["again"]) == 1 and r["again"][0][1] == 0.5 and r["again"][0][0] > 0
    monkeypatch.setattr(common, "handoff_ns", lambda exchanges=0: pytest.fail("measured"))
    r2 = common.bench(common.MLP, "sltt", 1, "float32", 0.0, batch=2, data=data, repeats=1,
                      watch=cores_mod.Watch(enabled=False))
    assert r2["rt"] == []
    figs = {"torch_sltt": (100.0, 2, 0.9)}
    common.print_side_by_side("conv", 32, 10, {"sltt": 160.0}, (figs, "scripted", False),
                              {"sltt": 1.0}, {"sltt": r["rt"]})
    out = capsys.readouterr().out
    assert "1.60x" in out and "(chipsim's round trip 60-350 ns FAR APART)" in out
