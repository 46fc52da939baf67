"""No learning: the network runs forward only (inference), as a chip deployed with fixed weights.

``rule: {name: none}`` runs the test split once with the network as it is (an imported,
pretrained network, ``network: {nir: ...}``, or the initial weights of a workload's own layers)
and counts only the inference work: synaptic operations, neuron updates, spikes, memory reads.
Nothing is kept for learning (no learning state, no gradient buffers) and nothing is charged to
the learning phase. The training split and ``training.epochs`` are not used.

The same network is fine-tuned on-chip by naming any other rule instead.
"""

from __future__ import annotations

from typing import Literal

from chipsim.learning.rule import Rule, RuleOptions


class NoneOptions(RuleOptions):
    name: Literal["none"] = "none"


class NoLearning(Rule):
    name = "none"
    Options = NoneOptions
    learns = False
    transposes = False
