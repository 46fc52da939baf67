"""The error routes: the output gradient of a LIF layer from the error reaching its spikes
(spatial route, and BPTT's temporal route), and the error a layer sends into the layer below.

Spatial route (SLTT, OTTT; every rule at its last step)::

    g[t] = cin * sigma'(u[t] - theta) * E[t]          E[t] = dL/ds[t] from the layers above

Temporal route (BPTT, backwards over a window; ``first`` is the window's last step)::

    delta[t] = sigma'(u[t]) E[t] + lam * delta[t+1] * k[t]        g[t] = cin * delta[t]
    k[t] = 1 - theta sigma'(u[t])  (soft reset; 1 when the reset is detached)
    k[t] = 1 - H(u[t] - theta) - (u[t] - vr) sigma'(u[t])  (hard reset to vr; without the last
                                                         term detached)

Error into the source population (through the layer's weights, its pooling and the
population's dropout mask), only where the source's surrogate is non-zero::

    E_src[j] += m_j * sum_k W[j, k] g[k]

A current-based (CubaLIF) layer's synaptic current adds its own path backwards,
``ds[t] = cin delta[t] + syn ds[t+1]``, ``g[t] = ds[t]`` (syn_route); the spatial route is
unchanged (the current's history is detached with the rest of the state).

Counted only where executed (vocabulary in chipsim/counts.py): one temporal MAC per neuron
per step after the first (two for a CubaLIF neuron); error MACs for (input position with a non-zero surrogate) x
(non-zero output gradient it connects to), each reading one weight through W^T
(``mem_read_weight_transposed``, apart from the forward pass's row reads). Pooling and dropout are
routing (no arithmetic counted beyond the error MACs they select).
"""

from __future__ import annotations

from chipsim.counts import ERROR_MAC, MEM_READ_FEEDBACK, MEM_READ_WEIGHT_TRANSPOSED, TEMPORAL_MAC
from chipsim.kernels.arrays import copy, dot, gemm, zero
from chipsim.kernels.conv import (conv_geometry, error_direct, im2col, is_dense, kernel_read_t,
                                  pool_geometry, taps)
from chipsim.kernels.jit import kernel
from chipsim.kernels.neuron import heaviside
from chipsim.kernels.records import POOL_AVG, POOL_MAX, POOL_NONE
from chipsim.kernels.simd import FMA_ROWS, VEC_BYTES, fma_rows


@kernel
def spatial_route(g, sgl, e_in, cin, uni):
    """g = cin * sigma' * E: the spatial route of one LIF layer at one step (cin per neuron;
    ``uni``: every neuron's the same, read once)."""
    if uni and g.shape[0] > 0:
        cin0 = cin[0]
        for j in range(g.shape[0]):
            g[j] = cin0 * sgl[j] * e_in[j]
    else:
        for j in range(g.shape[0]):
            g[j] = cin[j] * sgl[j] * e_in[j]


@kernel
def temporal_route(g, sgl, e_in, dn, ul, lam, theta, cin, vr, uni, soft, detach, h0, first,
                   c):
    """BPTT's temporal route of one LIF layer at one step (backwards in time): updates the
    carried error ``dn`` (delta of this sample) and writes g = cin * delta. ``lam``, ``theta``,
    ``cin``, ``vr``: per neuron (``uni``: every neuron's the same, read once); ``soft``,
    ``h0``: the layer's reset and H(0)."""
    n = g.shape[0]
    if uni and n > 0:
        lam0, theta0, cin0, vr0 = lam[0], theta[0], cin[0], vr[0]
        for j in range(n):
            dn[j], g[j] = _delta(sgl[j], e_in[j], dn[j], ul[j], lam0, theta0, cin0, vr0, soft,
                                 detach, h0, first)
    else:
        for j in range(n):
            dn[j], g[j] = _delta(sgl[j], e_in[j], dn[j], ul[j], lam[j], theta[j], cin[j], vr[j],
                                 soft, detach, h0, first)
    if not first:
        c[TEMPORAL_MAC] += n


@kernel(inline=True)
def _delta(sg, e, dn, ul, lam, theta, cin, vr, soft, detach, h0, first):
    """One neuron's carried error delta[t] and its output gradient cin * delta[t]."""
    d = sg * e
    if not first:
        if soft:
            k = 1.0
            if not detach:
                k -= theta * sg
        else:
            k = 1.0 - heaviside(ul - theta, h0)
            if not detach:
                k -= (ul - vr) * sg
        d += lam * dn * k
    return d, cin * d


@kernel
def syn_route(g, ds, syn, first, c):
    """BPTT through a CubaLIF layer's synaptic current i[t] = syn * i[t-1] + I[t] (backwards in
    time): g holds cin * delta[t] = dL/di[t] through the membrane; the carried error adds the
    current's own path, ``ds[t] = g[t] + syn * ds[t+1]``, and the output gradient is dL/dI[t]
    = ds[t]."""
    n = g.shape[0]
    if first:
        for j in range(n):
            ds[j] = g[j]
    else:
        for j in range(n):
            d = g[j] + syn[j] * ds[j]
            ds[j] = d
            g[j] = d
        c[TEMPORAL_MAC] += n


@kernel
def dfa_error(Bm, e_out, E, c):
    """DFA's error of a hidden layer: E = B e_out (Bm (n, C) fixed and random, e_out the
    readout's output gradient at this step), computed over the non-zero e_out only: one error
    MAC and one read of B per (neuron, non-zero output error)."""
    n, C = Bm.shape
    nz = 0
    for k in range(C):
        ek = e_out[k]
        if ek != 0.0:
            nz += 1
            for j in range(n):
                E[j] += Bm[j, k] * ek
    c[ERROR_MAC] += nz * n
    c[MEM_READ_FEEDBACK] += nz * n


@kernel
def li_route(g, dro, lam, cin, first, temporal, c):
    """Back through a leaky-integrator readout o[t] = lam o[t-1] + cin I[t]: g holds dL/do[t]
    and becomes dL/dI[t]. Spatial route (state detached): g = cin g. Temporal (BPTT, backwards
    in time): dro[t] = g[t] + lam dro[t+1], g = cin dro[t]."""
    n = g.shape[0]
    if not temporal:
        for j in range(n):
            g[j] = cin[j] * g[j]
        return
    for j in range(n):
        d = g[j] if first else g[j] + lam[j] * dro[j]
        dro[j] = d
        g[j] = cin[j] * d
    if not first:
        c[TEMPORAL_MAC] += n


@kernel
def transpose_kernel(W, Ly, WT):
    """A convolution's kernel W (k*k*Cin, Cout) transposed for its error pass (conv_error_gemm),
    ordered to match that pass's im2col: (ky, k-1-kx, co) at stride 1 with pad < k,
    (ky*k + kx, co) otherwise. Where conv.kernel_read_t (a large product), WT is stored
    (Cin, k*k*Cout) and that pass multiplies by WT.T, so that BLAS reads the kernel as its
    transposed operand ('t'): at VGG-11's 144 x 4608 x 512 product 64-72 G multiply-adds a
    second alone, against 43-56 read 'n', with the same bits (benchmarks/check_blas_blocks.py,
    three runs).
    Otherwise it is stored (k*k*Cout, Cin). Made when the weights change (the loop's
    ``_kernel_tables``), not for every sample and step."""
    Cin, Win, Hout, Wout, Cout, k, s, pad = conv_geometry(Ly)
    nt = k * k
    read_t = kernel_read_t(Ly, W.itemsize)
    for kr in range(nt):
        ky = kr // k
        kx = kr % k
        tp = ky * k + (k - 1 - kx) if s == 1 and pad < k else kr
        r0 = tp * Cout
        for ci in range(Cin):
            row = W[kr * Cin + ci]
            if read_t:
                copy(WT[ci, r0:r0 + Cout], row)
            else:
                for co in range(Cout):
                    WT[r0 + co, ci] = row[co]


@kernel
def conv_error_gemm(WT, g, Ly, scr, out, taps_):
    """out (Hin*Win, Cin) = the error of every input of a convolution,
    out[p, ci] = sum over kernel offsets and output channels of W[tap*Cin+ci, co] * g[opos, co],
    as one matrix product: the gradient's im2col (Hin*Win, k*k*Cout), zero where an offset
    falls outside the output map, times the transposed kernel (k*k*Cout, Cin; transpose_kernel
    says how WT stores it). ``scr`` holds three separate scratch arrays (im2col, kernel, padded
    map: separate, so that the copies between them vectorise). The simulator computes every
    entry (a BLAS product is far faster than skipping the zeros); what the chip executes is
    counted separately (conv.tap_sums).

    Stride 1 (with pad < k): the gradient map is copied once into a zero-bordered map, in which
    the k offsets of one kernel row are k adjacent positions, so each im2col row is k contiguous
    copies (WT's rows are ordered to match, (ky, k-1-kx, co)).
    """
    Cin, Win, Hout, Wout, Cout, k, s, pad = conv_geometry(Ly)
    Hin = Ly.hin
    nt = k * k
    P = Hin * Win
    col = scr[0][:P * nt * Cout].reshape((P, nt * Cout))
    if s == 1 and pad < k:
        # gp[a, bb] = g[a - (k-1-pad), bb - (k-1-pad)] (zero outside the output map)
        off = k - 1 - pad
        Hp = Hin + k - 1
        Wp = Win + k - 1
        gp = scr[2][:Hp * Wp * Cout]
        zero(gp)
        for oy in range(Hout):
            a = oy + off
            if a >= Hp:
                break
            for ox in range(Wout):
                bb = ox + off
                if bb >= Wp:
                    break
                d = (a * Wp + bb) * Cout
                e = (oy * Wout + ox) * Cout
                copy(gp[d:d + Cout], g[e:e + Cout])
        if error_direct(Ly, g.itemsize):
            conv_error_direct(WT, gp, Ly, out)
            return
        im2col(scr[0][:P * nt * Cout], gp, Hin, Win, k, 1, Wp, Cout, True)
    else:
        tap_k = taps_[:nt]
        tap_o = taps_[nt:2 * nt]
        for y in range(Hin):
            for x in range(Win):
                r = col[y * Win + x]
                r[:] = 0.0
                n = taps(y, x, k, s, pad, Hout, Wout, tap_k, tap_o)
                for q in range(n):
                    rb = tap_k[q] * Cout
                    ob = tap_o[q] * Cout
                    for co in range(Cout):
                        r[rb + co] = g[ob + co]
    if kernel_read_t(Ly, g.itemsize):
        gemm(col, WT.T, out)
    else:
        gemm(col, WT, out)


@kernel
def conv_error_direct(WT, gp, Ly, out):
    """conv_error_gemm's product without its im2col or BLAS, where conv.error_direct (stride 1,
    few input channels): out[p, ci] is one chain of fused multiply-adds from 0 over the
    im2col row of position p, in its order, times WT's column ci, WT (k*k*Cout, Cin) (rows
    (ky, k-1-kx, co)); row p's values are read from the zero-bordered gradient map ``gp``
    (conv_error_gemm's stride-1 layout: its k offsets of kernel row ky are k*Cout contiguous
    values from ((y + k-1-ky)*Wp + x)*Cout). Positions go FMA_ROWS at a time, a vector of input
    channels each (simd.fma_rows); the last group repeats its last position.

    One chain from 0 in order, each step rounded once, is what OpenBLAS computes for such a
    product when it does not cut the inner dimension into blocks (on this machine for the
    shapes benchmarks/check_blas_blocks.py lists up to 288 inner terms, the conv net's
    289 x 288 x 16 among them; not from 576 on), so the error pass has the same bits as from
    BLAS there: the golden conv cases did not change. tests/test_simd.py checks the chain
    against an exactly rounded plain-Python one."""
    Cin, Win, Hout, Wout, Cout, k, s, pad = conv_geometry(Ly)
    P = Ly.hin * Win
    Wp = Win + k - 1
    seg = k * Cout
    L = VEC_BYTES // out.itemsize
    last = P - 1
    for c0 in range(0, Cin, L):
        for p in range(0, P, FMA_ROWS):
            rows = (p, min(p + 1, last), min(p + 2, last), min(p + 3, last),
                    min(p + 4, last), min(p + 5, last), min(p + 6, last), min(p + 7, last))
            for i in range(FMA_ROWS):
                out[rows[i], c0:c0 + L] = 0.0
            for ky in range(k):
                r = k - 1 - ky
                offs = (_map_at(rows[0], r, Win, Wp, Cout), _map_at(rows[1], r, Win, Wp, Cout),
                        _map_at(rows[2], r, Win, Wp, Cout), _map_at(rows[3], r, Win, Wp, Cout),
                        _map_at(rows[4], r, Win, Wp, Cout), _map_at(rows[5], r, Win, Wp, Cout),
                        _map_at(rows[6], r, Win, Wp, Cout), _map_at(rows[7], r, Win, Wp, Cout))
                fma_rows(out, rows, gp, offs, WT, ky * seg, c0, seg)


@kernel(inline=True)
def _map_at(p, r, Win, Wp, C):
    """Where, in a zero-bordered map of width Wp and C channels, the values of input position
    p (row p // Win, column p % Win) for kernel row r begin."""
    return ((p // Win + r) * Wp + p % Win) * C


@kernel
def error_to_source(W, WT, g, gnz, ng, Ly, sg, mask, pre_spk, E, epost, edone, tsum, scr, taps_,
                    c):
    """E[j] += d(sum of losses)/d(spike j) of the source population through this layer, its
    pooling and the population's dropout mask; only where the surrogate sg[j] != 0.

    ``WT``: a convolution's transposed kernel (transpose_kernel). ``pre_spk``: the source
    population's spikes at this step as a dense 0/1 map (max pooling
    routes the error to the first maximal element of each window, torch's rule). ``tsum``: a
    convolution's non-zero output gradients per input position (conv.tap_sums); ``scr``:
    scratch.
    """
    pool, k, C, Wpre, Hin, Win = pool_geometry(Ly)
    has_mask = mask.shape[0] > 0
    n_pre = sg.shape[0]
    work = 0
    if pool == POOL_NONE and is_dense(Ly):
        # dense layer, no pooling: E[j] += m * W[j] . g on the non-zeros of g
        for j in range(n_pre):
            if sg[j] == 0.0:
                continue
            m = 1.0
            if has_mask:
                m = mask[j]
                if m == 0.0:
                    continue
            row = W[j]
            if ng == row.shape[0]:
                e = dot(row, g)
            else:
                e = 0.0
                for q in range(ng):
                    e += row[gnz[q]] * g[gnz[q]]
            E[j] += m * e
            work += ng
        c[ERROR_MAC] += work
        c[MEM_READ_WEIGHT_TRANSPOSED] += work
        return
    # spatial path (convolution, or pooling in front of any layer). First the error of every
    # (pooled) input the layer reads, into epost: a convolution's from one matrix product
    # (conv_error_gemm), a dense layer's as W[jp] . g. Then each source neuron with a non-zero
    # surrogate (and mask) takes its pooled input's error. The counts keep only what the chip
    # computes: a pooled input's error once, if some neuron of its window needs it, at the cost
    # of the non-zero output gradients it meets (tsum for a convolution, ng for a dense layer).
    if ng == 0:            # no output gradient: nothing reaches the source
        return
    Hpre = Ly.hpre
    kk = k if pool != POOL_NONE else 1
    conv = not is_dense(Ly)
    P = Hin * Win
    ep = epost[:P * C]
    if conv:
        conv_error_gemm(WT, g, Ly, scr, ep.reshape((P, C)), taps_)
    else:
        for jp in range(P * C):
            ep[jp] = dot(W[jp], g)
    flag = edone[:P * C]
    for q in range(P * C):
        flag[q] = 0
    inv = 1.0 / (kk * kk) if pool == POOL_AVG else 1.0
    for yy in range(Hpre):
        py = yy // kk
        if py >= Hin:
            break
        for xx in range(Wpre):
            px = xx // kk
            if px >= Win:
                break
            jb = (yy * Wpre + xx) * C
            pb = (py * Win + px) * C
            Ev = E[jb:jb + C]
            sv = sg[jb:jb + C]
            ev = ep[pb:pb + C]
            fv = flag[pb:pb + C]
            if not has_mask and pool != POOL_MAX:      # the common case, vectorisable
                for c_ in range(C):
                    if sv[c_] != 0.0:
                        Ev[c_] += ev[c_] * inv
                        fv[c_] = 1
                continue
            for c_ in range(C):
                j = jb + c_
                if sv[c_] == 0.0:
                    continue
                m = 1.0
                if has_mask:
                    m = mask[j]
                    if m == 0.0:
                        continue
                if pool == POOL_MAX:
                    # first maximal element of the window (scan order dy, dx) of the masked spikes
                    best = -1
                    bv = -1.0
                    for dy in range(kk):
                        for dx in range(kk):
                            jj = ((py * kk + dy) * Wpre + (px * kk + dx)) * C + c_
                            vv = pre_spk[jj] * (mask[jj] if has_mask else 1.0)
                            if vv > bv:
                                bv = vv
                                best = jj
                    if best != j:
                        continue
                Ev[c_] += m * ev[c_] * inv
                fv[c_] = 1
    for ppos in range(P):
        n = 0
        fv = flag[ppos * C:(ppos + 1) * C]
        for c_ in range(C):
            n += fv[c_]
        work += n * (tsum[ppos] if conv else ng)
    c[ERROR_MAC] += work
    c[MEM_READ_WEIGHT_TRANSPOSED] += work
