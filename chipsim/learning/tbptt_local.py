"""Temporally-truncated local BPTT (Guo, Fouda, Eltawil, Salama, Front. Neurosci. 2023).

The paper's body could not be read (reference/algorithms.md §6.2); this is the working
definition chipsim implements, stated so it can be checked against the paper:

- **Temporal truncation, window T_L** (``rule.window``): the T steps are split into consecutive
  windows of T_L steps (the last may be shorter). BPTT (bptt.py's equations) runs inside a
  window; the neuron state is carried into the next window but detached (no gradient crosses a
  window boundary); the weights are updated at the end of every window, so later windows run
  on updated weights.
- **Local blocks of B_L layers** (``rule.block``): the LIF layers are grouped into consecutive
  blocks of B_L. Every block but the last has an auxiliary classifier (global average pooling
  over space, then a linear layer to the classes, with bias) and its own loss of the workload's
  form; the input to the next block is detached (chipsim/model/network.py builds the heads).
  The last block learns from the readout.

With T_L = T and one block this is exactly BPTT (a test checks it). Memory held for learning
scales with T_L (history of one window); backward work stays inside a block.
"""

from __future__ import annotations

from chipsim.kernels.records import ROUTE_TEMPORAL
from chipsim.learning.rule import Rule


class TBPTTLocal(Rule):
    name = "tbptt_local"
    route = ROUTE_TEMPORAL

    def window(self) -> int:
        w = self.spec.window
        return self.T if w is None else int(w)
