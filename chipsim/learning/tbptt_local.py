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

from typing import Literal

from pydantic import Field

from chipsim.kernels.records import ROUTE_TEMPORAL
from chipsim.learning.rule import Rule, RuleOptions


class TBPTTLocalOptions(RuleOptions):
    name: Literal["tbptt_local"] = "tbptt_local"
    window: int | None = Field(None, ge=1, description=(
        "T_L: BPTT inside consecutive windows of this many steps, state carried but detached, "
        "one update per window; null = time_steps"))
    block: int | None = Field(None, ge=1, description=(
        "B_L: conv/dense layers per block; every block but the last learns from its own "
        "auxiliary classifier; null = one block"))

    def problems(self, time_steps: int, lif_layers: int) -> list[tuple[str, str, str]]:
        out = []
        if self.window is not None and self.window > time_steps:
            out.append(("window", f"got {self.window} but dataset.time_steps is {time_steps}",
                        f"an integer in [1, {time_steps}] (1 <= window <= time_steps)"))
        if self.block is not None and self.block > lif_layers:
            out.append(("block", f"got {self.block} but the network has {lif_layers} conv/dense "
                        "layer(s)", f"an integer in [1, {lif_layers}] (LIF layers per block)"))
        return out


class TBPTTLocal(Rule):
    name = "tbptt_local"
    Options = TBPTTLocalOptions
    route = ROUTE_TEMPORAL

    def window(self) -> int:
        w = self.spec.window
        return self.T if w is None else int(w)
