"""Run a golden case and record what chipsim produced, as arrays that compare bit for bit.

``python -m tests.golden.capture`` (from the repository root) records every case of
``cases.py`` into ``golden.npz``. Only do that when a number is *meant* to change, and say why
in the commit; ``tests/test_golden.py`` compares against the recorded file.

What is recorded per case, for a run on each of ``PROFILES`` and for the first profile's run
re-priced on each of ``REPRICE`` (``chipsim price``); a run or re-pricing that chipsim refuses
is recorded as its error message:
- per-sample counts (N, L, P, A), the input events per step, and a SHA-256 of the per-step
  counts (N, T, L, P, A) with their sum over samples;
- per-sample loss and prediction; accuracy per epoch;
- the final weights and biases (a SHA-256 of each array's bytes, with its sum);
- energy: per sample dynamic and static, modelled time, energy by (layer, phase, action), the
  assumed share; memory figures; the numeric metadata (latency per step, throughput, mapping).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("golden.npz")


def _sha(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    return hashlib.sha256(a.dtype.str.encode() + str(a.shape).encode() + a.tobytes()).hexdigest()


def gesture_root(where: Path) -> Path:
    """A small synthetic DVS128 Gesture folder (AEDAT 3.1 + labels), the same on every machine:
    users 1 and 2 train, user 24 tests, each recording with five labelled gestures."""
    from tests.golden.writers import write_aedat3
    from chipsim.data.events import EVENT_DTYPE, EventStream
    root = where / "gesture"
    if root.is_dir():
        return root
    root.mkdir(parents=True)
    rng = np.random.default_rng(20221)
    for user in (1, 2, 24):
        n, span = 30_000, 5_000_000
        ev = np.zeros(n, EVENT_DTYPE)
        ev["t"] = np.sort(rng.integers(0, span, n))
        ev["x"] = rng.integers(0, 128, n)
        ev["y"] = rng.integers(0, 128, n)
        ev["p"] = rng.integers(0, 2, n)
        write_aedat3(root / f"user{user:02d}_fluorescent.aedat", EventStream(ev, (128, 128, 2)))
        rows = [f"{1 + (user + g) % 11},{g * 1_000_000},{g * 1_000_000 + 900_000}" for g in range(5)]
        (root / f"user{user:02d}_fluorescent_labels.csv").write_text(
            "class,startTime_usec,endTime_usec\n" + "\n".join(rows) + "\n")
    return root


def _message(e: Exception) -> np.ndarray:
    """A refusal's message, with this checkout's path as <repo>/ (it names the profile file)."""
    return np.array(str(e).replace(str(ROOT) + "/", "<repo>/"))


def _overrides(workload: str, over: dict, data_dir: Path) -> dict:
    o = dict(over)
    if workload == "dvsgesture":
        o["dataset.root"] = str(gesture_root(data_dir))
    return o


NUMERIC_EXTRA = ("gradient_buffer_bytes", "batch_size", "epochs", "train_samples", "test_samples",
                 "dataset_standin", "train_throughput_samples_per_s", "test_throughput_samples_per_s",
                 "train_real_time_factor", "test_real_time_factor", "step_latency_train_s",
                 "step_latency_test_s", "mapping_cores", "mapping_chips",
                 "mapping_neuron_utilisation", "mapping_synapse_utilisation")


def _record(out: dict, tag: str, r, weights=None):
    p = r.pricing
    out[f"{tag}/sample_counts"] = r.sample_counts
    out[f"{tag}/sample_loss"] = r.sample_loss
    out[f"{tag}/sample_pred"] = r.sample_pred
    out[f"{tag}/epoch_test_acc"] = r.epoch_test_acc
    out[f"{tag}/layer_neurons"] = r.layer_neurons
    out[f"{tag}/layer_synapses"] = r.layer_synapses
    if r.step_counts is not None:
        out[f"{tag}/step_counts_sha"] = np.array(_sha(r.step_counts))
        out[f"{tag}/step_counts_sum"] = r.step_counts.sum(axis=0)
    if r.input_events is not None:
        out[f"{tag}/input_events"] = r.input_events
    for name in ("sample_dynamic_energy", "sample_static_energy", "sample_time", "energy",
                 "energy_per_action", "time_per_action"):
        out[f"{tag}/{name}"] = getattr(p, name)
    out[f"{tag}/scalars"] = np.array([p.static_power, p.assumed_energy_share,
                                      float(r.learning_memory_bytes), float(r.footprint_bytes)])
    for k in NUMERIC_EXTRA:
        if k in r.extra:
            out[f"{tag}/extra/{k}"] = np.asarray(r.extra[k], dtype=np.float64)
    if weights is not None:
        Ws, bs = weights
        out[f"{tag}/weights_sha"] = np.array([_sha(w) for w in Ws] + [_sha(b) for b in bs])
        out[f"{tag}/weights_sum"] = np.array([float(w.sum()) for w in Ws] + [float(b.sum()) for b in bs])


def capture_case(case, data_dir: Path) -> dict:
    """Run one case on both profiles and re-price the first run on the second profile."""
    from tests.golden import api
    from tests.golden.cases import PROFILES, REPRICE
    name, workload, over = case
    path = ROOT / "workloads" / f"{workload}.yaml"
    over = _overrides(workload, over, data_dir)
    out: dict = {}
    first = None
    from chipsim.errors import ChipsimError
    for prof in PROFILES:
        try:
            r, weights = api.run(path, over, prof)
        except ChipsimError as e:   # recorded: a refactor must refuse the same run
            out[f"{name}/{prof}/error"] = _message(e)
            continue
        _record(out, f"{name}/{prof}", r, weights)
        if first is None:
            first = (prof, r)
    if first is None:
        return out
    for prof in REPRICE:
        tag = f"{name}/{first[0]}->{prof}"
        try:
            r = api.reprice(first[1], prof)
        except ChipsimError as e:      # recorded: a refactor must refuse the same re-pricing
            out[f"{tag}/error"] = _message(e)
        else:
            _record(out, tag, r)
    return out


def main(argv=None) -> int:
    import tempfile
    import time
    from tests.golden.cases import CASES
    only = (argv or sys.argv[1:])
    data: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CHIPSIM_CACHE"] = str(Path(tmp) / "cache")
        for case in CASES:
            if only and not any(o in case[0] for o in only):
                continue
            t0 = time.perf_counter()
            data.update(capture_case(case, Path(tmp)))
            print(f"{case[0]:40s} {time.perf_counter() - t0:6.1f} s", flush=True)
    if only:
        print("(a subset: golden.npz not written)")
        return 0
    np.savez_compressed(GOLDEN, **data)
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size / 1e6:.2f} MB, {len(data)} arrays)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
