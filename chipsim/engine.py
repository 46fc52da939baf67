"""run(workload, profile) -> RunResult: the sample / epoch loop.

The engine loads the data set, builds the network and the rule's trainer, trains one batch at a
time (batch 1 by default, as a chip learns), tests after every epoch, keeps every sample's
counts, and prices them against the profile. Ctrl-C stops the run after the current batch and
keeps what finished (the result says it was interrupted).
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
import time
from dataclasses import dataclass

import numpy as np

from chipsim import __version__
from chipsim import counts as K
from chipsim.data.load import load_splits, uses_standin
from chipsim.errors import ChipsimError
from chipsim.hardware.cycle import add_communication, step_latency
from chipsim.hardware.ledger import price
from chipsim.hardware.mapping import ARCH_REQUIRED, map_network
from chipsim.learning import make_trainer
from chipsim.model.inputs import encode_frames
from chipsim.model.network import Network
from chipsim.model.neuron import NeuronParams
from chipsim.result import SPLIT_TEST, SPLIT_TRAIN, RunResult


@dataclass
class Progress:
    """Where a run is; passed to the progress callback after every batch."""

    epoch: int
    epochs: int
    phase: str            # 'train' or 'test'
    done: int             # samples done in this phase of this epoch
    total: int
    correct: int
    elapsed: float        # seconds since the run started
    last_test_acc: float | None


STEP_COUNTS_MAX_BYTES = 256 * 2**20


def channels_last(frames: np.ndarray) -> np.ndarray:
    """(N, T, P, H, W) frames -> (N, T, H, W, P): chipsim's activations are channel-last."""
    return np.ascontiguousarray(np.moveaxis(frames, 2, -1))


def build_network(workload, input_shape: tuple, n_classes: int, rng: np.random.Generator) -> Network:
    """The workload's layers on an input of ``input_shape`` (P, H, W), readout appended."""
    net = workload.network
    tr = workload.training
    P, H, W = input_shape
    rule = workload.rule
    block = getattr(rule, "block", None) if rule.name == "tbptt_local" else None
    try:
        network = Network.build((H, W, P), workload.dataset.framing == "binary", list(net.hidden),
                                n_classes, net.readout_bias, rng, gain=tr.init_gain,
                                dtype=np.dtype(tr.dtype), block=block)
    except ValueError as e:
        raise ChipsimError(str(e), file=workload.path, field="network.hidden",
                           expected="layers that fit the input") from None
    if getattr(net, "normalization", "none") == "ws_folded":
        fold_weight_standardization(network)
    return network


#: OTTT's fixed scale after every spiking layer (spiking_vgg.py:232, Scale(2.74); NF-ResNet)
WS_SCALE = 2.74

NORMALIZATION_NOTE = {
    "none": "none",
    "ws_folded": ("OTTT's scaled weight standardisation folded into the effective weights once at "
                  "initialisation: conv kernels standardised per output channel, "
                  "(W - mean) / sqrt(var * fan_in + 1e-4), and every layer reading a spiking layer "
                  f"scaled by {WS_SCALE}; learning then updates the effective weights directly (the "
                  "standardisation is not re-applied, as a chip holding effective weights would not)"),
    "bn_folded": ("SLTT's per-step batch normalisation is not simulated: folded into the weights at "
                  "initialisation, where it is the identity (gamma 1, beta 0); a chip cannot "
                  "compute batch statistics while it learns"),
}


def fold_weight_standardization(net: Network) -> None:
    """OTTT's ScaledWSConv2d (spiking_vgg.py:13-33) and Scale(2.74), folded into the weights."""
    for ls, W in zip(net.layers, net.weights):
        if ls.kind == "conv":
            mean = W.mean(axis=0, keepdims=True)
            var = W.var(axis=0, keepdims=True)
            W[:] = (W - mean) / np.sqrt(var * ls.fan_in + 1e-4)
        if ls.src > 0:
            W *= WS_SCALE


def place(net, profile, workload=None):
    """The mapping of ``net`` on ``profile`` (None, with the reason, when the profile has no
    architecture figures); the workload's explicit ``mapping`` overrides the automatic one. A
    network that does not fit raises ChipsimError with the numbers."""
    arch = getattr(profile, "architecture", {}) or {}
    explicit = dict(getattr(workload, "mapping", ()) or ()) if workload is not None else {}
    if not all(k in arch and arch[k].value is not None for k in ARCH_REQUIRED):
        if explicit:
            raise ChipsimError(f"profile '{profile.name}' has no architecture to map onto",
                               file=workload.path, field="mapping",
                               expected="a profile with an architecture section, or no mapping")
        return None, f"no mapping: profile '{profile.name}' lacks architecture figures"
    return map_network(net, profile, explicit or None,
                       source=getattr(workload, "path", None)), ""


def run(workload, profile, *, progress=None, command: str = "") -> RunResult:
    """Train and test ``workload`` online and price its counts on ``profile``."""
    t_start = time.perf_counter()
    tr_spec = workload.training
    rng = np.random.default_rng(tr_spec.seed)
    train, test = load_splits(workload.dataset, workload.path)
    binary = workload.dataset.framing == "binary"
    dtype = np.dtype(tr_spec.dtype)
    inp_tr = encode_frames(channels_last(train.frames), binary, dtype)
    inp_te = encode_frames(channels_last(test.frames), binary, dtype)
    init_rng, order_rng, rule_rng = (np.random.default_rng(s) for s in rng.spawn(3))
    net = build_network(workload, train.input_shape, train.n_classes, init_rng)
    neuron = NeuronParams.from_spec(workload.neuron)
    T = workload.dataset.time_steps
    B = tr_spec.batch_size
    trainer = make_trainer(workload.rule.name, net, neuron, workload.loss, tr_spec, workload.rule,
                           T, B, rule_rng)
    fmt_note = "floating point (" + tr_spec.dtype + ")"
    if getattr(tr_spec, "number_format", "float") == "chip":
        bits = {k: int(q.value) for k, q in profile.precision.items()
                if k in ("weight_bits", "state_bits", "trace_bits") and q.value is not None}
        if len(bits) < 3:
            raise ChipsimError(f"profile '{profile.name}' does not give weight, state and trace widths",
                               file=workload.path, field="training.number_format",
                               expected="'float', or a profile with precision.weight_bits, "
                               "state_bits and trace_bits")
        trainer.set_number_format(bits)
        fmt_note = (f"fixed point, profile '{profile.name}': weights {bits['weight_bits']} bits "
                    f"(stochastic rounding), state {bits['state_bits']} bits, traces "
                    f"{bits['trace_bits']} bits (see Trainer.set_number_format)")

    E = tr_spec.epochs
    n_tr, n_te = len(train.labels), len(test.labels)
    N = E * (n_tr + n_te)
    L = len(net.layers)
    sample_counts = K.zeros(L, N)
    mapping, mapping_note = place(net, profile, workload)
    # per-step counts are kept for the results file (re-pricing latency) unless they would take
    # more memory than STEP_COUNTS_MAX_BYTES (a VGG-11 epoch of CIFAR10-DVS would need ~0.4 GB)
    step_bytes = N * T * L * K.N_PHASES * K.N_ACTIONS * 8
    keep_steps = step_bytes <= STEP_COUNTS_MAX_BYTES
    all_steps = np.zeros((N, T, L, K.N_PHASES, K.N_ACTIONS) if keep_steps else (0,), np.int64)
    in_events = np.zeros((N, T), np.int64)
    sample_time = np.zeros(N, np.float64)
    duration = np.full(N, np.nan)                       # real time each recording spans (s)
    step_time_sum = np.zeros((2, T), np.float64)      # per split: sum over samples of step latency
    split = np.zeros(N, np.int8)
    epoch_of = np.zeros(N, np.int32)
    index = np.zeros(N, np.int32)
    label = np.zeros(N, np.int32)
    pred = np.zeros(N, np.int32)
    loss = np.zeros(N, np.float64)
    ep_stats = np.full((E, 4), np.nan)   # train loss, train acc, test loss, test acc
    pos = 0
    interrupted = False
    last_test_acc = None

    def record(ids, sp, ep, l_, osum, cnt, inp):
        nonlocal pos
        n = len(ids)
        sl = slice(pos, pos + n)
        steps = trainer.last_step_counts
        in_events[sl] = np.diff(inp.ptr[ids], axis=1)
        if mapping is not None:       # communication counts and the cycle model, per step
            add_communication(steps, in_events[sl], net, mapping)
            lat = step_latency(steps, net, mapping, profile)
            sample_time[sl] = lat.sum(axis=1)
            step_time_sum[sp] += lat.sum(axis=0)
            cnt = steps.sum(axis=1)
        if keep_steps:
            all_steps[sl] = steps
        sample_counts[sl] = cnt
        split[sl] = sp
        epoch_of[sl] = ep
        index[sl] = ids
        labs = (train if sp == SPLIT_TRAIN else test).labels[ids]
        label[sl] = labs
        pred[sl] = np.argmax(osum, axis=1)
        ds_ = train if sp == SPLIT_TRAIN else test
        if ds_.durations_s is not None:
            duration[sl] = ds_.durations_s[ids]
        loss[sl] = l_
        pos += n
        return int((pred[sl] == labs).sum())

    try:
        for ep in range(E):
            order = order_rng.permutation(n_tr)
            correct = 0
            start = pos
            for i in range(0, n_tr, B):
                ids = order[i:i + B]
                l_, osum, cnt = trainer.train_batch(inp_tr, inp_tr.ptr[ids], train.labels[ids])
                correct += record(ids, SPLIT_TRAIN, ep, l_, osum, cnt, inp_tr)
                if progress:
                    progress(Progress(ep, E, "train", min(i + B, n_tr), n_tr, correct,
                                      time.perf_counter() - t_start, last_test_acc))
            ep_stats[ep, 0] = loss[start:pos].mean()
            ep_stats[ep, 1] = correct / n_tr
            correct = 0
            start = pos
            for i in range(0, n_te, B):
                ids = np.arange(i, min(i + B, n_te))
                l_, osum, cnt = trainer.infer_batch(inp_te, inp_te.ptr[ids], test.labels[ids])
                correct += record(ids, SPLIT_TEST, ep, l_, osum, cnt, inp_te)
                if progress:
                    progress(Progress(ep, E, "test", ids[-1] + 1, n_te, correct,
                                      time.perf_counter() - t_start, last_test_acc))
            ep_stats[ep, 2] = loss[start:pos].mean()
            ep_stats[ep, 3] = last_test_acc = correct / n_te
    except KeyboardInterrupt:
        interrupted = True
        print("\nchipsim: interrupted; keeping the samples that finished.", file=sys.stderr)

    sl = slice(0, pos)
    footprint = net.footprint_bytes()
    if trainer.number_format:     # memory sizes follow the chip's widths
        nb = trainer.number_format
        params = sum(w.size for w in net.weights) + sum(b.size for b, ls in zip(net.biases, net.layers) if ls.bias)
        state = sum(ls.n_out for ls in net.layers if ls.spiking)
        footprint = -(-(params * nb["weight_bits"] + state * nb["state_bits"]) // 8)
    if mapping is not None:
        scope = getattr(profile, "static_power_scope", "chip")
        units = mapping.cores_used if scope == "core" else mapping.chips_used
        pricing = price(sample_counts[sl], profile, sample_time=sample_time[sl], static_units=units)
    else:
        pricing = price(sample_counts[sl], profile)
    n_split = np.array([(split[sl] == SPLIT_TRAIN).sum(), (split[sl] == SPLIT_TEST).sum()])
    chip_time = {}
    for sp, key in ((SPLIT_TRAIN, "train"), (SPLIT_TEST, "test")):
        m = split[sl] == sp
        if m.any():
            t_model = pricing.sample_time[m]
            chip_time[f"{key}_throughput_samples_per_s"] = float(1.0 / t_model.mean())
            chip_time[f"{key}_real_time_factor"] = float(np.nanmean(t_model / duration[sl][m]))
    step_time = step_time_sum / np.maximum(n_split, 1)[:, None]
    dsd = workload.dataset
    return RunResult(
        version=__version__,
        seed=int(tr_spec.seed),
        rule=workload.rule.name,
        workload_name=workload.name,
        workload_path=str(workload.path),
        workload_text=workload.text,
        profile_name=profile.name,
        profile_path=str(profile.path),
        profile_text=profile.text,
        dataset=train.description,
        time_steps=T,
        layer_names=tuple(ls.name for ls in net.layers),
        layer_binary_input=np.array([ls.binary_input for ls in net.layers], np.bool_),
        layer_neurons=np.array([ls.n_out for ls in net.layers], np.int64),
        layer_synapses=np.array([ls.synapses for ls in net.layers], np.int64),
        sample_counts=sample_counts[sl],
        sample_split=split[sl],
        sample_epoch=epoch_of[sl],
        sample_index=index[sl],
        sample_label=label[sl],
        sample_pred=pred[sl],
        sample_loss=loss[sl],
        epoch_train_loss=ep_stats[:, 0],
        epoch_train_acc=ep_stats[:, 1],
        epoch_test_loss=ep_stats[:, 2],
        epoch_test_acc=ep_stats[:, 3],
        learning_memory_bytes=trainer.learning_state_bytes,
        footprint_bytes=footprint,
        wall_time_s=time.perf_counter() - t_start,
        pricing=pricing,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        command=command,
        extra={
            "interrupted": int(interrupted),
            "gradient_buffer_bytes": trainer.gradient_buffer_bytes,
            "batch_size": B,
            "epochs": E,
            "train_samples": n_tr,
            "test_samples": n_te,
            "framing": dsd.framing,
            "downscale": dsd.downscale,
            "dtype": tr_spec.dtype,
            "neuron": repr(tuple(neuron)),
            "overrides": " ".join(f"{k}={v}" for k, v in workload.overrides),
            "overrides_json": json.dumps([[k, v] for k, v in workload.overrides]),
            "dataset_standin": int(uses_standin(workload.dataset)),
            "step_counts": ("kept" if keep_steps else f"not kept: {step_bytes / 2**20:.0f} MiB would exceed "
                            f"{STEP_COUNTS_MAX_BYTES / 2**20:.0f} MiB (re-pricing gives energy, not latency)"),
            "skipped_samples": " ".join(train.skipped + test.skipped),
            "normalization": NORMALIZATION_NOTE[getattr(workload.network, "normalization", "none")],
            "loss": workload.loss.kind,
            "number_format": fmt_note,
            **chip_time,
            "time_model": ("cycle-approximate (hardware/cycle.py) on the mapping" if mapping is not None
                           else "serial sum of per-action times; " + mapping_note),
            "step_latency_train_s": [float(x) for x in step_time[0]] if mapping is not None else [],
            "step_latency_test_s": [float(x) for x in step_time[1]] if mapping is not None else [],
            **(mapping.summary() if mapping is not None else {}),
        },
        step_counts=all_steps[sl] if keep_steps else None,
        input_events=in_events[sl],
    )
