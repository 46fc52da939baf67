"""Networks to and from NIR graphs (the Neuromorphic Intermediate Representation, Pedersen et
al., Nature Communications 15:8122, 2024; the ``nir`` package).

NIR describes neurons in continuous time; chipsim runs them in steps of ``dt``. A LIF node
``tau dv/dt = (v_leak - v) + r I``, spiking when ``v > v_threshold`` and then set to
``v_reset``, is discretised with the forward-Euler step the exporting frameworks use
(docs/nir.md gives each framework's convention)::

    v[t] = v[t-1] + dt/tau (v_leak - v[t-1] + r I[t])
         = lam v[t-1] + cin I[t] + (dt/tau) v_leak,      lam = 1 - dt/tau,  cin = r dt / tau

which is chipsim's neuron (chipsim/model/neuron.py) with a hard reset to v_reset, ``H(0) = 0``
(strict ``>``) and the constant drive ``(dt/tau) v_leak`` added to the layer's bias as
``v_leak / r`` (the bias is scaled by cin with the synaptic current). An IF node
(``dv/dt = r I``) is ``lam = 1``, ``cin = r dt``. snnTorch's export (``tau = dt / (1 - beta)``,
``r = tau / dt``) gives back ``lam = beta`` and ``cin = 1`` exactly as it intends.

What chipsim runs, it writes: Input, [AvgPool2d], Conv2d or (Flatten,) Affine/Linear, LIF, ...,
and the readout as Affine/Linear into Output. Each LIF node also carries chipsim's exact
discrete parameters in its metadata (``metadata["chipsim"]``: lam, cin, theta, reset, h0), which
other tools ignore and chipsim's import prefers, so that a network chipsim exports and reads back
runs bit for bit as before, soft reset included (NIR's LIF has only a reset to v_reset).

Layouts: NIR's tensors are channel-first (C, H, W) and its conv kernels (Cout, Cin, kh, kw);
chipsim's activations are channel-last (flat index (y W + x) C + c) and its kernels
(k k Cin, Cout) with row (ky k + kx) Cin + ci. A flat input or an Affine after a spatial map
reads the map flattened channel-first, as torch's flatten; the weight rows are permuted to
chipsim's order (a permutation: exact).

Every neuron keeps its own tau, r, threshold, v_reset and v_leak (per-neuron arrays; the layers'
neurons become chipsim.model.neuron.LayerNeuron). A CubaLIF node's synaptic current,
``tau_syn dI/dt = -I + w_in S``, is ``I[t] = (1 - dt/tau_syn) I[t-1] + (dt/tau_syn) w_in S[t]``
and charges the membrane in the same step (as snnTorch, Norse and Lava run it): chipsim's
``i = syn i + S`` with ``syn = 1 - dt/tau_syn`` and the factor ``w_in dt/tau_syn`` in cin. An
LI node between the last Affine/Linear and the Output is a leaky-integrator readout,
``o = (1 - dt/tau) o + (r dt/tau) (W s + b)``. Not yet supported, and refused with the node's
name and type: recurrent edges, Conv1d, Delay, Threshold, nested graphs, max pooling (NIR has
none), a CubaLIF's v_leak. An Output that reads the last (dense) neuron layer makes it the
network's spiking output (chipsim.model.network, ``output``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chipsim.model.layers import AvgPool, Conv, Dense

#: the node types this module reads
SUPPORTED = ("Input", "Output", "Affine", "Linear", "Conv2d", "LIF", "CubaLIF", "IF", "LI",
             "AvgPool2d", "SumPool2d", "Flatten", "Scale")
#: the metadata key under which chipsim writes its exact discrete neuron
META = "chipsim"


class NirProblem(ValueError):
    """A graph chipsim cannot run: ``node`` names the node (or '' for the graph)."""

    def __init__(self, node: str, detail: str, expected: str):
        super().__init__(f"node '{node}': {detail}" if node else detail)
        self.node, self.detail, self.expected = node, detail, expected


@dataclass(frozen=True)
class Imported:
    """A NIR graph as chipsim runs it: the layer ops (as a workload's ``network.hidden``), the
    weights and biases in chipsim's layout (LIF layers, then the readout), the neuron's
    discrete dynamics, and what each node became."""

    input_shape: tuple            # NIR Input shape: (C, H, W) or (N,)
    ops: tuple                    # chipsim.model.layers ops (Conv, Dense, AvgPool)
    weights: tuple                # per weight layer, chipsim layout (rows, cout), float64
    biases: tuple                 # per weight layer (cout,), float64
    readout_bias: bool
    n_outputs: int
    neurons: tuple                # per LIF layer: dict(lam, theta, cin, vr: float64 per neuron
                                  #   in chipsim's order; soft, h0)
    readout_li: tuple | None = None   # an LI readout's (lam, cin) per output, or None
    spiking_output: bool = False      # the Output reads the last neuron layer (no readout)
    nodes: tuple = field(default=())   # (name, NIR type, what chipsim made of it)
    notes: tuple = field(default=())

    @property
    def neuron(self) -> dict:
        """The network's one neuron (lam, theta, cin, soft, h0) when every neuron of every
        layer is the same and resets to 0, else None."""
        first = self.neurons[0]
        one = {k: float(first[k][0]) for k in ("lam", "theta", "cin")}
        for ln in self.neurons:
            if ln["soft"] != first["soft"] or ln["h0"] != first["h0"] or np.any(ln["vr"] != 0.0):
                return None
            if ln.get("syn") is not None:
                return None
            if any(np.any(ln[k] != one[k]) for k in one):
                return None
        return dict(one, soft=first["soft"], h0=first["h0"])


def _type(node) -> str:
    return type(node).__name__


def _arr(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _shape_of(node, key: str) -> tuple:
    t = getattr(node, key, None) or {}
    v = next(iter(t.values()), None) if isinstance(t, dict) else None
    return tuple(int(x) for x in np.asarray(v).ravel()) if v is not None else ()


def _pair(name: str, what: str, v) -> int:
    a = np.atleast_1d(np.asarray(v)).ravel()
    if a.size not in (1, 2) or a.size == 2 and a[0] != a[1]:
        raise NirProblem(name, f"{what} {a.tolist()}", f"a square {what} (one value, or two equal)")
    return int(a[0])


def chain(graph) -> list[str]:
    """The node names from Input to Output, or NirProblem if the graph is not one chain."""
    nodes = graph.nodes
    for name, node in nodes.items():
        t = _type(node)
        if t == "NIRGraph":
            raise NirProblem(name, "a nested graph (NIRGraph)", "a flat graph: nested graphs "
                             "(e.g. recurrent subgraphs) are not supported yet")
        if t not in SUPPORTED:
            raise NirProblem(name, f"type {t} is not supported", "one of " + ", ".join(SUPPORTED))
    succ: dict[str, list] = {n: [] for n in nodes}
    pred: dict[str, list] = {n: [] for n in nodes}
    for a, b in graph.edges:
        for end in (a, b):
            if end not in nodes:
                raise NirProblem(end, f"edge ({a} -> {b}) names a node the graph does not have",
                                 "edges between the graph's nodes")
        succ[a].append(b)
        pred[b].append(a)
    inputs = [n for n, node in nodes.items() if _type(node) == "Input"]
    outputs = [n for n, node in nodes.items() if _type(node) == "Output"]
    if len(inputs) != 1 or len(outputs) != 1:
        raise NirProblem("", f"{len(inputs)} Input and {len(outputs)} Output nodes",
                         "one Input and one Output node")
    for n in nodes:
        if len(succ[n]) > 1 or len(pred[n]) > 1:
            k = "outputs" if len(succ[n]) > 1 else "inputs"
            raise NirProblem(n, f"{len(succ[n]) if k == 'outputs' else len(pred[n])} {k} "
                             f"({', '.join(succ[n] if k == 'outputs' else pred[n])})",
                             "a chain of nodes (branches and recurrent edges are not supported yet)")
    order, seen, n = [], set(), inputs[0]
    while True:
        if n in seen:
            raise NirProblem(n, "is on a cycle", "a chain from Input to Output (recurrent "
                             "edges are not supported yet)")
        seen.add(n)
        order.append(n)
        if not succ[n]:
            break
        n = succ[n][0]
    if order[-1] != outputs[0]:
        raise NirProblem(order[-1], "ends the chain from the Input but is not the Output",
                         "a chain from Input to Output")
    left = [m for m in nodes if m not in seen]
    if left:
        raise NirProblem(left[0], "is not on the chain from Input to Output",
                         "every node on one chain from Input to Output")
    return order


def _perm_chw(C: int, H: int, W: int) -> np.ndarray:
    """perm[r] = the channel-first flat index of chipsim's channel-last index r."""
    c, y, x = np.meshgrid(np.arange(C), np.arange(H), np.arange(W), indexing="ij")
    chw = (c * H + y) * W + x                       # value at (c, y, x): channel-first index
    return np.ascontiguousarray(np.moveaxis(chw, 0, -1)).ravel()   # in (y, x, c) order


def _per_neuron(name: str, what: str, a, shape: tuple) -> np.ndarray:
    """A node parameter as one float64 per neuron in chipsim's order (channel-last for a map
    (C, H, W)): a scalar is broadcast, an array must hold one value per neuron."""
    a = np.asarray(a, dtype=np.float64)
    n = int(np.prod(shape))
    if a.size == 1:
        return np.full(n, float(a.ravel()[0]))
    if a.size != n:
        raise NirProblem(name, f"{what} has {a.size} values for {n} neurons {list(shape)}",
                         f"one value, or one per neuron {list(shape)}")
    if len(shape) == 3:
        return np.ascontiguousarray(np.moveaxis(a.reshape(shape), 0, -1)).ravel()
    return a.ravel().copy()


def _neuron(name: str, node, dt: float, shape: tuple) -> dict:
    """chipsim's discrete neurons of a LIF or IF node whose neurons have ``shape`` (C, H, W) or
    (n,): per-neuron lam, theta, cin, vr (chipsim's order), the reset kind and H(0), and the
    constant drive v_leak / r per neuron (added to the synaptic current)."""
    t = _type(node)
    meta = (getattr(node, "metadata", None) or {}).get(META)
    pn = lambda what, a: _per_neuron(name, what, a, shape)  # noqa: E731
    theta = pn("v_threshold", node.v_threshold)
    vr = pn("v_reset", node.v_reset if node.v_reset is not None else 0.0)
    r = pn("r", node.r)
    if np.any(r == 0.0):
        raise NirProblem(name, "r is 0 for some neurons", "a non-zero r (the input's resistance)")
    syn = None
    if t == "IF":
        lam, cin, drive = np.ones_like(r), r * dt, np.zeros_like(r)
    elif t == "CubaLIF":
        # tau_syn dI/dt = -I + w_in S: I[t] = (1 - dt/tau_syn) I[t-1] + (dt/tau_syn) w_in S[t];
        # the membrane charges with the current step's I (snnTorch, Norse, Lava): chipsim's
        # i = syn i + S, I = (w_in dt/tau_syn) i, and cin takes that factor
        tau_syn, tau = pn("tau_syn", node.tau_syn), pn("tau_mem", node.tau_mem)
        if not (np.all(tau >= dt) and np.all(tau_syn >= dt)):
            raise NirProblem(name, f"tau_mem {tau.min():g} s or tau_syn {tau_syn.min():g} s is "
                             f"shorter than dt {dt:g} s", "taus >= dt (forward Euler; lower "
                             "network.dt)")
        if np.any(pn("v_leak", node.v_leak) != 0.0):
            raise NirProblem(name, "v_leak is not 0", "v_leak 0 for a CubaLIF node (a constant "
                             "drive of a current-based neuron is not supported yet)")
        syn = 1.0 - dt / tau_syn
        lam, cin = 1.0 - dt / tau, (r * dt / tau) * (pn("w_in", node.w_in) * dt / tau_syn)
        drive = np.zeros_like(r)
    else:
        tau = pn("tau", node.tau)
        if not np.all(tau >= dt):
            raise NirProblem(name, f"tau {tau.min():g} s is shorter than dt {dt:g} s",
                             "tau >= dt (forward Euler; lower network.dt)")
        lam, cin = 1.0 - dt / tau, r * dt / tau
        drive = pn("v_leak", node.v_leak) / r
    out = dict(lam=lam, theta=theta, cin=cin, vr=vr, soft=False, h0=False, syn=syn)
    if isinstance(meta, dict):                 # chipsim's own export: its exact values
        try:
            out.update(lam=pn("metadata lam", meta["lam"]), cin=pn("metadata cin", meta["cin"]),
                       soft=str(meta["reset"]) == "soft", h0=float(meta["h0"]) == 1.0)
            if syn is not None:
                out.update(syn=pn("metadata syn", meta["syn"]))
        except (KeyError, TypeError, ValueError) as e:
            raise NirProblem(name, f"metadata['{META}'] is malformed ({e})",
                             "lam, cin, reset and h0 as chipsim writes them") from None
    return dict(out, drive=drive)


def from_graph(graph, dt: float, data_shape: tuple | None = None) -> Imported:
    """The chipsim network of a NIR graph at time step ``dt`` (seconds); NirProblem names the
    first node chipsim cannot run. ``data_shape``: the (C, H, W) of the frames the network will
    read; a flat Input of C*H*W features then reads them flattened channel-first, as
    ``torch.flatten`` does (without it, in chipsim's channel-last order)."""
    dt = float(dt)
    order = chain(graph)
    nodes = graph.nodes
    in_shape = _shape_of(nodes[order[0]], "input_type")
    if len(in_shape) in (2, 4) and in_shape[0] == 1:    # snnTorch without ignore_dims: batch 1
        in_shape = in_shape[1:]
    if len(in_shape) not in (1, 3):
        raise NirProblem(order[0], f"input shape {list(in_shape)}",
                         "(channels, height, width) or (features,)")
    # the map the next node reads: ('map', C, H, W) or ('flat', n, chw) where chw is the
    # (C, H, W) the flat vector came from (its flatten order is channel-first) or None
    if len(in_shape) == 3:
        cur = ("map",) + in_shape
    else:
        chw = tuple(data_shape) if data_shape and int(np.prod(data_shape)) == in_shape[0] else None
        cur = ("flat", in_shape[0], chw)
    ops, weights, biases, notes = [], [], [], []
    made = [(order[0], "Input", f"input {list(in_shape)}")]
    pending = None         # the synapse waiting for its neuron: dict(name, kind, W, b, bias, op)
    in_scale = None        # a Scale on the input of the next synapse (per chipsim input row)
    pool_sum = 1.0         # SumPool2d's factor, folded into the next synapse
    neurons = []           # per LIF layer: lam, theta, cin, vr (per neuron), soft, h0, syn
    n_lif = 0

    def flat_perm():
        """perm (chipsim's row -> the flat NIR index) of what the next synapse reads, and its
        size."""
        kind, *rest = cur
        if kind == "map":
            C, H, W = rest
            return _perm_chw(C, H, W), C * H * W
        n, chw = rest
        return (_perm_chw(*chw) if chw else np.arange(n)), n

    for name in order[1:]:
        node = nodes[name]
        t = _type(node)
        if t in ("Affine", "Linear", "Conv2d"):
            if pending is not None:
                raise NirProblem(name, f"follows the synapse '{pending['name']}' with no neuron "
                                 "between them", "a LIF or IF node after every Conv2d/Affine but "
                                 "the last (the readout)")
            w = _arr(node.weight)
            if t == "Conv2d":
                if cur[0] != "map":
                    raise NirProblem(name, "a Conv2d after a Flatten or Affine", "Conv2d layers "
                                     "before any Flatten or Affine")
                if w.ndim != 4 or w.shape[2] != w.shape[3]:
                    raise NirProblem(name, f"weight {list(w.shape)}", "(Cout, Cin, k, k)")
                if int(np.asarray(node.groups)) != 1 or _pair(name, "dilation", node.dilation) != 1:
                    raise NirProblem(name, "groups or dilation other than 1",
                                     "groups 1 and dilation 1")
                _, C, H, W_ = cur
                if w.shape[1] != C:
                    raise NirProblem(name, f"{w.shape[1]} input channels, its input has {C}",
                                     f"weight[:, {C}, :, :]")
                k = int(w.shape[2])
                s = _pair(name, "stride", node.stride)
                if isinstance(node.padding, str):
                    if node.padding == "valid":
                        p = 0
                    elif node.padding == "same" and s == 1 and k % 2 == 1:
                        p = k // 2
                    else:
                        raise NirProblem(name, f"padding '{node.padding}'",
                                         "an integer padding, 'valid', or 'same' at stride 1 with an odd kernel")
                else:
                    p = _pair(name, "padding", node.padding)
                Ho, Wo = (H + 2 * p - k) // s + 1, (W_ + 2 * p - k) // s + 1
                if Ho < 1 or Wo < 1:
                    raise NirProblem(name, f"a {k}x{k} kernel on a {H}x{W_} map", "a kernel that fits")
                Wc = np.ascontiguousarray(w.transpose(2, 3, 1, 0).reshape(k * k * C, w.shape[0]))
                if in_scale is not None:       # per channel (checked when read)
                    Wc *= np.tile(in_scale[1], k * k)[:, None]
                b = _arr(node.bias) if t == "Conv2d" and node.bias is not None else np.zeros(w.shape[0])
                op = dict(kind="conv", channels=int(w.shape[0]), kernel=k, stride=s, padding=p)
                nxt = ("map", int(w.shape[0]), Ho, Wo)
            else:
                if w.ndim != 2:
                    raise NirProblem(name, f"weight {list(w.shape)}", "(out, in)")
                perm, n_in = flat_perm()
                if w.shape[1] != n_in:
                    raise NirProblem(name, f"{w.shape[1]} inputs, its input has {n_in}",
                                     f"weight of shape (out, {n_in})")
                Wc = np.ascontiguousarray(w.T[perm])
                if in_scale is not None:
                    kind_, sc = in_scale
                    Wc *= (np.tile(sc, n_in // sc.size) if kind_ == "chan" else sc)[:, None]
                b = _arr(node.bias) if t == "Affine" else np.zeros(w.shape[0])
                op = dict(kind="dense", units=int(w.shape[0]))
                nxt = ("flat", int(w.shape[0]), None)
            if pool_sum != 1.0:
                Wc *= pool_sum
            # a bias when it is not all zeros (snnTorch and Sinabs write zeros for none), or as
            # chipsim's own export says
            meta = (getattr(node, "metadata", None) or {}).get(META)
            has_b = bool(meta["bias"]) if isinstance(meta, dict) and "bias" in meta \
                else bool(np.any(b != 0.0))
            pending = dict(name=name, W=Wc, b=b.copy(), bias=has_b, op=op, t=t)
            in_scale, pool_sum, cur = None, 1.0, nxt
            made.append((name, t, "synapses"))
        elif t in ("LIF", "IF", "CubaLIF"):
            if pending is None:
                raise NirProblem(name, f"a {t} with no Conv2d/Affine/Linear before it",
                                 "a synapse node before every neuron node")
            shape = cur[1:] if cur[0] == "map" else (cur[1],)
            nrn = _neuron(name, node, dt, shape)
            drive = nrn.pop("drive")
            if np.any(drive != 0.0):
                # v_leak: a constant drive per neuron, exact as the layer's bias when it is the
                # same for every neuron of a channel (a dense layer's neurons are its channels)
                C = shape[0]
                per_c = drive.reshape(-1, C) if len(shape) == 3 else drive.reshape(1, -1)
                if not np.allclose(per_c, per_c[:1], rtol=1e-12, atol=0.0):   # (c r) / r
                    raise NirProblem(name, "v_leak / r differs between the neurons of a channel",
                                     "one v_leak / r per channel (it is folded into the bias)")
                pending["b"] = pending["b"] + per_c[0]
                pending["bias"] = True
                notes.append(f"{name}: v_leak folded into the bias of '{pending['name']}' "
                             f"(+v_leak/r on the synaptic current)")
            neurons.append(nrn)
            n_lif += 1
            op = pending["op"]
            ops.append(Conv(**op, bias=pending["bias"]) if op["kind"] == "conv"
                       else Dense(**op, bias=pending["bias"]))
            weights.append(pending["W"])
            biases.append(pending["b"])
            kind = "conv" if op["kind"] == "conv" else "dense"
            i = [m[0] for m in made].index(pending["name"])
            made[i] = (pending["name"], pending["t"], f"{kind} layer {n_lif}: synapses")
            made.append((name, t, f"{kind} layer {n_lif}: {t} neurons"))
            pending = None
        elif t in ("AvgPool2d", "SumPool2d"):
            if cur[0] != "map" or pending is not None:
                raise NirProblem(name, f"a {t} that does not read a neuron layer's map",
                                 "pooling between a neuron layer (or the input) and a Conv2d/Affine")
            k = _pair(name, "kernel_size", node.kernel_size)
            s = _pair(name, "stride", node.stride)
            if s != k or _pair(name, "padding", node.padding) != 0:
                raise NirProblem(name, f"kernel {k}, stride {s}, padding "
                                 f"{np.asarray(node.padding).tolist()}", "stride = kernel, padding 0")
            _, C, H, W_ = cur
            if k > min(H, W_):
                raise NirProblem(name, f"kernel {k} on a {H}x{W_} map", "a kernel that fits")
            ops.append(AvgPool(size=k))
            if t == "SumPool2d":
                pool_sum *= float(k * k)
            cur = ("map", C, H // k, W_ // k)
            made.append((name, t, f"avgpool {k}" + (f" (x{k * k} in the next weights)"
                                                    if t == "SumPool2d" else "")))
        elif t == "Flatten":
            if cur[0] == "map":
                _, C, H, W_ = cur
                cur = ("flat", C * H * W_, (C, H, W_))
            made.append((name, t, "flatten (channel-first order)"))
        elif t == "Scale":
            s = _arr(node.scale).ravel()
            if pending is not None:          # scales the synaptic current: the columns and bias
                ncol = pending["W"].shape[1]
                if s.size == 1:
                    sc = np.full(ncol, s[0])
                elif pending["op"]["kind"] == "dense" and s.size == ncol:
                    sc = s
                elif pending["op"]["kind"] == "conv" and s.size % ncol == 0 and np.all(
                        s.reshape(ncol, -1) == s.reshape(ncol, -1)[:, :1]):
                    sc = s.reshape(ncol, -1)[:, 0]
                else:
                    raise NirProblem(name, f"{s.size} scales on {ncol} channels",
                                     "one scale, or one per output channel")
                pending["W"] = pending["W"] * sc[None, :]
                pending["b"] = pending["b"] * sc
                made.append((name, t, f"folded into '{pending['name']}'"))
            else:                            # scales what the next synapse reads
                if cur[0] == "map":
                    C = cur[1]
                    if s.size == 1:
                        sc = np.full(C, s[0])
                    elif s.size == C * cur[2] * cur[3] and np.all(
                            s.reshape(C, -1) == s.reshape(C, -1)[:, :1]):
                        sc = s.reshape(C, -1)[:, 0]
                    else:
                        raise NirProblem(name, f"{s.size} scales on a map of {C} channels",
                                         "one scale, or one per channel")
                    sc = ("chan", sc)
                else:
                    n = cur[1]
                    if s.size not in (1, n):
                        raise NirProblem(name, f"{s.size} scales on {n} inputs", f"1 or {n} scales")
                    sc = ("rows", np.full(n, s[0]) if s.size == 1 else s[flat_perm()[0]])
                if in_scale is not None:
                    raise NirProblem(name, "a second Scale before the same synapse",
                                     "one Scale node between a neuron layer and its next synapse")
                in_scale = sc
                made.append((name, t, "folded into the next synapse's weights"))
        elif t == "LI":
            nxt_node = order[order.index(name) + 1] if name != order[-1] else None
            if (pending is None or pending["op"]["kind"] != "dense" or "li" in pending
                    or nxt_node is None or _type(nodes[nxt_node]) != "Output"):
                raise NirProblem(name, "an LI node that is not the readout's",
                                 "LI only between the last Affine/Linear and the Output (an LI "
                                 "readout)")
            n_o = (pending["W"].shape[1],)
            tau, r = _per_neuron(name, "tau", node.tau, n_o), _per_neuron(name, "r", node.r, n_o)
            if not np.all(tau >= dt):
                raise NirProblem(name, f"tau {tau.min():g} s is shorter than dt {dt:g} s",
                                 "tau >= dt (forward Euler; lower network.dt)")
            if np.any(_per_neuron(name, "v_leak", node.v_leak, n_o) != 0.0):
                raise NirProblem(name, "v_leak is not 0", "v_leak 0 for an LI readout")
            lam, cin = 1.0 - dt / tau, r * dt / tau
            meta = (getattr(node, "metadata", None) or {}).get(META)
            if isinstance(meta, dict) and "lam" in meta and "cin" in meta:
                lam, cin = _per_neuron(name, "lam", meta["lam"], n_o), _per_neuron(name, "cin", meta["cin"], n_o)
            pending["li"] = (lam, cin)
            made.append((name, t, "the readout's leaky integration: o = lam o + cin (W s + b)"))
        elif t == "Output":
            if pending is None:              # the Output reads the last neuron layer: spikes
                if not neurons or ops[-1].kind != "dense":
                    raise NirProblem(name, "the Output reads a convolution's neurons",
                                     "a dense (Affine/Linear) neuron layer, one neuron per class, "
                                     "or a readout, into the Output")
                made.append((name, t, "output: the last layer's spikes (counted, or the first "
                             "to fire with network.output: first_spike)"))
                return Imported(input_shape=in_shape, ops=tuple(ops), weights=tuple(weights),
                                biases=tuple(biases), readout_bias=False,
                                n_outputs=int(weights[-1].shape[1]), neurons=tuple(neurons),
                                spiking_output=True, nodes=tuple(made), notes=tuple(notes))
            if pending["op"]["kind"] != "dense":
                raise NirProblem(pending["name"], "a Conv2d readout", "an Affine/Linear readout")
            weights.append(pending["W"])
            biases.append(pending["b"])
            made[[m[0] for m in made].index(pending["name"])] = (
                pending["name"], pending["t"], f"readout ({pending['W'].shape[1]} outputs)")
            made.append((name, t, "output: the readout summed over time, argmax"))
            if not neurons:
                raise NirProblem(name, "the graph has no LIF or IF node", "at least one neuron layer")
            return Imported(input_shape=in_shape, ops=tuple(ops), weights=tuple(weights),
                            biases=tuple(biases), readout_bias=bool(pending["bias"]),
                            n_outputs=int(pending["W"].shape[1]), neurons=tuple(neurons),
                            readout_li=pending.get("li"), nodes=tuple(made), notes=tuple(notes))
    raise NirProblem(order[-1], "the chain does not end in an Output", "an Output node")


# ------------------------------------------------------------------------------ export
def to_graph(layers, weights, biases, neuron, dt: float, input_shape: tuple, note: str = "",
             neurons=None, readout_li=None):
    """The NIR graph of a chipsim network: ``layers`` (LayerShape, as Network.layers),
    ``weights``/``biases`` in chipsim's layout, ``neuron`` (NeuronParams: every neuron, unless
    ``neurons`` gives a LIF layer its own LayerNeuron), ``input_shape`` (C, H, W) of the data.
    Auxiliary classifiers (tbptt_local) are training scaffolding and are left out. NirProblem
    for what NIR cannot hold (max pooling; a layer mixing leaky and non-leaky neurons)."""
    import nir

    from chipsim.model.neuron import LayerNeuron

    dt = float(dt)
    nodes = {"input": nir.Input(input_type={"input": np.array(input_shape, dtype=np.int64)})}
    edges = []
    prev = "input"

    def add(name, node):
        nonlocal prev
        nodes[name] = node
        edges.append((prev, name))
        prev = name

    flat = False
    rec = [ls for ls in layers if ls.kind == "recurrent"]
    if rec:
        raise NirProblem(rec[0].name, "a recurrent layer's weights: chipsim does not write "
                         "recurrent NIR graphs yet", "a feed-forward network")
    main = [ls for ls in layers if ls.kind != "aux"]
    for ls, W, b in zip(main, weights, biases):
        W, b = np.asarray(W, np.float64), np.asarray(b, np.float64)
        H, Wd, C = ls.pre
        if ls.pool == "max":
            raise NirProblem(ls.name, "max pooling before it", "average pooling (NIR has no max "
                             "pooling node)")
        if ls.pool == "avg":
            k = ls.pool_k
            add(f"{ls.name}_pool", nir.AvgPool2d(kernel_size=np.array([k, k]), stride=np.array([k, k]),
                                                  padding=np.array([0, 0])))
        Hp, Wp, Cp = ls.pooled
        if ls.kind == "conv":
            k = ls.k
            w = W.reshape(k, k, Cp, ls.out[2]).transpose(3, 2, 0, 1)
            add(ls.name, nir.Conv2d(input_shape=(Hp, Wp), weight=np.ascontiguousarray(w),
                                    stride=ls.stride, padding=ls.pad, dilation=1, groups=1,
                                    bias=b.copy(), metadata={META: {"bias": bool(ls.bias)}}))
        else:
            if not flat:
                add(f"{ls.name}_flatten", nir.Flatten(
                    input_type={"input": np.array([Cp, Hp, Wp], dtype=np.int64)}, start_dim=0))
                flat = True
            perm = _perm_chw(Cp, Hp, Wp)          # the identity after a dense layer
            w = np.empty((ls.out[2], ls.n_in))
            w[:, perm] = W.T
            add(ls.name, nir.Affine(weight=w, bias=b.copy(), metadata={META: {"bias": True}})
                if ls.bias else nir.Linear(weight=w))
        if ls.spiking:
            i = sum(1 for m in main[:main.index(ls)] if m.spiking)
            ln = neurons[i] if neurons is not None and neurons[i] is not None else \
                LayerNeuron.uniform(ls.n_out, neuron)
            Ho, Wo, Co = ls.out
            if ls.kind == "conv":      # chipsim's (H, W, C) order -> NIR's (C, H, W)
                arr = lambda a: np.ascontiguousarray(  # noqa: E731
                    np.moveaxis(np.asarray(a, np.float64).reshape(Ho, Wo, Co), -1, 0))
            else:
                arr = lambda a: np.asarray(a, np.float64).copy()  # noqa: E731
            lam, cin, theta, vr = arr(ln.lam), arr(ln.cin), arr(ln.theta), arr(ln.vr)
            if np.any((lam < 0.0) | (lam > 1.0)) or np.any(cin <= 0.0):
                raise NirProblem(ls.name, f"leak in [{lam.min():g}, {lam.max():g}], input scale "
                                 f"from {cin.min():g}", "0 <= leak <= 1 and input scale > 0")
            syn = None if ln.syn is None else arr(ln.syn)
            if syn is not None:
                if np.any(lam == 1.0) or np.any((syn < 0.0) | (syn >= 1.0)):
                    raise NirProblem(ls.name, "a current-based layer with a leak of 1 or a "
                                     "synaptic decay outside [0, 1)", "NIR's CubaLIF: leak < 1, "
                                     "0 <= synaptic decay < 1")
                tau, tau_syn = dt / (1.0 - lam), dt / (1.0 - syn)
                node = nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau, r=cin * tau / dt,
                                   v_leak=np.zeros_like(tau), v_threshold=theta, v_reset=vr,
                                   w_in=tau_syn / dt, metadata={})
            elif np.all(lam == 1.0):
                node = nir.IF(r=cin / dt, v_threshold=theta, v_reset=vr, metadata={})
            elif np.any(lam == 1.0):
                raise NirProblem(ls.name, "leaky and non-leaky neurons in one layer",
                                 "one kind per layer (NIR's LIF cannot hold a leak of 1)")
            else:
                tau = dt / (1.0 - lam)
                node = nir.LIF(tau=tau, r=cin * tau / dt, v_leak=np.zeros_like(tau),
                               v_threshold=theta, v_reset=vr, metadata={})
            node.metadata[META] = dict(lam=lam, cin=cin, reset="soft" if ln.soft else "hard",
                                       h0=1.0 if ln.h0 else 0.0)
            if syn is not None:
                node.metadata[META]["syn"] = syn
            add(f"{ls.name}_lif", node)
            flat = ls.kind != "conv"
    if readout_li is not None:              # an LI readout: its leak after the readout's Affine
        lam, cin = (np.asarray(a, np.float64) for a in readout_li)
        if np.any(lam >= 1.0) or np.any(lam < 0.0):
            raise NirProblem("readout", f"an LI readout with leak {lam.max():g}",
                             "0 <= leak < 1 (NIR's LI has a finite tau)")
        tau = dt / (1.0 - lam)
        add("readout_li", nir.LI(tau=tau, r=cin * tau / dt, v_leak=np.zeros_like(tau),
                                 metadata={META: dict(lam=lam, cin=cin)}))
    add("output", nir.Output(output_type={"output": np.array([main[-1].out[2]], dtype=np.int64)}))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"chipsim": {"dt": dt, "note": note}})


# ------------------------------------------------------------------------------ files
_CACHE: dict = {}


def read(path):
    """The NIR graph in ``path`` (nir.read), or ChipsimError naming the file."""
    from pathlib import Path

    from chipsim.errors import ChipsimError
    p = Path(path)
    if not p.is_file():
        raise ChipsimError("no such file", file=str(p), expected="a NIR graph file (.nir, HDF5)")
    try:
        import nir
        # no type check: snnTorch and Norse write 0-d neuron parameters, which nir's type
        # inference does not match with the layer's shape (chain() and from_graph check shapes)
        return nir.read(str(p), type_check=False)
    except Exception as e:        # nir raises KeyError, OSError, TypeError... on a bad file
        raise ChipsimError(f"cannot read it as a NIR graph ({type(e).__name__}: {e})",
                           file=str(p), expected="a NIR graph file written by nir.write") from None


def load(path, dt: float, data_shape: tuple | None = None) -> Imported:
    """The Imported network of the NIR file ``path`` at step ``dt``, read once per file
    version (path, size, modification time), dt and data shape (see :func:`from_graph`);
    ChipsimError names the file, the node and what was expected."""
    import os

    from chipsim.errors import ChipsimError
    p = os.path.abspath(path)
    try:
        st = os.stat(p)
        key = (p, st.st_size, st.st_mtime_ns, float(dt), data_shape)
    except OSError:
        key = None
    if key is not None and key in _CACHE:
        return _CACHE[key]
    graph = read(p)
    try:
        out = from_graph(graph, dt, data_shape)
    except NirProblem as e:
        raise ChipsimError(str(e), file=p, field=f"nodes.{e.node}" if e.node else None,
                           expected=e.expected) from None
    if key is not None:
        _CACHE.clear()
        _CACHE[key] = out
    return out
