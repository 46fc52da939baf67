"""Faults during a run, in real processes (``python -m chipsim run``; ``python -m
tests.fault_driver run`` where a test needs a window in the final write or the final weights):

- SIGTERM, like Ctrl-C, stops after the current batch and writes what finished, marked
  interrupted, and says so on the terminal; so does SIGINT when it was ignored at start (a
  background job of a shell script);
- a run killed with SIGKILL in mid-epoch resumes (``--resume``) to the same counts, losses,
  predictions, energies and final weights as a run never stopped;
- a signal during the final write leaves no temporary file: SIGTERM lets the write finish,
  a second Ctrl-C stops it without a traceback, and the temporary file a SIGKILL leaves is
  removed by the next write.

The tests poll files and never time anything; the first run of a fresh checkout compiles the
Numba kernels (~40 s), hence the generous timeouts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from chipsim import checkpoint as ckpt
from chipsim.cli import main
from chipsim.report.h5 import read_result

ROOT = Path(__file__).resolve().parents[1]
WORKLOAD = str(ROOT / "workloads" / "nmnist.yaml")
TIMEOUT = 600
SMALL = ["--set", "training.epochs=2", "--set", "dataset.train_samples=6",
         "--set", "dataset.test_samples=3"]
LONG = ["--set", "training.epochs=200", "--set", "dataset.train_samples=6",
        "--set", "dataset.test_samples=3"]          # 1800 samples: time to be stopped in

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


class Run:
    """A ``chipsim run`` subprocess whose stdout and stderr go to files in ``where``."""

    def __init__(self, where: Path, name: str, args: list, driver: bool = False,
                 env: dict | None = None, ignore_sigint: bool = False):
        self.stdout_path, self.stderr_path = where / f"{name}.stdout", where / f"{name}.stderr"
        module = "tests.fault_driver" if driver else "chipsim"
        cmd = [sys.executable, "-m", module, "run", WORKLOAD, *args]
        if ignore_sigint:        # started with SIGINT ignored, as a script's `cmd &` is
            cmd = ["sh", "-c", 'trap "" INT; exec "$@"', "sh", *cmd]
        with open(self.stdout_path, "w") as o, open(self.stderr_path, "w") as e:
            self.p = subprocess.Popen(cmd, stdout=o, stderr=e, cwd=where,
                                      env=dict(os.environ, PYTHONPATH=str(ROOT), **(env or {})))

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait_for(self, what, ready) -> None:
        """Poll until ``ready()``; fail if the process ends first or after TIMEOUT."""
        end = time.monotonic() + TIMEOUT
        while not ready():
            if self.p.poll() is not None:
                if ready():
                    return
                pytest.fail(f"the run ended (status {self.p.returncode}) before {what}:\n{self.stderr}")
            if time.monotonic() > end:
                pytest.fail(f"no {what} after {TIMEOUT} s:\n{self.stderr}")
            time.sleep(0.01)

    def wait(self) -> int:
        return self.p.wait(TIMEOUT)

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


@pytest.fixture
def runs():
    started = []
    yield lambda *a, **k: started.append(Run(*a, **k)) or started[-1]
    for r in started:
        r.stop()


def _temps(d: Path) -> list:
    return sorted(p.name for p in d.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp"))


@pytest.mark.parametrize("sig,ignored,status", [
    (signal.SIGTERM, False, 143),
    (signal.SIGINT, False, 130),
    (signal.SIGINT, True, 130),       # a background job of a script starts with SIGINT ignored
], ids=["SIGTERM", "SIGINT", "SIGINT-ignored-at-start"])
def test_a_signal_stops_after_the_batch_and_keeps_what_finished(tmp_path, runs, sig, ignored, status):
    out = tmp_path / "r.h5"
    run = runs(tmp_path, "run", ["--out", str(out), "--no-plot", *LONG], ignore_sigint=ignored)
    run.wait_for("the first epoch", lambda: "epoch 1/200" in run.stderr)
    run.p.send_signal(sig)
    assert run.wait() == status, run.stderr
    assert "Traceback" not in run.stderr
    r = read_result(out)
    n = len(r.sim.sample_split)
    assert r.sim.interrupted and 9 <= n < 1800
    status_line = next(ln for ln in run.stdout.splitlines() if ln.split()[:1] == ["status"])
    assert f"interrupted after {n} of 1800 samples" in status_line
    # the state at the stop is kept for --resume, and the run says how to use it
    assert ckpt.peek(ckpt.path_for(out))["loop"]["pos"] == n
    assert "--resume" in run.stderr
    assert _temps(tmp_path) == []


def _same_results(a, b):
    for name in ("sample_split", "sample_epoch", "sample_index", "sample_label", "sample_pred",
                 "sample_loss", "input_events", "step_counts", "epoch_train_loss",
                 "epoch_train_acc", "epoch_test_loss", "epoch_test_acc"):
        x, y = getattr(a.sim, name), getattr(b.sim, name)
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name
    assert np.array_equal(a.counts_priced, b.counts_priced)
    for name in ("sample_dynamic_energy", "sample_static_energy", "sample_time", "energy"):
        assert np.array_equal(getattr(a.pricing, name), getattr(b.pricing, name)), name
    assert np.array_equal(a.cost.router_hops, b.cost.router_hops)
    assert np.array_equal(a.cost.step_latency_train, b.cost.step_latency_train)


def test_a_killed_run_resumes_to_the_same_results(tmp_path, runs):
    """SIGKILL in mid-epoch, after a checkpoint; --resume: the same counts, losses,
    predictions, energies and final weights as a run never stopped."""
    args = ["--no-plot", "--quiet", "--profile", "loihi", "--checkpoint-every", "7",
            "--set", "training.epochs=3", "--set", "dataset.train_samples=40",
            "--set", "dataset.test_samples=20"]                      # 180 samples, 60 an epoch
    ref = tmp_path / "ref.h5"
    whole = runs(tmp_path, "whole", ["--out", str(ref), *args], driver=True,
                 env={"CHIPSIM_TEST_WEIGHTS": str(tmp_path / "whole_w.npz")})
    assert whole.wait() == 0, whole.stderr
    assert not ckpt.path_for(ref).exists()             # a finished run removes its checkpoint

    out = tmp_path / "run.h5"
    path = ckpt.path_for(out)
    killed = runs(tmp_path, "killed", ["--out", str(out), *args], driver=True)
    killed.wait_for("a checkpoint", path.exists)
    killed.p.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    assert not out.exists()
    done = ckpt.peek(path)["loop"]["pos"]
    assert 0 < done < 180 and done % 60 != 0            # in mid-epoch

    resumed = runs(tmp_path, "resumed", ["--out", str(out), *args, "--resume"], driver=True,
                   env={"CHIPSIM_TEST_WEIGHTS": str(tmp_path / "resumed_w.npz")})
    assert resumed.wait() == 0, resumed.stderr
    assert not path.exists() and _temps(tmp_path) == []
    a, b = read_result(ref), read_result(out)
    assert not b.sim.interrupted and len(b.sim.sample_split) == 180
    _same_results(a, b)
    with np.load(tmp_path / "whole_w.npz") as wa, np.load(tmp_path / "resumed_w.npz") as wb:
        assert len(wa.files) == len(wb.files) == 4
        for k in wa.files:
            assert wa[k].tobytes() == wb[k].tobytes(), f"final weights {k}"


def _in_the_final_write(runs, tmp_path, name):
    """A small run whose final write pauses (tests/fault_driver.py), and that pause reached."""
    marker = tmp_path / f"{name}.writing"
    out = tmp_path / f"{name}.h5"
    run = runs(tmp_path, name, ["--out", str(out), "--no-plot", "--quiet", *SMALL], driver=True,
               env={"CHIPSIM_TEST_SLOW_WRITE": str(marker)})
    run.wait_for("the final write", marker.exists)
    assert len(_temps(tmp_path)) == 1                  # the write is under way
    return run, out


def test_sigterm_during_the_final_write_lets_it_finish(tmp_path, runs):
    run, out = _in_the_final_write(runs, tmp_path, "t")
    run.p.send_signal(signal.SIGTERM)
    assert run.wait() == 143, run.stderr
    assert "Traceback" not in run.stderr
    assert _temps(tmp_path) == []
    r = read_result(out)                               # complete, not interrupted
    assert not r.sim.interrupted and len(r.sim.sample_split) == 18
    assert not ckpt.path_for(out).exists()


def test_ctrl_c_twice_during_the_final_write_stops_without_traceback(tmp_path, runs):
    run, out = _in_the_final_write(runs, tmp_path, "c")
    while run.p.poll() is None:          # the first Ctrl-C lets the write go on, a second stops it
        run.p.send_signal(signal.SIGINT)
        time.sleep(0.2)
    assert run.wait() == 130, run.stderr
    assert "Traceback" not in run.stderr and "stopped at once" in run.stderr
    assert not out.exists() and _temps(tmp_path) == []
    # the checkpoint of the last epoch stays, and finishes the run without simulating again
    assert ckpt.peek(ckpt.path_for(out))["loop"]["pos"] == 18
    assert "--resume" in run.stderr


def test_sigkill_during_the_final_write_leaves_a_temp_file_the_next_write_removes(tmp_path, runs):
    run, out = _in_the_final_write(runs, tmp_path, "k")
    run.p.send_signal(signal.SIGKILL)
    assert run.wait() == -signal.SIGKILL
    left = _temps(tmp_path)
    assert len(left) == 1 and left[0].startswith(".k.h5.") and not out.exists()
    again = runs(tmp_path, "again", ["--out", str(out), "--no-plot", "--quiet", "--resume", *SMALL])
    assert again.wait() == 0, again.stderr
    assert _temps(tmp_path) == []
    assert len(read_result(out).sim.sample_split) == 18


def test_resume_refusals_are_one_line(tmp_path, capsys):
    out = tmp_path / "r.h5"
    assert main(["run", WORKLOAD, "--out", str(out), "--quiet", "--no-plot", "--resume", *SMALL]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("chipsim: error:") and "no checkpoint" in err[0]
    # a stopped run's checkpoint, then --resume with another --set
    from tests.test_checkpoint import StopAfter
    from chipsim import engine
    from chipsim.config.profile import load_profile
    from chipsim.config.workload import load_workload
    w = load_workload(WORKLOAD, {"training.epochs": "2", "dataset.train_samples": "6",
                                 "dataset.test_samples": "3"})
    engine.run(w, load_profile("anp_i"), checkpoint=ckpt.path_for(out), interrupts=StopAfter(2))
    capsys.readouterr()
    assert main(["run", WORKLOAD, "--out", str(out), "--quiet", "--no-plot", "--resume", *SMALL,
                 "--set", "training.lr=0.2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another run" in err[0] and "training.lr=0.2" in err[0]
    assert not out.exists()


def test_help_documents_resume_and_the_checkpoint_interval():
    p = subprocess.run([sys.executable, "-m", "chipsim", "run", "--help"], capture_output=True,
                       text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert p.returncode == 0
    text = " ".join(p.stdout.split())
    assert "--resume" in text and "--checkpoint-every N" in text
    assert "end of every epoch" in text and ".ckpt" in text and "SIGTERM" in text


def test_signal_handling_stages():
    """cli._Signals in this process: before the simulation a signal stops at once; then the
    first one is a request and the second stops at once; afterwards, further signals are
    ignored while the process exits; without a signal the previous handlers come back."""
    from chipsim.cli import _Abort, _Signals, _Stopped
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with _Signals() as sig:
            pass
        assert {s: signal.getsignal(s) for s in before} == before
        with pytest.raises(_Stopped) as e:
            with _Signals() as sig:
                signal.raise_signal(signal.SIGTERM)
        assert e.value.signum == signal.SIGTERM and sig.status == 143
        with pytest.raises(_Abort):
            with _Signals() as sig:
                sig.defer()
                assert not sig.requested()
                signal.raise_signal(signal.SIGINT)       # a request: nothing raised
                assert sig.requested() and sig.status == 130
                signal.raise_signal(signal.SIGTERM)      # the second: at once
        assert all(signal.getsignal(s) == signal.SIG_IGN for s in before)
    finally:
        for s, h in before.items():
            signal.signal(s, h)
