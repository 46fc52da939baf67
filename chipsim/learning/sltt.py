"""SLTT and SLTT-K: spatial learning through time (Meng et al., ICCV 2023; algorithms.md §4).

Per step t, the gradient follows the spatial route only (the neuron state is detached every
step; chipsim/kernels/error.py, spatial_route)::

    g_l[t] = cin * sigma'(u_l[t]) * (W_{l+1}^T g_{l+1}[t])        grad W_l += g_l[t] (x) s_{l-1}[t]

One update per batch after the T steps. SLTT-K (``rule.k``) runs the backward pass at K
distinct steps drawn uniformly at random per batch (``torch.randperm(T)[:K]`` in the official
``train_SLTTK.py:317``), the loss still divided by T; the other steps run forward only.

On a recurrent layer (``kind: recurrent``) the recurrent input s[t-1] is one more presynaptic
input: W_rec's gradient is ``s[t-1] (x) g[t]``, and no error flows through W_rec to step t-1.
That is SLTT's own detachment of every temporal path (the paper removes the gradient through
time, of which the recurrence is one), not a separate rule.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from chipsim.learning.rule import SpatialOptions, SpatialRule


class SLTTOptions(SpatialOptions):
    name: Literal["sltt"] = "sltt"
    k: int | None = Field(None, ge=1, description=(
        "SLTT-K: the backward pass at K random time steps per sample (1 <= K <= time_steps); "
        "null = every step"))

    def problems(self, time_steps: int, lif_layers: int) -> list[tuple[str, str, str]]:
        out = super().problems(time_steps, lif_layers)
        if self.k is not None and self.k > time_steps:
            out.append(("k", f"got {self.k} but dataset.time_steps is {time_steps}",
                        f"an integer in [1, {time_steps}] (1 <= k <= time_steps)"))
        if self.k is not None and self.target_window is not None:
            out.append(("target_window", "cannot be combined with k",
                        "either k (K random steps) or target_window (a random window of steps)"))
        return out


class SLTT(SpatialRule):
    name = "sltt"
    Options = SLTTOptions

    def backward_steps(self, rng: np.random.Generator) -> np.ndarray:
        k = self.spec.k
        if k is None or k >= self.T:
            return super().backward_steps(rng)
        mask = np.zeros(self.T, dtype=np.bool_)
        mask[rng.permutation(self.T)[:k]] = True
        return mask
