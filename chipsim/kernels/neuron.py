"""The LIF neuron (docs/DESIGN.md "Neurons"): charge, fire, reset, and the surrogate derivative.

Per step, per neuron (the parameters per neuron: chipsim.kernels.records.Neuron)::

    u[t] = lam * v[t-1] + cin * I[t]         (cin = 1 - lam with decay_input, else 1)
    s[t] = H(u[t] - theta)                   (H(0) = h0)
    v[t] = u[t] - theta * s[t]   (soft)   or   (1 - s[t]) * u[t] + s[t] * vr   (hard)

Surrogates sigma'(x), x = u - theta: sigmoid ``alpha * sig(alpha x) * (1 - sig(alpha x))`` or
triangle ``max(0, alpha - alpha^2 |x|)``.
"""

from __future__ import annotations

import numpy as np

from chipsim.kernels.jit import kernel
from chipsim.kernels.libm import exp
from chipsim.kernels.records import SURROGATE_SIGMOID
from chipsim.kernels.update import on_grid


@kernel
def heaviside(x, h0):
    """Spike function H(x) with H(0) = h0 (True: fire on equality, as OTTT/SLTT; False: TET)."""
    if x > 0.0:
        return 1
    if x == 0.0 and h0:
        return 1
    return 0


@kernel(inline=True)
def surrogate(x, kind, alpha):
    """sigma'(x): sigmoid alpha*sig(alpha x)(1-sig(alpha x)), or triangle max(0, alpha - alpha^2 |x|)."""
    if kind == SURROGATE_SIGMOID:
        one = np.float32(1.0)          # keeps float32 arithmetic float32 (exact in float64)
        # 1 / (1 + e) without Python's division-by-zero check (1 + e is never 0), whose
        # branch would keep the loop in surrogates() from vectorising
        s = np.reciprocal(one + exp(-alpha * x))
        return alpha * s * (one - s)
    y = alpha - alpha * alpha * abs(x)
    return y if y > 0.0 else 0.0


@kernel(inline=True)
def _charge(v, I, lam, theta, cin, vr, a, b, hz):
    """One neuron's step: (u, s, the new v); a, b: soft (1, 0) or hard (0, 1) reset."""
    ui = lam * v + cin * I
    x = ui - theta
    s = np.uint8(x > 0.0) | (hz & np.uint8(x == 0.0))     # H(x), H(0) = h0
    return ui, s, (a * x + b * vr if s else ui)


@kernel
def lif(I, v, u, spk_idx, lam, theta, cin, vr, uni, soft, h0, qv, lim_v, fired):
    """Charge, fire, reset one LIF layer of one sample; returns the number of spikes, whose
    indices go to ``spk_idx``. ``lam``, ``theta``, ``cin``, ``vr``: the layer's per-neuron
    leak, threshold, input scale and hard-reset potential (float64); ``uni``: every neuron
    has the same four (Neuron.uniform), read once as scalars (the same arithmetic, without
    streaming 32 bytes of parameters per neuron); ``soft``: subtract theta
    (else set to vr); ``h0``: fire on equality. ``qv`` > 0: the stored state v is held on a
    fixed-point grid (step qv, range +-lim_v).

    Branch-free, so that it vectorises and does not mispredict on spikes: the update marks the
    neurons that fire in ``fired`` (uint8 scratch), then their indices are compacted into
    ``spk_idx`` by always writing and advancing only on a spike (7x faster than branching),
    eight flags at a time, skipping the words with none.
    A soft reset keeps x = u - theta (1 x + 0 vr: the same bits), a hard one vr (0 x + 1 vr)."""
    nn = I.shape[0]
    hz = np.uint8(1) if h0 else np.uint8(0)
    a = 1.0 if soft else 0.0
    b = 1.0 - a
    fl = fired[:nn]
    if uni and nn > 0:
        lam0, theta0, cin0, vr0 = lam[0], theta[0], cin[0], vr[0]
        for i in range(nn):
            u[i], fl[i], v[i] = _charge(v[i], I[i], lam0, theta0, cin0, vr0, a, b, hz)
    else:
        for i in range(nn):
            u[i], fl[i], v[i] = _charge(v[i], I[i], lam[i], theta[i], cin[i], vr[i], a, b, hz)
    if qv != 0.0:
        for i in range(nn):
            v[i] = on_grid(v[i], qv, lim_v, 0.5)
    # eight flags at a time: a word of zeros (no spike among eight neurons, the common case)
    # is skipped; the indices and their order are those of the plain loop
    n = 0
    n8 = nn - nn % 8
    words = fl[:n8].view(np.uint64)
    for q in range(words.shape[0]):
        if words[q] != 0:
            for i in range(8 * q, 8 * q + 8):
                spk_idx[n] = i
                n += fl[i]
    for i in range(n8, nn):
        spk_idx[n] = i
        n += fl[i]
    return n


@kernel
def syn_filter(I, i, syn):
    """A CubaLIF layer's synaptic current: i = syn * i + I per neuron, then I = i (the layer
    charges with its current)."""
    for j in range(I.shape[0]):
        v = syn[j] * i[j] + I[j]
        i[j] = v
        I[j] = v


@kernel
def li_readout(out, o, lam, cin):
    """A leaky-integrator readout: o = lam * o + cin * (W s + b) per output, then out = o."""
    for j in range(out.shape[0]):
        v = lam[j] * o[j] + cin[j] * out[j]
        o[j] = v
        out[j] = v


#: surrogates() looks for membrane potentials that are exactly 0 in blocks of this many
#: neurons (one position's channels in the conv net's first layer)
ZERO_BLOCK = 16


@kernel
def surrogates(u, theta, uni, kind, alpha, out):
    """out[j] = sigma'(u[j] - theta[j]) for one layer (theta per neuron and alpha in u's
    dtype; ``uni``: every theta the same, read once).

    The sigmoid's exp is ``libm.exp``: the C library's bits without its call, and
    ``surrogate`` is inlined at Numba's level (LLVM would not inline it, with expd, into this
    loop), so the loop vectorises: 3.3x (float32) and 2.3x (float64) faster than with the
    C library's exp on 18,496 neurons (benchmarks/bench_surrogates.py).

    With one threshold, a neuron whose u is exactly 0 (one that has had no input: 35-47 % of
    the conv net's, whole positions at a time) has sigma'(0 - theta), the same bits for
    every one of them: blocks of ZERO_BLOCK such neurons are filled with it, computed once,
    and the exp runs over the stretches between them. On the conv net's own potentials, in
    cache, 1.1-1.6x faster on layer 0 and 1.3-1.5x on layer 1; where no block is zero the
    search costs 2 % (0.98x; bench_surrogates.py --conv-net). In the trainer, where BPTT
    reads u back from its history, bptt's error pass at batch 32 on one thread fell by 17 %
    (docs/PERFORMANCE.md). u = -0.0 gives the same bits as +0.0 (exp(+-0) = 1, |+-0| = 0),
    whatever theta."""
    n = out.shape[0]
    if uni and n > 0:
        theta0 = theta[0]
        z = out[0]           # sigma'(0 - theta): from the first zero met (any theta, even inf)
        have_z = False
        nb = n // ZERO_BLOCK
        i = 0
        while i < nb:
            i0 = i                               # a stretch of blocks of zeros
            while i < nb and _zero_block(u, i * ZERO_BLOCK):
                i += 1
            if i > i0:
                if not have_z:
                    z = surrogate(u[i0 * ZERO_BLOCK] - theta0, kind, alpha)
                    have_z = True
                out[i0 * ZERO_BLOCK:i * ZERO_BLOCK] = z
            i0 = i                               # then one of blocks with a non-zero u
            while i < nb and not _zero_block(u, i * ZERO_BLOCK):
                i += 1
            if i > i0:
                _surrogate_run(u[i0 * ZERO_BLOCK:i * ZERO_BLOCK], theta0, kind, alpha,
                               out[i0 * ZERO_BLOCK:i * ZERO_BLOCK])
        if n > nb * ZERO_BLOCK:
            _surrogate_run(u[nb * ZERO_BLOCK:], theta0, kind, alpha, out[nb * ZERO_BLOCK:])
    else:
        for j in range(out.shape[0]):
            out[j] = surrogate(u[j] - theta[j], kind, alpha)


@kernel
def _surrogate_run(u, theta0, kind, alpha, out):
    """out[j] = sigma'(u[j] - theta0): the loop that vectorises (its own function: inside
    surrogates()'s search for blocks of zeros, LLVM left it scalar, 2x slower)."""
    for j in range(out.shape[0]):
        out[j] = surrogate(u[j] - theta0, kind, alpha)


@kernel(inline=True)
def _zero_block(u, j0):
    """Whether u[j0:j0 + ZERO_BLOCK] are all exactly 0 (+0.0 or -0.0). The index is unsigned:
    with a signed one Numba adds a test for a negative index to every read; with it, and the
    zeros filled one by one, surrogates() took 13.0 us on 18,496 zeros, against 8.7 now (a
    scratch measurement, docs/PERFORMANCE.md)."""
    nz = False
    b = np.uint64(j0)
    for q in range(ZERO_BLOCK):
        nz |= u[b + np.uint64(q)] != 0.0
    return not nz
