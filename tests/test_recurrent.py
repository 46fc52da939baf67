"""Recurrent LIF layers (``kind: recurrent``): I[t] = W_in s_in[t] + W_rec s[t-1] + b.

Against plain-numpy references unrolled in time (float64, 1e-12): the forward pass, BPTT
through the recurrence (exact), SLTT and OTTT with the recurrent path detached (their
definitions: the error at step t reaches the weights through the spatial route only, W_rec's
gradient is s[t-1] (x) g[t], OTTT's with the trace of s[t-1]), and e-prop on the recurrent
weights (the eligibility filter of s[t-1]); the recurrent synaptic operations as a closed form.
"""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

from chipsim import counts as K
from chipsim.model.inputs import encode_frames
from chipsim.model.network import Network
from tests import reference as ref
from tests.helpers import neuron, trainer

T = 7
LR = 0.5


def _problem(seed, hidden=(("recurrent", 11),), n_in=20, C=4, N=2, gain=5.0, bias=True):
    rng = np.random.default_rng(seed)
    frames = (rng.random((N, T, n_in)) < 0.35).astype(np.uint8)
    labels = rng.integers(0, C, size=N)
    ops = [{"kind": k, "units": u, "bias": bias} for k, u in hidden]
    net = Network.build((1, 1, n_in), True, ops, C, True, np.random.default_rng(seed + 1),
                        gain=gain)
    return frames, labels, net, encode_frames(frames, True)


def _params(net):
    """(W_in per LIF layer, W_rec per LIF layer or None, biases, readout W, readout b)."""
    names = [ls.name for ls in net.layers]
    lif = net.lif_layers
    Win = [net.weights[i] for i in range(len(lif))]
    bs = [net.biases[i] for i in range(len(lif))]
    Wrec = [net.weights[names.index(ls.name + "_rec")] if ls.name + "_rec" in names else None
            for ls in lif]
    ro = names.index("readout")
    return Win, Wrec, bs, net.weights[ro], net.biases[ro]


def _forward(P, x, n):
    Win, Wrec, bs, Wo, bo = P
    L = len(Win)
    us = [np.zeros((T, W.shape[1])) for W in Win]
    ss = [np.zeros((T, W.shape[1])) for W in Win]
    o = np.zeros((T, Wo.shape[1]))
    v = [np.zeros(W.shape[1]) for W in Win]
    for t in range(T):
        inp = x[t].astype(np.float64)
        for l in range(L):
            I = inp @ Win[l] + bs[l]
            if Wrec[l] is not None and t > 0:
                I = I + ss[l][t - 1] @ Wrec[l]
            u = n["lam"] * v[l] + n["cin"] * I
            s = ref.H(u - n["theta"], n["h0"])
            v[l] = u - n["theta"] * s
            us[l][t], ss[l][t] = u, s
            inp = s
        o[t] = inp @ Wo + bo
    return us, ss, o


def _prev(s):
    """s[t-1] per step (zeros at t = 0)."""
    out = np.zeros_like(s)
    out[1:] = s[:-1]
    return out


def _bptt_g(P, x, y, n, a=0.05):
    """Exact BPTT, unrolled: dL/ds_l[t] = W_{l+1} g_{l+1}[t] + W_rec,l g_l[t+1]. Returns each
    LIF layer's dL/dI[t] (T + 1 rows, the last 0), the spikes and the output gradients."""
    Win, Wrec, bs, Wo, bo = P
    L = len(Win)
    us, ss, o = _forward(P, x, n)
    gos = [ref.loss_and_grad(o[t], y, T, a)[1] for t in range(T)]
    g = [np.zeros((T + 1, W.shape[1])) for W in Win]      # g[T] = 0
    dnext = [np.zeros(W.shape[1]) for W in Win]
    for t in range(T - 1, -1, -1):
        e_up = Wo @ gos[t]
        for l in range(L - 1, -1, -1):
            e = e_up + (Wrec[l] @ g[l][t + 1] if Wrec[l] is not None else 0.0)
            sgv = ref.sg(us[l][t] - n["theta"], n["sg"], n["alpha"])
            k = 1.0 - (0.0 if n["detach"] else n["theta"] * sgv)
            delta = sgv * e + n["lam"] * dnext[l] * k
            dnext[l] = delta
            g[l][t] = n["cin"] * delta
            e_up = Win[l] @ g[l][t]
    return g, ss, gos


def _bptt(P, x, y, n, a=0.05):
    """The weight gradients of :func:`_bptt_g`'s output gradients."""
    Win, Wrec = P[0], P[1]
    g, ss, gos = _bptt_g(P, x, y, n, a)
    L = len(Win)
    pres = [x.astype(np.float64)] + ss
    out = []
    for l in range(L):
        gl = g[l][:T]
        out += [pres[l].T @ gl, gl.sum(0), None if Wrec[l] is None else _prev(ss[l]).T @ gl]
    go = np.array(gos)
    return out, ss[-1].T @ go, go.sum(0)


def _spatial(P, x, y, n, trace=None, a=0.05):
    """SLTT (trace None) / OTTT_A (trace = decay, first layer raw): the spatial route only;
    W_rec's presynaptic factor is s[t-1] (or its trace)."""
    Win, Wrec, bs, Wo, bo = P
    L = len(Win)
    us, ss, o = _forward(P, x, n)

    def filt(p):
        if trace is None:
            return p
        out, acc = np.zeros_like(p), np.zeros(p.shape[1])
        for t in range(T):
            acc = trace * acc + p[t]
            out[t] = acc
        return out

    pres = [x.astype(np.float64)] + [filt(s) for s in ss]
    rec_pre = [filt(_prev(s)) for s in ss]
    out = [None] * (3 * L)
    for l in range(L):
        out[3 * l] = np.zeros_like(Win[l])
        out[3 * l + 1] = np.zeros(Win[l].shape[1])
        out[3 * l + 2] = None if Wrec[l] is None else np.zeros_like(Wrec[l])
    gWo, gbo = np.zeros_like(Wo), np.zeros_like(bo)
    for t in range(T):
        go = ref.loss_and_grad(o[t], y, T, a)[1]
        gWo += np.outer(pres[L][t], go)
        gbo += go
        e = Wo @ go
        for l in range(L - 1, -1, -1):
            gl = n["cin"] * ref.sg(us[l][t] - n["theta"], n["sg"], n["alpha"]) * e
            out[3 * l] += np.outer(pres[l][t], gl)
            out[3 * l + 1] += gl
            if Wrec[l] is not None:
                out[3 * l + 2] += np.outer(rec_pre[l][t], gl)
            e = Win[l] @ gl
    return out, gWo, gbo


def _eprop(P, x, y, n, Bs, alpha, a=0.05):
    """Bellec et al. 2020 (chipsim's time convention, learning/eprop.py): per synapse
    e_ji[t] = psi_j[t] ebar_i[t]; the recurrent input's ebar filters s[t-1]."""
    Win, Wrec, bs, Wo, bo = P
    L = len(Win)
    us, ss, o = _forward(P, x, n)

    def filt(p):
        out, acc = np.zeros_like(p), np.zeros(p.shape[1])
        for t in range(T):
            acc = alpha * acc + p[t]
            out[t] = acc
        return out

    zin = [filt(z) for z in [x.astype(np.float64)] + ss]
    zrec = [filt(_prev(s)) for s in ss]
    out = []
    for l in range(L):
        out += [np.zeros_like(Win[l]), np.zeros(Win[l].shape[1]),
                None if Wrec[l] is None else np.zeros_like(Wrec[l])]
    gWo, gbo = np.zeros_like(Wo), np.zeros_like(bo)
    for t in range(T):
        err = ref.loss_and_grad(o[t], y, T, a)[1]
        gWo += np.outer(zin[L][t], err)
        gbo += err
        for l in range(L):
            psi = n["cin"] * ref.sg(us[l][t] - n["theta"], n["sg"], n["alpha"])
            Lsig = Bs[l] @ err
            out[3 * l] += zin[l][t][:, None] * psi[None, :] * Lsig[None, :]
            out[3 * l + 1] += psi * Lsig
            if Wrec[l] is not None:
                out[3 * l + 2] += zrec[l][t][:, None] * psi[None, :] * Lsig[None, :]
    return out, gWo, gbo


def _deltas(before, after):
    """(W - W') / lr per layer, in the reference's order (W_in, b, W_rec per LIF layer, then
    the readout's W and b)."""
    Pb, Pa = _params(before), _params(after)
    out = []
    for l in range(len(Pb[0])):
        out += [(Pb[0][l] - Pa[0][l]) / LR, (Pb[2][l] - Pa[2][l]) / LR,
                None if Pb[1][l] is None else (Pb[1][l] - Pa[1][l]) / LR]
    return out, (Pb[3] - Pa[3]) / LR, (Pb[4] - Pa[4]) / LR


def _check(got, want):
    (gl, gwo, gbo), (wl, wwo, wbo) = got, want
    for a, b in zip(gl, wl):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gwo, wwo, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gbo, wbo, rtol=0, atol=1e-12)


def test_the_network_has_a_recurrent_weight_layer():
    frames, labels, net, inp = _problem(0)
    names = [ls.name for ls in net.layers]
    assert names == ["rec1", "readout", "rec1_rec"]
    assert net.layers[2].kind == "recurrent" and net.layers[2].src == 1
    assert net.weights[2].shape == (11, 11) and net.n_classes == 4
    assert net.lif_layers == [net.layers[0]]


@pytest.mark.parametrize("detach", [True, False])
@pytest.mark.parametrize("hidden", [(("recurrent", 11),), (("dense", 9), ("recurrent", 8)),
                                    (("recurrent", 8), ("recurrent", 6))])
def test_bptt_through_the_recurrence_equals_the_unrolled_reference(hidden, detach):
    frames, labels, net, inp = _problem(1, hidden)
    nrn, rn = neuron("ottt", detach_reset=detach)
    n = ref.layer_neuron(rn, 0)
    before = net.copy()
    tr = trainer("bptt", net, nrn, T=T, lr=LR)
    loss, osum, _ = tr.train_batch(inp, inp.ptr[:1], labels[:1])
    want = _bptt(_params(before), frames[0], labels[0], n)
    _check(_deltas(before, net), want)
    _, ss, o = _forward(_params(before), frames[0], n)
    np.testing.assert_allclose(osum[0], o.sum(0), rtol=0, atol=1e-12)
    assert ss[-1].sum() > 0 and max(np.abs(w).max() for w in want[0] if w is not None) > 1e-6


@pytest.mark.parametrize("rule, trace", [("sltt", None), ("ottt_a", "lam")])
def test_spatial_rules_detach_the_recurrent_path(rule, trace):
    frames, labels, net, inp = _problem(2, (("dense", 9), ("recurrent", 8)))
    nrn, rn = neuron("ottt")
    n = ref.layer_neuron(rn, 0)
    before = net.copy()
    tr = trainer(rule, net, nrn, T=T, lr=LR)
    tr.train_batch(inp, inp.ptr[:1], labels[:1])
    want = _spatial(_params(before), frames[0], labels[0], n,
                    None if trace is None else n["lam"])
    _check(_deltas(before, net), want)


def _with_options(rule, net, nrn, **opts):
    from chipsim.learning import RULES, make_trainer
    return make_trainer(rule, net, nrn, NS(kind="ce_mse", mse_weight=0.05, mse_target="onehot"),
                        NS(lr=LR, momentum=0.0, weight_decay=0.0),
                        RULES[rule].Options(name=rule, **opts), T, 1, np.random.default_rng(0))


def test_eprop_on_a_recurrent_layer_equals_the_papers_equations():
    frames, labels, net, inp = _problem(3)
    nrn, rn = neuron("ottt")
    n = ref.layer_neuron(rn, 0)
    before = net.copy()
    tr = _with_options("eprop", net, nrn)
    C = before.n_classes
    Bs = [tr.params.fb[:ls.n_out * C].reshape(ls.n_out, C).copy() for ls in before.lif_layers]
    tr.train_batch(inp, inp.ptr[:1], labels[:1])
    want = _eprop(_params(before), frames[0], labels[0], n, Bs, n["lam"])
    _check(_deltas(before, net), want)
    c = tr.train_batch(inp, inp.ptr[1:2], labels[1:2])[2][0, :, K.Phase.LEARNING]
    assert c[:, K.MEM_READ_WEIGHT_TRANSPOSED].sum() == 0          # e-prop never reads W^T
    assert c[2, K.TRACE_UPDATE] == T * 11                           # ebar of s[t-1], per neuron


@pytest.mark.parametrize("rule", ["bptt", "sltt"])
def test_recurrent_synaptic_ops_are_counted_on_their_own_row(rule):
    """Per step t > 0, W_rec's synaptic ops = spikes of step t-1 x units, on the W_rec row; at
    t = 0 none; BPTT's recurrent error reads W_rec^T once per (neuron) x (non-zero g[t+1])."""
    frames, labels, net, inp = _problem(4)
    nrn, rn = neuron("ottt")
    n = ref.layer_neuron(rn, 0)
    before = net.copy()
    tr = trainer(rule, net, nrn, T=T, lr=LR)
    cnt = tr.train_batch(inp, inp.ptr[:1], labels[:1])[2][0]
    _, ss, o = _forward(_params(before), frames[0], n)
    inf = cnt[:, K.Phase.INFERENCE]
    assert inf[2, K.SYNOP] == ss[0][:-1].sum() * 11
    assert inf[0, K.SYNOP] == frames[0].sum() * 11                  # W_in unchanged
    assert inf[2, K.NEURON_UPDATE_ACTIVE] + inf[2, K.NEURON_UPDATE_IDLE] == 0
    assert inf[2, K.MEM_READ_STATE] + inf[2, K.MEM_WRITE_STATE] == 0
    # the layer's neurons: active in a step with an input event or a spike of the step before
    fed = (frames[0].sum(1) > 0) | (_prev(ss[0]).sum(1) > 0)
    assert inf[0, K.NEURON_UPDATE_ACTIVE] == fed.sum() * 11
    assert inf[0, K.NEURON_UPDATE_IDLE] == (~fed).sum() * 11
    lrn = cnt[:, K.Phase.LEARNING]
    if rule == "bptt":
        # g[t+1] of the layer (the reference's BPTT) drives W_rec^T reads at t = 0..T-2, one
        # per (neuron, non-zero g[t+1]) (the sigmoid surrogate is never zero)
        gl = _bptt_g(_params(before), frames[0], labels[0], n)[0][0]
        nz = sum(int((gl[t + 1] != 0).sum()) * 11 for t in range(T - 1))
        assert nz > 0
        assert lrn[2, K.MEM_READ_WEIGHT_TRANSPOSED] == nz and lrn[2, K.ERROR_MAC] == nz
        # W_rec's inputs (the spikes of t-1) are kept for the window and read back once
        assert lrn[2, K.MEM_WRITE_HIST] == lrn[2, K.MEM_READ_HIST] == ss[0][:-1].sum()
    else:
        assert lrn[2, K.MEM_READ_WEIGHT_TRANSPOSED] == 0


def test_a_spiking_output_with_a_recurrent_layer_is_refused():
    with pytest.raises(ValueError, match="recurrent"):
        Network.plan((1, 1, 5), True, [{"kind": "recurrent", "units": 3}], 3, True,
                     output="spike_count")


@pytest.mark.parametrize("rule", ["bptt", "ottt_a"])
def test_recurrent_memory_is_sized_before_allocation(rule):
    """trainer_bytes (what a run is checked against before anything is allocated) equals what
    the trainer allocates for a recurrent network: W_rec's weights, event buffer and trace,
    and no output-gradient buffer of its own (it shares its layer's)."""
    from chipsim.kernels.records import Optimizer
    from chipsim.learning.trainer import trainer_bytes
    frames, labels, net, inp = _problem(5, (("dense", 9), ("recurrent", 8)))
    nrn, _ = neuron("ottt")
    tr = trainer(rule, net, nrn, T=T, lr=LR)
    need = trainer_bytes(net, tr.rule, Optimizer(LR, 0.0, 0.0), T, 1, np.float64,
                         workers=tr.workers)["buffers"]
    own = [a for a in tr.state if isinstance(a, np.ndarray)] + list(tr.grads)
    own += [tr.layout, tr.net_rec.pops, tr.net_infer.pops, tr.fmt.qw, tr.fmt.limw, tr.fmt.rs]
    own += [a for a in tr.neurons if isinstance(a, np.ndarray)] + [tr.params.fb]
    assert need == sum(a.nbytes for a in own)
    lay = tr.layout
    r = [ls.name for ls in net.layers].index("rec1_rec")
    assert net.layers[r].kind == "recurrent" and lay["o_g"][r] == lay["o_g"][1]
    assert lay["rec"].tolist() == [-1, 3, -1, -1]
