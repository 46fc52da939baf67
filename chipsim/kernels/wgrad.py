"""The weight gradient: (presynaptic factor) x (output gradient), into a gradient accumulator
or, for an update written straight into the weights, into the weights.

    grad W[row(j, tap), k] += p_j * g[opos(tap), k]         grad b[k] += sum over positions of g

The presynaptic factor p_j is the layer's input event j (a spike, 1, or a graded value) or,
OTTT, the trace a_j[t] = decay * a_j[t-1] + input_j[t] (FACTOR_TRACE). Counted where executed:
one gradient AC (binary factor) or MAC (real factor) and one accumulator read-modify-write (or
weight read-modify-write, direct) per (non-zero factor, non-zero g) pair.
"""

from __future__ import annotations

from chipsim.counts import (GRAD_AC, GRAD_MAC, MEM_READ_GRAD, MEM_READ_WEIGHT, MEM_WRITE_GRAD,
                            MEM_WRITE_WEIGHT, WEIGHT_UPDATE_ISSUED, WEIGHT_UPDATE_SKIPPED)
from chipsim.kernels.arrays import add, axpy, copy, gemm, nonzero, zero
from chipsim.kernels.conv import conv_geometry, im2col, taps
from chipsim.kernels.jit import kernel
from chipsim.kernels.records import WGRAD_BLOCK
from chipsim.kernels.update import add_to_bias, count_sweep, round_sr, sgd_row, sgd_row_fixed


@kernel
def grad_row(M, r, g, base, gnz, q0, q1, c0, c1, full, p, unit):
    """Columns c0..c1-1 of row r of M += p * g[base + column] (unit: += g): all of them
    (``full``), or those of g's non-zeros ``gnz[q0:q1]`` (which lie in c0..c1-1)."""
    row = M[r]
    if full:
        if unit:
            add(row[c0:c1], g[base + c0:base + c1])
        else:
            axpy(row[c0:c1], g[base + c0:base + c1], p)
    else:
        if unit:
            for q in range(q0, q1):
                co = gnz[q]
                row[co] += g[base + co]
        else:
            for q in range(q0, q1):
                co = gnz[q]
                row[co] += p * g[base + co]


@kernel(inline=True)
def conv_wgrad_cols(X, Ly, scr):
    """im2col(X) (Hout*Wout, k*k*Cin) of a convolution's dense input map X (pooled,
    channel-last) into ``scr[0]``, zero where an offset falls in the padding: the left factor
    of the weight gradient im2col(X)^T g. The input map is copied once into a zero-padded map,
    in which one kernel row's k offsets are k adjacent positions (any stride), so each im2col
    row is k contiguous copies. (X may be in ``scr[1]``: it is read here, before the product
    writes there.)"""
    Cin, Win, Hout, Wout, Cout, k, s, pad = conv_geometry(Ly)
    Hin = Ly.hin
    nt = k * k
    P = Hout * Wout
    Hp = max(Hin + 2 * pad, (Hout - 1) * s + k)
    Wp = max(Win + 2 * pad, (Wout - 1) * s + k)
    xp = scr[2][:Hp * Wp * Cin]
    zero(xp)
    for y in range(Hin):
        d = ((y + pad) * Wp + pad) * Cin
        e = y * Win * Cin
        copy(xp[d:d + Win * Cin], X[e:e + Win * Cin])
    im2col(scr[0][:P * nt * Cin], xp, Hout, Wout, k, s, Wp, Cin, False)
    return scr[0][:P * nt * Cin].reshape((P, nt * Cin))


@kernel(inline=True)
def conv_wgrad_block(col, g, Ly, s0, s1, gblk, scr):
    """Columns s0..s1-1 of a convolution's weight gradient, dW = col^T g[:, s0:s1], as one
    BLAS product (the block of g copied into ``gblk``; dW written to ``scr[1]`` and returned,
    (k*k*Cin, s1-s0)). ``col`` has one row per output position of one sample-step, and g a
    row of Cout values for each."""
    P = col.shape[0]
    Cout = Ly.cout
    nb = s1 - s0
    gb = gblk[:P * nb].reshape((P, nb))
    for q in range(P):
        copy(gb[q], g[q * Cout + s0:q * Cout + s1])
    dW = scr[1][:col.shape[1] * nb].reshape((col.shape[1], nb))
    gemm(col.T, gb, dW)
    return dW


@kernel(inline=True)
def add_block(target, dW, s0, s1, touched):
    """target[:, s0:s1] += dW where dW is not zero (the additions the chip's event-by-event
    accumulation makes; an exact zero adds nothing and marks no row), marking the rows hit.
    Workers that add disjoint column blocks may both mark a row: they write the same 1."""
    for r in range(dW.shape[0]):
        if _add_row(target[r][s0:s1], dW[r], s1 - s0):
            touched[r] = 1


@kernel(inline=True)
def add_rows(target, dW, r0, r1, touched):
    """target[r0:r1] += dW[r0:r1] where dW is not zero, marking the rows hit (add_block, by
    rows)."""
    Cout = dW.shape[1]
    for r in range(r0, r1):
        if _add_row(target[r], dW[r], Cout):
            touched[r] = 1


@kernel(inline=True)
def _add_row(rw, dr, n):
    """rw[:n] += dr[:n] where dr is not zero; whether any was (add_block, add_rows).
    A select, not a branch: an element whose dr is zero keeps its value (even -0.0, which
    adding +0.0 would make +0.0), the same bits as skipping it, and the loop vectorises
    (4.7x faster on a 144 x 32 block, benchmarks/results/2026-12-07_gather_eve.txt)."""
    nz = 0
    for co in range(n):
        d = dr[co]
        rw[co] = rw[co] + d if d != 0.0 else rw[co]
        nz += d != 0.0
    return nz > 0


@kernel(inline=True)
def factor_range(use_trace, trace, start, stop):
    """The q range over which factor_at steps: every trace entry, or the events start..stop-1."""
    if use_trace:
        return 0, trace.shape[0]
    return start, stop


@kernel(inline=True)
def factor_at(q, use_trace, trace, pre_idx, pre_val):
    """(j, p): the presynaptic index and factor of step q of factor_range, trace entry q or
    input event q. A trace entry may be zero (the caller skips it); an event's value is not
    tested."""
    if use_trace:
        return q, trace[q]
    return pre_idx[q], pre_val[q]


@kernel
def conv_event_grads(target, gg, Ly, pre_idx, pre_val, start, stop, trace, use_trace, pos_nz,
                     taps_, unit, mark, touched, c0, c1, r0, r1):
    """A convolution's weight gradient event by event, for one sample and step: for each input
    event (or non-zero trace entry), each kernel tap it reaches whose output position has a
    non-zero gradient (``pos_nz``) adds factor x that position's g (columns c0..c1-1) into
    the tap's row ((ky*k + kx)*Cin + ci), if that row is one of r0..r1-1, marked in
    ``touched`` (``mark``). A row's additions come in event order whichever rows are asked
    for, so a split of the rows changes no bit."""
    Cin, Win, Hout, Wout, Cout, k, s, pad = conv_geometry(Ly)
    nt = k * k
    tap_k = taps_[:nt]
    tap_o = taps_[nt:2 * nt]
    e0, e1 = factor_range(use_trace, trace, start, stop)
    for q in range(e0, e1):
        j, p = factor_at(q, use_trace, trace, pre_idx, pre_val)
        if use_trace and p == 0.0:
            continue
        ci = j % Cin
        pos = j // Cin
        n = taps(pos // Win, pos % Win, k, s, pad, Hout, Wout, tap_k, tap_o)
        for qq in range(n):
            opos = tap_o[qq]
            if pos_nz[opos] == 0:
                continue
            r = tap_k[qq] * Cin + ci
            if r < r0 or r >= r1:
                continue
            # grad_row's full branch, written out: a call per tap cost more than the
            # Cout-wide axpy it makes on the conv net (inlining grad_row everywhere slowed
            # the dense layers' path, MLP bptt at batch 32 0.86x)
            b0 = opos * Cout
            if unit:
                add(target[r][c0:c1], gg[b0 + c0:b0 + c1])
            else:
                axpy(target[r][c0:c1], gg[b0 + c0:b0 + c1], p)
            if mark and touched[r] == 0:    # marked once: workers sharing a step by
                touched[r] = 1              # channels mark neighbouring bytes


@kernel
def conv_tap_grads(target, gg, Ly, pre_idx, pre_val, start, stop, trace, use_trace, fac, fval,
                   pos_nz, unit, touched, r0, r1):
    """conv_event_grads into a gradient accumulator (every column; rows r0..r1-1), tap by
    tap: the factors are decoded once (their row y, column x and channel ci packed into
    ``fac``, their values into ``fval``: a worker's scratch; in blocks of its length, if
    shorter), then each tap whose rows meet r0..r1-1 walks them in order, adding factor x g
    of the output position it reaches into row tap*Cin + ci, with a select per entry (a zero
    entry of g adds nothing), and marking ``touched`` where that g is not all zero; given
    ``pos_nz`` (the non-zeros of g per output position; empty: not given), it skips the
    positions with none, as conv_event_grads does (worth a scan where rows are wide). Each
    row's additions come from the same factors in the same order as from conv_event_grads,
    so the bits are the same, however the rows are split, and the marks are the same. Narrow
    rows need no scan of g first: two workers sharing the rows each walk only their own taps,
    and only the one counting a sample-step scans it (loop._tail_share). A factor's column
    and channel are packed in 20 bits each: input maps narrower than 2^20 columns, with
    fewer than 2^20 channels.

    The accumulator starts at +0.0 and receives sums only, so it never holds -0.0: the
    select gives the bits of conv_event_grads' additions, which add every entry of a g that
    is not all zero (adding +0.0 changes no other value) and skip a g that is."""
    Cin, Win, Hout, Wout, Cout, k, s, pad = conv_geometry(Ly)
    e0, e1 = factor_range(use_trace, trace, start, stop)
    m = (1 << 20) - 1
    skip = pos_nz.shape[0] > 0
    cap = min(fac.shape[0], fval.shape[0])
    q = e0
    while q < e1:           # the factors in blocks of at most ``cap``, in order
        n = 0
        while q < e1 and n < cap:
            j, p = factor_at(q, use_trace, trace, pre_idx, pre_val)
            q += 1
            if use_trace and p == 0.0:
                continue
            pos = j // Cin
            y = pos // Win
            fac[n] = (y << 40) | ((pos - y * Win) << 20) | (j - pos * Cin)
            fval[n] = p
            n += 1
        for tp in range(r0 // Cin, (r1 - 1) // Cin + 1):
            ky = tp // k
            kx = tp - ky * k
            part = tp * Cin < r0 or (tp + 1) * Cin > r1     # not all the tap's rows asked for
            rb = tp * Cin
            for i in range(n):
                f = fac[i]
                r = rb + (f & m)
                if part and (r < r0 or r >= r1):
                    continue
                ty = (f >> 40) + pad - ky
                tx = ((f >> 20) & m) + pad - kx
                if s == 1:
                    if ty < 0 or ty >= Hout or tx < 0 or tx >= Wout:
                        continue
                else:
                    if ty < 0 or tx < 0 or ty % s != 0 or tx % s != 0:
                        continue
                    ty //= s
                    tx //= s
                    if ty >= Hout or tx >= Wout:
                        continue
                opos = ty * Wout + tx
                if skip and pos_nz[opos] == 0:
                    continue
                row = target[r]
                gq = gg[opos * Cout:(opos + 1) * Cout]
                nz = 0
                if unit:
                    for c in range(Cout):
                        v = gq[c]
                        row[c] = row[c] + v if v != 0.0 else row[c]
                        nz += v != 0.0
                else:
                    p = fval[i]
                    for c in range(Cout):
                        v = gq[c]
                        row[c] = row[c] + p * v if v != 0.0 else row[c]
                        nz += v != 0.0
                if nz > 0 and touched[r] == 0:
                    touched[r] = 1


@kernel(inline=True)
def bias_grads(gb, g, npos, Cout, c0, c1):
    """gb[co] += g at each output position where it is not zero, columns c0..c1-1 (as
    selects on views from index 0, so that the loop vectorises: _add_row)."""
    b = gb[c0:c1]
    for q in range(npos):
        gq = g[q * Cout + c0:q * Cout + c1]
        for i in range(b.shape[0]):
            v = gq[i]
            b[i] = b[i] + v if v != 0.0 else b[i]


@kernel(inline=True)
def add_nonzero(row, g, p, unit):
    """row += p * g (unit: += g) where g is not zero: the additions grad_row makes over a
    gradient's non-zeros (its full branch adds every entry, and none is zero there). Written
    as a select, not a branch, so that the loop vectorises (_add_row)."""
    if unit:
        for i in range(g.shape[0]):
            v = g[i]
            row[i] = row[i] + v if v != 0.0 else row[i]
    else:
        for i in range(g.shape[0]):
            v = g[i]
            row[i] = row[i] + p * v if v != 0.0 else row[i]


#: rows of a dense layer's accumulator taken at a time in a batch's weight gradient
#: (loop._dense_batch_share): about this many floats of a worker's columns, so they stay in
#: L2 while every sample adds into them
TILE_FLOATS = 65536


@kernel
def weight_grad(W, bias, gW, gb, g, gnz, ng, Ly, pre_idx, pre_val, start, stop, trace,
                use_trace, direct, lr, touched, scratch, pos_nz, tsum, scr, gblk, taps_, c, wq,
                wlim, rs, c0, c1, count):
    """Weight-gradient contributions (presynaptic factor) x g for one sample and step, in the
    output columns c0..c1-1 (a worker's share; ``count``: this call adds the counts of the
    whole layer, so exactly one share per layer and step has it).

    The presynaptic factor is the layer's input events (spikes, or graded values) or, OTTT,
    the non-zero entries of the presynaptic trace. Accumulates into gW, or, ``direct`` (OTTT_O,
    batch 1, plain SGD; columns 0..Cout-1 in one call), writes -lr * factor * g straight into
    W. ``touched[r]`` marks accumulator rows that received a contribution, so applying the
    update can skip rows that are certainly zero (counts still describe the chip's full
    sweep). Each weight receives the same additions in the same order whatever the columns'
    split, so a split changes no bit.

    A convolution whose factors are dense enough (OTTT's traces; busy spike maps) computes its
    gradient as matrix products over the dense input map (conv_wgrad_cols, conv_wgrad_block),
    one per fixed block of WGRAD_BLOCK columns (c0 must be a multiple of it), instead of event
    by event; the sums are the same up to float rounding order, and the counts are those of the
    event-by-event work (``tsum``: non-zero gradients met per input position).
    """
    Cin, Win, Hout, Wout, Cout, k, s, pad = conv_geometry(Ly)
    has_bias = Ly.has_bias == 1
    n_out = Hout * Wout * Cout
    dense = Hout * Wout == 1 and k == 1
    if direct:
        target = W
        gg = scratch[:n_out]
        for i in range(n_out):
            gg[i] = -lr * g[i]
    else:
        target = gW
        gg = g
    unit = Ly.unit == 1 and not use_trace
    n_pairs = 0
    gemm_ = False
    if not dense:
        n_pairs, nf = conv_pairs(Ly, pre_idx, start, stop, trace, use_trace, tsum)
        gemm_ = use_product(Ly, n_pairs, nf, direct)
    if gemm_:
        X = input_map(Ly, pre_idx, pre_val, start, stop, trace, use_trace, scr[1])
        col = conv_wgrad_cols(X, Ly, scr)
        for s0 in range(c0, c1, WGRAD_BLOCK):
            s1 = min(c1, s0 + WGRAD_BLOCK)
            add_block(target, conv_wgrad_block(col, gg, Ly, s0, s1, gblk, scr), s0, s1, touched)
    elif ng > 0:
        # event by event: a dense layer's factor reads one row, a convolution's its valid taps
        if dense:
            full = ng == Cout
            q0 = 0          # a dense layer's non-zeros of g in c0..c1-1 (gnz ascends)
            while q0 < ng and gnz[q0] < c0:
                q0 += 1
            q1 = q0
            while q1 < ng and gnz[q1] < c1:
                q1 += 1
            e0, e1 = factor_range(use_trace, trace, start, stop)
            for q in range(e0, e1):
                j, p = factor_at(q, use_trace, trace, pre_idx, pre_val)
                if use_trace and p == 0.0:
                    continue
                grad_row(target, j, gg, 0, gnz, q0, q1, c0, c1, full, p, unit)
                n_pairs += ng
                # marked once: the workers sharing a row by columns would otherwise both
                # write its byte at every event, passing the line between cores each time
                if not direct and touched[j] == 0:
                    touched[j] = 1
        else:
            conv_event_grads(target, gg, Ly, pre_idx, pre_val, start, stop, trace, use_trace,
                             pos_nz, taps_, unit, not direct, touched, c0, c1, 0, k * k * Cin)
    if not direct and has_bias:
        bias_grads(gb, g, Hout * Wout, Cout, c0, c1)
    if not count:
        return
    if Ly.ac == 1 and not use_trace:
        c[GRAD_AC] += n_pairs
    else:
        c[GRAD_MAC] += n_pairs
    nW = W.shape[0] * W.shape[1]
    nnz_g = ng     # non-zero entries of g (dense or convolution)
    if direct and wq != 0.0 and ng > 0:   # fixed-point weights: round every updated word
        e0, e1 = factor_range(use_trace, trace, start, stop)
        for qq in range(e0, e1):
            j, p = factor_at(qq, use_trace, trace, pre_idx, pre_val)
            if use_trace and p == 0.0:
                continue
            row = W[j]
            for r_ in range(ng):
                row[gnz[r_]] = round_sr(row[gnz[r_]], wq, wlim, rs)
    if direct:
        c[WEIGHT_UPDATE_ISSUED] += n_pairs
        c[WEIGHT_UPDATE_SKIPPED] += nW - n_pairs
        c[MEM_READ_WEIGHT] += n_pairs
        c[MEM_WRITE_WEIGHT] += n_pairs
        if has_bias:
            nb = 0
            for co in range(Cout):
                acc = 0.0
                for q in range(Hout * Wout):
                    acc += gg[q * Cout + co]
                if acc != 0.0:
                    add_to_bias(bias, co, acc, wq, wlim, rs)
                    nb += 1
            c[WEIGHT_UPDATE_ISSUED] += nb
            c[WEIGHT_UPDATE_SKIPPED] += Cout - nb
            c[MEM_READ_WEIGHT] += nb
            c[MEM_WRITE_WEIGHT] += nb
    else:
        count_accumulated(c, Ly, use_trace, n_pairs, nnz_g, False)


@kernel(inline=True)
def count_accumulated(c, Ly, use_trace, n_pairs, ng, factor_ops):
    """Counts of weight-gradient contributions accumulated (not written into the weights):
    one accumulator read-modify-write per pair, and per non-zero gradient for the bias;
    ``factor_ops``: also the pairs' gradient ACs (binary factor) or MACs."""
    if factor_ops:
        if Ly.ac == 1 and not use_trace:
            c[GRAD_AC] += n_pairs
        else:
            c[GRAD_MAC] += n_pairs
    c[MEM_READ_GRAD] += n_pairs
    c[MEM_WRITE_GRAD] += n_pairs
    if Ly.has_bias == 1:
        c[MEM_READ_GRAD] += ng
        c[MEM_WRITE_GRAD] += ng


@kernel
def conv_pairs(Ly, pre_idx, start, stop, trace, use_trace, tsum):
    """(pairs, factors) of a convolution at one step: the chip's work, per non-zero presynaptic
    factor the non-zero gradients it meets (``tsum`` per input position), and how many
    non-zero factors there are."""
    Cin = Ly.cin
    n_pairs = 0
    nf = 0
    if use_trace:
        for j in range(trace.shape[0]):
            if trace[j] != 0.0:
                n_pairs += tsum[j // Cin]
                nf += 1
    else:
        for q in range(start, stop):
            n_pairs += tsum[pre_idx[q] // Cin]
        nf = stop - start
    return n_pairs, nf


@kernel(inline=True)
def use_product(Ly, n_pairs, nf, direct):
    """A convolution's gradient as matrix products over the dense input map, when cheaper than
    nf * k*k * Cout axpys (and not written straight into the weights)."""
    return n_pairs > 0 and not direct and nf * Ly.cout > 2 * Ly.hout * Ly.wout * Ly.cin


@kernel(inline=True)
def input_map(Ly, pre_idx, pre_val, start, stop, trace, use_trace, buf):
    """The dense input map (Hin*Win*Cin) of a convolution's presynaptic factors: the trace, or
    the input events written into ``buf``."""
    if use_trace:
        return trace
    n = Ly.hin * Ly.win * Ly.cin
    X = buf[:n]
    zero(X)
    unit = Ly.unit == 1
    for q in range(start, stop):
        X[pre_idx[q]] += 1.0 if unit else pre_val[q]
    return X


@kernel
def factor_count(Ly, start, stop, trace, use_trace):
    """The non-zero presynaptic factors of a layer at one step (its input events, or its
    trace's non-zeros)."""
    if not use_trace:
        return stop - start
    nf = 0
    for j in range(trace.shape[0]):
        nf += trace[j] != 0.0
    return nf


@kernel(inline=True)
def dense_enough(Ly, nf):
    """A convolution's gradient at one step is computed as a matrix product over its dense
    input map when that is cheaper than nf * k*k * Cout axpys (use_product, without asking
    whether any pair meets: a product with none adds exact zeros)."""
    return nf * Ly.cout > 2 * Ly.hout * Ly.wout * Ly.cin


@kernel
def stack_product(Ly, g, ng, pre_idx, pre_val, start, stop, trace, use_trace, tsum, scr, colS,
                  gS, slot, c):
    """Batch-level weight gradient of a convolution, one sample and step whose factors are
    dense enough (dense_enough): its im2col goes to rows slot*P.. of the stacked ``colS``
    (P = Hout*Wout rows of k*k*Cin), its g to rows slot*P.. of ``gS`` (Cout columns), and its
    work is counted (the chip's event-by-event pairs). The stacked product colS^T gS then sums
    a chunk of the batch's sample-steps in one BLAS call."""
    P = Ly.hout * Ly.wout
    R = Ly.k * Ly.k * Ly.cin
    Cout = Ly.cout
    cs = colS[slot * P * R:(slot + 1) * P * R]
    gs = gS[slot * P * Cout:(slot + 1) * P * Cout]
    n_pairs, nf = conv_pairs(Ly, pre_idx, start, stop, trace, use_trace, tsum)
    X = input_map(Ly, pre_idx, pre_val, start, stop, trace, use_trace, scr[1])
    conv_wgrad_cols(X, Ly, (cs, scr[1], scr[2]))
    copy(gs, g[:P * Cout])
    count_accumulated(c, Ly, use_trace, n_pairs, ng, True)


@kernel
def wgrad_from_history(W, bias, G, t0, t1, ev_idx, ev_val, ev_ptr, Ly, gW, gb, touched, fused,
                       lr, sw, c, wq, wlim, rs, r0, r1, lead):
    """BPTT weight gradient of one dense layer and sample from the stored history, rows
    r0..r1-1 of it (a worker's share; ``lead``: this call also counts the whole layer's work
    and adds the bias, so exactly one share per layer and sample has it).

    ``G`` (T, n_out) holds the postsynaptic gradient of every step; steps ``t0 .. t1-1`` (a
    window) are used; the presynaptic events of step t are
    ``ev_idx[ev_ptr[t-t0]:ev_ptr[t-t0+1]]``. The chip accumulates ``g[t]`` into row j of a
    gradient memory for every presynaptic event (counted so); the simulator sorts the events by
    row first and sums each row's contributions (in the same t-descending order) in a scratch
    row, so the accumulator or, ``fused`` (batch 1, plain SGD; one share of every row), the
    weights are written once per row. Results are bitwise those of event-by-event
    accumulation, whatever the rows' split. ``sw``: the worker's Scratch row (its h_ arrays:
    the inverse index and the summed row).
    """
    binary = Ly.unit == 1
    ac = Ly.ac == 1
    has_bias = Ly.has_bias == 1
    inv_cnt = sw.h_cnt
    inv_cur = sw.h_cur
    inv_t = sw.h_t
    inv_e = sw.h_e
    gz = sw.h_gnz
    ns = sw.h_cur.shape[0]      # the stride of a step's non-zeros in gz
    ngt = sw.h_ngt
    rowsum = sw.h_sum
    T = t1 - t0
    n_in, n_out = W.shape
    nr = r1 - r0
    for t in range(T):
        ngt[t] = nonzero(G[t0 + t], gz[t * ns:(t + 1) * ns])
    for j in range(nr + 1):
        inv_cnt[j] = 0
    pairs = 0
    for t in range(T):
        pairs += (ev_ptr[t + 1] - ev_ptr[t]) * ngt[t]
        for e in range(ev_ptr[t], ev_ptr[t + 1]):
            j = ev_idx[e] - r0
            if j >= 0 and j < nr:
                inv_cnt[j + 1] += 1
    for j in range(nr):
        inv_cnt[j + 1] += inv_cnt[j]
        inv_cur[j] = inv_cnt[j]
    for t in range(T - 1, -1, -1):
        for e in range(ev_ptr[t], ev_ptr[t + 1]):
            j = ev_idx[e] - r0
            if j >= 0 and j < nr:
                inv_t[inv_cur[j]] = t
                inv_e[inv_cur[j]] = e
                inv_cur[j] += 1
    issued = 0
    for jj in range(nr):
        if inv_cnt[jj + 1] == inv_cnt[jj]:
            continue
        j = r0 + jj
        for k in range(n_out):
            rowsum[k] = 0.0
        for q in range(inv_cnt[jj], inv_cnt[jj + 1]):
            t = inv_t[q]
            g = G[t0 + t]
            nz = ngt[t]
            gnz = gz[t * ns:t * ns + nz]
            if binary:
                if nz == n_out:
                    for k in range(n_out):
                        rowsum[k] += g[k]
                else:
                    for r in range(nz):
                        k = gnz[r]
                        rowsum[k] += g[k]
            else:
                p = ev_val[inv_e[q]]
                if nz == n_out:
                    for k in range(n_out):
                        rowsum[k] += p * g[k]
                else:
                    for r in range(nz):
                        k = gnz[r]
                        rowsum[k] += p * g[k]
        if fused:
            rw = W[j]
            if wq == 0.0:
                issued += sgd_row(rw, rowsum[:n_out], lr)
            else:
                issued += sgd_row_fixed(rw, rowsum[:n_out], lr, wq, wlim, rs)
        else:
            rg = gW[j]
            for k in range(n_out):
                rg[k] += rowsum[k]
            touched[j] = 1
    if not lead:
        return
    if ac:
        c[GRAD_AC] += pairs
    else:
        c[GRAD_MAC] += pairs
    c[MEM_READ_GRAD] += pairs
    c[MEM_WRITE_GRAD] += pairs
    if has_bias:
        for k in range(n_out):
            rowsum[k] = 0.0
        for t in range(T - 1, -1, -1):
            for r in range(ngt[t]):
                k = gz[t * ns + r]
                rowsum[k] += G[t0 + t, k]
            c[MEM_READ_GRAD] += ngt[t]
            c[MEM_WRITE_GRAD] += ngt[t]
        if fused:
            bi = 0
            for k in range(n_out):
                if rowsum[k] != 0.0:
                    add_to_bias(bias, k, -lr * rowsum[k], wq, wlim, rs)
                    bi += 1
            count_sweep(c, n_out, bi)
        else:
            for k in range(n_out):
                gb[k] += rowsum[k]
    if fused:
        # the apply sweep the chip performs after the sample (as update.apply_rows counts it)
        count_sweep(c, n_in * n_out, issued)
