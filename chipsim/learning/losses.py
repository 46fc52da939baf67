"""The losses a workload can choose, independently of the rule, declared once: ``LOSSES``
maps ``loss.kind`` to its fields (chipsim.config reads them; the docs' field reference is
generated from them); :func:`loss_record` turns a workload's loss into the kernels' Loss record
(chipsim/kernels/loss.py computes it per step and classifier):

- ``ce_mse`` (OTTT, SLTT; algorithms.md §3.1): ``((1 - a) CE(o[t], y) + a MSE(o[t], target)) / T``
  per step, ``a = loss.mse_weight``, target one-hot or a constant.
- ``tet`` (Deng et al. 2022, functions.py:39-51): ``(1 - lam) mean_t CE + lam MSE(o, phi)`` over
  all (B, T, C), which is the per-step form with ``a = lam`` and the constant target ``phi``
  (both MSEs are means over the outputs; algorithms.md §5.1, line 251).
"""

from __future__ import annotations

from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from chipsim.kernels.records import Loss


class CEMSE(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["ce_mse"] = "ce_mse"
    mse_weight: float = Field(0.05, ge=0.0, le=1.0, description="a, the weight of the MSE term")
    mse_target: Union[Literal["onehot"], float] = Field("onehot", description=(
        "the MSE target: 'onehot' labels, or a constant for every output"))


class TET(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["tet"] = "tet"
    tet_lambda: float = Field(1e-3, ge=0.0, le=1.0, description="lambda, the weight of the MSE term")
    tet_phi: float = Field(1.0, description="phi, the constant MSE target")


LOSSES: dict[str, type[BaseModel]] = {"ce_mse": CEMSE, "tet": TET}


def loss_record(spec) -> Loss:
    """The Loss record of a workload's loss section."""
    if spec.kind == "tet":
        return Loss(mse_w=float(spec.tet_lambda), onehot=False, tgt_const=float(spec.tet_phi))
    onehot = spec.mse_target == "onehot"
    return Loss(mse_w=float(spec.mse_weight), onehot=onehot,
                tgt_const=0.0 if onehot else float(spec.mse_target))
