"""A refactor changes no number: every golden case (tests/golden/cases.py), run now, equals
what chipsim produced when tests/golden/golden.npz was recorded, bit for bit: counts per
sample and per step, losses, predictions, final weights, energies, latencies, memory figures,
and the refusals (a run or re-pricing chipsim declines is recorded by its message).

If a number is meant to change (a defect fixed), re-record with
``python -m tests.golden.capture`` and say in the commit which cases changed and why.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.golden.capture import GOLDEN, capture_case
from tests.golden.cases import CASES


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("golden-data")


@pytest.fixture(autouse=True)
def _cache(data_dir, monkeypatch):
    monkeypatch.setenv("CHIPSIM_CACHE", str(data_dir / "cache"))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_golden_case(case, golden, data_dir):
    name = case[0]
    expected = {k: v for k, v in golden.items() if k.startswith(name + "/")}
    assert expected, f"{name}: not in {GOLDEN.name}; record it with python -m tests.golden.capture"
    got = capture_case(case, data_dir)
    assert sorted(got) == sorted(expected), "recorded and produced arrays differ in what exists"
    bad = []
    for k, want in expected.items():
        have = np.asarray(got[k])
        if have.shape != want.shape or have.dtype.kind != want.dtype.kind or not np.array_equal(
                have, want, equal_nan=want.dtype.kind == "f"):
            bad.append(k)
    assert not bad, f"{len(bad)} of {len(expected)} arrays differ: " + ", ".join(bad[:8])



def _consistent(got: dict, name: str, run: str, repriced: str) -> list[str]:
    """Keys on which a run priced on a profile and another profile's run re-priced on it
    disagree, bit for bit: re-pricing feeds the run's own batches to the cost stage, so even
    the per-step latency sums add up in the same order (hardware/cost.py ``cost``)."""
    bad = []
    a = {k[len(f"{name}/{run}/"):]: v for k, v in got.items() if k.startswith(f"{name}/{run}/")}
    b = {k[len(f"{name}/{repriced}/"):]: v for k, v in got.items()
         if k.startswith(f"{name}/{repriced}/")}
    for k in sorted(set(a) & set(b)):
        if k.startswith("weights"):
            continue
        x, y = np.asarray(a[k]), np.asarray(b[k])
        if x.dtype.kind in "iuUS" or x.dtype == bool:
            ok = np.array_equal(x, y)
        else:
            ok = x.shape == y.shape and np.array_equal(x, y, equal_nan=True)
        if not ok:
            bad.append(k)
    return bad


# the chip number format simulates with the run's profile's widths: anp_i's run differs
_SAME_SIMULATION = [c for c in CASES if not c[0].startswith("vgg11") and "chipfmt" not in c[0]]


@pytest.mark.parametrize("case", _SAME_SIMULATION, ids=[c[0] for c in _SAME_SIMULATION])
def test_repricing_equals_running_on_the_chip(case, data_dir):
    """`chipsim price` of the anp_i run on loihi gives what running on loihi gives: the same
    counts (router hops and chip messages recounted), energies, latencies, throughput and
    mapping. (VGG-11 does not fit loihi; the chip number format simulates with the profile's
    own widths, so its anp_i run is another simulation.)"""
    from tests.golden.cases import PROFILES
    name = case[0]
    got = capture_case(case, data_dir)
    run, repriced = PROFILES[1], f"{PROFILES[0]}->{PROFILES[1]}"
    if f"{name}/{PROFILES[0]}/sample_counts" not in got:      # explicit mapping: anp_i refuses
        run, repriced = PROFILES[1], f"{PROFILES[1]}->{PROFILES[1]}"
        if f"{name}/{run}/error" in got:                      # and this one overfills a core
            assert "overfills" in str(got[f"{name}/{run}/error"])
            return
    assert f"{name}/{run}/sample_counts" in got
    assert f"{name}/{repriced}/sample_counts" in got, "re-pricing refused what running accepts"
    assert _consistent(got, name, run, repriced) == []
