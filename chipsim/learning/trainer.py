"""The trainer every rule shares: the network's layout, the buffers, one kernel call per batch.

A rule (rule.py) chooses the error route, the presynaptic factor, when updates apply and which
steps learn; the trainer turns the network, the neuron, the rule, the loss and the optimiser
into the kernels' records (chipsim/kernels/records.py) and runs chipsim.kernels.run_batch.
Everything a rule keeps *for learning* is allocated here and measured in bytes:

- ``learning_state_bytes``: state kept for the backward pass: the pre-reset potentials and
  input events of one step (SLTT, OTTT) or of every step of a window (BPTT), OTTT's
  presynaptic traces, per-step error buffers, BPTT's temporal error. This is what the papers
  compare ("memory held for learning"); it is the figure that grows with T for BPTT only.
- ``gradient_buffer_bytes``: weight-sized gradient accumulators and momentum buffers (zero
  where a layer's update is written straight into its weights).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from chipsim import counts as K
from chipsim import threads
from chipsim.kernels import batch_work, run_batch
from chipsim.kernels.arrays import row_apart as _row_apart_kernel, zeros_aligned
from chipsim.kernels.records import (APPLY_END, APPLY_STEP, CLK_APPLY, CLK_BATCH, CLK_HISTORY,
                                     CLK_PRODUCTS, CLK_SAMPLES, CLK_STACK, CLK_TAIL, CLK_WGRADS,
                                     CLK_WINDOW, CLOCKS, COOP_BLOCKS, EV_BUF, EV_INPUT, SGQ,
                                     EV_SPIKES, FACTOR_TRACE, FEEDBACK_FIXED, FEEDBACK_WT, LAYOUT,
                                     POOL_AVG, PIPE_SLOTS, POOL_MAX, POOL_NONE,
                                     POPULATION, ROLE_AUX, ROLE_LIF, ROLE_READOUT, ROLE_REC,
                                     ROUND_CHUNKS, ROUTE_TEMPORAL, STACK_FLOATS, STACK_ROUND,
                                     STACK_ROWS, TICKETS, W_PHASES, W_PRODUCTS, W_STACK, W_TAIL,
                                     WGRAD_BLOCK,
                                     Grads, Inputs, Net, NumberFormat,
                                     Optimizer, Params, Rule as RuleRec, State)
from chipsim.learning.losses import loss_record
from chipsim.learning.rule import Rule
from chipsim.model.network import Network
from chipsim.model.neuron import NeuronParams, neuron_record

_POOL = {"none": POOL_NONE, "avg": POOL_AVG, "max": POOL_MAX}
_ROLE = {"dense": ROLE_LIF, "conv": ROLE_LIF, "readout": ROLE_READOUT, "aux": ROLE_AUX,
         "recurrent": ROLE_REC}


def layout(net: Network) -> np.ndarray:
    """The geometry and input transform of every weight layer (LAYOUT records; the arena
    offsets are filled by the trainer)."""
    lay = np.zeros(len(net.layers), dtype=LAYOUT)
    for r, ls in zip(lay, net.layers):
        if ls.kind == "conv":
            r["hin"], r["win"], r["cin"] = ls.pooled
        else:
            r["hin"], r["win"], r["cin"] = 1, 1, ls.n_in
        r["hout"], r["wout"], r["cout"] = ls.out
        r["k"], r["stride"], r["pad"] = ls.k, ls.stride, ls.pad
        r["pool"], r["pool_k"] = _POOL[ls.pool], ls.pool_k
        r["src"] = ls.src
        r["hpre"], r["wpre"] = ls.pre[0], ls.pre[1]
        r["ph"], r["pw"], r["pc"] = ls.pooled
        r["role"] = _ROLE[ls.kind]
        r["rec"] = -1
        # a W_rec row sends no error into its source along the spatial route; BPTT's error
        # through it, to the step before, is the loop's (kernels/loop.py, _recurrent_error)
        r["detach"] = int(ls.detach or ls.kind == "recurrent")
        masked = net.dropout[ls.src] > 0.0 and ls.kind != "aux"   # aux heads read unmasked spikes
        r["nomask"] = int(ls.kind == "aux")
        r["ac"] = int(ls.binary_input)
        r["unit"] = int(ls.binary_input and ls.pool == "none" and not masked)
        r["has_bias"] = int(ls.bias)
        if ls.pool == "none" and not masked and ls.kind != "recurrent":
            r["evk"] = EV_INPUT if ls.src == 0 else EV_SPIKES
        else:       # (W_rec's events, the spikes of step t-1, are copied to its event buffer)
            r["evk"] = EV_BUF
        r["dense_ops"] = ls.dense_ops()
        r["rows"] = ls.weight_shape[0]
        r["n_out"] = ls.n_out
    for i, ls in enumerate(net.layers):
        if ls.kind == "recurrent":
            lay[ls.src - 1]["rec"] = i
    return lay


def _offsets(sizes) -> tuple[np.ndarray, int]:
    """Start of each slice when slices of ``sizes`` follow one another, and the total."""
    sizes = np.asarray(list(sizes), dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if sizes.size else sizes
    return start, int(sizes.sum())


def _plain_sgd_batch1(optimizer, B: int) -> bool:
    return B == 1 and optimizer.momentum == 0.0 and optimizer.wd == 0.0


def _direct(net, rule: Rule, optimizer, B: int) -> bool:
    return (rule.apply == APPLY_STEP and _plain_sgd_batch1(optimizer, B) and net.all_dense
            and not any(p > 0 for p in net.dropout))


def _fused(net, rule: Rule, optimizer, B: int) -> np.ndarray:
    f = np.zeros(len(net.layers), dtype=np.uint8)
    if rule.route == ROUTE_TEMPORAL:
        for i, ls in enumerate(net.layers):
            if ls.kind != "conv":
                f[i] = 1 if _plain_sgd_batch1(optimizer, B) else 2
    return f


@dataclass(frozen=True)
class _Plan:
    """The trainer's buffers, sized but not allocated: the layout and population records and,
    for every State and Grads array, its (shape, dtype)."""

    layout: np.ndarray
    pops: np.ndarray
    fused: np.ndarray
    TH: int
    arrays: dict
    learning_state_bytes: int
    gradient_buffer_bytes: int


def pipelined(rule: Rule, B: int, workers: int, lay: np.ndarray) -> bool:
    """Whether a trainer runs a sample's steps as a pipeline on two workers (loop.py,
    ``_pipelined_schedule``): the forward of step t beside the error pass of step t - 1 and the
    weight gradients of step t - 2. For the rules whose error goes back through W^T (SLTT,
    SLTT-K, OTTT_A; DFA's and e-prop's feedback routes are not tested with it, so they keep one
    worker), and only where the stages are independent: one sample (at batch > 1 the workers
    share the samples instead), a spatial rule that updates once per sample (the weights do not
    change within it), no recurrent layer (its input reads the slot of step t - 1), and a
    convolution: the steps of a dense network are too short (~50 us on the reference MLP) for
    the two threads' hand-over, measured with the three-stage pipeline: the reference MLP at
    batch 1 trained at 0.60-1.16x the speed of one worker (sltt 1297-2400 against 1902-2083
    samples/s, ottt_a 1185-1895 against 1815-2096; slow when the second core delivers less,
    README "Performance"), where the conv net's sltt gained 1.16-1.38x over the two-stage
    pipeline. (BPTT's backward pass is pipelined by the loop itself, at batch 1 on two workers,
    with no buffer of its own: each step of a window has its history slot.)"""
    conv = (lay["hout"] * lay["wout"] > 1) | (lay["k"] > 1)
    return (int(workers) > 1 and int(B) == 1 and rule.learns
            and rule.route != ROUTE_TEMPORAL and rule.apply == APPLY_END
            and int(rule.feedback_kind) == FEEDBACK_WT
            and not bool((lay["role"] == ROLE_REC).any()) and bool(conv.any()))


def _plan(net, rule: Rule, optimizer, B: int, f, workers: int = 1) -> _Plan:
    """Size every buffer of a trainer of ``net`` (a Network, or the Topology of one: only its
    layers and dropout are read) with ``rule``, ``optimizer`` (an Optimizer record), batch
    ``B``, float dtype ``f`` and ``workers`` threads (the buffers that hold one sample at a
    time have a row per worker); nothing large is allocated."""
    f = np.dtype(f)
    item = f.itemsize
    layers = net.layers
    L = len(layers)
    n_lif = len(net.lif_layers)
    temporal = rule.route == ROUTE_TEMPORAL
    lay = layout(net)
    pipe = pipelined(rule, B, workers, lay)
    # history slots: one BPTT window; three when a sample's steps are pipelined (the forward
    # of step t, the error pass of step t - 1 and the weight gradients of step t - 2 each
    # have their own, records.PIPE_SLOTS)
    TH = int(rule.window()) if temporal else (PIPE_SLOTS if pipe else 1)
    # current-based (CubaLIF) layers keep a synaptic current per neuron (a Topology has no
    # neurons: none)
    cuba = any(ln is not None and ln.syn is not None for ln in (getattr(net, "neurons", None) or ()))
    li = getattr(net, "readout_li", None) is not None     # a leaky-integrator readout
    fused = _fused(net, rule, optimizer, B)
    direct = _direct(net, rule, optimizer, B)
    use_trace = rule.factors(net) == FACTOR_TRACE
    pop_sizes = [int(np.prod(layers[0].pre))] + [ls.n_out for ls in net.lif_layers]
    maxn = max([ls.n_out for ls in layers] + [ls.weight_shape[0] for ls in layers] + pop_sizes)
    maxpos = max(ls.out[0] * ls.out[1] for ls in layers)
    lif = np.arange(L) < n_lif
    n_out = lay["n_out"]
    cout = lay["cout"]
    rows = lay["rows"]
    # accumulators: none where updates are written straight into the weights, or nothing learns
    acc = np.array([rule.learns and not (direct or fused[i] == 1) for i in range(L)])
    has_bias = lay["has_bias"] == 1
    mom = optimizer.momentum != 0.0 and rule.learns
    lay["ev_m"] = [pop_sizes[ls.src] if lay["evk"][i] == EV_BUF else 0 for i, ls in enumerate(layers)]
    lay["trace_n"] = [ls.n_in if use else 0 for ls, use in zip(layers, use_trace)]
    lay["acc"] = acc
    lay["o_w"], n_w = _offsets(rows * cout)
    lay["o_b"], n_b = _offsets(cout)
    lay["o_gw"], n_gw = _offsets(np.where(acc, rows * cout, 0))
    lay["o_gb"], n_gb = _offsets(np.where(acc & has_bias, cout, 0))
    lay["o_touched"], n_touched = _offsets(np.where(acc, rows, 0))
    lay["o_out"], n_outs = _offsets(n_out)
    is_rec = lay["role"] == ROLE_REC
    lay["o_g"], n_g = _offsets(np.where(is_rec, 0, B * TH * n_out))
    lay["o_g"][is_rec] = lay["o_g"][lay["src"][is_rec] - 1]     # W_rec: its layer's gradient
    lay["o_ev"], n_ev = _offsets(TH * B * lay["ev_m"])
    lay["o_trace"], n_tr = _offsets(B * lay["trace_n"])
    lay["o_v"], n_v = _offsets(np.where(lif, B * n_out, 0))
    lay["o_uh"], n_uh = _offsets(np.where(lif, TH * B * n_out, 0))
    lay["o_E"], n_E = _offsets(np.where(lif, n_out, 0))
    # convolutions that send an error keep their kernel transposed for the error pass
    conv = (lay["hout"] * lay["wout"] > 1) | (lay["k"] > 1)
    wt = conv & (lay["src"] > 0) & (lay["detach"] == 0)
    lay["wt_n"] = wt
    lay["o_wt"], n_wt = _offsets(np.where(wt, rows * cout, 0))
    # every convolution keeps its kernel rows' non-zero counts for the forward pass
    lay["o_wnz"], n_wnz = _offsets(np.where(conv, rows, 0))
    needs_map = [p > 0 and any(m.pool == "max" and m.src == p for m in layers)
                 for p in range(len(pop_sizes))]
    pops = np.zeros(len(pop_sizes), dtype=POPULATION)
    pops["size"] = pop_sizes
    pops["masked"] = [rate > 0 for rate in net.dropout]
    pops["o_mask"], n_mask = _offsets(np.where(pops["masked"] == 1, B * pops["size"], 0))
    pops["has_map"] = needs_map
    pops["o_map"], n_map = _offsets(np.where(pops["has_map"] == 1, pops["size"], 0))
    i64, u8 = np.dtype(np.int64), np.dtype(np.uint8)
    W = int(workers)
    arrays = dict(
        v=(n_v, f), u_h=(n_uh, f), spk_h=(n_uh, i64), spk_n=((n_lif, TH, B), i64),
        out=((W, n_outs), f), hit=((W, maxpos), i64), masks=(n_mask, f), ev_idx=(n_ev, i64),
        ev_val=(n_ev, f), ev_n=((L, TH, B), i64), pmax=((W, maxn), f), ptouch=((W, maxn), i64),
        traces=(n_tr, f), trace_p=(2 * n_tr if pipe else 0, f), osum=((B, net.n_classes), f),
        g=(n_g, f), E=((W, n_E), f),
        SG=((W, n_E), f), smap=((W, n_map), f), epost=((W, maxn), f), edone=((W, maxn), u8),
        delta=(n_v if temporal else 0, f), wnz=(n_wnz, i64), wT=(n_wt, f),
        isyn=(n_v if cuba else 0, f), dsyn=(n_v if cuba and temporal else 0, f),
        ostate=((B, net.n_classes) if li else (0, 0), f),
        dro=((B, net.n_classes) if li and temporal else (0, 0), f),
        gw=(n_gw, f), gb=(n_gb, f), mw=(n_w if mom else 0, f), mb=(n_b if mom else 0, f),
        touched=(n_touched, u8))
    learn = ["u_h", "traces", "g", "E", "SG", "delta", "dsyn", "dro"]
    if temporal:
        learn += ["spk_h", "spk_n", "ev_idx", "ev_val", "ev_n"]
    # the chip's learning state: one error and surrogate buffer (the simulator's extra rows
    # per worker are its own, counted in trainer_bytes)
    one = dict(arrays, E=(n_E, f), SG=(n_E, f))
    learning_state_bytes = sum(_nbytes(*one[k]) for k in learn) if rule.learns else 0
    if pipe:     # the chip keeps one slot: the others, and the traces' copies, are the simulator's
        learning_state_bytes = _plan(net, rule, optimizer, B, f, 1).learning_state_bytes
    gradient_buffer_bytes = int(item * (
        n_gw + (n_w if mom else 0)
        + int(np.where(acc & has_bias, cout, 0).sum()) + (int(cout[has_bias].sum()) if mom else 0)))
    return _Plan(lay, pops, fused, TH, arrays, int(learning_state_bytes), gradient_buffer_bytes)


def _nbytes(shape, dtype) -> int:
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize


#: arrays.row_apart's Python function: the same arithmetic without Numba's dispatcher, which
#: would compile or load it (about 0.2 s) in every process that only estimates memory (needs.py)
row_apart = _row_apart_kernel.py_func


def _scratch_bytes(lay: np.ndarray, T: int, fused: np.ndarray, temporal: bool, f,
                   workers: int = 1, B: int = 1, steps: int = 1) -> int:
    """Bytes of the work arrays of a ``run_batch`` call (chipsim/kernels/loop.py
    ``batch_work``, which ``_scratch`` makes; computed the same way without allocating; the
    trainer keeps one set while the batch size and whether it learns stay the same): one
    row of them per worker, and the stacked products of a batch of ``B`` samples with ``steps``
    steps per backward pass (the BPTT window; 1 on the spatial route)."""
    f = np.dtype(f).itemsize
    maxn = max([1] + [int(max(r["n_out"], r["rows"])) for r in lay])
    maxpos = max([1] + [int(r["hout"] * r["wout"]) for r in lay])
    ncol = nmat = nmap = npin = ntap = nrow = 1
    for r in lay:
        hin, win, hout, wout = (int(r[k]) for k in ("hin", "win", "hout", "wout"))
        k_, stride, pad, ci, co = (int(r[k]) for k in ("k", "stride", "pad", "cin", "cout"))
        if hout * wout > 1 or k_ > 1:
            nt, pin, pout = k_ * k_, hin * win, hout * wout
            hp = max(hin + 2 * pad, (hout - 1) * stride + k_)
            wp = max(win + 2 * pad, (wout - 1) * stride + k_)
            gpad = (hin + k_ - 1) * (win + k_ - 1) * co
            ncol = max(ncol, pin * nt * co, pout * nt * ci)
            nmat = max(nmat, nt * ci * co, pin * ci)
            nmap = max(nmap, gpad, hp * wp * ci)
            npin = max(npin, pin)
            ntap = max(ntap, nt)
            nrow = max(nrow, hout * win)
    # a column block of one sample-step's output gradient (wgrad.conv_wgrad_block)
    nblk = 1
    if ncol > 1:
        nblk = min(maxn, WGRAD_BLOCK) * maxpos
    scr = int(workers) * (maxn * (8 + 2 * f) + (maxn + 7) // 8 * 8 + maxpos * 8 + npin * 8
                          + (ncol + nmat + nmap) * f
                          + row_apart(2 * ntap, 8) * 8 + nrow * 8 + row_apart(2, f) * f
                          + nblk * f)
    ncs = ngs = npr = 0
    stacked = []
    for r in lay:
        pos = int(r["hout"] * r["wout"])
        if B > 1 and (pos > 1 or r["k"] > 1):
            per = pos * int(r["k"] * r["k"] * r["cin"])
            q = max(1, min(STACK_FLOATS // per, STACK_ROWS // pos))       # loop._stack_pairs
            q = B * steps if B * steps <= q else 1 << (q.bit_length() - 1)
            cs, gs = q * per, q * pos * int(r["cout"])
            c = max(1, STACK_ROUND // max(cs + gs, 1))    # whole chunks per worker
            ncs, ngs, npr = max(ncs, c * cs), max(ngs, c * gs), max(npr, c * q)
            stacked.append((q, pos, int(r["k"] * r["k"] * r["cin"]), int(r["cout"])))
    # a round's chunks: one per worker, or more of a smaller layer (loop._round_chunks)
    w_ = int(workers)
    nch, npd = w_, 0
    for q, pos, R, co in stacked:
        q = max(q, 1)           # (no sample-step to stack: a batch that does not learn)
        m = max(min(w_, ROUND_CHUNKS), min(w_ * ncs // (q * pos * R), w_ * ngs // (q * pos * co),
                                           w_ * npr // q, ROUND_CHUNKS))
        nch, npd = max(nch, m), max(npd, m * R * co)
    # the stack holds one chunk per worker, a round's table of chunks and their products, the
    # workers' counters and the spike counts of a shared forward's blocks
    scr += (w_ * ((ncs + ngs) * f + 8 * npr) + int(B) * int(steps)
            + 8 * 3 * (nch + 1) + npd * f + 2 * f + 8 * TICKETS + 8 * COOP_BLOCKS * w_ * len(lay)
            + 8 * (CLOCKS + len(lay) + W_PHASES * w_))
    # a BPTT window's shared forward in waves (loop._coop_wave): counters and order of units
    if B == 1 and w_ > 1 and temporal and steps > 0:
        L_ = len(lay)
        scr += 8 * (steps * (L_ + 1) + L_ + steps * L_ * (2 + COOP_BLOCKS * w_))
        # and its backward on two workers (loop._wave): the surrogates' counters per step
        scr += 8 * SGQ * (steps + 1)
    # the history-summed gradient's arrays, per worker, for the largest layer that uses it,
    # and the worker's count of the weights it changed per layer
    nh = max([0] + [int(max(r["n_out"], r["rows"], r["ev_m"]))
                    for r, fu in zip(lay, np.asarray(fused)) if temporal and fu != 0])
    tn = int(T) if nh > 0 else 0
    hs = w_ * ((nh + 1 if nh > 0 else 0) * 8 + nh * 8 + 3 * tn * nh * 8 + tn * nh * f
               + (tn + 1 if nh > 0 else 0) * 8 + tn * nh * 8 + tn * 8 + nh * f
               + row_apart(len(lay), 8) * 8)
    return int(scr + hs)


def trainer_bytes(net, rule: Rule, optimizer, time_steps: int, batch_size: int, dtype,
                  workers: int | None = None) -> dict[str, int]:
    """The memory a :class:`Trainer` of ``net`` (a Network or a Topology: layers and dropout
    only, no weights needed) would allocate, without allocating it, in bytes by kind:

    - ``buffers``: the arenas of :class:`Trainer` (State, Grads, the layout and population
      records), what ``Trainer(...)`` allocates;
    - ``scratch``: the batch loop's work arrays, ``kernels.batch_work`` (the temporal route's
      history-summed gradient grows with T), made for the first batch and kept; with
      ``workers`` None and a thread count nobody chose, also those of one worker (a batch > 1
      may run on one thread, threads.Chooser);
    - ``counts``: every batch's per-step counts, ``(B, T, L, phases, actions)`` int64, and the
      copies the trainer and the engine make of them.

    ``rule`` is the rule object (``RULES[name](spec, neuron, T)``), ``optimizer`` an
    :class:`~chipsim.kernels.records.Optimizer` (or anything with ``momentum`` and ``wd``)."""
    f = np.dtype(dtype)
    # a trainer whose thread count nobody chose may run a batch on one worker (threads.Chooser),
    # with work arrays of its own
    one_too = threads.may_choose(workers, batch_size)
    workers = threads.count() if workers is None else int(workers)
    pl = _plan(net, rule, optimizer, int(batch_size), f, workers)
    buffers = sum(_nbytes(*a) for a in pl.arrays.values())
    buffers += pl.layout.nbytes + 2 * pl.pops.nbytes          # net_rec's and net_infer's pops
    # the neuron record: lam, theta, cin, vr, syn (float64) and theta in the network's dtype per
    # LIF neuron, reset kind, H(0), current-based and uniform per LIF layer
    # (model.neuron.neuron_record)
    lif = [ls for ls in net.layers if ls.spiking]
    n_lif_neurons = sum(ls.n_out for ls in lif)
    buffers += n_lif_neurons * (5 * 8 + f.itemsize) + 4 * len(lif)
    if getattr(net, "readout_li", None) is not None:         # ro_lam, ro_cin
        buffers += 2 * 8 * net.n_classes
    if rule.feedback_kind == FEEDBACK_FIXED:                   # the feedback matrices B_l
        buffers += n_lif_neurons * net.n_classes * f.itemsize
    buffers += 2 * 8 * len(net.layers) + 8                    # the number format's grids
    temporal = rule.route == ROUTE_TEMPORAL
    steps = min(int(time_steps), pl.TH) if temporal else 1
    scratch = _scratch_bytes(pl.layout, time_steps, pl.fused, temporal, f, workers,
                             int(batch_size), steps)
    if one_too:
        scratch += _scratch_bytes(pl.layout, time_steps, pl.fused, temporal, f, 1,
                                  int(batch_size), steps)
    per_batch = _nbytes((int(batch_size), int(time_steps), len(net.layers), K.N_PHASES,
                         K.N_ACTIONS), np.int64)
    # the counts, the update-skip copy of one phase, and the cost stage's per-step figures
    return dict(buffers=int(buffers), scratch=scratch, counts=int(2 * per_batch))


#: State's per-worker buffers (a row each; views.worker_rows): a batch on one worker gets
#: their first rows
_PER_WORKER = ("out", "hit", "pmax", "ptouch", "E", "SG", "smap", "epost", "edone")


class Trainer:
    """Trains one network with one rule, a batch per call."""

    def __init__(self, net: Network, neuron: NeuronParams, rule: Rule, loss, optim,
                 time_steps: int, batch_size: int, rng: np.random.Generator,
                 workers: int | None = None):
        self.net = net
        #: workers a batch is split over (chipsim.threads; the numbers do not depend on it)
        self.workers = threads.count() if workers is None else threads.parse(workers, "workers")
        #: the batch loop's work arrays (kernels.batch_work) and what they were made for; and
        #: those of one worker, for the batches the Chooser runs on one thread
        self._work = None
        self._work_key = None
        self._work_one = None
        #: when nobody chose the thread count, a batch > 1 may run on one thread when that has
        #: been faster (threads.Chooser; the same bits)
        self._chooser = (threads.Chooser(self.workers)
                         if threads.may_choose(workers, batch_size) else None)
        self.neuron = neuron
        #: the kernels' record of every LIF neuron (per-layer neurons of the network, or
        #: ``neuron`` for all)
        self.neurons = neuron_record(net.lif_layers, net.neurons, neuron, net.w_arena.dtype,
                                     net.readout_li, net.output)
        traced = (rule.factors(net) == FACTOR_TRACE).any()    # a presynaptic trace decays
        if traced and not all(
                ln is None or bool(np.all(ln.lam == neuron.lam)) for ln in net.neurons or ()):
            raise ValueError(f"rule {rule.name} decays its presynaptic traces with one leak, "
                             "and this network's leaks differ between neurons or layers "
                             "(not supported yet)")
        why = rule.refusal(net)
        if why:
            raise ValueError(why)
        if traced and self.neurons.cuba.any():
            raise ValueError(f"rule {rule.name}'s presynaptic trace has the membrane's decay "
                             "only, and this network has current-based (CubaLIF) layers, whose "
                             "inputs also pass a synaptic decay (not supported yet)")
        self.rule = rule
        self.T = int(time_steps)
        self.B = int(batch_size)
        self.rng = rng
        self.optimizer = Optimizer(lr=float(optim.lr), momentum=float(optim.momentum),
                                   wd=float(optim.weight_decay))
        self.loss = loss_record(loss)
        self.factors = rule.factors(net)
        self.use_trace = self.factors == FACTOR_TRACE
        self.trace_decay = float(rule.trace_decay())
        self.window = int(rule.window())
        self._alloc()
        self.set_number_format(None)

    # --- on-chip number formats -----------------------------------------------------------
    def set_number_format(self, bits: dict | None):
        """Hold weights, membrane state and traces in fixed point: ``bits`` = dict(weight_bits,
        state_bits, trace_bits), or None for the simulator's floating point.

        Formats (signed two's complement, one scale per layer, chosen once and stated):
        weights: range +-2 x the largest initial |w| of the layer, step range / 2^(bits-1),
        updates rounded stochastically (unbiased); membrane state: range +-4 x threshold,
        round to nearest; traces: unsigned, range 1 / (1 - decay) (the largest a trace of
        binary spikes reaches), round to nearest. The initial weights are rounded to nearest.
        """
        L = len(self.net.layers)
        q = dict(qv=0.0, lim_v=0.0, qtr=0.0, lim_tr=0.0)
        qw = np.zeros(L, np.float64)
        limw = np.zeros(L, np.float64)
        self.number_format = None
        if bits:
            th = float(self.neurons.theta.max()) if self.neurons.theta.size else self.neuron.theta
            q["lim_v"] = 4.0 * th
            q["qv"] = q["lim_v"] / 2 ** (int(bits["state_bits"]) - 1)
            if self.use_trace.any():
                d = self.trace_decay
                q["lim_tr"] = 1.0 / (1.0 - d) if d < 1.0 else 2.0 ** 8
                q["qtr"] = q["lim_tr"] / 2 ** int(bits["trace_bits"])
            wb = int(bits["weight_bits"])
            for i, (W, b) in enumerate(zip(self.net.weights, self.net.biases)):
                lim = 2.0 * max(float(np.abs(W).max()), float(np.abs(b).max()), 1e-12)
                step = lim / 2 ** (wb - 1)
                limw[i], qw[i] = lim, step
                for a in (W, b):
                    a[:] = np.clip(np.floor(a / step + 0.5) * step, -lim, lim - step)
            self.number_format = dict(bits)
        self.fmt = NumberFormat(qw=qw, limw=limw, rs=np.zeros(1, np.uint64), **q)

    # --- choices that follow from the rule, the optimiser and the network ------------------
    @property
    def plain_sgd_batch1(self) -> bool:
        return _plain_sgd_batch1(self.optimizer, self.B)

    @property
    def direct(self) -> bool:
        """An online rule at batch 1 with plain SGD on a dense network without dropout writes
        each update straight into the weights (no gradient buffer)."""
        return _direct(self.net, self.rule, self.optimizer, self.B)

    def fused_layers(self) -> np.ndarray:
        """The temporal route: dense layers sum each weight row's gradient from the history
        after the window (one accumulator or weight write per row instead of one per event):
        1 = written into the weights (batch 1, plain SGD: no gradient buffer), 2 = into the
        accumulator."""
        return _fused(self.net, self.rule, self.optimizer, self.B)

    # --- buffers ------------------------------------------------------------------------
    def _alloc(self):
        net, B = self.net, self.B
        f = net.w_arena.dtype
        pl = _plan(net, self.rule, self.optimizer, B, f, self.workers)
        self.fused = pl.fused
        lay, pops = pl.layout, pl.pops
        self.layout = lay
        self.net_rec = Net(lay, pops)
        infer_pops = pops.copy()
        infer_pops["masked"] = 0          # inference runs without dropout
        self.net_infer = Net(lay, infer_pops)
        # cache-line aligned: workers write neighbouring rows of the accumulators
        a = {name: zeros_aligned(shape, dt) for name, (shape, dt) in pl.arrays.items()}
        TH = pl.TH
        self.state = State(B=B, TH=TH, **{k: a[k] for k in State._fields if k in a})
        fb = (self.rule.feedback(net, self.rng, f) if self.rule.feedback_kind == FEEDBACK_FIXED
              else np.zeros(0, f))
        self.params = Params(net.w_arena, net.b_arena, fb)
        #: bytes of DFA's feedback matrices (kept for learning; part of the footprint)
        self.feedback_bytes = int(fb.nbytes)
        self.grads = Grads(**{k: a[k] for k in Grads._fields})
        S = self.state
        self.learning_state_bytes = pl.learning_state_bytes + self.feedback_bytes
        self.gradient_buffer_bytes = pl.gradient_buffer_bytes
        n_lif = len(net.lif_layers)
        # per-layer views of the arenas (for the dropout draw, the Brian2 twin and the tests)
        self.masks = [S.masks[o:o + B * n].reshape(B, n) if m else np.zeros((B, 0), f)
                      for o, n, m in zip(pops["o_mask"], pops["size"], pops["masked"])]
        r = lay[:n_lif]
        self.v = [S.v[o:o + B * n].reshape(B, n) for o, n in zip(r["o_v"], r["n_out"])]
        self.u_h = [S.u_h[o:o + TH * B * n].reshape(TH, B, n) for o, n in zip(r["o_uh"], r["n_out"])]
        self.spk_h = [S.spk_h[o:o + TH * B * n].reshape(TH, B, n) for o, n in zip(r["o_uh"], r["n_out"])]
        self.spk_n = S.spk_n
        self.traces = [S.traces[o:o + B * n].reshape(B, n) for o, n in zip(lay["o_trace"], lay["trace_n"])]

    def _draw_masks(self, B: int):
        """Dropout: one mask per sample and population, kept for every time step (OTTT)."""
        for p, rate in enumerate(self.net.dropout):
            if rate > 0.0:
                keep = self.rng.random(self.masks[p][:B].shape) >= rate
                self.masks[p][:B] = keep / (1.0 - rate)

    # --- checkpoints --------------------------------------------------------------------
    def learned_state(self) -> dict[str, np.ndarray]:
        """What one batch hands to the next, by name: the weights and biases, the gradient
        accumulators and momentum buffers, the number format's per-layer grids. (Potentials,
        traces, histories and dropout masks are reset or drawn anew in every batch, and the
        rounding generator's state is drawn from :attr:`rng`: nothing else carries over.)
        The arrays are the trainer's own, not copies."""
        out = {f"params.{k}": getattr(self.params, k) for k in self.params._fields}
        out.update({f"grads.{k}": getattr(self.grads, k) for k in self.grads._fields})
        out.update({f"fmt.{k}": getattr(self.fmt, k) for k in ("qw", "limw", "rs")})
        return out

    def restore(self, arrays: dict, rng_state: dict) -> None:
        """Put back a :meth:`learned_state` (in place: the network's weights are views of
        these arrays) and the state of :attr:`rng`. Raises ValueError, changing nothing, if
        the arrays do not fit this trainer."""
        own = self.learned_state()
        for name, a in own.items():
            b = arrays.get(name)
            if b is None or b.shape != a.shape or b.dtype != a.dtype:
                got = "missing" if b is None else f"{b.dtype}{list(b.shape)}"
                raise ValueError(f"{name}: {got}, expected {a.dtype}{list(a.shape)}")
        extra = sorted(set(arrays) - set(own))
        if extra:
            raise ValueError(f"unknown arrays {', '.join(extra)}")
        try:                                          # a state this generator takes?
            type(self.rng.bit_generator)().state = rng_state
        except (TypeError, KeyError, ValueError) as e:
            raise ValueError(f"rng: not a {type(self.rng.bit_generator).__name__} state ({e})") from None
        for name, a in own.items():
            a[...] = arrays[name]
        self.rng.bit_generator.state = rng_state

    # --- running ------------------------------------------------------------------------
    def _run(self, inp, ptr: np.ndarray, labels: np.ndarray, learn: bool, step_mask: np.ndarray):
        B = ptr.shape[0]
        if not 1 <= B <= self.B:
            raise ValueError(f"batch of {B} samples; this trainer holds state for at most {self.B}")
        cnt = K.zeros(len(self.net.layers), B, self.T)
        loss = np.zeros(B, np.float64)
        if learn:
            self._draw_masks(B)
        rule = RuleRec(learn=learn, route=self.rule.route, apply=self.rule.apply,
                       window=self.window, trace_decay=self.trace_decay, direct=self.direct,
                       step_mask=step_mask, factor=self.factors, fused=self.fused,
                       feedback=int(self.rule.feedback_kind))
        self.fmt.rs[0] = self.rng.integers(0, 2**63, dtype=np.uint64)
        x = Inputs(inp.idx, self._values(inp), ptr, labels.astype(np.int64))
        net = self.net_rec if learn else self.net_infer
        fresh = False
        if self._work_key != (learn, B):     # the work arrays, kept while (learn, B) holds
            self._work = self._work_one = None
            self._work = batch_work(net, self.params, self.state, x, rule)
            self._work_key = (learn, B)
            fresh = True
        choosing = self._chooser is not None and learn and B > 1
        k = self._chooser.pick() if choosing else self.workers
        S, work = self.state, self._work
        if k != self.workers:                # one worker: row 0 of the per-worker buffers
            S = self.state._replace(**{f: getattr(self.state, f)[:1] for f in _PER_WORKER})
            if self._work_one is None:
                self._work_one = batch_work(net, self.params, S, x, rule)
                fresh = True
            work = self._work_one
        threads.use(k)
        t0 = time.perf_counter()
        run_batch(net, self.params, self.grads, S, x, self.neurons, self.loss, rule,
                  self.optimizer, self.fmt, cnt, loss, work)
        if choosing and not fresh:
            self._chooser.note(k, (time.perf_counter() - t0) / B)
        if not self.rule.update_skip:
            # no hierarchical update skip: the chip reads and writes every weight it visits,
            # whether or not its Delta W is zero
            c = cnt[..., K.Phase.LEARNING, :]
            skipped = c[..., K.WEIGHT_UPDATE_SKIPPED].copy()
            c[..., K.WEIGHT_UPDATE_ISSUED] += skipped
            c[..., K.MEM_READ_WEIGHT] += skipped
            c[..., K.MEM_WRITE_WEIGHT] += skipped
            c[..., K.WEIGHT_UPDATE_SKIPPED] = 0
        self.last_step_counts = cnt          # (B, T, L, P, A), for the cycle model
        return loss, self.state.osum[:B].copy(), cnt.sum(axis=1)

    def _values(self, inp) -> np.ndarray:
        """Input event values in the network's dtype (converted once per input set)."""
        f = self.net.w_arena.dtype
        if inp.val.dtype == f:
            return inp.val
        if self._val_src is not inp.val:
            self._val_src, self._val = inp.val, inp.val.astype(f)
        return self._val

    _val_src = None

    def train_batch(self, inp, ptr: np.ndarray, labels: np.ndarray):
        """One batch of online training. Returns (per-sample loss, summed outputs, counts).
        A rule that does not learn (``none``) holds no learning state: it refuses (its batches
        run forward only, ``infer_batch``)."""
        if not self.rule.learns:
            raise ValueError(f"rule '{self.rule.name}' does not learn: it holds no learning "
                             "state, so its batches run forward only (infer_batch)")
        return self._run(inp, ptr, labels, True, self.rule.backward_steps(self.rng))

    #: the batch loop's phases in Stack.clock (records.CLK_*), by name
    PHASES = (("batch", CLK_BATCH), ("samples", CLK_SAMPLES), ("window", CLK_WINDOW),
              ("wgrads", CLK_WGRADS), ("stack", CLK_STACK), ("products", CLK_PRODUCTS),
              ("tail", CLK_TAIL), ("history", CLK_HISTORY), ("apply", CLK_APPLY))
    #: each worker's own time in the batch-level products' phases (phase_cycles: <name>_w<w>)
    WORKER_PHASES = (("stack", W_STACK), ("products", W_PRODUCTS), ("tail", W_TAIL))

    def phase_cycles(self, reset: bool = False) -> dict[str, int]:
        """The processor cycles (sync.cycles) the batch loop spent in each of its phases, as the
        calling thread saw them, summed over the batches run since the work arrays were made
        (they are made again when the batch size, or learning, changes) or last reset, on
        the trainer's thread count (not the batches a Chooser ran on one thread): the
        names of ``PHASES``, then ``wgrad_layer<l>`` for each layer's weight gradient, then
        for each worker w the time it spent inside its own shares of the batch-level
        products' phases (``stack_w<w>``, ``products_w<w>``, ``tail_w<w>``; each at most its
        phase, which adds the waits at the end of each parallel job). A profile of where a
        run's time goes (benchmarks/bench_phases.py); not a count of the chip's work.
        ``reset``: zero them after reading."""
        if self._work is None:
            return {}
        clock = self._work[1].clock
        nw = self._work[0].gnz.shape[0]          # the work arrays' rows: one per worker
        L = clock.shape[0] - CLOCKS - W_PHASES * nw
        out = {name: int(clock[k]) for name, k in self.PHASES}
        for l in range(L):
            out[f"wgrad_layer{l}"] = int(clock[CLOCKS + l])
        for w in range(nw):
            for name, k in self.WORKER_PHASES:
                out[f"{name}_w{w}"] = int(clock[CLOCKS + L + W_PHASES * w + k])
        if reset:
            clock[:] = 0
        return out

    def infer_batch(self, inp, ptr: np.ndarray, labels: np.ndarray):
        """Forward only (no learning work is done or counted; no dropout)."""
        return self._run(inp, ptr, labels, False, np.zeros(self.T, np.bool_))
