"""Numbers that went wrong stop the run with an error naming the epoch and the sample; the
samples that finished are kept, written and marked (issue 11, part 5).

Exit status of ``chipsim run`` for such a run: 130, as for Ctrl-C: the run stopped before its
end and the results file holds the samples that finished, marked ``interrupted``, its notes
saying why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chipsim import engine, simulation
from chipsim.cli import main
from chipsim.config.profile import load_profile
from chipsim.config.workload import load_workload
from chipsim.report.h5 import read_result
from chipsim.result import SPLIT_TEST, SPLIT_TRAIN

ROOT = Path(__file__).resolve().parents[1]
WORKLOAD = ROOT / "workloads" / "nmnist.yaml"
#: lr 100 on 10 training samples: finite for two epochs, the loss is inf at epoch 3's 4th sample
DIVERGES_LATE = {"training.lr": "100", "training.epochs": "3", "dataset.train_samples": "10",
                 "dataset.test_samples": "4"}


def test_run_that_trains_to_nan_stops_with_an_error_and_writes_what_finished(tmp_path, capsys):
    """The issue's case: --set training.lr=1e308 trained to a NaN loss and exited 0."""
    out = tmp_path / "nan.h5"
    status = main(["run", str(WORKLOAD), "--profile", "anp_i", "--set", "training.lr=1e308",
                   "--set", "training.epochs=2", "--set", "dataset.train_samples=6",
                   "--set", "dataset.test_samples=4", "--out", str(out), "--quiet"])
    cap = capsys.readouterr()
    assert status == 130
    errors = [ln for ln in cap.err.splitlines() if ln.strip()]
    assert len(errors) == 1 and "Traceback" not in cap.err
    assert errors[0].startswith("chipsim: error: training diverged: epoch 1, training sample 1 ")
    assert "loss is nan" in errors[0] and "keeping the 0 samples that finished" in errors[0]
    r = read_result(out)                     # written, and marked
    assert r.sim.interrupted
    assert r.sim.sample_loss.shape == (0,)
    assert len(r.notes) == 1 and r.notes[0].startswith("training diverged: epoch 1, training sample 1")
    # the summary says the run stopped and why, first under "run"
    status = cap.out.splitlines()[1].split(None, 1)
    assert status[0] == "status"
    assert status[1].startswith("stopped after 0 of 20 samples: training diverged: epoch 1, ")
    assert (tmp_path / "nan_energy.png").exists()
    # no checkpoint is left to resume: it would diverge again
    assert not list(tmp_path.glob("*.ckpt"))


def test_the_samples_before_the_divergence_are_kept_bit_for_bit(capsys):
    w = load_workload(WORKLOAD, DIVERGES_LATE)
    r = engine.run(w, load_profile("loihi"))
    assert r.sim.interrupted
    # epochs 1 and 2 (10 training + 4 test samples each) and 3 training samples of epoch 3
    assert len(r.sim.sample_split) == 31
    assert r.notes == ("training diverged: epoch 3, training sample 4 (data set index 8): its loss "
                       "is inf",)
    assert (f"chipsim: error: {r.notes[0]}; stopped, keeping the 31 samples that finished"
            in capsys.readouterr().err)
    assert np.isfinite(r.sim.sample_loss).all()
    assert list(r.sim.sample_epoch[-3:]) == [2, 2, 2]
    # the same run stopped by Ctrl-C after those 31 samples has the same numbers
    seen = []

    def stop(p):
        seen.append(p)
        if len(seen) == 31:
            raise KeyboardInterrupt

    cut = engine.run(load_workload(WORKLOAD, DIVERGES_LATE), load_profile("loihi"), progress=stop)
    np.testing.assert_array_equal(r.sim.sample_counts, cut.sim.sample_counts)
    np.testing.assert_array_equal(r.sim.sample_loss, cut.sim.sample_loss)
    np.testing.assert_array_equal(r.pricing.sample_energy, cut.pricing.sample_energy)
    assert cut.notes == ()


def test_a_run_diverging_after_its_epoch_checkpoints_leaves_none_to_resume(tmp_path, capsys):
    """chipsim run checkpoints every epoch; resuming a diverged run would diverge again (bit
    for bit), so the run's checkpoint is removed and no --resume is suggested."""
    out = tmp_path / "late.h5"
    sets = [a for k, v in DIVERGES_LATE.items() for a in ("--set", f"{k}={v}")]
    assert main(["run", str(WORKLOAD), "--profile", "loihi", *sets, "--out", str(out),
                 "--quiet", "--no-plot"]) == 130
    err = capsys.readouterr().err
    assert "training diverged: epoch 3, training sample 4" in err and "--resume" not in err
    assert read_result(out).sim.sample_split.shape == (31,)
    assert not list(tmp_path.glob("*.ckpt*"))


def _prepared(**over):
    w = load_workload(WORKLOAD, {"training.epochs": "2", "dataset.train_samples": "6",
                                 "dataset.test_samples": "3", **over})
    return simulation.prepare(w)


def test_weights_gone_nan_while_the_loss_stays_finite_stop_after_the_epoch(capsys):
    """A NaN hidden weight silences its neuron (NaN >= theta is false) so the loss stays
    finite: the weights are checked at the end of every epoch's training."""
    p = _prepared()
    p.network.weights[0][5, 7] = np.nan
    sim = simulation.simulate(p)
    assert sim.interrupted and np.isfinite(sim.sample_loss).all()
    assert list(sim.sample_split) == [SPLIT_TRAIN] * 6        # epoch 1's training is kept
    assert p.stopped == ("training diverged: after the training samples of epoch 1, the weights "
                         "of dense1 hold NaN or inf (every loss was finite)")
    assert (f"{p.stopped}; stopped, keeping the 6 samples that finished"
            in capsys.readouterr().err)


@pytest.mark.parametrize("phase, bad, sample, expected", [
    ("infer_batch", "loss", 2, "epoch 1, test sample 2 (data set index 1): its loss is inf"),
    ("train_batch", "osum", 4, "readout sums are not finite"),
])
def test_a_nonfinite_batch_is_named_and_not_kept(phase, bad, sample, expected, monkeypatch, capsys):
    p = _prepared()
    real = getattr(p.trainer, phase)
    calls = []

    def wrong(*args):
        loss, osum, cnt = real(*args)
        calls.append(1)
        if len(calls) == sample:
            (loss if bad == "loss" else osum)[0] = np.inf
        return loss, osum, cnt

    monkeypatch.setattr(p.trainer, phase, wrong)
    sim = simulation.simulate(p)
    assert sim.interrupted and expected in p.stopped
    kept = 6 + sample - 1 if phase == "infer_batch" else sample - 1
    assert len(sim.sample_split) == kept
    assert f"keeping the {kept} samples that finished" in capsys.readouterr().err
    assert np.isfinite(sim.sample_loss).all()
    if phase == "infer_batch":
        assert (sim.sample_split == SPLIT_TEST).sum() == sample - 1
