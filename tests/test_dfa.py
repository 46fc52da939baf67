"""DFA (chipsim/learning/dfa.py): the hidden layers' error is sigma' (B_l e) with fixed random
B_l, never W^T; updates against a plain-numpy reference (float64, 1e-12), the identity with
OTTT_A, and the counts of the error route as closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from chipsim import counts as K
from tests import reference as ref
from tests.helpers import assert_sgd_step, feedback_matrices, neuron, small_problem, trainer

T = 6
LR = 0.5


def _dfa(net, nrn, **opts):
    """A DFA trainer with the rule's own options (chipsim.learning.dfa.DFAOptions)."""
    from types import SimpleNamespace as NS

    from chipsim.learning import make_trainer
    from chipsim.learning.dfa import DFAOptions
    return make_trainer("dfa", net, nrn, NS(kind="ce_mse", mse_weight=0.05, mse_target="onehot"),
                        NS(lr=LR, momentum=0.0, weight_decay=0.0), DFAOptions(**opts), T, 1,
                        np.random.default_rng(0))


def _reference(Ws, bs, x, y, rn, Bs, presynaptic, first_trace=False, a=0.05):
    """Plain numpy DFA of one sample: readout from e[t]; hidden g_l = sigma' (B_l e[t])."""
    us, ss, o = ref.forward(Ws, bs, x, rn)
    Tn, L = x.shape[0], len(Ws)
    pres = [x.astype(np.float64)] + ss
    if presynaptic == "trace":
        lam = rn["lam"]
        traced = []
        for l, p in enumerate(pres):
            if l == 0 and not first_trace:
                traced.append(p)
                continue
            tr_, acc = np.zeros_like(p), np.zeros(p.shape[1])
            for t in range(Tn):
                acc = lam * acc + p[t]
                tr_[t] = acc
            traced.append(tr_)
        pres = traced
    gW = [np.zeros_like(W) for W in Ws]
    gb = [np.zeros_like(b) for b in bs]
    loss = 0.0
    for t in range(Tn):
        lt, e = ref.loss_and_grad(o[t], y, Tn, a)
        loss += lt
        gW[-1] += np.outer(pres[-1][t], e)
        gb[-1] += e
        for l in range(L - 1):
            g = ref.sg(us[l][t] - rn["theta"], rn["sg"], rn["alpha"]) * (Bs[l] @ e)
            gW[l] += np.outer(pres[l][t], g)
            gb[l] += g
    return gW, gb, loss


@pytest.mark.parametrize("presynaptic", ["spike", "trace"])
def test_dfa_updates_equal_the_reference(presynaptic):
    frames, labels, net, inp = small_problem(seed=4, bias=True)
    nrn, rn = neuron("ottt")
    before = net.copy()
    tr = _dfa(net, nrn, presynaptic=presynaptic)
    Bs = feedback_matrices(tr, before)
    loss, osum, cnt = tr.train_batch(inp, inp.ptr[:1], labels[:1])
    gW, gb, rloss = _reference(before.weights, before.biases, frames[0], labels[0], rn, Bs,
                               tr.rule.spec.presynaptic)
    assert_sgd_step(before, net, LR, gW, gb)
    assert loss[0] == pytest.approx(rloss, abs=1e-12)


def test_dfa_with_the_readout_weights_as_feedback_is_ottt_a():
    """One hidden layer, B = the readout's W at the start of the sample (W^T's transpose, as
    B e = W e), the trace factor with the raw first-layer input: DFA once per sample = OTTT_A."""
    frames, labels, net, inp = small_problem(seed=5, hidden=(14,), bias=False)
    nrn, _ = neuron("ottt")
    a_net, b_net = net.copy(), net.copy()
    dfa = _dfa(a_net, nrn)
    dfa.params.fb[:] = a_net.weights[1].ravel()         # B (14, C) = the readout's W (14, C)
    ottt = trainer("ottt_a", b_net, nrn, T=T, lr=LR)
    la = dfa.train_batch(inp, inp.ptr[:1], labels[:1])[0]
    lb = ottt.train_batch(inp, inp.ptr[:1], labels[:1])[0]
    assert la[0] == pytest.approx(lb[0], abs=1e-15)
    for x, y in zip(a_net.weights + a_net.biases, b_net.weights + b_net.biases):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-13)
    assert max(np.abs(x - y).max() for x, y in zip(a_net.weights, net.weights)) > 1e-6


def test_dfa_reads_its_feedback_not_the_transposed_weights():
    """Counts as closed forms: per hidden layer and step, one B read and one error MAC per
    (neuron, non-zero output error); no error reaches a layer through W^T (no error MACs, no
    weight reads for the error)."""
    frames, labels, net, inp = small_problem(seed=6)
    nrn, rn = neuron("ottt")
    before = net.copy()
    tr = _dfa(net, nrn, presynaptic="spike")
    _, _, cnt = tr.train_batch(inp, inp.ptr[:1], labels[:1])
    _, _, o = ref.forward(before.weights, before.biases, frames[0], rn)
    nz = sum(int((ref.loss_and_grad(o[t], labels[0], T, 0.05)[1] != 0).sum()) for t in range(T))
    lrn = cnt[0, :, K.Phase.LEARNING]
    for l, ls in enumerate(net.lif_layers):
        assert lrn[l, K.MEM_READ_FEEDBACK] == nz * ls.n_out
        assert lrn[l, K.ERROR_MAC] == nz * ls.n_out
    ro = len(net.lif_layers)
    assert lrn[ro, K.ERROR_MAC] == 0 and lrn[ro, K.MEM_READ_FEEDBACK] == 0
    sltt = trainer("sltt", before.copy(), nrn, T=T, lr=LR)
    c2 = sltt.train_batch(inp, inp.ptr[:1], labels[:1])[2][0, :, K.Phase.LEARNING]
    assert c2[ro, K.ERROR_MAC] > 0 and c2[:, K.MEM_READ_FEEDBACK].sum() == 0   # W^T, not B
    assert tr.feedback_bytes == sum(ls.n_out for ls in net.lif_layers) * net.n_classes * 8


def test_dfa_memory_is_sized_before_allocation():
    """trainer_bytes (what a run is checked against before anything is allocated) counts the
    feedback matrices: equal to what the trainer allocates."""
    from chipsim.kernels.records import Optimizer
    from chipsim.learning.trainer import trainer_bytes
    frames, labels, net, inp = small_problem(seed=7)
    nrn, _ = neuron("ottt")
    tr = _dfa(net, nrn)
    need = trainer_bytes(net, tr.rule, Optimizer(LR, 0.0, 0.0), T, 1, np.float64,
                         workers=tr.workers)["buffers"]
    own = [a for a in tr.state if isinstance(a, np.ndarray)] + list(tr.grads)
    own += [tr.layout, tr.net_rec.pops, tr.net_infer.pops, tr.fmt.qw, tr.fmt.limw, tr.fmt.rs]
    own += [a for a in tr.neurons if isinstance(a, np.ndarray)] + [tr.params.fb]
    assert need == sum(a.nbytes for a in own) and tr.params.fb.size > 0


@pytest.mark.parametrize("rule", ["dfa", "eprop"])
def test_feedback_rules_refuse_a_spiking_output(rule):
    """DFA and e-prop send the readout's error to the hidden layers: a network whose output is
    its last layer's spikes has no readout error to send, and is refused, naming why."""
    from types import SimpleNamespace as NS

    from chipsim.learning import RULES, make_trainer
    from chipsim.model.network import Network
    net = Network.build((1, 1, 6), True, [{"kind": "dense", "units": 5},
                                          {"kind": "dense", "units": 3}], 3, True,
                        np.random.default_rng(0), output="spike_count")
    nrn, _ = neuron("ottt")
    with pytest.raises(ValueError, match="spiking output"):
        make_trainer(rule, net, nrn, NS(kind="ce_mse", mse_weight=0.05, mse_target="onehot"),
                     NS(lr=LR, momentum=0.0, weight_decay=0.0), RULES[rule].Options(name=rule),
                     T, 1, np.random.default_rng(0))
