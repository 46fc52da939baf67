"""Threads (issue 12, part 1): a batch split over 1, 2 or 3 workers gives bit-identical
counts, weights, biases, losses and outputs, for every rule, on dense and convolutional
networks, with the splits the kernels make (whole samples; weight-gradient column blocks,
several per layer), uneven shares, momentum, dropout and max pooling, the chip's number
format, a batch-1 layer large enough to be split by columns, a batch-level product shared by
blocks of output rows, uneven rounds of batch-level products shared by rows, sparse
sample-steps' gradients between the products (shared by input channels), batch-level
products one chunk per worker, a batch-1 sample whose steps are pipelined on two workers
(with OTTT_A's error pass after the forward on a layer of VGG's size), and a batch-1 sample
whose forward is shared by blocks of output rows (loop._coop_forward)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from numba import njit

from chipsim import threads
from chipsim.kernels.arrays import zeros_aligned
from chipsim.kernels.loop import _stack_pairs
from chipsim.kernels.records import ROLE_LIF, WGRAD_BLOCK
from chipsim.learning.trainer import layout, pipelined, trainer_bytes
from chipsim.model.inputs import encode_frames
from chipsim.model.network import Network
from tests.helpers import neuron, trainer

T = 4
C = 5

NETS = {
    # a hidden layer of 2 1/2 column blocks: shares of whole blocks, one partly filled
    "mlp": ((40,), [dict(kind="dense", units=WGRAD_BLOCK * 2 + 9, bias=True),
                    dict(kind="dense", units=12, bias=False)], 3.0),
    # a hidden layer of 76,800 weights (>= loop.APPLY_SPLIT): its plain-SGD update is shared
    # by rows over the workers (loop._apply; the bias after, on one thread)
    "big": ((300,), [dict(kind="dense", units=256, bias=True),
                     dict(kind="dense", units=12, bias=False)], 3.0),
    # the same with one column block (40 units): the update is shared by rows instead
    "bigrows": ((2100,), [dict(kind="dense", units=40, bias=True),
                          dict(kind="dense", units=12, bias=False)], 3.0),
    # 2 blocks of output channels, dense input traces (the product path), dropout, max pooling
    "conv": ((6, 6, 2), [dict(kind="conv", channels=WGRAD_BLOCK + 16, kernel=3, stride=1,
                              padding=1, bias=True),
                         dict(kind="dropout", p=0.2), dict(kind="maxpool", size=2),
                         dict(kind="conv", channels=6, kernel=3, stride=1, padding=1, bias=False),
                         dict(kind="avgpool", size=3), dict(kind="flatten")], 3.0),
    # BPTT's weight-gradient product at batch 3 (12 sample-steps of 36 rows, 288 x 144: 17.9 M
    # multiply-accumulates, at least BLOCK_MACS) is computed in fixed blocks of output rows,
    # which the workers share (one chunk: fewer chunks than workers, loop._chunk_units)
    "wide": ((6, 6, 32), [dict(kind="conv", channels=2 * WGRAD_BLOCK + 16, kernel=3, stride=1,
                               padding=1, bias=True), dict(kind="avgpool", size=3),
                          dict(kind="flatten")], 3.0),
    # chunks of 8 sample-steps (121 positions each; the largest power of two of them within
    # records.STACK_ROWS, loop._stack_pairs): BPTT's 12 sample-steps at batch 3 are chunks of
    # 8 and 4, whose products the workers share in one uneven round
    "uneven": ((11, 11, 8), [dict(kind="conv", channels=80, kernel=3, stride=1, padding=1,
                                  bias=True), dict(kind="avgpool", size=11),
                             dict(kind="flatten")], 3.0),
    # sparse input spikes (6 %): most sample-steps are too sparse for a product, so their
    # gradients follow the products of the denser ones event by event, in order
    "sparse": ((12, 12, 2), [dict(kind="conv", channels=24, kernel=3, stride=1, padding=1,
                                  bias=True), dict(kind="avgpool", size=4),
                             dict(kind="flatten")], 3.0),
    # the same with 5 input channels: the event-by-event gradient after each round's
    # products is shared by input channels, unevenly (2 workers: 2 and 3; 3 workers: 1, 2, 2)
    "sparse5": ((12, 12, 5), [dict(kind="conv", channels=24, kernel=3, stride=1, padding=1,
                                   bias=True), dict(kind="avgpool", size=4),
                              dict(kind="flatten")], 3.0),
    # a layer of VGG's size (16,384 neurons x 288 rows: 4.7 M multiply-accumulates a step, at
    # least loop.SPLIT_MACS): a pipelined OTTT_A sample at batch 1 runs its error pass on
    # worker 0 after the forward (loop._pipe_error_first)
    "vggsize": ((16, 16, 32), [dict(kind="conv", channels=64, kernel=3, stride=1, padding=1,
                                    bias=True), dict(kind="avgpool", size=8),
                               dict(kind="flatten")], 3.0),
    # a map of more than STACK_ROWS positions: each sample-step is a chunk of its own, so the
    # stacked products run in rounds of one chunk per worker (loop._chunk_units)
    "tall": ((46, 46, 2), [dict(kind="conv", channels=16, kernel=3, stride=1, padding=1,
                                bias=True), dict(kind="avgpool", size=23),
                           dict(kind="flatten")], 3.0),
    # two convolutions whose chunks differ in size (the first 1,600 positions, one sample-step
    # a chunk; the second 100, eight a chunk, three times the first's im2col and gradient):
    # the stack is sized for the second's, so a round of the first holds several chunks
    # (loop._round_chunks; BPTT's at batch 3: 3, 6 and 9 at 1, 2 and 3 workers), whose
    # products the workers take in equal parts, in order; the second's 12 are chunks of 8 and 4
    "two": ((40, 40, 2), [dict(kind="conv", channels=12, kernel=3, stride=1, padding=1,
                               bias=True), dict(kind="avgpool", size=4),
                          dict(kind="conv", channels=72, kernel=3, stride=1, padding=1,
                               bias=False), dict(kind="avgpool", size=10),
                          dict(kind="flatten")], 3.0),
}


DENSITY = {"sparse": 0.06, "sparse5": 0.06}


def _problem(name, N, seed=0, density=0.4):
    shape, ops, gain = NETS[name]
    density = DENSITY.get(name, density)
    rng = np.random.default_rng(seed)
    frames = (rng.random((N, T) + shape) < density).astype(np.uint8)
    labels = rng.integers(0, C, N)
    if len(shape) == 1:
        net = Network.build_dense(shape[0], True, [(o["units"], o["bias"]) for o in ops], C, True,
                                  np.random.default_rng(seed + 1), gain=gain)
    else:
        net = Network.build(shape, True, ops, C, True, np.random.default_rng(seed + 1), gain=gain)
    return net, labels, encode_frames(frames, True)


def _run(name, rule, workers, B, *, momentum=0.0, bits=None, preset="ottt", seed=0, k=None,
         window=None, chooser=None):
    net, labels, inp = _problem(name, 2 * B, seed)
    nrn, _ = neuron(preset)
    tr = trainer(rule, net, nrn, T=T, B=B, lr=0.3, momentum=momentum, bits=bits, seed=seed,
                 workers=workers, **({} if k is None else dict(k=k)),
                 **({} if window is None else dict(window=window)))
    if chooser is not None:
        tr._chooser = chooser
    w0 = tr.params.w.copy()
    out = []
    for i in (0, B):
        loss, osum, cnt = tr.train_batch(inp, inp.ptr[i:i + B], labels[i:i + B])
        out += [loss, osum, cnt, tr.last_step_counts.copy()]
    out += list(tr.infer_batch(inp, inp.ptr[:B], labels[:B]))
    assert not np.array_equal(w0, tr.params.w), "the weights must move"
    assert (out[3][..., 1, :] > 0).any(), "learning work must be counted"
    return out + [a.copy() for a in tr.learned_state().values()]


def _same(a, b):
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        assert x.dtype == y.dtype and x.shape == y.shape, i
        assert x.tobytes() == y.tobytes(), f"output {i} differs"


CASES = [("mlp", r, 5, {}) for r in ("bptt", "sltt", "ottt_a", "ottt_o")] + [
    ("conv", r, 5, {}) for r in ("bptt", "sltt", "ottt_a", "ottt_o")] + [
    ("mlp", "bptt", 4, dict(momentum=0.9)),
    # the update shared by rows: at the end of the batch (sltt, ottt_a), at every step
    # (ottt_o), from the history's rows (bptt); with momentum it stays on one thread
    ("big", "sltt", 3, {}), ("big", "ottt_a", 3, {}), ("big", "ottt_o", 3, {}),
    ("big", "bptt", 3, {}), ("big", "ottt_o", 3, dict(momentum=0.9)),
    ("bigrows", "ottt_a", 3, {}), ("bigrows", "ottt_o", 3, {}),
    ("mlp", "ottt_o", 3, dict(bits=dict(weight_bits=8, state_bits=12, trace_bits=8))),
    ("conv", "sltt", 3, dict(preset="tet")),
    # BPTT's windows at batch > 1, the state carried from one window to the next
    ("conv", "tbptt_local", 3, dict(window=2)),
] + [(name, r, 3, {}) for name in ("wide", "uneven", "sparse", "sparse5", "tall", "two")
    for r in ("bptt", "ottt_a")] + [("two", "sltt", 3, {})] + [("sparse", "sltt", 3, dict(momentum=0.9))] + [
    # batch 1, a spatial rule that updates at the end of the sample: its steps are pipelined
    # on two workers (the forward of step t beside the error pass of step t - 1 and the
    # weight gradients of step t - 2)
    ("conv", r, 1, {}) for r in ("sltt", "ottt_a")] + [
    # and with a layer of VGG's size: OTTT_A's error pass after the forward, on worker 0
    ("vggsize", "ottt_a", 1, {}), ("vggsize", "sltt", 1, {})] + [
    # batch 1, BPTT: the error pass beside the weight gradients, layer by layer (_wave);
    # and the forward of each step shared by blocks of output rows (BPTT's, and every batch-1
    # case's inference, _run's last call: here ottt_o's, which does not pipeline, and on a
    # map of 46 rows)
    ("conv", "bptt", 1, {}), ("conv", "tbptt_local", 1, dict(window=2)),
    ("conv", "bptt", 1, dict(momentum=0.9)), ("conv", "ottt_o", 1, {}),
    ("tall", "bptt", 1, {})] + [
    ("mlp", r, 1, {}) for r in ("sltt", "ottt_a")] + [     # (not pipelined: dense)
    ("conv", "sltt", 1, dict(k=2)),            # SLTT-K: backward at 2 random steps of 4
    ("conv", "ottt_a", 1, dict(bits=dict(weight_bits=8, state_bits=12, trace_bits=8))),
]


@njit
def _stack_pairs_at(lay, l, n):
    """loop._stack_pairs of layer l of the layout ``lay`` (compiled once, on first use)."""
    return _stack_pairs(lay[l], n)


def _stack_pairs_of(ops, shape, n):
    """loop._stack_pairs of each convolution of a network of ``ops`` on ``shape``: its
    sample-steps per chunk of a stacked product of n sample-steps."""
    net = Network.build(shape, True, ops, C, True, np.random.default_rng(0))
    lay = layout(net)
    return [_stack_pairs_at(lay, l, n) for l in range(len(lay))
            if lay[l]["hout"] * lay[l]["wout"] > 1]


def test_vggsize_takes_the_error_first_pipeline():
    """The "vggsize" cases above reach loop._pipe_error_first's branch: a layer of at least
    SPLIT_MACS multiply-accumulates a step, and OTTT_A's trace factors (SLTT's are spikes, so
    its case keeps the error pass beside the gradients)."""
    from chipsim.kernels.loop import SPLIT_MACS
    from chipsim.kernels.records import FACTOR_TRACE
    net, _, _ = _problem("vggsize", 2)
    lay = layout(net)
    assert (lay["n_out"].astype(np.int64) * lay["rows"] >= SPLIT_MACS).any()
    nrn, _ = neuron("ottt")
    for rule, traces in (("ottt_a", True), ("sltt", False)):
        tr = trainer(rule, net, nrn, T=T, B=1, workers=2)
        assert pipelined(tr.rule, 1, 2, lay)
        assert bool((np.asarray(tr.factors) == FACTOR_TRACE).any()) == traces


def test_stack_chunks_closed_form():
    """A layer's stacked product takes all its sample-steps as one chunk when they fit within
    records.STACK_ROWS rows (1,024) and STACK_FLOATS floats of im2col, else chunks of the
    largest power of two of them that fits: hand-worked from the positions per sample-step."""
    ref = [dict(kind="conv", channels=16, kernel=3, padding=1), dict(kind="avgpool", size=2),
           dict(kind="conv", channels=32, kernel=3, padding=1), dict(kind="avgpool", size=2)]
    # the reference conv net: 1,156 positions (1 fits), then 289 (3 fit: chunks of 2, so
    # SLTT's 32 sample-steps a step at batch 32 are 16 equal chunks); 3 sample-steps fit whole
    assert _stack_pairs_of(ref, (34, 34, 2), 32) == [1, 2]
    assert _stack_pairs_of(ref, (34, 34, 2), 320) == [1, 2]
    assert _stack_pairs_of(ref, (34, 34, 2), 3) == [1, 3]
    # the "two" net: 1,600 positions, then 100 (10 fit: 12 are chunks of 8 and 4; 10 fit whole)
    shape, ops, _ = NETS["two"]
    assert _stack_pairs_of(ops, shape, 12) == [1, 8]
    assert _stack_pairs_of(ops, shape, 10) == [1, 10]
    # "uneven": 121 positions (8 fit); "wide": 36 positions, 288 rows of im2col (28 fit)
    assert _stack_pairs_of(NETS["uneven"][1], NETS["uneven"][0], 12) == [8]
    assert _stack_pairs_of(NETS["wide"][1], NETS["wide"][0], 12) == [12]
    assert _stack_pairs_of(NETS["wide"][1], NETS["wide"][0], 30) == [16]


@pytest.mark.parametrize("name,rule,B,kw", CASES,
                         ids=[f"{n}-{r}-b{B}" + ("-" + "-".join(kw) if kw else "")
                              for n, r, B, kw in CASES])
def test_bit_identical_for_1_2_3_threads(name, rule, B, kw):
    one = _run(name, rule, 1, B, **kw)
    for w in (2, 3):
        _same(one, _run(name, rule, w, B, **kw))


class _Scripted:
    """A threads.Chooser stand-in: the thread counts of the batches, in order."""

    def __init__(self, ks):
        self.ks = list(ks)
        self.ran = []

    def pick(self):
        self.ran.append(self.ks.pop(0))
        return self.ran[-1]

    def note(self, k, seconds):
        assert k == self.ran[-1] and seconds > 0


@pytest.mark.parametrize("name,rule,B", [("conv", "sltt", 5), ("conv", "bptt", 5),
                                         ("mlp", "ottt_o", 5), ("sparse", "ottt_a", 3),
                                         ("two", "sltt", 3)])
def test_batches_switching_between_one_and_two_workers_give_the_same_bits(name, rule, B):
    """A trainer of two workers whose Chooser runs a batch on one (row 0 of the per-worker
    buffers, work arrays of one worker) and the next on two, or the other way round, gives
    the bits of a trainer of one worker throughout."""
    one = _run(name, rule, 1, B)
    for ks in ([1, 2], [2, 1]):
        ch = _Scripted(ks)
        _same(one, _run(name, rule, 2, B, chooser=ch))
        assert ch.ran == ks


def test_the_chooser_runs_on_the_faster_setting_and_looks_at_the_other_now_and_then():
    """threads.Chooser with hand-made timings (seconds a sample by thread count). A steady
    machine: one look at one thread (the third batch), then every batch on both workers. Two
    threads slow to 2.0 (one thread 1.6): it looks at one thread once their average is SLOW
    above its lowest, and switches; on one thread it looks back at two now and then, and
    returns when they are fast again. A chooser that starts on a slow machine switches at its
    first look."""
    near, far = {2: 1.0, 1: 1.6}, {2: 2.0, 1: 1.6}

    def run(ch, picks, times, n):
        for _ in range(n):
            k = ch.pick()
            picks.append(k)
            ch.note(k, times[k])

    ch, picks = threads.Chooser(2), []
    run(ch, picks, near, 40)
    assert picks == [2, 2, 1] + [2] * 37                      # steady: one look, at the start
    run(ch, picks, far, 200)
    assert ch.use == 1
    assert picks[40:].index(1) <= 2 * ch.MAX_GAP               # it did switch ...
    assert picks[-50:].count(2) <= 3                          # ... and stays, looking back
    run(ch, picks, near, 2 * ch.MAX_GAP + 50)
    assert ch.use == 2 and picks[-50:] == [2] * 50             # recovered: no look at one
    ch, picks = threads.Chooser(2), []
    run(ch, picks, far, 4)
    assert picks == [2, 2, 1, 1] and ch.use == 1


def test_a_chosen_thread_count_is_kept(monkeypatch):
    """--threads or CHIPSIM_THREADS: no Chooser; the default (every core): one, at batch > 1."""
    net, labels, inp = _problem("mlp", 4)
    nrn, _ = neuron("ottt")
    try:
        threads.configure(2)
        assert threads.chosen()
        assert trainer("sltt", net, nrn, T=T, B=2)._chooser is None
        monkeypatch.delenv(threads.ENV, raising=False)
        monkeypatch.setattr(threads, "cores", lambda: 2)
        threads.configure(None)
        assert not threads.chosen()
        assert trainer("sltt", net, nrn, T=T, B=2)._chooser is not None
        assert trainer("sltt", net, nrn, T=T, B=1)._chooser is None
        assert trainer("sltt", net, nrn, T=T, B=2, workers=2)._chooser is None
    finally:
        monkeypatch.undo()                      # the environment and cores() as they were
        threads.configure(None)


@pytest.mark.parametrize("name", ["conv", "tall"])
def test_bptt_batch1_pipeline_on_one_thread(name, monkeypatch):
    """BPTT at batch 1 on two workers (loop._wave) whose two workers run in turn on one thread
    (as a busy machine may schedule them): the first takes the error pass, the second the
    weight gradients, and neither waits for the other; the numbers are one worker's. The
    first computes every chunk of every step's surrogates (the second never waits, so never
    takes one)."""
    import numba

    from chipsim.kernels.records import DONE, TICKET
    one = _run(name, "bptt", 1, 1)
    monkeypatch.setattr(threads, "_numba_threads", lambda n: numba.set_num_threads(1))
    net, labels, inp = _problem(name, 2, 0)
    tr = trainer("bptt", net, neuron("ottt")[0], T=T, B=1, lr=0.3, workers=2)
    out = []
    for i in (0, 1):
        loss, osum, cnt = tr.train_batch(inp, inp.ptr[i:i + 1], labels[i:i + 1])
        out += [loss, osum, cnt, tr.last_step_counts.copy()]
        tk = tr._work[1].ticket
        # both roles were taken, and every layer of every step was announced (the conv layers
        # and the readout: T steps of len(net.layers) error units)
        assert (tk[TICKET], tk[DONE]) == (2, T * len(net.layers))
        taken, done, begun = _surrogate_chunks(tr)
        assert taken == done == [_sg_chunks(net)] * T and begun == T
    out += list(tr.infer_batch(inp, inp.ptr[:1], labels[:1]))
    _same(one, out + [a.copy() for a in tr.learned_state().values()])


def _sg_chunks(net):
    """A step's chunks of surrogates (loop.SG_CHUNK rows of a LIF layer), in closed form."""
    from chipsim.kernels.loop import SG_CHUNK
    lay = layout(net)
    return sum(-(-int(r["n_out"]) // SG_CHUNK) for r in lay if r["role"] == ROLE_LIF)


def _surrogate_chunks(tr):
    """The last window's surrogate counters (records.Stack.sgq): chunks taken and done per
    step, and the steps the error pass began."""
    from chipsim.kernels.records import SGQ
    q = tr._work[1].sgq
    return ([int(q[SGQ * s]) for s in range(T)], [int(q[SGQ * s + SGQ // 2]) for s in range(T)],
            int(q[SGQ * T]))


@pytest.mark.parametrize("name", ["conv", "tall"])
def test_bptt_batch1_surrogates_shared_by_chunks(name):
    """BPTT at batch 1 on two workers shares each step's surrogates in chunks (loop._wave):
    every chunk of every step is computed once (a chunk taken by both, or by neither, would
    leave the done count off its closed form) and the error pass began every step. Which
    worker took which chunk varies; the numbers do not (test_bit_identical)."""
    net, labels, inp = _problem(name, 1, 0)
    assert _sg_chunks(net) >= 2
    tr = trainer("bptt", net, neuron("ottt")[0], T=T, B=1, lr=0.3, workers=2)
    tr.train_batch(inp, inp.ptr[:1], labels[:1])
    taken, done, begun = _surrogate_chunks(tr)
    assert done == [_sg_chunks(net)] * T and begun == T
    # a chunk is taken only after its counter is read below the count, so the two workers
    # overshoot it by at most one between them
    assert all(_sg_chunks(net) <= k <= _sg_chunks(net) + 1 for k in taken)


def test_the_wide_case_computes_a_product_in_blocks_of_rows():
    """The "wide" case's BPTT product at batch 3 reaches BLOCK_MACS, so test_bit_identical
    covers products computed in fixed blocks of rows and shared by the workers."""
    from chipsim.kernels.loop import BLOCK_MACS
    (h, w, cin), ops, _ = NETS["wide"]
    assert 3 * T * h * w * 9 * cin * ops[0]["channels"] >= BLOCK_MACS


def test_the_shared_update_case_is_large_enough_to_be_shared():
    """The "big" cases above exercise loop._apply's shared update only if their hidden layer
    reaches APPLY_SPLIT (and the "mlp" cases keep it on one thread); "big" by column blocks
    at 2 and 3 workers, "bigrows" by rows."""
    from chipsim.kernels.loop import APPLY_SPLIT
    for name in ("big", "bigrows"):
        assert NETS[name][0][0] * NETS[name][1][0]["units"] >= APPLY_SPLIT
    assert NETS["big"][1][0]["units"] >= 3 * WGRAD_BLOCK > NETS["bigrows"][1][0]["units"]
    assert NETS["mlp"][0][0] * NETS["mlp"][1][0]["units"] < APPLY_SPLIT


def test_batch1_large_layer_split_by_columns():
    """At batch 1 a convolution of >= SPLIT_MACS multiply-accumulates per step is split over
    the workers by column blocks; the weights are the same bits."""
    from chipsim.kernels.loop import SPLIT_MACS
    shape, ops = (12, 12, 32), [dict(kind="conv", channels=2 * WGRAD_BLOCK, kernel=3, stride=1,
                                     padding=1, bias=True), dict(kind="avgpool", size=4),
                                dict(kind="flatten")]
    rows, n_out = 9 * 32, 12 * 12 * 2 * WGRAD_BLOCK
    assert rows * n_out >= SPLIT_MACS
    res = []
    for w in (1, 2, 3):
        rng = np.random.default_rng(4)
        w0 = None
        frames = (rng.random((1, T) + shape) < 0.3).astype(np.uint8)
        net = Network.build(shape, True, ops, C, True, np.random.default_rng(5), gain=3.0)
        inp = encode_frames(frames, True)
        tr = trainer("sltt", net, neuron("ottt")[0], T=T, B=1, lr=0.3, workers=w)
        w0 = tr.params.w.copy()
        out = list(tr.train_batch(inp, inp.ptr[:1], np.array([2])))
        assert not np.array_equal(w0, tr.params.w)
        res.append(out + [a.copy() for a in tr.learned_state().values()])
    _same(res[0], res[1])
    _same(res[0], res[2])


def test_learning_memory_does_not_depend_on_threads():
    """The learning state a rule keeps is the chip's (one error buffer), whatever the workers;
    the simulator's own buffers grow by one row per worker, and trainer_bytes says so."""
    net, _, _ = _problem("conv", 2)
    nrn, _ = neuron("ottt")
    a = trainer("sltt", net, nrn, T=T, B=2, workers=1)
    b = trainer("sltt", net, nrn, T=T, B=2, workers=3)
    assert a.learning_state_bytes == b.learning_state_bytes
    from chipsim.kernels.records import Optimizer
    opt = Optimizer(0.1, 0.0, 0.0)
    one = trainer_bytes(net, a.rule, opt, T, 2, net.w_arena.dtype, workers=1)
    three = trainer_bytes(net, a.rule, opt, T, 2, net.w_arena.dtype, workers=3)
    got = sum(x.nbytes for x in b.state if isinstance(x, np.ndarray)) - sum(
        x.nbytes for x in a.state if isinstance(x, np.ndarray))
    assert three["buffers"] - one["buffers"] == got > 0
    assert three["scratch"] > one["scratch"]


def test_pipelined_sample_keeps_the_chips_learning_memory():
    """At batch 1 a spatial rule that updates at the end of the sample is pipelined on two
    workers: the simulator keeps three history slots (PIPE_SLOTS) and two copies of the
    traces, and trainer_bytes counts them, but the learning state reported is the chip's, as with one
    worker. A rule that updates at every step (ottt_o), BPTT, and a dense network are not
    pipelined."""
    from chipsim.kernels.records import PIPE_SLOTS, Optimizer
    net, _, _ = _problem("conv", 1)
    nrn, _ = neuron("ottt")
    opt = Optimizer(0.1, 0.0, 0.0)
    for rule, pipelined in (("ottt_a", True), ("sltt", True), ("ottt_o", False), ("bptt", False)):
        a = trainer(rule, net, nrn, T=T, B=1, workers=1)
        b = trainer(rule, net, nrn, T=T, B=1, workers=2)
        assert (a.state.TH, b.state.TH) == ((1, PIPE_SLOTS) if pipelined
                                            else (a.state.TH, a.state.TH))
        assert a.learning_state_bytes == b.learning_state_bytes > 0
        one = trainer_bytes(net, a.rule, opt, T, 1, net.w_arena.dtype, workers=1)
        two = trainer_bytes(net, a.rule, opt, T, 1, net.w_arena.dtype, workers=2)
        got = [sum(x.nbytes for x in tr.state if isinstance(x, np.ndarray)) for tr in (a, b)]
        assert two["buffers"] - one["buffers"] == got[1] - got[0] > 0
        has_traces = a.state.traces.size > 0
        assert b.state.trace_p.size == (2 * a.state.traces.size if pipelined else 0)
        assert has_traces == (rule in ("ottt_a", "ottt_o"))
    mlp, _, _ = _problem("mlp", 1)            # a dense network's steps are not pipelined
    assert trainer("ottt_a", mlp, nrn, T=T, B=1, workers=2).state.TH == 1


@pytest.mark.parametrize("bad", ["0", "-2", "two", "1.5", " "])
def test_thread_count_must_be_a_whole_number(bad):
    with pytest.raises(ValueError, match="whole number of threads"):
        threads.parse(bad, "CHIPSIM_THREADS")


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_gemm_rows_is_those_rows_of_the_product(dt):
    """arrays.gemm_rows, the BLAS call by which workers share a product by output rows,
    against numpy's product: rows r0..r1-1 of a^T b, written only there."""
    from chipsim.kernels.arrays import gemm_rows
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((70, 45)).astype(dt), rng.standard_normal((70, 13)).astype(dt)
    ref = a.astype(np.float64).T @ b.astype(np.float64)
    one_zero = np.array([1.0, 0.0], dt)
    for r0, r1 in ((0, 45), (0, 16), (16, 45), (32, 33)):
        out = np.full((45, 13), 7.0, dt)
        gemm_rows(a, b, r0, r1, out[r0:r1].reshape(-1), one_zero)
        tol = 1e-4 if dt == np.float32 else 1e-12
        np.testing.assert_allclose(out[r0:r1], ref[r0:r1], rtol=tol, atol=tol)
        assert (np.delete(out, np.arange(r0, r1), axis=0) == 7.0).all()


def test_a_program_that_started_numbas_threads_first_keeps_its_pool():
    """chipsim sizes Numba's pool only if Numba is not loaded yet: Numba re-reads the
    environment at each compile and raises if the pool size there differs from the one its
    threads started with (which chipsim's setting did, at the first compile after import)."""
    code = (
        "import numba, numpy as np\n"
        "@numba.njit(parallel=True)\n"
        "def f(a):\n"
        "    for i in numba.prange(a.shape[0]):\n"
        "        a[i] += 1\n"
        "f(np.zeros(4))\n"
        "n = numba.config.NUMBA_NUM_THREADS\n"
        "import chipsim\n"
        "@numba.njit\n"
        "def g(x):\n"
        "    return x + 1\n"
        "assert g(1) == 2\n"
        "print(n, numba.config.NUMBA_NUM_THREADS)\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    # a pool chipsim would size otherwise (more than Numba's default, the cores)
    env["CHIPSIM_THREADS"] = str(threads.cores() + 3)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0, r.stderr[-800:]
    n0, n1 = r.stdout.split()
    assert n0 == n1 == str(threads.cores())


@pytest.mark.parametrize("shape,dt", [((3,), "float32"), ((5, 7), "float64"), ((1000, 3), "uint8")])
def test_zeros_aligned_starts_at_a_cache_line(shape, dt):
    a = zeros_aligned(shape, dt)
    assert a.shape == shape and a.dtype == np.dtype(dt) and a.flags.c_contiguous
    assert a.ctypes.data % 64 == 0 and not a.any()
    a[...] = 1          # writable, and its own memory
    assert a.sum() == np.prod(shape)


def test_trainer_accumulators_start_at_a_cache_line():
    """Workers share a convolution's event-by-event gradient by input channels, so they
    write neighbouring rows of the accumulator: each row of 16 float32 on a line of its own."""
    net, _, _ = _problem("sparse", 2)
    nrn, _ = neuron("ottt")
    tr = trainer("bptt", net, nrn, T=T, B=2, lr=0.3, workers=2)
    for name in ("gw", "touched"):
        a = getattr(tr.grads, name)
        assert a.size > 0 and a.ctypes.data % 64 == 0, name
