"""Synapses, forward: a layer's input events (the source population's spikes or the network
input, through the population's dropout mask and the layer's pooling), scattered through its
weights into its neurons, with the counts of the work.

Counting conventions (vocabulary in chipsim/counts.py): an input event reads one weight word
and performs one AC (spike input; pooling and dropout scales fold into the weights) or MAC
(graded input) per synapse it reaches (convolution borders included). A neuron update reads
and writes one state word; it is active when its position received an event, idle otherwise.
"""

from __future__ import annotations

import numpy as np

from chipsim.counts import (MEM_READ_STATE, MEM_READ_WEIGHT, MEM_WRITE_STATE, NB_EFF_OPS,
                            NEURON_UPDATE_ACTIVE, NEURON_UPDATE_IDLE, SYN_MAC, SYNOP)
from chipsim.kernels.arrays import add, add2, add4, axpy, axpy2, axpy4
from chipsim.kernels.conv import conv_geometry, pool_geometry, taps
from chipsim.kernels.jit import kernel
from chipsim.kernels.records import EV_INPUT, EV_SPIKES, POOL_AVG, POOL_NONE
from chipsim.kernels.sync import fetch_add
from chipsim.kernels.views import ev_idx, ev_val, spk_hist


@kernel
def transform(src_idx, src_val, start, stop, unit_src, mask, Ly, pmax, ptouch, out_idx, out_val):
    """Input events of one layer at one step: the source population's events (spikes, or the
    network input), times the population's dropout mask, through the layer's pooling.

    Average pooling keeps every event (value / k^2, foldable into the weights); max pooling
    emits one event per window holding the window's maximum. Returns the number of events.
    """
    pool, k, C, Wpre, Hin, Win = pool_geometry(Ly)
    has_mask = mask.shape[0] > 0
    n = 0
    nt = 0
    for e in range(start, stop):
        j = src_idx[e]
        v = 1.0 if unit_src else src_val[e]
        if has_mask:
            m = mask[j]
            if m == 0.0:
                continue
            v = v * m
        if pool == POOL_NONE:
            out_idx[n] = j
            out_val[n] = v
            n += 1
            continue
        c_ = j % C
        pos = j // C
        py = (pos // Wpre) // k
        px = (pos % Wpre) // k
        if py >= Hin or px >= Win:
            continue
        jp = (py * Win + px) * C + c_
        if pool == POOL_AVG:
            out_idx[n] = jp
            out_val[n] = v / (k * k)
            n += 1
        else:
            if pmax[jp] == 0.0:
                ptouch[nt] = jp
                nt += 1
            if v > pmax[jp]:
                pmax[jp] = v
    for q in range(nt):
        jp = ptouch[q]
        out_idx[n] = jp
        out_val[n] = pmax[jp]
        pmax[jp] = 0.0
        n += 1
    return n


@kernel(inline=True)
def addrow(o, row):
    """o += row; returns the number of non-zero weights (NeuroBench effective ops)."""
    nz = 0
    for i in range(row.shape[0]):
        o[i] += row[i]
        nz += row[i] != 0.0
    return nz


@kernel(inline=True)
def addrow_scaled(o, row, v):
    """o += v * row; returns the number of non-zero weights."""
    nz = 0
    for i in range(row.shape[0]):
        o[i] += v * row[i]
        nz += row[i] != 0.0
    return nz


@kernel
def row_nonzeros(W, out):
    """out[r] = the non-zero weights in row r of W: for a convolution's kernel, the NeuroBench
    effective ops of an input event through tap r // Cin (State.wnz, made when the weights
    change), so that the scatter need not count them event by event."""
    for r in range(W.shape[0]):
        row = W[r]
        n = 0
        for i in range(row.shape[0]):
            n += row[i] != 0.0
        out[r] = n


# Input channels from which a convolution's scatter adds a position's events in runs
# (scatter_rows): below it a position holds one or two events and event by event is faster.
RUN_CIN = 4


@kernel
def scatter(W, bias, ev_i, ev_v, start, stop, Ly, out, hit, wnz, taps_, c):
    """out = bias + the input events scattered through the weights (dense or convolution).

    A dense layer is the 1 x 1 case (an event's fan-out is one weight row). Counts one weight
    read and one AC (spike input) or MAC (graded input) per synapse reached, the non-zero
    weights among them (a dense layer's counted row by row, a convolution's read from its
    kernel rows' counts ``wnz``, row_nonzeros), and neuron updates active (received an event)
    or idle.
    """
    scatter_rows(W, bias, ev_i, ev_v, start, stop, Ly, out, hit, wnz, taps_, c, np.int64(0),
                 Ly.hout, np.bool_(False))


@kernel
def scatter_rows(W, bias, ev_i, ev_v, start, stop, Ly, out, hit, wnz, taps_, c, y0, y1,
                 shared):
    """``scatter`` restricted to output rows y0..y1-1: their outputs and counts only (the taps
    of each event that reach those rows, in the same order, so each output receives the same
    additions in the same order as from the whole ``scatter``). Blocks of rows that tile the
    map, run by different workers, write disjoint outputs, and their counts add up to the
    whole's; ``shared``: the counts are added atomically (workers share ``c``)."""
    Cin, Win, Hout, Wout, Cout, k, s, pad = conv_geometry(Ly)
    has_bias = Ly.has_bias == 1
    unit = Ly.unit == 1
    q0 = y0 * Wout
    q1 = y1 * Wout
    hit_r = hit[q0:q1]                # (the rows' own views: this loop then vectorises wherever
    out_r = out[q0 * Cout:q1 * Cout]  # the rows start; indexed from q0, 4x slower)
    for q in range(q1 - q0):
        hit_r[q] = 0
        for co in range(Cout):
            out_r[q * Cout + co] = bias[co] if has_bias else 0.0
    syn = 0
    nz = 0
    if Hout * Wout == 1 and k == 1:   # dense: an event reads one weight row
        for e in range(start, stop):
            if unit:
                nz += addrow(out, W[ev_i[e]])
            else:
                nz += addrow_scaled(out, W[ev_i[e]], ev_v[e])
        syn = (stop - start) * Cout
        if stop > start:
            hit[0] = 1
        start = stop
    if s == 1:
        # stride 1 (every convolution of the shipped networks): the taps an input at (y, x)
        # reaches are the box ky0..ky1-1 x kx0..kx1-1, in the order conv.taps lists them (so
        # every output receives the same additions in the same order); no tap table. 7-10 %
        # faster than through conv.taps on the reference conv net's layers, same bits. Output
        # row y + pad - ky lies in y0..y1-1, so only inputs of rows y0 - pad .. y1 - pad + k - 2
        # reach those rows: the others are passed over by their index alone (whole rows of
        # Win * Cin indices), undivided.
        jlo = max(0, y0 - pad) * Win * Cin
        jhi = min(Ly.hin, y1 - pad + k - 1) * Win * Cin
        part = y0 > 0 or y1 < Hout
        if Cin >= RUN_CIN:
            # A run of consecutive events at one input position (its channels; through
            # average pooling, the neighbouring source positions of its window too) reaches
            # the same outputs: each tap adds the run's rows four at a time (_tap_run), one
            # load and store of the outputs a group. An output meets one tap of a position, so
            # it still receives the events' additions in event order, one rounding each: the
            # same bits as event by event. Against event by event (bench_forward.py, the code
            # before, alternating): VGG-11's layers of 64-512 channels 1.1-2.5x faster at 5-20 %
            # input density; the reference conv net's second convolution (16 channels in, 32
            # out) 0.9-1.2x there, and 1.03x on the events of its training.
            e = start
            while e < stop:
                j = ev_i[e]
                pos = j // Cin
                jb = pos * Cin
                e1 = e + 1
                while e1 < stop and ev_i[e1] >= jb and ev_i[e1] < jb + Cin:
                    e1 += 1
                if part and (j < jlo or j >= jhi):
                    e = e1
                    continue
                y, x, ky0, ky1, kx0, kx1 = _tap_box(pos, Win, Wout, k, pad, y0, y1)
                for ky in range(ky0, ky1):
                    ob = (y + pad - ky) * Wout + x + pad
                    for kx in range(kx0, kx1):
                        opos = ob - kx
                        base = opos * Cout
                        hit[opos] = 1
                        nz += _tap_run(out[base:base + Cout], W, (ky * k + kx) * Cin - jb,
                                       ev_i, ev_v, e, e1, unit, wnz)
                if ky1 > ky0 and kx1 > kx0:
                    syn += (e1 - e) * (ky1 - ky0) * (kx1 - kx0) * Cout
                e = e1
            start = stop
        # Fewer input channels (runs of one or two events; the first layers): event by event,
        # which measured 1.1-1.4x faster there than the runs. (The tap's body is written out
        # in both loops: an inlined helper for it measured 0.95-1.0x on bptt in three
        # interleaved pairs.)
        for e in range(start, stop):
            j = ev_i[e]
            if part and (j < jlo or j >= jhi):
                continue
            v = ev_v[e]
            ci = j % Cin
            pos = j // Cin
            y, x, ky0, ky1, kx0, kx1 = _tap_box(pos, Win, Wout, k, pad, y0, y1)
            for ky in range(ky0, ky1):
                ob = (y + pad - ky) * Wout + x + pad
                for kx in range(kx0, kx1):
                    opos = ob - kx
                    row = W[(ky * k + kx) * Cin + ci]
                    base = opos * Cout
                    hit[opos] = 1
                    nz += wnz[(ky * k + kx) * Cin + ci]
                    if unit:
                        add(out[base:base + Cout], row)
                    else:
                        axpy(out[base:base + Cout], row, v)
            if ky1 > ky0 and kx1 > kx0:
                syn += (ky1 - ky0) * (kx1 - kx0) * Cout
        start = stop
    tap_k = taps_[:k * k]
    tap_o = taps_[k * k:2 * k * k]
    for e in range(start, stop):
        j = ev_i[e]
        v = ev_v[e]
        ci = j % Cin
        pos = j // Cin
        nt = taps(pos // Win, pos % Win, k, s, pad, Hout, Wout, tap_k, tap_o)
        for q in range(nt):
            opos = tap_o[q]
            if opos < q0 or opos >= q1:
                continue
            row = W[tap_k[q] * Cin + ci]
            base = opos * Cout
            hit[opos] = 1
            nz += wnz[tap_k[q] * Cin + ci]
            if unit:
                add(out[base:base + Cout], row)
            else:
                axpy(out[base:base + Cout], row, v)
            syn += Cout
    active = 0
    for q in range(q1 - q0):
        active += hit_r[q]
    n_out = (q1 - q0) * Cout
    syn_kind = SYNOP if Ly.ac == 1 else SYN_MAC
    if shared:
        fetch_add(c, syn_kind, syn)
        fetch_add(c, MEM_READ_WEIGHT, syn)
        fetch_add(c, NB_EFF_OPS, nz)
        fetch_add(c, NEURON_UPDATE_ACTIVE, active * Cout)
        fetch_add(c, NEURON_UPDATE_IDLE, (q1 - q0 - active) * Cout)
        fetch_add(c, MEM_READ_STATE, n_out)
        fetch_add(c, MEM_WRITE_STATE, n_out)
    else:
        c[syn_kind] += syn
        c[MEM_READ_WEIGHT] += syn
        c[NB_EFF_OPS] += nz
        c[NEURON_UPDATE_ACTIVE] += active * Cout
        c[NEURON_UPDATE_IDLE] += (q1 - q0 - active) * Cout
        c[MEM_READ_STATE] += n_out
        c[MEM_WRITE_STATE] += n_out


@kernel(inline=True)
def _tap_box(pos, Win, Wout, k, pad, y0, y1):
    """(y, x, ky0, ky1, kx0, kx1): input position pos's row and column, and the box of kernel
    taps ky0..ky1-1 x kx0..kx1-1 that take it to an output of rows y0..y1-1 (stride 1)."""
    y = pos // Win
    x = pos - y * Win
    return (y, x, max(0, y + pad - y1 + 1), min(k, y + pad - y0 + 1), max(0, x + pad - Wout + 1),
            min(k, x + pad + 1))


@kernel(inline=True)
def _tap_run(o, W, r0, ev_i, ev_v, e0, e1, unit, wnz):
    """o += the weight rows r0 + ev_i[e] of events e0..e1-1 (times ev_v[e] unless ``unit``),
    in event order, four rows a pass; returns the rows' non-zero weights (wnz)."""
    nz = 0
    e = e0
    while e + 4 <= e1:
        i0, i1, i2, i3 = r0 + ev_i[e], r0 + ev_i[e + 1], r0 + ev_i[e + 2], r0 + ev_i[e + 3]
        nz += wnz[i0] + wnz[i1] + wnz[i2] + wnz[i3]
        if unit:
            add4(o, W[i0], W[i1], W[i2], W[i3])
        else:
            axpy4(o, W[i0], ev_v[e], W[i1], ev_v[e + 1], W[i2], ev_v[e + 2], W[i3], ev_v[e + 3])
        e += 4
    if e + 2 <= e1:
        i0, i1 = r0 + ev_i[e], r0 + ev_i[e + 1]
        nz += wnz[i0] + wnz[i1]
        if unit:
            add2(o, W[i0], W[i1])
        else:
            axpy2(o, W[i0], ev_v[e], W[i1], ev_v[e + 1])
        e += 2
    if e < e1:
        i0 = r0 + ev_i[e]
        nz += wnz[i0]
        if unit:
            add(o, W[i0])
        else:
            axpy(o, W[i0], ev_v[e])
    return nz


@kernel
def layer_events(lay, l, b, th, t, x, S, ones_f):
    """(indices, values, start, stop) of layer l's input events at step t (history slot th):
    the network input, the source population's spikes, or the layer's transformed events."""
    Ly = lay[l]
    if Ly.evk == EV_INPUT:
        return x.idx, x.val, x.ptr[b, t], x.ptr[b, t + 1]
    src = Ly.src
    if Ly.evk == EV_SPIKES:
        return spk_hist(S, lay[src - 1])[th, b], ones_f, 0, S.spk_n[src - 1, th, b]
    return ev_idx(S, Ly)[th, b], ev_val(S, Ly)[th, b], 0, S.ev_n[l, th, b]


@kernel
def fill_spike_map(idx, n, out):
    """out = the dense 0/1 map of n spikes at idx."""
    for i in range(out.shape[0]):
        out[i] = 0.0
    for q in range(n):
        out[idx[q]] = 1.0
