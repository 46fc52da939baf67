"""OTTT: online training through time (Xiao et al., NeurIPS 2022; algorithms.md §3).

Per step t: ``g[t]`` by the spatial route at step t (as SLTT), and the weight gradient uses the
presynaptic trace ``a[t] = decay * a[t-1] + s[t]`` instead of the spike: ``grad W += g[t] (x) a[t]``.
On chip this is the three-factor rule ``dW_ij = -lr * a_j * sigma'(u_i - theta) * e_i``.

- ``ottt_a``: gradients accumulated over the T steps, one update per batch.
- ``ottt_o``: the update is applied at every time step (T updates per batch; momentum advances T
  times), as ``-online_update`` in the official code.

The official code does not wrap the first layer (``spiking_vgg.py:224-226``): its weight gradient
uses the raw input frame. ``rule.first_layer_input: raw`` (default) reproduces that;
``trace`` uses an input trace as the paper's formula does.
"""

from __future__ import annotations

import numpy as np

from chipsim.learning.base import Trainer


class _OTTT(Trainer):
    def trace_layers(self) -> np.ndarray:
        use = np.ones(len(self.net.layers), dtype=np.bool_)
        use[0] = getattr(self.rule_spec, "first_layer_input", "raw") == "trace"
        return use

    def trace_decay_value(self) -> float:
        d = getattr(self.rule_spec, "trace_decay", None)
        return float(self.neuron.lam if d is None else d)


class OTTT_A(_OTTT):
    rule = "ottt_a"


class OTTT_O(_OTTT):
    rule = "ottt_o"
    online = True
