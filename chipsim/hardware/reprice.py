"""Re-pricing a finished run on another chip without simulating again.

Energy is linear in the counts, so a run's counts price on any profile. Communication and
latency depend on where the layers sit, so the network is mapped again onto the new chip (its
shapes come from the workload text stored in the results file), router hops and chip
messages are recounted from the stored per-step spikes and input events, and the cycle model
runs on the stored per-step counts. A file without per-step counts (written with no step
counts) is re-priced for energy with the serial time model, and says so.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from chipsim.config.workload import workload_from_text
from chipsim.hardware.cycle import add_communication, step_latency
from chipsim.hardware.ledger import price
from chipsim.hardware.mapping import ARCH_REQUIRED, map_network
from chipsim.result import RunResult


def _shapes_network(result: RunResult):
    """The run's network (layer shapes; the weights are irrelevant to pricing), rebuilt from the
    workload text and the command-line overrides the results file records, on frames of the
    side the run's data set gave (chipsim.data.registry.input_side)."""
    from chipsim.data.registry import SENSORS, input_side
    from chipsim.engine import build_network
    overrides = dict(json.loads(result.extra.get("overrides_json", "[]")))
    w = workload_from_text(result.workload_text, result.workload_path, overrides)
    d = w.dataset
    shape = (SENSORS[d.name][0],) + input_side(d.name, d.size, d.downscale)
    n_classes = int(result.layer_neurons[list(result.layer_names).index("readout")])
    return build_network(w, shape, n_classes, np.random.default_rng(0)), w


def reprice(result: RunResult, profile, profile_text: str | None = None) -> RunResult:
    """A copy of ``result`` priced on ``profile`` (energy, and latency where step counts exist)."""
    arch = getattr(profile, "architecture", {}) or {}
    can_map = all(k in arch and arch[k].value is not None for k in ARCH_REQUIRED)
    extra = dict(result.extra)
    extra["repriced_from"] = result.profile_name
    counts = result.sample_counts.copy()
    steps = None if result.step_counts is None else result.step_counts.copy()
    if steps is not None and can_map:
        net, w = _shapes_network(result)
        mapping = map_network(net, profile, dict(w.mapping) or None, source=w.path)
        add_communication(steps, result.input_events, net, mapping)
        lat = step_latency(steps, net, mapping, profile)
        counts = steps.sum(axis=1)
        scope = getattr(profile, "static_power_scope", "chip")
        units = mapping.cores_used if scope == "core" else mapping.chips_used
        pricing = price(counts, profile, sample_time=lat.sum(axis=1), static_units=units)
        extra.update(mapping.summary())
        extra["time_model"] = "cycle-approximate (hardware/cycle.py) on the mapping (re-priced)"
        for sp, key in ((0, "step_latency_train_s"), (1, "step_latency_test_s")):
            m = result.sample_split == sp
            extra[key] = [float(x) for x in lat[m].mean(axis=0)] if m.any() else []
    else:
        pricing = price(counts, profile)
        extra["repriced_routing"] = ("router hops and chip messages are the original run's "
                                     f"(mapping on '{result.profile_name}'); not recounted")
        extra["time_model"] = ("serial sum of per-action times (re-priced; "
                               + ("the file has no per-step counts)" if steps is None
                                  else f"profile '{profile.name}' lacks architecture figures)"))
    return dataclasses.replace(result, pricing=pricing, sample_counts=counts, step_counts=steps,
                               profile_name=profile.name, profile_path=str(profile.path),
                               profile_text=profile_text if profile_text is not None else profile.text,
                               extra=extra)
