"""SLTT and SLTT-K: spatial learning through time (Meng et al., ICCV 2023; algorithms.md §4).

Per step t, the gradient follows the spatial route only (the neuron state is detached every
step): ``g[t] = sigma'(u[t]) * (W_above^T g_above[t])``, ``grad W += g[t] (x) s_below[t]``.
One update per batch after the T steps. SLTT-K (``rule.k``) runs the backward pass at K
distinct steps drawn uniformly at random per batch (``torch.randperm(T)[:K]`` in the official
``train_SLTTK.py:317``), the loss still divided by T; the other steps run forward only.
"""

from __future__ import annotations

import numpy as np

from chipsim.learning.base import Trainer


class SLTT(Trainer):
    rule = "sltt"

    def step_mask(self) -> np.ndarray:
        k = getattr(self.rule_spec, "k", None)
        if k is None or k >= self.T:
            return super().step_mask()
        mask = np.zeros(self.T, dtype=np.bool_)
        mask[self.rng.permutation(self.T)[:k]] = True
        return mask
