"""SLTT and SLTT-K: spatial learning through time (Meng et al., ICCV 2023; algorithms.md §4).

Per step t, the gradient follows the spatial route only (the neuron state is detached every
step; chipsim/kernels/error.py, spatial_route)::

    g_l[t] = cin * sigma'(u_l[t]) * (W_{l+1}^T g_{l+1}[t])        grad W_l += g_l[t] (x) s_{l-1}[t]

One update per batch after the T steps. SLTT-K (``rule.k``) runs the backward pass at K
distinct steps drawn uniformly at random per batch (``torch.randperm(T)[:K]`` in the official
``train_SLTTK.py:317``), the loss still divided by T; the other steps run forward only.
"""

from __future__ import annotations

import numpy as np

from chipsim.learning.rule import Rule


class SLTT(Rule):
    name = "sltt"

    def backward_steps(self, rng: np.random.Generator) -> np.ndarray:
        k = self.spec.k
        if k is None or k >= self.T:
            return super().backward_steps(rng)
        mask = np.zeros(self.T, dtype=np.bool_)
        mask[rng.permutation(self.T)[:k]] = True
        return mask
