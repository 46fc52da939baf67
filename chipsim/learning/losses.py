"""The losses a workload can choose, independently of the rule, as the kernels' Loss record
(chipsim/kernels/loss.py computes them per step and classifier):

- ``ce_mse`` (OTTT, SLTT; algorithms.md §3.1): ``((1 - a) CE(o[t], y) + a MSE(o[t], target)) / T``
  per step, ``a = loss.mse_weight``, target one-hot or a constant.
- ``tet`` (Deng et al. 2022, functions.py:39-51): ``(1 - lam) mean_t CE + lam MSE(o, phi)`` over
  all (B, T, C), which is the per-step form with ``a = lam`` and the constant target ``phi``.
"""

from __future__ import annotations

from chipsim.kernels.records import Loss

LOSSES = ("ce_mse", "tet")


def loss_record(spec) -> Loss:
    """The Loss record of a workload's loss section."""
    if spec.kind == "tet":
        return Loss(mse_w=float(spec.tet_lambda), onehot=False, tgt_const=float(spec.tet_phi))
    onehot = spec.mse_target == "onehot"
    return Loss(mse_w=float(spec.mse_weight), onehot=onehot,
                tgt_const=0.0 if onehot else float(spec.mse_target))
