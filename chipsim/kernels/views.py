"""A layer's views into the arenas of the records (chipsim/kernels/records.py says why the
arrays of every layer live in one flat arena per kind): ``weights(P, Ly)`` is the (rows, cout)
weight matrix of the layer whose LAYOUT record is ``Ly``, and so on. Inlined into the kernels."""

from __future__ import annotations

from chipsim.kernels.conv import is_dense, kernel_read_t
from chipsim.kernels.jit import kernel
from chipsim.kernels.records import Scratch, State


@kernel(inline=True)
def weights(P, Ly):
    return P.w[Ly.o_w:Ly.o_w + Ly.rows * Ly.cout].reshape((Ly.rows, Ly.cout))


@kernel(inline=True)
def weight_nonzeros(S, Ly):
    """A convolution's non-zero weights per kernel row (k*k*Cin; empty for a dense layer)."""
    return S.wnz[Ly.o_wnz:Ly.o_wnz + (0 if is_dense(Ly) else Ly.rows)]


@kernel(inline=True)
def kernel_t(S, Ly):
    """A convolution's transposed kernel for its error pass (error.transpose_kernel), stored
    (Cin, k*k*Cout) where conv.kernel_read_t, (k*k*Cout, Cin) otherwise; empty for a dense
    layer."""
    if not Ly.wt_n:
        return S.wT[:0].reshape((0, 0))
    wt = S.wT[Ly.o_wt:Ly.o_wt + Ly.rows * Ly.cout]
    if kernel_read_t(Ly, wt.itemsize):
        return wt.reshape((Ly.cin, Ly.k * Ly.k * Ly.cout))
    return wt.reshape((Ly.k * Ly.k * Ly.cout, Ly.cin))


@kernel(inline=True)
def bias(P, Ly):
    return P.b[Ly.o_b:Ly.o_b + Ly.cout]


@kernel(inline=True)
def acc_weights(G, Ly):
    n = Ly.rows if Ly.acc else 0
    return G.gw[Ly.o_gw:Ly.o_gw + n * Ly.cout].reshape((n, Ly.cout))


@kernel(inline=True)
def acc_bias(G, Ly):
    """The bias accumulator of a layer that keeps one and has a bias (empty otherwise)."""
    return G.gb[Ly.o_gb:Ly.o_gb + (Ly.cout if Ly.acc and Ly.has_bias else 0)]


@kernel(inline=True)
def mom_weights(G, Ly):
    """Momentum buffer of W (same offset as W); empty without momentum."""
    n = Ly.rows * Ly.cout if G.mw.shape[0] > 0 else 0
    return G.mw[Ly.o_w:Ly.o_w + n]


@kernel(inline=True)
def mom_bias(G, Ly):
    return G.mb[Ly.o_b:Ly.o_b + (Ly.cout if G.mb.shape[0] > 0 else 0)]


@kernel(inline=True)
def touched(G, Ly):
    return G.touched[Ly.o_touched:Ly.o_touched + (Ly.rows if Ly.acc else 0)]


@kernel(inline=True)
def output(S, Ly):
    return S.out[Ly.o_out:Ly.o_out + Ly.n_out]


@kernel(inline=True)
def out_grad(S, Ly):
    """(B, TH, n_out): the output gradient of every sample and history slot."""
    return S.g[Ly.o_g:Ly.o_g + S.B * S.TH * Ly.n_out].reshape((S.B, S.TH, Ly.n_out))


@kernel(inline=True)
def ev_idx(S, Ly):
    return S.ev_idx[Ly.o_ev:Ly.o_ev + S.TH * S.B * Ly.ev_m].reshape((S.TH, S.B, Ly.ev_m))


@kernel(inline=True)
def ev_val(S, Ly):
    return S.ev_val[Ly.o_ev:Ly.o_ev + S.TH * S.B * Ly.ev_m].reshape((S.TH, S.B, Ly.ev_m))


@kernel(inline=True)
def trace(S, Ly):
    return trace_in(S.traces, S, Ly)


@kernel(inline=True)
def trace_in(arena, S, Ly):
    """A layer's (B, trace_n) traces in ``arena``: S.traces, or its pipelined copy S.trace_p."""
    return arena[Ly.o_trace:Ly.o_trace + S.B * Ly.trace_n].reshape((S.B, Ly.trace_n))


@kernel(inline=True)
def potential(S, Ly):
    """v (B, n) of a LIF layer."""
    return S.v[Ly.o_v:Ly.o_v + S.B * Ly.n_out].reshape((S.B, Ly.n_out))


@kernel(inline=True)
def u_hist(S, Ly):
    return S.u_h[Ly.o_uh:Ly.o_uh + S.TH * S.B * Ly.n_out].reshape((S.TH, S.B, Ly.n_out))


@kernel(inline=True)
def spk_hist(S, Ly):
    return S.spk_h[Ly.o_uh:Ly.o_uh + S.TH * S.B * Ly.n_out].reshape((S.TH, S.B, Ly.n_out))


@kernel(inline=True)
def error(S, Ly):
    return S.E[Ly.o_E:Ly.o_E + Ly.n_out]


@kernel(inline=True)
def surr(S, Ly):
    return S.SG[Ly.o_E:Ly.o_E + Ly.n_out]


@kernel(inline=True)
def delta(S, Ly):
    return S.delta[Ly.o_v:Ly.o_v + S.B * Ly.n_out].reshape((S.B, Ly.n_out))


@kernel(inline=True)
def mask(S, Pp):
    """(B, size) dropout mask of a population, (B, 0) when it has none."""
    n = Pp.size if Pp.masked else 0
    return S.masks[Pp.o_mask:Pp.o_mask + S.B * n].reshape((S.B, n))


@kernel(inline=True)
def spike_map(S, Pp):
    return S.smap[Pp.o_map:Pp.o_map + (Pp.size if Pp.has_map else 0)]


@kernel(inline=True)
def worker_state(S, w):
    """The State worker ``w`` sees: the per-sample arrays as they are, and row ``w`` of the
    per-worker buffers (a layer's current output, error and surrogate, spike maps, pooling and
    error scratch), which hold one sample at a time."""
    return worker_rows(S, w, w)


@kernel(inline=True)
def worker_rows(S, w, k):
    """worker_state(S, w) with row ``k`` of the surrogate buffers: a pipelined sample's
    forward writes the surrogates of step t into row t % 2 while the error pass of step t - 1
    reads the other (loop._pipelined_schedule)."""
    return State(S.B, S.TH, S.v, S.u_h, S.spk_h, S.spk_n, S.out[w], S.hit[w], S.masks,
                 S.ev_idx, S.ev_val, S.ev_n, S.pmax[w], S.ptouch[w], S.traces, S.trace_p,
                 S.osum, S.g, S.E[w], S.SG[k], S.smap[w], S.epost[w], S.edone[w], S.delta,
                 S.isyn, S.dsyn, S.ostate, S.dro, S.wnz, S.wT)


@kernel(inline=True)
def unit_state(S, w):
    """worker_state(S, 0), the buffers of the one sample whose forward the workers share, with
    worker ``w``'s rows of the scratch a forward unit uses and leaves nothing in (``hit``,
    ``pmax``, ``ptouch``): units of different layers and steps may then run at once
    (loop._coop_wave)."""
    return State(S.B, S.TH, S.v, S.u_h, S.spk_h, S.spk_n, S.out[0], S.hit[w], S.masks,
                 S.ev_idx, S.ev_val, S.ev_n, S.pmax[w], S.ptouch[w], S.traces, S.trace_p,
                 S.osum, S.g, S.E[0], S.SG[0], S.smap[0], S.epost[0], S.edone[0], S.delta,
                 S.isyn, S.dsyn, S.ostate, S.dro, S.wnz, S.wT)


@kernel(inline=True)
def worker_scratch(scr, w):
    """Row ``w`` of every work array of the Scratch record (one row per worker)."""
    return Scratch(scr.gnz[w], scr.fired[w], scr.scratch[w], scr.ones[w], scr.pos_nz[w],
                   scr.tsum[w], scr.wt0[w], scr.wt1[w], scr.wt2[w], scr.taps[w],
                   scr.rows[w], scr.prm[w], scr.gblk[w], scr.h_cnt[w], scr.h_cur[w],
                   scr.h_t[w], scr.h_e[w], scr.h_idx[w], scr.h_val[w], scr.h_ptr[w],
                   scr.h_gnz[w], scr.h_ngt[w], scr.h_sum[w], scr.h_upd[w])


@kernel(inline=True)
def neuron_slice(nrn, Ly):
    """One LIF layer's (lam, theta, cin, vr, theta_f) per-neuron arrays."""
    a, b = Ly.o_E, Ly.o_E + Ly.n_out
    return nrn.lam[a:b], nrn.theta[a:b], nrn.cin[a:b], nrn.vr[a:b], nrn.theta_f[a:b]


@kernel(inline=True)
def syn_decay(nrn, Ly):
    """One LIF layer's synaptic-current decay per neuron (CubaLIF)."""
    return nrn.syn[Ly.o_E:Ly.o_E + Ly.n_out]


@kernel(inline=True)
def syn_current(S, Ly):
    """i (B, n) of a CubaLIF layer."""
    return S.isyn[Ly.o_v:Ly.o_v + S.B * Ly.n_out].reshape((S.B, Ly.n_out))


@kernel(inline=True)
def syn_delta(S, Ly):
    """BPTT's carried error of the synaptic currents (B, n) of a CubaLIF layer."""
    return S.dsyn[Ly.o_v:Ly.o_v + S.B * Ly.n_out].reshape((S.B, Ly.n_out))


@kernel(inline=True)
def feedback(P, Ly, C):
    """DFA's B (n_out, C) of a LIF layer."""
    return P.fb[Ly.o_E * C:(Ly.o_E + Ly.n_out) * C].reshape((Ly.n_out, C))
