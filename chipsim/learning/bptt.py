"""BPTT with surrogate gradients: the baseline (reference/algorithms.md §2).

Full temporal graph: the leak path always, the reset path unless the neuron detaches it
(``detach_reset``; OTTT's preset detaches, SLTT's BPTT baseline and TET keep it). History of
every LIF layer's potentials and input spikes is kept for all T steps: memory O(T).
Weights change once per batch, after the backward pass.
"""

from __future__ import annotations

from chipsim.kernels import MODE_BPTT
from chipsim.learning.base import Trainer


class BPTT(Trainer):
    rule = "bptt"
    mode = MODE_BPTT
