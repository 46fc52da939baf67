"""Plain-numpy reference for convolutional SNNs and every learning rule's weight gradient.

Standalone: imports nothing from chipsim and nothing from tests/reference.py. Written from
reference/algorithms.md (§1 neuron, §2.1 BPTT, §3 OTTT with the Replace trick and quirk 1,
§4 SLTT / SLTT-K, §5.1 TET loss, §6.2 working definition of temporally-truncated local BPTT).

Method: every conv / avgpool is turned into an explicit dense matrix built with plain Python loops
over positions, maxpool into a per-step 0/1 routing matrix (first maximum in scan order), dropout
into a diagonal. The network is then a chain of dense maps

    z_l[t] = a_{l-1}[t] @ J_l[t]            (J_l: product of the transforms before weight layer l)
    I_l[t] = z_l[t] @ Weff_l + beff_l        (Weff_l: (n_in, n_out), built from the conv kernel)
    a_l[t] = LIF(I_l[t])                     (hidden layers);  o[t] = I_{L-1}[t]  (readout)

with a_{-1}[t] = x[t] flattened channel-last, j = (y*W + x)*C + c. Backward passes go through
Weff_l and J_l[t]; the gradient of Weff is gathered back onto the conv kernel.

Conventions
-----------
- ops: list of dicts. kinds: 'conv' (cout, k, stride=1, pad=0, bias), 'dense' (units, bias),
  'avgpool' (size), 'maxpool' (size), 'dropout', 'flatten' (no-op). Every conv/dense op is
  followed by a LIF population; the readout (dense, non-spiking) is appended automatically.
- Ws: one array per conv/dense op, in order, then the readout. conv: (k*k*Cin, Cout), row
  r = (ky*k + kx)*Cin + ci. dense/readout: (n_in, n_out).
- bs: same length as Ws; None = no bias (gradient returned as None). If an op has 'bias' it must
  agree with whether bs[l] is None.
- x: one sample, (T, H, W, C) (a (T, n) array is read as (T, 1, 1, n)).
- masks: one array per 'dropout' op (in op order), shaped like (or of the size of) the population
  it multiplies, constant over time. Batch functions take masks[i] with a leading B axis.
- nrn: dict(lam, theta, reset 'soft'|'hard', detach bool, h0 0|1, decay_input bool,
  sg 'sigmoid'|'triangle', alpha). Test-only extra key spike='smooth' replaces H by the
  sigmoid whose derivative is the sigmoid surrogate (makes BPTT an exact gradient, for FD tests).
  Test-only extra key state_q=(q, lim): the stored state v (after the reset) is held in fixed
  point, rounded to the nearest multiple of q (halves up) and saturated to [-lim, lim - q].
- Loss per step: L[t] = ((1-a)*CE(o[t], y) + a*mean_c (o[t]-tgt)^2) / T, tgt = one-hot(y)
  (target='onehot') or the constant phi (target=phi).

Records (rec) returned by every rule, lists indexed by weight layer l (readout last):
  z[l] (T, n_in)      post-transform input of weight layer l;   events[l] (T,) its nonzeros
  J[l][t] list of the transforms' matrices before layer l at step t (z = a @ J[0] @ J[1]...;
          [] = identity); maxpool's is the step's 0/1 routing matrix, dropout's diag(m)
  pre[l] (T, n_in)    presynaptic factor used for the weight gradient (z, or the OTTT trace)
  traces[l] (T, n_in) trace of z[l] (OTTT rules only; None otherwise)
  g[l] (T, n_out)     dL/dI_l (= cin * delta for hidden layers; dL/do for the readout)
  u[l], s[l], sg[l] (T, n_out) for hidden (LIF) layers only (index l < L-1)
  o (T, C), loss_t (T,)
"""

from __future__ import annotations

import math

import numpy as np

# ----------------------------------------------------------------------------- neuron


def heaviside(x, h0):
    """H(x) with H(0) = h0."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    out[x > 0] = 1.0
    out[x == 0] = float(h0)
    return out


def surrogate(x, kind, alpha):
    """sigma'(x): 'sigmoid' alpha*sig(alpha x)(1-sig(alpha x)); 'triangle' max(0, alpha - alpha^2 |x|)."""
    x = np.asarray(x, dtype=np.float64)
    if kind == "sigmoid":
        sig = 1.0 / (1.0 + np.exp(-alpha * x))
        return alpha * sig * (1.0 - sig)
    if kind == "triangle":
        return np.maximum(0.0, alpha - alpha * alpha * np.abs(x))
    raise ValueError(f"unknown surrogate {kind!r}")


def _spike(x, nrn):
    if nrn.get("spike", "heaviside") == "smooth":
        if nrn["sg"] != "sigmoid":
            raise ValueError("spike='smooth' needs sg='sigmoid' (its exact derivative)")
        return 1.0 / (1.0 + np.exp(-nrn["alpha"] * x))
    return heaviside(x, nrn["h0"])


def _cin(nrn):
    return (1.0 - nrn["lam"]) if nrn.get("decay_input") else 1.0


def _lif_step(v, I, nrn):
    """One LIF step: returns (u, s, v_new)."""
    u = nrn["lam"] * v + _cin(nrn) * I
    s = _spike(u - nrn["theta"], nrn)
    if nrn["reset"] == "soft":
        vn = u - nrn["theta"] * s
    elif nrn["reset"] == "hard":
        vn = (1.0 - s) * u
    else:
        raise ValueError(nrn["reset"])
    if nrn.get("state_q") is not None:
        q, lim = nrn["state_q"]
        vn = np.clip(np.floor(vn / q + 0.5) * q, -lim, lim - q)
    return u, s, vn


def _state_factor(u, s, sgv, nrn):
    """d v[t] / d u[t] along the temporal route (leak x reset), without lam."""
    if nrn["reset"] == "soft":
        return 1.0 - (0.0 if nrn["detach"] else nrn["theta"] * sgv)
    return (1.0 - s) - (0.0 if nrn["detach"] else u * sgv)


# ----------------------------------------------------------------------------- losses


def step_loss(o, y, T, a=0.05, target="onehot"):
    """(L[t], dL[t]/do[t]) of one sample at one step."""
    o = np.asarray(o, dtype=np.float64)
    C = o.shape[0]
    m = o.max()
    lse = m + math.log(np.exp(o - m).sum())
    p = np.exp(o - lse)
    onehot = np.zeros(C)
    onehot[int(y)] = 1.0
    tgt = onehot if (isinstance(target, str) and target == "onehot") else np.full(C, float(target))
    ce = lse - o[int(y)]
    mse = float(np.mean((o - tgt) ** 2))
    loss = ((1.0 - a) * ce + a * mse) / T
    grad = ((1.0 - a) * (p - onehot) + a * 2.0 * (o - tgt) / C) / T
    return loss, grad


def tet_loss(O, y, lam, phi):
    """TET loss (official functions.py:39-51): O (B, T, C) outputs, y (B,) labels.

    (1-lam) * (1/T) sum_t CE_batchmean(O[:, t], y) + lam * MSE over all (B, T, C) of (O - phi).
    """
    O = np.asarray(O, dtype=np.float64)
    B, T, C = O.shape
    es = 0.0
    for t in range(T):
        ce_t = 0.0
        for b in range(B):
            row = O[b, t]
            ce_t += -(row[int(y[b])] - np.log(np.sum(np.exp(row))))
        es += ce_t / B
    es /= T
    mmd = np.sum((O - phi) ** 2) / (B * T * C)
    return (1.0 - lam) * es + lam * mmd


# ----------------------------------------------------------------------------- structure


def conv_out_shape(in_shape, cout, k, stride, pad):
    H, W, _ = in_shape
    return ((H + 2 * pad - k) // stride + 1, (W + 2 * pad - k) // stride + 1, cout)


def conv_index(in_shape, cout, k, stride=1, pad=0):
    """Entries (i, j, p) of the conv's dense matrix: Weff[i, j] = W.flat[p]; and co(j)."""
    Hi, Wi, Ci = in_shape
    Ho, Wo, _ = conv_out_shape(in_shape, cout, k, stride, pad)
    if Ho <= 0 or Wo <= 0:
        raise ValueError(f"conv k={k} s={stride} p={pad} on {in_shape} has no output")
    ii, jj, pp = [], [], []
    co_of_j = np.zeros(Ho * Wo * cout, dtype=np.int64)
    for oy in range(Ho):
        for ox in range(Wo):
            for co in range(cout):
                j = (oy * Wo + ox) * cout + co
                co_of_j[j] = co
                for ky in range(k):
                    iy = oy * stride - pad + ky
                    if iy < 0 or iy >= Hi:
                        continue
                    for kx in range(k):
                        ix = ox * stride - pad + kx
                        if ix < 0 or ix >= Wi:
                            continue
                        for ci in range(Ci):
                            ii.append((iy * Wi + ix) * Ci + ci)
                            jj.append(j)
                            pp.append(((ky * k + kx) * Ci + ci) * cout + co)
    return (np.array(ii, dtype=np.int64), np.array(jj, dtype=np.int64),
            np.array(pp, dtype=np.int64), co_of_j, (Ho, Wo, cout))


def conv_matrix(W, in_shape, k, stride=1, pad=0):
    """Explicit dense (n_in, n_out) matrix of a conv with kernel W (k*k*Cin, Cout)."""
    cout = W.shape[1]
    ii, jj, pp, _, out_shape = conv_index(in_shape, cout, k, stride, pad)
    M = np.zeros((int(np.prod(in_shape)), int(np.prod(out_shape))))
    np.add.at(M, (ii, jj), np.asarray(W, dtype=np.float64).reshape(-1)[pp])
    return M, out_shape


def avgpool_matrix(in_shape, size):
    """(n_in, n_out) matrix of avgpool with kernel = stride = size, floor."""
    H, W, C = in_shape
    Ho, Wo = H // size, W // size
    if Ho == 0 or Wo == 0:
        raise ValueError(f"avgpool {size} on {in_shape} has no output")
    P = np.zeros((H * W * C, Ho * Wo * C))
    for oy in range(Ho):
        for ox in range(Wo):
            for c in range(C):
                for dy in range(size):
                    for dx in range(size):
                        iy, ix = oy * size + dy, ox * size + dx
                        P[(iy * W + ix) * C + c, (oy * Wo + ox) * C + c] = 1.0 / (size * size)
    return P, (Ho, Wo, C)


def maxpool_matrix(a, in_shape, size):
    """0/1 routing matrix R (n_in, n_out) of maxpool for the input vector a: a @ R is the max, and
    R routes each output's gradient to the FIRST maximal element of its window in scan order
    (dy outer, dx inner; a strict '>' comparison keeps the first)."""
    H, W, C = in_shape
    Ho, Wo = H // size, W // size
    if Ho == 0 or Wo == 0:
        raise ValueError(f"maxpool {size} on {in_shape} has no output")
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    R = np.zeros((H * W * C, Ho * Wo * C))
    for oy in range(Ho):
        for ox in range(Wo):
            for c in range(C):
                best_i, best_v = None, None
                for dy in range(size):
                    for dx in range(size):
                        i = ((oy * size + dy) * W + (ox * size + dx)) * C + c
                        if best_i is None or a[i] > best_v:
                            best_i, best_v = i, a[i]
                R[best_i, (oy * Wo + ox) * C + c] = 1.0
    return R, (Ho, Wo, C)


def gap_matrix(shape):
    """Global average pool over spatial positions: (H*W*C, C)."""
    H, W, C = shape
    G = np.zeros((H * W * C, C))
    for p in range(H * W):
        for c in range(C):
            G[p * C + c, c] = 1.0 / (H * W)
    return G


def build_net(ops, in_shape, n_classes):
    """Parse ops into weight layers (readout last). Each layer: dict(kind, pre (transforms),
    in_shape (after transforms), out_shape, wshape, lif, and for conv: k, stride, pad, index)."""
    shape = tuple(int(v) for v in in_shape)
    pending, layers, n_drop = [], [], 0
    for op in ops:
        kind = op["kind"]
        if kind == "flatten":
            continue
        if kind in ("avgpool", "maxpool"):
            k = int(op["size"])
            tr = dict(kind=kind, size=k, in_shape=shape)
            if kind == "avgpool":
                tr["P"], out = avgpool_matrix(shape, k)
            else:
                out = (shape[0] // k, shape[1] // k, shape[2])
                if out[0] == 0 or out[1] == 0:
                    raise ValueError(f"maxpool {k} on {shape} has no output")
            tr["out_shape"] = out
            pending.append(tr)
            shape = out
        elif kind == "dropout":
            pending.append(dict(kind="dropout", idx=n_drop, in_shape=shape, out_shape=shape))
            n_drop += 1
        elif kind == "conv":
            k, s, p = int(op["k"]), int(op.get("stride", 1)), int(op.get("pad", 0))
            index = conv_index(shape, int(op["cout"]), k, s, p)
            out = index[4]
            layers.append(dict(kind="conv", op=op, pre=pending, in_shape=shape, out_shape=out,
                               wshape=(k * k * shape[2], int(op["cout"])), lif=True,
                               k=k, stride=s, pad=p, index=index))
            pending, shape = [], out
        elif kind == "dense":
            n = int(np.prod(shape))
            out = (1, 1, int(op["units"]))
            layers.append(dict(kind="dense", op=op, pre=pending, in_shape=shape, out_shape=out,
                               wshape=(n, int(op["units"])), lif=True))
            pending, shape = [], out
        else:
            raise ValueError(f"unknown op kind {kind!r}")
    layers.append(dict(kind="readout", op={}, pre=pending, in_shape=shape, out_shape=(1, 1, n_classes),
                       wshape=(int(np.prod(shape)), n_classes), lif=False))
    for l in layers:
        l["n_in"] = int(np.prod(l["in_shape"]))
        l["n_out"] = int(np.prod(l["out_shape"]))
    return layers


_NET_CACHE: dict = {}


def _net_for(ops, Ws, x_shape):
    key = (repr(ops), tuple(x_shape), np.asarray(Ws[-1]).shape[1])
    if key not in _NET_CACHE:  # structure only (index arrays, pool matrices); never mutated
        _NET_CACHE[key] = build_net(ops, x_shape, np.asarray(Ws[-1]).shape[1])
    net = _NET_CACHE[key]
    if len(Ws) != len(net):
        raise ValueError(f"{len(net)} weight layers (incl. readout) but {len(Ws)} weight arrays")
    for layer, W in zip(net, Ws):
        if tuple(np.shape(W)) != tuple(layer["wshape"]):
            raise ValueError(f"{layer['kind']} weight shape {np.shape(W)} != {layer['wshape']}")
    return net


def _effective(net, Ws, bs):
    """Dense (Weff, beff) per weight layer."""
    eff = []
    for layer, W, b in zip(net, Ws, bs):
        if "bias" in layer["op"] and bool(layer["op"]["bias"]) != (b is not None):
            raise ValueError(f"op {layer['op']} disagrees with bias {'given' if b is not None else 'None'}")
        W = np.asarray(W, dtype=np.float64)
        if layer["kind"] == "conv":
            ii, jj, pp, co_of_j, _ = layer["index"]
            We = np.zeros((layer["n_in"], layer["n_out"]))
            np.add.at(We, (ii, jj), W.reshape(-1)[pp])
            be = np.zeros(layer["n_out"]) if b is None else np.asarray(b, dtype=np.float64)[co_of_j]
        else:
            We = W
            be = np.zeros(layer["n_out"]) if b is None else np.asarray(b, dtype=np.float64)
        eff.append((We, be))
    return eff


def _gather(layer, dWe, dbe, has_bias):
    """Gradient of the effective (dense) weights -> gradient of the layer's parameters."""
    if layer["kind"] == "conv":
        ii, jj, pp, co_of_j, _ = layer["index"]
        size = layer["wshape"][0] * layer["wshape"][1]
        dW = np.bincount(pp, weights=dWe[ii, jj], minlength=size).reshape(layer["wshape"])
        db = np.bincount(co_of_j, weights=dbe, minlength=layer["wshape"][1]) if has_bias else None
        return dW, db
    return dWe.copy(), (dbe.copy() if has_bias else None)


def _apply_pre(layer, a, masks):
    """Transforms before a weight layer: returns (z, J) with z = a @ J[0] @ J[1] @ ... (J is the
    list of the transforms' matrices, in order; [] = identity)."""
    z = a
    J = []
    for tr in layer["pre"]:
        if tr["kind"] == "avgpool":
            M = tr["P"]
        elif tr["kind"] == "maxpool":
            M, _ = maxpool_matrix(z, tr["in_shape"], tr["size"])
        else:  # dropout: the diagonal matrix diag(m)
            if masks is None or len(masks) <= tr["idx"]:
                raise ValueError("a dropout op needs its mask")
            m = np.asarray(masks[tr["idx"]], dtype=np.float64).reshape(-1)
            if m.shape[0] != z.shape[0]:
                raise ValueError(f"dropout mask of size {m.shape[0]} for a population of {z.shape[0]}")
            M = np.diag(m)
        z = z @ M
        J.append(M)
    return z, J


def _jmul(J, v):
    """(J[0] @ J[1] @ ...) @ v: backward through the transforms."""
    for M in reversed(J):
        v = M @ v
    return v


def _as_frames(x):
    x = np.asarray(x)
    if x.ndim == 2:
        x = x.reshape(x.shape[0], 1, 1, x.shape[1])
    if x.ndim != 4:
        raise ValueError("x must be (T, H, W, C) or (T, n)")
    return x.astype(np.float64)


# ----------------------------------------------------------------------------- forward


def _new_fw(net, T):
    L = len(net)
    return dict(z=[np.zeros((T, l["n_in"])) for l in net], J=[[None] * T for _ in net],
                u=[np.zeros((T, l["n_out"])) for l in net[:-1]],
                s=[np.zeros((T, l["n_out"])) for l in net[:-1]],
                sg=[np.zeros((T, l["n_out"])) for l in net[:-1]],
                o=np.zeros((T, net[-1]["n_out"])), L=L)


def _run_steps(net, eff, v, x, t0, t1, nrn, masks, fw):
    """Forward steps t0..t1-1 from state v (list, updated in place); records into fw."""
    for t in range(t0, t1):
        a = x[t].reshape(-1)
        for l, layer in enumerate(net):
            z, J = _apply_pre(layer, a, masks)
            fw["z"][l][t] = z
            fw["J"][l][t] = J
            We, be = eff[l]
            I = z @ We + be
            if layer["lif"]:
                u, s, v[l] = _lif_step(v[l], I, nrn)
                fw["u"][l][t] = u
                fw["s"][l][t] = s
                fw["sg"][l][t] = surrogate(u - nrn["theta"], nrn["sg"], nrn["alpha"])
                a = s
            else:
                fw["o"][t] = I


def forward(ops, Ws, bs, x, nrn, masks=None):
    """Unrolled forward of one sample. Returns dict z, J, u, s, sg (see module doc), o (T, C)."""
    x = _as_frames(x)
    net = _net_for(ops, Ws, x.shape[1:])
    eff = _effective(net, Ws, bs)
    fw = _new_fw(net, x.shape[0])
    v = [np.zeros(l["n_out"]) for l in net[:-1]]
    _run_steps(net, eff, v, x, 0, x.shape[0], nrn, masks, fw)
    return fw


def _traces(z, d):
    tr = np.zeros_like(z)
    acc = np.zeros(z.shape[1])
    for t in range(z.shape[0]):
        acc = d * acc + z[t]
        tr[t] = acc
    return tr


def _rec(fw, g, pre, traces, loss_t):
    return dict(z=fw["z"], J=fw["J"], events=[np.count_nonzero(z, axis=1) for z in fw["z"]],
                pre=pre, pre_nnz=[np.count_nonzero(p, axis=1) for p in pre], traces=traces, g=g,
                u=fw["u"], s=fw["s"], sg=fw["sg"], o=fw["o"], loss_t=loss_t)


# ----------------------------------------------------------------------------- backward pieces


def _bptt_block(net, eff, fw, nrn, t0, t1, lo, hi, head_W, head_z, head_J, go, g_out):
    """BPTT over steps [t0, t1) (state detached at both ends) for hidden layers lo..hi (inclusive;
    hi < lo means none), driven by the loss gradients go[t] of a head o = z_head @ head_W + b with
    z_head[t] = s_hi[t] @ head_J[t] (a list of transform matrices). Input of layer lo is detached.
    Returns (dWe, dbe) dict for layers lo..hi, and (dWh, dbh) of the head; writes g into g_out."""
    lam = nrn["lam"]
    c = _cin(nrn)
    dWe = {l: np.zeros((net[l]["n_in"], net[l]["n_out"])) for l in range(lo, hi + 1)}
    dbe = {l: np.zeros(net[l]["n_out"]) for l in range(lo, hi + 1)}
    dWh = np.zeros_like(head_W)
    dbh = np.zeros(head_W.shape[1])
    dnext = {l: np.zeros(net[l]["n_out"]) for l in range(lo, hi + 1)}
    for t in range(t1 - 1, t0 - 1, -1):
        g = go[t]
        dWh += np.outer(head_z[t], g)
        dbh += g
        if hi < lo:
            continue
        e = _jmul(head_J[t], head_W @ g)
        for l in range(hi, lo - 1, -1):
            u, s, sgv = fw["u"][l][t], fw["s"][l][t], fw["sg"][l][t]
            delta = sgv * e + lam * dnext[l] * _state_factor(u, s, sgv, nrn)
            dnext[l] = delta
            gl = c * delta
            g_out[l][t] = gl
            dWe[l] += np.outer(fw["z"][l][t], gl)
            dbe[l] += gl
            if l > lo:
                e = _jmul(fw["J"][l][t], eff[l][0] @ gl)
    return dWe, dbe, dWh, dbh


def _spatial_step(net, eff, fw, nrn, t, go_t, pre, dWe, dbe, g_out):
    """SLTT/OTTT backward at step t only (spatial route); presynaptic factor pre[l][t]."""
    c = _cin(nrn)
    g = go_t
    for l in range(len(net) - 1, -1, -1):
        g_out[l][t] = g
        dWe[l] += np.outer(pre[l][t], g)
        dbe[l] += g
        if l > 0:
            e = _jmul(fw["J"][l][t], eff[l][0] @ g)
            g = c * fw["sg"][l - 1][t] * e


def _finish(net, dWe, dbe, bs):
    gW, gb = [], []
    for l, layer in enumerate(net):
        W, b = _gather(layer, dWe[l], dbe[l], bs[l] is not None)
        gW.append(W)
        gb.append(b)
    return gW, gb


# ----------------------------------------------------------------------------- rules (one sample)


def grads_bptt(ops, Ws, bs, x, y, nrn, a=0.05, target="onehot", masks=None):
    """BPTT gradient of the summed loss of one sample (algorithms.md §2.1, hard reset, detach).

    Returns dict(gW, gb, loss, o, rec)."""
    x = _as_frames(x)
    T = x.shape[0]
    net = _net_for(ops, Ws, x.shape[1:])
    eff = _effective(net, Ws, bs)
    fw = _new_fw(net, T)
    v = [np.zeros(l["n_out"]) for l in net[:-1]]
    _run_steps(net, eff, v, x, 0, T, nrn, masks, fw)
    L = len(net)
    loss_t = np.zeros(T)
    go = np.zeros((T, net[-1]["n_out"]))
    for t in range(T):
        loss_t[t], go[t] = step_loss(fw["o"][t], y, T, a, target)
    g = [np.zeros((T, l["n_out"])) for l in net]
    g[L - 1][:] = go
    dWe, dbe, dWh, dbh = _bptt_block(net, eff, fw, nrn, 0, T, 0, L - 2, eff[L - 1][0],
                                     fw["z"][L - 1], fw["J"][L - 1], go, g)
    dWe[L - 1], dbe[L - 1] = dWh, dbh
    gW, gb = _finish(net, dWe, dbe, bs)
    return dict(gW=gW, gb=gb, loss=float(loss_t.sum()), o=fw["o"],
                rec=_rec(fw, g, fw["z"], None, loss_t))


def grads_spatial(ops, Ws, bs, x, y, nrn, a=0.05, target="onehot", masks=None, trace_decay=None,
                  first_trace=False, steps=None):
    """SLTT (trace_decay None) / SLTT-K (steps) / OTTT_A (trace_decay d) gradient of one sample.

    At each step t (in steps, if given; the loss divisor stays T): g_top = dL[t]/do[t];
    g_{l-1} = cin * sigma'(u_{l-1}[t] - theta) * (J_l[t] @ Weff_l @ g_l); dW_l += pre_l[t] x g_l.
    pre_l = z_l (SLTT) or its trace a_l[t] = d a_l[t-1] + z_l[t] (OTTT), except weight layer 0
    which uses z_0 unless first_trace (official OTTT quirk 1). Returns dict(gW, gb, loss, o, rec)."""
    x = _as_frames(x)
    T = x.shape[0]
    net = _net_for(ops, Ws, x.shape[1:])
    eff = _effective(net, Ws, bs)
    fw = _new_fw(net, T)
    v = [np.zeros(l["n_out"]) for l in net[:-1]]
    _run_steps(net, eff, v, x, 0, T, nrn, masks, fw)
    traces = None
    pre = list(fw["z"])
    if trace_decay is not None:
        traces = [_traces(z, trace_decay) for z in fw["z"]]
        pre = [fw["z"][0] if (l == 0 and not first_trace) else traces[l] for l in range(len(net))]
    dWe = [np.zeros((l["n_in"], l["n_out"])) for l in net]
    dbe = [np.zeros(l["n_out"]) for l in net]
    g = [np.zeros((T, l["n_out"])) for l in net]
    loss_t = np.zeros(T)
    sel = None if steps is None else {int(t) for t in steps}
    for t in range(T):
        loss_t[t], go_t = step_loss(fw["o"][t], y, T, a, target)
        if sel is not None and t not in sel:
            continue
        _spatial_step(net, eff, fw, nrn, t, go_t, pre, dWe, dbe, g)
    gW, gb = _finish(net, dWe, dbe, bs)
    return dict(gW=gW, gb=gb, loss=float(loss_t.sum()), o=fw["o"], rec=_rec(fw, g, pre, traces, loss_t))


def grads_sltt(ops, Ws, bs, x, y, nrn, a=0.05, target="onehot", masks=None, steps=None):
    return grads_spatial(ops, Ws, bs, x, y, nrn, a, target, masks, None, False, steps)


def grads_ottt(ops, Ws, bs, x, y, nrn, trace_decay, first_trace=False, a=0.05, target="onehot",
               masks=None, steps=None):
    return grads_spatial(ops, Ws, bs, x, y, nrn, a, target, masks, trace_decay, first_trace, steps)


def _sample_masks(masks, b):
    return None if masks is None else [np.asarray(m)[b] for m in masks]


def _batch(X, Y, masks):
    X = np.asarray(X)
    if np.ndim(Y) == 0:  # one sample
        return X[None], np.array([int(Y)]), (None if masks is None else [np.asarray(m)[None] for m in masks])
    return X, np.asarray(Y), masks


def batch_mean(fn, ops, Ws, bs, X, Y, nrn, masks=None, **kw):
    """Batch-mean gradient and loss of a one-sample rule fn (grads_bptt, grads_sltt, ...).
    X (B, T, H, W, C), Y (B,), masks[i] (B, ...). Returns dict(gW, gb, loss, per_sample)."""
    X, Y, masks = _batch(X, Y, masks)
    res = [fn(ops, Ws, bs, X[b], Y[b], nrn, masks=_sample_masks(masks, b), **kw) for b in range(len(Y))]
    B = len(res)
    gW = [sum(r["gW"][l] for r in res) / B for l in range(len(Ws))]
    gb = [None if bs[l] is None else sum(r["gb"][l] for r in res) / B for l in range(len(Ws))]
    return dict(gW=gW, gb=gb, loss=sum(r["loss"] for r in res) / B, per_sample=res)


# ----------------------------------------------------------------------------- online rules


def ottt_online(ops, Ws, bs, X, Y, nrn, lr, trace_decay, first_trace=False, a=0.05, target="onehot",
                masks=None):
    """OTTT_O: at every step t, forward one step (all samples, current weights), backward at t with
    traces (OTTT_A's per-step gradient), then W -= lr * batch-mean gradient (biases too).

    X (B, T, H, W, C) with Y (B,), or one sample (T, H, W, C) with scalar Y.
    Returns dict(W, b, loss (batch mean of summed loss), o (B, T, C), step_grads (list of T
    (gW, gb) batch means), rec (per sample; J/u/s/sg/z per step as run, pre = the factor used))."""
    X, Y, masks = _batch(X, Y, masks)
    X = np.stack([_as_frames(X[b]) for b in range(X.shape[0])])
    Bn, T = X.shape[0], X.shape[1]
    Ws = [np.array(W, dtype=np.float64) for W in Ws]
    bs = [None if b is None else np.array(b, dtype=np.float64) for b in bs]
    net = _net_for(ops, Ws, X.shape[2:])
    L = len(net)
    fws = [_new_fw(net, T) for _ in range(Bn)]
    vs = [[np.zeros(l["n_out"]) for l in net[:-1]] for _ in range(Bn)]
    trs = [[np.zeros((T, l["n_in"])) for l in net] for _ in range(Bn)]
    pres = [[np.zeros((T, l["n_in"])) for l in net] for _ in range(Bn)]
    gs = [[np.zeros((T, l["n_out"])) for l in net] for _ in range(Bn)]
    loss_t = np.zeros((Bn, T))
    step_grads = []
    for t in range(T):
        eff = _effective(net, Ws, bs)
        dWe = [np.zeros((l["n_in"], l["n_out"])) for l in net]
        dbe = [np.zeros(l["n_out"]) for l in net]
        for b in range(Bn):
            fw = fws[b]
            _run_steps(net, eff, vs[b], X[b], t, t + 1, nrn, _sample_masks(masks, b), fw)
            for l in range(L):
                prev = trs[b][l][t - 1] if t > 0 else 0.0
                trs[b][l][t] = trace_decay * prev + fw["z"][l][t]
                pres[b][l][t] = fw["z"][l][t] if (l == 0 and not first_trace) else trs[b][l][t]
            loss_t[b, t], go_t = step_loss(fw["o"][t], Y[b], T, a, target)
            _spatial_step(net, eff, fw, nrn, t, go_t, pres[b], dWe, dbe, gs[b])
        dWe = [d / Bn for d in dWe]
        dbe = [d / Bn for d in dbe]
        gW, gb = _finish(net, dWe, dbe, bs)
        step_grads.append((gW, gb))
        for l in range(L):
            Ws[l] = Ws[l] - lr * gW[l]
            if bs[l] is not None:
                bs[l] = bs[l] - lr * gb[l]
    recs = [_rec(fws[b], gs[b], pres[b], trs[b], loss_t[b]) for b in range(Bn)]
    return dict(W=Ws, b=bs, loss=float(loss_t.sum(1).mean()), o=np.stack([f["o"] for f in fws]),
                step_grads=step_grads, rec=recs)


def tbptt_blocks(n_hidden, B_L):
    """Hidden (LIF) layer index ranges (lo, hi) of the local blocks, consecutive groups of B_L."""
    if n_hidden == 0:
        return [(0, -1)]
    return [(lo, min(lo + B_L, n_hidden) - 1) for lo in range(0, n_hidden, B_L)]


def tbptt_local(ops, Ws, bs, aux, X, Y, nrn, lr, T_L, B_L, a=0.05, target="onehot", masks=None):
    """Temporally-truncated local BPTT (algorithms.md §6.2 working definition).

    Time is split into consecutive windows of T_L steps (last may be shorter). Per window: forward
    with the current weights from the carried state; BPTT inside the window only (state entering
    and leaving detached); W -= lr * batch-mean gradient at the end of the window (all weights:
    hidden, readout, aux heads, biases). Hidden LIF layers are grouped into consecutive blocks of
    B_L; each block but the last has an aux head o_aux[t] = GAP(s_hi[t]) @ Wa + ba (GAP over the
    spatial positions of the block's last LIF population, taken from its spikes BEFORE any
    transform that follows it) with its own loss (same a, target, /T); the input to each block is
    detached. The last block uses the main readout (with its transforms).

    aux: list of (Wa (C_k, classes), ba (classes,)) for blocks 0..nblocks-2.
    Returns dict(W, b, aux, loss (batch mean, main readout, summed over t), loss_aux (list per
    head), windows (list of dict(t0, t1, gW, gb, gaux) batch-mean gradients), blocks, rec (per
    sample; g includes every layer; g_aux[k] (T, classes); o_aux[k] (T, classes)))."""
    X, Y, masks = _batch(X, Y, masks)
    X = np.stack([_as_frames(X[b]) for b in range(X.shape[0])])
    Bn, T = X.shape[0], X.shape[1]
    Ws = [np.array(W, dtype=np.float64) for W in Ws]
    bs = [None if b is None else np.array(b, dtype=np.float64) for b in bs]
    aux = [(np.array(Wa, dtype=np.float64), np.array(ba, dtype=np.float64)) for Wa, ba in (aux or [])]
    net = _net_for(ops, Ws, X.shape[2:])
    L = len(net)
    blocks = tbptt_blocks(L - 1, B_L)
    if len(aux) != len(blocks) - 1:
        raise ValueError(f"{len(blocks)} blocks need {len(blocks) - 1} aux heads, got {len(aux)}")
    G = [gap_matrix(net[hi]["out_shape"]) for _, hi in blocks[:-1]]
    for k, (Wa, _) in enumerate(aux):
        if Wa.shape != (G[k].shape[1], Ws[-1].shape[1]):
            raise ValueError(f"aux head {k} weight shape {Wa.shape} != {(G[k].shape[1], Ws[-1].shape[1])}")
    fws = [_new_fw(net, T) for _ in range(Bn)]
    vs = [[np.zeros(l["n_out"]) for l in net[:-1]] for _ in range(Bn)]
    gs = [[np.zeros((T, l["n_out"])) for l in net] for _ in range(Bn)]
    g_aux = [[np.zeros((T, Ws[-1].shape[1])) for _ in aux] for _ in range(Bn)]
    o_aux = [[np.zeros((T, Ws[-1].shape[1])) for _ in aux] for _ in range(Bn)]
    loss_t = np.zeros((Bn, T))
    loss_aux_t = np.zeros((Bn, len(aux), T))
    windows = []
    for t0 in range(0, T, T_L):
        t1 = min(t0 + T_L, T)
        eff = _effective(net, Ws, bs)
        dWe = [np.zeros((l["n_in"], l["n_out"])) for l in net]
        dbe = [np.zeros(l["n_out"]) for l in net]
        dWa = [np.zeros_like(Wa) for Wa, _ in aux]
        dba = [np.zeros_like(ba) for _, ba in aux]
        for b in range(Bn):
            fw = fws[b]
            _run_steps(net, eff, vs[b], X[b], t0, t1, nrn, _sample_masks(masks, b), fw)
            for k, (lo, hi) in enumerate(blocks):
                if k < len(blocks) - 1:
                    Wa, ba = aux[k]
                    hz = fw["s"][hi] @ G[k]
                    hJ = [[G[k]]] * T
                    go = np.zeros((T, Wa.shape[1]))
                    for t in range(t0, t1):
                        o_aux[b][k][t] = hz[t] @ Wa + ba
                        loss_aux_t[b, k, t], go[t] = step_loss(o_aux[b][k][t], Y[b], T, a, target)
                    g_aux[b][k][t0:t1] = go[t0:t1]
                    w, bb, wh, bh = _bptt_block(net, eff, fw, nrn, t0, t1, lo, hi, Wa, hz, hJ, go, gs[b])
                    dWa[k] += wh
                    dba[k] += bh
                else:
                    go = np.zeros((T, net[-1]["n_out"]))
                    for t in range(t0, t1):
                        loss_t[b, t], go[t] = step_loss(fw["o"][t], Y[b], T, a, target)
                    gs[b][L - 1][t0:t1] = go[t0:t1]
                    w, bb, wh, bh = _bptt_block(net, eff, fw, nrn, t0, t1, lo, hi, eff[L - 1][0],
                                                fw["z"][L - 1], fw["J"][L - 1], go, gs[b])
                    dWe[L - 1] += wh
                    dbe[L - 1] += bh
                for l in w:
                    dWe[l] += w[l]
                    dbe[l] += bb[l]
        gW, gb = _finish(net, [d / Bn for d in dWe], [d / Bn for d in dbe], bs)
        gaux = [(dWa[k] / Bn, dba[k] / Bn) for k in range(len(aux))]
        windows.append(dict(t0=t0, t1=t1, gW=gW, gb=gb, gaux=gaux))
        for l in range(L):
            Ws[l] = Ws[l] - lr * gW[l]
            if bs[l] is not None:
                bs[l] = bs[l] - lr * gb[l]
        aux = [(Wa - lr * gWa, ba - lr * gba) for (Wa, ba), (gWa, gba) in zip(aux, gaux)]
    recs = []
    for b in range(Bn):
        r = _rec(fws[b], gs[b], fws[b]["z"], None, loss_t[b])
        r["g_aux"], r["o_aux"], r["loss_aux_t"] = g_aux[b], o_aux[b], loss_aux_t[b]
        recs.append(r)
    return dict(W=Ws, b=bs, aux=aux, loss=float(loss_t.sum(1).mean()),
                loss_aux=[float(v) for v in loss_aux_t.sum(2).mean(0)], windows=windows,
                blocks=blocks, rec=recs)
