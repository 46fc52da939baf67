"""Network shapes and weights: convolution and dense LIF layers, pooling, dropout, a readout.

A network is a list of weight layers (:class:`LayerShape`). Each reads one *population* (0 =
the network input, p = the output of LIF layer p-1) through that population's dropout mask and
its own pooling, and writes a map of (H, W, C) neurons. Activations are channel-last: position
(y, x, c) is flat index ``(y*W + x)*C + c``; a dense layer sees its input map flattened that
way (so ``flatten`` is a no-op). Weights have one row per (kernel offset, input channel):
``row = (ky*k + kx)*Cin + ci``, shape ``(k*k*Cin, Cout)``; a dense layer is the 1x1 case
``(n_in, n_out)``.

Temporally-truncated local BPTT adds auxiliary classifiers (global average pool, then a linear
layer) after every block of LIF layers but the last; the first layer of the next block does not
pass its error back (``detach``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

@dataclass(frozen=True)
class LayerShape:
    name: str
    kind: str                  # 'dense' or 'conv' (LIF), 'readout', 'aux' (non-spiking),
                               #   'recurrent' (a recurrent layer's W_rec, reading its own spikes)
    src: int                   # population read: 0 input, p = output of LIF layer p-1
    pre: tuple                 # (H, W, C) of that population
    pool: str                  # 'none' | 'avg' | 'max' applied to the population first
    pool_k: int
    pooled: tuple              # (H, W, C) after pooling
    out: tuple                 # (H, W, C) of this layer's neurons (dense: (1, 1, units))
    k: int                     # square kernel (dense: 1)
    stride: int
    pad: int
    bias: bool
    binary_input: bool         # input is spikes (work counted as ACs) or graded values (MACs)
    detach: bool = False       # no error flows back into the source population

    @property
    def spiking(self) -> bool:
        return self.kind in ("dense", "conv")

    @property
    def n_in(self) -> int:
        return int(np.prod(self.pooled))

    @property
    def n_out(self) -> int:
        return int(np.prod(self.out))

    @property
    def weight_shape(self) -> tuple:
        cin = self.pooled[2] if self.kind == "conv" else self.n_in
        return (self.k * self.k * cin, self.out[2])

    @property
    def synapses(self) -> int:
        """Distinct weights (a convolution shares its kernel over positions)."""
        r, c = self.weight_shape
        return r * c

    @property
    def fan_in(self) -> int:
        return self.weight_shape[0]

    def dense_ops(self) -> int:
        """NeuroBench dense ops per step: every input (padding excluded) x every weight it meets."""
        if self.kind != "conv":
            return self.n_in * self.n_out
        H, W, C = self.pooled
        Ho, Wo, Co = self.out
        ys = np.arange(Ho)[:, None] * self.stride - self.pad + np.arange(self.k)[None, :]
        xs = np.arange(Wo)[:, None] * self.stride - self.pad + np.arange(self.k)[None, :]
        taps = ((ys >= 0) & (ys < H)).sum(1)[:, None] * ((xs >= 0) & (xs < W)).sum(1)[None, :]
        return int(taps.sum()) * C * Co


def _arena(arrays: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """One flat array holding copies of ``arrays`` one after another, and views of it shaped
    as the arrays."""
    dtype = arrays[0].dtype if arrays else np.float64
    arena = np.empty(sum(a.size for a in arrays), dtype=dtype)
    views, o = [], 0
    for a in arrays:
        v = arena[o:o + a.size].reshape(a.shape)
        v[...] = a
        views.append(v)
        o += a.size
    return arena, views


def _empty_arena(shapes: list[tuple], dtype) -> tuple[np.ndarray, list[np.ndarray]]:
    """One flat uninitialised array for arrays of ``shapes``, and views of it shaped as them."""
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    arena = np.empty(sum(sizes), dtype=np.dtype(dtype))
    views, o = [], 0
    for shape, n in zip(shapes, sizes):
        views.append(arena[o:o + n].reshape(shape))
        o += n
    return arena, views


class _Shape:
    """What a network's layers say, weights or not (``layers``, ``dropout``)."""

    layers: list
    dropout: list

    @property
    def n_classes(self) -> int:
        return next(ls for ls in reversed(self.layers) if ls.kind != "recurrent").out[2]

    @property
    def lif_layers(self) -> list[LayerShape]:
        return [ls for ls in self.layers if ls.spiking]

    @property
    def all_dense(self) -> bool:
        return all(ls.kind != "conv" and ls.pool == "none" for ls in self.layers)

    def parameter_count(self) -> int:
        """Values in the weight and bias arenas (every layer's weights and its bias row)."""
        return sum(ls.synapses + ls.out[2] for ls in self.layers)


@dataclass(frozen=True)
class Topology(_Shape):
    """The layers and dropout rates of a network, without its weights: what
    :meth:`Network.plan` gives, so the memory a network and its trainer need can be computed
    before anything is allocated (chipsim/needs.py)."""

    layers: tuple
    dropout: tuple
    #: what sizes the trainer's buffers beyond the layers (plan_network fills them): the LIF
    #: layers' own neurons (a current-based layer keeps a synaptic current) and an LI
    #: readout's (lam, cin)
    neurons: tuple | None = None
    readout_li: tuple | None = None


class Network(_Shape):
    """Weights and biases (zeros where a layer has no bias), plus the population dropout rates.

    All layers' weights live in one flat array ``w_arena`` and all biases in ``b_arena`` (the
    kernels take the arenas; chipsim/kernels/records.py says why); ``weights[l]`` (rows, cout)
    and ``biases[l]`` (cout,) are views into them, so changing a view in place changes what
    the kernels see. The arrays given are copied in.
    """

    #: per LIF layer, its neurons (chipsim.model.neuron.LayerNeuron), or None: the run's one
    #: neuron (NeuronParams) for every neuron
    neurons: list | None = None
    #: a leaky-integrator readout's (lam, cin) per output, o = lam o + cin (W s + b); None:
    #: the linear readout
    readout_li: tuple | None = None
    #: what the network outputs: 'readout' (the last layer, non-spiking), or the last LIF
    #: layer's spikes, 'spike_count' (summed over time) or 'first_spike' (the first to fire)
    output: str = "readout"

    def __init__(self, layers: list[LayerShape], weights: list[np.ndarray], biases: list[np.ndarray],
                 dropout: list[float] | None = None, neurons: list | None = None):
        self.layers = list(layers)
        self.w_arena, self.weights = _arena(weights)
        self.b_arena, self.biases = _arena(biases)
        n_pop = 1 + sum(ls.spiking for ls in self.layers)
        self.dropout = list(dropout) if dropout is not None else [0.0] * n_pop
        self.neurons = list(neurons) if neurons is not None else None

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, input_shape: tuple, binary_input: bool, ops: list, n_classes: int,
              readout_bias: bool, rng: np.random.Generator, gain: float = 1.0, dtype=np.float64,
              block: int | None = None, output: str = "readout") -> "Network":
        """Layers from a list of ops: the layer kinds of chipsim.model.layers (dicts are read
        as those, so their defaults and bounds apply): conv (channels, kernel, stride, padding,
        bias), dense (units, bias), avgpool/maxpool (size), dropout (p), flatten. The readout
        is appended. ``block``: LIF layers per block of temporally-truncated local BPTT (None:
        one block, no auxiliary classifiers). The layers are :meth:`plan`'s.

        Initialisation as torch ``nn.Conv2d``/``nn.Linear``: W, b ~ U(-k, k),
        k = gain / sqrt(fan_in), drawn layer by layer (weights, then bias) straight into the
        arenas (one layer's float64 draw at a time besides them).
        """
        topo = cls.plan(input_shape, binary_input, ops, n_classes, readout_bias, block, output)
        net = cls.__new__(cls)
        net.output = output
        net.layers = list(topo.layers)
        net.dropout = list(topo.dropout)
        net.w_arena, net.weights = _empty_arena([ls.weight_shape for ls in net.layers], dtype)
        net.b_arena, net.biases = _empty_arena([(ls.out[2],) for ls in net.layers], dtype)
        for ls, W, b in zip(net.layers, net.weights, net.biases):
            kk = gain / np.sqrt(ls.fan_in)
            W[...] = rng.uniform(-kk, kk, size=ls.weight_shape)
            b[...] = rng.uniform(-kk, kk, size=ls.out[2]) if ls.bias else 0.0
        return net

    @staticmethod
    def plan(input_shape: tuple, binary_input: bool, ops: list, n_classes: int,
             readout_bias: bool, block: int | None = None, output: str = "readout") -> Topology:
        """The layers :meth:`build` makes (same arguments, no weights): raises ValueError for
        layers that do not fit. ``output`` other than 'readout': no readout is appended; the
        last layer, a dense LIF layer of ``n_classes`` neurons, is the output."""
        from chipsim.model.layers import LAYER_KINDS
        ops = [LAYER_KINDS[op["kind"]].model_validate(op) if isinstance(op, dict) else op
               for op in ops]

        shape = tuple(int(v) for v in input_shape)      # (H, W, C)
        pop, binary = 0, bool(binary_input)
        pool, pool_k = "none", 1
        layers: list[LayerShape] = []
        dropout = [0.0]
        n_conv = n_dense = n_rec = 0
        recurrent = []                  # (LIF layer index, its LayerShape) of recurrent layers

        def pooled_of(s):
            if pool == "none":
                return s
            if s[0] < pool_k or s[1] < pool_k:
                after = layers[-1].name if layers else "the input"
                raise ValueError(f"{pool}pool {pool_k} does not fit the {s[0]}x{s[1]} map of {after}")
            return (s[0] // pool_k, s[1] // pool_k, s[2])

        for op in ops:
            kind = op.kind
            if kind in ("avgpool", "maxpool"):
                if pool != "none":
                    raise ValueError("two pooling layers in a row")
                pool, pool_k = kind[:3], op.size
                continue
            if kind == "flatten":
                continue
            if kind == "dropout":
                if pop == 0 or dropout[pop] != 0.0:
                    raise ValueError("dropout must follow a conv or dense layer")
                dropout[pop] = float(op.p)
                continue
            pooled = pooled_of(shape)
            if kind == "conv":
                n_conv += 1
                k, s, p = op.kernel, op.stride, op.padding
                Ho = (pooled[0] + 2 * p - k) // s + 1
                Wo = (pooled[1] + 2 * p - k) // s + 1
                if Ho < 1 or Wo < 1:
                    raise ValueError(f"conv{n_conv}: kernel {k} does not fit a {pooled[0]}x{pooled[1]} map")
                out = (Ho, Wo, op.channels)
                name = f"conv{n_conv}"
            elif kind == "dense":
                n_dense += 1
                k, s, p = 1, 1, 0
                out = (1, 1, op.units)
                name = f"dense{n_dense}"
            elif kind == "recurrent":
                n_rec += 1
                k, s, p = 1, 1, 0
                out = (1, 1, op.units)
                name = f"rec{n_rec}"
                kind = "dense"          # the LIF layer itself; W_rec is appended below
                recurrent.append(len(layers))
            else:
                raise ValueError(f"unknown layer kind {kind!r}")
            layers.append(LayerShape(name, kind, pop, shape, pool, pool_k, pooled, out, k, s, p,
                                     op.bias, binary))
            pop += 1
            dropout.append(0.0)
            shape, binary, pool, pool_k = out, True, "none", 1
        if not layers:
            raise ValueError("the network needs at least one conv or dense layer")
        pooled = pooled_of(shape)
        if output != "readout":                      # the last LIF layer's spikes are the output
            last = layers[-1]
            if last.kind != "dense" or last.out[2] != n_classes or pool != "none":
                raise ValueError(f"a spiking output ({output}) needs the last layer to be a dense "
                                 f"layer of {n_classes} neurons (one per class); it is "
                                 f"{last.name} with {last.out[2]}")
            if block is not None:
                raise ValueError("tbptt_local's blocks need a readout (not a spiking output)")
            if recurrent:
                raise ValueError("a spiking output with a recurrent layer is not supported yet "
                                 "(use a readout)")
            return Topology(tuple(layers), tuple(dropout))
        layers.append(LayerShape("readout", "readout", pop, shape, pool, pool_k, pooled,
                                 (1, 1, n_classes), 1, 1, 0, bool(readout_bias), binary))
        n_lif = len(layers) - 1
        if block is not None and block < n_lif:
            starts = list(range(block, n_lif, block))       # first LIF layer of each later block
            for i, s0 in enumerate(starts):
                last = layers[s0 - 1]                       # the block's last LIF layer
                src = s0                                    # its output population
                H, W, C = last.out
                gp = "avg" if H * W > 1 else "none"
                if gp == "avg" and H != W:
                    raise ValueError(f"{last.name}: global pooling of a non-square map")
                layers.append(LayerShape(f"aux{i + 1}", "aux", src, last.out, gp, H if gp == "avg" else 1,
                                         (1, 1, C), (1, 1, n_classes), 1, 1, 0, True, True))
                layers[s0] = LayerShape(**{**layers[s0].__dict__, "detach": True})
        for i in recurrent:                 # W_rec: reads the layer's own spikes of step t-1
            ls = layers[i]
            if dropout[i + 1] != 0.0:
                raise ValueError(f"{ls.name}: dropout after a recurrent layer is not supported "
                                 "(its spikes feed itself back)")
            layers.append(LayerShape(f"{ls.name}_rec", "recurrent", i + 1, ls.out, "none", 1,
                                     ls.out, ls.out, 1, 1, 0, False, True))
        return Topology(tuple(layers), tuple(dropout))

    @classmethod
    def build_dense(cls, n_inputs: int, binary_input: bool, hidden: list[tuple[int, bool]],
                    n_classes: int, readout_bias: bool, rng: np.random.Generator,
                    gain: float = 1.0, dtype=np.float64) -> "Network":
        """Dense layers ``hidden = [(units, bias), ...]`` on a flat input, then the readout."""
        ops = [{"kind": "dense", "units": u, "bias": b} for u, b in hidden]
        return cls.build((1, 1, n_inputs), binary_input, ops, n_classes, readout_bias, rng,
                         gain=gain, dtype=dtype)

    # ------------------------------------------------------------------ queries
    def footprint_bytes(self, bits: dict | None = None) -> int:
        """NeuroBench footprint: bytes of parameters (weights, used biases) and neuron state, in
        the simulator's float type, or, with ``bits`` (the chip number format's
        ``weight_bits`` and ``state_bits``), in the chip's widths."""
        if bits:
            params = sum(w.size for w in self.weights)
            params += sum(b.size for b, ls in zip(self.biases, self.layers) if ls.bias)
            state = sum(ls.n_out for ls in self.layers if ls.spiking)
            return -(-(params * bits["weight_bits"] + state * bits["state_bits"]) // 8)
        params = sum(w.nbytes for w in self.weights)
        params += sum(b.nbytes for b, ls in zip(self.biases, self.layers) if ls.bias)
        state = sum(ls.n_out for ls in self.layers if ls.spiking) * self.weights[0].itemsize
        return int(params + state)

    def copy(self) -> "Network":
        out = Network(self.layers, [w.copy() for w in self.weights], [b.copy() for b in self.biases],
                      self.dropout, self.neurons)
        out.readout_li = self.readout_li
        out.output = self.output
        return out


# ------------------------------------------------------------------ from a workload

#: OTTT's fixed scale after every spiking layer (spiking_vgg.py:232, Scale(2.74); NF-ResNet)
WS_SCALE = 2.74

NORMALIZATION_NOTE = {
    "none": "none",
    "ws_folded": ("OTTT's scaled weight standardisation folded into the effective weights once at "
                  "initialisation: conv kernels standardised per output channel, "
                  "(W - mean) / sqrt(var * fan_in + 1e-4), and every layer reading a spiking layer "
                  f"scaled by {WS_SCALE}; learning then updates the effective weights directly (the "
                  "standardisation is not re-applied, as a chip holding effective weights would not)"),
    "bn_folded": ("SLTT's per-step batch normalisation is not simulated: folded into the weights at "
                  "initialisation, where it is the identity (gamma 1, beta 0); a chip cannot "
                  "compute batch statistics while it learns"),
}


def fold_weight_standardization(net: Network) -> None:
    """OTTT's ScaledWSConv2d (spiking_vgg.py:13-33) and Scale(2.74), folded into the weights."""
    for ls, W in zip(net.layers, net.weights):
        if ls.kind == "conv":
            mean = W.mean(axis=0, keepdims=True)
            var = W.var(axis=0, keepdims=True)
            W[:] = (W - mean) / np.sqrt(var * ls.fan_in + 1e-4)
        if ls.src > 0:
            W *= WS_SCALE


def nir_file(workload) -> str:
    """The workload's NIR graph file (``network.nir``), relative to the workload file."""
    import os
    p = os.path.expanduser(workload.network.nir)
    return p if os.path.isabs(p) else os.path.join(os.path.dirname(str(workload.path)), p)


def imported(workload, input_shape: tuple, n_classes: int):
    """The workload's NIR graph as chipsim runs it (chipsim.model.nir_graph.Imported), checked
    against the data: its input is the frames' (P, H, W) (or P*H*W features) and its readout
    has one output per class. ChipsimError names the file and what was expected."""
    from chipsim.errors import ChipsimError
    from chipsim.model.nir_graph import load
    path = nir_file(workload)
    imp = load(path, workload.network.dt, tuple(int(v) for v in input_shape))
    P, H, W = (int(v) for v in input_shape)
    if imp.input_shape not in ((P, H, W), (P * H * W,)):
        raise ChipsimError(f"the graph's Input is {list(imp.input_shape)}, the data set's frames "
                           f"are {P}x{H}x{W}", file=path, field="network.nir", expected=(
                               f"an Input of [{P}, {H}, {W}] or [{P * H * W}] (or dataset "
                               "settings that frame the data as the graph expects)"))
    if imp.n_outputs != n_classes:
        raise ChipsimError(f"the graph's readout has {imp.n_outputs} outputs, the data set "
                           f"{n_classes} classes", file=path, field="network.nir",
                           expected=f"{n_classes} outputs")
    return imp


def neuron_params(workload, input_shape: tuple | None = None, n_classes: int | None = None):
    """The neuron the kernels run (NeuronParams): the workload's, or with ``network.nir`` the
    graph's dynamics and the workload's surrogate and detach_reset."""
    from chipsim.model.neuron import SURROGATES, NeuronParams
    spec = workload.neuron
    if workload.network.nir is None:
        return NeuronParams.from_spec(spec)
    imp = imported(workload, input_shape, n_classes)
    # one neuron for all: the graph's; neurons that differ: the first layer's first neuron
    # stands for the network where one value is asked (the network's per-layer neurons,
    # build_network, are what the kernels run)
    n = imp.neuron or {k: (float(v[0]) if k in ("lam", "theta", "cin") else v)
                       for k, v in imp.neurons[0].items() if k != "syn"}
    return NeuronParams(lam=n["lam"], theta=n["theta"], cin=n["cin"], soft=bool(n["soft"]),
                        detach=bool(spec.detach_reset), h0=bool(n["h0"]),
                        sg_kind=SURROGATES[spec.surrogate], alpha=float(spec.surrogate_alpha))


def _network_args(workload, input_shape: tuple, n_classes: int) -> tuple[tuple, dict]:
    """Network.plan's arguments for the workload on an input of ``input_shape`` (P, H, W)."""
    net = workload.network
    P, H, W = input_shape
    block = workload.rule.block if workload.rule.name == "tbptt_local" else None
    output = net.output
    if net.nir is not None:
        imp = imported(workload, input_shape, n_classes)
        ops, readout_bias = list(imp.ops), imp.readout_bias
        if imp.spiking_output and output == "readout":
            output = "spike_count"             # the graph's Output reads neurons: count them
        elif not imp.spiking_output and output != "readout":
            from chipsim.errors import ChipsimError
            raise ChipsimError(f"is {output}, but the graph ends in a readout (an Affine into "
                               "its Output)", file=workload.path, field="network.output",
                               expected="readout, or a graph whose Output reads neurons")
    else:
        ops, readout_bias = list(net.hidden), net.readout_bias
    return ((H, W, P), workload.dataset.framing == "binary", ops, n_classes,
            readout_bias), dict(block=block, output=output)


def _layers_error(workload, e: ValueError):
    from chipsim.errors import ChipsimError
    if workload.network.nir is not None:
        return ChipsimError(str(e), file=nir_file(workload), field="network.nir",
                            expected="layers that fit the input")
    return ChipsimError(str(e), file=workload.path, field="network.hidden",
                        expected="layers that fit the input")


def plan_network(workload, input_shape: tuple, n_classes: int) -> Topology:
    """The layers :func:`build_network` builds, without weights (nothing large is allocated)."""
    import dataclasses
    args, kw = _network_args(workload, input_shape, n_classes)
    try:
        topo = Network.plan(*args, **kw)
    except ValueError as e:
        raise _layers_error(workload, e) from None
    net = workload.network
    if net.nir is not None:
        from chipsim.model.neuron import LayerNeuron
        imp = imported(workload, input_shape, n_classes)
        neurons = tuple(LayerNeuron(n["lam"], n["theta"], n["cin"], n["vr"], n["soft"], n["h0"],
                                    n.get("syn")) for n in imp.neurons)
        return dataclasses.replace(topo, neurons=neurons, readout_li=imp.readout_li)
    own = [op.neuron for op in net.hidden if op.is_lif]
    neurons = tuple(layer_neurons(workload, topo, own)) if any(o is not None for o in own) else None
    li = None
    if net.readout_leak is not None:
        li = (np.full(n_classes, float(net.readout_leak)), np.ones(n_classes))
    return dataclasses.replace(topo, neurons=neurons, readout_li=li)


def build_network(workload, input_shape: tuple, n_classes: int, rng: np.random.Generator) -> Network:
    """The workload's layers on an input of ``input_shape`` (P, H, W), readout appended, with
    the auxiliary classifiers tbptt_local's blocks ask for and the workload's normalisation
    folded into the initial weights."""
    tr = workload.training
    args, kw = _network_args(workload, input_shape, n_classes)
    if workload.network.nir is not None:      # the graph's weights (chipsim's aux heads drawn)
        imp = imported(workload, input_shape, n_classes)
        try:
            drawn = Network.build(*args, rng, gain=tr.init_gain, dtype=np.dtype(tr.dtype), **kw)
        except ValueError as e:
            raise _layers_error(workload, e) from None
        for i, (W, b) in enumerate(zip(imp.weights, imp.biases)):
            drawn.weights[i][...] = W
            drawn.biases[i][...] = b
        if imp.readout_li is not None:        # an LI readout
            drawn.readout_li = imp.readout_li
        if imp.neuron is None:                # neurons that differ: each layer its own
            from chipsim.model.neuron import LayerNeuron
            drawn.neurons = [LayerNeuron(n["lam"], n["theta"], n["cin"], n["vr"], bool(n["soft"]),
                                         bool(n["h0"]), n.get("syn")) for n in imp.neurons]
        return drawn
    try:
        network = Network.build(*args, rng, gain=tr.init_gain, dtype=np.dtype(tr.dtype), **kw)
    except ValueError as e:
        raise _layers_error(workload, e) from None
    if workload.network.normalization == "ws_folded":
        fold_weight_standardization(network)
    if workload.network.readout_leak is not None:     # a leaky-integrator readout
        C = network.n_classes
        network.readout_li = (np.full(C, float(workload.network.readout_leak)), np.ones(C))
    own = [op.neuron for op in workload.network.hidden if op.is_lif]
    # (a layer's own neuron, e.g. a current-based one: network.hidden[i].neuron)
    if any(n is not None for n in own):        # layers with their own neuron
        network.neurons = layer_neurons(workload, network, own)
    return network


def layer_neurons(workload, network, own: list) -> list:
    """Each LIF layer's LayerNeuron: the workload's neuron with the layer's own fields
    (``network.hidden[i].neuron``) in place of its."""
    from chipsim.model.neuron import LayerNeuron, NeuronParams
    base = workload.neuron
    out = []
    for ls, o in zip(network.lif_layers, own):
        fields = {k: getattr(base, k) for k in ("leak", "threshold", "reset", "heaviside_at_zero",
                                                "decay_input", "detach_reset", "surrogate",
                                                "surrogate_alpha")}
        vr, syn = 0.0, None
        if o is not None:
            fields.update({k: v for k, v in o.model_dump().items()
                           if v is not None and k not in ("v_reset", "synaptic_decay")})
            vr, syn = float(o.v_reset), o.synaptic_decay
        from types import SimpleNamespace
        p = NeuronParams.from_spec(SimpleNamespace(**fields))
        ln = LayerNeuron.uniform(ls.n_out, p, vr)
        if syn is not None:
            ln = LayerNeuron(ln.lam, ln.theta, ln.cin, ln.vr, ln.soft, ln.h0,
                             np.full(ls.n_out, float(syn)))
        out.append(ln)
    return out
