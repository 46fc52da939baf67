"""What a run needs in memory, estimated before anything large is allocated.

:func:`check_run` is called by the simulation stage twice (chipsim/simulation.py ``prepare``):

1. before the data are loaded, from the workload alone: the framed data (samples x T x input
   size, the samples counted by listing the files, chipsim/data/load.py ``count_splits``), the
   copies made while framing and encoding, the input events' offsets, the network's weights
   (:meth:`~chipsim.model.network.Network.plan`: layer shapes, no weights), the trainer's arenas
   and work arrays (:func:`~chipsim.learning.trainer.trainer_bytes`), every batch's per-step
   counts, and the run's records (counts per sample, N x L x 2 x 28 int64; per-step counts when
   they are kept; per-step input events, router hops and chip messages, N x T x (1 + 2L) int64);
2. after framing, when the frames are in memory: the input event lists, whose size depends on
   how many frame entries are non-zero (counted exactly), with everything still to come.

Each contributor is a :class:`~chipsim.memory.Need` naming the workload field that drives it;
:func:`chipsim.memory.check` refuses the run when they add up to more than the memory
available, naming the largest one. The estimates are what the code allocates (tests compare
them with it), rounded up where a transient copy may or may not overlap; what is not counted is
small beside these (the process itself, Numba's code, the cost stage's per-layer figures) or
bounded elsewhere (an event file's decoded events: chipsim/data/aedat.py).
"""

from __future__ import annotations

import numpy as np

from chipsim import counts as K
from chipsim.data.load import count_splits
from chipsim.data.registry import N_CLASSES, SENSORS, input_side
from chipsim.kernels.records import ROUTE_TEMPORAL, Optimizer
from chipsim.learning import RULES
from chipsim.learning.trainer import trainer_bytes
from chipsim.memory import Need, check, human
from chipsim.model.network import neuron_params, plan_network

_I64 = 8


def _layer_fields(workload, topo) -> list[str]:
    """The workload field that sizes each layer of ``topo``: a conv or dense layer's own
    ``channels`` / ``units``; the readout and an auxiliary classifier the layer they read."""
    if workload.network.nir is not None:
        return ["network.nir"] * len(topo.layers)
    lif = [f"network.hidden.{i}.{'channels' if op.kind == 'conv' else 'units'}"
           for i, op in enumerate(workload.network.hidden) if op.kind in ("conv", "dense")]
    out = []
    for ls in topo.layers:
        j = len(out) if ls.spiking else ls.src - 1
        out.append(lif[j] if 0 <= j < len(lif) else "network.hidden")
    return out


def run_needs(workload, n_framed: tuple[int, int], n_kept: tuple[int, int], input_shape,
              n_classes: int, *, events: tuple[int, int] | None = None,
              step_counts_max_bytes: int = 0, framed: bool = False) -> list[Need]:
    """The run's memory contributors (see the module docstring). ``n_framed``: samples of
    (train, test) framed at once; ``n_kept``: those the run uses; ``input_shape``: (P, H, W);
    ``events``: non-zero frame entries of (train, test) once known; ``framed``: the frames are
    already in memory (not counted again); ``step_counts_max_bytes``: the engine's bound on the
    per-step counts it keeps."""
    d, tr = workload.dataset, workload.training
    T, B, E = int(d.time_steps), int(tr.batch_size), int(tr.epochs)
    P, H, W = (int(v) for v in input_shape)
    cells = P * H * W
    binary = d.framing == "binary"
    fitem = 1 if binary else 4                       # uint8 0/1 or int32 counts
    dtype = np.dtype(tr.dtype)
    shape = f"{P}x{H}x{W}"
    fdtype = "uint8" if binary else "int32"
    T_field = "dataset.time_steps"
    per_sample = T_field
    needs: list[Need] = []

    # --- data: the frames (the larger split is copied channels-last while it is encoded),
    # framing one sample (its per-cell counts, int64), the event lists and their offsets
    split_bytes = [n * T * cells * fitem for n in n_framed]
    larger = int(np.argmax(split_bytes))
    for i, (name, n) in enumerate((("training", n_framed[0]), ("test", n_framed[1]))):
        copy = i == larger
        frames = f"the framed {name} set ({n} samples x {T} steps x {shape} inputs, {fdtype})"
        if framed:
            if copy:
                needs.append(Need(f"the copy of {frames} made while encoding it", per_sample,
                                  split_bytes[i]))
        else:
            needs.append(Need(frames + (" and its copy while encoding it" if copy else ""),
                              per_sample, split_bytes[i] * (2 if copy else 1)))
    if not framed:
        needs.append(Need(f"framing one sample ({T} steps x {shape} cells, int64 counts)",
                          T_field, T * cells * (_I64 + fitem)))
    # (N, T+1) int64 offsets kept; (N, T) int64 twice while a split is encoded
    needs.append(Need(f"the input events' per-step offsets ({sum(n_framed)} samples x {T} "
                      "steps, int64)", T_field,
                      sum(n * (T + 1) * _I64 for n in n_framed) + 3 * max(n_framed) * T * _I64))
    if events is not None:
        # index (int64) and value kept; row, column (int64) and value while a split is encoded
        needs.append(Need(f"the input event lists ({sum(events)} non-zero frame entries)",
                          per_sample, sum(events) * (_I64 + dtype.itemsize)
                          + max(events) * (3 * _I64 + fitem)))

    # --- the network's weights and biases
    topo = plan_network(workload, (P, H, W), n_classes)
    fields = _layer_fields(workload, topo)
    layer_bytes = [(ls.synapses + ls.out[2]) * dtype.itemsize for ls in topo.layers]
    big = int(np.argmax(layer_bytes))
    # built layer by layer: the arenas and one layer's float64 draw (or, later, the chip number
    # format's rounding temporaries of one layer)
    largest_draw = max(ls.synapses for ls in topo.layers) * 8
    needs.append(Need(f"the network's weights ({topo.parameter_count()} parameters, "
                      f"{dtype.name}; the largest layer, {topo.layers[big].name}, "
                      f"{human(layer_bytes[big])})", fields[big],
                      sum(layer_bytes) + largest_draw))

    # --- the trainer: arenas, run_batch's work arrays, a batch's per-step counts
    rule = RULES[workload.rule.name](workload.rule, neuron_params(workload, (P, H, W), n_classes), T)
    optim = Optimizer(lr=float(tr.lr), momentum=float(tr.momentum), wd=float(tr.weight_decay))
    tb = trainer_bytes(topo, rule, optim, T, B, dtype)
    temporal = rule.route == ROUTE_TEMPORAL
    window_field = "rule.window" if workload.rule.name == "tbptt_local" else T_field
    buf_field = window_field if temporal else ("training.batch_size" if B > 1 else fields[big])
    needs.append(Need(f"the trainer's buffers (rule {workload.rule.name}, batch {B})",
                      buf_field, tb["buffers"]))
    needs.append(Need(f"the trainer's work arrays (rule {workload.rule.name})",
                      T_field if temporal else fields[big], tb["scratch"]))
    L = len(topo.layers)
    needs.append(Need(f"a batch's per-step counts ({B} samples x {T} steps x {L} layers x "
                      f"{K.N_PHASES} phases x {K.N_ACTIONS} actions, int64)",
                      "training.batch_size" if B > 1 else T_field, tb["counts"]))

    # --- the run's records (simulation.simulate and the cost stage)
    N = E * sum(n_kept)
    row = L * K.N_PHASES * K.N_ACTIONS * _I64
    needs.append(Need(f"the run's per-sample counts ({E} epochs x {sum(n_kept)} samples x {L} "
                      f"layers x {K.N_PHASES} x {K.N_ACTIONS}, int64)", "training.epochs",
                      N * row + N * 64))
    step_bytes = N * T * row
    if step_bytes <= step_counts_max_bytes:
        needs.append(Need(f"the per-step counts kept for re-pricing ({N} samples x {T} steps)",
                          T_field, step_bytes))
    # input events per step (N, T) int64; router hops and chip messages (N, T, L) int64 each,
    # kept per batch and concatenated at the end
    steps_field = T_field if T >= E else "training.epochs"
    needs.append(Need(f"the run's per-step records ({N} samples x {T} steps: input events, and "
                      f"router hops and chip messages per layer, int64)", steps_field,
                      N * T * _I64 * (1 + 4 * L)))
    return needs


def check_run(workload, train=None, test=None, *, step_counts_max_bytes: int = 0) -> None:
    """Refuse ``workload`` (ChipsimError naming its file, the field of the largest contributor,
    its estimate and the memory available) when the run would not fit in memory.

    Without ``train``/``test``: before loading, from the workload and the listed files. With
    the loaded FramedDatasets: the input event lists and everything still to be allocated."""
    d = workload.dataset
    hint = ("a smaller {field}, fewer samples (dataset.train_samples, dataset.test_samples), a "
            "smaller network or batch, or more memory; CHIPSIM_MAX_MEMORY sets the figure used")
    if train is None:
        n_framed = count_splits(d, workload.path)
        input_shape = (SENSORS[d.name][0],) + tuple(input_side(d.name, d.size, d.downscale))
        n_classes, events = N_CLASSES[d.name], None
    else:
        n_framed = (int(train.frames.shape[0]), int(test.frames.shape[0]))
        input_shape, n_classes = train.input_shape, train.n_classes
        events = (int(np.count_nonzero(train.frames)), int(np.count_nonzero(test.frames)))
    limits = (d.train_samples, d.test_samples)
    n_kept = tuple(n if lim is None else min(n, int(lim)) for n, lim in zip(n_framed, limits))
    needs = run_needs(workload, n_framed, n_kept, input_shape, n_classes, events=events,
                      step_counts_max_bytes=step_counts_max_bytes, framed=train is not None)
    check(needs, file=workload.path, expected=hint)
