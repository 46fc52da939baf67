"""Counts are exact integers equal to closed forms computed from an independent reference."""

from __future__ import annotations

import numpy as np
import pytest

from chipsim import counts as K
from tests import reference as ref
from tests.helpers import neuron, small_problem, trainer

T = 6
INF, LRN = K.Phase.INFERENCE, K.Phase.LEARNING


def _nnz_rows(a):
    return (a != 0).sum(axis=1)


def _forward_closed_forms(frames, net, diag, cnt):
    x = frames.astype(np.float64)
    pres = [x] + diag["ss"]
    for l, ls in enumerate(net.layers):
        c = cnt[l, INF]
        events = _nnz_rows(pres[l])                 # events per step into layer l
        assert c[K.SYNOP] == events.sum() * ls.n_out        # SOPs = sum(spikes) x fan-out
        assert c[K.MEM_READ_WEIGHT] == c[K.SYNOP]
        assert c[K.NB_DENSE_OPS] == T * ls.n_in * ls.n_out
        assert c[K.NB_EFF_OPS] == c[K.SYNOP]                # no zero weights here
        assert c[K.NEURON_UPDATE_ACTIVE] == (events > 0).sum() * ls.n_out
        assert c[K.NEURON_UPDATE_ACTIVE] + c[K.NEURON_UPDATE_IDLE] == T * ls.n_out
        assert c[K.MEM_READ_STATE] == c[K.MEM_WRITE_STATE] == T * ls.n_out
        spikes = diag["ss"][l].sum() if ls.spiking else 0
        assert c[K.SPIKE] == spikes


@pytest.mark.parametrize("preset", ["ottt", "sltt"])
def test_sltt_counts_closed_form(preset):
    frames, labels, net, inp = small_problem(seed=31)
    nrn, rn = neuron(preset)
    before = net.copy()
    _, _, cnt = trainer("sltt", net, nrn, T=T).train_batch(inp, inp.ptr[:1], labels[:1])
    cnt = cnt[0]
    gW, gb, _, _, diag = ref.grads_spatial(before.weights, before.biases, frames[0], labels[0], rn)
    _forward_closed_forms(frames[0], before, diag, cnt)
    pres = [frames[0].astype(np.float64)] + diag["ss"]
    for l, ls in enumerate(net.layers):
        c = cnt[l, LRN]
        g_nnz = _nnz_rows(diag["gs"][l])
        assert c[K.GRAD_AC] == (_nnz_rows(pres[l]) * g_nnz).sum()
        assert c[K.GRAD_MAC] == 0
        if l > 0:
            sg_nnz = _nnz_rows(ref.sg(diag["us"][l - 1] - rn["theta"], rn["sg"], rn["alpha"]))
            assert c[K.ERROR_MAC] == (sg_nnz * g_nnz).sum()
        else:
            assert c[K.ERROR_MAC] == 0
        if ls.spiking:
            assert c[K.SURROGATE_EVAL] == T * ls.n_out
        assert c[K.WEIGHT_UPDATE_ISSUED] == np.count_nonzero(gW[l])
        assert c[K.WEIGHT_UPDATE_ISSUED] + c[K.WEIGHT_UPDATE_SKIPPED] == ls.synapses
        assert c[K.TRACE_UPDATE] == c[K.TEMPORAL_MAC] == c[K.MEM_WRITE_HIST] == 0
    assert cnt[-1, LRN, K.OUTPUT_ERROR] == T * net.n_classes
    if preset == "sltt":   # the triangle surrogate is zero away from threshold: updates skipped
        assert cnt[:, LRN, K.WEIGHT_UPDATE_SKIPPED].sum() > 0


def test_ottt_counts_closed_form():
    frames, labels, net, inp = small_problem(seed=37)
    nrn, rn = neuron("ottt")
    before = net.copy()
    _, _, cnt = trainer("ottt_a", net, nrn, T=T).train_batch(inp, inp.ptr[:1], labels[:1])
    cnt = cnt[0]
    _, _, _, _, diag = ref.grads_spatial(before.weights, before.biases, frames[0], labels[0], rn,
                                         trace_decay=0.5)
    _forward_closed_forms(frames[0], before, diag, cnt)
    for l, ls in enumerate(net.layers):
        c = cnt[l, LRN]
        g_nnz = _nnz_rows(diag["gs"][l])
        pre_nnz = _nnz_rows(diag["traces"][l])
        if l == 0:      # raw first layer (official code): binary input, ACs, no trace
            assert c[K.GRAD_AC] == (pre_nnz * g_nnz).sum() and c[K.TRACE_UPDATE] == 0
        else:
            assert c[K.GRAD_MAC] == (pre_nnz * g_nnz).sum() and c[K.GRAD_AC] == 0
            assert c[K.TRACE_UPDATE] == c[K.MEM_READ_TRACE] == c[K.MEM_WRITE_TRACE] == T * ls.n_in


def test_ottt_o_direct_updates_closed_form():
    frames, labels, net, inp = small_problem(seed=41)
    nrn, rn = neuron("ottt")
    tr = trainer("ottt_o", net, nrn, T=T)
    _, _, cnt = tr.train_batch(inp, inp.ptr[:1], labels[:1])
    c = cnt[0, :, LRN]
    # each contribution is one issued read-modify-write; no accumulator traffic at all
    assert np.array_equal(c[:, K.WEIGHT_UPDATE_ISSUED], c[:, K.GRAD_AC] + c[:, K.GRAD_MAC])
    assert np.array_equal(c[:, K.WEIGHT_UPDATE_ISSUED] + c[:, K.WEIGHT_UPDATE_SKIPPED],
                          [T * ls.synapses for ls in net.layers])
    assert c[:, K.MEM_READ_GRAD].sum() == c[:, K.MEM_WRITE_GRAD].sum() == 0
    assert tr.gradient_buffer_bytes == 0


def test_bptt_counts_closed_form():
    frames, labels, net, inp = small_problem(seed=43)
    nrn, rn = neuron("ottt", detach_reset=False)
    before = net.copy()
    _, _, cnt = trainer("bptt", net, nrn, T=T).train_batch(inp, inp.ptr[:1], labels[:1])
    cnt = cnt[0]
    gW, _, _, _, diag = ref.grads_bptt(before.weights, before.biases, frames[0], labels[0], rn)
    pres = [frames[0].astype(np.float64)] + diag["ss"]
    for l, ls in enumerate(net.layers):
        c = cnt[l, LRN]
        g_nnz = _nnz_rows(diag["gs"][l])
        assert c[K.GRAD_AC] == (_nnz_rows(pres[l]) * g_nnz).sum()
        if ls.spiking:
            assert c[K.TEMPORAL_MAC] == (T - 1) * ls.n_out
            assert c[K.MEM_WRITE_HIST] == T * ls.n_out + diag["ss"][l].sum()
        else:
            assert c[K.MEM_WRITE_HIST] == T * ls.n_out
        assert c[K.WEIGHT_UPDATE_ISSUED] == np.count_nonzero(gW[l])


def test_graded_input_counts_macs():
    frames, labels, net, inp = small_problem(seed=47, binary=False)
    nrn, _ = neuron("ottt")
    _, _, cnt = trainer("sltt", net, nrn, T=T).train_batch(inp, inp.ptr[:1], labels[:1])
    events = np.count_nonzero(frames[0])
    assert cnt[0, 0, INF, K.SYN_MAC] == events * net.layers[0].n_out
    assert cnt[0, 0, INF, K.SYNOP] == 0
    assert cnt[0, 0, LRN, K.GRAD_MAC] > 0 and cnt[0, 0, LRN, K.GRAD_AC] == 0


def test_zero_input_gives_zero_synaptic_ops():
    frames, labels, net, inp = small_problem(seed=53, density=0.0)
    nrn, _ = neuron("ottt")
    _, _, cnt = trainer("sltt", net, nrn, T=T).infer_batch(inp, inp.ptr[:1], labels[:1])
    assert cnt[..., K.SYNOP].sum() == cnt[..., K.SYN_MAC].sum() == cnt[..., K.SPIKE].sum() == 0
    assert cnt[..., K.NEURON_UPDATE_ACTIVE].sum() == 0
    assert cnt[..., LRN, :].sum() == 0


def test_effective_ops_skip_zero_weights():
    frames, labels, net, inp = small_problem(seed=59)
    net.weights[0][3, :5] = 0.0
    nrn, _ = neuron("ottt")
    _, _, cnt = trainer("sltt", net, nrn, T=T).infer_batch(inp, inp.ptr[:1], labels[:1])
    hits = np.count_nonzero(frames[0][:, 3])
    assert cnt[0, 0, INF, K.NB_EFF_OPS] == cnt[0, 0, INF, K.SYNOP] - 5 * hits


def test_counts_deterministic_for_a_seed():
    out = []
    for _ in range(2):
        frames, labels, net, inp = small_problem(seed=61)
        nrn, _ = neuron("sltt")
        tr = trainer("sltt", net, nrn, T=T, k=3, seed=7)
        out.append(np.stack([tr.train_batch(inp, inp.ptr[i:i + 1], labels[i:i + 1])[2] for i in range(3)]))
    assert out[0].dtype == np.int64
    np.testing.assert_array_equal(out[0], out[1])


def test_learning_memory_flat_for_sltt_linear_for_bptt():
    sizes = {}
    for rule in ("sltt", "ottt_o", "bptt"):
        for t in (5, 10, 20, 40):
            frames, labels, net, inp = small_problem(seed=1, T=t)
            nrn, _ = neuron("ottt")
            sizes[rule, t] = trainer(rule, net, nrn, T=t).learning_state_bytes
    assert sizes["sltt", 5] == sizes["sltt", 40]
    assert sizes["ottt_o", 5] == sizes["ottt_o", 40]
    d1 = sizes["bptt", 10] - sizes["bptt", 5]
    assert d1 > 0 and sizes["bptt", 40] - sizes["bptt", 20] == 4 * d1


def test_counts_per_time_step():
    """Per-step counts (the cycle model's input): each step's SOPs and spikes by closed form,
    and the update work at the step where it happens."""
    frames, labels, net, inp = small_problem(seed=71)
    nrn, rn = neuron("ottt")
    before = net.copy()
    tr = trainer("sltt", net, nrn, T=T)
    _, _, cnt = tr.train_batch(inp, inp.ptr[:1], labels[:1])
    steps = tr.last_step_counts[0]                     # (T, L, P, A)
    np.testing.assert_array_equal(steps.sum(axis=0), cnt[0])
    _, _, _, _, diag = ref.grads_spatial(before.weights, before.biases, frames[0], labels[0], rn)
    x_events = np.count_nonzero(frames[0], axis=1)
    np.testing.assert_array_equal(steps[:, 0, INF, K.SYNOP], x_events * net.layers[0].n_out)
    np.testing.assert_array_equal(steps[:, 0, INF, K.SPIKE], diag["ss"][0].sum(axis=1))
    upd = steps[..., LRN, K.WEIGHT_UPDATE_ISSUED] + steps[..., LRN, K.WEIGHT_UPDATE_SKIPPED]
    assert upd[:-1].sum() == 0 and upd[-1].sum() == sum(ls.synapses for ls in net.layers)


def test_target_window_learns_only_in_a_random_window():
    frames, labels, net, inp = small_problem(seed=73)
    nrn, _ = neuron("ottt")
    tr = trainer("ottt_o", net, nrn, T=T, lr=0.1, target_window=2, seed=5)
    start = int(np.random.default_rng(5).integers(0, T - 2 + 1))     # the trainer's draw
    tr.train_batch(inp, inp.ptr[:1], labels[:1])
    # traces integrate spikes at every step (the window's updates need them); every other piece
    # of learning work happens only inside the window
    steps = tr.last_step_counts[0, :, :, LRN].copy()
    assert (steps[..., K.TRACE_UPDATE].sum(axis=1) > 0).all()
    steps[..., [K.TRACE_UPDATE, K.MEM_READ_TRACE, K.MEM_WRITE_TRACE]] = 0
    learn = steps.sum(axis=(1, 2))
    on = np.zeros(T, bool)
    on[start:start + 2] = True
    assert (learn[on] > 0).all() and (learn[~on] == 0).all()


def test_without_update_skip_every_visit_is_a_read_modify_write():
    out = {}
    for skip in (True, False):
        frames, labels, net, inp = small_problem(seed=79)
        nrn, _ = neuron("sltt")          # triangle surrogate: many zero updates
        tr = trainer("sltt", net, nrn, T=T, lr=0.1, update_skip=skip)
        out[skip] = tr.train_batch(inp, inp.ptr[:1], labels[:1])[2][0, :, LRN]
    on, off = out[True], out[False]
    assert on[:, K.WEIGHT_UPDATE_SKIPPED].sum() > 0 and off[:, K.WEIGHT_UPDATE_SKIPPED].sum() == 0
    np.testing.assert_array_equal(off[:, K.WEIGHT_UPDATE_ISSUED],
                                  on[:, K.WEIGHT_UPDATE_ISSUED] + on[:, K.WEIGHT_UPDATE_SKIPPED])
    np.testing.assert_array_equal(off[:, K.MEM_WRITE_WEIGHT],
                                  on[:, K.MEM_WRITE_WEIGHT] + on[:, K.WEIGHT_UPDATE_SKIPPED])
