"""DFA: direct feedback alignment (Nøkland, NeurIPS 2016), the error delivered on chip through
fixed random matrices instead of the transposed forward weights.

Per step t, the readout's output error e[t] = dL[t]/do[t] reaches every hidden LIF layer l
directly, through its own fixed random matrix B_l (n_l x classes), and the layer's output
gradient follows the spatial route (chipsim/kernels/error.py, dfa_error and spatial_route)::

    g_l[t] = cin * sigma'(u_l[t] - theta) * (B_l e[t])          grad W_l += p_{l-1}[t] (x) g_l[t]

The readout learns from e[t] as in every rule. No error travels through W^T: no error MACs
through the forward weights and no reads of them for the error. Reading B_l is its own action
(``mem_read_feedback``, one per neuron and non-zero output error), and B is part of the learning
memory.

- B_l ~ U(-1/sqrt(C), 1/sqrt(C)) (C classes: the scale of a linear layer of fan-in C), drawn
  once from the run's seed and kept for the whole run (``rule.feedback_scale`` multiplies it).
- The presynaptic factor p (``rule.presynaptic``) is the trace a[t] = lambda a[t-1] + s[t]
  (online, OTTT's three-factor form; the first layer reads the raw input unless
  ``first_layer_input: trace``), or the spike itself.
- ``rule.update``: ``sample`` applies the summed update after the sample (or batch), ``step`` at
  every step (online).

With one hidden layer, B = the readout's W^T at the start of the sample and the trace factor,
DFA applied once per sample is OTTT_A (tests/test_dfa.py).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from chipsim.kernels.records import (APPLY_END, APPLY_STEP, FACTOR_EVENTS, FACTOR_TRACE,
                                     FEEDBACK_FIXED, ROUTE_DFA)
from chipsim.learning.rule import SpatialOptions, SpatialRule


class DFAOptions(SpatialOptions):
    name: Literal["dfa"] = "dfa"
    presynaptic: Literal["trace", "spike"] = Field("trace", description=(
        "the weight update's presynaptic factor: the trace (online, OTTT's three-factor form) "
        "or the spike"))
    first_layer_input: Literal["raw", "trace"] = Field("raw", description=(
        "with the trace factor: the first layer learns from the raw input (as OTTT's code) or "
        "from an input trace"))
    update: Literal["sample", "step"] = Field("sample", description=(
        "sample: one update after the sample (or batch); step: at every step (online)"))
    feedback_scale: float = Field(1.0, gt=0.0, description=(
        "B_l ~ feedback_scale x U(-1/sqrt(classes), 1/sqrt(classes)), drawn once per run"))


class DFA(SpatialRule):
    name = "dfa"
    Options = DFAOptions
    route = ROUTE_DFA
    transposes = False
    feedback_kind = FEEDBACK_FIXED

    @property
    def apply(self):
        return APPLY_STEP if self.spec.update == "step" else APPLY_END

    def factors(self, net) -> np.ndarray:
        if self.spec.presynaptic == "spike":
            return np.full(len(net.layers), FACTOR_EVENTS, dtype=np.uint8)
        f = np.full(len(net.layers), FACTOR_TRACE, dtype=np.uint8)
        if self.spec.first_layer_input != "trace":
            f[0] = FACTOR_EVENTS
        return f

    def trace_decay(self) -> float:
        return float(self.neuron.lam)

    def refusal(self, net) -> str | None:
        if getattr(net, "output", "readout") != "readout":
            return (f"rule {self.name} sends the readout's error to the hidden layers, and this "
                    "network has a spiking output (no readout)")
        return None

    def feedback(self, net, rng: np.random.Generator, dtype) -> np.ndarray:
        """Every LIF layer's B_l (n_l, classes), one after another (Params.fb)."""
        C = net.n_classes
        k = float(self.spec.feedback_scale) / np.sqrt(C)
        return np.concatenate([rng.uniform(-k, k, size=ls.n_out * C) for ls in net.lif_layers]
                              ).astype(np.dtype(dtype))
