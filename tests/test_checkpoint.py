"""Checkpoints (chipsim/checkpoint.py, engine.run): a run stopped or killed and resumed ends
bit-identical to a run that was never stopped (counts per sample and step, losses, predictions,
epoch curves, final weights, communication, energies, latencies), and a checkpoint of another
run is refused with a message that says how it differs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from chipsim import checkpoint as ckpt
from chipsim import engine
from chipsim.config.profile import load_profile
from chipsim.config.workload import load_workload
from chipsim.errors import ChipsimError
from chipsim.result import Pricing
from tests.golden.cases import CONV_VARIANT

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"training.epochs": "2", "dataset.train_samples": "6", "dataset.test_samples": "3"}


class Crash(Exception):
    """Stands for a kill: nothing of the run runs after it (no interrupt checkpoint)."""


class StopAfter:
    """An ``interrupts`` object asking to stop after ``n`` batches (as SIGTERM does)."""

    def __init__(self, n):
        self.n, self.seen, self.deferred = n, 0, False

    def defer(self):
        self.deferred = True

    def requested(self):
        self.seen += 1
        return self.seen >= self.n


def crash_after(n):
    seen = []

    def progress(p):
        seen.append(p)
        if len(seen) == n:
            raise Crash
    return progress


def _run(workload, over, profile="anp_i", **kw):
    w = load_workload(ROOT / "workloads" / f"{workload}.yaml", {**SMALL, **over})
    return engine.run(w, load_profile(profile), **kw)


def assert_identical(a, b):
    """Every number of two RunResults equal bit for bit (wall time and stamps aside)."""
    sa, sb = a.sim, b.sim
    for f in dataclasses.fields(sa):
        if f.name in ("wall_time_s", "weights", "neurons"):
            continue
        x, y = getattr(sa, f.name), getattr(sb, f.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), f.name
        else:
            assert x == y, f.name
    assert len(sa.weights) == len(sb.weights)
    for (wa, ba), (wb, bb) in zip(sa.weights, sb.weights):
        assert wa.tobytes() == wb.tobytes() and ba.tobytes() == bb.tobytes(), "final weights"
    assert len(sa.neurons) == len(sb.neurons)
    for na, nb in zip(sa.neurons, sb.neurons):
        assert na.keys() == nb.keys() and all(
            np.asarray(na[k]).tobytes() == np.asarray(nb[k]).tobytes() for k in na), "neurons"
    ca, cb = a.cost, b.cost
    for f in dataclasses.fields(ca):
        x, y = getattr(ca, f.name), getattr(cb, f.name)
        if isinstance(x, Pricing):
            for g in dataclasses.fields(x):
                u, v = getattr(x, g.name), getattr(y, g.name)
                if isinstance(u, np.ndarray):
                    assert np.array_equal(u, v), f"pricing.{g.name}"
                else:
                    assert u == v, f"pricing.{g.name}"
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), f.name
        else:
            assert x == y, f.name


# (name, workload, overrides, profile, checkpoint_every, how the first run ends)
CASES = [
    # stopped (SIGTERM-like) mid-epoch: resumes from the checkpoint written at the stop
    ("ottt_o-stop-mid-train", "nmnist", {}, "anp_i", None, StopAfter(4)),
    # killed mid-test after a checkpoint every 4 samples (the last one at 8: mid-test)
    ("ottt_o-kill-every-4", "nmnist", {}, "loihi", 4, crash_after(11)),
    # killed in epoch 2: resumes from the end-of-epoch-1 checkpoint (the default)
    ("bptt-kill-epoch-default", "nmnist", {"rule.name": "bptt"}, "loihi", None, crash_after(12)),
    # batch 4 (the last batch of an epoch has 2), momentum and weight decay, SLTT-K's random
    # steps, the chip number format's stochastic rounding
    ("sltt-k-b4-momentum-chipfmt", "nmnist",
     {"rule.name": "sltt", "rule.k": "3", "training.batch_size": "4", "training.momentum": "0.9",
      "training.weight_decay": "1e-4", "training.number_format": "chip"}, "anp_i", 3, crash_after(4)),
    # conv with dropout (masks drawn from the trainer's generator) and max pooling, OTTT_A
    ("conv-dropout-ottt_a", "nmnist_conv",
     {"rule.name": "ottt_a", "network.hidden": CONV_VARIANT, "dataset.train_samples": "4",
      "dataset.test_samples": "2"}, "anp_i", 3, crash_after(5)),
    # tbptt_local's windows and auxiliary heads, stopped in the test phase
    ("tbptt_local-stop-in-test", "nmnist",
     {"rule.name": "tbptt_local", "rule.window": "3", "rule.block": "1",
      "network.hidden": "[{kind: dense, units: 64, bias: true}, {kind: dense, units: 32}]"},
     "anp_i", None, StopAfter(8)),
    # e-prop's random feedback B (drawn from the trainer's generator) on a recurrent layer
    ("eprop-recurrent-kill-every-3", "nmnist",
     {"rule": "{name: eprop}", "network.hidden": "[{kind: recurrent, units: 32}]"},
     "anp_i", 3, crash_after(5)),
    # BPTT through a recurrent layer on loihi (its transposed copy of W_rec and the readout)
    ("bptt-recurrent-loihi-stop", "nmnist",
     {"rule.name": "bptt", "network.hidden": "[{kind: recurrent, units: 32}]"},
     "loihi", None, StopAfter(4)),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_resumed_run_is_bit_identical(case, tmp_path):
    name, workload, over, profile, every, end = case
    whole = _run(workload, over, profile)
    path = tmp_path / "run.h5.ckpt"
    kw = dict(checkpoint=path, checkpoint_every=every)
    if isinstance(end, StopAfter):
        first = _run(workload, over, profile, interrupts=end, **kw)
        assert end.deferred and first.sim.interrupted
        assert len(first.sim.sample_split) == end.n * whole.sim.batch_size
    else:
        with pytest.raises(Crash):
            _run(workload, over, profile, progress=end, **kw)
    meta, arrays = ckpt.load(path)
    done = meta["loop"]["pos"]
    assert 0 < done < len(whole.sim.sample_split), "the checkpoint is of a run in progress"
    resumed = _run(workload, over, profile, resume=True, **kw)
    assert not resumed.sim.interrupted
    assert_identical(whole, resumed)


def test_checkpoint_every_epoch_by_default_and_every_n_samples(tmp_path):
    path = tmp_path / "c.ckpt"
    seen = []

    def progress(p):
        seen.append(ckpt.peek(path)["loop"]["pos"] if path.exists() else None)
    _run("nmnist", {}, checkpoint=path, progress=progress)
    # 6 + 3 samples an epoch: the first checkpoint is written after the 9th batch
    assert seen[:9] == [None] * 9 and seen[9:] == [9] * 9
    assert ckpt.peek(path)["loop"]["pos"] == 18       # the end of the last epoch too
    path.unlink()
    seen.clear()
    _run("nmnist", {}, checkpoint=path, checkpoint_every=5, progress=progress)
    assert seen == [None] * 5 + [5] * 5 + [10] * 5 + [15] * 3
    path.unlink()
    _run("nmnist", {}, checkpoint=path, checkpoint_every=0, interrupts=StopAfter(3))
    assert not path.exists()                          # 0: never, not even when stopped


def test_resume_from_a_stop_at_the_end_and_twice(tmp_path):
    """Stopped twice, resumed twice; resuming a checkpoint of a finished loop just finishes."""
    whole = _run("nmnist", {})
    path = tmp_path / "c.ckpt"
    a = _run("nmnist", {}, checkpoint=path, interrupts=StopAfter(2))
    b = _run("nmnist", {}, checkpoint=path, resume=True, interrupts=StopAfter(10))
    assert a.sim.interrupted and b.sim.interrupted and len(b.sim.sample_split) == 12
    c = _run("nmnist", {}, checkpoint=path, resume=True)
    assert_identical(whole, c)
    assert ckpt.peek(path)["loop"]["pos"] == 18
    d = _run("nmnist", {}, checkpoint=path, resume=True)     # nothing left to run
    assert_identical(whole, d)


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    path = tmp_path / "c.ckpt"
    _run("nmnist", {}, checkpoint=path, interrupts=StopAfter(2))
    before = path.read_bytes()
    with pytest.raises(ChipsimError) as e:
        _run("nmnist", {"training.lr": "0.05"}, checkpoint=path, resume=True)
    msg = str(e.value)
    assert str(path) in msg and "another run" in msg and "training.lr=0.05" in msg
    with pytest.raises(ChipsimError, match="its profile is 'anp_i', this run's is 'loihi'"):
        _run("nmnist", {}, "loihi", checkpoint=path, resume=True)
    with pytest.raises(ChipsimError, match="the data set's samples differ"):
        _run("nmnist", {"dataset.downscale": "2", "network.hidden": "[{kind: dense, units: 256}]"},
             checkpoint=path, resume=True)
    assert path.read_bytes() == before                 # a refusal leaves the checkpoint alone


def test_missing_or_corrupt_checkpoint_is_one_clear_error(tmp_path):
    path = tmp_path / "c.ckpt"
    with pytest.raises(ChipsimError, match="no checkpoint to resume from"):
        _run("nmnist", {}, checkpoint=path, resume=True)
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ChipsimError, match="not a readable chipsim checkpoint"):
        _run("nmnist", {}, checkpoint=path, resume=True)
    np.savez(open(path, "wb"), meta=np.frombuffer(b'{"format": "something else"}', np.uint8))
    with pytest.raises(ChipsimError, match="not a readable chipsim checkpoint"):
        _run("nmnist", {}, checkpoint=path, resume=True)


def test_a_checkpoint_that_does_not_fit_is_refused(tmp_path):
    """Same identity, damaged content (a record cut short): refused, nothing half-restored."""
    path = tmp_path / "c.ckpt"
    _run("nmnist", {}, checkpoint=path, interrupts=StopAfter(3))
    meta, arrays = ckpt.load(path)
    arrays["rec.loss"] = arrays["rec.loss"][:-1]
    ckpt.save(path, meta, arrays)
    with pytest.raises(ChipsimError, match="does not fit this run .*rec.loss"):
        _run("nmnist", {}, checkpoint=path, resume=True)
    meta, arrays = ckpt.load(path)
    del arrays["trainer.grads.gw"]
    arrays["rec.loss"] = np.zeros(3)
    ckpt.save(path, meta, arrays)
    with pytest.raises(ChipsimError, match="does not fit this run .*grads.gw"):
        _run("nmnist", {}, checkpoint=path, resume=True)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    """An interrupted checkpoint write leaves the previous checkpoint and no temporary file."""
    path = tmp_path / "c.ckpt"
    ckpt.save(path, {"loop": {}}, {"a": np.arange(3)})
    before = path.read_bytes()

    def boom(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save(path, {"loop": {}}, {"a": np.arange(4)})
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["c.ckpt"]


def test_stopped_before_the_first_batch_on_a_mapped_chip(monkeypatch):
    """Ctrl-C before any sample finished: an empty result marked interrupted (the cost stage
    failed on a chip with a mapping: nothing to concatenate)."""
    from chipsim.learning.trainer import Trainer

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(Trainer, "train_batch", interrupted)
    r = _run("nmnist", {}, "loihi")
    assert r.sim.interrupted and r.sim.sample_counts.shape[0] == 0
    assert r.pricing.sample_time.shape == (0,) and r.pricing.total_energy == 0.0
