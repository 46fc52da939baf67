"""The LIF neuron: its parameters as the kernels take them, and each paper's neuron as a preset.

The presets are the one registry of neurons (the workload's ``neuron.preset``): each is the
neuron as its paper's official code runs it (docs/reference/algorithms.md §1, table at lines
36-45, code evidence 48-50). A workload's neuron fields override a preset's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

SURROGATES = {"sigmoid": 0, "triangle": 1}

#: the neuron fields of a workload (all required without a preset)
NEURON_FIELDS = ("leak", "threshold", "reset", "detach_reset", "heaviside_at_zero",
                 "decay_input", "surrogate", "surrogate_alpha")

PRESETS: dict[str, dict] = {
    # OTTT (pkuxmq/OTTT-SNN c15d5da): modules/neuron.py:63-65 defaults tau=2 (lambda = 1-1/2 =
    # 0.5), decay_input=False, v_threshold=1, v_reset=None (soft), detach_reset=True;
    # surrogate.py:46 fires on x >= 0 (H(0)=1); train_cifar10dvs.py:73 Sigmoid(alpha=4).
    "ottt": dict(leak=0.5, threshold=1.0, reset="soft", detach_reset=True,
                 heaviside_at_zero=1.0, decay_input=False, surrogate="sigmoid",
                 surrogate_alpha=4.0),
    # SLTT (qymeng94/SLTT 0758ecd): train_SLTT.py:37 tau=1.1 (lambda = 1-1/1.1 ~ 0.0909),
    # modules/neuron.py:5-26 decay_input=False, v_reset=None (soft), detach_reset=False;
    # SpikingJelly heaviside x >= 0 (H(0)=1); train_SLTT.py:44,175-182 'triangle' =
    # PiecewiseQuadratic(alpha=1) = max(0, 1-|x|).
    "sltt": dict(leak=1.0 - 1.0 / 1.1, threshold=1.0, reset="soft", detach_reset=False,
                 heaviside_at_zero=1.0, decay_input=False, surrogate="triangle",
                 surrogate_alpha=1.0),
    # TET (Gus-Lab/temporal_efficient_training f9bde41): models/layers.py:87-107 LIFSpike
    # (thresh=1, tau=0.5 which is lambda), mem = mem*tau + x (102), spike = mem - thresh > 0
    # (H(0)=0, 103), hard reset mem = (1-spike)*mem not detached (105); ZIF gamma=1 at :82 =
    # max(0, 1-|x|).
    "tet": dict(leak=0.5, threshold=1.0, reset="hard", detach_reset=False,
                heaviside_at_zero=0.0, decay_input=False, surrogate="triangle",
                surrogate_alpha=1.0),
}


class NeuronParams(NamedTuple):
    """Discrete-time LIF: u = lam*v + cin*I; s = H(u - theta); soft or hard reset."""

    lam: float           # leak lambda
    theta: float         # threshold
    cin: float           # input scale: 1 - lam with decay_input, else 1
    soft: bool           # soft (subtract theta) or hard (to 0) reset
    detach: bool         # reset path detached from the gradient (BPTT)
    h0: bool             # H(0) = 1 (fire on equality) or 0 (strict >)
    sg_kind: int         # 0 sigmoid, 1 triangle
    alpha: float         # surrogate sharpness

    @classmethod
    def from_spec(cls, spec) -> "NeuronParams":
        """Build from a chipsim.config.workload.NeuronSpec."""
        lam = float(spec.leak)
        return cls(
            lam=lam,
            theta=float(spec.threshold),
            cin=(1.0 - lam) if spec.decay_input else 1.0,
            soft=spec.reset == "soft",
            detach=bool(spec.detach_reset),
            h0=float(spec.heaviside_at_zero) == 1.0,
            sg_kind=SURROGATES[spec.surrogate],
            alpha=float(spec.surrogate_alpha),
        )


@dataclass(frozen=True)
class LayerNeuron:
    """The neurons of one LIF layer, each with its own parameters (as a NIR graph stores them):
    float64 arrays of the layer's neurons in chipsim's order (channel-last for a convolution),
    and the layer's reset kind and H(0). A network without them uses one NeuronParams for all."""

    lam: np.ndarray          # leak
    theta: np.ndarray        # threshold
    cin: np.ndarray          # input scale
    vr: np.ndarray           # hard-reset potential (0: chipsim's hard reset)
    soft: bool
    h0: bool
    syn: np.ndarray | None = None   # CubaLIF: the synaptic current's decay per neuron,
                                    #   i = syn * i + I, u = lam * v + cin * i; None: plain LIF

    @classmethod
    def uniform(cls, n: int, nrn: NeuronParams, vr: float = 0.0) -> "LayerNeuron":
        f = lambda v: np.full(n, float(v), dtype=np.float64)  # noqa: E731
        return cls(f(nrn.lam), f(nrn.theta), f(nrn.cin), f(vr), bool(nrn.soft), bool(nrn.h0))

    def is_uniform(self) -> bool:
        """True when every neuron has the same lam, theta, cin and vr (the kernels then read
        them once per layer; the same arithmetic)."""
        return all(len(a) > 0 and bool(np.all(a == a[0]))
                   for a in (self.lam, self.theta, self.cin, self.vr))

    def same_as(self, nrn: NeuronParams) -> bool:
        """True when every neuron is ``nrn`` (reset to 0)."""
        return (self.syn is None and self.soft == bool(nrn.soft) and self.h0 == bool(nrn.h0)
                and bool(np.all(self.lam == nrn.lam)) and bool(np.all(self.theta == nrn.theta))
                and bool(np.all(self.cin == nrn.cin)) and bool(np.all(self.vr == 0.0)))


def neuron_record(layers, neurons, nrn: NeuronParams, dtype, readout_li=None,
                  output: str = "readout"):
    """The kernels' Neuron record (chipsim.kernels.records.Neuron) of the LIF ``layers``
    (LayerShape, in order): each layer's ``neurons`` entry (a LayerNeuron) or, where it is None
    or absent, ``nrn`` for every neuron; the surrogate and detach_reset from ``nrn``;
    ``readout_li``: (lam, cin) per output of a leaky-integrator readout, or None (linear);
    ``output``: 'readout', or 'spike_count' / 'first_spike' (the last LIF layer's spikes)."""
    from chipsim.kernels.records import Neuron
    per = []
    for i, ls in enumerate(layers):
        ln = neurons[i] if neurons is not None and i < len(neurons) else None
        per.append(ln if ln is not None else LayerNeuron.uniform(ls.n_out, nrn))
    cat = lambda k: (np.concatenate([getattr(p, k) for p in per]).astype(np.float64)  # noqa: E731
                     if per else np.zeros(0))
    theta = cat("theta")
    syn = (np.concatenate([p.syn if p.syn is not None else np.zeros(len(p.lam)) for p in per])
           .astype(np.float64) if per else np.zeros(0))
    return Neuron(lam=cat("lam"), theta=theta, cin=cat("cin"), vr=cat("vr"), syn=syn,
                  theta_f=theta.astype(np.dtype(dtype)),
                  soft=np.array([p.soft for p in per], dtype=np.uint8),
                  h0=np.array([p.h0 for p in per], dtype=np.uint8),
                  cuba=np.array([p.syn is not None for p in per], dtype=np.uint8),
                  uniform=np.array([p.is_uniform() for p in per], dtype=np.uint8),
                  out_kind={"readout": 0, "spike_count": 1, "first_spike": 2}[output],
                  ro_li=readout_li is not None,
                  ro_lam=np.asarray(readout_li[0] if readout_li is not None else (), np.float64),
                  ro_cin=np.asarray(readout_li[1] if readout_li is not None else (), np.float64),
                  detach=bool(nrn.detach), sg_kind=int(nrn.sg_kind), alpha=float(nrn.alpha))
