"""e-prop: eligibility propagation (Bellec et al., Nature Communications 11:3625, 2020), in the
LIF form ReckOn runs on chip (Frenkel & Indiveri, ISSCC 2022).

For a LIF neuron j and its input i (another neuron's spike or an input event), the paper's
factorised gradient is::

    eligibility trace   e_ji[t] = psi_j[t] * ebar_i[t]
                        ebar_i[t] = alpha * ebar_i[t-1] + z_i[t]     (alpha: the neuron's leak)
                        psi_j[t]  = cin_j * sigma'(u_j[t] - theta)    (the pseudo-derivative)
    learning signal     L_j[t] = sum_k B_jk (y_k[t] - y*_k[t])
    update              Delta W_ji = -eta * sum_t L_j[t] e_ji[t]

- ``y - y*`` is chipsim's output error e[t] = dL[t]/do[t] at the readout (softmax minus the
  one-hot target over T for the cross-entropy), as in the paper's classification tasks.
- ``feedback: random``: B_l fixed and random (as DFA's: U(+-1/sqrt(C)) x ``feedback_scale``,
  drawn once from the run's seed). ``feedback: symmetric``: B = the readout's weights as they
  are at that step (the readout's W^T in the paper's notation, ``W_out[j, k]`` in chipsim's
  presynaptic-major layout). Symmetric is what ReckOn's learning signal reads
  (ChFrenkel/ReckOn ``src/srnn.v`` 817-829: sum_k err_k x w_out[j, k]) and what its author's
  vanilla e-prop code computes (ChFrenkel/eprop-PyTorch ``models.py`` 148-149:
  ``err = yo - yt; L = einsum('tbo,or->brt', err, self.w_out)``); it needs every LIF layer to
  feed the readout (one hidden layer).
- A leaky-integrator readout would need the eligibility traces filtered once more with the
  readout's leak (the paper's F_kappa; ``models.py`` 140-145 does it with ``kappa``): not built,
  so e-prop refuses a leaky readout.
- The reset is left out of the eligibility trace (the paper's LIF e-prop: the derivative of the
  reset term is dropped), and so is every path through the membrane's own history beyond the
  input filter: e-prop's approximation.
- ``eligibility_decay`` (alpha) is the neuron's leak unless given.
- ``update: sample`` applies the summed Delta W after the sample (or batch), as ReckOn after its
  delayed supervision; ``step`` applies it at every step (online).

**Time convention.** The paper writes ``v_j[t+1] = alpha v_j[t] + sum_i W_ji z_i[t] - ...``: the
spike z_i[t] charges the membrane at t+1, so its filter ``ebar_i[t] = alpha ebar_i[t-1] +
z_i[t-1]`` is one step behind the input. chipsim charges u[t] with the input of step t
(``u[t] = lam v[t-1] + cin W s[t]``), so the same dependence is ``ebar_i[t] = alpha ebar_i[t-1] +
s_i[t]``: chipsim's e_ji[t] is the paper's e_ji[t+1], paired with the same surrogate and the
same output error. ``cin`` appears in psi because chipsim's input is scaled by cin (the paper's
neuron has cin = 1).

**On chip.** ebar_i is one trace per presynaptic neuron (``trace_update``, as OTTT's), psi_j one
surrogate per neuron (``surrogate_eval``), L_j one learning-signal MAC and one read of B per
(neuron, non-zero output error) (``error_mac``, ``mem_read_feedback``), and the update one
gradient MAC per (non-zero psi_j L_j) x (non-zero ebar_i) (``grad_mac``). No weight is read
through W^T (``mem_read_weight_transposed`` is zero): the chip needs no transposed access.

So e-prop on a feed-forward network is DFA with the trace factor and an input trace at the
first layer; with symmetric feedback and one hidden layer it is OTTT_A with
``first_layer_input: trace`` (tests/test_eprop.py).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from chipsim.kernels.records import FACTOR_TRACE, FEEDBACK_FIXED, FEEDBACK_READOUT
from chipsim.learning.dfa import DFA
from chipsim.learning.rule import SpatialOptions


class EpropOptions(SpatialOptions):
    name: Literal["eprop"] = "eprop"
    feedback: Literal["random", "symmetric"] = Field("random", description=(
        "B of the learning signal: random (fixed, seeded, U(+-1/sqrt(classes)) x "
        "feedback_scale) or symmetric (the readout's weights as they are; one hidden layer)"))
    feedback_scale: float = Field(1.0, gt=0.0, description=(
        "random feedback: B ~ feedback_scale x U(-1/sqrt(classes), 1/sqrt(classes))"))
    eligibility_decay: float | None = Field(None, ge=0.0, le=1.0, description=(
        "alpha of the eligibility filter ebar = alpha ebar + s; null = the neuron's leak"))
    update: Literal["sample", "step"] = Field("sample", description=(
        "sample: one update after the sample (or batch); step: at every step (online)"))

    def problems(self, time_steps: int, lif_layers: int) -> list[tuple[str, str, str]]:
        out = super().problems(time_steps, lif_layers)
        if self.feedback == "symmetric" and lif_layers > 1:
            out.append(("feedback", f"symmetric, but the network has {lif_layers} LIF layers",
                        "random, or a network of one hidden LIF layer (symmetric feedback is the "
                        "readout's weights, which reach the last LIF layer only)"))
        return out


class Eprop(DFA):
    name = "eprop"
    Options = EpropOptions

    @property
    def feedback_kind(self) -> int:
        return FEEDBACK_READOUT if self.spec.feedback == "symmetric" else FEEDBACK_FIXED

    def factors(self, net) -> np.ndarray:
        return np.full(len(net.layers), FACTOR_TRACE, dtype=np.uint8)

    def trace_decay(self) -> float:
        d = self.spec.eligibility_decay
        return float(self.neuron.lam if d is None else d)

    def refusal(self, net) -> str | None:
        if getattr(net, "readout_li", None) is not None:
            return ("rule eprop with a leaky-integrator readout would filter its eligibility "
                    "traces with the readout's leak (Bellec et al.'s F_kappa), which chipsim "
                    "does not build yet; use a linear readout")
        return super().refusal(net)

    def feedback(self, net, rng: np.random.Generator, dtype) -> np.ndarray:
        if self.spec.feedback == "symmetric":        # the readout's weights: nothing stored
            return np.zeros(0, np.dtype(dtype))
        return super().feedback(net, rng, dtype)
