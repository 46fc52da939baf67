"""The simulation stage of a run: :func:`prepare` (load the data set, build the network and the
rule's trainer) and :func:`simulate` (train online, one batch at a time, test after every
epoch, record every sample's counts; it never sees the profile).

chipsim/engine.py chains them with the cost stage into ``run``; a sweep's workers
(chipsim/sweep/tasks.py) run them alone and price the counts on each point's profile. Both
then produce the same simulation, bit for bit.

Ctrl-C stops a simulation after the current batch and keeps what finished (the result says
so); so does a stop requested through ``interrupts`` (the CLI's SIGINT and SIGTERM handling),
and so do numbers that go wrong: a batch whose loss or readout sums are NaN or inf, or weights
that hold NaN or inf at the end of an epoch's training, stop it with an error naming the epoch
and the sample; the batch that went wrong is not kept.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np

from chipsim import counts as K
from chipsim.data.load import load_splits, uses_standin
from chipsim.errors import ChipsimError
from chipsim.learning import make_trainer
from chipsim.model.inputs import channels_last, encode_frames
from chipsim.model.network import NORMALIZATION_NOTE, build_network, neuron_params
from chipsim.needs import check_run
from chipsim.result import SPLIT_TEST, SPLIT_TRAIN, Simulation

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
    stopped: str = ""             # why simulate stopped before the end (numbers went non-finite)


class Diverged(Exception):
    """Training produced NaN or inf (simulate stops and keeps the samples that finished)."""


def _nonfinite_layers(net) -> list[str]:
    """The layers whose weights or biases hold NaN or inf."""
    return [ls.name for ls, W, b in zip(net.layers, net.weights, net.biases)
            if not (np.isfinite(W).all() and np.isfinite(b).all())]


def _check_batch(net, loss, osum, ids, first: int, where: str) -> None:
    """Raise Diverged naming the first sample of a batch whose loss or readout sums are NaN or
    inf (``first``: the batch's position in its phase of the epoch)."""
    bad = np.flatnonzero(~np.isfinite(loss) | ~np.isfinite(osum).all(axis=1))
    if len(bad):
        j = int(bad[0])
        what = f"loss is {loss[j]}" if not np.isfinite(loss[j]) else "readout sums are not finite"
        layers = _nonfinite_layers(net)
        raise Diverged(f"{where} sample {first + j + 1} (data set index {int(ids[j])}): its {what}"
                       + (f"; the weights of {', '.join(layers)} hold NaN or inf" if layers else ""))


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
    neuron = neuron_params(workload, train.input_shape, train.n_classes)
    try:
        trainer = make_trainer(workload.rule.name, net, neuron, workload.loss, tr, workload.rule,
                               workload.dataset.time_steps, tr.batch_size, rule_rng)
    except ValueError as e:                   # a rule and neurons that do not go together
        raise ChipsimError(str(e), file=workload.path, field="rule.name",
                           expected="a rule that takes this network's neurons") from None
    note = f"floating point ({tr.dtype})"
    if bits:
        trainer.set_number_format(bits)
        note = (f"fixed point, profile '{profile_name}': weights {bits['weight_bits']} bits "
                f"(stochastic rounding), state {bits['state_bits']} bits, traces "
                f"{bits['trace_bits']} bits (see Trainer.set_number_format)")
    return Prepared(workload, train, test, inp_tr, inp_te, net, trainer, order_rng, note, t_start)


@dataclass
class Resume:
    """Where a checkpoint left the simulation loop (see :func:`simulate`)."""

    loop: dict                    # the checkpoint meta's "loop" entry
    arrays: dict                  # its "loop.*" and "rec.*" arrays
    path: str                     # the checkpoint file (for messages)


def simulate(p: Prepared, *, progress=None, observe=None, interrupts=None, save=None,
             every: int | None = None, resume: Resume | None = None) -> Simulation:
    """Train and test online; every sample's counts. ``observe(step_counts, input_events,
    split)`` is called after every batch (the cost stage), ``progress(Progress)`` too.

    ``interrupts``: None, or an object with ``defer()``, called once as the loop starts (from
    then on a stop is a request, honoured between batches), and ``requested()``, asked after
    every batch: True stops the run there as Ctrl-C does. ``save(meta, arrays)``: called
    between batches with the loop's state (``meta["loop"]``, ``loop.*`` and ``rec.*`` arrays)
    at the end of every epoch (``every`` None) or whenever ``every`` more samples have
    finished (0: never), and when the run is stopped. ``resume``: continue from such a state
    (the caller has restored the trainer, the sample order's generator and the cost stage)."""
    w, trainer, net = p.workload, p.trainer, p.network
    T, B, E = w.dataset.time_steps, w.training.batch_size, w.training.epochs
    train, test = p.train, p.test
    n_tr, n_te = len(train.labels), len(test.labels)
    if not trainer.rule.learns:          # rule none: the test split once, forward only
        E, n_tr = 1, 0
    N, L = E * (n_tr + n_te), len(net.layers)
    step_bytes = N * T * L * K.N_PHASES * K.N_ACTIONS * 8
    keep_steps = step_bytes <= STEP_COUNTS_MAX_BYTES
    rec = dict(counts=K.zeros(L, N), steps=np.zeros((N, T, L, K.N_PHASES, K.N_ACTIONS) if keep_steps
                                                    else (0,), np.int64),
               events=np.zeros((N, T), np.int64), split=np.zeros(N, np.int8),
               epoch=np.zeros(N, np.int32), index=np.zeros(N, np.int32), label=np.zeros(N, np.int32),
               pred=np.zeros(N, np.int32), loss=np.zeros(N, np.float64), duration=np.full(N, np.nan))
    kept = [k for k in rec if k != "steps" or keep_steps]
    ep_stats = np.full((E, 4), np.nan)   # train loss, train acc, test loss, test acc
    pos, interrupted, last_test_acc = 0, False, None
    # where the loop resumes: epoch, split, first batch, the epoch's order, correct and first
    # sample of the split so far; the wall time before
    ep0, split0, next0, order0, correct0, start0, before = 0, SPLIT_TRAIN, 0, None, 0, 0, 0.0
    if resume is not None:
        pos, ep0, split0, next0, order0, correct0, start0, last_test_acc, before = \
            _resumed(resume, rec, kept, ep_stats, E, n_tr, n_te)
    saved = pos                          # samples the last checkpoint holds
    cursor = None                        # where the loop stands between batches (None: in one)

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
        return before + time.perf_counter() - p.t_start

    def checkpoint():
        nonlocal saved
        ep, sp, nxt, order, correct, start = cursor
        meta = {"loop": {"epoch": ep, "split": sp, "next": nxt, "correct": correct, "start": start,
                         "pos": pos, "last_test_acc": last_test_acc, "elapsed": elapsed()}}
        arrays = {"loop.ep_stats": ep_stats}
        if order is not None:
            arrays["loop.order"] = order
        arrays.update({f"rec.{k}": rec[k][:pos] for k in kept})
        try:
            save(meta, arrays)
        except ChipsimError as e:
            print(f"chipsim: warning: {e}; the run goes on without it", file=sys.stderr)
            return
        saved = pos

    def between_batches():
        if save is not None and every and pos // every > saved // every:
            checkpoint()
        if interrupts is not None and interrupts.requested():
            raise KeyboardInterrupt

    if interrupts is not None:           # before the try: a stop before this is no interrupt
        interrupts.defer()
    try:
        for ep in range(ep0, E):
            here = resume is not None and ep == ep0        # the epoch the checkpoint was in
            if not here or split0 == SPLIT_TRAIN:
                if here and next0 > 0:
                    order, correct, start = order0, correct0, start0
                else:
                    order, correct, start = p.order_rng.permutation(n_tr), 0, pos
                for i in range(next0 if here else 0, n_tr, B):
                    cursor = None
                    ids = order[i:i + B]
                    out = trainer.train_batch(p.inp_train, p.inp_train.ptr[ids], train.labels[ids])
                    _check_batch(net, *out[:2], ids, i, f"epoch {ep + 1}, training")
                    correct += record(ids, SPLIT_TRAIN, ep, *out, p.inp_train, train)
                    cursor = (ep, SPLIT_TRAIN, i + B, order, correct, start)
                    if progress:
                        progress(Progress(ep, E, "train", min(i + B, n_tr), n_tr, correct, elapsed(),
                                          last_test_acc))
                    between_batches()
                if n_tr:
                    ep_stats[ep, :2] = rec["loss"][start:pos].mean(), correct / n_tr
                if layers := _nonfinite_layers(net):
                    raise Diverged(f"after the training samples of epoch {ep + 1}, the weights of "
                                   f"{', '.join(layers)} hold NaN or inf (every loss was finite)")
                first, correct, start = 0, 0, pos
            else:
                first, correct, start = next0, correct0, start0
            for i in range(first, n_te, B):
                cursor = None
                ids = np.arange(i, min(i + B, n_te))
                out = trainer.infer_batch(p.inp_test, p.inp_test.ptr[ids], test.labels[ids])
                _check_batch(net, *out[:2], ids, i, f"epoch {ep + 1}, test")
                correct += record(ids, SPLIT_TEST, ep, *out, p.inp_test, test)
                cursor = (ep, SPLIT_TEST, i + B, None, correct, start)
                if progress:
                    progress(Progress(ep, E, "test", ids[-1] + 1, n_te, correct, elapsed(),
                                      last_test_acc))
                between_batches()
            ep_stats[ep, 2] = rec["loss"][start:pos].mean()
            ep_stats[ep, 3] = last_test_acc = correct / n_te
            cursor = (ep + 1, SPLIT_TRAIN, 0, None, 0, pos)
            if save is not None and every is None:
                checkpoint()
    except KeyboardInterrupt:
        interrupted = True
        print("\nchipsim: interrupted; keeping the samples that finished.", file=sys.stderr)
        if save is not None and every != 0 and cursor is not None and pos != saved:
            checkpoint()
    except Diverged as exc:
        # no checkpoint: resuming would run the same numbers into the same NaN
        interrupted = True
        p.stopped = f"training diverged: {exc}"
        print(f"\nchipsim: error: {p.stopped}; stopped, keeping the {pos} samples that finished",
              file=sys.stderr)

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
        footprint_bytes=net.footprint_bytes(trainer.number_format) + trainer.feedback_bytes,
        wall_time_s=elapsed(),
        interrupted=interrupted,
        weights=tuple(zip(net.weights, net.biases)), neurons=_layer_neurons(net, trainer),
        readout_li=net.readout_li)


def _layer_neurons(net, trainer) -> tuple:
    """Every LIF layer's neurons as the kernels ran them (Simulation.neurons)."""
    rec, out = trainer.neurons, []
    for i, ls in enumerate(net.lif_layers):
        o = int(trainer.layout["o_E"][i])
        sl = slice(o, o + ls.n_out)
        out.append(dict(lam=rec.lam[sl].copy(), theta=rec.theta[sl].copy(), cin=rec.cin[sl].copy(),
                        vr=rec.vr[sl].copy(), soft=bool(rec.soft[i]), h0=bool(rec.h0[i]),
                        syn=rec.syn[sl].copy() if rec.cuba[i] else None))
    return tuple(out)


def _resumed(r: Resume, rec: dict, kept: list, ep_stats: np.ndarray, E: int, n_tr: int, n_te: int):
    """Put a checkpoint's records back into ``rec`` and ``ep_stats``; the loop's position."""
    try:
        lp, a = r.loop, r.arrays
        pos = int(lp["pos"])
        ep, sp, nxt = int(lp["epoch"]), int(lp["split"]), int(lp["next"])
        if not (0 <= pos <= len(rec["split"]) and 0 <= ep <= E and sp in (SPLIT_TRAIN, SPLIT_TEST)
                and 0 <= nxt):
            raise ValueError(f"position {pos} samples, epoch {ep}, split {sp}, batch {nxt}")
        if set(a) != {f"rec.{k}" for k in kept} | {"loop.ep_stats"} | (
                {"loop.order"} if "loop.order" in a else set()):
            raise ValueError("its records are not those of this run "
                             "(per-step counts kept in one and not the other?)")
        for k in kept:
            got, want = a[f"rec.{k}"], rec[k][:pos]
            if got.shape != want.shape or got.dtype != want.dtype:
                raise ValueError(f"rec.{k}: {got.dtype}{list(got.shape)}, expected "
                                 f"{want.dtype}{list(want.shape)}")
        if a["loop.ep_stats"].shape != ep_stats.shape:
            raise ValueError(f"{a['loop.ep_stats'].shape[0]} epochs, this run has {E}")
        order = a.get("loop.order")
        if sp == SPLIT_TRAIN and nxt > 0 and (order is None or sorted(order) != list(range(n_tr))):
            raise ValueError(f"no order of the {n_tr} training samples")
        for k in kept:
            rec[k][:pos] = a[f"rec.{k}"]
        ep_stats[...] = a["loop.ep_stats"]
        acc = lp["last_test_acc"]
        return (pos, ep, sp, nxt, order, int(lp["correct"]), int(lp["start"]),
                None if acc is None else float(acc), float(lp["elapsed"]))
    except (KeyError, TypeError, ValueError) as e:
        raise ChipsimError(f"the checkpoint does not fit this run ({e})", file=r.path,
                           field="--resume", expected="a checkpoint of this run") from None
