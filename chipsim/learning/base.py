"""The trainer shared by every rule: buffers, one kernel call per batch, the update step.

A rule (bptt.py, sltt.py, ottt.py) only says which kernel mode it runs, which layers take a
presynaptic trace, at which steps a backward pass runs and whether the update is applied every
step. Everything a rule keeps *for learning* is allocated here and measured in bytes:

- ``learning_state_bytes``: state kept across time for learning only (BPTT's history of every
  layer's potentials and input spikes, OTTT's presynaptic traces, per-step error buffers). This
  is what the papers compare ("memory held for learning"); it is the figure that grows with T.
- ``gradient_buffer_bytes``: weight-sized gradient accumulators and momentum buffers (the same
  for every rule that defers its update; zero for OTTT_O applied directly).
"""

from __future__ import annotations

import numpy as np

from chipsim import counts as K
from chipsim.kernels import MODE_BPTT, MODE_INFER, MODE_SPATIAL, apply_updates, run_batch
from chipsim.kernels.util import typed_list
from chipsim.model.network import Network
from chipsim.model.neuron import NeuronParams


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
        self.mse_w = float(loss.mse_weight)
        self.onehot = loss.mse_target == "onehot"
        self.tgt_const = 0.0 if self.onehot else float(loss.mse_target)
        self.rule_spec = rule_spec
        self.use_trace = self.trace_layers()
        self.trace_decay = self.trace_decay_value()
        self._alloc()

    # --- what a rule decides ------------------------------------------------------------
    def trace_layers(self) -> np.ndarray:
        """Which layers take a presynaptic trace as presynaptic factor (OTTT)."""
        return np.zeros(len(self.net.layers), dtype=np.bool_)

    def trace_decay_value(self) -> float:
        return 0.0

    def step_mask(self) -> np.ndarray:
        """Time steps that run a backward pass (all, except SLTT-K)."""
        return np.ones(self.T, dtype=np.bool_)

    @property
    def direct(self) -> bool:
        """At batch 1 with plain SGD no gradient buffer is needed: OTTT_O writes each update
        straight into the weights, BPTT applies each weight row's summed gradient once."""
        plain = self.B == 1 and self.momentum == 0.0 and self.wd == 0.0
        return plain and (self.online or self.mode == MODE_BPTT)

    # --- buffers ------------------------------------------------------------------------
    def _alloc(self):
        net, B, T = self.net, self.B, self.T
        f = net.weights[0].dtype
        lif = [ls for ls in net.layers if ls.spiking]
        C = net.n_classes
        bptt = self.mode == MODE_BPTT
        self.v = [np.zeros((B, ls.n_out), f) for ls in lif]
        self.u = [np.zeros((B, ls.n_out), f) for ls in lif]
        self.spk_idx = [np.zeros((B, ls.n_out), np.int64) for ls in lif]
        self.spk_n = np.zeros((len(lif), B), np.int64)
        self.I_buf = [np.zeros(ls.n_out, f) for ls in lif]
        self.o = np.zeros((B, C), f)
        self.osum = np.zeros((B, C), f)
        learn_state = []
        self.traces = [np.zeros((B, ls.n_in if use else 0), f)
                       for ls, use in zip(net.layers, self.use_trace)]
        self.g_bufs = [np.zeros((B, ls.n_out), f) for ls in net.layers]
        self.delta_next = [np.zeros((B, ls.n_out) if bptt else (0, 0), f) for ls in lif]
        self.u_hist = [np.zeros((T, B, ls.n_out) if bptt else (0, 0, 0), f) for ls in lif]
        self.s_idx_hist = [np.zeros((T, B, ls.n_out) if bptt else (0, 0, 0), np.int64) for ls in lif]
        self.s_n_hist = np.zeros((len(lif), T, B) if bptt else (len(lif), 0, 0), np.int64)
        self.go_hist = np.zeros((T, B, C) if bptt else (0, 0, 0), f)
        self.g_hist = [np.zeros((B, T, ls.n_out) if bptt else (0, 0, 0), f) for ls in net.layers]
        learn_state += self.traces + self.g_bufs + self.delta_next + self.u_hist + self.s_idx_hist
        learn_state += [self.s_n_hist, self.go_hist] + self.g_hist
        self.learning_state_bytes = int(sum(a.nbytes for a in learn_state))
        acc = not self.direct
        self.gW = [np.zeros(w.shape if acc else (0, 0), f) for w in net.weights]
        self.gb = [np.zeros(b.shape if acc else (0,), f) for b in net.biases]
        self.touched = [np.zeros(ls.n_in if acc else 0, np.uint8) for ls in net.layers]
        mom = self.momentum != 0.0
        self.mW = [np.zeros(w.shape if mom else (0, 0), f) for w in net.weights]
        self.mb = [np.zeros(b.shape if mom else (0,), f) for b in net.biases]
        grad = self.gW + self.mW + [b for b, ls in zip(self.gb + self.mb, net.layers * 2) if ls.bias]
        self.gradient_buffer_bytes = int(sum(a.nbytes for a in grad))
        self.loss = np.zeros(B, np.float64)
        self._lists = dict(
            Ws=typed_list(net.weights), bs=typed_list(net.biases),
            v=typed_list(self.v), u=typed_list(self.u), spk_idx=typed_list(self.spk_idx),
            I_buf=typed_list(self.I_buf), traces=typed_list(self.traces),
            g_bufs=typed_list(self.g_bufs), delta_next=typed_list(self.delta_next),
            u_hist=typed_list(self.u_hist), s_idx_hist=typed_list(self.s_idx_hist),
            g_hist=typed_list(self.g_hist),
            gW=typed_list(self.gW), gb=typed_list(self.gb), mW=typed_list(self.mW), mb=typed_list(self.mb),
            touched=typed_list(self.touched),
        )

    # --- running ------------------------------------------------------------------------
    def _run(self, inp, ptr: np.ndarray, labels: np.ndarray, mode: int, step_mask: np.ndarray):
        B = ptr.shape[0]
        if not 1 <= B <= self.B:
            raise ValueError(f"batch of {B} samples; this trainer holds state for at most {self.B}")
        d = self._lists
        n = self.neuron
        cnt = K.zeros(len(self.net.layers), B)
        loss = np.zeros(B, np.float64)
        run_batch(d["Ws"], d["bs"], self.net.has_bias, inp.idx, inp.val, ptr, inp.binary,
                  labels.astype(np.int64),
                  d["v"], d["u"], d["spk_idx"], self.spk_n, d["I_buf"], d["traces"], self.use_trace,
                  self.o, self.osum, d["g_bufs"], d["delta_next"], d["u_hist"], d["s_idx_hist"],
                  self.s_n_hist, self.go_hist, d["g_hist"], d["gW"], d["gb"], d["mW"], d["mb"], d["touched"],
                  n.lam, n.theta, n.cin, n.soft, n.detach, n.h0, n.sg_kind, n.alpha,
                  self.mse_w, self.onehot, self.tgt_const,
                  mode, self.trace_decay, step_mask, self.online, self.direct,
                  self.lr, self.momentum, self.wd, loss, cnt)
        return loss, self.osum[:B].copy(), cnt

    def train_batch(self, inp, ptr: np.ndarray, labels: np.ndarray):
        """One batch of online training. Returns (per-sample loss, summed outputs, counts)."""
        mask = self.step_mask()
        loss, osum, cnt = self._run(inp, ptr, labels, self.mode, mask)
        if not self.online and not self.direct:
            d = self._lists
            apply_updates(d["Ws"], d["bs"], self.net.has_bias, d["gW"], d["gb"], d["mW"], d["mb"],
                          d["touched"], self.lr, self.momentum, self.wd, cnt[-1])
        return loss, osum, cnt

    def infer_batch(self, inp, ptr: np.ndarray, labels: np.ndarray):
        """Forward only (no learning work is done or counted)."""
        return self._run(inp, ptr, labels, MODE_INFER, np.zeros(self.T, np.bool_))
