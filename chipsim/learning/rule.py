"""What a learning rule is to chipsim: the choices the per-batch loop composes.

A rule's module (bptt.py, sltt.py, ottt.py, tbptt_local.py, dfa.py, eprop.py) holds its mathematics as the
rule's authors' code runs it, in its docstring and in these choices:

- ``route``: the error route. ``ROUTE_SPATIAL``: at each step the error reaches a layer only
  through the layers above at the same step, ``g_l[t] = cin * sigma'(u_l[t]) * (W_{l+1}^T
  g_{l+1}[t])`` (chipsim/kernels/error.py, spatial_route). ``ROUTE_TEMPORAL``: BPTT inside
  windows of ``window()`` steps, the error also flowing back through the leak (and the reset)
  from step t+1 (error.py, temporal_route).
- ``factors(net)``: per layer, the presynaptic factor of the weight gradient
  ``grad W += p[t] (x) g[t]``: the layer's input events (``FACTOR_EVENTS``) or the trace
  ``a[t] = trace_decay() * a[t-1] + input[t]`` (``FACTOR_TRACE``) (chipsim/kernels/wgrad.py).
- ``apply``: when updates apply: after the sample or batch (``APPLY_END``), or at every step
  that ran a backward pass (``APPLY_STEP``, online). ``ROUTE_TEMPORAL`` applies after every
  window.
- ``backward_steps(rng)``: the steps that run a backward pass (the spatial route): all of them,
  or ANP-I's target window (``rule.target_window``: W consecutive steps at a random start per
  batch), or a rule's own choice (SLTT-K).
- ``feedback_kind``: how the output error reaches the hidden layers: back through the
  transposed weights (``FEEDBACK_WT``), through fixed matrices B_l (``FEEDBACK_FIXED``: DFA,
  e-prop), or through the readout's own weights (``FEEDBACK_READOUT``: symmetric e-prop); and
  ``transposes``: whether the rule reads W^T at all (a chip that cannot is refused:
  chipsim/hardware/delivery.py).

The shared machinery (buffers, the forward pass, counting) is chipsim/learning/trainer.py and
chipsim/kernels/. Adding a rule: docs/DESIGN.md, "Adding a rule".
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from chipsim.kernels.records import APPLY_END, FACTOR_EVENTS, FEEDBACK_WT, ROUTE_SPATIAL


class RuleOptions(BaseModel):
    """The workload's ``rule`` section: the fields every rule takes. A rule's module declares
    its own fields in a subclass (``name`` is the registry key and selects the subclass);
    chipsim.config reads them from YAML and ``--set``, and the field reference in the docs is
    generated from them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="the learning rule")
    update_skip: bool = Field(True, description=(
        "ANP-I's hierarchical update skip: a weight update whose Delta W is zero is skipped; "
        "false: the chip performs the read-modify-write anyway (counted as issued)"))

    def problems(self, time_steps: int, lif_layers: int) -> list[tuple[str, str, str]]:
        """What this section asks that the workload cannot give: (field, what was given,
        what was expected) for each; empty when it fits ``time_steps`` steps and
        ``lif_layers`` conv/dense layers."""
        return []


class SpatialOptions(RuleOptions):
    """The fields of the rules that learn step by step along the spatial route."""

    target_window: int | None = Field(None, ge=1, description=(
        "learn only in a random window of this many consecutive steps per sample (ANP-I's "
        "target-window selection, hardware.md §1.3); null = every step"))

    def problems(self, time_steps: int, lif_layers: int) -> list[tuple[str, str, str]]:
        w = self.target_window
        if w is not None and w > time_steps:
            return [("target_window", f"got {w} but dataset.time_steps is {time_steps}",
                     f"an integer in [1, {time_steps}]")]
        return []


class Rule:
    """The base rule: spatial route, input events as the presynaptic factor, one update after
    the sample, a backward pass at every step."""

    name = ""
    Options: ClassVar[type[RuleOptions]] = RuleOptions
    route = ROUTE_SPATIAL
    apply = APPLY_END
    #: False: the rule runs inference only (none.py): no training pass, no learning state
    learns: ClassVar[bool] = True
    #: True: the error crosses the forward weights backwards (W^T g), which a chip must be able
    #: to read (chipsim/hardware/delivery.py); False: fixed feedback matrices deliver it (DFA,
    #: e-prop) or nothing is learned
    transposes: ClassVar[bool] = True
    #: FEEDBACK_*: how the output error reaches the hidden layers (W^T, or a feedback matrix)
    feedback_kind: ClassVar[int] = FEEDBACK_WT

    def __init__(self, spec, neuron, time_steps: int):
        self.spec = spec            # the workload's rule section (chipsim.config)
        self.neuron = neuron        # chipsim.model.neuron.NeuronParams
        self.T = int(time_steps)

    @property
    def update_skip(self) -> bool:
        """ANP-I's hierarchical update skip: a weight whose Delta W is zero is not written."""
        return bool(self.spec.update_skip)

    def factors(self, net) -> np.ndarray:
        """FACTOR_* per weight layer."""
        return np.full(len(net.layers), FACTOR_EVENTS, dtype=np.uint8)

    def trace_decay(self) -> float:
        return 0.0

    def refusal(self, net) -> str | None:
        """Why this rule cannot train ``net`` (None: it can); the trainer raises it."""
        return None

    def window(self) -> int:
        """Steps between updates of the temporal route (T: whole-sample BPTT)."""
        return self.T

    def backward_steps(self, rng: np.random.Generator) -> np.ndarray:
        """Time steps that run a backward pass of the spatial route: all of them."""
        return np.ones(self.T, dtype=np.bool_)


class SpatialRule(Rule):
    """A rule on the spatial route that may learn only in ANP-I's target window."""

    Options = SpatialOptions

    def backward_steps(self, rng: np.random.Generator) -> np.ndarray:
        """Time steps that run a backward pass: all, or (``rule.target_window`` W, ANP-I's
        target-window selection) W consecutive steps starting at a random step per batch."""
        w = self.spec.target_window
        if w is None or w >= self.T:
            return np.ones(self.T, dtype=np.bool_)
        mask = np.zeros(self.T, dtype=np.bool_)
        start = int(rng.integers(0, self.T - w + 1))
        mask[start:start + w] = True
        return mask
