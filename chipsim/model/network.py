"""Network shapes and weights: dense LIF layers followed by a non-spiking linear readout.

Weights are stored input-major, ``W[l]`` of shape ``(n_in, n_out)``: an input event reads one
contiguous row (its fan-out). Layers are described by :class:`LayerShape` so later layer kinds
(convolution, pooling) can slot in with their own fan-out rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LayerShape:
    name: str
    kind: str            # 'dense' (LIF) or 'readout' (non-spiking linear)
    n_in: int
    n_out: int
    bias: bool
    binary_input: bool   # input is spikes (ACs) or graded values (MACs)

    @property
    def spiking(self) -> bool:
        return self.kind != "readout"

    @property
    def synapses(self) -> int:
        return self.n_in * self.n_out


class Network:
    """Weights and biases of a dense SNN; biases exist (as zeros) for every layer."""

    def __init__(self, layers: list[LayerShape], weights: list[np.ndarray], biases: list[np.ndarray]):
        self.layers = list(layers)
        self.weights = weights
        self.biases = biases

    @classmethod
    def build(cls, n_inputs: int, binary_input: bool, hidden: list[tuple[int, bool]],
              n_classes: int, readout_bias: bool, rng: np.random.Generator,
              gain: float = 1.0, dtype=np.float64) -> "Network":
        """Dense layers ``hidden = [(units, bias), ...]`` then a readout of ``n_classes``.

        Initialisation as torch ``nn.Linear``: W, b ~ U(-k, k), k = gain / sqrt(fan_in).
        """
        layers = []
        n_in = n_inputs
        binary = binary_input
        for i, (units, bias) in enumerate(hidden):
            layers.append(LayerShape(f"dense{i + 1}", "dense", n_in, units, bias, binary))
            n_in, binary = units, True
        layers.append(LayerShape("readout", "readout", n_in, n_classes, readout_bias, binary))
        weights, biases = [], []
        for ls in layers:
            k = gain / np.sqrt(ls.n_in)
            weights.append(np.ascontiguousarray(rng.uniform(-k, k, size=(ls.n_in, ls.n_out)), dtype=dtype))
            b = rng.uniform(-k, k, size=ls.n_out) if ls.bias else np.zeros(ls.n_out)
            biases.append(np.ascontiguousarray(b, dtype=dtype))
        return cls(layers, weights, biases)

    @property
    def n_classes(self) -> int:
        return self.layers[-1].n_out

    @property
    def has_bias(self) -> np.ndarray:
        return np.array([ls.bias for ls in self.layers], dtype=np.bool_)

    def footprint_bytes(self) -> int:
        """NeuroBench footprint: bytes of parameters (weights, used biases) and neuron state."""
        params = sum(w.nbytes for w in self.weights)
        params += sum(b.nbytes for b, ls in zip(self.biases, self.layers) if ls.bias)
        state = sum(ls.n_out for ls in self.layers if ls.spiking) * self.weights[0].itemsize
        return int(params + state)

    def copy(self) -> "Network":
        return Network(self.layers, [w.copy() for w in self.weights], [b.copy() for b in self.biases])
