"""LIF neuron parameters as the kernels take them."""

from __future__ import annotations

from typing import NamedTuple

SURROGATES = {"sigmoid": 0, "triangle": 1}


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
