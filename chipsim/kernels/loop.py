"""The per-batch loop: one call runs a whole batch (B samples, T time steps, every layer), so
Python pays its call overhead once per batch, not once per step or layer.

A rule (chipsim/learning/) chooses the schedule through the Rule record:

- ``ROUTE_SPATIAL`` (SLTT, OTTT, and inference): per step, every sample goes forward through
  every layer, updates its presynaptic traces (layers with FACTOR_TRACE), and, at the steps of
  ``rule.step_mask``, runs the spatial backward pass of that step; the update is applied every
  such step (APPLY_STEP, OTTT_O) or once after the last step (APPLY_END).
- ``ROUTE_TEMPORAL`` (BPTT, tbptt_local): steps go forward in windows of ``rule.window``,
  keeping the history of the window; then backward through the window in reverse time (the
  temporal route), and the update is applied after every window.

In a backward step the auxiliary classifiers go first, then the readout, then the LIF layers
top-down; each computes its output gradient (error.spatial_route or error.temporal_route) and
sends its error to the layer below (error.error_to_source, with the weights as they were
before the update); then, in the same layer order, each adds its weight gradient
(wgrad.weight_grad, or a batch-level product, below). Work shared by a batch
(applying the update) is attributed to the batch's last sample; counts are kept per sample and
time step (``cnt`` (B, T, L, P, A)).

Threads. A step's samples are independent until their weight gradients meet, so each step
runs in phases:

1. the samples (``_samples``): forward, traces and the error pass of the backward (routes and
   errors into the layer below, top-down), split over workers by whole samples; each worker
   has its own rows of the buffers that hold one sample at a time (views.worker_state,
   worker_scratch). A sample's arithmetic is the same whichever worker runs it.
2. the weight gradients (``_wgrads``), layer by layer in the backward order: every sample in
   order, split over workers by output columns in fixed blocks (records.WGRAD_BLOCK), so each
   weight receives the same additions in the same order as with one thread (a dense layer at
   batch > 1 on the spatial route takes its rows a tile at a time, every sample within a
   tile, ``_dense_batch_share``: the same additions in the same order, with each row read
   from memory once per tile). A convolution at
   batch > 1 instead sums the batch's dense-enough sample-steps in one BLAS product per chunk
   over their stacked im2col (``_stacked_wgrad``; workers stack, the chunks and the choice of
   sample-steps do not depend on the workers; a round holds a chunk per worker, or more of a
   smaller layer, ``_round_chunks``; its products, each whole or, a large one, in fixed
   blocks of output rows, in equal parts, ``_chunk_units``), then the
   sparse ones event by event, in order, shared by weight rows (``_tail_share``: each worker
   walks its own rows' kernel taps over the events, so a row's additions come in event
   order whoever makes them).
   On the temporal route a dense layer's gradient is summed per row from the window's
   history after the error pass (wgrad.wgrad_from_history), shared by rows (``_history_share``:
   each row's sums are one worker's), except at batch 1 with plain SGD, where the sums update
   the weights in row order on one worker.
3. the update (``_apply``): at batch > 1 a large layer's plain-SGD update (APPLY_SPLIT
   weights or more, no rounding) shared by the gradient's column blocks (or rows, where a
   layer has fewer blocks than workers); the rest, its counts and the biases on one thread.

The samples of phase 1 are handed out by a shared ticket (``sync.fetch_add``): a worker takes
the next sample when it has finished its last, so none waits at the end for a slower one.

At batch 1 there are no samples to share. The forward of each step is then shared by blocks
of output rows (``_coop_forward``): a LIF convolution's rows are cut into COOP_BLOCKS blocks
per worker, each its synapses (synapse.scatter_rows) and then its neurons; the workers take
the step's units (a layer's input events, its blocks, the join of its blocks' spikes, or a
whole layer that is not cut) in order from a ticket, each when the units before its phase
are done. Inference runs it step by step; BPTT and tbptt_local run a window's steps in one
job, in waves (``_coop_wave``): the next step's first layer beside this step's upper layers,
each unit once what it reads is done. A spatial rule that updates once per sample
(SLTT, SLTT-K, OTTT_A) on a network with a convolution pipelines the sample's steps on two
workers instead (``_pipelined_schedule``, chosen by trainer.pipelined), in three stages:
the forward, traces and surrogates of step t (``_pipe_forward``) beside the error pass of
step t - 1 and then the weight gradients of step t - 2 (``_pipe_stage``), none of which reads
what another writes (each step's history slot, t % PIPE_SLOTS; its surrogates' row and its
traces' copy in S.trace_p, t % 2; the weights change only after the last step). BPTT and
tbptt_local at batch 1 pipeline their backward pass through a window (``_wave``): one worker
runs the error pass step by step, announcing each layer's output gradient as soon as it is
made; the other computes each layer's weight gradient once it is announced, in the same
order as on one worker.

So counts, weights and losses are bit-identical for every thread count. Nothing a worker
writes is read by another in the same phase: a sample's counts, state and output gradients
are its own; a weight's gradient is one worker's. A rule that writes updates straight into the
weights (``rule.direct``: batch 1) runs its weight gradients in one worker, in layer order
(their stochastic rounding draws from one generator).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from chipsim.counts import (INFER, LEARN, MEM_READ_HIST, MEM_READ_STATE, MEM_READ_TRACE,
                            MEM_WRITE_HIST, MEM_WRITE_STATE, MEM_WRITE_TRACE, NB_DENSE_OPS,
                            NEURON_UPDATE_ACTIVE, NEURON_UPDATE_IDLE, OUTPUT_ERROR, SPIKE,
                            SURROGATE_EVAL, SYN_CURRENT_UPDATE, TRACE_UPDATE)
from chipsim.kernels.arrays import add, axpy, copy, gemm, gemm_rows, nonzero, row_apart
from chipsim.kernels.conv import is_dense, pos_nnz, tap_sums
from chipsim.kernels.error import (dfa_error, error_to_source, li_route, spatial_route,
                                   syn_route, temporal_route, transpose_kernel)
from chipsim.kernels.jit import kernel
from chipsim.kernels.loss import loss_grad
from chipsim.kernels.neuron import li_readout, lif, surrogates, syn_filter
from chipsim.kernels.records import (APPLY_END, APPLY_STEP, CLK_APPLY, CLK_BATCH, CLK_HISTORY,
                                     CLK_PRODUCTS, CLK_SAMPLES, CLK_STACK, CLK_TAIL, CLK_WGRADS,
                                     CLK_WINDOW, CLOCKS, COOP_BLOCKS, DONE, EV_BUF,
                                     FACTOR_TRACE, FEEDBACK_FIXED, TICKET, TICKETS,
                                     FEEDBACK_WT, OUT_READOUT,
                                     OUT_SPIKE_COUNT, PIPE_SLOTS, ROLE_LIF, ROLE_REC,
                                     ROLE_READOUT, ROUND_CHUNKS, ROUTE_TEMPORAL, SGQ,
                                     STACK_FLOATS, STACK_ROUND, STACK_ROWS, W_PHASES, W_PRODUCTS,
                                     W_STACK, W_TAIL, WGRAD_BLOCK,
                                     Scratch, Stack)
from chipsim.kernels.views import (acc_bias, acc_weights, bias, delta, error, ev_idx, ev_val, mask,
                                   feedback, kernel_t, mom_bias, neuron_slice, out_grad, output,
                                   potential,
                                   spike_map,
                                   spk_hist, surr, syn_current, syn_decay, syn_delta,
                                   touched, trace, trace_in, u_hist, weight_nonzeros, weights,
                                   unit_state, worker_rows, worker_scratch, worker_state)
from chipsim.kernels.synapse import (fill_spike_map, layer_events, row_nonzeros, scatter,
                                     scatter_rows, transform)
from chipsim.kernels.sync import cycles, fetch_add, load, pause, prefetch
from chipsim.kernels.update import (apply_one, apply_updates, count_sweep, on_grid, sgd_block,
                                    sgd_rows)
from chipsim.kernels.wgrad import (TILE_FLOATS, add_nonzero, add_rows, bias_grads,
                                   conv_pairs, conv_tap_grads, count_accumulated, dense_enough,
                                   factor_count, stack_product, weight_grad,
                                   wgrad_from_history)


@kernel(inline=True)
def _stack_pairs(Ly, npairs):
    """Sample-steps per chunk of a layer's stacked product: all npairs when they fit
    (records.STACK_FLOATS, STACK_ROWS), else the largest power of two that fits, so that the
    sample-steps of a batch of a power-of-two size cut into equal chunks, which two or four
    workers share evenly (records.STACK_ROWS)."""
    pos = Ly.hout * Ly.wout
    per = pos * Ly.k * Ly.k * Ly.cin
    m = max(1, min(STACK_FLOATS // per, STACK_ROWS // pos))
    if npairs <= m:
        return npairs
    p2 = m - m + 1
    while 2 * p2 <= m:
        p2 *= 2
    return p2


@kernel(inline=True)
def _round_chunks(Ly, per, nw, ncol, ng, npair, nchunk, nprod):
    """How many chunks of layer Ly (``per`` sample-steps each) a round of its stacked product
    holds: one per worker, or, when Ly's chunks are smaller than those the stack was sized
    for, as many as it has room for (``ncol``, ``ng``: its floats of im2col and of output
    gradient; ``npair``: its slots; ``nchunk``: rows of its table of chunks; ``nprod``: floats
    of products), at most ROUND_CHUNKS. Fewer rounds start the workers fewer times; the chunks
    and the order of their additions do not change."""
    pos = Ly.hout * Ly.wout
    R = Ly.k * Ly.k * Ly.cin
    per = max(per, 1)       # (no sample-step to stack: a batch that does not learn)
    m = min(ncol // (per * pos * R), ng // (per * pos * Ly.cout), npair // per, nchunk,
            nprod // (R * Ly.cout), ROUND_CHUNKS)
    return max(min(nw, nchunk), m)


@kernel(inline=True)
def _clock_worker(stk, L, kind, w, c0):
    """Adds the cycles since c0 to worker w's time in phase ``kind`` (records.W_*) of a
    network of L layers, atomically (the workers of one job add at once)."""
    fetch_add(stk.clock, CLOCKS + L + W_PHASES * w + kind, cycles() - c0)


@kernel(inline=True)
def _clock(stk, k, c0):
    """Adds the cycles since ``c0`` to phase k of stk.clock; returns the counter now."""
    now = cycles()
    stk.clock[k] += now - c0
    return now


@kernel(inline=True)
def _stacks(Ly, B):
    """A layer's weight gradient as batch-level products: a convolution at batch > 1."""
    return B > 1 and not is_dense(Ly)


@kernel(allocates=True)
def _scratch(lay, P, T, fused, temporal, NW, B, steps):
    """Work arrays sized for the largest layer, one row per worker (the history-summed
    gradient's for the largest layer that uses it, empty when none does); the stacked
    products' for a batch of B samples with ``steps`` steps per backward pass."""
    L = lay.shape[0]
    maxn = 1
    maxpos = 1
    for l in range(L):
        Ly = lay[l]
        maxn = max(maxn, Ly.n_out, Ly.rows)
        maxpos = max(maxpos, Ly.hout * Ly.wout)
    f = P.w.dtype
    # convolution scratch (three separate arrays, so copies between them vectorise): im2col
    # matrices; the transposed kernel, weight-gradient product or dense input map; padded maps.
    ncol = 1
    nmat = 1
    nmap = 1
    npin = 1
    ntap = 1
    nrow = 1
    for l in range(L):
        Ly = lay[l]
        if not is_dense(Ly):
            k_ = Ly.k
            nt = k_ * k_
            pin = Ly.hin * Ly.win
            pout = Ly.hout * Ly.wout
            ci = Ly.cin
            co = Ly.cout
            hp = max(Ly.hin + 2 * Ly.pad, (Ly.hout - 1) * Ly.stride + k_)
            wp = max(Ly.win + 2 * Ly.pad, (Ly.wout - 1) * Ly.stride + k_)
            gpad = (Ly.hin + k_ - 1) * (Ly.win + k_ - 1) * co
            ncol = max(ncol, pin * nt * co, pout * nt * ci)
            nmat = max(nmat, nt * ci * co, pin * ci)
            nmap = max(nmap, gpad, hp * wp * ci)
            npin = max(npin, pin)
            ntap = max(ntap, nt)
            nrow = max(nrow, Ly.hout * Ly.win)
    # a column block of one sample-step's output gradient (wgrad.conv_wgrad_block)
    nblk = 1
    if ncol > 1:
        nblk = min(maxn, WGRAD_BLOCK) * maxpos
    # the history-summed gradient's arrays, sized for the largest layer that uses it: its
    # rows, outputs and input events per step (a pooled map's events are the source
    # population's, up to ev_m, several to a row)
    nh = 0
    for l in range(L):
        if temporal and fused[l] != 0:
            nh = max(nh, lay[l].n_out, lay[l].rows, lay[l].ev_m)
    tn = T if nh > 0 else 0
    # (the spike flags' rows whole words of 8: neuron.lif reads them eight at a time; the
    # small rows every worker writes all the time, a line apart: arrays.row_apart)
    scr = Scratch(np.empty((NW, maxn), dtype=np.int64),
                  np.empty((NW, (maxn + 7) // 8 * 8), dtype=np.uint8),
                  np.empty((NW, maxn), dtype=f), np.ones((NW, maxn), dtype=f),
                  np.empty((NW, maxpos), dtype=np.int64), np.empty((NW, npin), dtype=np.int64),
                  np.empty((NW, ncol), dtype=f), np.empty((NW, nmat), dtype=f),
                  np.empty((NW, nmap), dtype=f),
                  np.empty((NW, row_apart(2 * ntap, 8)), dtype=np.int64),
                  np.empty((NW, nrow), dtype=np.int64),
                  np.empty((NW, row_apart(2, P.w.itemsize)), dtype=f),
                  np.empty((NW, nblk), dtype=f),
                  np.empty((NW, nh + 1 if nh > 0 else 0), dtype=np.int64),
                  np.empty((NW, nh), dtype=np.int64), np.empty((NW, tn * nh), dtype=np.int64),
                  np.empty((NW, tn * nh), dtype=np.int64),
                  np.empty((NW, tn * nh), dtype=np.int64), np.empty((NW, tn * nh), dtype=f),
                  np.empty((NW, tn + 1 if nh > 0 else 0), dtype=np.int64),
                  np.empty((NW, tn * nh), dtype=np.int64), np.empty((NW, tn), dtype=np.int64),
                  np.empty((NW, nh), dtype=f), np.zeros((NW, row_apart(L, 8)), dtype=np.int64))
    ncs = 0
    ngs = 0
    npr = 0
    for l in range(L):
        Ly = lay[l]
        if _stacks(Ly, B):
            q = _stack_pairs(Ly, B * steps)
            pos = Ly.hout * Ly.wout
            cs = q * pos * Ly.k * Ly.k * Ly.cin
            gs = q * pos * Ly.cout
            c = max(1, STACK_ROUND // max(cs + gs, 1))   # whole chunks per worker
            ncs = max(ncs, c * cs)
            ngs = max(ngs, c * gs)
            npr = max(npr, c * q)
    # a round's chunks (one per worker, or more of a smaller layer) and their products (as
    # many as ROUND_CHUNKS, so the last two limits of _round_chunks do not bind here)
    nch = NW
    npd = 0
    for l in range(L):
        Ly = lay[l]
        if _stacks(Ly, B):
            m = _round_chunks(Ly, _stack_pairs(Ly, B * steps), NW, NW * ncs, NW * ngs, NW * npr,
                              ROUND_CHUNKS, ROUND_CHUNKS * Ly.k * Ly.k * Ly.cin * Ly.cout)
            nch = max(nch, m)
            npd = max(npd, m * Ly.k * Ly.k * Ly.cin * Ly.cout)
    one_zero = np.zeros(2, dtype=f)
    one_zero[0] = 1.0
    # a BPTT window's shared forward in waves (_coop_wave): its counters and order of units
    nwave = 0
    if B == 1 and NW > 1 and temporal and steps > 0:
        nwave = steps * (L + 1) + L + steps * L * (2 + COOP_BLOCKS * NW)
    # its backward on two workers (_wave): the surrogates' counters per step
    nsgq = 0
    if B == 1 and NW > 1 and temporal and steps > 0:
        nsgq = SGQ * (steps + 1)
    stk = Stack(np.empty(NW * ncs, dtype=f), np.empty(NW * ngs, dtype=f),
                np.empty(B * steps, dtype=np.uint8), np.empty(NW * npr, dtype=np.int64),
                np.empty((nch + 1, 3), dtype=np.int64), np.empty(npd, dtype=f), one_zero,
                np.zeros(TICKETS, dtype=np.int64),
                np.zeros(L * COOP_BLOCKS * NW, dtype=np.int64),
                np.zeros(nwave, dtype=np.int64), np.zeros(nsgq, dtype=np.int64),
                np.zeros(CLOCKS + lay.shape[0] + W_PHASES * NW, dtype=np.int64))
    return scr, stk


@kernel(inline=True)
def _forward(t, b, th, T, net, P, S, x, nrn, loss, fmt, scr, cnt, loss_out, learning, temporal,
             backward_now):
    """One sample, one step, every layer: input transform, synapses, then LIF or classifier."""
    lay = net.layout
    for l in range(lay.shape[0]):
        if lay[l].role == ROLE_REC:          # computed with its layer (_recurrent_input)
            continue
        _layer_input(l, t, b, th, net, S, x, scr, cnt, learning, temporal)
        _layer_forward(l, t, b, th, T, net, P, S, x, nrn, loss, fmt, scr, cnt, loss_out,
                       learning, temporal, backward_now)


@kernel
def _layer_input(l, t, b, th, net, S, x, scr, cnt, learning, temporal):
    """Layer l's input events at step t, when it keeps them (EV_BUF): the source's events
    through the population's dropout mask and the layer's pooling, into its event buffer.
    (This and _layer_forward are called, not inlined: inlined into _forward and again into
    _coop_forward, they made the first run from a clean clone 194 s instead of 171 s.)"""
    lay = net.layout
    pops = net.pops
    Ly = lay[l]
    if Ly.evk != EV_BUF:
        return
    src = Ly.src
    if src == 0:
        n_ev = transform(x.idx, x.val, x.ptr[b, t], x.ptr[b, t + 1], np.bool_(False),
                         mask(S, pops[0])[b], Ly, S.pmax, S.ptouch, ev_idx(S, Ly)[th, b],
                         ev_val(S, Ly)[th, b])
    else:
        mask_l = mask(S, pops[src])[b] if Ly.nomask == 0 else S.pmax[:0]
        n_ev = transform(spk_hist(S, lay[src - 1])[th, b], scr.ones, np.int64(0),
                         S.spk_n[src - 1, th, b], np.bool_(True), mask_l, Ly, S.pmax, S.ptouch,
                         ev_idx(S, Ly)[th, b], ev_val(S, Ly)[th, b])
    S.ev_n[l, th, b] = n_ev
    if learning and temporal:
        cnt[b, t, l, LEARN][MEM_WRITE_HIST] += n_ev


@kernel
def _layer_forward(l, t, b, th, T, net, P, S, x, nrn, loss, fmt, scr, cnt, loss_out, learning,
                   temporal, backward_now):
    """Layer l at step t, from its input events: synapses, then LIF or classifier."""
    lay = net.layout
    B = x.ptr.shape[0]
    Ly = lay[l]
    c = cnt[b, t, l, INFER]
    out = output(S, Ly)
    idx, val, e0, e1 = layer_events(lay, l, b, th, t, x, S, scr.ones)
    scatter(weights(P, Ly), bias(P, Ly), idx, val, e0, e1, Ly, out, S.hit,
            weight_nonzeros(S, Ly), scr.taps, c)
    c[NB_DENSE_OPS] += Ly.dense_ops
    if Ly.role == ROLE_LIF:
        if Ly.rec >= 0:          # + W_rec s[t-1]
            _recurrent_input(t, b, th, l, net, P, S, scr, cnt, out, learning, temporal)
        lam, theta, cin, vr, _ = neuron_slice(nrn, Ly)
        if nrn.cuba[l]:          # CubaLIF: the synaptic current i = syn * i + I charges it
            syn_filter(out, syn_current(S, Ly)[b], syn_decay(nrn, Ly))
            c[SYN_CURRENT_UPDATE] += out.shape[0]
        ns = lif(out, potential(S, Ly)[b], u_hist(S, Ly)[th, b], spk_hist(S, Ly)[th, b], lam,
                 theta, cin, vr, nrn.uniform[l], nrn.soft[l], nrn.h0[l], fmt.qv, fmt.lim_v,
                 scr.fired)
        _spikes_out(l, t, b, th, out.shape[0], ns, S, cnt, learning, temporal)
        if nrn.out_kind != OUT_READOUT and l == lay.shape[0] - 1:   # a spiking output
            _spike_output(t, b, th, T, B, Ly, S, x, nrn, loss, ns, out, cnt[b, t, l, LEARN],
                          loss_out, learning and (temporal or backward_now))
    else:
        if Ly.role == ROLE_READOUT and nrn.ro_li:    # a leaky-integrator readout
            li_readout(out, S.ostate[b], nrn.ro_lam, nrn.ro_cin)
        lv = loss_grad(out, x.labels[b], T, B, loss, out_grad(S, Ly)[b, th])
        if Ly.role == ROLE_READOUT:
            for c_ in range(out.shape[0]):
                S.osum[b, c_] += out[c_]
            loss_out[b] += lv
        if learning and (temporal or backward_now):
            cl = cnt[b, t, l, LEARN]
            cl[OUTPUT_ERROR] += out.shape[0]
            if temporal:
                cl[MEM_WRITE_HIST] += out.shape[0]


@kernel(inline=True)
def _spikes_out(l, t, b, th, n_out, ns, S, cnt, learning, temporal):
    """LIF layer l's ns spikes at step t (listed in its history slot th; n_out neurons):
    their number kept and counted, and, when BPTT keeps the history, the layer's history
    write (u of every neuron and the spikes' indices). _layer_forward and the join of a
    shared forward's blocks (_coop_spikes) both end with it."""
    S.spk_n[l, th, b] = ns
    cnt[b, t, l, INFER][SPIKE] += ns
    if learning and temporal:
        cnt[b, t, l, LEARN][MEM_WRITE_HIST] += n_out + ns


# --- one sample's forward shared by the workers (batch 1) ----------------------------------
UNIT_LAYER = 0      # a layer's whole forward (input events, synapses, neurons or classifier)
UNIT_INPUT = 1      # a layer's input events (_layer_input)
UNIT_BLOCK = 2      # a block of a layer's output rows: their synapses, then their neurons
UNIT_SPIKES = 3     # the blocks' spikes joined into the layer's list, and counted


@kernel(inline=True)
def _coop_blocks(l, net, nrn, nw):
    """How many blocks of output rows layer l's forward is cut into when nw workers share a
    sample (0: it runs whole): a LIF convolution that is not recurrent, not CubaLIF and not
    the network's last layer."""
    Ly = net.layout[l]
    L = net.layout.shape[0]
    if (Ly.role == ROLE_LIF and Ly.hout > 1 and Ly.rec < 0 and not nrn.cuba[l]
            and l < L - 1):
        return min(Ly.hout, COOP_BLOCKS * nw)
    return nw - nw


@kernel(inline=True)
def _coop_unit(u, nw, net, nrn):
    """Unit u of a forward step shared by nw workers: (layer, UNIT_*, block, first unit of its
    phase). The units of a phase (a layer's blocks) may run at once; each other unit is a
    phase of its own; a phase starts when every unit before it is done. Past the last unit:
    (-1, -1, -1, the number of units)."""
    lay = net.layout
    p = u - u
    for l in range(lay.shape[0]):
        if lay[l].role == ROLE_REC:
            continue
        nb = _coop_blocks(l, net, nrn, nw)
        if nb == 0:
            if u == p:
                return l, UNIT_LAYER, p - p, p
            p += 1
            continue
        if lay[l].evk == EV_BUF:
            if u == p:
                return l, UNIT_INPUT, p - p, p
            p += 1
        if u < p + nb:
            return l, UNIT_BLOCK, u - p, p
        p += nb
        if u == p:
            return l, UNIT_SPIKES, p - p, p
        p += 1
    return p - p - 1, p - p - 1, p - p - 1, p


@kernel(inline=True)
def _coop_any(net, nrn, nw):
    """Whether sharing a sample's forward among nw workers splits any layer."""
    any_ = False
    for l in range(net.layout.shape[0]):
        any_ = any_ or _coop_blocks(l, net, nrn, nw) > 0
    return any_


@kernel
def _coop_forward(w, nw, t, th, T, net, P, S, x, nrn, loss, fmt, scr, stk, cnt, loss_out,
                  learning, temporal, backward_now):
    """Worker w's part of the forward of sample 0 at step t, shared by nw workers (batch 1):
    the step's units (_coop_unit) are taken in order from a shared ticket (stk.ticket[TICKET],
    zeroed by the caller), each run once, by whichever worker takes it, when the units before
    its phase are done (stk.ticket[DONE]). A LIF convolution runs as blocks of output rows
    (synapse.scatter_rows, then neuron.lif on the block's neurons, its spikes into the
    block's part of the layer's list), then one unit joins the spikes in order; every other
    layer runs whole. Each output receives the same additions in the same order as from
    ``_forward``, the spikes are listed in the same order, the counts (integers) sum to the
    same: the numbers are those of one worker. A worker waits only for units already taken,
    which their workers are running, so it cannot wait forever, however the workers are
    scheduled. Returns when no unit is left to take (others may still be running:
    _coop_wait)."""
    S0 = worker_state(S, w - w)           # the sample's buffers are worker 0's rows
    sw = worker_scratch(scr, w)
    b = w - w
    tk = stk.ticket
    u = fetch_add(tk, TICKET, 1)
    while True:
        l, kind, i, first = _coop_unit(u, nw, net, nrn)
        if l < 0:
            break
        while load(tk, DONE) < first:
            pause()
        _coop_run(l, kind, i, nw, t, b, th, T, net, P, S0, x, nrn, loss, fmt, sw, stk, cnt,
                  loss_out, learning, temporal, backward_now)
        fetch_add(tk, DONE, 1)
        u = fetch_add(tk, TICKET, 1)


@kernel(inline=True)
def _coop_run(l, kind, i, nw, t, b, th, T, net, P, S, x, nrn, loss, fmt, sw, stk, cnt,
              loss_out, learning, temporal, backward_now):
    """One unit (_coop_unit: layer l, kind, block i) of sample b's shared forward at step t
    (history slot th), on state S and worker scratch sw."""
    if kind == UNIT_LAYER:
        _layer_input(l, t, b, th, net, S, x, sw, cnt, learning, temporal)
        _layer_forward(l, t, b, th, T, net, P, S, x, nrn, loss, fmt, sw, cnt, loss_out,
                       learning, temporal, backward_now)
    elif kind == UNIT_INPUT:
        _layer_input(l, t, b, th, net, S, x, sw, cnt, learning, temporal)
    elif kind == UNIT_BLOCK:
        _coop_block(l, i, nw, t, b, th, net, P, S, x, nrn, fmt, sw, stk, cnt)
    else:
        _coop_spikes(l, nw, t, b, th, net, S, nrn, stk, cnt, learning, temporal)


@kernel(inline=True)
def _coop_rows(l, i, nw, net, nrn):
    """Block i's output rows y0..y1-1 of layer l (_coop_blocks blocks, as equal as can be)."""
    Ly = net.layout[l]
    nb = _coop_blocks(l, net, nrn, nw)
    return i * Ly.hout // nb, (i + 1) * Ly.hout // nb


@kernel(inline=True)
def _coop_block(l, i, nw, t, b, th, net, P, S, x, nrn, fmt, sw, stk, cnt):
    """Block i of layer l's output rows: their synapses (counted atomically, the blocks share
    the layer's counts), then their neurons, whose spikes go to the block's part of the
    layer's list (from its first neuron on, numbered from it; _coop_spikes joins them)."""
    lay = net.layout
    Ly = lay[l]
    y0, y1 = _coop_rows(l, i, nw, net, nrn)
    out = output(S, Ly)
    idx, val, e0, e1 = layer_events(lay, l, b, th, t, x, S, sw.ones)
    scatter_rows(weights(P, Ly), bias(P, Ly), idx, val, e0, e1, Ly, out, S.hit,
                 weight_nonzeros(S, Ly), sw.taps, cnt[b, t, l, INFER], y0, y1, np.bool_(True))
    n0 = y0 * Ly.wout * Ly.cout
    n1 = y1 * Ly.wout * Ly.cout
    lam, theta, cin, vr, _ = neuron_slice(nrn, Ly)
    _nspk(stk, l, lay.shape[0])[i] = lif(out[n0:n1], potential(S, Ly)[b][n0:n1], u_hist(S, Ly)[th, b][n0:n1],
                      spk_hist(S, Ly)[th, b][n0:], lam[n0:n1], theta[n0:n1], cin[n0:n1],
                      vr[n0:n1], nrn.uniform[l], nrn.soft[l], nrn.h0[l], fmt.qv, fmt.lim_v,
                      sw.fired)


@kernel(inline=True)
def _coop_spikes(l, nw, t, b, th, net, S, nrn, stk, cnt, learning, temporal):
    """Layer l's blocks' spikes joined, in block order, into the front of its list (each
    moves down, never up: a block's spikes start at its first neuron, after every spike
    before it), then counted as ``_layer_forward`` counts them."""
    Ly = net.layout[l]
    spk = spk_hist(S, Ly)[th, b]
    nb = _coop_blocks(l, net, nrn, nw)
    nspk = _nspk(stk, l, net.layout.shape[0])
    n = nw - nw
    for i in range(nb):
        n0 = _coop_rows(l, i, nw, net, nrn)[0] * Ly.wout * Ly.cout
        for q in range(nspk[i]):
            spk[n + q] = spk[n0 + q] + n0
        n += nspk[i]
    cnt[b, t, l, INFER][NB_DENSE_OPS] += Ly.dense_ops
    _spikes_out(l, t, b, th, Ly.n_out, n, S, cnt, learning, temporal)


@kernel(inline=True)
def _nspk(stk, l, L):
    """Layer l's part of stk.nspk: its blocks' spike counts."""
    m = stk.nspk.shape[0] // L
    return stk.nspk[l * m:(l + 1) * m]


@kernel(inline=True)
def _wave_parts(stk, L, n):
    """stk.wave's parts for a window of n steps: units done per step and layer (n x L),
    layers complete per step (n), each layer's first unit in a step (L), the order (rest)."""
    w = stk.wave
    return w[:n * L], w[n * L:n * L + n], w[n * L + n:n * L + n + L], w[n * L + n + L:]


@kernel(inline=True)
def _wave_order(nw, n, net, nrn, stk):
    """Lays out the units of a window of n steps of a shared forward (_coop_wave) in waves:
    wave d holds the layer of rank r (its place among the layers the forward walks) of step
    d - r, first its input and whole-layer units, then its blocks, then its joins. Every unit
    a unit waits for is then earlier in the order (the layers below it at its step: earlier
    waves; its own layer at the step before: the wave before; its layer's input before its
    blocks, and its blocks before their join: earlier in the wave). Zeroes the counters;
    returns U, the units of a step."""
    lay = net.layout
    L = lay.shape[0]
    done, comp, first_u, order = _wave_parts(stk, L, n)
    U = _coop_unit(np.int64(1) << 40, nw, net, nrn)[3]
    done[:] = 0
    comp[:] = 0
    nrank = U - U
    for l in range(L):
        first_u[l] = -1
    for u in range(U):
        l = _coop_unit(u, nw, net, nrn)[0]
        if first_u[l] < 0:
            first_u[l] = u
            nrank += 1
    g = U - U
    for d in range(n + nrank - 1):
        for cls in range(3):
            r = U - U - 1
            for u in range(U):
                l, kind, i, first = _coop_unit(u, nw, net, nrn)
                if first_u[l] == u:
                    r += 1
                c = 1 if kind == UNIT_BLOCK else (2 if kind == UNIT_SPIKES else 0)
                k = d - r
                if c == cls and k >= 0 and k < n:
                    order[g] = k * U + u
                    g += 1
    return U


@kernel
def _coop_wave(w, nw, t0, t1, T, net, P, S, x, nrn, loss, fmt, scr, stk, cnt, loss_out,
               learning, temporal):
    """Worker w's part of BPTT's forward through the window t0..t1-1 of sample 0 (batch 1),
    shared by nw workers in waves (_wave_order): the units of every step, taken from a shared
    ticket (stk.ticket[TICKET], zeroed by the caller) in the order of the waves, each run once,
    by whichever worker takes it, when what it reads is done: its layer's units before it at
    its step (its input before its blocks, its blocks before their join), the layers below
    it at its step, and its own layer at the step before. So the next step's first layer runs
    beside this step's upper layers, which one step at a time (_coop_forward) left a worker
    waiting through every serial unit (a layer's input, a join, the readout). Each step keeps
    its history in its own slot (t - t0) and each layer its own potentials, outputs and
    block counts (_nspk); the scratch a unit uses and leaves nothing in is the running
    worker's (views.unit_state). Each output receives the same additions in the same order
    as from _forward, and the counts sum to the same: the numbers are those of one
    worker."""
    lay = net.layout
    L = lay.shape[0]
    n = t1 - t0
    done, comp, first_u, order = _wave_parts(stk, L, n)
    U = _coop_unit(np.int64(1) << 40, nw, net, nrn)[3]
    Su = unit_state(S, w)
    sw = worker_scratch(scr, w)
    b = w - w
    tk = stk.ticket
    no = np.bool_(False)
    g = fetch_add(tk, TICKET, 1)
    while g < n * U:
        ku = order[g]
        k = ku // U
        u = ku - k * U
        l, kind, i, first = _coop_unit(u, nw, net, nrn)
        r = w - w           # the layer's rank: layers with a first unit before l's
        for m in range(L):
            if first_u[m] >= 0 and first_u[m] < first_u[l]:
                r += 1
        while (load(done, k * L + l) < first - first_u[l] or load(comp, k) < r
               or (k > 0 and load(comp, k - 1) < r + 1)):
            pause()
        _coop_run(l, kind, i, nw, t0 + k, b, k, T, net, P, Su, x, nrn, loss, fmt, sw, stk, cnt,
                  loss_out, learning, temporal, no)
        fetch_add(done, k * L + l, 1)
        if kind == UNIT_LAYER or kind == UNIT_SPIKES:      # the layer's last unit
            fetch_add(comp, k, 1)
        g = fetch_add(tk, TICKET, 1)


@kernel(inline=True)
def _coop_wait(net, nrn, nw, stk):
    """Wait until every unit of a shared forward step is done."""
    total = _coop_unit(np.int64(1) << 40, nw, net, nrn)[3]
    while load(stk.ticket, DONE) < total:
        pause()


@kernel
def _coop_sample(w, nw, t, th, T, net, P, S, x, nrn, loss, rule, fmt, scr, stk, cnt,
                 loss_out, learning, temporal, backward_now):
    """Worker w of nw on sample 0 at step t (batch 1): the forward shared (_coop_forward);
    then worker 0, once every unit is done, runs the traces and, on the spatial route at a
    learning step, the error pass, as _samples does."""
    _coop_forward(w, nw, t, th, T, net, P, S, x, nrn, loss, fmt, scr, stk, cnt, loss_out,
                  learning, temporal, backward_now)
    if w == 0:
        _coop_wait(net, nrn, nw, stk)
        if learning:
            S0 = worker_state(S, w)
            s0 = worker_scratch(scr, w)
            _traces(t, w, th, net, S0, x, rule, fmt, s0, cnt)
            if backward_now and not temporal:
                _backward(w, th, t, np.bool_(True), np.bool_(False), rule.feedback, net, P, S0,
                          nrn, s0, cnt, np.bool_(False), _silent(scr))


@kernel(inline=True)
def _recurrent_input(t, b, th, l, net, P, S, scr, cnt, out, learning, temporal):
    """A recurrent LIF layer l at step t: its spikes of step t-1 become the input events of its
    W_rec row (copied into that row's event buffer, slot th, so that the weight gradient and a
    trace read them as any layer's), W_rec s[t-1] is scattered into the row's output and
    added to the layer's input current ``out`` (before the neuron update overwrites slot th).
    Counted on the W_rec row."""
    lay = net.layout
    Ly = lay[l]
    r = Ly.rec
    R = lay[r]
    n_ev = 0
    if t > 0:
        ps = th                              # the spatial route keeps one slot
        if temporal:                         # BPTT's window: the slot before (the last one
            ps = th - 1 if th > 0 else S.TH - 1   #   at a window's start)
        prev = spk_hist(S, Ly)[ps, b]
        n_ev = S.spk_n[l, ps, b]
        bi = ev_idx(S, R)[th, b]
        bv = ev_val(S, R)[th, b]
        for q in range(n_ev):
            bi[q] = prev[q]
            bv[q] = 1.0
    S.ev_n[r, th, b] = n_ev
    if learning and temporal:
        cnt[b, t, r, LEARN][MEM_WRITE_HIST] += n_ev
    c = cnt[b, t, r, INFER]
    rout = output(S, R)
    had_input = S.hit[0]                 # the layer (dense) received an input event this step
    scatter(weights(P, R), bias(P, R), ev_idx(S, R)[th, b], ev_val(S, R)[th, b], np.int64(0),
            n_ev, R, rout, S.hit, weight_nonzeros(S, R), scr.taps, c)
    c[NB_DENSE_OPS] += R.dense_ops
    # the neurons are the layer's: their update and state traffic are counted once, there
    # (active when W_in or W_rec brought an event)
    c[NEURON_UPDATE_ACTIVE] = 0
    c[NEURON_UPDATE_IDLE] = 0
    c[MEM_READ_STATE] = 0
    c[MEM_WRITE_STATE] = 0
    if n_ev > 0 and had_input == 0:
        cl = cnt[b, t, l, INFER]
        cl[NEURON_UPDATE_IDLE] -= Ly.n_out
        cl[NEURON_UPDATE_ACTIVE] += Ly.n_out
    for j in range(out.shape[0]):
        out[j] += rout[j]


@kernel(inline=True)
def _spike_output(t, b, th, T, B, Ly, S, x, nrn, loss, ns, out, cl, loss_out, counted):
    """The last LIF layer is the output: its ``ns`` spikes of this step (0/1 per class, in
    ``out``) are the step's outputs for the loss, whose gradient dL/ds is kept in the layer's
    output-gradient slot for the backward pass; summed over time (spike count) or, for the
    first spike, the class that fires first scores T - t."""
    spk = spk_hist(S, Ly)[th, b]
    for j in range(out.shape[0]):
        out[j] = 0.0
    for q in range(ns):
        out[spk[q]] = 1.0
    loss_out[b] += loss_grad(out, x.labels[b], T, B, loss, out_grad(S, Ly)[b, th])
    if nrn.out_kind == OUT_SPIKE_COUNT:
        for j in range(out.shape[0]):
            S.osum[b, j] += out[j]
    else:
        for j in range(out.shape[0]):
            if out[j] > 0.0 and S.osum[b, j] == 0.0:
                S.osum[b, j] = T - t
    if counted:
        cl[OUTPUT_ERROR] += out.shape[0]


@kernel
def _traces(t, b, th, net, S, x, rule, fmt, scr, cnt):
    """OTTT's presynaptic traces a[t] = decay * a[t-1] + input[t] of the layers that use them."""
    lay = net.layout
    for l in range(lay.shape[0]):
        if rule.factor[l] != FACTOR_TRACE:
            continue
        tr = trace(S, lay[l])[b]
        for j in range(tr.shape[0]):
            tr[j] *= rule.trace_decay
        idx, val, e0, e1 = layer_events(lay, l, b, th, t, x, S, scr.ones)
        for e in range(e0, e1):
            tr[idx[e]] += val[e]
        if fmt.qtr != 0.0:
            for j in range(tr.shape[0]):
                tr[j] = on_grid(tr[j], fmt.qtr, fmt.lim_tr, 0.5)
        cl = cnt[b, t, l, LEARN]
        cl[TRACE_UPDATE] += tr.shape[0]
        cl[MEM_READ_TRACE] += tr.shape[0]
        cl[MEM_WRITE_TRACE] += tr.shape[0]


@kernel(inline=True)
def _silent(scr):
    """An empty counter: an error pass given it announces nothing (_error_layer's ``tk``)."""
    return scr.gnz[0, :0]


@kernel
def _grad_nonzeros(Ly, g, scr):
    """g's non-zero entries (dense: their indices in ``scr.gnz``) and, per output position,
    their count (``scr.pos_nz``), and for a convolution the non-zero gradients each input
    position meets (``scr.tsum``). Returns how many."""
    npos = Ly.hout * Ly.wout
    if npos == 1:
        ng = nonzero(g, scr.gnz)
        scr.pos_nz[0] = ng
    else:
        ng = pos_nnz(g, Ly.cout, scr.pos_nz[:npos])
    if npos > 1 or Ly.k > 1:      # a convolution: non-zero gradients per input position
        tap_sums(Ly, scr.pos_nz, scr.tsum, scr.rows, scr.taps)
    return ng


@kernel
def _error_layer(l, b, th, first, temporal, fbk, net, P, S, nrn, scr, c, tk):
    """The error pass of one layer for one sample at one step (th: its history slot): its
    output gradient (the route), then the error it sends into its source population. ``tk``:
    a counter (stk.ticket, or empty: none) to which 1 is added, atomically, as soon as the
    output gradient is made, before the error into the source (``_wave``'s weight gradients
    read it from then on)."""
    lay = net.layout
    pops = net.pops
    Ly = lay[l]
    g = out_grad(S, Ly)[b, th]
    if Ly.role == ROLE_LIF:
        lam, theta, cin, vr, _ = neuron_slice(nrn, Ly)
        if temporal:
            temporal_route(g, surr(S, Ly), error(S, Ly), delta(S, Ly)[b], u_hist(S, Ly)[th, b],
                           lam, theta, cin, vr, nrn.uniform[l], nrn.soft[l], nrn.detach,
                           nrn.h0[l], first, c)
            if nrn.cuba[l]:          # and back through the synaptic current's decay
                syn_route(g, syn_delta(S, Ly)[b], syn_decay(nrn, Ly), first, c)
        else:
            spatial_route(g, surr(S, Ly), error(S, Ly), cin, nrn.uniform[l])
    elif Ly.role == ROLE_READOUT and nrn.ro_li:      # back through the LI readout
        li_route(g, S.dro[b], nrn.ro_lam, nrn.ro_cin, first, temporal, c)
    if tk.shape[0] > 0:
        fetch_add(tk, DONE, 1)
    src = Ly.src
    if src > 0 and Ly.detach == 0 and fbk == FEEDBACK_WT:   # into the source, pre-update W
        ng = _grad_nonzeros(Ly, g, scr)
        Ls = lay[src - 1]
        mask_l = mask(S, pops[src])[b] if Ly.nomask == 0 else S.epost[:0]
        error_to_source(weights(P, Ly), kernel_t(S, Ly), g, scr.gnz, ng, Ly, surr(S, Ls), mask_l,
                        spike_map(S, pops[src]), error(S, Ls), S.epost, S.edone, scr.tsum,
                        (scr.wt0, scr.wt1, scr.wt2), scr.taps, c)


@kernel
def _recurrent_error(l, b, th, net, P, S, scr, c):
    """BPTT through a recurrent layer l's W_rec (backwards, at step t = slot th): the output
    gradient of step t+1 (slot th + 1, kept from the step before in this sweep) reaches the
    layer's spikes of step t, E[j] += sum_k W_rec[j, k] g[t+1][k], where sigma'(u[t]) is non-zero
    (as every error into a source: error_to_source, through W_rec^T, counted there)."""
    lay = net.layout
    Ly = lay[l]
    R = lay[Ly.rec]
    g = out_grad(S, R)[b, th + 1]
    ng = _grad_nonzeros(R, g, scr)
    error_to_source(weights(P, R), kernel_t(S, R), g, scr.gnz, ng, R, surr(S, Ly), S.epost[:0],
                    spike_map(S, net.pops[l + 1]), error(S, Ly), S.epost, S.edone, scr.tsum,
                    (scr.wt0, scr.wt1, scr.wt2), scr.taps, c)


@kernel(inline=True)
def _surrogate_rows(l, r0, r1, b, th, net, nrn, S, scr):
    """LIF layer l's surrogate derivatives, rows r0..r1-1, of one sample at one step (history
    slot th), into its surrogate buffer: one vectorised loop (the sigmoid's exp:
    kernels/libm.py, no libm call). Each row's value is its own, whoever computes it."""
    Ly = net.layout[l]
    prm = scr.prm      # the surrogate's alpha in the network's dtype (prm[0] unused)
    prm[1] = nrn.alpha
    theta_f = neuron_slice(nrn, Ly)[4]
    surrogates(u_hist(S, Ly)[th, b][r0:r1], theta_f[r0:r1], nrn.uniform[l], nrn.sg_kind,
               prm[1], surr(S, Ly)[r0:r1])


@kernel(inline=True)
def _surrogate_counts(b, t, temporal, net, cnt):
    """The counts of every LIF layer's surrogate derivatives of one sample at one step."""
    lay = net.layout
    for l in range(net.pops.shape[0] - 1):
        n = lay[l].n_out
        cl = cnt[b, t, l, LEARN]
        cl[SURROGATE_EVAL] += n
        if not temporal:     # u of this step from the neuron state (BPTT: from history)
            cl[MEM_READ_STATE] += n


@kernel
def _surrogates(b, th, t, temporal, net, nrn, S, scr, cnt):
    """Every LIF layer's surrogate derivatives of one sample at one step (history slot th),
    into its surrogate buffer, counted."""
    for l in range(net.pops.shape[0] - 1):
        _surrogate_rows(l, 0, net.layout[l].n_out, b, th, net, nrn, S, scr)
    _surrogate_counts(b, t, temporal, net, cnt)


#: BPTT's backward at batch 1 on two workers (_wave) shares a step's surrogates in chunks of
#: at most this many rows of a layer (about 2 us of work each)
SG_CHUNK = 2048


@kernel(inline=True)
def _sg_chunk(i, net):
    """Chunk i of a step's surrogates (SG_CHUNK rows of a LIF layer, layer by layer): its
    layer and rows (l, r0, r1); l = -1 past the last (i = 1 << 40: the count, as r0)."""
    lay = net.layout
    c = i - i
    for l in range(net.pops.shape[0] - 1):
        n = lay[l].n_out
        m = (n + SG_CHUNK - 1) // SG_CHUNK
        if i < c + m:
            r0 = (i - c) * SG_CHUNK
            return l, r0, min(n, r0 + SG_CHUNK)
        c += m
    return c - c - 1, c, c


@kernel(inline=True)
def _sg_take(s, t0, nch, net, nrn, S, scr, q):
    """Takes the next chunk of step s's surrogates (stk.sgq: q; nch chunks a step) and
    computes it, into surrogate row s % 2 of worker 0's State; False when every chunk is
    taken."""
    if load(q, SGQ * (s - t0)) >= nch:      # (read first: no write to a counter spent)
        return False
    i = fetch_add(q, SGQ * (s - t0), 1)
    l, r0, r1 = _sg_chunk(i, net)
    if l < 0:
        return False
    _surrogate_rows(l, r0, r1, s - s, s - t0, net, nrn, worker_rows(S, s - s, s % 2), scr)
    fetch_add(q, SGQ * (s - t0) + SGQ // 2, 1)
    return True


@kernel
def _backward(b, th, t, first, temporal, fbk, net, P, S, nrn, scr, cnt, sg_done, tk):
    """The error pass of one sample at one step: surrogates (unless ``sg_done``: computed
    already, _surrogates), then auxiliary classifiers, then readout -> input (weight
    gradients follow in _wgrads); each layer's output gradient announced on ``tk``
    (_error_layer)."""
    lay = net.layout
    pops = net.pops
    L = lay.shape[0]
    n_lif = pops.shape[0] - 1
    if not sg_done:
        _surrogates(b, th, t, temporal, net, nrn, S, scr, cnt)
    for l in range(n_lif):
        Ly = lay[l]
        if nrn.out_kind != OUT_READOUT and l == L - 1:   # the spiking output: dL/ds[t]
            copy(error(S, Ly), out_grad(S, Ly)[b, th])
        else:
            error(S, Ly)[:] = 0.0
        if pops[l + 1].has_map:
            fill_spike_map(spk_hist(S, Ly)[th, b], S.spk_n[l, th, b], spike_map(S, pops[l + 1]))
    if fbk != FEEDBACK_WT:               # DFA, e-prop: B_l e_out into every LIF layer, no W^T
        ro = lay[n_lif]
        g_out = out_grad(S, ro)[b, th]
        for l in range(n_lif):
            Ly = lay[l]
            if fbk == FEEDBACK_FIXED:
                Bm = feedback(P, Ly, ro.cout)
            else:                        # symmetric: B = the readout's weights (n_last, C)
                Bm = weights(P, ro)
            dfa_error(Bm, g_out, error(S, Ly), cnt[b, t, l, LEARN])
    if temporal and not first:           # BPTT: W_rec g[t+1] reaches the spikes of step t
        for l in range(n_lif):
            if lay[l].rec >= 0:
                _recurrent_error(l, b, th, net, P, S, scr, cnt[b, t, lay[l].rec, LEARN])
    for l in range(n_lif + 1, L):        # auxiliary classifiers first
        if lay[l].role != ROLE_REC:      # (a W_rec row shares its layer's gradient)
            _error_layer(l, b, th, first, temporal, fbk, net, P, S, nrn, scr,
                         cnt[b, t, l, LEARN], tk)
    for l in range(min(n_lif, L - 1), -1, -1):   # then readout, LIF layers top-down
        _error_layer(l, b, th, first, temporal, fbk, net, P, S, nrn, scr, cnt[b, t, l, LEARN],
                     tk)


@kernel
def _kernel_tables(net, P, S, learning):
    """What the passes read of the convolutions' weights besides the weights, made from them
    as they are now, at the start of a batch and after each update: every convolution's non-
    zero weights per kernel row (the forward pass's effective ops, synapse.row_nonzeros) and,
    learning, the transposed kernels of those that send an error (error.transpose_kernel)."""
    lay = net.layout
    for l in range(lay.shape[0]):
        Ly = lay[l]
        if not is_dense(Ly):
            row_nonzeros(weights(P, Ly), weight_nonzeros(S, Ly))
        if learning and Ly.wt_n:
            transpose_kernel(weights(P, Ly), Ly, kernel_t(S, Ly))


# --- phase 1: the samples ------------------------------------------------------------------
@kernel
def _samples(w, nw, t, th, T, net, P, S, x, nrn, loss, rule, fmt, scr, stk, cnt, loss_out,
             learning, temporal, backward_now):
    """Worker w of nw, its samples at step t: forward, traces and, on the spatial route at a
    learning step, the error pass. One worker runs them all in order; several take the next
    sample from a shared ticket (stk.ticket[0], zeroed by the caller) until none is left, so
    that none waits for another at the end. A sample's results do not depend on its worker."""
    Sw = worker_state(S, w)
    sw = worker_scratch(scr, w)
    B = x.ptr.shape[0]
    yes = np.bool_(True)
    no = np.bool_(False)
    b = w - w
    while b < B:
        if nw > 1:
            b = fetch_add(stk.ticket, TICKET, 1)
            if b >= B:
                break
        _forward(t, b, th, T, net, P, Sw, x, nrn, loss, fmt, sw, cnt, loss_out, learning,
                 temporal, backward_now)
        if learning:
            _traces(t, b, th, net, Sw, x, rule, fmt, sw, cnt)
            if backward_now and not temporal:
                _backward(b, th, t, yes, no, rule.feedback, net, P, Sw, nrn, sw, cnt, no,
                          _silent(scr))
        b += 1


@kernel(inline=True)
def _run_samples(nw, t, th, T, net, P, G, S, x, nrn, loss, rule, opt, fmt, scr, stk, cnt,
                 loss_out, learning, temporal, backward_now):
    """Phase 1 of step t on nw workers: the samples shared among them (on the calling thread
    when there is one worker or one sample). One sample whose forward has a layer that can be
    cut into blocks of rows is shared by blocks (_coop_sample) in BPTT's forward and in
    inference; not on the spatial route when it learns (OTTT_O), where it measured 0.84-1.02x
    (its error pass and update, on one worker, follow every step)."""
    zero = nw * 0           # not a literal 0: a literal argument compiles a specialisation
    B = x.ptr.shape[0]
    ns = min(nw, B)
    if B == 1 and nw > 1 and (temporal or not learning) and _coop_any(net, nrn, nw):
        stk.ticket[TICKET] = 0
        stk.ticket[DONE] = 0
        _par(np.int64(JOB_COOP), nw, t, th, zero, zero, zero, zero, net, P, G, S, x, nrn,
             loss, rule, opt, fmt, scr, stk, cnt, loss_out, learning, temporal, backward_now)
    elif ns == 1:
        _samples(zero, ns, t, th, T, net, P, S, x, nrn, loss, rule, fmt, scr, stk, cnt,
                 loss_out, learning, temporal, backward_now)
    else:
        stk.ticket[TICKET] = 0
        _par(np.int64(JOB_SAMPLES), ns, t, th, zero, zero, zero, zero, net, P, G, S, x, nrn,
             loss, rule, opt, fmt, scr, stk, cnt, loss_out, learning, temporal, backward_now)


@kernel
def _window_back(w, nw, t0, t1, net, P, S, x, nrn, scr, cnt):
    """Worker w of nw, its share of the samples: BPTT's error pass through the window t0..t1-1
    in reverse time, with the history reads it makes."""
    Sw = worker_state(S, w)
    sw = worker_scratch(scr, w)
    B = x.ptr.shape[0]
    for b in range(w * B // nw, (w + 1) * B // nw):
        for t in range(t1 - 1, t0 - 1, -1):
            _back_step(b, t, t0, t1, net, P, S, Sw, nrn, sw, cnt, np.bool_(False), _silent(scr))


@kernel(inline=True)
def _back_step(b, t, t0, t1, net, P, S, Sw, nrn, sw, cnt, sg_done, tk):
    """BPTT's error pass of sample b at step t of the window t0..t1-1, with the history
    reads it makes (Sw, sw: the worker's State and scratch; ``sg_done``: the step's
    surrogates are in Sw's surrogate buffers already; ``tk``: as _backward's)."""
    lay = net.layout
    yes = np.bool_(True)
    fb_wt = t0 * 0 + FEEDBACK_WT     # typed, not a literal (one compiled _backward)
    for l in range(lay.shape[0]):
        Ly = lay[l]
        cl = cnt[b, t, l, LEARN]
        if Ly.role == ROLE_REC:
            pass                 # (no output of its own: its layer's current)
        elif Ly.role != ROLE_LIF:
            cl[MEM_READ_HIST] += Ly.n_out
        else:
            cl[MEM_READ_HIST] += Ly.n_out + S.spk_n[l, t - t0, b]
        if Ly.evk == EV_BUF:
            cl[MEM_READ_HIST] += S.ev_n[l, t - t0, b]
    _backward(b, t - t0, t, t == t1 - 1, yes, fb_wt, net, P, Sw, nrn, sw, cnt, sg_done, tk)


# --- phase 2: the weight gradients ---------------------------------------------------------
@kernel
def _wgrad_share(w, nw, l, t_lo, t_hi, t0, net, P, G, S, x, rule, opt, fmt, scr, cnt, ws, tr):
    """Worker w of nw, its columns of layer l's weight gradient (whole blocks of WGRAD_BLOCK):
    every sample in order, and for each the steps t_hi down to t_lo (history slot t - t0);
    or, a dense layer with fewer blocks of columns than workers (_dense_rows), its part of
    the rows, every column. Worker 0 counts the layer's work. ``ws``: the row of the scratch
    it works in (its own, w, except in a pipeline); ``tr``: the traces' arena it reads
    (S.traces, or a copy of them in S.trace_p in a pipeline)."""
    lay = net.layout
    Ly = lay[l]
    sw = worker_scratch(scr, ws)
    B = x.ptr.shape[0]
    Cout = Ly.cout
    nblk = (Cout + WGRAD_BLOCK - 1) // WGRAD_BLOCK
    c0 = min(Cout, (w * nblk // nw) * WGRAD_BLOCK)
    c1 = min(Cout, ((w + 1) * nblk // nw) * WGRAD_BLOCK)
    use_trace = rule.factor[l] == FACTOR_TRACE
    # a dense layer shared by workers at batch > 1 (the spatial route): tile by tile, which
    # spares the memory bandwidth the workers share (on one worker, sample by sample below
    # measured faster); the same bits either way (tests/test_threads.py compares them)
    if nw > 1 and _dense_tiles(Ly, B, t_lo, t_hi, rule, sw.gnz.shape[0]):
        n_in = acc_weights(G, Ly).shape[0]
        r0 = w - w          # (its columns, every row)
        r1 = n_in
        if _dense_rows(Ly, B, nw, t_lo, t_hi, rule, sw.gnz.shape[0]):
            c0 = w - w      # (its rows, every column)
            c1 = Cout
            r0 = w * n_in // nw
            r1 = (w + 1) * n_in // nw
        _dense_batch_share(w, l, t_hi, t0, c0, c1, r0, r1, net, G, S, x, rule, sw, cnt, tr)
        return
    for b in range(B):
        for t in range(t_hi, t_lo - 1, -1):
            th = t - t0
            g = out_grad(S, Ly)[b, th]
            ng = _grad_nonzeros(Ly, g, sw)
            idx, val, e0, e1 = layer_events(lay, l, b, th, t, x, S, sw.ones)
            weight_grad(weights(P, Ly), bias(P, Ly), acc_weights(G, Ly), acc_bias(G, Ly), g,
                        sw.gnz, ng, Ly, idx, val, e0, e1, trace_in(tr, S, Ly)[b], use_trace,
                        rule.direct, opt.lr, touched(G, Ly), sw.scratch, sw.pos_nz, sw.tsum,
                        (sw.wt0, sw.wt1, sw.wt2), sw.gblk, sw.taps, cnt[b, t, l, LEARN], fmt.qw[l], fmt.limw[l],
                        fmt.rs, c0, c1, w == 0)


@kernel(inline=True)
def _dense_tiles(Ly, B, t_lo, t_hi, rule, ngnz):
    """A dense layer's weight gradient at batch > 1 on the spatial route (one step), whose
    workers take it tile by tile (_dense_batch_share)."""
    return B > 1 and t_lo == t_hi and is_dense(Ly) and not rule.direct and B <= ngnz


@kernel(inline=True)
def _dense_rows(Ly, B, nw, t_lo, t_hi, rule, ngnz):
    """Such a layer with fewer blocks of columns (WGRAD_BLOCK) than workers (a readout of
    ten classes, one block): the workers share its rows instead, each every column (one
    worker took it all, the other waiting: 2 % of sltt's time at batch 32)."""
    return (_dense_tiles(Ly, B, t_lo, t_hi, rule, ngnz)
            and (Ly.cout + WGRAD_BLOCK - 1) // WGRAD_BLOCK < nw and Ly.rows >= 2 * nw)


@kernel
def _dense_batch_share(w, l, t, t0, c0, c1, r0, r1, net, G, S, x, rule, sw, cnt, tr):
    """Worker w's columns c0..c1-1 of rows r0..r1-1 of dense layer l's weight gradient at
    step t for the whole batch: the accumulator a tile of rows at a time (wgrad.TILE_FLOATS
    of the worker's columns) and, within a tile, sample by sample, each sample's events (or
    non-zero traces) in that tile adding factor x g where g is not zero. A row's slice is then
    read from memory once per tile, not once per event, and every weight receives the same
    additions in the same order as sample by sample (samples ascending, events in order), so
    no bit changes. Worker 0 counts, per sample, what weight_grad counts; the worker with
    row 0 adds the bias of its columns."""
    lay = net.layout
    Ly = lay[l]
    B = x.ptr.shape[0]
    th = t - t0
    use_trace = rule.factor[l] == FACTOR_TRACE
    unit = Ly.unit == 1 and not use_trace
    gW = acc_weights(G, Ly)
    gb = acc_bias(G, Ly)
    tch = touched(G, Ly)
    ngs = sw.gnz           # the samples' non-zero gradient counts (B <= its length)
    for b in range(B):
        g = out_grad(S, Ly)[b, th]
        n = 0
        for i in range(g.shape[0]):
            n += g[i] != 0.0
        ngs[b] = n
        if w == 0:
            idx, val, e0, e1 = layer_events(lay, l, b, th, t, x, S, sw.ones)
            nf = factor_count(Ly, e0, e1, trace_in(tr, S, Ly)[b], use_trace)
            c = cnt[b, t, l, LEARN]
            count_accumulated(c, Ly, use_trace, nf * n, n, True)
    tile = max(8, TILE_FLOATS // max(1, c1 - c0))
    for j0 in range(r0, r1, tile):
        j1 = min(r1, j0 + tile)
        for b in range(B):
            if ngs[b] == 0:
                continue
            g = out_grad(S, Ly)[b, th][c0:c1]
            full = ngs[b] == Ly.cout        # no zero to skip: the plain add (as grad_row)
            if use_trace:
                trb = trace_in(tr, S, Ly)[b]
                for j in range(j0, j1):
                    p = trb[j]
                    if p != 0.0:
                        if full:
                            axpy(gW[j][c0:c1], g, p)
                        else:
                            add_nonzero(gW[j][c0:c1], g, p, False)
                        if tch[j] == 0:
                            tch[j] = 1
            else:
                idx, val, e0, e1 = layer_events(lay, l, b, th, t, x, S, sw.ones)
                for q in range(e0, e1):
                    j = idx[q]
                    if j >= j0 and j < j1:
                        if full and unit:
                            add(gW[j][c0:c1], g)
                        elif full:
                            axpy(gW[j][c0:c1], g, val[q])
                        else:
                            add_nonzero(gW[j][c0:c1], g, val[q], unit)
                        if tch[j] == 0:
                            tch[j] = 1
    if Ly.has_bias == 1 and r0 == 0:
        for b in range(B):
            if ngs[b] > 0:
                bias_grads(gb, out_grad(S, Ly)[b, th], 1, Ly.cout, c0, c1)


JOB_SAMPLES = 0     # _par's jobs
JOB_WINDOW = 1
JOB_WGRAD = 2
JOB_STACK = 3
JOB_PIPE = 4
JOB_WAVE = 5
JOB_PRODUCTS = 6
JOB_TAIL = 8
JOB_COOP = 9
JOB_COOP_WAVE = 12
JOB_HISTORY = 10
JOB_APPLY = 11


@kernel(inline=True)
def _unrounded_sgd(l, opt, fmt):
    """Layer l's update is plain SGD without rounding: no random draw, so its weights are
    independent and workers can each update their own."""
    return opt.momentum == 0.0 and opt.wd == 0.0 and fmt.qw[l] == 0.0


@kernel(inline=True)
def _rows_apply(l, rule, opt, fmt):
    """Layer l's gradient is summed from the history into the accumulator (rule.fused 2) and
    its update is _unrounded_sgd: the workers apply it to their rows in _history_share, and
    apply_updates leaves its weights."""
    return rule.fused[l] == 2 and _unrounded_sgd(l, opt, fmt)


@kernel(inline=True)
def _shared_sweep(l, nw, P, G, Ly, opt, fmt, scr, c):
    """After nw workers updated their parts of layer l (their h_upd): the counts of the
    apply sweep, as update.apply_rows counts them, with the weights changed summed over the
    workers, and the update of the layer's bias, on this thread (counts into c, the layer's
    learning-phase counts)."""
    W = weights(P, Ly)
    issued = 0
    for w in range(nw):
        issued += scr.h_upd[w, l]
    count_sweep(c, W.shape[0] * W.shape[1], issued)
    if Ly.has_bias == 1:
        apply_one(bias(P, Ly), acc_bias(G, Ly), mom_bias(G, Ly), opt, c, fmt.qw[l],
                  fmt.limw[l], fmt.rs)


@kernel
def _history_applied(nwh, t1, net, P, G, S, x, rule, opt, fmt, scr, cnt):
    """After _history_share on nwh workers: for each layer whose rows they updated, the
    counts of the apply sweep (the weights changed in every worker's rows, as
    update.apply_rows counts them) and the update of its bias."""
    lay = net.layout
    B = x.ptr.shape[0]
    for l in range(lay.shape[0]):
        if _rows_apply(l, rule, opt, fmt):
            _shared_sweep(l, nwh, P, G, lay[l], opt, fmt, scr, cnt[B - 1, t1 - 1, l, LEARN])


@kernel
def _history_share(w, nw, t0, t1, net, P, G, S, x, rule, opt, fmt, scr, cnt):
    """Worker w of nw: its rows (an equal part, in order) of the weight gradient of each layer
    summed from the history of the window t0..t1-1 (the temporal route's layers with
    ``rule.fused`` set: dense ones), every sample in order, so each row receives the same
    additions in the same order as on one worker. Worker 0 counts each layer's work and adds
    its bias. Where the update is plain SGD without rounding (``_rows_apply``), each worker
    then applies it to its rows and keeps how many weights changed (``h_upd``)."""
    lay = net.layout
    L = lay.shape[0]
    B = x.ptr.shape[0]
    sw = worker_scratch(scr, w)
    for l in range(L):
        if rule.fused[l] == 0:
            continue
        Ly = lay[l]
        n_in = weights(P, Ly).shape[0]
        r0 = w * n_in // nw
        r1 = (w + 1) * n_in // nw
        for b in range(B):
            sw.h_ptr[0] = 0
            for t in range(t0, t1):
                idx, val, e0, e1 = layer_events(lay, l, b, t - t0, t, x, S, sw.ones)
                p0 = sw.h_ptr[t - t0]
                copy(sw.h_idx[p0:p0 + e1 - e0], idx[e0:e1])
                copy(sw.h_val[p0:p0 + e1 - e0], val[e0:e1])
                sw.h_ptr[t - t0 + 1] = p0 + e1 - e0
            wgrad_from_history(weights(P, Ly), bias(P, Ly), out_grad(S, Ly)[b], 0, t1 - t0,
                               sw.h_idx, sw.h_val, sw.h_ptr, Ly, acc_weights(G, Ly),
                               acc_bias(G, Ly), touched(G, Ly), rule.fused[l] == 1, opt.lr, sw,
                               cnt[b, t1 - 1, l, LEARN], fmt.qw[l], fmt.limw[l], fmt.rs, r0, r1,
                               w == 0)
        if _rows_apply(l, rule, opt, fmt):
            # its rows are whole: the update, while they are in the cache (the counts and the
            # bias follow the job, _history_applied)
            sw.h_upd[l] = sgd_rows(weights(P, Ly), acc_weights(G, Ly), touched(G, Ly), opt.lr,
                                   r0, r1, fmt.qw[l], fmt.limw[l], fmt.rs)


#: an update applied from the accumulator is shared over the workers (loop._apply) when its
#: layer has at least this many weights (the reference MLP's hidden layer: 1.2 million; a parallel
#: job costs more than the update of the conv net's layers, 4,608 weights each)
APPLY_SPLIT = 1 << 16


@kernel(inline=True)
def _shared_apply(l, net, rule, opt, fmt):
    """Layer l's update, applied from its accumulator, is plain SGD without rounding (no random
    draw: its weights are independent) and large enough to share (APPLY_SPLIT)."""
    Ly = net.layout[l]
    return (Ly.acc == 1 and rule.fused[l] == 0 and not rule.direct
            and _unrounded_sgd(l, opt, fmt) and Ly.rows * Ly.cout >= APPLY_SPLIT)


@kernel(inline=True)
def _apply_cols(W, nw):
    """A shared update goes by the weight gradient's column blocks (WGRAD_BLOCK, as
    _wgrad_share splits a dense layer: each worker updates the block it accumulated, in its
    own cache) where there are as many blocks as workers, else by rows."""
    return (W.shape[1] + WGRAD_BLOCK - 1) // WGRAD_BLOCK >= nw


@kernel
def _apply_share(w, nw, net, P, G, rule, opt, fmt, scr):
    """Worker w of nw: the update of its part of every _shared_apply layer (its column blocks,
    or its equal part of the rows, _apply_cols), and how many of their weights changed (its
    h_upd)."""
    lay = net.layout
    sw = worker_scratch(scr, w)
    for l in range(lay.shape[0]):
        if _shared_apply(l, net, rule, opt, fmt):
            Ly = lay[l]
            W = weights(P, Ly)
            n_in, n_out = W.shape
            if _apply_cols(W, nw):
                nblk = (n_out + WGRAD_BLOCK - 1) // WGRAD_BLOCK
                c0 = min(n_out, (w * nblk // nw) * WGRAD_BLOCK)
                c1 = min(n_out, ((w + 1) * nblk // nw) * WGRAD_BLOCK)
                sw.h_upd[l] = sgd_block(W, acc_weights(G, Ly), touched(G, Ly), opt.lr, w - w,
                                        n_in, c0, c1, fmt.qw[l], fmt.limw[l], fmt.rs,
                                        np.bool_(False))
            else:
                sw.h_upd[l] = sgd_rows(W, acc_weights(G, Ly), touched(G, Ly), opt.lr,
                                       w * n_in // nw, (w + 1) * n_in // nw, fmt.qw[l],
                                       fmt.limw[l], fmt.rs)


@kernel(inline=True)
def _apply(nw, net, P, G, S, x, nrn, loss, rule, opt, fmt, scr, stk, cnt, loss_out, apply, c):
    """apply_updates(P, G, net.layout, apply, opt, c, fmt), with the weights of the
    _shared_apply layers updated at batch > 1 by the workers, each its part (JOB_APPLY,
    _apply_share): the same
    operations on every weight, the counts of the sweep summed over the workers (as
    apply_rows counts them), the bias after, on this thread; no random number is drawn for
    those layers, so the other layers' rounding draws the same numbers in the same order."""
    lay = net.layout
    L = lay.shape[0]
    shared = 0
    if nw > 1 and x.ptr.shape[0] > 1:   # (at batch 1 one worker accumulated the gradient, in
        for l in range(L):              # its cache: shared, MLP ottt_a took 0.76-1.02x)
            if apply[l] == 1 and _shared_apply(l, net, rule, opt, fmt):
                shared += 1
    if shared == 0:
        apply_updates(P, G, lay, apply, opt, c, fmt)
        return
    yes = np.bool_(True)
    no = np.bool_(False)
    z = nw - nw
    _par(np.int64(JOB_APPLY), nw, z, z, z, z, z, z, net, P, G, S, x, nrn, loss, rule, opt, fmt,
         scr, stk, cnt, loss_out, yes, no, no)
    for l in range(L):
        if apply[l] == 1 and _shared_apply(l, net, rule, opt, fmt):
            Ly = lay[l]
            _shared_sweep(l, nw, P, G, Ly, opt, fmt, scr, c[l, LEARN])
            if _apply_cols(weights(P, Ly), nw):
                touched(G, Ly)[:] = 0   # (shared by columns: every worker read the marks)
            apply[l] = 0            # (for apply_updates below; set again after it)
    apply_updates(P, G, lay, apply, opt, c, fmt)
    # (a _shared_apply layer had apply[l] = 1: only the temporal route's history layers,
    # rule.fused != 0, start at 0, and _shared_apply excludes them)
    for l in range(L):
        if apply[l] == 0 and _shared_apply(l, net, rule, opt, fmt):
            apply[l] = 1


@kernel
def _pipe_wgrads(t, t0, net, P, G, S, x, rule, opt, fmt, scr, cnt, ws, tr):
    """The weight gradients of step t (history slot t - t0) of a pipelined sample of a
    spatial rule (_pipe_stage), every layer in the order of ``_wgrads``, in scratch row
    ``ws``, from the traces in ``tr``: the same arithmetic, with each layer's steps in the same
    order, as ``_wgrads`` on one worker."""
    one = ws - ws + 1
    for i in range(_grad_layers(net)):
        _wgrad_share(ws - ws, one, _grad_layer(i, net), t, t, t0, net, P, G, S, x, rule, opt,
                     fmt, scr, cnt, ws, tr)


@kernel
def _wave(t0, t1, net, P, G, S, x, nrn, rule, opt, fmt, scr, stk, cnt):
    """A worker of BPTT's backward through the window t0..t1-1 of one sample on two workers.
    The first to arrive (stk.ticket[TICKET], zeroed by the caller) runs the error pass of
    steps t1-1 down to t0 in worker 0's buffers (_back_step), adding 1 to stk.ticket[DONE]
    (zeroed too) as each layer's output gradient is made, in the order of _backward; the other
    runs, in worker 1's scratch, the weight gradients of the same steps, layer by layer in
    the order of _wgrads (the same order), each once its output gradient is announced (the
    layers summed from the history, ``rule.fused``, follow the window).

    Nothing one reads is written by the other: a weight gradient reads its step's history
    slot (output gradient, input events) and the weights, which change only after the
    window; the error pass writes its next output gradients, the errors into the sources and
    worker 0's buffers. Both add counts to the same layer and step at once, but never the same
    count (the error pass ERROR_MAC and MEM_READ_WEIGHT_TRANSPOSED, the gradients GRAD_*,
    WEIGHT_UPDATE_* and the weights' and gradients' reads and writes), and the error pass has
    made its history reads of the step (MEM_READ_HIST) before it announces its first layer.
    Each layer's gradient receives its steps in the same order as from _wgrads on one worker,
    with the same arithmetic, so the numbers are those of one worker. The worker that waits
    waits only for the other, which has started and never waits: if one thread runs both
    (one after the other), the first runs the whole error pass and the second never waits.

    A step's surrogates (the error pass's first work at each step) are shared in chunks
    (_sg_chunk) taken from a counter per step (stk.sgq, zeroed by the caller): the error pass
    takes what is left of its step's, then waits for the chunks the other took; the other
    takes them only while it waits, for the error pass's step or the next one. Step t's are in
    surrogate row t % 2 (worker_rows): the next step's row is free once the error pass has
    begun this step (it announces each step it begins on stk.sgq), and the error pass of a
    step reads no other step's. Each value is its own whoever computes it, and the error
    pass counts them, so the numbers are those of one worker. It waits only for chunks
    being computed, which wait for nothing; alone on one thread it takes every chunk."""
    tk = stk.ticket
    q = stk.sgq
    zero = t0 - t0              # typed, not literals (see _spatial_schedule)
    one = zero + 1
    n = t1 - t0
    nch = _sg_chunk(one << 40, net)[1]      # a step's chunks of surrogates
    if fetch_add(tk, TICKET, 1) == 0:
        sw = worker_scratch(scr, zero)
        for t in range(t1 - 1, t0 - 1, -1):
            fetch_add(q, SGQ * n, 1)         # begun step t (the row of step t - 1 is free)
            while _sg_take(t, t0, nch, net, nrn, S, sw, q):
                pass
            while load(q, SGQ * (t - t0) + SGQ // 2) < nch:
                pause()
            _surrogate_counts(zero, t, np.bool_(True), net, cnt)
            _back_step(zero, t, t0, t1, net, P, S, worker_rows(S, zero, t % 2), nrn, sw, cnt,
                       np.bool_(True), tk)
        return
    k = zero
    sw = worker_scratch(scr, one)
    for t in range(t1 - 1, t0 - 1, -1):
        for i in range(_grad_layers(net)):   # _backward's order: one announcement per layer
            l = _grad_layer(i, net)
            k += 1
            if rule.fused[l] == 0:
                while load(tk, DONE) < k:    # waiting: the error pass's surrogates, if any
                    te = t1 - load(q, SGQ * n)   # the step it is at (t1: not begun)
                    if not (_sg_take(min(te, t1 - 1), t0, nch, net, nrn, S, sw, q)
                            or (te - 1 >= t0 and _sg_take(te - 1, t0, nch, net, nrn, S, sw,
                                                          q))):
                        pause()
                _wgrad_share(zero, one, l, t, t, t0, net, P, G, S, x, rule, opt, fmt, scr, cnt,
                             one, S.traces)


@kernel(parallel=True)
def _par(job, nw, a, b, c, d, e, f, net, P, G, S, x, nrn, loss, rule, opt, fmt, scr, stk, cnt,
         loss_out, learning, temporal, backward_now):
    """The one parallel kernel: workers 0..nw-1 of a job, each on a thread of Numba's pool.
    (One kernel for every job: Numba's parallel launcher takes a quarter of a minute to
    compile, for the hundreds of arrays in the records.) Jobs: JOB_SAMPLES (a = t, b = history
    slot), JOB_WINDOW (BPTT's error pass, steps a..b-1), JOB_WGRAD (layer a's weight gradient,
    steps c down to b, history slot of step t: t - d), JOB_STACK (layer a's sample-steps e..f-1
    of the stacked product, steps c down to b, slot t - d), JOB_PRODUCTS (the products of a
    round of b of layer a's chunks, whole or in fixed blocks of rows, in equal parts in order),
    JOB_HISTORY (the
    gradients summed from the history of the window a..b-1, shared by rows), JOB_APPLY (the
    plain-SGD update of the large layers, shared by column blocks or rows), JOB_PIPE (a pipelined
    sample, below) and JOB_WAVE (a pipelined BPTT window, a..b-1)."""
    T = np.int64(x.ptr.shape[1] - 1)
    for i in prange(nw):
        w = np.int64(i)       # one integer type for every call (each type compiles anew)
        if job == JOB_SAMPLES:
            _samples(w, nw, a, b, T, net, P, S, x, nrn, loss, rule, fmt, scr, stk, cnt,
                     loss_out, learning, temporal, backward_now)
        elif job == JOB_WINDOW:
            _window_back(w, nw, a, b, net, P, S, x, nrn, scr, cnt)
        elif job == JOB_WGRAD:
            _wgrad_share(w, nw, a, b, c, d, net, P, G, S, x, rule, opt, fmt, scr, cnt, w,
                         S.traces)
        elif job == JOB_STACK:
            _stack_share(w, nw, a, b, c, d, e, f, net, S, x, rule, scr, stk, cnt)
        elif job == JOB_PRODUCTS:
            _chunk_units(w, nw, a, b, net, scr, stk)
        elif job == JOB_TAIL:
            _tail_share(w, nw, a, b, c, d, e, net, S, x, rule, G, scr, stk, cnt)
        elif job == JOB_HISTORY:
            _history_share(w, nw, a, b, net, P, G, S, x, rule, opt, fmt, scr, cnt)
        elif job == JOB_APPLY:
            _apply_share(w, nw, net, P, G, rule, opt, fmt, scr)
        elif job == JOB_COOP:
            _coop_sample(w, nw, a, b, T, net, P, S, x, nrn, loss, rule, fmt, scr, stk, cnt,
                         loss_out, learning, temporal, backward_now)
        elif job == JOB_COOP_WAVE:
            _coop_wave(w, nw, a, b, T, net, P, S, x, nrn, loss, fmt, scr, stk, cnt, loss_out,
                       learning, temporal)
        elif job == JOB_PIPE:
            if w == 0:        # the forward and traces of step a ...
                _pipe_forward(a, net, P, S, x, nrn, loss, rule, fmt, scr, cnt, loss_out,
                              backward_now)
                if _pipe_error_first(net, rule):      # (then the error pass of step b)
                    _pipe_error(b, w, net, P, S, nrn, rule, scr, cnt)
            elif _pipe_error_first(net, rule):        # ... beside the gradients of c
                _pipe_stage(b - b - 1, c, net, P, G, S, x, nrn, rule, opt, fmt, scr, cnt)
            else:             # ... beside the error pass of step b and the gradients of c
                _pipe_stage(b, c, net, P, G, S, x, nrn, rule, opt, fmt, scr, cnt)
        else:                 # JOB_WAVE: BPTT's backward through the window a..b-1
            _wave(a, b, net, P, G, S, x, nrn, rule, opt, fmt, scr, stk, cnt)


#: a weight gradient is split over workers at batch 1 only when its layer is at least this
#: many multiply-accumulates per step (a convolution of VGG's size); smaller ones cost less
#: than starting the workers
SPLIT_MACS = 1 << 22


@kernel
def _stack_share(w, nw, l, t_lo, t_hi, t0, n0, n1, net, S, x, rule, scr, stk, cnt):
    """Worker w of nw, its share of the stack slots n0..n1-1 of layer l's stacked product
    (slot i holds sample-step q = stk.pair[i]: sample q // n, step t_hi - q % n,
    n = t_hi - t_lo + 1), in equal parts in order: so, when the round's chunks are equal, a
    worker stacks the chunks whose products it computes (JOB_PRODUCTS), from its own
    cache. (Slots handed out by a ticket instead: stacking 1.04x and the products 1.18x
    slower, sltt at batch 32.)"""
    lay = net.layout
    Ly = lay[l]
    sw = worker_scratch(scr, w)
    n = t_hi - t_lo + 1
    use_trace = rule.factor[l] == FACTOR_TRACE
    c0 = cycles()
    for i in range(n0 + w * (n1 - n0) // nw, n0 + (w + 1) * (n1 - n0) // nw):
        q = stk.pair[i]
        b = q // n
        t = t_hi - q % n
        th = t - t0
        g = out_grad(S, Ly)[b, th]
        ng = _grad_nonzeros(Ly, g, sw)
        idx, val, e0, e1 = layer_events(lay, l, b, th, t, x, S, sw.ones)
        stack_product(Ly, g, ng, idx, val, e0, e1, trace(S, Ly)[b], use_trace, sw.tsum,
                      (sw.wt0, sw.wt1, sw.wt2), stk.col, stk.g, i, cnt[b, t, l, LEARN])
    _clock_worker(stk, lay.shape[0], W_STACK, w, c0)


@kernel(inline=True)
def _stacked_wgrad(l, t_lo, t_hi, t0, nw, net, P, G, S, x, nrn, loss, rule, opt, fmt, scr, stk,
                   cnt, loss_out):
    """Layer l's weight gradient as batch-level products: the batch's sample-steps (every
    sample, steps t_hi down to t_lo) in chunks; per chunk, the im2col of each sample-step whose
    gradient is a product is stacked, one BLAS product colS^T gS adds them all into the
    accumulator, and then, in order, the bias of those and the event-by-event gradient of the
    others. The chunks are taken in rounds of one per worker: the round's stacking is split
    over the workers by sample-steps, its products shared by the workers in equal parts, a
    large one in fixed blocks of output rows (_chunk_units), and each is added in
    chunk order, with the event-by-event gradient after it, shared by weight rows
    (_tail_share). The chunks, and so the products and the order of the additions, do not
    depend on the thread count; the sums differ from a sample-by-sample accumulation in the
    last bits only. Which sample-steps are stacked depends only on their factors' density
    (wgrad.dense_enough)."""
    lay = net.layout
    Ly = lay[l]
    B = x.ptr.shape[0]
    n = t_hi - t_lo + 1
    npairs = B * n
    per = _stack_pairs(Ly, npairs)
    s0 = worker_scratch(scr, nw * 0)
    use_trace = rule.factor[l] == FACTOR_TRACE
    zero = nw * 0
    M = _round_chunks(Ly, per, nw, stk.col.shape[0], stk.g.shape[0], stk.pair.shape[0],
                      stk.chunk.shape[0] - 1, stk.prod.shape[0])
    q = 0
    while q < npairs:
        # a round: up to M chunks, each the next sample-steps with up to ``per`` of them dense
        # enough to be stacked, in stack slots one after another
        nc = 0
        ns_all = 0
        while nc < M and q < npairs:
            stk.chunk[nc, 0] = q
            stk.chunk[nc, 2] = ns_all
            ns = 0
            while q < npairs and ns < per:
                b = q // n
                th = t_hi - q % n - t0
                e0 = 0
                e1 = 0
                if not use_trace:
                    idx, val, e0, e1 = layer_events(lay, l, b, th, t_hi - q % n, x, S, s0.ones)
                nf = factor_count(Ly, e0, e1, trace(S, Ly)[b], use_trace)
                stk.flag[q] = dense_enough(Ly, nf)
                if stk.flag[q]:
                    stk.pair[ns_all + ns] = q
                    ns += 1
                q += 1
            stk.chunk[nc, 1] = q
            ns_all += ns
            nc += 1
        stk.chunk[nc, 2] = ns_all
        k = min(nw, ns_all)
        clk = cycles()
        if k == 1:
            _stack_share(zero, k, l, t_lo, t_hi, t0, zero, ns_all, net, S, x, rule, scr, stk,
                         cnt)
        elif k > 1:
            _par(np.int64(JOB_STACK), k, l, t_lo, t_hi, t0, zero, ns_all, net, P, G, S, x, nrn,
                 loss, rule, opt, fmt, scr, stk, cnt, loss_out, np.bool_(True), np.bool_(True),
                 np.bool_(False))
        clk = _clock(stk, CLK_STACK, clk)
        # the round's products, each into its chunk's own part of stk.prod (added below in
        # order): its units (a chunk's product whole, or a large one's fixed blocks of rows,
        # _chunk_blocks) shared by the workers at equal cost, in order (_chunk_units)
        if ns_all == 0:
            pass                # nothing stacked in this round: no product to start
        elif nw == 1 or (nc == 1 and _chunk_blocks(Ly, ns_all)[1] == 1):
            _chunk_units(zero, zero + 1, l, nc, net, scr, stk)
        else:
            _par(np.int64(JOB_PRODUCTS), nw, l, nc, zero, zero, zero, zero, net, P, G, S, x,
                 nrn, loss, rule, opt, fmt, scr, stk, cnt, loss_out, np.bool_(True),
                 np.bool_(True), np.bool_(False))
        # then, chunk by chunk, its product's sum and the event-by-event gradient of its
        # other sample-steps, in order; shared by weight rows (each row's additions in the
        # same order whoever makes them)
        clk = _clock(stk, CLK_PRODUCTS, clk)
        k = min(nw, Ly.k * Ly.k * Ly.cin)
        if k == 1:
            _tail_share(zero, k, l, nc, t_lo, t_hi, t0, net, S, x, rule, G, scr, stk, cnt)
        else:
            _par(np.int64(JOB_TAIL), k, l, nc, t_lo, t_hi, t0, zero, net, P, G, S, x, nrn,
                 loss, rule, opt, fmt, scr, stk, cnt, loss_out, np.bool_(True), np.bool_(True),
                 np.bool_(False))
        _clock(stk, CLK_TAIL, clk)


@kernel
def _tail_share(w, nw, l, nc, t_lo, t_hi, t0, net, S, x, rule, G, scr, stk, cnt):
    """Worker w of nw, its equal part r0..r1-1 of the weight rows (row (ky*k + kx)*Cin + ci)
    of the end of a round of layer l's stacked weight gradient (_stacked_wgrad): chunk by
    chunk, the chunk's product (_chunk_prod) added into the accumulator, then the chunk's
    sample-steps in order: the event-by-event gradient of those not stacked, tap by tap
    (wgrad.conv_tap_grads), each worker walking its own rows' taps. Worker 0 also adds the
    bias of every sample-step; each event-by-event sample-step q is counted by worker
    q % nw, which alone scans its gradient for the non-zeros the counts need (its counts
    are its own row of ``cnt``). Each weight row and the bias receive the same additions in
    the same order whatever nw is. While a worker works on a sample-step it prefetches the
    next one's gradient (_fetch_next). A layer whose gradient rows are wide (WIDE_ROW) has
    every worker scan each sample-step, to skip the output positions whose gradient is zero.

    Until 2026-12-08 every worker scanned every gradient for its non-zeros (from 2026-12-07
    sharing the scans through a counter, and waiting for them), because the event loop
    (wgrad.conv_event_grads) skipped output positions with a zero gradient, and walked every
    event's taps, skipping the other workers' rows. On the conv net's layer 0 (sltt, batch
    32) two workers then each took about one thread's time in that loop: 3.2-3.4 ms a batch
    against 3.3-5.1 (2026-12-07_tail_parts_probe.txt). Walking only its own taps, each
    still took 2.9-3.2 against 3.25, waiting on the lines of g another core had read; with
    the next g prefetched, 2.1-2.6. What is left is each worker bringing all of g into its
    own cache (benchmarks/results/2026-12-08_tail_taps_probe.txt).

    Rows, not input channels (as until 2026-12-07): on the conv net's first layer (two input
    channels, ON and OFF, their events interleaved in position order), two workers that each
    skipped the other channel's events took 4.4 and 5.1 ms a batch for their halves of the
    event-by-event part, against 3.8 on one thread (sltt at batch 32, with the scratch rows
    apart, arrays.row_apart). A layer of one input channel is shared too."""
    lay = net.layout
    Ly = lay[l]
    Cin = Ly.cin
    n = t_hi - t_lo + 1
    pos = Ly.hout * Ly.wout
    R = Ly.k * Ly.k * Cin
    r0 = w * R // nw
    r1 = (w + 1) * R // nw
    Cout = Ly.cout
    gW = acc_weights(G, Ly)
    gb = acc_bias(G, Ly)
    tch = touched(G, Ly)
    sw = worker_scratch(scr, w)
    use_trace = rule.factor[l] == FACTOR_TRACE
    unit = Ly.unit == 1 and not use_trace
    first = w == 0
    wide = Cout * gW.itemsize > WIDE_ROW
    c0 = cycles()
    qe = stk.chunk[nc - 1, 1]
    for c in range(nc):
        if stk.chunk[c + 1, 2] > stk.chunk[c, 2]:
            add_rows(gW, _chunk_prod(stk, c, R, Cout), r0, r1, tch)
        for qq in range(stk.chunk[c, 0], stk.chunk[c, 1]):
            b = qq // n
            t = t_hi - qq % n
            th = t - t0
            g = out_grad(S, Ly)[b, th]
            if stk.flag[qq]:
                if first and Ly.has_bias == 1:
                    bias_grads(gb, g, pos, Cout, 0, Cout)
                continue
            counts = qq % nw == w
            _fetch_next(qq, qe, n, t_hi, t0, Ly, S, stk)
            ng = 1
            if counts:      # the non-zeros, and per input position those met (the counts)
                ng = _grad_nonzeros(Ly, g, sw)
            elif wide:      # the non-zeros per output position, to skip the zero ones
                ng = pos_nnz(g, Cout, sw.pos_nz[:pos])
            idx, val, e0, e1 = layer_events(lay, l, b, th, t, x, S, sw.ones)
            tr = trace(S, Ly)[b]
            if ng > 0 and r1 > r0:
                conv_tap_grads(gW, g, Ly, idx, val, e0, e1, tr, use_trace, sw.gnz, sw.scratch,
                               sw.pos_nz[:pos if wide else 0], unit, tch, r0, r1)
            if first and Ly.has_bias == 1:
                bias_grads(gb, g, pos, Cout, 0, Cout)
            if counts:
                n_pairs, nf = conv_pairs(Ly, idx, e0, e1, tr, use_trace, sw.tsum)
                count_accumulated(cnt[b, t, l, LEARN], Ly, use_trace, n_pairs, ng, True)
    _clock_worker(stk, lay.shape[0], W_TAIL, w, c0)


#: a gradient row wider than this many bytes (more than 32 float32 columns) is skipped in the
#: tail where its output position's gradient is all zero, after a scan for those (every
#: worker's); a narrower one is added with selects, unscanned (wgrad.conv_tap_grads)
WIDE_ROW = 128


#: how far _fetch_next looks for the next event-by-event sample-step of a round
FETCH_AHEAD = 4


@kernel(inline=True)
def _fetch_next(qq, qe, n, t_hi, t0, Ly, S, stk):
    """Prefetches (sync.prefetch, a line at a time) the output gradient of the next
    event-by-event sample-step after qq in the round (up to qe; within FETCH_AHEAD), while
    the tail works on qq: its scan then reads it from this core's cache, and its tap loop
    reads at random only lines already there. (On two workers the gradient was last read
    by the other, which scanned it, or by neither: every worker's tap loop waited on its
    lines, and two took about one's time, sltt at batch 32.) A hint only: nothing it reads
    changes a number."""
    for q2 in range(qq + 1, min(qe, qq + 1 + FETCH_AHEAD)):
        if stk.flag[q2] == 0:
            g2 = out_grad(S, Ly)[q2 // n, t_hi - q2 % n - t0]
            step = 64 // g2.itemsize
            for i in range(0, g2.shape[0], step):
                prefetch(g2, i)
            return


@kernel(inline=True)
def _chunk_prod(stk, c, R, Cout):
    """Chunk c's product in a round of stacked products: R x Cout floats of stk.prod."""
    return stk.prod[c * R * Cout:(c + 1) * R * Cout].reshape((R, Cout))


@kernel
def _chunk_gemm(c, l, net, scr, stk):
    """Chunk c of a round of layer l's stacked products (stack slots stk.chunk[c, 2] up to
    stk.chunk[c + 1, 2]): its product col^T g into its part of stk.prod (_chunk_prod), which
    _tail_share adds into the accumulator in chunk order, as one worker would."""
    Ly = net.layout[l]
    pos = Ly.hout * Ly.wout
    R = Ly.k * Ly.k * Ly.cin
    Cout = Ly.cout
    r0 = stk.chunk[c, 2] * pos
    r1 = stk.chunk[c + 1, 2] * pos
    if r1 > r0:
        gemm(stk.col[r0 * R:r1 * R].reshape((r1 - r0, R)).T,
             stk.g[r0 * Cout:r1 * Cout].reshape((r1 - r0, Cout)), _chunk_prod(stk, c, R, Cout))


#: a chunk's stacked product of at least BLOCK_MACS multiply-accumulates is computed in at
#: most ROW_BLOCKS blocks of its output rows, on any number of workers (_chunk_blocks). (At
#: SPLIT_MACS the reference conv net's chunks of 7 sample-steps, 9.3 M, took three blocks each:
#: conv bptt and sltt at batch 32 ran 0.83-1.03x, median 0.95, in interleaved pairs.)
BLOCK_MACS = 1 << 24
ROW_BLOCKS = 4


@kernel(inline=True)
def _chunk_blocks(Ly, n):
    """(rows per block, blocks) of the product of a chunk of n stacked sample-steps of layer
    Ly: its R = k*k*Cin rows whole (one block) under BLOCK_MACS multiply-accumulates, else in
    blocks of a multiple of 16 rows, at most ROW_BLOCKS of them. They depend on the chunk
    alone, never on the workers."""
    R = Ly.k * Ly.k * Ly.cin
    if n * Ly.hout * Ly.wout * R * Ly.cout < BLOCK_MACS or R <= 16:
        return R, n - n + 1
    rb = (R + 16 * ROW_BLOCKS - 1) // (16 * ROW_BLOCKS) * 16
    return rb, (R + rb - 1) // rb


@kernel
def _chunk_units(w, nw, l, nc, net, scr, stk):
    """Worker w of nw, its share of the products of a round of nc chunks of layer l. The
    units are the chunks' blocks of rows (_chunk_blocks) in chunk order, each costing its rows
    times its chunk's stacked sample-steps; the worker takes those whose cost starts in its
    equal part of the total. A whole chunk is one product (_chunk_gemm); a block of rows
    r0..r1-1 is one BLAS call on its rows of the stacked im2col (arrays.gemm_rows, no copy)
    into those rows of the chunk's product. A unit's call is the same whichever worker makes
    it and however many there are, so the products are the same bits on any number of
    workers. (Before, a round that would leave a worker idle was cut into one piece per
    worker, at rows that depended on the workers, trusting BLAS to compute a block of rows as
    the whole product does: OpenBLAS does for some shapes only,
    benchmarks/check_blas_blocks.py.)"""
    c0 = cycles()
    Ly = net.layout[l]
    pos = Ly.hout * Ly.wout
    R = Ly.k * Ly.k * Ly.cin
    Cout = Ly.cout
    total = (stk.chunk[nc, 2] - stk.chunk[0, 2]) * R
    lo = w * total // nw
    hi = (w + 1) * total // nw
    a = w - w
    for c in range(nc):
        n = stk.chunk[c + 1, 2] - stk.chunk[c, 2]
        if n == 0:
            continue
        rb, nb = _chunk_blocks(Ly, n)
        for i in range(nb):
            r0 = i * rb
            r1 = min(R, r0 + rb)
            if lo <= a < hi:
                if nb == 1:
                    _chunk_gemm(c, l, net, scr, stk)
                else:
                    q0 = stk.chunk[c, 2] * pos
                    q1 = stk.chunk[c + 1, 2] * pos
                    gemm_rows(stk.col[q0 * R:q1 * R].reshape((q1 - q0, R)),
                              stk.g[q0 * Cout:q1 * Cout].reshape((q1 - q0, Cout)), r0, r1,
                              stk.prod[(c * R + r0) * Cout:(c * R + r1) * Cout], stk.one_zero)
            a += n * (r1 - r0)
    _clock_worker(stk, net.layout.shape[0], W_PRODUCTS, w, c0)


@kernel(inline=True)
def _wgrad_layer(l, t_lo, t_hi, t0, nw, net, P, G, S, x, nrn, loss, rule, opt, fmt, scr, stk,
                 cnt, loss_out):
    Ly = net.layout[l]
    B = x.ptr.shape[0]
    if _stacks(Ly, B) and not rule.direct:
        _stacked_wgrad(l, t_lo, t_hi, t0, nw, net, P, G, S, x, nrn, loss, rule, opt, fmt, scr,
                       stk, cnt, loss_out)
        return
    k = nw - nw + 1         # not a literal (see _run_samples)
    if not rule.direct and (B > 1 or Ly.n_out * Ly.rows >= SPLIT_MACS):
        k = min(nw, (Ly.cout + WGRAD_BLOCK - 1) // WGRAD_BLOCK)
    if nw > 1 and _dense_rows(Ly, B, nw, t_lo, t_hi, rule, scr.gnz.shape[1]):
        k = nw
    if k == 1:
        _wgrad_share(nw * 0, k, l, t_lo, t_hi, t0, net, P, G, S, x, rule, opt, fmt, scr, cnt,
                     nw * 0, S.traces)
    else:
        _par(np.int64(JOB_WGRAD), k, l, t_lo, t_hi, t0, t0, t0, net, P, G, S, x, nrn, loss,
             rule, opt, fmt, scr, stk, cnt, loss_out, np.bool_(True), np.bool_(True),
             np.bool_(False))


@kernel(inline=True)
def _grad_layers(net):
    """How many layers a backward step takes, in the order of _grad_layer."""
    L = net.layout.shape[0]
    n_lif = net.pops.shape[0] - 1
    return max(0, L - n_lif - 1) + min(n_lif, L - 1) + 1


@kernel(inline=True)
def _grad_layer(i, net):
    """The i-th layer of a backward step (_backward's order, and its weight gradients'): the
    layers above the LIF layers (auxiliary classifiers) in order, then the readout and the LIF
    layers top-down. (One index, so a caller's one loop inlines its body once.)"""
    L = net.layout.shape[0]
    n_lif = net.pops.shape[0] - 1
    top = max(0, L - n_lif - 1)
    return n_lif + 1 + i if i < top else min(n_lif, L - 1) - (i - top)


@kernel(inline=True)
def _wgrads(t_lo, t_hi, t0, nw, net, P, G, S, x, nrn, loss, rule, opt, fmt, scr, stk, cnt,
            loss_out, wg_inline):
    """Phase 2: the weight gradients of the steps t_hi down to t_lo, layer by layer in the
    backward order (auxiliary classifiers, readout, LIF layers top-down), on up to nw workers
    each; layers with ``wg_inline[l]`` = 0 are summed from the history instead."""
    for i in range(_grad_layers(net)):
        l = _grad_layer(i, net)
        if wg_inline[l]:
            clk = cycles()
            _wgrad_layer(l, t_lo, t_hi, t0, nw, net, P, G, S, x, nrn, loss, rule, opt, fmt, scr,
                         stk, cnt, loss_out)
            _clock(stk, CLOCKS + l, clk)


# --- the schedules -------------------------------------------------------------------------
@kernel(inline=True)
def _spatial_schedule(nw, net, P, G, S, x, nrn, loss, rule, opt, fmt, cnt, loss_out, scr, stk,
                      wg):
    """Forward step by step; the spatial backward pass at the steps of ``rule.step_mask``."""
    B = x.ptr.shape[0]
    T = x.ptr.shape[1] - 1
    learning = rule.learn
    # typed values, not literals: the schedules then share one compiled _forward, _traces
    # and _backward (a literal argument, even np.int64(0), compiles a second specialisation
    # of each and of the parallel kernel, ~15 s)
    th = T * 0
    no = np.bool_(False)
    if learning and S.TH == PIPE_SLOTS:   # sized for a pipeline (trainer.pipelined)
        _pipelined_schedule(net, P, G, S, x, nrn, loss, rule, opt, fmt, cnt, loss_out, scr, stk,
                            wg)
        return
    clk = cycles()
    for t in range(T):
        backward_now = learning and rule.step_mask[t]
        _run_samples(nw, t, th, T, net, P, G, S, x, nrn, loss, rule, opt, fmt, scr, stk, cnt,
                     loss_out, learning, no, backward_now)
        clk = _clock(stk, CLK_SAMPLES, clk)
        if backward_now:
            _wgrads(t, t, t, nw, net, P, G, S, x, nrn, loss, rule, opt, fmt, scr, stk, cnt,
                    loss_out, wg)
            clk = _clock(stk, CLK_WGRADS, clk)
            if rule.apply == APPLY_STEP and not rule.direct:
                _apply(nw, net, P, G, S, x, nrn, loss, rule, opt, fmt, scr, stk, cnt, loss_out,
                       wg, cnt[B - 1, t])
                if t < T - 1:
                    _kernel_tables(net, P, S, np.bool_(True))
                clk = _clock(stk, CLK_APPLY, clk)
    if learning and rule.apply == APPLY_END:
        _apply(nw, net, P, G, S, x, nrn, loss, rule, opt, fmt, scr, stk, cnt, loss_out, wg,
               cnt[B - 1, T - 1])
        _clock(stk, CLK_APPLY, clk)


@kernel(inline=True)
def _pipelined_schedule(net, P, G, S, x, nrn, loss, rule, opt, fmt, cnt, loss_out, scr, stk, wg):
    """One sample of a spatial rule that updates at its end (trainer.pipelined), on two
    workers, in three stages: worker 0 runs the forward, traces and surrogates of step t
    (the surrogates into row t % 2 of the surrogate buffers) while worker 1
    runs the error pass of the step before and then the weight gradients of the step before
    that (``_pipe_stage``); or, where the weight gradients are the heavier stage
    (``_pipe_error_first``), worker 0 runs that error pass after its forward. None of them
    reads what another writes: step t keeps its history
    (potentials, spikes, events, output gradients) in slot t % PIPE_SLOTS, the traces of a
    step whose gradients are pending are copied into slot t % 2 of S.trace_p before the next
    step updates them, and the weights change only after the last step. Each layer's
    gradient receives its steps in ascending order, as in ``_spatial_schedule``, and each
    stage's arithmetic is the same whichever worker runs it, so the numbers are those of one
    worker."""
    T = x.ptr.shape[1] - 1
    B = x.ptr.shape[0]
    one = T - T + 1
    pb = T - T - 1              # the step whose error pass is pending (none: -1)
    pw = pb                     # the step whose weight gradients are pending
    for t in range(T):
        backward_now = rule.learn and rule.step_mask[t]
        if pb >= 0:             # its traces, before step t updates them
            _save_traces(S, pb)
        if pb < 0 and pw < 0:
            _pipe_forward(t, net, P, S, x, nrn, loss, rule, fmt, scr, cnt, loss_out,
                          backward_now)
        else:
            _par(np.int64(JOB_PIPE), one + 1, t, pb, pw, t, t, t, net, P, G, S, x, nrn, loss,
                 rule, opt, fmt, scr, stk, cnt, loss_out, rule.learn, np.bool_(False),
                 backward_now)
        pw = pb
        pb = t if backward_now else T - T - 1
    if pb >= 0:
        _save_traces(S, pb)
    _pipe_stage(pb, pw, net, P, G, S, x, nrn, rule, opt, fmt, scr, cnt)
    if pb >= 0:
        _pipe_stage(pb - pb - 1, pb, net, P, G, S, x, nrn, rule, opt, fmt, scr, cnt)
    apply_updates(P, G, net.layout, wg, opt, cnt[B - 1, T - 1], fmt)


@kernel(inline=True)
def _trace_slot(S, t):
    """The copy of the traces of step t that its pipelined weight gradients read."""
    n = S.traces.shape[0]
    k = t % 2
    return S.trace_p[k * n:(k + 1) * n]


@kernel(inline=True)
def _save_traces(S, t):
    """Copy the traces (as step t left them) into their slot for step t's weight gradients."""
    if S.traces.shape[0] > 0:
        copy(_trace_slot(S, t), S.traces)


@kernel
def _pipe_forward(t, net, P, S, x, nrn, loss, rule, fmt, scr, cnt, loss_out, backward_now):
    """Worker 0 of a pipelined sample: the forward and traces of step t (slot t % PIPE_SLOTS);
    ``backward_now``: step t will have an error pass (the forward counts its output error).
    (Not shared by blocks of rows, _coop_forward: worker 1 finishes its stage too late to take
    many of them; sltt ran 0.94, 0.95, 0.95 and 1.12x as fast with them, interleaved pairs.)"""
    T = x.ptr.shape[1] - 1
    zero = t - t                # typed, not a literal (see _spatial_schedule)
    Sw = worker_state(S, zero)
    sw = worker_scratch(scr, zero)
    th = t % PIPE_SLOTS
    _forward(t, zero, th, T, net, P, Sw, x, nrn, loss, fmt, sw, cnt, loss_out, np.bool_(True),
             np.bool_(False), backward_now)
    _traces(t, zero, th, net, Sw, x, rule, fmt, sw, cnt)
    if backward_now:            # its surrogates, into surrogate row t % 2 (the error pass's)
        _surrogates(zero, th, t, np.bool_(False), net, nrn, worker_rows(S, zero, t % 2), sw,
                    cnt)


@kernel(inline=True)
def _pipe_error_first(net, rule):
    """Whether a pipelined sample's error pass runs on worker 0 after the forward (the
    weight gradients alone on worker 1) instead of on worker 1 before the gradients: when
    some layer's presynaptic factor is its trace (OTTT_A: its gradient a dense product every
    step) and some layer is of VGG's size (SPLIT_MACS), where those products outweigh the
    forward. VGG-11 at batch 1, OTTT_A, against the error pass beside the gradients, in
    alternating runs: 0.84-1.05 s a sample against 1.07-1.33 s (benchmarks/results/
    2026-12-07_pipeline_error_first.txt). On the reference conv net OTTT_A ran 0.80-1.10x
    (median 0.92) with the error pass after the forward, so it keeps it beside the gradients,
    as SLTT does everywhere (its event-driven gradients are lighter; 1.16-1.38x on the conv
    net, fbf0b01)."""
    heavy = False
    large = False
    for l in range(net.layout.shape[0]):
        Ly = net.layout[l]
        heavy = heavy or rule.factor[l] == FACTOR_TRACE
        large = large or Ly.n_out * Ly.rows >= SPLIT_MACS
    return heavy and large


@kernel
def _pipe_error(tb, w, net, P, S, nrn, rule, scr, cnt):
    """The error pass of step tb of a pipelined sample (skipped when negative), in worker w's
    buffers: its surrogates from row tb % 2, where the forward of step tb put them."""
    if tb >= 0:
        _backward(w - w, tb % PIPE_SLOTS, tb, np.bool_(True), np.bool_(False), rule.feedback,
                  net, P, worker_rows(S, w, tb % 2), nrn, worker_scratch(scr, w), cnt,
                  np.bool_(True), _silent(scr))


@kernel
def _pipe_stage(tb, tw, net, P, G, S, x, nrn, rule, opt, fmt, scr, cnt):
    """Worker 1 of a pipelined sample: the error pass of step tb, then the weight gradients of
    step tw (each skipped when negative), in worker 1's buffers."""
    zero = tb - tb              # typed, not literals (see _spatial_schedule)
    one = zero + 1
    _pipe_error(tb, one, net, P, S, nrn, rule, scr, cnt)
    if tw >= 0:
        _pipe_wgrads(tw, tw - tw % PIPE_SLOTS, net, P, G, S, x, rule, opt, fmt, scr, cnt, one,
                     _trace_slot(S, tw))


@kernel(inline=True)
def _temporal_schedule(nw, net, P, G, S, x, nrn, loss, rule, opt, fmt, cnt, loss_out, scr, stk,
                       wg_inline, wg_apply):
    """Windows of ``rule.window`` steps: forward keeping the history, backward through the
    window in reverse time, the weight gradients (dense layers' summed per row from the
    history), then the update."""
    lay = net.layout
    L = lay.shape[0]
    B = x.ptr.shape[0]
    T = x.ptr.shape[1] - 1
    yes = np.bool_(True)      # typed constants (see _spatial_schedule)
    no = np.bool_(False)
    ns = min(nw, B)
    # one sample on two or more workers: pipelined (below) when a layer's weight gradient is
    # computed step by step (a convolution) and no layer is recurrent (its error reads the
    # slot of the step after)
    pipe = B == 1 and nw > 1
    inline = False
    for l in range(L):
        inline = inline or wg_inline[l] == 1
        pipe = pipe and lay[l].rec < 0
    pipe = pipe and inline
    # one sample on two or more workers whose forward is shared by blocks of rows, with no
    # traces to update after each step: the window's forward in waves (_coop_wave)
    waves = B == 1 and nw > 1 and stk.wave.shape[0] > 0 and _coop_any(net, nrn, nw)
    for l in range(L):
        waves = waves and rule.factor[l] != FACTOR_TRACE
    t0 = T * 0                # not a literal (see _spatial_schedule)
    while t0 < T:
        t1 = min(T, t0 + rule.window)
        clk = cycles()
        if waves:
            # one sample on two or more workers: the window's forward in waves (_coop_wave)
            _wave_order(nw, t1 - t0, net, nrn, stk)
            stk.ticket[TICKET] = 0
            _par(np.int64(JOB_COOP_WAVE), nw, t0, t1, t0, t0, t0, t0, net, P, G, S, x, nrn,
                 loss, rule, opt, fmt, scr, stk, cnt, loss_out, yes, yes, no)
        else:
            for t in range(t0, t1):
                _run_samples(nw, t, t - t0, T, net, P, G, S, x, nrn, loss, rule, opt, fmt, scr,
                             stk, cnt, loss_out, yes, yes, no)
        clk = _clock(stk, CLK_SAMPLES, clk)
        if pipe:
            # one sample on two workers: the error pass beside the weight gradients, each
            # layer's as soon as its output gradient is made (_wave)
            stk.ticket[TICKET] = 0
            stk.ticket[DONE] = 0
            stk.sgq[:] = 0
            _par(np.int64(JOB_WAVE), ns + 1, t0, t1, t0, t0, t0, t0, net, P, G, S, x, nrn, loss,
                 rule, opt, fmt, scr, stk, cnt, loss_out, yes, yes, no)
            clk = _clock(stk, CLK_WINDOW, clk)
        else:
            if ns == 1:
                _window_back(ns * 0, ns, t0, t1, net, P, S, x, nrn, scr, cnt)
            else:
                _par(np.int64(JOB_WINDOW), ns, t0, t1, t0, t0, t0, t0, net, P, G, S, x, nrn,
                     loss, rule, opt, fmt, scr, stk, cnt, loss_out, yes, yes, no)
            clk = _clock(stk, CLK_WINDOW, clk)
            _wgrads(t0, t1 - 1, t0, nw, net, P, G, S, x, nrn, loss, rule, opt, fmt, scr, stk,
                    cnt, loss_out, wg_inline)
            clk = _clock(stk, CLK_WGRADS, clk)
        # weight gradients of dense layers summed per row from the history: shared by rows
        # (each row's sums are one worker's), except where the sums update the weights
        # directly (fused = 1: batch 1, plain SGD, whose rounding draws in row order)
        n_h = 0
        direct_h = False
        for l in range(L):
            if wg_inline[l] == 0:
                n_h += 1
                direct_h = direct_h or rule.fused[l] == 1
        if n_h > 0:
            nwh = nw - nw + 1
            if nw > 1 and not direct_h:
                nwh = nw
                _par(np.int64(JOB_HISTORY), nw, t0, t1, t0, t0, t0, t0, net, P, G, S, x, nrn,
                     loss, rule, opt, fmt, scr, stk, cnt, loss_out, yes, yes, no)
            else:
                _history_share(nw * 0, nwh, t0, t1, net, P, G, S, x, rule, opt, fmt, scr, cnt)
            _history_applied(nwh, t1, net, P, G, S, x, rule, opt, fmt, scr, cnt)
            clk = _clock(stk, CLK_HISTORY, clk)
        _apply(nw, net, P, G, S, x, nrn, loss, rule, opt, fmt, scr, stk, cnt, loss_out,
               wg_apply, cnt[B - 1, t1 - 1])
        if t1 < T:
            _kernel_tables(net, P, S, np.bool_(True))
        _clock(stk, CLK_APPLY, clk)
        t0 = t1


def run_batch(net, P, G, S, x, nrn, loss, rule, opt, fmt, cnt, loss_out, work=None):
    """Run one batch (B samples, T steps) through every layer with the rule's schedule.

    State (v, traces, BPTT's delta, the readout sums) is reset here; ``loss_out[b]`` receives
    the readout's loss. ``cnt`` (B, T, L, P, A): counts per sample and time step; the work of
    applying an update is counted at the step where it happens (the last step of the sample or
    window; every step for APPLY_STEP), BPTT's history-summed weight gradients at the last step
    of their window.

    Workers: as many as the State has rows of its per-worker buffers (``S.out.shape[0]``, the
    trainer's thread count); the threads Numba runs them on are set by chipsim.threads.

    ``work``: the batch's work arrays, as ``batch_work`` makes them for these arguments (the
    trainer keeps them from one batch to the next); made here when not given. ``_batch``,
    which runs without reference counting (chipsim/kernels/jit.py), borrows them.

    A Python function, not a kernel: a kernel that called ``_batch`` would link the whole loop
    into its own machine code, and Numba optimises and compiles what a kernel links once more
    for each kernel that links it (14 s of the 185 s the loop took to compile).
    """
    if work is None:
        work = batch_work(net, P, S, x, rule)
    scr, stk = work
    L = net.layout.shape[0]
    wg_inline = np.ones(L, dtype=np.uint8)     # weight gradient computed step by step
    wg_apply = np.ones(L, dtype=np.uint8)      # update applied from the accumulator
    _batch(np.int64(S.out.shape[0]), net, P, G, S, x, nrn, loss, rule, opt, fmt, cnt, loss_out,
           scr, stk, wg_inline, wg_apply)


def batch_work(net, P, S, x, rule):
    """The work arrays (Scratch, Stack) of a ``run_batch`` call with these
    arguments: they depend on the layers, the number type, T, the batch size, the workers and
    the rule's route, window and whether it learns, not on the values."""
    T = x.ptr.shape[1] - 1
    nw = S.out.shape[0]
    temporal = bool(rule.learn) and rule.route == ROUTE_TEMPORAL
    B = x.ptr.shape[0]
    steps = min(T, rule.window) if temporal else 1
    return _scratch(net.layout, P, T, rule.fused, temporal, nw, B, steps if rule.learn else 0)


@kernel
def _batch(nw, net, P, G, S, x, nrn, loss, rule, opt, fmt, cnt, loss_out, scr, stk,
           wg_inline, wg_apply):
    """run_batch's work: reset the state, then the rule's schedule."""
    lay = net.layout
    L = lay.shape[0]
    n_lif = net.pops.shape[0] - 1
    B = x.ptr.shape[0]
    temporal = rule.learn and rule.route == ROUTE_TEMPORAL
    for l in range(L):
        if temporal and rule.fused[l] != 0:
            wg_inline[l] = 0
            if rule.fused[l] == 1 or _rows_apply(l, rule, opt, fmt):
                wg_apply[l] = 0
    for b in range(B):
        loss_out[b] = 0.0
        S.osum[b, :] = 0.0
        if nrn.ro_li:
            S.ostate[b, :] = 0.0
        for l in range(n_lif):
            potential(S, lay[l])[b, :] = 0.0
            if nrn.cuba[l]:
                syn_current(S, lay[l])[b, :] = 0.0
            if temporal:
                delta(S, lay[l])[b, :] = 0.0
        for l in range(L):
            if rule.factor[l] == FACTOR_TRACE:
                trace(S, lay[l])[b, :] = 0.0
    clk = cycles()
    _kernel_tables(net, P, S, rule.learn)
    if temporal:
        _temporal_schedule(nw, net, P, G, S, x, nrn, loss, rule, opt, fmt, cnt, loss_out, scr,
                           stk, wg_inline, wg_apply)
    else:
        _spatial_schedule(nw, net, P, G, S, x, nrn, loss, rule, opt, fmt, cnt, loss_out, scr,
                          stk, wg_inline)
    _clock(stk, CLK_BATCH, clk)
