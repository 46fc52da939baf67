"""The per-step loss of a classifier and its gradient (chipsim/learning/losses.py declares the
kinds): ``L[t] = ((1 - a) CE(o[t], y) + a MSE(o[t], target)) / T``, averaged over the batch;
TET's loss is this form with the constant target phi and a = lambda."""

from __future__ import annotations

import numpy as np

from chipsim.kernels.jit import kernel


@kernel
def loss_grad(o, y, T, B, loss, g):
    """Per-step loss of one sample and its gradient dL/do, written to g (batch mean, /T)."""
    mse_w = loss.mse_w
    onehot = loss.onehot
    tgt_const = loss.tgt_const
    C = o.shape[0]
    m = o[0]
    for c_ in range(1, C):
        if o[c_] > m:
            m = o[c_]
    se = 0.0
    for c_ in range(C):
        se += np.exp(o[c_] - m)
    lse = m + np.log(se)
    ce = lse - o[y]
    mse = 0.0
    for c_ in range(C):
        if onehot:
            tgt = 1.0 if c_ == y else 0.0
        else:
            tgt = tgt_const
        d = o[c_] - tgt
        mse += d * d
        p = np.exp(o[c_] - lse)
        gce = p - (1.0 if c_ == y else 0.0)
        g[c_] = ((1.0 - mse_w) * gce + mse_w * 2.0 * d / C) / (T * B)
    mse /= C
    return ((1.0 - mse_w) * ce + mse_w * mse) / T
