"""run(workload, profile) -> RunResult, in three stages that run one way:

1. :func:`prepare`: load the data set (chipsim/data/load.py), build the network
   (chipsim/model/network.py) and the rule's trainer (chipsim/learning/);
2. :func:`simulate`: train online, one batch at a time (batch 1 by default, as a chip learns),
   test after every epoch, and record every sample's counts; it never sees the profile;
3. cost (chipsim/hardware/cost.py): map, route, time and price the counts on the profile, batch
   by batch as the simulation produces them, the same stage ``chipsim price`` uses.

Ctrl-C stops the run after the current batch and keeps what finished (the result says so).
"""

from __future__ import annotations

import datetime as _dt
import sys
import time
from dataclasses import dataclass

import numpy as np

from chipsim import __version__
from chipsim import counts as K
from chipsim.data.load import load_splits, uses_standin
from chipsim.errors import ChipsimError
from chipsim.hardware.cost import Coster
from chipsim.learning import make_trainer
from chipsim.model.inputs import channels_last, encode_frames
from chipsim.model.network import NORMALIZATION_NOTE, build_network
from chipsim.model.neuron import NeuronParams
from chipsim.needs import check_run
from chipsim.result import SPLIT_TEST, SPLIT_TRAIN, RunResult, Simulation

#: per-step counts are kept for re-pricing latency unless they would take more memory than
#: this (a VGG-11 epoch of CIFAR10-DVS would need ~0.4 GB)
STEP_COUNTS_MAX_BYTES = 256 * 2**20
NUMBER_FORMAT_BITS = ("weight_bits", "state_bits", "trace_bits")


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


@dataclass
class Prepared:
    """What simulate needs: the workload, its data as input events, the network, its trainer."""

    workload: object
    train: object                 # chipsim.data.framed.FramedDataset
    test: object
    inp_train: object             # chipsim.model.inputs.EventInput
    inp_test: object
    network: object               # chipsim.model.network.Network
    trainer: object               # chipsim.learning.trainer.Trainer
    order_rng: np.random.Generator
    number_format: str
    t_start: float


def number_format_bits(workload, profile) -> dict | None:
    """The chip's fixed-point widths when the workload asks for them (``training.number_format:
    chip``), else None (the simulator's floating point)."""
    if workload.training.number_format != "chip":
        return None
    bits = {k: int(q.value) for k, q in profile.precision.items()
            if k in NUMBER_FORMAT_BITS and q.value is not None}
    if len(bits) < len(NUMBER_FORMAT_BITS):
        raise ChipsimError(f"profile '{profile.name}' does not give weight, state and trace widths",
                           file=workload.path, field="training.number_format",
                           expected="'float', or a profile with precision.weight_bits, "
                           "state_bits and trace_bits")
    return bits


def prepare(workload, bits: dict | None = None, profile_name: str = "") -> Prepared:
    """Load the data, build the network and the trainer. ``bits``: the chip number format's
    widths (number_format_bits), None for floating point."""
    t_start = time.perf_counter()
    tr = workload.training
    rng = np.random.default_rng(tr.seed)
    check_run(workload, step_counts_max_bytes=STEP_COUNTS_MAX_BYTES)   # refuse what cannot fit
    train, test = load_splits(workload.dataset, workload.path)
    check_run(workload, train, test, step_counts_max_bytes=STEP_COUNTS_MAX_BYTES)  # + events
    binary = workload.dataset.framing == "binary"
    dtype = np.dtype(tr.dtype)
    inp_tr = encode_frames(channels_last(train.frames), binary, dtype)
    inp_te = encode_frames(channels_last(test.frames), binary, dtype)
    init_rng, order_rng, rule_rng = (np.random.default_rng(s) for s in rng.spawn(3))
    net = build_network(workload, train.input_shape, train.n_classes, init_rng)
    neuron = NeuronParams.from_spec(workload.neuron)
    trainer = make_trainer(workload.rule.name, net, neuron, workload.loss, tr, workload.rule,
                           workload.dataset.time_steps, tr.batch_size, rule_rng)
    note = f"floating point ({tr.dtype})"
    if bits:
        trainer.set_number_format(bits)
        note = (f"fixed point, profile '{profile_name}': weights {bits['weight_bits']} bits "
                f"(stochastic rounding), state {bits['state_bits']} bits, traces "
                f"{bits['trace_bits']} bits (see Trainer.set_number_format)")
    return Prepared(workload, train, test, inp_tr, inp_te, net, trainer, order_rng, note, t_start)


def simulate(p: Prepared, *, progress=None, observe=None) -> Simulation:
    """Train and test online; every sample's counts. ``observe(step_counts, input_events,
    split)`` is called after every batch (the cost stage), ``progress(Progress)`` too."""
    w, trainer, net = p.workload, p.trainer, p.network
    T, B, E = w.dataset.time_steps, w.training.batch_size, w.training.epochs
    train, test = p.train, p.test
    n_tr, n_te = len(train.labels), len(test.labels)
    N, L = E * (n_tr + n_te), len(net.layers)
    step_bytes = N * T * L * K.N_PHASES * K.N_ACTIONS * 8
    keep_steps = step_bytes <= STEP_COUNTS_MAX_BYTES
    rec = dict(counts=K.zeros(L, N), steps=np.zeros((N, T, L, K.N_PHASES, K.N_ACTIONS) if keep_steps
                                                    else (0,), np.int64),
               events=np.zeros((N, T), np.int64), split=np.zeros(N, np.int8),
               epoch=np.zeros(N, np.int32), index=np.zeros(N, np.int32), label=np.zeros(N, np.int32),
               pred=np.zeros(N, np.int32), loss=np.zeros(N, np.float64), duration=np.full(N, np.nan))
    ep_stats = np.full((E, 4), np.nan)   # train loss, train acc, test loss, test acc
    pos, interrupted, last_test_acc = 0, False, None

    def record(ids, sp, ep, loss, osum, cnt, inp, ds):
        nonlocal pos
        sl = slice(pos, pos + len(ids))
        steps = trainer.last_step_counts
        rec["events"][sl] = np.diff(inp.ptr[ids], axis=1)
        if observe is not None:
            observe(steps, rec["events"][sl], sp)
        if keep_steps:
            rec["steps"][sl] = steps
        rec["counts"][sl] = cnt
        rec["split"][sl], rec["epoch"][sl], rec["index"][sl] = sp, ep, ids
        rec["label"][sl] = ds.labels[ids]
        rec["pred"][sl] = np.argmax(osum, axis=1)
        if ds.durations_s is not None:
            rec["duration"][sl] = ds.durations_s[ids]
        rec["loss"][sl] = loss
        pos += len(ids)
        return int((rec["pred"][sl] == rec["label"][sl]).sum())

    def elapsed():
        return time.perf_counter() - p.t_start

    try:
        for ep in range(E):
            order, correct, start = p.order_rng.permutation(n_tr), 0, pos
            for i in range(0, n_tr, B):
                ids = order[i:i + B]
                out = trainer.train_batch(p.inp_train, p.inp_train.ptr[ids], train.labels[ids])
                correct += record(ids, SPLIT_TRAIN, ep, *out, p.inp_train, train)
                if progress:
                    progress(Progress(ep, E, "train", min(i + B, n_tr), n_tr, correct, elapsed(),
                                      last_test_acc))
            ep_stats[ep, :2] = rec["loss"][start:pos].mean(), correct / n_tr
            correct, start = 0, pos
            for i in range(0, n_te, B):
                ids = np.arange(i, min(i + B, n_te))
                out = trainer.infer_batch(p.inp_test, p.inp_test.ptr[ids], test.labels[ids])
                correct += record(ids, SPLIT_TEST, ep, *out, p.inp_test, test)
                if progress:
                    progress(Progress(ep, E, "test", ids[-1] + 1, n_te, correct, elapsed(),
                                      last_test_acc))
            ep_stats[ep, 2] = rec["loss"][start:pos].mean()
            ep_stats[ep, 3] = last_test_acc = correct / n_te
    except KeyboardInterrupt:
        interrupted = True
        print("\nchipsim: interrupted; keeping the samples that finished.", file=sys.stderr)

    sl = slice(0, pos)
    d = w.dataset
    return Simulation(
        workload_name=w.name, workload_path=str(w.path), workload_text=w.text,
        overrides=tuple(w.overrides), rule=w.rule.name, dataset=train.description,
        dataset_standin=uses_standin(d), skipped_samples=tuple(train.skipped + test.skipped),
        time_steps=T, seed=int(w.training.seed), batch_size=B, epochs=E, train_samples=n_tr,
        test_samples=n_te, framing=d.framing, dtype=w.training.dtype,
        neuron=repr(tuple(trainer.neuron)), loss=w.loss.kind,
        normalization=NORMALIZATION_NOTE[w.network.normalization], number_format=p.number_format,
        layers=tuple(net.layers), requested_mapping=tuple(w.mapping), sample_counts=rec["counts"][sl],
        step_counts=rec["steps"][sl] if keep_steps else None,
        step_counts_note=("kept" if keep_steps else
                          f"not kept: {step_bytes / 2**20:.0f} MiB would exceed "
                          f"{STEP_COUNTS_MAX_BYTES / 2**20:.0f} MiB (re-pricing gives energy, not latency)"),
        input_events=rec["events"][sl], sample_split=rec["split"][sl], sample_epoch=rec["epoch"][sl],
        sample_index=rec["index"][sl], sample_label=rec["label"][sl], sample_pred=rec["pred"][sl],
        sample_loss=rec["loss"][sl], sample_duration=rec["duration"][sl],
        epoch_train_loss=ep_stats[:, 0], epoch_train_acc=ep_stats[:, 1],
        epoch_test_loss=ep_stats[:, 2], epoch_test_acc=ep_stats[:, 3],
        learning_memory_bytes=trainer.learning_state_bytes,
        gradient_buffer_bytes=trainer.gradient_buffer_bytes,
        footprint_bytes=net.footprint_bytes(trainer.number_format), wall_time_s=elapsed(),
        interrupted=interrupted,
        weights=tuple(zip(net.weights, net.biases)))


def run(workload, profile, *, progress=None, command: str = "") -> RunResult:
    """Train and test ``workload`` online and cost its counts on ``profile``."""
    prep = prepare(workload, number_format_bits(workload, profile), profile.name)
    coster = Coster(profile, prep.network.layers, workload.dataset.time_steps,
                    dict(workload.mapping), workload.path)     # refuses a network that does not fit
    sim = simulate(prep, progress=progress, observe=coster.observe)
    return RunResult(version=__version__,
                     created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                     command=command, sim=sim, cost=coster.finish(sim))
