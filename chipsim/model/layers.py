"""The layer kinds of a workload's ``network.hidden``, declared once.

Each kind is a small typed record of its fields (pydantic): the configuration reads and
checks them (chipsim/config), the network is built from them (network.py), and the field
reference in the docs is generated from them. ``LAYER_KINDS`` is the registry: adding a layer
kind means one record here, its handling in ``Network.build`` (and, for a new computation,
its kernels), tests and docs.

- ``dense``: a fully connected layer of LIF neurons (``units``), reading the flattened input;
  a conv or dense layer may give its own ``neuron`` (leak, threshold, reset, v_reset, ...);
- ``conv``: a 2-D convolution of LIF neurons (``channels``, square ``kernel``, ``stride``,
  ``padding``); input channels are inferred;
- ``avgpool`` / ``maxpool``: pooling of the previous population (kernel = stride = ``size``),
  applied by the layer that reads it;
- ``dropout``: neuron dropout of the previous conv/dense layer (drop probability ``p``, one
  mask per sample, kept for every time step, as OTTT);
- ``flatten``: a no-op kept for readability (activations are channel-last and a dense layer
  reads its input map flattened).
"""

from __future__ import annotations

from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field


class LayerOp(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str

    @property
    def is_lif(self) -> bool:
        """True for the layers that hold LIF neurons and learned weights (conv, dense)."""
        return self.kind in LIF_KINDS


class LayerNeuronSpec(BaseModel):
    """A LIF layer's own neuron: the fields given replace the workload's ``neuron`` for this
    layer's neurons (the surrogate and detach_reset stay the network's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    leak: float | None = Field(None, ge=0.0, le=1.0, description="lambda (1: an IF neuron)")
    threshold: float | None = Field(None, gt=0.0, description="theta")
    reset: Literal["soft", "hard"] | None = Field(None, description="soft or hard")
    v_reset: float = Field(0.0, description="the potential a hard reset sets (0: chipsim's hard "
                                            "reset)")
    heaviside_at_zero: Literal[0, 1] | None = Field(None, description="H(0)")
    decay_input: bool | None = Field(None, description="u = lambda v + (1 - lambda) I")
    synaptic_decay: float | None = Field(None, ge=0.0, lt=1.0, description=(
        "a current-based (CubaLIF) layer: its synaptic current i = synaptic_decay * i + I "
        "charges the membrane (0 <= decay < 1); null: none"))


class Dense(LayerOp):
    kind: Literal["dense"] = "dense"
    units: int = Field(ge=1, description="number of LIF neurons")
    bias: bool = Field(False, description="a bias on the LIF layer's input current")
    neuron: LayerNeuronSpec | None = Field(None, description=(
        "this layer's own neuron: any of leak, threshold, reset, v_reset, heaviside_at_zero, "
        "decay_input (the rest: the workload's neuron)"))


class Conv(LayerOp):
    kind: Literal["conv"] = "conv"
    channels: int = Field(ge=1, description="output channels (input channels are inferred)")
    kernel: int = Field(ge=1, description="square kernel side")
    stride: int = Field(1, ge=1, description="stride")
    padding: int = Field(0, ge=0, description=(
        "zero padding on every side (1 for a 3x3 'same' conv); any amount, as PyTorch"))
    bias: bool = Field(False, description="a bias on the LIF layer's input current")
    neuron: LayerNeuronSpec | None = Field(None, description=(
        "this layer's own neuron: any of leak, threshold, reset, v_reset, heaviside_at_zero, "
        "decay_input (the rest: the workload's neuron)"))


class Recurrent(Dense):
    """A dense LIF layer (the same fields) whose own spikes of step t-1 come back at step t
    through recurrent weights: I[t] = W_in s_in[t] + W_rec s[t-1] + b. W_rec is a weight layer
    of its own (``<name>_rec`` in counts and reports), held on the layer's cores."""

    kind: Literal["recurrent"] = "recurrent"


class AvgPool(LayerOp):
    kind: Literal["avgpool"] = "avgpool"
    size: int = Field(ge=1, description="pooling window side, also its stride")


class MaxPool(LayerOp):
    kind: Literal["maxpool"] = "maxpool"
    size: int = Field(ge=1, description="pooling window side, also its stride")


class Dropout(LayerOp):
    kind: Literal["dropout"] = "dropout"
    p: float = Field(ge=0.0, lt=1.0, description="drop probability, one mask per sample")


class Flatten(LayerOp):
    kind: Literal["flatten"] = "flatten"


LAYER_KINDS: dict[str, type[LayerOp]] = {
    c.model_fields["kind"].default: c for c in (Dense, Conv, Recurrent, AvgPool, MaxPool, Dropout,
                                                Flatten)}
LIF_KINDS = ("conv", "dense", "recurrent")
AnyLayer = Union[Dense, Conv, Recurrent, AvgPool, MaxPool, Dropout, Flatten]
