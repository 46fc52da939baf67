"""BPTT with surrogate gradients: the baseline (reference/algorithms.md §2).

The full temporal graph, backwards from t = T-1 to 0 (chipsim/kernels/error.py)::

    delta_l[t] = sigma'(u_l[t]) E_l[t] + lam * delta_l[t+1] * k_l[t]      g_l[t] = cin * delta_l[t]
    E_l[t]     = W_{l+1}^T g_{l+1}[t]            (the error of layer l's spikes at step t)
    grad W_l  += g_l[t] (x) s_{l-1}[t]           (input events as the presynaptic factor)

through the leak always, and through the reset unless the neuron detaches it
(``detach_reset``: k = 1; OTTT's preset detaches, SLTT's BPTT baseline and TET keep it, k =
1 - theta sigma' for a soft reset). The potentials and input spikes of every LIF layer are kept
for all T steps: memory O(T). Weights change once per batch, after the backward pass.
"""

from __future__ import annotations

from typing import Literal

from chipsim.kernels.records import ROUTE_TEMPORAL
from chipsim.learning.rule import Rule, RuleOptions


class BPTTOptions(RuleOptions):
    name: Literal["bptt"] = "bptt"


class BPTT(Rule):
    name = "bptt"
    Options = BPTTOptions
    route = ROUTE_TEMPORAL
