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

