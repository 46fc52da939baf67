"""Convolutional networks: every rule's update equals the independent numpy reference
(tests/reference_conv.py: conv and pooling as explicit matrices) in float64 to 1e-10, and the
counts equal closed forms (SOPs = sum over input events of their actual fan-out)."""

from __future__ import annotations

import numpy as np
import pytest

from chipsim import counts as K
from chipsim.model.inputs import encode_frames
from chipsim.model.network import Network
from tests import reference_conv as rc
from tests.helpers import neuron, trainer

T = 5
C = 4
LR = 0.4

# (name, chipsim ops, input (H, W, C))
NETS = {
    "conv_avg_dense": ([
        dict(kind="conv", channels=3, kernel=3, stride=1, padding=1, bias=False),
        dict(kind="avgpool", size=2),
        dict(kind="conv", channels=4, kernel=3, stride=1, padding=1, bias=True),
        dict(kind="avgpool", size=2),
        dict(kind="flatten"),
    ], (8, 8, 2)),
    "stride_max_drop_dense": ([
        dict(kind="conv", channels=4, kernel=3, stride=2, padding=1, bias=True),
        dict(kind="dropout", p=0.3),
        dict(kind="maxpool", size=2),
        dict(kind="dense", units=6, bias=False),
    ], (9, 9, 2)),
    # kernel sizes 5 and 1, no padding, and padding >= kernel (the error pass's general im2col)
    "odd_kernels": ([
        dict(kind="conv", channels=3, kernel=5, stride=1, padding=2, bias=False),
        dict(kind="conv", channels=4, kernel=2, stride=1, padding=2, bias=True),
        dict(kind="avgpool", size=2),
        dict(kind="conv", channels=3, kernel=1, stride=1, padding=0, bias=False),
        dict(kind="conv", channels=3, kernel=3, stride=1, padding=0, bias=False),
        dict(kind="flatten"),
    ], (10, 10, 2)),
}


def _ref_ops(ops):
    out = []
    for op in ops:
        k = op["kind"]
        if k == "conv":
            out.append(dict(kind="conv", cout=op["channels"], k=op["kernel"], stride=op["stride"],
                            pad=op["padding"], bias=op["bias"]))
        elif k in ("avgpool", "maxpool"):
            out.append(dict(kind=k, size=op["size"]))
        elif k == "dense":
            out.append(dict(kind="dense", units=op["units"], bias=op["bias"]))
        else:
            out.append(dict(kind=k))
    return out


GAIN = {"odd_kernels": 6.0}   # initial weight scale that makes every layer of a net spike


def _problem(name, seed=0, N=3, density=0.35, block=None, gain=None):
    ops, shape = NETS[name]
    gain = GAIN.get(name, 3.0) if gain is None else gain
    rng = np.random.default_rng(seed)
    frames = (rng.random((N, T) + shape) < density).astype(np.uint8)
    labels = rng.integers(0, C, N)
    net = Network.build(shape, True, ops, C, True, np.random.default_rng(seed + 1), gain=gain,
                        block=block)
    return ops, frames, labels, net, encode_frames(frames, True)


def _ref_args(ops, net):
    """Weights, biases (None where a layer has none) and aux heads in the reference's form."""
    main = [i for i, ls in enumerate(net.layers) if ls.kind != "aux"]
    Ws = [net.weights[i].copy() for i in main]
    bs = [net.biases[i].copy() if net.layers[i].bias else None for i in main]
    aux = [(net.weights[i].copy(), net.biases[i].copy()) for i, ls in enumerate(net.layers)
           if ls.kind == "aux"]
    return _ref_ops(ops), Ws, bs, aux


def _masks(tr, net, B):
    """The dropout masks the trainer drew, one array per dropout op (reference order)."""
    return [tr.masks[p][:B].copy() for p, rate in enumerate(net.dropout) if rate > 0] or None


def _check(net, Ws_new, bs_new):
    main = [i for i, ls in enumerate(net.layers) if ls.kind != "aux"]
    for j, i in enumerate(main):
        np.testing.assert_allclose(net.weights[i], Ws_new[j], rtol=0, atol=1e-10, err_msg=net.layers[i].name)
        if bs_new[j] is not None:
            np.testing.assert_allclose(net.biases[i], bs_new[j], rtol=0, atol=1e-10)


def _check_sgd_step(net, Ws, bs, r):
    """The trainer's weights equal one plain-SGD step along the reference's gradients."""
    _check(net, [w - LR * g for w, g in zip(Ws, r["gW"])],
           [None if b is None else b - LR * g for b, g in zip(bs, r["gb"])])


def _spikes_everywhere(rec):
    for s in rec["s"]:
        if s is not None:
            assert 0 < s.mean() < 0.9, "every layer of the test network must spike"


@pytest.mark.parametrize("name", list(NETS))
@pytest.mark.parametrize("rule", ["sltt", "ottt_a", "bptt"])
@pytest.mark.parametrize("preset,B", [("ottt", 1), ("ottt", 2), ("tet", 2), ("sltt", 1)])
def test_deferred_rules_match_reference(name, rule, preset, B):
    ops, frames, labels, net, inp = _problem(name)
    nrn, rn = neuron(preset)
    rops, Ws, bs, _ = _ref_args(ops, net)
    tr = trainer(rule, net, nrn, T=T, B=B, lr=LR)
    tr.train_batch(inp, inp.ptr[:B], labels[:B])
    masks = _masks(tr, net, B)
    fn = {"sltt": rc.grads_sltt, "bptt": rc.grads_bptt,
          "ottt_a": lambda *a, **k: rc.grads_ottt(*a, trace_decay=rn["lam"], **k)}[rule]
    r = rc.batch_mean(fn, rops, Ws, bs, frames[:B], labels[:B], rn, masks=masks)
    _spikes_everywhere(r["per_sample"][0]["rec"])
    _check_sgd_step(net, Ws, bs, r)


@pytest.mark.parametrize("rule", ["sltt", "ottt_a", "bptt"])
def test_large_stacked_product_shared_by_rows_matches_reference(rule):
    """At batch > 1 a convolution's stacked weight-gradient product of >= BLOCK_MACS
    multiply-accumulates is computed in fixed blocks of its output rows, which the workers
    share (loop._chunk_units, arrays.gemm_rows; here 2 workers, 288 rows in blocks of 80)."""
    from chipsim.kernels.loop import BLOCK_MACS
    from chipsim.kernels.records import WGRAD_BLOCK
    cout, shape, B = 2 * WGRAD_BLOCK + 16, (6, 6, 32), 12
    ops = [dict(kind="conv", channels=cout, kernel=3, stride=1, padding=1, bias=True),
           dict(kind="avgpool", size=2), dict(kind="flatten")]
    rng = np.random.default_rng(8)
    frames = (rng.random((B, T) + shape) < 0.35).astype(np.uint8)
    labels = rng.integers(0, C, B)
    net = Network.build(shape, True, ops, C, True, np.random.default_rng(9), gain=3.0)
    # the spatial rules' product holds one step of the batch, BPTT's all of them
    assert B * 36 * 9 * 32 * cout >= BLOCK_MACS
    nrn, rn = neuron("ottt")
    rops, Ws, bs, _ = _ref_args(ops, net)
    tr = trainer(rule, net, nrn, T=T, B=B, lr=LR, workers=2)
    inp = encode_frames(frames, True)
    tr.train_batch(inp, inp.ptr, labels)
    fn = {"sltt": rc.grads_sltt, "bptt": rc.grads_bptt,
          "ottt_a": lambda *a, **k: rc.grads_ottt(*a, trace_decay=rn["lam"], **k)}[rule]
    r = rc.batch_mean(fn, rops, Ws, bs, frames, labels, rn)
    _spikes_everywhere(r["per_sample"][0]["rec"])
    _check_sgd_step(net, Ws, bs, r)


@pytest.mark.parametrize("rule", ["sltt", "bptt"])
@pytest.mark.parametrize("stride", [1, 2])
def test_large_error_product_reads_the_kernel_transposed_matches_reference(rule, stride):
    """A convolution's error product of more than conv.SMALL_GEMM multiply-adds reads its
    transposed kernel as BLAS's 't' operand, stored (Cin, k*k*Cout) (error.transpose_kernel,
    both of its orders: stride 1, and the general im2col at stride 2); the update still equals
    the reference's. The second conv's error product: 6x6 input positions x 9*56 x 56."""
    from chipsim.kernels.conv import SMALL_GEMM
    c, shape = 56, (6, 6, 4)
    ops = [dict(kind="conv", channels=c, kernel=3, stride=1, padding=1, bias=False),
           dict(kind="conv", channels=c, kernel=3, stride=stride, padding=1, bias=True),
           dict(kind="flatten")]
    assert 6 * 6 * 9 * c * c > SMALL_GEMM
    rng = np.random.default_rng(11)
    frames = (rng.random((1, T) + shape) < 0.35).astype(np.uint8)
    labels = rng.integers(0, C, 1)
    net = Network.build(shape, True, ops, C, True, np.random.default_rng(12), gain=3.0)
    nrn, rn = neuron("ottt")
    rops, Ws, bs, _ = _ref_args(ops, net)
    tr = trainer(rule, net, nrn, T=T, B=1, lr=LR)
    inp = encode_frames(frames, True)
    tr.train_batch(inp, inp.ptr, labels)
    fn = {"sltt": rc.grads_sltt, "bptt": rc.grads_bptt}[rule]
    r = rc.batch_mean(fn, rops, Ws, bs, frames, labels, rn)
    _spikes_everywhere(r["per_sample"][0]["rec"])
    _check_sgd_step(net, Ws, bs, r)


@pytest.mark.parametrize("name", list(NETS))
@pytest.mark.parametrize("B", [1, 2])
def test_ottt_o_matches_reference(name, B):
    ops, frames, labels, net, inp = _problem(name, seed=3)
    nrn, rn = neuron("ottt")
    rops, Ws, bs, _ = _ref_args(ops, net)
    tr = trainer("ottt_o", net, nrn, T=T, B=B, lr=LR)
    tr.train_batch(inp, inp.ptr[:B], labels[:B])
    r = rc.ottt_online(rops, Ws, bs, frames[:B], labels[:B], rn, lr=LR, trace_decay=rn["lam"],
                       masks=_masks(tr, net, B))
    _check(net, r["W"], r["b"])


@pytest.mark.parametrize("window,block", [(T, None), (2, None), (2, 1), (1, 1)])
def test_tbptt_local_matches_reference(window, block):
    ops, frames, labels, net, inp = _problem("conv_avg_dense", seed=5, block=block)
    nrn, rn = neuron("tet")
    rops, Ws, bs, aux = _ref_args(ops, net)
    tr = trainer("tbptt_local", net, nrn, T=T, B=2, lr=LR, window=window)
    tr.train_batch(inp, inp.ptr[:2], labels[:2])
    r = rc.tbptt_local(rops, Ws, bs, aux, frames[:2], labels[:2], rn, lr=LR, T_L=window,
                       B_L=block or 99)
    _check(net, r["W"], r["b"])
    auxi = [i for i, ls in enumerate(net.layers) if ls.kind == "aux"]
    assert len(auxi) == len(aux) == (1 if block == 1 else 0)
    for i, (wa, ba) in zip(auxi, r["aux"]):
        np.testing.assert_allclose(net.weights[i], wa, atol=1e-10)
        np.testing.assert_allclose(net.biases[i], ba, atol=1e-10)


def test_tbptt_local_full_window_one_block_equals_bptt():
    ops, frames, labels, net, inp = _problem("stride_max_drop_dense", seed=7)
    nrn, _ = neuron("ottt", detach_reset=False)
    a, b = net.copy(), net.copy()
    ta = trainer("tbptt_local", a, nrn, T=T, B=1, lr=LR, seed=9)
    tb = trainer("bptt", b, nrn, T=T, B=1, lr=LR, seed=9)      # same seed: same dropout masks
    ca = ta.train_batch(inp, inp.ptr[:1], labels[:1])[2]
    cb = tb.train_batch(inp, inp.ptr[:1], labels[:1])[2]
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(ca, cb)


def _fanout_conv(ls):
    """Actual fan-out (synapses reached) of each input position of a conv layer, from the
    reference's explicit conv matrix built with all-one weights."""
    k, cin = ls.k, ls.pooled[2]
    M, _ = rc.conv_matrix(np.ones((k * k * cin, ls.out[2])), ls.pooled, k, ls.stride, ls.pad)
    return (M != 0).sum(axis=1)


def test_conv_sops_closed_form_with_borders_and_pooling():
    ops, frames, labels, net, inp = _problem("conv_avg_dense", seed=11)
    nrn, rn = neuron("ottt")
    rops, Ws, bs, _ = _ref_args(ops, net)
    tr = trainer("sltt", net, nrn, T=T, B=1)
    _, _, cnt = tr.infer_batch(inp, inp.ptr[:1], labels[:1])
    rec = rc.forward(rops, Ws, bs, frames[0], rn)
    ls0, ls1 = net.layers[0], net.layers[1]
    # layer 0 reads the raw input: SOPs = sum over input spikes of their fan-out
    f0 = _fanout_conv(ls0)
    x = frames[0].reshape(T, -1)
    assert cnt[0, 0, K.Phase.INFERENCE, K.SYNOP] == int((x * f0).sum())
    # layer 1 reads layer 0's spikes through a 2x2 average pool: every spike is one event whose
    # fan-out is that of its pooled position (spikes outside the floor area reach nothing)
    f1 = _fanout_conv(ls1)
    H, W, Cc = ls0.out
    s0 = rec["s"][0].reshape(T, H, W, Cc)
    pooled_idx = ((np.arange(H)[:, None] // 2) * (W // 2) + np.arange(W)[None, :] // 2)
    fan = f1.reshape(H // 2 * (W // 2), Cc)[pooled_idx.reshape(-1)].reshape(H, W, Cc)
    assert cnt[0, 1, K.Phase.INFERENCE, K.SYNOP] == int((s0 * fan[None]).sum())
    assert cnt[0, 1, K.Phase.INFERENCE, K.SPIKE] == int(rec["s"][1].sum())
    # NeuroBench dense ops: every input (padding excluded) x every weight it meets, per step
    assert cnt[0, 0, K.Phase.INFERENCE, K.NB_DENSE_OPS] == T * int(f0.sum())


def test_conv_learning_counts_closed_form():
    ops, frames, labels, net, inp = _problem("conv_avg_dense", seed=13)
    nrn, rn = neuron("ottt")
    rops, Ws, bs, _ = _ref_args(ops, net)
    tr = trainer("sltt", net, nrn, T=T, B=1)
    _, _, cnt = tr.train_batch(inp, inp.ptr[:1], labels[:1])
    rec = rc.grads_sltt(rops, Ws, bs, frames[0], labels[0], rn)["rec"]
    c = cnt[0, :, K.Phase.LEARNING]
    # readout (dense, behind a 2x2 average pool): every spike of conv2 inside the pooled area
    # is one event; gradient ACs = sum_t (events) x (non-zero output gradients)
    H, W, Cc = net.layers[1].out
    s1 = rec["s"][1].reshape(T, H, W, Cc)[:, : H // 2 * 2, : W // 2 * 2]
    ev = s1.reshape(T, -1).sum(axis=1)
    gnz = np.count_nonzero(rec["g"][2], axis=1)
    assert c[2, K.GRAD_AC] == int((ev * gnz).sum())
    for l in (0, 1):
        assert c[l, K.SURROGATE_EVAL] == T * net.layers[l].n_out
        issued = np.count_nonzero(Ws[l] - net.weights[l])
        if bs[l] is not None:
            issued += np.count_nonzero(bs[l] - net.biases[l])
        assert c[l, K.WEIGHT_UPDATE_ISSUED] == issued
        assert c[l, K.WEIGHT_UPDATE_ISSUED] + c[l, K.WEIGHT_UPDATE_SKIPPED] == net.layers[l].synapses + net.layers[l].out[2] * net.layers[l].bias


def _conn(ls):
    """0/1 connectivity (pooled input x output) of a conv layer, from the reference's explicit
    conv matrix."""
    M, _ = rc.conv_matrix(np.ones((ls.k * ls.k * ls.pooled[2], ls.out[2])), ls.pooled, ls.k,
                          ls.stride, ls.pad)
    return (M != 0).astype(np.int64)


@pytest.mark.parametrize("preset,rule", [("ottt", "sltt"), ("sltt", "sltt"), ("ottt", "ottt_a")])
def test_conv_backward_counts_closed_form(preset, rule):
    """Error MACs, gradient ACs and gradient-memory traffic of both conv layers, from the
    reference's gradients: a pooled input's error is computed once when some neuron of its
    window has a non-zero surrogate, costing the non-zero output gradients it connects to; each
    input event costs the same in gradient ACs (OTTT: each non-zero trace entry, in MACs)."""
    ops, frames, labels, net, inp = _problem("conv_avg_dense", seed=29)
    nrn, rn = neuron(preset)
    rops, Ws, bs, _ = _ref_args(ops, net)
    tr = trainer(rule, net, nrn, T=T, B=1)
    _, _, cnt = tr.train_batch(inp, inp.ptr[:1], labels[:1])
    if rule == "sltt":
        rec = rc.grads_sltt(rops, Ws, bs, frames[0], labels[0], rn)["rec"]
    else:
        rec = rc.grads_ottt(rops, Ws, bs, frames[0], labels[0], rn, trace_decay=rn["lam"])["rec"]
    c = cnt[0, :, K.Phase.LEARNING]
    ls0, ls1 = net.layers[0], net.layers[1]
    meets1 = (rec["g"][1] != 0).astype(np.int64) @ _conn(ls1).T          # (T, pooled inputs)
    H, W, Cc = ls0.out
    sg0 = rec["sg"][0].reshape(T, H, W, Cc)[:, : H // 2 * 2, : W // 2 * 2]
    needed = (sg0.reshape(T, H // 2, 2, W // 2, 2, Cc) != 0).any(axis=(2, 4)).reshape(T, -1)
    assert 0 < needed.sum() and (preset == "ottt") == needed.all()
    assert c[1, K.ERROR_MAC] == int((needed * meets1).sum())
    if rule == "sltt":
        events1 = np.rint(rec["z"][1] * 4).astype(np.int64)   # spikes per 2x2 window (avg pool)
        assert c[1, K.GRAD_AC] == int((events1 * meets1).sum())
    else:   # the presynaptic factor is the trace of the pooled input: MACs per non-zero entry
        assert c[1, K.GRAD_AC] == 0
        assert c[1, K.GRAD_MAC] == int(((rec["traces"][1] != 0) * meets1).sum())
    meets0 = (rec["g"][0] != 0).astype(np.int64) @ _conn(ls0).T
    assert c[0, K.ERROR_MAC] == 0
    assert c[0, K.GRAD_AC] == int((frames[0].reshape(T, -1) * meets0).sum())
    # accumulator traffic: each gradient AC, each non-zero bias gradient, then the apply sweep
    bias_nz = int(np.count_nonzero(rec["g"][1]))
    grad1 = c[1, K.GRAD_AC] + c[1, K.GRAD_MAC]
    assert c[1, K.MEM_READ_GRAD] == grad1 + bias_nz + Ws[1].size + bs[1].size
    assert c[0, K.MEM_READ_GRAD] == c[0, K.GRAD_AC] + Ws[0].size


def test_sltt_k_on_conv_matches_reference():
    ops, frames, labels, net, inp = _problem("conv_avg_dense", seed=17)
    nrn, rn = neuron("sltt")
    rops, Ws, bs, _ = _ref_args(ops, net)
    tr = trainer("sltt", net, nrn, T=T, B=1, lr=LR, k=2, seed=31)
    steps = set(np.random.default_rng(31).permutation(T)[:2].tolist())   # the trainer's draw
    _, _, cnt = tr.train_batch(inp, inp.ptr[:1], labels[:1])
    r = rc.grads_sltt(rops, Ws, bs, frames[0], labels[0], rn, steps=steps)
    _check_sgd_step(net, Ws, bs, r)
    assert cnt[0, 2, K.Phase.LEARNING, K.OUTPUT_ERROR] == 2 * C
    assert cnt[0, 0, K.Phase.LEARNING, K.SURROGATE_EVAL] == 2 * net.layers[0].n_out


def test_tbptt_learning_memory_scales_with_the_window():
    sizes = {}
    for w in (1, 2, 5):
        ops, frames, labels, net, inp = _problem("conv_avg_dense", seed=19)
        nrn, _ = neuron("ottt")
        sizes[w] = trainer("tbptt_local", net, nrn, T=T, window=w).learning_state_bytes
    step = sizes[2] - sizes[1]
    assert step > 0 and sizes[5] - sizes[2] == 3 * step


def test_ottt_with_zero_trace_decay_equals_sltt_on_conv():
    ops, frames, labels, net, inp = _problem("stride_max_drop_dense", seed=23)
    nrn, _ = neuron("ottt")
    a, b = net.copy(), net.copy()
    trainer("ottt_a", a, nrn, T=T, lr=LR, trace_decay=0.0, first_layer_input="trace",
            seed=4).train_batch(inp, inp.ptr[:1], labels[:1])
    trainer("sltt", b, nrn, T=T, lr=LR, seed=4).train_batch(inp, inp.ptr[:1], labels[:1])
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=1e-12)
