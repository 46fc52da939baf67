"""Reading results files of schema version 1 (chipsim 0.1) into today's records.

Version 1 kept one flat layout: counts with the chip's communication (router hops, chip
messages) inside them, the layer names and sizes but not their geometry, and metadata in a
free-form ``extra`` JSON. This module rebuilds what today's records hold:

- the layer geometry, from the workload text and command-line overrides the file stores (as
  chipsim 0.1's re-pricing did), on the input side the data set's registry gives;
- the communication, taken out of the counts into the Costs (per step when the file kept
  per-step counts; otherwise the per-sample totals are put at the first step, and the notes
  say so);
- the mapping, placed again on the profile the file stores (placement is deterministic).

Whatever could not be recovered is named in ``RunResult.notes``.
"""

from __future__ import annotations

import json

import numpy as np

from chipsim import counts as K
from chipsim.counts import ACTION_NAMES
from chipsim.errors import ChipsimError
from chipsim.result import Costs, RunResult, Simulation

_V1_SAMPLES = {"split": ("sample_split", np.int8), "epoch": ("sample_epoch", np.int32),
               "index": ("sample_index", np.int32), "label": ("sample_label", np.int32),
               "pred": ("sample_pred", np.int32), "loss": ("sample_loss", np.float64)}
_V1_EPOCHS = {"train_loss": "epoch_train_loss", "train_acc": "epoch_train_acc",
              "test_loss": "epoch_test_loss", "test_acc": "epoch_test_acc"}


def _layers(text: str, path: str, overrides: dict, n_classes: int, rd):
    from chipsim.config.workload import workload_from_text
    from chipsim.data.registry import SENSORS, input_side
    from chipsim.model.network import plan_network
    try:
        w = workload_from_text(text, path, overrides)
        d = w.dataset
        shape = (SENSORS[d.name][0],) + input_side(d.name, d.size, d.downscale)
        # the layers without their weights: a stored workload may name any size
        return w, plan_network(w, shape, n_classes).layers
    except ChipsimError as e:
        raise rd.error("config/workload_yaml", "a version-1 results file whose workload cannot "
                       f"be rebuilt with this chipsim ({e.detail})",
                       "a workload this chipsim reads (or re-run it)") from None


def read_v1(rd, read_counts, read_pricing) -> RunResult:
    f = rd.f
    root = f["/"]
    try:
        extra = json.loads(rd.str_attr(root, "extra"))
    except json.JSONDecodeError:
        raise rd.error("@extra", "is not valid JSON", "a JSON object") from None
    if not isinstance(extra, dict):
        raise rd.error("@extra", "is not a JSON object", "a JSON object")
    notes = ["read from a schema-version-1 file (chipsim 0.1)"]
    counts, idx, dropped = read_counts(rd, "counts/samples", 4)
    missing = tuple(name for name, i in zip(ACTION_NAMES, idx) if i < 0)
    n, n_layers = counts.shape[:2]
    T = rd.int_attr(root, "time_steps")
    names = tuple(str(x) for x in np.atleast_1d(rd.text("layers/names")))
    neurons = rd.array("layers/neurons", np.int64, (n_layers,))
    rd.check("layers/neurons", neurons, lo=1, what="neurons >= 1")
    overrides = [tuple(kv) for kv in json.loads(extra.get("overrides_json", "[]"))]
    w, layers = _layers(rd.string("config/workload_yaml"),
                        rd.str_attr(rd.node("config/workload_yaml"), "path"), dict(overrides),
                        int(neurons[names.index("readout")]), rd)
    if tuple(ls.name for ls in layers) != names:
        raise rd.error("layers/names", f"the rebuilt network has layers {[ls.name for ls in layers]}",
                       f"the file's {list(names)}")
    steps = None
    hops = np.zeros((n, T, n_layers), np.int64)
    msgs = np.zeros((n, T, n_layers), np.int64)
    if "counts/steps" in f:
        steps = read_counts(rd, "counts/steps", 5)[0]
        hops[...] = steps[..., K.INFER, K.ROUTER_HOP]
        msgs[...] = steps[..., K.INFER, K.CHIP_MESSAGE]
        steps[..., K.INFER, K.ROUTER_HOP] = 0
        steps[..., K.INFER, K.CHIP_MESSAGE] = 0
    else:
        hops[:, 0] = counts[:, :, K.INFER, K.ROUTER_HOP]
        msgs[:, 0] = counts[:, :, K.INFER, K.CHIP_MESSAGE]
        if hops.any() or msgs.any():
            notes.append("per-step communication unknown: each sample's total is at step 0")
    counts = counts.copy()
    counts[:, :, K.INFER, K.ROUTER_HOP] = 0
    counts[:, :, K.INFER, K.CHIP_MESSAGE] = 0
    if "counts/input_events" in f:
        events = rd.array("counts/input_events", np.int64, (n, T))
    else:
        events = np.zeros((n, T), np.int64)
        notes.append("input events per step not stored: zeros")
    notes.append("recording spans not stored: real-time factors are the file's")
    samples = {attr: rd.array(f"samples/{name}", dtype, (n,)) for name, (attr, dtype) in _V1_SAMPLES.items()}
    n_epochs = rd.array("epochs/train_loss", np.float64).shape
    epochs = {attr: rd.array(f"epochs/{name}", np.float64, n_epochs) for name, attr in _V1_EPOCHS.items()}
    x = extra.get
    sim = Simulation(
        workload_name=rd.str_attr(root, "workload_name"),
        workload_path=rd.str_attr(rd.node("config/workload_yaml"), "path"),
        workload_text=rd.string("config/workload_yaml"), overrides=tuple(overrides),
        rule=rd.str_attr(root, "rule"), dataset=rd.str_attr(root, "dataset"),
        dataset_standin=bool(x("dataset_standin", 0)),
        skipped_samples=tuple(str(x("skipped_samples", "")).split()), time_steps=T,
        seed=rd.int_attr(root, "seed"), batch_size=int(x("batch_size", 1)),
        epochs=int(x("epochs", n_epochs[0])), train_samples=int(x("train_samples", 0)),
        test_samples=int(x("test_samples", 0)), framing=str(x("framing", w.dataset.framing)),
        dtype=str(x("dtype", w.training.dtype)), neuron=str(x("neuron", "")),
        loss=str(x("loss", w.loss.kind)), normalization=str(x("normalization", "")),
        number_format=str(x("number_format", "floating point")), layers=tuple(layers),
        requested_mapping=tuple(w.mapping),
        sample_counts=counts, step_counts=steps, step_counts_note=str(x("step_counts", "kept")),
        input_events=events, sample_duration=np.full(n, np.nan), **samples, **epochs,
        learning_memory_bytes=rd.int_attr(root, "learning_memory_bytes"),
        gradient_buffer_bytes=int(x("gradient_buffer_bytes", 0)),
        footprint_bytes=rd.int_attr(root, "footprint_bytes"),
        wall_time_s=rd.float_attr(root, "wall_time_s"), interrupted=bool(x("interrupted", 0)))
    mapping = None
    profile_text = rd.string("config/profile_yaml")
    profile_path = rd.str_attr(rd.node("config/profile_yaml"), "path")
    if "mapping_cores" in extra:
        from chipsim.config.profile import profile_from_text
        from chipsim.hardware.mapping import map_layers
        try:
            mapping = map_layers(layers, profile_from_text(profile_text, profile_path),
                                 dict(w.mapping) or None, source=w.path)
        except ChipsimError as e:     # named as the results file's field, as the workload's
            raise rd.error("config/profile_yaml", "a version-1 results file whose mapping "
                           f"cannot be placed again with this chipsim ({e})",
                           "a profile this chipsim reads (or re-run it)") from None

    def lat(key):
        return np.asarray(x(key, []), dtype=np.float64)

    cost = Costs(profile_name=rd.str_attr(root, "profile_name"), profile_path=profile_path,
                 profile_text=profile_text, mapping=mapping,
                 time_model=str(x("time_model", "serial sum of per-action times")),
                 router_hops=hops, chip_messages=msgs,
                 pricing=read_pricing(rd, "energy", n, n_layers),
                 step_latency_train=lat("step_latency_train_s"),
                 step_latency_test=lat("step_latency_test_s"),
                 throughput_train=x("train_throughput_samples_per_s"),
                 throughput_test=x("test_throughput_samples_per_s"),
                 real_time_factor_train=x("train_real_time_factor"),
                 real_time_factor_test=x("test_real_time_factor"),
                 communication_note=str(x("repriced_routing", "counted on this chip's mapping")),
                 repriced_from=str(x("repriced_from", "")))
    return RunResult(version=rd.str_attr(root, "chipsim_version"),
                     created=rd.str_attr(root, "created"), command=rd.str_attr(root, "command"),
                     sim=sim, cost=cost, missing_actions=missing, dropped_actions=tuple(dropped),
                     notes=tuple(notes))
