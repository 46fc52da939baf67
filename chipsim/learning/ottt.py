"""OTTT: online training through time (Xiao et al., NeurIPS 2022; algorithms.md §3).

Per step t, ``g[t]`` by the spatial route at step t (as SLTT), and the weight gradient uses the
presynaptic trace instead of the spike (chipsim/kernels/wgrad.py, FACTOR_TRACE)::

    a_{l-1}[t] = decay * a_{l-1}[t-1] + s_{l-1}[t]          grad W_l += g_l[t] (x) a_{l-1}[t]

On chip this is the three-factor rule ``dW_ij = -lr * a_j * sigma'(u_i - theta) * e_i``.
``decay`` is ``rule.trace_decay``, by default the neuron's leak.

- ``ottt_a``: gradients accumulated over the T steps, one update per batch.
- ``ottt_o``: the update is applied at every time step (T updates per batch; momentum advances T
  times), as ``-online_update`` in the official code.

The official code does not wrap the first layer (``spiking_vgg.py:224-226``): its weight gradient
uses the raw input frame. ``rule.first_layer_input: raw`` (default) reproduces that;
``trace`` uses an input trace as the paper's formula does.

On a recurrent layer (``kind: recurrent``) W_rec's presynaptic factor is the trace of the layer's
own spikes as they arrive, ``a_rec[t] = decay * a_rec[t-1] + s[t-1]``, and no error flows
through W_rec to step t-1: OTTT tracks presynaptic activity forward in time and never sends an
error back in time, for the recurrence as for the membrane.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from chipsim.kernels.records import APPLY_STEP, FACTOR_EVENTS, FACTOR_TRACE
from chipsim.learning.rule import SpatialOptions, SpatialRule


class OTTTOptions(SpatialOptions):
    name: Literal["ottt_a", "ottt_o"]
    trace_decay: float | None = Field(None, ge=0.0, le=1.0, description=(
        "decay of the presynaptic trace; null = the neuron's leak"))
    first_layer_input: Literal["raw", "trace"] = Field("raw", description=(
        "raw: the first layer learns from the raw input frame, as the official OTTT code; "
        "trace: from the input trace, as the paper's formula"))


class _OTTT(SpatialRule):
    Options = OTTTOptions

    def factors(self, net) -> np.ndarray:
        f = np.full(len(net.layers), FACTOR_TRACE, dtype=np.uint8)
        if self.spec.first_layer_input != "trace":
            f[0] = FACTOR_EVENTS
        return f

    def trace_decay(self) -> float:
        d = self.spec.trace_decay
        return float(self.neuron.lam if d is None else d)


class OTTT_A(_OTTT):
    name = "ottt_a"


class OTTT_O(_OTTT):
    name = "ottt_o"
    apply = APPLY_STEP
