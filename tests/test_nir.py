"""NIR graphs in and out (chipsim/model/nir_graph.py, chipsim/interop/nir_io.py).

The graphs are built with ``nir``'s own API the way each framework's exporter writes them
(docs/nir.md, with the exporters' code lines). Each is read back by chipsim and run forward;
its spikes must equal, step by step and neuron by neuron, those of an independent plain-numpy
simulation of the NIR semantics at the same dt (:func:`nir_reference`: forward Euler,
channel-first tensors, ``v > v_threshold``, ``v = v_reset`` after a spike). A network chipsim
trains and exports reads back bit for bit; a graph chipsim cannot run is refused by node.
"""

from __future__ import annotations

import nir
import numpy as np
import pytest

from chipsim.errors import ChipsimError
from chipsim.model.inputs import channels_last, encode_frames
from chipsim.model.network import Network
from chipsim.model.neuron import LayerNeuron, NeuronParams
from chipsim.model.nir_graph import NirProblem, from_graph, load, to_graph
from tests.helpers import trainer


# ------------------------------------------------------------------ the numpy reference
def _conv(x, w, b, stride, pad):
    """Channel-first cross-correlation, as torch.nn.Conv2d: x (C, H, W), w (Co, C, k, k)."""
    Co, C, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    Ho = (xp.shape[1] - k) // stride + 1
    Wo = (xp.shape[2] - k) // stride + 1
    out = np.zeros((Co, Ho, Wo))
    for o in range(Co):
        for y in range(Ho):
            for x_ in range(Wo):
                patch = xp[:, y * stride:y * stride + k, x_ * stride:x_ * stride + k]
                out[o, y, x_] = np.sum(patch * w[o]) + b[o]
    return out


def _pool(x, k, mean):
    C, H, W = x.shape
    Ho, Wo = H // k, W // k
    y = x[:, :Ho * k, :Wo * k].reshape(C, Ho, k, Wo, k).sum(axis=(2, 4))
    return y / (k * k) if mean else y


def _val(a):
    return np.asarray(a, dtype=np.float64)


def nir_reference(graph, frames, dt):
    """The NIR graph run on ``frames`` (T, *input shape) by forward Euler at ``dt``: returns
    the spikes of every neuron node (name -> (T, *shape) bool, channel-first) and the Output
    summed over time."""
    succ = dict(graph.edges)
    name = next(n for n, v in graph.nodes.items() if isinstance(v, nir.Input))
    chain = [name]
    while name in succ:
        name = succ[name]
        chain.append(name)
    T = frames.shape[0]
    state, spikes, total = {}, {}, 0.0
    for t in range(T):
        x = frames[t].astype(np.float64)
        if x.ndim in (2, 4) and x.shape[0] == 1:
            x = x[0]
        for n in chain[1:]:
            node = graph.nodes[n]
            if isinstance(node, nir.Conv2d):
                x = _conv(x, _val(node.weight), _val(node.bias), int(np.ravel(node.stride)[0]),
                          int(np.ravel(node.padding)[0]))
            elif isinstance(node, nir.Affine):
                x = _val(node.weight) @ x.reshape(-1) + _val(node.bias)
            elif isinstance(node, nir.Linear):
                x = _val(node.weight) @ x.reshape(-1)
            elif isinstance(node, (nir.AvgPool2d, nir.SumPool2d)):
                x = _pool(x, int(np.ravel(node.kernel_size)[0]), isinstance(node, nir.AvgPool2d))
            elif isinstance(node, nir.Flatten):
                x = x.reshape(-1)
            elif isinstance(node, nir.Scale):
                x = x * _val(node.scale)
            elif isinstance(node, (nir.LIF, nir.IF, nir.CubaLIF)):
                v = state.get(n, np.zeros(x.shape))
                if isinstance(node, nir.LIF):
                    v = v + dt / _val(node.tau) * (_val(node.v_leak) - v + _val(node.r) * x)
                elif isinstance(node, nir.CubaLIF):    # the current first, then the membrane
                    i = state.get(n + "/I", np.zeros(x.shape))
                    i = i + dt / _val(node.tau_syn) * (-i + _val(node.w_in) * x)
                    state[n + "/I"] = i
                    v = v + dt / _val(node.tau_mem) * (_val(node.v_leak) - v + _val(node.r) * i)
                else:
                    v = v + dt * _val(node.r) * x
                z = v > _val(node.v_threshold)
                v = np.where(z, _val(node.v_reset) if node.v_reset is not None else 0.0, v)
                state[n] = v
                spikes.setdefault(n, np.zeros((T,) + x.shape, bool))[t] = z
                x = z.astype(np.float64)
            elif isinstance(node, nir.LI):           # a leaky integrator: its potential out
                v = state.get(n, np.zeros(x.shape))
                v = v + dt / _val(node.tau) * (_val(node.v_leak) - v + _val(node.r) * x)
                state[n] = v
                x = v
            elif isinstance(node, nir.Output):
                total = total + x
    return spikes, total


def chipsim_spikes(net, nrn, frames, data_shape):
    """chipsim's spikes of every LIF layer, (T, n) in its channel-last order, and the readout
    summed over time, from the kernels (one forward run per prefix of the input). The frames
    are the data's (C, H, W) (a flat NIR input reads them flattened channel-first); chipsim
    reads them channel-last, as its data pipeline gives them."""
    T = frames.shape[0]
    f = channels_last(frames.reshape((1, T) + tuple(data_shape)))
    inp = encode_frames(f.reshape(1, T, -1), False)
    tr = trainer("sltt", net, nrn, T=T)
    out = [np.zeros((T, ls.n_out), bool) for ls in net.lif_layers]
    osum = None
    for t in range(T):
        _, osum, _ = tr.infer_batch(inp, inp.ptr[:, :t + 2], np.array([0]))
        for l in range(len(out)):
            out[l][t, tr.spk_h[l][0, 0, :tr.spk_n[l, 0, 0]]] = True
    return out, osum[0]


def imported_network(graph, dt, data_shape, tmp_path):
    """Write ``graph`` with nir.write, read it back through chipsim, build the network."""
    path = tmp_path / "model.nir"
    # 0-d parameters (snnTorch, Norse) cannot be gzip-compressed by h5py: written uncompressed
    nir.write(str(path), graph, compression=None)
    imp = load(path, dt, data_shape)
    P, H, W = data_shape
    layers = Network.plan((H, W, P), False, list(imp.ops), imp.n_outputs, imp.readout_bias,
                          output="spike_count" if imp.spiking_output else "readout").layers
    neurons = None if imp.neuron is not None else [
        LayerNeuron(n["lam"], n["theta"], n["cin"], n["vr"], n["soft"], n["h0"], n.get("syn"))
        for n in imp.neurons]
    net = Network(list(layers), [w.copy() for w in imp.weights], [b.copy() for b in imp.biases],
                  neurons=neurons)
    net.readout_li = imp.readout_li
    net.output = "spike_count" if imp.spiking_output else "readout"
    n = imp.neuron or {k: (v[0] if k in ("lam", "theta", "cin") else v)
                       for k, v in imp.neurons[0].items() if k not in ("vr", "syn")}
    nrn = NeuronParams(lam=n["lam"], theta=n["theta"], cin=n["cin"], soft=n["soft"], detach=True,
                       h0=n["h0"], sg_kind=0, alpha=4.0)
    return imp, net, nrn


def _to_chw(s, shape):
    """chipsim's (T, H*W*C) channel-last spikes as (T, C, H, W), or (T, n) as they are."""
    if len(shape) == 1:
        return s
    C, H, W = shape
    return np.moveaxis(s.reshape(-1, H, W, C), -1, 1)


def assert_same_spikes(graph, dt, frames, data_shape, tmp_path, min_spikes=20):
    ref, total = nir_reference(graph, frames, dt)
    imp, net, nrn = imported_network(graph, dt, data_shape, tmp_path)
    got, osum = chipsim_spikes(net, nrn, frames, data_shape)
    names = [n for n in ref]
    assert len(names) == len(got)
    n_spikes = 0
    for name, s in zip(names, got):
        want = ref[name]
        np.testing.assert_array_equal(_to_chw(s, want.shape[1:]), want, err_msg=name)
        n_spikes += int(want.sum())
    assert n_spikes >= min_spikes          # the comparison is not of silent networks
    np.testing.assert_allclose(osum, total, rtol=1e-9, atol=1e-9)
    return imp, net, nrn


def _frames(rng, T, shape, density=0.3):
    return (rng.random((T,) + shape) < density).astype(np.float64)


# ------------------------------------------------------------------ each exporter's convention
def test_snntorch_convention_mlp(tmp_path):
    """snnTorch export_nir.py: dt = 1e-4 hard-coded; Leaky -> LIF(tau = dt/(1-beta), r = tau/dt,
    v_leak 0, v_reset 0), 0-d parameters; Linear without bias -> nir.Linear, with -> Affine;
    the Input keeps the batch dimension unless ignore_dims=[0] (here it is kept)."""
    rng = np.random.default_rng(1)
    dt, beta = 1e-4, 0.8
    tau = dt / (1 - beta)
    P, H, W = 2, 4, 4
    n_in = P * H * W
    lif = lambda: nir.LIF(tau=np.array(tau), r=np.array(tau / dt), v_leak=np.array(0.0),  # noqa: E731
                          v_threshold=np.array(1.0), v_reset=np.array(0.0))
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([1, n_in])}),
        "fc1": nir.Linear(weight=rng.uniform(-0.5, 1.0, (12, n_in))),
        "lif1": lif(),
        "fc2": nir.Affine(weight=rng.uniform(-0.5, 1.2, (8, 12)), bias=rng.uniform(0, 0.3, 8)),
        "lif2": lif(),
        "fc3": nir.Affine(weight=rng.normal(size=(5, 8)), bias=rng.normal(size=5)),
        "output": nir.Output(output_type={"output": np.array([5])})},
        edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"),
               ("lif2", "fc3"), ("fc3", "output")], type_check=False)
    frames = _frames(rng, 12, (1, n_in))
    imp, net, nrn = assert_same_spikes(g, dt, frames, (P, H, W), tmp_path)
    # snnTorch's intent comes back: lambda = beta, input scale 1, hard reset, strict >
    assert nrn.lam == pytest.approx(beta, abs=1e-15) and nrn.cin == pytest.approx(1.0, abs=1e-12)
    assert not nrn.soft and not nrn.h0
    assert [op.kind for op in imp.ops] == ["dense", "dense"]
    assert [op.bias for op in imp.ops] == [False, True]


def test_snntorch_convention_spiking_output(tmp_path):
    """snnTorch's usual classifier ends in a Leaky layer, one neuron per class, into the Output
    (classified by spike count): chipsim reads it as a spiking output, no readout; the spikes
    and the counts equal the numpy NIR reference."""
    rng = np.random.default_rng(18)
    dt, beta = 1e-4, 0.7
    tau = dt / (1 - beta)
    lif = lambda n: nir.LIF(tau=np.full(n, tau), r=np.full(n, tau / dt), v_leak=np.zeros(n),  # noqa: E731
                            v_threshold=np.ones(n), v_reset=np.zeros(n))
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([24])}),
        "0": nir.Linear(weight=rng.uniform(-0.3, 0.9, (12, 24))),
        "1": lif(12),
        "2": nir.Linear(weight=rng.uniform(-0.3, 0.9, (4, 12))),
        "3": lif(4),
        "output": nir.Output(output_type={"output": np.array([4])})},
        edges=[("input", "0"), ("0", "1"), ("1", "2"), ("2", "3"), ("3", "output")])
    frames = _frames(rng, 15, (24,), 0.4)
    imp, net, nrn = assert_same_spikes(g, dt, frames, (24, 1, 1), tmp_path)
    assert imp.spiking_output and [ls.kind for ls in net.layers] == ["dense", "dense"]


def test_norse_convention_lifbox_with_v_leak(tmp_path):
    """Norse export_nir.py: LIFBoxCell -> LIF(tau = 1/tau_mem_inv, r = 1, v_leak, v_reset),
    0-d parameters, no dt written (its importer uses 1e-3); Linear -> nir.Linear/Affine;
    LIBoxCell -> LI(tau, v_leak, r = 1), here the output layer (a leaky-integrator readout).
    v_leak != 0 becomes a constant drive (dt/tau) v_leak, folded into the layer's bias."""
    rng = np.random.default_rng(2)
    dt, tau = 1e-3, 0.01
    n_in = 20
    lif = lambda: nir.LIF(tau=np.array(tau), r=np.array(1.0), v_leak=np.array(0.3),  # noqa: E731
                          v_threshold=np.array(1.0), v_reset=np.array(0.0))
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "0": nir.Linear(weight=rng.uniform(0.0, 2.5, (10, n_in))),
        "1": lif(),
        "2": nir.Linear(weight=rng.uniform(-1.0, 4.0, (6, 10))),
        "3": lif(),
        "4": nir.Affine(weight=rng.normal(size=(3, 6)), bias=np.zeros(3)),
        "5": nir.LI(tau=np.array(0.005), r=np.array(1.0), v_leak=np.array(0.0)),
        "output": nir.Output(output_type={"output": np.array([3])})},
        edges=[("input", "0"), ("0", "1"), ("1", "2"), ("2", "3"), ("3", "4"), ("4", "5"),
               ("5", "output")], type_check=False)
    frames = _frames(rng, 30, (n_in,), 0.5)
    imp, net, nrn = assert_same_spikes(g, dt, frames, (n_in, 1, 1), tmp_path)
    assert nrn.lam == pytest.approx(0.9) and nrn.cin == pytest.approx(0.1)
    assert [op.bias for op in imp.ops] == [True, True]        # the v_leak drive
    assert np.allclose(imp.biases[0], 0.3) and not imp.readout_bias
    lam_o, cin_o = imp.readout_li                              # LI: 1 - dt/tau, r dt/tau
    assert np.allclose(lam_o, 0.8) and np.allclose(cin_o, 0.2)


def test_spikingjelly_convention_conv_if(tmp_path):
    """SpikingJelly to_nir.py: dt 1e-4; Conv2d with input_shape (H, W); IFNode -> IF(r = 1/dt,
    per-neuron arrays); AvgPool2d; Flatten(start_dim=0) of the (C, H, W) map; Affine."""
    rng = np.random.default_rng(3)
    dt = 1e-4
    P, H, W = 2, 8, 8
    full = lambda shape, v: np.full(shape, v)  # noqa: E731
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([P, H, W])}),
        "conv": nir.Conv2d(input_shape=(H, W), weight=rng.uniform(-0.3, 0.8, (4, P, 3, 3)),
                           stride=1, padding=1, dilation=1, groups=1, bias=rng.uniform(0, 0.2, 4)),
        "if1": nir.IF(r=full((4, H, W), 1 / dt), v_threshold=full((4, H, W), 1.0),
                      v_reset=full((4, H, W), 0.0)),
        "pool": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([4, 4, 4])}, start_dim=0),
        "fc": nir.Affine(weight=rng.uniform(-0.2, 0.6, (10, 64)), bias=np.zeros(10)),
        "if2": nir.IF(r=full((10,), 1 / dt), v_threshold=full((10,), 1.0), v_reset=full((10,), 0.0)),
        "head": nir.Affine(weight=rng.normal(size=(4, 10)), bias=rng.normal(size=4)),
        "output": nir.Output(output_type={"output": np.array([4])})},
        edges=[("input", "conv"), ("conv", "if1"), ("if1", "pool"), ("pool", "flat"),
               ("flat", "fc"), ("fc", "if2"), ("if2", "head"), ("head", "output")])
    frames = _frames(rng, 10, (P, H, W))
    imp, net, nrn = assert_same_spikes(g, dt, frames, (P, H, W), tmp_path)
    assert nrn.lam == 1.0 and nrn.cin == pytest.approx(1.0)
    assert [op.kind for op in imp.ops] == ["conv", "avgpool", "dense"]


def test_sinabs_convention_sumpool_steps(tmp_path):
    """Sinabs nir.py: no dt (time in steps: dt = 1 s here); IAF -> IF(r = 1, per-neuron (C, H,
    W)), v_reset not written; Conv2d(input_shape None, stride 2, padding 1); SumPool2d; Flatten
    (start_dim 0); Linear always as Affine (zero bias when none)."""
    rng = np.random.default_rng(4)
    dt = 1.0
    P, H, W = 2, 10, 10
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([P, H, W])}),
        "0": nir.Conv2d(input_shape=None, weight=rng.uniform(-0.2, 0.7, (3, P, 4, 4)), stride=2,
                        padding=1, dilation=1, groups=1, bias=np.zeros(3)),
        "1": nir.IF(r=np.ones((3, 5, 5)), v_threshold=np.ones((3, 5, 5))),
        "2": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                           padding=np.array([0, 0])),
        "3": nir.Flatten(input_type={"input": np.array([3, 2, 2])}, start_dim=0),
        "4": nir.Affine(weight=rng.uniform(-0.2, 0.5, (7, 12)), bias=np.zeros(7)),
        "5": nir.IF(r=np.ones(7), v_threshold=np.ones(7)),
        "6": nir.Affine(weight=rng.normal(size=(3, 7)), bias=np.zeros(3)),
        "output": nir.Output(output_type={"output": np.array([3])})},
        edges=[("5", "6"), ("input", "0"), ("3", "4"), ("0", "1"), ("1", "2"), ("2", "3"),
               ("4", "5"), ("6", "output")])        # Sinabs' edges are not in order
    frames = _frames(rng, 10, (P, H, W), 0.4)
    imp, net, nrn = assert_same_spikes(g, dt, frames, (P, H, W), tmp_path)
    assert [op.bias for op in imp.ops if op.kind != "avgpool"] == [False, False]
    assert not imp.readout_bias


def test_neurons_per_neuron_and_per_layer_with_v_reset(tmp_path):
    """Every neuron its own tau, r, threshold, v_reset (negative) and v_leak, and a second layer
    of another kind (IF), as SpikingJelly and Lava write them (per-neuron arrays)."""
    rng = np.random.default_rng(11)
    dt = 1e-3
    P, H, W = 2, 6, 6
    c1 = (3, 6, 6)
    r1 = rng.uniform(0.8, 2.0, c1)
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([P, H, W])}),
        "conv": nir.Conv2d(input_shape=(H, W), weight=rng.uniform(-0.2, 0.7, (3, P, 3, 3)),
                           stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(3)),
        # v_leak / r one value per channel: the drive is the channel's bias
        "lif": nir.LIF(tau=rng.uniform(1.2e-3, 6e-3, c1), r=r1,
                       v_leak=np.repeat(np.array([0.0, 0.2, -0.1]), 36).reshape(c1) * r1,
                       v_threshold=rng.uniform(0.6, 1.2, c1), v_reset=rng.uniform(-0.5, 0.2, c1)),
        "flat": nir.Flatten(input_type={"input": np.array(c1)}, start_dim=0),
        "fc": nir.Affine(weight=rng.uniform(-0.1, 0.4, (8, 108)), bias=np.zeros(8)),
        "if": nir.IF(r=rng.uniform(500, 1500, 8), v_threshold=rng.uniform(0.5, 1.5, 8),
                     v_reset=rng.uniform(-0.3, 0.0, 8)),
        "head": nir.Affine(weight=rng.normal(size=(3, 8)), bias=rng.normal(size=3)),
        "output": nir.Output(output_type={"output": np.array([3])})},
        edges=[("input", "conv"), ("conv", "lif"), ("lif", "flat"), ("flat", "fc"),
               ("fc", "if"), ("if", "head"), ("head", "output")])
    frames = _frames(rng, 15, (P, H, W), 0.4)
    imp, net, nrn = assert_same_spikes(g, dt, frames, (P, H, W), tmp_path, min_spikes=50)
    assert imp.neuron is None and net.neurons is not None
    assert np.all(net.neurons[1].lam == 1.0) and np.ptp(net.neurons[0].lam) > 0
    assert imp.ops[0].bias                             # v_leak, per channel, in the bias


def test_v_leak_that_differs_within_a_channel_is_refused():
    c = (2, 3, 3)
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([1, 3, 3])}),
        "conv": nir.Conv2d(input_shape=(3, 3), weight=np.ones((2, 1, 1, 1)), stride=1, padding=0,
                           dilation=1, groups=1, bias=np.zeros(2)),
        "lif": nir.LIF(tau=np.full(c, 2e-3), r=np.ones(c), v_leak=np.arange(18.0).reshape(c),
                       v_threshold=np.ones(c), v_reset=np.zeros(c)),
        "flat": nir.Flatten(input_type={"input": np.array(c)}, start_dim=0),
        "head": nir.Linear(weight=np.ones((2, 18))),
        "output": nir.Output(output_type={"output": np.array([2])})},
        edges=[("input", "conv"), ("conv", "lif"), ("lif", "flat"), ("flat", "head"),
               ("head", "output")])
    with pytest.raises(NirProblem, match="node 'lif': v_leak / r differs between the neurons of a channel"):
        from_graph(g, 1e-3)


def test_scale_nodes_fold_into_the_weights(tmp_path):
    """OTTT's Scale(2.74) after a spiking layer (and a per-channel Scale on a current) fold into
    the neighbouring synapses; the spikes are those of the graph with the Scale nodes."""
    rng = np.random.default_rng(5)
    dt = 1e-3
    P, H, W = 2, 6, 6
    lif = lambda s: nir.LIF(tau=np.full(s, 2e-3), r=np.full(s, 2.0), v_leak=np.zeros(s),  # noqa: E731
                            v_threshold=np.ones(s), v_reset=np.zeros(s))
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([P, H, W])}),
        "conv": nir.Conv2d(input_shape=(H, W), weight=rng.uniform(-0.2, 0.6, (3, P, 3, 3)),
                           stride=1, padding=0, dilation=1, groups=1, bias=np.zeros(3)),
        "cscale": nir.Scale(scale=np.repeat(np.array([1.5, 0.5, 2.0]), 16).reshape(3, 4, 4)),
        "lif1": lif((3, 4, 4)),
        "scale": nir.Scale(scale=np.array([2.74])),
        "flat": nir.Flatten(input_type={"input": np.array([3, 4, 4])}, start_dim=0),
        "fc": nir.Affine(weight=rng.uniform(-0.1, 0.3, (6, 48)), bias=np.zeros(6)),
        "lif2": lif((6,)),
        "head": nir.Linear(weight=rng.normal(size=(2, 6))),
        "output": nir.Output(output_type={"output": np.array([2])})},
        edges=[("input", "conv"), ("conv", "cscale"), ("cscale", "lif1"), ("lif1", "scale"),
               ("scale", "flat"), ("flat", "fc"), ("fc", "lif2"), ("lif2", "head"),
               ("head", "output")], type_check=False)
    frames = _frames(rng, 12, (P, H, W), 0.5)
    assert_same_spikes(g, dt, frames, (P, H, W), tmp_path)


# ------------------------------------------------------------------ refusals, by node
def _mlp(nodes_extra=None, edges=None, neuron=None, out_from="fc2"):
    lif = neuron or nir.LIF(tau=np.array(2e-3), r=np.array(2.0), v_leak=np.array(0.0),
                            v_threshold=np.array(1.0), v_reset=np.array(0.0))
    nodes = {"input": nir.Input(input_type={"input": np.array([4])}),
             "fc1": nir.Linear(weight=np.ones((3, 4))), "lif1": lif,
             "fc2": nir.Linear(weight=np.ones((2, 3))),
             "output": nir.Output(output_type={"output": np.array([2])})}
    nodes.update(nodes_extra or {})
    edges = edges or [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), (out_from, "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


@pytest.mark.parametrize("graph, node, words", [
    (lambda: _mlp(neuron=nir.CubaLIF(tau_syn=np.array(1e-3), tau_mem=np.array(2e-3), r=np.array(2.0),
                                     v_leak=np.array(0.3), v_threshold=np.array(1.0))),
     "lif1", "v_leak 0 for a CubaLIF node"),
    (lambda: _mlp(neuron=nir.LI(tau=np.array(2e-3), r=np.array(1.0), v_leak=np.array(0.0))),
     "lif1", "LI only between the last Affine/Linear and the Output"),
    (lambda: _mlp(neuron=nir.LIF(tau=np.array([2e-3, 3e-3]), r=np.ones(2), v_leak=np.zeros(2),
                                 v_threshold=np.ones(2), v_reset=np.zeros(2))),
     "lif1", "v_threshold has 2 values for 3 neurons"),
    (lambda: _mlp(neuron=nir.LIF(tau=np.array(0.5e-3), r=np.array(2.0), v_leak=np.array(0.0),
                                 v_threshold=np.array(1.0), v_reset=np.array(0.0))),
     "lif1", "tau 0.0005 s is shorter than dt 0.001 s"),
    (lambda: nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([1, 4, 4])}),
        "conv": nir.Conv2d(input_shape=(4, 4), weight=np.ones((2, 1, 3, 3)), stride=1, padding=1,
                           dilation=1, groups=1, bias=np.zeros(2)),
        "lif": nir.LIF(tau=np.array(2e-3), r=np.array(2.0), v_leak=np.array(0.0),
                       v_threshold=np.array(1.0), v_reset=np.array(0.0)),
        "output": nir.Output(output_type={"output": np.array([2, 4, 4])})},
        edges=[("input", "conv"), ("conv", "lif"), ("lif", "output")], type_check=False),
     "output", "the Output reads a convolution's neurons"),
    (lambda: _mlp(edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "output"),
                         ("lif1", "fc1")]),
     "fc1", "branches and recurrent edges"),
    (lambda: _mlp(nodes_extra={"d": nir.Delay(delay=np.ones(3))},
                  edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "d"), ("d", "fc2"),
                         ("fc2", "output")]),
     "d", "type Delay is not supported"),
])
def test_what_chipsim_cannot_run_is_refused_by_node(graph, node, words):
    with pytest.raises(NirProblem) as e:
        from_graph(graph(), 1e-3)
    assert e.value.node == node and words in f"{e.value} (expected {e.value.expected})"


def test_lava_convention_cubalif(tmp_path):
    """lava_to_nir.py (the NIR repository's Lava converter) writes CubaLIF only, per neuron:
    tau_mem = dt / vdecay, tau_syn = dt / idecay, r = tau_mem / dt, w_in = tau_syn / dt,
    v_leak 0, v_reset 0, dt = 1e-4; Dense -> Linear (weight / 64). Here the decays differ per
    neuron (as 12-bit decays of a trained Lava-dl network would)."""
    rng = np.random.default_rng(12)
    dt, n_in, n1, n2 = 1e-4, 30, 16, 8

    def cuba(n):
        vdecay, idecay = rng.integers(200, 1500, n) / 4096, rng.integers(500, 3000, n) / 4096
        tau_mem, tau_syn = dt / vdecay, dt / idecay
        return nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt, v_leak=np.zeros(n),
                           v_threshold=np.full(n, 1.0), v_reset=np.zeros(n), w_in=tau_syn / dt)
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "dense0": nir.Linear(weight=rng.integers(-20, 60, (n1, n_in)) / 64),
        "cuba0": cuba(n1),
        "dense1": nir.Linear(weight=rng.integers(-20, 80, (n2, n1)) / 64),
        "cuba1": cuba(n2),
        "head": nir.Linear(weight=rng.normal(size=(3, n2))),
        "output": nir.Output(output_type={"output": np.array([3])})},
        edges=[("input", "dense0"), ("dense0", "cuba0"), ("cuba0", "dense1"), ("dense1", "cuba1"),
               ("cuba1", "head"), ("head", "output")])
    frames = _frames(rng, 25, (n_in,), 0.3)
    imp, net, nrn = assert_same_spikes(g, dt, frames, (n_in, 1, 1), tmp_path, min_spikes=30)
    assert all(n["syn"] is not None for n in imp.neurons)
    np.testing.assert_allclose(imp.neurons[0]["cin"], 1.0, rtol=1e-12)   # r dt/tau x w_in dt/tau_syn


def test_a_file_that_is_not_nir_is_one_clear_error(tmp_path):
    bad = tmp_path / "model.nir"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(ChipsimError, match="cannot read it as a NIR graph"):
        load(bad, 1e-3)
    with pytest.raises(ChipsimError, match="no such file"):
        load(tmp_path / "missing.nir", 1e-3)


# ------------------------------------------------------------------ export and round trips
def _trained_conv_net():
    """A small conv net trained a few samples with OTTT (soft reset, H(0) = 1, bias on the
    readout, avg pooling), so the round trip carries learned, non-round weights."""
    from tests.helpers import neuron
    rng = np.random.default_rng(7)
    P, H, W, T, C = 2, 8, 8, 6, 3
    ops = [dict(kind="conv", channels=4, kernel=3, padding=1, bias=True),
           dict(kind="avgpool", size=2), dict(kind="dense", units=10)]
    net = Network.build((H, W, P), True, ops, C, True, np.random.default_rng(8), gain=3.0)
    nrn, _ = neuron("ottt")
    frames = (rng.random((4, T, P, H, W)) < 0.3).astype(np.uint8)
    inp = encode_frames(channels_last(frames), True)
    tr = trainer("ottt_a", net, nrn, T=T, lr=0.2)
    for i in range(4):
        tr.train_batch(inp, inp.ptr[i:i + 1], np.array([i % C]))
    return net, nrn, inp, (P, H, W)


def test_export_then_import_gives_the_same_network_bit_for_bit(tmp_path):
    net, nrn, inp, shape = _trained_conv_net()
    g = to_graph(net.layers, net.weights, net.biases, nrn, 1e-3, shape)
    path = tmp_path / "net.nir"
    nir.write(str(path), g)
    imp = load(path, 1e-3, shape)
    for a, b in zip(net.weights, imp.weights):
        assert a.tobytes() == b.tobytes()
    for a, b in zip(net.biases, imp.biases):
        assert a.tobytes() == b.tobytes()
    assert imp.neuron == dict(lam=nrn.lam, theta=nrn.theta, cin=nrn.cin, soft=nrn.soft, h0=nrn.h0)
    P, H, W = shape
    again = Network.plan((H, W, P), True, list(imp.ops), imp.n_outputs, imp.readout_bias).layers
    assert again == tuple(net.layers)
    # and the same forward work: counts, outputs
    net2 = Network(list(again), list(imp.weights), list(imp.biases))
    nrn2 = NeuronParams(**imp.neuron, detach=nrn.detach, sg_kind=nrn.sg_kind, alpha=nrn.alpha)
    a = trainer("sltt", net, nrn, T=6, B=4).infer_batch(inp, inp.ptr[:4], np.zeros(4, np.int64))
    b = trainer("sltt", net2, nrn2, T=6, B=4).infer_batch(inp, inp.ptr[:4], np.zeros(4, np.int64))
    for x, y in zip(a, b):
        assert np.array_equal(x, y)


def test_import_export_import_is_bit_identical(tmp_path):
    """A foreign graph (SpikingJelly style, with a SumPool folded) read, written by chipsim, read
    again: the same layers, weights and neuron."""
    rng = np.random.default_rng(9)
    P, H, W = 2, 6, 6
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([P, H, W])}),
        "conv": nir.Conv2d(input_shape=(H, W), weight=rng.normal(size=(3, P, 3, 3)), stride=1,
                           padding=1, dilation=1, groups=1, bias=rng.normal(size=3)),
        "lif": nir.LIF(tau=np.full((3, H, W), 3e-3), r=np.full((3, H, W), 1.5),
                       v_leak=np.zeros((3, H, W)), v_threshold=np.full((3, H, W), 0.7),
                       v_reset=np.zeros((3, H, W))),
        "pool": nir.SumPool2d(kernel_size=np.array([3, 3]), stride=np.array([3, 3]),
                              padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([3, 2, 2])}, start_dim=0),
        "fc": nir.Affine(weight=rng.normal(size=(5, 12)), bias=rng.normal(size=5)),
        "output": nir.Output(output_type={"output": np.array([5])})},
        edges=[("input", "conv"), ("conv", "lif"), ("lif", "pool"), ("pool", "flat"),
               ("flat", "fc"), ("fc", "output")])
    p1, p2 = tmp_path / "a.nir", tmp_path / "b.nir"
    nir.write(str(p1), g)
    first = load(p1, 1e-3, (P, H, W))
    layers = Network.plan((H, W, P), True, list(first.ops), 5, first.readout_bias).layers
    n = first.neuron
    nrn = NeuronParams(**n, detach=True, sg_kind=0, alpha=4.0)
    nir.write(str(p2), to_graph(layers, first.weights, first.biases, nrn, 1e-3, (P, H, W)))
    second = load(p2, 1e-3, (P, H, W))
    assert second.ops == first.ops and second.neuron == first.neuron
    assert second.readout_bias == first.readout_bias
    for a, b in zip(first.weights + first.biases, second.weights + second.biases):
        assert a.tobytes() == b.tobytes()


def test_max_pooling_cannot_be_exported():
    net = Network.build((6, 6, 2), True, [dict(kind="conv", channels=2, kernel=3),
                                          dict(kind="maxpool", size=2)], 3, True,
                        np.random.default_rng(0))
    nrn = NeuronParams(0.5, 1.0, 1.0, True, True, True, 0, 4.0)
    with pytest.raises(NirProblem) as e:
        to_graph(net.layers, net.weights, net.biases, nrn, 1e-3, (2, 6, 6))
    assert e.value.node == "readout" and "NIR has no max pooling" in e.value.expected


def test_cubalif_round_trips_bit_for_bit(tmp_path):
    """A CubaLIF layer read, written by chipsim (CubaLIF with w_in = tau_syn / dt and its exact
    decays in the metadata), read again: the same neurons bit for bit."""
    rng = np.random.default_rng(13)
    n = 6
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([4])}),
        "fc": nir.Linear(weight=rng.normal(size=(n, 4))),
        "cuba": nir.CubaLIF(tau_syn=rng.uniform(2e-3, 5e-3, n), tau_mem=rng.uniform(2e-3, 9e-3, n),
                            r=rng.uniform(0.5, 2, n), v_leak=np.zeros(n),
                            v_threshold=rng.uniform(0.5, 1.5, n), v_reset=rng.uniform(-0.2, 0, n),
                            w_in=rng.uniform(0.5, 3, n)),
        "head": nir.Affine(weight=rng.normal(size=(2, n)), bias=rng.normal(size=2)),
        "output": nir.Output(output_type={"output": np.array([2])})},
        edges=[("input", "fc"), ("fc", "cuba"), ("cuba", "head"), ("head", "output")])
    p1, p2 = tmp_path / "a.nir", tmp_path / "b.nir"
    nir.write(str(p1), g)
    first = load(p1, 1e-3)
    layers = Network.plan((1, 1, 4), False, list(first.ops), 2, first.readout_bias).layers
    ln = [LayerNeuron(m["lam"], m["theta"], m["cin"], m["vr"], m["soft"], m["h0"], m["syn"])
          for m in first.neurons]
    nrn = NeuronParams(0.5, 1.0, 1.0, False, True, False, 0, 4.0)
    g2 = to_graph(layers, first.weights, first.biases, nrn, 1e-3, (4, 1, 1), neurons=ln)
    assert type(g2.nodes["dense1_lif"]).__name__ == "CubaLIF"
    nir.write(str(p2), g2)
    second = load(p2, 1e-3)
    for a, b in zip(first.neurons, second.neurons):
        for k in ("lam", "theta", "cin", "vr", "syn"):
            assert a[k].tobytes() == b[k].tobytes(), k
