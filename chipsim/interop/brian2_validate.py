"""Cross-validation of chipsim's discrete-time LIF neurons against a Brian2 twin.

For each neuron variant (soft / hard reset, leak lambda, H(0) = 1 / 0, input decay on / off) a
small two-layer network (input spikes -> dense -> LIF -> dense -> LIF) is simulated by chipsim's
Numba kernel and by Brian2 on the same seeded input raster; the spike rasters must be identical
and the post-reset membrane state v after every step equal to 1e-9 (float64).

The Brian2 twin, per step of dt (one chipsim step)::

    groups       v <- v * exp(-dt/tau)      exact integration of dv/dt = -v/tau,
                                             tau = -dt / ln(lambda): one step multiplies by lambda
    thresholds   order 0  input SpikeGeneratorGroup emits the step's input spikes
                 order 1  synapses input -> layer 1:   I_post += w     (summed in I, then)
                 order 2  layer 1 custom operation:    v += cin * I; I = 0
                 order 3  layer 1 threshold:           v >= theta  (H(0) = 1) or v > theta
                 order 4  synapses layer 1 -> layer 2: I_post += w     (this step's spikes)
                 order 5  layer 2:                     v += cin * I; I = 0
                 order 6  layer 2 threshold
    resets       v -= theta (soft) or v = 0 (hard)
    end          StateMonitor(v) and SpikeMonitor record the post-reset state and the spikes

so the order is exactly chipsim's: decay, add input, threshold, reset, and a layer sees the
spikes its source emitted in the same step (chipsim has no synaptic delay between layers).
``cin`` = 1 - lambda with input decay, else 1. The input is summed first and scaled once, as
chipsim computes u = lam * v + cin * (sum of weights), so the arithmetic is the same
floating-point operations in the same order (bit-identical on the numpy target; Brian2's
Cython target compiles with -ffast-math, which may contract v + cin*I into an FMA: differences of
an ulp, ~1e-16, with input decay on); tau is nudged by a few ulps if needed so that exp(-dt/tau)
rounds to lambda exactly (for lambda in {0.5, 1-1/1.1, 0.9} at dt = 1 ms it already does).

chipsim's per-step state comes from the kernel itself: the network is run on every prefix
1..T of the input (the kernel resets state at each call), reading ``trainer.v`` (post-reset
state), ``trainer.u_h`` (pre-reset potential) and the spike indices after each prefix.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from types import SimpleNamespace as NS

import numpy as np

from chipsim.learning import make_trainer
from chipsim.model.inputs import encode_frames
from chipsim.model.network import Network
from chipsim.model.neuron import NeuronParams

TOL = 1e-9
SLTT_LEAK = 1.0 - 1.0 / 1.1


@dataclass(frozen=True)
class Variant:
    """One neuron variant of chipsim (the forward-pass fields of a NeuronSpec)."""

    leak: float
    reset: str = "soft"             # 'soft' | 'hard'
    h0: int = 1                     # H(0): 1 fire on equality (v >= theta), 0 strict (v > theta)
    decay_input: bool = False
    threshold: float = 1.0

    @property
    def name(self) -> str:
        lam = {0.5: "0.5", SLTT_LEAK: "1-1/1.1", 0.9: "0.9"}.get(self.leak, f"{self.leak:g}")
        return (f"{self.reset} lam={lam} H(0)={self.h0} "
                f"decay_in={'on' if self.decay_input else 'off'}")

    def neuron(self, **override) -> NeuronParams:
        """chipsim's NeuronParams of this variant; ``override`` (leak, threshold) perturbs it."""
        lam = float(override.get("leak", self.leak))
        return NeuronParams(lam=lam, theta=float(override.get("threshold", self.threshold)),
                            cin=(1.0 - lam) if self.decay_input else 1.0,
                            soft=self.reset == "soft", detach=False, h0=bool(self.h0),
                            sg_kind=1, alpha=1.0)

    def not_expressible(self) -> str | None:
        """Why the Brian2 twin cannot express this variant (None: it can)."""
        if self.leak <= 0.0:
            return (f"lambda = {self.leak:g}: tau = -dt/ln(lambda) is 0 or undefined, "
                    "dv/dt = -v/tau has no exact step")
        if self.leak > 1.0:
            return f"lambda = {self.leak:g} > 1: tau would be negative (a growing membrane)"
        return None


def all_variants(extra: bool = True) -> list[Variant]:
    """Every supported combination: reset x leak x H(0) x input decay (24), plus, with
    ``extra``, the edge leaks lambda = 1 (IF, tau = inf) and lambda = 0 (not expressible)."""
    out = [Variant(leak=lam, reset=r, h0=h, decay_input=d)
           for r in ("soft", "hard") for lam in (0.5, SLTT_LEAK, 0.9) for h in (1, 0)
           for d in (False, True)]
    if extra:
        out += [Variant(leak=1.0, reset="soft", h0=1), Variant(leak=0.0, reset="soft", h0=1)]
    return out


@dataclass
class Row:
    variant: str
    spikes_chipsim: int | None = None
    spikes_brian2: int | None = None
    identical: bool | None = None
    max_dv: float | None = None
    ties: int | None = None               # steps x neurons with u == theta exactly (H(0) matters)
    verdict: str = ""
    passed: bool | None = None            # None: not expressible / not run
    traces: dict = field(default_factory=dict, repr=False)   # for the overlay figure


# ---------------------------------------------------------------------------------------------
# the shared problem
# ---------------------------------------------------------------------------------------------
def make_problem(variant: Variant, n_in: int = 20, hidden: tuple = (8, 6), T: int = 50,
                 seed: int = 0, density: float = 0.2):
    """Seeded binary input raster (T, n_in) and a dense network n_in -> hidden[0] -> hidden[1]
    (-> a 2-unit readout chipsim needs but the comparison ignores).

    Weights ~ U(-k, k), k = 3 / sqrt(fan_in), divided by cin with input decay (so every variant
    spikes). Neuron 0 of each layer has weight theta / cin from source 0 only and neuron 1
    theta / 2 / cin from sources 0 and 1 only, so their potential hits theta exactly
    (u == theta) now and then and H(0) is exercised."""
    rng = np.random.default_rng(seed)
    frames = (rng.random((T, n_in)) < density).astype(np.uint8)
    net = Network.build_dense(n_in, True, [(h, False) for h in hidden], 2, False,
                              np.random.default_rng(seed + 1), gain=3.0)
    cin = (1.0 - variant.leak) if variant.decay_input and variant.leak < 1.0 else 1.0
    for W in net.weights[:len(hidden)]:
        W /= cin
        W[:, :2] = 0.0
        W[0, 0] = variant.threshold / cin
        W[:2, 1] = variant.threshold / 2.0 / cin
    return frames, net


def _trainer(net, nrn, T):
    return make_trainer("sltt", net, nrn, NS(kind="ce_mse", mse_weight=0.0, mse_target="onehot"),
                        NS(lr=0.0, momentum=0.0, weight_decay=0.0),
                        NS(k=None, target_window=None, update_skip=True),
                        T, 1, np.random.default_rng(0))


def run_chipsim(net: Network, nrn: NeuronParams, frames: np.ndarray):
    """Per-step spikes, post-reset state v and pre-reset potential u of every LIF layer, from
    chipsim's kernel: one run per prefix of the input. Returns lists of (T, n) arrays."""
    T = frames.shape[0]
    inp = encode_frames(frames.reshape(1, T, -1), True)
    return _prefix_runs(_trainer(net, nrn, T), net, inp, T)


def _prefix_runs(tr, net, inp, T):
    """Spikes, post-reset v and pre-reset u of every LIF layer, (T, n) each, from ``tr``'s
    kernel run on every prefix 1..T of the input (the kernel resets state at each call)."""
    sizes = [ls.n_out for ls in net.lif_layers]
    S = [np.zeros((T, n), bool) for n in sizes]
    V = [np.zeros((T, n)) for n in sizes]
    U = [np.zeros((T, n)) for n in sizes]
    for t in range(T):
        tr.infer_batch(inp, inp.ptr[:, :t + 2], np.array([0]))
        for l in range(len(sizes)):
            V[l][t] = tr.v[l][0]
            U[l][t] = tr.u_h[l][0, 0]
            S[l][t, tr.spk_h[l][0, 0, :tr.spk_n[l, 0, 0]]] = True
    return S, V, U


# ---------------------------------------------------------------------------------------------
# the Brian2 twin
# ---------------------------------------------------------------------------------------------
def cython_available() -> tuple[bool, str]:
    try:
        from brian2.codegen.runtime.cython_rt import CythonCodeObject
        if CythonCodeObject.is_available():
            return True, ""
        return False, "Brian2's Cython target is not available (Cython or a C compiler missing)"
    except Exception as e:  # pragma: no cover - depends on the installation
        return False, f"Brian2's Cython target is not available ({e})"


def exact_tau(lam: float, dt: float) -> float:
    """tau = -dt / ln(lambda), nudged by at most a few ulps so that exp(-dt/tau) == lambda in
    float64 (lambda = 1: tau = inf, exp(-0) = 1)."""
    if lam == 1.0:
        return math.inf
    tau = -dt / math.log(lam)
    if np.exp(-dt / tau) == lam:
        return tau
    for k in range(1, 64):
        for cand in (tau + k * np.spacing(tau), tau - k * np.spacing(tau)):
            if np.exp(-dt / cand) == lam:
                return float(cand)
    return tau


def run_brian2(net: Network, variant: Variant, frames: np.ndarray, target: str = "numpy",
               dt_ms: float = 1.0, record: bool = True, runs: int = 1):
    """The Brian2 twin of the network's LIF layers on ``frames``. Returns (S, V) lists of
    (T, n) arrays (V None unless ``record``) and the seconds Brian2's run() took (with
    ``runs`` > 1 a list: the network is stored, then run and restored ``runs`` times, so the
    later figures exclude the first run's code generation; the results are the last run's)."""
    import brian2 as b2

    old = b2.prefs.codegen.target
    b2.prefs.codegen.target = target
    try:
        T, n_in = frames.shape
        dt = dt_ms * b2.ms
        clock = b2.Clock(dt=dt)
        lam, theta = float(variant.leak), float(variant.threshold)
        cin = (1.0 - lam) if variant.decay_input else 1.0
        tau = exact_tau(lam, float(dt))
        ts, idx = np.nonzero(frames)
        objs = []
        src = b2.SpikeGeneratorGroup(n_in, idx, ts * dt, clock=clock, when="thresholds", order=0)
        objs.append(src)
        eqs = "dv/dt = -v/tau : 1\nI : 1"
        order = 1
        groups, spk_mons, v_mons = [], [], []
        for l, ls in enumerate(net.lif_layers):
            G = b2.NeuronGroup(ls.n_out, eqs, method="exact", clock=clock,
                               threshold="v >= theta" if variant.h0 else "v > theta",
                               reset="v -= theta" if variant.reset == "soft" else "v = 0",
                               namespace=dict(tau=tau * b2.second, theta=theta, cin=cin))
            S = _wire(b2, src, G, *_dense_synapses(net.weights[l]), clock, order,
                      "v += cin * I\nI = 0")
            order += 3
            sm = b2.SpikeMonitor(G, when="end")
            objs += [G, S, sm]
            spk_mons.append(sm)
            if record:
                vm = b2.StateMonitor(G, "v", record=True, when="end")
                objs.append(vm)
                v_mons.append(vm)
            groups.append(G)
            src = G
        bnet = b2.Network(*objs)
        if runs > 1:
            bnet.store("initial")
        times = []
        for r in range(runs):
            if r:
                bnet.restore("initial")
            t0 = time.perf_counter()
            bnet.run(T * dt, namespace={})
            times.append(time.perf_counter() - t0)
        seconds = times if runs > 1 else times[0]
        Ss, Vs = _brian2_records(groups, spk_mons, v_mons if record else None, dt, T)
        return Ss, Vs, seconds
    finally:
        b2.prefs.codegen.target = old


def _dense_synapses(W):
    """(pre, post, weight) of every synapse of a dense layer W (n_in, n_out)."""
    pre, post = (a.ravel() for a in np.meshgrid(np.arange(W.shape[0]), np.arange(W.shape[1]),
                                                indexing="ij"))
    return pre, post, W[pre, post]


def _wire(b2, src, G, pre, post, w, clock, order, charge):
    """Synapses src -> G (``I_post += w``) and G's step, in chipsim's order within the
    thresholds slot: the synapses deliver (``order``), ``charge`` adds the input to v
    (``order + 1``), the threshold fires (``order + 2``). Returns the Synapses."""
    S = b2.Synapses(src, G, model="w : 1", on_pre="I_post += w", clock=clock)
    S.connect(i=pre, j=post)
    S.w = w
    S.pre.when, S.pre.order = "thresholds", order
    G.run_regularly(charge, when="thresholds", order=order + 1)
    G.thresholder["spike"].when = "thresholds"
    G.thresholder["spike"].order = order + 2
    return S


def _brian2_records(groups, spk_mons, v_mons, dt, T):
    """Per group: the (T, n) raster of its SpikeMonitor and, with ``v_mons``, the (T, n)
    post-reset v of its StateMonitor (else None)."""
    Ss, Vs = [], []
    for l, G in enumerate(groups):
        r = np.zeros((T, len(G)), bool)
        steps = np.round(np.asarray(spk_mons[l].t / dt)).astype(int)
        r[steps, np.asarray(spk_mons[l].i)] = True
        Ss.append(r)
        Vs.append(np.asarray(v_mons[l].v).T.copy() if v_mons is not None else None)
    return Ss, Vs


# ---------------------------------------------------------------------------------------------
# comparison
# ---------------------------------------------------------------------------------------------
def compare_one(variant: Variant, target: str = "numpy", dt_ms: float = 1.0, T: int = 50,
                seed: int = 0, n_in: int = 20, hidden: tuple = (8, 6),
                chipsim_override: dict | None = None) -> Row:
    """One row: chipsim (optionally with a perturbed neuron ``chipsim_override``, e.g.
    ``{"threshold": 1.001}``) against the Brian2 twin of the unperturbed variant."""
    row = Row(variant.name)
    why = variant.not_expressible()
    if why:
        row.verdict = f"not expressible: {why}"
        return row
    frames, net = make_problem(variant, n_in, hidden, T, seed)
    Sc, Vc, Uc = run_chipsim(net, variant.neuron(**(chipsim_override or {})), frames)
    Sb, Vb, _ = run_brian2(net, variant, frames, target, dt_ms)
    row.spikes_chipsim = int(sum(s.sum() for s in Sc))
    row.spikes_brian2 = int(sum(s.sum() for s in Sb))
    row.identical = all(np.array_equal(a, b) for a, b in zip(Sc, Sb))
    row.max_dv = float(max(np.abs(a - b).max() for a, b in zip(Vc, Vb)))
    row.ties = int(sum((u == variant.threshold).sum() for u in Uc))
    row.passed = bool(row.identical and row.max_dv < TOL)
    if row.passed:
        row.verdict = "pass"
    else:
        why = []
        if not row.identical:
            n = sum(int((a != b).sum()) for a, b in zip(Sc, Sb))
            why.append(f"{n} raster entries differ")
        if not row.max_dv < TOL:
            why.append(f"|dv| {row.max_dv:.2e} >= {TOL:g}")
        row.verdict = "FAIL: " + ", ".join(why)
    row.traces = dict(v_chipsim=Vc, v_brian2=Vb, s_chipsim=Sc, s_brian2=Sb,
                      theta=variant.threshold, dt_ms=dt_ms)
    return row


def validate(variants: list[Variant] | None = None, target: str = "numpy", dt_ms: float = 1.0,
             T: int = 50, seed: int = 0, n_in: int = 20, hidden: tuple = (8, 6),
             chipsim_override: dict | None = None) -> list[Row]:
    """Compare every variant (default :func:`all_variants`) with its Brian2 twin on the
    ``target`` code generation target ('numpy' or 'cython'). A target that is not available
    gives rows saying so (``passed`` None) instead of an exception."""
    if target not in ("numpy", "cython"):
        raise ValueError(f"target must be 'numpy' or 'cython', not {target!r}")
    variants = all_variants() if variants is None else list(variants)
    if target == "cython":
        ok, why = cython_available()
        if not ok:
            return [Row(v.name, verdict=f"not run: {why}") for v in variants]
    return [compare_one(v, target, dt_ms, T, seed, n_in, hidden, chipsim_override)
            for v in variants]


def failed(rows: list[Row]) -> list[Row]:
    """Rows of expressible variants that did not pass."""
    return [r for r in rows if r.passed is False]


def format_table(rows: list[Row]) -> str:
    w = max([len("variant")] + [len(r.variant) for r in rows])
    lines = [f"{'variant':{w}s} {'spikes chipsim':>14s} {'spikes brian2':>13s} {'raster':>9s} "
             f"{'max |dv|':>9s} {'ties':>5s}  verdict"]
    for r in rows:
        if r.passed is None and r.spikes_chipsim is None:
            lines.append(f"{r.variant:{w}s} {'-':>14s} {'-':>13s} {'-':>9s} {'-':>9s} {'-':>5s}  "
                         f"{r.verdict}")
            continue
        lines.append(f"{r.variant:{w}s} {r.spikes_chipsim:14d} {r.spikes_brian2:13d} "
                     f"{'identical' if r.identical else 'DIFFER':>9s} {r.max_dv:9.1e} {r.ties:5d}  "
                     f"{r.verdict}")
    n_ok = sum(r.passed is True for r in rows)
    n_bad = len(failed(rows))
    n_na = sum(r.passed is None for r in rows)
    lines.append(f"{n_ok} passed, {n_bad} failed, {n_na} not expressible / not run "
                 f"(tolerance |dv| < {TOL:g}, float64)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# extended cases: neurons per neuron and per layer, reset to v_reset, convolutions, fixed point
# ---------------------------------------------------------------------------------------------
#: the extended cases (name -> what it exercises)
CASES = {
    "per-neuron soft / IF hard v_reset": (
        "dense 20 -> 8 -> 6; layer 1: every neuron its own leak, threshold and input scale, "
        "soft reset, H(0) = 1; layer 2: IF (leak 1), thresholds per neuron, hard reset to a "
        "negative v_reset per neuron, strict >"),
    "conv 3x3 pad 1 -> conv 3x3 stride 2": (
        "2x8x8 input -> conv 4 channels, 3x3, padding 1 -> LIF -> conv 6 channels, 3x3, "
        "stride 2 -> LIF (the convolutions as explicit synapses in Brian2)"),
    "CubaLIF per-neuron synaptic decay": (
        "dense 20 -> 8 -> 6, both layers current-based: a synaptic current i = syn i + I per "
        "neuron (its own decay, leak, threshold) charges the membrane; hard reset to 0"),
    "fixed-point state 8 bits": (
        "dense 20 -> 8 -> 6, OTTT's neuron, the chip's number format: weights rounded to 8 bits, "
        "the membrane state v rounded to an 8-bit grid (range +-4 theta) after every reset"),
}


def case_problem(name: str, T: int = 50, seed: int = 0):
    """(frames (T, n_in) channel-last, network, NeuronParams, per-layer neurons or None,
    number-format bits or None) of an extended case."""
    from chipsim.model.neuron import LayerNeuron
    rng = np.random.default_rng(seed + 7)
    ottt = NeuronParams(lam=0.5, theta=1.0, cin=1.0, soft=True, detach=False, h0=True,
                        sg_kind=1, alpha=1.0)
    if name.startswith("per-neuron"):
        frames, net = make_problem(Variant(leak=0.5), T=T, seed=seed)
        n1, n2 = (ls.n_out for ls in net.lif_layers)
        neurons = [LayerNeuron(rng.uniform(0.3, 0.95, n1), rng.uniform(0.6, 1.4, n1),
                               rng.uniform(0.7, 1.3, n1), np.zeros(n1), True, True),
                   LayerNeuron(np.ones(n2), rng.uniform(0.8, 1.6, n2), np.ones(n2),
                               rng.uniform(-0.6, -0.05, n2), False, False)]
        return frames, net, ottt, neurons, None
    if name.startswith("CubaLIF"):
        frames, net = make_problem(Variant(leak=0.5), T=T, seed=seed)
        neurons = []
        for ls in net.lif_layers:
            n = ls.n_out
            neurons.append(LayerNeuron(rng.uniform(0.4, 0.9, n), rng.uniform(0.8, 1.6, n),
                                       np.ones(n), np.zeros(n), False, True,
                                       rng.uniform(0.2, 0.8, n)))
        return frames, net, ottt, neurons, None
    if name.startswith("conv"):
        P, H, W = 2, 8, 8
        frames = (rng.random((T, H * W * P)) < 0.25).astype(np.uint8)
        ops = [dict(kind="conv", channels=4, kernel=3, padding=1),
               dict(kind="conv", channels=6, kernel=3, stride=2)]
        net = Network.build((H, W, P), True, ops, 2, False, np.random.default_rng(seed + 1),
                            gain=3.0)
        return frames, net, ottt, None, None
    frames, net = make_problem(Variant(leak=0.5), T=T, seed=seed)
    return frames, net, ottt, None, dict(weight_bits=8, state_bits=8, trace_bits=8)


def _conv_synapses(ls, W):
    """(pre, post, weight) of every synapse of a convolution (chipsim's channel-last indices):
    out[(y Wo + x) Co + co] += W[(ky k + kx) Cin + ci, co] * in[(iy Win + ix) Cin + ci]."""
    Hin, Win, Cin = ls.pooled
    Ho, Wo, Co = ls.out
    k, s, p = ls.k, ls.stride, ls.pad
    pre, post, w = [], [], []
    for y in range(Ho):
        for x in range(Wo):
            for ky in range(k):
                iy = y * s - p + ky
                if not 0 <= iy < Hin:
                    continue
                for kx in range(k):
                    ix = x * s - p + kx
                    if not 0 <= ix < Win:
                        continue
                    for ci in range(Cin):
                        src = (iy * Win + ix) * Cin + ci
                        row = (ky * k + kx) * Cin + ci
                        for co in range(Co):
                            pre.append(src)
                            post.append((y * Wo + x) * Co + co)
                            w.append(W[row, co])
    pre, post, w = np.array(pre), np.array(post), np.array(w)
    order = np.lexsort((post, pre))          # by source, as chipsim scatters an event's taps
    return pre[order], post[order], w[order]


def run_chipsim_case(net, nrn, neurons, bits, frames):
    """chipsim's spikes and post-reset v of every LIF layer (run_chipsim with the network's own
    neurons and, with ``bits``, the chip's number format); also (qv, lim_v)."""
    T = frames.shape[0]
    net.neurons = neurons
    inp = encode_frames(frames.reshape(1, T, -1), True)
    tr = _trainer(net, nrn, T)
    if bits:
        tr.set_number_format(bits)        # rounds the network's weights in place
    S, V, _ = _prefix_runs(tr, net, inp, T)
    return S, V, (float(tr.fmt.qv), float(tr.fmt.lim_v))


def run_brian2_case(net, nrn, neurons, frames, target="numpy", dt_ms=1.0, grid=(0.0, 0.0)):
    """The Brian2 twin of a network whose neurons each have their own tau (exact: one step
    multiplies by lam), threshold, input scale and reset potential, dense or convolutional
    layers, and (``grid`` = (qv, lim_v), qv > 0) the membrane state rounded to the chip's grid
    after the reset, as chipsim's kernel does."""
    import brian2 as b2
    from chipsim.model.neuron import LayerNeuron

    old = b2.prefs.codegen.target
    b2.prefs.codegen.target = target
    try:
        T, n_in = frames.shape
        dt = dt_ms * b2.ms
        clock = b2.Clock(dt=dt)
        ts, idx = np.nonzero(frames)
        src = b2.SpikeGeneratorGroup(n_in, idx, ts * dt, clock=clock, when="thresholds", order=0)
        objs = [src]
        eqs = ("dv/dt = -v/tau : 1\nI : 1\ntau : second (constant)\ntheta : 1 (constant)\n"
               "cin : 1 (constant)\nvr : 1 (constant)\nisyn : 1\nsyn : 1 (constant)")
        order, groups, spk_mons, v_mons = 1, [], [], []
        qv, lim = grid
        for l, ls in enumerate(net.lif_layers):
            ln = neurons[l] if neurons is not None else LayerNeuron.uniform(ls.n_out, nrn)
            G = b2.NeuronGroup(ls.n_out, eqs, method="exact", clock=clock,
                               threshold="v >= theta" if ln.h0 else "v > theta",
                               reset="v -= theta" if ln.soft else "v = vr")
            taus = {lam: exact_tau(float(lam), float(dt)) for lam in np.unique(ln.lam)}
            G.tau = np.array([taus[lam] for lam in ln.lam]) * b2.second
            G.theta, G.cin, G.vr = ln.theta, ln.cin, ln.vr
            if ln.syn is not None:           # CubaLIF: the synaptic current, then the membrane
                G.syn = ln.syn
            W = net.weights[l]
            syn = _conv_synapses(ls, W) if ls.kind == "conv" else _dense_synapses(W)
            S = _wire(b2, src, G, *syn, clock, order,
                      "isyn = syn * isyn + I\nv += cin * isyn\nI = 0" if ln.syn is not None
                      else "v += cin * I\nI = 0")
            if qv > 0.0:      # chipsim's on_grid: floor(v / q + 0.5) q, clipped to [-lim, lim - q]
                q, hi, lo = repr(qv), repr(lim - qv), repr(-lim)      # exact float literals
                G.run_regularly(f"v = clip(floor(v / {q} + 0.5) * {q}, {lo}, {hi})",
                                when="resets", order=10)
            order += 3
            sm = b2.SpikeMonitor(G, when="end")
            vm = b2.StateMonitor(G, "v", record=True, when="end")
            objs += [G, S, sm, vm]
            spk_mons.append(sm)
            v_mons.append(vm)
            groups.append(G)
            src = G
        b2.Network(*objs).run(T * dt, namespace={})
        return _brian2_records(groups, spk_mons, v_mons, dt, T)
    finally:
        b2.prefs.codegen.target = old


def compare_case(name: str, target: str = "numpy", T: int = 50, seed: int = 0) -> Row:
    """One extended case against its Brian2 twin: identical rasters and |dv| < TOL."""
    row = Row(name)
    frames, net, nrn, neurons, bits = case_problem(name, T, seed)
    Sc, Vc, grid = run_chipsim_case(net, nrn, neurons, bits, frames)
    Sb, Vb = run_brian2_case(net, nrn, neurons, frames, target, grid=grid)
    row.spikes_chipsim = int(sum(s.sum() for s in Sc))
    row.spikes_brian2 = int(sum(s.sum() for s in Sb))
    row.identical = all(np.array_equal(a, b) for a, b in zip(Sc, Sb))
    row.max_dv = float(max(np.abs(a - b).max() for a, b in zip(Vc, Vb)))
    row.ties = 0
    row.passed = bool(row.identical and row.max_dv < TOL)
    row.verdict = "pass" if row.passed else (
        "FAIL: " + ", ".join(([f"{sum(int((a != b).sum()) for a, b in zip(Sc, Sb))} raster "
                               "entries differ"] if not row.identical else [])
                             + ([f"|dv| {row.max_dv:.2e} >= {TOL:g}"] if not row.max_dv < TOL else [])))
    return row


def validate_cases(names=None, target: str = "numpy", T: int = 50, seed: int = 0) -> list[Row]:
    """Every extended case (default: CASES) against Brian2."""
    names = list(CASES) if names is None else list(names)
    if target == "cython":
        ok, why = cython_available()
        if not ok:
            return [Row(n, verdict=f"not run: {why}") for n in names]
    return [compare_case(n, target, T, seed) for n in names]
