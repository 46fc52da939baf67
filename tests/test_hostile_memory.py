"""Runs that would not fit in memory (issue 11, part 1) are refused before anything large is
allocated: one line naming the workload file, the field and the estimate against what is
available. These tests check the estimate; tests/test_hostile_corpus.py runs the six runs too
large for memory (tests/hostile/README.md) through the command line (exit status 2, no results
file, a peak memory under 1 GB, measured).

``CHIPSIM_MAX_MEMORY`` stands in for a smaller machine where a case would fit on this one.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from chipsim.config.workload import load_workload
from chipsim.data.load import count_splits
from chipsim.data.registry import N_CLASSES, SENSORS, input_side
from chipsim.errors import ChipsimError
from chipsim.needs import check_run, run_needs
from tests.hostile_cli import ROOT

NMNIST = ROOT / "workloads" / "nmnist.yaml"
CONV = ROOT / "workloads" / "nmnist_conv.yaml"


def _needs(workload):
    d = workload.dataset
    n = count_splits(d, workload.path)
    kept = tuple(k if lim is None else min(k, lim) for k, lim in zip(n, (d.train_samples,
                                                                          d.test_samples)))
    shape = (SENSORS[d.name][0],) + tuple(input_side(d.name, d.size, d.downscale))
    return run_needs(workload, n, kept, shape, N_CLASSES[d.name],
                     step_counts_max_bytes=256 * 2**20)


# ------------------------------------------------------------------------- the estimate

def test_a_shipped_workload_fits_and_is_small():
    needs = _needs(load_workload(NMNIST))
    assert 10**6 < sum(n.bytes for n in needs) < 200 * 10**6
    check_run(load_workload(NMNIST), step_counts_max_bytes=256 * 2**20)


def test_the_estimate_bounds_what_a_run_allocates(tmp_path, monkeypatch):
    """prepare + simulate under tracemalloc (NumPy's allocations): the estimate is at least the
    traced peak and not more than twice it."""
    from chipsim import simulation
    monkeypatch.setenv("CHIPSIM_CACHE", str(tmp_path / "cache"))
    wl = load_workload(CONV, {"dataset.time_steps": "300", "dataset.train_samples": "6",
                              "dataset.test_samples": "4", "training.epochs": "2",
                              "rule.name": "bptt"})
    need = sum(n.bytes for n in _needs(wl))
    simulation.simulate(simulation.prepare(load_workload(CONV, {"dataset.time_steps": "3",
                                                        "dataset.train_samples": "1",
                                                        "dataset.test_samples": "1",
                                                        "training.epochs": "1"})))  # compile
    tracemalloc.start()
    try:
        simulation.simulate(simulation.prepare(wl))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= need <= 2 * peak, (peak, need)


def test_the_check_after_framing_counts_the_event_lists(monkeypatch):
    from chipsim.data.load import load_splits
    wl = load_workload(NMNIST, {"dataset.time_steps": "50", "dataset.framing": "count"})
    train, test = load_splits(wl.dataset, wl.path)
    events = (int(np.count_nonzero(train.frames)), int(np.count_nonzero(test.frames)))
    args = (wl, (100, 100), (100, 100), train.input_shape, 10)
    without = run_needs(*args, framed=True)
    with_events = run_needs(*args, events=events, framed=True)
    added = [n for n in with_events if n not in without]
    assert len(added) == 1 and f"({sum(events)} non-zero frame entries)" in added[0].what
    # index int64 + value float64 kept; row, column, index (int64) and the int32 count of the
    # larger split while it is encoded
    assert added[0].bytes == sum(events) * 16 + max(events) * (24 + 4)
    total = sum(n.bytes for n in with_events)
    monkeypatch.setenv("CHIPSIM_MAX_MEMORY", str(total))
    check_run(wl, train, test)
    monkeypatch.setenv("CHIPSIM_MAX_MEMORY", str(total - 1))
    with pytest.raises(ChipsimError) as ei:
        check_run(wl, train, test)
    assert "nmnist.yaml" in str(ei.value) and "is available" in str(ei.value)
