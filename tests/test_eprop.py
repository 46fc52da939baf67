"""e-prop (chipsim/learning/eprop.py): eligibility traces and updates against the paper's
equations in plain numpy (a per-synapse eligibility tensor, float64 to 1e-12), the identity
with OTTT_A under symmetric feedback, and the error route's counts as closed forms (no weight
read through W^T; SLTT's transposed reads equal its (non-zero error x fan-in) products)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

from chipsim import counts as K
from tests import reference as ref
from tests.helpers import assert_sgd_step, feedback_matrices, neuron, small_problem, trainer

T = 6
LR = 0.5


def _with_options(rule, net, nrn, **opts):
    """A trainer of ``rule`` configured by its own options class (the workload's section)."""
    from chipsim.learning import RULES, make_trainer
    return make_trainer(rule, net, nrn, NS(kind="ce_mse", mse_weight=0.05, mse_target="onehot"),
                        NS(lr=LR, momentum=0.0, weight_decay=0.0),
                        RULES[rule].Options(name=rule, **opts), T, 1, np.random.default_rng(0))


def _eprop(net, nrn, **opts):
    return _with_options("eprop", net, nrn, **opts)


def _paper(Ws, bs, x, y, rn, Bs, alpha, a=0.05):
    """Bellec et al. 2020, in chipsim's time convention (eprop.py): per LIF layer l and step t,
    ebar_i[t] = alpha ebar_i[t-1] + z_i[t] (z: the layer's input), psi_j[t] = cin sigma'(u_j[t]
    - theta), the eligibility tensor e_ji[t] = psi_j[t] ebar_i[t] (every synapse), the learning
    signal L_j[t] = sum_k B_jk (y_k[t] - y*_k[t]), and dW_ji = sum_t L_j[t] e_ji[t]. The
    readout learns from its output error with the filtered input too."""
    us, ss, o = ref.forward(Ws, bs, x, rn)
    Tn, L = x.shape[0], len(Ws)
    n = ref.layer_neuron(rn, 0)
    z = [x.astype(np.float64)] + ss
    ebar = [np.zeros((Tn, zz.shape[1])) for zz in z]
    for l, zz in enumerate(z):
        acc = np.zeros(zz.shape[1])
        for t in range(Tn):
            acc = alpha * acc + zz[t]
            ebar[l][t] = acc
    gW = [np.zeros_like(W) for W in Ws]
    gb = [np.zeros_like(b) for b in bs]
    loss = 0.0
    for t in range(Tn):
        lt, err = ref.loss_and_grad(o[t], y, Tn, a)        # y - y*, over T
        loss += lt
        gW[-1] += np.outer(ebar[-1][t], err)
        gb[-1] += err
        for l in range(L - 1):
            psi = n["cin"] * ref.sg(us[l][t] - n["theta"], n["sg"], n["alpha"])
            elig = ebar[l][t][:, None] * psi[None, :]          # e_ji[t], (n_in, n_out)
            Lsig = Bs[l] @ err                                  # L_j[t]
            gW[l] += elig * Lsig[None, :]
            gb[l] += psi * Lsig
    return gW, gb, loss


@pytest.mark.parametrize("alpha", [None, 0.6])
def test_eprop_updates_equal_the_papers_equations(alpha):
    frames, labels, net, inp = small_problem(seed=11, bias=True)
    nrn, rn = neuron("ottt")
    before = net.copy()
    tr = _eprop(net, nrn, eligibility_decay=alpha)
    Bs = feedback_matrices(tr, before)
    loss, _, _ = tr.train_batch(inp, inp.ptr[:1], labels[:1])
    gW, gb, rloss = _paper(before.weights, before.biases, frames[0], labels[0], rn, Bs,
                           rn["lam"] if alpha is None else alpha)
    dW, db = assert_sgd_step(before, net, LR, gW, gb)
    assert loss[0] == pytest.approx(rloss, abs=1e-12)
    assert max(np.abs(x).max() for x in dW) > 1e-6


def test_eprop_with_a_decaying_input_neuron():
    """cin = 1 - lam (decay_input): psi carries cin, as chipsim's input is scaled by it."""
    frames, labels, net, inp = small_problem(seed=12, hidden=(10,))
    nrn, rn = neuron("ottt", decay_input=True, leak=0.7)
    before = net.copy()
    tr = _eprop(net, nrn)
    Bs = feedback_matrices(tr, before)
    tr.train_batch(inp, inp.ptr[:1], labels[:1])
    dW = [(a - b) / LR for a, b in zip(before.weights, net.weights)]
    gW, _, _ = _paper(before.weights, before.biases, frames[0], labels[0], rn, Bs, 0.7)
    for x, y in zip(dW, gW):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-12)


def test_symmetric_eprop_on_one_hidden_layer_is_ottt_a_with_an_input_trace():
    """Feed-forward, reset left out (OTTT's spatial route never sees it), the eligibility filter
    = the neuron's leak, B = the readout's weights: e-prop = OTTT_A (first_layer_input: trace),
    loss and weights, to rounding."""
    frames, labels, net, inp = small_problem(seed=13, hidden=(14,), bias=True)
    nrn, _ = neuron("ottt")
    a_net, b_net = net.copy(), net.copy()
    ep = _eprop(a_net, nrn, feedback="symmetric")
    assert ep.params.fb.size == 0 and ep.feedback_bytes == 0     # B is the readout's W itself
    ottt = trainer("ottt_a", b_net, nrn, T=T, lr=LR, first_layer_input="trace")
    for b in range(3):
        la = ep.train_batch(inp, inp.ptr[b:b + 1], labels[b:b + 1])[0]
        lb = ottt.train_batch(inp, inp.ptr[b:b + 1], labels[b:b + 1])[0]
        assert la[0] == pytest.approx(lb[0], abs=1e-14)
    for x, y in zip(a_net.weights + a_net.biases, b_net.weights + b_net.biases):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-13)
    assert max(np.abs(x - y).max() for x, y in zip(a_net.weights, net.weights)) > 1e-6


def test_symmetric_feedback_needs_one_hidden_layer():
    from chipsim.learning.eprop import EpropOptions
    p = EpropOptions(name="eprop", feedback="symmetric").problems(6, 2)
    assert p and p[0][0] == "feedback" and "2 LIF layers" in p[0][1]
    assert EpropOptions(name="eprop", feedback="symmetric").problems(6, 1) == []
    assert EpropOptions(name="eprop").problems(6, 3) == []


def _nonzero_errors(Ws, bs, x, y, rn):
    _, _, o = ref.forward(Ws, bs, x, rn)
    return [int((ref.loss_and_grad(o[t], y, x.shape[0], 0.05)[1] != 0).sum())
            for t in range(x.shape[0])]


def test_eprop_counts_its_traces_signals_and_feedback_reads():
    """Closed forms per sample: eligibility filters (trace_update) = T x every layer's inputs;
    learning-signal MACs = feedback reads = n_l x (non-zero output errors) per hidden layer;
    no weight read through W^T, no error MAC at the readout."""
    frames, labels, net, inp = small_problem(seed=14)
    nrn, rn = neuron("ottt")
    before = net.copy()
    tr = _eprop(net, nrn)
    cnt = tr.train_batch(inp, inp.ptr[:1], labels[:1])[2][0, :, K.Phase.LEARNING]
    nz = sum(_nonzero_errors(before.weights, before.biases, frames[0], labels[0], rn))
    for l, ls in enumerate(net.layers):
        assert cnt[l, K.TRACE_UPDATE] == T * ls.n_in
        assert cnt[l, K.MEM_READ_WEIGHT_TRANSPOSED] == 0
    for l, ls in enumerate(net.lif_layers):
        assert cnt[l, K.ERROR_MAC] == nz * ls.n_out
        assert cnt[l, K.MEM_READ_FEEDBACK] == nz * ls.n_out
    ro = len(net.lif_layers)
    assert cnt[ro, K.ERROR_MAC] == 0 and cnt[ro, K.MEM_READ_FEEDBACK] == 0


@pytest.mark.parametrize("rule", ["dfa", "eprop"])
def test_feedback_rules_read_no_transposed_weight(rule):
    frames, labels, net, inp = small_problem(seed=15)
    nrn, _ = neuron("ottt")
    tr = _with_options(rule, net, nrn)
    cnt = tr.train_batch(inp, inp.ptr[:1], labels[:1])[2]
    assert cnt[..., K.MEM_READ_WEIGHT_TRANSPOSED].sum() == 0
    assert cnt[..., K.Phase.LEARNING, K.MEM_READ_FEEDBACK].sum() > 0


def test_sltt_transposed_reads_are_its_error_products():
    """A dense network under SLTT: per step, layer l's error reaches its source through W_l^T
    once per (source neuron with a non-zero surrogate) x (non-zero output gradient of l): the
    count of mem_read_weight_transposed (and of error MACs) is that sum, from a numpy forward
    and backward pass; the first layer (reading the input) reads none."""
    frames, labels, net, inp = small_problem(seed=16, hidden=(12, 9), bias=True)
    nrn, rn = neuron("ottt")
    before = net.copy()
    tr = trainer("sltt", net, nrn, T=T, lr=LR)
    cnt = tr.train_batch(inp, inp.ptr[:1], labels[:1])[2][0, :, K.Phase.LEARNING]
    Ws, bs = before.weights, before.biases
    x, y = frames[0], labels[0]
    us, ss, o = ref.forward(Ws, bs, x, rn)
    n = ref.layer_neuron(rn, 0)
    L = len(Ws)
    want = np.zeros(L, np.int64)
    for t in range(T):
        _, g = ref.loss_and_grad(o[t], y, T, 0.05)           # the readout's output gradient
        for l in range(L - 1, 0, -1):                         # layer l -> its source l-1
            sg_src = ref.sg(us[l - 1][t] - n["theta"], n["sg"], n["alpha"])
            want[l] += int((sg_src != 0).sum()) * int((g != 0).sum())
            g = n["cin"] * sg_src * (Ws[l] @ g)               # the source's output gradient
    np.testing.assert_array_equal(cnt[:, K.MEM_READ_WEIGHT_TRANSPOSED], want)
    np.testing.assert_array_equal(cnt[:, K.ERROR_MAC], want)
    assert want[0] == 0 and want[1:].min() > 0
    assert cnt[:, K.MEM_READ_FEEDBACK].sum() == 0


def test_eprop_refuses_a_leaky_readout():
    """A leaky-integrator readout needs the eligibility traces filtered with its leak (F_kappa
    in the paper), which is not built: refused, naming why."""
    frames, labels, net, inp = small_problem(seed=17, hidden=(8,))
    net.readout_li = (np.full(net.n_classes, 0.8), np.ones(net.n_classes))
    nrn, _ = neuron("ottt")
    with pytest.raises(ValueError, match="F_kappa"):
        _eprop(net, nrn)
