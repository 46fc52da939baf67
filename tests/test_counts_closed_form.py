"""Counts of a training step and of inference against independent sources, per layer, phase,
sample and time step: stride 2 with padding and borders, max pooling, dropout, convolutional BPTT.

Sources: hand-worked fan-out tables; the plain-numpy reference (tests/reference_conv.py: conv
and pooling as explicit matrices) for spikes, surrogates and gradients; the count model of
tests/count_forms.py, which turns those into expected counts from the network's shapes. Every
comparison is exact (int64), on ``Trainer.last_step_counts`` (B, T, L, P, A).
"""

from __future__ import annotations

import numpy as np
import pytest

from chipsim import counts as K
from chipsim.model.inputs import encode_frames
from chipsim.model.network import Network
from tests import count_forms as cf
from tests import reference_conv as rc
from tests.helpers import neuron, trainer

T = 5
C = 4
INF, LRN = cf.INF, cf.LRN
A = K.Action

# stride 2, padding 1 on an odd map (the last row/column reaches one output row/column, the
# others alternate 1, 2), then stride 2 without padding on 5x5 (row/column 4 reaches nothing)
STRIDE = ([
    dict(kind="conv", channels=4, kernel=3, stride=2, padding=1, bias=True),
    dict(kind="conv", channels=3, kernel=2, stride=2, padding=0, bias=False),
    dict(kind="flatten"),
], (9, 9, 2))
# 2x2 max pooling of a 7x7 map (floor: row and column 6 dropped), then of a 3x3 map
MAXPOOL = ([
    dict(kind="conv", channels=3, kernel=3, stride=1, padding=1, bias=False),
    dict(kind="maxpool", size=2),
    dict(kind="conv", channels=4, kernel=3, stride=1, padding=1, bias=True),
    dict(kind="maxpool", size=2),
    dict(kind="flatten"),
], (7, 7, 2))
# dropout on a conv population read by a stride-2 conv, and on the population the readout reads
DROPOUT = ([
    dict(kind="conv", channels=3, kernel=3, stride=1, padding=1, bias=False),
    dict(kind="dropout", p=0.5),
    dict(kind="conv", channels=4, kernel=3, stride=2, padding=1, bias=True),
    dict(kind="dropout", p=0.5),
    dict(kind="flatten"),
], (6, 6, 2))
# average pooling between two convolutions, the second of stride 2
AVG = ([
    dict(kind="conv", channels=3, kernel=3, stride=1, padding=1, bias=False),
    dict(kind="avgpool", size=2),
    dict(kind="conv", channels=4, kernel=3, stride=2, padding=1, bias=True),
    dict(kind="flatten"),
], (6, 6, 2))


def problem(spec, *, B=1, seed=0, density=0.35, gain=4.0, block=None):
    ops, shape = spec
    rng = np.random.default_rng(seed)
    frames = (rng.random((B, T) + shape) < density).astype(np.uint8)
    labels = rng.integers(0, C, B)
    net = Network.build(shape, True, ops, C, True, np.random.default_rng(seed + 1), gain=gain,
                        block=block)
    return ops, frames, labels, net, encode_frames(frames, True)


def _every_layer_spikes(recs):
    for s in recs[0]["s"]:
        assert 0 < s.mean() < 0.9, "every layer of the test network must spike"


# ----------------------------------------------------------------------------- stride 2

def _axis_fanout(n, k, s, pad, n_out):
    """Hand count, along one axis: how many output rows an input row reaches."""
    return np.array([sum(1 for o in range(n_out) for kk in range(k) if o * s - pad + kk == y)
                     for y in range(n)])


def test_stride2_fanout_hand_worked():
    """Inference SOPs, weight reads, dense ops and active neurons of two stride-2 layers from
    hand-worked fan-out tables: 9 wide, k 3, stride 2, pad 1 -> 5 outputs, an input row reaches
    [1, 2, 1, 2, 1, 2, 1, 2, 1] output rows; 5 wide, k 2, stride 2, pad 0 -> 2 outputs,
    [1, 1, 1, 1, 0]."""
    ops, frames, labels, net, inp = problem(STRIDE)
    nrn, rn = neuron("ottt")
    Ws, bs, _ = cf.ref_params(net)
    tr = trainer("sltt", net, nrn, T=T)
    tr.infer_batch(inp, inp.ptr[:1], labels[:1])
    got = tr.last_step_counts[0]
    ax0 = np.array([1, 2, 1, 2, 1, 2, 1, 2, 1])
    ax1 = np.array([1, 1, 1, 1, 0])
    assert np.array_equal(_axis_fanout(9, 3, 2, 1, 5), ax0)
    assert np.array_equal(_axis_fanout(5, 2, 2, 0, 2), ax1)
    l0, l1 = net.layers[0], net.layers[1]
    assert l0.out == (5, 5, 4) and l1.out == (2, 2, 3)
    fan0 = (ax0[:, None] * ax0[None, :])[:, :, None] * np.ones(2, int)   # (y, x, ci)
    fan1 = (ax1[:, None] * ax1[None, :])[:, :, None] * np.ones(4, int)
    # the reference's explicit conv matrix agrees with the hand tables
    assert np.array_equal(cf.conn(l0).sum(1), 4 * fan0.reshape(-1))
    assert np.array_equal(cf.conn(l1).sum(1), 3 * fan1.reshape(-1))
    x = frames[0].reshape(T, -1)
    s0 = rc.forward(cf.ref_ops(ops), Ws, bs, frames[0], rn)["s"][0]
    np.testing.assert_array_equal(got[:, 0, INF, A.SYNOP], x @ (4 * fan0.reshape(-1)))
    np.testing.assert_array_equal(got[:, 1, INF, A.SYNOP], s0 @ (3 * fan1.reshape(-1)))
    np.testing.assert_array_equal(got[:, 0, INF, A.MEM_READ_WEIGHT], got[:, 0, INF, A.SYNOP])
    assert (got[:, 0, INF, A.NB_DENSE_OPS] == ax0.sum() ** 2 * 2 * 4).all()      # 13^2 x 2 x 4
    assert (got[:, 1, INF, A.NB_DENSE_OPS] == ax1.sum() ** 2 * 4 * 3).all()      # 4^2 x 4 x 3
    # layer 1: output (oy, ox) reads input rows/cols 2o, 2o+1 only; active if one of them spiked
    s0m = s0.reshape(T, 5, 5, 4)
    active = np.array([[s0m[t, 2 * oy:2 * oy + 2, 2 * ox:2 * ox + 2].any() for oy in range(2)
                        for ox in range(2)] for t in range(T)]).sum(1) * 3
    np.testing.assert_array_equal(got[:, 1, INF, A.NEURON_UPDATE_ACTIVE], active)
    np.testing.assert_array_equal(got[:, 1, INF, A.NEURON_UPDATE_IDLE], 12 - active)
    # spikes in row or column 4 of conv1 do happen and cost nothing in conv2
    assert s0m[:, 4].sum() + s0m[:, :, 4].sum() > 0


@pytest.mark.parametrize("rule,preset", [("sltt", "ottt"), ("sltt", "sltt"), ("ottt_a", "ottt")])
def test_stride2_training_counts_against_reference(rule, preset):
    """Every count of a training step of the stride-2 net, per step, against the reference's
    spikes, surrogates, gradients (and OTTT's traces): SOPs by actual fan-out, active/idle
    updates, dense ops, error MACs (inputs with a non-zero surrogate x the non-zero output
    gradients they connect to), gradient ACs/MACs, gradient-memory traffic, the update sweep."""
    ops, frames, labels, net, inp = problem(STRIDE)
    nrn, rn = neuron(preset)
    Ws, bs, _ = cf.ref_params(net)
    W0 = [w.copy() for w in net.weights]
    tr = trainer(rule, net, nrn, T=T)
    tr.train_batch(inp, inp.ptr[:1], labels[:1])
    if rule == "sltt":
        r = rc.grads_sltt(cf.ref_ops(ops), Ws, bs, frames[0], labels[0], rn)
        use, traces = None, None
    else:
        r = rc.grads_ottt(cf.ref_ops(ops), Ws, bs, frames[0], labels[0], rn, trace_decay=rn["lam"])
        use, traces = [False, True, True], (lambda b: r["rec"]["traces"])
    _every_layer_spikes([r["rec"]])
    exp = cf.expected_batch(net, W0, frames, [r["rec"]], "spatial",
                            [(T - 1, cf.issued_from(r["gW"], r["gb"]))], use_trace=use,
                            traces=traces)
    cf.assert_counts(tr.last_step_counts[0], exp[0], net, f"{rule}/{preset}")
    got = tr.last_step_counts[0]
    assert got[:, 1, LRN, A.ERROR_MAC].sum() > 0 and got[:, 0, LRN, A.ERROR_MAC].sum() == 0
    if preset == "sltt":     # the triangle surrogate is zero somewhere: error MACs are skipped
        assert (r["rec"]["sg"][0] == 0).any()


# ----------------------------------------------------------------------------- max pooling

def _windows(s, shape, k):
    """(T, pooled) whether each k x k window (floor) of a (T, H*W*C) spike map holds a spike."""
    H, W, Cc = shape
    m = s.reshape(-1, H, W, Cc)[:, : H // k * k, : W // k * k]
    return m.reshape(-1, H // k, k, W // k, k, Cc).any(axis=(2, 4)).reshape(m.shape[0], -1)


@pytest.mark.parametrize("preset", ["ottt", "sltt"])
def test_maxpool_counts_against_reference(preset):
    """Max pooling: one event per window whose maximum is non-zero (spikes in the floored row
    and column go nowhere), and the error of a pooled input computed when the first maximal
    element of its window (torch's rule; the first element when the window is silent) has a
    non-zero surrogate. Every count, per step, against the reference."""
    ops, frames, labels, net, inp = problem(MAXPOOL)
    nrn, rn = neuron(preset)
    Ws, bs, _ = cf.ref_params(net)
    W0 = [w.copy() for w in net.weights]
    tr = trainer("sltt", net, nrn, T=T)
    tr.train_batch(inp, inp.ptr[:1], labels[:1])
    r = rc.grads_sltt(cf.ref_ops(ops), Ws, bs, frames[0], labels[0], rn)
    rec = r["rec"]
    _every_layer_spikes([rec])
    got = tr.last_step_counts[0]
    # events after each pool: the windows holding a spike, by hand and in the reference's z
    for l, src in ((1, 0), (2, 1)):
        win = _windows(rec["s"][src], net.layers[src].out, 2)
        np.testing.assert_array_equal(win, rec["z"][l] != 0)
        fan = cf.conn(net.layers[l]).sum(1)
        np.testing.assert_array_equal(got[:, l, INF, A.SYNOP], win.astype(int) @ fan)
    exp = cf.expected_batch(net, W0, frames, [rec], "spatial",
                            [(T - 1, cf.issued_from(r["gW"], r["gb"]))])
    cf.assert_counts(got, exp[0], net, f"maxpool/{preset}")
    if preset == "sltt":
        # the counts tell torch's rule from routing to the last maximal element
        ls = net.layers[1]
        routes = {rule: cf.error_routes(ls, rec["s"][0], None, rule) for rule in ("first", "last")}
        meets = (rec["g"][1] != 0).astype(int) @ cf.conn(ls).T
        err = {}
        for rule, rt in routes.items():
            need = np.zeros((T, ls.n_in), int)
            for t in range(T):
                sel = (rec["sg"][0][t] != 0) & (rt[t] >= 0)
                need[t, rt[t, sel]] = 1
            err[rule] = int((need * meets).sum())
        assert got[:, 1, LRN, A.ERROR_MAC].sum() == err["first"] != err["last"]


# ----------------------------------------------------------------------------- dropout

@pytest.mark.parametrize("preset", ["ottt", "sltt"])
def test_dropout_counts_against_reference(preset):
    """Dropout, batch 2: one mask per sample (read back from the trainer) kept over all steps.
    Dropped neurons send no events (SOPs of the next layer), dense ops are unchanged, error MACs
    skip dropped neurons. Every count, per sample and step, against the reference run with the
    trainer's masks; inference runs without dropout."""
    B = 2
    ops, frames, labels, net, inp = problem(DROPOUT, B=B)
    nrn, rn = neuron(preset)
    Ws, bs, _ = cf.ref_params(net)
    W0 = [w.copy() for w in net.weights]
    tr = trainer("sltt", net, nrn, T=T, B=B, seed=3)
    tr.train_batch(inp, inp.ptr[:B], labels[:B])
    masks = cf.op_masks(tr, net, B)
    assert len(masks) == 2 and all(m.shape == (B, n) for m, n in zip(masks, (108, 36)))
    assert all(set(np.unique(m)) == {0.0, 2.0} for m in masks)
    assert not np.array_equal(masks[0][0], masks[0][1])          # one mask per sample
    r = rc.batch_mean(rc.grads_sltt, cf.ref_ops(ops), Ws, bs, frames, labels, rn, masks=masks)
    recs = [p["rec"] for p in r["per_sample"]]
    _every_layer_spikes(recs)
    exp = cf.expected_batch(net, W0, frames, recs, "spatial",
                            [(T - 1, cf.issued_from(r["gW"], r["gb"]))],
                            masks=lambda b: cf.population_masks(tr, net, b))
    for b in range(B):
        cf.assert_counts(tr.last_step_counts[b], exp[b], net, f"dropout/{preset} sample {b}")
        got = tr.last_step_counts[b]
        m = masks[0][b]
        s0 = recs[b]["s"][0]
        # the dropped neurons' spikes are really there, and cost nothing downstream
        assert (s0[:, m == 0]).sum() > 0
        fan = cf.conn(net.layers[1]).sum(1)
        np.testing.assert_array_equal(got[:, 1, INF, A.SYNOP], (s0 * (m != 0)) @ fan)
        assert (got[:, 1, INF, A.NB_DENSE_OPS] == cf.dense_ops(net.layers[1])).all()
        m1 = masks[1][b]
        err = ((recs[b]["sg"][1] != 0) * (m1 != 0)).sum(1) * (recs[b]["g"][2] != 0).sum(1)
        np.testing.assert_array_equal(got[:, 2, LRN, A.ERROR_MAC], err)
    # inference: no dropout
    fresh = problem(DROPOUT, B=B)[3]
    ti = trainer("sltt", fresh, nrn, T=T, B=B)
    ti.infer_batch(inp, inp.ptr[:B], labels[:B])
    for b in range(B):
        fw = rc.forward(cf.ref_ops(ops), Ws, bs, frames[b], rn,
                        masks=[np.ones(108), np.ones(36)])
        e = cf.expected(fresh, W0, cf.layer_records(fresh, frames[b], fw), "infer")
        cf.assert_counts(ti.last_step_counts[b], e, fresh, f"dropout inference sample {b}")


@pytest.mark.parametrize("rule,B", [("sltt", 2), ("bptt", 3)])
def test_maxpool_behind_dropout_counts_against_reference(rule, B):
    """Stride 2, dropout, then max pooling into a dense layer: a window's event is its maximum
    over the surviving spikes, its error goes to the first maximal element of the masked map
    (dropped neurons take none). Every count, per sample and step, against the reference run
    with the trainer's masks (TET's triangle surrogate: zeros, so the routing shows)."""
    ops = [dict(kind="conv", channels=4, kernel=3, stride=2, padding=1, bias=True),
           dict(kind="dropout", p=0.3), dict(kind="maxpool", size=2),
           dict(kind="dense", units=6, bias=False)]
    ops, frames, labels, net, inp = problem((ops, (9, 9, 2)), B=B)
    nrn, rn = neuron("tet")
    Ws, bs, _ = cf.ref_params(net)
    W0 = [w.copy() for w in net.weights]
    tr = trainer(rule, net, nrn, T=T, B=B, seed=7)
    tr.train_batch(inp, inp.ptr[:B], labels[:B])
    fn = rc.grads_sltt if rule == "sltt" else rc.grads_bptt
    r = rc.batch_mean(fn, cf.ref_ops(ops), Ws, bs, frames, labels, rn, masks=cf.op_masks(tr, net, B))
    recs = [p["rec"] for p in r["per_sample"]]
    _every_layer_spikes(recs)
    exp = cf.expected_batch(net, W0, frames, recs, "spatial" if rule == "sltt" else "bptt",
                            [(T - 1, cf.issued_from(r["gW"], r["gb"]))],
                            masks=lambda b: cf.population_masks(tr, net, b))
    for b in range(B):
        cf.assert_counts(tr.last_step_counts[b], exp[b], net, f"{rule} sample {b}")
        assert (recs[b]["sg"][0] == 0).any() and (tr.masks[1][b] == 0).any()


# ----------------------------------------------------------------------------- conv BPTT

@pytest.mark.parametrize("preset,detach", [("ottt", False), ("tet", False), ("ottt", True)])
def test_conv_bptt_counts_against_reference(preset, detach):
    """Conv BPTT: one temporal MAC per LIF neuron per step except the first backward step (the
    last time step); history written in the forward pass and read back in the backward pass:
    u and spikes of every LIF layer, the readout's outputs and the events of a layer behind
    pooling, every step; error MACs and gradient ACs over all steps from the reference's BPTT
    gradients; dense layers' gradient work counted at the last step."""
    ops, frames, labels, net, inp = problem(AVG)
    nrn, rn = neuron(preset, detach_reset=detach)
    Ws, bs, _ = cf.ref_params(net)
    W0 = [w.copy() for w in net.weights]
    tr = trainer("bptt", net, nrn, T=T)
    tr.train_batch(inp, inp.ptr[:1], labels[:1])
    r = rc.grads_bptt(cf.ref_ops(ops), Ws, bs, frames[0], labels[0], rn)
    rec = r["rec"]
    _every_layer_spikes([rec])
    got = tr.last_step_counts[0]
    l0, l1, ro = net.layers
    # closed forms by hand
    for l, ls in enumerate((l0, l1)):
        np.testing.assert_array_equal(got[:, l, LRN, A.TEMPORAL_MAC], [ls.n_out] * (T - 1) + [0])
    ev1 = rec["s"][0].sum(1)        # every conv1 spike is an event of conv2 (6x6: no floor loss)
    for act in (A.MEM_WRITE_HIST, A.MEM_READ_HIST):
        np.testing.assert_array_equal(got[:, 0, LRN, act], l0.n_out + rec["s"][0].sum(1))
        np.testing.assert_array_equal(got[:, 1, LRN, act], l1.n_out + rec["s"][1].sum(1) + ev1)
        np.testing.assert_array_equal(got[:, 2, LRN, act], [C] * T)
    assert got[:-1, 2, LRN, A.GRAD_AC].sum() == 0 and got[-1, 2, LRN, A.GRAD_AC] > 0
    assert got[:, :, LRN, A.MEM_READ_STATE].sum() == 0        # u comes from the history
    # every count against the reference
    exp = cf.expected_batch(net, W0, frames, [rec], "bptt",
                            [(T - 1, cf.issued_from(r["gW"], r["gb"]))])
    cf.assert_counts(got, exp[0], net, f"bptt/{preset}", skip=cf.avg_pooled_nb_eff(net))


# ----------------------------------------------------------------------------- NeuroBench ops

@pytest.mark.xfail(strict=True, reason=(
    "NB_EFF_OPS behind average pooling (a pooled conv/dense layer, tbptt_local's global-average "
    "auxiliary heads) counts one input per spike event, not per non-zero pooled input as "
    "NeuroBench does (the connection layer re-run on its binarised input; pooling not counted): "
    "with 2x2 pooling it exceeds NB_DENSE_OPS, which NeuroBench's effective ops never do"))
def test_nb_effective_ops_behind_average_pooling():
    """NeuroBench effective ops of the conv behind a 2x2 average pool, per step: its non-zero
    pooled inputs (the reference's z) x the non-zero weights each reaches; never above dense ops."""
    ops, frames, labels, net, inp = problem(AVG)
    nrn, rn = neuron("ottt")
    Ws, bs, _ = cf.ref_params(net)
    tr = trainer("sltt", net, nrn, T=T)
    tr.infer_batch(inp, inp.ptr[:1], labels[:1])
    got = tr.last_step_counts[0, :, 1, INF]
    z = rc.forward(cf.ref_ops(ops), Ws, bs, frames[0], rn)["z"][1]
    nb = (z != 0).astype(int) @ cf.nz_conn(net.layers[1], Ws[1]).sum(1)
    assert (got[:, A.NB_EFF_OPS] <= got[:, A.NB_DENSE_OPS]).all()
    np.testing.assert_array_equal(got[:, A.NB_EFF_OPS], nb)


def test_effective_ops_follow_the_weights_step_by_step():
    """OTTT_O updates at every step. With a fifth of the input conv's weights exactly zero at
    the start, its updates make some of them non-zero: its NeuroBench effective ops at step t
    are its input events x the non-zero weights each reaches in the weights of step t (the
    reference's, W0 - lr x the gradients of the steps before), so the kernel rows' non-zero
    counts must be made again after every update."""
    ops, frames, labels, net, inp = problem(STRIDE)
    net.weights[0][np.random.default_rng(7).random(net.weights[0].shape) < 0.2] = 0.0
    nrn, rn = neuron("ottt")
    Ws, bs, _ = cf.ref_params(net)
    lr = 0.4
    tr = trainer("ottt_o", net, nrn, T=T, lr=lr)
    tr.train_batch(inp, inp.ptr[:1], labels[:1])
    got = tr.last_step_counts[0, :, 0, INF, A.NB_EFF_OPS]
    r = rc.ottt_online(cf.ref_ops(ops), Ws, bs, frames[0], labels[0], rn, lr=lr,
                       trace_decay=rn["lam"])
    Wt = [Ws[0] - lr * sum((g[0][0] for g in r["step_grads"][:t]), np.zeros_like(Ws[0]))
          for t in range(T)]
    nz = [int((w != 0).sum()) for w in Wt]
    assert nz[0] < nz[-1], f"updates must make zero weights non-zero for this to test: {nz}"
    want = [frames[0, t].reshape(-1) @ cf.nz_conn(net.layers[0], Wt[t]).sum(1) for t in range(T)]
    np.testing.assert_array_equal(got, want)
