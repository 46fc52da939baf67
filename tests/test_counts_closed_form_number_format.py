"""Counts under the chip's number format (Trainer.set_number_format: fixed-point weights, state,
traces). Which counts keep the floating-point closed form (they depend on shapes and the input
only), and which follow the rounded state, checked against the reference run with the same
fixed point: weights rounded to nearest by the documented rule, state v rounded to nearest
(tests/reference_conv.py's ``state_q``), traces rounded to nearest here. Exact integers per
layer, phase and step.
"""

from __future__ import annotations

import numpy as np
import pytest

from chipsim import counts as K
from tests import count_forms as cf
from tests import reference_conv as rc
from tests.helpers import neuron, trainer
from tests.test_counts_closed_form import STRIDE, T, problem

INF, LRN = cf.INF, cf.LRN
A = K.Action
# coarse enough that the fixed-point run spikes differently from floating point; 4-bit weights
# round some weights to zero (NeuroBench effective ops see them)
BITS = dict(weight_bits=4, state_bits=5, trace_bits=2)
DECAY = 0.25      # with 2 trace bits a lone spike's trace goes 1, 1/3, 0 (float: 1, 1/4, 1/16 ...)

# counts fixed by the shapes and the input alone: the same in floating and fixed point
SHAPE_ONLY = [(INF, A.NB_DENSE_OPS), (INF, A.MEM_READ_STATE), (INF, A.MEM_WRITE_STATE),
              (LRN, A.SURROGATE_EVAL), (LRN, A.OUTPUT_ERROR), (LRN, A.TEMPORAL_MAC),
              (LRN, A.TRACE_UPDATE), (LRN, A.MEM_READ_TRACE), (LRN, A.MEM_WRITE_TRACE),
              (LRN, A.MEM_READ_STATE)]


def _round(a, q, lim):
    return np.clip(np.floor(np.asarray(a) / q + 0.5) * q, -lim, lim - q)


def _fixed_traces(z, decay, q, lim):
    """OTTT's trace a[t] = decay a[t-1] + z[t], held in fixed point (round to nearest)."""
    out = np.zeros_like(z)
    acc = np.zeros(z.shape[1])
    for t in range(z.shape[0]):
        acc = _round(decay * acc + z[t], q, lim)
        out[t] = acc
    return out


def _formats(net_float, rn, bits, decay):
    """The documented formats: weights +-2 max|w| per layer, step range / 2^(bits-1); state
    +-4 theta, step range / 2^(bits-1); traces range 1 / (1 - decay), step range / 2^bits."""
    wq = []
    for W, b in zip(net_float.weights, net_float.biases):
        lim = 2.0 * max(np.abs(W).max(), np.abs(b).max())
        wq.append((lim / 2 ** (bits["weight_bits"] - 1), lim))
    lim_v = 4.0 * rn["theta"]
    lim_t = 1.0 / (1.0 - decay)
    return wq, (lim_v / 2 ** (bits["state_bits"] - 1), lim_v), (lim_t / 2 ** bits["trace_bits"], lim_t)


@pytest.mark.parametrize("rule", ["sltt", "bptt", "ottt_a"])
def test_number_format_counts_against_fixed_point_reference(rule):
    """Every count of a training step in the chip's number format, per step, against the
    reference with the trainer's rounded weights, round-to-nearest state and (OTTT) traces; the
    shape-only counts equal the floating-point run's, the state-dependent ones differ from it."""
    ops, frames, labels, net, inp = problem(STRIDE)
    fnet = net.copy()
    nrn, rn = neuron("ottt", detach_reset=(rule != "bptt"))
    wq, sq, tq = _formats(fnet, rn, BITS, DECAY)
    tr = trainer(rule, net, nrn, T=T, bits=BITS, trace_decay=DECAY)
    # the trainer's initial weights are the float ones rounded to nearest on the stated grid
    for W, Wf, (q, lim) in zip(net.weights, fnet.weights, wq):
        np.testing.assert_array_equal(W, _round(Wf, q, lim))
    assert sum(int((W == 0).sum()) for W in net.weights) > 0
    Ws, bs, _ = cf.ref_params(net)
    W0 = [w.copy() for w in net.weights]
    tr.train_batch(inp, inp.ptr[:1], labels[:1])
    got = tr.last_step_counts[0]
    rq = dict(rn, state_q=sq)
    rops = cf.ref_ops(ops)
    use, traces = None, None
    if rule == "sltt":
        r = rc.grads_sltt(rops, Ws, bs, frames[0], labels[0], rq)
    elif rule == "bptt":
        r = rc.grads_bptt(rops, Ws, bs, frames[0], labels[0], rq)
    else:
        r = rc.grads_ottt(rops, Ws, bs, frames[0], labels[0], rq, trace_decay=DECAY)
    rec = r["rec"]
    gW = list(r["gW"])
    if rule == "ottt_a":
        use = [False, True, True]             # the first layer's factor is the raw input
        trs = [None] + [_fixed_traces(rec["z"][l], DECAY, *tq) for l in (1, 2)]
        traces = lambda b: trs                # noqa: E731
        for l in (1, 2):
            gW[l] = cf.weight_grad(net.layers[l], trs[l], rec["g"][l])
        # fixed point drops trace entries that floating point keeps
        assert sum(int((t != 0).sum()) for t in trs[1:]) < sum(int((rec["traces"][l] != 0).sum())
                                                                for l in (1, 2))
    assert 0 < rec["s"][0].mean() and 0 < rec["s"][1].mean()
    mode = "bptt" if rule == "bptt" else "spatial"
    exp = cf.expected_batch(net, W0, frames, [rec], mode, [(T - 1, cf.issued_from(gW, r["gb"]))],
                            use_trace=use, traces=traces)
    cf.assert_counts(got, exp[0], net, f"{rule} fixed point")
    # the same problem in floating point
    tf = trainer(rule, fnet, nrn, T=T, trace_decay=DECAY)
    tf.train_batch(inp, inp.ptr[:1], labels[:1])
    fl = tf.last_step_counts[0]
    for p, a in SHAPE_ONLY:
        np.testing.assert_array_equal(got[:, :, p, a], fl[:, :, p, a], err_msg=K.ACTION_NAMES[a])
    visits = [c[:, :, LRN, A.WEIGHT_UPDATE_ISSUED] + c[:, :, LRN, A.WEIGHT_UPDATE_SKIPPED]
              for c in (got, fl)]                 # issued alone follows the gradient's zeros
    np.testing.assert_array_equal(visits[0], visits[1])
    for a in (A.SYNOP, A.NEURON_UPDATE_ACTIVE, A.NEURON_UPDATE_IDLE):   # input layer: input only
        np.testing.assert_array_equal(got[:, 0, INF, a], fl[:, 0, INF, a])
    assert not np.array_equal(got[:, :, INF, A.SPIKE], fl[:, :, INF, A.SPIKE])
    assert not np.array_equal(got[:, 1:, INF, A.SYNOP], fl[:, 1:, INF, A.SYNOP])
    if rule == "ottt_a":
        assert got[:, 1:, LRN, A.GRAD_MAC].sum() < fl[:, 1:, LRN, A.GRAD_MAC].sum()


def test_ottt_o_number_format_closed_forms():
    """OTTT_O in fixed point rounds every update stochastically, so from step 1 on the weights
    are the trainer's own. Closed forms that hold for any weights, every step: an update sweep
    over every parameter (issued + skipped = parameters), the input layer's SOPs = input events
    x actual fan-out, dense ops, state traffic, surrogate evaluations, output errors, trace
    updates. Step 0 runs on the rounded initial weights: all its counts against the reference."""
    ops, frames, labels, net, inp = problem(STRIDE)
    fnet = net.copy()
    nrn, rn = neuron("ottt")
    wq, sq, tq = _formats(fnet, rn, BITS, DECAY)
    tr = trainer("ottt_o", net, nrn, T=T, bits=BITS, trace_decay=DECAY, lr=0.4)
    Ws, bs, _ = cf.ref_params(net)
    W0 = [w.copy() for w in net.weights]
    tr.train_batch(inp, inp.ptr[:1], labels[:1])
    got = tr.last_step_counts[0]
    assert not all(np.array_equal(a, b) for a, b in zip(net.weights, W0))    # it learned
    params = [cf.n_params(ls) for ls in net.layers]
    visits = got[:, :, LRN, A.WEIGHT_UPDATE_ISSUED] + got[:, :, LRN, A.WEIGHT_UPDATE_SKIPPED]
    np.testing.assert_array_equal(visits, np.tile(params, (T, 1)))
    l0 = net.layers[0]
    np.testing.assert_array_equal(got[:, 0, INF, A.SYNOP],
                                  frames[0].reshape(T, -1) @ cf.conn(l0).sum(1))
    for l, ls in enumerate(net.layers):
        c = got[:, l]
        assert (c[:, INF, A.NB_DENSE_OPS] == cf.dense_ops(ls)).all()
        assert (c[:, INF, A.MEM_READ_STATE] == ls.n_out).all()
        assert (c[:, LRN, A.SURROGATE_EVAL] == (ls.n_out if ls.spiking else 0)).all()
        assert (c[:, LRN, A.OUTPUT_ERROR] == (0 if ls.spiking else ls.n_out)).all()
        assert (c[:, LRN, A.TRACE_UPDATE] == (ls.n_in if l > 0 else 0)).all()
        assert (c[:, LRN, A.MEM_READ_GRAD] >= ls.synapses).all()          # a sweep every step
    # step 0, on the rounded initial weights, against the fixed-point reference
    r = rc.ottt_online(cf.ref_ops(ops), Ws, bs, frames[0], labels[0], dict(rn, state_q=sq),
                       lr=0.4, trace_decay=DECAY)
    rec = {k: [a[:1] for a in r["rec"][0][k]] for k in ("s", "sg", "g", "z")}
    trs = [None] + [_fixed_traces(rec["z"][l], DECAY, *tq) for l in (1, 2)]
    exp = cf.expected(net, W0, cf.layer_records(net, frames[0][:1], rec, traces=trs), "spatial",
                      use_trace=[False, True, True])
    gW, gb = r["step_grads"][0]
    cf.add_sweep(exp, net, 0, cf.issued_from(gW, gb))
    cf.assert_counts(got[:1], exp, net, "ottt_o fixed point, step 0")
