"""Expected counts of a training step or of inference, worked out from the network's shapes and
the plain-numpy reference's records (tests/reference_conv.py), not from chipsim's kernels.

What the model states (chipsim/kernels/train.py's counting conventions, re-derived here):

- Input events of a weight layer at step t: the source population's non-zero activity times its
  dropout mask, then the layer's pooling. No pooling: one event per non-zero input; average
  pooling: one event per non-zero input inside the pooled (floor) area, at its pooled position;
  max pooling: one event per window whose (masked) maximum is non-zero.
- Forward, per step: one AC (binary input) or MAC and one weight read per (event, synapse it
  reaches); fan-out from the reference's explicit conv matrix (all-one kernel), so borders,
  stride and padding come from the output side. Neuron updates active where some event reaches
  the neuron, idle elsewhere; one state read and write per neuron; NeuroBench dense ops = every
  (pooled) input x every weight it meets, padding excluded.
- Backward, per backward step: the error of a pooled input is computed (error MACs = non-zero
  output gradients it connects to) when a source neuron it routes to has a non-zero surrogate
  and is not dropped (max pooling routes to the first maximal element of the window, scan order
  dy, dx, torch's rule); weight-gradient pairs = (events, or non-zero trace entries) x the
  non-zero output gradients they connect to; each pair one accumulator read and write, one per
  non-zero bias gradient; BPTT: one temporal MAC per LIF neuron per step but the window's first
  backward step, history written and read back (u and spikes of LIF layers, outputs of
  non-spiking layers, the transformed input events); dense layers' BPTT weight gradients counted
  at the window's last step.
- An update: a sweep over every parameter (accumulator read and cleared), a weight
  read-modify-write where the update is non-zero, counted at the step it happens, on the batch's
  last sample.

Arrays are (T, L, 2, N_ACTIONS) per sample, the layout of ``Trainer.last_step_counts[b]``.
"""

from __future__ import annotations

import numpy as np

from chipsim import counts as K
from tests import reference_conv as rc

INF, LRN = int(K.Phase.INFERENCE), int(K.Phase.LEARNING)
A = K.Action


# ----------------------------------------------------------------------------- structure

def conn(ls) -> np.ndarray:
    """0/1 connectivity (pooled input x output neuron) of a layer: a convolution's from the
    reference's explicit conv matrix with an all-one kernel, a dense layer's all ones."""
    if ls.kind == "conv":
        M, _ = rc.conv_matrix(np.ones(ls.weight_shape), ls.pooled, ls.k, ls.stride, ls.pad)
        return (M != 0).astype(np.int64)
    return np.ones((ls.n_in, ls.n_out), np.int64)


def nz_conn(ls, W) -> np.ndarray:
    """(pooled input x output) pairs joined by a non-zero weight."""
    if ls.kind == "conv":
        M, _ = rc.conv_matrix(W, ls.pooled, ls.k, ls.stride, ls.pad)
        return (M != 0).astype(np.int64)
    return (np.asarray(W) != 0).astype(np.int64)


def pooled_index(ls) -> np.ndarray:
    """For each neuron of the source population (pre-pooling map), its pooled input index, or
    -1 where the floor of the pooling drops it."""
    H, W, C = ls.pre
    Hp, Wp, _ = ls.pooled
    k = ls.pool_k if ls.pool != "none" else 1
    idx = np.full(H * W * C, -1, np.int64)
    for y in range(H):
        for x in range(W):
            py, px = y // k, x // k
            if py < Hp and px < Wp:
                for c in range(C):
                    idx[(y * W + x) * C + c] = (py * Wp + px) * C + c
    return idx


def _masked(a, mask):
    a = np.asarray(a, dtype=np.float64)
    return a if mask is None else a * np.asarray(mask, dtype=np.float64).reshape(1, -1)


def input_events(ls, a, mask=None) -> np.ndarray:
    """(T, n_in) number of input events per pooled position and step; ``a`` (T, n_pre) the
    source activity, ``mask`` (n_pre,) its dropout mask (None: no dropout)."""
    act = (_masked(a, mask) != 0).astype(np.int64)
    if ls.pool == "none":
        return act
    idx = pooled_index(ls)
    ev = np.zeros((act.shape[0], ls.n_in), np.int64)
    for j in np.nonzero(idx >= 0)[0]:
        ev[:, idx[j]] += act[:, j]
    if ls.pool == "max":
        ev = (ev > 0).astype(np.int64)
    return ev


def error_routes(ls, a, mask=None, rule="first") -> np.ndarray:
    """(T, n_pre): the pooled input whose error source neuron j takes at step t, or -1.
    No pooling / average pooling: its own pooled position. Max pooling: only the first maximal
    element of each window's masked activity (``rule='last'``: the last one; for tests that show
    the counts tell the two apart)."""
    T = a.shape[0]
    idx = pooled_index(ls)
    if ls.pool != "max":
        return np.broadcast_to(idx, (T, idx.shape[0])).copy()
    v = _masked(a, mask)
    H, W, C = ls.pre
    Hp, Wp, _ = ls.pooled
    k = ls.pool_k
    out = np.full((T, H * W * C), -1, np.int64)
    for t in range(T):
        for py in range(Hp):
            for px in range(Wp):
                for c in range(C):
                    best, bv = -1, None
                    for dy in range(k):
                        for dx in range(k):
                            j = ((py * k + dy) * W + px * k + dx) * C + c
                            if bv is None or v[t, j] > bv or (rule == "last" and v[t, j] == bv):
                                best, bv = j, v[t, j]
                    out[t, best] = (py * Wp + px) * C + c
    return out


def dense_ops(ls) -> int:
    """NeuroBench dense ops of one step: every (pooled) input x every weight it meets."""
    return int(conn(ls).sum())


# ----------------------------------------------------------------------------- records

class LayerRec:
    """What one weight layer saw in one sample: source activity ``a`` (T, n_pre), its dropout
    mask, the source's surrogates ``sg_src`` (T, n_pre) (None: the network input), the layer's
    output gradient ``g`` (T, n_out) (None: inference), its spikes ``s`` (LIF layers), and the
    presynaptic trace ``trace`` (T, n_in) when the rule uses one."""

    def __init__(self, a, mask=None, sg_src=None, g=None, s=None, trace=None):
        self.a, self.mask, self.sg_src, self.g, self.s, self.trace = a, mask, sg_src, g, s, trace


def layer_records(net, x, rec, masks=None, traces=None):
    """LayerRec of every layer of ``net`` (main layers, then auxiliary classifiers) from a
    reference record of one sample (rc.forward's dict, or the ``rec`` of a gradient function or
    of rc.tbptt_local). ``masks``: per population (index p), the sample's dropout mask or None."""
    T = x.shape[0]
    pops = [np.asarray(x, dtype=np.float64).reshape(T, -1)] + [s for s in rec["s"]]
    sgs = [None] + list(rec["sg"])
    main = [i for i, ls in enumerate(net.layers) if ls.kind != "aux"]
    out = []
    k_aux = 0
    for i, ls in enumerate(net.layers):
        p = ls.src
        m = None if (masks is None or ls.kind == "aux") else masks[p]
        if ls.kind == "aux":
            g = rec["g_aux"][k_aux] if "g_aux" in rec else None
            k_aux += 1
        else:
            g = rec["g"][main.index(i)] if "g" in rec else None
        s = rec["s"][i] if ls.spiking else None
        tr = None if traces is None else traces[i]
        out.append(LayerRec(pops[p], m, sgs[p], g, s, tr))
    return out


# ----------------------------------------------------------------------------- expected counts

def expected(net, weights, lrecs, mode, *, windows=None, use_trace=None, backward_steps=None):
    """Expected per-step counts (T, L, 2, A) of one sample, without the update sweeps
    (add them with :func:`add_sweep`). ``mode``: 'infer', 'spatial' (SLTT / OTTT_A: a backward
    pass at ``backward_steps``, default every step) or 'bptt' (``windows``: list of (t0, t1))."""
    T = lrecs[0].a.shape[0]
    L = len(net.layers)
    out = np.zeros((T, L, 2, K.N_ACTIONS), np.int64)
    use_trace = np.zeros(L, bool) if use_trace is None else np.asarray(use_trace, bool)
    windows = windows or [(0, T)]
    bsteps = np.ones(T, bool)
    if backward_steps is not None:
        bsteps[:] = False
        bsteps[list(backward_steps)] = True
    for l, (ls, r) in enumerate(zip(net.layers, lrecs)):
        cn = conn(ls)
        fan = cn.sum(axis=1)
        nzf = nz_conn(ls, weights[l]).sum(axis=1)
        ev = input_events(ls, r.a, r.mask)
        f = out[:, l, INF]
        syn = ev @ fan
        f[:, A.SYNOP if ls.binary_input else A.SYN_MAC] = syn
        f[:, A.MEM_READ_WEIGHT] = syn
        f[:, A.NB_EFF_OPS] = ev @ nzf
        f[:, A.NB_DENSE_OPS] = cn.sum()
        active = (((ev > 0).astype(np.int64) @ cn) > 0).sum(axis=1)
        f[:, A.NEURON_UPDATE_ACTIVE] = active
        f[:, A.NEURON_UPDATE_IDLE] = ls.n_out - active
        f[:, A.MEM_READ_STATE] = f[:, A.MEM_WRITE_STATE] = ls.n_out
        if ls.spiking:
            f[:, A.SPIKE] = r.s.sum(axis=1)
        if mode == "infer":
            continue
        b = out[:, l, LRN]
        if use_trace[l]:
            b[:, A.TRACE_UPDATE] = b[:, A.MEM_READ_TRACE] = b[:, A.MEM_WRITE_TRACE] = ls.n_in
        gnz = (r.g != 0).astype(np.int64)
        meets = gnz @ cn.T                                   # (T, n_in)
        if ls.src > 0 and not ls.detach:
            routes = error_routes(ls, r.a, r.mask)
            keep = r.sg_src != 0
            if r.mask is not None:
                keep = keep & (np.asarray(r.mask).reshape(1, -1) != 0)
            needed = np.zeros((T, ls.n_in), np.int64)
            for t in range(T):
                sel = keep[t] & (routes[t] >= 0)
                needed[t, routes[t, sel]] = 1
            err = (needed * meets).sum(axis=1)
        else:
            err = np.zeros(T, np.int64)
        if use_trace[l]:
            pairs = ((r.trace != 0).astype(np.int64) * meets).sum(axis=1)
        else:
            pairs = (ev * meets).sum(axis=1)
        bias_nz = gnz.sum(axis=1) if ls.bias else np.zeros(T, np.int64)
        if mode == "bptt" and ls.kind != "conv":     # summed from the history at the window end
            p2, bz = np.zeros(T, np.int64), np.zeros(T, np.int64)
            for t0, t1 in windows:
                p2[t1 - 1] = pairs[t0:t1].sum()
                bz[t1 - 1] = bias_nz[t0:t1].sum()
            pairs, bias_nz = p2, bz
        on = bsteps if mode == "spatial" else np.ones(T, bool)
        gk = A.GRAD_MAC if (use_trace[l] or not ls.binary_input) else A.GRAD_AC
        b[on, gk] = pairs[on]
        b[on, A.MEM_READ_GRAD] = b[on, A.MEM_WRITE_GRAD] = pairs[on] + bias_nz[on]
        b[on, A.ERROR_MAC] = err[on]
        b[on, A.MEM_READ_WEIGHT_TRANSPOSED] = err[on]     # W^T read for the error
        if ls.spiking:
            b[on, A.SURROGATE_EVAL] = ls.n_out
            if mode == "spatial":
                b[on, A.MEM_READ_STATE] = ls.n_out
        else:
            b[on, A.OUTPUT_ERROR] = ls.n_out
        if mode == "bptt":
            evbuf = ls.pool != "none" or r.mask is not None
            hist = (ls.n_out + r.s.sum(axis=1)) if ls.spiking else np.full(T, ls.n_out)
            if evbuf:
                hist = hist + ev.sum(axis=1)
            b[:, A.MEM_WRITE_HIST] = b[:, A.MEM_READ_HIST] = hist
            if ls.spiking:
                b[:, A.TEMPORAL_MAC] = ls.n_out
                for _, t1 in windows:
                    b[t1 - 1, A.TEMPORAL_MAC] = 0
    return out


def n_params(ls) -> int:
    return ls.synapses + (ls.out[2] if ls.bias else 0)


def add_sweep(exp, net, t, issued, momentum=0.0, wd=0.0):
    """Add the counts of one update sweep at step t: ``issued[l]`` parameters of layer l change
    (plain SGD: non-zero gradient), the others are skipped; momentum reads and writes its buffer,
    weight decay reads every weight."""
    for l, ls in enumerate(net.layers):
        n = n_params(ls)
        c = exp[t, l, LRN]
        c[A.WEIGHT_UPDATE_ISSUED] += issued[l]
        c[A.WEIGHT_UPDATE_SKIPPED] += n - issued[l]
        c[A.MEM_READ_GRAD] += n * (2 if momentum else 1)
        c[A.MEM_WRITE_GRAD] += n * (2 if momentum else 1)
        c[A.MEM_READ_WEIGHT] += n if wd else issued[l]
        c[A.MEM_WRITE_WEIGHT] += issued[l]


def issued_from(gW, gb) -> list:
    """Parameters with a non-zero update, per layer, from gradients (None: no bias)."""
    return [int(np.count_nonzero(w)) + (0 if b is None else int(np.count_nonzero(b)))
            for w, b in zip(gW, gb)]


def assert_counts(got, exp, net, what="", skip=()):
    """Per-step counts equal, per layer, phase and action (a readable message on the first
    difference). ``skip``: (layer, phase, action) triples left out."""
    got = np.asarray(got)
    assert got.shape == exp.shape, (got.shape, exp.shape)
    got = got.copy()
    exp = exp.copy()
    for l, p, a in skip:
        got[:, l, p, a] = exp[:, l, p, a] = 0
    if np.array_equal(got, exp):
        return
    bad = np.argwhere(got != exp)
    lines = []
    for t, l, p, a in bad[:12]:
        lines.append(f"step {t} {net.layers[l].name} {K.PHASE_NAMES[p]} {K.ACTION_NAMES[a]}: "
                     f"counted {got[t, l, p, a]}, expected {exp[t, l, p, a]}")
    raise AssertionError(f"{what}: {len(bad)} counts differ\n" + "\n".join(lines))


def weight_grad(ls, pre, g):
    """The layer's weight gradient sum_t pre[t] (x) g[t], gathered onto a convolution's kernel
    with the reference's conv index (for a presynaptic factor the reference does not form, e.g.
    a fixed-point trace)."""
    dWe = np.asarray(pre, dtype=np.float64).T @ np.asarray(g, dtype=np.float64)
    if ls.kind != "conv":
        return dWe
    ii, jj, pp, _, _ = rc.conv_index(ls.pooled, ls.out[2], ls.k, ls.stride, ls.pad)
    return np.bincount(pp, weights=dWe[ii, jj], minlength=ls.synapses).reshape(ls.weight_shape)


# ----------------------------------------------------------------------------- scaffolding

def ref_ops(ops):
    """chipsim ops -> the reference's op dicts."""
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


def ref_params(net):
    """Copies of the weights in the reference's form: main Ws, bs (None: no bias), aux heads."""
    main = [i for i, ls in enumerate(net.layers) if ls.kind != "aux"]
    Ws = [net.weights[i].copy() for i in main]
    bs = [net.biases[i].copy() if net.layers[i].bias else None for i in main]
    aux = [(net.weights[i].copy(), net.biases[i].copy()) for i, ls in enumerate(net.layers)
           if ls.kind == "aux"]
    return Ws, bs, aux


def population_masks(tr, net, b):
    """The dropout mask the trainer drew for sample b, per population (None: no dropout)."""
    return [tr.masks[p][b].copy() if rate > 0 else None for p, rate in enumerate(net.dropout)]


def op_masks(tr, net, B):
    """The trainer's masks in the reference's form: one (B, n) array per dropout op, or None."""
    return [tr.masks[p][:B].copy() for p, rate in enumerate(net.dropout) if rate > 0] or None


def expected_batch(net, weights, frames, recs, mode, updates, *, masks=None, use_trace=None,
                   traces=None, momentum=0.0, wd=0.0):
    """(B, T, L, 2, A) expected per-step counts of a batch: ``recs`` one reference record per
    sample, ``updates`` a list of (step, issued per layer) sweeps counted on the last sample,
    ``masks`` a callable b -> per-population masks, ``traces`` b -> per-layer traces;
    ``weights`` those the forward pass ran on (every layer, aux heads included)."""
    B = len(recs)
    windows = []
    t0 = 0
    for t, _ in updates:
        windows.append((t0, t + 1))
        t0 = t + 1
    out = []
    for b in range(B):
        lr_ = layer_records(net, frames[b], recs[b], masks=None if masks is None else masks(b),
                            traces=None if traces is None else traces(b))
        e = expected(net, weights, lr_, mode, windows=windows, use_trace=use_trace)
        if b == B - 1 and mode != "infer":
            for t, issued in updates:
                add_sweep(e, net, t, issued, momentum, wd)
        out.append(e)
    return np.stack(out)


def avg_pooled_nb_eff(net):
    """(layer, phase, action) of NB_EFF_OPS on layers behind average pooling, left out of full
    comparisons: chipsim counts them per input spike, NeuroBench per non-zero pooled input (see
    test_nb_effective_ops_behind_average_pooling)."""
    return [(l, INF, A.NB_EFF_OPS) for l, ls in enumerate(net.layers) if ls.pool == "avg"]
