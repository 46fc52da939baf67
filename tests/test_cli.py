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
    assert r.sim.rule == "ottt_o" and r.cost.profile_name == "anp_i"
    assert r.sim.workload_text == Path(WORKLOAD).read_text()
    assert (r.sim.sample_split == 0).sum() == 10 and (r.sim.sample_split == 1).sum() == 10
    # test samples do no learning work; training samples do
    test = r.counts_priced[r.sim.sample_split == 1]
    assert test[:, :, K.Phase.LEARNING].sum() == 0
    assert r.counts_priced[r.sim.sample_split == 0][:, :, K.Phase.LEARNING].sum() > 0
    assert "accuracy" in text.lower() and str(out) in text


def test_rule_override_and_report(tmp_path, capsys):
    out = tmp_path / "s.h5"
    assert main(["run", WORKLOAD, "--rule", "sltt", "--profile", "loihi", "--out", str(out),
                 "--no-plot", *SMALL]) == 0
    assert read_result(out).sim.rule == "sltt"
    assert not (tmp_path / "s_energy.png").exists()
    assert main(["report", str(out)]) == 0
    assert (tmp_path / "s_energy.png").exists()


def test_same_seed_same_counts(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    for out in (a, b):
        assert main(["run", WORKLOAD, "--out", str(out), "--no-plot", *SMALL]) == 0
    ra, rb = read_result(a), read_result(b)
    np.testing.assert_array_equal(ra.counts_priced, rb.counts_priced)
    np.testing.assert_array_equal(ra.sim.sample_pred, rb.sim.sample_pred)


@pytest.mark.parametrize("case,needle", [
    ("malformed", "line"),
    ("unknown_field", "epochz"),
    ("missing_file", "does_not_exist.yaml"),
    ("bad_profile", "no_such_chip"),
    ("bad_set", "training.epochz"),
    ("wrong_unit", "pF"),
    ("corrupt_events", "00001.bin"),
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
    elif case == "wrong_unit":
        wl.write_text(text)
        prof = (ROOT / "hardware_profiles" / "anp_i.yaml").read_text().replace("value: 1.5 pJ", "value: 1.5 pF", 1)
        assert "1.5 pF" in prof
        (tmp_path / "chip.yaml").write_text(prof)
        args += ["--profile", str(tmp_path / "chip.yaml")]
    elif case == "corrupt_events":
        _fake_archive(tmp_path / "nm", n=2)
        (tmp_path / "nm" / "Train" / "0" / "00001.bin").write_bytes(b"\x01\x02\x03\x04\x05\x06\x07")
        wl.write_text(text)
        args += ["--set", f"dataset.root={tmp_path / 'nm'}"]
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


def _fake_archive(root, n):
    """A full-N-MNIST-layout directory with n random recordings per class and split."""
    from chipsim.data.events import EVENT_DTYPE
    from tests.writers import write_nmnist
    rng = np.random.default_rng(0)
    for split in ("Train", "Test"):
        for label in range(10):
            d = root / split / str(label)
            d.mkdir(parents=True)
            for i in range(n):
                ev = np.zeros(300, EVENT_DTYPE)
                ev["t"] = np.sort(rng.integers(0, 300_000, 300))
                ev["x"] = rng.integers(0, 34, 300)
                ev["y"] = rng.integers(0, 34, 300)
                ev["p"] = rng.integers(0, 2, 300)
                write_nmnist(d / f"{i + 1:05d}.bin", ev)


def test_user_root_batches_and_sltt_k(tmp_path, capsys):
    """A user's own copy in the standard layout, batch 3, SLTT-K: runs and counts add up."""
    _fake_archive(tmp_path / "nm", n=2)
    out = tmp_path / "u.h5"
    assert main(["run", WORKLOAD, "--rule", "sltt", "--out", str(out), "--no-plot", "--quiet",
                 "--set", f"dataset.root={tmp_path / 'nm'}", "--set", "training.batch_size=3",
                 "--set", "rule.k=2", "--set", "training.epochs=1"]) == 0
    r = read_result(out)
    assert (r.sim.sample_split == 0).sum() == 20 and (r.sim.sample_split == 1).sum() == 20
    assert ("rule.k", "2") in r.sim.overrides
    # K = 2 of T = 10 steps run a backward pass: output errors = 2 x 10 classes per sample
    train = r.counts_priced[r.sim.sample_split == 0]
    assert (train[:, -1, K.Phase.LEARNING, K.OUTPUT_ERROR] == 2 * 10).all()
    # 7 updates of a batch of 3 (the last batch has 2 samples): 7 sweeps over every parameter
    n_params = int((r.sim.layer_synapses + r.sim.layer_neurons).sum() - r.sim.layer_neurons[0])
    upd = train[..., K.WEIGHT_UPDATE_ISSUED].sum() + train[..., K.WEIGHT_UPDATE_SKIPPED].sum()
    assert upd == 7 * n_params


CONV = str(ROOT / "workloads" / "nmnist_conv.yaml")


@pytest.mark.parametrize("rule,extra,updates_per_sample", [
    ("bptt", [], 1), ("sltt", ["--set", "rule.k=3"], 1), ("ottt_a", [], 1), ("ottt_o", [], 10),
    ("tbptt_local", ["--set", "rule.window=4", "--set", "rule.block=1"], 3),
    ("sltt", ["--set", "loss={kind: tet}"], 1),
])
def test_every_rule_on_the_conv_workload(tmp_path, rule, extra, updates_per_sample):
    """Rule x conv network end to end: every parameter is visited once per update."""
    out = tmp_path / "c.h5"
    assert main(["run", CONV, "--rule", rule, "--out", str(out), "--no-plot", "--quiet",
                 "--set", "training.epochs=1", "--set", "dataset.train_samples=4",
                 "--set", "dataset.test_samples=2", *extra]) == 0
    r = read_result(out)
    train = r.counts_priced[r.sim.sample_split == 0]
    test = r.counts_priced[r.sim.sample_split == 1]
    assert test[:, :, K.Phase.LEARNING].sum() == 0
    # weights of every layer, plus the biases of the readout and the auxiliary classifiers
    # (the conv layers of this workload have none)
    n_params = sum(syn + (n if name == "readout" or name.startswith("aux") else 0)
                   for name, syn, n in zip(r.sim.layer_names, r.sim.layer_synapses, r.sim.layer_neurons))
    visits = train[..., K.WEIGHT_UPDATE_ISSUED].sum() + train[..., K.WEIGHT_UPDATE_SKIPPED].sum()
    assert visits == 4 * updates_per_sample * n_params


def test_cifar10dvs_without_data_runs_on_the_standin_with_one_banner(tmp_path):
    out = tmp_path / "c.h5"
    env = dict(os.environ, PYTHONPATH=str(ROOT), CHIPSIM_CACHE=str(tmp_path / "cache"))
    p = subprocess.run([sys.executable, "-m", "chipsim", "run", str(ROOT / "workloads" / "cifar10dvs.yaml"),
                        "--out", str(out), "--no-plot", "--set", "training.epochs=1",
                        "--set", "dataset.train_samples=4", "--set", "dataset.test_samples=2"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    banners = [ln for ln in p.stderr.splitlines() if "STAND-IN" in ln]
    assert len(banners) == 1 and "dataset.root" in banners[0] and "not comparable" in banners[0]
    r = read_result(out)
    assert r.sim.dataset_standin and "STAND-IN" in r.sim.dataset
    # with the real data on disk there is no banner (a CIFAR10-DVS folder the test writes)
    from tests.test_data_eventsets import _cifar
    root = _cifar(tmp_path / "c10", per_class=2)
    p = subprocess.run([sys.executable, "-m", "chipsim", "run", str(ROOT / "workloads" / "cifar10dvs.yaml"),
                        "--out", str(tmp_path / "real.h5"), "--no-plot", "--set", "training.epochs=1",
                        "--set", f"dataset.root={root}"], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "STAND-IN" not in p.stderr
    assert not read_result(tmp_path / "real.h5").sim.dataset_standin


def test_threads_flag_and_env_give_the_same_results(tmp_path, monkeypatch):
    """--threads 1 and CHIPSIM_THREADS=3 at batch 4: the same counts, predictions and energies,
    bit for bit (the kernels' workers; tests/test_threads.py covers every rule)."""
    from chipsim import threads
    over = ["--set", "training.batch_size=4", "--set", "dataset.train_samples=8", "--no-plot"]
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    before = threads.count()
    try:
        assert main(["run", WORKLOAD, "--out", str(a), "--threads", "1", *SMALL, *over]) == 0
        assert threads.count() == 1
        monkeypatch.setenv("CHIPSIM_THREADS", "3")
        assert main(["run", WORKLOAD, "--out", str(b), *SMALL, *over]) == 0
        assert threads.count() == 3
    finally:
        threads.configure(before)
    ra, rb = read_result(a), read_result(b)
    np.testing.assert_array_equal(ra.counts_priced, rb.counts_priced)
    np.testing.assert_array_equal(ra.sim.sample_pred, rb.sim.sample_pred)
    np.testing.assert_array_equal(ra.sim.sample_loss, rb.sim.sample_loss)


@pytest.mark.parametrize("how", ["flag", "env"])
def test_bad_thread_count_one_line_exit_2(tmp_path, capsys, monkeypatch, how):
    out = tmp_path / "r.h5"
    if how == "flag":
        with pytest.raises(SystemExit) as e:
            main(["run", WORKLOAD, "--out", str(out), "--threads", "0", *SMALL])
        assert e.value.code == 2
        assert "'0' is not a whole number of threads" in capsys.readouterr().err
    else:
        monkeypatch.setenv("CHIPSIM_THREADS", "two")
        assert main(["run", WORKLOAD, "--out", str(out), *SMALL]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "CHIPSIM_THREADS" in err[0] and "'two'" in err[0]
    assert not out.exists()
