"""Neurons per layer and per neuron (chipsim.model.neuron.LayerNeuron): every neuron its own
leak, threshold, input scale and hard-reset potential, every layer its own reset kind and H(0).
Forward spikes and the SLTT and BPTT gradients equal the plain-numpy reference
(tests/reference.py, per-layer neurons) in float64 to 1e-12; the counts follow the spikes."""

from __future__ import annotations

import numpy as np
import pytest

from chipsim import counts as K
from chipsim.model.neuron import LayerNeuron, NeuronParams
from tests import reference as ref
from tests.helpers import small_problem, trainer

T = 6
LR = 0.5


def _per_neuron(net, rng, resets=("hard", "soft"), h0s=(0, 1), vr=True):
    """Random per-neuron parameters for every LIF layer, and the reference's per-layer dicts."""
    neurons, dicts = [], []
    for i, ls in enumerate(net.lif_layers):
        n = ls.n_out
        lam = rng.uniform(0.2, 1.0, n)
        lam[0] = 1.0                                       # an IF neuron among them
        theta = rng.uniform(0.5, 1.5, n)
        cin = rng.uniform(0.5, 1.5, n)
        v_r = rng.uniform(-0.4, 0.3, n) if vr else np.zeros(n)
        reset, h0 = resets[i % len(resets)], h0s[i % len(h0s)]
        neurons.append(LayerNeuron(lam, theta, cin, v_r, reset == "soft", bool(h0)))
        dicts.append(dict(lam=lam, theta=theta, cin=cin, vr=v_r, reset=reset, h0=h0,
                          detach=False, sg="sigmoid", alpha=4.0))
    return neurons, dicts


#: the network-wide part (surrogate, detach); its lam/theta/cin are not used by the kernels here
NRN = NeuronParams(lam=0.5, theta=1.0, cin=1.0, soft=True, detach=False, h0=True, sg_kind=0,
                   alpha=4.0)


def _grads(rule, seed, bias=True, nrn=NRN):
    frames, labels, net, inp = small_problem(seed=seed, bias=bias, gain=5.0)
    net.neurons, dicts = _per_neuron(net, np.random.default_rng(seed))
    before = net.copy()
    tr = trainer(rule, net, nrn, T=T, lr=LR)
    loss, osum, cnt = tr.train_batch(inp, inp.ptr[:1], labels[:1])
    dW = [(a - b) / LR for a, b in zip(before.weights, net.weights)]
    db = [(a - b) / LR for a, b in zip(before.biases, net.biases)]
    return frames, labels, before, dicts, dW, db, loss, osum, cnt


@pytest.mark.parametrize("seed", [1, 2])
def test_sltt_gradients_with_per_neuron_parameters(seed):
    frames, labels, before, dicts, dW, db, loss, osum, cnt = _grads("sltt", seed)
    gW, gb, rloss, rosum, diag = ref.grads_spatial(before.weights, before.biases, frames[0],
                                                   labels[0], dicts)
    for a, b in zip(dW + db, gW + gb):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert loss[0] == pytest.approx(rloss, abs=1e-12)
    np.testing.assert_allclose(osum[0], rosum, atol=1e-12)
    spikes = [int(s.sum()) for s in diag["ss"]]
    assert min(spikes) > 0, spikes                 # every layer spikes
    assert int(cnt[0, :, K.Phase.INFERENCE, K.SPIKE].sum()) == sum(spikes)


@pytest.mark.parametrize("seed", [3, 4])
@pytest.mark.parametrize("detach", [False, True])
def test_bptt_gradients_with_per_neuron_parameters(seed, detach):
    frames, labels, before, dicts, dW, db, loss, *_ = _grads("bptt", seed,
                                                             nrn=NRN._replace(detach=detach))
    for d in dicts:
        d["detach"] = detach
    gW, gb, rloss, _, diag = ref.grads_bptt(before.weights, before.biases, frames[0], labels[0], dicts)
    for a, b in zip(dW + db, gW + gb):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert loss[0] == pytest.approx(rloss, abs=1e-12)
    assert min(int(s.sum()) for s in diag["ss"]) > 0


def test_the_per_neuron_parameters_matter():
    """Guards the tests above: the same network with one neuron for all gives other updates."""
    frames, labels, before, dicts, dW, *_ = _grads("bptt", 3)
    uniform = [dict(d, lam=0.5, theta=1.0, cin=1.0, vr=0.0) for d in dicts]
    gW = ref.grads_bptt(before.weights, before.biases, frames[0], labels[0], uniform)[0]
    assert max(np.abs(a - b).max() for a, b in zip(dW, gW)) > 1e-6


def test_uniform_layer_neurons_change_no_bit():
    """Per-layer neurons that all equal the network's neuron give the same bits as none."""
    frames, labels, net, inp = small_problem(seed=6, bias=True)
    nrn = NeuronParams(0.5, 1.0, 1.0, True, False, True, 0, 4.0)
    other = net.copy()
    other.neurons = [LayerNeuron.uniform(ls.n_out, nrn) for ls in other.lif_layers]
    assert all(ln.same_as(nrn) for ln in other.neurons)
    a = trainer("bptt", net, nrn, T=T, lr=LR).train_batch(inp, inp.ptr[:1], labels[:1])
    b = trainer("bptt", other, nrn, T=T, lr=LR).train_batch(inp, inp.ptr[:1], labels[:1])
    for x, y in zip(a, b):
        assert np.asarray(x).tobytes() == np.asarray(y).tobytes()
    for x, y in zip(net.weights, other.weights):
        assert x.tobytes() == y.tobytes()


@pytest.mark.parametrize("rule", ["bptt", "sltt", "ottt_o"])
def test_parameters_read_once_per_layer_give_the_bits_read_per_neuron(rule):
    """A layer whose neurons are all alike has its parameters read once, as scalars
    (Neuron.uniform: lif, surrogates and both error routes). Forcing the per-neuron reads on the
    same network gives the same losses, counts and weights. Each parameter differs from the
    others, so a scalar read from the wrong one shows."""
    frames, labels, net, inp = small_problem(seed=4, bias=True, N=4)
    nrn = NeuronParams(0.8, 1.25, 0.75, rule != "bptt", False, True, 0, 4.0)
    net.neurons = [LayerNeuron(np.full(ls.n_out, 0.8), np.full(ls.n_out, 1.25),
                               np.full(ls.n_out, 0.75), np.full(ls.n_out, -0.125 * (i % 2)),
                               i % 2 == 0 or rule != "bptt", True)
                   for i, ls in enumerate(net.lif_layers)]
    other = net.copy()
    a = trainer(rule, net, nrn, T=T, lr=LR, B=2)
    b = trainer(rule, other, nrn, T=T, lr=LR, B=2)
    assert a.neurons.uniform.tolist() == [1] * len(net.lif_layers)
    b.neurons = b.neurons._replace(uniform=np.zeros_like(b.neurons.uniform))
    for i in (0, 2):
        ra = a.train_batch(inp, inp.ptr[i:i + 2], labels[i:i + 2])
        rb = b.train_batch(inp, inp.ptr[i:i + 2], labels[i:i + 2])
        for x, y in zip(ra, rb):
            assert np.asarray(x).tobytes() == np.asarray(y).tobytes()
    assert ra[2][..., K.SPIKE].sum() > 0            # neurons fired: the paths were exercised
    assert (ra[2][..., K.TEMPORAL_MAC].sum() > 0) == (rule == "bptt")
    for x, y in zip(net.weights, other.weights):
        assert x.tobytes() == y.tobytes()
    assert not LayerNeuron(np.array([0.5, 0.5]), np.ones(2), np.array([1.0, 1.5]), np.zeros(2),
                           True, True).is_uniform()


def test_ottt_refuses_leaks_that_differ():
    frames, labels, net, inp = small_problem(seed=1)
    net.neurons, _ = _per_neuron(net, np.random.default_rng(1))
    with pytest.raises(ValueError, match="leaks differ"):
        trainer("ottt_a", net, NRN, T=T)


# ------------------------------------------------------------------ from a workload
WORKLOAD = """\
name: per_layer
dataset: {name: nmnist, root: null, time_steps: 8, framing: binary, downscale: 2,
          train_samples: 4, test_samples: 4}
network:
  hidden:
    - {kind: dense, units: 24}
    - {kind: dense, units: 12, neuron: {leak: 0.9, reset: hard, v_reset: -0.25, threshold: 0.8,
                                        synaptic_decay: 0.5}}
  readout_leak: 0.7
neuron: {preset: ottt}
rule: {name: RULE}
training: {epochs: 1, optimizer: sgd, lr: 0.1, seed: 3, init_gain: 3.0}
"""


def test_a_layer_of_a_workload_takes_its_own_neuron(tmp_path):
    from chipsim.cli import main
    from chipsim.report.h5 import read_result
    wl = tmp_path / "w.yaml"
    wl.write_text(WORKLOAD.replace("RULE", "bptt"))
    out = tmp_path / "r.h5"
    assert main(["run", str(wl), "--profile", "anp_i", "--out", str(out), "--quiet", "--no-plot"]) == 0
    n1, n2 = read_result(out).sim.neurons
    assert np.all(n1["lam"] == 0.5) and np.all(n1["theta"] == 1.0) and n1["soft"] and n1["h0"]
    assert np.all(n2["lam"] == 0.9) and np.all(n2["theta"] == 0.8) and not n2["soft"]
    assert np.all(n2["vr"] == -0.25) and n2["h0"]          # H(0) from the preset
    assert n1["syn"] is None and np.all(n2["syn"] == 0.5)  # a current-based layer
    lam_o, cin_o = read_result(out).sim.readout_li            # a leaky-integrator readout
    assert np.all(lam_o == 0.7) and np.all(cin_o == 1.0)


def test_ottt_with_a_layer_of_another_leak_is_one_clear_error(tmp_path, capsys):
    from chipsim.cli import main
    wl = tmp_path / "w.yaml"
    wl.write_text(WORKLOAD.replace("RULE", "ottt_a"))
    out = tmp_path / "r.h5"
    assert main(["run", str(wl), "--profile", "anp_i", "--out", str(out), "--quiet", "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert "field 'rule.name'" in err and "leaks differ" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


# ------------------------------------------------------------------ current-based (CubaLIF)
def _cuba(neurons, rng, dicts):
    """Give every LIF layer a synaptic current with its own decay per neuron (the first
    neuron's 0: a plain LIF neuron among them)."""
    out = []
    for ln, d in zip(neurons, dicts):
        syn = rng.uniform(0.2, 0.9, len(ln.lam))
        syn[0] = 0.0
        out.append(LayerNeuron(ln.lam, ln.theta, ln.cin, ln.vr, ln.soft, ln.h0, syn))
        d["syn"] = syn
    return out


@pytest.mark.parametrize("rule", ["sltt", "bptt"])
def test_cubalif_gradients_and_counts(rule):
    """CubaLIF layers (i = syn i + I, u = lam v + cin i) with per-neuron parameters: SLTT's and
    BPTT's updates equal the numpy reference; one synaptic-current update per neuron and step;
    BPTT's temporal MACs: two per neuron per step after the first."""
    frames, labels, net, inp = small_problem(seed=8, bias=True, gain=4.0)
    rng = np.random.default_rng(8)
    neurons, dicts = _per_neuron(net, rng)
    net.neurons = _cuba(neurons, rng, dicts)
    before = net.copy()
    tr = trainer(rule, net, NRN, T=T, lr=LR)
    loss, osum, cnt = tr.train_batch(inp, inp.ptr[:1], labels[:1])
    dW = [(a - b) / LR for a, b in zip(before.weights, net.weights)]
    db = [(a - b) / LR for a, b in zip(before.biases, net.biases)]
    ref_fn = ref.grads_bptt if rule == "bptt" else ref.grads_spatial
    gW, gb, rloss, _, diag = ref_fn(before.weights, before.biases, frames[0], labels[0], dicts)
    for a, b in zip(dW + db, gW + gb):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert loss[0] == pytest.approx(rloss, abs=1e-12)
    assert min(int(s.sum()) for s in diag["ss"]) > 0
    for l, ls in enumerate(net.lif_layers):
        assert cnt[0, l, K.Phase.INFERENCE, K.SYN_CURRENT_UPDATE] == T * ls.n_out
        if rule == "bptt":
            assert cnt[0, l, K.Phase.LEARNING, K.TEMPORAL_MAC] == 2 * (T - 1) * ls.n_out
    assert cnt[0, len(net.lif_layers), :, K.SYN_CURRENT_UPDATE].sum() == 0    # the readout


def test_cubalif_with_zero_decay_is_the_plain_lif_bit_for_bit():
    frames, labels, net, inp = small_problem(seed=9, bias=True)
    nrn = NeuronParams(0.5, 1.0, 1.0, True, False, True, 0, 4.0)
    other = net.copy()
    other.neurons = [LayerNeuron(n.lam, n.theta, n.cin, n.vr, n.soft, n.h0, np.zeros(len(n.lam)))
                     for n in (LayerNeuron.uniform(ls.n_out, nrn) for ls in other.lif_layers)]
    a = trainer("bptt", net, nrn, T=T, lr=LR).train_batch(inp, inp.ptr[:1], labels[:1])
    b = trainer("bptt", other, nrn, T=T, lr=LR).train_batch(inp, inp.ptr[:1], labels[:1])
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()
    for x, y in zip(net.weights, other.weights):
        assert x.tobytes() == y.tobytes()
    ca, cb = a[2], b[2]
    assert (cb[..., K.SYN_CURRENT_UPDATE] > 0).any()
    cb = cb.copy()
    cb[..., K.SYN_CURRENT_UPDATE] = 0
    cb[:, :, K.Phase.LEARNING, K.TEMPORAL_MAC] = ca[:, :, K.Phase.LEARNING, K.TEMPORAL_MAC]
    assert np.array_equal(ca, cb)


def test_ottt_refuses_cubalif():
    frames, labels, net, inp = small_problem(seed=1)
    nrn = NeuronParams(0.5, 1.0, 1.0, True, True, True, 0, 4.0)
    net.neurons = [LayerNeuron(n.lam, n.theta, n.cin, n.vr, n.soft, n.h0, np.full(len(n.lam), 0.5))
                   for n in (LayerNeuron.uniform(ls.n_out, nrn) for ls in net.lif_layers)]
    with pytest.raises(ValueError, match="current-based"):
        trainer("ottt_o", net, nrn, T=T)


# ------------------------------------------------------------------ a leaky-integrator readout
@pytest.mark.parametrize("rule", ["sltt", "bptt"])
def test_li_readout_gradients(rule):
    """An LI readout (o = lam o + cin (W s + b), per output): the outputs, SLTT's updates (its
    state detached) and BPTT's (through its leak) equal the numpy reference."""
    frames, labels, net, inp = small_problem(seed=10, bias=True)
    rng = np.random.default_rng(10)
    C = net.n_classes
    li = (rng.uniform(0.3, 0.95, C), rng.uniform(0.5, 1.5, C))
    net.readout_li = li
    nrn = NeuronParams(0.5, 1.0, 1.0, True, False, True, 0, 4.0)
    before = net.copy()
    loss, osum, cnt = trainer(rule, net, nrn, T=T, lr=LR).train_batch(inp, inp.ptr[:1], labels[:1])
    dW = [(a - b) / LR for a, b in zip(before.weights, net.weights)]
    db = [(a - b) / LR for a, b in zip(before.biases, net.biases)]
    rn = dict(lam=0.5, theta=1.0, reset="soft", detach=False, h0=1, decay_input=False,
              sg="sigmoid", alpha=4.0)
    if rule == "bptt":
        gW, gb, rloss, rosum, _ = ref.grads_bptt(before.weights, before.biases, frames[0],
                                                 labels[0], rn, readout_li=li)
    else:
        gW, gb, rloss, rosum, _ = ref.grads_spatial(before.weights, before.biases, frames[0],
                                                    labels[0], rn, readout_li=li)
    np.testing.assert_allclose(osum[0], rosum, rtol=0, atol=1e-12)
    for a, b in zip(dW + db, gW + gb):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert loss[0] == pytest.approx(rloss, abs=1e-12)
    # the linear readout's outputs differ (guards the test)
    _, _, o_lin = ref.forward(before.weights, before.biases, frames[0], rn)
    assert np.abs(o_lin.sum(0) - rosum).max() > 1e-6


# ------------------------------------------------------------------ a spiking output layer
def _ref_spiking_output(Ws, bs, x, y, n, bptt, a=0.05):
    """Plain numpy: every layer LIF (one neuron ``n`` dict), the last layer's spikes are the
    per-step outputs of the loss; SLTT (spatial) or BPTT gradients; spike counts."""
    T, L = x.shape[0], len(Ws)
    v = [np.zeros(W.shape[1]) for W in Ws]
    us = [np.zeros((T, W.shape[1])) for W in Ws]
    ss = [np.zeros((T, W.shape[1])) for W in Ws]
    for t in range(T):
        inp = x[t].astype(np.float64)
        for l in range(L):
            u = n["lam"] * v[l] + (inp @ Ws[l] + bs[l])
            s = ref.H(u - n["theta"], n["h0"])
            v[l] = u - n["theta"] * s
            us[l][t], ss[l][t] = u, s
            inp = s
    gW = [np.zeros_like(W) for W in Ws]
    gb = [np.zeros_like(b) for b in bs]
    pres = [x.astype(np.float64)] + ss[:-1]
    loss, go = 0.0, []
    for t in range(T):
        lt, g = ref.loss_and_grad(ss[-1][t], y, T, a)
        loss += lt
        go.append(g)
    dn = [np.zeros(W.shape[1]) for W in Ws]
    for t in (range(T - 1, -1, -1) if bptt else range(T)):
        e = go[t]
        for l in range(L - 1, -1, -1):
            sg = ref.sg(us[l][t] - n["theta"], "sigmoid", 4.0)
            d = sg * e
            if bptt:
                d = d + n["lam"] * dn[l] * (1.0 - n["theta"] * sg)
                dn[l] = d
            gW[l] += np.outer(pres[l][t], d)
            gb[l] += d
            e = Ws[l] @ d
    return gW, gb, loss, ss[-1].sum(0)


@pytest.mark.parametrize("rule", ["sltt", "bptt"])
def test_spiking_output_layer_gradients_and_prediction(rule):
    """The last LIF layer (one neuron per class) is the output: the loss on its spikes per
    step, the prediction its spike count; SLTT's and BPTT's updates equal the numpy reference;
    no readout layer, no readout work."""
    from chipsim.model.inputs import encode_frames
    from chipsim.model.network import Network
    rng = np.random.default_rng(14)
    n_in, C, Tn = 30, 5, 8
    frames = (rng.random((2, Tn, n_in)) < 0.4).astype(np.uint8)
    inp = encode_frames(frames, True)
    net = Network.build((1, 1, n_in), True, [dict(kind="dense", units=16, bias=True),
                                            dict(kind="dense", units=C, bias=True)], C, False,
                        np.random.default_rng(15), gain=5.0, output="spike_count")
    assert [ls.kind for ls in net.layers] == ["dense", "dense"]
    nrn = NeuronParams(0.5, 1.0, 1.0, True, False, True, 0, 4.0)
    before = net.copy()
    loss, osum, cnt = trainer(rule, net, nrn, T=Tn, lr=LR).train_batch(inp, inp.ptr[:1],
                                                                      np.array([2]))
    dW = [(a - b) / LR for a, b in zip(before.weights, net.weights)]
    db = [(a - b) / LR for a, b in zip(before.biases, net.biases)]
    n = dict(lam=0.5, theta=1.0, h0=1)
    gW, gb, rloss, counts = _ref_spiking_output(before.weights, before.biases, frames[0], 2, n,
                                                rule == "bptt")
    np.testing.assert_array_equal(osum[0], counts)         # the prediction's spike counts
    assert counts.sum() > 0
    for a, b in zip(dW + db, gW + gb):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert loss[0] == pytest.approx(rloss, abs=1e-12)


def test_first_spike_output_scores_the_earliest_class():
    from chipsim.model.inputs import encode_frames
    from chipsim.model.network import Network
    rng = np.random.default_rng(16)
    n_in, C, Tn = 20, 4, 10
    frames = (rng.random((3, Tn, n_in)) < 0.3).astype(np.uint8)
    inp = encode_frames(frames, True)
    net = Network.build((1, 1, n_in), True, [dict(kind="dense", units=C)], C, False,
                        np.random.default_rng(17), gain=8.0, output="first_spike")
    nrn = NeuronParams(0.5, 1.0, 1.0, True, True, True, 0, 4.0)
    tr = trainer("sltt", net, nrn, T=Tn, B=3)
    _, osum, _ = tr.infer_batch(inp, inp.ptr, np.zeros(3, np.int64))
    # the numpy forward: the class whose first spike comes first scores highest (T - t)
    scored = 0
    for s in range(3):
        v = np.zeros(C)
        want = np.zeros(C)
        for t in range(Tn):
            u = 0.5 * v + frames[s, t].astype(float) @ net.weights[0] + net.biases[0]
            spk = u >= 1.0
            v = u - spk
            want[(want == 0) & spk] = Tn - t
        np.testing.assert_array_equal(osum[s], want)
        scored += int((want > 0).sum())
    assert scored >= 3                         # classes did fire, at different steps


def test_a_spiking_output_needs_one_dense_neuron_per_class():
    from chipsim.model.network import Network
    with pytest.raises(ValueError, match="dense layer of 5 neurons"):
        Network.plan((1, 1, 8), True, [dict(kind="dense", units=6)], 5, False,
                     output="spike_count")


def test_the_memory_estimate_counts_synaptic_currents_and_an_li_readout():
    """needs.py sizes a run from the plan (no weights): with a CubaLIF layer and an LI readout
    the plan carries them, and the estimate equals what the trainer allocates."""
    from chipsim.config.workload import workload_from_text
    from chipsim.kernels.records import Optimizer
    from chipsim.learning import RULES, make_trainer
    from chipsim.learning.trainer import trainer_bytes
    from chipsim.model.network import build_network, neuron_params, plan_network
    w = workload_from_text(WORKLOAD.replace("RULE", "bptt"))
    shape, C = (2, 17, 17), 10
    topo = plan_network(w, shape, C)
    assert topo.neurons is not None and topo.readout_li is not None
    net = build_network(w, shape, C, np.random.default_rng(0))
    nrn = neuron_params(w, shape, C)
    need = trainer_bytes(topo, RULES["bptt"](w.rule, nrn, 8), Optimizer(0.1, 0.0, 0.0), 8, 1,
                         np.float64, workers=1)["buffers"]
    tr = make_trainer("bptt", net, nrn, w.loss, w.training, w.rule, 8, 1,
                      np.random.default_rng(0), 1)
    own = [a for a in tr.state if isinstance(a, np.ndarray)] + list(tr.grads)
    own += [tr.layout, tr.net_rec.pops, tr.net_infer.pops, tr.fmt.qw, tr.fmt.limw, tr.fmt.rs]
    own += [a for a in tr.neurons if isinstance(a, np.ndarray)]
    assert need == sum(a.nbytes for a in own)
    assert tr.state.isyn.size > 0 and tr.state.ostate.size > 0 and tr.state.dro.size > 0
