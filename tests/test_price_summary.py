"""chipsim price prints the new chip's modelled throughput and real-time factor, not the
original run's (issue 11, part 5: the cost stage recomputes them; this checks what the user
reads)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from chipsim.cli import main
from chipsim.report.h5 import read_result

ROOT = Path(__file__).resolve().parents[1]


def _figure(text: str, label: str) -> float:
    m = re.search(rf"^  {re.escape(label)}\s+([0-9.e+-]+)", text, re.M)
    assert m, f"no '{label}' line in:\n{text}"
    return float(m.group(1))


@pytest.mark.parametrize("src_profile, new_profile", [("anp_i", "loihi"), ("loihi", "anp_i")])
def test_price_prints_the_new_chips_throughput_and_real_time_factor(tmp_path, capsys,
                                                                    src_profile, new_profile):
    src = tmp_path / "run.h5"
    assert main(["run", str(ROOT / "workloads" / "nmnist.yaml"), "--profile", src_profile,
                 "--set", "training.epochs=1", "--set", "dataset.train_samples=4",
                 "--set", "dataset.test_samples=3", "--out", str(src), "--quiet", "--no-plot"]) == 0
    ran = capsys.readouterr().out
    new = tmp_path / "new.h5"
    assert main(["price", str(src), "--profile", new_profile, "--out", str(new), "--no-plot"]) == 0
    printed = capsys.readouterr().out
    assert re.search(rf"^  profile\s+{new_profile} ", printed, re.M)

    # the new chip's figures, recomputed here from the new file's per-sample modelled times
    r = read_result(new)
    test = r.sim.sample_split == 1
    t = r.pricing.sample_time[test]
    throughput = 1.0 / t.mean()
    rtf = np.mean(t / r.sim.sample_duration[test])
    assert _figure(printed, "throughput (test, modelled)") == pytest.approx(throughput, rel=1e-3)
    assert _figure(printed, "real-time factor (test: model / recording)") == pytest.approx(rtf, rel=1e-3)
    # and not the original chip's, which differ by far more than the printed precision
    old_throughput = _figure(ran, "throughput (test, modelled)")
    old_rtf = _figure(ran, "real-time factor (test: model / recording)")
    assert not throughput == pytest.approx(old_throughput, rel=0.05)
    assert _figure(printed, "throughput (test, modelled)") != old_throughput
    assert _figure(printed, "real-time factor (test: model / recording)") != old_rtf
    time_model = re.search(r"^  time model\s+(.*)$", printed, re.M).group(1)
    assert time_model.startswith("cycle-approximate" if new_profile == "loihi" else "serial sum")
