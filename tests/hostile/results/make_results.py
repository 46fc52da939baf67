"""Writes this folder's malformed results files: each is one small, valid ``chipsim run`` with
one defect that chipsim's writer never produces (a NaN energy, a negative count, an array of
the wrong shape, ...). ``chipsim report``, ``price`` and ``compare`` must refuse each with one
line naming the file and the field (exit status 2), never draw or print it.

    python tests/hostile/results/make_results.py          (from the repository root)

The run: workloads/nmnist.yaml on loihi (so the file has a mapping and per-step latency),
8 hidden neurons, T = 4, 2 epochs of 3 training and 2 test samples. :data:`DEFECTS` is the
list the tests read (tests/test_report_h5_values.py); tests/hostile/README.md describes each.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]

RUN = ["run", str(ROOT / "workloads" / "nmnist.yaml"), "--profile", "loihi",
       "--set", "training.epochs=2", "--set", "dataset.train_samples=3",
       "--set", "dataset.test_samples=2", "--set", "dataset.time_steps=4",
       "--set", "network.hidden=[{kind: dense, units: 8}]", "--quiet", "--no-plot"]


def make_valid(path: Path) -> Path:
    """The valid run every defect starts from."""
    from chipsim.cli import main
    if main([*RUN, "--out", str(path)]) != 0:
        raise RuntimeError("the base run failed")
    return path


def _set(name, index, value):
    def mutate(f):
        a = f[name][()]
        a[index] = value
        f[name][...] = a
    return mutate


def _scalar(name, value):
    def mutate(f):
        f[name][()] = value
    return mutate


def _attr(group, key, value):
    def mutate(f):
        f[group].attrs[key] = value
    return mutate


def _replace(name, make):
    """Replace dataset ``name`` by ``make(old values)``, keeping its attributes."""
    def mutate(f):
        old = f[name]
        data, attrs = make(old[()]), dict(old.attrs)
        del f[name]
        new = f.create_dataset(name, data=data)
        for k, v in attrs.items():
            new.attrs[k] = v
    return mutate


def _add_steps(f):
    a = f["simulation/counts/steps"][()]
    a[0, 0, 0, 0, 0] += 7
    f["simulation/counts/steps"][...] = a


def _epoch_curves_longer(f):
    for name in ("train_loss", "train_acc", "test_loss", "test_acc"):
        _replace(f"simulation/epochs/{name}", lambda a: np.append(a, 0.5))(f)


#: file name -> (the field the error must name, what is wrong, how to make it)
DEFECTS = {
    "nan_sample_energy.h5": ("cost/energy/sample_dynamic_energy", "a NaN dynamic energy of sample 2",
                             _set("cost/energy/sample_dynamic_energy", 1, np.nan)),
    "inf_energy.h5": ("cost/energy/energy", "an infinite entry of the run's energy by layer, phase and action",
                      _set("cost/energy/energy", (0, 0, 0), np.inf)),
    "negative_price.h5": ("cost/energy/energy_per_action", "a negative energy per synaptic operation",
                          _set("cost/energy/energy_per_action", 0, -1e-12)),
    "nan_sample_time.h5": ("cost/energy/sample_time", "a NaN modelled time of sample 1",
                           _set("cost/energy/sample_time", 0, np.nan)),
    "negative_static_power.h5": ("cost/energy/static_power", "a static power of -0.1 W",
                                 _scalar("cost/energy/static_power", -0.1)),
    "assumed_share_above_one.h5": ("cost/energy/assumed_energy_share", "170 % of the energy on assumed figures",
                                   _scalar("cost/energy/assumed_energy_share", 1.7)),
    "unknown_sop_energy_kind.h5": ("cost/energy@sop_energy_kind", "an SOP energy kind no profile has",
                                   _attr("cost/energy", "sop_energy_kind", "per_sample")),
    "negative_counts.h5": ("simulation/counts/samples", "a count of -5 synaptic operations",
                           _set("simulation/counts/samples", (0, 0, 0, 0), -5)),
    "negative_step_counts.h5": ("simulation/counts/steps", "a count of -1 in the per-step counts",
                                _set("simulation/counts/steps", (1, 2, 0, 0, 0), -1)),
    "steps_not_summing_to_samples.h5": ("simulation/counts/steps",
                                        "per-step counts whose sum over the steps is not the sample's counts",
                                        _add_steps),
    "steps_one_sample_short.h5": ("simulation/counts/steps", "per-step counts of one sample fewer than the run's",
                                  _replace("simulation/counts/steps", lambda a: a[:-1])),
    "negative_router_hops.h5": ("cost/communication/router_hops", "a count of -3 router hops",
                                _set("cost/communication/router_hops", (0, 0, 0), -3)),
    "negative_input_events.h5": ("simulation/counts/input_events", "a count of -1 input events",
                                 _set("simulation/counts/input_events", (0, 0), -1)),
    "step_latency_too_long.h5": ("cost/latency/step_test", "a latency for 5 steps of a 4-step run",
                                 _replace("cost/latency/step_test", lambda a: np.append(a, a[-1]))),
    "nan_step_latency.h5": ("cost/latency/step_train", "a NaN latency of step 3",
                            _set("cost/latency/step_train", 2, np.nan)),
    "negative_throughput.h5": ("cost@throughput_test", "a throughput of -5 samples/s",
                               _attr("cost", "throughput_test", np.float64(-5.0))),
    "inf_real_time_factor.h5": ("cost@real_time_factor_test", "an infinite real-time factor",
                                _attr("cost", "real_time_factor_test", np.float64(np.inf))),
    "nan_sample_loss.h5": ("simulation/samples/loss", "NaN losses, as chipsim 0.2 wrote for a run "
                           "that diverged (it now stops)", _set("simulation/samples/loss", slice(2, None), np.nan)),
    "split_code_out_of_range.h5": ("simulation/samples/split", "a sample of split 3 (0 = train, 1 = test)",
                                   _set("simulation/samples/split", 0, 3)),
    "epoch_out_of_range.h5": ("simulation/samples/epoch", "a sample of epoch 10 in a 2-epoch run",
                              _set("simulation/samples/epoch", 0, 9)),
    "negative_label.h5": ("simulation/samples/label", "a class label of -1",
                          _set("simulation/samples/label", 0, -1)),
    "test_accuracy_as_percent.h5": ("simulation/epochs/test_acc", "a test accuracy of 72 (a percentage "
                                    "where a fraction belongs)", _set("simulation/epochs/test_acc", 1, 72.0)),
    "inf_loss_curve.h5": ("simulation/epochs/train_loss", "an infinite mean training loss",
                          _set("simulation/epochs/train_loss", 1, np.inf)),
    "epoch_curves_too_long.h5": ("simulation/epochs/train_loss", "curves of 3 epochs in a 2-epoch run",
                                 _epoch_curves_longer),
    "zero_time_steps.h5": ("simulation@time_steps", "T = 0",
                           _attr("simulation", "time_steps", np.int64(0))),
    "negative_memory.h5": ("simulation@learning_memory_bytes", "-1 bytes of learning memory",
                           _attr("simulation", "learning_memory_bytes", np.int64(-1))),
    "negative_stride.h5": ("simulation/layers/stride", "a layer of stride -1",
                           _set("simulation/layers/stride", 0, -1)),
    "mapping_segments_two_columns.h5": ("cost/mapping/segments", "mapping segments of 2 columns (layer, core, neurons: 3)",
                                        _replace("cost/mapping/segments", lambda a: a[:, :2])),
    "mapping_segment_unknown_layer.h5": ("cost/mapping/segments", "a mapping segment of layer 7 in a 2-layer network",
                                         _set("cost/mapping/segments", (0, 0), 7)),
}


def write_defect(valid: Path, name: str, out: Path) -> Path:
    """Copy ``valid`` to ``out`` with the defect ``name``, compacted (no freed space left)."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / name
        shutil.copyfile(valid, work)
        with h5py.File(work, "r+") as f:
            DEFECTS[name][2](f)
        with h5py.File(work, "r") as src, h5py.File(out, "w", libver="latest") as dst:
            for k, v in src.attrs.items():
                dst.attrs[k] = v
            for k in src:
                src.copy(src[k], dst, name=k)
    return out


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        valid = make_valid(Path(tmp) / "valid.h5")
        for name in DEFECTS:
            write_defect(valid, name, HERE / name)
            print(HERE / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
