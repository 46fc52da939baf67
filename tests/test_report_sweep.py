"""A sweep's report (chipsim/report/sweep_plots.py): the Pareto front, the figures drawn from a
sweep directory, and the results files ``chipsim compare DIR`` takes."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from chipsim.errors import ChipsimError
from chipsim.report.h5 import read_result
from chipsim.report.outputs import figure_source
from chipsim.report.summary import summary_dict
from chipsim.report.sweep_index import columns, metrics_of, read_index, write_index
from chipsim.report.sweep_plots import (axis_order, pareto_front, sweep_report,
                                        sweep_result_files, sweep_source)

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--set", "dataset.downscale=4", "--set", "network.hidden=[{kind: dense, units: 16}]",
        "--set", "training.epochs=1", "--set", "dataset.train_samples=4",
        "--set", "dataset.test_samples=2", "--quiet", "--no-plot"]
PNG = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------- pareto_front

def _r(name, x, y, status="done"):
    return {"point": name, "status": status, "learning_energy_per_sample_J": x,
            "test_accuracy_pct": y}


def test_pareto_front_hand_worked():
    rows = [
        _r("a", 1.0, 50.0),            # cheapest: on the front
        _r("b", 2.0, 70.0),            # on the front
        _r("b2", 2.0, 70.0),           # exact tie with b: on the front too
        _r("c", 2.0, 60.0),            # same x as b, less accurate: dominated
        _r("d", 3.0, 70.0),            # as accurate as b, dearer: dominated
        _r("e", 4.0, 90.0),            # on the front
        _r("f", 3.5, 65.0),            # dominated by b
        _r("g", None, 99.0),           # no energy: not a candidate
        _r("h", 0.5, None),            # no accuracy: not a candidate
        _r("i", float("nan"), 99.0),   # NaN: not a candidate
        _r("j", 0.1, 100.0, "failed"),  # would dominate everything, but failed
        _r("k", 0.1, 100.0, "pending"),
        _r("l", 0.2, 100.0, "diverged"),
    ]
    assert [r["point"] for r in pareto_front(rows)] == ["a", "b", "b2", "e"]
    assert pareto_front([]) == []
    assert pareto_front(rows[7:]) == []
    # other columns
    rows2 = [{"status": "done", "u": 1.0, "v": 1.0}, {"status": "done", "u": 0.5, "v": 0.5}]
    assert [r["u"] for r in pareto_front(rows2, x="u", y="v")] == [0.5, 1.0]


def _dominated(r, rows):
    x, y = "learning_energy_per_sample_J", "test_accuracy_pct"
    return any(o[x] <= r[x] and o[y] >= r[y] and (o[x] < r[x] or o[y] > r[y]) for o in rows)


def test_pareto_front_matches_the_definition():
    rnd = random.Random(3)
    for _ in range(200):
        rows = [_r(str(i), float(rnd.randint(0, 6)), float(rnd.randint(0, 6)))
                for i in range(rnd.randint(1, 12))]
        want = [r for r in rows if not _dominated(r, rows)]
        got = pareto_front(rows)
        assert sorted(r["point"] for r in got) == sorted(r["point"] for r in want)
        xs = [r["learning_energy_per_sample_J"] for r in got]
        assert xs == sorted(xs)


def test_axis_order():
    assert axis_order(["sltt", "ottt_o", "sltt", "ottt_a"]) == ["sltt", "ottt_o", "ottt_a"]
    assert axis_order(["5", "", "1", "2", "1", "10"]) == ["", "1", "2", "5", "10"]
    assert axis_order(["true", "false"]) == ["true", "false"]


# ---------------------------------------------------------------------------- a tiny sweep

POINTS = {"a": ("sltt", "anp_i"), "b": ("sltt", "loihi"), "c": ("ottt_o", "anp_i")}
AXES = ["rule", "profile"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three tiny real runs (rule x profile), each a results file."""
    from chipsim.cli import main
    d = tmp_path_factory.mktemp("sweep_runs")
    out = {}
    for key, (rule, prof) in POINTS.items():
        p = d / f"{key}.h5"
        assert main(["run", str(ROOT / "workloads" / "nmnist.yaml"), "--profile", prof,
                     "--set", f"rule.name={rule}", "--out", str(p), *TINY]) == 0
        out[key] = p
    return out


def _build(directory: Path, runs) -> list[dict]:
    """A sweep directory as 'chipsim sweep' leaves it: points/, index.csv/.h5, plus a
    failed point (with metrics that would top the front), a pending one, and a done point
    whose results file is missing."""
    (directory / "points").mkdir(parents=True)
    cols = columns(AXES)
    rows = []
    for key, (rule, prof) in POINTS.items():
        f = directory / "points" / f"{key}.h5"
        shutil.copyfile(runs[key], f)
        r = {c: None for c in cols}
        r.update(metrics_of(summary_dict(read_result(f))))
        r.update(point=key * 16, status="done", message="", rule=rule, profile=prof,
                 rule_name=rule, profile_name=prof, simulation="", results=f"points/{key}.h5")
        rows.append(r)
    failed = {c: None for c in cols}
    failed.update(point="f" * 16, status="failed", message="boom", rule="bptt", profile="odin",
                  rule_name="bptt", profile_name="odin", test_accuracy_pct=100.0,
                  learning_energy_per_sample_J=1e-30, results="points/a.h5")
    pending = {c: None for c in cols}
    pending.update(point="e" * 16, status="pending", rule="ottt_a", profile="odin",
                   rule_name="ottt_a", profile_name="odin")
    lost = dict(rows[0], point="d" * 16, results="points/lost.h5")
    escape = dict(rows[0], point="9" * 16, status="diverged", results="../outside.h5")
    rows += [failed, pending, lost, escape]
    write_index(directory, cols, rows, {"sweep": "tiny"})
    (directory.parent / "outside.h5").write_bytes(runs["a"].read_bytes())
    return rows


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory, runs):
    d = tmp_path_factory.mktemp("sweep") / "tiny"
    _build(d, runs)
    return d


@pytest.fixture(scope="module")
def drawn(sweep_dir):
    return sweep_report(sweep_dir)


def test_figures_written_as_chipsim_pngs(sweep_dir, drawn):
    _, written = drawn
    names = sorted(p.name for p in written)
    assert names == ["front_energy.png", "pareto.png", "sensitivity_profile.png",
                     "sensitivity_rule.png"]
    for p in written:
        assert p.parent == sweep_dir
        assert p.read_bytes()[:8] == PNG
        assert figure_source(p) == sweep_source(sweep_dir)
    assert not list(sweep_dir.glob("*.tmp")) and not list(sweep_dir.glob(".*.tmp"))


def test_text_lists_the_front_and_counts(sweep_dir, drawn):
    text, _ = drawn
    _, rows = read_index(sweep_dir)
    front = pareto_front(rows)
    assert front and all(r["status"] == "done" for r in front)
    assert "f" * 16 not in {r["point"] for r in front}        # the failed row is skipped
    table = text.split("\n", 2)[2]
    body = table.splitlines()[2:]
    assert len(body) == len(front)
    for i, (line, r) in enumerate(zip(body, front), 1):
        cells = line.split()
        assert cells[:3] == [str(i), r["rule"], r["profile"]]        # the axes; no repeat
        assert cells[3:5] == [f"{r['test_accuracy_pct']:.1f}", "%"]
    assert "bptt" not in table and "odin" not in table
    assert table.splitlines()[0].split()[:4] == ["#", "rule", "profile", "test"]
    assert "7 points (4 done, 1 diverged, 1 failed, 1 pending)" in text


def test_redraw_over_own_figures_but_not_a_foreign_file(sweep_dir, drawn, tmp_path):
    sweep_report(sweep_dir)                                 # same sweep: replaced
    out = tmp_path / "figs"
    out.mkdir()
    (out / "pareto.png").write_bytes(b"my own picture")
    with pytest.raises(ChipsimError) as e:
        sweep_report(sweep_dir, out)
    assert "pareto.png" in str(e.value)
    assert (out / "pareto.png").read_bytes() == b"my own picture"
    assert not (out / "front_energy.png").exists()          # refused before any drawing
    text, written = sweep_report(sweep_dir, out, force=True)
    assert (out / "pareto.png").read_bytes()[:8] == PNG and len(written) == 4


def test_sweep_result_files(sweep_dir):
    files = sweep_result_files(sweep_dir)
    assert files == [sweep_dir / "points" / f"{k}.h5" for k in POINTS]


def test_no_finished_point(tmp_path):
    cols = columns(["rule"])
    rows = [{"point": "1" * 16, "status": "failed", "rule": "sltt", "rule_name": "sltt",
             "profile_name": "anp_i", "results": ""},
            {"point": "2" * 16, "status": "pending", "rule": "ottt_o", "rule_name": "ottt_o",
             "profile_name": "anp_i", "results": ""}]
    write_index(tmp_path, cols, rows)
    with pytest.raises(ChipsimError) as e:
        sweep_report(tmp_path)
    assert "no finished point" in str(e.value) and "index.csv" in str(e.value)
    with pytest.raises(ChipsimError) as e:
        sweep_result_files(tmp_path)
    assert str(tmp_path) in str(e.value)
    assert not list(tmp_path.glob("*.png"))
    with pytest.raises(ChipsimError):
        sweep_report(tmp_path / "nothing")

