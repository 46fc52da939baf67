"""The records the kernels take: a network's per-layer layout, its parameters, the state and
buffers of a batch, the neuron, the loss, the rule, the optimiser and the number format.

Why these mechanisms (docs/DESIGN.md, "Kernels"): Numba passes a NamedTuple of arrays and
scalars to a kernel in about a microsecond, but a NamedTuple holding Numba typed lists costs
about a microsecond per list on every call (and a tuple of arrays per layer would be
compiled anew for every network depth), and ``structref`` records are not reloaded from the
on-disk cache. So every per-layer array lives in one flat **arena** per kind (all layers'
weights in one array, all membrane potentials in another, ...), as a chip's synapse and
neuron memories do, and the per-layer **layout** (a NumPy structured array, one record per
weight layer) holds each layer's geometry and where its slices start. A kernel reads a
layer's view through the accessors of views.py (``weights(P, Ly)`` is ``W`` of that layer,
``(rows, cout)``), so the arithmetic reads as it did with one array per layer.

Records (``typing.NamedTuple``; each field an array or a scalar):

- ``Net(layout, pops)``: the layout (``LAYOUT``, one row per weight layer: main LIF layers
  first, then the readout, then tbptt_local's auxiliary classifiers, then recurrent layers'
  W_rec) and the populations
  (``POPULATION``, 0 = the network input, p = the output of LIF layer p-1).
- ``Params(w, b, fb)``: weights and biases, and DFA's fixed feedback matrices.  ``Grads(gw, gb, mw, mb, touched)``: gradient
  accumulators, momentum buffers, and the accumulator rows that received a contribution.
- ``State``: membrane potentials, history slots, event buffers, traces, error buffers.
- ``Inputs(idx, val, ptr, labels)``: a batch's input events (see chipsim/model/inputs.py).
- ``Loss``, ``Rule``, ``Optimizer``, ``NumberFormat``: scalars and small arrays.
- ``Neuron``: every LIF neuron's leak, threshold, input scale and reset potential (arenas),
  each layer's reset kind and H(0), and the surrogate (built from chipsim.model.neuron).

This module holds data definitions only (NumPy, no Numba), so the rules and the configuration
can read its codes without loading the kernels.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# --- layer roles, input transforms, where a layer's input events are ----------------------
ROLE_LIF = 0        # conv or dense layer of LIF neurons
ROLE_READOUT = 1    # the non-spiking linear readout (summed over time for the prediction)
ROLE_AUX = 2        # an auxiliary classifier of tbptt_local (global average pool + linear)
ROLE_REC = 3        # a recurrent layer's W_rec: its input is the layer's own spikes of step t-1,
                    #   its output adds to that layer's input current at step t

POOL_NONE = 0
POOL_AVG = 1
POOL_MAX = 2

EV_INPUT = 0        # the network input itself (no pooling, no dropout)
EV_SPIKES = 1       # the source population's spikes (no pooling, no dropout)
EV_BUF = 2          # transformed events (dropout, pooling), written to the layer's event buffer

SURROGATE_SIGMOID = 0
SURROGATE_TRIANGLE = 1

# --- what the network outputs ----------------------------------------------------------------
OUT_READOUT = 0     # a non-spiking readout (linear or leaky integrator), summed over time
OUT_SPIKE_COUNT = 1  # the last LIF layer's spikes, counted over time
OUT_FIRST_SPIKE = 2  # the last LIF layer's spikes: the first to fire wins (T - t of its first)

# --- a rule's choices (chipsim/learning/ composes them) ------------------------------------
ROUTE_SPATIAL = 0   # the error at step t follows the spatial route only (state detached)
ROUTE_TEMPORAL = 1  # BPTT inside windows: the error also flows back through time
ROUTE_DFA = 2       # direct feedback alignment: the output error reaches every hidden layer
                    #   through a fixed random matrix B_l (Params.fb), not through W^T
FEEDBACK_WT = 0     # the error reaches a layer through the transposed weights above it (W^T)
FEEDBACK_FIXED = 1  # ... through a fixed random matrix B_l (Params.fb): DFA, e-prop (random)
FEEDBACK_READOUT = 2  # ... through the readout's weights as they are (e-prop, symmetric)
APPLY_END = 0       # the update is applied once the batch's steps are done
APPLY_STEP = 1      # the update is applied at every step that ran a backward pass (online)
FACTOR_EVENTS = 0   # presynaptic factor of the weight gradient: the layer's input events
FACTOR_TRACE = 1    # presynaptic factor: the trace a[t] = decay * a[t-1] + input[t]

#: column block of a weight gradient computed as a matrix product: the blocks are fixed (they
#: do not depend on the thread count), so the sums, and their rounding, are the same for any
#: number of threads. A multiple of 32: a block's product then equals those columns of the
#: whole product on the BLAS kernels measured (benchmarks/check_blas_blocks.py).
WGRAD_BLOCK = 64

_i = np.int64
#: one record per weight layer: geometry (input map after the input transform, output map,
#: kernel), input transform, role, and where the layer's slices start in each arena (arenas
#: whose slices have the same shape share one offset: u and spike history, error and
#: surrogate, v and BPTT's delta, weights and their momentum buffers)
LAYOUT = np.dtype([
    ("hin", _i), ("win", _i), ("cin", _i),      # input map after the transform (H, W, C)
    ("hout", _i), ("wout", _i), ("cout", _i),   # output map (dense: 1 x 1 x units)
    ("k", _i), ("stride", _i), ("pad", _i),     # square kernel (dense: 1, 1, 0)
    ("pool", _i), ("pool_k", _i),               # input transform: POOL_*, kernel = stride
    ("src", _i),                                # population read (0 = the network input)
    ("hpre", _i), ("wpre", _i),                 # that population's map before pooling
    ("ph", _i), ("pw", _i), ("pc", _i),         # the pooled map the transform produces
    ("role", _i),                               # ROLE_*
    ("detach", _i),        # 1: no error flows from this layer into its source (block boundary)
    ("unit", _i),          # 1: every input event has value 1 (binary, no dropout, no pooling)
    ("ac", _i),            # 1: the input is spikes (work counted as ACs), 0: graded (MACs)
    ("has_bias", _i),
    ("evk", _i),           # EV_*: where its input events are
    ("nomask", _i),        # 1: read the source without its dropout mask (auxiliary heads)
    ("dense_ops", _i),     # NeuroBench dense ops per step
    ("rows", _i),          # weight rows: k*k*Cin (dense: n_in)
    ("n_out", _i),         # hout * wout * cout
    # arena offsets (element index where this layer's slice starts)
    ("o_w", _i), ("o_b", _i),                   # Params
    ("o_gw", _i), ("o_gb", _i), ("acc", _i),    # Grads accumulators; acc = 0: none kept
    ("o_touched", _i),
    ("o_out", _i), ("o_g", _i),                 # State: output, per-step output gradient
    ("o_ev", _i), ("ev_m", _i),                 # event buffers (TH, B, ev_m)
    ("o_trace", _i), ("trace_n", _i),           # presynaptic traces (B, trace_n)
    ("o_v", _i),           # LIF layers: v and BPTT's delta (B, n)
    ("o_uh", _i),          #   u and spike history (TH, B, n)
    ("o_E", _i),           #   error and surrogate (n,)
    ("o_wt", _i), ("wt_n", _i),   # a convolution's transposed kernel (wt_n = 1: kept)
    ("o_wnz", _i),         # a convolution's non-zero weights per kernel row (State.wnz)
    ("rec", _i),           # a recurrent LIF layer: the row of its W_rec (-1: none); a W_rec row
                           #   (ROLE_REC) shares its layer's output gradient (o_g)
], align=True)

#: one record per population (0 = the network input, p = the output of LIF layer p-1)
POPULATION = np.dtype([
    ("size", _i),
    ("masked", _i), ("o_mask", _i),   # dropout mask (B, size) when masked
    ("has_map", _i), ("o_map", _i),   # dense 0/1 spike map (size) when max pooling reads it
], align=True)


class Net(NamedTuple):
    layout: np.ndarray      # (L,) LAYOUT
    pops: np.ndarray        # (n_lif + 1,) POPULATION


class Params(NamedTuple):
    w: np.ndarray           # every layer's weights (rows, cout), row-major, one after another
    b: np.ndarray           # every layer's biases (cout,) (zeros where a layer has none)
    fb: np.ndarray          # DFA's feedback matrices B_l (n_out, classes) per LIF layer, at
                            #   o_E * classes; empty: the error travels through W^T


class Grads(NamedTuple):
    gw: np.ndarray          # gradient accumulators of the layers that keep one
    gb: np.ndarray
    mw: np.ndarray          # momentum buffers (empty without momentum)
    mb: np.ndarray
    touched: np.ndarray     # uint8: accumulator rows that received a contribution


#: history slots of a pipelined sample (trainer._plan sizes them, loop._pipelined_schedule
#: uses them): the forward of step t, the error pass of step t - 1 and the weight gradients
#: of step t - 2 each have their own
PIPE_SLOTS = 3


class State(NamedTuple):
    B: int                  # samples the buffers hold
    TH: int                 # history slots: the BPTT window (T for BPTT), PIPE_SLOTS for
                            #   a pipelined sample (loop._pipelined_schedule), else 1
    v: np.ndarray           # membrane potentials after reset
    u_h: np.ndarray         # pre-reset potentials per history slot
    spk_h: np.ndarray       # int64 spike indices per history slot
    spk_n: np.ndarray       # (n_lif, TH, B) spikes per slot
    # arrays marked (W) have one row per worker (views.worker_state): they hold one sample
    # at a time, and each worker of a parallel batch has its own
    out: np.ndarray         # (W) every layer's input current / output at the current step
    hit: np.ndarray         # (W) int64 scratch: output positions that received an event
    masks: np.ndarray       # dropout masks
    ev_idx: np.ndarray      # int64 transformed input events per slot
    ev_val: np.ndarray
    ev_n: np.ndarray        # (L, TH, B) events per slot
    pmax: np.ndarray        # (W) max-pooling scratch
    ptouch: np.ndarray      # (W)
    traces: np.ndarray      # OTTT's presynaptic traces
    trace_p: np.ndarray     # two copies of the traces: step t's in copy t % 2, read by its
                            #   pipelined weight gradients while later steps update
                            #   ``traces`` (empty unless pipelined)
    osum: np.ndarray        # (B, classes) readout summed over time
    g: np.ndarray           # per-step output gradients (B, TH, n_out) per layer
    E: np.ndarray           # (W) d loss / d spike of each LIF layer at the current step
    SG: np.ndarray          # (W) surrogate derivatives at the current step
    smap: np.ndarray        # (W) dense spike maps (max pooling's error routing)
    epost: np.ndarray       # (W) scratch: error of every pooled input
    edone: np.ndarray       # (W) uint8 scratch
    delta: np.ndarray       # BPTT's temporal error (B, n) per LIF layer
    isyn: np.ndarray        # CubaLIF synaptic currents (B, n) per LIF layer (at o_v)
    dsyn: np.ndarray        # BPTT's temporal error of the synaptic currents (B, n) (at o_v)
    ostate: np.ndarray      # (B, classes) an LI readout's outputs (empty for a linear one)
    dro: np.ndarray         # (B, classes) BPTT's temporal error of an LI readout
    wnz: np.ndarray         # int64: convolutions' non-zero weights per kernel row (the forward
                            #   pass's NeuroBench effective ops), made when the weights change
    wT: np.ndarray          # convolutions' kernels transposed for the error pass, made when
                            #   the weights change (error.transpose_kernel)


class Scratch(NamedTuple):
    """Work arrays of one batch call, sized for the largest layer (allocated by the loop),
    one row per worker (views.worker_scratch gives a worker's row of each)."""
    gnz: np.ndarray         # int64: indices of non-zero output gradients; in the batch's
    #                         event-by-event tail, the factors decoded (wgrad.conv_tap_grads)
    fired: np.ndarray       # uint8: the LIF update's spike flags
    scratch: np.ndarray     # float: -lr * g of a direct update; in the tail, the factors' values
    ones: np.ndarray        # float ones: the values of spike events
    pos_nz: np.ndarray      # int64: non-zero gradients per output position
    tsum: np.ndarray        # int64: non-zero gradients met per input position (conv.tap_sums)
    # three float arrays (separate, so copies between them vectorise; not one tuple field,
    # which Numba's parallel launcher cannot pass): im2col, kernel or gradient product,
    # padded map. Kernels take them as the tuple (wt0, wt1, wt2).
    wt0: np.ndarray
    wt1: np.ndarray
    wt2: np.ndarray
    taps: np.ndarray        # int64 (2 k^2 of the largest kernel, rows a line apart): an
    #                         input's taps (conv.taps)
    rows: np.ndarray        # int64: conv.tap_sums' row sums (Hout * Win of the largest conv)
    prm: np.ndarray         # float (2, rows a line apart): threshold and surrogate alpha in
    #                         the network's dtype
    gblk: np.ndarray        # float: one column block of a convolution's output gradient
    # BPTT's history-summed weight gradient of a dense layer (wgrad.wgrad_from_history), sized
    # for the largest such layer (n = max(rows, n_out, ev_m): a step's input events number
    # at most its rows or, from a pooled map, ev_m) over a window of tn steps; empty when
    # no layer uses it. A worker sums its own rows of the layer.
    h_cnt: np.ndarray       # int64 (n + 1): events per row, then the rows' offsets
    h_cur: np.ndarray       # int64 (n): each row's fill position
    h_t: np.ndarray         # int64 (tn * n): the events sorted by row: their step ...
    h_e: np.ndarray         # int64 (tn * n): ... and their index in h_idx
    h_idx: np.ndarray       # int64 (tn * n): one sample's window of events, flattened
    h_val: np.ndarray       # float (tn * n): their values
    h_ptr: np.ndarray       # int64 (tn + 1): each step's first event in h_idx
    h_gnz: np.ndarray       # int64 (tn * n): each step's non-zero output gradients (n apart)
    h_ngt: np.ndarray       # int64 (tn): how many
    h_sum: np.ndarray       # float (n): one row's summed gradient
    h_upd: np.ndarray       # int64 (L, rows a line apart): weights changed per layer in the
    #                         worker's rows, where it applies the update to them itself
    #                         (loop._history_share)


class Stack(NamedTuple):
    """Batch-level products (batch > 1): the im2col matrices and output gradients of a
    convolution's sample-steps, stacked, for one weight-gradient product per chunk
    (wgrad.stack_product); room for one chunk of the largest layer per worker, so a round of
    loop._stacked_wgrad holds one chunk per worker, or more chunks of a smaller layer
    (loop._round_chunks), each with its product."""
    col: np.ndarray         # float: pairs x (Hout*Wout) rows of k*k*Cin
    g: np.ndarray           # float: pairs x (Hout*Wout) rows of Cout
    flag: np.ndarray        # uint8 per sample-step: 1 = stacked, 0 = left to weight_grad
    pair: np.ndarray        # int64 per stack slot: its sample-step
    chunk: np.ndarray       # int64 (chunks + 1, 3): the chunks of one round: first and end
                            #   sample-step, first stack slot (row c + 1: its end)
    prod: np.ndarray        # float: the round's products, chunk c's k*k*Cin x Cout at c*k*k*Cin*Cout
    one_zero: np.ndarray    # float (2,): 1 and 0, BLAS's alpha and beta (arrays.gemm_rows)
    ticket: np.ndarray      # int64 (32,): the workers' shared counters (sync.fetch_add), a
                            #   cache line apart: [TICKET] the next unit of a shared job to
                            #   take, [DONE] the units finished (loop._coop_forward)
    nspk: np.ndarray        # int64 (layers x COOP_BLOCKS x workers): the spikes of each block of
                            #   rows of a layer whose forward the workers share
                            #   (loop._coop_forward)
    wave: np.ndarray        # int64: a window's shared forward in waves (loop._coop_wave, BPTT
                            #   at batch 1 on two or more workers; else empty): units done per
                            #   step and layer (steps x layers), layers complete per step
                            #   (steps), each layer's first unit (layers), the order of the
                            #   window's units (steps x layers x (2 + COOP_BLOCKS x workers))
    sgq: np.ndarray         # int64 (SGQ x (steps + 1)): BPTT's backward through a window at
                            #   batch 1 on two workers (loop._wave; else empty): per step s of
                            #   the window, its surrogates' chunks taken [SGQ s] and done
                            #   [SGQ s + SGQ/2], a cache line apart; [SGQ steps]: the steps
                            #   the error pass has begun
    clock: np.ndarray       # int64 (CLOCKS + layers + W_PHASES x workers): cycles (sync.cycles)
                            #   spent in each phase of the batches run with these arrays,
                            #   summed, as the calling thread sees them (CLK_*), then in each
                            #   layer's weight gradient, then each worker's time inside its
                            #   shares of the batch-level products' phases (W_*)


#: Stack.ticket's counters, and its length (two cache lines apart)
TICKET = 0
DONE = 16
TICKETS = 32

#: Stack.sgq's stride per step (two cache lines of int64)
SGQ = 16

#: Stack.clock's phases (loop): the whole batch; phase 1 (forward, traces and, on the spatial
#: route, the error pass: loop._run_samples); BPTT's error pass through a window (with its
#: weight gradients at batch 1 on two workers, loop._wave); the weight gradients (loop._wgrads),
#: of which the batch-level products' stacking, products and tails (loop._stacked_wgrad); the
#: gradients summed from a window's history; the update. A pipelined sample (SLTT, OTTT_A at
#: batch 1, loop._pipelined_schedule) is timed whole only. Then, from CLOCKS on, each layer's
#: weight gradient (loop._wgrads).
CLK_BATCH = 0
CLK_SAMPLES = 1
CLK_WINDOW = 2
CLK_WGRADS = 3
CLK_STACK = 4
CLK_PRODUCTS = 5
CLK_TAIL = 6
CLK_HISTORY = 7
CLK_APPLY = 8
CLOCKS = 16
#: Stack.clock's per-worker slots, W_PHASES per worker after the layers': the time a worker
#: spends inside its shares of the batch-level products' stacking, products and tails (its
#: own work, without the waits at the end of each parallel job; loop._stacked_wgrad)
W_STACK = 0
W_PRODUCTS = 1
W_TAIL = 2
W_PHASES = 3

#: a LIF convolution's forward at batch 1, when the workers share it, is cut into this many
#: blocks of output rows per worker (loop._coop_forward)
COOP_BLOCKS = 2

#: a round of a stacked weight gradient holds at most this many chunks (loop._round_chunks)
ROUND_CHUNKS = 32

#: a chunk of stacked sample-steps (records.Stack; at least one) holds at most this many
#: floats of im2col (4 Mi, 16 MiB in float32) and this many rows; a chunk of several is a
#: power of two of them (loop._stack_pairs). On the reference conv net (289 rows a
#: sample-step) SLTT's products at batch 32 took 0.20-0.21 of the samples' time in chunks of
#: 2 against 0.27-0.31 in chunks of 7 (2,048 rows), two threads; one thread 0.17-0.19
#: against 0.20-0.23: chunks of 7 split a step's 32 sample-steps 21:11 over two workers, and
#: their product ran slower per row. Chunks of 1 (512 rows) lost it again in the tails;
#: VGG-11 at batch 16 took 6 % less time a sample (benchmarks/results/
#: 2026-12-07_stack_rows.txt). VGG's deep layers (9 or 36 rows) stack a whole batch.
STACK_FLOATS = 1 << 22
STACK_ROWS = 1024

#: a worker's room in the stack (records.Stack) holds as many whole chunks of each layer as fit
#: in this many floats of im2col and output gradient together (1 MiB in float32; at least one
#: chunk of the largest layer), so a round of a layer of small chunks holds several per worker
#: and the workers start fewer times (loop._round_chunks). On the reference conv net at batch
#: 32 (chunks of 157 and 407 KB) rounds of one chunk per worker started them about 700 times
#: a batch, each start and wait costing two threads more than the work they shared.
STACK_ROUND = 1 << 18


class Inputs(NamedTuple):
    idx: np.ndarray         # int64 flat input index of each event
    val: np.ndarray         # its value (1 for binary frames)
    ptr: np.ndarray         # (B, T+1) offsets: sample b, step t owns idx[ptr[b,t]:ptr[b,t+1]]
    labels: np.ndarray      # (B,) int64


class Neuron(NamedTuple):
    """The LIF neurons of every layer, as the kernels take them: per-neuron arrays (one arena
    each, a layer's slice at its ``o_E``, chipsim's channel-last order), per-layer flags, and
    the network's learning choices. Built by the trainer from the network's per-layer neurons
    (chipsim.model.neuron.LayerNeuron) or, without them, from one NeuronParams for all.

    Per step (chipsim/kernels/neuron.py)::

        u = lam * v + cin * I;   s = H(u - theta);   v = u - theta s (soft) or vr (hard, on s)

    and a current-based (CubaLIF) layer first filters its synaptic input,
    ``i = syn * i + I``, and charges with ``i`` in place of ``I``. A leaky-integrator (LI)
    readout keeps its outputs: ``o = ro_lam * o + ro_cin * (W s + b)``.
    """
    lam: np.ndarray         # float64 leak per neuron
    theta: np.ndarray       # float64 threshold per neuron
    cin: np.ndarray         # float64 input scale per neuron
    vr: np.ndarray          # float64 hard-reset potential per neuron
    syn: np.ndarray         # float64 synaptic-current decay per neuron (CubaLIF; 0: none)
    theta_f: np.ndarray     # theta in the network's dtype (the surrogate's argument)
    soft: np.ndarray        # uint8 per LIF layer: soft (1) or hard (0) reset
    h0: np.ndarray          # uint8 per LIF layer: H(0) = 1 (fire on equality) or 0
    cuba: np.ndarray        # uint8 per LIF layer: current-based (a synaptic current i per neuron)
    uniform: np.ndarray     # uint8 per LIF layer: every neuron has the same lam, theta, cin and
                            #   vr, which the kernels then read once per layer, as scalars
    out_kind: int           # OUT_*: a readout (last layer), or the last LIF layer's spikes
    ro_li: bool             # the readout is a leaky integrator: o = ro_lam o + ro_cin (W s + b)
    ro_lam: np.ndarray      # float64 per output (empty for the linear readout)
    ro_cin: np.ndarray      # float64 per output
    detach: bool            # the reset path is left out of the gradient (BPTT)
    sg_kind: int            # SURROGATE_*
    alpha: float            # surrogate sharpness


class Loss(NamedTuple):
    """Per step: ((1 - mse_w) CE(o, y) + mse_w MSE(o, target)) / T (TET: a = lambda, target phi)."""
    mse_w: float
    onehot: bool            # MSE target: one-hot labels, or the constant tgt_const
    tgt_const: float


class Rule(NamedTuple):
    learn: bool             # False: forward only (inference)
    route: int              # ROUTE_*
    apply: int              # APPLY_* (ROUTE_TEMPORAL applies after every window)
    window: int             # BPTT window (T: whole-sample BPTT)
    trace_decay: float
    direct: bool            # write each update straight into the weights (no accumulator)
    step_mask: np.ndarray   # bool (T,): steps that run a backward pass (spatial route)
    factor: np.ndarray      # uint8 (L,): FACTOR_* per layer
    fused: np.ndarray       # uint8 (L,): BPTT weight gradient summed per row from the history
                            #   after the window: 0 = no, 1 = into the weights, 2 = accumulator
    feedback: int           # FEEDBACK_*: how the output error reaches the hidden layers


class Optimizer(NamedTuple):
    """SGD with torch semantics."""
    lr: float
    momentum: float
    wd: float


class NumberFormat(NamedTuple):
    """Fixed-point grids (step, range); step 0 = floating point."""
    qv: float               # membrane state
    lim_v: float
    qtr: float              # traces
    lim_tr: float
    qw: np.ndarray          # (L,) weights and biases, per layer
    limw: np.ndarray
    rs: np.ndarray          # uint64 (1,): the stochastic-rounding generator's state
