"""The one place the golden capture touches chipsim's API (so a refactor changes only this
file, never the recorded numbers): run a workload on a profile, re-price a result on another
profile, and present either in the flat form the golden file was recorded in (the counts
with the chip's communication inside them, and the metadata that was a dict)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np

#: actions in chipsim's vocabulary when the golden file was recorded (chipsim.counts.Action
#: up to CHIP_MESSAGE); actions added since (spike_message, message_receive) are new facts,
#: checked against hand-worked forms (tests/test_mapping_cycle.py), and are not part of the
#: record
RECORDED_ACTIONS = 28


#: actions added since that split a recorded action in two: their counts (and energies) are
#: folded back into the action they came from (mem_read_weight_transposed: the reads of W^T
#: for the error, which mem_read_weight held)
FOLDED = {"MEM_READ_WEIGHT_TRANSPOSED": "MEM_READ_WEIGHT"}


def _recorded(a, fold: bool = True):
    if a is None:
        return None
    from chipsim.counts import Action
    a = np.array(a)
    if fold:
        for new, old in FOLDED.items():
            a[..., int(Action[old])] += a[..., int(Action[new])]
    return a[..., :RECORDED_ACTIONS]


def _pricing(p):
    """The pricing in the recorded vocabulary (per-action arrays cut to RECORDED_ACTIONS)."""
    return NS(**{k: getattr(p, k) for k in ("sample_dynamic_energy", "sample_static_energy",
                                            "sample_time", "static_power",
                                            "assumed_energy_share")},
              energy=_recorded(p.energy), energy_per_action=_recorded(p.energy_per_action, False),
              time_per_action=_recorded(p.time_per_action, False))


def _flat(r):
    s, c = r.sim, r.cost
    extra = {"gradient_buffer_bytes": s.gradient_buffer_bytes, "batch_size": s.batch_size,
             "epochs": s.epochs, "train_samples": s.train_samples, "test_samples": s.test_samples,
             "dataset_standin": int(s.dataset_standin)}
    for key, v in (("train_throughput_samples_per_s", c.throughput_train),
                   ("test_throughput_samples_per_s", c.throughput_test),
                   ("train_real_time_factor", c.real_time_factor_train),
                   ("test_real_time_factor", c.real_time_factor_test)):
        if v is not None:
            extra[key] = v
    if c.mapping is not None:
        m = c.mapping
        extra.update(step_latency_train_s=list(c.step_latency_train),
                     step_latency_test_s=list(c.step_latency_test), mapping_cores=m.cores_used,
                     mapping_chips=m.chips_used, mapping_neuron_utilisation=m.neuron_utilisation,
                     mapping_synapse_utilisation=m.synapse_utilisation)
    else:
        extra.update(step_latency_train_s=[], step_latency_test_s=[])
    return NS(sample_counts=_recorded(r.counts_priced),
              step_counts=_recorded(r.step_counts_priced),
              input_events=s.input_events, sample_loss=s.sample_loss, sample_pred=s.sample_pred,
              epoch_test_acc=s.epoch_test_acc, layer_neurons=s.layer_neurons,
              layer_synapses=s.layer_synapses, pricing=_pricing(c.pricing),
              learning_memory_bytes=s.learning_memory_bytes, footprint_bytes=s.footprint_bytes,
              extra=extra, result=r)


def run(path, overrides: dict, profile: str):
    from chipsim import engine
    from chipsim.config.profile import load_profile
    from chipsim.config.workload import load_workload
    r = engine.run(load_workload(path, overrides), load_profile(profile))
    weights = r.sim.weights
    return _flat(r), ([W.copy() for W, _ in weights], [b.copy() for _, b in weights])


def reprice(result, profile: str):
    from chipsim.config.profile import load_profile
    from chipsim.hardware.cost import reprice as _reprice
    return _flat(_reprice(result.result, load_profile(profile)))
