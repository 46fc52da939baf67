"""The trainer shared by every rule: buffers, one kernel call per batch.

A rule (bptt.py, sltt.py, ottt.py, tbptt_local.py) only says which kernel mode it runs, which
layers take a presynaptic trace, at which steps a backward pass runs, whether the update is
applied every step, and (truncated BPTT) the window. Everything a rule keeps *for learning* is
allocated here and measured in bytes:

- ``learning_state_bytes``: state kept for the backward pass: the pre-reset potentials and
  input events of one step (SLTT, OTTT) or of every step of a window (BPTT), OTTT's
  presynaptic traces, per-step error buffers, BPTT's temporal error. This is what the papers
  compare ("memory held for learning"); it is the figure that grows with T for BPTT only.
- ``gradient_buffer_bytes``: weight-sized gradient accumulators and momentum buffers (zero
  where a layer's update is written straight into its weights).
"""

from __future__ import annotations

import numpy as np

from chipsim import counts as K
from chipsim.kernels import (EV_BUF, EV_INPUT, EV_SPIKES, GEO, MODE_BPTT, MODE_INFER,
                             MODE_SPATIAL, NG, POOL_AVG, POOL_MAX, POOL_NONE, ROLE_AUX, ROLE_LIF,
                             ROLE_READOUT, run_batch)
from chipsim.kernels.util import typed_list
from chipsim.model.network import Network
from chipsim.model.neuron import NeuronParams

_POOL = {"none": POOL_NONE, "avg": POOL_AVG, "max": POOL_MAX}
_ROLE = {"dense": ROLE_LIF, "conv": ROLE_LIF, "readout": ROLE_READOUT, "aux": ROLE_AUX}


def geometry(net: Network) -> np.ndarray:
    """The kernel's int64 geometry table, one row per layer (columns G_* of kernels/train.py)."""
    g = np.zeros((len(net.layers), NG), dtype=np.int64)
    G = GEO
    for i, ls in enumerate(net.layers):
        r = g[i]
        if ls.kind == "conv":
            r[G["G_HIN"]], r[G["G_WIN"]], r[G["G_CIN"]] = ls.pooled
        else:
            r[G["G_HIN"]], r[G["G_WIN"]], r[G["G_CIN"]] = 1, 1, ls.n_in
        r[G["G_HOUT"]], r[G["G_WOUT"]], r[G["G_COUT"]] = ls.out
        r[G["G_K"]], r[G["G_S"]], r[G["G_PAD"]] = ls.k, ls.stride, ls.pad
        r[G["G_POOL"]], r[G["G_POOLK"]] = _POOL[ls.pool], ls.pool_k
        r[G["G_SRC"]] = ls.src
        r[G["G_HPRE"]], r[G["G_WPRE"]] = ls.pre[0], ls.pre[1]
        r[G["G_PH"]], r[G["G_PW"]], r[G["G_PC"]] = ls.pooled
        r[G["G_ROLE"]] = _ROLE[ls.kind]
        r[G["G_DETACH"]] = int(ls.detach)
        masked = net.dropout[ls.src] > 0.0 and ls.kind != "aux"   # aux heads read unmasked spikes
        r[G["G_NOMASK"]] = int(ls.kind == "aux")
        r[G["G_AC"]] = int(ls.binary_input)
        r[G["G_UNIT"]] = int(ls.binary_input and ls.pool == "none" and not masked)
        r[G["G_HASB"]] = int(ls.bias)
        if ls.pool == "none" and not masked:
            r[G["G_EVK"]] = EV_INPUT if ls.src == 0 else EV_SPIKES
        else:
            r[G["G_EVK"]] = EV_BUF
    return g


class Trainer:
    rule = ""
    mode = MODE_SPATIAL
    online = False          # apply the update at every time step (OTTT_O)

    def __init__(self, net: Network, neuron: NeuronParams, loss, optim, rule_spec,
                 time_steps: int, batch_size: int, rng: np.random.Generator):
        self.net = net
        self.neuron = neuron
        self.T = int(time_steps)
        self.B = int(batch_size)
        self.rng = rng
        self.lr = float(optim.lr)
        self.momentum = float(optim.momentum)
        self.wd = float(optim.weight_decay)
        if getattr(loss, "kind", "ce_mse") == "tet":
            # TET (Deng et al. 2022, functions.py:39-51): (1 - lam) mean_t CE + lam MSE(o, phi)
            # over all (B, T, C) -- the per-step form with a = lam and a constant target phi
            self.mse_w = float(loss.tet_lambda)
            self.onehot = False
            self.tgt_const = float(loss.tet_phi)
        else:
            self.mse_w = float(loss.mse_weight)
            self.onehot = loss.mse_target == "onehot"
            self.tgt_const = 0.0 if self.onehot else float(loss.mse_target)
        self.rule_spec = rule_spec
        self.use_trace = self.trace_layers()
        self.trace_decay = self.trace_decay_value()
        self.window = self.window_value()
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
        self.qfmt = np.zeros(4, np.float64)
        self.qw = np.zeros(L, np.float64)
        self.limw = np.zeros(L, np.float64)
        self.number_format = None
        if not bits:
            return
        th = self.neuron.theta
        self.qfmt[1] = 4.0 * th
        self.qfmt[0] = self.qfmt[1] / 2 ** (int(bits["state_bits"]) - 1)
        if self.use_trace.any():
            d = self.trace_decay
            self.qfmt[3] = 1.0 / (1.0 - d) if d < 1.0 else 2.0 ** 8
            self.qfmt[2] = self.qfmt[3] / 2 ** int(bits["trace_bits"])
        wb = int(bits["weight_bits"])
        for i, (W, b) in enumerate(zip(self.net.weights, self.net.biases)):
            lim = 2.0 * max(float(np.abs(W).max()), float(np.abs(b).max()), 1e-12)
            q = lim / 2 ** (wb - 1)
            self.limw[i], self.qw[i] = lim, q
            for a in (W, b):
                a[:] = np.clip(np.floor(a / q + 0.5) * q, -lim, lim - q)
        self.number_format = dict(bits)

    # --- what a rule decides ------------------------------------------------------------
    def trace_layers(self) -> np.ndarray:
        """Which layers take a presynaptic trace as presynaptic factor (OTTT)."""
        return np.zeros(len(self.net.layers), dtype=np.bool_)

    def trace_decay_value(self) -> float:
        return 0.0

    def window_value(self) -> int:
        """BPTT window (steps between updates); T for BPTT, T_L for truncated BPTT."""
        return self.T

    def step_mask(self) -> np.ndarray:
        """Time steps that run a backward pass: all, or (``rule.target_window`` W, ANP-I's
        target-window selection) W consecutive steps starting at a random step per batch."""
        w = getattr(self.rule_spec, "target_window", None)
        if w is None or w >= self.T:
            return np.ones(self.T, dtype=np.bool_)
        mask = np.zeros(self.T, dtype=np.bool_)
        start = int(self.rng.integers(0, self.T - w + 1))
        mask[start:start + w] = True
        return mask

    @property
    def plain_sgd_batch1(self) -> bool:
        return self.B == 1 and self.momentum == 0.0 and self.wd == 0.0

    @property
    def direct(self) -> bool:
        """OTTT_O at batch 1 with plain SGD on a dense network without dropout writes each
        update straight into the weights (no gradient buffer)."""
        return (self.online and self.plain_sgd_batch1 and self.net.all_dense
                and not any(p > 0 for p in self.net.dropout))

    def fused_layers(self) -> np.ndarray:
        """BPTT: dense layers sum each weight row's gradient from the history after the window
        (one accumulator or weight write per row instead of one per event): 1 = written into
        the weights (batch 1, plain SGD: no gradient buffer), 2 = into the accumulator."""
        f = np.zeros(len(self.net.layers), dtype=np.uint8)
        if self.mode == MODE_BPTT:
            for i, ls in enumerate(self.net.layers):
                if ls.kind != "conv":
                    f[i] = 1 if self.plain_sgd_batch1 else 2
        return f

    # --- buffers ------------------------------------------------------------------------
    def _alloc(self):
        net, B = self.net, self.B
        f = net.weights[0].dtype
        lif = net.lif_layers
        n_lif = len(lif)
        L = len(net.layers)
        bptt = self.mode == MODE_BPTT
        TH = self.window if bptt else 1    # history slots: one BPTT window
        self.geo = geometry(net)
        self.dense_ops = np.array([ls.dense_ops() for ls in net.layers], dtype=np.int64)
        self.fused = self.fused_layers()
        pop_sizes = [int(np.prod(net.layers[0].pre))] + [ls.n_out for ls in lif]
        maxn = max([ls.n_out for ls in net.layers] + [ls.weight_shape[0] for ls in net.layers]
                   + pop_sizes)
        maxpos = max(ls.out[0] * ls.out[1] for ls in net.layers)
        self.v = [np.zeros((B, ls.n_out), f) for ls in lif]
        self.u_h = [np.zeros((TH, B, ls.n_out), f) for ls in lif]
        self.spk_h = [np.zeros((TH, B, ls.n_out), np.int64) for ls in lif]
        self.spk_n = np.zeros((n_lif, TH, B), np.int64)
        self.out_buf = [np.zeros(ls.n_out, f) for ls in net.layers]
        self.hit = np.zeros(maxpos, np.int64)
        self.masks_off = [np.zeros((B, 0), f) for _ in pop_sizes]
        self.masks = [np.zeros((B, n if net.dropout[p] > 0 else 0), f) for p, n in enumerate(pop_sizes)]
        evk = self.geo[:, GEO["G_EVK"]]
        self.ev_idx = [np.zeros((TH, B, pop_sizes[ls.src] if evk[i] == EV_BUF else 0), np.int64)
                       for i, ls in enumerate(net.layers)]
        self.ev_val = [np.zeros((TH, B, pop_sizes[ls.src] if evk[i] == EV_BUF else 0), f)
                       for i, ls in enumerate(net.layers)]
        self.ev_n = np.zeros((L, TH, B), np.int64)
        self.pmax = np.zeros(maxn, f)
        self.ptouch = np.zeros(maxn, np.int64)
        self.needs_map = np.array([any(m.pool == "max" and m.src == p + 1 for m in net.layers)
                                   for p in range(n_lif)], dtype=np.uint8)
        self.traces = [np.zeros((B, ls.n_in if use else 0), f)
                       for ls, use in zip(net.layers, self.use_trace)]
        self.osum = np.zeros((B, net.n_classes), f)
        self.g_bufs = [np.zeros((B, TH, ls.n_out), f) for ls in net.layers]
        self.E = [np.zeros(ls.n_out, f) for ls in lif]
        self.SG = [np.zeros(ls.n_out, f) for ls in lif]
        self.spk_maps = [np.zeros(ls.n_out if self.needs_map[i] else 0, f) for i, ls in enumerate(lif)]
        self.epost = np.zeros(maxn, f)
        self.edone = np.zeros(maxn, np.uint8)
        self.delta = [np.zeros((B, ls.n_out) if bptt else (0, 0), f) for ls in lif]
        learn = self.u_h + self.traces + self.g_bufs + self.E + self.SG + self.delta
        if bptt:
            learn += self.spk_h + [self.spk_n] + self.ev_idx + self.ev_val + [self.ev_n]
        self.learning_state_bytes = int(sum(a.nbytes for a in learn))
        acc = [not (self.direct or self.fused[i] == 1) for i in range(L)]
        self.gW = [np.zeros(w.shape if a else (0, 0), f) for w, a in zip(net.weights, acc)]
        self.gb = [np.zeros(b.shape if a else (0,), f) for b, a in zip(net.biases, acc)]
        self.touched = [np.zeros(w.shape[0] if a else 0, np.uint8) for w, a in zip(net.weights, acc)]
        mom = self.momentum != 0.0
        self.mW = [np.zeros(w.shape if mom else (0, 0), f) for w in net.weights]
        self.mb = [np.zeros(b.shape if mom else (0,), f) for b in net.biases]
        grad = self.gW + self.mW + [b for b, ls in zip(self.gb + self.mb, net.layers * 2) if ls.bias]
        self.gradient_buffer_bytes = int(sum(a.nbytes for a in grad))
        tl = typed_list
        self._lists = dict(
            Ws=tl(net.weights), bs=tl(net.biases), v=tl(self.v), u_h=tl(self.u_h),
            spk_h=tl(self.spk_h), out_buf=tl(self.out_buf), masks=tl(self.masks),
            masks_off=tl(self.masks_off), ev_idx=tl(self.ev_idx), ev_val=tl(self.ev_val),
            traces=tl(self.traces), g_bufs=tl(self.g_bufs), E=tl(self.E), SG=tl(self.SG),
            spk_maps=tl(self.spk_maps), delta=tl(self.delta), gW=tl(self.gW), gb=tl(self.gb),
            mW=tl(self.mW), mb=tl(self.mb), touched=tl(self.touched))

    def _draw_masks(self, B: int):
        """Dropout: one mask per sample and population, kept for every time step (OTTT)."""
        for p, rate in enumerate(self.net.dropout):
            if rate > 0.0:
                keep = self.rng.random(self.masks[p][:B].shape) >= rate
                self.masks[p][:B] = keep / (1.0 - rate)

    # --- running ------------------------------------------------------------------------
    def _run(self, inp, ptr: np.ndarray, labels: np.ndarray, mode: int, step_mask: np.ndarray):
        B = ptr.shape[0]
        if not 1 <= B <= self.B:
            raise ValueError(f"batch of {B} samples; this trainer holds state for at most {self.B}")
        d = self._lists
        n = self.neuron
        cnt = K.zeros(len(self.net.layers), B, self.T)
        loss = np.zeros(B, np.float64)
        if mode != MODE_INFER:
            self._draw_masks(B)
        masks = d["masks"] if mode != MODE_INFER else d["masks_off"]
        run_batch(d["Ws"], d["bs"], self.geo, self.dense_ops, inp.idx, self._values(inp), ptr,
                  labels.astype(np.int64), d["v"], d["u_h"], d["spk_h"], self.spk_n, d["out_buf"],
                  self.hit, masks, self.needs_map, d["ev_idx"], d["ev_val"], self.ev_n, self.pmax,
                  self.ptouch, d["traces"], self.use_trace, self.osum, d["g_bufs"], d["E"], d["SG"],
                  d["spk_maps"], self.epost, self.edone, d["delta"], d["gW"], d["gb"], d["mW"],
                  d["mb"], d["touched"], self.fused,
                  n.lam, n.theta, n.cin, n.soft, n.detach, n.h0, n.sg_kind, n.alpha,
                  self.mse_w, self.onehot, self.tgt_const,
                  mode, self.trace_decay, step_mask, self.online, self.direct, self.window,
                  self.lr, self.momentum, self.wd, loss, cnt, self.qfmt, self.qw, self.limw,
                  np.array([self.rng.integers(0, 2**63, dtype=np.uint64)], dtype=np.uint64))
        if not getattr(self.rule_spec, "update_skip", True):
            # no hierarchical update skip: the chip reads and writes every weight it visits,
            # whether or not its Delta W is zero
            c = cnt[..., K.Phase.LEARNING, :]
            skipped = c[..., K.WEIGHT_UPDATE_SKIPPED].copy()
            c[..., K.WEIGHT_UPDATE_ISSUED] += skipped
            c[..., K.MEM_READ_WEIGHT] += skipped
            c[..., K.MEM_WRITE_WEIGHT] += skipped
            c[..., K.WEIGHT_UPDATE_SKIPPED] = 0
        self.last_step_counts = cnt          # (B, T, L, P, A), for the cycle model
        return loss, self.osum[:B].copy(), cnt.sum(axis=1)

    def _values(self, inp) -> np.ndarray:
        """Input event values in the network's dtype (converted once per input set)."""
        f = self.net.weights[0].dtype
        if inp.val.dtype == f:
            return inp.val
        key = id(inp.val)
        if getattr(self, "_val_key", None) != key:
            self._val_key, self._val = key, inp.val.astype(f)
        return self._val

    def train_batch(self, inp, ptr: np.ndarray, labels: np.ndarray):
        """One batch of online training. Returns (per-sample loss, summed outputs, counts)."""
        return self._run(inp, ptr, labels, self.mode, self.step_mask())

    def infer_batch(self, inp, ptr: np.ndarray, labels: np.ndarray):
        """Forward only (no learning work is done or counted; no dropout)."""
        return self._run(inp, ptr, labels, MODE_INFER, np.zeros(self.T, np.bool_))
