"""Every rule's weight update equals an independent plain-numpy reference (float64, 1e-12)."""

from __future__ import annotations

import numpy as np
import pytest

from chipsim import counts as K
from tests import reference as ref
from tests.helpers import neuron, small_problem, trainer

T = 6
LR = 0.5


def _updates(net_before, net_after):
    dW = [(a - b) / LR for a, b in zip(net_before.weights, net_after.weights)]
    db = [(a - b) / LR for a, b in zip(net_before.biases, net_after.biases)]
    return dW, db


def _check(dW, db, gW, gb, bias):
    for l, (a, b) in enumerate(zip(dW, gW)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12, err_msg=f"layer {l}")
    if bias:
        for a, b in zip(db, gb):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("preset", ["ottt", "sltt", "tet"])
@pytest.mark.parametrize("bias", [False, True])
def test_sltt_matches_reference(preset, bias):
    frames, labels, net, inp = small_problem(seed=3, bias=bias)
    nrn, rn = neuron(preset)
    before = net.copy()
    tr = trainer("sltt", net, nrn, T=T, lr=LR)
    loss, osum, cnt = tr.train_batch(inp, inp.ptr[:1], labels[:1])
    gW, gb, rloss, rosum, diag = ref.grads_spatial(before.weights, before.biases, frames[0], labels[0], rn)
    _check(*_updates(before, net), gW, gb, bias)
    assert loss[0] == pytest.approx(rloss, abs=1e-12)
    np.testing.assert_allclose(osum[0], rosum, atol=1e-12)
    assert sum(int(s.sum()) for s in diag["ss"]) > 0, "test network must spike"


@pytest.mark.parametrize("reset,detach", [("soft", True), ("soft", False), ("hard", False), ("hard", True)])
@pytest.mark.parametrize("decay_input", [False, True])
def test_bptt_matches_reference(reset, detach, decay_input):
    frames, labels, net, inp = small_problem(seed=5, bias=True)
    nrn, rn = neuron("ottt", reset=reset, detach_reset=detach, decay_input=decay_input,
                     leak=0.7 if decay_input else 0.5)
    before = net.copy()
    tr = trainer("bptt", net, nrn, T=T, lr=LR)
    loss, osum, cnt = tr.train_batch(inp, inp.ptr[:1], labels[:1])
    gW, gb, rloss, _, _ = ref.grads_bptt(before.weights, before.biases, frames[0], labels[0], rn)
    _check(*_updates(before, net), gW, gb, True)
    assert loss[0] == pytest.approx(rloss, abs=1e-12)


def test_bptt_differs_from_sltt():
    """The temporal route matters: BPTT and SLTT updates are not the same (guards the tests)."""
    frames, labels, net, inp = small_problem(seed=5)
    nrn, rn = neuron("ottt")
    gs = ref.grads_spatial(net.weights, net.biases, frames[0], labels[0], rn)[0]
    gb_ = ref.grads_bptt(net.weights, net.biases, frames[0], labels[0], rn)[0]
    assert max(np.abs(a - b).max() for a, b in zip(gs, gb_)) > 1e-6


@pytest.mark.parametrize("first", ["raw", "trace"])
def test_ottt_a_matches_sum_of_trace_products(first):
    frames, labels, net, inp = small_problem(seed=7)
    nrn, rn = neuron("ottt")
    before = net.copy()
    tr = trainer("ottt_a", net, nrn, T=T, lr=LR, first_layer_input=first)
    tr.train_batch(inp, inp.ptr[:1], labels[:1])
    gW, gb, *_ = ref.grads_spatial(before.weights, before.biases, frames[0], labels[0], rn,
                                   trace_decay=0.5, first_trace=first == "trace")
    _check(*_updates(before, net), gW, gb, False)


def test_ottt_with_zero_trace_decay_equals_sltt():
    frames, labels, net, inp = small_problem(seed=11)
    nrn, _ = neuron("ottt")
    a, b = net.copy(), net.copy()
    trainer("ottt_a", a, nrn, T=T, lr=LR, trace_decay=0.0, first_layer_input="trace").train_batch(
        inp, inp.ptr[:1], labels[:1])
    trainer("sltt", b, nrn, T=T, lr=LR).train_batch(inp, inp.ptr[:1], labels[:1])
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_ottt_o_matches_online_reference(momentum):
    frames, labels, net, inp = small_problem(seed=13, bias=True)
    nrn, rn = neuron("ottt")
    before = net.copy()
    tr = trainer("ottt_o", net, nrn, T=T, lr=0.3, momentum=momentum)
    assert tr.direct == (momentum == 0.0)
    loss, osum, cnt = tr.train_batch(inp, inp.ptr[:1], labels[:1])
    if momentum == 0.0:
        Ws, bs, rloss, rosum = ref.ottt_online(before.weights, before.biases, frames[0], labels[0], rn,
                                               lr=0.3, trace_decay=0.5)
        for a, b in zip(net.weights, Ws):
            np.testing.assert_allclose(a, b, atol=1e-12)
        for a, b in zip(net.biases, bs):
            np.testing.assert_allclose(a, b, atol=1e-12)
        assert loss[0] == pytest.approx(rloss, abs=1e-12)
        np.testing.assert_allclose(osum[0], rosum, atol=1e-12)
    # T updates per sample: every parameter is visited T times (issued + skipped)
    n_params = sum(w.size + b.size for w, b in zip(net.weights, net.biases))
    visits = cnt[..., K.WEIGHT_UPDATE_ISSUED].sum() + cnt[..., K.WEIGHT_UPDATE_SKIPPED].sum()
    assert visits == T * n_params


def test_ottt_o_momentum_matches_torch_sgd_semantics():
    """With momentum, OTTT_O is T torch-SGD steps; reference: the online rule + explicit buffers."""
    frames, labels, net, inp = small_problem(seed=17)
    nrn, rn = neuron("ottt")
    before = net.copy()
    trainer("ottt_o", net, nrn, T=T, lr=0.2, momentum=0.9).train_batch(inp, inp.ptr[:1], labels[:1])
    # reference: the online rule with explicit torch-style momentum buffers, one SGD step per t
    grads = _online_grads(before.weights, before.biases, frames[0], labels[0], rn, lr=0.2, momentum=0.9)
    for a, b in zip(net.weights, grads):
        np.testing.assert_allclose(a, b, atol=1e-12)


def _online_grads(Ws, bs, x, y, nrn, lr, momentum):
    Ws = [w.copy() for w in Ws]
    bs = [b.copy() for b in bs]
    T = x.shape[0]
    L = len(Ws)
    th, lam = nrn["theta"], nrn["lam"]
    v = [np.zeros(W.shape[1]) for W in Ws[:-1]]
    tr = [np.zeros(W.shape[0]) for W in Ws]
    buf = [np.zeros_like(W) for W in Ws]
    for t in range(T):
        inp = x[t].astype(np.float64)
        pres, us = [inp], []
        for l in range(L - 1):
            u = lam * v[l] + inp @ Ws[l] + bs[l]
            s = ref.H(u - th, nrn["h0"])
            v[l] = u - th * s
            us.append(u)
            inp = s
            pres.append(s)
        o = inp @ Ws[-1] + bs[-1]
        _, g = ref.loss_and_grad(o, y, T, 0.05)
        for l in range(L):
            tr[l] = 0.5 * tr[l] + pres[l]
        grads = [None] * L
        for l in range(L - 1, -1, -1):
            grads[l] = np.outer(pres[l] if l == 0 else tr[l], g)
            if l > 0:
                g = ref.sg(us[l - 1] - th, nrn["sg"], nrn["alpha"]) * (Ws[l] @ g)
        for l in range(L):
            buf[l] = momentum * buf[l] + grads[l]
            Ws[l] = Ws[l] - lr * buf[l]
    return Ws


def test_sltt_k_backward_only_at_k_steps():
    frames, labels, net, inp = small_problem(seed=19)
    nrn, rn = neuron("sltt")
    before = net.copy()
    tr = trainer("sltt", net, nrn, T=T, lr=LR, k=2, seed=123)
    # the same generator draws the same steps: replay it to know them
    steps = set(np.random.default_rng(123).permutation(T)[:2].tolist())
    loss, _, cnt = tr.train_batch(inp, inp.ptr[:1], labels[:1])
    gW, gb, rloss, _, _ = ref.grads_spatial(before.weights, before.biases, frames[0], labels[0], rn,
                                            steps=steps)
    _check(*_updates(before, net), gW, gb, False)
    # loss divisor stays T: the reported loss is the full per-step loss sum
    assert loss[0] == pytest.approx(rloss, abs=1e-12)
    assert cnt[0, -1, K.Phase.LEARNING, K.OUTPUT_ERROR] == 2 * net.n_classes


@pytest.mark.parametrize("rule", ["sltt", "ottt_a", "bptt", "ottt_o"])
def test_batch_gradient_is_mean_of_samples(rule):
    """A batch of 3 gives the mean of the three single-sample gradients (torch semantics)."""
    frames, labels, net, inp = small_problem(seed=23, N=3)
    nrn, rn = neuron("ottt")
    before = net.copy()
    tr = trainer(rule, net, nrn, T=T, B=3, lr=LR)
    tr.train_batch(inp, inp.ptr[:3], labels[:3])
    if rule == "ottt_o":
        assert not tr.direct   # per-step batch-mean updates through the accumulator
        Ws = _online_batch(before.weights, before.biases, frames[:3], labels[:3], rn, LR)
        for a, b in zip(net.weights, Ws):
            np.testing.assert_allclose(a, b, atol=1e-12)
        return
    f = {"sltt": lambda *a: ref.grads_spatial(*a), "bptt": lambda *a: ref.grads_bptt(*a),
         "ottt_a": lambda *a: ref.grads_spatial(*a, trace_decay=0.5)}[rule]
    tot = None
    for i in range(3):
        gW = f(before.weights, before.biases, frames[i], labels[i], rn)[0]
        tot = gW if tot is None else [a + b for a, b in zip(tot, gW)]
    _check(_updates(before, net)[0], None, [g / 3 for g in tot], None, False)


def _online_batch(Ws, bs, xs, ys, nrn, lr):
    """OTTT_O on a batch: at every step, the mean over samples of g (x) trace, then one SGD step."""
    Ws = [w.copy() for w in Ws]
    B, T = xs.shape[:2]
    L = len(Ws)
    th, lam = nrn["theta"], nrn["lam"]
    v = [[np.zeros(W.shape[1]) for W in Ws[:-1]] for _ in range(B)]
    tr = [[np.zeros(W.shape[0]) for W in Ws] for _ in range(B)]
    for t in range(T):
        grads = [np.zeros_like(W) for W in Ws]
        for b in range(B):
            inp = xs[b, t].astype(np.float64)
            pres, us = [inp], []
            for l in range(L - 1):
                u = lam * v[b][l] + inp @ Ws[l] + bs[l]
                s = ref.H(u - th, nrn["h0"])
                v[b][l] = u - th * s
                us.append(u)
                inp = s
                pres.append(s)
            o = inp @ Ws[-1] + bs[-1]
            _, g = ref.loss_and_grad(o, ys[b], T, 0.05, B=B)
            for l in range(L):
                tr[b][l] = 0.5 * tr[b][l] + pres[l]
            for l in range(L - 1, -1, -1):
                grads[l] += np.outer(pres[l] if l == 0 else tr[b][l], g)
                if l > 0:
                    g = ref.sg(us[l - 1] - th, nrn["sg"], nrn["alpha"]) * (Ws[l] @ g)
        Ws = [W - lr * G for W, G in zip(Ws, grads)]
    return Ws


@pytest.mark.parametrize("rule", ["sltt", "bptt"])   # bptt: gradients summed per row from history
def test_sgd_momentum_and_weight_decay_follow_torch(rule):
    """Two samples with momentum and weight decay: torch.optim.SGD semantics, by hand."""
    frames, labels, net, inp = small_problem(seed=29, bias=True)
    nrn, rn = neuron("ottt")
    lr, mu, wd = 0.3, 0.9, 1e-2
    W = [w.copy() for w in net.weights]
    b = [x.copy() for x in net.biases]
    tr = trainer(rule, net, nrn, T=T, lr=lr, momentum=mu, wd=wd)
    grads = ref.grads_spatial if rule == "sltt" else ref.grads_bptt
    bufW = [np.zeros_like(w) for w in W]
    bufb = [np.zeros_like(x) for x in b]
    for i in range(2):
        _, _, cnt = tr.train_batch(inp, inp.ptr[i:i + 1], labels[i:i + 1])
        gW, gb, *_ = grads(W, b, frames[i], labels[i], rn)
        for l in range(len(W)):
            bufW[l] = mu * bufW[l] + gW[l] + wd * W[l]
            bufb[l] = mu * bufb[l] + gb[l] + wd * b[l]
            W[l] = W[l] - lr * bufW[l]
            b[l] = b[l] - lr * bufb[l]
    for l in range(len(W)):
        np.testing.assert_allclose(net.weights[l], W[l], atol=1e-12)
        np.testing.assert_allclose(net.biases[l], b[l], atol=1e-12)
    # counts of the last apply: every parameter's accumulator and momentum word read and written,
    # every weight read for the decay; all updates issued (decay makes every update non-zero)
    c = cnt[0, :, K.Phase.LEARNING]
    n = np.array([w.size + x.size for w, x in zip(W, b)])
    contrib = c[:, K.GRAD_AC] + c[:, K.GRAD_MAC]
    bias_contrib = np.array([T * x.size for x in b])          # sigmoid: every g is non-zero
    np.testing.assert_array_equal(c[:, K.WEIGHT_UPDATE_ISSUED], n)
    np.testing.assert_array_equal(c[:, K.MEM_READ_GRAD], contrib + bias_contrib + 2 * n)
    np.testing.assert_array_equal(c[:, K.MEM_READ_WEIGHT], n)
    np.testing.assert_array_equal(c[:, K.MEM_READ_WEIGHT_TRANSPOSED], c[:, K.ERROR_MAC])
    np.testing.assert_array_equal(c[:, K.MEM_WRITE_WEIGHT], n)
