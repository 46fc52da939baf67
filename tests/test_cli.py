"""The command line end to end: run, report, profiles, and bad input (one line, exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chipsim import counts as K
from chipsim.cli import main
from chipsim.report.h5 import read_result

ROOT = Path(__file__).resolve().parents[1]
WORKLOAD = str(ROOT / "workloads" / "nmnist.yaml")
SMALL = ["--set", "training.epochs=1", "--set", "dataset.train_samples=10",
         "--set", "dataset.test_samples=10", "--quiet"]


def test_run_writes_results_plot_and_summary(tmp_path, capsys):
    out = tmp_path / "r.h5"
    assert main(["run", WORKLOAD, "--profile", "anp_i", "--out", str(out), *SMALL]) == 0
    text = capsys.readouterr().out
    assert out.exists() and (tmp_path / "r_energy.png").exists()
    r = read_result(out)
    assert r.rule == "ottt_o" and r.profile_name == "anp_i"
    assert r.workload_text == Path(WORKLOAD).read_text()
    assert (r.sample_split == 0).sum() == 10 and (r.sample_split == 1).sum() == 10
    # test samples do no learning work; training samples do
    test = r.sample_counts[r.sample_split == 1]
    assert test[:, :, K.Phase.LEARNING].sum() == 0
    assert r.sample_counts[r.sample_split == 0][:, :, K.Phase.LEARNING].sum() > 0
    assert "accuracy" in text.lower() and str(out) in text


def test_rule_override_and_report(tmp_path, capsys):
    out = tmp_path / "s.h5"
    assert main(["run", WORKLOAD, "--rule", "sltt", "--profile", "loihi", "--out", str(out),
                 "--no-plot", *SMALL]) == 0
    assert read_result(out).rule == "sltt"
    assert not (tmp_path / "s_energy.png").exists()
    assert main(["report", str(out)]) == 0
    assert (tmp_path / "s_energy.png").exists()


def test_same_seed_same_counts(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    for out in (a, b):
        assert main(["run", WORKLOAD, "--out", str(out), "--no-plot", *SMALL]) == 0
    ra, rb = read_result(a), read_result(b)
    np.testing.assert_array_equal(ra.sample_counts, rb.sample_counts)
    np.testing.assert_array_equal(ra.sample_pred, rb.sample_pred)


@pytest.mark.parametrize("case,needle", [
    ("malformed", "line"),
    ("unknown_field", "epochz"),
    ("missing_file", "does_not_exist.yaml"),
    ("bad_profile", "no_such_chip"),
    ("bad_set", "training.epochz"),
])
def test_bad_input_one_line_exit_2_no_results(tmp_path, case, needle):
    out = tmp_path / "bad.h5"
    wl = tmp_path / "w.yaml"
    text = Path(WORKLOAD).read_text()
    args = ["run", str(wl), "--out", str(out), "--quiet"]
    if case == "malformed":
        wl.write_text(text + "\ntraining: [unclosed\n")
    elif case == "unknown_field":
        wl.write_text(text.replace("  epochs:", "  epochz:"))
    elif case == "missing_file":
        args[1] = str(tmp_path / "does_not_exist.yaml")
    elif case == "bad_profile":
        wl.write_text(text)
        args += ["--profile", "no_such_chip"]
    elif case == "bad_set":
        wl.write_text(text)
        args += ["--set", "training.epochz=3"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "chipsim", *args], capture_output=True, text=True,
                       env=env, cwd=tmp_path, timeout=300)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("chipsim: error:"), p.stderr
    assert needle in lines[0]
    assert not out.exists() and not list(tmp_path.glob("*.h5*"))


def test_help_explains_commands():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "chipsim", "run", "--help"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert p.returncode == 0
    for word in ("--profile", "--rule", "--out", "--set"):
        assert word in p.stdout


def test_profiles_lists_shipped_chips(capsys):
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    for name in ("anp_i", "loihi", "generic_45nm"):
        assert name in out
