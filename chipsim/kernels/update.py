"""Applying updates: SGD with torch semantics (momentum, weight decay), the fixed-point
rounding of the chip number format, and the counts of the apply sweep.

Fixed point (chipsim.learning.trainer.Trainer.set_number_format): a value is held on the grid
of step q within [-lim, lim - q]; the membrane state and traces round to nearest, weight
updates round stochastically (unbiased) with a counter-based generator seeded per batch from
the trainer's seeded numpy Generator (DESIGN.md: random numbers come from a seeded Generator).
"""

from __future__ import annotations

import numpy as np

from chipsim.counts import (LEARN, MEM_READ_GRAD, MEM_READ_WEIGHT, MEM_WRITE_GRAD,
                            MEM_WRITE_WEIGHT, WEIGHT_UPDATE_ISSUED, WEIGHT_UPDATE_SKIPPED)
from chipsim.kernels.jit import kernel
from chipsim.kernels.views import (acc_bias, acc_weights, bias, mom_bias, mom_weights, touched,
                                   weights)


@kernel(inline=True)
def uniform(state):
    """A uniform [0, 1) number from a counter-based generator (splitmix64)."""
    state[0] += np.uint64(0x9E3779B97F4A7C15)
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@kernel(inline=True)
def on_grid(x, q, lim, r):
    """The one rounding helper: x on the fixed-point grid of step q > 0, range
    [-lim, lim - q], rounded down after adding r (0.5: to nearest; uniform in [0, 1):
    stochastically)."""
    y = np.floor(x / q + r) * q
    if y > lim - q:
        return lim - q
    if y < -lim:
        return -lim
    return y


@kernel(inline=True)
def round_sr(x, q, lim, state):
    """x on the grid of step q with stochastic rounding; q = 0 (floating point): x, and no
    random number is drawn."""
    if q == 0.0:
        return x
    return on_grid(x, q, lim, uniform(state))


@kernel
def count_sweep(c, n, issued):
    """Counts of one plain-SGD apply sweep over n parameters of which ``issued`` changed:
    every accumulator word read and cleared, a weight read-modify-write where the update is
    non-zero, the rest skipped."""
    c[WEIGHT_UPDATE_ISSUED] += issued
    c[WEIGHT_UPDATE_SKIPPED] += n - issued
    c[MEM_READ_GRAD] += n
    c[MEM_WRITE_GRAD] += n
    c[MEM_READ_WEIGHT] += issued
    c[MEM_WRITE_WEIGHT] += issued


@kernel
def apply_one(x, gx, mx, opt, c, wq, wlim, rs):
    """SGD (torch semantics) on one flattened parameter x with accumulator gx and momentum
    buffer mx; clears the accumulator."""
    lr = opt.lr
    momentum = opt.momentum
    wd = opt.wd
    issued = 0
    n = x.shape[0]
    for i in range(n):
        d = gx[i]
        if wd != 0.0:
            d += wd * x[i]
        if momentum != 0.0:
            mx[i] = momentum * mx[i] + d
            d = mx[i]
        if d != 0.0:
            x[i] -= lr * d
            if wq != 0.0:
                x[i] = round_sr(x[i], wq, wlim, rs)
            issued += 1
        gx[i] = 0.0
    count_sweep(c, n, issued)
    if momentum != 0.0:   # the momentum buffer is read and written too
        c[MEM_READ_GRAD] += n
        c[MEM_WRITE_GRAD] += n
    if wd != 0.0:         # weight decay reads every weight, not only the updated ones
        c[MEM_READ_WEIGHT] += n - issued


@kernel(inline=True)
def sgd_row(w, d, lr):
    """w -= lr * d where d != 0; returns how many changed. (The fixed-point variant, which draws
    random numbers, is a separate loop so that this one vectorises.)"""
    n = 0
    for k in range(w.shape[0]):
        dk = d[k]
        if dk != 0.0:
            w[k] -= lr * dk
            n += 1
    return n


@kernel(inline=True)
def sgd_row_fixed(w, d, lr, wq, wlim, rs):
    """w -= lr * d where d != 0, each changed weight rounded stochastically to its grid."""
    n = 0
    for k in range(w.shape[0]):
        if d[k] != 0.0:
            w[k] = round_sr(w[k] - lr * d[k], wq, wlim, rs)
            n += 1
    return n


@kernel
def apply_rows(W, G, touched, lr, c, wq, wlim, rs):
    """Plain SGD on the touched rows only; untouched rows hold a zero gradient (skipped)."""
    n_in, n_out = W.shape
    issued = sgd_rows(W, G, touched, lr, 0, n_in, wq, wlim, rs)
    count_sweep(c, n_in * n_out, issued)


@kernel(inline=True)
def sgd_rows(W, G, touched, lr, r0, r1, wq, wlim, rs):
    """Plain SGD on the touched rows among r0..r1-1, each then cleared (accumulator and mark);
    returns how many weights changed. Rows are independent where no rounding draws random
    numbers (wq = 0), so workers can each take their own. (apply_rows's loop as it was, on
    whole rows; sgd_block takes a worker's columns.)"""
    n_out = W.shape[1]
    issued = 0
    for j in range(r0, r1):
        if not touched[j]:
            continue
        touched[j] = 0
        rw = W[j]
        rg = G[j]
        if wq == 0.0:
            issued += sgd_row(rw, rg, lr)
        else:
            issued += sgd_row_fixed(rw, rg, lr, wq, wlim, rs)
        for k in range(n_out):
            rg[k] = 0.0
    return issued


@kernel
def sgd_block(W, G, touched, lr, r0, r1, c0, c1, wq, wlim, rs, clear):
    """Plain SGD on columns c0..c1-1 of the touched rows among r0..r1-1, their accumulator
    then cleared, and the rows' marks too where ``clear`` (a worker that shares the rows with
    others by columns leaves them to be cleared after); returns how many weights changed."""
    issued = 0
    for j in range(r0, r1):
        if not touched[j]:
            continue
        if clear:
            touched[j] = 0
        rw = W[j][c0:c1]
        rg = G[j][c0:c1]
        if wq == 0.0:
            issued += sgd_row(rw, rg, lr)
        else:
            issued += sgd_row_fixed(rw, rg, lr, wq, wlim, rs)
        for k in range(rg.shape[0]):
            rg[k] = 0.0
    return issued


@kernel(inline=True)
def add_to_bias(bias, k, d, wq, wlim, rs):
    """The one bias helper for updates written straight into the biases (no accumulator):
    bias[k] += d (d = -lr * gradient), held on the weight grid in fixed point."""
    bias[k] += d
    if wq != 0.0:
        bias[k] = round_sr(bias[k], wq, wlim, rs)


@kernel
def apply_updates(P, G, lay, apply, opt, cnt, fmt):
    """Apply the accumulated gradients of every layer with ``apply[l]``; counts into cnt
    (L, P, A), learning phase.

    Counts describe a sweep over every weight's accumulator (read, clear) with a weight
    read-modify-write where the update is non-zero. Plain SGD only visits the rows that received
    a contribution (the others are exactly zero); momentum or weight decay visit every weight.
    """
    for l in range(lay.shape[0]):
        if not apply[l]:      # applied already (BPTT rows summed into the weights)
            continue
        Ly = lay[l]
        c = cnt[l, LEARN]
        W = weights(P, Ly)
        wq = fmt.qw[l]
        wl = fmt.limw[l]
        if opt.momentum == 0.0 and opt.wd == 0.0:
            apply_rows(W, acc_weights(G, Ly), touched(G, Ly), opt.lr, c, wq, wl, fmt.rs)
        else:
            apply_one(W.reshape(-1), acc_weights(G, Ly).reshape(-1), mom_weights(G, Ly), opt, c,
                      wq, wl, fmt.rs)
            touched(G, Ly)[:] = 0
        if Ly.has_bias == 1:
            apply_one(bias(P, Ly), acc_bias(G, Ly), mom_bias(G, Ly), opt, c, wq, wl, fmt.rs)
