"""Plain-numpy reference implementations of the forward pass and every rule's gradient.

Written from the equations in reference/algorithms.md (§1 neuron, §2.1 BPTT, §3 OTTT, §4 SLTT),
dense and unoptimised, sharing no code with chipsim's kernels. Weights are (n_in, n_out) as in
chipsim; frames are (T, n_in) for one sample.
"""

from __future__ import annotations

import numpy as np


def H(x, h0):
    return ((x > 0) | ((x == 0) & (h0 == 1))).astype(np.float64)


def sg(x, kind, alpha):
    if kind == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-alpha * x))
        return alpha * s * (1.0 - s)
    return np.maximum(0.0, alpha - alpha * alpha * np.abs(x))


def loss_and_grad(o, y, T, a, target="onehot", B=1):
    C = o.shape[0]
    p = np.exp(o - o.max())
    p /= p.sum()
    ce = -np.log(p[y])
    tgt = np.eye(C)[y] if target == "onehot" else np.full(C, float(target))
    mse = np.mean((o - tgt) ** 2)
    g = ((1 - a) * (p - np.eye(C)[y]) + a * 2 * (o - tgt) / C) / (T * B)
    return ((1 - a) * ce + a * mse) / T, g


def layer_neuron(nrn, l):
    """Layer l's neuron: ``nrn`` is one dict for every layer (lam, theta, reset, h0, detach,
    decay_input, sg, alpha) or a list of per-layer dicts that may also give ``cin`` and ``vr``
    (the hard-reset potential), each a scalar or an array over the layer's neurons."""
    d = dict(nrn[l] if isinstance(nrn, (list, tuple)) else nrn)
    d.setdefault("cin", (1 - d["lam"]) if d.get("decay_input") else 1.0)
    d.setdefault("vr", 0.0)
    d.setdefault("syn", None)           # CubaLIF: i = syn * i + I, u = lam v + cin i
    return d


def forward(Ws, bs, x, nrn, readout_li=None):
    """Unrolled forward of one sample; returns per-layer u, s histories and outputs o[t].
    ``readout_li``: (lam, cin) of a leaky-integrator readout, o[t] = lam o[t-1] + cin (W s + b)."""
    T = x.shape[0]
    L = len(Ws)
    us = [np.zeros((T, W.shape[1])) for W in Ws[:-1]]
    ss = [np.zeros((T, W.shape[1])) for W in Ws[:-1]]
    o = np.zeros((T, Ws[-1].shape[1]))
    v = [np.zeros(W.shape[1]) for W in Ws[:-1]]
    isyn = [np.zeros(W.shape[1]) for W in Ws[:-1]]
    for t in range(T):
        inp = x[t].astype(np.float64)
        for l in range(L - 1):
            n = layer_neuron(nrn, l)
            I = inp @ Ws[l] + bs[l]
            if n["syn"] is not None:
                isyn[l] = n["syn"] * isyn[l] + I
                I = isyn[l]
            u = n["lam"] * v[l] + n["cin"] * I
            s = H(u - n["theta"], n["h0"])
            v[l] = u - n["theta"] * s if n["reset"] == "soft" else (1 - s) * u + s * n["vr"]
            us[l][t], ss[l][t] = u, s
            inp = s
        o[t] = inp @ Ws[-1] + bs[-1]
        if readout_li is not None:
            o[t] = readout_li[0] * (o[t - 1] if t else 0.0) + readout_li[1] * o[t]
    return us, ss, o


def grads_spatial(Ws, bs, x, y, nrn, a=0.05, trace_decay=None, first_trace=False, steps=None,
                  readout_li=None):
    """SLTT (trace_decay None) or OTTT_A (trace_decay given) gradients of one sample; an LI
    readout's state is detached like the neurons' (dL/dI[t] = cin dL/do[t])."""
    T = x.shape[0]
    L = len(Ws)
    us, ss, o = forward(Ws, bs, x, nrn, readout_li)
    gW = [np.zeros_like(W) for W in Ws]
    gb = [np.zeros_like(b) for b in bs]
    pres = [x.astype(np.float64)] + ss          # presynaptic activity of each layer, (T, n_in)
    traces = []
    for l, p in enumerate(pres):
        if trace_decay is None or (l == 0 and not first_trace):
            traces.append(p)
        else:
            tr = np.zeros_like(p)
            acc = np.zeros(p.shape[1])
            for t in range(T):
                acc = trace_decay * acc + p[t]
                tr[t] = acc
            traces.append(tr)
    loss = 0.0
    gs = [np.zeros((T, W.shape[1])) for W in Ws]   # postsynaptic gradient of each layer and step
    for t in range(T):
        lt, g = loss_and_grad(o[t], y, T, a)
        loss += lt
        if steps is not None and t not in steps:
            continue
        if readout_li is not None:
            g = readout_li[1] * g
        for l in range(L - 1, -1, -1):
            gs[l][t] = g
            gW[l] += np.outer(traces[l][t], g)
            gb[l] += g
            if l > 0:
                e = Ws[l] @ g
                n = layer_neuron(nrn, l - 1)
                g = n["cin"] * sg(us[l - 1][t] - n["theta"], n["sg"], n["alpha"]) * e
    return gW, gb, loss, o.sum(0), dict(us=us, ss=ss, gs=gs, traces=traces)


def grads_bptt(Ws, bs, x, y, nrn, a=0.05, readout_li=None):
    """BPTT gradients of one sample by the recursion of algorithms.md §2.1 (and hard reset);
    through an LI readout's leak too."""
    T = x.shape[0]
    L = len(Ws)
    us, ss, o = forward(Ws, bs, x, nrn, readout_li)
    gW = [np.zeros_like(W) for W in Ws]
    gb = [np.zeros_like(b) for b in bs]
    pres = [x.astype(np.float64)] + ss
    gos = []
    loss = 0.0
    for t in range(T):
        lt, g = loss_and_grad(o[t], y, T, a)
        loss += lt
        gos.append(g)
    dnext = [np.zeros(W.shape[1]) for W in Ws[:-1]]
    dsyn = [np.zeros(W.shape[1]) for W in Ws[:-1]]       # dL/di[t+1] of CubaLIF layers
    gs = [np.zeros((T, W.shape[1])) for W in Ws]
    dro = np.zeros(Ws[-1].shape[1])
    for t in range(T - 1, -1, -1):
        g = gos[t]
        if readout_li is not None:          # o[t] = lam o[t-1] + cin I[t]
            dro = g + readout_li[0] * dro
            g = readout_li[1] * dro
        gs[-1][t] = g
        gW[-1] += np.outer(pres[-1][t], g)
        gb[-1] += g
        for l in range(L - 2, -1, -1):
            e = Ws[l + 1] @ g
            u = us[l][t]
            n = layer_neuron(nrn, l)
            th, lam = n["theta"], n["lam"]
            sgv = sg(u - th, n["sg"], n["alpha"])
            if n["reset"] == "soft":
                k = 1.0 - (0.0 if n["detach"] else th * sgv)
            else:       # v = (1 - s) u + s vr: dv/du = 1 - s - (u - vr) sigma'
                k = (1.0 - H(u - th, n["h0"])) - (0.0 if n["detach"] else (u - n["vr"]) * sgv)
            delta = sgv * e + lam * dnext[l] * k
            dnext[l] = delta
            g = n["cin"] * delta
            if n["syn"] is not None:      # i[t] = syn i[t-1] + I[t]: dL/dI[t] = dL/di[t]
                g = g + n["syn"] * dsyn[l]
                dsyn[l] = g
            gs[l][t] = g
            gW[l] += np.outer(pres[l][t], g)
            gb[l] += g
    return gW, gb, loss, o.sum(0), dict(us=us, ss=ss, gs=gs)


def ottt_online(Ws, bs, x, y, nrn, lr, trace_decay, first_trace=False, a=0.05):
    """OTTT_O: forward one step, backward at that step with traces, SGD step; repeat."""
    Ws = [W.copy() for W in Ws]
    bs = [b.copy() for b in bs]
    T = x.shape[0]
    L = len(Ws)
    th, lam = nrn["theta"], nrn["lam"]
    cin = (1 - lam) if nrn.get("decay_input") else 1.0
    v = [np.zeros(W.shape[1]) for W in Ws[:-1]]
    tr = [np.zeros(W.shape[0]) for W in Ws]
    loss = 0.0
    osum = 0.0
    for t in range(T):
        inp = x[t].astype(np.float64)
        pres, us = [inp], []
        for l in range(L - 1):
            u = lam * v[l] + cin * (inp @ Ws[l] + bs[l])
            s = H(u - th, nrn["h0"])
            v[l] = u - th * s if nrn["reset"] == "soft" else (1 - s) * u
            us.append(u)
            inp = s
            pres.append(s)
        o = inp @ Ws[-1] + bs[-1]
        osum = osum + o
        lt, g = loss_and_grad(o, y, T, a)
        loss += lt
        for l in range(L):
            tr[l] = trace_decay * tr[l] + pres[l]
        new_W, new_b = [W.copy() for W in Ws], [b.copy() for b in bs]
        for l in range(L - 1, -1, -1):
            pre = pres[l] if (l == 0 and not first_trace) else tr[l]
            new_W[l] -= lr * np.outer(pre, g)
            new_b[l] -= lr * g
            if l > 0:
                g = cin * sg(us[l - 1] - th, nrn["sg"], nrn["alpha"]) * (Ws[l] @ g)
        Ws, bs = new_W, new_b
    return Ws, bs, loss, osum
