"""A small synthetic-but-consistent RunResult for the report tests.

Consistency kept by construction: every sample's neuron updates (active + idle) equal
neurons x T per layer; the last layer (the readout) emits no spikes; test samples have no
learning-phase counts; NeuroBench effective ops equal the synaptic ops of the layer and dense
ops equal synapses x T; the Pricing is computed here with plain numpy from per-action prices
(energy = counts x price, time = serial sum of counts x time per action, static = power x
time, assumed share = assumed dynamic (+ static if assumed) / total).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from chipsim.counts import N_ACTIONS, N_PHASES, PRICED_ACTIONS, Action, Phase
from chipsim.model.network import LayerShape
from chipsim.result import SPLIT_TEST, SPLIT_TRAIN, Costs, Pricing, RunResult, Simulation

A = Action
INFERENCE_ACTIONS = (A.NEURON_UPDATE_ACTIVE, A.SPIKE, A.MEM_READ_WEIGHT, A.MEM_READ_STATE,
                     A.MEM_WRITE_STATE)
LEARNING_ACTIONS = (A.TRACE_UPDATE, A.SURROGATE_EVAL, A.OUTPUT_ERROR, A.ERROR_MAC,
                    A.TEMPORAL_MAC, A.GRAD_AC, A.GRAD_MAC, A.WEIGHT_UPDATE_ISSUED,
                    A.WEIGHT_UPDATE_SKIPPED, A.MEM_READ_WEIGHT, A.MEM_WRITE_WEIGHT,
                    A.MEM_READ_TRACE, A.MEM_WRITE_TRACE, A.MEM_READ_GRAD, A.MEM_WRITE_GRAD,
                    A.MEM_READ_HIST, A.MEM_WRITE_HIST, A.MEM_READ_STATE)

WORKLOAD_TEXT = """\
# synthetic workload — µ-test (UTF-8: λ, θ, σ')
name: synthetic
dataset: {name: nmnist, samples: 7}
network: [{fc: 20}, {fc: 16}, {fc: 10}]
rule: ottt_a
"""
PROFILE_TEXT = """\
name: synthetic_chip
energy:
  synop: {value: "1.5 pJ", source: "made up", provenance: assumed}
"""


def make_pricing(sample_counts: np.ndarray, rng: np.random.Generator, *,
                 kind: str = "incremental", static_power: float = 2.0e-3,
                 static_assumed: bool = True, profile_name: str = "synthetic_chip") -> Pricing:
    priced = np.zeros(N_ACTIONS, dtype=bool)
    priced[[int(a) for a in PRICED_ACTIONS]] = True
    epa = np.where(priced, rng.uniform(0.1e-12, 20e-12, N_ACTIONS), 0.0)
    tpa = np.where(priced, rng.uniform(0.5e-9, 5e-9, N_ACTIONS), 0.0)
    included = np.zeros(N_ACTIONS, dtype=bool)
    if kind == "global_at_operating_point":
        included[[A.NEURON_UPDATE_ACTIVE, A.NEURON_UPDATE_IDLE, A.SPIKE]] = True
        static_power = 0.0
    assumed = priced & (rng.random(N_ACTIONS) < 0.3)
    charged = epa * ~included

    c = sample_counts.astype(np.float64)
    energy = sample_counts.sum(axis=0).astype(np.float64) * charged
    dyn = (c * charged).sum(axis=(1, 2, 3))
    t = (c * tpa).sum(axis=(1, 2, 3))
    static = static_power * t
    total = dyn.sum() + static.sum()
    assumed_e = energy[..., assumed].sum() + (static.sum() if static_assumed else 0.0)
    sources = {name.lower(): f"{epa[int(a)]!r} J; Synthetic et al. 2024, Table {int(a)}; "
                             f"{'assumed' if assumed[int(a)] else 'measured'}"
               for name, a in Action.__members__.items() if priced[int(a)]}
    return Pricing(
        profile_name=profile_name, sop_energy_kind=kind, energy_per_action=epa,
        time_per_action=tpa, included_in_sop=included, assumed=assumed,
        static_power=float(static_power), static_assumed=static_assumed, sources=sources,
        energy=energy, sample_dynamic_energy=dyn, sample_static_energy=static,
        sample_time=t, assumed_energy_share=float(assumed_e / total) if total else 0.0,
    )


def make_counts(rng, binary, neurons, synapses, T, is_train) -> np.ndarray:
    """(L, P, A) int64 counts of one sample."""
    n_layers = len(neurons)
    c = np.zeros((n_layers, N_PHASES, N_ACTIONS), dtype=np.int64)
    inf, learn = int(Phase.INFERENCE), int(Phase.LEARNING)
    for l in range(n_layers):
        steps = int(neurons[l]) * T
        syn = int(rng.integers(0, int(synapses[l]) * T + 1))
        c[l, inf, A.SYNOP if binary[l] else A.SYN_MAC] = syn
        c[l, inf, A.NB_EFF_OPS] = syn
        c[l, inf, A.NB_DENSE_OPS] = int(synapses[l]) * T
        for a in INFERENCE_ACTIONS:
            c[l, inf, a] = rng.integers(0, 4 * steps + 1)
        c[l, inf, A.NEURON_UPDATE_ACTIVE] = rng.integers(0, steps + 1)
        c[l, inf, A.NEURON_UPDATE_IDLE] = steps - c[l, inf, A.NEURON_UPDATE_ACTIVE]
        c[l, inf, A.SPIKE] = 0 if l == n_layers - 1 else rng.integers(0, steps + 1)
        if is_train:
            for a in LEARNING_ACTIONS:
                c[l, learn, a] = rng.integers(0, 3 * int(synapses[l]) + 1)
    return c


def make_result(seed: int = 0, *, n_epochs: int = 2, n_train: int = 4, n_test: int = 3,
                neurons=(20, 16, 10), inputs: int = 12, time_steps: int = 5,
                kind: str = "incremental") -> RunResult:
    rng = np.random.default_rng(seed)
    neurons = np.asarray(neurons, dtype=np.int64)
    n_layers = len(neurons)
    fan_in = np.concatenate([[inputs], neurons[:-1]])
    synapses = (fan_in * neurons).astype(np.int64)
    binary = np.array([False] + [True] * (n_layers - 1))

    counts, split, epoch, index = [], [], [], []
    for e in range(n_epochs):
        for s, n in ((SPLIT_TRAIN, n_train), (SPLIT_TEST, n_test)):
            for i in range(n):
                counts.append(make_counts(rng, binary, neurons, synapses, time_steps,
                                          s == SPLIT_TRAIN))
                split.append(s)
                epoch.append(e)
                index.append(i)
    N = len(counts)
    sample_counts = (np.stack(counts) if counts else
                     np.zeros((0, n_layers, N_PHASES, N_ACTIONS), dtype=np.int64))
    split = np.array(split, dtype=np.int8)
    epoch = np.array(epoch, dtype=np.int32)
    label = rng.integers(0, 10, N).astype(np.int32)
    pred = np.where(rng.random(N) < 0.6, label, rng.integers(0, 10, N)).astype(np.int32)
    loss = rng.uniform(0.1, 3.0, N)

    def per_epoch(values, s):
        out = np.full(n_epochs, np.nan)
        for e in range(n_epochs):
            m = (split == s) & (epoch == e)
            if m.any():
                out[e] = values[m].mean()
        return out

    correct = (pred == label).astype(np.float64)
    # dense layers whose sizes are the ones asked for: fc1 reads the 12 graded inputs
    layers = tuple(
        LayerShape(name=f"fc{l + 1}" if l < n_layers - 1 else "readout",
                   kind="dense" if l < n_layers - 1 else "readout", src=l,
                   pre=(1, 1, int(fan_in[l])), pool="none", pool_k=1, pooled=(1, 1, int(fan_in[l])),
                   out=(1, 1, int(neurons[l])), k=1, stride=1, pad=0, bias=l == n_layers - 1,
                   binary_input=bool(binary[l]))
        for l in range(n_layers))
    sim = Simulation(
        workload_name="synthetic", workload_path="workloads/synthetic.yaml",
        workload_text=WORKLOAD_TEXT, overrides=(("training.epochs", str(n_epochs)),),
        rule="ottt_a", dataset="nmnist (synthetic 7 samples)", dataset_standin=False,
        skipped_samples=("x/bad.bin",), time_steps=time_steps, seed=seed, batch_size=1,
        epochs=n_epochs, train_samples=n_train, test_samples=n_test, framing="count",
        dtype="float64", neuron="(0.5, 1.0, 1.0, True, True, True, 0, 4.0)", loss="ce_mse",
        normalization="none", number_format="floating point (float64)", layers=layers,
        requested_mapping=(), sample_counts=sample_counts, step_counts=None,
        step_counts_note="not kept: synthetic", input_events=rng.integers(0, 9, (N, time_steps)),
        sample_split=split, sample_epoch=epoch, sample_index=np.array(index, dtype=np.int32),
        sample_label=label, sample_pred=pred, sample_loss=loss,
        sample_duration=rng.uniform(0.1, 0.3, N),
        epoch_train_loss=per_epoch(loss, SPLIT_TRAIN), epoch_train_acc=per_epoch(correct, SPLIT_TRAIN),
        epoch_test_loss=per_epoch(loss, SPLIT_TEST), epoch_test_acc=per_epoch(correct, SPLIT_TEST),
        learning_memory_bytes=int(rng.integers(1_000, 100_000)),
        gradient_buffer_bytes=int(rng.integers(1_000, 100_000)),
        footprint_bytes=int(rng.integers(1_000, 100_000)),
        wall_time_s=float(rng.uniform(1, 100)), interrupted=False)
    cost = Costs(
        profile_name="synthetic_chip", profile_path="hardware_profiles/synthetic_chip.yaml",
        profile_text=PROFILE_TEXT, mapping=None, time_model="serial sum of per-action times",
        router_hops=np.zeros((N, time_steps, n_layers), np.int64),
        chip_messages=np.zeros((N, time_steps, n_layers), np.int64),
        pricing=make_pricing(sample_counts, rng, kind=kind), step_latency_train=np.zeros(0),
        step_latency_test=np.zeros(0), throughput_train=float(rng.uniform(1, 1e3)),
        throughput_test=None if not n_test else float(rng.uniform(1, 1e3)),
        real_time_factor_train=0.5, real_time_factor_test=None)
    return RunResult(version="0.1.0", created="2025-01-02T03:04:05+00:00",
                     command="chipsim run workloads/synthetic.yaml --profile synthetic_chip",
                     sim=sim, cost=cost)


def _equal(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return (a.dtype == b.dtype and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def assert_results_equal(a: RunResult, b: RunResult) -> None:
    """Every field of RunResult, its Simulation, Costs and Pricing equal: arrays exactly
    (dtype, shape, values), floats exactly, strings, tuples, dicts and records equal."""
    pairs = ((a, b, ""), (a.sim, b.sim, "sim."), (a.cost, b.cost, "cost."),
             (a.pricing, b.pricing, "pricing."))
    for obj_a, obj_b, prefix in pairs:
        for f in dataclasses.fields(obj_a):
            if f.name in ("sim", "cost", "pricing"):
                continue
            va, vb = getattr(obj_a, f.name), getattr(obj_b, f.name)
            assert _equal(va, vb), f"{prefix}{f.name} differs: {va!r} != {vb!r}"
